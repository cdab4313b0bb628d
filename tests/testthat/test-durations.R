# Discrete-time durations: person-period expansion, the likelihood of the
# expanded binary data against the direct discrete-time likelihood with a
# frailty (computed here with integrate()), and survival curves.

duration_data <- function(seed = 1, families = 40, size = 4, periods = 5) {
  set.seed(seed)
  n <- families * size
  s <- data.frame(id = seq_len(n), family = rep(seq_len(families), each = size), x = rnorm(n))
  frailty <- rnorm(families, sd = 0.9)[s$family]
  s$time <- periods
  s$event <- 0
  for (i in seq_len(n)) for (t in seq_len(periods)) {
    if (runif(1) < plogis(-1.8 + 0.25 * t + 0.6 * s$x[i] + frailty[i])) {
      s$time[i] <- t
      s$event[i] <- 1
      break
    }
  }
  s
}

test_that("expand_periods gives one row per period at risk, 1 in the event period", {
  d <- data.frame(id = 1:3, time = c(2, 3, 1), died = c(1, 0, 1), x = c(0.5, -1, 0))
  pp <- expand_periods(d, "time", "died")
  expect_identical(nrow(pp), 6L)
  expect_identical(pp$period, c(1L, 2L, 1L, 2L, 3L, 1L))
  expect_identical(pp$y, c(0, 1, 0, 0, 0, 1))
  expect_identical(pp$x, rep(d$x, d$time))
  expect_error(expand_periods(d, "time", "dead"), "not in 'data': dead")
  expect_error(expand_periods(transform(d, time = c(0, 1, 2)), "time", "died"), "whole numbers")
  expect_error(expand_periods(transform(d, died = c(2, 0, 1)), "time", "died"), "0 or 1")
})

test_that("the expanded-data likelihood equals the direct discrete-time likelihood", {
  s <- duration_data()
  pp <- expand_periods(s, "time", "event")
  for (link in c("logit", "cloglog")) {
    fit <- glamm(y ~ factor(period) + x + (1 | family), data = pp,
                 family = binomial(link), nAGQ = 9)
    par <- fit$par
    beta <- fixef(fit)
    alpha <- beta[1] + c(0, beta[grep("^factor\\(period\\)", names(beta))])
    slope <- beta[["x"]]
    sigma <- sqrt(fit$Sigma[1, 1])
    h <- binomial(link)$linkinv
    # Direct: prod over subjects of prod_{t < T}(1 - h_t) h_T^d (1 - h_T)^(1 - d),
    # integrated over the family frailty b ~ N(0, sigma^2).
    direct <- sum(vapply(split(s, s$family), function(f) {
      integrand <- function(b) vapply(b, function(bb) {
        prod(vapply(seq_len(nrow(f)), function(i) {
          hz <- h(alpha[seq_len(f$time[i])] + slope * f$x[i] + bb)
          last <- hz[f$time[i]]
          prod(1 - hz[-f$time[i]]) * if (f$event[i] == 1) last else 1 - last
        }, numeric(1)))
      }, numeric(1)) * dnorm(b, 0, sigma)
      log(integrate(integrand, -Inf, Inf, rel.tol = 1e-12)$value)
    }, numeric(1)))
    expect_lt(abs(loglik_function(fit, nAGQ = 30)(par) - direct), 1e-7)  # seen < 1e-13
  }
})

test_that("survival curves: conditional product of hazards, marginal against integrate", {
  s <- duration_data(seed = 2)
  pp <- expand_periods(s, "time", "event")
  fit <- glamm(y ~ period + x + (1 | family), data = pp, family = binomial("cloglog"),
               nAGQ = 9)
  nd <- data.frame(period = 1:5, x = 0.3)
  sc <- survival_curve(fit, nd)
  eta <- drop(cbind(1, nd$period, nd$x) %*% fixef(fit))
  h <- binomial("cloglog")$linkinv
  expect_equal(sc$conditional, cumprod(1 - h(eta)), tolerance = 1e-12)
  sigma <- sqrt(fit$Sigma[1, 1])
  brute <- integrate(function(z) vapply(z, function(zz) prod(1 - h(eta[1:4] + sigma * zz)),
                                        numeric(1)) * dnorm(z), -Inf, Inf, rel.tol = 1e-12)$value
  expect_lt(abs(sc$marginal[4] - brute), 1e-8)  # seen 2e-16
  expect_true(all(diff(sc$marginal) < 0) && all(diff(sc$conditional) < 0))
  # the population survives longer at the end than a median-frailty subject
  expect_gt(sc$marginal[5], sc$conditional[5])
})

test_that("a binary response with an observation-level random effect gives a warning", {
  set.seed(4)
  d <- data.frame(obs = factor(1:200), x = rnorm(200))
  d$y <- rbinom(200, 1, plogis(d$x))
  expect_warning(glamm(y ~ x + (1 | obs), data = d, family = binomial, nAGQ = 5),
                 "not identified for binary responses")
})
