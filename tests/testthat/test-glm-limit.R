# With the random-effect covariance at zero (theta = 0) the model is a GLM:
# glamm's log-likelihood, with all its normalizing constants, must equal
# glm()'s logLik at glm's estimates, for Laplace and AGHQ alike. The objective
# is the public loglik_function() of a fit to the same data.

glm_limit_data <- function(seed = 21) {
  set.seed(seed)
  J <- 25
  m <- 6
  n <- J * m
  d <- data.frame(g = factor(rep(seq_len(J), each = m)), x = rnorm(n), z = runif(n),
                  expo = runif(n, 0.5, 3), size = sample(1:7, n, replace = TRUE),
                  w = rep(c(1, 2, 0.5), length.out = n))
  u <- rnorm(J, 0, 0.7)[d$g]
  d$y <- rbinom(n, 1, plogis(-0.3 + 0.8 * d$x + u))
  d$s <- rbinom(n, d$size, plogis(-0.3 + 0.8 * d$x + u))
  d$cnt <- rpois(n, d$expo * exp(0.2 + 0.5 * d$x + u))
  d$yg <- 1 + 0.5 * d$x + u + rnorm(n)
  d
}
gd <- glm_limit_data()

# |glamm objective at (glm coefficients, theta = 0) - glm logLik|, for K = 1 and 7
glm_gap <- function(fit, gm, extra = NULL) {
  par <- c(coef(gm), rep(0, length(fit$theta)), extra)
  vapply(c(1, 7), function(K) {
    abs(as.numeric(loglik_function(fit, nAGQ = K)(par)) - as.numeric(logLik(gm)))
  }, numeric(1))
}

test_that("theta = 0 gives glm's log-likelihood: binary response, logit/probit/cloglog, q = 1, 2", {
  for (link in c("logit", "probit", "cloglog")) {
    gm <- glm(y ~ x + z, data = gd, family = binomial(link))
    f1 <- glamm(y ~ x + z + (1 | g), data = gd, family = binomial(link), nAGQ = 1)
    f2 <- glamm(y ~ x + z + (1 + x | g), data = gd, family = binomial(link), nAGQ = 1)
    expect_lt(max(glm_gap(f1, gm)), 1e-8)  # seen <= 1.4e-14
    expect_lt(max(glm_gap(f2, gm)), 1e-8)  # seen <= 1.4e-14
  }
})

test_that("theta = 0 gives glm's log-likelihood: binomial with trials (cbind and proportion)", {
  gm <- glm(cbind(s, size - s) ~ x, data = gd, family = binomial)
  f1 <- glamm(cbind(s, size - s) ~ x + (1 | g), data = gd, family = binomial, nAGQ = 1)
  # the binomial coefficients log choose(n, y) are included by both
  expect_lt(max(glm_gap(f1, gm)), 1e-8)  # seen 2.8e-14
  gp <- glm(s / size ~ x, data = gd, family = binomial, weights = size)
  f2 <- glamm(s / size ~ x + (1 | g), data = gd, family = binomial, weights = size, nAGQ = 1)
  expect_lt(max(glm_gap(f2, gp)), 1e-8)  # seen 2.8e-14
})

test_that("theta = 0 gives glm's log-likelihood: poisson with an offset", {
  gm <- glm(cnt ~ x + offset(log(expo)), data = gd, family = poisson)
  f1 <- glamm(cnt ~ x + (1 | g), data = gd, family = poisson, offset = log(expo), nAGQ = 1)
  f2 <- glamm(cnt ~ x + offset(log(expo)) + (1 + x | g), data = gd, family = poisson, nAGQ = 1)
  expect_lt(max(glm_gap(f1, gm)), 1e-8)  # seen 0
  expect_lt(max(glm_gap(f2, gm)), 1e-8)  # seen 0
})

test_that("theta = 0 gives glm's log-likelihood: gaussian at the ML sigma", {
  gm <- glm(yg ~ x + z, data = gd, family = gaussian)
  sigma_ml <- sqrt(deviance(gm) / nrow(gd))  # glm's logLik uses the ML estimate of sigma
  f1 <- glamm(yg ~ x + z + (1 | g), data = gd, family = gaussian)
  expect_lt(max(glm_gap(f1, gm, log(sigma_ml))), 1e-8)  # seen 2.8e-14
  # with prior weights: y_i ~ N(mu_i, sigma^2 / w_i), sigma^2 = sum(w r^2) / n
  gw <- glm(yg ~ x + z, data = gd, family = gaussian, weights = w)
  fw <- glamm(yg ~ x + z + (1 | g), data = gd, family = gaussian, weights = w)
  expect_lt(max(glm_gap(fw, gw, log(sqrt(deviance(gw) / nrow(gd))))), 1e-8)  # seen 0
})

test_that("the maximized log-likelihood is at least glm's (a zero variance is allowed)", {
  gm <- glm(y ~ x + z, data = gd, family = binomial)
  fit <- glamm(y ~ x + z + (1 | g), data = gd, family = binomial, nAGQ = 7)
  expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(gm)) - 1e-8)
})

test_that("a variance estimated at the bound zero gives the glm fit", {
  # no between-cluster variation in the data (seed chosen so that the ML variance is 0)
  set.seed(3)
  d0 <- data.frame(g = factor(rep(1:30, each = 5)), x = rnorm(150))
  d0$y <- rbinom(150, 1, plogis(0.5 * d0$x))
  g0 <- glm(y ~ x, data = d0, family = binomial)
  f0 <- glamm(y ~ x + (1 | g), data = d0, family = binomial, nAGQ = 7)
  expect_identical(f0$Sigma[1, 1], 0)
  expect_true(f0$optinfo$at_bound[["theta1"]])
  expect_lt(abs(as.numeric(logLik(f0)) - as.numeric(logLik(g0))), 1e-8)  # seen 0
  expect_equal(fixef(f0), coef(g0), tolerance = 1e-6)  # seen 1.4e-14
  # at theta = 0 the information for beta is glm's
  expect_equal(vcov(f0), vcov(g0), tolerance = 1e-4)  # seen 6.5e-8 (elementwise max 1.6e-6: FD Hessian)
})
