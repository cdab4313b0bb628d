# The engine's interface: the nested integrator at depth 1 reproduces the
# two-level kernel, per-top-cluster scores sum to the gradient, and results do
# not depend on the number of threads (over top clusters, or inside them when
# there are few).

engine_data <- function(seed, family) {
  set.seed(seed)
  J <- 20
  m <- 6
  n <- J * m
  g <- rep(seq_len(J), each = m)
  x <- rnorm(n)
  X <- cbind("(Intercept)" = 1, x = x)
  eta <- -0.2 + 0.5 * x + rnorm(J, 0, 0.8)[g] + rnorm(J, 0, 0.4)[g] * x
  y <- switch(family$family,
    binomial = rbinom(n, 1, family$linkinv(eta)),
    poisson = rpois(n, exp(eta)),
    gaussian = rnorm(n, eta, 0.7)
  )
  list(y = y, X = X, g = g, par = c(-0.1, 0.4, 0.7, 0.1, 0.35,
                                    if (family$family == "gaussian") log(0.6)))
}

test_that("the nested integrator at depth 1 equals the two-level kernel", {
  for (fam in list(binomial(), binomial("probit"), poisson(), gaussian())) {
    dd <- engine_data(11, fam)
    for (K in c(1, 5)) {
      fast <- objective_for(dd$y, dd$X, dd$X, dd$g, fam, K)
      tree <- objective_for(dd$y, dd$X, dd$X, dd$g, fam, K, use_tree = TRUE)
      a <- fast$loglik(dd$par, gradient = TRUE)
      b <- tree$loglik(dd$par, gradient = TRUE)
      expect_lt(abs(as.numeric(a) - as.numeric(b)), 1e-10)  # seen 0
      expect_lt(max(abs(attr(a, "gradient") - attr(b, "gradient"))), 1e-10)  # seen 2.1e-14
    }
  }
})

test_that("per-top-cluster scores sum to the gradient (one and two levels)", {
  dd <- engine_data(12, binomial())
  obj <- objective_for(dd$y, dd$X, dd$X, dd$g, binomial(), 5)
  v <- obj$loglik(dd$par, gradient = TRUE, scores = TRUE)
  S <- attr(v, "scores")
  expect_identical(dim(S), c(20L, length(dd$par)))
  expect_lt(max(abs(colSums(S) - attr(v, "gradient"))), 1e-12)  # seen 8.9e-16

  d <- sim_nested(13, binomial, sizes = c(8, 3, 4))
  re <- list(list(Z = cbind(1, d$x), group = d$class_u),
             list(Z = matrix(1, nrow(d), 1), group = d$school))
  on <- objective_nested(d$y, cbind(1, d$x), re, binomial(), 3)
  par <- c(-0.2, 0.5, 0.6, 0.1, 0.3, 0.8)
  w <- on$loglik(par, gradient = TRUE, scores = TRUE)
  expect_identical(nrow(attr(w, "scores")), 8L)  # one row per school
  expect_lt(max(abs(colSums(attr(w, "scores")) - attr(w, "gradient"))), 1e-12)  # seen 2.2e-16
  fd <- central_diff(function(p) as.numeric(on$loglik(p)), par)
  expect_lt(max_rel_err(attr(w, "gradient"), fd), 1e-6)  # seen 3.3e-10
})

test_that("nested fits do not depend on the number of threads", {
  # many top clusters (threads over them) and few (threads inside each)
  for (sizes in list(c(40, 3, 4), c(3, 60, 10))) {
    d <- sim_nested(14, binomial, sizes = sizes)
    fits <- lapply(1:2, function(t) {
      glamm(y ~ x + (1 | school/class), data = d, family = binomial, nAGQ = 5,
            control = glamm_control(nthreads = t))
    })
    expect_identical(fits[[1]]$loglik, fits[[2]]$loglik)
    expect_identical(fits[[1]]$par, fits[[2]]$par)
    expect_identical(fits[[1]]$groups[[1]]$ranef$mean, fits[[2]]$groups[[1]]$ranef$mean)
  }
})
