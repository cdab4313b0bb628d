// One top-level cluster of a nested model: the joint mode, the nested
// adaptive quadrature and its adjoints (notation in tree.h).
//
// With u ~ N(0, I) stacking every node's effects and
//   g(u) = sum_i l_i(eta_fix_i + T_i u_path(i)) - |u|^2 / 2,
// the joint mode u^ comes from Newton's method with the block-tree Cholesky
// factor of H = sum_i T_i' W_i T_i + I (tree_algebra.cpp), and the adaptive
// transform u = u^ + A z, A = L^{-T}, moves node v's grid with its ancestors':
//   u_v = u^_v + sum_{a on v's path} A_va z_a.
// The product rule over all z then factorizes into nested sums, innermost first:
//   I_v(c) = |A_vv| sum_m w_m exp(|z_m|^2/2 - |u_v(c, m)|^2/2 + sum_{rows of v} l_i
//                                  + sum_{children x} log I_x(c, m)),
// where c is the combination of the ancestors' nodes; log L_k = log I_root.
// The cost per row is the product of the nodes along its path.
// Adjoints (the depth-1 case is cluster.cpp): with pi the posterior weights of
// the node combinations along each path, a_i = E_pi[l'_i], D_i = E_pi[l'_i z_path'],
//   Abar_v = sum_{rows below v} T_iv' D_i,path(v) - u^_v E[z_path(v)]' - A_v,path E[z z']
//            + L_vv   (the last from log|A_vv|),
// the reverse of A = L^{-T} and of the factorization gives C, and
//   h_i = T_i C T_i',  r_i = l'''_i h_i,  kappa = sum_i T_i' (a_i + r_i) - E[u],
//   nu = H^{-1} kappa,  ebar_i = a_i + l''_i T_i nu + r_i,
//   Tbar_i = l'_i nu' + ebar_i u^' + D_i A_path' + 2 l''_i T_i C,
//   d/dpsi = sum_i [E_pi(dl_i/dpsi) + T_i nu dl'_i/dpsi + h_i dl''_i/dpsi].
// Vector response units of d rows (multinomial.h): l''_i becomes the unit's
// Hessian -W_u (H += T_u' W_u T_u), and h_i, r_i become S_u = T_u C T_u' and
// r_u = l'''_u[S_u], so that ebar_u = a_u - W_u T_u nu + r_u and the last term
// of Tbar_u is -2 W_u T_u C.
// Survey weights of the nodes (tree_weights.cpp): the mode and H are those of
// the surrogate with node v's prior and rows multiplied by c_v, the sums
// raise children's integrals to their weights, and every adjoint term of
// node v (rows, prior, log|A_vv|) carries c_v.
#include "tree.h"
#include "threads.h"

#include <cmath>
#include <limits>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

const double NEG_INF = -std::numeric_limits<double>::infinity();

// Sets up the local view of top cluster k: node ranges, parents and children.
void local_view(const TreeShape& s, int k, TreeWork& w) {
  for (int d = 0; d < s.L; ++d) {
    w.base[d] = s.first_node[d][k];
    w.n_cur[d] = s.first_node[d][k + 1] - w.base[d];
  }
  for (int d = 1; d < s.L; ++d)
    for (int v = 0; v < w.n_cur[d]; ++v) w.par[d][v] = s.parent[d][w.base[d] + v] - w.base[d - 1];
  for (int d = 0; d + 1 < s.L; ++d) {
    std::vector<int>& ch = w.child[d];
    std::fill(ch.begin(), ch.begin() + w.n_cur[d] + 1, 0);
    for (int x = 0; x < w.n_cur[d + 1]; ++x) ++ch[w.par[d + 1][x] + 1];
    for (int v = 0; v < w.n_cur[d]; ++v) ch[v + 1] += ch[v];
  }
}

// Rows [first, first + count) of node v at depth d, relative to the top cluster.
struct Span {
  int first, count;
};
Span rows_of(const TreeShape& s, const TreeWork& w, int d, int v, int row0) {
  int a = s.row_start[d][w.base[d] + v], b = s.row_start[d][w.base[d] + v + 1];
  return {a - row0, b - a};
}

// The path of leaf v: x's blocks along it stacked self first (gather), or
// added back into x (scatter).
void gather(const TreeShape& s, const TreeWork& w, const std::vector<MatrixXd>& x, int v,
            VectorXd& path) {
  for (int d = s.L - 1; d >= 0; --d) {
    path.segment(s.po(s.L - 1, d), s.q[d]) = x[d].col(v);
    if (d > 0) v = w.par[d][v];
  }
}
void scatter(const TreeShape& s, const TreeWork& w, std::vector<MatrixXd>& x, int v,
             const VectorXd& path) {
  for (int d = s.L - 1; d >= 0; --d) {
    x[d].col(v) += path.segment(s.po(s.L - 1, d), s.q[d]);
    if (d > 0) v = w.par[d][v];
  }
}

// A or C restricted to leaf v's path (R x R): blocks (k, j), j at or above k.
void path_A(const TreeShape& s, const TreeWork& w, int v, MatrixXd& Ap) {
  Ap.setZero();
  const int leaf = s.L - 1;
  for (int d = leaf; d >= 0; --d) {
    Ap.block(s.po(leaf, d), s.po(leaf, d), s.q[d], s.h[d]) = w.Arow[d].middleCols(v * s.h[d], s.h[d]);
    if (d > 0) v = w.par[d][v];
  }
}
void path_C(const TreeShape& s, const TreeWork& w, int v, MatrixXd& Cp) {
  const int leaf = s.L - 1;
  for (int d = leaf; d >= 0; --d) {
    const int o = s.po(leaf, d);
    auto Cv = w.Ccol[d].middleCols(v * s.q[d], s.q[d]);
    Cp.block(o, o, s.h[d], s.q[d]) = Cv;
    Cp.block(o, o, s.q[d], s.h[d]) = Cv.transpose();
    if (d > 0) v = w.par[d][v];
  }
}

}  // namespace

void tree_eval(const TreeShape& s, const TreeGrids& g, const Family& family,
               const ClusterRows& rows, int k, std::vector<MatrixXd>& u_warm,
               const ModeControl& ctl, const TreeWeights* nw, bool want_grad, int n_threads,
               TreeWork& w, TreeOut& out, double* ebar,
               Eigen::Ref<MatrixXd> Tbar, double* g_psi, TreePosterior* post,
               InterruptPoller& interrupt) {
  const int L = s.L, R = s.R(), leaf = L - 1, m = rows.m;
  const int row0 = s.row_start[0][k];
  // Vector units (d rows each) replace the rows' scalar curvatures by d x d
  // blocks; the choice is made per leaf, never per row.
  const int du = family.unit_size();
  if (du > 1 && w.Wu.cols() < m) {
    w.Wu.resize(du, m);
    w.Su.resize(du, m);
    w.rvec.resize(m);
  }
  auto T = rows.T->topRows(m);
  Eigen::Map<const VectorXd> eta_fix(rows.eta_fix, m);
  local_view(s, k, w);
  out.ok = true;
  VectorXd path(R);
  // Cumulative survey weight of local node v at depth d (1 when unweighted).
  auto cw = [&](int d, int v) { return nw ? nw->cum[d][w.base[d] + v] : 1.0; };

  // ---- joint mode ---------------------------------------------------------
  for (int d = 0; d < L; ++d) w.u[d].leftCols(w.n_cur[d]) = u_warm[d].middleCols(w.base[d], w.n_cur[d]);
  const int n_leaves = w.n_cur[leaf];
  // Leaves in parallel: chunks of leaves with about 256 rows of work each.
  const int chunk = std::max(1, 256 * n_leaves / std::max(1, m));
  auto stop = [&] { return interrupt.requested(); };
  auto each_leaf = [&](auto f) {
    parallel_for(n_leaves, n_threads, chunk, [&](int first, int last, int) {
      VectorXd path_t(R);
      MatrixXd mat_t(R, R);
      for (int v = first; v < last; ++v) f(v, rows_of(s, w, leaf, v, row0), path_t, mat_t);
    }, stop);
    if (stop()) throw Interrupted();
  };
  auto working_g = [&]() {
    each_leaf([&](int v, Span r, VectorXd& upath, MatrixXd&) {
      gather(s, w, w.u, v, upath);
      w.eta.segment(r.first, r.count).noalias() =
          eta_fix.segment(r.first, r.count) + T.middleRows(r.first, r.count) * upath;
      if (du == 1) {
        w.leaf_ll(v) = family.derivs(rows.response + r.first, w.eta.data() + r.first, r.count,
                                     w.d1.data() + r.first, w.d2.data() + r.first,
                                     w.d3.data() + r.first);
      } else {
        w.leaf_ll(v) = family.unit_derivs(rows.response + r.first, w.eta.data() + r.first,
                                          r.count, w.d1.data() + r.first,
                                          w.Wu.data() + static_cast<std::ptrdiff_t>(r.first) * du);
      }
      if (nw) {
        const double c = cw(leaf, v);
        w.leaf_ll(v) *= c;
        if (du == 1) {
          for (auto* x : {&w.d1, &w.d2, &w.d3}) x->segment(r.first, r.count) *= c;
        } else {
          w.d1.segment(r.first, r.count) *= c;
          w.Wu.middleCols(r.first, r.count) *= c;
        }
      }
    });
    double ll = w.leaf_ll.head(n_leaves).sum();
    for (int d = 0; d < L; ++d) {
      if (!nw) {
        ll -= 0.5 * w.u[d].leftCols(w.n_cur[d]).squaredNorm();
      } else {
        for (int v = 0; v < w.n_cur[d]; ++v) ll -= 0.5 * cw(d, v) * w.u[d].col(v).squaredNorm();
      }
    }
    return ll;
  };
  // Gradient and curvature of g, assembled into the nodes' block columns.
  auto newton_system = [&]() {
    each_leaf([&](int v, Span r, VectorXd&, MatrixXd&) {
      auto Tv = T.middleRows(r.first, r.count);
      w.leaf_g.col(v).noalias() = Tv.transpose() * w.d1.segment(r.first, r.count);
      if (du == 1) {
        w.leaf_M.middleCols(v * R, R).noalias() =
            Tv.transpose() * (-w.d2.segment(r.first, r.count)).asDiagonal() * Tv;
      } else {
        MatrixXd WT(r.count, R);
        for (int s0 = 0; s0 < r.count; s0 += du)
          WT.middleRows(s0, du).noalias() =
              w.Wu.block(0, r.first + s0, du, du) * Tv.middleRows(s0, du);
        w.leaf_M.middleCols(v * R, R).noalias() = Tv.transpose() * WT;
      }
    });
    for (int d = 0; d < L; ++d) {
      w.grad[d].leftCols(w.n_cur[d]) = -w.u[d].leftCols(w.n_cur[d]);
      if (nw)
        for (int v = 0; v < w.n_cur[d]; ++v) w.grad[d].col(v) *= cw(d, v);
      w.Lcol[d].leftCols(s.q[d] * w.n_cur[d]).setZero();
    }
    for (int v = 0; v < n_leaves; ++v) {
      path = w.leaf_g.col(v);
      scatter(s, w, w.grad, v, path);
      for (int d = leaf, x = v; d >= 0; --d) {
        const int o = s.po(leaf, d);
        w.Lcol[d].middleCols(x * s.q[d], s.q[d]) +=
            w.leaf_M.block(o, v * R + o, s.h[d], s.q[d]);
        if (d > 0) x = w.par[d][x];
      }
    }
    for (int d = 0; d < L; ++d)
      for (int v = 0; v < w.n_cur[d]; ++v)
        w.Lcol[d].block(0, v * s.q[d], s.q[d], s.q[d]).diagonal().array() += cw(d, v);
    return tree_factor(s, w);
  };
  auto fail = [&]() {
    out.ok = false;
    out.loglik = NEG_INF;
  };

  double gval = working_g(), g_prev = NEG_INF;
  if (!std::isfinite(gval)) {  // a stale warm start: begin again at the prior mean
    for (int d = 0; d < L; ++d) w.u[d].setZero();
    gval = working_g();
  }
  for (int d = 0; d < L; ++d) w.u_prev[d] = w.u[d];
  bool converged = false;
  int halvings = 0;
  double last_step = std::numeric_limits<double>::infinity();
  for (int it = 0; it < ctl.maxit; ++it) {
    if (!std::isfinite(gval) || gval < g_prev - 1e-12 * (1.0 + std::fabs(g_prev))) {
      if (++halvings > 60) break;
      for (int d = 0; d < L; ++d) w.u[d] = 0.5 * (w.u[d] + w.u_prev[d]);
      gval = working_g();
      continue;
    }
    halvings = 0;
    if (!newton_system()) break;
    for (int d = 0; d < L; ++d) w.kappa[d] = w.grad[d];
    tree_solve(s, w, w.kappa);
    double size = 0.0;
    for (int d = 0; d < L; ++d)
      size = std::max(size, w.kappa[d].leftCols(w.n_cur[d]).lpNorm<Eigen::Infinity>());
    if (size < ctl.tol || (size < 1e-8 && size >= last_step)) {
      converged = true;
      break;
    }
    last_step = size;
    for (int d = 0; d < L; ++d) {
      w.u_prev[d] = w.u[d];
      w.u[d] += w.kappa[d];
    }
    g_prev = gval;
    gval = working_g();
  }
  if (!converged) return fail();

  // ---- nested sums, innermost first ---------------------------------------
  tree_inverse_factor(s, w);
  if (nw) tree_weight_transform(s, *nw, w);
  // Node v's sums over its own grid for each combination of its ancestors' nodes.
  auto node_sums = [&](int d, int v, MatrixXd& Ap) {
    const int h = s.h[d], G = g.G[d], N = g.combos(d);
    const MatrixXd& P = g.path_nodes[d];
    Span r = rows_of(s, w, d, v, row0);
    // The node's effects and its rows' linear predictors at all combinations.
    MatrixXd U = w.Arow[d].middleCols(v * h, h) * P;
    U.colwise() += w.u[d].col(v);
    MatrixXd eta_nodes;
    if (d == leaf) {
      path_A(s, w, v, Ap);
      w.V.middleRows(r.first, r.count).noalias() = T.middleRows(r.first, r.count) * Ap;
      eta_nodes.noalias() = w.V.middleRows(r.first, r.count) * P;
      eta_nodes.colwise() += w.eta.segment(r.first, r.count);
    }
    for (int cm = 0; cm < N; ++cm) {
      double val = g.grid[d].log_weight(cm % G) - 0.5 * U.col(cm).squaredNorm();
      if (d == leaf) {
        val += family.value_d1(rows.response + r.first, eta_nodes.col(cm).data(), r.count,
                               &w.node_d1(r.first, cm));
      } else {
        for (int x = w.child[d][v]; x < w.child[d][v + 1]; ++x)
          val += nw ? nw->own[d + 1][w.base[d + 1] + x] * w.logI[d + 1](cm, x) : w.logI[d + 1](cm, x);
      }
      w.val[d](cm, v) = std::isnan(val) ? NEG_INF : val;
    }
    for (int c = 0; c < g.C[d]; ++c) {
      auto vals = w.val[d].col(v).segment(c * G, G);
      double mx = vals.maxCoeff();
      w.logI[d](c, v) = std::isfinite(mx)
                            ? w.log_det_A[d](v) + mx + std::log((vals.array() - mx).exp().sum())
                            : NEG_INF;
    }
  };
  each_leaf([&](int v, Span, VectorXd&, MatrixXd& Ap) { node_sums(leaf, v, Ap); });
  MatrixXd Ap(R, R);
  for (int d = leaf - 1; d >= 0; --d)
    for (int v = 0; v < w.n_cur[d]; ++v) node_sums(d, v, Ap);
  out.loglik = w.logI[0](0, 0);
  if (!std::isfinite(out.loglik)) return fail();

  // ---- posterior weights of the node combinations, root first --------------
  auto node_weights = [&](int d, int v) {
    const int h = s.h[d], G = g.G[d], N = g.combos(d);
    const MatrixXd& P = g.path_nodes[d];
    for (int cm = 0; cm < N; ++cm) {
      const int c = cm / G;
      double pw = d == 0 ? 1.0 : w.pi[d - 1](c, w.par[d][v]);
      double val = w.val[d](cm, v);
      double p = (pw == 0.0 || val == NEG_INF)
                     ? 0.0
                     : pw * std::exp(val + w.log_det_A[d](v) - w.logI[d](c, v));
      w.pi[d](cm, v) = p < 1e-300 ? 0.0 : p;
    }
    auto piv = w.pi[d].col(v).head(N);
    w.Ez[d].col(v).noalias() = P * piv;
    w.Szz[d].middleCols(v * h, h).noalias() = P * piv.asDiagonal() * P.transpose();
    if (d == leaf) {
      Span r = rows_of(s, w, d, v, row0);
      for (int cm = 0; cm < N; ++cm)
        if (piv(cm) == 0.0) w.node_d1.col(cm).segment(r.first, r.count).setZero();
    }
  };
  for (int d = 0; d < leaf; ++d)
    for (int v = 0; v < w.n_cur[d]; ++v) node_weights(d, v);
  each_leaf([&](int v, Span, VectorXd&, MatrixXd&) { node_weights(leaf, v); });
  if (post) {
    for (int d = 0; d < L; ++d) {
      const int q = s.q[d], h = s.h[d], n = w.n_cur[d];
      post->mode[d] = w.u[d].leftCols(n);
      post->mean[d].resize(q, n);
      post->cov[d].resize(q, q * n);
      post->mode_cov[d].resize(q, q * n);
      for (int v = 0; v < n; ++v) {
        auto Av = w.Arow[d].middleCols(v * h, h);
        VectorXd Ez = w.Ez[d].col(v);
        MatrixXd S = w.Szz[d].middleCols(v * h, h) - Ez * Ez.transpose();
        // A level with one node (Laplace) keeps the Gaussian spread of its z.
        for (int j = d; j >= 0; --j)
          if (g.G[j] == 1) S.block(s.po(d, j), s.po(d, j), s.q[j], s.q[j]).diagonal().array() += 1.0;
        post->mean[d].col(v) = w.u[d].col(v) + Av * Ez;
        post->cov[d].middleCols(v * q, q) = Av * S * Av.transpose();
        post->mode_cov[d].middleCols(v * q, q) = Av * Av.transpose();
      }
    }
  }
  for (int d = 0; d < L; ++d) u_warm[d].middleCols(w.base[d], w.n_cur[d]) = w.u[d].leftCols(w.n_cur[d]);
  if (!want_grad) return;
  if (nw) {  // expectations weighted by the nodes' cumulative weights
    for (int d = 0; d < L; ++d)
      for (int v = 0; v < w.n_cur[d]; ++v) {
        w.Ez[d].col(v) *= cw(d, v);
        w.Szz[d].middleCols(v * s.h[d], s.h[d]) *= cw(d, v);
      }
  }

  // ---- adjoints -------------------------------------------------------------
  const MatrixXd& P_leaf = g.path_nodes[leaf];
  const int N_leaf = g.combos(leaf);
  auto node_Abar = [&](int d, int v) {
    const int q = s.q[d], h = s.h[d];
    Span r = rows_of(s, w, d, v, row0);
    auto Ab = w.Abar[d].middleCols(v * h, h);
    Ab.noalias() = T.block(r.first, R - h, r.count, q).transpose() *
                   w.D.block(r.first, R - h, r.count, h);
    Ab.noalias() -= w.u[d].col(v) * w.Ez[d].col(v).transpose();
    Ab.noalias() -= w.Arow[d].middleCols(v * h, h) * w.Szz[d].middleCols(v * h, h);
    // the adjoint of c_v log|A_vv|: c_v A_vv^{-T} = sqrt(c_v) Lt_vv
    const double jac = nw ? std::sqrt(cw(d, v)) : 1.0;
    Ab.leftCols(q) += jac * SmallMat(w.Lcol[d].block(0, v * q, q, q).triangularView<Eigen::Lower>());
  };
  // The weighted Laplace is no joint Laplace: it needs the full reverse.
  const bool full_reverse = N_leaf > 1 || nw;
  each_leaf([&](int v, Span r, VectorXd&, MatrixXd&) {
    auto piv = w.pi[leaf].col(v).head(N_leaf);
    auto nd = w.node_d1.block(r.first, 0, r.count, N_leaf);
    w.a.segment(r.first, r.count).noalias() = nd * piv;
    MatrixXd Zpi = piv.asDiagonal() * P_leaf.transpose();
    w.D.middleRows(r.first, r.count).noalias() = nd * Zpi;
    if (nw) {
      w.a.segment(r.first, r.count) *= cw(leaf, v);
      w.D.middleRows(r.first, r.count) *= cw(leaf, v);
    }
    if (full_reverse) node_Abar(leaf, v);
  });
  if (full_reverse) {
    for (int d = 0; d < leaf; ++d)
      for (int v = 0; v < w.n_cur[d]; ++v) node_Abar(d, v);
    if (nw) {
      tree_weight_reverse(s, *nw, w);
    } else {
      tree_factor_reverse(s, w);
    }
  } else {
    tree_half_inverse(s, w);  // Laplace at every level: C = H^{-1} / 2
  }

  each_leaf([&](int v, Span r, VectorXd&, MatrixXd& Cp) {
    auto Tv = T.middleRows(r.first, r.count);
    Cp.setZero();
    path_C(s, w, v, Cp);
    w.TC.middleRows(r.first, r.count).noalias() = Tv * Cp;
    if (du == 1) {
      w.hvec.segment(r.first, r.count) =
          (w.TC.middleRows(r.first, r.count).array() * Tv.array()).rowwise().sum();
      w.leaf_g.col(v).noalias() =
          Tv.transpose() * (w.a.segment(r.first, r.count) +
                            w.d3.segment(r.first, r.count).cwiseProduct(
                                w.hvec.segment(r.first, r.count)));
    } else {
      // S_u = T_u C T_u' per unit, then r_u = l'''_u[S_u] (the weights as in W)
      for (int s0 = 0; s0 < r.count; s0 += du)
        w.Su.block(0, r.first + s0, du, du).noalias() =
            w.TC.middleRows(r.first + s0, du) * Tv.middleRows(s0, du).transpose();
      family.unit_third(rows.response + r.first, w.eta.data() + r.first, r.count,
                        w.Su.data() + static_cast<std::ptrdiff_t>(r.first) * du,
                        w.rvec.data() + r.first);
      if (nw) w.rvec.segment(r.first, r.count) *= cw(leaf, v);
      w.leaf_g.col(v).noalias() =
          Tv.transpose() * (w.a.segment(r.first, r.count) + w.rvec.segment(r.first, r.count));
    }
  });
  for (int d = 0; d < L; ++d) w.kappa[d].leftCols(w.n_cur[d]).setZero();
  for (int v = 0; v < n_leaves; ++v) {
    path = w.leaf_g.col(v);
    scatter(s, w, w.kappa, v, path);
  }
  for (int d = 0; d < L; ++d)
    for (int v = 0; v < w.n_cur[d]; ++v)
      w.kappa[d].col(v) -=
          cw(d, v) * w.u[d].col(v) + w.Arow[d].middleCols(v * s.h[d], s.h[d]) * w.Ez[d].col(v);
  tree_solve(s, w, w.kappa);  // nu

  each_leaf([&](int v, Span r, VectorXd& nupath, MatrixXd& Ap) {
    VectorXd upath(R);
    auto Tv = T.middleRows(r.first, r.count);
    gather(s, w, w.kappa, v, nupath);
    gather(s, w, w.u, v, upath);
    path_A(s, w, v, Ap);
    auto zeta = w.zeta.segment(r.first, r.count);
    zeta.noalias() = Tv * nupath;
    auto e = w.e.segment(r.first, r.count);
    auto Tb = Tbar.middleRows(r.first, r.count);
    if (du == 1) {
      auto d2 = w.d2.segment(r.first, r.count);
      e = w.a.segment(r.first, r.count) + d2.cwiseProduct(zeta) +
          w.d3.segment(r.first, r.count).cwiseProduct(w.hvec.segment(r.first, r.count));
      Tb = (2.0 * d2).asDiagonal() * w.TC.middleRows(r.first, r.count);
    } else {  // the Hessian -W_u in place of l''_i
      e = w.a.segment(r.first, r.count) + w.rvec.segment(r.first, r.count);
      for (int s0 = 0; s0 < r.count; s0 += du) {
        auto Wb = w.Wu.block(0, r.first + s0, du, du);
        e.segment(s0, du).noalias() -= Wb * zeta.segment(s0, du);
        Tb.middleRows(s0, du).noalias() = -2.0 * Wb * w.TC.middleRows(r.first + s0, du);
      }
    }
    Tb.noalias() += w.d1.segment(r.first, r.count) * nupath.transpose() + e * upath.transpose();
    Tb.noalias() += w.D.middleRows(r.first, r.count) * Ap.transpose();
  });
  for (int i = 0; i < m; ++i) ebar[i] = w.e(i);

  const int n_extra = family.n_extra();
  if (n_extra == 0) return;
  std::vector<double> dl(n_extra), dd1(n_extra), dd2(n_extra);
  for (int v = 0; v < n_leaves; ++v) {  // the leaves' rows in row order
    Span r = rows_of(s, w, leaf, v, row0);
    const double c = cw(leaf, v);
    for (int i = r.first; i < r.first + r.count; ++i) {
      family.extra_derivs(rows.response[i], w.eta(i), dl.data(), dd1.data(), dd2.data());
      for (int t = 0; t < n_extra; ++t) g_psi[t] += c * (w.zeta(i) * dd1[t] + w.hvec(i) * dd2[t]);
    }
  }
  for (int v = 0; v < n_leaves; ++v) {
    Span r = rows_of(s, w, leaf, v, row0);
    const double c = cw(leaf, v);
    for (int cm = 0; cm < N_leaf; ++cm) {
      double p = c * w.pi[leaf](cm, v);
      if (p == 0.0) continue;
      for (int i = r.first; i < r.first + r.count; ++i)
        family.extra_value(rows.response[i], w.eta(i) + w.V.row(i).dot(P_leaf.col(cm)), p, g_psi);
    }
  }
}

}  // namespace glamm
