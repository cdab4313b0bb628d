// R's boundary for factor loadings (loadings.h): the loading map of an
// engine (the tree Model or the SparseLaplace), set once after it is built,
// and the loading values, set before each evaluation.
#include <RcppEigen.h>

#include <stdexcept>
#include <vector>

#include "likelihood.h"
#include "sparse_laplace.h"

// [[Rcpp::depends(RcppEigen)]]

namespace {

template <class Engine>
Engine& engine_of(SEXP ptr) {
  Rcpp::XPtr<Engine> model(ptr);
  if (!model) Rcpp::stop("the model object is no longer valid (was it saved and reloaded?)");
  return *model;
}

template <class Engine>
void set_map(Engine& model, const Rcpp::IntegerVector& row_level,
             const Rcpp::IntegerVector& x_factor, const Rcpp::List& z_factor, int n_levels,
             int n_factors) {
  std::vector<std::vector<int> > zf;
  for (R_xlen_t l = 0; l < z_factor.size(); ++l) {
    Rcpp::IntegerVector f = z_factor[l];
    zf.push_back(std::vector<int>(f.begin(), f.end()));
  }
  model.design().set_loading_map(std::vector<int>(row_level.begin(), row_level.end()),
                                 std::vector<int>(x_factor.begin(), x_factor.end()), zf, n_levels,
                                 n_factors);
  model.loadings_changed();
}

}  // namespace

// row_level: 0-based level of the loading variable of every row (in the
// engine's row order); x_factor: per X column, z_factor: per level a vector
// per Z column, the 0-based factor or -1.
// [[Rcpp::export]]
void cpp_set_loading_map(SEXP ptr, bool sparse, Rcpp::IntegerVector row_level,
                         Rcpp::IntegerVector x_factor, Rcpp::List z_factor, int n_levels,
                         int n_factors) {
  if (sparse) {
    set_map(engine_of<glamm::SparseLaplace>(ptr), row_level, x_factor, z_factor, n_levels,
            n_factors);
  } else {
    set_map(engine_of<glamm::Model>(ptr), row_level, x_factor, z_factor, n_levels, n_factors);
  }
}

// lambda: the loading matrix (levels x factors).
// [[Rcpp::export]]
void cpp_set_loadings(SEXP ptr, bool sparse, Rcpp::NumericMatrix lambda) {
  const Eigen::MatrixXd L = Rcpp::as<Eigen::MatrixXd>(lambda);
  if (sparse) {
    engine_of<glamm::SparseLaplace>(ptr).design().set_loadings(L);
  } else {
    engine_of<glamm::Model>(ptr).design().set_loadings(L);
  }
}
