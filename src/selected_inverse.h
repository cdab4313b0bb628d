// The selected inverse of a sparse symmetric positive definite matrix from its
// Cholesky factor (Takahashi, Fagan & Chen 1973): with H = L L' (L lower
// triangular, column-major, the diagonal first in each column and the rows of
// a column ascending, as Eigen's SimplicialLLT stores it), Z = H^{-1} on the
// pattern of L follows from Z L = L^{-T}, column by column from the last:
//   Z_ij = -(1 / L_jj) sum_{k > j, L_kj != 0} L_kj Z_ik          (i > j, L_ij != 0)
//   Z_jj = 1 / L_jj^2 - (1 / L_jj) sum_{k > j, L_kj != 0} L_kj Z_kj .
// Every Z_ik the sums need lies on the pattern of L (the pattern of a column,
// below its diagonal, is contained in the pattern of each column it names).
// A trailing block of columns where L is dense (the Schur complement of a
// crossed design's smaller factor) is inverted as a dense matrix; columns
// whose rows all lie in that block depend on nothing else and are done in
// parallel; the other columns follow, last first.
#ifndef GLAMM_SELECTED_INVERSE_H
#define GLAMM_SELECTED_INVERSE_H

#include <RcppEigen.h>

#include <vector>

namespace glamm {

// L: the factor as Eigen's SimplicialLLT holds it. Returns Z on the pattern
// of L: entry p of the result belongs where entry p of L's values sits.
// work: a workspace of at least L.rows() ints, all -1 (left so on return).
void selected_inverse(const Eigen::SparseMatrix<double>& L, Eigen::VectorXd& Z,
                      std::vector<int>& work, int n_threads = 1);

// The first column of L's dense trailing block: every column k from it on
// holds every row k .. N - 1 (the last column always does).
int dense_tail_start(const Eigen::SparseMatrix<double>& L);

// The position of entry (row, col), row >= col, in the values of a
// column-major matrix with sorted rows, or -1 when it is not stored.
int sparse_position(const Eigen::SparseMatrix<double>& M, int row, int col);

}  // namespace glamm

#endif
