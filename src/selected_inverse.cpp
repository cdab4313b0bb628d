// The Takahashi recursion for the selected inverse (formulas in
// selected_inverse.h). For column j with off-diagonal rows r_1 < ... < r_m,
// v_t = sum_s L_{r_s j} Z_{r_t r_s} is gathered by walking, for each s, the
// stored lower part of column r_s of Z (rows >= r_s): an entry Z_{i r_s}
// with i = r_t adds L_{r_s j} Z_{i r_s} to v_t and, when i > r_s, its mirror
// L_{r_t j} Z_{r_s i} to v_s.
#include "selected_inverse.h"

#include <algorithm>

namespace glamm {

void selected_inverse(const Eigen::SparseMatrix<double>& L, Eigen::VectorXd& Z,
                      std::vector<int>& work) {
  const int N = static_cast<int>(L.cols());
  const int* Lp = L.outerIndexPtr();
  const int* Li = L.innerIndexPtr();
  const double* Lx = L.valuePtr();
  Z.setZero(L.nonZeros());
  std::vector<double> v;
  for (int j = N - 1; j >= 0; --j) {
    const int p0 = Lp[j], p1 = Lp[j + 1];
    const int m = p1 - p0 - 1;  // off-diagonal entries
    const double ljj = Lx[p0];
    if (m == 0) {
      Z[p0] = 1.0 / (ljj * ljj);
      continue;
    }
    const int last_row = Li[p1 - 1];
    for (int t = 0; t < m; ++t) work[Li[p0 + 1 + t]] = t;
    v.assign(m, 0.0);
    for (int s = 0; s < m; ++s) {
      const int k = Li[p0 + 1 + s];
      const double lkj = Lx[p0 + 1 + s];
      for (int p = Lp[k]; p < Lp[k + 1]; ++p) {
        const int i = Li[p];
        if (i > last_row) break;
        const int t = work[i];
        if (t < 0) continue;
        v[t] += lkj * Z[p];
        if (i != k) v[s] += Lx[p0 + 1 + t] * Z[p];
      }
    }
    double diag = 1.0 / (ljj * ljj);
    for (int t = 0; t < m; ++t) {
      const double z = -v[t] / ljj;
      Z[p0 + 1 + t] = z;
      diag -= Lx[p0 + 1 + t] * z / ljj;
    }
    Z[p0] = diag;
    for (int t = 0; t < m; ++t) work[Li[p0 + 1 + t]] = -1;
  }
}

int sparse_position(const Eigen::SparseMatrix<double>& M, int row, int col) {
  const int* first = M.innerIndexPtr() + M.outerIndexPtr()[col];
  const int* last = M.innerIndexPtr() + M.outerIndexPtr()[col + 1];
  const int* it = std::lower_bound(first, last, row);
  if (it == last || *it != row) return -1;
  return static_cast<int>(it - M.innerIndexPtr());
}

}  // namespace glamm
