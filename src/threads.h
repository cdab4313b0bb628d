// A parallel loop with std::thread: [0, n) is handed out in chunks through an
// atomic counter and f(begin, end, thread) runs on n_threads threads (thread 0
// is the caller). f must write only the slots of its own indices (or of its
// thread), so that reductions done afterwards in index order give results
// that do not depend on the number of threads. Workers never call R; an
// exception in a worker is caught there and rethrown after the join. If the
// system cannot start more threads, the loop runs on those it has. With a
// stop() predicate (e.g. InterruptPoller, interrupt.h) the loop runs in
// chunks also on one thread.
#ifndef GLAMM_THREADS_H
#define GLAMM_THREADS_H

#include <algorithm>
#include <atomic>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

namespace glamm {

// stop() is asked before each chunk (on every thread); once it returns
// true, no thread starts another chunk.
template <class F, class Stop>
void parallel_for(int n, int n_threads, int chunk, F f, Stop stop) {
  if (n_threads <= 1 || n <= chunk) {
    for (int b = 0; b < n && !stop(); b += chunk) f(b, std::min(n, b + chunk), 0);
    return;
  }
  std::atomic<int> next(0);
  std::atomic<bool> failed(false);
  std::vector<std::exception_ptr> errors(n_threads);
  auto work = [&](int thread) {
    try {
      for (int b = next.fetch_add(chunk); b < n && !failed && !stop(); b = next.fetch_add(chunk))
        f(b, std::min(n, b + chunk), thread);
    } catch (...) {
      errors[thread] = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> pool;
  const int wanted = std::min(n_threads, (n + chunk - 1) / chunk);
  for (int t = 1; t < wanted; ++t) {
    try {
      pool.emplace_back(work, t);
    } catch (const std::system_error&) {
      break;
    }
  }
  work(0);
  for (std::thread& th : pool) th.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

template <class F>
void parallel_for(int n, int n_threads, int chunk, F f) {
  if (n_threads <= 1 || n <= chunk) {
    f(0, n, 0);
    return;
  }
  parallel_for(n, n_threads, chunk, f, [] { return false; });
}

}  // namespace glamm

#endif
