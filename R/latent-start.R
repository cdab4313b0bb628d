# Start values of the free loadings and of the factors' standard deviations,
# from the within-cluster covariances of the GLM start's working residuals.
# With r_i = (y_i - mu_i) / mu'(eta_i) and weights w_i = mu'(eta_i)^2 / V(mu_i)
# at the fit without random effects, a factor b_g ~ N(0, sigma^2) loaded by
# lambda_j(i) on row i of cluster g gives, for two rows of one cluster,
#   E[r_i r_i'] = d_i d_i' sigma^2,   d_i = z_i lambda_j(i),
# to first order in the factor; weighted least squares over the pairs
# (weights w_i w_i') fits sigma and the free lambda_j (factor_moments()).
# Gaussian rows are weighted by 1 / sigma^2 of their family's start.
# For binary responses the GLM's coefficients are marginal ones; they are
# scaled up to the conditional scale by sqrt(1 + c^2 v_i) (c^2 = 0.346 for
# the logit, 1 for the probit), v_i the variance the factors add to row i's
# linear predictor, averaged over each column's rows. Where the moments do
# not identify a factor (no positive within-cluster covariance, two loaded
# columns of one factor at its level), its loadings start at 1 and its
# standard deviation where start_values() put it.

latent_start <- function(par0, map, resp, X, levels, offset, family) {
  free <- rep(1, length(map$free))
  parts <- if (is_mixed(family)) family$families else list(family)
  kinds <- vapply(parts, function(f) f$family, "")
  if (!all(kinds %in% c("binomial", "poisson", "gaussian")) || !length(map$free)) {
    return(c(par0, free))
  }
  row_family <- if (is_mixed(family)) family$mapping else rep(1L, nrow(X))
  if (is_mixed(family)) family <- mixed_glm_family(family, family$mapping)
  p <- ncol(X)
  beta <- par0[seq_len(p)]
  eta <- drop(X %*% beta) + (if (is.null(offset)) 0 else offset)
  mu <- family$linkinv(eta)
  dmu <- family$mu.eta(eta)
  trials <- resp$trials %||% rep(1, length(eta))
  prior <- trials * (resp$weights %||% 1)
  y <- resp$y / pmax(trials, 1e-300)
  r <- (y - mu) / dmu
  # (the extra parameters at the end of par0 are the gaussian log sigmas)
  psi <- par0[length(par0) - rev(seq_len(sum(kinds == "gaussian"))) + 1]
  dispersion <- rep(1, length(parts))
  dispersion[kinds == "gaussian"] <- exp(2 * psi)
  w <- prior * dmu^2 / family$variance(mu) / dispersion[row_family]
  ok <- is.finite(r) & is.finite(w)
  r[!ok] <- 0
  w[!ok] <- 0
  lambda <- map$lambda
  lambda[map$free] <- 1
  theta_at <- cumsum(c(p, vapply(levels, function(l) sum(l$pattern), 1L)))
  added <- numeric(length(eta))  # v_i: the factors' variance on row i
  c2_family <- vapply(parts, function(f) {
    if (f$family != "binomial") 0 else switch(f$link, logit = 0.346, probit = 1, 0)
  }, 1)
  c2 <- c2_family[row_family]
  for (k in seq_along(map$factor)) {
    l <- which(vapply(map$z_factor, function(f) any(f == k), NA))[1]
    column <- which(map$z_factor[[l]] == k)
    if (length(column) != 1) next
    z <- levels[[l]]$Z[, column]
    fit <- factor_moments(r, w, z, map$row_level, levels[[l]]$group, lambda[, k],
                          is.na(map$lambda[, k]), level_c2(c2, map$row_level, nrow(lambda)))
    if (is.null(fit)) next
    lambda[, k] <- fit$lambda
    L <- theta_to_lambda(par0[theta_at[l] + seq_len(sum(levels[[l]]$pattern))],
                         levels[[l]]$pattern)
    L[column, column] <- fit$sd
    par0[theta_at[l] + seq_len(sum(levels[[l]]$pattern))] <- lambda_to_theta(L, levels[[l]]$pattern)
    added <- added + (z * fit$lambda[map$row_level] * fit$sd)^2
  }
  if (any(c2 > 0)) {
    grow <- sqrt(1 + c2 * added)
    A <- abs(X)
    size <- colSums(A)
    par0[seq_len(p)] <- beta * ifelse(size > 0, drop(crossprod(A, grow)) / size, 1)
  }
  c(par0, lambda[map$free])
}

# One factor's sigma and loadings: the products phi_j = lambda_j sigma of
# the J levels solve the least-squares equations above, which summed over the
# pairs of rows read
#   phi_j = sum_j' C_jj' phi_j' / sum_j' D_jj' phi_j'^2,
#   C = S_a' S_a - diag(sum_{i in j} a_i^2),  D = the same for b,
# with S_a (clusters x levels) the sums of a_i = w_i r_i z_i and b_i = w_i
# z_i^2; Jacobi sweeps on these J x J matrices converge in a few dozen. Then
# sigma from the fixed loadings (least squares: sigma = sum phi_j lambda_j /
# sum lambda_j^2 over them) and lambda_j = phi_j / sigma for the free ones.
# NULL when the residuals show no positive within-cluster covariance, or when
# the clusters x levels table would be too large (over 1e7 cells).
factor_moments <- function(r, w, z, row_level, group, lambda, free, c2 = 0) {
  g <- as.integer(group)
  n_g <- max(g)
  J <- length(lambda)
  if (n_g * J > 1e7) return(NULL)
  a <- w * r * z
  b <- w * z^2
  cell <- g + n_g * (row_level - 1L)
  pairs <- function(v) {
    S <- matrix(cpp_group_sums(v, cell, n_g * J), n_g, J)
    crossprod(S) - diag(cpp_group_sums(v^2, row_level, J), J)
  }
  C <- pairs(a)
  D <- pairs(b)
  phi <- rep(sqrt(max(sum(C), 0) / max(sum(D), 1e-300)), J)
  if (!(phi[1] > 0)) return(NULL)
  for (sweep in 1:200) {
    bottom <- drop(D %*% phi^2)
    update <- bottom > 0
    step <- drop(C %*% phi)[update] / bottom[update] - phi[update]
    phi[update] <- phi[update] + step
    if (!all(is.finite(phi))) return(NULL)
    if (!length(step) || max(abs(step)) < 1e-6 * max(abs(phi))) break
  }
  phi <- phi / sqrt(pmax(1 - c2 * phi^2, 0.5))
  fixed <- !free & lambda != 0
  sigma <- sum(phi[fixed] * lambda[fixed]) / sum(lambda[fixed]^2)
  if (!is.finite(sigma) || sigma <= 0) return(NULL)
  lambda[free] <- phi[free] / sigma
  scale <- max(abs(lambda[fixed]))
  lambda[free] <- pmax(pmin(lambda[free], 10 * scale), -10 * scale)
  list(lambda = lambda, sd = sigma)
}

# The attenuation constant of each level of the loading variable: that of its
# rows' family (the first row's, where a level spans families).
level_c2 <- function(c2, row_level, n_levels) {
  out <- numeric(n_levels)
  first <- !duplicated(row_level)
  out[row_level[first]] <- c2[first]
  out
}
