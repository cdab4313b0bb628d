# The random part of the linear predictor, row by row: posterior means and
# variances of z'b gathered from each level's clusters by index (O(n)).

# The random part of the linear predictor for each row, sum_l z_l' b_l with
# b_l the posterior mean of the row's cluster at level l (0 for a new
# cluster), over the levels and columns in `cond`; with se, also the
# posterior variance sum_l z_l' C_l z_l (Sigma_l for a new cluster). O(n):
# each level's clusters are gathered by index, row by row.
random_part <- function(groups, d, cond, se = TRUE) {
  n <- nrow(d$X)
  eta <- numeric(n)
  var <- if (se) numeric(n)
  for (l in seq_along(groups)) {
    cols <- cond[[l]]
    if (!length(cols)) next
    gr <- groups[[l]]
    Z <- d$levels[[l]]$Z
    if (length(cols) < ncol(Z)) Z <- Z[, cols, drop = FALSE]
    idx <- d$levels[[l]]$group
    eta <- eta + posterior_mean_z(Z, gr$ranef$mean[, cols, drop = FALSE], idx)
    if (se) {
      var <- var + posterior_var_z(Z, gr$ranef$cov[cols, cols, , drop = FALSE], idx,
                                   gr$Sigma[cols, cols, drop = FALSE])
    }
  }
  list(eta = eta, var = var)
}

# z' b_j for each row, b_j the row of B of the row's cluster idx (0 where idx
# is NA).
posterior_mean_z <- function(Z, B, idx) {
  known <- !is.na(idx)
  out <- numeric(nrow(Z))
  if (!any(known)) return(out)
  if (all(known)) return(rowSums(Z * B[idx, , drop = FALSE]))
  out[known] <- rowSums(Z[known, , drop = FALSE] * B[idx[known], , drop = FALSE])
  out
}

# z' C_j z for each row, C_j = C[, , idx] the covariance of the row's
# cluster (Sigma where idx is NA): row-wise quadratic forms, vectorized over
# rows (q^2 / 2 products of columns), not a loop over clusters.
posterior_var_z <- function(Z, C, idx, Sigma) {
  q <- ncol(Z)
  known <- !is.na(idx)
  v <- numeric(nrow(Z))
  if (any(!known)) {
    Zn <- Z[!known, , drop = FALSE]
    v[!known] <- rowSums((Zn %*% Sigma) * Zn)
  }
  if (!any(known)) return(v)
  flat <- matrix(C, q * q, dim(C)[3])  # column j: vec(C_j)
  i <- idx[known]
  Zk <- if (all(known)) Z else Z[known, , drop = FALSE]
  acc <- numeric(length(i))
  for (a in seq_len(q)) {
    acc <- acc + Zk[, a]^2 * flat[(a - 1) * q + a, i]
    for (b in seq_len(a - 1)) acc <- acc + 2 * Zk[, a] * Zk[, b] * flat[(b - 1) * q + a, i]
  }
  v[known] <- acc
  v
}
