# REML for gaussian models (glamm(..., REML = TRUE)) against
# lmer(REML = TRUE): the criterion at lmer's estimates (the same function),
# the estimates at the optimum (lmer run with a tight bobyqa), lmer's SEs of
# the fixed effects; the exact gradient against central differences; the
# methods' labels and anova()'s rules for REML fits.

skip_if_not_installed("lme4")
reml_ctl <- lme4::lmerControl(optimizer = "bobyqa",
                              optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
reml_sleep <- lme4::sleepstudy
reml_nested <- sim_nested(3, gaussian, sizes = c(20, 3, 5), sds = c(0.6, 0.8),
                          slope_sds = c(0, 0.4), sigma = 1)
reml_deep <- sim_nested(5, gaussian, sizes = c(6, 3, 3, 3), names = c("a", "b", "c"),
                        sds = c(0.5, 0.7, 0.9), sigma = 0.8)

test_that("two-level REML fits equal lmer(REML = TRUE): intercept, slope, ||", {
  forms <- list(Reaction ~ Days + (1 | Subject), Reaction ~ Days + (Days | Subject),
                Reaction ~ Days + (Days || Subject))
  for (form in forms) {
    f <- glamm(form, data = reml_sleep, REML = TRUE)
    m <- lme4::lmer(form, data = reml_sleep, REML = TRUE, control = reml_ctl)
    d <- reml_differences(f, m)
    # seen at most: criterion 2.3e-13, at lmer's estimates 4.5e-13, beta 9.9e-11,
    # SE 1.1e-07, variances 3.1e-07, sigma 1.0e-08
    expect_lt(d[["criterion"]], 1e-6)
    expect_lt(d[["at_lmer"]], 1e-8)
    expect_lt(d[["beta"]], 1e-6)
    expect_lt(d[["se"]], 1e-6)
    expect_lt(d[["varcov"]], 1e-6)
    expect_lt(d[["sigma"]], 1e-6)
    expect_true(isTRUE(f$REML))
  }
})

test_that("REML with prior weights and without fixed effects equals lmer", {
  d <- reml_sleep
  d$w <- 0.5 + (seq_len(nrow(d)) %% 4) / 2
  f <- glamm(Reaction ~ Days + (Days | Subject), data = d, weights = w, REML = TRUE)
  m <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = d, weights = w, REML = TRUE,
                  control = reml_ctl)
  dw <- reml_differences(f, m)
  # seen: criterion 2.3e-13, at lmer's estimates 6.8e-13, beta 2.1e-10, SE 8.6e-8,
  # variances 2.0e-7, sigma 1.3e-8
  expect_lt(dw[["criterion"]], 1e-6)
  expect_lt(dw[["at_lmer"]], 1e-8)
  expect_lt(max(dw[c("beta", "se", "varcov", "sigma")]), 1e-6)
  # p = 0: the restricted likelihood is the likelihood. The reference is
  # lmer's ML deviance: lmer's REMLcrit() of a model without fixed effects
  # was -1.6e119 in one R session and right in another.
  d$yc <- d$Reaction - 300
  f0 <- glamm(yc ~ 0 + (1 | Subject), data = d, REML = TRUE)
  m0 <- lme4::lmer(yc ~ 0 + (1 | Subject), data = d, REML = FALSE, control = reml_ctl)
  expect_lt(abs(deviance(f0) - deviance(m0)), 1e-6)  # seen 2.3e-13
  expect_identical(f0$loglik, glamm(yc ~ 0 + (1 | Subject), data = d)$loglik)
})

test_that("nested REML fits equal lmer(REML = TRUE): three and four levels, slopes", {
  cases <- list(
    list(strength ~ 1 + (1 | batch/cask), lme4::Pastes),
    list(y ~ x + (1 + x | school) + (1 | school:class), reml_nested),
    list(y ~ x + z + (1 | a/b/c), reml_deep))
  for (case in cases) {
    f <- glamm(case[[1]], data = case[[2]], REML = TRUE)
    m <- suppressMessages(lme4::lmer(case[[1]], data = case[[2]], REML = TRUE,
                                     control = reml_ctl))
    d <- reml_differences(f, m)
    # seen at most: criterion 4.5e-13, at lmer's estimates 4.5e-13, beta 4.8e-08,
    # SE 5.0e-08, variances 2.7e-07, sigma 1.2e-08
    expect_lt(d[["criterion"]], 1e-6)
    expect_lt(d[["at_lmer"]], 1e-8)
    expect_lt(d[["beta"]], 1e-6)
    expect_lt(d[["se"]], 1e-6)
    expect_lt(d[["varcov"]], 1e-6)
    expect_lt(d[["sigma"]], 1e-6)
  }
})

test_that("the REML gradient is exact: central differences agree", {
  fits <- list(glamm(Reaction ~ Days + (Days | Subject), data = reml_sleep, REML = TRUE),
               glamm(y ~ x + (1 + x | school) + (1 | school:class), data = reml_nested,
                     REML = TRUE))
  for (f in fits) {
    ll <- loglik_function(f)
    par <- f$par
    k <- seq_along(par)[-seq_along(fixef(f))]
    par[k] <- par[k] * 1.3 + 0.05  # away from the optimum
    g <- attr(ll(par, gradient = TRUE), "gradient")
    fd <- vapply(seq_along(par), function(j) {
      h <- 1e-5 * max(1, abs(par[j]))
      up <- down <- par
      up[j] <- par[j] + h
      down[j] <- par[j] - h
      (ll(up) - ll(down)) / (2 * h)
    }, 0)
    expect_lt(max(abs(g - fd) / pmax(abs(fd), 1)), 1e-6)  # seen 2.5e-9
  }
})

test_that("the dense REML term equals the identities at shifted fixed effects", {
  # Two computations of -1/2 log|X'V^-1X| and its gradient that share nothing
  # but the ML engine: the one-pass dense term (src/gaussian_reml.cpp) and
  # the quadratic identities at shifted beta (R/reml.R), here with prior
  # weights and correlated and independent slopes at both levels.
  d <- reml_nested
  d$w <- 0.5 + (seq_len(nrow(d)) %% 4) / 2
  f <- glamm(y ~ x + z + (1 + x || school) + (1 + z | school:class), data = d, weights = w,
             REML = TRUE)
  dense <- fit_objective(f)
  expect_identical(dense$reml_path, "dense")
  ml_fit <- f
  ml_fit$REML <- FALSE
  shifted <- reml_objective(fit_objective(ml_fit), shifts = TRUE)
  par <- f$par
  k <- seq_along(par)[-seq_along(fixef(f))]
  par[k] <- par[k] * 1.2 + 0.03
  a <- dense$loglik(par, gradient = TRUE)
  b <- shifted$loglik(par, gradient = TRUE)
  expect_lt(abs(as.numeric(a) - as.numeric(b)), 1e-9)  # seen 0
  ga <- attr(a, "gradient")
  gb <- attr(b, "gradient")
  expect_lt(max(abs(ga - gb) / pmax(abs(gb), 1)), 1e-9)  # seen 7.4e-15
  expect_lt(max(abs(dense$information_beta(par) - shifted$information_beta(par))), 1e-9)
})

test_that("the dense pass's log-likelihood equals the ML engine's", {
  # REML fits evaluate the log-likelihood by the dense gaussian pass; here
  # with an offset, prior weights and slopes, away from the optimum.
  d <- reml_nested
  d$w <- 0.5 + (seq_len(nrow(d)) %% 4) / 2
  d$off <- d$z / 3
  f <- glamm(y ~ x + offset(off) + (1 + x | school) + (1 | school:class), data = d,
             weights = w)
  ml <- fit_objective(f)
  for (shift in c(0, 0.5)) {
    par <- f$par * (1 + shift)
    par[1] <- par[1] + shift
    r <- dense_pass(ml, par)
    e <- ml$loglik(par, gradient = TRUE)
    # both on the compressed rows (R/gaussian-compress.R), with the terms of
    # the rows dropped added back
    dropped <- ml$dropped_rows
    expect_gt(dropped, 0)
    expect_lt(abs(r$loglik + ml$engine_data$constant - dropped * (log(sqrt(2 * pi)) + par[length(par)]) -
                  as.numeric(e)), 1e-9)  # seen 0
    g <- c(r$loglik_grad_beta, unlist(Map(function(gl, pat) gl[pat], r$loglik_grad_lambda,
                                          ml$patterns)), r$loglik_grad_log_sigma - dropped)
    expect_lt(max(abs(g - attr(e, "gradient")) / pmax(abs(attr(e, "gradient")), 1)),
              1e-9)  # seen 1.2e-14
  }
})

test_that("REML = FALSE is the ML fit as before", {
  f0 <- glamm(Reaction ~ Days + (Days | Subject), data = reml_sleep)
  f1 <- glamm(Reaction ~ Days + (Days | Subject), data = reml_sleep, REML = FALSE)
  expect_identical(f0$par, f1$par)
  expect_identical(logLik(f0), logLik(f1))
  expect_false(isTRUE(f0$REML))
  m <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = reml_sleep, REML = FALSE,
                  control = reml_ctl)
  expect_lt(abs(as.numeric(logLik(f0) - logLik(m))), 1e-6)  # seen 1.1e-13
})

test_that("the matrix interface gives the same REML fit", {
  f <- glamm(Reaction ~ Days + (Days | Subject), data = reml_sleep, REML = TRUE)
  X <- model.matrix(~ Days, reml_sleep)
  g <- glamm.fit(reml_sleep$Reaction, X, X, reml_sleep$Subject, REML = TRUE)
  expect_equal(unname(g$par), unname(f$par), tolerance = 1e-6)  # seen 0
  expect_equal(g$loglik, f$loglik, tolerance = 1e-10)  # seen 0
})

test_that("methods label the REML criterion", {
  f <- glamm(Reaction ~ Days + (Days | Subject), data = reml_sleep, REML = TRUE)
  m <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = reml_sleep, control = reml_ctl)
  ll <- logLik(f)
  expect_s3_class(ll, "logLik")
  expect_true(attr(ll, "REML"))
  expect_identical(attr(ll, "df"), attr(stats::logLik(m), "df"))
  expect_output(print(ll), "REML")
  expect_output(print(f), "REML criterion at convergence")
  expect_output(print(summary(f)), "REML criterion at convergence")
  expect_output(print(summary(f)), "restricted maximum likelihood")
  expect_lt(abs(AIC(f) - AIC(m)), 1e-6)  # seen 0
  expect_lt(abs(BIC(f) - BIC(m)), 1e-6)  # seen 0
  expect_true(lme4::isREML(f))
  expect_false(lme4::isREML(lme4::refitML(f)))
  ci <- confint(f)[names(fixef(f)), , drop = FALSE]
  expect_equal(unname(ci[, 1]), unname(fixef(f) - qnorm(0.975) * sqrt(diag(vcov(f)))))
  skip_if_not_installed("broom.mixed")
  gl <- generics::glance(f)
  expect_true("REMLcrit" %in% names(gl))
  expect_false("deviance" %in% names(gl))
  expect_lt(abs(gl$REMLcrit - lme4::REMLcrit(m)), 1e-6)  # seen 4.5e-13
  td <- generics::tidy(f, effects = "fixed")
  expect_equal(td$std.error, unname(sqrt(diag(vcov(f)))))
})

test_that("refitML() of a REML fit is the ML fit", {
  f <- glamm(Reaction ~ Days + (Days | Subject), data = reml_sleep, REML = TRUE)
  ml <- glamm(Reaction ~ Days + (Days | Subject), data = reml_sleep)
  r <- lme4::refitML(f)
  expect_lt(abs(as.numeric(logLik(r) - logLik(ml))), 1e-8)  # seen 0
  expect_equal(unname(r$par), unname(ml$par), tolerance = 1e-6)  # seen 3.0e-8
  expect_false(isTRUE(r$call$REML))
  expect_identical(formula(r), formula(ml))
})

test_that("anova refits REML fits by ML as lme4, or refuses incomparable REML criteria", {
  f1 <- glamm(Reaction ~ Days + (1 | Subject), data = reml_sleep, REML = TRUE)
  f2 <- glamm(Reaction ~ Days + (Days | Subject), data = reml_sleep, REML = TRUE)
  f0 <- glamm(Reaction ~ 1 + (Days | Subject), data = reml_sleep, REML = TRUE)
  m1 <- lme4::lmer(Reaction ~ Days + (1 | Subject), data = reml_sleep, control = reml_ctl)
  m2 <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = reml_sleep, control = reml_ctl)
  expect_message(a <- anova(f1, f2), "refitting model\\(s\\) with ML")
  b <- suppressMessages(anova(m1, m2))
  expect_equal(a$logLik, b$logLik, tolerance = 1e-8)  # seen 1.6e-15
  expect_equal(a$Chisq[2], b$Chisq[2], tolerance = 1e-6)  # seen 7.0e-14
  # the same fixed effects: the REML likelihood-ratio test of the random part
  r <- anova(f1, f2, refit = FALSE)
  expect_equal(r$Chisq[2], lme4::REMLcrit(m1) - lme4::REMLcrit(m2), tolerance = 1e-8)  # seen 5.3e-15
  expect_error(anova(f0, f2, refit = FALSE), "different fixed effects")
  ml <- glamm(Reaction ~ Days + (Days | Subject), data = reml_sleep)
  expect_error(anova(f1, ml, refit = FALSE), "some fits are by REML and some by ML")
  expect_message(anova(f1, ml), "refitting")
})

test_that("REML = TRUE outside gaussian identity-link models is an error", {
  d <- reml_sleep
  d$count <- rpois(nrow(d), 3)
  expect_error(glamm(count ~ Days + (1 | Subject), data = d, family = poisson, REML = TRUE),
               "REML is defined for linear mixed models")
  expect_error(glamm(Reaction ~ Days + (1 | Subject), data = d, family = gaussian("log"),
                     REML = TRUE),
               "identity link|link")
  expect_error(glamm(Reaction ~ Days + (1 | Subject), data = d, REML = NA), "TRUE or FALSE")
  d$w <- 1 + (seq_len(nrow(d)) %% 3)
  expect_error(glamm(Reaction ~ Days + (1 | Subject), data = d, REML = TRUE, pweights = ~ w),
               "survey weights")
})
