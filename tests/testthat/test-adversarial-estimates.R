# Adversarial input (issue 16), estimates: separation, extreme values and
# degenerate designs. Each case warns naming the estimates at infinity, stops
# with an error naming the cause, or agrees with an independent reference
# (glm, lme4, glamm on the equivalent data) within a stated tolerance.
# Data: helper-adversarial.R.

sep <- ad
sep$s <- as.numeric(sep$x > 0)

# ---- separation -------------------------------------------------------------------------

test_that("quasi-complete separation by a factor level names the estimates, SEs NA", {
  d <- ad
  d$q <- ifelse(d$f == "a", 1, d$y)  # level a: every outcome 1
  expect_warning(fit <- glamm(q ~ f + x + (1 | g), data = d, family = binomial, nAGQ = 3),
                 "estimate\\(s\\) of \\(Intercept\\), fb, fc run off to infinity.*quasi-complete")
  expect_true(all(is.na(sqrt(diag(vcov(fit)))[c("(Intercept)", "fb", "fc")])))
  expect_false(is.na(sqrt(diag(vcov(fit)))[["x"]]))
})

test_that("a 30-level factor with levels all 0 or all 1 is reported (no silent estimates)", {
  # (contrasts of -18.8 and 21.6 were returned without a word: a dummy's root
  # mean square of 0.18 made them no candidates for infinity)
  d <- ad
  d$f30 <- factor(rep(1:30, each = 5))
  empty <- names(which(tapply(d$y, d$f30, function(v) all(v == 0) || all(v == 1))))
  expect_warning(fit <- glamm(y ~ f30 + (1 | h), data = d, family = binomial, nAGQ = 3),
                 "run off to infinity")
  flagged <- fit$optinfo$at_infinity
  expect_setequal(flagged, paste0("f30", setdiff(empty, "1")))
  expect_true(all(is.na(sqrt(diag(vcov(fit)))[flagged])))
})

test_that("separation with the probit and cloglog links warns naming x", {
  for (link in c("probit", "cloglog")) {
    expect_warning(glamm(s ~ x + (1 | g), data = sep, family = binomial(link), nAGQ = 3),
                   "estimate\\(s\\) of .*x run off to infinity.*separates the outcomes")
  }
})

test_that("separation by a cluster-level covariate warns naming it", {
  d <- ad
  d$xc <- ave(d$x, d$g)
  d$sc <- as.numeric(d$xc > 0)
  expect_warning(glamm(sc ~ xc + (1 | g), data = d, family = binomial, nAGQ = 3),
                 "estimate\\(s\\) of .*xc run off to infinity")
})

test_that("separation of binomial counts (cbind) warns", {
  d <- ad
  d$k <- ifelse(d$x > 0, 3, 0)
  expect_warning(glamm(cbind(k, 3 - k) ~ x + (1 | g), data = d, family = binomial, nAGQ = 3),
                 "x run off to infinity")
})

test_that("separation in a nested model warns", {
  expect_warning(glamm(s ~ x + (1 | h / g), data = sep, family = binomial, nAGQ = 3),
                 "x run off to infinity")
})

test_that("a strong but finite effect gives no warning and agrees with glmer", {
  d <- ad
  set.seed(3)
  d$ys <- rbinom(an, 1, plogis(2.5 * d$x))
  expect_silent(fit <- glamm(ys ~ x + (1 | g), data = d, family = binomial, nAGQ = 3))
  ref <- lme4::glmer(ys ~ x + (1 | g), data = d, family = binomial, nAGQ = 3)
  expect_equal(unname(fixef(fit)), unname(lme4::fixef(ref)), tolerance = 1e-4)  # seen 5e-6
})

test_that("rare events (3% successes) agree with glmer", {
  d <- ad
  set.seed(5)
  d$r <- rbinom(an, 1, plogis(-3.5 + 0.5 * d$x))
  fit <- glamm(r ~ x + (1 | g), data = d, family = binomial, nAGQ = 1)
  ref <- suppressMessages(lme4::glmer(r ~ x + (1 | g), data = d, family = binomial))
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-5)  # seen 1e-9
})

# ---- extreme values ---------------------------------------------------------------------

test_that("a covariate of size 1e-6 gives the coefficient scaled by 1e6", {
  d <- ad
  d$xt <- d$x * 1e-6
  fit <- glamm(yg ~ xt + (1 | g), data = d)
  expect_equal(ll(fit), ll(adv_gau), tolerance = 1e-10)  # seen 0
  expect_equal(fixef(fit)[["xt"]] * 1e-6, fixef(adv_gau)[["x"]], tolerance = 1e-7)  # seen 1e-10
})

test_that("a poisson offset of 30 shifts the intercept by 30 (glmmTMB without it)", {
  skip_if_not_installed("glmmTMB")
  d <- ad
  d$o <- 30
  fit <- glamm(cnt ~ x + offset(o) + (1 | g), data = d, family = poisson, nAGQ = 1)
  ref <- glmmTMB::glmmTMB(cnt ~ x + (1 | g), data = d, family = poisson)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-9)  # seen 9e-14 (relative)
  expect_equal(unname(fixef(fit) + c(30, 0)), unname(glmmTMB::fixef(ref)$cond),
               tolerance = 1e-5)  # seen 2.4e-7
})

test_that("a Gamma response in millionths shifts the log-link intercept by log(1e-6)", {
  d <- ad
  d$pt <- d$pos * 1e-6
  f1 <- glamm(pos ~ x + (1 | g), data = d, family = Gamma(link = "log"), nAGQ = 1)
  ft <- glamm(pt ~ x + (1 | g), data = d, family = Gamma(link = "log"), nAGQ = 1)
  expect_equal(fixef(ft)[[1]] - fixef(f1)[[1]], log(1e-6), tolerance = 1e-6)  # seen 1e-9
  expect_equal(ll(ft) - ll(f1), an * log(1e6), tolerance = 1e-8)  # seen 1e-13
})

test_that("nbinom2 on counts without overdispersion reaches the poisson likelihood", {
  skip_if_not_installed("glmmTMB")
  fit <- glamm(cnt ~ x + (1 | g), data = ad, family = nbinom2(), nAGQ = 1)
  ref <- glmmTMB::glmmTMB(cnt ~ x + (1 | g), data = ad, family = poisson)
  # theta runs to a large value; the likelihood is the poisson one from below
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-9)  # seen 2e-11 (relative)
  expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(ref)$cond), tolerance = 1e-5)  # 2.4e-7
})

# ---- degenerate designs -----------------------------------------------------------------

test_that("a covariate constant on every row is dropped as aliased with the intercept", {
  d <- ad
  d$k <- 5
  expect_message(fit <- glamm(yg ~ x + k + (1 | g), data = d), "rank deficient: dropping k")
  expect_equal(ll(fit), ll(adv_gau), tolerance = 1e-10)  # seen 0
})

test_that("a random effect that is 0 on every row is an error naming it", {
  d <- ad
  d$zz <- 0
  # (was a fit with 'the observed information is not positive definite')
  expect_error(glamm(yg ~ x + (1 + zz | g), data = d), "random effect zz of g is 0 on every row")
})

test_that("more than 10 random effects per cluster is an error", {
  d <- ad
  d$f12 <- factor(rep(1:12, length.out = an))
  expect_error(glamm(yg ~ x + (f12 | h), data = d), "12 random effects per cluster: at most 10")
})

test_that("a random slope alone in a model without fixed effects agrees with lmer", {
  fit <- glamm(yg ~ 0 + (0 + x | g), data = ad)
  ref <- suppressMessages(lme4::lmer(yg ~ 0 + (0 + x | g), data = ad, REML = FALSE))
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 1e-12
})

test_that("a gaussian response scaled by 1e-8 or 1e8 is lmer's fit up to the scale", {
  # (without the patch the polish's solve() fails on an information spanning
  # 1e17 to 1e2: estimates 7.6e-6 and sigma 3.3e-6 off, logLik 1e-8 short)
  for (s in c(1e-8, 1e8)) {
    d <- ad
    d$ys <- d$yg * s
    fit <- glamm(ys ~ x + (1 | g), data = d)
    ref <- lme4::lmer(ys ~ x + (1 | g), data = d, REML = FALSE)
    expect_lt(abs(ll(fit) - as.numeric(logLik(ref))), 1e-9)  # seen 4.5e-13 with the patch
    expect_equal(unname(fixef(fit)) / s, unname(lme4::fixef(ref)) / s,
                 tolerance = 1e-7)  # seen 4e-10 with the patch
    expect_equal(sigma(fit) / s, sigma(ref) / s, tolerance = 1e-7)  # seen 6e-10
  }
})

test_that("a covariate shifted by 1e6 changes only the intercept, with its SEs", {
  # (warns "the observed information is not positive definite" and gives NA
  # SEs: the Hessian mapped to the user's scale has an intercept-slope
  # correlation of 1 - 1e-12)
  d <- ad
  d$xs <- d$x + 1e6
  expect_silent(fit <- glamm(y ~ xs + (1 | g), data = d, family = binomial, nAGQ = 5))
  expect_equal(ll(fit), ll(adv_bin), tolerance = 1e-8)  # seen 1e-13
  expect_equal(fixef(fit)[["xs"]], fixef(adv_bin)[["x"]], tolerance = 1e-6)  # seen 1e-9
  expect_equal(sqrt(vcov(fit)["xs", "xs"]), sqrt(vcov(adv_bin)["x", "x"]), tolerance = 1e-4)
})
