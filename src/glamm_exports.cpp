// The engine's boundary with R: converts R objects to Eigen maps, calls the
// engine and converts results back (grouping.cpp holds R-side helpers).
// Rcpp turns C++ exceptions into R errors. Each level's clusters arrive as
// integer codes in the sorted row order (R/fit.R); levels are listed
// innermost first.
#include <RcppEigen.h>
#include <R_ext/Altrep.h>

#include <algorithm>
#include <cmath>

#include "codes.h"
#include "compress_rows.h"
#include "family_floor.h"
#include "gaussian_reml.h"
#include "interrupt.h"
#include "likelihood.h"
#include "multinomial.h"
#include "quadrature.h"
#include "selected_inverse.h"
#include "sparse_laplace.h"

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

// Read-only maps of R's data. REAL_RO reads an ALTREP wrapper (what R makes
// of a matrix whose attributes changed, e.g. after rownames(X) <- NULL) in
// place, where REAL() or Rcpp's begin() would duplicate it.
Map<const MatrixXd> matrix_map(SEXP M, int n, const char* what) {
  if (TYPEOF(M) != REALSXP || !Rf_isMatrix(M) || Rf_nrows(M) != n)
    Rcpp::stop("'%s' must be a double matrix with one row per observation", what);
  return Map<const MatrixXd>(REAL_RO(M), n, Rf_ncols(M));
}

// A vector of n values, or (when empty_ok) none.
Map<const VectorXd> vector_map(SEXP v, int n, const char* what, bool empty_ok = false) {
  if (TYPEOF(v) != REALSXP || (Rf_xlength(v) != n && !(empty_ok && Rf_xlength(v) == 0)))
    Rcpp::stop("'%s' must be a double vector with one value per observation", what);
  return Map<const VectorXd>(REAL_RO(v), Rf_xlength(v));
}

// The objects whose memory a map of x reads: x and, when x is an ALTREP
// wrapper (R's shallow copy after an attribute change), the vectors it wraps.
// A wrapper replaces its wrapped vector by a copy when C code asks it for a
// writable pointer while the vector is shared; the old vector, which the
// engine reads, must then stay alive.
void keep_storage(SEXP x, std::vector<SEXP>& keep) {
  keep.push_back(x);
  while (ALTREP(x) && TYPEOF(R_altrep_data1(x)) == TYPEOF(x)) {
    x = R_altrep_data1(x);
    keep.push_back(x);
  }
}

std::vector<MatrixXd> matrices(const Rcpp::List& x) {
  std::vector<MatrixXd> out;
  for (R_xlen_t l = 0; l < x.size(); ++l) out.push_back(Rcpp::as<MatrixXd>(x[l]));
  return out;
}

// The R list that keeps the vectors in `storage` alive with an engine pointer.
Rcpp::List keep_list(const std::vector<SEXP>& storage) {
  Rcpp::List keep(storage.size());
  for (size_t k = 0; k < storage.size(); ++k) keep[k] = storage[k];
  return keep;
}

// One evaluation of an engine (the tree Model or the SparseLaplace) as an R
// list: loglik, n_fail and, when asked and every mode search succeeded, the
// gradient blocks and the per-top-cluster scores.
template <class Engine>
Rcpp::List evaluate(Engine& model, const Rcpp::NumericVector& beta, const Rcpp::List& Lambda,
                    const Rcpp::NumericVector& psi, bool gradient, bool scores) {
  double ll;
  glamm::Gradient g;
  int n_fail = 0;
  try {
    n_fail = model.eval(Rcpp::as<VectorXd>(beta), matrices(Lambda), Rcpp::as<VectorXd>(psi), &ll,
                        gradient ? &g : nullptr, scores);
  } catch (const glamm::Interrupted&) {
    throw Rcpp::internal::InterruptedException();  // R's interrupt, after the C++ frames unwind
  }
  Rcpp::List out = Rcpp::List::create(Rcpp::Named("loglik") = ll, Rcpp::Named("n_fail") = n_fail);
  if (gradient && n_fail == 0) {
    out["grad_beta"] = g.beta;
    Rcpp::List gl(g.lambda.size());
    for (size_t l = 0; l < g.lambda.size(); ++l) gl[l] = g.lambda[l];
    out["grad_lambda"] = gl;
    out["grad_psi"] = g.psi;
    if (g.loading.size()) out["grad_loading"] = g.loading;
    if (scores) out["scores"] = g.scores;
  }
  return out;
}

// The posterior of an engine's random effects as an R list: per level the
// modes, means and covariances, and the log-likelihood; a failed mode
// search is an error naming the number of clusters.
template <class Engine>
Rcpp::List posterior(Engine& model, const Rcpp::NumericVector& beta, const Rcpp::List& Lambda,
                     const Rcpp::NumericVector& psi) {
  glamm::Posterior post;
  int n_fail = 0;
  try {
    n_fail = model.posterior(Rcpp::as<VectorXd>(beta), matrices(Lambda), Rcpp::as<VectorXd>(psi),
                             &post);
  } catch (const glamm::Interrupted&) {
    throw Rcpp::internal::InterruptedException();
  }
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

Rcpp::XPtr<glamm::SparseLaplace> sparse_of(SEXP ptr) {
  Rcpp::XPtr<glamm::SparseLaplace> model(ptr);
  if (!model) Rcpp::stop("the model object is no longer valid (was it saved and reloaded?)");
  return model;
}

}  // namespace

// [[Rcpp::export]]
Rcpp::List cpp_codes() {
  using namespace glamm;
  return Rcpp::List::create(
      Rcpp::Named("family") = Rcpp::IntegerVector::create(
          Rcpp::Named("gaussian") = FAMILY_GAUSSIAN, Rcpp::Named("binomial") = FAMILY_BINOMIAL,
          Rcpp::Named("poisson") = FAMILY_POISSON, Rcpp::Named("ordinal") = FAMILY_ORDINAL,
          Rcpp::Named("Gamma") = FAMILY_GAMMA, Rcpp::Named("nbinom2") = FAMILY_NBINOM2,
          Rcpp::Named("multinomial") = FAMILY_MULTINOMIAL),
      Rcpp::Named("link") = Rcpp::IntegerVector::create(
          Rcpp::Named("identity") = LINK_IDENTITY, Rcpp::Named("logit") = LINK_LOGIT,
          Rcpp::Named("probit") = LINK_PROBIT, Rcpp::Named("cloglog") = LINK_CLOGLOG,
          Rcpp::Named("log") = LINK_LOG, Rcpp::Named("inverse") = LINK_INVERSE));
}

// One multinomial unit (src/multinomial.h), for the tests of its derivatives:
// the value, g, W and the third-derivative contraction r with S.
// [[Rcpp::export]]
Rcpp::List cpp_multinomial_unit(Rcpp::NumericVector y, double w, Rcpp::NumericVector eta,
                                Rcpp::NumericMatrix S) {
  const int d = eta.size();
  if (y.size() != d || S.nrow() != d || S.ncol() != d || d < 1 || d > 32)
    Rcpp::stop("y, eta and S must have d = 1..32 entries (S: d x d)");
  Rcpp::NumericVector g(d), r(d);
  Rcpp::NumericMatrix W(d, d);
  double l = glamm::multinomial_unit(y.begin(), w, eta.begin(), d, g.begin(), W.begin(),
                                     S.begin(), r.begin());
  return Rcpp::List::create(Rcpp::Named("l") = l, Rcpp::Named("g") = g, Rcpp::Named("W") = W,
                            Rcpp::Named("r") = r);
}

// [[Rcpp::export]]
Rcpp::List cpp_gauss_hermite(int K) {
  if (K < 1) Rcpp::stop("K must be >= 1");
  glamm::GaussHermite gh = glamm::gauss_hermite(K);
  return Rcpp::List::create(Rcpp::Named("nodes") = gh.nodes, Rcpp::Named("weights") = gh.weights);
}

// Whether each column of M (a vector is one column) is finite, without the
// n x p logical temporary of colSums(!is.finite(M)).
// [[Rcpp::export]]
Rcpp::LogicalVector cpp_finite_columns(SEXP M) {
  const int type = TYPEOF(M);
  if (type != REALSXP && type != INTSXP && type != LGLSXP) Rcpp::stop("a numeric matrix is needed");
  const bool matrix = Rf_isMatrix(M);
  const R_xlen_t nr = matrix ? Rf_nrows(M) : Rf_xlength(M);
  const int nc = matrix ? Rf_ncols(M) : 1;
  Rcpp::LogicalVector out(nc, true);
  for (int j = 0; j < nc; ++j) {
    const R_xlen_t first = static_cast<R_xlen_t>(j) * nr;
    for (R_xlen_t i = first; i < first + nr; ++i) {
      const bool finite = type == REALSXP ? std::isfinite(REAL_RO(M)[i])
                                          : INTEGER_RO(M)[i] != NA_INTEGER;
      if (!finite) {
        out[j] = false;
        break;
      }
    }
  }
  return out;
}

// X'X, reading X in place (crossprod() may copy an ALTREP wrapper).
// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_crossprod(SEXP X) {
  Map<const MatrixXd> Xm = matrix_map(X, Rf_nrows(X), "X");
  MatrixXd out = MatrixXd::Zero(Xm.cols(), Xm.cols());
  out.selfadjointView<Eigen::Lower>().rankUpdate(Xm.transpose());
  out.triangularView<Eigen::StrictlyUpper>() = out.transpose();
  return Rcpp::wrap(out);
}

// Column means and standard deviations (denominator n - 1) of X, two passes,
// reading X in place.
// [[Rcpp::export]]
Rcpp::List cpp_column_moments(SEXP X) {
  const int n = Rf_nrows(X);
  Map<const MatrixXd> Xm = matrix_map(X, n, "X");
  VectorXd mean = Xm.colwise().mean().transpose();
  VectorXd sd(Xm.cols());
  for (int j = 0; j < Xm.cols(); ++j) {
    const double ss = (Xm.col(j).array() - mean(j)).square().sum();
    sd(j) = n > 1 ? std::sqrt(ss / (n - 1)) : NA_REAL;
  }
  return Rcpp::List::create(Rcpp::Named("mean") = mean, Rcpp::Named("sd") = sd);
}

// The number of rows with eta = X beta + offset outside [lo, hi] among those
// with positive weight and trials (empty vectors: 1 on every row), reading X
// in place.
// [[Rcpp::export]]
int cpp_count_eta_outside(SEXP X, Rcpp::NumericVector beta, SEXP offset, SEXP weights,
                          SEXP trials, double lo, double hi) {
  const int n = Rf_nrows(X);
  Map<const MatrixXd> Xm = matrix_map(X, n, "X");
  Map<const VectorXd> off = vector_map(offset, n, "offset", true),
                      w = vector_map(weights, n, "weights", true),
                      tr = vector_map(trials, n, "trials", true);
  if (beta.size() != Xm.cols()) Rcpp::stop("one coefficient per column of X is needed");
  Map<const VectorXd> b(beta.begin(), beta.size());
  int count = 0;
  for (int i = 0; i < n; ++i) {
    if ((w.size() && w(i) <= 0) || (tr.size() && tr(i) <= 0)) continue;
    const double eta = Xm.row(i).dot(b) + (off.size() ? off(i) : 0.0);
    if (eta < lo || eta > hi) ++count;
  }
  return count;
}

// levels: list of list(Z = n x q_l matrix, node = integer cluster codes, a
// cluster being a run of equal codes in the sorted rows, and optionally
// weight = the survey weight of each row's cluster given its parent, for
// levels below the top). trials, weights
// and offset may be empty (1, 1 and 0 on every row); so may the survey
// weights power (row powers of log f) and top_weight (per row, constant in
// each top cluster), which are then 1.
// [[Rcpp::export]]
SEXP cpp_model_new(SEXP X, SEXP y, SEXP trials, SEXP weights, SEXP power, SEXP top_weight,
                   SEXP offset, Rcpp::List levels,
                   int family, int link, int n_categories, Rcpp::IntegerVector nAGQ,
                   int n_threads, double mode_tol, int mode_maxit, bool use_tree) {
  const int n = Rf_nrows(X);
  std::vector<glamm::LevelData> lev;
  for (R_xlen_t l = 0; l < levels.size(); ++l) {
    Rcpp::List item = levels[l];
    SEXP Z = item["Z"], node = item["node"];
    if (TYPEOF(node) != INTSXP || Rf_xlength(node) != n)
      Rcpp::stop("each level needs an integer cluster code for every row");
    lev.push_back({matrix_map(Z, n, "Z"), INTEGER_RO(node)});
    if (item.containsElementNamed("weight")) {
      SEXP wt = item["weight"];
      if (TYPEOF(wt) != REALSXP || Rf_xlength(wt) != n)
        Rcpp::stop("a level's survey weights need one number for every row");
      lev.back().weight = REAL_RO(wt);
    }
  }
  glamm::ModeControl ctl;
  ctl.tol = mode_tol;
  ctl.maxit = mode_maxit;
  std::vector<int> K(nAGQ.begin(), nAGQ.end());
  glamm::Model* model = new glamm::Model(
      matrix_map(X, n, "X"), vector_map(y, n, "y"), vector_map(trials, n, "trials", true),
      vector_map(weights, n, "weights", true), vector_map(power, n, "power", true),
      vector_map(top_weight, n, "top_weight", true), vector_map(offset, n, "offset", true), lev,
      family, link, n_categories, K, n_threads < 1 ? 1 : n_threads, ctl, use_tree);
  // The R vectors the maps point into are kept alive with the pointer.
  std::vector<SEXP> storage;
  for (SEXP v : {X, y, trials, weights, power, top_weight, offset}) keep_storage(v, storage);
  for (R_xlen_t l = 0; l < levels.size(); ++l) {
    Rcpp::List item = levels[l];
    keep_storage(item["Z"], storage);
    keep_storage(item["node"], storage);
    if (item.containsElementNamed("weight")) keep_storage(item["weight"], storage);
  }
  return Rcpp::XPtr<glamm::Model>(model, true, R_NilValue, keep_list(storage));
}

// [[Rcpp::export]]
Rcpp::List cpp_model_eval(SEXP ptr, Rcpp::NumericVector beta, Rcpp::List Lambda,
                          Rcpp::NumericVector psi, bool gradient, bool scores) {
  Rcpp::XPtr<glamm::Model> model = model_of(ptr);
  return evaluate(*model, beta, Lambda, psi, gradient, scores);
}

// [[Rcpp::export]]
Rcpp::List cpp_model_posterior(SEXP ptr, Rcpp::NumericVector beta, Rcpp::List Lambda,
                               Rcpp::NumericVector psi) {
  Rcpp::XPtr<glamm::Model> model = model_of(ptr);
  return posterior(*model, beta, Lambda, psi);
}

// The sparse global Laplace (crossed designs). levels: list of list(Z = n x
// q_l matrix, cluster = 0-based integer cluster of every row, n_clusters =);
// rows in any order. trials, weights and offset may be empty (1, 1 and 0).
// [[Rcpp::export]]
SEXP cpp_sparse_new(SEXP X, SEXP y, SEXP trials, SEXP weights, SEXP offset, Rcpp::List levels,
                    int family, int link, int n_categories, int n_threads, double mode_tol,
                    int mode_maxit) {
  const int n = Rf_nrows(X);
  std::vector<glamm::SparseLevelData> lev;
  for (R_xlen_t l = 0; l < levels.size(); ++l) {
    Rcpp::List item = levels[l];
    SEXP Z = item["Z"], cluster = item["cluster"];
    if (TYPEOF(cluster) != INTSXP || Rf_xlength(cluster) != n)
      Rcpp::stop("each level needs an integer cluster for every row");
    lev.push_back({matrix_map(Z, n, "Z"), INTEGER_RO(cluster), Rcpp::as<int>(item["n_clusters"])});
  }
  glamm::ModeControl ctl;
  ctl.tol = mode_tol;
  ctl.maxit = mode_maxit;
  glamm::SparseLaplace* model = new glamm::SparseLaplace(
      matrix_map(X, n, "X"), vector_map(y, n, "y"), vector_map(trials, n, "trials", true),
      vector_map(weights, n, "weights", true), vector_map(offset, n, "offset", true), lev, family,
      link, n_categories, n_threads < 1 ? 1 : n_threads, ctl);
  std::vector<SEXP> storage;
  for (SEXP v : {X, y, trials, weights, offset}) keep_storage(v, storage);
  for (R_xlen_t l = 0; l < levels.size(); ++l) {
    Rcpp::List item = levels[l];
    keep_storage(item["Z"], storage);
    keep_storage(item["cluster"], storage);
  }
  return Rcpp::XPtr<glamm::SparseLaplace>(model, true, R_NilValue, keep_list(storage));
}

// The same list as cpp_model_eval().
// [[Rcpp::export]]
Rcpp::List cpp_sparse_eval(SEXP ptr, Rcpp::NumericVector beta, Rcpp::List Lambda,
                           Rcpp::NumericVector psi, bool gradient, bool scores) {
  Rcpp::XPtr<glamm::SparseLaplace> model = sparse_of(ptr);
  return evaluate(*model, beta, Lambda, psi, gradient, scores);
}

// Per level: the modes (standardized scale) and the blocks of H^{-1} of its
// clusters, in the layout of cpp_model_posterior() (mean = mode, cov =
// mode_cov); loglik has one element.
// [[Rcpp::export]]
Rcpp::List cpp_sparse_posterior(SEXP ptr, Rcpp::NumericVector beta, Rcpp::List Lambda,
                                Rcpp::NumericVector psi) {
  Rcpp::XPtr<glamm::SparseLaplace> model = sparse_of(ptr);
  return posterior(*model, beta, Lambda, psi);
}

// The selected inverse (selected_inverse.h) of a symmetric positive definite
// matrix given dense, in its natural order (for tests): H^{-1} on the
// pattern of the Cholesky factor of its lower triangle, NA elsewhere.
// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_selected_inverse(Rcpp::NumericMatrix H) {
  const int N = H.nrow();
  if (H.ncol() != N) Rcpp::stop("H must be square");
  MatrixXd lower = Rcpp::as<MatrixXd>(H).triangularView<Eigen::Lower>();
  Eigen::SparseMatrix<double> S = lower.sparseView();
  Eigen::SimplicialLLT<Eigen::SparseMatrix<double>, Eigen::Lower, Eigen::NaturalOrdering<int> > llt(S);
  if (llt.info() != Eigen::Success) Rcpp::stop("H is not positive definite");
  const Eigen::SparseMatrix<double>& L = llt.matrixL().nestedExpression();
  VectorXd Z;
  std::vector<int> work(N, -1);
  glamm::selected_inverse(L, Z, work);
  Rcpp::NumericMatrix out(N, N);
  std::fill(out.begin(), out.end(), NA_REAL);
  for (int j = 0; j < N; ++j)
    for (int p = L.outerIndexPtr()[j]; p < L.outerIndexPtr()[j + 1]; ++p) {
      out(L.innerIndexPtr()[p], j) = Z[p];
      out(j, L.innerIndexPtr()[p]) = Z[p];
    }
  return out;
}

// The REML term -1/2 log|X'V^-1X| of a gaussian model with its gradient, and
// the log-likelihood at beta with its gradient (gaussian_reml.cpp), on the
// engine's sorted rows: levels as for cpp_model_new (list(Z, node),
// innermost first), offset and weights empty for 0 and 1.
// [[Rcpp::export]]
Rcpp::List cpp_gaussian_reml(SEXP X, SEXP y, SEXP offset, SEXP weights, Rcpp::List levels,
                             Rcpp::NumericVector beta, Rcpp::List Lambda, double log_sigma,
                             int max_dim, int n_threads) {
  const int n = Rf_nrows(X);
  Map<const MatrixXd> Xm = matrix_map(X, n, "X");
  Map<const VectorXd> yv = vector_map(y, n, "y");
  Map<const VectorXd> off = vector_map(offset, n, "offset", true);
  Map<const VectorXd> w = vector_map(weights, n, "weights", true);
  if (beta.size() != Xm.cols()) Rcpp::stop("'beta' must have one value per column of X");
  std::vector<Map<const MatrixXd> > Z;
  std::vector<const int*> code;
  for (R_xlen_t l = 0; l < levels.size(); ++l) {
    Rcpp::List lev = levels[l];
    SEXP Zl = lev["Z"], node = lev["node"];
    Z.push_back(matrix_map(Zl, n, "Z"));
    if (TYPEOF(node) != INTSXP || Rf_xlength(node) != n)
      Rcpp::stop("each level's 'node' must be an integer vector with one value per observation");
    code.push_back(INTEGER_RO(node));
  }
  std::vector<MatrixXd> lambda = matrices(Lambda);
  if (lambda.size() != Z.size()) Rcpp::stop("one Lambda per level is needed");
  glamm::RemlTerm term;
  try {
    term = glamm::gaussian_reml_term(Xm, yv.data(), off.size() ? off.data() : nullptr,
                                     w.size() ? w.data() : nullptr, Z, code,
                                     Rcpp::as<VectorXd>(beta), lambda, log_sigma, max_dim,
                                     n_threads);
  } catch (const std::invalid_argument& e) {
    Rcpp::stop(e.what());
  }
  Rcpp::List gl(term.grad_lambda.size()), ll_gl(term.loglik_grad_lambda.size());
  for (size_t l = 0; l < term.grad_lambda.size(); ++l) gl[l] = term.grad_lambda[l];
  for (size_t l = 0; l < term.loglik_grad_lambda.size(); ++l) ll_gl[l] = term.loglik_grad_lambda[l];
  return Rcpp::List::create(Rcpp::Named("ok") = term.ok, Rcpp::Named("value") = term.value,
                            Rcpp::Named("M") = term.M, Rcpp::Named("grad_lambda") = gl,
                            Rcpp::Named("grad_log_sigma") = term.grad_log_sigma,
                            Rcpp::Named("loglik") = term.loglik,
                            Rcpp::Named("loglik_grad_beta") = term.loglik_grad_beta,
                            Rcpp::Named("loglik_grad_lambda") = ll_gl,
                            Rcpp::Named("loglik_grad_log_sigma") = term.loglik_grad_log_sigma);
}

// The arithmetic floor of a pass (bench/pass.R): sum_k sum_i l(y_i, eta_i + shift_k).
// [[Rcpp::export]]
double cpp_family_floor(int family, int link, Rcpp::NumericVector y, Rcpp::NumericVector eta,
                        Rcpp::NumericVector shift) {
  if (y.size() != eta.size()) Rcpp::stop("'y' and 'eta' must have the same length");
  std::unique_ptr<glamm::Family> f = glamm::make_family(family, link, 0);
  return glamm::family_floor(*f, y.begin(), eta.begin(), static_cast<int>(y.size()),
                             shift.begin(), static_cast<int>(shift.size()));
}

// The sparse Laplace's log-likelihood with its gradient and the REML term
// -1/2 log|X'V^-1X| with its gradient (sparse_reml.cpp), in the list of
// cpp_gaussian_reml(), for a gaussian identity-link model.
// [[Rcpp::export]]
Rcpp::List cpp_sparse_reml(SEXP ptr, Rcpp::NumericVector beta, Rcpp::List Lambda,
                           Rcpp::NumericVector psi) {
  Rcpp::XPtr<glamm::SparseLaplace> model = sparse_of(ptr);
  double ll;
  glamm::Gradient g;
  glamm::RemlTerm term;
  try {
    term.ok = model->eval(Rcpp::as<VectorXd>(beta), matrices(Lambda), Rcpp::as<VectorXd>(psi),
                          &ll, &g, false) == 0 && model->reml_term(&term);
  } catch (const glamm::Interrupted&) {
    throw Rcpp::internal::InterruptedException();
  }
  if (!term.ok) return Rcpp::List::create(Rcpp::Named("ok") = false);
  Rcpp::List gl(term.grad_lambda.size()), ll_gl(g.lambda.size());
  for (size_t l = 0; l < term.grad_lambda.size(); ++l) gl[l] = term.grad_lambda[l];
  for (size_t l = 0; l < g.lambda.size(); ++l) ll_gl[l] = g.lambda[l];
  return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("value") = term.value,
                            Rcpp::Named("M") = term.M, Rcpp::Named("grad_lambda") = gl,
                            Rcpp::Named("grad_log_sigma") = term.grad_log_sigma,
                            Rcpp::Named("loglik") = ll,
                            Rcpp::Named("loglik_grad_beta") = g.beta,
                            Rcpp::Named("loglik_grad_lambda") = ll_gl,
                            Rcpp::Named("loglik_grad_log_sigma") = g.psi[0]);
}

// Gaussian rows compressed within runs (compress_rows.cpp): A is n x k,
// run_start the 0-based first rows of the runs followed by n. Returns the
// rows (n_out x k) and the 1-based run of each.
// [[Rcpp::export]]
Rcpp::List cpp_compress_rows(SEXP A, Rcpp::IntegerVector run_start, double threshold) {
  const int n = Rf_nrows(A);
  std::vector<int> starts(run_start.begin(), run_start.end());
  if (starts.empty() || starts.front() != 0 || starts.back() != n ||
      !std::is_sorted(starts.begin(), starts.end()))
    Rcpp::stop("'run_start' must rise from 0 to the number of rows");
  glamm::CompressedRows out = glamm::compress_rows(matrix_map(A, n, "A"), starts, threshold);
  Rcpp::IntegerVector run(out.run.begin(), out.run.end());
  return Rcpp::List::create(Rcpp::Named("rows") = out.rows, Rcpp::Named("run") = run + 1);
}

// The GLS fixed effects of a gaussian identity-link sparse model at the
// covariance parameters (sparse_reml.cpp), from one evaluation at beta:
// list(ok, beta, M) with M = X'V^-1X.
// [[Rcpp::export]]
Rcpp::List cpp_sparse_gls(SEXP ptr, Rcpp::NumericVector beta, Rcpp::List Lambda,
                          Rcpp::NumericVector psi) {
  Rcpp::XPtr<glamm::SparseLaplace> model = sparse_of(ptr);
  double ll;
  VectorXd b = Rcpp::as<VectorXd>(beta), step;
  MatrixXd M;
  bool ok;
  try {
    ok = model->eval(b, matrices(Lambda), Rcpp::as<VectorXd>(psi), &ll, nullptr, false) == 0 &&
         model->gls_step(&step, &M);
  } catch (const glamm::Interrupted&) {
    throw Rcpp::internal::InterruptedException();
  }
  if (!ok) return Rcpp::List::create(Rcpp::Named("ok") = false);
  return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("beta") = VectorXd(b + step),
                            Rcpp::Named("M") = M);
}
