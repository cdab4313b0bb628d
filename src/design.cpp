// The parameter layer (formulas in design.h).
#include "design.h"

#include <stdexcept>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

Design::Design(const Eigen::Map<const MatrixXd>& X, const Eigen::Map<const VectorXd>& offset,
               const std::vector<Eigen::Map<const MatrixXd> >& Z)
    : X_(X), offset_(offset), Z_(Z) {
  if (Z_.empty()) throw std::invalid_argument("the model needs at least one level of random effects");
  col_.assign(1, 0);
  score_col_.assign(1, p());
  for (const auto& Zl : Z_) {
    if (Zl.rows() != X_.rows()) throw std::invalid_argument("X and Z must have the same rows");
    if (Zl.cols() < 1) throw std::invalid_argument("a level has no random effects");
    col_.push_back(col_.back() + static_cast<int>(Zl.cols()));
    score_col_.push_back(score_col_.back() + static_cast<int>(Zl.cols() * Zl.cols()));
  }
  if (offset_.size() != X_.rows() && offset_.size() != 0)
    throw std::invalid_argument("offset must have one value per row (or none)");
}

void Design::set_loading_map(const std::vector<int>& row_level, const std::vector<int>& x_factor,
                             const std::vector<std::vector<int> >& z_factor, int n_loading_rows,
                             int n_factors) {
  if (static_cast<int>(row_level.size()) != n() || static_cast<int>(x_factor.size()) != p() ||
      static_cast<int>(z_factor.size()) != n_levels())
    throw std::invalid_argument("the loading map does not match the model");
  for (int l = 0; l < n_levels(); ++l)
    if (static_cast<int>(z_factor[l].size()) != q(l))
      throw std::invalid_argument("the loading map does not match the model");
  loadings_.set_map(row_level, x_factor, z_factor, n_loading_rows, n_factors);
}

void Design::set(const VectorXd& beta, const std::vector<MatrixXd>& Lambda) {
  if (beta.size() != p() || static_cast<int>(Lambda.size()) != n_levels())
    throw std::invalid_argument("parameter dimensions do not match the model");
  beta_ = beta;
  lambda_rev_.resize(Lambda.size());
  for (int l = 0; l < n_levels(); ++l) {
    if (Lambda[l].rows() != q(l) || Lambda[l].cols() != q(l))
      throw std::invalid_argument("parameter dimensions do not match the model");
    MatrixXd lower = Lambda[l].triangularView<Eigen::Lower>();
    lambda_rev_[l] = lower.rowwise().reverse();
  }
}

void Design::fill(int s, int m, double* eta_fix, Eigen::Ref<MatrixXd> T) const {
  Eigen::Map<VectorXd> eta(eta_fix, m);
  eta.noalias() = X_.middleRows(s, m) * beta_;
  if (offset_.size()) eta += offset_.segment(s, m);
  if (loadings_.active()) {
    loadings_.add_eta(X_, beta_, s, m, eta_fix);
    MatrixXd Ztil;
    for (int l = 0; l < n_levels(); ++l) {
      if (!loadings_.loads_level(l)) {
        T.block(0, col_[l], m, q(l)).noalias() = Z_[l].middleRows(s, m) * lambda_rev_[l];
        continue;
      }
      loadings_.load_z(l, Z_[l], s, m, &Ztil);
      T.block(0, col_[l], m, q(l)).noalias() = Ztil * lambda_rev_[l];
    }
    return;
  }
  for (int l = 0; l < n_levels(); ++l)
    T.block(0, col_[l], m, q(l)).noalias() = Z_[l].middleRows(s, m) * lambda_rev_[l];
}

void Design::backward(int s, int m, const double* ebar, const Eigen::Ref<const MatrixXd>& Tbar,
                      double* score) const {
  Eigen::Map<const VectorXd> e(ebar, m);
  Eigen::Map<VectorXd>(score, p()).noalias() += X_.middleRows(s, m).transpose() * e;
  if (loadings_.active()) {
    backward_loaded(s, m, ebar, Tbar, score);
    return;
  }
  for (int l = 0; l < n_levels(); ++l) {
    const int ql = q(l);
    Eigen::Map<MatrixXd> g(score + score_col_[l], ql, ql);
    g.noalias() += Z_[l].middleRows(s, m).transpose() * Tbar.block(0, col_[l], m, ql).rowwise().reverse();
  }
}

void Design::add_eta_curvature(int i, double a, const double* b, Eigen::Ref<MatrixXd> H) const {
  if (!loadings_.active()) return;
  loadings_.add_x_curvature(X_, i, a, loading_col(), H);
  for (int l = 0; l < n_levels(); ++l)
    if (loadings_.loads_level(l))
      loadings_.add_z_curvature(l, Z_[l], i, b + col_[l], score_col_[l], loading_col(), H);
}

void Design::backward_loaded(int s, int m, const double* ebar,
                             const Eigen::Ref<const MatrixXd>& Tbar, double* score) const {
  double* lscore = score + loading_col();
  loadings_.backward_x(X_, beta_, s, m, ebar, score, lscore);
  // per-thread scratch: this runs once per row and effect in the information
  thread_local MatrixXd Ztil, G;
  for (int l = 0; l < n_levels(); ++l) {
    const int ql = q(l);
    Eigen::Map<MatrixXd> g(score + score_col_[l], ql, ql);
    if (!loadings_.loads_level(l)) {
      g.noalias() += Z_[l].middleRows(s, m).transpose() * Tbar.block(0, col_[l], m, ql).rowwise().reverse();
      continue;
    }
    loadings_.load_z(l, Z_[l], s, m, &Ztil);
    g.noalias() += Ztil.transpose() * Tbar.block(0, col_[l], m, ql).rowwise().reverse();
    G.noalias() = Tbar.block(0, col_[l], m, ql) * lambda_rev_[l].transpose();
    loadings_.backward_z(l, Z_[l], s, m, G, lscore);
  }
}

}  // namespace glamm
