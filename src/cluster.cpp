// One cluster's adaptive Gauss-Hermite contribution and its exact gradient.
//
// With standardized effects u ~ N(0, I), b = Lambda u, Zt = Z Lambda and
//   g(u) = sum_i l_i(eta_fix_i + Zt_i' u) - u'u / 2,
// the mode u^ solves Zt' l' - u = 0 (Newton with step halving), the curvature
// is H = Zt' W Zt + I (W = -l''), A A' = H^{-1} with A lower triangular
// (A = P L^{-T}, P the order-reversing permutation, P H P = L L'), and with the nodes
// z_k and weights w_k of the standard normal product rule
//   log L_j = log|A| + log sum_k w_k exp(g(u^ + A z_k) + |z_k|^2 / 2).
// K = 1 (z = 0, w = 1) is the Laplace approximation.
//
// Gradient, with posterior node weights omega_k, a_i = sum_k omega_k l'_ik,
// d_i = sum_k omega_k l'_ik z_k, and everything else at the mode:
//   M = sum_i d_i Zt_i' - zbar u^' - Szz A',  Ar = L^{-T},  G = Ar + Ar M P Ar,
//   S = L' G,  B = sym. matrix with B_ab = S_ab / 2 (a >= b),  C = P Ar B Ar' P
//   (so that the terms in log|A| and in the nodes' shift give -tr(dH C)),
//   h_i = Zt_i' C Zt_i,  kappa = Zt' a - ubar + Zt' (l''' o h),  nu = H^{-1} kappa
//   (nu carries the implicit derivative of the mode, d u^ = H^{-1} d grad g),
//   e_i = a_i + l''_i Zt_i' nu + l'''_i h_i                 -> d/d beta = X' e
//   d/d Lambda = Z'(l' nu' + e u^' + D A') + 2 Z' diag(l'') Z Lambda C
//   d/d psi = sum_i [sum_k omega_k dl_ik/dpsi + Zt_i' nu dl'_i/dpsi + h_i dl''_i/dpsi].
#include "cluster.h"

#include <cmath>
#include <limits>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

void ClusterWork::resize(int m, int q, int n_nodes) {
  Zt.resize(m, q);
  V.resize(m, q);
  D.resize(m, q);
  T.resize(m, q);
  node_d1.resize(m, n_nodes);
  eta_fix.resize(m);
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

// g(u) = sum of log f at eta = eta_fix + Zt u - u'u/2, filling d1, d2 and d3.
double working_g(const ClusterData& data, const Family& family, int s, int m,
                 const SmallVec& u, ClusterWork& w) {
  w.eta.head(m).noalias() = w.eta_fix.head(m) + w.Zt.topRows(m) * u;
  return family.derivs(&data.response[s], w.eta.data(), m, w.d1.data(), w.d2.data(),
                       w.d3.data()) -
         0.5 * u.squaredNorm();
}

SmallMat curvature(int m, ClusterWork& w) {
  int q = static_cast<int>(w.Zt.cols());
  SmallMat H = SmallMat::Identity(q, q);
  H.noalias() += w.Zt.topRows(m).transpose() * (-w.d2.head(m)).asDiagonal() * w.Zt.topRows(m);
  return H;
}

}  // namespace

void cluster_eval(const ClusterData& data, const Family& family, const ProductGrid& grid,
                  const SmallMat& Lambda, const double* eta_fix, const SmallVec& u_start,
                  const ModeControl& ctl, bool want_grad, int j, ClusterWork& w, ClusterOut& out,
                  double* e_out, Eigen::Ref<MatrixXd> g_lambda, Eigen::Ref<VectorXd> g_psi) {
  const int s = data.start[j], m = data.start[j + 1] - s, q = data.q;
  const int n_nodes = static_cast<int>(grid.weight.size());
  const double NEG_INF = -std::numeric_limits<double>::infinity();
  Eigen::Map<const MatrixXd, 0, Eigen::OuterStride<> > Zj(data.Z + s, m, q,
                                                          Eigen::OuterStride<>(data.n));
  w.Zt.topRows(m).noalias() = Zj * Lambda.triangularView<Eigen::Lower>();
  for (int i = 0; i < m; ++i) w.eta_fix(i) = eta_fix[s + i];
  out.ok = true;

  // Mode by Newton's method with step halving. A step below the tolerance
  // ends the search at the current point, so a warm start costs one pass.
  SmallVec u = u_start, u_prev = u_start;
  double g = working_g(data, family, s, m, u, w), g_prev = NEG_INF;
  if (!std::isfinite(g)) {  // a stale warm start: begin again at the prior mean
    u.setZero();
    u_prev = u;
    g = working_g(data, family, s, m, u, w);
  }
  bool converged = false;
  int halvings = 0;
  double last_step = std::numeric_limits<double>::infinity();
  for (int it = 0; it < ctl.maxit; ++it) {
    if (!std::isfinite(g) || g < g_prev - 1e-12 * (1.0 + std::fabs(g_prev))) {
      if (++halvings > 60) break;
      u = 0.5 * (u + u_prev);
      g = working_g(data, family, s, m, u, w);
      continue;
    }
    halvings = 0;
    SmallVec r = w.Zt.topRows(m).transpose() * w.d1.head(m) - u;
    SmallVec step = curvature(m, w).llt().solve(r);
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
    g = working_g(data, family, s, m, u, w);
  }
  if (!converged) {
    out.ok = false;
    out.loglik = NEG_INF;
    return;
  }
  out.mode = u;

  // Curvature and the adapted nodes u^ + A z_k, i.e. eta_ik = eta^_i + V_i' z_k.
  // A is the lower Cholesky factor of H^{-1}, the orientation GLMMadaptive uses
  // on the b scale (the same grid, as Lambda is lower triangular). With P the
  // order-reversing permutation and P H P = L L': A = P L^{-T}.
  SmallMat H = curvature(m, w);
  Eigen::LLT<SmallMat> llt(H);
  SmallMat L = Eigen::LLT<SmallMat>(SmallMat(H.reverse())).matrixL();
  SmallMat Ar = L.transpose().triangularView<Eigen::Upper>().solve(SmallMat::Identity(q, q));
  SmallMat A = Ar.colwise().reverse();
  double log_det_A = -L.diagonal().array().log().sum();
  w.V.topRows(m).noalias() = w.Zt.topRows(m) * A;

  const MatrixXd& Zn = grid.nodes;
  SmallVec uk(q);
  const Response* resp = &data.response[s];
  for (int k = 0; k < n_nodes; ++k) {
    uk.noalias() = u + A * Zn.col(k);
    w.eta_node.head(m).noalias() = w.eta.head(m) + w.V.topRows(m) * Zn.col(k);
    double Gk = grid.log_weight(k) - 0.5 * uk.squaredNorm() +
                family.value_d1(resp, w.eta_node.data(), m, &w.node_d1(0, k));
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

  auto Zt = w.Zt.topRows(m);
  w.a.head(m).noalias() = w.node_d1.leftCols(n_nodes).topRows(m) * w.omega.head(n_nodes);
  w.D.topRows(m).noalias() = w.node_d1.leftCols(n_nodes).topRows(m) * w.omega_z.topRows(n_nodes);

  // In the reversed coordinates (Ar = L^{-T}, M P): see the formulas on top.
  SmallMat M = w.D.topRows(m).transpose() * Zt - zbar * u.transpose() - Szz * A.transpose();
  SmallMat Gm = Ar + Ar * SmallMat(M.rowwise().reverse()) * Ar;
  SmallMat S = L.transpose() * Gm;
  SmallMat B = SmallMat::Zero(q, q);
  for (int a = 0; a < q; ++a)
    for (int b = 0; b <= a; ++b) B(a, b) = B(b, a) = 0.5 * S(a, b);
  SmallMat C = SmallMat(Ar * B * Ar.transpose()).reverse();

  w.T.topRows(m).noalias() = Zt * C;
  w.h.head(m) = (w.T.topRows(m).array() * Zt.array()).rowwise().sum();
  SmallVec kappa = Zt.transpose() * (w.a.head(m) + w.d3.head(m).cwiseProduct(w.h.head(m))) -
                   out.post_mean;
  SmallVec nu = llt.solve(kappa);
  w.zeta.head(m).noalias() = Zt * nu;
  w.e.head(m) = w.a.head(m) + w.d2.head(m).cwiseProduct(w.zeta.head(m)) +
                w.d3.head(m).cwiseProduct(w.h.head(m));
  for (int i = 0; i < m; ++i) e_out[s + i] = w.e(i);

  w.T.topRows(m).noalias() = w.d1.head(m) * nu.transpose() + w.e.head(m) * u.transpose();
  w.T.topRows(m).noalias() += w.D.topRows(m) * A.transpose();
  g_lambda.noalias() += Zj.transpose() * w.T.topRows(m);
  SmallMat ZdZ = Zj.transpose() * w.d2.head(m).asDiagonal() * Zj;
  g_lambda.noalias() += 2.0 * ZdZ * Lambda.triangularView<Eigen::Lower>() * C;

  const int n_extra = family.n_extra();
  if (n_extra == 0) return;
  std::vector<double> dl(n_extra), dd1(n_extra), dd2(n_extra);
  for (int i = 0; i < m; ++i) {
    const Response& r = data.response[s + i];
    family.extra_derivs(r, w.eta(i), dl.data(), dd1.data(), dd2.data());
    for (int t = 0; t < n_extra; ++t) g_psi(t) += w.zeta(i) * dd1[t] + w.h(i) * dd2[t];
  }
  for (int k = 0; k < n_nodes; ++k) {
    if (w.omega(k) == 0.0) continue;
    for (int i = 0; i < m; ++i) {
      double eta = w.eta(i) + w.V.row(i).dot(Zn.col(k));
      family.extra_value(data.response[s + i], eta, w.omega(k), g_psi.data());
    }
  }
}

}  // namespace glamm
