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
// marginal likelihood to that order, at the cost of about one pass, where
// finite differences of the gradient cost two passes per parameter.
#include "cluster_hessian.h"

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

// The rows of v (n x c) with a nonzero entry.
void nonzero_rows(const MatrixXd& v, int c, std::vector<int>* idx) {
  idx->clear();
  for (int r = 0; r < v.rows(); ++r)
    for (int j = 0; j < c; ++j)
      if (v(r, j) != 0.0) {
        idx->push_back(r);
        break;
      }
}

}  // namespace

void cluster_hessian(const Family& family, const ProductGrid& grid, const ClusterRows& rows,
                     const Design& design, int s, const ClusterOut& out, const ClusterWork& w,
                     double weight, HessianWork& hw, Eigen::Ref<MatrixXd> H) {
  const int m = rows.m, q = static_cast<int>(rows.T->cols()), N = design.n_score();
  const int n_nodes = static_cast<int>(grid.weight.size());
  const MatrixXd& Zn = grid.nodes;
  hw.U.resize(q, n_nodes);
  hw.d1.resize(m, n_nodes);
  hw.d2.resize(m, n_nodes);
  hw.S.setZero(N, n_nodes);
  hw.Tbar.resize(m, q);
  hw.eta.resize(m);
  hw.d3.resize(m);

  // The derivatives at the nodes and the score of each node.
  for (int k = 0; k < n_nodes; ++k) {
    hw.U.col(k) = out.mode + out.transform * Zn.col(k);
    if (w.omega(k) == 0.0) {  // a node of negligible weight (cluster.cpp)
      hw.d1.col(k).setZero();
      hw.d2.col(k).setZero();
      continue;
    }
    hw.eta.noalias() = w.eta.head(m) + w.V.topRows(m) * Zn.col(k);
    family.derivs(rows.response, hw.eta.data(), m, &hw.d1(0, k), &hw.d2(0, k), hw.d3.data());
    hw.Tbar.noalias() = hw.d1.col(k) * hw.U.col(k).transpose();
    design.backward(s, m, &hw.d1(0, k), hw.Tbar, &hw.S(0, k));
  }

  // Var_k(s_k) on the parameters this cluster touches.
  const VectorXd& omega = w.omega;
  hw.sbar.noalias() = hw.S * omega.head(n_nodes);
  hw.S.colwise() -= hw.sbar;
  nonzero_rows(hw.S, n_nodes, &hw.idx);
  const int nz = static_cast<int>(hw.idx.size());
  for (int a = 0; a < nz; ++a)
    for (int b = 0; b <= a; ++b) {
      double v = 0.0;
      for (int k = 0; k < n_nodes; ++k) v += omega(k) * hw.S(hw.idx[a], k) * hw.S(hw.idx[b], k);
      v *= weight;
      H(hw.idx[a], hw.idx[b]) += v;
      if (a != b) H(hw.idx[b], hw.idx[a]) += v;
    }

  // sum_i M_i C_i M_i' and the curvature of eta.
  const int c = q + 1;
  hw.M.resize(N, c);
  SmallMat Ci(c, c);
  SmallVec b_i(q);
  VectorXd unit_tbar = VectorXd::Zero(q);
  for (int i = 0; i < m; ++i) {
    Ci.setZero();
    b_i.setZero();
    double a_i = 0.0;
    for (int k = 0; k < n_nodes; ++k) {
      const double om = omega(k);
      if (om == 0.0) continue;
      const double w2 = om * hw.d2(i, k), w1 = om * hw.d1(i, k);
      Ci(0, 0) += w2;
      for (int r = 0; r < q; ++r) {
        Ci(r + 1, 0) += w2 * hw.U(r, k);
        for (int t = 0; t <= r; ++t) Ci(r + 1, t + 1) += w2 * hw.U(r, k) * hw.U(t, k);
      }
      a_i += w1;
      b_i += w1 * hw.U.col(k);
    }
    for (int r = 0; r < c; ++r)
      for (int t = 0; t < r; ++t) Ci(t, r) = Ci(r, t);
    hw.M.setZero();
    const double one = 1.0, zero = 0.0;
    design.backward(s + i, 1, &one, unit_tbar.transpose(), &hw.M(0, 0));
    for (int r = 0; r < q; ++r) {
      unit_tbar(r) = 1.0;
      design.backward(s + i, 1, &zero, unit_tbar.transpose(), &hw.M(0, r + 1));
      unit_tbar(r) = 0.0;
    }
    nonzero_rows(hw.M, c, &hw.idx);
    const int ni = static_cast<int>(hw.idx.size());
    for (int a = 0; a < ni; ++a) {
      SmallVec Ma(c);
      for (int j = 0; j < c; ++j) Ma(j) = hw.M(hw.idx[a], j);
      SmallVec CMa = Ci * Ma;
      for (int b = 0; b < ni; ++b) {
        double v = 0.0;
        for (int j = 0; j < c; ++j) v += CMa(j) * hw.M(hw.idx[b], j);
        H(hw.idx[a], hw.idx[b]) += weight * v;
      }
    }
    SmallVec wb = weight * b_i;
    design.add_eta_curvature(s + i, weight * a_i, wb.data(), H);
  }
}

}  // namespace glamm
