// The sparse global Laplace: mode, value and exact gradient (formulas in
// sparse_laplace.h). Row passes (linear predictors, the family's derivatives,
// the terms h_i, ebar_i, Tbar_i and the parameter layer's backward pass) run
// in parallel over chunks of ROW_CHUNK rows with results per row or per
// chunk; the scatter of rows into H and into T' v is serial in row order.
#include "sparse_laplace.h"
#include "codes.h"
#include "interrupt.h"
#include "selected_inverse.h"
#include "threads.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

const int ROW_CHUNK = 4096;
const double NEG_INF = -std::numeric_limits<double>::infinity();

std::vector<Eigen::Map<const MatrixXd> > z_maps(const std::vector<SparseLevelData>& levels) {
  std::vector<Eigen::Map<const MatrixXd> > out;
  for (const SparseLevelData& l : levels) out.push_back(l.Z);
  return out;
}

std::vector<SparseLevelCodes> level_codes(const std::vector<SparseLevelData>& levels) {
  std::vector<SparseLevelCodes> out;
  for (const SparseLevelData& l : levels)
    out.push_back({l.cluster, l.n_clusters, static_cast<int>(l.Z.cols())});
  return out;
}

int n_chunks(int n) { return (n + ROW_CHUNK - 1) / ROW_CHUNK; }

// Runs f(first, last) over the row chunks; stops early on a user interrupt.
template <class F>
void over_rows(int n, int n_threads, F f) {
  InterruptPoller interrupt;
  const int threads = n < 2 * ROW_CHUNK ? 1 : n_threads;
  parallel_for(n, threads, ROW_CHUNK, [&](int first, int last, int) { f(first, last); },
               [&] { return interrupt.requested(); });
  if (interrupt.requested()) throw Interrupted();
}

}  // namespace

SparseLaplace::SparseLaplace(const Eigen::Map<const MatrixXd>& X, const Eigen::Map<const VectorXd>& y,
                             const Eigen::Map<const VectorXd>& trials,
                             const Eigen::Map<const VectorXd>& weights,
                             const Eigen::Map<const VectorXd>& offset,
                             const std::vector<SparseLevelData>& levels, int family, int link,
                             int n_categories, int n_threads, const ModeControl& ctl)
    : design_(X, offset, z_maps(levels)), family_(make_family(family, link, n_categories)),
      structure_(level_codes(levels), static_cast<int>(X.rows())), n_threads_(n_threads),
      ctl_(ctl), quadratic_(family == FAMILY_GAUSSIAN && link == LINK_IDENTITY) {
  const int n = design_.n();
  auto bad = [n](const Eigen::Map<const VectorXd>& v) { return v.size() != n && v.size() != 0; };
  if (y.size() != n || bad(trials) || bad(weights))
    throw std::invalid_argument("X, Z, y, trials, weights and offset must have the same rows");
  static const double one = 1.0;
  const bool unit_trials = trials.size() == 0, unit_weights = weights.size() == 0;
  response_ = {y.data(), unit_trials ? &one : trials.data(), unit_weights ? &one : weights.data(),
               &one, unit_trials ? 0 : 1, unit_weights ? 0 : 1, 0};
  factor_.analyzePattern(structure_.H());
  const int Q = structure_.Q();
  u_warm_ = VectorXd::Zero(Q);
  eta_fix_.resize(n);
  eta_.resize(n);
  d1_.resize(n);
  d2_.resize(n);
  d3_.resize(n);
  T_.resize(n, design_.R());
  chunk_sum_.resize(n_chunks(n));
  work_.assign(Q, -1);
}

double SparseLaplace::row_pass(const VectorXd& u) {
  const int R = structure_.R();
  over_rows(design_.n(), n_threads_, [&](int first, int last) {
    for (int i = first; i < last; ++i) {
      const int* c = structure_.cols(i);
      double e = eta_fix_[i];
      for (int r = 0; r < R; ++r) e += T_(i, r) * u[c[r]];
      eta_[i] = e;
    }
    chunk_sum_[first / ROW_CHUNK] =
        family_->derivs(response_.from(first), eta_.data() + first, last - first,
                        d1_.data() + first, d2_.data() + first, d3_.data() + first);
  });
  const double g = chunk_sum_.sum() - 0.5 * u.squaredNorm();
  return std::isfinite(g) ? g : NEG_INF;
}

bool SparseLaplace::factor_curvature() {
  Eigen::SparseMatrix<double>& H = structure_.H();
  double* val = H.valuePtr();
  std::fill(val, val + H.nonZeros(), 0.0);
  for (int pos : structure_.h_diag()) val[pos] = 1.0;
  const int R = structure_.R(), n = structure_.n();
  for (int i = 0; i < n; ++i) {
    const double w = -d2_[i];
    const int* hp = structure_.h_pos(i);
    for (int r = 0; r < R; ++r) {
      const double wt = w * T_(i, r);
      for (int s = r; s < R; ++s) val[hp[structure_.pair(r, s)]] += wt * T_(i, s);
    }
  }
  if (schur_) return schur_->factorize(H);
  factor_.factorize(H);
  if (factor_.info() != Eigen::Success) return false;
  if (!factor_located_) {
    const Eigen::SparseMatrix<double>& L = factor_.matrixL().nestedExpression();
    structure_.locate_in_factor(L);
    factor_located_ = true;
    const int c0 = dense_tail_start(L);
    if (L.cols() - c0 >= 8) schur_.reset(new SchurFactor(L, H, c0, n_threads_));
  }
  return true;
}

bool SparseLaplace::find_mode(double* g_mode) {
  const int R = structure_.R(), n = structure_.n();
  VectorXd grad(structure_.Q()), step;
  for (int attempt = 0; attempt < 2; ++attempt) {
    u_ = attempt == 0 ? u_warm_ : VectorXd::Zero(structure_.Q());
    double g = row_pass(u_);
    if (!std::isfinite(g)) continue;
    bool converged = false, failed = false;
    double last_step = std::numeric_limits<double>::infinity();
    for (int it = 0; it < ctl_.maxit && !failed; ++it) {
      if (!factor_curvature()) {
        failed = true;
        break;
      }
      grad = -u_;
      for (int i = 0; i < n; ++i) {
        const int* c = structure_.cols(i);
        for (int r = 0; r < R; ++r) grad[c[r]] += T_(i, r) * d1_[i];
      }
      step = solve(grad);
      const double size = step.lpNorm<Eigen::Infinity>();
      if (!std::isfinite(size)) {
        failed = true;
        break;
      }
      if (size < ctl_.tol || (size < 1e-8 && size >= last_step)) {
        converged = true;
        break;
      }
      last_step = size;
      // Step halving until g does not decrease (up to rounding).
      double t = 1.0, g_new = NEG_INF;
      VectorXd u_new;
      int halvings = 0;
      for (; halvings <= 60; ++halvings, t *= 0.5) {
        u_new = u_ + t * step;
        g_new = row_pass(u_new);
        if (std::isfinite(g_new) && g_new >= g - 1e-12 * (1.0 + std::fabs(g))) break;
      }
      if (halvings > 60) {
        failed = true;
        break;
      }
      u_.swap(u_new);
      g = g_new;
      // A gaussian identity-link g is quadratic and H does not depend on u:
      // one full Newton step lands on the mode, and H's factor stays valid.
      if (quadratic_ && halvings == 0) {
        converged = true;
        break;
      }
    }
    if (converged) {
      *g_mode = g;
      u_warm_ = u_;
      return true;
    }
  }
  u_warm_.setZero();
  return false;
}

int SparseLaplace::prepare(const VectorXd& beta, const std::vector<MatrixXd>& Lambda,
                           const VectorXd& psi, double* loglik) {
  if (psi.size() != family_->n_extra())
    throw std::invalid_argument("parameter dimensions do not match the model");
  design_.set(beta, Lambda);
  family_->set_extra(psi.data());
  over_rows(design_.n(), n_threads_, [&](int first, int last) {
    design_.fill(first, last - first, eta_fix_.data() + first, T_.middleRows(first, last - first));
  });
  double g;
  if (!find_mode(&g)) {
    *loglik = NEG_INF;
    return 1;
  }
  const VectorXd diag = factor_L().diagonal();
  *loglik = g - diag.array().log().sum();
  return 0;
}

int SparseLaplace::eval(const VectorXd& beta, const std::vector<MatrixXd>& Lambda, const VectorXd& psi,
                        double* loglik, Gradient* grad, bool want_scores) {
  const int fail = prepare(beta, Lambda, psi, loglik);
  if (fail || !grad) return fail;
  gradient(grad, want_scores);
  return 0;
}

void SparseLaplace::gradient(Gradient* grad, bool want_scores) {
  const int R = structure_.R(), n = structure_.n(), n_extra = family_->n_extra();
  const int n_score = design_.n_score(), nc = n_chunks(n);
  selected_inverse(factor_L(), selected_, work_, n_threads_);
  // h_i and r_i per row, then nu = S T' r.
  VectorXd h(n), rr(n);
  over_rows(n, n_threads_, [&](int first, int last) {
    for (int i = first; i < last; ++i) {
      const int* lp = structure_.l_pos(i);
      double s = 0.0;
      for (int r = 0; r < R; ++r) {
        s += T_(i, r) * T_(i, r) * selected_[lp[structure_.pair(r, r)]];
        for (int t = r + 1; t < R; ++t) s += 2.0 * T_(i, r) * T_(i, t) * selected_[lp[structure_.pair(r, t)]];
      }
      h[i] = 0.5 * s;
      rr[i] = d3_[i] * h[i];
    }
  });
  VectorXd kappa = VectorXd::Zero(structure_.Q());
  for (int i = 0; i < n; ++i) {
    const int* c = structure_.cols(i);
    for (int r = 0; r < R; ++r) kappa[c[r]] += T_(i, r) * rr[i];
  }
  const VectorXd nu = solve(kappa);
  MatrixXd chunk_score = MatrixXd::Zero(n_score + n_extra, nc);
  over_rows(n, n_threads_, [&](int first, int last) {
    const int m = last - first;
    VectorXd ebar(m), dl(n_extra), dd1(n_extra), dd2(n_extra);
    MatrixXd Tbar(m, R);
    auto sc = chunk_score.col(first / ROW_CHUNK);
    for (int i = first; i < last; ++i) {
      const int* c = structure_.cols(i);
      const int* lp = structure_.l_pos(i);
      double tnu = 0.0;
      for (int r = 0; r < R; ++r) tnu += T_(i, r) * nu[c[r]];
      const double e = d1_[i] + d2_[i] * tnu + rr[i];
      ebar[i - first] = e;
      for (int r = 0; r < R; ++r) {
        double ts = 0.0;
        for (int t = 0; t < R; ++t) ts += T_(i, t) * selected_[lp[structure_.pair(r, t)]];
        Tbar(i - first, r) = d1_[i] * nu[c[r]] + e * u_[c[r]] + d2_[i] * ts;
      }
      if (n_extra > 0) {
        family_->extra_derivs(response_[i], eta_[i], dl.data(), dd1.data(), dd2.data());
        sc.tail(n_extra) += dl + tnu * dd1 + h[i] * dd2;
      }
    }
    design_.backward(first, m, ebar.data(), Tbar, sc.data());
  });
  const VectorXd total = chunk_score.rowwise().sum();
  grad->beta = total.head(design_.p());
  grad->lambda.resize(design_.n_levels());
  for (int l = 0; l < design_.n_levels(); ++l) {
    const int q = design_.q(l);
    grad->lambda[l] = Eigen::Map<const MatrixXd>(total.data() + design_.score_col(l), q, q);
  }
  grad->psi = total.tail(n_extra);
  grad->loading = total.segment(design_.loading_col(), design_.n_loadings());
  if (want_scores) grad->scores = total.transpose();
}

int SparseLaplace::posterior(const VectorXd& beta, const std::vector<MatrixXd>& Lambda,
                             const VectorXd& psi, Posterior* post) {
  double ll;
  if (prepare(beta, Lambda, psi, &ll)) return 1;
  const Eigen::SparseMatrix<double>& L = factor_L();
  selected_inverse(L, selected_, work_, n_threads_);
  const int nl = structure_.n_levels();
  post->level.resize(nl);
  for (int l = 0; l < nl; ++l) {
    const int q = structure_.q(l), nc = structure_.n_clusters(l);
    LevelPosterior& lp = post->level[l];
    lp.mode.resize(nc, q);
    lp.cov.resize(nc, q * q);
    // The parameter layer's effect j of a level is the level's effect q - 1 - j.
    for (int c = 0; c < nc; ++c)
      for (int j = 0; j < q; ++j) {
        const int a = structure_.effect_col(l, c, q - 1 - j);
        lp.mode(c, j) = u_[a];
        for (int k = 0; k < q; ++k) {
          const int b = structure_.effect_col(l, c, q - 1 - k);
          lp.cov(c, j + k * q) = selected_[sparse_position(L, std::max(a, b), std::min(a, b))];
        }
      }
    lp.mean = lp.mode;
    lp.mode_cov = lp.cov;
  }
  post->loglik = VectorXd::Constant(1, ll);
  return 0;
}

}  // namespace glamm
