# Independent references for factor loadings (2PL item response models), in
# plain R without glamm: simulated item responses (sim_2pl), the marginal
# log-likelihood of a 2PL with a latent regression by brute-force
# non-adaptive integration over a fine grid (irt_loglik_brute), and its
# Laplace approximation (irt_loglik_laplace). The model, for person p and
# item j:
#   logit P(y_pj = 1) = beta_j + lambda_j (gamma x_p + sigma u_p),  u_p ~ N(0, 1),
# lambda_1 = 1. par = (beta_1..J, lambda_2..J, sigma, gamma) in these helpers
# (gamma absent without a covariate).

sim_2pl <- function(seed, n_person = 150, n_item = 6, sigma = 1.2, gamma = 0) {
  set.seed(seed)
  beta <- seq(-1, 1, length.out = n_item)
  lambda <- c(1, seq(0.6, 1.6, length.out = n_item - 1))
  x <- stats::rnorm(n_person)
  u <- stats::rnorm(n_person)
  d <- expand.grid(item = seq_len(n_item), person = seq_len(n_person))
  ability <- gamma * x[d$person] + sigma * u[d$person]
  eta <- beta[d$item] + lambda[d$item] * ability
  d$y <- stats::rbinom(nrow(d), 1, stats::plogis(eta))
  d$x <- x[d$person]
  d$item <- factor(paste0("i", d$item), levels = paste0("i", seq_len(n_item)))
  d$person <- factor(d$person)
  d
}

irt_unpack <- function(par, J, regression) {
  list(beta = par[seq_len(J)], lambda = c(1, par[J + seq_len(J - 1)]), sigma = par[2 * J],
       gamma = if (regression) par[2 * J + 1] else 0)
}

# Row i's log f at the person's ability a (a matrix: rows x nodes).
irt_logf <- function(y, eta) y * stats::plogis(eta, log.p = TRUE) + (1 - y) * stats::plogis(-eta, log.p = TRUE)

# The marginal log-likelihood by the midpoint rule on [-12, 12] for u (G
# points; the integrand is smooth and decays like dnorm, so the rule's error
# is far below 1e-10 for G = 4001).
irt_loglik_brute <- function(par, d, regression = FALSE, G = 4001) {
  J <- nlevels(d$item)
  p <- irt_unpack(par, J, regression)
  h <- 24 / G
  u <- -12 + h * (seq_len(G) - 0.5)
  j <- as.integer(d$item)
  mean_ability <- p$gamma * d$x
  eta <- p$beta[j] + p$lambda[j] * outer(mean_ability, rep(1, G)) +
    outer(p$lambda[j] * p$sigma, u)
  lf <- rowsum(irt_logf(d$y, eta), d$person)
  lf <- sweep(lf, 2, stats::dnorm(u, log = TRUE) + log(h), "+")
  m <- apply(lf, 1, max)
  sum(m + log(rowSums(exp(lf - m))))
}

# The Laplace approximation, person by person (Newton's method for the mode of
# l(u) - u^2/2; log L_p ~ l(u^) - u^2/2 - log(H)/2, H = -d2/du2 at the mode).
irt_loglik_laplace <- function(par, d, regression = FALSE) {
  J <- nlevels(d$item)
  p <- irt_unpack(par, J, regression)
  rows <- split(seq_len(nrow(d)), d$person)
  sum(vapply(rows, function(r) {
    j <- as.integer(d$item[r])
    off <- p$beta[j] + p$lambda[j] * p$gamma * d$x[r]
    a <- p$lambda[j] * p$sigma
    u <- 0
    for (it in 1:100) {
      mu <- stats::plogis(off + a * u)
      g <- sum(a * (d$y[r] - mu)) - u
      H <- sum(a^2 * mu * (1 - mu)) + 1
      step <- g / H
      u <- u + step
      if (abs(step) < 1e-13) break
    }
    mu <- stats::plogis(off + a * u)
    H <- sum(a^2 * mu * (1 - mu)) + 1
    sum(irt_logf(d$y[r], off + a * u)) - u^2 / 2 - log(H) / 2
  }, 0))
}

# glamm's parameter vector (beta, theta = sigma, loadings 2..J; gamma before
# theta when there is a regression) in the helpers' order, and back.
irt_from_glamm <- function(par, J, regression = FALSE) {
  beta <- par[seq_len(J)]
  gamma <- if (regression) par[J + 1] else numeric(0)
  sigma <- par[J + length(gamma) + 1]
  lambda <- par[J + length(gamma) + 1 + seq_len(J - 1)]
  unname(c(beta, lambda, sigma, gamma))
}

# Six binary items, items 1-3 measuring factor 1 and 4-6 factor 2 (SDs 1.2
# and 1, correlation 0.4).
sim_2factor <- function(seed, n_person = 200) {
  set.seed(seed)
  b1 <- 1.2 * stats::rnorm(n_person)
  b2 <- 0.4 * b1 / 1.2 + sqrt(1 - 0.16) * stats::rnorm(n_person)
  d <- expand.grid(item = seq_len(6), person = seq_len(n_person))
  lambda <- c(1, 0.8, 1.3, 1, 1.5, 0.7)
  ability <- ifelse(d$item <= 3, b1[d$person], b2[d$person])
  d$y <- stats::rbinom(nrow(d), 1, stats::plogis(seq(-1, 1, length.out = 6)[d$item] +
                                                   lambda[d$item] * ability))
  d$item <- factor(paste0("i", d$item), levels = paste0("i", 1:6))
  d$person <- factor(d$person)
  d
}

# The Hessian of the 2PL's marginal log-likelihood (no regression) in glamm's
# parameter order (beta_1..J, sigma, lambda_2..J), by Louis' identity on the
# midpoint grid of irt_loglik_brute() (fine enough that the rule is exact to
# far below the tolerances; G = 801 points on [-12, 12]): per person,
#   H_p = sum_g w_pg (H_pg + s_pg s_pg') - sbar_p sbar_p',
# with the posterior weights w_pg of the grid points and, at point u_g,
# eta_j = beta_j + lambda_j sigma u_g, the score s_pg and Hessian H_pg of
# sum_j log f(y_pj | eta_j).
irt_hessian_brute <- function(par, d, G = 801) {
  J <- nlevels(d$item)
  beta <- par[seq_len(J)]
  sigma <- par[J + 1]
  lambda <- c(1, par[J + 1 + seq_len(J - 1)])
  h <- 24 / G
  u <- -12 + h * (seq_len(G) - 0.5)
  k <- 2 * J
  H <- matrix(0, k, k)
  for (rows in split(seq_len(nrow(d)), d$person)) {
    j <- as.integer(d$item[rows])
    eta <- beta[j] + outer(lambda[j] * sigma, u)
    mu <- stats::plogis(eta)
    l1 <- d$y[rows] - mu
    l2 <- -mu * (1 - mu)
    lw <- colSums(irt_logf(d$y[rows], eta)) + stats::dnorm(u, log = TRUE)
    w <- exp(lw - max(lw))
    w <- w / sum(w)
    # d eta / d par for each row (rows x k) at each point: beta_j: 1;
    # sigma: lambda_j u; lambda_j (j > 1): sigma u
    S <- matrix(0, k, G)
    E <- matrix(0, k, k)
    for (r in seq_along(rows)) {
      D <- matrix(0, k, G)
      D[j[r], ] <- 1
      D[J + 1, ] <- lambda[j[r]] * u
      if (j[r] > 1) D[J + j[r], ] <- sigma * u
      S <- S + sweep(D, 2, l1[r, ], "*")
      E <- E + D %*% (t(D) * (w * l2[r, ]))
      if (j[r] > 1) {  # d2 eta / dsigma dlambda_j = u
        cross <- sum(w * l1[r, ] * u)
        E[J + 1, J + j[r]] <- E[J + 1, J + j[r]] + cross
        E[J + j[r], J + 1] <- E[J + j[r], J + 1] + cross
      }
    }
    sbar <- drop(S %*% w)
    H <- H + E + (S %*% (t(S) * w)) - tcrossprod(sbar)
  }
  H
}
