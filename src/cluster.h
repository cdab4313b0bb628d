// One top-level cluster: mode, curvature, AGHQ log-likelihood and its exact
// gradient. See cluster.cpp for the formulas.
#ifndef GLAMM_CLUSTER_H
#define GLAMM_CLUSTER_H

#include <RcppEigen.h>
#include <vector>

#include "family.h"
#include "quadrature.h"

namespace glamm {

// The data of all clusters, rows sorted by cluster. Pointers refer to memory
// owned by R (kept alive by the model object).
struct ClusterData {
  int n = 0, q = 0;
  const double* Z = nullptr;        // n x q, column-major
  std::vector<Response> response;   // per row
  std::vector<int> start;           // rows of cluster j: [start[j], start[j + 1])
  int n_clusters() const { return static_cast<int>(start.size()) - 1; }
};

// Small q x q matrices and q-vectors live on the stack (no allocation per
// cluster); q is at most MAX_Q random effects per cluster.
const int MAX_Q = 10;
typedef Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor, MAX_Q, MAX_Q> SmallMat;
typedef Eigen::Matrix<double, Eigen::Dynamic, 1, Eigen::ColMajor, MAX_Q, 1> SmallVec;

struct ModeControl {
  double tol = 1e-12;  // Newton stops when max |step| < tol
  int maxit = 100;     // Newton iterations per cluster and evaluation
};

// Per-thread scratch space, sized once for the largest cluster.
struct ClusterWork {
  Eigen::MatrixXd Zt, V, node_d1, D, T;
  Eigen::VectorXd eta_fix, eta, eta_node, d1, d2, d3, a, h, e, zeta, G, omega;
  Eigen::MatrixXd omega_z;
  void resize(int max_rows, int q, int n_nodes);
};

// What one cluster's evaluation returns.
struct ClusterOut {
  double loglik = 0.0;
  bool ok = true;
  SmallVec mode, post_mean;  // standardized scale u
  SmallMat post_cov;         // posterior covariance of u (AGHQ)
  SmallMat mode_cov;         // H^{-1}: covariance of the Gaussian approximation at the mode
};

// Evaluates cluster j at linear predictor eta_fix (fixed part, all rows) and
// relative factor Lambda. u_start is the Newton starting point. With
// want_grad, writes the per-row coefficients e (d logL / d eta_fix) into
// e_out[start..end), and adds d logL / d Lambda into g_lambda and
// d logL / d psi into g_psi.
void cluster_eval(const ClusterData& data, const Family& family, const ProductGrid& grid,
                  const SmallMat& Lambda, const double* eta_fix,
                  const SmallVec& u_start, const ModeControl& ctl, bool want_grad,
                  int j, ClusterWork& w, ClusterOut& out, double* e_out,
                  Eigen::Ref<Eigen::MatrixXd> g_lambda, Eigen::Ref<Eigen::VectorXd> g_psi);

}  // namespace glamm

#endif
