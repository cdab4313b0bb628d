// R's boundary for a family per row (family_mixed.h): set once on a
// two-level or nested engine after it is built.
#include <RcppEigen.h>

#include <vector>

#include "likelihood.h"

// [[Rcpp::depends(RcppEigen)]]

// families, links: the codes of each family (cpp_codes()); row_family: the
// 0-based family of every row, in the engine's row order.
// [[Rcpp::export]]
void cpp_set_mixed_family(SEXP ptr, Rcpp::IntegerVector families, Rcpp::IntegerVector links,
                          Rcpp::IntegerVector row_family) {
  Rcpp::XPtr<glamm::Model> model(ptr);
  if (!model) Rcpp::stop("the model object is no longer valid (was it saved and reloaded?)");
  // (std::invalid_argument becomes an R error at Rcpp's boundary)
  model->set_mixed_family(std::vector<int>(families.begin(), families.end()),
                          std::vector<int>(links.begin(), links.end()),
                          std::vector<int>(row_family.begin(), row_family.end()));
}
