# Likelihood-profile and parametric-bootstrap intervals. The profile
# intervals are compared with lme4's confint(method = "profile") for models
# where glamm and lme4 maximize the same function: glmer with nAGQ = 1 (the
# Laplace approximation) and lmer(REML = FALSE). lme4 interpolates its limits
# with splines through its profile, glamm finds them by root finding, which
# limits the agreement to about 1e-4.

pisa_data <- function() {
  d <- pisa2000
  d$SES <- (d$isei - mean(d$isei)) / 20
  d
}

# The profile log-likelihood of parameter j of fit$par at value x, by an
# optimizer independent of glamm's (L-BFGS-B on loglik_function()).
independent_profile <- function(fit, j, x) {
  f <- loglik_function(fit)
  lower <- ifelse(grepl("^theta", names(fit$par)), 0, -Inf)[-j]
  full <- function(z) append(z, x, after = j - 1)
  opt <- stats::optim(fit$par[-j], function(z) -f(full(z)),
                      function(z) -attr(f(full(z), gradient = TRUE), "gradient")[-j],
                      method = "L-BFGS-B", lower = lower,
                      control = list(factr = 1, pgtol = 0, maxit = 1000))
  -opt$value
}

test_that("profile intervals equal glmer's (binomial, Laplace)", {
  skip_if_not_installed("lme4")
  d <- pisa_data()
  form <- pass_read ~ female + SES + (1 | id_school)
  fit <- glamm(form, data = d, family = binomial, nAGQ = 1)
  gm <- lme4::glmer(form, data = d, family = binomial, nAGQ = 1,
                    control = lme4::glmerControl(optimizer = "bobyqa", tolPwrss = 1e-10))
  ci <- confint(fit, method = "profile")
  ci_lme4 <- suppressMessages(confint(gm, method = "profile"))
  expect_identical(rownames(ci), c("sd((Intercept))", "(Intercept)", "female", "SES"))
  expect_identical(colnames(ci), c("2.5 %", "97.5 %"))
  expect_lt(max(abs(ci - ci_lme4)), 5e-4)  # seen 1.1e-4
  # The profile intervals are not the Wald intervals.
  expect_gt(max(abs(ci[-1, ] - confint(fit))), 1e-3)
})

test_that("at the profile limits the log-likelihood is qchisq(level, 1) / 2 below the maximum", {
  d <- pisa_data()
  fit <- glamm(pass_read ~ female + SES + (1 | id_school), data = d, family = binomial, nAGQ = 1)
  level <- 0.9
  ci <- confint(fit, parm = c("sd((Intercept))", "female"), level = level, method = "profile")
  positions <- c(`sd((Intercept))` = match("theta1", names(fit$par)),
                 female = match("female", names(fit$par)))
  for (nm in rownames(ci)) for (limit in ci[nm, ]) {
    drop <- fit$loglik - independent_profile(fit, positions[[nm]], limit)
    expect_lt(abs(drop - stats::qchisq(level, 1) / 2), 1e-6)
  }
})

test_that("an SD estimated at zero has the lower profile limit 0 (and glmer's upper limit)", {
  skip_if_not_installed("lme4")
  set.seed(1)
  d <- data.frame(g = rep(1:40, each = 10), x = rnorm(400))
  d$y <- rbinom(400, 1, plogis(-0.3 + 0.5 * d$x))
  fit <- glamm(y ~ x + (1 | g), data = d, family = binomial, nAGQ = 1)
  expect_true(fit$optinfo$at_bound[["theta1"]])
  ci <- confint(fit, method = "profile")
  expect_identical(ci[1, 1], 0)
  gm <- suppressMessages(lme4::glmer(y ~ x + (1 | g), data = d, family = binomial, nAGQ = 1))
  ci_lme4 <- suppressMessages(confint(gm, method = "profile"))
  expect_lt(max(abs(ci - ci_lme4)), 5e-4)  # seen 1.6e-6
})

test_that("profile intervals equal lmer's (gaussian, ML, correlated random slope)", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4", envir = environment())
  form <- Reaction ~ Days + (Days | Subject)
  fit <- glamm(form, data = sleepstudy)
  lm1 <- lme4::lmer(form, data = sleepstudy, REML = FALSE)
  ci <- confint(fit, method = "profile")
  ci_lme4 <- suppressMessages(confint(lm1, method = "profile"))
  # glamm does not profile the correlation (lme4's .sig02).
  expect_identical(rownames(ci), c("sd((Intercept))", "sd(Days)", "sigma", "(Intercept)", "Days"))
  expect_equal(unname(ci), unname(ci_lme4[-2, ]), tolerance = 1e-5)  # seen 3.1e-7
})

test_that("profile intervals of nested levels equal lmer's (one row per level)", {
  skip_if_not_installed("lme4")
  set.seed(2)
  d <- expand.grid(pupil = 1:5, class = 1:4, school = 1:15)
  d$class <- interaction(d$school, d$class)
  d$x <- rnorm(nrow(d))
  d$y <- 1 + 0.5 * d$x + rnorm(15, sd = 0.7)[d$school] +
    rnorm(60, sd = 0.5)[as.integer(d$class)] + rnorm(nrow(d))
  form <- y ~ x + (1 | school) + (1 | class)
  fit <- glamm(form, data = d)
  ci <- confint(fit, method = "profile")
  ci_lme4 <- suppressMessages(confint(lme4::lmer(form, data = d, REML = FALSE),
                                      method = "profile"))
  expect_identical(rownames(ci), c("sd((Intercept)|class)", "sd((Intercept)|school)", "sigma",
                                   "(Intercept)", "x"))
  expect_lt(max(abs(ci - ci_lme4)), 1e-4)  # seen 1.6e-5
})

test_that("profile() gives monotone zeta and the same intervals by interpolation", {
  fit <- glamm(pass_read ~ female + SES + (1 | id_school), data = pisa_data(),
               family = binomial, nAGQ = 1)
  pr <- profile(fit, npts = 5)
  expect_s3_class(pr, "profile.glamm")
  expect_identical(levels(pr$.par), c("sd((Intercept))", "(Intercept)", "female", "SES"))
  estimates <- c(fit$theta, fit$coefficients)
  for (k in seq_along(estimates)) {
    d <- pr[pr$.par == levels(pr$.par)[k], ]
    expect_true(all(diff(d$.zeta) > 0))
    expect_identical(d$.zeta[d$.focal == estimates[k]], 0)
    expect_equal(d$.loglik, fit$loglik - d$.zeta^2 / 2, tolerance = 1e-10)
  }
  # lme4's approach (splines through the profile) against root finding
  expect_equal(confint(pr), confint(fit, method = "profile"), tolerance = 1e-4)  # seen 1.1e-5
})

test_that("bootstrap intervals: structure, coverage of the estimate, reproducible", {
  data(sleepstudy, package = "lme4", envir = environment())
  fit <- glamm(Reaction ~ Days + (1 | Subject), data = sleepstudy)
  cb <- confint(fit, method = "boot", nsim = 20, seed = 3, progress = FALSE)
  expect_identical(dimnames(cb), list(c("sd((Intercept))", "sigma", "(Intercept)", "Days"),
                                      c("2.5 %", "97.5 %")))
  est <- c(sqrt(fit$Sigma[1, 1]), fit$sigma, fit$coefficients)
  expect_true(all(cb[, 1] < est & est < cb[, 2]))
  expect_identical(confint(fit, method = "boot", nsim = 20, seed = 3, progress = FALSE), cb)
  set.seed(3)
  expect_identical(confint(fit, method = "boot", nsim = 20, progress = FALSE), cb)
  expect_output(confint(fit, parm = "beta_", method = "boot", nsim = 2, progress = TRUE), "100%")
})

test_that("bootstrap refits on a cluster give the same intervals", {
  skip_on_cran()
  data(sleepstudy, package = "lme4", envir = environment())
  fit <- glamm(Reaction ~ Days + (1 | Subject), data = sleepstudy)
  cl <- parallel::makeCluster(2)
  on.exit(parallel::stopCluster(cl))
  parallel::clusterCall(cl, ".libPaths", .libPaths())  # by name: the workers' own function
  expect_identical(confint(fit, method = "boot", nsim = 6, seed = 2, progress = FALSE, cl = cl),
                   confint(fit, method = "boot", nsim = 6, seed = 2, progress = FALSE))
})

test_that("an unknown interval method is an error", {
  fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000, family = binomial,
               nAGQ = 1)
  expect_error(confint(fit, method = "bootstrap-t"), "should be one of")
  expect_error(confint(fit, method = "profile", parm = "nope"), "unknown parameter")
  expect_identical(confint(fit), confint(fit, method = "Wald"))
})

test_that("the log-likelihood function survives garbage collection", {
  # Its engine once read a response freed by R's garbage collector (valgrind:
  # invalid read in the family's derivatives), giving -Inf or wrong values
  # after allocations.
  data(sleepstudy, package = "lme4", envir = environment())
  fit <- glamm(Reaction ~ Days + (1 | Subject), data = sleepstudy)
  f <- loglik_function(fit)
  before <- f(fit$par)
  invisible(gc())
  filler <- lapply(1:2000, function(i) stats::rnorm(180))
  expect_identical(f(fit$par), before)
  expect_length(filler, 2000)
})
