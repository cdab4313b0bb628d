// Gauss-Hermite rules for the standard normal density and their product grids.
//
//   integral f(z) phi(z) dz  ~=  sum_k w_k f(z_k)
//
// The nodes are the zeros of the degree-K probabilists' Hermite polynomial
// and w_k = 1 / sum_{j<K} p_j(z_k)^2 with p_j the orthonormal polynomials,
// kept as logarithms so that the outer weights of large rules stay accurate
// (quadrature.cpp). A q-dimensional grid takes all K^q combinations, with
// weight the product of the factors.
#ifndef GLAMM_QUADRATURE_H
#define GLAMM_QUADRATURE_H

#include <RcppEigen.h>

namespace glamm {

struct GaussHermite {
  Eigen::VectorXd nodes, weights, log_weights;
};

GaussHermite gauss_hermite(int K);

// Product grid: nodes are the columns of a q x K^q matrix.
struct ProductGrid {
  Eigen::MatrixXd nodes;       // q x K^q
  Eigen::VectorXd log_weight;  // log w_k + |z_k|^2 / 2, the AGHQ node constant
  Eigen::VectorXd weight;      // w_k
};

ProductGrid product_grid(int K, int q);

}  // namespace glamm

#endif
