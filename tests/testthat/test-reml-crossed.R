# REML for crossed gaussian designs (the sparse Laplace's REML term,
# src/sparse_reml.cpp) against lmer(REML = TRUE): intercepts on both factors,
# a random slope on one, and a mix of crossed and nested factors; the exact
# gradient against central differences and against the quadratic identities
# at shifted fixed effects (R/reml.R); anova()'s rules for crossed REML fits.

skip_if_not_installed("lme4")
reml_ctl <- lme4::lmerControl(optimizer = "bobyqa",
                              optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
reml_crossed <- sim_crossed(13, gaussian(), slope_sds = c(0.3, 0))

# Students nested in schools, crossed with items (each student answers 80%
# of the items), with a covariate at the row level.
sim_school_items <- function(seed, n_school = 8, per_school = 6, n_item = 10) {
  set.seed(seed)
  d <- expand.grid(student = seq_len(n_school * per_school), item = seq_len(n_item))
  d <- d[stats::runif(nrow(d)) < 0.8, ]
  d$school <- (d$student - 1) %/% per_school + 1
  d$x <- stats::rnorm(nrow(d))
  d$y <- 1 + 0.4 * d$x + stats::rnorm(n_school, 0, 0.7)[d$school] +
    stats::rnorm(n_school * per_school, 0, 0.5)[d$student] +
    stats::rnorm(n_item, 0, 0.6)[d$item] + stats::rnorm(nrow(d), 0, 0.8)
  d$school <- factor(d$school)
  d$student <- factor(d$student)
  d$item <- factor(paste0("i", d$item))
  d
}
reml_mixed <- sim_school_items(21)

test_that("crossed REML fits equal lmer(REML = TRUE): intercepts, a slope, crossed and nested", {
  cases <- list(
    list(y ~ x + (1 | id) + (1 | item), reml_crossed),
    list(y ~ x + (1 + x | id) + (1 | item), reml_crossed),
    list(y ~ x + (1 | item) + (1 | school/student), reml_mixed))
  for (case in cases) {
    f <- glamm(case[[1]], data = case[[2]], REML = TRUE)
    expect_identical(fit_objective(f)$reml_path, "sparse")
    m <- lme4::lmer(case[[1]], data = case[[2]], REML = TRUE, control = reml_ctl)
    # lmer's theta in glamm's order of the levels (most clusters first)
    theta_names <- names(lme4::getME(m, "theta"))
    order <- unlist(lapply(names(ranef(f)), function(g) {
      grep(paste0("^", gsub("([.()])", "\\\\\\1", g), "\\."), theta_names)
    }))
    d <- reml_differences(f, m, order)
    # seen at most: criterion 2.6e-12, at lmer's estimates 8.0e-13, beta 2.8e-07,
    # SE 8.9e-08, variances 2.4e-07, sigma 1.6e-08
    expect_lt(d[["criterion"]], 1e-6)
    expect_lt(d[["at_lmer"]], 1e-8)
    expect_lt(d[["beta"]], 1e-6)
    expect_lt(d[["se"]], 1e-6)
    expect_lt(d[["varcov"]], 1e-6)
    expect_lt(d[["sigma"]], 1e-6)
    expect_true(isTRUE(f$REML))
  }
})

test_that("the crossed REML gradient is exact: differences and shifted identities agree", {
  d <- reml_crossed
  d$w <- 0.5 + (seq_len(nrow(d)) %% 4) / 2
  f <- glamm(y ~ x + (1 + x | id) + (1 + x | item), data = d, weights = w, REML = TRUE)
  obj <- fit_objective(f)
  ml_fit <- f
  ml_fit$REML <- FALSE
  shifted <- reml_objective(fit_objective(ml_fit), shifts = TRUE)
  par <- f$par
  k <- seq_along(par)[-seq_along(fixef(f))]
  par[k] <- par[k] * 1.3 + 0.05  # away from the optimum
  a <- obj$loglik(par, gradient = TRUE)
  g <- attr(a, "gradient")
  fd <- vapply(seq_along(par), function(j) {
    h <- 1e-5 * max(1, abs(par[j]))
    up <- down <- par
    up[j] <- par[j] + h
    down[j] <- par[j] - h
    (obj$loglik(up) - obj$loglik(down)) / (2 * h)
  }, 0)
  expect_lt(max(abs(g - fd) / pmax(abs(fd), 1)), 1e-6)  # seen 3.0e-8
  b <- shifted$loglik(par, gradient = TRUE)
  expect_lt(abs(as.numeric(a) - as.numeric(b)), 1e-9)  # seen 0
  gb <- attr(b, "gradient")
  expect_lt(max(abs(g - gb) / pmax(abs(gb), 1)), 1e-8)  # seen 1.2e-13
  expect_lt(max(abs(obj$information_beta(par) - shifted$information_beta(par))), 1e-8)  # seen 8.3e-14
})

test_that("anova of crossed REML fits: refit by ML, or the REML test of the random part", {
  f1 <- glamm(y ~ x + (1 | id) + (1 | item), data = reml_crossed, REML = TRUE)
  f2 <- glamm(y ~ x + (1 + x | id) + (1 | item), data = reml_crossed, REML = TRUE)
  f0 <- glamm(y ~ 1 + (1 + x | id) + (1 | item), data = reml_crossed, REML = TRUE)
  m1 <- lme4::lmer(y ~ x + (1 | id) + (1 | item), data = reml_crossed, control = reml_ctl)
  m2 <- lme4::lmer(y ~ x + (1 + x | id) + (1 | item), data = reml_crossed, control = reml_ctl)
  r <- anova(f1, f2, refit = FALSE)
  expect_equal(r$Chisq[2], lme4::REMLcrit(m1) - lme4::REMLcrit(m2),
               tolerance = 1e-6)  # seen 4.5e-13 (absolute)
  expect_error(anova(f0, f2, refit = FALSE), "different fixed effects")
  expect_message(a <- anova(f1, f2), "refitting model\\(s\\) with ML")
  b <- suppressMessages(anova(m1, m2))
  expect_equal(a$logLik, b$logLik, tolerance = 1e-8)  # seen 6.8e-13 (absolute)
})

test_that("the GLS step of the profiled search maximizes over the fixed effects", {
  # objective$gls (R/profile-beta.R): from any beta, the maximum of the
  # (quadratic) log-likelihood over beta and X'V^-1X, its negative Hessian.
  d <- reml_crossed
  d$w <- 0.5 + (seq_len(nrow(d)) %% 4) / 2
  f <- glamm(y ~ x + (1 + x | id) + (1 | item), data = d, weights = w)
  obj <- fit_objective(f)
  par <- f$par
  k <- seq_along(par)[-seq_along(fixef(f))]
  par[k] <- par[k] * 1.3 + 0.05
  par[1:2] <- par[1:2] + c(1, -2)
  r <- obj$gls(par)
  at <- obj$loglik(c(r$beta, par[k]), gradient = TRUE)
  expect_lt(max(abs(attr(at, "gradient")[1:2])), 1e-8)  # seen 4.6e-13
  Hb <- loglik_hessian(obj, c(r$beta, par[k]))[1:2, 1:2]
  expect_lt(max(abs(r$M + Hb) / max(abs(Hb))), 1e-6)  # seen 5.6e-13
  # the profiled search ends at the joint maximum (lmer's, in the test above)
  expect_lt(max(abs(f$optinfo$gradient)), 1e-3)
})
