// Block-tree algebra for one top cluster (notation in tree.h).
//
// The curvature H = sum_i T_i' W_i T_i + I has non-zero blocks (a, v) only when
// a is v or an ancestor of v, so eliminating the nodes children first gives a
// Cholesky factor H = L L' without fill: node v's block column holds L_{a v}
// for a on v's path. Per node, deepest first:
//   L_vv = chol(H_vv),  L_av = H_av L_vv^{-T},  H_ab -= L_av L_bv'  (a, b ancestors).
// The adaptive transform A = L^{-T} has the transposed pattern (row block v:
// A_{v a}, a on v's path), computed root first from L' A = I:
//   A_vv = L_vv^{-T},  A_va = -L_vv^{-T} sum_{x on the path from v's parent to a} L_xv' A_xa.
// Reverse mode, from the adjoint Abar of A on its pattern:
//   Lbar = -A Abar' A on L's pattern: with N_xv = sum_{y below or at v} Abar_yx' A_yv,
//   Lbar_av = -sum_{x on a's path} A_ax N_xv;
// then the factorization is reversed node by node, root first (Murray 2016):
//   Lbar_{path(a), v} -= Hbar_a L_{a v}-terms of v's update of each ancestor a,
//   Hbar_rest = Lbar_rest L_vv^{-1},  Lbar_vv -= L_vv^{-T} Lbar_rest' L_rest,
//   P = L_vv^{-T} Phi(L_vv' Lbar_vv) L_vv^{-1},  Hbar_vv = (P + P') / 2,
// with Phi the lower triangle with halved diagonal. Adjoints of symmetric
// blocks are kept for the lower triangle (off-diagonal entries doubled), and
// C = -Hbar as a symmetric matrix: then the AGHQ value's derivative through
// the adaptation is -tr(C dH), as in cluster.cpp.
// With one node at every level (Laplace) this is C = H^{-1} / 2 on the
// pattern, taken directly from H^{-1} = A A':
//   C_av = (1/2) sum_{x on a's path} A_ax A_vx'   (a on v's path).
#include "tree.h"

#include <stdexcept>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

void TreeShape::build(const std::vector<const int*>& code, int n, const std::vector<int>& q_depth) {
  L = static_cast<int>(code.size());
  if (L < 1 || static_cast<int>(q_depth.size()) != L)
    throw std::invalid_argument("bad tree levels");
  q = q_depth;
  h.assign(L, 0);
  for (int d = 0; d < L; ++d) h[d] = q[d] + (d > 0 ? h[d - 1] : 0);
  if (h[L - 1] > MAX_PATH)
    throw std::invalid_argument("at most 32 random effects along the levels of a row are supported");
  row_start.assign(L, std::vector<int>());
  parent.assign(L, std::vector<int>());
  for (int i = 0; i < n; ++i) {
    bool parent_new = false;
    for (int d = 0; d < L; ++d) {
      const bool is_new = (i == 0) || code[d][i] != code[d][i - 1];
      if (parent_new && !is_new)
        throw std::invalid_argument("a cluster lies in two clusters of the level above");
      if (is_new) {
        row_start[d].push_back(i);
        if (d > 0) parent[d].push_back(static_cast<int>(row_start[d - 1].size()) - 1);
      }
      parent_new = is_new;
    }
  }
  for (int d = 0; d < L; ++d) row_start[d].push_back(n);
  first_node.assign(L, std::vector<int>());
  const int nt = n_top();
  for (int d = 0; d < L; ++d) {
    std::vector<int>& fn = first_node[d];
    fn.assign(nt + 1, n_nodes(d));
    for (int v = n_nodes(d) - 1; v >= 0; --v) {
      int top = v;
      for (int j = d; j > 0; --j) top = parent[j][top];
      fn[top] = v;
    }
  }
}

void TreeGrids::build(const TreeShape& shape, const std::vector<int>& K_depth) {
  const int L = shape.L;
  grid.resize(L);
  path_nodes.resize(L);
  G.assign(L, 1);
  C.assign(L, 1);
  for (int d = 0; d < L; ++d) {
    grid[d] = product_grid(K_depth[d], shape.q[d]);
    G[d] = static_cast<int>(grid[d].weight.size());
    C[d] = d == 0 ? 1 : C[d - 1] * G[d - 1];
    const int qd = shape.q[d], hd = shape.h[d];
    MatrixXd& P = path_nodes[d];
    P.resize(hd, combos(d));
    for (int c = 0; c < C[d]; ++c)
      for (int m = 0; m < G[d]; ++m) {
        P.block(0, c * G[d] + m, qd, 1) = grid[d].nodes.col(m);
        if (d > 0) P.block(qd, c * G[d] + m, hd - qd, 1) = path_nodes[d - 1].col(c);
      }
  }
}

void TreeWork::resize(const TreeShape& s, const TreeGrids& g, const std::vector<int>& max_nodes,
                      int max_rows) {
  const int L = s.L, R = s.R();
  for (auto* v : {&u, &u_prev, &grad, &kappa, &Lcol, &Lbar, &Bbar, &Ccol, &Ncol, &Arow, &Abar,
                  &val, &pi, &logI, &Ez, &Szz})
    v->assign(L, MatrixXd());
  log_det_A.assign(L, VectorXd());
  base.assign(L, 0);
  n_cur = max_nodes;
  par.assign(L, std::vector<int>());
  child.assign(L, std::vector<int>());
  for (int d = 0; d < L; ++d) {
    const int nv = max_nodes[d], q = s.q[d], h = s.h[d];
    for (auto* v : {&u, &u_prev, &grad, &kappa}) (*v)[d].resize(q, nv);
    for (auto* v : {&Lcol, &Lbar, &Bbar, &Ccol, &Ncol}) (*v)[d].resize(h, q * nv);
    Arow[d].resize(q, h * nv);
    Abar[d].resize(q, h * nv);
    val[d].resize(g.combos(d), nv);
    pi[d].resize(g.combos(d), nv);
    logI[d].resize(g.C[d], nv);
    Ez[d].resize(h, nv);
    Szz[d].resize(h, h * nv);
    log_det_A[d].resize(nv);
    par[d].resize(nv);
    child[d].resize(nv + 1);
  }
  for (auto* v : {&eta, &d1, &d2, &d3, &a, &hvec, &e, &zeta}) v->resize(max_rows);
  V.resize(max_rows, R);
  D.resize(max_rows, R);
  TC.resize(max_rows, R);
  node_d1.resize(max_rows, g.combos(L - 1));
  leaf_ll.resize(max_nodes[L - 1]);
  leaf_g.resize(R, max_nodes[L - 1]);
  leaf_M.resize(R, R * max_nodes[L - 1]);
}

namespace {

// Local index of the ancestor at depth j of node v at depth d.
int ancestor(const TreeWork& w, int d, int v, int j) {
  for (; d > j; --d) v = w.par[d][v];
  return v;
}

}  // namespace

bool tree_factor(const TreeShape& s, TreeWork& w) {
  for (int d = s.L - 1; d >= 0; --d) {
    const int q = s.q[d], h = s.h[d];
    for (int v = 0; v < w.n_loc(d); ++v) {
      auto col = w.Lcol[d].middleCols(v * q, q);
      Eigen::LLT<SmallMat> llt(SmallMat(col.topRows(q)));
      if (llt.info() != Eigen::Success) return false;
      col.topRows(q) = llt.matrixL();
      if (h > q) {
        auto rest = col.bottomRows(h - q);
        col.topRows(q).transpose().triangularView<Eigen::Upper>().solveInPlace<Eigen::OnTheRight>(rest);
      }
      for (int j = d - 1; j >= 0; --j) {
        const int o = s.po(d, j), qj = s.q[j], hj = s.h[j];
        int a = ancestor(w, d, v, j);
        w.Lcol[j].middleCols(a * qj, qj).noalias() -=
            col.bottomRows(hj) * col.block(o, 0, qj, q).transpose();
      }
    }
  }
  return true;
}

void tree_solve(const TreeShape& s, TreeWork& w, std::vector<MatrixXd>& b) {
  for (int d = s.L - 1; d >= 0; --d) {  // L y = b, children first
    const int q = s.q[d];
    for (int v = 0; v < w.n_loc(d); ++v) {
      auto col = w.Lcol[d].middleCols(v * q, q);
      col.topRows(q).triangularView<Eigen::Lower>().solveInPlace(b[d].col(v));
      for (int j = d - 1; j >= 0; --j) {
        int a = ancestor(w, d, v, j);
        b[j].col(a).noalias() -= col.block(s.po(d, j), 0, s.q[j], q) * b[d].col(v);
      }
    }
  }
  for (int d = 0; d < s.L; ++d) {  // L' x = y, root first
    const int q = s.q[d];
    for (int v = 0; v < w.n_loc(d); ++v) {
      auto col = w.Lcol[d].middleCols(v * q, q);
      for (int j = d - 1; j >= 0; --j) {
        int a = ancestor(w, d, v, j);
        b[d].col(v).noalias() -= col.block(s.po(d, j), 0, s.q[j], q).transpose() * b[j].col(a);
      }
      col.topRows(q).transpose().triangularView<Eigen::Upper>().solveInPlace(b[d].col(v));
    }
  }
}

void tree_inverse_factor(const TreeShape& s, TreeWork& w) {
  for (int d = 0; d < s.L; ++d) {
    const int q = s.q[d], h = s.h[d];
    for (int v = 0; v < w.n_loc(d); ++v) {
      auto col = w.Lcol[d].middleCols(v * q, q);
      auto Av = w.Arow[d].middleCols(v * h, h);
      SmallMat Lt_inv = SmallMat::Identity(q, q);
      col.topRows(q).transpose().triangularView<Eigen::Upper>().solveInPlace(Lt_inv);
      Av.leftCols(q) = Lt_inv;
      w.log_det_A[d](v) = -col.topRows(q).diagonal().array().log().sum();
      for (int j = d - 1; j >= 0; --j) {
        SmallMat acc = SmallMat::Zero(q, s.q[j]);
        for (int k = d - 1; k >= j; --k) {
          int x = ancestor(w, d, v, k);
          acc.noalias() += col.block(s.po(d, k), 0, s.q[k], q).transpose() *
                           w.Arow[k].block(0, x * s.h[k] + s.po(k, j), s.q[k], s.q[j]);
        }
        Av.block(0, s.po(d, j), q, s.q[j]).noalias() = -Lt_inv * acc;
      }
    }
  }
}

void tree_factor_reverse(const TreeShape& s, TreeWork& w) {
  const int L = s.L;
  // N_xv = sum over y at or below v of Abar_yx' A_yv, for x on v's path.
  for (int d = 0; d < L; ++d) w.Ncol[d].setZero();
  for (int e = 0; e < L; ++e) {
    const int qe = s.q[e], he = s.h[e];
    for (int y = 0; y < w.n_loc(e); ++y) {
      auto Ay = w.Arow[e].middleCols(y * he, he);
      auto Aby = w.Abar[e].middleCols(y * he, he);
      for (int j = e; j >= 0; --j) {
        const int v = ancestor(w, e, y, j), qj = s.q[j], hj = s.h[j];
        w.Ncol[j].middleCols(v * qj, qj).noalias() +=
            Aby.rightCols(hj).transpose() * Ay.block(0, s.po(e, j), qe, qj);
      }
    }
  }
  // Lbar_av = -sum_{x on a's path} A_ax N_xv, lower triangle on the diagonal block.
  for (int d = 0; d < L; ++d) {
    const int q = s.q[d];
    for (int v = 0; v < w.n_loc(d); ++v) {
      auto Lb = w.Lbar[d].middleCols(v * q, q);
      auto N = w.Ncol[d].middleCols(v * q, q);
      for (int j = d; j >= 0; --j) {
        const int a = ancestor(w, d, v, j), hj = s.h[j];
        Lb.block(s.po(d, j), 0, s.q[j], q).noalias() =
            -w.Arow[j].middleCols(a * hj, hj) * N.bottomRows(hj);
      }
      for (int c = 1; c < q; ++c) Lb.block(0, c, c, 1).setZero();
    }
  }
  // Reverse the factorization, root first.
  for (int d = 0; d < L; ++d) {
    const int q = s.q[d], h = s.h[d];
    for (int v = 0; v < w.n_loc(d); ++v) {
      auto col = w.Lcol[d].middleCols(v * q, q);
      PathMat X = w.Lbar[d].middleCols(v * q, q);
      for (int j = d - 1; j >= 0; --j) {  // v's updates of its ancestors' columns
        const int o = s.po(d, j), qj = s.q[j], hj = s.h[j];
        const int a = ancestor(w, d, v, j);
        auto Bb = w.Bbar[j].middleCols(a * qj, qj);
        X.bottomRows(hj).noalias() -= Bb * col.block(o, 0, qj, q);
        X.block(o, 0, qj, q).noalias() -= Bb.transpose() * col.bottomRows(hj);
      }
      SmallMat Lvv = col.topRows(q).triangularView<Eigen::Lower>();
      auto Bout = w.Bbar[d].middleCols(v * q, q);
      SmallMat Xvv = X.topRows(q);
      if (h > q) {
        PathMat Xrest = X.bottomRows(h - q);
        Xvv.noalias() -= Lvv.transpose().triangularView<Eigen::Upper>().solve(
            SmallMat(Xrest.transpose() * col.bottomRows(h - q)));
        Lvv.triangularView<Eigen::Lower>().solveInPlace<Eigen::OnTheRight>(Xrest);
        Bout.bottomRows(h - q) = Xrest;
      }
      SmallMat Phi = Lvv.transpose() * Xvv.triangularView<Eigen::Lower>();
      Phi = Phi.triangularView<Eigen::Lower>();
      Phi.diagonal() *= 0.5;
      SmallMat P = Lvv.transpose().triangularView<Eigen::Upper>().solve(Phi);
      Lvv.triangularView<Eigen::Lower>().solveInPlace<Eigen::OnTheRight>(P);
      SmallMat Sym = 0.5 * (P + P.transpose());
      auto Bvv = Bout.topRows(q);
      for (int c = 0; c < q; ++c)
        for (int r = 0; r < q; ++r) Bvv(r, c) = r < c ? 0.0 : (r == c ? Sym(r, c) : 2.0 * Sym(r, c));
      // C = -Hbar as a symmetric matrix.
      auto Cv = w.Ccol[d].middleCols(v * q, q);
      for (int c = 0; c < q; ++c)
        for (int r = c; r < q; ++r) Cv(r, c) = Cv(c, r) = r == c ? -Bvv(r, c) : -0.5 * Bvv(r, c);
      if (h > q) Cv.bottomRows(h - q) = -0.5 * Bout.bottomRows(h - q);
    }
  }
}

}  // namespace glamm

namespace glamm {

void tree_half_inverse(const TreeShape& s, TreeWork& w) {
  for (int d = 0; d < s.L; ++d) {
    const int q = s.q[d], h = s.h[d];
    for (int v = 0; v < w.n_loc(d); ++v) {
      auto Av = w.Arow[d].middleCols(v * h, h);
      auto Cv = w.Ccol[d].middleCols(v * q, q);
      for (int j = d; j >= 0; --j) {
        const int a = ancestor(w, d, v, j), hj = s.h[j];
        Cv.block(s.po(d, j), 0, s.q[j], q).noalias() =
            0.5 * w.Arow[j].middleCols(a * hj, hj) * Av.rightCols(hj).transpose();
      }
    }
  }
}

}  // namespace glamm
