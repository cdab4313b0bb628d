# The observed information by Louis' identity at the adapted nodes
# (src/cluster_hessian.cpp), against central differences of the exact
# gradient of a 41-point quadrature (the information of the exact
# likelihood to about 1e-8; glamm's own fallback) and against Louis' identity
# on a brute-force grid in plain R (helper-latent.R).

louis_and_differences <- function(fit, points = 31) {
  objective <- glamm:::fit_objective(fit)
  list(louis = objective$hessian(fit$par, points),
       differences = glamm:::loglik_hessian(glamm:::fit_objective(fit, 41), fit$par))
}

relative_gap <- function(a, b) max(abs(a - b)) / max(abs(b))

test_that("a random intercept's information equals differences of the gradient", {
  set.seed(11)
  g <- rep(1:150, each = 6)
  d <- data.frame(g = factor(g), x = rnorm(900), w = rnorm(150)[g])
  d$y <- rbinom(900, 1, plogis(-0.4 + 0.7 * d$x + 0.4 * d$w + rnorm(150, 0, 1.1)[g]))
  fit <- glamm(y ~ x + w + (1 | g), data = d, family = binomial, nAGQ = 9)
  objective <- glamm:::fit_objective(fit)
  # at the fit's 9 points Louis' identity leaves out the nodes' movement
  differences <- glamm:::loglik_hessian(objective, fit$par)
  expect_lt(relative_gap(objective$hessian(fit$par, 9), differences), 1e-3)  # observed 1.2e-4
  # at 31 points both are the information of the exact likelihood (41-point differences)
  truth <- glamm:::loglik_hessian(glamm:::fit_objective(fit, 41), fit$par)
  expect_lt(relative_gap(objective$hessian(fit$par, 31), truth), 1e-6)  # observed 1.3e-9
  # with 4 parameters the fit keeps the differences of its own quadrature
  expect_equal(unname(fit$hessian), differences, tolerance = 1e-8)
  expect_lt(relative_gap(differences, truth), 1e-4)  # observed 7e-6 (9 points)
  expect_equal(unname(fit$vcov_par), unname(solve(-fit$hessian)), tolerance = 1e-12)  # 4e-16
})

test_that("correlated random slopes (Poisson) give the information of the likelihood", {
  set.seed(12)
  g <- rep(1:120, each = 8)
  x <- rnorm(960)
  u <- matrix(rnorm(240), 120) %*% chol(matrix(c(0.5, 0.1, 0.1, 0.2), 2))
  d <- data.frame(g = factor(g), x = x,
                  y = rpois(960, exp(0.3 + 0.4 * x + u[g, 1] + u[g, 2] * x)))
  fit <- glamm(y ~ x + (1 + x | g), data = d, family = poisson, nAGQ = 7)
  objective <- glamm:::fit_objective(fit)
  truth <- glamm:::loglik_hessian(glamm:::fit_objective(fit, 41), fit$par)
  # Louis' identity converges to it as the points grow (3.8e-3 at 7, 9.5e-4
  # at 9 points were observed)
  gaps <- vapply(c(7, 9, 15), function(K) relative_gap(objective$hessian(fit$par, K), truth), 0)
  expect_true(all(diff(gaps) < 0))
  expect_lt(gaps[3], 1e-5)  # observed 4e-6
  # with 6 parameters the fit keeps the differences of its own quadrature
  expect_equal(unname(fit$hessian), glamm:::loglik_hessian(objective, fit$par), tolerance = 1e-8)
  expect_lt(relative_gap(fit$hessian, truth), 1e-4)  # observed 1e-5
})

test_that("a 2PL's information equals Louis' identity on a brute-force grid", {
  d <- sim_2pl(3, n_person = 200)
  fit <- glamm(y ~ 0 + item + (0 + ability | person), data = d, family = binomial, nAGQ = 15,
               factor = "ability", load.var = "item", lambda = c(1, rep(NA, 5)))
  brute <- irt_hessian_brute(fit$par, d)
  objective <- glamm:::fit_objective(fit)
  expect_lt(relative_gap(objective$hessian(fit$par, 31), brute), 1e-6)  # observed 1.1e-9
  # the reported Hessian is that information
  expect_lt(relative_gap(fit$hessian, brute), 1e-6)
})

test_that("a latent regression and two factors have the curvature of their loadings", {
  d <- sim_2pl(4, n_person = 200, gamma = 0.7)
  fit <- glamm(y ~ 0 + item + x:ability + (0 + ability | person), data = d, family = binomial,
               nAGQ = 15, factor = "ability", load.var = "item", lambda = c(1, rep(NA, 5)))
  h <- louis_and_differences(fit)
  expect_lt(relative_gap(h$louis, h$differences), 1e-6)  # observed 1.5e-7 (3.7e-6 at 21 points)
  d2 <- sim_2factor(5)
  lambda <- matrix(c(1, NA, NA, 0, 0, 0, 0, 0, 0, 1, NA, NA), 6)
  fit2 <- glamm(y ~ 0 + item + (0 + f1 + f2 | person), data = d2, family = binomial, nAGQ = 7,
                factor = c("f1", "f2"), load.var = "item", lambda = lambda)
  h2 <- louis_and_differences(fit2, 15)
  expect_lt(relative_gap(h2$louis, h2$differences), 1e-5)  # observed 1.2e-6 (1.4e-3 at 7 points)
})

test_that("the information does not depend on the number of threads", {
  d <- sim_2pl(6, n_person = 300)
  fit <- function(threads) {
    glamm(y ~ 0 + item + (0 + ability | person), data = d, family = binomial, nAGQ = 9,
          factor = "ability", load.var = "item", lambda = c(1, rep(NA, 5)),
          control = glamm_control(nthreads = threads))
  }
  one <- fit(1)
  two <- fit(2)
  expect_identical(one$hessian, two$hessian)
  expect_identical(one$par, two$par)
})

test_that("Laplace and few points keep the differences of the gradient", {
  d <- sim_2pl(7)
  laplace <- glamm:::fit_objective(glamm(y ~ 0 + item + (1 | person), data = d,
                                         family = binomial, nAGQ = 1))
  expect_null(laplace$hessian)
  three <- glamm:::fit_objective(glamm(y ~ 0 + item + (1 | person), data = d,
                                       family = binomial, nAGQ = 3))
  expect_null(three$hessian)
})
