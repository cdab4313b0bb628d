# Contextual effects: cluster means, the PISA within/between decomposition,
# conditional logit (fixed school effects) and the Hausman test.

d <- pisa2000
d$SES <- (d$isei - mean(d$isei)) / 20
d$SESj <- ave(d$SES, d$id_school)
fit <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
               (1 | id_school), data = d, family = binomial, nAGQ = 12)

# survival::clogit() builds a coxph() call with strata() and evaluates it in
# the caller's frame, so those functions must be visible there (attaching
# survival would also do); survival::strata() in the formula is not recognized.
fit_clogit <- function(formula, data) {
  coxph <- survival::coxph
  strata <- survival::strata
  Surv <- survival::Surv
  environment(formula) <- environment()
  survival::clogit(formula, data = data)
}

test_that("cluster_means() adds cluster means and within-cluster deviations", {
  s <- data.frame(g = c("b", "a", "b", "c", "a", "b"), x = c(1, 2, 3, 4, NA, 8),
                  z = c(0, 1, 1, 0, 1, 0), stringsAsFactors = FALSE)
  out <- cluster_means(s, c("x", "z"), "g")
  expect_equal(names(out), c(names(s), "x_mean", "x_dev", "z_mean", "z_dev"))
  mx <- c(a = 2, b = 4, c = 4)      # NA ignored in the mean of cluster a
  mz <- c(a = 1, b = 1 / 3, c = 0)
  expect_equal(out$x_mean, unname(mx[s$g]), tolerance = 1e-14)  # seen 0
  expect_equal(out$x_dev, s$x - unname(mx[s$g]), tolerance = 1e-14)  # seen 0
  expect_equal(out$z_mean, unname(mz[s$g]), tolerance = 1e-14)  # seen 0
  expect_equal(out$z_dev, s$z - unname(mz[s$g]), tolerance = 1e-14)  # seen 0
  expect_true(is.na(out$x_dev[5]))
  # PISA: the school means of SES equal ave(), and the deviations sum to 0 per school
  p <- cluster_means(d, "SES", "id_school", suffix = c("_j", "_w"))
  expect_equal(p$SES_j, d$SESj, tolerance = 1e-12)  # seen 0
  expect_lt(max(abs(tapply(p$SES_w, p$id_school, sum))), 1e-10)  # seen 1.3e-15
  # reference: sample SDs of SES_ij 0.88 and of the school means 0.45
  expect_lt(abs(sd(d$SES) - 0.88), 0.005)  # seen 0.0032
  expect_lt(abs(sd(tapply(d$SES, d$id_school, mean)) - 0.45), 0.005)  # seen 0.0025
  expect_error(cluster_means(s, "w", "g"), "not in 'data'")
  expect_error(cluster_means(s, "g", "g"), "not numeric")
  expect_error(cluster_means(as.list(s), "x", "g"), "data frame")
})

test_that("PISA: the SES coefficient is 0.41 without the school mean and 0.29 with it", {
  f0 <- glamm(pass_read ~ female + SES + high_school + college + test_lang + (1 | id_school),
              data = d, family = binomial, nAGQ = 12)
  expect_lt(abs(fixef(f0)[["SES"]] - 0.41), 0.01)  # seen 0.0041 (0.4141)
  expect_lt(abs(fixef(fit)[["SES"]] - 0.29), 0.01)  # seen 0.0028 (0.2872)
  expect_lt(abs(fixef(fit)[["SESj"]] - 1.38), 0.01)  # seen 0.0038 (1.3837)
  # the same model written with within/between components: the within
  # coefficient is SES's and the between one SES + SESj's (a reparametrization)
  p <- cluster_means(d, "SES", "id_school")
  f2 <- glamm(pass_read ~ SES_mean + SES_dev + female + high_school + college + test_lang +
                (1 | id_school), data = p, family = binomial, nAGQ = 12)
  expect_equal(fixef(f2)[["SES_dev"]], fixef(fit)[["SES"]], tolerance = 1e-5)  # seen 1.5e-11
  expect_equal(fixef(f2)[["SES_mean"]], fixef(fit)[["SES"]] + fixef(fit)[["SESj"]],
               tolerance = 1e-5)  # seen 3.4e-10
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(fit)), tolerance = 1e-9)  # seen 0
})

test_that("conditional logit (fixed school effects) gives Eng 0.46 (reference)", {
  skip_if_not_installed("survival")
  fe <- fit_clogit(pass_read ~ female + SES + high_school + college + test_lang +
                     strata(id_school), d)
  expect_lt(abs(coef(fe)[["test_lang"]] - 0.46), 0.01)  # seen 0.0032 (0.4632)
  # "similar student-level coefficients" otherwise
  for (v in c("female", "SES", "high_school", "college")) {
    expect_lt(abs(coef(fe)[[v]] - fixef(fit)[[v]]), 0.1)  # seen at most 0.046
  }
})

test_that("hausman() equals d' (Vf - Vr)^-1 d when Vf - Vr is positive definite", {
  skip_if_not_installed("survival")
  fe <- fit_clogit(pass_read ~ female + SES + high_school + college + test_lang +
                     strata(id_school), d)
  parm <- c("female", "SES", "test_lang")
  Vd <- vcov(fe)[parm, parm] - vcov(fit)[parm, parm]
  expect_true(all(eigen(Vd, only.values = TRUE)$values > 0))
  dif <- coef(fe)[parm] - fixef(fit)[parm]
  ref <- drop(t(dif) %*% solve(Vd, dif))
  h <- expect_silent(hausman(fe, fit, parm = parm))
  expect_equal(unname(h$statistic), ref, tolerance = 1e-10)  # seen 1.2e-15
  expect_equal(unname(h$parameter), 3)
  expect_equal(unname(h$p.value), pchisq(ref, 3, lower.tail = FALSE), tolerance = 1e-10)  # seen 8e-16
  expect_equal(h$coefficients$difference, unname(dif), tolerance = 1e-12)  # seen 0
  expect_equal(h$coefficients$se_fixed, unname(sqrt(diag(vcov(fe)[parm, parm]))),
               tolerance = 1e-12)  # seen 0
  expect_output(print(h), "chi-squared")
})

test_that("hausman() warns and uses the positive-eigenvalue inverse when Vf - Vr is indefinite", {
  skip_if_not_installed("survival")
  fe <- fit_clogit(pass_read ~ female + SES + high_school + college + test_lang +
                     strata(id_school), d)
  parm <- names(coef(fe))
  Vd <- vcov(fe)[parm, parm] - vcov(fit)[parm, parm]
  e <- eigen(Vd, symmetric = TRUE)
  expect_lt(min(e$values), 0)  # seen -1.7e-5
  pos <- e$values > 0
  dif <- coef(fe) - fixef(fit)[parm]
  ref <- sum((drop(crossprod(e$vectors[, pos], dif)))^2 / e$values[pos])
  expect_warning(h <- hausman(fe, fit), "not positive definite")
  expect_equal(unname(h$statistic), ref, tolerance = 1e-8)  # seen 0
  expect_equal(unname(h$parameter), sum(pos))
})
