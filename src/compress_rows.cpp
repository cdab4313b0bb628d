// Gaussian rows compressed within runs (leaf clusters): for the rows a_i' of
// a run (a_i = sqrt(w_i) [z_i1, ..., z_iL, x_i, y_i - offset_i]), a
// column-pivoted QR, A P = Q R, gives r = rank(A) rows B = R_(1:r) P' with
//   B'B = A'A ,
// the only function of the run's rows that a gaussian identity-link
// likelihood of the run's clusters depends on (besides the number of rows
// with positive weight). Columns that are collinear within the run (an
// intercept at two levels, a covariate constant in the cluster) lower r.
// A run whose rank is its number of rows is kept as it is.
#include "compress_rows.h"

#include <algorithm>

namespace glamm {

using Eigen::MatrixXd;

CompressedRows compress_rows(const Eigen::Map<const MatrixXd>& A, const std::vector<int>& run_start,
                             double threshold) {
  const int k = static_cast<int>(A.cols());
  const int n_runs = static_cast<int>(run_start.size()) - 1;
  std::vector<MatrixXd> blocks(n_runs);
  int n_out = 0;
  Eigen::ColPivHouseholderQR<MatrixXd> qr;
  for (int g = 0; g < n_runs; ++g) {
    const int first = run_start[g], m = run_start[g + 1] - first;
    const auto rows = A.middleRows(first, m);
    if (m <= 1) {
      blocks[g] = rows;
    } else {
      qr.setThreshold(threshold);
      qr.compute(rows);
      const int r = std::max(1, static_cast<int>(qr.rank()));  // every run keeps a row
      if (r >= m) {
        blocks[g] = rows;
      } else {
        const MatrixXd R = qr.matrixR().topRows(r).triangularView<Eigen::Upper>();
        blocks[g] = R * qr.colsPermutation().transpose();
      }
    }
    n_out += static_cast<int>(blocks[g].rows());
  }
  CompressedRows out;
  out.rows.resize(n_out, k);
  out.run.resize(n_out);
  int at = 0;
  for (int g = 0; g < n_runs; ++g) {
    const int m = static_cast<int>(blocks[g].rows());
    out.rows.middleRows(at, m) = blocks[g];
    for (int i = 0; i < m; ++i) out.run[at + i] = g;
    at += m;
  }
  return out;
}

}  // namespace glamm
