// Ctrl-C during a long likelihood evaluation. requested() may be called on
// any thread: workers read a flag; the thread that made the poller (R's main
// thread) also asks R, at most every 0.1 s, whether the user pressed Ctrl-C
// (interrupt.cpp, through R_ToplevelExec, so that R's long jump never crosses
// C++ frames). Loops stop taking work once it is set, and the evaluation
// throws Interrupted, which the R interface turns into R's interrupt.
#ifndef GLAMM_INTERRUPT_H
#define GLAMM_INTERRUPT_H

#include <atomic>
#include <chrono>
#include <exception>
#include <thread>

namespace glamm {

struct Interrupted : std::exception {
  const char* what() const noexcept override { return "interrupted"; }
};

// Whether R has a pending user interrupt (consumes it). Main thread only.
bool r_interrupt_pending();

class InterruptPoller {
 public:
  InterruptPoller() : main_(std::this_thread::get_id()), last_(std::chrono::steady_clock::now()) {}
  bool requested() {
    if (flag_.load(std::memory_order_relaxed)) return true;
    if (std::this_thread::get_id() != main_) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return false;
    last_ = now;
    if (r_interrupt_pending()) flag_ = true;
    return flag_;
  }

 private:
  std::thread::id main_;
  std::chrono::steady_clock::time_point last_;  // touched by the main thread only
  std::atomic<bool> flag_{false};
};

}  // namespace glamm

#endif
