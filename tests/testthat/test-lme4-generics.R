# lme4's accessors and drop-in arguments on glamm fits, against the same
# calls on glmer()/lmer() fits of the same model (Laplace in both, so the
# approximations are the same).

cbpp_fits <- function() {
  skip_if_not_installed("lme4")
  cbpp <- lme4::cbpp
  fit <- glamm(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial,
               nAGQ = 1)
  gm <- suppressMessages(lme4::glmer(cbind(incidence, size - incidence) ~ period + (1 | herd),
                                     cbpp, binomial))
  list(fit = fit, gm = gm, data = cbpp)
}

test_that("getME, ngrps, isSingular and the design matrices follow lme4", {
  f <- cbpp_fits()
  fit <- f$fit
  gm <- f$gm
  expect_identical(lme4::ngrps(fit), lme4::ngrps(gm))
  expect_equal(unname(lme4::getME(fit, "X")), unname(lme4::getME(gm, "X")), ignore_attr = TRUE)
  expect_equal(as.matrix(lme4::getME(fit, "Z")), unname(as.matrix(lme4::getME(gm, "Z"))),
               ignore_attr = TRUE)
  expect_equal(as.matrix(model.matrix(fit, type = "random")),
               unname(as.matrix(lme4::getME(gm, "Z"))), ignore_attr = TRUE)
  # the same Laplace maximum found by two optimizers: observed 2e-5
  expect_equal(lme4::getME(fit, "theta"), lme4::getME(gm, "theta"), tolerance = 1e-3)
  expect_identical(names(lme4::getME(fit, "theta")), names(lme4::getME(gm, "theta")))
  expect_identical(lme4::getME(fit, "lower"), unname(lme4::getME(gm, "lower")))
  expect_equal(lme4::getME(fit, "beta"), lme4::getME(gm, "beta"), tolerance = 1e-3,
               ignore_attr = TRUE)
  expect_equal(lme4::getME(fit, "b"), as.vector(lme4::getME(gm, "b")), tolerance = 1e-3)
  expect_equal(lme4::getME(fit, "u"), as.vector(lme4::getME(gm, "u")), tolerance = 1e-3)
  expect_equal(lme4::getME(fit, "y"), unname(lme4::getME(gm, "y")))
  # glmer's Laplace maximum is 2.8e-4 below glamm's (also with tight optimizer
  # settings), its estimates differ by up to 6e-4: fitted means differ by 6e-5
  expect_equal(lme4::getME(fit, "mu"), unname(lme4::getME(gm, "mu")), tolerance = 1e-3)
  expect_identical(lme4::getME(fit, "cnms"), lme4::getME(gm, "cnms"))
  expect_identical(levels(lme4::getME(fit, "flist")$herd), levels(lme4::getME(gm, "flist")$herd))
  expect_identical(lme4::getME(fit, "q"), 15)
  # b = Lambda u over all clusters
  expect_equal(as.vector(lme4::getME(fit, "Lambda") %*% lme4::getME(fit, "u")),
               lme4::getME(fit, "b"), tolerance = 1e-12)
  parts <- lme4::getME(fit, c("n", "p"))
  expect_identical(parts, list(n = 56L, p = 4L))
  expect_error(lme4::getME(fit, "nonsense"), "does not know 'nonsense'")
  expect_false(lme4::isSingular(fit))
  expect_identical(lme4::isSingular(fit), lme4::isSingular(gm))
})

test_that("isSingular flags a variance estimated at zero, as for glmer", {
  skip_if_not_installed("lme4")
  set.seed(5)
  d <- data.frame(g = rep(1:30, each = 10), x = rnorm(300))
  d$y <- rbinom(300, 1, plogis(0.5 * d$x))  # no cluster effect
  fit <- glamm(y ~ x + (1 | g), d, binomial, nAGQ = 1)
  gm <- suppressMessages(lme4::glmer(y ~ x + (1 | g), d, binomial))
  expect_identical(lme4::isSingular(gm), TRUE)
  expect_identical(lme4::isSingular(fit), TRUE)
})

test_that("sigma, deviance, df.residual, extractAIC and weights", {
  f <- cbpp_fits()
  fit <- f$fit
  gm <- f$gm
  expect_identical(sigma(fit), 1)
  expect_equal(deviance(fit), -2 * c(logLik(fit)))
  expect_identical(df.residual(fit), df.residual(gm))
  # glmer's maximum is 2.8e-4 below glamm's: AIC relative difference 2.9e-6
  expect_equal(extractAIC(fit), extractAIC(gm), tolerance = 1e-5)
  expect_identical(weights(fit), rep(1, 56))
  w <- f$data$size
  fitw <- glamm(incidence / size ~ period + (1 | herd), f$data, binomial, weights = size,
                nAGQ = 1)
  expect_identical(weights(fitw), as.numeric(w))
  expect_equal(c(logLik(fitw)), c(logLik(fit)), tolerance = 1e-8)

  skip_if_not_installed("lme4")
  ss <- lme4::sleepstudy
  fg <- glamm(Reaction ~ Days + (Days | Subject), ss)
  lm1 <- lme4::lmer(Reaction ~ Days + (Days | Subject), ss, REML = FALSE)
  expect_equal(sigma(fg), sigma(lm1), tolerance = 1e-5)  # observed 4e-8
  expect_equal(deviance(fg), deviance(lm1), tolerance = 1e-8)  # observed 1e-11
  expect_equal(lme4::getME(fg, "theta"), lme4::getME(lm1, "theta"), tolerance = 1e-4)
})

test_that("formula, terms and model.matrix of the fixed and random parts", {
  f <- cbpp_fits()
  fit <- f$fit
  expect_identical(formula(fit, fixed.only = TRUE),
                   formula(f$gm, fixed.only = TRUE), ignore_attr = TRUE)
  expect_equal(deparse(formula(fit, random.only = TRUE)),
               deparse(formula(f$gm, random.only = TRUE)))
  expect_identical(formula(fit), cbind(incidence, size - incidence) ~ period + (1 | herd),
                   ignore_attr = TRUE)
  expect_identical(attr(terms(fit), "term.labels"), "period")
  expect_identical(attr(terms(fit, fixed.only = FALSE), "term.labels"),
                   attr(terms(f$gm, fixed.only = FALSE), "term.labels"))
  expect_equal(model.matrix(fit), model.matrix(f$gm), ignore_attr = TRUE)
  expect_error(formula(fit, fixed.only = TRUE, random.only = TRUE), "cannot both")
})

test_that("drop1 and update refit the fixed part and keep the random part", {
  f <- cbpp_fits()
  cbpp <- f$data  # update() evaluates the fit's call here, as for glmer fits
  fit <- glamm(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial,
               nAGQ = 1)
  d1 <- drop1(fit, test = "Chisq")
  reduced <- glamm(cbind(incidence, size - incidence) ~ 1 + (1 | herd), cbpp, binomial,
                   nAGQ = 1)
  lrt <- 2 * (c(logLik(fit)) - c(logLik(reduced)))
  expect_equal(d1["period", "LRT"], lrt, tolerance = 1e-10)
  expect_equal(d1["period", "Df"], 3)
  up <- update(fit, . ~ . - period)
  expect_equal(c(logLik(up)), c(logLik(reduced)), tolerance = 1e-10)
  gd <- drop1(f$gm, test = "Chisq")
  expect_equal(d1["period", "LRT"], gd["period", "LRT"], tolerance = 1e-4)  # observed 2e-6
})

test_that("lme4's arguments: REML, verbose, glmerControl, nAGQ = 0, etastart, mustart", {
  f <- cbpp_fits()
  fit <- f$fit
  form <- cbind(incidence, size - incidence) ~ period + (1 | herd)
  expect_error(glamm(form, f$data, binomial, REML = TRUE), "maximum likelihood")
  expect_equal(c(logLik(glamm(form, f$data, binomial, nAGQ = 1, REML = FALSE))),
               c(logLik(fit)))
  progress <- character()
  withCallingHandlers(glamm(form, f$data, binomial, nAGQ = 1, verbose = 1),
                      message = function(m) {
                        progress <<- c(progress, conditionMessage(m))
                        invokeRestart("muffleMessage")
                      })
  expect_match(progress[1], "^iteration +1: log-likelihood")
  expect_message(
    fc <- glamm(form, f$data, binomial, nAGQ = 1,
                control = lme4::glmerControl(optimizer = "bobyqa", calc.derivs = FALSE,
                                             optCtrl = list(maxfun = 2000))),
    "ignored: optimizer, calc.derivs")
  expect_identical(fc$control$eval.max, 2000L)
  expect_equal(c(logLik(fc)), c(logLik(fit)), tolerance = 1e-10)
  expect_message(f0 <- glamm(form, f$data, binomial, nAGQ = 0), "Laplace")
  expect_identical(f0$nAGQ, 1L)
  expect_equal(c(logLik(f0)), c(logLik(fit)))
  # start values from the linear predictor or the means reach the same maximum
  d <- f$data
  d$eta0 <- qlogis((d$incidence + 0.5) / (d$size + 1))
  fe <- glamm(form, d, binomial, nAGQ = 1, etastart = eta0)
  fm <- glamm(form, d, binomial, nAGQ = 1, mustart = plogis(eta0))
  expect_equal(c(logLik(fe)), c(logLik(fit)), tolerance = 1e-9)
  expect_equal(c(logLik(fm)), c(logLik(fit)), tolerance = 1e-9)
  d$eta0[2] <- Inf
  expect_error(glamm(form, d, binomial, etastart = eta0), "finite linear predictor")
})

test_that("the default thread count honours limits on nested parallelism", {
  op <- options(mc.cores = 1L)
  on.exit(options(op))
  expect_identical(glamm_control()$nthreads, 1L)
  options(mc.cores = NULL)
  old <- Sys.getenv("OMP_THREAD_LIMIT", NA)
  Sys.setenv(OMP_THREAD_LIMIT = "1")
  on.exit(if (is.na(old)) Sys.unsetenv("OMP_THREAD_LIMIT") else Sys.setenv(OMP_THREAD_LIMIT = old),
          add = TRUE)
  expect_identical(glamm_control()$nthreads, 1L)
})
