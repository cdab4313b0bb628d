# Survey weights (issue 13): row power weights p_i and top-cluster weights w_k
# in the pseudo-log-likelihood sum_k w_k log int prod_i f(y_ki | u)^p_i phi(u) du.
# Integer weights equal replicated rows or clusters; the exact gradient equals
# central differences; the sandwich is A^-1 B A^-1.

survey_objective <- function(y, X, re, family, K, survey = NULL, weights = NULL) {
  levels <- glamm:::fit_levels(NULL, NULL, NULL, re, nrow(X))
  resp <- glamm:::prepare_response(y, family, weights)
  glamm:::build_objective(X, levels, resp, rep(0, nrow(X)), family,
                          rep_len(as.integer(K), length(levels)),
                          glamm_control(nthreads = 1L), survey = survey)
}

survey_data <- function(seed, family, J = 12, m = 5) {
  set.seed(seed)
  n <- J * m
  g <- rep(seq_len(J), each = m)
  x <- rnorm(n)
  X <- cbind("(Intercept)" = 1, x = x)
  eta <- 0.3 + 0.5 * x + rnorm(J)[g]
  y <- switch(family$family, binomial = rbinom(n, 1, plogis(eta)), gaussian = rnorm(n, eta),
              poisson = rpois(n, exp(eta)))
  par <- c(0.2, 0.4, 0.7, if (family$family == "gaussian") log(0.9))
  list(y = y, X = X, Z = X[, 1, drop = FALSE], g = g, J = J, m = m, n = n, par = par)
}

one_level <- function(d, rows = seq_len(d$n), g = d$g[rows]) {
  list(list(Z = d$Z[rows, , drop = FALSE], group = g, name = "g"))
}

families <- list(binomial(), gaussian(), poisson())

test_that("integer row weights equal replicated rows (log-likelihood and gradient)", {
  for (fam in families) {
    d <- survey_data(1, fam)
    p <- sample(1:3, d$n, TRUE)
    r <- rep(seq_len(d$n), p)
    a <- survey_objective(d$y, d$X, one_level(d), fam, 5, survey = list(row = p))
    b <- survey_objective(d$y[r], d$X[r, ], one_level(d, r), fam, 5)
    va <- a$loglik(d$par, TRUE)
    vb <- b$loglik(d$par, TRUE)
    # observed: |dlogL| <= 3e-14, |dgrad| <= 4e-15 (rounding of the sums)
    expect_equal(as.numeric(va), as.numeric(vb), tolerance = 1e-12)
    expect_equal(attr(va, "gradient"), attr(vb, "gradient"), tolerance = 1e-12)
  }
})

test_that("integer top-cluster weights equal replicated, relabelled clusters", {
  for (fam in families) {
    d <- survey_data(2, fam)
    wt <- sample(1:3, d$J, TRUE)
    rr <- unlist(lapply(seq_len(d$J), function(j) rep(list(which(d$g == j)), wt[j])))
    gg <- rep(seq_len(sum(wt)), each = d$m)
    a <- survey_objective(d$y, d$X, one_level(d), fam, 5, survey = list(top = wt[d$g]))
    b <- survey_objective(d$y[rr], d$X[rr, ], one_level(d, rr, gg), fam, 5)
    va <- a$loglik(d$par, TRUE)
    vb <- b$loglik(d$par, TRUE)
    # observed: |dlogL| <= 3e-14, |dgrad| <= 5e-14
    expect_equal(as.numeric(va), as.numeric(vb), tolerance = 1e-12)
    expect_equal(attr(va, "gradient"), attr(vb, "gradient"), tolerance = 1e-12)
  }
})

test_that("unit survey weights equal the unweighted objective", {
  d <- survey_data(3, gaussian())
  a <- survey_objective(d$y, d$X, one_level(d), gaussian(), 5,
                        survey = list(row = rep(1, d$n), top = rep(1, d$n)))
  b <- survey_objective(d$y, d$X, one_level(d), gaussian(), 5)
  va <- a$loglik(d$par, TRUE)
  vb <- b$loglik(d$par, TRUE)
  expect_equal(as.numeric(va), as.numeric(vb), tolerance = 1e-13)
  expect_equal(attr(va, "gradient"), attr(vb, "gradient"), tolerance = 1e-13)
})

test_that("the weighted gradient equals central differences (two levels)", {
  for (fam in list(binomial(), gaussian())) {
    d <- survey_data(4, fam)
    survey <- list(row = runif(d$n, 0.2, 3), top = runif(d$J, 0.5, 2)[d$g])
    o <- survey_objective(d$y, d$X, one_level(d), fam, 5, survey = survey)
    v <- o$loglik(d$par, TRUE)
    fd <- central_diff(function(q) as.numeric(o$loglik(q)), d$par)
    # observed: 4.7e-10 (the standard of test-gradient.R: 1e-6)
    expect_lt(max_rel_err(attr(v, "gradient"), fd), 1e-6)
    S <- attr(o$loglik(d$par, scores = TRUE), "scores")
    # observed: 5e-14
    expect_equal(colSums(S), attr(v, "gradient"), tolerance = 1e-10)
  }
})

test_that("the weighted gradient equals central differences (three levels)", {
  for (fam in list(binomial(), gaussian())) {
    set.seed(5)
    J <- 8
    n2 <- 3
    m <- 4
    n <- J * n2 * m
    top <- rep(seq_len(J), each = n2 * m)
    mid <- rep(seq_len(J * n2), each = m)
    x <- rnorm(n)
    X <- cbind("(Intercept)" = 1, x = x)
    eta <- 0.2 + 0.5 * x + rnorm(J)[top] + 0.6 * rnorm(J * n2)[mid]
    y <- if (fam$family == "binomial") rbinom(n, 1, plogis(eta)) else rnorm(n, eta)
    one <- X[, 1, drop = FALSE]
    re <- list(list(Z = one, group = mid, name = "mid"), list(Z = one, group = top, name = "top"))
    survey <- list(row = runif(n, 0.2, 3), top = runif(J, 0.5, 2)[top])
    o <- survey_objective(y, X, re, fam, 5, survey = survey)
    par <- c(0.1, 0.4, 0.5, 0.8, if (fam$family == "gaussian") log(0.9))
    v <- o$loglik(par, TRUE)
    fd <- central_diff(function(q) as.numeric(o$loglik(q)), par)
    # observed: 3e-10 (binomial), 1.3e-9 (gaussian); test-gradient.R standard: 1e-6
    expect_lt(max_rel_err(attr(v, "gradient"), fd), 1e-6)
  }
})
