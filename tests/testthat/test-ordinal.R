# Cumulative link (ordinal) family: the exact gradient, the zero-variance
# limit (MASS::polr), ordinal::clmm at the same nAGQ, category probabilities
# (conditional and marginal) and clear errors.

ordinal_data <- function(seed = 3, J = 60, m = 12) {
  set.seed(seed)
  n <- J * m
  g <- factor(rep(seq_len(J), each = m))
  x1 <- rnorm(n)
  x2 <- rbinom(n, 1, 0.5)
  eta <- 0.8 * x1 - 0.5 * x2 + rnorm(J)[g] * 0.9 + rnorm(J)[g] * 0.4 * x1
  y <- cut(eta + rlogis(n), c(-Inf, -1, 0.5, 2, Inf), labels = c("a", "b", "c", "d"),
           ordered_result = TRUE)
  data.frame(y = y, x1 = x1, x2 = x2, g = g)
}

test_that("ordinal gradient equals central differences (3 links, q = 1, 2, K = 1, 5)", {
  d <- ordinal_data()
  X <- cbind(x1 = d$x1, x2 = d$x2)
  for (link in c("logit", "probit", "cloglog")) for (q in 1:2) for (K in c(1, 5)) {
    fam <- ordinal(link)
    Z <- cbind(1, d$x1)[, seq_len(q), drop = FALSE]
    pattern <- lower.tri(diag(q), diag = TRUE)
    obj <- objective_for(d$y, X, Z, d$g, fam, K, pattern = pattern)
    par <- c(0.5, -0.3, c(0.8, 0.2, 0.3)[seq_len(sum(pattern))], -0.8, log(1.2), log(1.4))
    v <- obj$loglik(par, gradient = TRUE)
    fd <- central_diff(function(p) as.numeric(obj$loglik(p)), par)
    expect_lt(max_rel_err(attr(v, "gradient"), fd), 1e-6)  # seen <= 1.2e-8
  }
})

test_that("with zero variance the log-likelihood equals MASS::polr's (3 links)", {
  skip_if_not_installed("MASS")
  d <- ordinal_data()
  methods <- c(logit = "logistic", probit = "probit", cloglog = "cloglog")
  for (link in names(methods)) {
    pm <- MASS::polr(y ~ x1 + x2, data = d, method = methods[[link]])
    fit <- glamm(y ~ x1 + x2 + (1 | g), data = d, family = ordinal(link), nAGQ = 3)
    z <- pm$zeta
    ll0 <- loglik_function(fit)(c(coef(pm), 0, z[1], log(diff(z))))
    expect_lt(abs(ll0 - as.numeric(logLik(pm))), 1e-8)  # seen 1e-12
    expect_gt(logLik(fit), logLik(pm))  # the random intercept improves the fit
  }
})

test_that("fits equal ordinal::clmm at the same nAGQ (logit and probit, Laplace and AGHQ)", {
  skip_if_not_installed("ordinal")
  data(wine, package = "ordinal", envir = environment())
  for (link in c("logit", "probit")) for (K in c(1, 10)) {
    # clmm warns about step halving at this tight tolerance; its fit is fine
    cm <- suppressWarnings(ordinal::clmm(rating ~ temp + contact + (1 | judge), data = wine,
                                         link = link, nAGQ = K,
                                         control = ordinal::clmm.control(gradTol = 1e-8)))
    fit <- glamm(rating ~ temp + contact + (1 | judge), data = wine, family = ordinal(link),
                 nAGQ = K)
    # glamm maximizes the same approximation: equal or higher, within 1e-5
    expect_lt(abs(fit$loglik - as.numeric(logLik(cm))), 1e-5)  # seen <= 1.8e-6
    expect_gt(fit$loglik, as.numeric(logLik(cm)) - 1e-8)
    expect_lt(max(abs(fixef(fit) - cm$beta)), 1e-4)  # seen 6.2e-6
    expect_lt(max(abs(fit$thresholds$estimate - cm$alpha)), 1e-4)  # seen 6.0e-6
    expect_lt(abs(sqrt(fit$Sigma[1, 1]) - cm$ST$judge[1]), 1e-4)  # seen 1e-5
  }
})

test_that("category probabilities: conditional and marginal (against integrate)", {
  d <- ordinal_data()
  fit <- glamm(y ~ x1 + x2 + (1 | g), data = d, family = ordinal("probit"), nAGQ = 7)
  nd <- data.frame(x1 = c(-1, 0, 1.5), x2 = c(0, 1, 0))
  P0 <- predict(fit, nd, type = "response", re.form = NA)
  Pm <- predict(fit, nd, type = "response", marginal = TRUE)
  expect_equal(rowSums(P0), rep(1, 3), tolerance = 1e-12)
  expect_equal(rowSums(Pm), rep(1, 3), tolerance = 1e-12)
  expect_identical(colnames(Pm), levels(d$y))
  eta <- drop(as.matrix(nd) %*% fixef(fit))
  tau <- fit$thresholds$estimate
  cum0 <- pnorm(outer(-eta, tau, "+"))
  expect_equal(unname(P0), unname(cbind(cum0, 1) - cbind(0, cum0)), tolerance = 1e-12)
  # probit: the marginal cumulative probability is pnorm((tau - eta) / sqrt(1 + psi))
  psi <- fit$Sigma[1, 1]
  cumm <- pnorm(outer(-eta, tau, "+") / sqrt(1 + psi))
  expect_lt(max(abs(unname(Pm) - (cbind(cumm, 1) - cbind(0, cumm)))), 1e-8)  # seen 1e-15
  # and against integrate() for the logit link
  fl <- glamm(y ~ x1 + x2 + (1 | g), data = d, family = ordinal(), nAGQ = 7)
  Pl <- predict(fl, nd, type = "response", marginal = TRUE)
  el <- drop(as.matrix(nd) %*% fixef(fl))
  s <- sqrt(fl$Sigma[1, 1])
  brute <- vapply(fl$thresholds$estimate, function(t) integrate(function(z)
    plogis(t - el[2] - s * z) * dnorm(z), -Inf, Inf, rel.tol = 1e-12)$value, numeric(1))
  expect_lt(max(abs(Pl[2, ] - diff(c(0, brute, 1)))), 1e-8)  # seen 2e-15
})

test_that("ordinal fits: thresholds ordered with SEs, summary, icc, simulate", {
  d <- ordinal_data()
  fit <- glamm(y ~ x1 + x2 + (1 | g), data = d, family = ordinal(), nAGQ = 5)
  expect_false("(Intercept)" %in% names(fixef(fit)))
  expect_true(all(diff(fit$thresholds$estimate) > 0))
  expect_true(all(fit$thresholds$std.error > 0))
  expect_identical(rownames(fit$thresholds), c("a|b", "b|c", "c|d"))
  expect_output(print(summary(fit, exponentiate = TRUE)), "Cumulative odds ratio")
  expect_equal(icc(fit)$icc, fit$Sigma[1, 1] / (fit$Sigma[1, 1] + pi^2 / 3), tolerance = 1e-12)
  sims <- simulate(fit, nsim = 2, seed = 1)
  expect_true(is.ordered(sims$sim_1))
  expect_identical(levels(sims$sim_1), levels(d$y))
  expect_error(residuals(fit), "not defined for ordinal")
  expect_error(ranef(fit, type = "ml"), "not available for the ordinal")
})

test_that("ordinal input errors are clear", {
  d <- ordinal_data()
  expect_error(glamm(as.numeric(y) ~ x1 + (1 | g), data = d, family = ordinal()),
               "needs an \\(ordered\\) factor")
  # glamm() drops unused levels (as model.frame does); glamm.fit() reports them
  y2 <- factor(d$y, levels = c(levels(d$y), "e"), ordered = TRUE)
  expect_error(glamm.fit(y2, cbind(x1 = d$x1), matrix(1, nrow(d), 1), d$g, family = ordinal()),
               "category 'e' has no observations")
  expect_identical(glamm(y2 ~ x1 + (1 | g), data = cbind(d, y2), family = ordinal(),
                         nAGQ = 1)$levels, levels(d$y))
  expect_error(ordinal("identity"), "should be one of")
})
