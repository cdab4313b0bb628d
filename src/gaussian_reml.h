// The REML term of a gaussian (identity link) nested model: -1/2 log|X'V^-1X|
// and its exact gradient in the random-effect factors Lambda and log(sigma),
// with the log-likelihood and its gradient at the fixed effects beta,
// accumulated over the top-level clusters (formulas in gaussian_reml.cpp).
#ifndef GLAMM_GAUSSIAN_REML_H
#define GLAMM_GAUSSIAN_REML_H

#include <RcppEigen.h>
#include <vector>

namespace glamm {

struct RemlTerm {
  bool ok = true;
  double value = 0.0;                   // -1/2 log|M|, M = X'V^-1X
  Eigen::MatrixXd M;                    // p x p
  std::vector<Eigen::MatrixXd> grad_lambda;  // per level, q_l x q_l
  double grad_log_sigma = 0.0;
  // the log-likelihood at beta (without the constant 1/2 sum log w_i) and its gradient
  double loglik = 0.0;
  Eigen::VectorXd loglik_grad_beta;
  std::vector<Eigen::MatrixXd> loglik_grad_lambda;
  double loglik_grad_log_sigma = 0.0;
};

// Rows sorted so that every cluster of every level is a run of equal codes
// (levels innermost first, the last one the top level); offset and weights
// null for 0 and 1. Throws std::invalid_argument when a top cluster has more than
// max_dim random effects (its dense factor would be too large).
RemlTerm gaussian_reml_term(const Eigen::Map<const Eigen::MatrixXd>& X, const double* y,
                            const double* offset, const double* weights,
                            const std::vector<Eigen::Map<const Eigen::MatrixXd> >& Z,
                            const std::vector<const int*>& code, const Eigen::VectorXd& beta,
                            const std::vector<Eigen::MatrixXd>& Lambda, double log_sigma,
                            int max_dim, int n_threads);

}  // namespace glamm

#endif
