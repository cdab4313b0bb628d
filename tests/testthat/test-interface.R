# The user interface: formula and matrix front ends, random-effect syntax,
# response forms, family specifications, thread count, and the methods built
# on the log-likelihood and the observed information (anova, AIC/BIC, vcov,
# confint, update).

if_data <- function() {
  set.seed(4)
  J <- 30
  m <- 8
  d <- data.frame(g = factor(rep(seq_len(J), each = m)), x = rnorm(J * m), z = runif(J * m))
  d$y <- rbinom(J * m, 1, plogis(-0.2 + 0.6 * d$x + rnorm(J, 0, 0.8)[d$g] +
                                   rnorm(J, 0, 0.5)[d$g] * d$x))
  d$size <- rep(3:6, length.out = J * m)
  d$s <- rbinom(J * m, d$size, plogis(0.3 * d$x + rnorm(J)[d$g]))
  d
}
idat <- if_data()
fit_xz <- glamm(y ~ x + z + (1 + x | g), data = idat, family = binomial, nAGQ = 5)

test_that("formula and matrix interfaces give the same fit", {
  X <- model.matrix(~ x + z, idat)
  Z <- model.matrix(~ x, idat)
  fm <- glamm.fit(idat$y, X, Z, idat$g, family = binomial(), nAGQ = 5)
  expect_s3_class(fm, "glamm")
  expect_lt(abs(as.numeric(logLik(fm) - logLik(fit_xz))), 1e-8)  # seen 0
  expect_equal(fixef(fm), fixef(fit_xz), tolerance = 1e-8)  # seen 0
  expect_equal(fm$Sigma, fit_xz$Sigma, tolerance = 1e-8)
  # rows need not be sorted by cluster
  perm <- sample(nrow(idat))
  fp <- glamm.fit(idat$y[perm], X[perm, ], Z[perm, ], idat$g[perm], family = binomial(),
                  nAGQ = 5)
  expect_lt(abs(as.numeric(logLik(fp) - logLik(fit_xz))), 1e-8)  # seen 0
  expect_equal(fixef(fp), fixef(fit_xz), tolerance = 1e-6)  # seen 5.6e-16
})

test_that("(1 + x || g) has zero covariance and equals (1 | g) + (0 + x | g)", {
  f_dbar <- glamm(y ~ x + z + (1 + x || g), data = idat, family = binomial, nAGQ = 5)
  f_two <- glamm(y ~ x + z + (1 | g) + (0 + x | g), data = idat, family = binomial, nAGQ = 5)
  expect_identical(f_dbar$Sigma[1, 2], 0)
  expect_identical(f_dbar$Sigma[2, 1], 0)
  expect_gt(min(diag(f_dbar$Sigma)), 0)
  expect_identical(rownames(f_dbar$varcomp), c("var((Intercept))", "var(x)"))
  expect_equal(f_dbar$df, 5)  # 3 fixed effects and 2 variances
  expect_lt(abs(as.numeric(logLik(f_dbar) - logLik(f_two))), 1e-8)  # seen 0
  expect_equal(f_dbar$Sigma, f_two$Sigma, tolerance = 1e-8)
  # the diagonal model is nested in the full one
  expect_gte(as.numeric(logLik(fit_xz)), as.numeric(logLik(f_dbar)) - 1e-8)
})

test_that("binomial proportions with weights equal cbind(successes, failures)", {
  f_cb <- glamm(cbind(s, size - s) ~ x + (1 | g), data = idat, family = binomial, nAGQ = 7)
  f_pr <- glamm(s / size ~ x + (1 | g), data = idat, family = binomial, weights = size,
                nAGQ = 7)
  expect_lt(abs(as.numeric(logLik(f_cb) - logLik(f_pr))), 1e-8)  # seen 0
  expect_equal(fixef(f_cb), fixef(f_pr), tolerance = 1e-8)
  expect_equal(f_cb$Sigma, f_pr$Sigma, tolerance = 1e-8)
  expect_equal(nobs(f_cb), nrow(idat))
})

test_that("factor and logical responses equal the 0/1 response (first level = failure)", {
  d <- idat
  d$yf <- factor(ifelse(d$y == 1, "yes", "no"))
  d$yl <- d$y == 1
  ff <- glamm(yf ~ x + z + (1 + x | g), data = d, family = binomial, nAGQ = 5)
  fl <- glamm(yl ~ x + z + (1 + x | g), data = d, family = binomial, nAGQ = 5)
  expect_lt(abs(as.numeric(logLik(ff) - logLik(fit_xz))), 1e-8)  # seen 0
  expect_lt(abs(as.numeric(logLik(fl) - logLik(fit_xz))), 1e-8)  # seen 0
  expect_equal(fixef(ff), fixef(fit_xz), tolerance = 1e-8)
  # reversing the levels flips the signs of the fixed effects
  d$yr <- factor(d$yf, levels = c("yes", "no"))
  fr <- glamm(yr ~ x + z + (1 + x | g), data = d, family = binomial, nAGQ = 5)
  expect_equal(fixef(fr), -fixef(fit_xz), tolerance = 1e-6)  # seen 1.3e-15
})

test_that("family as a name, a function or an object gives the same fit", {
  fa <- glamm(y ~ x + z + (1 + x | g), data = idat, family = "binomial", nAGQ = 5)
  fb <- glamm(y ~ x + z + (1 + x | g), data = idat, family = binomial(), nAGQ = 5)
  fc <- glamm(y ~ x + z + (1 + x | g), data = idat, family = binomial(link = "logit"), nAGQ = 5)
  for (f in list(fa, fb, fc)) {
    expect_identical(as.numeric(logLik(f)), as.numeric(logLik(fit_xz)))
    expect_identical(f$family$link, "logit")
  }
  fp <- glamm(y ~ x + z + (1 + x | g), data = idat, family = binomial("probit"), nAGQ = 5)
  expect_identical(fp$family$link, "probit")
  expect_false(isTRUE(all.equal(as.numeric(logLik(fp)), as.numeric(logLik(fit_xz)))))
})

test_that("results do not depend on the number of threads", {
  f1 <- glamm(y ~ x + z + (1 + x | g), data = idat, family = binomial, nAGQ = 5,
              control = glamm_control(nthreads = 1))
  f2 <- glamm(y ~ x + z + (1 + x | g), data = idat, family = binomial, nAGQ = 5,
              control = glamm_control(nthreads = 2))
  expect_equal(f1$optinfo$nthreads, 1L)
  expect_equal(f2$optinfo$nthreads, 2L)
  expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(f2)), tolerance = 1e-12)  # seen 0
  expect_equal(f1$par, f2$par, tolerance = 1e-12)  # seen 0 (identical)
  expect_equal(vcov(f1), vcov(f2), tolerance = 1e-12)
})

test_that("anova(): the LRT statistic is 2 * diff(logLik) with df = difference in parameters", {
  f0 <- glamm(y ~ x + (1 + x | g), data = idat, family = binomial, nAGQ = 5)
  a <- anova(f0, fit_xz)
  expect_s3_class(a, "anova")
  expect_equal(a$npar, c(5, 6))
  expect_equal(a$Chisq[2], 2 * (as.numeric(logLik(fit_xz)) - as.numeric(logLik(f0))),
               tolerance = 1e-12)
  expect_equal(a$Df[2], 1)
  expect_equal(a[["Pr(>Chisq)"]][2], pchisq(a$Chisq[2], 1, lower.tail = FALSE), tolerance = 1e-12)
  # the order of the arguments does not matter: rows are sorted by npar
  a2 <- anova(fit_xz, f0)
  expect_equal(a2$Chisq, a$Chisq, tolerance = 1e-12)
  # testing the random slope: (1 | g) against (1 + x | g), 2 parameters
  f_ri <- glamm(y ~ x + z + (1 | g), data = idat, family = binomial, nAGQ = 5)
  a3 <- anova(f_ri, fit_xz)
  expect_equal(a3$Df[2], 2)
  expect_equal(a3$Chisq[2], 2 * (as.numeric(logLik(fit_xz)) - as.numeric(logLik(f_ri))),
               tolerance = 1e-12)
  # against a glm (no random effects): 3 variance parameters
  gm <- glm(y ~ x + z, data = idat, family = binomial)
  a4 <- anova(fit_xz, gm)
  expect_equal(a4$Df[2], 3)
  expect_equal(a4$Chisq[2], 2 * (as.numeric(logLik(fit_xz)) - as.numeric(logLik(gm))),
               tolerance = 1e-12)
  expect_error(anova(fit_xz), "at least two fits")
  expect_error(anova(fit_xz, glamm(y ~ x + (1 | g), data = idat[-1, ], family = binomial,
                                   nAGQ = 3)),
               "different numbers of observations")
})

test_that("AIC and BIC follow from logLik and the number of parameters", {
  ll <- as.numeric(logLik(fit_xz))
  k <- length(fixef(fit_xz)) + 3  # 3 fixed effects, 2 variances and 1 covariance
  expect_equal(attr(logLik(fit_xz), "df"), k)
  expect_equal(AIC(fit_xz), -2 * ll + 2 * k, tolerance = 1e-12)
  expect_equal(BIC(fit_xz), -2 * ll + log(nrow(idat)) * k, tolerance = 1e-12)
  expect_equal(nobs(fit_xz), nrow(idat))
})

test_that("vcov() is symmetric positive definite and matches the full covariance", {
  V <- vcov(fit_xz)
  expect_identical(dim(V), c(3L, 3L))
  expect_identical(rownames(V), names(fixef(fit_xz)))
  expect_true(isSymmetric(V))
  expect_gt(min(eigen(V, symmetric = TRUE, only.values = TRUE)$values), 0)
  Vf <- vcov(fit_xz, full = TRUE)
  expect_identical(dim(Vf), c(6L, 6L))
  expect_equal(Vf[1:3, 1:3], V, tolerance = 1e-12)
  expect_gt(min(eigen(Vf, symmetric = TRUE, only.values = TRUE)$values), 0)
  # the inverse of the negative Hessian of the log-likelihood (central differences of
  # the public objective's exact gradient)
  f <- loglik_function(fit_xz)
  H <- central_diff_jacobian(function(p) attr(f(p, gradient = TRUE), "gradient"), fit_xz$par)
  expect_equal(unname(Vf), unname(solve(-(H + t(H)) / 2)), tolerance = 1e-5)  # seen 3.7e-9
})

test_that("confint() is estimate -/+ qnorm(1 - alpha/2) * SE", {
  est <- fixef(fit_xz)
  se <- sqrt(diag(vcov(fit_xz)))
  ci <- confint(fit_xz)
  expect_identical(colnames(ci), c("2.5 %", "97.5 %"))
  expect_equal(unname(ci[, 1]), unname(est - qnorm(0.975) * se), tolerance = 1e-12)
  expect_equal(unname(ci[, 2]), unname(est + qnorm(0.975) * se), tolerance = 1e-12)
  ci90 <- confint(fit_xz, level = 0.9)
  expect_identical(colnames(ci90), c("5 %", "95 %"))
  expect_equal(unname(ci90[, 2]), unname(est + qnorm(0.95) * se), tolerance = 1e-12)
  expect_equal(confint(fit_xz, "x"), ci["x", , drop = FALSE], tolerance = 1e-12)
  all <- confint(fit_xz, "all")
  vc <- fit_xz$varcomp
  expect_equal(unname(all[rownames(vc), 1]), vc$estimate - qnorm(0.975) * vc$std.error,
               tolerance = 1e-12)
})

test_that("update() refits with a changed formula or argument", {
  f0 <- glamm(y ~ x + (1 + x | g), data = idat, family = binomial, nAGQ = 5)
  u <- update(fit_xz, . ~ . - z)
  expect_s3_class(u, "glamm")
  expect_identical(names(fixef(u)), c("(Intercept)", "x"))
  expect_equal(as.numeric(logLik(u)), as.numeric(logLik(f0)), tolerance = 1e-10)
  u3 <- update(fit_xz, nAGQ = 3)
  expect_identical(u3$nAGQ, 3L)
  ref3 <- glamm(y ~ x + z + (1 + x | g), data = idat, family = binomial, nAGQ = 3)
  expect_equal(as.numeric(logLik(u3)), as.numeric(logLik(ref3)), tolerance = 1e-10)
})

test_that("a previous fit as start values gives the same optimum", {
  f_start <- glamm(y ~ x + z + (1 + x | g), data = idat, family = binomial, nAGQ = 5,
                   start = fit_xz)
  expect_lt(abs(as.numeric(logLik(f_start) - logLik(fit_xz))), 1e-8)  # seen 0
  expect_equal(fixef(f_start), fixef(fit_xz), tolerance = 1e-6)  # seen 0
})
