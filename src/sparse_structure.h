// The symbolic part of the sparse global Laplace (sparse_laplace.h), done
// once per fit. The standardized effects of all clusters of all levels form
// one vector u; effect j (in the parameter layer's reversed coordinates,
// design.h) of cluster c of level l is column base_l + c q_l + j, and a
// fill-reducing (AMD) ordering renumbers these columns once, so that the
// curvature H = T' W T + I is assembled, factored (Eigen's SimplicialLLT
// without further ordering) and inverted on L's pattern in the new numbering.
// Row i's effective design T_i has R = sum_l q_l non-zeros, at cols(i, r);
// each pair r <= s of them has a fixed position in H's and in L's values.
#ifndef GLAMM_SPARSE_STRUCTURE_H
#define GLAMM_SPARSE_STRUCTURE_H

#include <RcppEigen.h>

#include <vector>

namespace glamm {

struct SparseLevelCodes {
  const int* cluster;  // per row, 0-based cluster of the level
  int n_clusters, q;
};

class SparseStructure {
 public:
  // levels innermost first, as the parameter layer's columns.
  SparseStructure(const std::vector<SparseLevelCodes>& levels, int n);

  int n() const { return n_; }
  int R() const { return R_; }
  int Q() const { return Q_; }
  int n_pairs() const { return n_pairs_; }
  // Pair index of (r, s), r <= s, in a row's pair list.
  int pair(int r, int s) const { return pair_index_[r * R_ + s]; }
  // Column (new numbering) of row i's r-th effect.
  int col(int i, int r) const { return col_[static_cast<size_t>(i) * R_ + r]; }
  const int* cols(int i) const { return col_.data() + static_cast<size_t>(i) * R_; }
  // Position in H's (or L's) values of row i's pair k.
  const int* h_pos(int i) const { return h_pos_.data() + static_cast<size_t>(i) * n_pairs_; }
  const int* l_pos(int i) const { return l_pos_.data() + static_cast<size_t>(i) * n_pairs_; }
  // Column (new numbering) of effect j of cluster c of level l.
  int effect_col(int l, int c, int j) const { return new_of_old_[base_[l] + c * q_[l] + j]; }
  int n_levels() const { return static_cast<int>(q_.size()); }
  int q(int l) const { return q_[l]; }
  int n_clusters(int l) const { return n_clusters_[l]; }
  // H's upper triangle with its pattern (values to be overwritten; the
  // factorization reads it in place) and the positions of its diagonal.
  Eigen::SparseMatrix<double>& H() { return H_; }
  const std::vector<int>& h_diag() const { return h_diag_; }
  // Records L's positions once the first factor has its pattern.
  void locate_in_factor(const Eigen::SparseMatrix<double>& L);

 private:
  int n_, R_, Q_, n_pairs_;
  std::vector<int> q_, n_clusters_, base_, new_of_old_, pair_index_, pair_r_, pair_s_;
  std::vector<int> col_, h_pos_, l_pos_, h_diag_;
  Eigen::SparseMatrix<double> H_;
};

}  // namespace glamm

#endif
