// Sum over clusters of the AGHQ log-likelihood (cluster.cpp) and its gradient:
//   log L = sum_j log L_j,   d log L / d beta = X' e,
// where e_i = d log L_j / d eta_i collects every path by which the fixed part
// of the linear predictor enters (nodes, mode and curvature).
#include "likelihood.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

Model::Model(const Eigen::Map<MatrixXd>& X, const Eigen::Map<MatrixXd>& Z,
             const Eigen::Map<VectorXd>& y, const Eigen::Map<VectorXd>& trials,
             const Eigen::Map<VectorXd>& weights, const Eigen::Map<VectorXd>& offset,
             const std::vector<int>& start, int family, int link, int n_categories, int n_agq,
             int n_threads, const ModeControl& ctl)
    : X_(X), offset_(offset), family_(make_family(family, link, n_categories)),
      n_threads_(n_threads), ctl_(ctl) {
  const int n = static_cast<int>(X.rows());
  if (Z.rows() != n || y.size() != n || trials.size() != n || weights.size() != n ||
      offset.size() != n)
    throw std::invalid_argument("X, Z, y, trials, weights and offset must have the same rows");
  if (start.size() < 2 || start.front() != 0 || start.back() != n)
    throw std::invalid_argument("cluster starts must run from 0 to the number of rows");
  if (n_agq < 1) throw std::invalid_argument("the number of quadrature points must be >= 1");
  if (Z.cols() < 1 || Z.cols() > MAX_Q)
    throw std::invalid_argument("the number of random effects per cluster must be 1 to 10");
  data_.n = n;
  data_.q = static_cast<int>(Z.cols());
  data_.Z = Z.data();
  data_.start = start;
  data_.response.resize(n);
  for (int i = 0; i < n; ++i) data_.response[i] = {y(i), trials(i), weights(i)};
  max_rows_ = 0;
  for (int j = 0; j < data_.n_clusters(); ++j) {
    int m = start[j + 1] - start[j];
    if (m <= 0) throw std::invalid_argument("empty cluster");
    if (m > max_rows_) max_rows_ = m;
  }
  grid_ = product_grid(n_agq, data_.q);
  const int nc = data_.n_clusters(), q = data_.q;
  u_warm_ = MatrixXd::Zero(q, nc);
  eta_fix_.resize(n);
  e_.resize(n);
  ll_cluster_.resize(nc);
  g_lambda_cluster_.resize(q * q, nc);
  g_psi_cluster_.resize(family_->n_extra(), nc);
}

int Model::eval(const VectorXd& beta, const MatrixXd& Lambda, const VectorXd& psi,
                double* loglik, Gradient* grad) {
  return run(beta, Lambda, psi, grad != nullptr, loglik, grad, nullptr);
}

int Model::posterior(const VectorXd& beta, const MatrixXd& Lambda, const VectorXd& psi,
                     Posterior* post) {
  double ll;
  return run(beta, Lambda, psi, false, &ll, nullptr, post);
}

int Model::run(const VectorXd& beta, const MatrixXd& Lambda, const VectorXd& psi,
               bool want_grad, double* loglik, Gradient* grad, Posterior* post) {
  const int nc = data_.n_clusters(), q = data_.q, n_extra = family_->n_extra();
  if (beta.size() != X_.cols() || Lambda.rows() != q || Lambda.cols() != q ||
      psi.size() != n_extra)
    throw std::invalid_argument("parameter dimensions do not match the model");
  family_->set_extra(psi.data());
  const SmallMat lambda = Lambda;
  eta_fix_.noalias() = X_ * beta + offset_;
  if (post) {
    post->mode.resize(nc, q);
    post->mean.resize(nc, q);
    post->cov.resize(nc, q * q);
    post->mode_cov.resize(nc, q * q);
    post->loglik.resize(nc);
  }
  // Clusters are handed out in chunks through an atomic counter. Worker
  // threads touch only their clusters' slots and never call R; an exception
  // in a worker is caught there and rethrown here after the join.
  std::atomic<int> next(0), n_fail(0);
  std::atomic<bool> failed(false);
  const int chunk = 16;
  auto worker = [&]() {
    try {
      ClusterWork w;
      w.resize(max_rows_, q, static_cast<int>(grid_.weight.size()));
      ClusterOut out;
      for (int first = next.fetch_add(chunk); first < nc; first = next.fetch_add(chunk)) {
        const int last = std::min(first + chunk, nc);
        for (int j = first; j < last; ++j) {
          Eigen::Map<MatrixXd> gl(g_lambda_cluster_.col(j).data(), q, q);
          gl.setZero();
          g_psi_cluster_.col(j).setZero();
          SmallVec u0 = u_warm_.col(j);
          cluster_eval(data_, *family_, grid_, lambda, eta_fix_.data(), u0, ctl_, want_grad, j,
                       w, out, e_.data(), gl, g_psi_cluster_.col(j));
          ll_cluster_(j) = out.loglik;
          if (!out.ok) {
            ++n_fail;
            continue;
          }
          u_warm_.col(j) = out.mode;
          if (post) {
            post->mode.row(j) = out.mode.transpose();
            post->mean.row(j) = out.post_mean.transpose();
            post->cov.row(j) = Eigen::Map<const VectorXd>(out.post_cov.data(), q * q).transpose();
            post->mode_cov.row(j) =
                Eigen::Map<const VectorXd>(out.mode_cov.data(), q * q).transpose();
            post->loglik(j) = out.loglik;
          }
        }
      }
    } catch (...) {
      failed = true;
    }
  };
  // Threads pay off only when an evaluation has enough work: rows x (nodes +
  // about three Newton passes for the modes); starting one costs ~30 us.
  const double work =
      static_cast<double>(data_.n) * (static_cast<double>(grid_.weight.size()) + 3.0);
  const int n_workers = work < 5000.0 ? 1 : std::min(n_threads_, (nc + chunk - 1) / chunk);
  std::vector<std::thread> pool;
  for (int t = 1; t < n_workers; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& th : pool) th.join();
  if (failed) throw std::runtime_error("the likelihood evaluation ran out of memory or failed");
  if (n_fail > 0) {
    *loglik = -std::numeric_limits<double>::infinity();
    return n_fail.load();
  }
  *loglik = ll_cluster_.sum();
  if (want_grad) {
    grad->beta.noalias() = X_.transpose() * e_;
    VectorXd gl = g_lambda_cluster_.rowwise().sum();
    grad->lambda = Eigen::Map<MatrixXd>(gl.data(), q, q);
    grad->psi = g_psi_cluster_.rowwise().sum();
  }
  return 0;
}

}  // namespace glamm
