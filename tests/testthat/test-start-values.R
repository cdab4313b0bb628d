# Start values (R/start-values.R, R/latent-start.R): the GLM start by IRLS on
# the normal equations against glm.fit(), the group sums against rowsum(),
# and the moment start of the loadings against the maximum it leads to.

test_that("the IRLS start equals glm.fit() where the design has full rank", {
  set.seed(11)
  n <- 2000
  X <- cbind(1, x1 = stats::rnorm(n), x2 = stats::rbinom(n, 1, 0.3))
  eta <- drop(X %*% c(-0.3, 0.8, -0.5))
  offset <- stats::runif(n, -0.2, 0.2)
  cases <- list(
    list(y = stats::rbinom(n, 1, stats::plogis(eta + offset)), w = rep(1, n), f = binomial()),
    list(y = stats::rpois(n, exp(eta + offset)), w = rep(1, n), f = poisson()),
    list(y = eta + offset + stats::rnorm(n), w = stats::runif(n, 0.5, 2), f = gaussian()),
    list(y = stats::rbinom(n, 1, stats::pnorm(eta + offset)), w = rep(1, n),
         f = binomial("probit"))
  )
  for (case in cases) {
    ours <- glamm:::irls_start(X, case$y, case$w, offset, case$f)
    ref <- glm.fit(X, case$y, weights = case$w, offset = offset, family = case$f)
    # observed at most 6e-15 in the coefficients and 5e-13 in the residuals
    expect_equal(unname(ours$coefficients), unname(ref$coefficients), tolerance = 1e-6)
    expect_equal(ours$residuals, unname(ref$residuals), tolerance = 1e-6)
  }
})

test_that("the IRLS start gives way to glm.fit() on collinear columns", {
  X <- cbind(1, a = rep(0:1, 50), b = rep(0:1, 50))
  expect_null(glamm:::irls_start(X, rep(0:1, each = 50), rep(1, 100), rep(0, 100), binomial()))
})

test_that("group sums equal rowsum(), with empty groups 0", {
  set.seed(3)
  v <- stats::rnorm(500)
  g <- sample(c(1:7, 9L), 500, replace = TRUE)
  ref <- numeric(10)
  s <- rowsum(v, g)
  ref[as.integer(rownames(s))] <- s
  expect_equal(glamm:::cpp_group_sums(v, g, 10L), ref, tolerance = 1e-14)
  expect_error(glamm:::cpp_group_sums(v, g, 8L), "out of range")
})

test_that("the moment start of a 2PL lies near its maximum and above the unit start", {
  d <- sim_2pl(21, n_person = 600, n_item = 8, sigma = 1)
  fit <- glamm(y ~ 0 + item + (0 + ability | person), data = d, family = binomial,
               nAGQ = 11, factor = "ability", load.var = "item", lambda = c(1, rep(NA, 7)))
  X <- stats::model.matrix(~ 0 + item, d)
  levels <- list(list(Z = matrix(1, nrow(d), 1, dimnames = list(NULL, "ability")),
                      group = d$person, pattern = matrix(TRUE)))
  resp <- glamm:::prepare_response(d$y, binomial())
  map <- glamm:::latent_map(list(factor = "ability", load.var = "item",
                                 lambda = matrix(c(1, rep(NA, 7)), dimnames = list(NULL, "ability"))),
                            d$item, X, levels)
  par0 <- glamm:::start_values(resp, X, levels, NULL, binomial(), NULL, NULL)
  moment <- glamm:::latent_start(par0, map, resp, X, levels, NULL, binomial())
  unit <- c(par0, rep(1, 7))
  # the loadings and the SD within 30% of the maximum (observed at most 6.4%); its
  # log-likelihood -3018.7 against -3089.3 at unit loadings and -3018.1 at the maximum
  at <- 9:16
  expect_lt(max(abs(moment[at] / fit$par[at] - 1)), 0.3)
  ll <- glamm::loglik_function(fit)
  expect_gt(as.numeric(ll(moment)), as.numeric(ll(unit)))
  # and the fit from it ends at a stationary point (observed max |gradient| 1.7e-6)
  expect_lt(max(abs(fit$optinfo$gradient)), 1e-4)
})
