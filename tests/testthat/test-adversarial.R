# Adversarial input (issue 16): every case either stops with an error that
# names the cause, or fits and agrees with an independent reference (glm,
# lme4, glmmTMB, or glamm on the equivalent clean data) within a stated
# tolerance (the error seen is in a comment), or gives the expected warning.
# Small data and few quadrature points keep the file under a minute.

# ---- missing values ---------------------------------------------------------------------

test_that("NA in the response (gaussian, na.omit) equals lmer on the complete rows", {
  d <- ad
  d$yg[c(2, 40, 41)] <- NA
  fit <- glamm(yg ~ x + (1 | g), data = d, na.action = na.omit)
  ref <- lme4::lmer(yg ~ x + (1 | g), data = d[-c(2, 40, 41), ], REML = FALSE)
  expect_equal(nobs(fit), an - 3)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 0
  expect_equal(unname(fixef(fit)), unname(lme4::fixef(ref)), tolerance = 1e-5)  # seen 2e-9
})

test_that("NA in a covariate (binomial, na.exclude) equals glmer on the complete rows", {
  d <- ad
  d$x[c(5, 77)] <- NA
  fit <- glamm(y ~ x + (1 | g), data = d, family = binomial, nAGQ = 5, na.action = na.exclude)
  ref <- lme4::glmer(y ~ x + (1 | g), data = d[-c(5, 77), ], family = binomial, nAGQ = 5)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-6)  # seen 2e-12
  expect_length(fitted(fit), an)
  expect_identical(unname(which(is.na(fitted(fit)))), c(5L, 77L))
})

test_that("NA in the grouping factor drops the row (na.omit)", {
  d <- ad
  d$g[c(1, 150)] <- NA
  fit <- glamm(yg ~ x + (1 | g), data = d, na.action = na.omit)
  ref <- glamm(yg ~ x + (1 | g), data = d[-c(1, 150), ])
  expect_equal(nobs(fit), an - 2)
  expect_equal(ll(fit), ll(ref), tolerance = 1e-12)  # seen 0
})

test_that("NA in the weights or the offset drops the row", {
  d <- ad
  d$w <- 1
  d$w[3] <- NA
  expect_equal(nobs(glamm(yg ~ x + (1 | g), data = d, weights = w, na.action = na.omit)), an - 1)
  off <- c(NA, rep(0, an - 1))
  fit <- glamm(cnt ~ x + (1 | g), data = ad, family = poisson, nAGQ = 5, offset = off,
               na.action = na.omit)
  ref <- glamm(cnt ~ x + (1 | g), data = ad[-1, ], family = poisson, nAGQ = 5)
  expect_equal(ll(fit), ll(ref), tolerance = 1e-12)  # seen 0
})

test_that("NaN in the offset is a missing value", {
  off <- c(NaN, rep(0, an - 1))
  fit <- glamm(cnt ~ x + (1 | g), data = ad, family = poisson, nAGQ = 5, offset = off,
               na.action = na.omit)
  expect_equal(nobs(fit), an - 1)
})

test_that("NA in the grouping factor with na.fail is an error", {
  d <- ad
  d$g[7] <- NA
  expect_error(glamm(yg ~ x + (1 | g), data = d, na.action = na.fail), "missing values")
})

test_that("a response that is all NA leaves no observations", {
  d <- ad
  d$y <- NA
  expect_error(glamm(y ~ x + (1 | g), data = d, family = binomial),
               "no observations left after removing missing values")
})

test_that("an empty subset is named as the cause", {
  expect_error(glamm(yg ~ x + (1 | g), data = ad, subset = x > 100),
               "no observations left after 'subset'")
})

test_that("NA in a column the model does not use drops no row", {
  d <- ad
  d$unused <- NA
  expect_equal(nobs(glamm(yg ~ x + (1 | g), data = d, na.action = na.omit)), an)
})

test_that("na.exclude pads the residuals of a fit with a missing grouping value", {
  d <- ad
  d$g[10] <- NA
  fit <- glamm(yg ~ x + (1 | g), data = d, na.action = na.exclude)
  expect_length(residuals(fit), an)
  expect_true(is.na(residuals(fit)[10]))
})

# ---- grouping factors -------------------------------------------------------------------

test_that("a grouping factor whose only other level is unused is a single level", {
  d <- ad
  d$one <- factor(rep("a", an), levels = c("a", "b"))
  expect_error(glamm(yg ~ x + (1 | one), data = d), "single level")
})

test_that("a character grouping variable fits as the factor", {
  d <- ad
  d$gc <- as.character(d$g)
  expect_equal(ll(glamm(yg ~ x + (1 | gc), data = d)), ll(adv_gau), tolerance = 1e-12)  # seen 0
})

test_that("unused levels of the grouping factor change nothing", {
  d <- ad
  d$gu <- factor(d$g, levels = 1:50)
  fit <- glamm(yg ~ x + (1 | gu), data = d)
  expect_equal(ll(fit), ll(adv_gau), tolerance = 1e-12)  # seen 0
  expect_equal(nrow(ranef(fit)$gu), 30)
})

test_that("two clusters fit (a poor variance estimate, but a valid model) as lmer", {
  d <- ad
  d$g2 <- factor(rep(1:2, length.out = an))
  fit <- glamm(yg ~ x + (1 | g2), data = d)
  ref <- suppressMessages(lme4::lmer(yg ~ x + (1 | g2), data = d, REML = FALSE))
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-6)  # seen 0
})

test_that("gaussian clusters of one row each are not identified: an error", {
  d <- ad
  d$obs <- factor(seq_len(an))
  expect_error(glamm(yg ~ x + (1 | obs), data = d),
               "every cluster of obs has a single observation.*not separately identified")
})

test_that("binary clusters of one row each give the identification warning", {
  d <- ad
  d$obs <- factor(seq_len(an))
  expect_warning(glamm(y ~ x + (1 | obs), data = d, family = binomial, nAGQ = 3),
                 "single binary observation")
})

test_that("poisson clusters of one row (observation-level effect) agree with glmer", {
  d <- ad
  d$obs <- factor(seq_len(an))
  # (glmer's logLik with nAGQ > 1 leaves out a constant here: compare the estimates)
  fit <- glamm(cnt ~ x + (1 | obs), data = d, family = poisson, nAGQ = 7)
  ref <- lme4::glmer(cnt ~ x + (1 | obs), data = d, family = poisson, nAGQ = 7)
  expect_equal(fit$theta, unname(lme4::getME(ref, "theta")), tolerance = 1e-4)  # seen 3e-6
  expect_equal(unname(fixef(fit)), unname(lme4::fixef(ref)), tolerance = 1e-4)  # seen 5e-6
  laplace <- glamm(cnt ~ x + (1 | obs), data = d, family = poisson, nAGQ = 1)
  tmb <- glmmTMB::glmmTMB(cnt ~ x + (1 | obs), data = d, family = poisson)
  expect_equal(ll(laplace), as.numeric(logLik(tmb)), tolerance = 1e-6)  # seen 3e-15
})

test_that("some clusters of one row (gaussian) agree with lmer", {
  d <- ad[c(1:100, seq(101, 150, by = 5)), ]
  d$g <- droplevels(d$g)
  fit <- glamm(yg ~ x + (1 | g), data = d)
  ref <- lme4::lmer(yg ~ x + (1 | g), data = d, REML = FALSE)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 2e-16
})

# ---- responses without variation --------------------------------------------------------

test_that("a binary response of all 0s or all 1s is an error naming it", {
  d <- ad
  d$y <- 0
  expect_error(glamm(y ~ x + (1 | g), data = d, family = binomial), "no variation \\(all failures")
  d$y <- 1
  expect_error(glamm(y ~ x + (1 | g), data = d, family = binomial),
               "no variation \\(all successes")
})

test_that("poisson counts all 0 and a constant gaussian response are errors", {
  d <- ad
  d$cnt <- 0
  expect_error(glamm(cnt ~ x + (1 | g), data = d, family = poisson), "all counts 0")
  d$yg <- 3
  expect_error(glamm(yg ~ x + (1 | g), data = d), "a constant response")
})

test_that("a response constant on the rows of positive weight is an error", {
  w <- ifelse(ad$y == 1, 0, 1)
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial, weights = w),
               "all failures")
})

test_that("an ordinal response with one category used is an error", {
  d <- ad
  d$o <- factor(rep("a", an), levels = c("a", "b"), ordered = TRUE)
  expect_error(glamm(o ~ x + (1 | g), data = d, family = ordinal()), "no variation")
})

# ---- weights ----------------------------------------------------------------------------

test_that("weights all zero say so", {
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial, weights = rep(0, an)),
               "no observation has a positive weight")
})

test_that("zero weights give the fit without those rows (gaussian)", {
  w <- rep(1, an)
  w[c(4, 60, 61)] <- 0
  fit <- glamm(yg ~ x + (1 | g), data = ad, weights = w)
  ref <- glamm(yg ~ x + (1 | g), data = ad[-c(4, 60, 61), ])
  expect_equal(unname(fixef(fit)), unname(fixef(ref)), tolerance = 1e-6)  # seen 7e-11
  expect_equal(fit$theta, ref$theta, tolerance = 1e-6)  # seen 7e-11
})

test_that("huge constant gaussian weights only rescale sigma", {
  # (the start of Lambda was 1000 times too large: 'iteration limit reached'; lmer
  # warns here and its estimates are off by 0.05)
  fit <- expect_no_warning(glamm(yg ~ x + (1 | g), data = ad, weights = rep(1e6, an)))
  expect_equal(unname(fixef(fit)), unname(fixef(adv_gau)), tolerance = 1e-6)  # seen 1e-16
  expect_equal(sigma(fit), 1000 * sigma(adv_gau), tolerance = 1e-6)  # seen 4e-16
  expect_equal(fit$Sigma, adv_gau$Sigma, tolerance = 1e-5)  # seen 4e-16
})

test_that("binomial weights as trials agree with glmer", {
  d <- ad
  d$n <- rep(1:3, length.out = an)
  d$s <- rbinom(an, d$n, plogis(d$x))
  d$p <- d$s / d$n
  # (the search stopped at the saddle theta = 0 with a 'not positive definite' warning;
  # glmer's estimates have a higher likelihood)
  fit <- expect_no_warning(glamm(p ~ x + (1 | g), data = d, family = binomial, weights = n,
                                 nAGQ = 5))
  ref <- lme4::glmer(p ~ x + (1 | g), data = d, family = binomial, weights = n, nAGQ = 5)
  expect_equal(unname(fixef(fit)), unname(lme4::fixef(ref)), tolerance = 1e-4)  # seen 5e-6
  expect_equal(fit$theta, unname(lme4::getME(ref, "theta")), tolerance = 1e-3)  # seen 5e-5
})

test_that("infinite, negative or wrong-length weights are errors", {
  expect_error(glamm(yg ~ x + (1 | g), data = ad, weights = c(Inf, rep(1, an - 1))),
               "'weights' must be finite and non-negative")
  expect_error(glamm(yg ~ x + (1 | g), data = ad, weights = c(-1, rep(1, an - 1))),
               "'weights' must be finite and non-negative")
  expect_error(glamm(yg ~ x + (1 | g), data = ad, weights = rep(1, 10)), "variable lengths differ")
})

# ---- offsets ----------------------------------------------------------------------------

test_that("an infinite offset is an error", {
  expect_error(glamm(cnt ~ x + (1 | g), data = ad, family = poisson,
                     offset = c(-Inf, rep(0, an - 1))), "'offset' must be finite")
})

test_that("an offset on the wrong scale for the log link is named", {
  # (was glm.fit's "no valid set of coefficients has been found: please supply starting values")
  expect_error(glamm(cnt ~ x + (1 | g), data = ad, family = poisson,
                     offset = c(1e5, rep(0, an - 1))),
               "ranges from 0 to 1e\\+05.*log\\(exposure\\)")
})

test_that("an offset beyond 1e15 is an error", {
  expect_error(glamm(cnt ~ x + (1 | g), data = ad, family = poisson, offset = rep(1e300, an)),
               "'offset' has values as large as 1e\\+300")
  expect_error(glamm(yg ~ x + (1 | g), data = ad, offset = rep(-1e16, an)), "as large as")
})

test_that("a large constant offset is absorbed by the intercept, with the same fit", {
  # (the information had steps of 10 in the intercept: 'not positive definite')
  off <- rep(1e5, an)
  ref <- glamm(cnt ~ x + (1 | g), data = ad, family = poisson, nAGQ = 5)
  fit <- expect_no_warning(glamm(cnt ~ x + (1 | g), data = ad, family = poisson, nAGQ = 5,
                                 offset = off))
  expect_equal(unname(fixef(fit)[2]), unname(fixef(ref)[2]), tolerance = 1e-5)  # seen 6e-13
  expect_equal(unname(fixef(fit)[1]), unname(fixef(ref)[1]) - 1e5, tolerance = 1e-12)
  expect_equal(sqrt(diag(vcov(fit))), sqrt(diag(vcov(ref))), tolerance = 1e-4)  # seen 2e-8
})

test_that("an offset term in the formula equals the offset argument", {
  d <- ad
  d$lo <- log(rep(c(1, 2), length.out = an))
  f1 <- glamm(cnt ~ x + offset(lo) + (1 | g), data = d, family = poisson, nAGQ = 5)
  f2 <- glamm(cnt ~ x + (1 | g), data = d, family = poisson, nAGQ = 5, offset = lo)
  expect_equal(ll(f1), ll(f2), tolerance = 1e-12)  # seen 0
})

test_that("a binomial offset agrees with glmer", {
  d <- ad
  d$o <- rep(c(-1, 1), length.out = an)
  fit <- glamm(y ~ x + (1 | g), data = d, family = binomial, nAGQ = 5, offset = o)
  ref <- lme4::glmer(y ~ x + (1 | g), data = d, family = binomial, nAGQ = 5, offset = o)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-6)  # seen 4e-11
})

# ---- the fixed-effects design -----------------------------------------------------------

test_that("a collinear column is dropped with a message, as glm does", {
  d <- ad
  d$x2 <- 2 * d$x
  expect_message(fit <- glamm(y ~ x + x2 + (1 | g), data = d, family = binomial, nAGQ = 5),
                 "rank deficient: dropping x2")
  expect_equal(ll(fit), ll(adv_bin), tolerance = 1e-10)  # seen 0
})

test_that("a column of zeros is dropped", {
  d <- ad
  d$zero <- 0
  expect_message(fit <- glamm(yg ~ x + zero + (1 | g), data = d), "dropping zero")
  expect_equal(ll(fit), ll(adv_gau), tolerance = 1e-10)  # seen 0
})

test_that("an empty cell of an interaction is dropped and the fit agrees with glmer", {
  d <- ad
  d$f2 <- factor(rep(c("u", "v"), each = an / 2))
  d <- d[!(d$f == "a" & d$f2 == "v"), ]
  expect_message(fit <- glamm(y ~ f * f2 + (1 | g), data = d, family = binomial, nAGQ = 5),
                 "rank deficient")
  ref <- suppressMessages(lme4::glmer(y ~ f * f2 + (1 | g), data = d, family = binomial,
                                      nAGQ = 5))
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-6)  # seen 4e-12
})

test_that("a covariate in millions gives the rescaled coefficient", {
  d <- ad
  d$xb <- d$x * 1e6
  fit <- glamm(y ~ xb + (1 | g), data = d, family = binomial, nAGQ = 5)
  expect_equal(unname(fixef(fit)[2]) * 1e6, unname(fixef(adv_bin)[2]),
               tolerance = 1e-6)  # seen 2e-8
  expect_equal(ll(fit), ll(adv_bin), tolerance = 1e-9)  # seen 0
})

# ---- no fixed effects -------------------------------------------------------------------

test_that("y ~ 0 + (1 | g) fits (gaussian) and agrees with lmer", {
  # (was "length of 'dimnames' [2] not equal to array extent")
  fit <- glamm(yg ~ 0 + (1 | g), data = ad)
  ref <- lme4::lmer(yg ~ 0 + (1 | g), data = ad, REML = FALSE)
  expect_length(fixef(fit), 0)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 2e-16
})

test_that("y ~ 0 + (1 | g) fits (binomial) and agrees with glmer", {
  fit <- glamm(y ~ 0 + (1 | g), data = ad, family = binomial, nAGQ = 7)
  ref <- lme4::glmer(y ~ 0 + (1 | g), data = ad, family = binomial, nAGQ = 7)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-6)  # seen 2e-11
  expect_equal(fit$theta, unname(lme4::getME(ref, "theta")), tolerance = 1e-4)  # seen 4e-6
})

test_that("the methods work for a fit without fixed effects", {
  fit <- glamm(y ~ 0 + (1 | g), data = ad, family = binomial, nAGQ = 5)
  expect_output(print(fit), "Fixed effects: none")
  expect_output(print(summary(fit)), "Fixed effects: none")
  expect_equal(unname(predict(fit, ad[1:3, ], re.form = NA)), rep(0, 3))
  expect_equal(dim(simulate(fit, nsim = 2, seed = 1)), c(an, 2))
  expect_equal(dim(vcov(fit)), c(0, 0))
})

# ---- nAGQ and control -------------------------------------------------------------------

test_that("nAGQ beyond the integer range or above 1000 is an error naming the limit", {
  # (1e10 was "missing value where TRUE/FALSE needed", 1e6 std::bad_alloc)
  for (K in c(1e10, 1e6, 1001)) {
    expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = K),
                 "at most 1000 quadrature points per random effect")
  }
})

test_that("nAGQ = 1000 is allowed and agrees with 50 points", {
  f1000 <- glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = 1000,
                 start = adv_bin)
  f50 <- glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = 50, start = adv_bin)
  expect_equal(ll(f1000), ll(f50), tolerance = 1e-9)  # seen 0
})

test_that("non-numeric, infinite or logical nAGQ is an error", {
  msg <- "'nAGQ' must be a whole number >= 1"
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = Inf), msg)
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = TRUE), msg)
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = NaN), msg)
})

test_that("nAGQ named by a variable that is no grouping factor is an error", {
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = c(zz = 3)),
               "'nAGQ' names zz, which is not a grouping factor of the model; valid names: g")
})

test_that("nAGQ for a gaussian model is accepted (the integral is exact)", {
  expect_equal(ll(glamm(yg ~ x + (1 | g), data = ad, nAGQ = 5)), ll(adv_gau),
               tolerance = 1e-8)  # seen 0
})

test_that("bad control values are errors", {
  expect_error(glamm_control(rel.tol = 0), "'rel.tol' must be a positive number")
  expect_error(glamm_control(iter.max = -1), "'iter.max' must be a positive whole number")
  expect_error(glamm_control(nthreads = 1.5), "'nthreads' must be a positive whole number")
  expect_error(glamm(yg ~ x + (1 | g), data = ad, control = list(foo = 1)), "foo")
})

test_that("a control list is used as glamm_control()", {
  fit <- glamm(yg ~ x + (1 | g), data = ad, control = list(rel.tol = 1e-12))
  expect_equal(ll(fit), ll(adv_gau), tolerance = 1e-8)  # seen 1e-16
})

test_that("one thread and two give the same fit", {
  f1 <- glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = 5,
              control = glamm_control(nthreads = 1))
  f2 <- glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = 5,
              control = glamm_control(nthreads = 2))
  expect_equal(ll(f1), ll(f2), tolerance = 1e-12)  # seen 0
})

# ---- start values -----------------------------------------------------------------------

test_that("a start value far from the data is an error naming start values", {
  # (was "the mode search failed in 2 cluster(s)" after two warnings)
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial,
                     start = list(beta = c(1e6, 0))),
               "search diverged, e.g. from start values far from the data")
})

test_that("a negative start for a standard deviation or sigma is an error", {
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial,
                     start = list(theta = -1)), "start\\$theta must be >= 0")
  expect_error(glamm(yg ~ x + (1 | g), data = ad, start = list(sigma = -1)),
               "start\\$sigma must be a positive number")
})

test_that("good start values give the same fit", {
  fit <- glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = 5,
               start = list(beta = c(0, 0), theta = 1))
  expect_equal(ll(fit), ll(adv_bin), tolerance = 1e-8)  # seen 3e-15
})

# ---- responses of odd types -------------------------------------------------------------

test_that("a logical binary response fits as 0/1", {
  d <- ad
  d$yl <- d$y == 1
  expect_equal(ll(glamm(yl ~ x + (1 | g), data = d, family = binomial, nAGQ = 5)),
               ll(adv_bin), tolerance = 1e-12)  # seen 0
})

test_that("a factor binary response fits as 0/1 (second level a success)", {
  d <- ad
  d$yf <- factor(c("no", "yes")[d$y + 1])
  expect_equal(ll(glamm(yf ~ x + (1 | g), data = d, family = binomial, nAGQ = 5)),
               ll(adv_bin), tolerance = 1e-12)  # seen 0
})

test_that("cbind(successes, failures) with rows of zero trials agrees with glmmTMB", {
  d <- ad
  d$n <- rep(0:2, length.out = an)
  d$s <- rbinom(an, d$n, plogis(d$x))
  fit <- glamm(cbind(s, n - s) ~ x + (1 | g), data = d, family = binomial, nAGQ = 1)
  ref <- glmmTMB::glmmTMB(cbind(s, n - s) ~ x + (1 | g), data = d[d$n > 0, ],
                          family = binomial)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-5)  # seen 7e-14
})

test_that("binomial counts above 1 without trials are an error", {
  d <- ad
  d$y[1] <- 3
  expect_error(glamm(y ~ x + (1 | g), data = d, family = binomial), "0/1")
})

# ---- predict(): bad new data ------------------------------------------------------------

test_that("new data without a covariate is an error naming it", {
  expect_error(predict(adv_bin, ad[1:3, c("g", "y")]), "'x' not found")
})

test_that("new data without the grouping variable need re.form = NA", {
  expect_error(predict(adv_bin, ad[1:3, c("x", "y")]), "newdata needs the grouping variable g")
  expect_equal(predict(adv_bin, ad[1:3, c("x", "y")], re.form = NA),
               predict(adv_bin, ad[1:3, ], re.form = NA), tolerance = 1e-14)
})

test_that("a new level of a fixed-effect factor is an error", {
  fit <- glamm(yg ~ x + f + (1 | g), data = ad)
  nd <- ad[1:2, ]
  nd$f <- factor(c("a", "zz"))
  expect_error(predict(fit, nd), "new level")
})

test_that("new clusters need allow.new.levels, and then predict with effects 0", {
  nd <- ad[1:2, ]
  nd$g <- factor(c("1", "999"))
  expect_error(predict(adv_bin, nd), "clusters not in the fit.*allow.new.levels")
  p <- predict(adv_bin, nd, allow.new.levels = TRUE)
  expect_equal(unname(p[2]), unname(predict(adv_bin, nd[2, ], re.form = NA)), tolerance = 1e-14)
})

test_that("a missing cluster label predicts NA by default (it is not a new cluster)", {
  # (was silently the prediction with random effect 0, even without allow.new.levels)
  nd <- ad[1:4, ]
  nd$g[2] <- NA
  p <- predict(adv_bin, nd)
  expect_true(is.na(p[2]))
  expect_equal(unname(p[-2]), unname(predict(adv_bin, ad[c(1, 3, 4), ])), tolerance = 1e-14)
  expect_false(is.na(predict(adv_bin, nd, re.form = NA)[2]))
})

test_that("predict()'s na.action: na.omit drops, na.exclude pads, na.fail stops", {
  nd <- ad[1:5, ]
  nd$g[2] <- NA
  nd$x[4] <- NA
  expect_identical(names(predict(adv_bin, nd, na.action = na.omit)), c("1", "3", "5"))
  s <- predict(adv_bin, nd, na.action = na.exclude, se.fit = TRUE)
  expect_identical(which(is.na(s$se.fit)), c(`2` = 2L, `4` = 4L))
  expect_error(predict(adv_bin, nd, na.action = na.fail),
               "newdata has missing values.*rows 2, 4.*na.fail")
  expect_error(predict(adv_bin, nd, na.action = "na.fail"), "na.fail")
})

test_that("marginal predictions need no cluster label, so a missing one is no NA", {
  nd <- ad[1:3, ]
  nd$g[2] <- NA
  p <- predict(adv_bin, nd, type = "response", marginal = TRUE)
  expect_false(anyNA(p))
})

test_that("zero-row new data give zero-length predictions", {
  expect_length(predict(adv_bin, ad[0, ]), 0)
  expect_length(predict(adv_bin, ad[0, ], re.form = NA), 0)
  expect_length(predict(adv_bin, ad[0, ], type = "response"), 0)
  expect_length(predict(adv_bin, ad[0, ], type = "response", marginal = TRUE), 0)
  s <- predict(adv_bin, ad[0, ], se.fit = TRUE)
  expect_length(s$fit, 0)
  expect_length(s$se.fit, 0)
})

test_that("new data that is not a data frame, or a bad nquad, is an error", {
  expect_error(predict(adv_bin, as.matrix(ad[1:3, ])), "'newdata' must be a data frame")
  expect_error(predict(adv_bin, ad[1:3, ], type = "response", marginal = TRUE, nquad = 0),
               "'nquad' must be a whole number from 1 to 1000")
  expect_error(predict(adv_bin, ad[1:3, ], type = "response", marginal = TRUE, nquad = 1e6),
               "from 1 to 1000")
})

test_that("predictions with re.form = NA agree with glm's at theta = 0's coefficients", {
  # the fixed part only: X beta + offset, which predict.glm gives for the same beta
  gm <- glm(y ~ x, data = ad, family = binomial)
  gm$coefficients <- fixef(adv_bin)
  expect_equal(unname(predict(adv_bin, ad[1:10, ], re.form = NA)),
               unname(predict(gm, ad[1:10, ])), tolerance = 1e-14)
})

test_that("predictions for the fit's data agree with glmer's (conditional, link scale)", {
  ref <- lme4::glmer(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = 5)
  # glamm's effects are posterior means, lme4's conditional modes: compare fixed parts
  expect_equal(unname(predict(adv_bin, ad, re.form = NA)),
               unname(predict(ref, ad, re.form = NA)), tolerance = 1e-4)  # seen 2e-5
})

# ---- simulate() -------------------------------------------------------------------------

test_that("simulate(nsim < 1) and non-whole nsim are errors", {
  for (k in list(0, -1, 2.5, NA, "2")) {
    expect_error(simulate(adv_bin, nsim = k), "'nsim' must be a whole number >= 1")
  }
})

test_that("simulate() with a seed is reproducible", {
  expect_identical(simulate(adv_bin, nsim = 2, seed = 3), simulate(adv_bin, nsim = 2, seed = 3))
})

# ---- anova() misuse ---------------------------------------------------------------------

adv_bin2 <- glamm(y ~ x + z + (1 | g), data = ad, family = binomial, nAGQ = 5)

test_that("anova() of fits to different responses of the same size is an error", {
  d <- ad
  d$y <- rev(d$y)
  other <- glamm(y ~ x + z + (1 | g), data = d, family = binomial, nAGQ = 5)
  expect_error(anova(adv_bin, other), "different response values")
})

test_that("anova() of fits of different families or links is an error", {
  fp <- glamm(cnt ~ x + z + (1 | g), data = ad, family = poisson, nAGQ = 5)
  expect_error(anova(adv_bin, fp), "binomial\\(logit\\) fit and fp a poisson\\(log\\) fit")
  fpr <- glamm(y ~ x + z + (1 | g), data = ad, family = binomial("probit"), nAGQ = 5)
  expect_error(anova(adv_bin, fpr), "different families or links")
})

test_that("anova() of models with different fixed effects is an error", {
  fz <- glamm(y ~ z + (1 | g), data = ad, family = binomial, nAGQ = 5)
  expect_error(anova(adv_bin, fz), "not nested: .* has the fixed effect (x|z), which .* lacks")
})

test_that("anova() of models with different grouping factors is an error", {
  d <- ad
  d$h <- factor(rep(1:10, length.out = an))
  fit_h <- glamm(y ~ x + z + (1 | h), data = d, family = binomial, nAGQ = 5)
  expect_error(anova(adv_bin, fit_h), "has random effects by g, which fit_h lacks")
})

test_that("anova() of models with different random effects is an error", {
  # (the slope variances are near 0: the fits may warn; the test is of anova())
  fs <- suppressWarnings(glamm(y ~ x + z + (1 + x | g), data = ad, family = binomial, nAGQ = 3))
  fzs <- suppressWarnings(glamm(y ~ x + z + (1 + z | g), data = ad, family = binomial, nAGQ = 3))
  expect_error(anova(fs, fzs), "has the random effect x of g, which fzs lacks")
})

test_that("anova() matches a relabelled grouping factor by its clusters", {
  d <- ad
  d$g2 <- factor(paste0("c", d$g))
  f2 <- glamm(y ~ x + z + (1 | g2), data = d, family = binomial, nAGQ = 5)
  a <- anova(adv_bin, f2)
  expect_equal(a$Chisq[2], 2 * (ll(f2) - ll(adv_bin)), tolerance = 1e-12)
})

test_that("anova() against a nested glm agrees with the LRT from logLik", {
  gm <- glm(y ~ x, data = ad, family = binomial)
  a <- anova(adv_bin, gm)
  expect_equal(a$Chisq[2], 2 * (ll(adv_bin) - as.numeric(logLik(gm))), tolerance = 1e-12)
  expect_error(anova(adv_bin, glm(y ~ x + z, data = ad, family = binomial)), "not nested")
})

test_that("anova() with an argument that is not a fit is an error", {
  expect_error(anova(adv_bin, ad), "argument 2 is a data.frame")
  expect_error(anova(adv_bin, 3), "argument 2 is a numeric")
})

test_that("anova() of a fit to a subset is an error about the observations", {
  sub <- glamm(y ~ x + z + (1 | g), data = ad[-1, ], family = binomial, nAGQ = 5)
  expect_error(anova(adv_bin, sub), "different numbers of observations")
})

# ---- scale and separation ---------------------------------------------------------------

test_that("complete separation warns that the fixed effects are infinite", {
  # (x = 1000 was returned without a word; glm warns the same way)
  d <- ad
  d$sep <- as.numeric(d$x > 0)
  expect_warning(glamm(sep ~ x + (1 | g), data = d, family = binomial, nAGQ = 3),
                 "fitted probabilities numerically 0 or 1.*separates the outcomes")
})

test_that("a gaussian response far from 0 relative to its spread says to centre it", {
  # (was "the log-likelihood is not finite at the start values")
  d <- ad
  d$yb <- 1e8 + d$yg
  expect_error(glamm(yb ~ x + (1 | g), data = d), "near 1e\\+08 with a spread of only")
})

test_that("a gaussian response shifted by 1e4 agrees with lmer", {
  d <- ad
  d$yb <- 1e4 + d$yg
  fit <- glamm(yb ~ x + (1 | g), data = d)
  ref <- lme4::lmer(yb ~ x + (1 | g), data = d, REML = FALSE)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 5e-14
})

test_that("counts in millions agree with glmer's estimates", {
  # (glmer's logLik with nAGQ > 1 differs by a constant; glamm's objective at glmer's
  # estimates equals its own maximum)
  d <- ad
  d$cb <- d$cnt * 1e6
  fit <- glamm(cb ~ x + (1 | g), data = d, family = poisson)
  ref <- suppressWarnings(lme4::glmer(cb ~ x + (1 | g), data = d, family = poisson, nAGQ = 15))
  expect_equal(unname(fixef(fit)), unname(lme4::fixef(ref)), tolerance = 1e-4)  # seen 1e-5
  expect_equal(fit$theta, unname(lme4::getME(ref, "theta")), tolerance = 1e-4)  # seen 4e-5
})

test_that("a numeric grouping variable and labels with ':' fit as the factor", {
  d <- ad
  d$gn <- as.numeric(d$g) + 0.5
  d$gl <- paste0("a:", d$g)
  expect_equal(ll(glamm(yg ~ x + (1 | gn), data = d)), ll(adv_gau), tolerance = 1e-12)  # seen 0
  expect_equal(ll(glamm(yg ~ x + (1 | gl), data = d)), ll(adv_gau), tolerance = 1e-12)  # seen 0
})

test_that("very unequal cluster sizes agree with lmer", {
  d <- ad
  d$gu <- factor(c(rep(1, 100), rep(2:26, each = 2)))
  fit <- glamm(yg ~ x + (1 | gu), data = d)
  ref <- suppressMessages(lme4::lmer(yg ~ x + (1 | gu), data = d, REML = FALSE))
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 6e-16
})

test_that("a random slope without intercept and || agree with lme4", {
  fit <- glamm(yg ~ x + (0 + x | g), data = ad)
  ref <- suppressMessages(lme4::lmer(yg ~ x + (0 + x | g), data = ad, REML = FALSE))
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-6)  # seen 3e-16
  f2 <- glamm(y ~ x + (1 + x || g), data = ad, family = binomial, nAGQ = 1)
  r2 <- suppressMessages(lme4::glmer(y ~ x + (1 + x || g), data = ad, family = binomial))
  expect_equal(ll(f2), as.numeric(logLik(r2)), tolerance = 1e-6)  # seen 2e-10
})

# ---- more misuse ------------------------------------------------------------------------

test_that("a repeated random-effect term is an error", {
  expect_error(glamm(yg ~ x + (1 | g) + (1 | g), data = ad), "repeat a column")
})

test_that("a formula given as a string, or a one-sided one, is an error", {
  expect_error(glamm("yg ~ x + (1 | g)", data = ad), "two-sided formula")
})

test_that("a response used as its own grouping factor is caught as single-row clusters", {
  expect_error(glamm(yg ~ x + (1 | yg), data = ad), "single observation")
})

test_that("character weights are an error", {
  expect_error(glamm(yg ~ x + (1 | g), data = ad, weights = rep("1", an)))
})

test_that("predict(): a bad type or re.form is an error naming the choices", {
  expect_error(predict(adv_bin, ad[1:2, ], type = "prob"), "link.*response")
  expect_error(predict(adv_bin, ad[1:2, ], re.form = ~ (1 | zz)),
               "names the grouping factor zz, which is not one of the model's \\(g\\)")
  expect_error(predict(adv_bin, ad[1:2, ], re.form = "g"), "'re.form' must be NULL")
  expect_error(predict(adv_bin, ad[1:2, ], marginal = TRUE), "use type = \"response\"")
})

test_that("predict(): factor levels and cluster labels are matched by label, not code", {
  fit <- glamm(y ~ x + f + (1 | g), data = ad, family = binomial, nAGQ = 5)
  nd <- ad[1:3, ]
  nd2 <- nd
  nd2$f <- factor(as.character(nd$f), levels = c("c", "b", "a"))
  nd2$g <- factor(as.character(nd$g), levels = c("1", "0"))
  expect_equal(predict(fit, nd2), predict(fit, nd), tolerance = 1e-14)
  nd3 <- nd
  nd3$g <- as.numeric(as.character(nd$g))
  expect_equal(predict(fit, nd3), predict(fit, nd), tolerance = 1e-14)
})

test_that("predict(): ordinal probabilities with a missing label are NA rows or dropped", {
  d <- ad
  d$o <- cut(d$yg, c(-Inf, 0, 1.5, Inf), ordered_result = TRUE)
  fit <- glamm(o ~ x + (1 | g), data = d, family = ordinal(), nAGQ = 5)
  nd <- d[1:3, ]
  nd$g[2] <- NA
  P <- predict(fit, nd, type = "response")
  expect_equal(dim(P), c(3, 3))
  expect_true(all(is.na(P[2, ])))
  expect_equal(unname(rowSums(P[-2, ])), c(1, 1), tolerance = 1e-12)
  expect_equal(dim(predict(fit, nd, type = "response", na.action = na.omit)), c(2, 3))
  expect_equal(nrow(predict(fit, d[0, ], type = "response")), 0)
})

test_that("predict(): nested levels, a missing class label gives NA, re.form school does not", {
  d <- ad
  d$class <- factor(rep(1:3, length.out = an))
  fit <- glamm(yg ~ x + (1 | g/class), data = d)
  nd <- d[1:3, ]
  nd$class[2] <- NA
  p <- predict(fit, nd)
  expect_true(is.na(p[2]))
  expect_false(anyNA(predict(fit, nd, re.form = ~ (1 | g))))
})

test_that("predict(): an NA offset in new data gives NA", {
  d <- ad
  d$lo <- 0
  fit <- glamm(cnt ~ x + offset(lo) + (1 | g), data = d, family = poisson, nAGQ = 3)
  nd <- d[1:3, ]
  nd$lo[3] <- NA
  expect_identical(is.na(unname(predict(fit, nd, re.form = NA))), c(FALSE, FALSE, TRUE))
})

test_that("predict(): na.action must be a function or its name", {
  nd <- ad[1:2, ]
  nd$g[1] <- NA
  expect_error(predict(adv_bin, nd, na.action = 3), "'na.action' must be a function")
})

test_that("simulate(): a re.form naming an unknown factor is an error", {
  expect_error(simulate(adv_bin, re.form = ~ (1 | zz)), "names the grouping factor zz")
})

test_that("anova() of three fits stops at the pair that is not nested", {
  f1 <- glamm(y ~ 1 + (1 | g), data = ad, family = binomial, nAGQ = 5)
  fz <- glamm(y ~ z + (1 | g), data = ad, family = binomial, nAGQ = 5)
  expect_equal(nrow(anova(f1, adv_bin, adv_bin2)), 3)
  expect_error(anova(f1, fz, adv_bin), "not nested")
})

test_that("anova() refuses a PQL fit and an ML fit", {
  pql <- glamm(y ~ x + (1 | g), data = ad, family = binomial, method = "PQL")
  expect_error(anova(adv_bin, pql), "PQL has no likelihood")
})

test_that("anova() of a glamm fit and a glm of a different family is an error", {
  gm <- glm(cnt ~ x, data = ad, family = poisson)
  expect_error(anova(adv_bin, gm), "different families or links")
})

test_that("anova() of a fit and itself has 0 degrees of freedom and no p-value", {
  a <- anova(adv_bin, adv_bin)
  expect_equal(a$Df[2], 0)
  expect_true(is.na(a[["Pr(>Chisq)"]][2]))
})
