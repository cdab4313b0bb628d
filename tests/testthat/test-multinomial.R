# The multinomial (baseline-category logit) family with random effects
# (issue 11): the unit's derivatives against finite differences, C = 2
# against the binomial logit, zero variance against nnet::multinom, AGHQ
# against brute-force 2-D integration (helper-multinomial.R), the exact
# gradient against finite differences (correlated, shared, a random slope,
# three levels), and the input errors.
#
# par layout: c(beta (category-major: b:(Intercept), b:x, c:(Intercept), ...),
# theta (free entries of each level's Lambda, column-major), no extras).

test_that("a unit's gradient, W and third-derivative contraction match finite differences", {
  eta <- c(0.3, -1.2, 0.8)
  y <- c(0, 1, 0)
  w <- 1.7
  S <- matrix(c(2, 0.3, -0.4, 0.3, 1, 0.2, -0.4, 0.2, 0.5), 3)
  u <- glamm:::cpp_multinomial_unit(y, w, eta, S)
  p <- exp(c(0, eta)) / sum(exp(c(0, eta)))
  expect_equal(u$l, w * (eta[2] - log(sum(exp(c(0, eta))))), tolerance = 1e-14)  # seen 0
  f <- function(e) glamm:::cpp_multinomial_unit(y, w, e, S)
  expect_lt(max(abs(central_diff(function(e) f(e)$l, eta) - u$g)), 1e-9)  # seen 2.7e-11
  # W = -Hess: minus the Jacobian of g
  Wfd <- -central_diff_jacobian(function(e) f(e)$g, eta)
  expect_lt(max(abs(Wfd - u$W)), 1e-9)  # seen 1.4e-11
  # r_c = sum_ab S_ab d^3 l / deta_a deta_b deta_c = -sum_ab S_ab dW_ab / deta_c
  rfd <- -central_diff(function(e) sum(S * f(e)$W), eta)
  expect_lt(max(abs(rfd - u$r)), 1e-9)  # seen 1e-11
})

test_that("with two categories the fit equals the binomial logit fit", {
  d <- sim_multinomial(3, J = 40, m = 6, C = 2, Sigma = matrix(1.5))
  fm <- glamm(y ~ x + (1 | g), data = d, family = multinomial(), nAGQ = 9)
  fb <- glamm(y ~ x + (1 | g), data = d, family = binomial, nAGQ = 9)
  expect_equal(as.numeric(logLik(fm)), as.numeric(logLik(fb)), tolerance = 1e-10)  # seen 0
  expect_equal(unname(fm$coefficients), unname(fb$coefficients), tolerance = 1e-6)  # seen 0
  expect_identical(names(fm$coefficients), c("b:(Intercept)", "b:x"))
})

test_that("at zero variance the log-likelihood is nnet::multinom's", {
  skip_if_not_installed("nnet")
  d <- sim_multinomial(4, J = 30, m = 10, C = 4)
  ref <- nnet::multinom(y ~ x, data = d, trace = FALSE, reltol = 1e-14, maxit = 1000)
  beta <- as.vector(t(coef(ref)))  # category-major, as glamm's names
  obj <- multinomial_objective(d$y, cbind(1, d$x),
                               list(list(Z = matrix(1, nrow(d)), group = d$g, name = "g")), 5)
  par <- c(beta, rep(0, 6))
  v <- obj$loglik(par, gradient = TRUE)
  expect_equal(as.numeric(v), as.numeric(logLik(ref)), tolerance = 1e-8)  # seen 6e-14
  # nnet's optimum: the score in beta is zero
  expect_lt(max(abs(attr(v, "gradient")[seq_along(beta)])), 1e-4)  # seen 4e-6
})

test_that("AGHQ equals brute-force integration and converges as K grows", {
  d <- sim_multinomial(5, J = 25, m = 6, C = 3, Sigma = matrix(c(1, 0.6, 0.6, 1.5), 2))
  X <- cbind(1, d$x)
  beta <- matrix(c(0.3, 0.7, -0.2, -0.5), 2)
  Lambda <- matrix(c(0.9, 0.5, 0, 1.1), 2)
  ref <- multinomial_brute2(d$y, X, d$g, beta, Lambda, K = 80)
  obj <- function(K) {
    multinomial_objective(d$y, X, list(list(Z = matrix(1, nrow(d)), group = d$g, name = "g")), K)
  }
  par <- c(beta, Lambda[lower.tri(Lambda, diag = TRUE)])
  err <- vapply(c(1, 3, 5, 9, 15, 25), function(K) as.numeric(obj(K)$loglik(par)) - ref, 0)
  expect_lt(abs(err[6]), 1e-9)  # seen 1.1e-12
  expect_lt(abs(err[5]), 1e-6)  # seen 2.2e-8
  # the error falls as K grows (seen 0.46, 0.054, 2.3e-3, 6.8e-6, 2.2e-8)
  expect_true(all(diff(abs(err[1:5])) < 0))
  expect_gt(abs(err[1]), 1e-3)
})

# The gradient of the objective against central differences at par.
expect_gradient_fd <- function(obj, par, tol) {
  v <- obj$loglik(par, gradient = TRUE)
  fd <- central_diff(function(p) as.numeric(obj$loglik(p)), par)
  err <- max_rel_err(attr(v, "gradient"), fd)
  expect_lt(err, tol)
  invisible(err)
}

test_that("the gradient equals finite differences: correlated and shared intercepts", {
  d <- sim_multinomial(6, J = 20, m = 6, C = 3, Sigma = matrix(c(1, 0.4, 0.4, 0.8), 2))
  X <- cbind(1, d$x)
  re <- list(list(Z = matrix(1, nrow(d)), group = d$g, name = "g"))
  beta <- c(0.3, 0.7, -0.2, -0.5)
  for (K in c(1, 5)) {
    expect_gradient_fd(multinomial_objective(d$y, X, re, K), c(beta, 0.9, 0.4, 0.7),
                       1e-7)  # seen 4e-9 (K = 1), 1e-9 (K = 5)
  }
  d4 <- sim_multinomial(7, J = 20, m = 6, C = 4, shared = TRUE)
  for (K in c(1, 7)) {
    expect_gradient_fd(multinomial_objective(d4$y, X, re, K, random = "shared"),
                       c(0.2, 0.5, -0.1, -0.3, 0.4, 0.1, 0.8), 1e-7)  # seen 5e-9, 4e-10
  }
})

test_that("the gradient equals finite differences with a random slope and at three levels", {
  d <- sim_multinomial(8, J = 20, m = 8, C = 3, slope_sd = 0.5)
  X <- cbind(1, d$x)
  beta <- c(0.3, 0.7, -0.2, -0.5)
  Zs <- cbind(1, d$x)
  obj <- multinomial_objective(d$y, X, list(list(Z = Zs, group = d$g, name = "g")), 3)
  L4 <- diag(c(0.8, 0.4, 0.7, 0.3))
  L4[2, 1] <- 0.2
  L4[3, 1] <- 0.3
  L4[4, 2] <- -0.1
  expect_gradient_fd(obj, c(beta, L4[lower.tri(L4, diag = TRUE)]), 1e-7)  # seen 1.6e-9
  shared <- multinomial_objective(d$y, X, list(list(Z = Zs, group = d$g, name = "g")), 5,
                                  random = "shared")
  expect_gradient_fd(shared, c(beta, 0.8, 0.1, 0.4), 1e-7)  # seen 4e-10
  one <- matrix(1, nrow(d))
  three <- multinomial_objective(d$y, X, list(list(Z = one, group = d$g, name = "g"),
                                              list(Z = one, group = d$h, name = "h")), 3)
  expect_gradient_fd(three, c(beta, 0.7, 0.2, 0.6, 0.5, -0.1, 0.4), 1e-7)  # seen 1.1e-9
})
