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

test_that("a fit is at a maximum, and the baseline only reparametrizes it", {
  d <- sim_multinomial(9, J = 30, m = 8, C = 3, Sigma = matrix(c(1, 0.5, 0.5, 1.2), 2))
  fit <- glamm(y ~ x + (1 | g), data = d, family = multinomial(), nAGQ = 7)
  X <- cbind(1, d$x)
  obj <- multinomial_objective(d$y, X, list(list(Z = matrix(1, nrow(d)), group = d$g,
                                                 name = "g")), 7)
  v <- obj$loglik(unname(c(fit$coefficients, fit$theta)), gradient = TRUE)
  expect_equal(as.numeric(v), as.numeric(logLik(fit)), tolerance = 1e-10)  # seen 3e-14
  expect_lt(max(abs(attr(v, "gradient"))), 1e-3)  # seen 4e-9
  expect_equal(nobs(fit), nrow(d))
  fc <- glamm(y ~ x + (1 | g), data = d, family = multinomial(baseline = "c"), nAGQ = 7)
  expect_equal(as.numeric(logLik(fc)), as.numeric(logLik(fit)), tolerance = 1e-7)  # seen 0
  # a vs c is minus (c vs a); b vs c is (b vs a) - (c vs a)
  b <- fit$coefficients
  expect_equal(unname(fc$coefficients[c("a:(Intercept)", "a:x")]),
               unname(-b[c("c:(Intercept)", "c:x")]), tolerance = 1e-4)  # seen 7e-10
  expect_equal(unname(fc$coefficients[c("b:(Intercept)", "b:x")]),
               unname(b[c("b:(Intercept)", "b:x")] - b[c("c:(Intercept)", "c:x")]),
               tolerance = 1e-4)  # seen 9e-10
  # the anova LR statistic
  f0 <- glamm(y ~ 1 + (1 | g), data = d, family = multinomial(), nAGQ = 7)
  a <- anova(f0, fit)
  expect_equal(a$Chisq[2], 2 * (as.numeric(logLik(fit)) - as.numeric(logLik(f0))),
               tolerance = 1e-12)  # seen 0
})

test_that("predictions: conditional from the posterior means, marginal by integration", {
  d <- sim_multinomial(10, J = 30, m = 8, C = 3, Sigma = matrix(c(1, 0.5, 0.5, 1.2), 2))
  fit <- glamm(y ~ x + (1 | g), data = d, family = multinomial(), nAGQ = 7)
  B <- matrix(fit$coefficients, 2)
  re <- as.matrix(ranef(fit)$g)
  eta <- cbind(1, d$x) %*% B + re[as.integer(d$g), ]
  expect_equal(unname(predict(fit)), unname(eta), tolerance = 1e-12)  # seen 0
  P <- cbind(1, exp(eta)) / rowSums(cbind(1, exp(eta)))
  expect_equal(unname(fitted(fit)), unname(P), tolerance = 1e-12)  # seen 1e-16
  nd <- data.frame(x = c(-1.5, 0, 2))
  eta0 <- cbind(1, nd$x) %*% B
  Lambda <- re_groups_lambda(fit)
  pm <- predict(fit, nd, type = "response", marginal = TRUE, nquad = 30)
  expect_equal(unname(pm), marginal_brute2(eta0, Lambda, K = 40), tolerance = 1e-9)  # seen 1e-11
  expect_equal(rowSums(pm), c(1, 1, 1), tolerance = 1e-12, ignore_attr = TRUE)
  # the link SE of the fixed part: sqrt(x' V x) per category
  s <- predict(fit, nd, type = "link", re.form = NA, se.fit = TRUE)
  V <- vcov(fit)[1:2, 1:2]
  x0 <- cbind(1, nd$x)
  expect_equal(unname(s$se.fit[, 1]), sqrt(rowSums((x0 %*% V) * x0)),
               tolerance = 1e-6)  # seen 3e-11
  ps <- predict(fit, nd, type = "response", marginal = TRUE, se.fit = TRUE)
  expect_true(all(ps$se.fit > 0 & ps$se.fit < 0.2))
  # simulated categories average to the marginal probabilities
  sims <- simulate(fit, nsim = 300, seed = 1)
  freq <- colMeans(t(vapply(sims, function(s) tabulate(s, 3) / nrow(d), numeric(3))))
  pm_all <- colMeans(predict(fit, type = "response", marginal = TRUE))
  expect_equal(freq, pm_all, tolerance = 0.03, ignore_attr = TRUE)  # seen 0.003
})

test_that("summary groups the coefficients by category with relative-risk ratios", {
  d <- sim_multinomial(11, J = 20, m = 8, C = 3)
  fit <- glamm(y ~ x + (1 | g), data = d, family = multinomial(random = "shared"), nAGQ = 9)
  s <- summary(fit, exp = TRUE)
  expect_named(s$coefficients, c("b", "c"))
  tb <- s$coefficients$b
  expect_equal(tb[, "RRR"], exp(fit$coefficients[c("b:(Intercept)", "b:x")]),
               ignore_attr = TRUE, tolerance = 1e-14)
  se <- sqrt(diag(vcov(fit)))[c("b:(Intercept)", "b:x")]
  expect_equal(tb[, "lower 2.5%"], exp(fit$coefficients[c("b:(Intercept)", "b:x")] -
                                         stats::qnorm(0.975) * se),
               ignore_attr = TRUE, tolerance = 1e-12)
  expect_output(print(s), "Category c vs a")
  expect_equal(dim(VarCorr(fit)$g), c(1, 1))
})

test_that("bad input gets clear errors", {
  d <- sim_multinomial(12, J = 10, m = 5, C = 3)
  d1 <- d
  d1$y <- factor("a")
  expect_error(glamm(y ~ x + (1 | g), data = d1, family = multinomial()), "single category")
  expect_error(glamm(y ~ x + (1 | g), data = d, family = multinomial(baseline = "z")),
               "baseline 'z' is not a category")
  d2 <- d
  d2$y <- as.numeric(d$y)
  expect_error(glamm(y ~ x + (1 | g), data = d2, family = multinomial()), "factor")
  d3 <- d
  d3$y <- factor(d$y, ordered = TRUE)
  expect_warning(glamm(y ~ x + (1 | g), data = d3, family = multinomial(), nAGQ = 3),
                 "ordered factor")
  expect_error(multinomial(baseline = 1), "one level")
  expect_error(multinomial(random = "diag"), "should be one of")
  d$item <- factor(rep(1:5, 10))
  expect_error(suppressMessages(glamm(y ~ x + (1 | g) + (1 | item), data = d,
                                      family = multinomial())), "crossed")
  expect_error(glamm(y ~ x + (1 | g), data = d, family = multinomial(), pweights = list(g = ~ x)),
               "survey weights")
  fit <- glamm(y ~ x + (1 | g), data = d, family = multinomial(), nAGQ = 3)
  expect_error(predict(fit, type = "link", marginal = TRUE), "type = \"response\"")
  expect_error(icc(fit), "one latent response per category")
  expect_error(residuals(fit), "not available for multinomial")
  expect_error(glamm.fit(as.numeric(d$y == "b"), cbind(1, d$x), Z = matrix(1, nrow(d)),
                         group = d$g, family = multinomial()), "through glamm\\(\\)")
})

test_that("prior weights count observations, and nested levels fit", {
  d <- sim_multinomial(13, J = 40, m = 8, C = 3)
  w <- rep(1:2, length.out = nrow(d))
  fw <- glamm(y ~ x + (1 | g), data = d, family = multinomial(), weights = w, nAGQ = 5)
  fr <- glamm(y ~ x + (1 | g), data = d[rep(seq_len(nrow(d)), w), ], family = multinomial(),
              nAGQ = 5)
  expect_equal(as.numeric(logLik(fw)), as.numeric(logLik(fr)), tolerance = 1e-8)  # seen 0
  expect_equal(fw$coefficients, fr$coefficients, tolerance = 1e-6)  # seen 3e-13
  f3 <- glamm(y ~ x + (1 | h/g), data = d, family = multinomial(), nAGQ = 3)
  one <- matrix(1, nrow(d))
  obj <- multinomial_objective(d$y, cbind(1, d$x),
                               list(list(Z = one, group = interaction(d$g, d$h), name = "g:h"),
                                    list(Z = one, group = d$h, name = "h")), 3)
  v <- obj$loglik(unname(c(f3$coefficients, f3$theta)), gradient = TRUE)
  expect_equal(as.numeric(v), as.numeric(logLik(f3)), tolerance = 1e-10)  # seen 0
  expect_lt(max(abs(attr(v, "gradient"))), 1e-3)  # seen 1.2e-8
  expect_equal(unname(rowSums(predict(f3, type = "response", marginal = TRUE))), rep(1, nrow(d)),
               tolerance = 1e-12)
})
