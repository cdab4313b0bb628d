// The tree integrator: nested adaptive Gauss-Hermite quadrature (and Laplace)
// for random effects at any number of nested levels, one top-level cluster at
// a time. The formulas are in tree.cpp (value and adjoints) and
// tree_algebra.cpp (the block-tree Cholesky factorization and its reverse).
//
// Depths: 0 is the top level, L - 1 the innermost; a node is a cluster at some
// depth, with q_d standardized effects. The path of a node at depth d is the
// node itself and its ancestors, stored self first: the block of depth j sits
// at offset po(d, j) = h_d - h_j, h_d = q_0 + ... + q_d. A leaf's path is the
// row order of the effective design T (design.h: innermost level first).
#ifndef GLAMM_TREE_H
#define GLAMM_TREE_H

#include <RcppEigen.h>
#include <vector>

#include "cluster.h"
#include "family.h"
#include "interrupt.h"
#include "quadrature.h"

namespace glamm {

// Along one row's path there are at most MAX_PATH effects; per-node temporaries
// then live on the stack.
const int MAX_PATH = 32;
typedef Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor, MAX_PATH, MAX_Q> PathMat;

// The nesting of the clusters: rows are sorted so that every node owns a
// contiguous block of rows and the children of a node are consecutive.
struct TreeShape {
  int L = 0;                               // number of levels
  std::vector<int> q, h;                   // per depth
  std::vector<std::vector<int> > row_start;    // [d][v], n_d + 1 entries
  std::vector<std::vector<int> > parent;       // [d][v], node at depth d - 1
  std::vector<std::vector<int> > first_node;   // [d][k]: first node at depth d of top cluster k
  int n_top() const { return static_cast<int>(row_start[0].size()) - 1; }
  int n_nodes(int d) const { return static_cast<int>(row_start[d].size()) - 1; }
  int po(int d, int j) const { return h[d] - h[j]; }
  int R() const { return h[L - 1]; }
  // Builds the shape from each of the n sorted rows' cluster code per depth: a
  // node is a run of rows with equal codes. Throws std::invalid_argument when
  // a run crosses the boundary of a node of the level above.
  void build(const std::vector<const int*>& code, int n, const std::vector<int>& q_depth);
};

// The quadrature rules per depth and the node combinations along a path:
// column c * G_d + m of path_nodes[d] stacks node m of depth d over the
// ancestors' combination c (column c of path_nodes[d - 1]).
struct TreeGrids {
  std::vector<ProductGrid> grid;          // per depth
  std::vector<Eigen::MatrixXd> path_nodes;  // h_d x (C_d G_d)
  std::vector<int> G, C;                  // nodes per depth, ancestor combinations
  void build(const TreeShape& shape, const std::vector<int>& K_depth);
  int combos(int d) const { return C[d] * G[d]; }
};

// Per-thread workspace, sized once for the largest top cluster.
struct TreeWork {
  // per depth: one column (or block of columns) per node of the top cluster
  std::vector<Eigen::MatrixXd> u, u_prev, grad, kappa, Lcol, Lbar, Bbar, Ccol, Ncol, Arow, Abar,
      val, pi, logI, Ez, Szz;
  std::vector<Eigen::MatrixXd> Brow;  // survey weights: B = Lt^{-T} beside A (tree_weights.cpp)
  std::vector<Eigen::VectorXd> log_det_A;
  std::vector<int> base, n_cur;  // first global node and number of nodes per depth
  std::vector<std::vector<int> > par, child;  // local parent; children [child[v], child[v + 1])
  // per row of the top cluster
  Eigen::VectorXd eta, d1, d2, d3, a, hvec, e, zeta;
  Eigen::MatrixXd V, D, TC, node_d1;
  // vector response units of d rows (family unit_size() > 1): W = -Hess and
  // S = T C T' blocks (d x rows, see family.h) and the third-derivative
  // contraction (per row); sized on first use
  Eigen::MatrixXd Wu, Su;
  Eigen::VectorXd rvec;
  // per leaf: its rows' log-density, and path vectors and matrices reduced
  // into the nodes afterwards in leaf order
  Eigen::VectorXd leaf_ll;
  Eigen::MatrixXd leaf_g, leaf_M;
  void resize(const TreeShape& shape, const TreeGrids& grids, const std::vector<int>& max_nodes,
              int max_rows);
  int n_loc(int d) const { return n_cur[d]; }
};

// Posterior summaries of one top cluster's nodes (integrator coordinates):
// per depth, column v of mode/mean holds node v's q_d values, and columns
// v * q_d ... of cov/mode_cov its q_d x q_d matrices.
struct TreePosterior {
  std::vector<Eigen::MatrixXd> mode, mean, cov, mode_cov;
};

// Survey weights of the nodes below the top (tree_weights.cpp): own[d][v] is
// node v's weight given its parent, cum[d][v] the product of the own weights
// on its path below the top (1 at depth 0).
struct TreeWeights {
  std::vector<std::vector<double> > own, cum;
  // per_row[d]: the weight of each sorted row's node at depth d (nullptr: 1).
  // Throws std::invalid_argument unless every weight is positive and finite.
  void build(const TreeShape& shape, const std::vector<const double*>& per_row);
};

struct TreeOut {
  double loglik = 0.0;
  bool ok = true;
};

// Evaluates top cluster k (with the survey weights nw of the nodes below the
// top, or nullptr). rows holds the cluster's rows (responses, eta_fix,
// T). u_warm[d] (q_d x n_d) are the Newton starts, updated with the modes.
// With want_grad writes ebar (m values) and Tbar (m x R) and adds dlogL/dpsi
// into g_psi; with post, fills the posterior of the nodes. The work on the
// rows runs on n_threads threads (leaves in parallel, reduced in leaf order).
// The loops over leaves ask interrupt between chunks (one top cluster may
// hold every row) and throw Interrupted once it is set, before u_warm changes.
void tree_eval(const TreeShape& shape, const TreeGrids& grids, const Family& family,
               const ClusterRows& rows, int k, std::vector<Eigen::MatrixXd>& u_warm,
               const ModeControl& ctl, const TreeWeights* nw, bool want_grad, int n_threads,
               TreeWork& w, TreeOut& out, double* ebar,
               Eigen::Ref<Eigen::MatrixXd> Tbar, double* g_psi, TreePosterior* post,
               InterruptPoller& interrupt);

// Block-tree algebra on the current top cluster (tree_algebra.cpp).
bool tree_factor(const TreeShape& shape, TreeWork& w);   // Lcol holds H, becomes L
void tree_solve(const TreeShape& shape, TreeWork& w, std::vector<Eigen::MatrixXd>& b);
void tree_inverse_factor(const TreeShape& shape, TreeWork& w);  // Arow = rows of L^{-T}
void tree_factor_reverse(const TreeShape& shape, TreeWork& w);  // Abar -> Ccol
void tree_half_inverse(const TreeShape& shape, TreeWork& w);    // Ccol = H^{-1} / 2
// Survey weights (tree_weights.cpp): Arow = Lt^{-T} becomes A = B diag(sqrt(c))
// (B kept in Brow) with log|A_vv| updated; the reverse turns Abar into Bbar
// and runs tree_factor_reverse on B.
void tree_weight_transform(const TreeShape& shape, const TreeWeights& nw, TreeWork& w);
void tree_weight_reverse(const TreeShape& shape, const TreeWeights& nw, TreeWork& w);

}  // namespace glamm

#endif
