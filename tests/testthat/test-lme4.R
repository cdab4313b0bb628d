# Agreement with lme4: the Laplace approximation (nAGQ = 1) and, for a scalar
# random effect, AGHQ (nAGQ = K) maximize the same approximate
# log-likelihood as glmer; the gaussian case is exact and equals lmer (ML).
#
# Two lme4 details matter at this precision:
# * glmer's PIRLS stops at tolPwrss = 1e-7 by default; its Laplace value then
#   lies ~3e-4 below the exact Laplace approximation at the same parameters
#   (cbpp: -92.02657 against -92.02629, which an independent R computation
#   of the Laplace approximation and glamm both give). With tolPwrss = 1e-10
#   the two agree to 1e-8, so the tests use a tight glmer control.
# * For nAGQ > 1, glmer's logLik omits the saturated log-likelihood
#   (sum of log f(y | mu = y)), lme4 issue #161 (cbpp: -50.005 against
#   -91.983). The Laplace logLik is on the full scale and includes the
#   binomial coefficients log choose(n, y), as glamm's does.

tight_glmer <- function() {
  lme4::glmerControl(optimizer = "bobyqa", tolPwrss = 1e-10,
                     optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
}

cbpp_formula <- cbind(incidence, size - incidence) ~ period + (1 | herd)

test_that("Laplace equals glmer(nAGQ = 1): binomial with trials (cbpp)", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  gl <- lme4::glmer(cbpp_formula, data = cbpp, family = binomial, nAGQ = 1,
                    control = tight_glmer())
  fit <- glamm(cbpp_formula, data = cbpp, family = binomial, nAGQ = 1)
  # both include the binomial coefficients (sum log choose(n, y) = 185.5 here)
  expect_lt(abs(as.numeric(logLik(fit) - logLik(gl))), 1e-6)  # seen 6.7e-9
  expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(gl)) - 1e-6)
  expect_equal(fixef(fit), lme4::fixef(gl), tolerance = 1e-5)  # seen 5.7e-8
  expect_equal(fit$Sigma[1, 1], lme4::VarCorr(gl)$herd[1, 1], tolerance = 1e-5)  # seen 6.1e-8
  # same function: glamm's objective at glmer's estimates is glmer's logLik
  f <- loglik_function(fit)
  par_lme4 <- c(lme4::fixef(gl), lme4::getME(gl, "theta"))
  expect_lt(abs(as.numeric(f(par_lme4)) - as.numeric(logLik(gl))), 1e-6)  # seen 6.7e-9
})

test_that("Laplace equals glmer(nAGQ = 1): poisson with a log-exposure offset", {
  skip_if_not_installed("lme4")
  set.seed(3)
  J <- 40
  d <- data.frame(g = factor(rep(seq_len(J), each = 6)), x = rnorm(6 * J),
                  expo = runif(6 * J, 0.5, 4))
  d$y <- rpois(nrow(d), d$expo * exp(-0.5 + 0.4 * d$x + rnorm(J, 0, 0.6)[d$g]))
  gl <- lme4::glmer(y ~ x + (1 | g), data = d, family = poisson, offset = log(expo),
                    control = tight_glmer())
  fit <- glamm(y ~ x + (1 | g), data = d, family = poisson, offset = log(expo), nAGQ = 1)
  expect_lt(abs(as.numeric(logLik(fit) - logLik(gl))), 1e-6)  # seen 1.3e-8
  expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(gl)) - 1e-6)
  expect_equal(fixef(fit), lme4::fixef(gl), tolerance = 1e-5)  # seen 4.3e-8
  expect_equal(fit$Sigma[1, 1], lme4::VarCorr(gl)$g[1, 1], tolerance = 1e-5)  # seen 6.6e-8
  # an offset() term in the formula is the same model
  fit2 <- glamm(y ~ x + offset(log(expo)) + (1 | g), data = d, family = poisson, nAGQ = 1)
  expect_lt(abs(as.numeric(logLik(fit2) - logLik(fit))), 1e-8)  # seen 0
})

test_that("Laplace equals glmer(nAGQ = 1): correlated random intercept and slope", {
  skip_if_not_installed("lme4")
  set.seed(2)
  J <- 50
  d <- data.frame(g = factor(rep(seq_len(J), each = 8)), x = rnorm(8 * J))
  d$y <- rbinom(nrow(d), 1, plogis(0.2 + 0.5 * d$x + rnorm(J, 0, 1)[d$g] +
                                     rnorm(J, 0, 0.7)[d$g] * d$x))
  gl <- lme4::glmer(y ~ x + (1 + x | g), data = d, family = binomial, control = tight_glmer())
  fit <- glamm(y ~ x + (1 + x | g), data = d, family = binomial, nAGQ = 1)
  expect_lt(abs(as.numeric(logLik(fit) - logLik(gl))), 1e-6)  # seen 7.5e-9
  expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(gl)) - 1e-6)
  expect_equal(fixef(fit), lme4::fixef(gl), tolerance = 1e-5)  # seen 3.0e-7
  S_lme4 <- lme4::VarCorr(gl)$g
  attributes(S_lme4) <- attributes(S_lme4)[c("dim", "dimnames")]
  expect_equal(fit$Sigma, S_lme4, tolerance = 1e-5)  # seen 6.0e-7
  f <- loglik_function(fit)
  par_lme4 <- c(lme4::fixef(gl), lme4::getME(gl, "theta"))  # theta: Lambda column-major
  expect_lt(abs(as.numeric(f(par_lme4)) - as.numeric(logLik(gl))), 1e-6)  # seen 7.5e-9
})

test_that("AGHQ equals glmer(nAGQ = 10) for a scalar random effect (cbpp)", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  gl <- lme4::glmer(cbpp_formula, data = cbpp, family = binomial, nAGQ = 10,
                    control = tight_glmer())
  fit <- glamm(cbpp_formula, data = cbpp, family = binomial, nAGQ = 10)
  # glmer (lme4 <= 1.1-x) leaves out the saturated log-likelihood for nAGQ > 1
  ll_sat <- sum(dbinom(cbpp$incidence, cbpp$size, cbpp$incidence / cbpp$size, log = TRUE))
  gap <- as.numeric(logLik(fit) - logLik(gl))
  expect_lt(min(abs(gap), abs(gap - ll_sat)), 1e-6)  # seen |gap - ll_sat| = 2e-14
  expect_equal(fixef(fit), lme4::fixef(gl), tolerance = 1e-5)  # seen 3.3e-8
  expect_equal(fit$Sigma[1, 1], lme4::VarCorr(gl)$herd[1, 1], tolerance = 1e-5)  # seen 1.1e-8
  expect_equal(fit$nAGQ, 10L)
})

test_that("AGHQ equals glmer(nAGQ = 9) for poisson with an offset", {
  skip_if_not_installed("lme4")
  set.seed(3)
  J <- 40
  d <- data.frame(g = factor(rep(seq_len(J), each = 6)), x = rnorm(6 * J),
                  expo = runif(6 * J, 0.5, 4))
  d$y <- rpois(nrow(d), d$expo * exp(-0.5 + 0.4 * d$x + rnorm(J, 0, 0.6)[d$g]))
  gl <- lme4::glmer(y ~ x + (1 | g), data = d, family = poisson, offset = log(expo), nAGQ = 9,
                    control = tight_glmer())
  fit <- glamm(y ~ x + (1 | g), data = d, family = poisson, offset = log(expo), nAGQ = 9)
  ll_sat <- sum(dpois(d$y, d$y, log = TRUE))
  gap <- as.numeric(logLik(fit) - logLik(gl))
  expect_lt(min(abs(gap), abs(gap - ll_sat)), 1e-6)  # seen |gap - ll_sat| = 1.4e-13
  expect_equal(fixef(fit), lme4::fixef(gl), tolerance = 1e-5)  # seen 2.1e-8
  expect_equal(fit$Sigma[1, 1], lme4::VarCorr(gl)$g[1, 1], tolerance = 1e-5)  # seen 1.4e-8
})

test_that("gaussian: the exact ML fit equals lmer(REML = FALSE), for any nAGQ", {
  skip_if_not_installed("lme4")
  set.seed(3)
  J <- 40
  d <- data.frame(g = factor(rep(seq_len(J), each = 6)), x = rnorm(6 * J))
  d$y <- 1 + 0.5 * d$x + rnorm(J, 0, 0.7)[d$g] + rnorm(J, 0, 0.4)[d$g] * d$x +
    rnorm(nrow(d), 0, 0.8)
  lm1 <- lme4::lmer(y ~ x + (1 + x | g), data = d, REML = FALSE,
                    control = lme4::lmerControl(optimizer = "bobyqa",
                                                optCtrl = list(rhoend = 1e-10)))
  fit <- glamm(y ~ x + (1 + x | g), data = d, family = gaussian)
  expect_equal(fit$nAGQ, 1L)  # the default for the gaussian: the integral is exact
  expect_lt(abs(as.numeric(logLik(fit) - logLik(lm1))), 1e-6)  # seen 5.7e-14
  expect_equal(fixef(fit), lme4::fixef(lm1), tolerance = 1e-6)  # seen 5.3e-9
  S_lme4 <- lme4::VarCorr(lm1)$g
  attributes(S_lme4) <- attributes(S_lme4)[c("dim", "dimnames")]
  expect_equal(fit$Sigma, S_lme4, tolerance = 1e-6)  # seen 1.1e-7
  expect_equal(fit$sigma, sigma(lm1), tolerance = 1e-6)  # seen 7.2e-9
  expect_equal(attr(VarCorr(fit), "sc"), sigma(lm1), tolerance = 1e-6)
  # quadrature of a gaussian integrand is exact for any number of points
  expect_lt(abs(as.numeric(loglik_function(fit, nAGQ = 5)(fit$par)) -
                  as.numeric(logLik(fit))), 1e-9)  # seen 0
})
