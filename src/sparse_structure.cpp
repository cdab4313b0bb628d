// The symbolic analysis of the sparse Laplace (see sparse_structure.h): the
// pattern of the upper triangle of H = T' W T + I (the pairs of effects that share a row, and every
// cluster's own q_l x q_l block), an AMD ordering of it, and the positions of
// each row's pairs in H and in its Cholesky factor L.
#include "sparse_structure.h"
#include "selected_inverse.h"

#include <Eigen/OrderingMethods>
#include <stdexcept>

namespace glamm {

SparseStructure::SparseStructure(const std::vector<SparseLevelCodes>& levels, int n) : n_(n) {
  const int L = static_cast<int>(levels.size());
  if (L == 0) throw std::invalid_argument("the model needs at least one level of random effects");
  R_ = 0;
  Q_ = 0;
  std::vector<int> level_of_r, effect_of_r;
  for (int l = 0; l < L; ++l) {
    const SparseLevelCodes& lev = levels[l];
    if (lev.q < 1 || lev.n_clusters < 1) throw std::invalid_argument("a level has no random effects");
    for (int i = 0; i < n; ++i)
      if (lev.cluster[i] < 0 || lev.cluster[i] >= lev.n_clusters)
        throw std::invalid_argument("cluster codes must lie in 0 .. n_clusters - 1");
    q_.push_back(lev.q);
    n_clusters_.push_back(lev.n_clusters);
    base_.push_back(Q_);
    Q_ += lev.q * lev.n_clusters;
    for (int j = 0; j < lev.q; ++j) {
      level_of_r.push_back(l);
      effect_of_r.push_back(j);
    }
    R_ += lev.q;
  }
  pair_index_.assign(R_ * R_, -1);
  n_pairs_ = 0;
  for (int r = 0; r < R_; ++r)
    for (int s = r; s < R_; ++s) {
      pair_index_[r * R_ + s] = pair_index_[s * R_ + r] = n_pairs_++;
      pair_r_.push_back(r);
      pair_s_.push_back(s);
    }
  // Old column numbers of each row's effects.
  std::vector<int> old_col(static_cast<size_t>(n) * R_);
  for (int i = 0; i < n; ++i)
    for (int r = 0; r < R_; ++r) {
      const int l = level_of_r[r];
      old_col[static_cast<size_t>(i) * R_ + r] = base_[l] + levels[l].cluster[i] * q_[l] + effect_of_r[r];
    }
  // The pattern in the old numbering (upper triangle), then its AMD ordering.
  typedef Eigen::Triplet<double> Trip;
  std::vector<Trip> trips;
  trips.reserve(static_cast<size_t>(n) * (n_pairs_ - R_) + Q_ * 2);
  for (int l = 0; l < L; ++l)
    for (int c = 0; c < n_clusters_[l]; ++c)
      for (int j = 0; j < q_[l]; ++j)
        for (int k = j; k < q_[l]; ++k)
          trips.emplace_back(base_[l] + c * q_[l] + j, base_[l] + c * q_[l] + k, 1.0);
  for (int i = 0; i < n; ++i) {
    const int* oc = old_col.data() + static_cast<size_t>(i) * R_;
    for (int r = 0; r < R_; ++r)
      for (int s = r + 1; s < R_; ++s)
        if (level_of_r[r] != level_of_r[s])
          trips.emplace_back(std::min(oc[r], oc[s]), std::max(oc[r], oc[s]), 1.0);
  }
  Eigen::SparseMatrix<double> pattern(Q_, Q_);
  pattern.setFromTriplets(trips.begin(), trips.end());
  Eigen::PermutationMatrix<Eigen::Dynamic, Eigen::Dynamic, int> old_of_new;
  Eigen::AMDOrdering<int> amd;
  amd(pattern, old_of_new);
  new_of_old_.assign(Q_, 0);
  for (int k = 0; k < Q_; ++k) new_of_old_[old_of_new.indices()[k]] = k;
  // The same pattern in the new numbering.
  for (Trip& t : trips) {
    const int a = new_of_old_[t.row()], b = new_of_old_[t.col()];
    t = Trip(std::min(a, b), std::max(a, b), 0.0);
  }
  H_.resize(Q_, Q_);
  H_.setFromTriplets(trips.begin(), trips.end());
  H_.makeCompressed();
  std::vector<Trip>().swap(trips);
  col_.resize(old_col.size());
  for (size_t k = 0; k < old_col.size(); ++k) col_[k] = new_of_old_[old_col[k]];
  h_diag_.resize(Q_);
  for (int j = 0; j < Q_; ++j) h_diag_[j] = sparse_position(H_, j, j);
  h_pos_.resize(static_cast<size_t>(n) * n_pairs_);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n_pairs_; ++k) {
      const int a = cols(i)[pair_r_[k]], b = cols(i)[pair_s_[k]];
      const int pos = sparse_position(H_, std::min(a, b), std::max(a, b));
      if (pos < 0) throw std::logic_error("a pair of effects is missing from the pattern");
      h_pos_[static_cast<size_t>(i) * n_pairs_ + k] = pos;
    }
}

void SparseStructure::locate_in_factor(const Eigen::SparseMatrix<double>& L) {
  l_pos_.resize(static_cast<size_t>(n_) * n_pairs_);
  for (int i = 0; i < n_; ++i)
    for (int k = 0; k < n_pairs_; ++k) {
      const int a = cols(i)[pair_r_[k]], b = cols(i)[pair_s_[k]];
      const int pos = sparse_position(L, std::max(a, b), std::min(a, b));
      if (pos < 0) throw std::logic_error("a pair of effects is missing from the factor");
      l_pos_[static_cast<size_t>(i) * n_pairs_ + k] = pos;
    }
}

}  // namespace glamm
