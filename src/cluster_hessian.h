// The observed information of one cluster of a two-level model by Louis'
// identity at the cluster's adapted quadrature nodes (formulas in
// cluster_hessian.cpp); the engine's Hessian in the score space of the
// parameter layer (design.h).
#ifndef GLAMM_CLUSTER_HESSIAN_H
#define GLAMM_CLUSTER_HESSIAN_H

#include <RcppEigen.h>
#include <vector>

#include "cluster.h"
#include "design.h"

namespace glamm {

// Per-thread scratch space.
struct HessianWork {
  Eigen::MatrixXd U, d1, d2, S, M, Q, C, CM, Hl, row_value, unit_tbar;
  Eigen::VectorXd eta, d3, sbar, ab, wb;
  // the parameters the cluster touches (idx), their local numbers (local,
  // -1 elsewhere), and each row's nonzero rows of M_i (row_param, row_value
  // from row_start[i])
  std::vector<int> idx, local, row_start, row_param;
};

// Adds weight * d2 log L_j / dtheta2 into H (n_score x n_score) for the
// cluster of rows [s, s + m). cluster_eval() must have just evaluated this
// cluster into w and out (without the gradient): its mode, transform, the
// linear predictor at the mode (w.eta), V = T A (w.V) and the posterior node
// weights (w.omega) are used.
void cluster_hessian(const Family& family, const ProductGrid& grid, const ClusterRows& rows,
                     const Design& design, int s, const ClusterOut& out, const ClusterWork& w,
                     double weight, HessianWork& hw, Eigen::Ref<Eigen::MatrixXd> H);

}  // namespace glamm

#endif
