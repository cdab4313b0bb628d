# car::Anova() and car::vif() of glamm fits agree with car's methods for the
# equivalent lmer and glmer fits. For lmer (REML = FALSE) both packages reach
# the same maximum and the covariance of the fixed effects is the same: the
# tables agree to ~1e-8. For glmer, vcov() comes from lme4's finite-difference
# Hessian, whose variances differ from glamm's exact observed information by
# up to 1.3% on the binomial fit below (chi-squares by up to 0.9%, p-values,
# small ones amplifying it, by 4% in all.equal's mean relative difference);
# given glamm's vcov (the vcov. argument), the Wald statistics differ only
# through the two optimizers' maxima (chi-squares by up to 1e-3, p-values
# 2e-3; lme4's Laplace deviance itself is ~3e-4 off, see test-lme4.R).

skip_if_not_installed("car")
skip_if_not_installed("lme4")

# A factor of three levels, its interaction with another factor (gaussian)
# and with a covariate (binomial): type II and III differ for the main effects.
car_sleep <- local({
  s <- lme4::sleepstudy
  s$period <- cut(s$Days, c(-1, 2, 5, 9), labels = c("early", "middle", "late"))
  s$group <- factor(as.integer(s$Subject) %% 3, labels = c("a", "b", "c"))
  s
})
car_form_lin <- Reaction ~ period * group + (1 | Subject)
car_lin <- glamm(car_form_lin, data = car_sleep)
car_lmer <- lme4::lmer(car_form_lin, data = car_sleep, REML = FALSE)

car_pisa <- local({
  d <- pisa2000
  d$SES <- (d$isei - mean(d$isei)) / 20
  d$parents <- factor(ifelse(d$college == 1, "college",
                             ifelse(d$high_school == 1, "high school", "less")))
  d
})
car_form_bin <- pass_read ~ parents * SES + female + (1 | id_school)
car_bin <- glamm(car_form_bin, data = car_pisa, family = binomial, nAGQ = 1)
car_glmer <- lme4::glmer(car_form_bin, data = car_pisa, family = binomial)

expect_anova_equal <- function(a, b, tolerance, tolerance_p = tolerance) {
  expect_identical(rownames(a), rownames(b))
  expect_identical(as.numeric(a$Df), as.numeric(b$Df))
  expect_equal(a$Chisq, b$Chisq, tolerance = tolerance)
  expect_equal(a[["Pr(>Chisq)"]], b[["Pr(>Chisq)"]], tolerance = tolerance_p)
}

test_that("Anova() of a gaussian fit is car's Anova() of the lmer fit (types II and III)", {
  for (type in c("II", "III")) {
    a <- car::Anova(car_lin, type = type)
    expect_s3_class(a, "anova")
    expect_named(a, c("Chisq", "Df", "Pr(>Chisq)"))
    # seen 7e-9 (chi-squares), 7e-7 (p-values)
    expect_anova_equal(a, car::Anova(car_lmer, type = type), tolerance = 1e-6)
    expect_match(attr(a, "heading")[1], sprintf("Type %s Wald chisquare tests", type))
    expect_match(attr(a, "heading")[2], "Response: Reaction")
  }
  expect_identical(car::Anova(car_lin, type = 3), car::Anova(car_lin, type = "III"))
  expect_identical(car::Anova(car_lin), car::Anova(car_lin, type = "II"))
})

test_that("Anova() of a binomial fit agrees with car's Anova() of the glmer fit", {
  for (type in c("II", "III")) {
    a <- car::Anova(car_bin, type = type)
    # lme4's vcov() (finite-difference Hessian) differs from glamm's exact one:
    # seen 6e-3 (chi-squares) and 4e-2 (p-values), mean relative differences
    expect_anova_equal(a, car::Anova(car_glmer, type = type), tolerance = 3e-2,
                       tolerance_p = 0.15)
    # with glamm's covariance only the two maxima differ: seen 6e-4 and 2e-3
    b <- suppressMessages(car::Anova(car_glmer, type = type, vcov. = stats::vcov(car_bin)))
    expect_anova_equal(a, b, tolerance = 5e-3, tolerance_p = 1e-2)
  }
})

test_that("types II and III differ for main effects, not for the highest-order term", {
  a2 <- car::Anova(car_bin, type = "II")
  a3 <- car::Anova(car_bin, type = "III")
  expect_identical(rownames(a2), c("parents", "SES", "female", "parents:SES"))
  expect_identical(rownames(a3), c("(Intercept)", rownames(a2)))
  expect_identical(as.numeric(a2["parents", "Df"]), 2)
  expect_equal(a2["parents:SES", "Chisq"], a3["parents:SES", "Chisq"], tolerance = 1e-12)
  expect_false(isTRUE(all.equal(a2["parents", "Chisq"], a3["parents", "Chisq"])))
  # a term contained in no other is tested the same way by both types
  expect_equal(a2["female", "Chisq"], a3["female", "Chisq"], tolerance = 1e-12)
  # a one-column term's type III statistic is its squared z value
  z <- summary(car_bin)$coefficients["female", "z value"]
  expect_equal(a3["female", "Chisq"], z^2, tolerance = 1e-12)
})

test_that("vif() is car's vif() of the lmer and glmer fits", {
  v <- car::vif(car_lin)
  expect_identical(colnames(v), c("GVIF", "Df", "GVIF^(1/(2*Df))"))
  expect_equal(v, car::vif(car_lmer), tolerance = 1e-6)  # seen 2e-9
  vb <- car::vif(car_bin)
  expect_identical(rownames(vb), c("parents", "SES", "female", "parents:SES"))
  # the covariances differ as for Anova(): seen 6e-3 (mean relative difference)
  expect_equal(vb, car::vif(car_glmer), tolerance = 3e-2)
  # terms of one column each: a named vector, as car gives
  f <- glamm(pass_read ~ SES + female + (1 | id_school), data = car_pisa, family = binomial,
             nAGQ = 1)
  g <- lme4::glmer(pass_read ~ SES + female + (1 | id_school), data = car_pisa,
                   family = binomial)
  expect_named(car::vif(f), c("SES", "female"))
  expect_equal(car::vif(f), car::vif(g), tolerance = 3e-2)  # seen 4e-5
})

test_that("what car's methods cannot do is an error", {
  expect_error(car::Anova(car_lin, test.statistic = "F"), "Wald chi-square tests only")
  one <- glamm(Reaction ~ Days + (1 | Subject), data = car_sleep)
  expect_error(car::vif(one), "fewer than 2 terms")
  X <- model.matrix(~ Days, car_sleep)
  fit <- glamm.fit(car_sleep$Reaction, X, Z = matrix(1, nrow(X), 1), group = car_sleep$Subject)
  expect_error(car::Anova(fit), "need a glamm\\(\\) fit from a formula")
})
