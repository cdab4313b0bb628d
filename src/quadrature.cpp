// Gauss-Hermite nodes and weights (Golub-Welsch) and product grids; see quadrature.h.
#include "quadrature.h"

#include <cmath>

namespace glamm {

GaussHermite gauss_hermite(int K) {
  GaussHermite r;
  if (K == 1) {
    r.nodes = Eigen::VectorXd::Zero(1);
    r.weights = Eigen::VectorXd::Ones(1);
    return r;
  }
  Eigen::MatrixXd J = Eigen::MatrixXd::Zero(K, K);
  for (int k = 1; k < K; ++k) J(k, k - 1) = J(k - 1, k) = std::sqrt(static_cast<double>(k));
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(J);
  r.nodes = es.eigenvalues();
  r.weights = es.eigenvectors().row(0).array().square().transpose();
  // Symmetrize: the rule is exactly symmetric about zero.
  for (int k = 0; k < K / 2; ++k) {
    double z = 0.5 * (r.nodes(K - 1 - k) - r.nodes(k));
    double w = 0.5 * (r.weights(k) + r.weights(K - 1 - k));
    r.nodes(k) = -z;
    r.nodes(K - 1 - k) = z;
    r.weights(k) = r.weights(K - 1 - k) = w;
  }
  if (K % 2 == 1) r.nodes(K / 2) = 0.0;
  r.weights /= r.weights.sum();
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
    double w = 1.0, zz = 0.0;
    for (int a = 0; a < q; ++a) {
      int idx = rest % K;
      rest /= K;
      double z = gh.nodes(idx);
      g.nodes(a, k) = z;
      w *= gh.weights(idx);
      zz += z * z;
    }
    g.weight(k) = w;
    g.log_weight(k) = std::log(w) + 0.5 * zz;
  }
  return g;
}

}  // namespace glamm
