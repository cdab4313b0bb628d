// The only file that sees Rcpp types: converts R objects to Eigen maps,
// calls the engine and converts results back. Rcpp turns C++ exceptions
// into R errors. Cluster starts arrive 0-based from R (R/fit.R).
#include <RcppEigen.h>

#include "codes.h"
#include "likelihood.h"
#include "quadrature.h"

// [[Rcpp::depends(RcppEigen)]]

using Eigen::Map;
using Eigen::MatrixXd;
using Eigen::VectorXd;

// [[Rcpp::export]]
Rcpp::List cpp_codes() {
  using namespace glamm;
  return Rcpp::List::create(
      Rcpp::Named("family") = Rcpp::IntegerVector::create(
          Rcpp::Named("gaussian") = FAMILY_GAUSSIAN, Rcpp::Named("binomial") = FAMILY_BINOMIAL,
          Rcpp::Named("poisson") = FAMILY_POISSON, Rcpp::Named("ordinal") = FAMILY_ORDINAL),
      Rcpp::Named("link") = Rcpp::IntegerVector::create(
          Rcpp::Named("identity") = LINK_IDENTITY, Rcpp::Named("logit") = LINK_LOGIT,
          Rcpp::Named("probit") = LINK_PROBIT, Rcpp::Named("cloglog") = LINK_CLOGLOG,
          Rcpp::Named("log") = LINK_LOG));
}

// [[Rcpp::export]]
Rcpp::List cpp_gauss_hermite(int K) {
  if (K < 1) Rcpp::stop("K must be >= 1");
  glamm::GaussHermite gh = glamm::gauss_hermite(K);
  return Rcpp::List::create(Rcpp::Named("nodes") = gh.nodes, Rcpp::Named("weights") = gh.weights);
}

// [[Rcpp::export]]
SEXP cpp_model_new(Rcpp::NumericMatrix X, Rcpp::NumericMatrix Z, Rcpp::NumericVector y,
                   Rcpp::NumericVector trials, Rcpp::NumericVector weights,
                   Rcpp::NumericVector offset, Rcpp::IntegerVector start, int family, int link,
                   int n_categories, int n_agq, int n_threads, double mode_tol, int mode_maxit) {
  Map<MatrixXd> Xm(X.begin(), X.nrow(), X.ncol());
  Map<MatrixXd> Zm(Z.begin(), Z.nrow(), Z.ncol());
  Map<VectorXd> ym(y.begin(), y.size()), tm(trials.begin(), trials.size()),
      wm(weights.begin(), weights.size()), om(offset.begin(), offset.size());
  glamm::ModeControl ctl;
  ctl.tol = mode_tol;
  ctl.maxit = mode_maxit;
  std::vector<int> st(start.begin(), start.end());
  glamm::Model* model = new glamm::Model(Xm, Zm, ym, tm, wm, om, st, family, link, n_categories,
                                         n_agq, n_threads < 1 ? 1 : n_threads, ctl);
  // The R vectors the maps point into are kept alive with the pointer.
  Rcpp::List keep = Rcpp::List::create(X, Z, y, trials, weights, offset);
  return Rcpp::XPtr<glamm::Model>(model, true, R_NilValue, keep);
}

// [[Rcpp::export]]
Rcpp::List cpp_model_eval(SEXP ptr, Rcpp::NumericVector beta, Rcpp::NumericMatrix Lambda,
                          Rcpp::NumericVector psi, bool gradient) {
  Rcpp::XPtr<glamm::Model> model(ptr);
  if (!model) Rcpp::stop("the model object is no longer valid (was it saved and reloaded?)");
  VectorXd b = Rcpp::as<VectorXd>(beta), ps = Rcpp::as<VectorXd>(psi);
  MatrixXd L = Rcpp::as<MatrixXd>(Lambda);
  double ll;
  glamm::Gradient g;
  int n_fail = model->eval(b, L, ps, &ll, gradient ? &g : nullptr);
  Rcpp::List out = Rcpp::List::create(Rcpp::Named("loglik") = ll, Rcpp::Named("n_fail") = n_fail);
  if (gradient && n_fail == 0) {
    out["grad_beta"] = g.beta;
    out["grad_lambda"] = g.lambda;
    out["grad_psi"] = g.psi;
  }
  return out;
}

// [[Rcpp::export]]
Rcpp::List cpp_model_posterior(SEXP ptr, Rcpp::NumericVector beta, Rcpp::NumericMatrix Lambda,
                               Rcpp::NumericVector psi) {
  Rcpp::XPtr<glamm::Model> model(ptr);
  if (!model) Rcpp::stop("the model object is no longer valid (was it saved and reloaded?)");
  glamm::Posterior post;
  int n_fail = model->posterior(Rcpp::as<VectorXd>(beta), Rcpp::as<MatrixXd>(Lambda),
                                Rcpp::as<VectorXd>(psi), &post);
  if (n_fail > 0) Rcpp::stop("the mode search failed in %d cluster(s)", n_fail);
  return Rcpp::List::create(Rcpp::Named("mode") = post.mode, Rcpp::Named("mean") = post.mean,
                            Rcpp::Named("cov") = post.cov, Rcpp::Named("mode_cov") = post.mode_cov,
                            Rcpp::Named("loglik") = post.loglik);
}
