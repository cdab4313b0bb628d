// The model: data of all clusters, the family, the quadrature grid and warm
// starts for the modes. The log-likelihood is the sum over independent
// clusters, evaluated in parallel (std::thread) with per-thread workspaces and
// reduced in cluster order, so results do not depend on the thread count.
#ifndef GLAMM_LIKELIHOOD_H
#define GLAMM_LIKELIHOOD_H

#include <RcppEigen.h>
#include <memory>
#include <vector>

#include "cluster.h"
#include "family.h"
#include "quadrature.h"

namespace glamm {

struct Gradient {
  Eigen::VectorXd beta;
  Eigen::MatrixXd lambda;  // q x q, lower triangle meaningful
  Eigen::VectorXd psi;
};

struct Posterior {
  Eigen::MatrixXd mode, mean;  // n_clusters x q, standardized scale
  Eigen::MatrixXd cov;         // n_clusters x (q * q), column-major q x q per row
  Eigen::MatrixXd mode_cov;    // the same layout: H^{-1} at the mode
  Eigen::VectorXd loglik;      // per cluster
};

class Model {
 public:
  Model(const Eigen::Map<Eigen::MatrixXd>& X, const Eigen::Map<Eigen::MatrixXd>& Z,
        const Eigen::Map<Eigen::VectorXd>& y, const Eigen::Map<Eigen::VectorXd>& trials,
        const Eigen::Map<Eigen::VectorXd>& weights, const Eigen::Map<Eigen::VectorXd>& offset,
        const std::vector<int>& start, int family, int link, int n_categories, int n_agq,
        int n_threads, const ModeControl& ctl);

  int n_extra() const { return family_->n_extra(); }
  int q() const { return data_.q; }
  int p() const { return static_cast<int>(X_.cols()); }

  // Log-likelihood (sum over clusters; R adds the constant); gradient when grad != nullptr.
  // Returns the number of clusters whose mode search failed (then loglik = -inf).
  int eval(const Eigen::VectorXd& beta, const Eigen::MatrixXd& Lambda,
           const Eigen::VectorXd& psi, double* loglik, Gradient* grad);
  int posterior(const Eigen::VectorXd& beta, const Eigen::MatrixXd& Lambda,
                const Eigen::VectorXd& psi, Posterior* post);

 private:
  int run(const Eigen::VectorXd& beta, const Eigen::MatrixXd& Lambda,
          const Eigen::VectorXd& psi, bool want_grad, double* loglik, Gradient* grad,
          Posterior* post);

  Eigen::Map<Eigen::MatrixXd> X_;
  Eigen::Map<Eigen::VectorXd> offset_;
  ClusterData data_;
  std::unique_ptr<Family> family_;
  ProductGrid grid_;
  int n_threads_;
  ModeControl ctl_;
  int max_rows_;
  Eigen::MatrixXd u_warm_;          // q x n_clusters, last modes
  Eigen::VectorXd eta_fix_, e_;     // n
  Eigen::VectorXd ll_cluster_;      // n_clusters
  Eigen::MatrixXd g_lambda_cluster_, g_psi_cluster_;  // (q*q) x n_clusters, n_extra x n_clusters
};

}  // namespace glamm

#endif
