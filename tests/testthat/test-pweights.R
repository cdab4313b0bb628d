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

# The interface: glamm(pweights = ) on simulated two-level data.
pw_data <- function(seed = 7, J = 20, m = 6) {
  set.seed(seed)
  n <- J * m
  school <- rep(seq_len(J), each = m)
  x <- rnorm(n)
  d <- data.frame(school = school, x = x,
                  y = rbinom(n, 1, plogis(-0.2 + 0.6 * x + rnorm(J)[school])),
                  yg = 1 + 0.5 * x + rnorm(J)[school] + rnorm(n),
                  wc = runif(n, 0.5, 2), ws = runif(J, 1, 3)[school],
                  k = sample(1:3, n, TRUE), stratum = rep(1:4, length.out = J)[school])
  d
}

test_that("unit weights equal the unweighted fit; robust SE differ from model SE", {
  d <- pw_data()
  f0 <- glamm(y ~ x + (1 | school), data = d, family = binomial, nAGQ = 7)
  d$one <- 1
  f1 <- glamm(y ~ x + (1 | school), data = d, family = binomial, nAGQ = 7,
              pweights = list(~ one, school = ~ one))
  # observed: 0 for par and loglik, 6e-17 for the sandwich (the same objective)
  expect_equal(f1$par, f0$par, tolerance = 1e-10)
  expect_equal(f1$loglik, f0$loglik, tolerance = 1e-12)
  expect_equal(vcov(f1, type = "model"), vcov(f0), tolerance = 1e-10)
  expect_equal(vcov(f1), vcov(f0, type = "sandwich"), tolerance = 1e-10)
  expect_output(print(summary(f1)), "robust SE")
  expect_error(anova(f1, f0), "survey weights.*Wald")
})

test_that("integer row and top weights (scale none) equal replicated rows and clusters", {
  d <- pw_data()
  fw <- glamm(yg ~ x + (1 | school), data = d, pweights = list(~ k), pweights.scale = "none")
  r <- rep(seq_len(nrow(d)), d$k)
  fr <- glamm(yg ~ x + (1 | school), data = d[r, ])
  par <- fr$par
  # observed: 6e-14 (the same pseudo-log-likelihood at fixed parameters)
  expect_equal(as.numeric(loglik_function(fw)(par)), as.numeric(loglik_function(fr)(par)),
               tolerance = 1e-12)
  # observed: 5e-12 here, 2e-7 for the clusters below (two optimizations of one function)
  expect_equal(fw$par, fr$par, tolerance = 1e-5)
  kt <- rep(1:3, length.out = 20)
  d$kt <- kt[d$school]
  ft <- glamm(yg ~ x + (1 | school), data = d, pweights = list(school = ~ kt))
  rows <- unlist(lapply(1:20, function(j) rep(list(which(d$school == j)), kt[j])))
  dr <- d[rows, ]
  dr$school <- rep(seq_len(sum(kt)), each = 6)
  fc <- glamm(yg ~ x + (1 | school), data = dr)
  # observed: 6e-14
  expect_equal(as.numeric(loglik_function(ft)(par)), as.numeric(loglik_function(fc)(par)),
               tolerance = 1e-12)
  expect_equal(ft$par, fc$par, tolerance = 1e-5)
})

test_that("size and effective scaling are invariant to rescaling a cluster's row weights", {
  d <- pw_data()
  d$wc2 <- d$wc * ifelse(d$school %in% c(2, 5), 7, 1)
  for (sc in c("size", "effective")) {
    a <- glamm(y ~ x + (1 | school), data = d, family = binomial, nAGQ = 7,
               pweights = list(~ wc), pweights.scale = sc)
    b <- glamm(y ~ x + (1 | school), data = d, family = binomial, nAGQ = 7,
               pweights = list(~ wc2), pweights.scale = sc)
    # observed: 0 (size), 2e-16 (effective): the scaled weights agree up to rounding
    expect_equal(a$par, b$par, tolerance = 1e-8)
  }
  s <- glamm:::scale_row_weights(d$wc, d$school, "effective")
  eff <- tapply(d$wc, d$school, function(w) sum(w)^2 / sum(w^2))
  expect_equal(as.numeric(tapply(s, d$school, sum)), as.numeric(eff), tolerance = 1e-12)
  s <- glamm:::scale_row_weights(d$wc, d$school, "size")
  expect_equal(as.numeric(tapply(s, d$school, sum)), rep(6, 20), tolerance = 1e-12)
})

test_that("the sandwich is A^-1 B A^-1 from the scores of the top clusters", {
  d <- pw_data()
  f <- glamm(y ~ x + (1 | school), data = d, family = binomial, nAGQ = 7,
             pweights = list(~ wc, school = ~ ws))
  obj <- glamm:::fit_objective(f)
  S <- attr(obj$loglik(unname(f$par), scores = TRUE), "scores")
  J <- nrow(S)
  expect_equal(J, 20L)
  Ainv <- solve(-f$hessian)
  V <- Ainv %*% (J / (J - 1) * crossprod(S)) %*% Ainv
  # observed: 3e-17 (the same arithmetic)
  expect_equal(unname(vcov(f, full = TRUE)), unname(V), tolerance = 1e-10)
  expect_equal(unname(vcov(f, type = "model", full = TRUE)), unname(Ainv), tolerance = 1e-8)
  expect_equal(unname(vcov(f)), unname(V[1:2, 1:2]), tolerance = 1e-10)
  # the delta method for var = theta^2 (observed: 4e-11, its numerical Jacobian)
  expect_equal(f$varcomp$std.error, unname(sqrt(V[3, 3]) * 2 * abs(f$par[3])),
               tolerance = 1e-6)
  # strata: stratum-centred scores with J_h / (J_h - 1)
  fs <- glamm(y ~ x + (1 | school), data = d, family = binomial, nAGQ = 7,
              pweights = list(~ wc, school = ~ ws), strata = ~ stratum)
  st <- d$stratum[match(as.integer(names(fs$cluster_loglik)), d$school)]
  B <- 0
  for (h in unique(st)) {
    Sh <- S[st == h, , drop = FALSE]
    B <- B + nrow(Sh) / (nrow(Sh) - 1) * crossprod(sweep(Sh, 2, colMeans(Sh)))
  }
  expect_equal(unname(vcov(fs, full = TRUE)), unname(Ainv %*% B %*% Ainv), tolerance = 1e-10)
})

test_that("bad survey weights are clear errors", {
  d <- pw_data()
  fit <- function(...) glamm(y ~ x + (1 | school), data = d, family = binomial, ...)
  d$neg <- d$wc
  d$neg[3] <- -1
  expect_error(fit(pweights = list(~ neg)), "negative")
  d$na <- d$wc
  d$na[3] <- NA
  expect_error(fit(pweights = list(~ na)), "missing values")
  d$inf <- d$wc
  d$inf[3] <- Inf
  expect_error(fit(pweights = list(~ inf)), "infinite")
  expect_error(fit(pweights = list(school = ~ wc)), "constant within each")
  expect_error(fit(pweights = list(class = ~ ws)), "valid names: school")
  expect_error(fit(pweights = list(~ wc, ~ ws)), "more than one unnamed")
  expect_error(fit(pweights = list("wc")), "one-sided formula")
  expect_error(fit(pweights = ~ wc, method = "PQL"), "ML")
  expect_error(fit(pweights = ~ ws, strata = ~ wc), "constant within each top-level")
  d$lone <- ifelse(d$school == 1, 0, 1)
  expect_error(fit(pweights = ~ ws, strata = ~ lone), "single top-level cluster")
})

test_that("profiles refuse weighted fits; Wald intervals use the robust SEs", {
  d <- pw_data()
  f <- glamm(y ~ x + (1 | school), data = d, family = binomial, nAGQ = 7, pweights = ~ wc)
  expect_error(confint(f, method = "profile"), "survey weights")
  expect_error(profile(f), "survey weights")
  # Wald intervals use the robust SEs
  ci <- confint(f, parm = "x")
  expect_equal(unname(ci[1, 2] - ci[1, 1]), unname(2 * qnorm(0.975) * sqrt(vcov(f)[2, 2])),
               tolerance = 1e-10)
})

test_that("row power weights of a gaussian fit equal glmmTMB's weights", {
  skip_if_not_installed("glmmTMB")
  d <- pw_data()
  a <- glamm(yg ~ x + (1 | school), data = d, pweights = ~ wc, pweights.scale = "none")
  b <- glmmTMB::glmmTMB(yg ~ x + (1 | school), data = d, weights = wc)
  # observed: 7e-10 in the log-likelihood, 7e-6 relative in the estimates, 2e-6 in
  # sigma (glmmTMB's optimizer stops earlier)
  expect_equal(a$loglik, as.numeric(logLik(b)), tolerance = 1e-6)
  expect_equal(unname(fixef(a)), unname(glmmTMB::fixef(b)$cond), tolerance = 1e-4)
  expect_equal(a$sigma, sigma(b), tolerance = 1e-4)
})

test_that("three levels: integer row and top weights equal replication; sandwich", {
  set.seed(11)
  d <- data.frame(top = rep(1:10, each = 8), mid = rep(1:40, each = 2), x = rnorm(80))
  d$y <- rnorm(80, d$x + rnorm(10)[d$top] + 0.7 * rnorm(40)[d$mid])
  d$k <- sample(1:3, 80, TRUE)
  d$kt <- rep(1:2, 5)[d$top]
  f <- glamm(y ~ x + (1 | top / mid), data = d, pweights = list(~ k, top = ~ kt),
             pweights.scale = "none")
  rows <- unlist(lapply(1:10, function(j) {
    rep(list(rep(which(d$top == j), d$k[d$top == j])), d$kt[d$top == j][1])
  }))
  copy <- unlist(lapply(1:10, function(j) {
    rep(seq_len(d$kt[d$top == j][1]), each = sum(d$k[d$top == j]))
  }))
  dr <- d[rows, ]
  dr$top <- paste(dr$top, copy)
  dr$mid <- paste(dr$mid, copy)
  fr <- glamm(y ~ x + (1 | top / mid), data = dr)
  # observed: 0 at fixed parameters, 2e-12 in the estimates
  expect_equal(as.numeric(loglik_function(f)(fr$par)), as.numeric(fr$loglik), tolerance = 1e-10)
  expect_equal(f$par, fr$par, tolerance = 1e-5)
  obj <- glamm:::fit_objective(f)
  S <- attr(obj$loglik(unname(f$par), scores = TRUE), "scores")
  Ainv <- solve(-f$hessian)
  # observed: 6e-17
  expect_equal(unname(vcov(f, full = TRUE)),
               unname(Ainv %*% (10 / 9 * crossprod(S)) %*% Ainv), tolerance = 1e-10)
})

test_that("print() of a weighted fit gives the pseudo-log-likelihood without AIC", {
  d <- pw_data()
  f <- glamm(y ~ x + (1 | school), data = d, family = binomial, nAGQ = 7, pweights = ~ wc)
  expect_output(print(f), "pseudo-log-likelihood")
  expect_false(any(grepl("AIC", capture.output(print(f)))))
})
