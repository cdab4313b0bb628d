# emmeans on glamm fits against emmeans on glmer / lmer / clmm fits of the
# same models (Laplace, nAGQ = 1, in both), and, with the same fixed effects,
# against the reference grid of the glmer fit applied to glamm's estimates
# and against glamm's own predictions.

skip_if_not_installed("emmeans")
skip_if_not_installed("lme4")

pisa_e <- pisa2000
pisa_e$SES <- (pisa_e$isei - mean(pisa_e$isei)) / 20
pisa_e$SESj <- ave(pisa_e$SES, pisa_e$id_school)
pisa_e$sex <- factor(pisa_e$female, 0:1, c("male", "female"))
pisa_e$lang <- factor(pisa_e$test_lang, 0:1, c("other", "English"))
pisa_e_formula <- pass_read ~ SESj + sex + SES + high_school + college + lang +
  (1 | id_school)
g_pisa_e <- glamm(pisa_e_formula, data = pisa_e, family = binomial, nAGQ = 1)
m_pisa_e <- lme4::glmer(pisa_e_formula, data = pisa_e, family = binomial, nAGQ = 1)

test_that("PISA: response-scale emmeans equal glmer's to 1e-4", {
  a <- summary(emmeans::emmeans(g_pisa_e, ~ sex * lang, type = "response"))
  b <- summary(emmeans::emmeans(m_pisa_e, ~ sex * lang, type = "response"))
  expect_identical(names(a), names(b))
  expect_identical(as.data.frame(a[c("sex", "lang")]), as.data.frame(b[c("sex", "lang")]))
  expect_lt(max(abs(a$prob - b$prob)), 1e-4)  # seen 4.4e-5
  expect_lt(max(abs(a$SE - b$SE)), 5e-4)  # seen 1.2e-4 (glmer's Hessian is approximate)
  expect_lt(max(abs(a$asymp.LCL - b$asymp.LCL)), 1e-3)  # seen 2.3e-4
  expect_equal(unique(a$df), Inf)
  ca <- summary(emmeans::emmeans(g_pisa_e, pairwise ~ sex, type = "response")$contrasts)
  cb <- summary(emmeans::emmeans(m_pisa_e, pairwise ~ sex, type = "response")$contrasts)
  expect_identical(as.character(ca$contrast), as.character(cb$contrast))
  expect_lt(abs(ca$odds.ratio - cb$odds.ratio), 1e-3)  # seen 4.2e-5 (odds ratio 0.57)
})

test_that("PISA: with the same fixed effects, glamm's emmeans are glmer's grid exactly", {
  ea <- emmeans::emmeans(g_pisa_e, ~ sex * lang)
  eb <- emmeans::emmeans(m_pisa_e, ~ sex * lang)
  L <- eb@linfct
  expect_equal(ea@linfct, L, tolerance = 1e-12)
  a <- summary(ea)
  eta <- drop(L %*% fixef(g_pisa_e))
  expect_equal(a$emmean, eta, tolerance = 1e-12)
  expect_equal(a$SE, sqrt(diag(L %*% vcov(g_pisa_e) %*% t(L))), tolerance = 1e-12)
  r <- summary(emmeans::emmeans(g_pisa_e, ~ sex * lang, type = "response"))
  expect_equal(r$prob, plogis(eta), tolerance = 1e-12)
})

test_that("poisson: response-scale rates equal glmer's", {
  set.seed(2)
  n <- 40
  p <- data.frame(g = rep(seq_len(n), each = 8), trt = factor(rep(c("a", "b", "c", "d"), 2 * n)),
                  x = rnorm(8 * n))
  p$y <- rpois(nrow(p), exp(0.5 + c(0, 0.3, -0.4, 0.2)[as.integer(p$trt)] + 0.2 * p$x +
                              rnorm(n, 0, 0.6)[p$g]))
  g <- glamm(y ~ trt + x + (1 | g), data = p, family = poisson, nAGQ = 1)
  m <- lme4::glmer(y ~ trt + x + (1 | g), data = p, family = poisson)
  a <- summary(emmeans::emmeans(g, ~ trt, type = "response"))
  b <- summary(emmeans::emmeans(m, ~ trt, type = "response"))
  expect_identical(names(a), names(b))
  expect_true("rate" %in% names(a))
  expect_lt(max(abs(a$rate / b$rate - 1)), 1e-3)  # seen 8.2e-5 relative (2.2e-4 absolute)
  expect_lt(max(abs(a$SE / b$SE - 1)), 1e-2)  # seen 4.3e-3
  L <- emmeans::emmeans(m, ~ trt)@linfct
  expect_equal(a$rate, exp(drop(L %*% fixef(g))), tolerance = 1e-12)
})

test_that("gaussian: emmeans equal lmer's (ML) with asymptotic degrees of freedom", {
  g <- glamm(Reaction ~ Days + (Days | Subject), data = lme4::sleepstudy)
  m <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = lme4::sleepstudy, REML = FALSE)
  at <- list(Days = c(0, 4.5, 9))
  a <- summary(emmeans::emmeans(g, ~ Days, at = at))
  b <- summary(emmeans::emmeans(m, ~ Days, at = at, lmer.df = "asymptotic"))
  expect_lt(max(abs(a$emmean - b$emmean)), 1e-6)  # seen 1e-12 (beta is GLS given Sigma)
  expect_lt(max(abs(a$SE / b$SE - 1)), 1e-3)  # seen 2.0e-5 (1.3e-4 absolute)
  expect_equal(unique(a$df), Inf)
})

test_that("a factor by a numeric covariate: emtrends works", {
  a <- summary(emmeans::emtrends(g_pisa_e, ~ sex, var = "SES"))
  b <- summary(emmeans::emtrends(m_pisa_e, ~ sex, var = "SES"))
  expect_lt(max(abs(a$SES.trend - b$SES.trend)), 1e-3)  # seen 3.5e-5 (no interaction)
  expect_equal(a$SES.trend, rep(unname(fixef(g_pisa_e)["SES"]), 2), tolerance = 1e-6)
})

test_that("ordinal: every mode of emmeans equals clmm's (Laplace in both)", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  g <- glamm(rating ~ temp + contact + (1 | judge), data = w, family = ordinal(), nAGQ = 1)
  m <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = w, nAGQ = 1)
  cmp <- function(specs, mode, est, ...) {
    a <- summary(emmeans::emmeans(g, specs, mode = mode, ...))
    b <- summary(emmeans::emmeans(m, specs, mode = mode, ...))
    expect_identical(names(a), names(b))
    expect_identical(nrow(a), nrow(b))
    c(est = max(abs(a[[est]] - b[[est]])), se = max(abs(a$SE - b$SE)))
  }
  # seen 1.7e-5 in estimate and SE (latent scale; thresholds differ by 8e-6)
  expect_lt(max(cmp(~ temp, "latent", "emmean")), 1e-4)
  expect_lt(max(cmp(~ temp, "latent", "emmean", rescale = c(2, 3))), 3e-4)  # seen 5.1e-5
  expect_lt(max(cmp(~ cut | temp, "linear.predictor", "emmean")), 1e-4)  # seen 1.7e-5
  expect_lt(max(cmp(~ cut | temp, "cum.prob", "cumprob")), 1e-4)  # seen 3.8e-6
  expect_lt(max(cmp(~ cut | temp, "exc.prob", "exc.prob")), 1e-4)  # seen 3.8e-6
  expect_lt(max(cmp(~ rating | temp, "prob", "prob")), 1e-4)  # seen 3.1e-6
  expect_lt(max(cmp(~ temp, "mean.class", "mean.class")), 1e-4)  # seen 7.3e-6
  p <- summary(emmeans::emmeans(g, ~ rating | temp, mode = "prob"))
  expect_equal(as.vector(tapply(p$prob, p$temp, sum)), c(1, 1), tolerance = 1e-12)
})

test_that("ordinal: the grid uses glamm's thresholds, fixed effects and their covariance", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  g <- glamm(rating ~ temp + contact + (1 | judge), data = w, family = ordinal(), nAGQ = 3)
  e <- emmeans::emmeans(g, ~ cut | temp + contact, mode = "linear.predictor")
  tau <- summary(g)$thresholds
  expect_equal(unname(e@bhat), c(tau$estimate, unname(fixef(g))), tolerance = 1e-12)
  # The chain rule from (psi, beta) reproduces the thresholds' delta-method SEs
  # (analytic Jacobian here, numeric in summary(): seen 7e-11 relative).
  expect_equal(unname(sqrt(diag(e@V)))[1:4], tau$std.error, tolerance = 1e-6)
  expect_equal(unname(sqrt(diag(e@V)))[-(1:4)], unname(sqrt(diag(vcov(g)))), tolerance = 1e-12)
  s <- summary(e)
  nd <- s[s$cut == rownames(tau)[2], c("temp", "contact")]
  eta <- predict(g, newdata = as.data.frame(nd), re.form = NA)
  expect_equal(s$emmean[s$cut == rownames(tau)[2]], tau$estimate[2] - unname(eta),
               tolerance = 1e-10)
  pr <- summary(emmeans::emmeans(g, ~ rating | temp + contact, mode = "prob"))
  P <- predict(g, newdata = as.data.frame(nd), type = "response", re.form = NA)
  expect_equal(matrix(pr$prob, ncol = 5, byrow = TRUE), unname(P), tolerance = 1e-10)
})

test_that("a rank-deficient design: estimable means as glmer's, the others nonEst", {
  set.seed(3)
  d <- data.frame(g = rep(1:30, each = 10), f = factor(sample(c("a", "b", "c"), 300, TRUE)),
                  x = rnorm(300))
  d$x2 <- 2 * d$x
  d$y <- rbinom(300, 1, plogis(0.2 + d$x + rnorm(30)[d$g]))
  g <- suppressMessages(glamm(y ~ f + x + x2 + (1 | g), data = d, family = binomial, nAGQ = 1))
  m <- suppressMessages(lme4::glmer(y ~ f + x + x2 + (1 | g), data = d, family = binomial))
  a <- summary(emmeans::emmeans(g, ~ f, type = "response"))
  b <- summary(emmeans::emmeans(m, ~ f, type = "response"))
  expect_lt(max(abs(a$prob - b$prob)), 1e-3)  # seen 4.3e-5
  na <- summary(emmeans::emmeans(g, ~ x2, at = list(x2 = 1)))
  nb <- summary(emmeans::emmeans(m, ~ x2, at = list(x2 = 1)))
  expect_identical(is.na(na$emmean), is.na(nb$emmean))
  expect_true(all(is.na(na$emmean)))
})
