// Gauss-Hermite rules for the standard normal density and their product grids.
//
//   integral f(z) phi(z) dz  ~=  sum_k w_k f(z_k)
//
// Nodes and weights come from the Golub-Welsch method: the nodes are the
// eigenvalues of the Jacobi matrix of the probabilists' Hermite polynomials
// (zero diagonal, off-diagonal sqrt(1), ..., sqrt(K-1)); the weights are the
// squared first components of the normalized eigenvectors. A q-dimensional grid
// takes all K^q combinations, with weight the product of the factors.
#ifndef GLAMM_QUADRATURE_H
#define GLAMM_QUADRATURE_H

#include <RcppEigen.h>

namespace glamm {

struct GaussHermite {
  Eigen::VectorXd nodes, weights;
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
