# insight and performance on glamm fits give the numbers they give for the
# same model fitted by glmer/lmer. glamm's nAGQ = 1 is lme4's Laplace
# approximation; the remaining differences come from where the two optimizers
# stop (glamm's log-likelihoods are the higher ones, by 4e-4 to 2e-3).

skip_if_not_installed("insight")
skip_if_not_installed("performance")
skip_if_not_installed("lme4")

# The measures compared with lme4's, as one named vector.
measures <- function(fit, ...) {
  icc <- performance::icc(fit)
  r2 <- performance::r2_nakagawa(fit)
  mp <- performance::model_performance(fit, metrics = c("AIC", "BIC", "R2", "ICC", "RMSE"),
                                       ...)
  c(icc_adjusted = icc$ICC_adjusted, icc_conditional = icc$ICC_conditional,
    r2_marginal = unname(r2$R2_marginal), r2_conditional = unname(r2$R2_conditional),
    unlist(mp[c("AIC", "BIC", "R2_conditional", "R2_marginal", "ICC", "RMSE")]))
}

pisa <- function() {
  d <- pisa2000
  d$SES <- (d$isei - mean(d$isei)) / 20
  d
}

test_that("model_info, find_formula and get_parameters see a mixed model", {
  fit <- glamm(pass_read ~ female + SES + (1 | id_school), data = pisa(), family = binomial,
               nAGQ = 1)
  info <- insight::model_info(fit)
  expect_true(info$is_mixed)
  expect_true(info$is_binomial)
  expect_identical(info$link_function, "logit")
  expect_true(insight::is_mixed_model(fit))
  expect_identical(insight::find_random(fit, flatten = TRUE), "id_school")
  expect_identical(insight::find_formula(fit)$conditional, pass_read ~ female + SES,
                   ignore_attr = TRUE)
  p <- insight::get_parameters(fit)
  expect_identical(p$Parameter, names(fixef(fit)))
  expect_equal(p$Estimate, unname(fixef(fit)))
  expect_identical(insight::find_parameters(fit, flatten = TRUE),
                   c(names(fixef(fit))))
  st <- insight::get_statistic(fit)
  expect_equal(st$Statistic, unname(summary(fit)$coefficients[, 3]), tolerance = 1e-8)
  expect_identical(insight::n_obs(fit), nobs(fit))
  expect_equal(insight::link_inverse(fit)(0.3), plogis(0.3))
})

test_that("binomial random intercept (PISA): as for glmer", {
  f <- pass_read ~ female + SES + (1 | id_school)
  fit <- glamm(f, data = pisa(), family = binomial, nAGQ = 1)
  ref <- lme4::glmer(f, data = pisa(), family = binomial)
  # observed max relative difference 8e-4 (var.random 1e-3); glmer stops 1.2e-3
  # below glamm's log-likelihood
  expect_equal(measures(fit), measures(ref), tolerance = 2e-3)
  vf <- insight::get_variance(fit)
  vr <- insight::get_variance(ref)
  expect_identical(names(vf), names(vr))
  expect_equal(vf, vr, tolerance = 2e-3)
  expect_true(performance::check_convergence(fit))
})

test_that("poisson random intercept: as for glmer (null model refitted for mu)", {
  set.seed(2)
  n <- 40
  s <- data.frame(g = rep(1:n, each = 10), x = rnorm(10 * n))
  s$y <- rpois(nrow(s), exp(2 + 0.3 * s$x + rnorm(n, 0, 0.5)[s$g]))
  fit <- glamm(y ~ x + (1 | g), data = s, family = poisson, nAGQ = 1)
  ref <- lme4::glmer(y ~ x + (1 | g), data = s, family = poisson)
  # observed max relative difference 6e-6 (variances 1.2e-5)
  expect_equal(measures(fit), measures(ref), tolerance = 1e-4)
  expect_equal(insight::get_variance(fit), insight::get_variance(ref), tolerance = 1e-4)
})

test_that("gaussian random slope (sleepstudy): as for lmer(REML = FALSE)", {
  ss <- lme4::sleepstudy
  fit <- glamm(Reaction ~ Days + (Days | Subject), data = ss, nAGQ = 1)
  ref <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = ss, REML = FALSE)
  # performance's model_performance() takes the REML log-likelihood of lmer
  # fits unless told estimator = "ML"; observed max relative difference 2e-5
  # (variances 7e-5)
  expect_equal(measures(fit), measures(ref, estimator = "ML"), tolerance = 2e-4)
  vf <- insight::get_variance(fit)
  vr <- insight::get_variance(ref)
  expect_identical(names(vf), names(vr))
  expect_equal(vf, vr, tolerance = 2e-4)
  expect_true(performance::check_convergence(fit))
})

test_that("nested (1 | school/class): as for glmer, levels named as lme4's", {
  set.seed(3)
  s <- data.frame(school = rep(1:30, each = 20), class = rep(1:4, each = 5, times = 30),
                  x = rnorm(600))
  s$y <- rbinom(600, 1, plogis(0.3 * s$x + rnorm(30)[s$school] +
                                 rnorm(120, 0, 0.7)[(s$school - 1) * 4 + s$class]))
  fit <- glamm(y ~ x + (1 | school/class), data = s, family = binomial, nAGQ = 1)
  ref <- lme4::glmer(y ~ x + (1 | school/class), data = s, family = binomial)
  # observed max relative difference 1.5e-3 (variances 1.6e-3; log-likelihoods
  # 3e-4 apart)
  expect_equal(measures(fit), measures(ref), tolerance = 3e-3)
  vf <- insight::get_variance(fit)
  vr <- insight::get_variance(ref)
  expect_identical(names(vf$var.intercept), names(vr$var.intercept))
  expect_equal(vf, vr, tolerance = 3e-3)
  expect_identical(insight::find_random(fit, split_nested = TRUE, flatten = TRUE),
                   insight::find_random(ref, split_nested = TRUE, flatten = TRUE))
})

test_that("ordinal fits: latent ICC, R2 refused", {
  set.seed(4)
  d <- data.frame(g = rep(1:40, each = 10), x = rnorm(400))
  eta <- 0.5 * d$x + rnorm(40)[d$g]
  d$y <- cut(eta + rlogis(400), c(-Inf, -1, 0.5, Inf), labels = c("lo", "mid", "hi"),
             ordered_result = TRUE)
  fit <- glamm(y ~ x + (1 | g), data = d, family = ordinal(), nAGQ = 1)
  info <- insight::model_info(fit)
  expect_true(info$is_ordinal)
  expect_false(info$is_binomial)
  v <- insight::get_variance(fit)
  expect_equal(v$var.distribution, pi^2 / 3)
  expect_equal(performance::icc(fit)$ICC_adjusted, glamm::icc(fit)$icc)
  expect_error(performance::r2(fit), "not defined for ordinal")
  mp <- performance::model_performance(fit)
  expect_false(any(grepl("R2", names(mp))))
  expect_equal(mp$AIC, AIC(fit))
})

test_that("Gamma and nbinom2: as for glmmTMB (glmer's Gamma dispersion is not ML)", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("MASS")
  set.seed(5)
  n <- 30
  d <- data.frame(g = rep(1:n, each = 10), x = rnorm(10 * n))
  mu <- exp(1 + 0.3 * d$x + rnorm(n, 0, 0.5)[d$g])
  d$yg <- rgamma(nrow(d), shape = 4, rate = 4 / mu)
  d$yn <- MASS::rnegbin(nrow(d), mu * 3, theta = 2)
  # insight refits glmmTMB's null model (for the nbinom2 mean) by update() in
  # its own frame, which sees the global environment, not this one
  assign("insight_test_data", d, envir = globalenv())
  on.exit(rm("insight_test_data", envir = globalenv()))
  fits <- list(
    list(glamm(yg ~ x + (1 | g), data = d, family = Gamma(link = "log"), nAGQ = 1),
         glmmTMB::glmmTMB(yg ~ x + (1 | g), data = d, family = Gamma(link = "log"))),
    list(glamm(yn ~ x + (1 | g), data = d, family = nbinom2(), nAGQ = 1),
         glmmTMB::glmmTMB(yn ~ x + (1 | g), data = insight_test_data,
                          family = glmmTMB::nbinom2()))
  )
  for (p in fits) {
    # observed max relative difference below 1e-6 (the same Laplace maximum)
    expect_equal(insight::get_variance(p[[1]]), insight::get_variance(p[[2]]),
                 tolerance = 1e-5)
    expect_equal(unlist(performance::r2(p[[1]])), unlist(performance::r2(p[[2]])),
                 tolerance = 1e-5)
    expect_equal(performance::icc(p[[1]])$ICC_adjusted, performance::icc(p[[2]])$ICC_adjusted,
                 tolerance = 1e-5)
  }
})

test_that("a singular fit: ICC NA and R2 without the random part, as for glmer", {
  set.seed(7)
  d <- data.frame(g = rep(1:20, each = 10), x = rnorm(200))
  d$y <- rbinom(200, 1, plogis(0.5 * d$x))
  fit <- glamm(y ~ x + (1 | g), data = d, family = binomial, nAGQ = 1)
  ref <- suppressMessages(lme4::glmer(y ~ x + (1 | g), data = d, family = binomial))
  expect_warning(icc <- performance::icc(fit), "singular")
  expect_true(is.na(icc))
  # r2() prints that the random variances are not available
  utils::capture.output(r2 <- suppressWarnings(performance::r2(fit)))
  utils::capture.output(r2_ref <- suppressWarnings(performance::r2(ref)))
  expect_true(is.na(r2$R2_conditional))
  # observed difference below 1e-6 (both at the boundary)
  expect_equal(unname(r2$R2_marginal), unname(r2_ref$R2_marginal), tolerance = 1e-5)
})
