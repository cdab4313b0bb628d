# Invalid input gives a clear R error (never a crash or a message from deep
# inside); missing values follow na.action.

err_data <- function() {
  set.seed(1)
  J <- 20
  d <- data.frame(g = factor(rep(seq_len(J), each = 5)), x = rnorm(5 * J),
                  h = factor(rep(1:4, length.out = 5 * J)))
  d$y <- rbinom(nrow(d), 1, plogis(0.3 * d$x + rnorm(J)[d$g]))
  d$cnt <- rpois(nrow(d), 2)
  d$yg <- rnorm(nrow(d))
  d
}
ed <- err_data()

test_that("an unknown variable in the fixed part is an error naming it", {
  expect_error(glamm(y ~ zz + (1 | g), data = ed, family = binomial, nAGQ = 3),
               "object 'zz' not found.*in 'data'")
})

test_that("an unknown variable in a random-effect term or as grouping factor is an error", {
  expect_error(glamm(y ~ x + (1 + zz | g), data = ed, family = binomial, nAGQ = 3),
               "'zz' not found")
  expect_error(glamm(y ~ x + (1 | zz), data = ed, family = binomial, nAGQ = 3),
               "'zz' not found")
})

test_that("a grouping factor with a single level is an error", {
  d1 <- ed
  d1$one <- factor("a")
  expect_error(glamm(y ~ x + (1 | one), data = d1, family = binomial, nAGQ = 3),
               "single level")
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = binomial, nAGQ = 3,
                     subset = g == "1"), "single level")
})

test_that("a non-binary response for the binomial family is an error", {
  d2 <- ed
  d2$y[3] <- 2
  expect_error(glamm(y ~ x + (1 | g), data = d2, family = binomial, nAGQ = 3),
               "binomial response must be 0/1.*cbind\\(successes, failures\\)")
  d2$y[3] <- -1
  expect_error(glamm(y ~ x + (1 | g), data = d2, family = binomial, nAGQ = 3), "0/1")
  expect_error(glamm(cbind(y, 1 - y, y) ~ x + (1 | g), data = ed, family = binomial, nAGQ = 3),
               "cbind\\(successes, failures\\)")
  expect_error(glamm(cbind(y, y - 2) ~ x + (1 | g), data = ed, family = binomial, nAGQ = 3),
               "non-negative whole numbers")
  expect_error(glamm(y / 3 ~ x + (1 | g), data = ed, family = binomial, nAGQ = 3,
                     weights = rep(2, nrow(ed))), "whole numbers of successes")
})

test_that("negative or fractional counts for the poisson family are errors", {
  d2 <- ed
  d2$cnt[3] <- -1
  expect_error(glamm(cnt ~ x + (1 | g), data = d2, family = poisson, nAGQ = 3),
               "negative counts")
  d2$cnt[3] <- 1.5
  expect_error(glamm(cnt ~ x + (1 | g), data = d2, family = poisson, nAGQ = 3),
               "whole numbers")
})

test_that("an infinite covariate value is a clear error naming the column", {
  d2 <- ed
  d2$x[3] <- Inf
  expect_error(glamm(y ~ 1 + (0 + x | g), data = d2, family = binomial, nAGQ = 3),
               "random-effects design has infinite or NaN values in: x")
  # (before 233da40 this failed inside qr(): "NA/NaN/Inf in foreign function call")
  expect_error(glamm(y ~ x + (1 | g), data = d2, family = binomial, nAGQ = 3),
               "fixed-effects design has infinite or NaN values in: x")
  d2$x[3] <- -Inf
  expect_error(glamm(cnt ~ x + (1 | g), data = d2, family = poisson, nAGQ = 3),
               "fixed-effects design has infinite or NaN values in: x")
  # a transformation that overflows
  d2$x[3] <- 1000
  expect_error(glamm(cnt ~ exp(x) + (1 | g), data = d2, family = poisson, nAGQ = 3),
               "infinite or NaN values in: exp\\(x\\)")
})

test_that("an infinite response is a clear error", {
  d2 <- ed
  d2$yg[3] <- Inf
  expect_error(glamm(yg ~ x + (1 | g), data = d2, family = gaussian),
               "gaussian response must be a finite")
  d2$cnt <- as.numeric(d2$cnt)
  d2$cnt[3] <- Inf
  expect_error(glamm(cnt ~ x + (1 | g), data = d2, family = poisson, nAGQ = 3),
               "poisson response must be a finite")
})

test_that("NaN in the response is a missing value: dropped by na.omit, an error with na.fail", {
  d2 <- ed
  d2$yg[3] <- NaN
  fit <- glamm(yg ~ x + (1 | g), data = d2, family = gaussian, na.action = na.omit)
  expect_equal(nobs(fit), nrow(ed) - 1)
  expect_error(glamm(yg ~ x + (1 | g), data = d2, family = gaussian, na.action = na.fail),
               "missing values")
})

test_that("nAGQ must be a whole number >= 1", {
  msg <- "'nAGQ' must be a whole number >= 1"
  # nAGQ = 0 is lme4's fast approximation: fitted as Laplace, with a message
  expect_message(f0 <- glamm(y ~ x + (1 | g), data = ed, family = binomial, nAGQ = 0), "Laplace")
  expect_identical(f0$nAGQ, 1L)
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = binomial, nAGQ = 2.5), msg)
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = binomial, nAGQ = -3), msg)
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = binomial, nAGQ = NA), msg)
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = binomial, nAGQ = "5"), msg)
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = binomial, nAGQ = c(3, 5)), msg)
})

test_that("too many quadrature points in total is an error, not an allocation crash", {
  expect_error(glamm(y ~ x + (1 + x + h | g), data = ed, family = binomial, nAGQ = 40),
               "quadrature points per cluster; use fewer points")
})

test_that("a formula without random effects, or one-sided, is an error", {
  expect_error(glamm(y ~ x, data = ed, family = binomial), "no random-effect term.*glm\\(\\)")
  expect_error(glamm(~ x + (1 | g), data = ed, family = binomial), "two-sided formula")
})

test_that("crossed random effects with nAGQ > 1 are an error suggesting nAGQ = 1", {
  # h takes the values 1 to 4 in every cluster of g: crossed (with one or two rows per
  # g:h cell there is no sign of labels reused within g; test-nested.R has that case)
  expect_error(glamm(y ~ x + (1 | g) + (1 | h), data = ed, family = binomial, nAGQ = 3),
               "g and h are crossed, not nested.*use nAGQ = 1")
  expect_error(glamm(y ~ x + (x | g) + (1 | g), data = ed, family = binomial, nAGQ = 3),
               "repeat a column")
})

test_that("unsupported families and links are errors listing what is supported", {
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = inverse.gaussian, nAGQ = 3),
               paste("family 'inverse.gaussian' is not supported; use one of: gaussian,",
                     "binomial, poisson, ordinal, Gamma, nbinom2"))
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = "quasibinomial", nAGQ = 3),
               "family 'quasibinomial' is not supported")
  expect_error(glamm(cnt ~ x + (1 | g), data = ed, family = poisson("identity"), nAGQ = 3),
               "link 'identity' is not supported for the poisson family")
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = binomial("cauchit"), nAGQ = 3),
               "link 'cauchit' is not supported for the binomial family")
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = 3, nAGQ = 3),
               "'family' must be a family object")
  expect_error(glamm(factor(y) ~ x + (1 | g), data = ed, family = poisson, nAGQ = 3),
               "factor response needs the binomial family")
})

test_that("invalid weights, offsets and controls are errors", {
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = binomial, nAGQ = 3,
                     weights = rep(-1, nrow(ed))), "'weights' must be finite and non-negative")
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = binomial, nAGQ = 3,
                     offset = rep(Inf, nrow(ed))), "'offset' must be finite")
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = binomial, nAGQ = 3, weights = 1:3),
               "variable lengths differ")
  expect_error(glamm_control(nthreads = 0), "'nthreads' must be a positive whole number")
  expect_error(glamm_control(rel.tol = -1), "'rel.tol' must be a positive number")
})

test_that("glamm.fit checks its matrices", {
  n <- nrow(ed)
  expect_error(glamm.fit(ed$y, cbind(1, ed$x), matrix(1, n, 1), ed$g[1:10], binomial()),
               "same number of observations")
  expect_error(glamm.fit(ed$y, data.frame(1, ed$x), matrix(1, n, 1), ed$g, binomial()),
               "'X' must be a numeric matrix")
  expect_error(glamm.fit(ed$y, cbind(1, c(Inf, ed$x[-1])), matrix(1, n, 1), ed$g, binomial()),
               "'X' has missing or non-finite values")
  g_na <- ed$g
  g_na[4] <- NA
  expect_error(glamm.fit(ed$y, cbind(1, ed$x), matrix(1, n, 1), g_na, binomial()),
               "grouping factor has missing values")
})

test_that("malformed start values are an error", {
  # (before 233da40 only a warning "number of items to replace ..." and the fit went on)
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = binomial, nAGQ = 3,
                     start = list(beta = c(1, 2, 3))), "start\\$beta must hold 2 finite")
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = binomial, nAGQ = 3,
                     start = list(theta = NA_real_)), "start\\$theta must hold 1 finite")
  expect_error(glamm(y ~ x + (1 | g), data = ed, family = binomial, nAGQ = 3,
                     start = c(1, 2)), "'start' must be a list")
})

test_that("na.omit drops incomplete rows; the fit equals the fit to the complete rows", {
  dn <- ed
  dn$x[c(3, 50)] <- NA
  dn$y[77] <- NA
  dn$g[100] <- NA
  fit <- glamm(y ~ x + (1 | g), data = dn, family = binomial, nAGQ = 5, na.action = na.omit)
  expect_equal(nobs(fit), nrow(ed) - 4)
  expect_length(fitted(fit), nrow(ed) - 4)
  expect_length(residuals(fit), nrow(ed) - 4)
  complete <- glamm(y ~ x + (1 | g), data = dn[-c(3, 50, 77, 100), ], family = binomial,
                    nAGQ = 5)
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(complete)), tolerance = 1e-12)
  # the default na.action is getOption("na.action")
  op <- options(na.action = "na.omit")
  on.exit(options(op))
  expect_equal(nobs(glamm(y ~ x + (1 | g), data = dn, family = binomial, nAGQ = 5)),
               nrow(ed) - 4)
})

test_that("na.exclude pads fitted values and residuals with NA", {
  dn <- ed
  dn$x[c(3, 50)] <- NA
  dn$y[77] <- NA
  fit_omit <- glamm(y ~ x + (1 | g), data = dn, family = binomial, nAGQ = 5)
  fit <- glamm(y ~ x + (1 | g), data = dn, family = binomial, nAGQ = 5, na.action = na.exclude)
  expect_equal(nobs(fit), nrow(ed) - 3)
  for (v in list(fitted(fit), residuals(fit), residuals(fit, type = "pearson"),
                 residuals(fit, type = "deviance"))) {
    expect_length(v, nrow(ed))
    expect_identical(unname(which(is.na(v))), c(3L, 50L, 77L))
  }
  expect_equal(unname(fitted(fit)[-c(3, 50, 77)]), unname(fitted(fit_omit)), tolerance = 1e-12)
})

test_that("na.fail is an error when there are missing values", {
  dn <- ed
  dn$x[3] <- NA
  expect_error(glamm(y ~ x + (1 | g), data = dn, family = binomial, nAGQ = 3,
                     na.action = na.fail), "missing values")
  expect_error(glamm(y ~ x + (1 | g), data = dn, family = binomial, nAGQ = 3,
                     na.action = "na.fail"), "missing values")
})
