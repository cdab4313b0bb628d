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

# The engine reads R's vectors in place (src/glamm_exports.cpp). A vector
# whose attributes changed while it was shared is an ALTREP wrapper; when C
# code asks such a wrapper for a writable pointer (crossprod() does), it
# swaps in a copy of its data, and the engine must keep the old data alive.
test_that("the engine's data survive a wrapper's copy and garbage collection", {
  set.seed(2)
  n <- 180
  g <- factor(rep(1:30, each = 6))
  xx <- rnorm(n)
  x <- 1 + 0.5 * xx + rnorm(30)[g] + rnorm(n)
  names(x) <- paste0("r", seq_len(n))
  y <- x
  names(y) <- NULL  # y wraps x's values
  lev <- list(list(name = "g", group = g, factor = g, Z = matrix(1, n, 1), pattern = matrix(TRUE)))
  resp <- list(y = y, trials = NULL, weights = NULL, constant = 0)
  obj <- glamm:::build_objective(cbind(1, xx), lev, resp, NULL, gaussian(), 1L,
                                 glamm_control(nthreads = 1L))
  par <- c(1, 0.5, 0.8, 0)
  before <- obj$loglik(par)
  invisible(crossprod(y))
  rm(x)
  invisible(gc())
  filler <- lapply(1:3000, function(i) rnorm(n))
  expect_identical(obj$loglik(par), before)  # was -Inf: the engine read freed memory
  expect_length(filler, 3000)
})
