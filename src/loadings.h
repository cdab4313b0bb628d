// The loading layer of the parameter layer (design.h): factor loadings that
// multiply design columns. Row i has the level j(i) of the loading variable;
// a column c of X or r of a level's Z may belong to factor f (a latent
// variable: its column is ones times the covariates it is crossed with).
// With the loading matrix lambda (levels x factors), the loaded designs are
//   xtil_ic = x_ic * lambda_{j(i), f(c)},   ztil_ir = z_ir * lambda_{j(i), f(r)}
// (columns of no factor are left as they are), so that
//   eta_fix_i = xtil_i' beta + offset_i,   T_i = ztil_i' Lambda P.
// Backward, with ebar_i and G_i = Tbar_i (Lambda P)' (the adjoint of ztil_i):
//   dlogL/dbeta_c += xtil_ic ebar_i,        dlogL/dLambda += ztil_i Tbar_i P,
//   dlogL/dlambda_{j(i), f(c)} += x_ic beta_c ebar_i,
//   dlogL/dlambda_{j(i), f(r)} += z_ir G_ir.
#ifndef GLAMM_LOADINGS_H
#define GLAMM_LOADINGS_H

#include <RcppEigen.h>
#include <vector>

namespace glamm {

class Loadings {
 public:
  bool active() const { return !row_level_.empty(); }
  int n_values() const { return static_cast<int>(values_.size()); }
  // row_level: 0-based level of every row; x_factor (per X column) and
  // z_factor (per level, per Z column): 0-based factor or -1.
  void set_map(const std::vector<int>& row_level, const std::vector<int>& x_factor,
               const std::vector<std::vector<int> >& z_factor, int n_levels, int n_factors);
  void set_values(const Eigen::MatrixXd& lambda);
  bool loads_x() const { return !x_cols_.empty(); }
  bool loads_level(int l) const { return !z_cols_[l].empty(); }

  // eta += sum over loaded columns c of x_ic (lambda - 1) beta_c, rows [s, s + m).
  void add_eta(const Eigen::Ref<const Eigen::MatrixXd>& X, const Eigen::VectorXd& beta, int s,
               int m, double* eta) const;
  // Z rows [s, s + m) of level l with their loaded columns multiplied.
  void load_z(int l, const Eigen::Ref<const Eigen::MatrixXd>& Z, int s, int m,
              Eigen::MatrixXd* Ztil) const;
  // The loaded columns' beta and loading gradients (score: the beta block;
  // lscore: the loading block, column-major levels x factors).
  void backward_x(const Eigen::Ref<const Eigen::MatrixXd>& X, const Eigen::VectorXd& beta, int s,
                  int m, const double* ebar, double* score, double* lscore) const;
  // Second derivatives of eta_i into H (n_score x n_score; the loadings'
  // block starts at column lcol): d2 eta_i / dbeta_c dlambda_{j(i) f(c)} =
  // x_ic, times a; and, for level l (its Lambda's block starting at column
  // lcol_l, u_l the level's q_l effects in the reversed coordinates),
  // d2 eta_i / dLambda_l(r, t) dlambda_{j(i) f(r)} = z_ir u_l[q_l - 1 - t] at u_l = b.
  void add_x_curvature(const Eigen::Ref<const Eigen::MatrixXd>& X, int i, double a, int lcol,
                       Eigen::Ref<Eigen::MatrixXd> H) const;
  void add_z_curvature(int l, const Eigen::Ref<const Eigen::MatrixXd>& Z, int i, const double* b,
                       int lcol_l, int lcol, Eigen::Ref<Eigen::MatrixXd> H) const;
  // Loading gradient from G (m x q_l, the adjoint of Ztil's rows).
  void backward_z(int l, const Eigen::Ref<const Eigen::MatrixXd>& Z, int s, int m,
                  const Eigen::Ref<const Eigen::MatrixXd>& G, double* lscore) const;

 private:
  struct Col {
    int col, factor;
  };
  std::vector<int> row_level_;
  std::vector<Col> x_cols_;
  std::vector<std::vector<Col> > z_cols_;
  int n_levels_ = 0, n_factors_ = 0;
  Eigen::MatrixXd values_;
};

}  // namespace glamm

#endif
