// Louis' identity at the adapted nodes of one cluster. With the nodes held
// where the adaptation put them, u_k = u^ + A z_k, and their posterior
// weights omega_k (cluster.cpp),
//   d2 log L_j / dtheta2 = sum_k omega_k (d2 log f_k + s_k s_k') - sbar sbar',
//   s_k = d log f(y_j | u_k) / dtheta,   sbar = sum_k omega_k s_k.
// The row Jacobian of the linear predictor is linear in the node,
// J_ik = d eta_ik / dtheta = M_i (1, u_k)', where the columns of M_i are the
// parameter layer's backward map of a unit ebar_i and of a unit Tbar_ir
// (design.h), so that
//   sum_k omega_k d2 log f_k = sum_i [M_i C_i M_i' + l'-weighted d2 eta_i],
//   C_i = sum_k omega_k l''_ik (1, u_k)(1, u_k)',
// and the second derivatives of eta (nonzero only with factor loadings) are
// taken with a_i = sum_k omega_k l'_ik and b_i = sum_k omega_k l'_ik u_k
// (Design::add_eta_curvature()).
// The adaptation's own dependence on theta is left out. The exact integral
// does not depend on where the nodes are, so what is left out is of the
// order of the quadrature error: this is the observed information of the
// marginal likelihood to that order, at the cost of a few passes, where
// finite differences of the gradient cost two passes per parameter.
#include "cluster_hessian.h"

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

void cluster_hessian(const Family& family, const ProductGrid& grid, const ClusterRows& rows,
                     const Design& design, int s, const ClusterOut& out, const ClusterWork& w,
                     double weight, HessianWork& hw, Eigen::Ref<MatrixXd> H) {
  const int m = rows.m, q = static_cast<int>(rows.T->cols()), N = design.n_score();
  const int n_nodes = static_cast<int>(grid.weight.size()), c = q + 1;
  const MatrixXd& Zn = grid.nodes;
  const VectorXd& omega = w.omega;
  hw.U.resize(c, n_nodes);  // (1, u_k) per node
  hw.d1.resize(m, n_nodes);
  hw.d2.resize(m, n_nodes);
  hw.eta.resize(m);
  hw.d3.resize(m);
  for (int k = 0; k < n_nodes; ++k) {
    hw.U(0, k) = 1.0;
    hw.U.col(k).tail(q) = out.mode + out.transform * Zn.col(k);
    if (omega(k) == 0.0) {  // a node of negligible weight (cluster.cpp)
      hw.d1.col(k).setZero();
      hw.d2.col(k).setZero();
      continue;
    }
    hw.eta.noalias() = w.eta.head(m) + w.V.topRows(m) * Zn.col(k);
    family.derivs(rows.response, hw.eta.data(), m, &hw.d1(0, k), &hw.d2(0, k), hw.d3.data());
  }

  // Each row's M_i on the parameters it touches, numbered locally.
  if (static_cast<int>(hw.local.size()) != N) hw.local.assign(N, -1);
  hw.idx.clear();
  hw.row_start.assign(1, 0);
  hw.row_param.clear();
  hw.M.resize(N, c);
  hw.unit_tbar.setZero(1, q);
  const double one = 1.0, zero = 0.0;
  int n_values = 0;
  for (int i = 0; i < m; ++i) {
    hw.M.setZero();
    design.backward(s + i, 1, &one, hw.unit_tbar, &hw.M(0, 0));
    for (int r = 0; r < q; ++r) {
      hw.unit_tbar(0, r) = 1.0;
      design.backward(s + i, 1, &zero, hw.unit_tbar, &hw.M(0, r + 1));
      hw.unit_tbar(0, r) = 0.0;
    }
    for (int a = 0; a < N; ++a) {
      if (hw.M.row(a).isZero(0.0)) continue;
      if (hw.local[a] < 0) {
        hw.local[a] = static_cast<int>(hw.idx.size());
        hw.idx.push_back(a);
      }
      hw.row_param.push_back(hw.local[a]);
      if (hw.row_value.rows() <= n_values) hw.row_value.conservativeResize(2 * n_values + 16, c);
      hw.row_value.row(n_values++) = hw.M.row(a);
    }
    hw.row_start.push_back(n_values);
  }
  const int nl = static_cast<int>(hw.idx.size());

  // The nodes' scores S (nl x nodes) and the Gauss-Newton part
  // sum_i M_i C_i M_i' (Hl, nl x nl).
  hw.S.setZero(nl, n_nodes);
  hw.Hl.setZero(nl, nl);
  hw.Q.resize(c, n_nodes);
  hw.C.resize(c, c);
  hw.CM.resize(c, nl);
  hw.ab.resize(c);
  for (int i = 0; i < m; ++i) {
    const int r0 = hw.row_start[i], nr = hw.row_start[i + 1] - r0;
    // (loops: the sizes are a few, where Eigen's products cost more in set-up
    // than in arithmetic)
    hw.C.setZero();
    hw.ab.setZero();
    for (int k = 0; k < n_nodes; ++k) {
      const double d1 = hw.d1(i, k), wd2 = omega(k) * hw.d2(i, k);
      for (int r = 0; r < c; ++r) {
        const double urk = hw.U(r, k);
        hw.Q(r, k) = urk * d1;
        hw.ab(r) += omega(k) * urk * d1;
        for (int t = 0; t <= r; ++t) hw.C(r, t) += wd2 * urk * hw.U(t, k);
      }
    }
    for (int r = 0; r < c; ++r)
      for (int t = 0; t < r; ++t) hw.C(t, r) = hw.C(r, t);
    // S_a += M_ia Q and (C M_i')_b
    for (int a = 0; a < nr; ++a) {
      const int la = hw.row_param[r0 + a];
      for (int k = 0; k < n_nodes; ++k) {
        double v = 0.0;
        for (int r = 0; r < c; ++r) v += hw.row_value(r0 + a, r) * hw.Q(r, k);
        hw.S(la, k) += v;
      }
      for (int r = 0; r < c; ++r) {
        double v = 0.0;
        for (int t = 0; t < c; ++t) v += hw.C(r, t) * hw.row_value(r0 + a, t);
        hw.CM(r, a) = v;
      }
    }
    // Hl_ab += M_ia C M_ib'
    for (int b = 0; b < nr; ++b) {
      const int lb = hw.row_param[r0 + b];
      for (int a = 0; a < nr; ++a) {
        double v = 0.0;
        for (int r = 0; r < c; ++r) v += hw.row_value(r0 + a, r) * hw.CM(r, b);
        hw.Hl(hw.row_param[r0 + a], lb) += v;
      }
    }
    // the curvature of eta: a_i = sum_k omega_k l'_ik, b_i = sum_k omega_k l'_ik u_k
    hw.wb = weight * hw.ab.tail(q);
    design.add_eta_curvature(s + i, weight * hw.ab(0), hw.wb.data(), H);
  }

  // Var_k(s_k) = sum_k omega_k (s_k - sbar)(s_k - sbar)'.
  hw.sbar.noalias() = hw.S * omega.head(n_nodes);
  hw.S.colwise() -= hw.sbar;
  hw.Hl.noalias() += hw.S * omega.head(n_nodes).asDiagonal() * hw.S.transpose();
  for (int b = 0; b < nl; ++b) {  // (down H's columns)
    double* Hb = &H(0, hw.idx[b]);
    for (int a = 0; a < nl; ++a) Hb[hw.idx[a]] += weight * hw.Hl(a, b);
  }
  for (int a = 0; a < nl; ++a) hw.local[hw.idx[a]] = -1;
}

}  // namespace glamm
