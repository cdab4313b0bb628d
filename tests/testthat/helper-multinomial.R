# Helpers for the multinomial tests (test-multinomial.R): simulated nominal
# data, the engine's objective on the pseudo-rows, and brute-force
# integration of the likelihood of a two-level model with d = 2 correlated
# category intercepts (a non-adaptive product rule with many points).

# J clusters of m observations, C categories; eta_c = a_c + b_c x + u_jc with
# u_j ~ N(0, Sigma) (d = C - 1 effects per cluster) or one shared u_j.
sim_multinomial <- function(seed, J = 30, m = 8, C = 3, Sigma = diag(C - 1),
                            shared = FALSE, slope_sd = 0) {
  set.seed(seed)
  d <- C - 1
  g <- rep(seq_len(J), each = m)
  x <- stats::rnorm(J * m)
  a <- seq(0.4, -0.4, length.out = d)
  b <- seq(0.8, -0.6, length.out = d)
  u <- if (shared) matrix(stats::rnorm(J, sd = sqrt(Sigma[1, 1])), J, d)
       else matrix(stats::rnorm(J * d), J, d) %*% chol(Sigma)
  s <- stats::rnorm(J, sd = slope_sd)
  eta <- cbind(0, sweep(outer(x, b) + u[g, , drop = FALSE] + s[g] * x, 2, a, "+"))
  p <- exp(eta) / rowSums(exp(eta))
  lev <- letters[seq_len(C)]
  y <- factor(apply(p, 1, function(pr) sample(lev, 1, prob = pr)), levels = lev)
  data.frame(y = y, x = x, g = factor(g), h = factor((g - 1) %/% 5))
}

# The objective of the pseudo-row model of y ~ x + (random | g) at K points
# (the levels as fit_levels() takes them: re = list(list(Z, group, name)) per
# level on the observations), with the correlated or shared rule.
multinomial_objective <- function(y, X, re, K, random = "correlated", weights = NULL) {
  family <- glamm::multinomial(random = random)
  categories <- levels(y)
  d <- length(categories) - 1
  rows <- glamm:::multinomial_rows(length(y), d)
  ye <- as.numeric(as.integer(y)[rows$obs] - 1L == rows$category)
  Xe <- glamm:::category_design(X, categories[-1])
  re_e <- lapply(re, function(l) {
    Z <- if (random == "shared") l$Z[rows$obs, , drop = FALSE]
         else glamm:::category_design(l$Z, categories[-1])
    list(Z = Z, group = factor(l$group)[rows$obs], name = l$name)
  })
  family$categories <- categories
  we <- if (is.null(weights)) NULL else weights[rows$obs]
  objective_nested(ye, Xe, re_e, family, K, weights = we)
}

# log L by brute force for d = 2 correlated random intercepts: beta is the
# (p x 2) matrix of category coefficients, Lambda the 2 x 2 factor of the
# covariance; each cluster's integral by a K x K Gauss-Hermite product rule
# in u ~ N(0, I) (not adapted).
multinomial_brute2 <- function(y, X, g, beta, Lambda, K = 60) {
  gh <- glamm:::cpp_gauss_hermite(K)
  nodes <- as.matrix(expand.grid(gh$nodes, gh$nodes))
  idx <- as.matrix(expand.grid(seq_len(K), seq_len(K)))
  logw <- log(gh$weights)[idx[, 1]] + log(gh$weights)[idx[, 2]]
  B <- nodes %*% t(Lambda)  # K^2 x 2 effects
  eta_fix <- X %*% beta
  yi <- as.integer(y)
  total <- 0
  for (j in split(seq_along(y), g)) {
    lj <- logw
    for (i in j) {
      e1 <- eta_fix[i, 1] + B[, 1]
      e2 <- eta_fix[i, 2] + B[, 2]
      lse <- log(1 + exp(e1) + exp(e2))
      lj <- lj + switch(yi[i], 0, e1, e2) - lse
    }
    mx <- max(lj)
    total <- total + mx + log(sum(exp(lj - mx)))
  }
  total
}

# E[softmax(0, eta + Lambda z)], z ~ N(0, I_2), by a K x K Gauss-Hermite
# product rule in z (no rotation): one row of probabilities per row of eta.
marginal_brute2 <- function(eta, Lambda, K = 40) {
  gh <- glamm:::cpp_gauss_hermite(K)
  out <- matrix(0, nrow(eta), 3)
  for (a in seq_len(K)) for (b in seq_len(K)) {
    shift <- drop(Lambda %*% c(gh$nodes[a], gh$nodes[b]))
    E <- cbind(1, exp(sweep(eta, 2, shift, "+")))
    out <- out + gh$weights[a] * gh$weights[b] * E / rowSums(E)
  }
  out
}

# The fit's Lambda of its single level.
re_groups_lambda <- function(fit) glamm:::re_groups(fit)[[1]]$lambda
