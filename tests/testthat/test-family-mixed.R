# A family per observation (family = list(...), family_mapping; galamm's
# mixed response types; R/family-mixed.R, src/family_mixed.cpp): against
# brute-force integration over the factor, against the one-family fit, the
# gradient against finite differences, the methods and the refusals.

# Persons with three gaussian and three binary items of one factor.
sim_mixed_items <- function(seed, n_person = 300) {
  set.seed(seed)
  u <- stats::rnorm(n_person)
  d <- expand.grid(item = 1:6, person = seq_len(n_person))
  lambda <- c(1, 0.8, 1.2, 1, 0.7, 1.5)
  beta <- c(0.5, -0.2, 0.1, 0.3, -0.5, 0.8)
  eta <- beta[d$item] + lambda[d$item] * 0.9 * u[d$person]
  gauss <- d$item <= 3
  d$y <- ifelse(gauss, eta + stats::rnorm(nrow(d), sd = 0.6),
                stats::rbinom(nrow(d), 1, stats::plogis(eta)))
  d$fam <- ifelse(gauss, 1L, 2L)
  d$item <- factor(d$item)
  d$person <- factor(d$person)
  d
}

# The marginal log-likelihood of that model by a 2001-point grid over the
# factor; par = (beta_1..6, sd, log(sigma), lambda_2..6), glamm's layout.
mixed_loglik_brute <- function(par, d) {
  b <- par[1:6]
  l <- c(1, par[9:13]) * par[7]
  z <- seq(-8, 8, length.out = 2001)
  wz <- stats::dnorm(z) * (z[2] - z[1])
  sum(vapply(split(seq_len(nrow(d)), d$person), function(r) {
    it <- as.integer(d$item[r])
    e <- b[it] + outer(l[it], z)
    g <- d$fam[r] == 1
    lf <- rbind(stats::dnorm(d$y[r][g], e[g, , drop = FALSE], exp(par[8]), log = TRUE),
                stats::dbinom(d$y[r][!g], 1, stats::plogis(e[!g, , drop = FALSE]), log = TRUE))
    lp <- colSums(lf)
    m <- max(lp)
    m + log(sum(wz * exp(lp - m)))
  }, 0))
}

fit_mixed_items <- function(d, ...) {
  glamm(y ~ 0 + item + (0 + ability | person), data = d, family = list(gaussian, binomial),
        family_mapping = fam, factor = "ability", load.var = "item",
        lambda = c(1, rep(NA, 5)), ...)
}

test_that("gaussian and binary items of one factor equal brute-force integration", {
  d <- sim_mixed_items(5)
  fit <- fit_mixed_items(d)
  expect_identical(names(fit$par)[8], "log(sigma)[1]")
  # at the maximum: observed 2.3e-13 (15-point AGHQ on a smooth integrand)
  expect_equal(as.numeric(logLik(fit)), mixed_loglik_brute(fit$par, d), tolerance = 1e-10)
  # and away from it: observed 2.3e-13 as well
  ll <- loglik_function(fit)
  away <- fit$par + c(rep(0.1, 6), 0.2, -0.1, rep(0.1, 5))
  expect_equal(as.numeric(ll(away)), mixed_loglik_brute(away, d), tolerance = 1e-8)
  expect_lt(max(abs(fit$optinfo$gradient)), 1e-3)
  expect_equal(unname(sigma(fit)), exp(unname(fit$par[8])), tolerance = 1e-12)
})

test_that("the exact gradient of a family per observation equals finite differences", {
  d <- sim_mixed_items(6, n_person = 80)
  fit <- fit_mixed_items(d)
  ll <- loglik_function(fit)
  at <- fit$par + c(rep(0.05, 6), 0.1, -0.05, rep(-0.05, 5))
  g <- attr(ll(at, gradient = TRUE), "gradient")
  numeric <- central_diff(function(p) as.numeric(ll(p)), at)
  expect_lt(max(abs(g - numeric) / pmax(1, abs(numeric))), 1e-6)  # observed 3e-9
})

test_that("a list of one family repeated equals the one-family fit", {
  d <- sim_mixed_items(7, n_person = 150)
  d$y <- as.numeric(d$y > 0.3)
  one <- glamm(y ~ 0 + item + (1 | person), data = d, family = binomial, nAGQ = 9)
  two <- glamm(y ~ 0 + item + (1 | person), data = d, family = list(binomial, binomial),
               family_mapping = fam, nAGQ = 9)
  # the same sums in the engine: observed differences 0 (log-likelihood) and 2.2e-16
  expect_equal(as.numeric(logLik(two)), as.numeric(logLik(one)), tolerance = 1e-10)
  expect_equal(unname(two$par), unname(one$par), tolerance = 1e-10)
  expect_equal(unname(fitted(two)), unname(fitted(one)), tolerance = 1e-10)
  # with loadings (12 parameters: the search and the SEs take Louis' information
  # through the per-row family)
  lam <- c(1, rep(NA, 5))
  one <- glamm(y ~ 0 + item + (0 + ability | person), data = d, family = binomial, nAGQ = 9,
               factor = "ability", load.var = "item", lambda = lam)
  two <- glamm(y ~ 0 + item + (0 + ability | person), data = d, family = list(binomial, binomial),
               family_mapping = fam, nAGQ = 9, factor = "ability", load.var = "item", lambda = lam)
  expect_false(is.null(glamm:::fit_objective(two)$hessian))
  expect_equal(as.numeric(logLik(two)), as.numeric(logLik(one)), tolerance = 1e-10)
  expect_equal(unname(two$vcov_par), unname(one$vcov_par), tolerance = 1e-10)
})

test_that("gaussian and poisson rows of one random intercept equal a brute-force integral", {
  set.seed(8)
  n_g <- 60
  d <- data.frame(g = factor(rep(seq_len(n_g), each = 6)), x = stats::rnorm(6 * n_g),
                  fam = rep(c(1L, 1L, 2L, 2L, 2L, 2L), n_g))
  u <- stats::rnorm(n_g, sd = 0.5)[d$g]
  d$y <- ifelse(d$fam == 1, 1 + 0.5 * d$x + u + stats::rnorm(nrow(d), sd = 0.8),
                stats::rpois(nrow(d), exp(0.2 + 0.5 * d$x + u)))
  d$kind <- factor(d$fam)
  fit <- glamm(y ~ 0 + kind + x + (1 | g), data = d, family = list(gaussian, poisson),
               family_mapping = fam)
  brute <- function(par) {
    z <- seq(-8, 8, length.out = 2001)
    wz <- stats::dnorm(z) * (z[2] - z[1])
    sum(vapply(split(seq_len(nrow(d)), d$g), function(r) {
      e <- par[d$fam[r]] + par[3] * d$x[r] + outer(rep(par[4], length(r)), z)
      gs <- d$fam[r] == 1
      lp <- colSums(rbind(stats::dnorm(d$y[r][gs], e[gs, , drop = FALSE], exp(par[5]), log = TRUE),
                          stats::dpois(d$y[r][!gs], exp(e[!gs, , drop = FALSE]), log = TRUE)))
      m <- max(lp)
      m + log(sum(wz * exp(lp - m)))
    }, 0))
  }
  # observed 4.3e-10 absolute, the 15-point rule's error (the constants -log y! and
  # -log(2 pi)/2 included)
  expect_equal(as.numeric(logLik(fit)), brute(fit$par), tolerance = 1e-9)
  # response-scale predictions take each row's inverse link
  eta <- predict(fit, type = "link")
  mu <- predict(fit, type = "response")
  expect_equal(mu[d$fam == 1], eta[d$fam == 1], tolerance = 1e-14)
  expect_equal(mu[d$fam == 2], exp(eta[d$fam == 2]), tolerance = 1e-14)
  r <- residuals(fit, type = "pearson")
  p <- d$fam == 2
  expect_equal(r[p], (d$y[p] - mu[p]) / sqrt(mu[p]), tolerance = 1e-12)
  expect_equal(r[!p], d$y[!p] - mu[!p], tolerance = 1e-12)
})

test_that("a family per observation refuses what it does not support, in the user's terms", {
  d <- sim_mixed_items(9, n_person = 40)
  expect_error(glamm(y ~ 0 + item + (1 | person), data = d, family = list(gaussian, binomial)),
               "needs 'family_mapping'")
  expect_error(glamm(y ~ 0 + item + (1 | person), data = d, family = gaussian,
                     family_mapping = fam), "needs a list of families")
  expect_error(glamm(y ~ 0 + item + (1 | person), data = d, family = list(gaussian, binomial),
                     family_mapping = fam + 1L), "whole numbers from 1 to 2")
  expect_error(glamm(y ~ 0 + item + (1 | person), data = d, family = list(gaussian, binomial),
                     family_mapping = rep(1L, nrow(d))), "family 2 .* has no observation")
  expect_error(glamm(y ~ 0 + item + (1 | person), data = d, family = list(gaussian, ordinal()),
                     family_mapping = fam), "ordinal family cannot be mixed")
  d$rater <- factor(rep(1:5, length.out = nrow(d)))
  expect_error(glamm(y ~ 0 + item + (1 | person) + (1 | rater), data = d,
                     family = list(gaussian, binomial), family_mapping = fam, nAGQ = 1),
               "not available with crossed random effects")
  fit <- fit_mixed_items(d)
  expect_error(simulate(fit), "family per observation")
  expect_error(predict(fit, newdata = d[1:3, ], type = "response"), "use type = \"link\"")
  expect_length(predict(fit, newdata = d[1:3, ]), 3)
})
