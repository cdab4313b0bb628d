// The REML term -1/2 log|M|, M = X'V^-1X, of a gaussian identity-link model
// on the sparse Laplace's factor (crossed designs), and its exact gradient.
// With T the effective design (sparse_laplace.h), D = diag(d_i), d_i =
// w_i / sigma^2 = -l''_i, and H = T'DT + I = LL' (the factor at the mode; for
// a gaussian response H does not depend on u), V = TT' + D^-1 and Woodbury:
//   A = H^-1 T'DX (Q x p),  r_i = x_i - A' T_i',  E = V^-1 X = D R,
//   M = X'E = sum_i d_i x_i r_i'.
// With T'V^-1 = H^-1 T'D, dM = -(E' dT A + A' dT' E), so that
//   d(-1/2 log|M|) / dT_ir = A_{col(i, r)} . (M^-1 E_i),
// taken back to Lambda by the parameter layer; with dV / dlog(sigma) = 2 D^-1,
//   d(-1/2 log|M|) / dlog(sigma) = tr(M^-1 S),  S = sum_i d_i r_i r_i'.
// The same A and M give the GLS estimate at the covariance parameters: the
// log-likelihood is quadratic in beta with Hessian -M, so from any beta,
//   beta^ = beta + M^-1 X'l'   (l' at the mode).
#include "sparse_laplace.h"
#include "threads.h"

#include <cmath>

namespace glamm {

using Eigen::MatrixXd;
using Eigen::VectorXd;

void SparseLaplace::gls_parts(MatrixXd* A, MatrixXd* Res) const {
  const int n = structure_.n(), R = structure_.R(), Q = structure_.Q(), p = design_.p();
  const Eigen::Map<const MatrixXd>& X = design_.X();
  MatrixXd B = MatrixXd::Zero(Q, p);  // T'DX
  for (int i = 0; i < n; ++i) {
    const double d = -d2_[i];
    if (d == 0.0) continue;
    const int* c = structure_.cols(i);
    for (int r = 0; r < R; ++r) B.row(c[r]).noalias() += (d * T_(i, r)) * X.row(i);
  }
  A->resize(Q, p);
  for (int j = 0; j < p; ++j) A->col(j) = solve(B.col(j));
  Res->resize(n, p);  // rows r_i'
  parallel_for(n, n < 8192 ? 1 : n_threads_, 4096, [&](int first, int last, int) {
    for (int i = first; i < last; ++i) {
      const int* c = structure_.cols(i);
      Res->row(i) = X.row(i);
      for (int r = 0; r < R; ++r) Res->row(i).noalias() -= T_(i, r) * A->row(c[r]);
    }
  });
}

bool SparseLaplace::gls_step(Eigen::VectorXd* step, MatrixXd* M) const {
  MatrixXd A, Res;
  gls_parts(&A, &Res);
  const Eigen::Map<const MatrixXd>& X = design_.X();
  const MatrixXd M0 = X.transpose() * ((-d2_).asDiagonal() * Res);
  *M = (M0 + M0.transpose()) / 2.0;
  Eigen::LLT<MatrixXd> llt(*M);
  if (llt.info() != Eigen::Success) return false;
  *step = llt.solve(X.transpose() * d1_);  // the fixed-effects gradient X'l' at the mode
  return step->allFinite();
}

bool SparseLaplace::reml_term(RemlTerm* out) {
  const int n = structure_.n(), R = structure_.R();
  const int p = design_.p(), n_score = design_.n_score();
  const Eigen::Map<const MatrixXd>& X = design_.X();
  const VectorXd d = -d2_;
  MatrixXd A, Res;
  gls_parts(&A, &Res);
  const MatrixXd DRes = d.asDiagonal() * Res;  // rows E_i'
  const MatrixXd M0 = X.transpose() * DRes;
  const MatrixXd M = (M0 + M0.transpose()) / 2.0;
  Eigen::LLT<MatrixXd> llt(M);
  out->M = M;
  if (llt.info() != Eigen::Success) {
    out->ok = false;
    return false;
  }
  const MatrixXd Minv = llt.solve(MatrixXd::Identity(p, p));
  double log_det = 0.0;
  for (int j = 0; j < p; ++j) log_det += 2.0 * std::log(llt.matrixLLT()(j, j));
  out->ok = true;
  out->value = -0.5 * log_det;
  out->grad_log_sigma = Minv.cwiseProduct(Res.transpose() * DRes).sum();
  const MatrixXd G = DRes * Minv;  // rows (M^-1 E_i)'
  const int chunk = 4096, nc = (n + chunk - 1) / chunk;
  MatrixXd chunk_score = MatrixXd::Zero(n_score, nc);
  // Fixed chunks whatever the threads, reduced in chunk order.
  parallel_for(n, n < 2 * chunk ? 1 : n_threads_, chunk, [&](int first, int last, int) {
    const int m = last - first;
    MatrixXd Tbar(m, R);
    const VectorXd ebar = VectorXd::Zero(m);
    for (int i = first; i < last; ++i) {
      const int* c = structure_.cols(i);
      for (int r = 0; r < R; ++r) Tbar(i - first, r) = A.row(c[r]).dot(G.row(i));
    }
    design_.backward(first, m, ebar.data(), Tbar, chunk_score.col(first / chunk).data());
  }, [] { return false; });
  const VectorXd total = chunk_score.rowwise().sum();
  out->grad_lambda.resize(design_.n_levels());
  for (int l = 0; l < design_.n_levels(); ++l) {
    const int q = design_.q(l);
    out->grad_lambda[l] = Eigen::Map<const MatrixXd>(total.data() + design_.score_col(l), q, q);
  }
  return true;
}

}  // namespace glamm
