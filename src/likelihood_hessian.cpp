// The observed information of a two-level model, summed over the top
// clusters j (likelihood.h), on a rule of K points per effect (not
// necessarily the fit's):
//   d2 log L / dtheta2 = sum_j w_j d2 log L_j / dtheta2,
// each term by Louis' identity at the cluster's adapted nodes
// (cluster_hessian.cpp). The clusters are handed out in chunks whose bounds
// depend only on the numbers of clusters and parameters, each chunk sums
// into its own matrix, and the chunks are added in order: the result does
// not depend on the number of threads.
#include "cluster_hessian.h"
#include "interrupt.h"
#include "likelihood.h"
#include "threads.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

int Model::louis_hessian(const VectorXd& beta, const std::vector<MatrixXd>& Lambda,
                         const VectorXd& psi, int K, MatrixXd* H) {
  if (!louis_available())
    throw std::invalid_argument("the Louis information needs one level and no extra parameters");
  if (psi.size() != family_->n_extra())
    throw std::invalid_argument("parameter dimensions do not match the model");
  if (K < 1) throw std::invalid_argument("the number of quadrature points must be >= 1");
  design_.set(beta, Lambda);
  const int nt = shape_.n_top(), R = shape_.R(), N = design_.n_score();
  if (K != louis_points_) {
    louis_grid_ = product_grid(K, R);
    louis_points_ = K;
  }
  const ProductGrid& grid = louis_grid_;
  const int n_nodes = static_cast<int>(grid.weight.size());
  // At most 32 chunk matrices, and at most about 256 MB of them.
  const double bytes = 8.0 * N * N;
  const int max_chunks = static_cast<int>(std::max(1.0, std::min(32.0, 2.56e8 / bytes)));
  const int chunk = std::max(16, (nt + max_chunks - 1) / max_chunks);
  const int n_chunks = (nt + chunk - 1) / chunk;
  std::vector<MatrixXd> part(n_chunks);
  struct Work {
    VectorXd eta_fix, ebar;
    MatrixXd T;
    ClusterWork cw;
    HessianWork hw;
  };
  std::vector<std::unique_ptr<Work> > pool(std::max(1, n_threads_));
  std::atomic<int> n_fail(0);
  InterruptPoller interrupt;
  try {
    parallel_for(nt, n_threads_, chunk, [&](int first, int last, int thread) {
      if (!pool[thread]) {
        pool[thread].reset(new Work);
        pool[thread]->eta_fix.resize(max_rows_);
        pool[thread]->ebar.resize(max_rows_);
        pool[thread]->T.resize(max_rows_, R);
        pool[thread]->cw.resize(max_rows_, R, n_nodes);
      }
      Work& wk = *pool[thread];
      MatrixXd& Hc = part[first / chunk];
      Hc.setZero(N, N);
      ClusterOut co;
      double no_extra = 0.0;
      for (int k = first; k < last; ++k) {
        ClusterRows rows = cluster_rows(k, wk.eta_fix, wk.T);
        SmallVec u0 = u_warm_[0].col(k);
        cluster_eval(*family_, grid, rows, u0, ctl_, false, wk.cw, co, wk.ebar.data(), &no_extra);
        if (!co.ok) {
          ++n_fail;
          continue;
        }
        u_warm_[0].col(k) = co.mode;
        const double weight = top_weight_.size() > 0 ? top_weight_(k) : 1.0;
        cluster_hessian(*family_, grid, rows, design_, shape_.row_start[0][k], co, wk.cw, weight,
                        wk.hw, Hc);
      }
    }, [&] { return interrupt.requested(); });
  } catch (const std::bad_alloc&) {
    throw std::runtime_error("the information matrix ran out of memory: use fewer parameters");
  }
  if (interrupt.requested()) throw Interrupted();
  H->setZero(N, N);
  if (n_fail > 0) return n_fail.load();
  for (const MatrixXd& Hc : part)
    if (Hc.size()) *H += Hc;
  return 0;
}

}  // namespace glamm
