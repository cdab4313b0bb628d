// The Takahashi recursion for the selected inverse (formulas in
// selected_inverse.h). For column j with off-diagonal rows r_1 < ... < r_m,
// v_t = sum_s L_{r_s j} Z_{r_t r_s} is gathered by walking, for each s, the
// stored lower part of column r_s of Z (rows >= r_s): an entry Z_{i r_s}
// with i = r_t adds L_{r_s j} Z_{i r_s} to v_t and, when i > r_s, its mirror
// L_{r_t j} Z_{r_s i} to v_s. Pairs of rows that both lie in the dense
// trailing block are read from its dense inverse instead.
#include "selected_inverse.h"
#include "threads.h"

#include <algorithm>

namespace glamm {

namespace {

// Z of column j from v_t = sum_s L_{r_s j} Z_{r_t r_s} (formulas in the header).
void finish_column(const double* Lx, int p0, int m, const std::vector<double>& v, double* Z) {
  const double ljj = Lx[p0];
  double diag = 1.0 / (ljj * ljj);
  for (int t = 0; t < m; ++t) {
    const double z = -v[t] / ljj;
    Z[p0 + 1 + t] = z;
    diag -= Lx[p0 + 1 + t] * z / ljj;
  }
  Z[p0] = diag;
}

}  // namespace

void selected_inverse(const Eigen::SparseMatrix<double>& L, Eigen::VectorXd& Z,
                      std::vector<int>& work, int n_threads) {
  const int N = static_cast<int>(L.cols());
  const int* Lp = L.outerIndexPtr();
  const int* Li = L.innerIndexPtr();
  const double* Lx = L.valuePtr();
  Z.setZero(L.nonZeros());
  const int c0 = dense_tail_start(L), nd = N - c0;
  Eigen::MatrixXd Zd;
  if (nd > 0) {
    Eigen::MatrixXd Ld = Eigen::MatrixXd::Zero(nd, nd);
    for (int k = c0; k < N; ++k)
      for (int p = Lp[k]; p < Lp[k + 1]; ++p) Ld(Li[p] - c0, k - c0) = Lx[p];
    Eigen::MatrixXd Linv = Eigen::MatrixXd::Identity(nd, nd);
    Ld.triangularView<Eigen::Lower>().solveInPlace(Linv);
    Zd = Eigen::MatrixXd::Zero(nd, nd);
    Zd.selfadjointView<Eigen::Lower>().rankUpdate(Linv.transpose());
    Zd.triangularView<Eigen::StrictlyUpper>() = Zd.transpose();
    for (int k = c0; k < N; ++k)
      for (int p = Lp[k]; p < Lp[k + 1]; ++p) Z[p] = Zd(Li[p] - c0, k - c0);
  }
  // Columns before the block whose rows all lie in it: independent.
  std::vector<int> inside, outside;
  for (int j = c0 - 1; j >= 0; --j) {
    const bool in_block = Lp[j + 1] - Lp[j] == 1 || Li[Lp[j] + 1] >= c0;
    (in_block ? inside : outside).push_back(j);
  }
  double* Zx = Z.data();
  parallel_for(static_cast<int>(inside.size()), n_threads, 64, [&](int first, int last, int) {
    std::vector<double> v;
    for (int a = first; a < last; ++a) {
      const int j = inside[a], p0 = Lp[j], m = Lp[j + 1] - p0 - 1;
      v.assign(m, 0.0);
      for (int s = 0; s < m; ++s) {
        const double ls = Lx[p0 + 1 + s];
        const double* zcol = Zd.data() + static_cast<size_t>(Li[p0 + 1 + s] - c0) * nd;
        for (int t = 0; t < m; ++t) v[t] += zcol[Li[p0 + 1 + t] - c0] * ls;
      }
      finish_column(Lx, p0, m, v, Zx);
    }
  });
  std::vector<double> v;
  for (int j : outside) {
    const int p0 = Lp[j], p1 = Lp[j + 1];
    const int m = p1 - p0 - 1;  // off-diagonal entries
    const int last_row = Li[p1 - 1];
    for (int t = 0; t < m; ++t) work[Li[p0 + 1 + t]] = t;
    v.assign(m, 0.0);
    // Rows in the dense block: their pairs straight from Zd (walking the
    // block's long columns would cost a column's length per row).
    const int first_dense = static_cast<int>(
        std::lower_bound(Li + p0 + 1, Li + p1, c0) - (Li + p0 + 1));
    for (int s = first_dense; s < m; ++s) {
      const double ls = Lx[p0 + 1 + s];
      const double* zcol = Zd.data() + static_cast<size_t>(Li[p0 + 1 + s] - c0) * nd;
      for (int t = first_dense; t < m; ++t) v[t] += zcol[Li[p0 + 1 + t] - c0] * ls;
    }
    for (int s = 0; s < first_dense; ++s) {
      const int k = Li[p0 + 1 + s];
      const double lkj = Lx[p0 + 1 + s];
      for (int p = Lp[k]; p < Lp[k + 1]; ++p) {
        const int i = Li[p];
        if (i > last_row) break;
        const int t = work[i];
        if (t < 0) continue;
        v[t] += lkj * Zx[p];
        if (i != k) v[s] += Lx[p0 + 1 + t] * Zx[p];
      }
    }
    finish_column(Lx, p0, m, v, Zx);
    for (int t = 0; t < m; ++t) work[Li[p0 + 1 + t]] = -1;
  }
}

int dense_tail_start(const Eigen::SparseMatrix<double>& L) {
  const int N = static_cast<int>(L.cols());
  const int* Lp = L.outerIndexPtr();
  int c0 = N;
  while (c0 > 0 && Lp[c0] - Lp[c0 - 1] == N - c0 + 1) --c0;
  return c0;
}

int sparse_position(const Eigen::SparseMatrix<double>& M, int row, int col) {
  const int* first = M.innerIndexPtr() + M.outerIndexPtr()[col];
  const int* last = M.innerIndexPtr() + M.outerIndexPtr()[col + 1];
  const int* it = std::lower_bound(first, last, row);
  if (it == last || *it != row) return -1;
  return static_cast<int>(it - M.innerIndexPtr());
}

}  // namespace glamm
