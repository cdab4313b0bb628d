// The Cholesky factor H = L L' of the sparse Laplace's curvature when L ends
// in a dense block (the effects of a crossed design's smaller factors, which
// become dense once the larger factor is eliminated):
//   H = [H11 H12; H21 H22],   L11 L11' = H11 (sparse),   L21 = H21 L11^{-T},
//   S = H22 - L21 L21',   L22 L22' = S (dense, blocked LLT).
// Row k of L21 solves L11 x = H(0:c0, k); rows are independent and are
// solved in parallel; S comes from one dense rank update (L21 held dense
// when it is dense enough) or from the sparse outer products of L21's
// columns. The values are written into L's fixed pattern (the one a general
// simplicial factorization of the same H gives), so that solves, log|H| and
// the selected inverse read one matrix whichever way it was computed.
#ifndef GLAMM_SCHUR_FACTOR_H
#define GLAMM_SCHUR_FACTOR_H

#include <RcppEigen.h>

#include <vector>

namespace glamm {

class SchurFactor {
 public:
  // L: a factor of H with its pattern; H: H's upper triangle (pattern);
  // c0: the first column of L's dense trailing block.
  SchurFactor(const Eigen::SparseMatrix<double>& L, const Eigen::SparseMatrix<double>& H, int c0,
              int n_threads);
  // Factors H (same pattern as at construction); false when H is not
  // positive definite.
  bool factorize(const Eigen::SparseMatrix<double>& H);
  const Eigen::SparseMatrix<double>& L() const { return L_; }
  // x = H^{-1} b.
  Eigen::VectorXd solve(const Eigen::VectorXd& b) const;

 private:
  typedef Eigen::SimplicialLLT<Eigen::SparseMatrix<double>, Eigen::Upper,
                               Eigen::NaturalOrdering<int> > Leading;
  Eigen::SparseMatrix<double> L_, H11_;
  Leading leading_;
  int c0_, nd_, n_threads_;
  bool dense_l21_;
  std::vector<int> h11_from_h_;            // position in H of each entry of H11
  std::vector<std::vector<int> > row_col_, row_pos_;  // per dense row k: columns j < c0 of L(k, .), positions in L
  Eigen::MatrixXd S_, L21_;                // nd x nd; c0 x nd when held dense
};

}  // namespace glamm

#endif
