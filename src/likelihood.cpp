// Sum over top-level clusters of the AGHQ log-likelihood and its gradient:
//   log L = sum_k w_k log L_k,   d log L / d theta = sum_k w_k s_k,
// (w_k = 1 unless top-level survey weights are given; row power weights are
// inside log L_k, family_power.h, and the weights of the clusters below the
// top are powers inside the tree integrator's nested sums, tree_weights.cpp), where the score s_k of top cluster k
// comes from its integrator's adjoints (ebar, Tbar, psibar) through the
// parameter layer (design.h).
#include "likelihood.h"
#include "family_mixed.h"
#include "family_power.h"
#include "interrupt.h"
#include "threads.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <stdexcept>
#include <vector>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

std::vector<Eigen::Map<const MatrixXd> > level_maps(const std::vector<LevelData>& levels) {
  std::vector<Eigen::Map<const MatrixXd> > out;
  for (const LevelData& l : levels) out.push_back(l.Z);
  return out;
}

}  // namespace

Model::Model(const Eigen::Map<const MatrixXd>& X, const Eigen::Map<const VectorXd>& y,
             const Eigen::Map<const VectorXd>& trials, const Eigen::Map<const VectorXd>& weights,
             const Eigen::Map<const VectorXd>& power, const Eigen::Map<const VectorXd>& top_weight,
             const Eigen::Map<const VectorXd>& offset, const std::vector<LevelData>& levels,
             int family, int link, int n_categories, const std::vector<int>& n_agq,
             int n_threads, const ModeControl& ctl, bool use_tree)
    : design_(X, offset, level_maps(levels)), family_(make_family(family, link, n_categories)),
      n_threads_(n_threads), ctl_(ctl) {
  const int n = design_.n(), L = design_.n_levels();
  // Empty trials or weights are 1 on every row.
  auto bad = [n](const Eigen::Map<const VectorXd>& v) { return v.size() != n && v.size() != 0; };
  if (y.size() != n || bad(trials) || bad(weights) || bad(power) || bad(top_weight))
    throw std::invalid_argument("X, Z, y, trials, weights and offset must have the same rows");
  if (static_cast<int>(n_agq.size()) != L)
    throw std::invalid_argument("one number of quadrature points per level is needed");
  std::vector<const int*> code(L);
  std::vector<int> q(L), K(L);
  for (int d = 0; d < L; ++d) {  // depth d is level L - 1 - d
    const LevelData& lev = levels[L - 1 - d];
    code[d] = lev.code;
    q[d] = static_cast<int>(lev.Z.cols());
    K[d] = n_agq[L - 1 - d];
    if (K[d] < 1) throw std::invalid_argument("the number of quadrature points must be >= 1");
    if (q[d] > MAX_Q) throw std::invalid_argument("at most 10 random effects per level");
  }
  shape_.build(code, n, q);
  std::vector<const double*> node_weight(L, nullptr);
  for (int d = 0; d < L; ++d) node_weight[d] = levels[L - 1 - d].weight;
  if (node_weight[0]) throw std::invalid_argument("the top level's survey weights go in top_weight");
  for (int d = 1; d < L; ++d) node_weighted_ = node_weighted_ || node_weight[d];
  if (node_weighted_) node_weights_.build(shape_, node_weight);
  static const double one = 1.0;
  const bool unit_trials = trials.size() == 0, unit_weights = weights.size() == 0;
  const bool unit_power = power.size() == 0;
  response_ = {y.data(), unit_trials ? &one : trials.data(), unit_weights ? &one : weights.data(),
               unit_power ? &one : power.data(), unit_trials ? 0 : 1, unit_weights ? 0 : 1,
               unit_power ? 0 : 1};
  if (!unit_power && family_->unit_size() > 1)
    throw std::invalid_argument("survey weights are not available for multinomial responses");
  power_weighted_ = !unit_power;
  if (power_weighted_) family_ = make_power_weighted(std::move(family_));
  // Vector response units (multinomial.h) take the tree integrator.
  tree_ = use_tree || L > 1 || family_->unit_size() > 1;
  if (tree_) {
    grids_.build(shape_, K);
  } else {
    grid_ = product_grid(K[0], q[0]);
  }
  const int nt = shape_.n_top();
  max_rows_ = 0;
  max_nodes_.assign(L, 0);
  for (int k = 0; k < nt; ++k) {
    max_rows_ = std::max(max_rows_, shape_.row_start[0][k + 1] - shape_.row_start[0][k]);
    for (int d = 0; d < L; ++d)
      max_nodes_[d] = std::max(max_nodes_[d], shape_.first_node[d][k + 1] - shape_.first_node[d][k]);
  }
  u_warm_.resize(L);
  for (int d = 0; d < L; ++d) u_warm_[d] = MatrixXd::Zero(q[d], shape_.n_nodes(d));
  score_.resize(design_.n_score() + family_->n_extra(), nt);
  ll_top_.resize(nt);
  if (top_weight.size() > 0) {
    top_weight_.resize(nt);
    for (int k = 0; k < nt; ++k) top_weight_(k) = top_weight(shape_.row_start[0][k]);
  }
}

void Model::set_mixed_family(const std::vector<int>& families, const std::vector<int>& links,
                             std::vector<int> row_family) {
  if (static_cast<int>(row_family.size()) != design_.n())
    throw std::invalid_argument("one family index per row is needed");
  for (int c : row_family)
    if (c < 0 || c >= static_cast<int>(families.size()))
      throw std::invalid_argument("a row's family index is out of range");
  family_ = make_mixed_family(families, links);
  if (power_weighted_) family_ = make_power_weighted(std::move(family_));
  row_family_ = std::move(row_family);
  response_.family = row_family_.data();
  score_.resize(design_.n_score() + family_->n_extra(), score_.cols());
}

ClusterRows Model::cluster_rows(int k, VectorXd& eta_fix, MatrixXd& T) const {
  const int s = shape_.row_start[0][k], m = shape_.row_start[0][k + 1] - s;
  design_.fill(s, m, eta_fix.data(), T.topRows(m));
  ClusterRows rows;
  rows.m = m;
  rows.response = response_.from(s);
  rows.eta_fix = eta_fix.data();
  rows.T = &T;
  return rows;
}

int Model::eval(const VectorXd& beta, const std::vector<MatrixXd>& Lambda, const VectorXd& psi,
                double* loglik, Gradient* grad, bool want_scores) {
  return run(beta, Lambda, psi, grad != nullptr, loglik, grad, want_scores, nullptr);
}

int Model::posterior(const VectorXd& beta, const std::vector<MatrixXd>& Lambda,
                     const VectorXd& psi, Posterior* post) {
  double ll;
  return run(beta, Lambda, psi, false, &ll, nullptr, false, post);
}

// Copies top cluster k's posterior into post, back from the integrator's
// reversed coordinates (design.h).
void Model::store_posterior(int k, const TreePosterior* tp, const ClusterOut& co,
                            Posterior* post) const {
  const int L = shape_.L;
  post->loglik(k) = ll_top_(k);
  for (int d = 0; d < L; ++d) {
    LevelPosterior& lp = post->level[L - 1 - d];
    const int q = shape_.q[d];
    const int v0 = tp ? shape_.first_node[d][k] : k;
    const int nv = tp ? shape_.first_node[d][k + 1] - v0 : 1;
    for (int v = 0; v < nv; ++v) {
      VectorXd mo = tp ? VectorXd(tp->mode[d].col(v)) : VectorXd(co.mode);
      VectorXd me = tp ? VectorXd(tp->mean[d].col(v)) : VectorXd(co.post_mean);
      MatrixXd cv = tp ? MatrixXd(tp->cov[d].middleCols(v * q, q)) : MatrixXd(co.post_cov);
      MatrixXd mc = tp ? MatrixXd(tp->mode_cov[d].middleCols(v * q, q)) : MatrixXd(co.mode_cov);
      lp.mode.row(v0 + v) = mo.reverse().transpose();
      lp.mean.row(v0 + v) = me.reverse().transpose();
      MatrixXd cr = cv.reverse(), mr = mc.reverse();
      lp.cov.row(v0 + v) = Eigen::Map<const VectorXd>(cr.data(), q * q).transpose();
      lp.mode_cov.row(v0 + v) = Eigen::Map<const VectorXd>(mr.data(), q * q).transpose();
    }
  }
}

int Model::run(const VectorXd& beta, const std::vector<MatrixXd>& Lambda, const VectorXd& psi,
               bool want_grad, double* loglik, Gradient* grad, bool want_scores,
               Posterior* post) {
  const int nt = shape_.n_top(), L = shape_.L, R = shape_.R(), n_extra = family_->n_extra();
  const int n_score = design_.n_score();
  if (psi.size() != n_extra) throw std::invalid_argument("parameter dimensions do not match the model");
  design_.set(beta, Lambda);
  family_->set_extra(psi.data());
  if (post) {
    post->level.resize(L);
    for (int l = 0; l < L; ++l) {
      const int d = L - 1 - l, q = shape_.q[d], nn = shape_.n_nodes(d);
      LevelPosterior& lp = post->level[l];
      lp.mode.resize(nn, q);
      lp.mean.resize(nn, q);
      lp.cov.resize(nn, q * q);
      lp.mode_cov.resize(nn, q * q);
    }
    post->loglik.resize(nt);
  }
  const int n_nodes_row = tree_ ? grids_.combos(L - 1) : static_cast<int>(grid_.weight.size());
  // Threads over top clusters, or, when there are few of them (e.g. countries),
  // inside each top cluster (tree.cpp). Workers write only their clusters'
  // slots, reduced below in cluster order.
  const double work = static_cast<double>(design_.n()) * (static_cast<double>(n_nodes_row) + 3.0);
  const int threads = work < 5000.0 ? 1 : n_threads_;
  const bool inner = tree_ && threads > 1 && nt < 8 * threads;
  const int outer_threads = inner ? 1 : threads, inner_threads = inner ? threads : 1;
  struct Work {
    VectorXd eta_fix, ebar;
    MatrixXd T, Tbar;
    ClusterWork cw;
    TreeWork tw;
    TreePosterior tp;
  };
  std::vector<std::unique_ptr<Work> > pool(outer_threads);
  std::atomic<int> n_fail(0);
  InterruptPoller interrupt;
  try {
  parallel_for(nt, outer_threads, 16, [&](int first, int last, int thread) {
    if (!pool[thread]) {
      pool[thread].reset(new Work);
      Work& nw = *pool[thread];
      nw.eta_fix.resize(max_rows_);
      nw.ebar.resize(max_rows_);
      nw.T.resize(max_rows_, R);
      nw.Tbar.resize(max_rows_, R);
      if (tree_) {
        nw.tw.resize(shape_, grids_, max_nodes_, max_rows_);
        for (auto* v : {&nw.tp.mode, &nw.tp.mean, &nw.tp.cov, &nw.tp.mode_cov}) v->resize(L);
      } else {
        nw.cw.resize(max_rows_, R, n_nodes_row);
      }
    }
    Work& wk = *pool[thread];
    ClusterOut co;
    TreeOut to;
    for (int k = first; k < last; ++k) {
      const int s = shape_.row_start[0][k], m = shape_.row_start[0][k + 1] - s;
      ClusterRows rows = cluster_rows(k, wk.eta_fix, wk.T);
      auto sc = score_.col(k);
      sc.setZero();
      bool ok;
      if (tree_) {
        tree_eval(shape_, grids_, *family_, rows, k, u_warm_, ctl_,
                  node_weighted_ ? &node_weights_ : nullptr, want_grad, inner_threads, wk.tw, to,
                  wk.ebar.data(), wk.Tbar.topRows(m), sc.data() + n_score,
                  post ? &wk.tp : nullptr, interrupt);
        ok = to.ok;
        ll_top_(k) = to.loglik;
      } else {
        SmallVec u0 = u_warm_[0].col(k);
        cluster_eval(*family_, grid_, rows, u0, ctl_, want_grad, wk.cw, co, wk.ebar.data(),
                     sc.data() + n_score);
        ok = co.ok;
        ll_top_(k) = co.loglik;
        if (ok) u_warm_[0].col(k) = co.mode;
      }
      if (!ok) {
        ++n_fail;
        continue;
      }
      if (want_grad)
        design_.backward(s, m, wk.ebar.data(), tree_ ? wk.Tbar.topRows(m) : wk.cw.Tbar.topRows(m),
                         sc.data());
      if (top_weight_.size() > 0) {
        ll_top_(k) *= top_weight_(k);
        sc *= top_weight_(k);
      }
      if (post) store_posterior(k, tree_ ? &wk.tp : nullptr, co, post);
    }
  }, [&] { return interrupt.requested(); });
  } catch (const std::bad_alloc&) {
    throw std::runtime_error(
        "the likelihood evaluation ran out of memory: use fewer quadrature points (nAGQ)");
  }
  if (interrupt.requested()) throw Interrupted();
  if (n_fail > 0) {
    *loglik = -std::numeric_limits<double>::infinity();
    return n_fail.load();
  }
  *loglik = ll_top_.sum();
  if (want_grad) {
    VectorXd total = score_.rowwise().sum();
    grad->beta = total.head(design_.p());
    grad->lambda.resize(L);
    for (int l = 0; l < L; ++l) {
      const int q = design_.q(l);
      grad->lambda[l] = Eigen::Map<const MatrixXd>(total.data() + design_.score_col(l), q, q);
    }
    grad->psi = total.tail(n_extra);
    grad->loading = total.segment(design_.loading_col(), design_.n_loadings());
    if (want_scores) grad->scores = score_.transpose();
  }
  return 0;
}

}  // namespace glamm
