// The model: the parameter layer (design.h), the responses, the family, the
// integrator for the nesting of the clusters and warm starts for the modes.
// The log-likelihood is the sum over independent top-level clusters,
// evaluated in parallel (std::thread) with per-thread workspaces and reduced
// in cluster order, so results do not depend on the thread count.
#ifndef GLAMM_LIKELIHOOD_H
#define GLAMM_LIKELIHOOD_H

#include <RcppEigen.h>
#include <memory>
#include <vector>

#include "cluster.h"
#include "design.h"
#include "family.h"
#include "quadrature.h"
#include "tree.h"

namespace glamm {

// Levels are listed innermost first, as in R.
struct Gradient {
  Eigen::VectorXd beta;
  std::vector<Eigen::MatrixXd> lambda;  // q_l x q_l, lower triangle meaningful
  Eigen::VectorXd psi;
  Eigen::VectorXd loading;  // vec of the loading matrix (loadings.h); empty without
  Eigen::MatrixXd scores;  // n_top x (p + sum q_l^2 + n_loadings + n_extra), when asked
};

struct LevelPosterior {
  Eigen::MatrixXd mode, mean;  // n_l x q_l, standardized scale
  Eigen::MatrixXd cov;         // n_l x (q_l * q_l), column-major q x q per row
  Eigen::MatrixXd mode_cov;    // the same layout: (H^{-1})_vv at the mode
};

struct Posterior {
  std::vector<LevelPosterior> level;
  Eigen::VectorXd loglik;  // per top-level cluster
};

struct LevelData {
  Eigen::Map<const Eigen::MatrixXd> Z;  // n x q_l, rows sorted by the nesting
  const int* code;                // cluster code of each row: a cluster is a run of equal codes
  const double* weight = nullptr;  // survey weight of each row's cluster given its parent
                                   // (levels below the top only; nullptr: 1)
};

class Model {
 public:
  // trials, weights and offset may be empty: 1, 1 and 0 on every row. Survey
  // weights: power (row i's log f is multiplied by power_i) and top_weight
  // (per row, constant within each top cluster: its log L_k is multiplied by
  // it), empty when absent.
  Model(const Eigen::Map<const Eigen::MatrixXd>& X, const Eigen::Map<const Eigen::VectorXd>& y,
        const Eigen::Map<const Eigen::VectorXd>& trials,
        const Eigen::Map<const Eigen::VectorXd>& weights,
        const Eigen::Map<const Eigen::VectorXd>& power,
        const Eigen::Map<const Eigen::VectorXd>& top_weight,
        const Eigen::Map<const Eigen::VectorXd>& offset, const std::vector<LevelData>& levels,
        int family, int link, int n_categories, const std::vector<int>& n_agq, int n_threads,
        const ModeControl& ctl, bool use_tree);

  int n_extra() const { return family_->n_extra(); }
  // A family per row (family_mixed.h): the families' and links' codes and
  // each row's 0-based family, in the engine's row order; set once after
  // the model is built.
  void set_mixed_family(const std::vector<int>& families, const std::vector<int>& links,
                        std::vector<int> row_family);
  // Factor loadings (loadings.h): the map once, then the values before eval().
  Design& design() { return design_; }
  void loadings_changed() { score_.resize(design_.n_score() + family_->n_extra(), score_.cols()); }

  // Log-likelihood (sum over top clusters; R adds the constant); gradient when
  // grad != nullptr (with per-top-cluster scores when want_scores). Returns
  // the number of top clusters whose mode search failed (then loglik = -inf).
  int eval(const Eigen::VectorXd& beta, const std::vector<Eigen::MatrixXd>& Lambda,
           const Eigen::VectorXd& psi, double* loglik, Gradient* grad, bool want_scores);
  // The observed information by Louis' identity at the adapted nodes of a
  // K-point rule per effect (cluster_hessian.h), in the score space: H is
  // n_score x n_score, the sum over top clusters. Available for one level of
  // random effects and families without extra parameters
  // (louis_available()). Returns the number of top clusters whose mode
  // search failed.
  bool louis_available() const { return !tree_ && family_->n_extra() == 0; }
  int louis_hessian(const Eigen::VectorXd& beta, const std::vector<Eigen::MatrixXd>& Lambda,
                    const Eigen::VectorXd& psi, int K, Eigen::MatrixXd* H);
  int posterior(const Eigen::VectorXd& beta, const std::vector<Eigen::MatrixXd>& Lambda,
                const Eigen::VectorXd& psi, Posterior* post);

 private:
  int run(const Eigen::VectorXd& beta, const std::vector<Eigen::MatrixXd>& Lambda,
          const Eigen::VectorXd& psi, bool want_grad, double* loglik, Gradient* grad,
          bool want_scores, Posterior* post);
  // Top cluster k's rows as the integrators see them, with eta_fix and T
  // filled (both sized for the largest cluster).
  ClusterRows cluster_rows(int k, Eigen::VectorXd& eta_fix, Eigen::MatrixXd& T) const;
  void store_posterior(int k, const TreePosterior* tp, const ClusterOut& co, Posterior* post) const;

  Design design_;
  Responses response_;  // maps of R's y, trials, weights and power weights
  std::unique_ptr<Family> family_;
  bool power_weighted_ = false;  // family_ multiplies by the power weights
  std::vector<int> row_family_;  // (a family per row) each row's family
  TreeShape shape_;
  bool tree_;           // the nested integrator (else the one-level fast path)
  ProductGrid grid_;    // one-level fast path
  ProductGrid louis_grid_;  // the last rule of louis_hessian()
  int louis_points_ = 0;
  TreeGrids grids_;     // nested integrator
  std::vector<int> max_nodes_;
  int max_rows_, n_threads_;
  ModeControl ctl_;
  std::vector<Eigen::MatrixXd> u_warm_;  // per depth: q_d x n_d, last modes
  Eigen::MatrixXd score_;                // (n_score + n_extra) x n_top
  Eigen::VectorXd ll_top_;
  Eigen::VectorXd top_weight_;  // per top cluster; empty: all 1
  TreeWeights node_weights_;    // survey weights of the nodes below the top
  bool node_weighted_ = false;
};

}  // namespace glamm

#endif
