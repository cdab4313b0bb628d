# The log-likelihood itself, against independent computations in R: the
# Laplace approximation from a Newton search for each cluster's mode, the
# exact integral by integrate() (scalar and bivariate random effects), to
# which AGHQ converges as K grows, and the closed-form gaussian marginal.

test_that("nAGQ = 1 is the Laplace approximation (independent R computation, q = 1)", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  fit <- glamm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
               family = binomial, nAGQ = 1)
  X <- model.matrix(~ period, cbpp)
  laplace <- function(beta, s) {
    eta0 <- drop(X %*% beta)
    sum(vapply(split(seq_len(nrow(cbpp)), cbpp$herd), function(i) {
      y <- cbpp$incidence[i]
      n <- cbpp$size[i]
      h <- function(u) sum(dbinom(y, n, plogis(eta0[i] + s * u), log = TRUE)) + dnorm(u, log = TRUE)
      u <- 0
      for (it in 1:50) {
        p <- plogis(eta0[i] + s * u)
        u <- u + (s * sum(y - n * p) - u) / (s^2 * sum(n * p * (1 - p)) + 1)
      }
      p <- plogis(eta0[i] + s * u)
      h(u) + 0.5 * log(2 * pi) - 0.5 * log(s^2 * sum(n * p * (1 - p)) + 1)
    }, numeric(1)))
  }
  f <- loglik_function(fit)
  expect_lt(abs(as.numeric(logLik(fit)) - laplace(fixef(fit), fit$theta)), 1e-8)  # seen 2.8e-14
  par <- fit$par + c(0.1, -0.2, 0.1, 0, 0.3)
  expect_lt(abs(as.numeric(f(par)) - laplace(par[1:4], par[5])), 1e-8)  # seen 4.3e-14
})

test_that("nAGQ = 1 is the Laplace approximation (independent R computation, q = 2)", {
  set.seed(8)
  J <- 20
  d <- data.frame(g = factor(rep(seq_len(J), each = 6)), x = rnorm(6 * J))
  d$y <- rbinom(nrow(d), 1, plogis(-0.3 + 0.6 * d$x + rnorm(J, 0, 0.9)[d$g] +
                                     rnorm(J, 0, 0.5)[d$g] * d$x))
  fit <- glamm(y ~ x + (1 + x | g), data = d, family = binomial, nAGQ = 1)
  par <- c(-0.2, 0.5, 0.9, 0.2, 0.4)  # beta, theta = (l11, l21, l22)
  Lm <- matrix(c(par[3], par[4], 0, par[5]), 2)
  X <- cbind(1, d$x)
  ll <- sum(vapply(split(seq_len(nrow(d)), d$g), function(i) {
    Zt <- X[i, , drop = FALSE] %*% Lm
    eta0 <- drop(X[i, , drop = FALSE] %*% par[1:2])
    y <- d$y[i]
    u <- c(0, 0)
    for (it in 1:50) {
      p <- plogis(eta0 + drop(Zt %*% u))
      H <- crossprod(Zt, Zt * (p * (1 - p))) + diag(2)
      u <- u + solve(H, crossprod(Zt, y - p) - u)
    }
    p <- plogis(eta0 + drop(Zt %*% u))
    H <- crossprod(Zt, Zt * (p * (1 - p))) + diag(2)
    sum(dbinom(y, 1, p, log = TRUE)) - 0.5 * sum(u^2) - 0.5 * determinant(H)$modulus
  }, numeric(1)))
  expect_lt(abs(as.numeric(loglik_function(fit)(par)) - ll), 1e-8)  # seen 0
})

test_that("AGHQ converges to the exact integral (integrate(), scalar random effect)", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  fit <- glamm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
               family = binomial, nAGQ = 10)
  eta0 <- drop(model.matrix(~ period, cbpp) %*% fixef(fit))
  s <- fit$theta
  exact <- sum(vapply(split(seq_len(nrow(cbpp)), cbpp$herd), function(i) {
    dens <- function(u) vapply(u, function(uu) {
      exp(sum(dbinom(cbpp$incidence[i], cbpp$size[i], plogis(eta0[i] + s * uu), log = TRUE)))
    }, numeric(1)) * dnorm(u)
    log(integrate(dens, -Inf, Inf, rel.tol = 1e-12)$value)
  }, numeric(1)))
  f <- function(K) as.numeric(loglik_function(fit, nAGQ = K)(fit$par))
  expect_lt(abs(f(10) - exact), 1e-5)  # seen 2.9e-7
  expect_lt(abs(f(25) - exact), 1e-8)  # seen 5.7e-14
  # the Laplace approximation is coarser (seen error 0.043)
  expect_gt(abs(f(1) - exact), abs(f(10) - exact))
})

test_that("AGHQ converges to the exact integral (nested integrate(), q = 2)", {
  set.seed(8)
  J <- 10
  d <- data.frame(g = factor(rep(seq_len(J), each = 6)), x = rnorm(6 * J))
  d$y <- rbinom(nrow(d), 1, plogis(-0.3 + 0.6 * d$x + rnorm(J, 0, 0.9)[d$g] +
                                     rnorm(J, 0, 0.5)[d$g] * d$x))
  fit <- glamm(y ~ x + (1 + x | g), data = d, family = binomial, nAGQ = 5)
  par <- c(-0.2, 0.5, 0.9, 0.2, 0.4)
  Lm <- matrix(c(par[3], par[4], 0, par[5]), 2)
  exact <- sum(vapply(split(seq_len(nrow(d)), d$g), function(i) {
    eta0 <- par[1] + par[2] * d$x[i]
    y <- d$y[i]
    xi <- d$x[i]
    inner <- function(u1) vapply(u1, function(a) integrate(function(u2) {
      b1 <- Lm[1, 1] * a
      b2 <- Lm[2, 1] * a + Lm[2, 2] * u2
      eta <- outer(eta0 + b1, rep(1, length(u2))) + outer(xi, b2)
      exp(colSums(y * eta - log1p(exp(eta)))) * dnorm(u2)
    }, -Inf, Inf, rel.tol = 1e-11)$value * dnorm(a), numeric(1))
    log(integrate(inner, -Inf, Inf, rel.tol = 1e-11)$value)
  }, numeric(1)))
  f <- function(K) as.numeric(loglik_function(fit, nAGQ = K)(par))
  expect_lt(abs(f(31) - exact), 1e-8)  # seen 1.4e-14
  expect_lt(abs(f(7) - exact), 1e-4)  # seen 1.0e-5
})

test_that("gaussian: the log-likelihood is the closed-form multivariate normal marginal", {
  set.seed(9)
  J <- 15
  d <- data.frame(g = factor(rep(seq_len(J), each = 5)), x = rnorm(5 * J),
                  w = rep(c(1, 2, 0.5, 1, 3), J))
  d$y <- 1 + 0.5 * d$x + rnorm(J)[d$g] + rnorm(J, 0, 0.5)[d$g] * d$x + rnorm(nrow(d))
  fit <- glamm(y ~ x + (1 + x | g), data = d, family = gaussian, weights = w)
  par <- c(0.8, 0.4, 0.9, 0.3, 0.5, log(1.2))  # beta, theta, log(sigma)
  Lm <- matrix(c(par[3], par[4], 0, par[5]), 2)
  Sigma <- tcrossprod(Lm)
  X <- cbind(1, d$x)
  ll <- sum(vapply(split(seq_len(nrow(d)), d$g), function(i) {
    Xi <- X[i, , drop = FALSE]
    V <- Xi %*% Sigma %*% t(Xi) + diag(exp(2 * par[6]) / d$w[i])
    r <- d$y[i] - drop(Xi %*% par[1:2])
    -0.5 * (length(i) * log(2 * pi) + determinant(V)$modulus + sum(r * solve(V, r)))
  }, numeric(1)))
  for (K in c(1, 3)) {
    expect_lt(abs(as.numeric(loglik_function(fit, nAGQ = K)(par)) - ll), 1e-8)  # seen 2.8e-14
  }
})

test_that("large rules keep their outer weights: moments and log-likelihoods for K up to 1000", {
  # Weights from the eigenvectors lost the tails from K of about 70 on (an
  # absolute error of 1e-17 against true weights below 1e-300), which the
  # adaptive rule multiplies by exp(z^2 / 2): K = 1000 gave +160,000.
  for (K in c(70, 150, 400, 1000)) {
    gh <- glamm:::cpp_gauss_hermite(K)
    expect_lt(abs(sum(gh$weights) - 1), 1e-14)                # seen 2.2e-16
    expect_lt(abs(sum(gh$weights * gh$nodes^2) - 1), 1e-13)   # seen 2.2e-16
    expect_lt(abs(sum(gh$weights * gh$nodes^4) - 3), 1e-12)   # seen 1.3e-15
    expect_lt(abs(sum(gh$weights * gh$nodes^6) - 15), 1e-11)  # seen 5.3e-15
  }
  fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000, family = binomial,
               nAGQ = 12)
  ll <- function(K) as.numeric(loglik_function(fit, nAGQ = K)(fit$par))
  ref <- ll(50)
  for (K in c(100, 300, 1000)) expect_lt(abs(ll(K) - ref), 1e-9)  # seen <= 2.3e-13
})
