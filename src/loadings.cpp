// The loading layer (formulas in loadings.h).
#include "loadings.h"

#include <stdexcept>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

void Loadings::set_map(const std::vector<int>& row_level, const std::vector<int>& x_factor,
                       const std::vector<std::vector<int> >& z_factor, int n_levels,
                       int n_factors) {
  if (n_levels < 1 || n_factors < 1) throw std::invalid_argument("the loading map is empty");
  for (int j : row_level)
    if (j < 0 || j >= n_levels) throw std::invalid_argument("a row's loading level is out of range");
  auto columns = [n_factors](const std::vector<int>& f) {
    std::vector<Col> out;
    for (size_t c = 0; c < f.size(); ++c) {
      if (f[c] >= n_factors) throw std::invalid_argument("a column's factor is out of range");
      if (f[c] >= 0) out.push_back({static_cast<int>(c), f[c]});
    }
    return out;
  };
  row_level_ = row_level;
  x_cols_ = columns(x_factor);
  z_cols_.clear();
  for (const auto& f : z_factor) z_cols_.push_back(columns(f));
  n_levels_ = n_levels;
  n_factors_ = n_factors;
  values_ = MatrixXd::Ones(n_levels, n_factors);
}

void Loadings::set_values(const MatrixXd& lambda) {
  if (lambda.rows() != n_levels_ || lambda.cols() != n_factors_)
    throw std::invalid_argument("the loading matrix does not match the loading map");
  values_ = lambda;
}

void Loadings::add_eta(const Eigen::Ref<const MatrixXd>& X, const VectorXd& beta, int s, int m,
                       double* eta) const {
  for (const Col& c : x_cols_) {
    const double b = beta[c.col];
    for (int i = 0; i < m; ++i)
      eta[i] += X(s + i, c.col) * (values_(row_level_[s + i], c.factor) - 1.0) * b;
  }
}

void Loadings::load_z(int l, const Eigen::Ref<const MatrixXd>& Z, int s, int m,
                      MatrixXd* Ztil) const {
  *Ztil = Z.middleRows(s, m);
  for (const Col& c : z_cols_[l])
    for (int i = 0; i < m; ++i) (*Ztil)(i, c.col) *= values_(row_level_[s + i], c.factor);
}

void Loadings::backward_x(const Eigen::Ref<const MatrixXd>& X, const VectorXd& beta, int s, int m,
                          const double* ebar, double* score, double* lscore) const {
  for (const Col& c : x_cols_) {
    const double b = beta[c.col];
    double sb = 0.0;
    for (int i = 0; i < m; ++i) {
      const int j = row_level_[s + i];
      const double xe = X(s + i, c.col) * ebar[i];
      sb += xe * (values_(j, c.factor) - 1.0);  // the plain X' ebar holds the rest
      lscore[j + c.factor * n_levels_] += xe * b;
    }
    score[c.col] += sb;
  }
}

void Loadings::add_x_curvature(const Eigen::Ref<const MatrixXd>& X, int i, double a, int lcol,
                               Eigen::Ref<MatrixXd> H) const {
  const int j = row_level_[i];
  for (const Col& c : x_cols_) {
    const double v = a * X(i, c.col);
    const int li = lcol + j + c.factor * n_levels_;
    H(c.col, li) += v;
    H(li, c.col) += v;
  }
}

void Loadings::add_z_curvature(int l, const Eigen::Ref<const MatrixXd>& Z, int i, const double* b,
                               int lcol_l, int lcol, Eigen::Ref<MatrixXd> H) const {
  const int j = row_level_[i], q = static_cast<int>(Z.cols());
  for (const Col& c : z_cols_[l]) {
    const int li = lcol + j + c.factor * n_levels_;
    for (int t = 0; t < q; ++t) {
      const double v = Z(i, c.col) * b[q - 1 - t];
      const int ci = lcol_l + c.col + t * q;
      H(ci, li) += v;
      H(li, ci) += v;
    }
  }
}

void Loadings::backward_z(int l, const Eigen::Ref<const MatrixXd>& Z, int s, int m,
                          const Eigen::Ref<const MatrixXd>& G, double* lscore) const {
  for (const Col& c : z_cols_[l])
    for (int i = 0; i < m; ++i)
      lscore[row_level_[s + i] + c.factor * n_levels_] += Z(s + i, c.col) * G(i, c.col);
}

}  // namespace glamm
