# PQL (method = "PQL") against MASS::glmmPQL, which fits the same working
# linear mixed model by ML (nlme::lme with varFixed weights) with the same
# iteration and stopping rule.

test_that("PQL equals MASS::glmmPQL on the PISA random-intercept logit model", {
  skip_if_not_installed("MASS")
  d <- pisa2000
  d$SES <- (d$isei - mean(d$isei)) / 20
  d$SESj <- ave(d$SES, d$id_school)
  pm <- MASS::glmmPQL(pass_read ~ SESj + female + SES + high_school + college + test_lang,
                      random = ~ 1 | id_school, data = d, family = binomial, verbose = FALSE)
  fit <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
                 (1 | id_school), data = d, family = binomial, method = "PQL")
  expect_lt(max(abs(fixef(fit) - nlme::fixef(pm))), 1e-4)  # seen 1.8e-8
  expect_lt(abs(sqrt(fit$Sigma[1, 1]) - as.numeric(nlme::VarCorr(pm)[1, 2])), 1e-4)  # seen 1e-8
  expect_lt(abs(fit$pql$working_sigma - pm$sigma), 1e-4)  # seen 1e-8
  # PQL is not ML: its estimates differ from the AGHQ ones (variance shrunk)
  ml <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
                (1 | id_school), data = d, family = binomial, nAGQ = 12)
  expect_gt(max(abs(fixef(fit) - fixef(ml))), 0.01)
})

test_that("PQL equals glmmPQL with random slopes and for counts", {
  skip_if_not_installed("MASS")
  set.seed(1)
  J <- 80
  m <- 8
  d <- data.frame(g = rep(1:J, each = m), x = rnorm(J * m))
  d$y <- rbinom(J * m, 1, plogis(-0.3 + 0.8 * d$x + rnorm(J)[d$g] + 0.5 * rnorm(J)[d$g] * d$x))
  d$c <- rpois(J * m, exp(0.2 + 0.3 * d$x + rnorm(J)[d$g] * 0.5))
  pm <- MASS::glmmPQL(y ~ x, random = ~ 1 + x | g, data = d, family = binomial, verbose = FALSE)
  fit <- glamm(y ~ x + (1 + x | g), data = d, family = binomial, method = "PQL")
  expect_lt(max(abs(fixef(fit) - nlme::fixef(pm))), 1e-4)  # seen 1e-8
  vc <- nlme::VarCorr(pm)
  expect_lt(max(abs(sqrt(diag(fit$Sigma)) - as.numeric(vc[1:2, 2]))), 1e-4)  # seen 1e-7
  pc <- MASS::glmmPQL(c ~ x, random = ~ 1 | g, data = d, family = poisson, verbose = FALSE)
  fc <- glamm(c ~ x + (1 | g), data = d, family = poisson, method = "PQL")
  expect_lt(max(abs(fixef(fc) - nlme::fixef(pc))), 1e-4)  # seen 5e-7
  expect_lt(abs(sqrt(fc$Sigma[1, 1]) - as.numeric(nlme::VarCorr(pc)[1, 2])), 1e-4)  # seen 2.3e-6
})

test_that("PQL fits are labelled approximate and report no likelihood", {
  fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000, family = binomial,
               method = "PQL")
  expect_true(is.na(logLik(fit)))
  expect_output(print(fit), "penalized quasi-likelihood \\(PQL: approximate, no likelihood\\)")
  ml <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000, family = binomial, nAGQ = 3)
  expect_error(anova(ml, fit), "PQL has no likelihood")
  expect_error(glamm(isei ~ female + (1 | id_school), data = pisa2000, method = "PQL"),
               "binomial and poisson")
})
