// Gauss-Hermite nodes and weights and product grids; see quadrature.h.
//
// With the orthonormal probabilists' Hermite polynomials
//   p_0 = 1,  p_{j+1}(z) = (z p_j(z) - sqrt(j) p_{j-1}(z)) / sqrt(j + 1),
// the nodes are the zeros of p_K and the weights w_k = 1 / sum_{j<K} p_j(z_k)^2
// (the Christoffel function). The Golub-Welsch eigenvalues give the nodes to
// a few ulps; one to three Newton steps z -= p_K / (sqrt(K) p_{K-1}) polish them.
// The weights are computed from the sum, in log space with the recurrence
// rescaled as it grows, instead of from the eigenvectors: those have an
// absolute error of about 1e-17, which swamps the outer weights (below 1e-300
// for K of about 70 and more) and then dominates adaptive quadrature, where a
// node's weight is multiplied by exp(z^2 / 2).
#include "quadrature.h"

#include <cmath>

namespace glamm {

namespace {

struct HermiteAt {
  double p_K, p_Km1, log_sum;  // p_K and p_{K-1} scaled by the same factor; log sum p_j^2
};

HermiteAt hermite_at(double z, int K) {
  const double BIG = 1e150;
  double p_prev = 0.0, p = 1.0, sum = 0.0, log_scale = 0.0;  // values times exp(-log_scale)
  for (int j = 0; j < K; ++j) {
    sum += p * p;
    double next = (z * p - std::sqrt(static_cast<double>(j)) * p_prev) /
                  std::sqrt(static_cast<double>(j + 1));
    p_prev = p;
    p = next;
    if (std::fabs(p) > BIG) {
      p /= BIG;
      p_prev /= BIG;
      sum /= BIG * BIG;
      log_scale += std::log(BIG);
    }
  }
  return {p, p_prev, std::log(sum) + 2.0 * log_scale};
}

}  // namespace

GaussHermite gauss_hermite(int K) {
  GaussHermite r;
  r.nodes = Eigen::VectorXd::Zero(K);
  r.log_weights = Eigen::VectorXd::Zero(K);
  if (K > 1) {
    Eigen::MatrixXd J = Eigen::MatrixXd::Zero(K, K);
    for (int k = 1; k < K; ++k) J(k, k - 1) = J(k - 1, k) = std::sqrt(static_cast<double>(k));
    r.nodes = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(J, Eigen::EigenvaluesOnly).eigenvalues();
    for (int k = 0; k < K; ++k) {
      for (int it = 0; it < 3; ++it) {
        HermiteAt h = hermite_at(r.nodes(k), K);
        double step = h.p_K / (std::sqrt(static_cast<double>(K)) * h.p_Km1);
        if (!std::isfinite(step)) break;
        r.nodes(k) -= step;
        if (std::fabs(step) < 1e-15 * (1.0 + std::fabs(r.nodes(k)))) break;
      }
    }
    // Symmetrize: the rule is exactly symmetric about zero.
    for (int k = 0; k < K / 2; ++k) {
      double z = 0.5 * (r.nodes(K - 1 - k) - r.nodes(k));
      r.nodes(k) = -z;
      r.nodes(K - 1 - k) = z;
    }
    if (K % 2 == 1) r.nodes(K / 2) = 0.0;
    for (int k = 0; k < K; ++k) r.log_weights(k) = -hermite_at(r.nodes(k), K).log_sum;
    // The weights sum to 1 up to rounding; normalize so that they do exactly.
    double mx = r.log_weights.maxCoeff();
    double total = (r.log_weights.array() - mx).exp().sum();
    r.log_weights.array() -= mx + std::log(total);
  }
  r.weights = r.log_weights.array().exp();
  return r;
}

ProductGrid product_grid(int K, int q) {
  GaussHermite gh = gauss_hermite(K);
  int total = 1;
  for (int a = 0; a < q; ++a) total *= K;
  ProductGrid g;
  g.nodes.resize(q, total);
  g.weight.resize(total);
  g.log_weight.resize(total);
  for (int k = 0; k < total; ++k) {
    int rest = k;
    double lw = 0.0, zz = 0.0;
    for (int a = 0; a < q; ++a) {
      int idx = rest % K;
      rest /= K;
      double z = gh.nodes(idx);
      g.nodes(a, k) = z;
      lw += gh.log_weights(idx);
      zz += z * z;
    }
    g.weight(k) = std::exp(lw);
    g.log_weight(k) = lw + 0.5 * zz;
  }
  return g;
}

}  // namespace glamm
