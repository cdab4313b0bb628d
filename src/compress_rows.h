// Gaussian rows compressed within runs of rows that share all their clusters
// (formula in compress_rows.cpp).
#ifndef GLAMM_COMPRESS_ROWS_H
#define GLAMM_COMPRESS_ROWS_H

#include <RcppEigen.h>
#include <vector>

namespace glamm {

struct CompressedRows {
  Eigen::MatrixXd rows;  // n_out x k, B'B = A'A within each run
  std::vector<int> run;  // 0-based run of each output row
};

// A: n x k; run_start: 0-based first rows of the runs, then n; columns whose
// pivots fall below threshold times the largest are dropped from the rank.
CompressedRows compress_rows(const Eigen::Map<const Eigen::MatrixXd>& A,
                             const std::vector<int>& run_start, double threshold);

}  // namespace glamm

#endif
