# The exact gradient (implicit differentiation through the adaptive nodes)
# equals central finite differences (h = 1e-5) of the reported
# log-likelihood, for every family and link, q = 1, 2, 3 random effects,
# Laplace (K = 1) and AGHQ (K = 5). Parameters are away from the optimum so
# that the gradient is not near zero. Errors are relative to max(1, |g|).

grad_data <- function(seed, family, q, trials = FALSE) {
  set.seed(seed)
  J <- 25
  m <- 8
  n <- J * m
  g <- rep(seq_len(J), each = m)
  x1 <- rnorm(n)
  x2 <- runif(n)
  X <- cbind("(Intercept)" = 1, x1 = x1, x2 = x2)
  Z <- X[, seq_len(q), drop = FALSE]
  L <- diag(c(0.8, 0.5, 0.4)[seq_len(q)], q)
  L[lower.tri(L)] <- c(0.2, -0.1, 0.15)[seq_len(sum(lower.tri(L)))]
  b <- matrix(rnorm(J * q), J) %*% t(L)
  eta <- drop(X %*% c(-0.3, 0.5, -0.4)) + rowSums(Z * b[g, , drop = FALSE])
  size <- if (trials) sample(1:6, n, replace = TRUE) else rep(1, n)
  expo <- runif(n, 0.5, 3)
  y <- switch(family$family,
    binomial = rbinom(n, size, family$linkinv(eta)),
    poisson = rpois(n, expo * exp(eta)),
    gaussian = rnorm(n, eta, 0.7)
  )
  if (family$family == "binomial" && trials) y <- cbind(y, size - y)
  par <- c(-0.2, 0.4, -0.3, 1.1 * L[lower.tri(L, diag = TRUE)],
           if (family$family == "gaussian") log(0.6))
  list(y = y, X = X, Z = Z, g = g, expo = expo, par = par)
}

check_gradient <- function(family, q, K, trials = FALSE, offset = FALSE, weights = FALSE) {
  dd <- grad_data(100 * q + K, family, q, trials)
  w <- if (weights) rep(c(1, 2, 0.5), length.out = nrow(dd$X)) else NULL
  obj <- objective_for(dd$y, dd$X, dd$Z, dd$g, family, K, weights = w,
                       offset = if (offset) log(dd$expo) else NULL)
  v <- obj$loglik(dd$par, gradient = TRUE)
  fd <- central_diff(function(p) as.numeric(obj$loglik(p)), dd$par)
  list(err = max_rel_err(attr(v, "gradient"), fd), fd = fd)
}

test_that("gradient = finite differences: binomial logit, q = 1, 2, 3, K = 1 and 5", {
  for (q in 1:3) for (K in c(1, 5)) {
    r <- check_gradient(binomial(), q, K)
    expect_gt(max(abs(r$fd)), 1e-2)  # away from the optimum
    expect_lt(r$err, 1e-6)  # seen <= 1.5e-9
  }
})

test_that("gradient = finite differences: binomial probit, q = 1, 2, 3, K = 1 and 5", {
  for (q in 1:3) for (K in c(1, 5)) {
    expect_lt(check_gradient(binomial("probit"), q, K)$err, 1e-6)  # seen <= 1.1e-9
  }
})

test_that("gradient = finite differences: binomial cloglog, q = 1, 2, 3, K = 1 and 5", {
  for (q in 1:3) for (K in c(1, 5)) {
    expect_lt(check_gradient(binomial("cloglog"), q, K)$err, 1e-6)  # seen <= 1.1e-9
  }
})

test_that("gradient = finite differences: binomial with trials (cbind)", {
  for (q in 1:2) for (K in c(1, 5)) {
    expect_lt(check_gradient(binomial(), q, K, trials = TRUE)$err, 1e-6)  # seen <= 4.6e-9
  }
})

test_that("gradient = finite differences: poisson with offset (and prior weights)", {
  for (q in 1:3) for (K in c(1, 5)) {
    expect_lt(check_gradient(poisson(), q, K, offset = TRUE)$err, 1e-6)  # seen <= 4.4e-9
  }
  expect_lt(check_gradient(poisson(), 2, 5, offset = TRUE, weights = TRUE)$err, 1e-6)  # seen 1.8e-9
})

test_that("gradient = finite differences: gaussian including log(sigma), with weights", {
  for (q in 1:3) for (K in c(1, 5)) {
    expect_lt(check_gradient(gaussian(), q, K)$err, 1e-6)  # seen <= 7.2e-9
  }
  expect_lt(check_gradient(gaussian(), 2, 1, weights = TRUE)$err, 1e-6)  # seen 3.8e-9
})

test_that("gradient = finite differences: diagonal covariance pattern (||)", {
  dd <- grad_data(7, binomial(), 3)
  pattern <- diag(3) == 1
  obj <- objective_for(dd$y, dd$X, dd$Z, dd$g, binomial(), 5, pattern = pattern)
  par <- c(-0.2, 0.4, -0.3, 0.9, 0.5, 0.4)
  v <- obj$loglik(par, gradient = TRUE)
  fd <- central_diff(function(p) as.numeric(obj$loglik(p)), par)
  expect_length(attr(v, "gradient"), 6)
  expect_lt(max_rel_err(attr(v, "gradient"), fd), 1e-6)  # seen 9.3e-10
})

test_that("the public loglik_function() returns the same value and gradient", {
  set.seed(11)
  J <- 30
  d <- data.frame(g = factor(rep(seq_len(J), each = 6)), x = rnorm(6 * J),
                  expo = runif(6 * J, 0.5, 3))
  d$y <- rpois(nrow(d), d$expo * exp(0.2 + 0.5 * d$x + rnorm(J, 0, 0.5)[d$g] +
                                       rnorm(J, 0, 0.3)[d$g] * d$x))
  fit <- glamm(y ~ x + (1 + x | g), data = d, family = poisson, offset = log(expo), nAGQ = 1)
  par <- fit$par + c(0.1, -0.1, 0.05, 0.1, -0.05)
  for (K in c(1, 5)) {
    f <- loglik_function(fit, nAGQ = K)
    v <- f(par, gradient = TRUE)
    fd <- central_diff(function(p) as.numeric(f(p)), par)
    expect_lt(max_rel_err(attr(v, "gradient"), fd), 1e-6)  # seen 2.0e-9
    # same function as the internal objective built from the raw data
    obj <- objective_for(d$y, model.matrix(~ x, d), model.matrix(~ x, d), d$g, poisson(), K,
                         offset = log(d$expo))
    expect_lt(abs(as.numeric(v) - as.numeric(obj$loglik(unname(par)))), 1e-9)  # seen 0
  }
  expect_error(loglik_function(fit)(par[-1]), "must have 5 values")
})

test_that("value and gradient stay accurate for extreme linear predictors (|eta| up to 40)", {
  set.seed(3)
  J <- 20
  g <- rep(seq_len(J), each = 6)
  x <- rnorm(6 * J, 0, 3)
  X <- cbind(1, x)
  u <- rnorm(J)[g]
  for (link in c("logit", "probit", "cloglog")) {
    fam <- binomial(link)
    y <- rbinom(length(x), 1, fam$linkinv(6 * x + u))
    for (K in c(1, 5)) {
      obj <- objective_for(y, X, X[, 1, drop = FALSE], g, fam, K)
      par <- c(0.1, 6.3, 0.9)
      v <- obj$loglik(par, gradient = TRUE)
      expect_true(is.finite(v))
      fd <- central_diff(function(p) as.numeric(obj$loglik(p)), par)
      expect_lt(max_rel_err(attr(v, "gradient"), fd), 1e-6)  # seen <= 5.8e-10
    }
  }
})
