// Survey weights of the nodes below the top in the tree integrator (the
// pseudo-likelihood; notation in tree.h). Node v's integral enters its
// parent's integrand raised to v's weight w_v (given the parent):
//   I_v(c) = |A_vv| sum_m w_m exp(|z_m|^2/2 - |u_v|^2/2 + sum_{rows} p_i l_i
//                                 + sum_{children x} w_x log I_x(c, m)).
// The adaptation comes from the weighted joint surrogate
//   gt(u) = sum_v c_v (-|u_v|^2/2 + sum_{rows of v} p_i l_i),
// c_v = product of the weights on v's path below the top, whose Hessian is
// Ht = Lt Lt'; the transform is A = B diag(sqrt(c)), B = Lt^{-T}, so that
// every node keeps its unweighted conditional scale and
// log|A_vv| = -log|Lt_vv| + (q_v / 2) log c_v. In reverse mode the adjoint of
// A becomes that of B: Bbar_va = Abar_va sqrt(c_a).
#include "tree.h"

#include <cmath>
#include <stdexcept>

namespace glamm {

void TreeWeights::build(const TreeShape& s, const std::vector<const double*>& per_row) {
  own.assign(s.L, std::vector<double>());
  cum.assign(s.L, std::vector<double>());
  own[0].assign(s.n_nodes(0), 1.0);
  cum[0].assign(s.n_nodes(0), 1.0);
  for (int d = 1; d < s.L; ++d) {
    const int n = s.n_nodes(d);
    own[d].assign(n, 1.0);
    cum[d].resize(n);
    for (int v = 0; v < n; ++v) {
      if (per_row[d]) own[d][v] = per_row[d][s.row_start[d][v]];
      if (!(own[d][v] > 0.0) || !std::isfinite(own[d][v]))
        throw std::invalid_argument("cluster survey weights must be positive and finite");
      cum[d][v] = own[d][v] * cum[d - 1][s.parent[d][v]];
    }
  }
}

void tree_weight_transform(const TreeShape& s, const TreeWeights& nw, TreeWork& w) {
  if (w.Brow.size() != w.Arow.size()) w.Brow.resize(w.Arow.size());
  for (int d = 0; d < s.L; ++d) {
    const int q = s.q[d], h = s.h[d];
    w.Brow[d] = w.Arow[d];
    for (int v = 0; v < w.n_loc(d); ++v) {
      auto Av = w.Arow[d].middleCols(v * h, h);
      for (int j = d, a = v; j >= 0; --j) {
        const double c = nw.cum[j][w.base[j] + a];
        Av.middleCols(s.po(d, j), s.q[j]) *= std::sqrt(c);
        if (j == d) w.log_det_A[d](v) += 0.5 * q * std::log(c);
        if (j > 0) a = w.par[j][a];
      }
    }
  }
}

void tree_weight_reverse(const TreeShape& s, const TreeWeights& nw, TreeWork& w) {
  for (int d = 0; d < s.L; ++d) {
    const int h = s.h[d];
    for (int v = 0; v < w.n_loc(d); ++v) {
      auto Ab = w.Abar[d].middleCols(v * h, h);
      for (int j = d, a = v; j >= 0; --j) {
        Ab.middleCols(s.po(d, j), s.q[j]) *= std::sqrt(nw.cum[j][w.base[j] + a]);
        if (j > 0) a = w.par[j][a];
      }
    }
  }
  std::swap(w.Arow, w.Brow);  // the factorization's reverse needs B = Lt^{-T}
  tree_factor_reverse(s, w);
  std::swap(w.Arow, w.Brow);
}

}  // namespace glamm
