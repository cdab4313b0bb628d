# Factor loadings (IRT models, latent regression) against independent
# references: lme4 for the Rasch model, brute-force integration and a
# person-by-person Laplace in helper-latent.R for the 2PL, finite differences
# for the gradients.

irt_fit <- function(d, nAGQ, lambda = c(1, rep(NA, nlevels(d$item) - 1)), formula = NULL,
                    family = binomial, ...) {
  formula <- formula %||% (y ~ 0 + item + (0 + ability | person))
  glamm(formula, data = d, family = family, nAGQ = nAGQ, factor = "ability",
        load.var = "item", lambda = lambda, ...)
}

test_that("all loadings fixed at 1 is the plain GLMM", {
  d <- sim_2pl(1)
  fit <- irt_fit(d, 11, lambda = rep(1, 6))
  plain <- glamm(y ~ 0 + item + (1 | person), data = d, family = binomial, nAGQ = 11)
  # the same objective at the same parameters
  expect_equal(loglik_function(fit)(plain$par), as.numeric(logLik(plain)),
               tolerance = 1e-12)  # seen 2e-16 (relative)
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(plain)), tolerance = 1e-10)  # seen 2e-16
  expect_equal(unname(fit$coefficients), unname(plain$coefficients), tolerance = 1e-5)  # seen 4e-16
})

test_that("a Rasch model equals glmer at the same number of quadrature points", {
  skip_if_not_installed("lme4")
  d <- sim_2pl(2)
  tight <- lme4::glmerControl(optimizer = "bobyqa", tolPwrss = 1e-10,
                              optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
  for (K in c(1, 9)) {
    fit <- irt_fit(d, K, lambda = rep(1, 6))
    ref <- lme4::glmer(y ~ 0 + item + (1 | person), data = d, family = binomial, nAGQ = K,
                       control = tight)
    # the same function: glamm's objective at glmer's estimates is glmer's logLik
    at_ref <- c(lme4::fixef(ref), lme4::getME(ref, "theta"))
    # (relative; glmer's Laplace value carries its PIRLS tolerance)
    expect_equal(as.numeric(loglik_function(fit)(at_ref)), as.numeric(logLik(ref)),
                 tolerance = 1e-8)  # seen 6e-10 (K = 1), 8e-14 (K = 9)
    expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(ref)), tolerance = 1e-8)  # seen 6e-10
    expect_equal(unname(fit$coefficients), unname(lme4::fixef(ref)), tolerance = 1e-4)  # seen 8e-7
    expect_equal(fit$theta, unname(lme4::getME(ref, "theta")), tolerance = 1e-4)  # seen 1e-7
  }
})

test_that("a 2PL by adaptive quadrature equals brute-force integration", {
  d <- sim_2pl(3)
  fit <- irt_fit(d, 15)
  J <- 6
  at_glamm <- irt_from_glamm(fit$par, J)
  brute <- irt_loglik_brute(at_glamm, d)
  # at glamm's optimum: 15-point AGHQ is off by its quadrature error (the
  # largest discrimination is 2.9); 51 points reach the brute-force value
  expect_lt(abs(as.numeric(logLik(fit)) - brute), 2e-5)  # seen 6.2e-6
  expect_lt(abs(as.numeric(loglik_function(fit, nAGQ = 51)(fit$par)) - brute), 1e-8)  # seen 1.5e-9
  # the helper's own optimum: the same log-likelihood (to the quadrature
  # error) and loadings (to optim's accuracy)
  ref <- stats::optim(at_glamm + 0.05, function(p) -irt_loglik_brute(p, d, G = 801),
                      method = "BFGS", control = list(reltol = 1e-14, maxit = 500))
  expect_lt(abs(-ref$value - as.numeric(logLik(fit))), 2e-5)  # seen 6.5e-6
  expect_equal(ref$par, at_glamm, tolerance = 1e-3)  # seen 6e-5 (max relative)
  expect_equal(unname(stats::loadings(fit)[, 1]), c(1, at_glamm[J + 1:(J - 1)]))
})

test_that("a Laplace 2PL equals a person-by-person Laplace", {
  d <- sim_2pl(4)
  fit <- irt_fit(d, 1)
  at_glamm <- irt_from_glamm(fit$par, 6)
  expect_equal(as.numeric(logLik(fit)), irt_loglik_laplace(at_glamm, d), tolerance = 1e-10)  # seen 2e-15
  ref <- stats::optim(at_glamm + 0.05, function(p) -irt_loglik_laplace(p, d),
                      method = "BFGS", control = list(reltol = 1e-14, maxit = 500))
  expect_equal(-ref$value, as.numeric(logLik(fit)), tolerance = 1e-8)  # seen 8e-15
  expect_equal(ref$par, at_glamm, tolerance = 1e-3)  # seen 8e-7
})

test_that("the latent regression equals brute-force integration", {
  d <- sim_2pl(5, gamma = 0.7)
  fit <- irt_fit(d, 15, formula = y ~ 0 + item + x:ability + (0 + ability | person))
  at_glamm <- irt_from_glamm(fit$par, 6, regression = TRUE)
  # (relative: 15-point AGHQ's quadrature error)
  expect_equal(as.numeric(logLik(fit)), irt_loglik_brute(at_glamm, d, regression = TRUE),
               tolerance = 2e-9)  # seen 3.7e-10
  grad <- attr(loglik_function(fit)(fit$par, gradient = TRUE), "gradient")
  expect_lt(max(abs(grad)), 1e-3)  # seen 3e-8: a maximum
  expect_equal(unname(fit$coefficients["x:ability"]), 0.7, tolerance = 0.3)  # the simulated value
})

fd_check <- function(fit, par = fit$par + 0.03) {
  f <- loglik_function(fit)
  analytic <- attr(f(par, gradient = TRUE), "gradient")
  numeric <- central_diff(function(p) as.numeric(f(p)), par, h = 1e-5)
  max_rel_err(analytic, numeric)
}

test_that("the gradients of loadings, latent regression and variances equal finite differences", {
  d <- sim_2pl(6, n_person = 60, gamma = 0.5)
  fml <- y ~ 0 + item + x:ability + (0 + ability | person)
  expect_lt(fd_check(irt_fit(d, 7, formula = fml)), 1e-6)  # seen 1.6e-9
  expect_lt(fd_check(irt_fit(d, 1, formula = fml)), 1e-6)  # seen 4e-8 (Laplace)
  # a factor at two levels, one loading vector (persons in schools)
  d$school <- factor((as.integer(d$person) - 1) %/% 6)
  fit3 <- irt_fit(d, 5, formula = y ~ 0 + item + x:ability + (0 + ability | person) +
                    (0 + ability | school))
  expect_lt(fd_check(fit3), 1e-6)  # seen 2.6e-9
  # crossed: persons crossed with raters (the sparse Laplace)
  set.seed(1)
  d$rater <- factor(sample(1:8, nrow(d), replace = TRUE))
  fitc <- suppressWarnings(irt_fit(d, 1, formula = y ~ 0 + item + (0 + ability | person) +
                                     (1 | rater)))
  expect_lt(fd_check(fitc), 1e-6)  # seen 3.7e-7 (central differences' own error)
})

test_that("identification and argument errors name the cause", {
  d <- sim_2pl(7, n_person = 30)
  expect_error(irt_fit(d, 5, lambda = rep(NA, 6)), "no fixed non-zero loading")
  expect_error(irt_fit(d, 5, lambda = c(1, NA)), "'lambda' has 2 row\\(s\\) but 'item' has 6")
  expect_error(glamm(y ~ 0 + item + (1 | person), data = d, family = binomial,
                     factor = "ability", load.var = "item", lambda = c(1, rep(NA, 5))),
               "factor 'ability' is not in a random-effect term")
  expect_error(irt_fit(d, 5, lambda = cbind(c(1, rep(NA, 5)), 1)), "one column per factor")
  expect_error(glamm(y ~ 0 + item + (0 + ability | person), data = d, family = binomial,
                     factor = "ability", load.var = "question", lambda = c(1, rep(NA, 5))),
               "'load.var' \\(\"question\"\\) is not a variable of 'data'")
  expect_error(irt_fit(d, 5, family = list(binomial, gaussian)),
               "list of families needs 'family_mapping'")
  d$ability <- 1
  expect_error(irt_fit(d, 5), "is a column of 'data'")
})

test_that("methods: predict, ranef on the factor scale, anova, IRT parametrization", {
  d <- sim_2pl(8, gamma = 0.5)
  fml <- y ~ 0 + item + x:ability + (0 + ability | person)
  fit <- irt_fit(d, 15, formula = fml)
  rasch <- irt_fit(d, 15, formula = fml, lambda = rep(1, 6))
  # new data go through the same loadings as the fit's own rows
  expect_equal(unname(predict(fit, newdata = d)), predict(fit), tolerance = 1e-12)  # seen 0
  expect_equal(unname(predict(fit, newdata = d, re.form = NA)), predict(fit, re.form = NA),
               tolerance = 1e-12)  # seen 0
  # fitted = plogis(beta_j + lambda_j (gamma x + b_p)) with the EB b_p
  p <- irt_unpack(irt_from_glamm(fit$par, 6, TRUE), 6, TRUE)
  eb <- ranef(fit, condVar = TRUE)$person
  j <- as.integer(d$item)
  eta <- p$beta[j] + p$lambda[j] * (p$gamma * d$x + eb$ability[as.integer(d$person)])
  expect_equal(unname(predict(fit)), eta, tolerance = 1e-12)  # seen 1e-16
  # the EB mean and SD of person 1's random effect (on the factor's scale:
  # b = sigma u) by brute-force integration over u
  rows <- d$person == "1"
  u <- seq(-10, 10, length.out = 20001)
  lf <- vapply(u, function(v) sum(irt_logf(d$y[rows], p$beta[j[rows]] + p$lambda[j[rows]] *
                                               (p$gamma * d$x[rows] + p$sigma * v))), 0) +
    stats::dnorm(u, log = TRUE)
  w <- exp(lf - max(lf))
  w <- w / sum(w)
  m <- sum(w * p$sigma * u)
  expect_equal(eb$ability[1], m, tolerance = 1e-5)  # seen 5e-6 (15-point AGHQ)
  expect_equal(sqrt(attr(eb, "postVar")[1, 1, 1]), sqrt(sum(w * (p$sigma * u)^2) - m^2),
               tolerance = 1e-4)  # seen 2e-6
  # 1PL against 2PL: a likelihood-ratio test with 5 degrees of freedom
  a <- anova(rasch, fit)
  expect_equal(a$Df[2], 5)
  expect_equal(a$Chisq[2], 2 * (as.numeric(logLik(fit)) - as.numeric(logLik(rasch))),
               tolerance = 1e-12)
  # the Rasch model's loading 1 of item 2 is not a special case of one fixed at 2
  expect_error(anova(rasch, irt_fit(d, 15, formula = fml, lambda = c(1, 2, NA, NA, NA, NA))),
               "not nested.*loading of i2")
  # a = lambda sigma, b = -beta / a, with delta-method SEs
  irt <- irt_parameters(fit)
  expect_equal(irt$discrimination, p$lambda * p$sigma, tolerance = 1e-12)
  expect_equal(irt$difficulty, -p$beta / (p$lambda * p$sigma), tolerance = 1e-12)
  se_a1 <- sqrt(vcov(fit, full = TRUE)["theta1", "theta1"])
  expect_equal(irt$discrimination.se[1], se_a1, tolerance = 1e-6)  # a_1 = sigma: seen 1e-9
  expect_true(all(irt$difficulty.se > 0))
  expect_output(print(summary(fit, irt = TRUE)), "Factor loadings")
  expect_error(confint(fit, method = "boot", nsim = 2), "not available for fits with factor loadings")
})

test_that("loadings running off under Laplace are reported, quadrature fits them", {
  # three binary items per person: Laplace has no interior maximum (the SD
  # runs to 46 and the loadings to 0), 15-point AGHQ has one
  d <- sim_2pl(4, n_person = 60, n_item = 3, sigma = 1)
  expect_warning(irt_fit(d, 1), "Laplace approximation has no interior maximum.*nAGQ > 1")
  fit <- expect_silent(irt_fit(d, 15))
  expect_lt(fit$theta * max(stats::loadings(fit)), 5)  # seen 2.2
})

test_that("two correlated factors (items 1-3 and 4-6) and the matrix interface", {
  d <- sim_2factor(9)
  lambda <- cbind(verbal = c(1, NA, NA, 0, 0, 0), math = c(0, 0, 0, 1, NA, NA))
  fit <- glamm(y ~ 0 + item + (0 + verbal + math | person), data = d, family = binomial,
               nAGQ = 5, factor = c("verbal", "math"), load.var = "item", lambda = lambda)
  expect_equal(dim(stats::loadings(fit)), c(6L, 2L))
  expect_equal(unname(stats::loadings(fit)[4:6, "verbal"]), c(0, 0, 0))
  expect_lt(fd_check(fit), 1e-6)  # seen 2e-8
  # the same model from matrices
  X <- stats::model.matrix(~ 0 + item, d)
  Z <- cbind(verbal = rep(1, nrow(d)), math = 1)
  fit_m <- glamm.fit(d$y, X, family = binomial(), nAGQ = 5,
                     re = list(person = list(Z = Z, group = d$person)),
                     loadings = list(factor = c("verbal", "math"), level = d$item,
                                     lambda = lambda))
  expect_equal(as.numeric(logLik(fit_m)), as.numeric(logLik(fit)), tolerance = 1e-8)  # seen 0
})
