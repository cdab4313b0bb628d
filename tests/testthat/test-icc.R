# Latent-response intraclass correlation, v / (v + level-1 variance).

d <- pisa2000
d$SES <- (d$isei - mean(d$isei)) / 20
d$SESj <- ave(d$SES, d$id_school)
fit <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
               (1 | id_school), data = d, family = binomial, nAGQ = 12)

test_that("logit ICC is psi / (psi + pi^2/3), 0.08 as in the reference", {
  psi <- fit$Sigma[1, 1]
  r <- icc(fit)
  expect_s3_class(r, "data.frame")
  expect_equal(nrow(r), 1)
  expect_equal(r$variance, psi, tolerance = 1e-12)  # seen 0
  expect_equal(r$residual, pi^2 / 3, tolerance = 1e-12)  # seen 0
  expect_equal(r$icc, psi / (psi + pi^2 / 3), tolerance = 1e-12)  # seen 0
  # reference (pisa-table1.md): 0.08, i.e. 0.27 / (0.27 + 3.29) to 2 decimals
  expect_lt(abs(r$icc - 0.08), 0.005)  # seen 0.0037 (icc = 0.0763)
})

test_that("probit ICC uses level-1 variance 1, cloglog pi^2/6", {
  fp <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
                (1 | id_school), data = d, family = binomial(link = "probit"), nAGQ = 12)
  psi <- fp$Sigma[1, 1]
  expect_equal(icc(fp)$residual, 1)
  expect_equal(icc(fp)$icc, psi / (psi + 1), tolerance = 1e-12)  # seen 0
  if (requireNamespace("lme4", quietly = TRUE)) {
    m <- lme4::glmer(pass_read ~ SESj + female + SES + high_school + college + test_lang +
                       (1 | id_school), data = d, family = binomial(link = "probit"), nAGQ = 12)
    psi_m <- as.data.frame(lme4::VarCorr(m))$vcov[1]
    expect_equal(icc(fp)$icc, psi_m / (psi_m + 1), tolerance = 1e-4)  # seen 1.6e-5
  }
  fc <- glamm(pass_read ~ SESj + female + SES + (1 | id_school), data = d,
              family = binomial(link = "cloglog"), nAGQ = 7)
  psi <- fc$Sigma[1, 1]
  expect_equal(icc(fc)$icc, psi / (psi + pi^2 / 6), tolerance = 1e-12)  # seen 0
})

test_that("gaussian ICC is psi / (psi + sigma^2), as from lme4's variance components", {
  skip_if_not_installed("lme4")
  data("sleepstudy", package = "lme4")
  g <- glamm(Reaction ~ Days + (1 | Subject), data = sleepstudy, family = gaussian)
  m <- lme4::lmer(Reaction ~ Days + (1 | Subject), data = sleepstudy, REML = FALSE)
  vc <- as.data.frame(lme4::VarCorr(m))
  ref <- vc$vcov[1] / (vc$vcov[1] + vc$vcov[2])
  expect_equal(icc(g)$icc, g$Sigma[1, 1] / (g$Sigma[1, 1] + g$sigma^2), tolerance = 1e-12)  # seen 0
  expect_equal(icc(g)$residual, vc$vcov[2], tolerance = 1e-6)  # seen 2e-11
  expect_equal(icc(g)$icc, ref, tolerance = 1e-6)  # seen 3e-8
})

test_that("poisson has no latent-response ICC", {
  set.seed(3)
  s <- data.frame(g = rep(1:20, each = 6), x = rnorm(120))
  s$y <- rpois(120, exp(0.5 + 0.3 * s$x + rnorm(20, 0, 0.5)[s$g]))
  fpois <- glamm(y ~ x + (1 | g), data = s, family = poisson, nAGQ = 5)
  expect_error(icc(fpois), "latent")
  expect_error(icc(lm(y ~ x, s)), "glamm")
})

test_that("with random slopes icc() needs newdata and uses v = z' Sigma z", {
  set.seed(4)
  s <- data.frame(g = rep(1:40, each = 12), x = rnorm(480))
  s$y <- rbinom(480, 1, plogis(0.2 + 0.5 * s$x + rnorm(40, 0, 0.9)[s$g] +
                                 rnorm(40, 0, 0.5)[s$g] * s$x))
  f <- glamm(y ~ x + (1 + x | g), data = s, family = binomial, nAGQ = 5)
  expect_error(icc(f), "newdata")
  nd <- data.frame(x = c(-2, 0, 1.5))
  r <- icc(f, nd)
  Z <- cbind(1, nd$x)
  v <- rowSums((Z %*% f$Sigma) * Z)
  expect_equal(nrow(r), 3)
  expect_equal(r$variance, v, tolerance = 1e-12)  # seen 0
  expect_equal(r$icc, v / (v + pi^2 / 3), tolerance = 1e-12)  # seen 0
  # at x = 0 only the intercept variance counts
  expect_equal(r$variance[2], f$Sigma[1, 1], tolerance = 1e-12)  # seen 0
})
