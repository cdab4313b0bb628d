# Marginal (population-averaged) predictions: averages over the normal
# distribution of the random part of the linear predictor by Gauss-Hermite
# quadrature, with delta-method SEs; ordinal category probabilities.

# E[h(eta + s z)], z ~ N(0, 1), s^2 = sum_l z_l' Sigma_l z_l, by Gauss-Hermite
# quadrature; with se, the delta method over (beta, theta_1, ..., theta_L).
# The derivative in v = s^2 uses E[h'(eta + s z) z] / (2 s) = E[h''(eta + s z)] / 2.
marginal_mean <- function(object, groups, d, eta, h, nquad, se) {
  gh <- gh_rule(nquad, object$family$link)
  s <- random_sd(groups, d)
  link <- object$family$link
  m <- gh_average(eta, s, gh, function(E) {
    if (link == "logit") {
      mu <- stats::plogis(E)
      if (!se) return(list(mu))
      d1 <- mu * (1 - mu)
      return(list(mu, d1, d1 * (1 - 2 * mu)))
    }
    if (!se) list(h$h(E)) else list(h$h(E), h$d1(E), h$d2(E))
  })
  fit <- m[[1]]
  if (!se) return(list(fit = fit))
  dmu_deta <- m[[2]]
  dmu_dv <- m[[3]] / 2
  # v_l = |Lambda_l' z_l|^2, dv / dLambda_l,ab = 2 z_a (Lambda_l' z_l)_b, for
  # the free entries (theta_l, column-major), levels in the order of par.
  n <- nrow(d$X)
  Jtheta <- lapply(seq_along(groups), function(l) {
    Z <- d$levels[[l]]$Z
    ZL <- Z %*% groups[[l]]$lambda
    ab <- which(groups[[l]]$pattern, arr.ind = TRUE)
    matrix(vapply(seq_len(nrow(ab)), function(k) 2 * Z[, ab[k, 1]] * ZL[, ab[k, 2]],
                  numeric(n)), n)
  })
  J <- cbind(d$X * dmu_deta, do.call(cbind, Jtheta) * dmu_dv)
  idx <- seq_len(ncol(J))
  V <- object$vcov_par[idx, idx, drop = FALSE]
  list(fit = fit, se.fit = sqrt(pmax(rowSums((J %*% V) * J), 0)))
}

# The Gauss-Hermite rule for N(0, 1). For the bounded inverse links (and
# their bounded derivatives) nodes whose weights sum to less than 1e-19 are
# dropped: they change no average by more than that (57 of 101 points
# remain), and the cost falls by as much. Not for the log and identity links,
# whose integrands grow in the tails.
gh_rule <- function(nquad, link) {
  gh <- cpp_gauss_hermite(nquad)
  if (link %in% c("logit", "probit", "cloglog")) {
    keep <- gh$weights > 1e-21
    if (sum(gh$weights[!keep]) < 1e-19) {
      gh <- list(nodes = gh$nodes[keep], weights = gh$weights[keep])
    }
  }
  gh
}

# For each row i the averages sum_k w_k f(eta_i + s_i x_k) of the matrices
# that fun(E) returns (a list), E[i, k] = eta_i + s_i x_k; computed in blocks
# of rows so that the n x K matrices never exist at once.
gh_average <- function(eta, s, gh, fun, block = max(1L, floor(2e6 / length(gh$nodes)))) {
  n <- length(eta)
  out <- NULL
  for (start in seq(1, max(n, 1), by = block)) {
    i <- start:min(n, start + block - 1)
    if (n == 0) i <- integer(0)
    E <- eta[i] + outer(s[i], gh$nodes)  # eta recycled down the columns
    r <- lapply(fun(E), function(M) drop(matrix(M, length(i)) %*% gh$weights))
    if (is.null(out)) out <- lapply(r, function(x) numeric(n))
    for (k in seq_along(r)) out[[k]][i] <- r[[k]]
  }
  lapply(out, function(x) stats::setNames(x, names(eta)))
}


# Category probabilities of an ordinal fit, P(Y = c) = F(tau_c - eta) -
# F(tau_{c-1} - eta), conditional (s = 0) or averaged over eta + s z, z ~ N(0, 1).
ordinal_probabilities <- function(object, eta, s, cdf, nquad) {
  gh <- if (any(s > 0)) gh_rule(nquad, object$family$link) else list(nodes = 0, weights = 1)
  tau <- object$thresholds$estimate
  cum <- gh_average(eta, s, gh, function(E) lapply(tau, function(t) cdf(t - E)))
  cum <- matrix(unlist(cum), length(eta), length(tau))
  one <- rep(1, nrow(cum))
  P <- cbind(cum, one) - cbind(0 * one, cum)
  colnames(P) <- object$levels
  P
}

# SD of the random part sum_l z_l' b_l of the linear predictor over the
# random-effect distribution, sqrt(sum_l z_l' Sigma_l z_l), per row.
random_sd <- function(groups, d) {
  v <- numeric(nrow(d$X))
  for (l in seq_along(groups)) v <- v + rowSums((d$levels[[l]]$Z %*% groups[[l]]$lambda)^2)
  sqrt(v)
}
