// R's boundary for the engine's observed information by Louis' identity
// (likelihood_hessian.cpp): H = d2 log L / dtheta2 in the score space of the
// parameter layer (beta, vec(Lambda_l) per level, vec(lambda) of the
// loadings), where R selects its free parameters.
#include <RcppEigen.h>

#include <vector>

#include "interrupt.h"
#include "likelihood.h"

// [[Rcpp::depends(RcppEigen)]]

namespace {

glamm::Model& model_from(SEXP ptr) {
  Rcpp::XPtr<glamm::Model> model(ptr);
  if (!model) Rcpp::stop("the model object is no longer valid (was it saved and reloaded?)");
  return *model;
}

}  // namespace

// Whether the model has the Louis information (one level of random effects,
// a family without extra parameters).
// [[Rcpp::export]]
bool cpp_model_has_louis(SEXP ptr) { return model_from(ptr).louis_available(); }

// list(n_fail, hessian): hessian is the n_score x n_score information's
// negative on a rule of K points per effect, NULL when a cluster's mode
// search failed.
// [[Rcpp::export]]
Rcpp::List cpp_model_louis(SEXP ptr, Rcpp::NumericVector beta, Rcpp::List Lambda,
                           Rcpp::NumericVector psi, int K) {
  glamm::Model& model = model_from(ptr);
  std::vector<Eigen::MatrixXd> lambda;
  for (R_xlen_t l = 0; l < Lambda.size(); ++l)
    lambda.push_back(Rcpp::as<Eigen::MatrixXd>(Lambda[l]));
  Eigen::MatrixXd H;
  int n_fail = 0;
  try {
    n_fail = model.louis_hessian(Rcpp::as<Eigen::VectorXd>(beta), lambda,
                                 Rcpp::as<Eigen::VectorXd>(psi), K, &H);
  } catch (const glamm::Interrupted&) {
    throw Rcpp::internal::InterruptedException();
  }
  if (n_fail > 0)
    return Rcpp::List::create(Rcpp::Named("n_fail") = n_fail, Rcpp::Named("hessian") = R_NilValue);
  return Rcpp::List::create(Rcpp::Named("n_fail") = n_fail, Rcpp::Named("hessian") = H);
}
