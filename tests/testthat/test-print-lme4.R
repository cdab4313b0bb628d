# print() and summary() show what glmer's print and summary show: the data,
# the number of observations and of clusters per grouping factor, the scaled
# Pearson residuals and the optimizer's convergence code; the gaussian fit is
# labelled exact.

skip_if_not_installed("lme4")

cbpp <- lme4::cbpp
sleep <- lme4::sleepstudy
pr_bin <- glamm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
                family = binomial, nAGQ = 1)
pr_lin <- glamm(Reaction ~ Days + (Days | Subject), data = sleep)

test_that("print and summary show the data and glmer's observations and groups line", {
  expect_output(print(pr_bin), "\n   Data: cbpp \n", fixed = TRUE)
  expect_output(print(summary(pr_bin)), "\n   Data: cbpp \n", fixed = TRUE)
  expect_output(print(pr_bin), "Number of obs: 56, groups:  herd, 15", fixed = TRUE)
  expect_output(print(summary(pr_lin)), "Number of obs: 180, groups:  Subject, 18", fixed = TRUE)
  # a data argument that is an expression is printed as written
  f <- glamm(Reaction ~ Days + (1 | Subject), data = subset(sleep, Days > 0))
  expect_output(print(f), "   Data: subset(sleep, Days > 0)", fixed = TRUE)
})

test_that("the gaussian fit is exact, the binomial one a Laplace approximation", {
  expect_output(print(pr_lin), "exact: the gaussian likelihood needs no approximation")
  expect_output(print(summary(pr_lin)), "exact: the gaussian likelihood needs no approximation")
  expect_no_match(paste(capture.output(print(pr_lin)), collapse = "\n"), "Laplace")
  expect_output(print(pr_bin), "maximum likelihood, Laplace approximation")
})

test_that("summary prints the scaled Pearson residuals' quantiles as summary.merMod", {
  expect_output(print(summary(pr_bin)),
                "Scaled residuals:\n +Min +1Q +Median +3Q +Max \n")
  # lmer's scaled residuals are the Pearson residuals over sigma
  m <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = sleep, REML = FALSE)
  r_lmer <- stats::residuals(m, type = "pearson", scaled = TRUE)
  s <- summary(pr_lin)
  expect_equal(unname(s$residuals), unname(r_lmer), tolerance = 1e-4)  # seen 9e-6
  expect_equal(unname(s$residuals), unname(residuals(pr_lin, type = "pearson")) / sigma(pr_lin))
  g <- lme4::glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
                   family = binomial)
  expect_equal(unname(summary(pr_bin)$residuals),
               unname(stats::residuals(g, type = "pearson", scaled = TRUE)),
               tolerance = 3e-3)  # seen 3e-4 (the two optimizers' maxima)
  # print shows the quantiles of those residuals
  out <- capture.output(print(summary(pr_lin)))
  at <- grep("^Scaled residuals:", out)
  shown <- scan(text = out[at + 2], quiet = TRUE)
  expect_equal(shown, unname(quantile(s$residuals)), tolerance = 1e-3)
})

test_that("the optimizer's convergence code is printed as glmer prints it", {
  expect_output(print(pr_bin), "optimizer (nlminb) convergence code: 0 (OK)", fixed = TRUE)
  expect_output(print(summary(pr_lin)), "optimizer (nlminb) convergence code: 0 (OK); ",
                fixed = TRUE)
  expect_no_match(paste(capture.output(print(summary(pr_bin))), collapse = "\n"),
                  "failed to converge")
  # a fit that did not converge says so
  bad <- pr_bin
  bad$optinfo$converged <- FALSE
  bad$optinfo$convergence <- 1L
  bad$optinfo$message <- "iteration limit reached without convergence (10)"
  expect_output(print(bad), paste0("optimizer (nlminb) convergence code: 1 ",
                                   "(iteration limit reached without convergence (10))"),
                fixed = TRUE)
  expect_output(print(bad), "Warning: model failed to converge (iteration limit", fixed = TRUE)
  expect_output(print(summary(bad)), "Warning: model failed to converge", fixed = TRUE)
  # nlminb's code 0 with a gradient still too large: (OK), then the warning
  bad$optinfo$convergence <- 0L
  expect_output(print(bad), "convergence code: 0 (OK)\nWarning: model failed to converge",
                fixed = TRUE)
})

test_that("glamm's extras are kept: variance component SEs and odds ratios", {
  s <- summary(pr_bin, exponentiate = TRUE)
  expect_output(print(s), "Variance components (delta-method SEs):", fixed = TRUE)
  expect_output(print(s), "Odds ratio +2.5 % +97.5 %")
  expect_output(print(s), "Pr\\(>\\|z\\|\\)")
})

test_that("Gamma residuals are scaled by sigma, ordinal fits have none", {
  set.seed(3)
  d <- data.frame(g = factor(rep(1:25, each = 8)), x = rnorm(200))
  d$y <- rgamma(200, shape = 4, rate = 4 / exp(0.3 + 0.5 * d$x + rnorm(25, sd = 0.4)[d$g]))
  fg <- glamm(y ~ x + (1 | g), data = d, family = Gamma(link = "log"), nAGQ = 1)
  expect_equal(unname(summary(fg)$residuals),
               unname(residuals(fg, type = "pearson")) / sigma(fg))
  skip_if_not_installed("ordinal")
  fo <- glamm(rating ~ temp + (1 | judge), data = ordinal::wine, family = "ordinal", nAGQ = 1)
  s <- summary(fo)
  expect_null(s$residuals)
  expect_no_match(paste(capture.output(print(s)), collapse = "\n"), "Scaled residuals")
  expect_output(print(s), "Number of obs: 72, groups:  judge, 9", fixed = TRUE)
})
