// The REML term -1/2 log|M|, M = X'V^-1X, of a gaussian nested model and its
// exact gradient, with the log-likelihood and its gradient, one top cluster at
// a time (dense within the cluster).
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
//   d log|M| / d log(sigma) = -2 tr(Minv sum_i d_i r_i r_i').
// K_l and the sums over rows are accumulated first, Minv applied at the end,
// so one pass over the rows suffices; top clusters run in parallel.
//
// The same pass gives the log-likelihood (the engine's value, without the
// R-side constant 1/2 sum log w_i) and its gradient: with e = y - X beta -
// offset, alpha = H^-1 T'De, rho = e - T alpha (V^-1 e = D rho),
// h_i = t_i' H^-1 t_i and u_il the level-l block of H^-1 t_i,
//   l = -n+ (log sqrt(2 pi) + log sigma) - 1/2 log|H| - 1/2 e'D rho,
//   e'D rho = e'V^-1e = rho'D rho + |alpha|^2,
//   dl/dbeta = X'D rho,
//   dl/dLambda_l = sum_i z_il (d_i rho_i alpha_l(i) - d_i u_il)',
//   dl/dlog(sigma) = sum_{i: w_i > 0} (d_i h_i - 1 + d_i rho_i^2).
#include "gaussian_reml.h"
#include "links.h"
#include "threads.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

// The sums over the rows of a range of top clusters.
struct RemlSums {
  MatrixXd M, S;               // sum_i d_i x_i r_i',  sum_i d_i r_i r_i'
  std::vector<MatrixXd> K;     // per level, (q_l p) x (q_l p)
  // the log-likelihood: sum of log|H|, e'V^-1e, rows with w > 0, gradients
  double log_det_H = 0.0, quad = 0.0, n_pos = 0.0, g_log_sigma = 0.0;
  VectorXd g_beta;
  std::vector<MatrixXd> g_lambda;
  bool ok = true;
  RemlSums(int p, const std::vector<int>& q)
      : M(MatrixXd::Zero(p, p)), S(MatrixXd::Zero(p, p)), K(q.size()),
        g_beta(VectorXd::Zero(p)), g_lambda(q.size()) {
    for (size_t l = 0; l < q.size(); ++l) {
      K[l] = MatrixXd::Zero(q[l] * p, q[l] * p);
      g_lambda[l] = MatrixXd::Zero(q[l], q[l]);
    }
  }
};

struct RemlData {
  const Eigen::Map<const MatrixXd>& X;
  const double *y, *offset, *weights;
  const VectorXd& beta;
  const std::vector<Eigen::Map<const MatrixXd> >& Z;
  const std::vector<const int*>& code;
  const std::vector<MatrixXd>& Lambda;
  std::vector<int> q;
  double inv_var;
  int max_dim;
};

// The cluster's log-likelihood and its gradient (formulas at the top of the
// file), from rho = e - T alpha and V^-1 e = D rho.
void add_loglik(const RemlData& in, int start, const std::vector<std::vector<int> >& node,
                const std::vector<int>& col0, const std::vector<int>& path0, const VectorXd& d,
                const MatrixXd& Tp, const Eigen::LLT<MatrixXd>& llt, const MatrixXd& A,
                const Eigen::Ref<const VectorXd>& rho, const Eigen::Ref<const VectorXd>& Drho,
                const Eigen::Ref<const MatrixXd>& Xk, RemlSums& sums) {
  const int m = static_cast<int>(d.size()), p = static_cast<int>(Xk.cols());
  const int L = static_cast<int>(in.Z.size()), R = static_cast<int>(A.rows());
  const MatrixXd& LH = llt.matrixLLT();
  for (int j = 0; j < R; ++j) sums.log_det_H += 2.0 * std::log(LH(j, j));
  sums.quad += Drho.dot(rho) + A.col(p).squaredNorm();  // e'V^-1e = rho'D rho + |alpha|^2
  sums.g_beta.noalias() += Xk.transpose() * Drho;
  const MatrixXd Hinv = llt.solve(MatrixXd::Identity(R, R));
  int q_max = 0;
  for (int l = 0; l < L; ++l) q_max = std::max(q_max, in.q[l]);
  VectorXd u_buf(q_max), adj_buf(q_max);
  for (int i = 0; i < m; ++i) {
    if (d(i) == 0.0) continue;
    sums.n_pos += 1.0;
    double h = 0.0;
    for (int l = 0; l < L; ++l) {
      const int cl = col0[l] + node[l][i] * in.q[l];
      auto u = u_buf.head(in.q[l]);
      auto adj = adj_buf.head(in.q[l]);
      u.setZero();
      for (int l2 = 0; l2 < L; ++l2) {
        const int cl2 = col0[l2] + node[l2][i] * in.q[l2];
        u.noalias() += Hinv.block(cl, cl2, in.q[l], in.q[l2]) *
                       Tp.row(i).segment(path0[l2], in.q[l2]).transpose();
      }
      h += Tp.row(i).segment(path0[l], in.q[l]).dot(u);
      adj = Drho(i) * A.block(cl, p, in.q[l], 1) - d(i) * u;
      sums.g_lambda[l].noalias() += in.Z[l].row(start + i).transpose() * adj.transpose();
    }
    sums.g_log_sigma += d(i) * h - 1.0 + Drho(i) * rho(i);
  }
}

// Adds top cluster [start, end) into sums (formulas at the top of the file).
void add_top_cluster(const RemlData& in, int start, int end, RemlSums& sums) {
  const int m = end - start, p = static_cast<int>(in.X.cols());
  const int L = static_cast<int>(in.Z.size());
  std::vector<std::vector<int> > node(L), node_start(L);  // per level: node of each row, first rows
  std::vector<int> col0(L), path0(L);
  int R = 0, path = 0;
  for (int l = 0; l < L; ++l) {
    node[l].resize(m);
    node_start[l].assign(1, 0);
    int v = 0;
    for (int i = 0; i < m; ++i) {
      if (i > 0 && in.code[l][start + i] != in.code[l][start + i - 1]) {
        ++v;
        node_start[l].push_back(i);
      }
      node[l][i] = v;
    }
    node_start[l].push_back(m);
    col0[l] = R;
    R += (v + 1) * in.q[l];
    path0[l] = path;
    path += in.q[l];
  }
  if (R > in.max_dim) throw std::invalid_argument("top cluster too large for the dense REML term");

  // Xa = [X_k, e], e = y - X beta - offset: the REML term needs the first p
  // columns, the log-likelihood the last.
  MatrixXd Xa(m, p + 1);
  Xa.leftCols(p) = in.X.middleRows(start, m);
  Xa.col(p) = -(Xa.leftCols(p) * in.beta);
  VectorXd d(m);
  for (int i = 0; i < m; ++i) {
    Xa(i, p) += in.y[start + i] - (in.offset ? in.offset[start + i] : 0.0);
    d(i) = (in.weights ? in.weights[start + i] : 1.0) * in.inv_var;
  }
  const auto Xk = Xa.leftCols(p);
  MatrixXd Tp(m, path);  // row i: t_il = Lambda_l' z_il for each level, stacked
  for (int l = 0; l < L; ++l)
    Tp.middleCols(path0[l], in.q[l]).noalias() = in.Z[l].middleRows(start, m) * in.Lambda[l];

  MatrixXd H = MatrixXd::Identity(R, R), P = MatrixXd::Zero(R, p + 1);
  for (int i = 0; i < m; ++i) {
    if (d(i) == 0.0) continue;
    for (int l = 0; l < L; ++l) {
      const int cl = col0[l] + node[l][i] * in.q[l];
      const auto tl = Tp.row(i).segment(path0[l], in.q[l]).transpose();
      for (int l2 = 0; l2 <= l; ++l2) {
        const int cl2 = col0[l2] + node[l2][i] * in.q[l2];
        H.block(cl, cl2, in.q[l], in.q[l2]).noalias() +=
            d(i) * tl * Tp.row(i).segment(path0[l2], in.q[l2]);
      }
      P.block(cl, 0, in.q[l], p + 1).noalias() += d(i) * tl * Xa.row(i);
    }
  }
  Eigen::LLT<MatrixXd> llt(H.selfadjointView<Eigen::Lower>());
  if (llt.info() != Eigen::Success) {
    sums.ok = false;
    return;
  }
  const MatrixXd A = llt.solve(P);

  MatrixXd Res = Xa;  // rows r_i' = x_i' - t_i' A_path(i) (and e_i - t_i' alpha_path(i))
  for (int i = 0; i < m; ++i)
    for (int l = 0; l < L; ++l)
      Res.row(i).noalias() -= Tp.row(i).segment(path0[l], in.q[l]) *
                              A.middleRows(col0[l] + node[l][i] * in.q[l], in.q[l]);
  const MatrixXd DRes = d.asDiagonal() * Res;  // rows E_i' = d_i r_i'
  sums.M.noalias() += Xk.transpose() * DRes.leftCols(p);
  sums.S.noalias() += Res.leftCols(p).transpose() * DRes.leftCols(p);
  add_loglik(in, start, node, col0, path0, d, Tp, llt, A, Res.col(p), DRes.col(p), Xk, sums);
  MatrixXd f, a;
  for (int l = 0; l < L; ++l) {
    const int nl = static_cast<int>(node_start[l].size()) - 1;
    for (int v = 0; v < nl; ++v) {
      const int first = node_start[l][v], count = node_start[l][v + 1] - first;
      f.noalias() = DRes.block(first, 0, count, p).transpose() *
                    in.Z[l].middleRows(start + first, count);            // F_v', p x q_l
      a = A.block(col0[l] + v * in.q[l], 0, in.q[l], p).transpose();    // A_v', p x q_l
      Eigen::Map<const VectorXd> fv(f.data(), in.q[l] * p), av(a.data(), in.q[l] * p);
      sums.K[l].noalias() += fv * av.transpose();
    }
  }
}

}  // namespace

RemlTerm gaussian_reml_term(const Eigen::Map<const MatrixXd>& X, const double* y,
                            const double* offset, const double* weights,
                            const std::vector<Eigen::Map<const MatrixXd> >& Z,
                            const std::vector<const int*>& code, const VectorXd& beta,
                            const std::vector<MatrixXd>& Lambda, double log_sigma,
                            int max_dim, int n_threads) {
  const int n = static_cast<int>(X.rows()), p = static_cast<int>(X.cols());
  const int L = static_cast<int>(Z.size());
  RemlData in{X, y, offset, weights, beta, Z, code, Lambda, std::vector<int>(L),
              std::exp(-2.0 * log_sigma), max_dim};
  for (int l = 0; l < L; ++l) in.q[l] = static_cast<int>(Z[l].cols());

  std::vector<int> top_start;
  for (int i = 0; i < n; ++i)
    if (i == 0 || code[L - 1][i] != code[L - 1][i - 1]) top_start.push_back(i);
  top_start.push_back(n);
  const int n_top = static_cast<int>(top_start.size()) - 1;
  // Chunks of CHUNK top clusters, each summed into its own slot and the slots
  // added in order afterwards: the result does not depend on the threads.
  const int CHUNK = 32;
  const int n_chunks = (n_top + CHUNK - 1) / CHUNK;
  std::vector<RemlSums> part(n_chunks, RemlSums(p, in.q));
  parallel_for(n_chunks, n_threads, 1, [&](int first, int last, int) {
    for (int c = first; c < last; ++c)
      for (int k = c * CHUNK; k < std::min(n_top, (c + 1) * CHUNK); ++k)
        add_top_cluster(in, top_start[k], top_start[k + 1], part[c]);
  });
  RemlSums sums(p, in.q);
  for (const RemlSums& s : part) {
    if (!s.ok) sums.ok = false;
    sums.M += s.M;
    sums.S += s.S;
    sums.log_det_H += s.log_det_H;
    sums.quad += s.quad;
    sums.n_pos += s.n_pos;
    sums.g_log_sigma += s.g_log_sigma;
    sums.g_beta += s.g_beta;
    for (int l = 0; l < L; ++l) {
      sums.K[l] += s.K[l];
      sums.g_lambda[l] += s.g_lambda[l];
    }
  }

  RemlTerm out;
  const MatrixXd M = (sums.M + sums.M.transpose()) / 2.0;
  Eigen::LLT<MatrixXd> lltM(M);
  if (!sums.ok || (p > 0 && lltM.info() != Eigen::Success)) {
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
    out.grad_lambda[l] = MatrixXd::Zero(in.q[l], in.q[l]);
    for (int a = 0; a < in.q[l]; ++a)
      for (int b = 0; b < in.q[l]; ++b)
        out.grad_lambda[l](a, b) = Minv.cwiseProduct(sums.K[l].block(a * p, b * p, p, p)).sum();
  }
  out.grad_log_sigma = Minv.cwiseProduct(sums.S).sum();  // S = sum w r r' / sigma^2
  out.loglik = -sums.n_pos * (LOG_SQRT_2PI + log_sigma) - 0.5 * sums.log_det_H - 0.5 * sums.quad;
  out.loglik_grad_beta = sums.g_beta;
  out.loglik_grad_lambda = sums.g_lambda;
  out.loglik_grad_log_sigma = sums.g_log_sigma;
  return out;
}

}  // namespace glamm
