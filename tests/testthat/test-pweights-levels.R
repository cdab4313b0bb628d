# Survey weights below the top level (issue 13): in a nested model a
# cluster's log-integral enters its parent's integrand multiplied by the
# cluster's weight, L_v = int phi(u_v) prod_rows f^p prod_children L_c^w_c du_v.
# Integer weights equal replicated clusters exactly (the pseudo-likelihood
# identity), for AGHQ and Laplace; the gradient equals central differences;
# the value converges to a brute-force weighted nested integral
# (helper-nested.R); the sandwich is built from the top clusters' scores.

levels_objective <- function(y, X, re, family, K, survey = NULL) {
  levels <- glamm:::fit_levels(NULL, NULL, NULL, re, nrow(X))
  resp <- glamm:::prepare_response(y, family, NULL)
  glamm:::build_objective(X, levels, resp, rep(0, nrow(X)), family,
                          rep_len(as.integer(K), length(levels)),
                          glamm_control(nthreads = 1L), survey = survey)
}

# Three levels (top, mid, rows) or four (top, mid, inner, rows), sorted,
# with codes per level; eta from random intercepts.
levels_data <- function(seed, family, sizes) {
  set.seed(seed)
  n <- prod(sizes)
  codes <- lapply(seq_len(length(sizes) - 1), function(j) {
    rep(seq_len(prod(sizes[seq_len(j)])), each = prod(sizes[-seq_len(j)]))
  })
  x <- rnorm(n)
  X <- cbind("(Intercept)" = 1, x = x)
  eta <- 0.2 + 0.5 * x
  for (cd in codes) eta <- eta + 0.7 * rnorm(max(cd))[cd]
  y <- switch(family$family, binomial = rbinom(n, 1, plogis(eta)),
              poisson = rpois(n, exp(eta)), gaussian = rnorm(n, eta))
  list(y = y, X = X, codes = codes, n = n)
}

# The random-effect levels from codes (top first): intercepts, plus a slope
# of x at the level named in `slope`.
levels_re <- function(d, rows = seq_len(d$n), codes = lapply(d$codes, function(cd) cd[rows]),
                      slope = NULL) {
  nm <- c("top", "mid", "inner")[seq_along(codes)]
  rev(lapply(seq_along(codes), function(j) {
    Z <- d$X[rows, if (nm[j] %in% slope) 1:2 else 1, drop = FALSE]
    list(Z = Z, group = codes[[j]], name = nm[j])
  }))
}

# Rows of the data with each cluster of level j (top = 1) replicated k[c]
# times, as new clusters; the codes of the replicated design.
replicate_level <- function(d, j, k) {
  cl <- d$codes[[j]]
  rows <- unlist(lapply(seq_along(k), function(c) rep(which(cl == c), k[c])))
  copy <- unlist(lapply(seq_along(k), function(c) rep(seq_len(k[c]), each = sum(cl == c))))
  codes <- lapply(seq_along(d$codes), function(i) {
    if (i < j) d$codes[[i]][rows] else paste(d$codes[[i]][rows], copy)
  })
  list(rows = rows, codes = codes)
}

test_that("integer weights of a middle level equal replicated clusters (AGHQ and Laplace)", {
  for (fam in list(binomial(), gaussian(), poisson())) {
    d <- levels_data(1, fam, c(6, 3, 4))
    k <- sample(1:3, 18, TRUE)
    rep_d <- replicate_level(d, 2, k)
    par <- c(0.1, 0.4, 0.5, 0.8, if (fam$family == "gaussian") log(0.9))
    for (K in c(1, 5)) {
      a <- levels_objective(d$y, d$X, levels_re(d), fam, K,
                            survey = list(node = list(mid = as.numeric(k[d$codes[[2]]]))))
      b <- levels_objective(d$y[rep_d$rows], d$X[rep_d$rows, ],
                            levels_re(d, rep_d$rows, rep_d$codes), fam, K)
      va <- a$loglik(par, TRUE)
      vb <- b$loglik(par, TRUE)
      # observed: |dlogL| <= 3e-14, |dgrad| <= 2.1e-13 (rounding of the sums)
      expect_equal(as.numeric(va), as.numeric(vb), tolerance = 1e-12)
      expect_equal(attr(va, "gradient"), attr(vb, "gradient"), tolerance = 1e-12)
    }
  }
})

test_that("four levels: integer weights of an inner node level equal replication (slopes)", {
  for (fam in list(binomial(), poisson())) {
    d <- levels_data(2, fam, c(5, 2, 2, 3))
    k <- sample(1:3, 10, TRUE)
    rep_d <- replicate_level(d, 2, k)
    par <- c(0.1, 0.4, 0.5, 0.6, 0.1, 0.3, 0.8)
    for (K in list(1, 3, c(2, 3, 4))) {
      a <- levels_objective(d$y, d$X, levels_re(d, slope = "mid"), fam, K,
                            survey = list(node = list(mid = as.numeric(k[d$codes[[2]]]))))
      b <- levels_objective(d$y[rep_d$rows], d$X[rep_d$rows, ],
                            levels_re(d, rep_d$rows, rep_d$codes, slope = "mid"), fam, K)
      va <- a$loglik(par, TRUE)
      vb <- b$loglik(par, TRUE)
      # observed: |dlogL| <= 6e-14, |dgrad| <= 5e-14
      expect_equal(as.numeric(va), as.numeric(vb), tolerance = 1e-12)
      expect_equal(attr(va, "gradient"), attr(vb, "gradient"), tolerance = 1e-12)
    }
  }
})

test_that("the gradient with weights at every level equals central differences", {
  for (fam in list(binomial(), gaussian())) {
    d <- levels_data(3, fam, c(6, 3, 4))
    survey <- list(row = runif(d$n, 0.2, 3), node = list(mid = runif(18, 0.3, 2.5)[d$codes[[2]]]),
                   top = runif(6, 0.5, 2)[d$codes[[1]]])
    par <- c(0.1, 0.4, 0.5, 0.8, if (fam$family == "gaussian") log(0.9))
    for (K in c(1, 5)) {
      o <- levels_objective(d$y, d$X, levels_re(d), fam, K, survey = survey)
      v <- o$loglik(par, TRUE)
      fd <- central_diff(function(q) as.numeric(o$loglik(q)), par)
      # observed: 1.5e-10 to 2.3e-9 (the standard of test-gradient.R: 1e-6)
      expect_lt(max_rel_err(attr(v, "gradient"), fd), 1e-6)
    }
  }
  d <- levels_data(4, poisson(), c(5, 2, 2, 3))
  survey <- list(row = runif(d$n, 0.2, 3), top = runif(5, 0.5, 2)[d$codes[[1]]],
                 node = list(mid = runif(10, 0.3, 2.5)[d$codes[[2]]],
                             inner = runif(20, 0.3, 2.5)[d$codes[[3]]]))
  par <- c(0.1, 0.4, 0.5, 0.6, 0.1, 0.3, 0.8)
  for (K in list(1, c(2, 3, 4))) {
    o <- levels_objective(d$y, d$X, levels_re(d, slope = "mid"), poisson(), K, survey = survey)
    v <- o$loglik(par, TRUE)
    fd <- central_diff(function(q) as.numeric(o$loglik(q)), par)
    # observed: 1.5e-9 (K = 2, 3, 4), 7.2e-9 (K = 1)
    expect_lt(max_rel_err(attr(v, "gradient"), fd), 1e-6)
    S <- attr(o$loglik(par, scores = TRUE), "scores")
    # observed: 1.1e-13
    expect_equal(colSums(S), attr(v, "gradient"), tolerance = 1e-10)
  }
})

test_that("weighted AGHQ converges to a brute-force weighted nested integral", {
  d <- levels_data(5, binomial(), c(4, 3, 3))
  survey <- list(row = runif(d$n, 0.3, 2), node = list(mid = runif(12, 0.4, 2.5)[d$codes[[2]]]),
                 top = runif(4, 0.5, 2)[d$codes[[1]]])
  beta <- c(0.1, 0.4)
  sds <- list(0.9, 1.2)  # mid, top
  par <- c(beta, unlist(sds))
  one <- d$X[, 1, drop = FALSE]
  ref <- nested_loglik_brute(d$y, d$X, beta, list(one, one), rev(d$codes), sds, binomial(),
                             pweights = list(row = survey$row, level = list(survey$node$mid,
                                                                               survey$top)))
  err <- vapply(c(9, 25), function(K) {
    o <- levels_objective(d$y, d$X, levels_re(d), binomial(), K, survey = survey)
    as.numeric(o$loglik(par)) - ref
  }, 1)
  # observed: -3.5e-2 (K = 3), -1.5e-6 (K = 9), -1.4e-9 (K = 15), 2e-14 (K = 25);
  # the reference moves by 0 with h = 0.15 and width 9
  expect_lt(abs(err[2]), 1e-10)
  expect_lt(abs(err[1]), 1e-5)
})

# The interface on simulated three-level data (helper-nested.R).
levels_fit_data <- function() {
  d <- sim_nested(21, binomial(), sizes = c(16, 3, 5), names = c("school", "class"),
                  sds = c(0.6, 1))
  set.seed(22)
  d$wr <- runif(nrow(d), 0.5, 2)
  d$wc <- runif(nlevels(d$class_u), 0.5, 2)[d$class_u]
  d$ws <- runif(16, 1, 3)[d$school]
  d$one <- 1
  d
}

test_that("unit weights at every level equal the unweighted three-level fit", {
  d <- levels_fit_data()
  f0 <- glamm(y ~ x + (1 | school / class), data = d, family = binomial, nAGQ = 5)
  f1 <- glamm(y ~ x + (1 | school / class), data = d, family = binomial, nAGQ = 5,
              pweights = list(~ one, class = ~ one, school = ~ one))
  # observed: 0 (the same objective)
  expect_equal(f1$par, f0$par, tolerance = 1e-10)
  expect_equal(f1$loglik, f0$loglik, tolerance = 1e-12)
  expect_equal(vcov(f1), vcov(f0, type = "sandwich"), tolerance = 1e-10)
})

test_that("three-level sandwich: J/(J-1) outer product of the top clusters' scores", {
  d <- levels_fit_data()
  f <- glamm(y ~ x + (1 | school / class), data = d, family = binomial, nAGQ = 5,
             pweights = list(~ wr, class = ~ wc, school = ~ ws))
  expect_output(print(summary(f)), "robust SE")
  obj <- glamm:::fit_objective(f)
  S <- attr(obj$loglik(unname(f$par), scores = TRUE), "scores")
  J <- nrow(S)
  expect_equal(J, 16L)
  Ainv <- solve(-f$hessian)
  # observed: 4e-16 (the same arithmetic)
  expect_equal(unname(vcov(f, full = TRUE)),
               unname(Ainv %*% (J / (J - 1) * crossprod(S)) %*% Ainv), tolerance = 1e-10)
  # the scores are the gradient's terms: they sum to ~0 at the optimum (observed 1e-8)
  expect_lt(max(abs(colSums(S))), 1e-4)
  # and each is the derivative of its school's weighted pseudo-log-likelihood
  per_school <- function(par) {
    u <- obj$unpack(par)
    glamm:::cpp_model_posterior(obj$model, u$beta, u$lambda, u$psi)$loglik
  }
  h <- 1e-5
  S_fd <- vapply(seq_along(f$par), function(j) {
    e <- replace(numeric(length(f$par)), j, h)
    (per_school(unname(f$par) + e) - per_school(unname(f$par) - e)) / (2 * h)
  }, numeric(J))
  # observed: 7e-11 relative to the largest score, 1.2e-10 in the sandwich
  expect_lt(max(abs(S_fd - S)) / max(abs(S)), 1e-6)
  V_fd <- Ainv %*% (J / (J - 1) * crossprod(S_fd)) %*% Ainv
  expect_equal(unname(vcov(f, full = TRUE)), unname(V_fd), tolerance = 1e-6)
})

test_that("class weights are scaled within their school; scaling is invariant", {
  d <- levels_fit_data()
  cl <- !duplicated(d$class_u)
  for (sc in c("size", "effective")) {
    s <- glamm:::scale_cluster_weights(d$wc, d$class_u, d$school, sc)
    w <- d$wc[cl]
    target <- if (sc == "size") rep(3, 16) else tapply(w, d$school[cl], function(x) sum(x)^2 / sum(x^2))
    # observed: 4e-16
    expect_equal(as.numeric(tapply(s[cl], d$school[cl], sum)), as.numeric(target),
                 tolerance = 1e-12)
  }
  d$wc2 <- d$wc * ifelse(d$school %in% c(2, 7), 5, 1)
  a <- glamm(y ~ x + (1 | school / class), data = d, family = binomial, nAGQ = 3,
             pweights = list(class = ~ wc))
  b <- glamm(y ~ x + (1 | school / class), data = d, family = binomial, nAGQ = 3,
             pweights = list(`class:school` = ~ wc2))
  # observed: 0 (the scaled weights agree up to rounding)
  expect_equal(a$par, b$par, tolerance = 1e-8)
  n <- glamm(y ~ x + (1 | school / class), data = d, family = binomial, nAGQ = 3,
             pweights = list(class = ~ wc2), pweights.scale = "none")
  expect_false(isTRUE(all.equal(a$par, n$par, tolerance = 1e-4)))
})

test_that("bad weights below the top are clear errors", {
  d <- levels_fit_data()
  fit <- function(...) glamm(y ~ x + (1 | school / class), data = d, family = binomial,
                             nAGQ = 3, ...)
  expect_error(fit(pweights = list(class = ~ wr)), "constant within each")
  d$wz <- ifelse(d$class_u == d$class_u[1], 0, d$wc)
  expect_error(fit(pweights = list(class = ~ wz)), "must be positive")
  expect_error(fit(pweights = list(class = ~ wc, `class:school` = ~ wc)), "twice")
  expect_error(fit(pweights = list(room = ~ wc)), "valid names: class:school, school")
})

test_that("weighted nested sums do not depend on the thread count (threads inside a top cluster)", {
  d <- levels_data(9, binomial(), c(6, 10, 20))
  survey <- list(row = runif(d$n, 0.2, 3), node = list(mid = runif(60, 0.3, 2.5)[d$codes[[2]]]),
                 top = runif(6, 0.5, 2)[d$codes[[1]]])
  par <- c(0.1, 0.4, 0.5, 0.8)
  eval_with <- function(nthreads) {
    levels <- glamm:::fit_levels(NULL, NULL, NULL, levels_re(d), d$n)
    resp <- glamm:::prepare_response(d$y, binomial(), NULL)
    o <- glamm:::build_objective(d$X, levels, resp, rep(0, d$n), binomial(), c(5L, 5L),
                                 glamm_control(nthreads = nthreads), survey = survey)
    o$loglik(par, TRUE)
  }
  # 6 top clusters on 2 threads: the leaves of each run in parallel, reduced in
  # leaf order (observed: identical)
  expect_identical(eval_with(2L), eval_with(1L))
})
