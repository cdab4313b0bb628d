# Marginal (population-averaged) predictions, E[h(x'beta + z'b)] with
# b ~ N(0, Sigma), checked against independent computations: brute-force
# integrate() over N(0, z' Sigma z), the probit closed form, and numerical
# delta-method standard errors.

sim_slopes <- function(seed = 101, J = 60, nj = 12) {
  set.seed(seed)
  g <- rep(seq_len(J), each = nj)
  x <- rnorm(J * nj)
  w <- rbinom(J * nj, 1, 0.5)
  b0 <- rnorm(J, 0, 0.8)
  b1 <- rnorm(J, 0, 0.5)
  eta <- -0.3 + 0.7 * x + 0.4 * w + b0[g] + b1[g] * x
  data.frame(g = g, x = x, w = w,
             y = rbinom(J * nj, 1, plogis(eta)),
             yp = rbinom(J * nj, 1, pnorm(eta - 0.4 * w)))
}
dat <- sim_slopes()
fit_logit <- glamm(y ~ x + w + (1 + x | g), data = dat, family = binomial, nAGQ = 5)
fit_probit <- glamm(yp ~ x + (1 + x | g), data = dat, family = binomial(link = "probit"),
                    nAGQ = 5)
fit_probit_ri <- glamm(yp ~ x + (1 | g), data = dat, family = binomial(link = "probit"),
                       nAGQ = 7)
nd <- data.frame(x = c(-2, -0.5, 0, 1, 2.5), w = c(0, 1, 0, 1, 1))

# E[h(eta + u)], u ~ N(0, v), by adaptive numerical integration.
integrate_marginal <- function(eta, v, h) {
  vapply(seq_along(eta), function(i) {
    if (v[i] == 0) return(h(eta[i]))
    s <- sqrt(v[i])
    stats::integrate(function(u) h(eta[i] + s * u) * dnorm(u), -Inf, Inf,
                     rel.tol = 1e-12, abs.tol = 0)$value
  }, numeric(1))
}

# Marginal mean as a function of the parameter vector (beta, theta), theta
# the free entries (column-major) of the lower-triangular Cholesky factor.
marginal_fun <- function(par, fit, X, Z, h) {
  p <- length(fit$coefficients)
  lambda <- matrix(0, nrow(fit$pattern), ncol(fit$pattern))
  lambda[fit$pattern] <- par[p + seq_len(sum(fit$pattern))]
  Sigma <- lambda %*% t(lambda)
  integrate_marginal(drop(X %*% par[seq_len(p)]), rowSums((Z %*% Sigma) * Z), h)
}

num_jacobian <- function(f, x, step = 1e-5) {
  f0 <- f(x)
  J <- matrix(0, length(f0), length(x))
  for (k in seq_along(x)) {
    e <- replace(numeric(length(x)), k, step)
    J[, k] <- (f(x + e) - f(x - e)) / (2 * step)
  }
  J
}

test_that("marginal logit predictions with a random slope equal integrate() over N(0, z'Sigma z)", {
  X <- cbind(1, nd$x, nd$w)
  Z <- cbind(1, nd$x)
  v <- rowSums((Z %*% fit_logit$Sigma) * Z)
  expect_true(all(v > 0.1))   # the random part matters
  ref <- integrate_marginal(drop(X %*% fixef(fit_logit)), v, plogis)
  got <- predict(fit_logit, nd, type = "response", marginal = TRUE)
  expect_equal(unname(got), ref, tolerance = 1e-8)  # seen 1.5e-14
  # and they differ from the conditional (random effects 0) predictions
  cond <- predict(fit_logit, nd, type = "response", re.form = NA)
  expect_gt(max(abs(got - cond)), 0.01)  # seen 0.09
})

test_that("marginal probit predictions with a random slope equal integrate() and the closed form", {
  X <- cbind(1, nd$x)
  Z <- cbind(1, nd$x)
  eta <- drop(X %*% fixef(fit_probit))
  v <- rowSums((Z %*% fit_probit$Sigma) * Z)
  got <- unname(predict(fit_probit, nd, type = "response", marginal = TRUE))
  expect_equal(got, integrate_marginal(eta, v, pnorm), tolerance = 1e-8)  # seen 1e-15
  # E[Phi(eta + u)] = Phi(eta / sqrt(1 + v)) for u ~ N(0, v)
  expect_equal(got, pnorm(eta / sqrt(1 + v)), tolerance = 1e-8)  # seen 8e-16
})

test_that("marginal probit random-intercept predictions equal pnorm(eta / sqrt(1 + psi))", {
  psi <- fit_probit_ri$Sigma[1, 1]
  expect_gt(psi, 0.2)  # seen 0.61
  eta <- fixef(fit_probit_ri)[1] + fixef(fit_probit_ri)[2] * nd$x
  got <- unname(predict(fit_probit_ri, nd, type = "response", marginal = TRUE))
  expect_equal(got, pnorm(eta / sqrt(1 + psi)), tolerance = 1e-8)  # seen 1e-16
})

test_that("marginal predictions for the PISA model equal integrate() over N(0, psi)", {
  d <- pisa2000
  d$SES <- (d$isei - mean(d$isei)) / 20
  d$SESj <- ave(d$SES, d$id_school)
  fit <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
                 (1 | id_school), data = d, family = binomial, nAGQ = 12)
  g <- data.frame(SESj = seq(-1.5, 1.5, by = 0.5), female = 0, SES = 0, high_school = 1,
                  college = 0, test_lang = 1)
  X <- cbind(1, g$SESj, 0, 0, 1, 0, 1)
  ref <- integrate_marginal(drop(X %*% fixef(fit)), rep(fit$Sigma[1, 1], nrow(g)), plogis)
  got <- unname(predict(fit, g, type = "response", marginal = TRUE))
  expect_equal(got, ref, tolerance = 1e-8)  # seen 1e-15
})

test_that("delta-method SEs of marginal predictions agree with numerical differentiation", {
  for (fit in list(fit_logit, fit_probit, fit_probit_ri)) {
    h <- if (fit$family$link == "logit") plogis else pnorm
    X <- if (length(fixef(fit)) == 3) cbind(1, nd$x, nd$w) else cbind(1, nd$x)
    Z <- if (ncol(fit$Sigma) == 2) cbind(1, nd$x) else cbind(rep(1, nrow(nd)))
    par <- unname(fit$par)
    V <- vcov(fit, full = TRUE)
    expect_equal(length(par), nrow(V))
    Jn <- num_jacobian(function(p) marginal_fun(p, fit, X, Z, h), par)
    ref <- sqrt(rowSums((Jn %*% V) * Jn))
    got <- predict(fit, nd, type = "response", marginal = TRUE, se.fit = TRUE)
    # brief asked for 5%; the analytic delta method matches central differences
    # (step 1e-5, truncation error ~1e-10) far more closely
    expect_equal(unname(got$se.fit), ref, tolerance = 1e-6)  # seen 6e-11
    expect_equal(unname(got$fit), marginal_fun(par, fit, X, Z, h), tolerance = 1e-8)  # seen 1.5e-14
  }
})

test_that("response-scale SEs of predictions with re.form = NA agree with the numerical delta method", {
  X <- cbind(1, nd$x, nd$w)
  V <- vcov(fit_logit)
  beta <- unname(fixef(fit_logit))
  Jn <- num_jacobian(function(b) plogis(drop(X %*% b)), beta)
  ref <- sqrt(rowSums((Jn %*% V) * Jn))
  got <- predict(fit_logit, nd, type = "response", re.form = NA, se.fit = TRUE)
  expect_equal(unname(got$se.fit), ref, tolerance = 1e-6)  # seen 3e-11
  # on the link scale: sqrt(x' V x)
  lnk <- predict(fit_logit, nd, type = "link", re.form = NA, se.fit = TRUE)
  expect_equal(unname(lnk$se.fit), sqrt(rowSums((X %*% V) * X)), tolerance = 1e-10)  # seen 0
})

test_that("marginal predictions with a parametric bootstrap SE of the right size", {
  # Sampling distribution of the marginal mean under the asymptotic normal
  # law of the estimates: the SD of the draws matches the delta-method SE.
  set.seed(7)
  fit <- fit_probit_ri
  X <- cbind(1, nd$x)
  Z <- cbind(rep(1, nrow(nd)))
  V <- vcov(fit, full = TRUE)
  R <- chol(V)
  draws <- replicate(2000, {
    p <- unname(fit$par) + drop(rnorm(length(fit$par)) %*% R)
    eta <- drop(X %*% p[1:2])
    pnorm(eta / sqrt(1 + p[3]^2))
  })
  got <- predict(fit, nd, type = "response", marginal = TRUE, se.fit = TRUE)$se.fit
  expect_equal(unname(got), apply(draws, 1, sd), tolerance = 0.1)  # seen 0.031 (Monte Carlo SE of an SD from 2000 draws ~0.016)
})
