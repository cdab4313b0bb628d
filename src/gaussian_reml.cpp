// The REML term -1/2 log|M|, M = X'V^-1X, of a gaussian nested model and its
// exact gradient, one top cluster at a time (dense within the cluster).
//
// In top cluster k, T = Z Lambda (n_k x R_k, row i non-zero in the effects of
// its clusters, t_il = Lambda_l' z_il for level l), D = diag(w_i / sigma^2),
// V = T T' + D^-1 and by Woodbury
//   H = T'DT + I,  P = T'DX,  A = H^-1 P,  r_i = x_i - A' t_i,  E = V^-1 X = D R,
//   M = sum_k X'E = sum_i d_i x_i r_i'.
// With dM = -(E' dT A + A' dT' E):
//   d log|M| / d Lambda_l[a, b] = -2 sum_{r,s} Minv_rs K_l[(a, r), (b, s)],
//   K_l = sum over level-l clusters v of vec(F_v') vec(A_v')',
//   F_v = sum_{i in v} z_il E_i' (q_l x p), A_v = the rows of A of cluster v;
// and with dV / d log(sigma) = 2 sigma^2 W^-1, dM = -2 sigma^2 E'W^-1E:
//   d log|M| / d log(sigma) = -2 tr(Minv sum_i w_i r_i r_i') / sigma^2.
// K_l and the sums over rows are accumulated first, Minv applied at the end,
// so one pass over the rows suffices.
#include "gaussian_reml.h"

#include <cmath>
#include <stdexcept>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

RemlTerm gaussian_reml_term(const Eigen::Map<const MatrixXd>& X, const double* weights,
                            const std::vector<Eigen::Map<const MatrixXd> >& Z,
                            const std::vector<const int*>& code,
                            const std::vector<MatrixXd>& Lambda, double log_sigma,
                            int max_dim) {
  const int n = static_cast<int>(X.rows()), p = static_cast<int>(X.cols());
  const int L = static_cast<int>(Z.size());
  const double inv_var = std::exp(-2.0 * log_sigma);
  std::vector<int> q(L);
  for (int l = 0; l < L; ++l) q[l] = static_cast<int>(Z[l].cols());

  RemlTerm out;
  MatrixXd M = MatrixXd::Zero(p, p), S = MatrixXd::Zero(p, p);  // S = sum w r r'
  std::vector<MatrixXd> K(L);
  for (int l = 0; l < L; ++l) K[l] = MatrixXd::Zero(q[l] * p, q[l] * p);

  // Per cluster: node of each row at each level, first column of each level.
  std::vector<std::vector<int> > node(L);
  std::vector<int> col0(L), n_nodes(L);
  std::vector<VectorXd> t(L);
  for (int l = 0; l < L; ++l) t[l].resize(q[l]);
  VectorXd r(p), x(p);
  MatrixXd F, fT;

  int start = 0;
  while (start < n) {
    int end = start + 1;
    while (end < n && code[L - 1][end] == code[L - 1][start]) ++end;
    const int m = end - start;
    int R = 0;
    for (int l = 0; l < L; ++l) {
      node[l].resize(m);
      int v = 0;
      for (int i = 0; i < m; ++i) {
        if (i > 0 && code[l][start + i] != code[l][start + i - 1]) ++v;
        node[l][i] = v;
      }
      n_nodes[l] = v + 1;
      col0[l] = R;
      R += n_nodes[l] * q[l];
    }
    if (R > max_dim) throw std::invalid_argument("top cluster too large for the dense REML term");

    MatrixXd H = MatrixXd::Identity(R, R), P = MatrixXd::Zero(R, p);
    for (int i = 0; i < m; ++i) {
      const int row = start + i;
      const double d = (weights ? weights[row] : 1.0) * inv_var;
      if (d == 0.0) continue;
      x = X.row(row).transpose();
      for (int l = 0; l < L; ++l) t[l].noalias() = Lambda[l].transpose() * Z[l].row(row).transpose();
      for (int l = 0; l < L; ++l) {
        const int cl = col0[l] + node[l][i] * q[l];
        for (int l2 = 0; l2 <= l; ++l2) {
          const int cl2 = col0[l2] + node[l2][i] * q[l2];
          H.block(cl, cl2, q[l], q[l2]).noalias() += d * t[l] * t[l2].transpose();
        }
        P.block(cl, 0, q[l], p).noalias() += d * t[l] * x.transpose();
      }
    }
    Eigen::LLT<MatrixXd> llt(H.selfadjointView<Eigen::Lower>());
    if (llt.info() != Eigen::Success) {
      out.ok = false;
      return out;
    }
    const MatrixXd A = llt.solve(P);

    std::vector<MatrixXd> Fl(L);
    for (int l = 0; l < L; ++l) Fl[l] = MatrixXd::Zero(q[l], n_nodes[l] * p);
    for (int i = 0; i < m; ++i) {
      const int row = start + i;
      const double w = weights ? weights[row] : 1.0;
      const double d = w * inv_var;
      if (d == 0.0) continue;
      x = X.row(row).transpose();
      r = x;
      for (int l = 0; l < L; ++l) {
        t[l].noalias() = Lambda[l].transpose() * Z[l].row(row).transpose();
        r.noalias() -= A.block(col0[l] + node[l][i] * q[l], 0, q[l], p).transpose() * t[l];
      }
      M.noalias() += d * x * r.transpose();
      S.noalias() += w * r * r.transpose();
      for (int l = 0; l < L; ++l) {
        Fl[l].block(0, node[l][i] * p, q[l], p).noalias() +=
            d * Z[l].row(row).transpose() * r.transpose();
      }
    }
    for (int l = 0; l < L; ++l) {
      for (int v = 0; v < n_nodes[l]; ++v) {
        fT = Fl[l].block(0, v * p, q[l], p).transpose();                   // p x q_l
        MatrixXd aT = A.block(col0[l] + v * q[l], 0, q[l], p).transpose();  // p x q_l
        Eigen::Map<const VectorXd> f(fT.data(), q[l] * p), a(aT.data(), q[l] * p);
        K[l].noalias() += f * a.transpose();
      }
    }
    start = end;
  }

  M = (M + M.transpose()) / 2.0;
  Eigen::LLT<MatrixXd> lltM(M);
  if (p > 0 && lltM.info() != Eigen::Success) {
    out.ok = false;
    return out;
  }
  const MatrixXd Minv = lltM.solve(MatrixXd::Identity(p, p));
  double log_det = 0.0;
  for (int j = 0; j < p; ++j) log_det += 2.0 * std::log(lltM.matrixLLT()(j, j));
  out.value = -0.5 * log_det;
  out.M = M;
  // Gradients of -1/2 log|M|.
  out.grad_lambda.resize(L);
  for (int l = 0; l < L; ++l) {
    out.grad_lambda[l] = MatrixXd::Zero(q[l], q[l]);
    for (int a = 0; a < q[l]; ++a)
      for (int b = 0; b < q[l]; ++b)
        out.grad_lambda[l](a, b) = (Minv.cwiseProduct(K[l].block(a * p, b * p, p, p))).sum();
  }
  out.grad_log_sigma = (Minv.cwiseProduct(S)).sum() * inv_var;
  return out;
}

}  // namespace glamm
