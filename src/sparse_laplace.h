// The sparse global Laplace approximation, for random effects whose grouping
// factors cross (or nest in a way the tree integrator does not take). All
// standardized effects form one vector u ~ N(0, I) and, with the effective
// design T (design.h; row i's non-zeros T_i at its clusters' columns),
//   g(u) = sum_i l_i(eta_fix_i + T_i u) - |u|^2 / 2 ,
//   log L ~= g(u^) - log|H| / 2 ,   H = T' W T + I ,  W = diag(-l''_i) at u^ ,
// u^ by Newton's method with step halving, warm-started from the last
// evaluation (for a gaussian response with the identity link, one step). The exact gradient (envelope theorem, the implicit derivative of
// u^ and d log|H| = tr(S dH), S = H^{-1} on the pattern of the factor):
//   h_i = T_i S T_i' / 2 ,  r_i = l'''_i h_i ,  nu = S T' r ,
//   ebar_i = l'_i + l''_i T_i nu + r_i ,
//   Tbar_i = l'_i nu' + ebar_i u^' + l''_i T_i S   (row i's columns only),
//   psibar = sum_i [dl_i/dpsi + (T_i nu) dl'_i/dpsi + h_i dl''_i/dpsi],
// and the parameter layer takes (ebar, Tbar) back to beta and Lambda.
// Row passes run in parallel over fixed chunks of rows; sums over rows are
// reduced in chunk order, so results do not depend on the thread count.
// The factorization is Eigen's SimplicialLLT (in a fill-reducing order fixed
// once, sparse_structure.h), or, when the factor ends in a dense block of at
// least 8 columns, the blocked factorization of schur_factor.h.
#ifndef GLAMM_SPARSE_LAPLACE_H
#define GLAMM_SPARSE_LAPLACE_H

#include <RcppEigen.h>

#include <memory>
#include <vector>

#include "cluster.h"
#include "design.h"
#include "family.h"
#include "gaussian_reml.h"
#include "likelihood.h"
#include "schur_factor.h"
#include "sparse_structure.h"

namespace glamm {

struct SparseLevelData {
  Eigen::Map<const Eigen::MatrixXd> Z;  // n x q_l
  const int* cluster;                   // per row, 0-based cluster
  int n_clusters;
};

class SparseLaplace {
 public:
  SparseLaplace(const Eigen::Map<const Eigen::MatrixXd>& X, const Eigen::Map<const Eigen::VectorXd>& y,
                const Eigen::Map<const Eigen::VectorXd>& trials,
                const Eigen::Map<const Eigen::VectorXd>& weights,
                const Eigen::Map<const Eigen::VectorXd>& offset,
                const std::vector<SparseLevelData>& levels, int family, int link, int n_categories,
                int n_threads, const ModeControl& ctl);

  int n_extra() const { return family_->n_extra(); }
  Design& design() { return design_; }  // factor loadings (loadings.h)
  void loadings_changed() {}
  int n_effects() const { return structure_.Q(); }
  // As Model::eval (likelihood.h): returns 1 when the mode search failed.
  int eval(const Eigen::VectorXd& beta, const std::vector<Eigen::MatrixXd>& Lambda,
           const Eigen::VectorXd& psi, double* loglik, Gradient* grad, bool want_scores);
  // Modes and (H^{-1}) blocks per cluster; loglik has one element.
  int posterior(const Eigen::VectorXd& beta, const std::vector<Eigen::MatrixXd>& Lambda,
                const Eigen::VectorXd& psi, Posterior* post);
  // After a successful eval() of a gaussian identity-link model: the REML
  // term -1/2 log|X'V^-1X|, X'V^-1X and the term's gradient in Lambda and
  // log(sigma) (sparse_reml.cpp); false when X'V^-1X is not positive definite.
  bool reml_term(RemlTerm* out);
  // After a successful eval() of a gaussian identity-link model: the step to
  // the GLS fixed effects, beta^ - beta, and X'V^-1X (sparse_reml.cpp).
  bool gls_step(Eigen::VectorXd* step, Eigen::MatrixXd* M) const;

 private:
  typedef Eigen::SimplicialLLT<Eigen::SparseMatrix<double>, Eigen::Upper,
                               Eigen::NaturalOrdering<int> > Factor;
  // eta, l', l'', l''' at u; returns g(u) (-inf when not finite).
  double row_pass(const Eigen::VectorXd& u);
  // H at the current derivatives, factored; false when not positive definite.
  bool factor_curvature();
  // Newton's method for u^ from the warm start; false on failure.
  bool find_mode(double* g_mode);
  int prepare(const Eigen::VectorXd& beta, const std::vector<Eigen::MatrixXd>& Lambda,
              const Eigen::VectorXd& psi, double* loglik);
  void gradient(Gradient* grad, bool want_scores);
  // A = H^-1 T'DX and the rows r_i' = x_i' - T_i A of the REML term.
  void gls_parts(Eigen::MatrixXd* A, Eigen::MatrixXd* Res) const;
  const Eigen::SparseMatrix<double>& factor_L() const {
    return schur_ ? schur_->L() : factor_.matrixL().nestedExpression();
  }
  Eigen::VectorXd solve(const Eigen::VectorXd& b) const {
    return schur_ ? schur_->solve(b) : Eigen::VectorXd(factor_.solve(b));
  }

  Design design_;
  Responses response_;
  std::unique_ptr<Family> family_;
  SparseStructure structure_;
  Factor factor_;  // the first factorization, and any without a dense trailing block
  std::unique_ptr<SchurFactor> schur_;  // from the second on, when L ends in a dense block
  bool factor_located_ = false;
  int n_threads_;
  ModeControl ctl_;
  bool quadratic_;  // gaussian with the identity link: one Newton step finds the mode
  Eigen::VectorXd u_, u_warm_, eta_fix_, eta_, d1_, d2_, d3_, chunk_sum_, selected_;
  Eigen::MatrixXd T_;  // n x R
  std::vector<int> work_;
};

}  // namespace glamm

#endif
