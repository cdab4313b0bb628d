// One cluster's adaptive Gauss-Hermite contribution and its adjoints, for a
// single level of random effects (the depth-1 case of tree.cpp, kept as a fast
// path with stack-allocated q x q algebra).
//
// With standardized effects u ~ N(0, I), effective design T (design.h) and
//   g(u) = sum_i l_i(eta_fix_i + T_i u) - u'u / 2,
// the mode u^ solves T' l' - u = 0 (Newton with step halving), the curvature
// is H = T' W T + I (W = -l''), H = L L' (lower Cholesky factor), A = L^{-T},
// and with the nodes z_k and weights w_k of the standard normal product rule
//   log L_j = log|A| + log sum_k w_k exp(g(u^ + A z_k) + |z_k|^2 / 2).
// K = 1 (z = 0, w = 1) is the Laplace approximation.
//
// Adjoints, with posterior node weights omega_k, a_i = sum_k omega_k l'_ik,
// D_i = sum_k omega_k l'_ik z_k', and everything else at the mode:
//   M = sum_i D_i' T_i - zbar u^' - Szz A',  G = A + A M A,  S = L' G,
//   B = symmetric with B_ab = S_ab / 2 (a >= b),  C = A B A'
//   (so that the terms in log|A| and in the nodes' shift give -tr(dH C)),
//   h_i = T_i C T_i',  kappa = T' a - ubar + T' (l''' o h),  nu = H^{-1} kappa
//   (nu carries the implicit derivative of the mode, d u^ = H^{-1} d grad g),
//   ebar_i = a_i + l''_i T_i nu + l'''_i h_i,
//   Tbar_i = l'_i nu' + ebar_i u^' + D_i A' + 2 l''_i T_i C,
//   d/d psi = sum_i [sum_k omega_k dl_ik/dpsi + T_i nu dl'_i/dpsi + h_i dl''_i/dpsi].
#include "cluster.h"

#include <cmath>
#include <limits>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

void ClusterWork::resize(int m, int q, int n_nodes) {
  V.resize(m, q);
  D.resize(m, q);
  Tbar.resize(m, q);
  node_d1.resize(m, n_nodes);
  eta.resize(m);
  eta_node.resize(m);
  d1.resize(m);
  d2.resize(m);
  d3.resize(m);
  a.resize(m);
  h.resize(m);
  e.resize(m);
  zeta.resize(m);
  G.resize(n_nodes);
  omega.resize(n_nodes);
  omega_z.resize(n_nodes, q);
}

namespace {

// g(u) = sum of log f at eta = eta_fix + T u - u'u/2, filling d1, d2 and d3.
double working_g(const Family& family, const ClusterRows& r, const SmallVec& u, ClusterWork& w) {
  const int m = r.m;
  w.eta.head(m).noalias() = Eigen::Map<const VectorXd>(r.eta_fix, m) + r.T->topRows(m) * u;
  return family.derivs(r.response, w.eta.data(), m, w.d1.data(), w.d2.data(), w.d3.data()) -
         0.5 * u.squaredNorm();
}

SmallMat curvature(const ClusterRows& r, ClusterWork& w) {
  const int q = static_cast<int>(r.T->cols());
  SmallMat H = SmallMat::Identity(q, q);
  H.noalias() += r.T->topRows(r.m).transpose() * (-w.d2.head(r.m)).asDiagonal() * r.T->topRows(r.m);
  return H;
}

}  // namespace

void cluster_eval(const Family& family, const ProductGrid& grid, const ClusterRows& rows,
                  const SmallVec& u_start, const ModeControl& ctl, bool want_grad,
                  ClusterWork& w, ClusterOut& out, double* ebar, double* g_psi) {
  const int m = rows.m, q = static_cast<int>(rows.T->cols());
  const int n_nodes = static_cast<int>(grid.weight.size());
  const double NEG_INF = -std::numeric_limits<double>::infinity();
  auto T = rows.T->topRows(m);
  out.ok = true;

  // Mode by Newton's method with step halving. A step below the tolerance
  // ends the search at the current point, so a warm start costs one pass.
  SmallVec u = u_start, u_prev = u_start;
  double g = working_g(family, rows, u, w), g_prev = NEG_INF;
  if (!std::isfinite(g)) {  // a stale warm start: begin again at the prior mean
    u.setZero();
    u_prev = u;
    g = working_g(family, rows, u, w);
  }
  bool converged = false;
  int halvings = 0;
  double last_step = std::numeric_limits<double>::infinity();
  for (int it = 0; it < ctl.maxit; ++it) {
    if (!std::isfinite(g) || g < g_prev - 1e-12 * (1.0 + std::fabs(g_prev))) {
      if (++halvings > 60) break;
      u = 0.5 * (u + u_prev);
      g = working_g(family, rows, u, w);
      continue;
    }
    halvings = 0;
    SmallVec r = T.transpose() * w.d1.head(m) - u;
    SmallVec step = curvature(rows, w).llt().solve(r);
    // Converged below the tolerance, or at the rounding floor: a tiny step
    // that no longer shrinks.
    double size = step.lpNorm<Eigen::Infinity>();
    if (size < ctl.tol || (size < 1e-8 && size >= last_step)) {
      converged = true;
      break;
    }
    last_step = size;
    u_prev = u;
    g_prev = g;
    u += step;
    g = working_g(family, rows, u, w);
  }
  if (!converged) {
    out.ok = false;
    out.loglik = NEG_INF;
    return;
  }
  out.mode = u;

  // Curvature and the adapted nodes u^ + A z_k, i.e. eta_ik = eta^_i + V_i z_k.
  SmallMat H = curvature(rows, w);
  Eigen::LLT<SmallMat> llt(H);
  SmallMat L = llt.matrixL();
  SmallMat A = L.transpose().triangularView<Eigen::Upper>().solve(SmallMat::Identity(q, q));
  double log_det_A = -L.diagonal().array().log().sum();
  out.transform = A;
  w.V.topRows(m).noalias() = T * A;

  const MatrixXd& Zn = grid.nodes;
  SmallVec uk(q);
  for (int k = 0; k < n_nodes; ++k) {
    uk.noalias() = u + A * Zn.col(k);
    w.eta_node.head(m).noalias() = w.eta.head(m) + w.V.topRows(m) * Zn.col(k);
    double Gk = grid.log_weight(k) - 0.5 * uk.squaredNorm() +
                family.value_d1(rows.response, w.eta_node.data(), m, &w.node_d1(0, k));
    w.G(k) = std::isnan(Gk) ? NEG_INF : Gk;
  }
  double Gmax = w.G.head(n_nodes).maxCoeff();
  if (!std::isfinite(Gmax)) {
    out.ok = false;
    out.loglik = NEG_INF;
    return;
  }
  double sum = 0.0;
  for (int k = 0; k < n_nodes; ++k) sum += std::exp(w.G(k) - Gmax);
  double lse = Gmax + std::log(sum);
  out.loglik = log_det_A + lse;

  // Posterior node weights; nodes of negligible weight are dropped so that an
  // infinite derivative at a far node cannot produce 0 * inf.
  for (int k = 0; k < n_nodes; ++k) {
    double om = std::exp(w.G(k) - lse);
    if (om < 1e-300) {
      om = 0.0;
      w.node_d1.col(k).head(m).setZero();
    }
    w.omega(k) = om;
    w.omega_z.row(k) = om * Zn.col(k).transpose();
  }
  SmallVec zbar = Zn * w.omega.head(n_nodes);
  SmallMat Szz = Zn * w.omega_z.topRows(n_nodes);
  out.post_mean = u + A * zbar;
  out.mode_cov = A * A.transpose();
  // One node (Laplace) carries no spread: the posterior is the Gaussian at the mode.
  out.post_cov = n_nodes == 1 ? out.mode_cov
                              : SmallMat(A * (Szz - zbar * zbar.transpose()) * A.transpose());
  if (!want_grad) return;

  w.a.head(m).noalias() = w.node_d1.leftCols(n_nodes).topRows(m) * w.omega.head(n_nodes);
  w.D.topRows(m).noalias() = w.node_d1.leftCols(n_nodes).topRows(m) * w.omega_z.topRows(n_nodes);

  SmallMat M = w.D.topRows(m).transpose() * T - zbar * u.transpose() - Szz * A.transpose();
  SmallMat Gm = A + A * M * A;
  SmallMat S = L.transpose() * Gm;
  SmallMat B = SmallMat::Zero(q, q);
  for (int a = 0; a < q; ++a)
    for (int b = 0; b <= a; ++b) B(a, b) = B(b, a) = 0.5 * S(a, b);
  SmallMat C = A * B * A.transpose();

  w.Tbar.topRows(m).noalias() = T * C;
  w.h.head(m) = (w.Tbar.topRows(m).array() * T.array()).rowwise().sum();
  SmallVec kappa = T.transpose() * (w.a.head(m) + w.d3.head(m).cwiseProduct(w.h.head(m))) -
                   out.post_mean;
  SmallVec nu = llt.solve(kappa);
  w.zeta.head(m).noalias() = T * nu;
  w.e.head(m) = w.a.head(m) + w.d2.head(m).cwiseProduct(w.zeta.head(m)) +
                w.d3.head(m).cwiseProduct(w.h.head(m));
  for (int i = 0; i < m; ++i) ebar[i] = w.e(i);

  // Tbar = l' nu' + e u^' + D A' + 2 diag(l'') T C (T C is in Tbar already).
  w.Tbar.topRows(m) = (2.0 * w.d2.head(m)).asDiagonal() * w.Tbar.topRows(m);
  w.Tbar.topRows(m).noalias() += w.d1.head(m) * nu.transpose() + w.e.head(m) * u.transpose();
  w.Tbar.topRows(m).noalias() += w.D.topRows(m) * A.transpose();

  const int n_extra = family.n_extra();
  if (n_extra == 0) return;
  std::vector<double> dl(n_extra), dd1(n_extra), dd2(n_extra);
  for (int i = 0; i < m; ++i) {
    family.extra_derivs(rows.response[i], w.eta(i), dl.data(), dd1.data(), dd2.data());
    for (int t = 0; t < n_extra; ++t) g_psi[t] += w.zeta(i) * dd1[t] + w.h(i) * dd2[t];
  }
  for (int k = 0; k < n_nodes; ++k) {
    if (w.omega(k) == 0.0) continue;
    for (int i = 0; i < m; ++i) {
      double eta = w.eta(i) + w.V.row(i).dot(Zn.col(k));
      family.extra_value(rows.response[i], eta, w.omega(k), g_psi);
    }
  }
}

}  // namespace glamm
