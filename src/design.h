// The parameter layer: from the parameters to what the integrators see, and
// back. For row i with fixed-effects row x_i and, at each level l (innermost
// first), random-effects row z_il and relative factor Lambda_l:
//   eta_fix_i = x_i' beta + offset_i   (an empty offset is 0),
//   T_i = [ z_i1' Lambda_1 P_1 | ... | z_iL' Lambda_L P_L ]   (1 x R, R = sum q_l),
// where P_l reverses the order of a level's q_l columns: the integrators work in
// these "reversed" coordinates, in which the lower Cholesky factor of the
// curvature gives the adaptive transform A = L^{-T} whose blocks are the lower
// triangular square roots of the conditional covariances in the original order.
// Backward, from the integrators' adjoints ebar_i = dlogL/deta_fix_i and
// Tbar_i = dlogL/dT_i:
//   dlogL/dbeta += x_i ebar_i,   dlogL/dLambda_l += z_il (Tbar_il P_l).
// With factor loadings (loadings.h) x_i and z_il are the loaded rows xtil_i,
// ztil_il, and the score vector ends with the loadings' gradient.
#ifndef GLAMM_DESIGN_H
#define GLAMM_DESIGN_H

#include <RcppEigen.h>
#include <vector>

#include "loadings.h"

namespace glamm {

class Design {
 public:
  Design(const Eigen::Map<const Eigen::MatrixXd>& X,
         const Eigen::Map<const Eigen::VectorXd>& offset,
         const std::vector<Eigen::Map<const Eigen::MatrixXd> >& Z);

  int n() const { return static_cast<int>(X_.rows()); }
  const Eigen::Map<const Eigen::MatrixXd>& X() const { return X_; }
  int p() const { return static_cast<int>(X_.cols()); }
  int n_levels() const { return static_cast<int>(Z_.size()); }
  int q(int level) const { return static_cast<int>(Z_[level].cols()); }
  int col(int level) const { return col_[level]; }  // first column of the level in T
  int R() const { return col_.back(); }
  // Length of a score vector: beta, then vec(Lambda_l) for each level, then
  // vec(lambda) of the loadings (if any).
  int n_score() const { return score_col_.back() + loadings_.n_values(); }
  int loading_col() const { return score_col_.back(); }
  int n_loadings() const { return loadings_.n_values(); }
  void set_loading_map(const std::vector<int>& row_level, const std::vector<int>& x_factor,
                       const std::vector<std::vector<int> >& z_factor, int n_loading_rows,
                       int n_factors);
  void set_loadings(const Eigen::MatrixXd& lambda) { loadings_.set_values(lambda); }
  int score_col(int level) const { return score_col_[level]; }

  // Sets the parameters (Lambda_l lower triangular, innermost level first).
  void set(const Eigen::VectorXd& beta, const std::vector<Eigen::MatrixXd>& Lambda);
  // eta_fix and T for rows [s, s + m).
  void fill(int s, int m, double* eta_fix, Eigen::Ref<Eigen::MatrixXd> T) const;
  // Adds the gradient of rows [s, s + m) into score (length n_score()).
  void backward(int s, int m, const double* ebar, const Eigen::Ref<const Eigen::MatrixXd>& Tbar,
                double* score) const;
  // Adds the second derivatives of row i's eta, weighted, into H (n_score x
  // n_score): a times d2 eta_i / dtheta2 at the effects u = 0 plus its part
  // linear in u at u = b (R values, the integrators' coordinates). Nonzero
  // only with factor loadings (loadings.h).
  void add_eta_curvature(int i, double a, const double* b, Eigen::Ref<Eigen::MatrixXd> H) const;

 private:
  void backward_loaded(int s, int m, const double* ebar,
                       const Eigen::Ref<const Eigen::MatrixXd>& Tbar, double* score) const;

  Eigen::Map<const Eigen::MatrixXd> X_;
  Eigen::Map<const Eigen::VectorXd> offset_;
  std::vector<Eigen::Map<const Eigen::MatrixXd> > Z_;
  std::vector<int> col_, score_col_;
  Eigen::VectorXd beta_;
  std::vector<Eigen::MatrixXd> lambda_rev_;  // Lambda_l P_l
  Loadings loadings_;
};

}  // namespace glamm

#endif
