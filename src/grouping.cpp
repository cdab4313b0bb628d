// Helpers for the grouping factors, in one pass over the rows and without
// the n-length temporaries the same steps take in R:
//   run codes:      the code of the first row of each run of equal codes
//                   (rows taken in the order ord, or as they are);
//   nested parent:  parent[c] = the outer code of every row whose inner code
//                   is c, or NULL when one inner cluster meets two outer ones;
//   group sums:     s[g] = sum of v[i] over the rows i with index[i] = g.
#include <Rcpp.h>

// [[Rcpp::export]]
Rcpp::IntegerVector cpp_run_codes(SEXP codes_, Rcpp::IntegerVector ord) {
  if (TYPEOF(codes_) != INTSXP) Rcpp::stop("integer codes are needed");
  const int* codes = INTEGER_RO(codes_);  // in place (INTEGER() would copy an ALTREP wrapper)
  const R_xlen_t n = Rf_xlength(codes_);
  const bool permuted = ord.size() > 0;
  if (permuted && ord.size() != n) Rcpp::stop("the row order must have one entry per row");
  std::vector<int> out;
  int last = NA_INTEGER;
  for (R_xlen_t i = 0; i < n; ++i) {
    const R_xlen_t r = permuted ? static_cast<R_xlen_t>(ord[i]) - 1 : i;
    if (r < 0 || r >= n) Rcpp::stop("the row order is out of range");
    const int c = codes[r];
    if (i == 0 || c != last) out.push_back(c);
    last = c;
  }
  return Rcpp::IntegerVector(out.begin(), out.end());
}

// [[Rcpp::export]]
SEXP cpp_nested_parent(SEXP inner_, SEXP outer_, int n_inner) {
  if (TYPEOF(inner_) != INTSXP || TYPEOF(outer_) != INTSXP) Rcpp::stop("integer codes are needed");
  const R_xlen_t n = Rf_xlength(inner_);
  if (Rf_xlength(outer_) != n) Rcpp::stop("the grouping factors must have the same length");
  const int *inner = INTEGER_RO(inner_), *outer = INTEGER_RO(outer_);
  Rcpp::IntegerVector parent(n_inner, NA_INTEGER);
  for (R_xlen_t i = 0; i < n; ++i) {
    const int c = inner[i], o = outer[i];
    if (c == NA_INTEGER || o == NA_INTEGER || c < 1 || c > n_inner) return R_NilValue;
    int& p = parent[c - 1];
    if (p == NA_INTEGER) {
      p = o;
    } else if (p != o) {
      return R_NilValue;
    }
  }
  return parent;
}

// [[Rcpp::export]]
Rcpp::NumericVector cpp_group_sums(Rcpp::NumericVector v, Rcpp::IntegerVector index,
                                   int n_groups) {
  const R_xlen_t n = v.size();
  if (index.size() != n) Rcpp::stop("the group index must have one entry per value");
  Rcpp::NumericVector out(n_groups);
  for (R_xlen_t i = 0; i < n; ++i) {
    const int g = index[i];
    if (g == NA_INTEGER || g < 1 || g > n_groups) Rcpp::stop("the group index is out of range");
    out[g - 1] += v[i];
  }
  return out;
}
