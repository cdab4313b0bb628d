// The only file that sees Rcpp types: converts R objects to Eigen maps,
// calls the engine and converts results back. Rcpp turns C++ exceptions
// into R errors. Cluster ids arrive 0-based from R (R/fit.R); levels are
// listed innermost first.
#include <RcppEigen.h>

#include "codes.h"
#include "likelihood.h"
#include "quadrature.h"

// [[Rcpp::depends(RcppEigen)]]

using Eigen::Map;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

Rcpp::XPtr<glamm::Model> model_of(SEXP ptr) {
  Rcpp::XPtr<glamm::Model> model(ptr);
  if (!model) Rcpp::stop("the model object is no longer valid (was it saved and reloaded?)");
  return model;
}

std::vector<MatrixXd> matrices(const Rcpp::List& x) {
  std::vector<MatrixXd> out;
  for (R_xlen_t l = 0; l < x.size(); ++l) out.push_back(Rcpp::as<MatrixXd>(x[l]));
  return out;
}

}  // namespace

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

// levels: list of list(Z = n x q_l matrix, node = 0-based integer cluster ids).
// [[Rcpp::export]]
SEXP cpp_model_new(Rcpp::NumericMatrix X, Rcpp::NumericVector y, Rcpp::NumericVector trials,
                   Rcpp::NumericVector weights, Rcpp::NumericVector offset, Rcpp::List levels,
                   int family, int link, int n_categories, Rcpp::IntegerVector nAGQ,
                   int n_threads, double mode_tol, int mode_maxit, bool use_tree) {
  Map<MatrixXd> Xm(X.begin(), X.nrow(), X.ncol());
  Map<VectorXd> ym(y.begin(), y.size()), tm(trials.begin(), trials.size()),
      wm(weights.begin(), weights.size()), om(offset.begin(), offset.size());
  std::vector<glamm::LevelData> lev;
  for (R_xlen_t l = 0; l < levels.size(); ++l) {
    Rcpp::List item = levels[l];
    Rcpp::NumericMatrix Z = item["Z"];
    Rcpp::IntegerVector node = item["node"];
    lev.push_back({Map<MatrixXd>(Z.begin(), Z.nrow(), Z.ncol()),
                   std::vector<int>(node.begin(), node.end())});
  }
  glamm::ModeControl ctl;
  ctl.tol = mode_tol;
  ctl.maxit = mode_maxit;
  std::vector<int> K(nAGQ.begin(), nAGQ.end());
  glamm::Model* model = new glamm::Model(Xm, ym, tm, wm, om, lev, family, link, n_categories, K,
                                         n_threads < 1 ? 1 : n_threads, ctl, use_tree);
  // The R vectors the maps point into are kept alive with the pointer.
  Rcpp::List keep = Rcpp::List::create(X, y, trials, weights, offset, levels);
  return Rcpp::XPtr<glamm::Model>(model, true, R_NilValue, keep);
}

// [[Rcpp::export]]
Rcpp::List cpp_model_eval(SEXP ptr, Rcpp::NumericVector beta, Rcpp::List Lambda,
                          Rcpp::NumericVector psi, bool gradient, bool scores) {
  Rcpp::XPtr<glamm::Model> model = model_of(ptr);
  double ll;
  glamm::Gradient g;
  int n_fail = model->eval(Rcpp::as<VectorXd>(beta), matrices(Lambda), Rcpp::as<VectorXd>(psi),
                           &ll, gradient ? &g : nullptr, scores);
  Rcpp::List out = Rcpp::List::create(Rcpp::Named("loglik") = ll, Rcpp::Named("n_fail") = n_fail);
  if (gradient && n_fail == 0) {
    out["grad_beta"] = g.beta;
    Rcpp::List gl(g.lambda.size());
    for (size_t l = 0; l < g.lambda.size(); ++l) gl[l] = g.lambda[l];
    out["grad_lambda"] = gl;
    out["grad_psi"] = g.psi;
    if (scores) out["scores"] = g.scores;
  }
  return out;
}

// [[Rcpp::export]]
Rcpp::List cpp_model_posterior(SEXP ptr, Rcpp::NumericVector beta, Rcpp::List Lambda,
                               Rcpp::NumericVector psi) {
  Rcpp::XPtr<glamm::Model> model = model_of(ptr);
  glamm::Posterior post;
  int n_fail = model->posterior(Rcpp::as<VectorXd>(beta), matrices(Lambda),
                                Rcpp::as<VectorXd>(psi), &post);
  if (n_fail > 0) Rcpp::stop("the mode search failed in %d cluster(s)", n_fail);
  Rcpp::List levels(post.level.size());
  for (size_t l = 0; l < post.level.size(); ++l) {
    const glamm::LevelPosterior& lp = post.level[l];
    levels[l] = Rcpp::List::create(Rcpp::Named("mode") = lp.mode, Rcpp::Named("mean") = lp.mean,
                                   Rcpp::Named("cov") = lp.cov,
                                   Rcpp::Named("mode_cov") = lp.mode_cov);
  }
  return Rcpp::List::create(Rcpp::Named("levels") = levels, Rcpp::Named("loglik") = post.loglik);
}
