# tidy(), glance() and augment() against broom.mixed's methods for glmer /
# lmer fits of the same models (Laplace, nAGQ = 1, in both), and against
# glamm's own accessors. The tolerances for glmer comparisons cover the
# difference between the two optimizers' optima (fixed effects differ by up to
# 4e-4 on PISA); each states the error seen.

skip_if_not_installed("generics")
skip_if_not_installed("broom.mixed")
skip_if_not_installed("lme4")

pisa_b <- pisa2000
pisa_b$SES <- (pisa_b$isei - mean(pisa_b$isei)) / 20
pisa_b$SESj <- ave(pisa_b$SES, pisa_b$id_school)
pisa_b_formula <- pass_read ~ SESj + female + SES + high_school + college + test_lang +
  (1 | id_school)
g_pisa <- glamm(pisa_b_formula, data = pisa_b, family = binomial, nAGQ = 1)
m_pisa <- lme4::glmer(pisa_b_formula, data = pisa_b, family = binomial, nAGQ = 1)

rel_err <- function(a, b) max(abs(a / b - 1), na.rm = TRUE)

test_that("the tidiers are registered for the generics without attaching anything", {
  expect_s3_class(generics::tidy(g_pisa), "data.frame")
  expect_s3_class(generics::glance(g_pisa), "data.frame")
  expect_s3_class(generics::augment(g_pisa), "data.frame")
  expect_false("generics" %in% names(getNamespaceImports("glamm")))
})

test_that("tidy(): fixed effects and ran_pars have broom.mixed's columns, terms and values", {
  a <- broom.mixed::tidy(g_pisa, conf.int = TRUE)
  b <- broom.mixed::tidy(m_pisa, conf.int = TRUE)
  expect_identical(names(a), names(b))
  expect_identical(a$effect, b$effect)
  expect_identical(a$group, b$group)
  expect_identical(a$term, b$term)
  expect_identical(a$term[a$effect == "ran_pars"], "sd__(Intercept)")
  fx <- a$effect == "fixed"
  expect_lt(max(abs(a$estimate - b$estimate)), 2e-3)  # seen 4.2e-4 (fixed), 1e-4 (sd)
  expect_lt(rel_err(a$std.error[fx], b$std.error[fx]), 1e-2)  # seen 3.4e-3
  expect_lt(rel_err(a$statistic[fx], b$statistic[fx]), 1e-2)  # seen 3.0e-3
  expect_lt(max(abs(a$conf.low - b$conf.low), na.rm = TRUE), 5e-3)  # seen 1.8e-3
  expect_lt(max(abs(a$conf.high - b$conf.high), na.rm = TRUE), 5e-3)  # seen 1.2e-3
})

test_that("tidy(): fixed effects are glamm's estimates, Wald SEs and intervals", {
  a <- broom.mixed::tidy(g_pisa, effects = "fixed", conf.int = TRUE, conf.level = 0.9)
  expect_identical(a$term, names(fixef(g_pisa)))
  expect_equal(a$estimate, unname(fixef(g_pisa)), tolerance = 1e-12)
  expect_equal(a$std.error, unname(sqrt(diag(vcov(g_pisa)))), tolerance = 1e-12)
  s <- summary(g_pisa)$coefficients
  expect_equal(a$statistic, unname(s[, "z value"]), tolerance = 1e-12)
  expect_equal(a$p.value, unname(s[, "Pr(>|z|)"]), tolerance = 1e-12)
  ci <- confint(g_pisa, level = 0.9)
  expect_equal(a$conf.low, unname(ci[, 1]), tolerance = 1e-12)
  expect_equal(a$conf.high, unname(ci[, 2]), tolerance = 1e-12)
})

test_that("tidy(exponentiate = TRUE) gives odds ratios as broom.mixed does", {
  a <- broom.mixed::tidy(g_pisa, effects = "fixed", conf.int = TRUE, exponentiate = TRUE)
  b <- broom.mixed::tidy(m_pisa, effects = "fixed", conf.int = TRUE, exponentiate = TRUE)
  expect_identical(names(a), names(b))
  expect_lt(rel_err(a$estimate, b$estimate), 2e-3)  # seen 4.2e-4
  expect_lt(rel_err(a$std.error, b$std.error), 1e-2)  # seen 3.4e-3
  expect_lt(rel_err(a$conf.low, b$conf.low), 1e-2)  # seen 2.2e-3
  expect_lt(rel_err(a$conf.high, b$conf.high), 1e-2)  # seen 1.7e-3
  u <- broom.mixed::tidy(g_pisa, effects = "fixed", conf.int = TRUE)
  expect_equal(a$estimate, exp(u$estimate), tolerance = 1e-12)
  expect_equal(a$conf.low, exp(u$conf.low), tolerance = 1e-12)
  expect_equal(a$std.error, exp(u$estimate) * u$std.error, tolerance = 1e-12)
  expect_equal(a$statistic, u$statistic, tolerance = 1e-12)
})

test_that("tidy(effects = 'ran_vals') lists every cluster as broom.mixed does", {
  a <- broom.mixed::tidy(g_pisa, effects = "ran_vals", conf.int = TRUE, ranef_type = "mode")
  b <- broom.mixed::tidy(m_pisa, effects = "ran_vals", conf.int = TRUE)
  expect_identical(names(a), names(b))
  expect_identical(as.data.frame(a[c("effect", "group", "level", "term")]),
                   as.data.frame(b[c("effect", "group", "level", "term")]))
  expect_lt(max(abs(a$estimate - b$estimate)), 2e-3)  # seen 3.6e-4
  expect_lt(max(abs(a$std.error - b$std.error)), 1e-3)  # seen 1.3e-4
  expect_lt(max(abs(a$conf.low - b$conf.low)), 2e-3)  # seen 4.3e-4
  re <- as.data.frame(ranef(g_pisa))
  m <- broom.mixed::tidy(g_pisa, effects = "ran_vals", conf.int = TRUE, conf.level = 0.8)
  expect_equal(m$estimate, re$condval, tolerance = 1e-12)
  expect_equal(m$std.error, re$condsd, tolerance = 1e-12)
  expect_equal(m$conf.high, re$condval + qnorm(0.9) * re$condsd, tolerance = 1e-12)
})

test_that("glance() has broom.mixed's columns and glmer's values", {
  a <- broom.mixed::glance(g_pisa)
  b <- broom.mixed::glance(m_pisa)
  expect_identical(names(a), names(b))
  expect_identical(a$nobs, b$nobs)
  expect_equal(a$df.residual, b$df.residual)
  expect_equal(a$sigma, 1)
  expect_lt(abs(a$logLik - b$logLik), 5e-3)  # seen 6.7e-4
  expect_lt(abs(a$AIC - b$AIC), 1e-2)  # seen 1.3e-3
  expect_lt(abs(a$BIC - b$BIC), 1e-2)  # seen 1.3e-3
  expect_lt(abs(a$deviance - b$deviance), 0.2)  # seen 0.034 (of 2153)
  expect_equal(a$logLik, as.numeric(logLik(g_pisa)), tolerance = 1e-12)
  expect_equal(a$deviance, sum(residuals(g_pisa, type = "deviance")^2), tolerance = 1e-12)
})

test_that("augment() adds broom.mixed's prediction columns with glmer's values", {
  a <- broom.mixed::augment(g_pisa)
  b <- suppressWarnings(broom.mixed::augment(m_pisa))  # glmer: hat values warning
  expect_identical(nrow(a), nrow(b))
  new <- setdiff(names(a), names(model.frame(g_pisa)))
  expect_setequal(new, c(".fitted", ".fixed", ".mu", ".offset", ".resid", ".weights"))
  expect_true(all(new %in% names(b)))
  expect_lt(max(abs(a$.fitted - b$.fitted)), 5e-3)  # seen 8.2e-4
  expect_lt(max(abs(a$.fixed - b$.fixed)), 5e-3)  # seen 8.2e-4
  expect_lt(max(abs(a$.mu - b$.mu)), 1e-3)  # seen 6.3e-5
  expect_lt(max(abs(a$.resid - b$.resid)), 1e-3)  # seen 1.8e-4
  expect_equal(a$.weights, b$.weights)
  expect_equal(a$.mu, unname(fitted(g_pisa)), tolerance = 1e-12)
  expect_equal(a$.resid, unname(residuals(g_pisa, type = "deviance")), tolerance = 1e-12)
  expect_equal(a$.fixed, unname(predict(g_pisa, re.form = NA)), tolerance = 1e-12)
  nd <- pisa_b[1:5, ]
  n <- broom.mixed::augment(g_pisa, newdata = nd)
  expect_equal(n$.fitted, unname(predict(g_pisa, nd)), tolerance = 1e-12)
  expect_false(".resid" %in% names(n))
})

test_that("gaussian: ran_pars with correlations and the residual as broom.mixed for lmer", {
  g <- glamm(Reaction ~ Days + (Days | Subject), data = lme4::sleepstudy)
  m <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = lme4::sleepstudy, REML = FALSE)
  for (sc in c("sdcor", "vcov")) {
    a <- broom.mixed::tidy(g, effects = "ran_pars", scales = sc)
    b <- broom.mixed::tidy(m, effects = "ran_pars", scales = sc)
    expect_identical(as.data.frame(a[c("effect", "group", "term")]),
                     as.data.frame(b[c("effect", "group", "term")]))
    expect_lt(rel_err(a$estimate, b$estimate), 1e-3)  # seen 3.4e-5 (sdcor), 6.8e-5 (vcov)
  }
  a <- broom.mixed::tidy(g, effects = "ran_pars")
  expect_identical(a$term, c("sd__(Intercept)", "cor__(Intercept).Days", "sd__Days",
                             "sd__Observation"))
  vc <- as.data.frame(VarCorr(g))
  expect_equal(a$estimate, vc$sdcor[c(1, 3, 2, 4)], tolerance = 1e-12)
  # Delta method: SE(sd) = SE(var) / (2 sd); the numeric Jacobians agree to ~1e-9.
  v <- broom.mixed::tidy(g, effects = "ran_pars", scales = "vcov")
  sds <- a$term != "cor__(Intercept).Days"
  expect_equal(a$std.error[sds], v$std.error[sds] / (2 * a$estimate[sds]), tolerance = 1e-6)
  expect_equal(v$std.error, g$varcomp$std.error, tolerance = 1e-6)  # same lower.tri order
  expect_true(all(is.finite(a$std.error)))
  ga <- broom.mixed::glance(g)
  gb <- broom.mixed::glance(m)
  expect_identical(names(ga), names(gb))
  expect_lt(abs(ga$sigma / gb$sigma - 1), 1e-3)  # seen 3.6e-6 (9.1e-5 absolute)
  expect_lt(abs(ga$deviance - gb$deviance), 1e-4)  # seen 2.6e-8
  aa <- broom.mixed::augment(g)
  ab <- broom.mixed::augment(m)
  expect_lt(max(abs(aa$.fitted - ab$.fitted)), 1e-2)  # seen 6.6e-4 (Reaction ~ 300)
  expect_lt(max(abs(aa$.resid - ab$.resid)), 1e-2)  # seen 6.6e-4
})

test_that("nested levels: ran_pars and ran_vals list every level as for glmer", {
  set.seed(1)
  s <- data.frame(school = rep(1:30, each = 20), class = rep(1:4, each = 5, times = 30),
                  x = rnorm(600))
  s$y <- rbinom(600, 1, plogis(0.3 * s$x + rnorm(30)[s$school] +
                                 rnorm(120, 0, 0.7)[(s$school - 1) * 4 + s$class]))
  g <- glamm(y ~ x + (1 | school/class), data = s, family = binomial, nAGQ = 1)
  m <- lme4::glmer(y ~ x + (1 | school/class), data = s, family = binomial)
  a <- broom.mixed::tidy(g)
  b <- broom.mixed::tidy(m)
  expect_identical(as.data.frame(a[c("effect", "group", "term")]),
                   as.data.frame(b[c("effect", "group", "term")]))
  expect_setequal(a$group[a$effect == "ran_pars"], c("class:school", "school"))
  expect_lt(max(abs(a$estimate - b$estimate)), 2e-3)  # seen 4.0e-4
  a <- broom.mixed::tidy(g, effects = "ran_vals", ranef_type = "mode")
  b <- broom.mixed::tidy(m, effects = "ran_vals")
  expect_identical(as.data.frame(a[c("group", "level", "term")]),
                   as.data.frame(b[c("group", "level", "term")]))
  expect_equal(nrow(a), 120 + 30)
  expect_lt(max(abs(a$estimate - b$estimate)), 2e-3)  # seen 2.2e-4
  expect_lt(max(abs(a$std.error - b$std.error)), 1e-3)  # seen 7.8e-5
})

test_that("tidy() rejects unknown effects", {
  expect_error(broom.mixed::tidy(g_pisa, effects = "ran_coefs"), "unknown effect")
})

test_that("ordinal: thresholds and effects as broom gives them for clmm, with coef.type", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  g <- glamm(rating ~ temp + contact + (1 | judge), data = w, family = ordinal(), nAGQ = 1)
  m <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = w, nAGQ = 1)
  a <- broom.mixed::tidy(g, effects = "fixed", conf.int = TRUE)
  b <- broom.mixed::tidy(m, conf.int = TRUE)
  expect_identical(a$term, b$term)
  expect_identical(a$coef.type, b$coef.type)
  expect_lt(max(abs(a$estimate - b$estimate)), 1e-3)  # seen 1.6e-5
  expect_lt(max(abs(a$std.error - b$std.error)), 1e-3)  # seen 2.9e-5
  expect_lt(max(abs(a$conf.low - b$conf.low)), 1e-3)  # seen 4.1e-5
  tau <- summary(g)$thresholds
  expect_equal(a$estimate, c(tau$estimate, unname(fixef(g))), tolerance = 1e-12)
  r <- broom.mixed::tidy(g)
  expect_identical(r$term[r$effect == "ran_pars"], "sd__(Intercept)")
  expect_true(all(is.na(r$coef.type[r$effect == "ran_pars"])))
  expect_equal(r$estimate[r$effect == "ran_pars"], sqrt(VarCorr(g)$judge[1, 1]), tolerance = 1e-12)
  expect_lt(abs(r$estimate[r$effect == "ran_pars"] - abs(m$ST$judge[1, 1])), 1e-3)  # seen 7e-6
  gl <- broom.mixed::glance(g)
  expect_equal(gl$deviance, -2 * as.numeric(logLik(g)), tolerance = 1e-12)
  expect_lt(abs(gl$logLik - as.numeric(logLik(m))), 1e-3)  # seen 3.5e-6
  expect_error(broom.mixed::augment(g), "not available for ordinal")
})

test_that("augment() after na.exclude: the model frame's rows, or the data's padded with NA", {
  d <- pisa_b
  d$SES[c(3, 10)] <- NA
  g <- glamm(pass_read ~ SES + (1 | id_school), data = d, family = binomial, nAGQ = 3,
             na.action = na.exclude)
  a <- broom.mixed::augment(g)
  expect_identical(nrow(a), nobs(g))
  expect_equal(a$.mu, as.vector(na.omit(fitted(g))), tolerance = 1e-12)
  b <- broom.mixed::augment(g, data = d)
  expect_identical(nrow(b), nrow(d))
  expect_true(all(is.na(b$.fitted[c(3, 10)])) && all(is.na(b$.resid[c(3, 10)])))
  expect_equal(b$.mu, unname(fitted(g)), tolerance = 1e-12)
})
