# The fitter hands the engine unit trials and weights and a zero offset as
# empty vectors (R/fit.R, build_objective), not as n-vectors of 1s and 0s.
# Both forms must give the same log-likelihood and gradient.

compact_pair <- function(y, X, re, family, weights = NULL, offset = NULL, K = 3L) {
  levels <- glamm:::fit_levels(NULL, NULL, NULL, re, nrow(X))
  K <- rep_len(as.integer(K), length(levels))
  full <- glamm:::prepare_response(y, family, weights)
  compact <- glamm:::prepare_response(y, family, weights, compact = TRUE)
  list(
    full = glamm:::build_objective(X, levels, full, offset %||% rep(0, nrow(X)), family, K,
                                   glamm_control(nthreads = 1L)),
    compact = glamm:::build_objective(X, levels, compact, offset, family, K,
                                      glamm_control(nthreads = 1L)),
    resp = compact
  )
}

test_that("empty trials, weights and offset equal vectors of 1s and 0s", {
  set.seed(11)
  n <- 300
  g <- rep(1:30, each = 10)
  h <- rep(1:150, each = 2)
  x <- rnorm(n)
  X <- cbind(1, x)
  re <- list(list(Z = matrix(1, n), group = h), list(Z = cbind(1, x), group = g))
  eta <- 0.3 * x + rnorm(30)[g] + rnorm(150, sd = 0.5)[h]
  cases <- list(
    list(y = rbinom(n, 1, plogis(eta)), family = binomial()),
    list(y = rpois(n, exp(eta)), family = poisson()),
    list(y = eta + rnorm(n), family = gaussian())
  )
  for (cs in cases) {
    o <- compact_pair(cs$y, X, re, cs$family)
    expect_null(o$resp$trials)
    expect_null(o$resp$weights)
    par <- c(0.1, 0.2, 0.6, 0.5, 0.1, 0.3, if (cs$family$family == "gaussian") 0.1)
    a <- o$full$loglik(par, gradient = TRUE)
    b <- o$compact$loglik(par, gradient = TRUE)
    # the same arithmetic on the same numbers: equal to rounding (observed 0)
    expect_equal(c(b), c(a), tolerance = 1e-13)
    expect_equal(attr(b, "gradient"), attr(a, "gradient"), tolerance = 1e-12)
  }
})

test_that("binomial proportions with weights keep their trials in the compact form", {
  set.seed(12)
  n <- 200
  g <- rep(1:40, each = 5)
  x <- rnorm(n)
  size <- sample(1:6, n, replace = TRUE)
  y <- rbinom(n, size, plogis(0.4 * x + rnorm(40)[g])) / size
  off <- rnorm(n, sd = 0.2)
  o <- compact_pair(y, cbind(1, x), list(list(Z = matrix(1, n), group = g)), binomial(),
                    weights = size, offset = off, K = 5L)
  expect_equal(o$resp$trials, as.numeric(size))
  expect_null(o$resp$weights)
  par <- c(-0.2, 0.4, 0.8)
  a <- o$full$loglik(par, gradient = TRUE)
  b <- o$compact$loglik(par, gradient = TRUE)
  expect_equal(c(b), c(a), tolerance = 1e-13)  # observed 0
  expect_equal(attr(b, "gradient"), attr(a, "gradient"), tolerance = 1e-12)
  # and both equal the fit through the formula interface at its estimates
  d <- data.frame(y, x, g, size, off)
  fit <- glamm(y ~ x + (1 | g), d, binomial, weights = size, offset = off, nAGQ = 5)
  expect_equal(c(o$compact$loglik(unname(c(fit$coefficients, fit$theta)))), c(logLik(fit)),
               tolerance = 1e-10)
})

# The frame keeps the data's columns when no row has a missing value (the
# memory this saves is measured in bench/nested-memory.R); with missing
# values the na.action is applied as before.
test_that("na.action: rows with missing values are dropped, recorded and excluded", {
  d <- data.frame(y = rbinom(400, 1, 0.4), x = rnorm(400), g = rep(1:40, each = 10))
  fit <- glamm(y ~ x + (1 | g), d, binomial, nAGQ = 3)
  expect_null(fit$na.action)
  expect_identical(fit$frame$x, d$x)
  d$x[c(3, 50)] <- NA
  fit_na <- glamm(y ~ x + (1 | g), d, binomial, nAGQ = 3)
  expect_equal(nobs(fit_na), 398)
  expect_equal(unname(c(fit_na$na.action)), c(3L, 50L))
  expect_s3_class(fit_na$na.action, "omit")
  fit_ex <- glamm(y ~ x + (1 | g), d, binomial, nAGQ = 3, na.action = na.exclude)
  expect_length(residuals(fit_ex), 400)
  expect_true(all(is.na(residuals(fit_ex)[c(3, 50)])))
  expect_error(glamm(y ~ x + (1 | g), d, binomial, na.action = na.fail), "missing values")
})
