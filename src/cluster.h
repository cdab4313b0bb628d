// One top-level cluster of a two-level model (one level of random effects):
// mode, curvature, AGHQ log-likelihood and its adjoints. The integrator sees
// only the rows' responses, eta_fix and the effective design T (design.h).
// See cluster.cpp for the formulas; tree.h is the general nested integrator.
#ifndef GLAMM_CLUSTER_H
#define GLAMM_CLUSTER_H

#include <RcppEigen.h>
#include <vector>

#include "family.h"
#include "quadrature.h"

namespace glamm {

// Small q x q matrices and q-vectors live on the stack (no allocation per
// cluster); q is at most MAX_Q random effects per cluster.
const int MAX_Q = 10;
typedef Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor, MAX_Q, MAX_Q> SmallMat;
typedef Eigen::Matrix<double, Eigen::Dynamic, 1, Eigen::ColMajor, MAX_Q, 1> SmallVec;

struct ModeControl {
  double tol = 1e-12;  // Newton stops when max |step| < tol
  int maxit = 100;     // Newton iterations per cluster and evaluation
};

// The rows of one cluster as the integrator sees them.
struct ClusterRows {
  int m = 0;                           // number of rows
  Responses response;  // m responses
  const double* eta_fix = nullptr;     // m values
  const Eigen::MatrixXd* T = nullptr;  // effective design, first m rows used
};

// Per-thread scratch space, sized once for the largest cluster.
struct ClusterWork {
  Eigen::MatrixXd V, node_d1, D, Tbar;
  Eigen::VectorXd eta, eta_node, d1, d2, d3, a, h, e, zeta, G, omega;
  Eigen::MatrixXd omega_z;
  void resize(int max_rows, int q, int n_nodes);
};

// What one cluster's evaluation returns (u in the integrator's coordinates).
struct ClusterOut {
  double loglik = 0.0;
  bool ok = true;
  SmallVec mode, post_mean;
  SmallMat post_cov;  // posterior covariance of u (AGHQ)
  SmallMat mode_cov;  // H^{-1}: covariance of the Gaussian approximation at the mode
  SmallMat transform;  // A = L^{-T}: the adapted nodes are mode + A z_k
};

// Evaluates one cluster from the Newton start u_start. With want_grad, writes
// ebar (m values) and Tbar (w.Tbar, m x q) and adds dlogL/dpsi into g_psi.
void cluster_eval(const Family& family, const ProductGrid& grid, const ClusterRows& rows,
                  const SmallVec& u_start, const ModeControl& ctl, bool want_grad,
                  ClusterWork& w, ClusterOut& out, double* ebar, double* g_psi);

}  // namespace glamm

#endif
