// The Cholesky factor with a dense trailing block (formulas in schur_factor.h).
#include "schur_factor.h"
#include "threads.h"

#include <stdexcept>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

SchurFactor::SchurFactor(const Eigen::SparseMatrix<double>& L, const Eigen::SparseMatrix<double>& H,
                         int c0, int n_threads)
    : L_(L), c0_(c0), nd_(static_cast<int>(L.cols()) - c0), n_threads_(n_threads) {
  const int N = static_cast<int>(L.cols());
  // H11: the entries of H's upper triangle in rows and columns < c0.
  typedef Eigen::Triplet<double> Trip;
  std::vector<Trip> trips;
  for (int j = 0; j < c0; ++j)
    for (int p = H.outerIndexPtr()[j]; p < H.outerIndexPtr()[j + 1]; ++p)
      trips.emplace_back(H.innerIndexPtr()[p], j, static_cast<double>(p));
  H11_.resize(c0, c0);
  H11_.setFromTriplets(trips.begin(), trips.end());
  H11_.makeCompressed();
  h11_from_h_.resize(H11_.nonZeros());
  for (int k = 0; k < H11_.nonZeros(); ++k) h11_from_h_[k] = static_cast<int>(H11_.valuePtr()[k]);
  if (c0 > 0) leading_.analyzePattern(H11_);
  // Rows of L21 and where their entries sit in L (columns ascending).
  row_col_.assign(nd_, std::vector<int>());
  row_pos_.assign(nd_, std::vector<int>());
  // Work of S's update: sum_j |L21(:, j)|^2 / 2 scattered products, or
  // c0 nd^2 / 2 in one dense rank update, taken when at most 8 times as many
  // (dense kernels run several times faster) and L21 fits in 200 MB.
  double sparse_work = 0.0;
  for (int j = 0; j < c0; ++j) {
    int below = 0;
    for (int p = L.outerIndexPtr()[j]; p < L.outerIndexPtr()[j + 1]; ++p) {
      const int k = L.innerIndexPtr()[p];
      if (k < c0) continue;
      row_col_[k - c0].push_back(j);
      row_pos_[k - c0].push_back(p);
      ++below;
    }
    sparse_work += 0.5 * below * below;
  }
  const double cells = static_cast<double>(c0) * nd_;
  dense_l21_ = cells > 0 && cells <= 2.5e7 && 0.5 * cells * nd_ <= 8.0 * sparse_work;
  if (N != static_cast<int>(H.cols())) throw std::invalid_argument("L and H do not match");
}

bool SchurFactor::factorize(const Eigen::SparseMatrix<double>& H) {
  const int* Hp = H.outerIndexPtr();
  const int* Hi = H.innerIndexPtr();
  const double* Hx = H.valuePtr();
  const int* Lp = L_.outerIndexPtr();
  double* Lx = L_.valuePtr();
  const int c0 = c0_, nd = nd_;
  if (c0 > 0) {
    double* h11 = H11_.valuePtr();
    for (size_t k = 0; k < h11_from_h_.size(); ++k) h11[k] = Hx[h11_from_h_[k]];
    leading_.factorize(H11_);
    if (leading_.info() != Eigen::Success) return false;
    // L11 into L's leading columns (the same pattern, rows < c0 first).
    const Eigen::SparseMatrix<double>& L11 = leading_.matrixL().nestedExpression();
    for (int j = 0; j < c0; ++j) {
      const int len = L11.outerIndexPtr()[j + 1] - L11.outerIndexPtr()[j];
      const double* src = L11.valuePtr() + L11.outerIndexPtr()[j];
      std::copy(src, src + len, Lx + Lp[j]);
    }
  }
  // S starts as H22 (lower triangle).
  S_.setZero(nd, nd);
  for (int k = c0; k < c0 + nd; ++k)
    for (int p = Hp[k]; p < Hp[k + 1]; ++p)
      if (Hi[p] >= c0) S_(k - c0, Hi[p] - c0) = Hx[p];
  if (c0 > 0) {
    const Eigen::SparseMatrix<double>& L11 = leading_.matrixL().nestedExpression();
    const int* Mp = L11.outerIndexPtr();
    const int* Mi = L11.innerIndexPtr();
    const double* Mx = L11.valuePtr();
    if (dense_l21_) L21_.setZero(c0, nd);
    parallel_for(nd, n_threads_, 8, [&](int first, int last, int) {
      VectorXd x = VectorXd::Zero(c0);
      for (int r = first; r < last; ++r) {
        const int k = c0 + r;
        for (int p = Hp[k]; p < Hp[k + 1] && Hi[p] < c0; ++p) x[Hi[p]] = Hx[p];
        const std::vector<int>& cols = row_col_[r];
        for (size_t a = 0; a < cols.size(); ++a) {
          const int j = cols[a];
          const double xj = x[j] / Mx[Mp[j]];
          x[j] = 0.0;
          for (int p = Mp[j] + 1; p < Mp[j + 1]; ++p) x[Mi[p]] -= Mx[p] * xj;
          Lx[row_pos_[r][a]] = xj;
          if (dense_l21_) L21_(j, r) = xj;
        }
      }
    });
    if (dense_l21_) {
      S_.selfadjointView<Eigen::Lower>().rankUpdate(L21_.transpose(), -1.0);
    } else {
      // S -= sum_j v_j v_j', v_j = L(c0:, j).
      for (int j = 0; j < c0; ++j) {
        int p = Lp[j];
        while (p < Lp[j + 1] && L_.innerIndexPtr()[p] < c0) ++p;
        for (int a = p; a < Lp[j + 1]; ++a) {
          const int ra = L_.innerIndexPtr()[a] - c0;
          const double va = Lx[a];
          for (int b = a; b < Lp[j + 1]; ++b) S_(L_.innerIndexPtr()[b] - c0, ra) -= Lx[b] * va;
        }
      }
    }
  }
  Eigen::LLT<MatrixXd> llt(S_);
  if (llt.info() != Eigen::Success) return false;
  const MatrixXd& L22 = llt.matrixLLT();
  for (int k = c0; k < c0 + nd; ++k) {
    double* col = Lx + Lp[k];  // rows k .. N - 1 in order
    for (int i = k; i < c0 + nd; ++i) col[i - k] = L22(i - c0, k - c0);
  }
  return true;
}

VectorXd SchurFactor::solve(const VectorXd& b) const {
  VectorXd x = b;
  L_.triangularView<Eigen::Lower>().solveInPlace(x);
  L_.transpose().triangularView<Eigen::Upper>().solveInPlace(x);
  return x;
}

}  // namespace glamm
