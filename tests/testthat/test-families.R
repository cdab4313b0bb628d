# The Gamma (log, inverse, identity links) and nbinom2 families: exact
# gradients (finite differences), AGHQ against integrate() for the whole
# log-likelihood with its constants, Laplace fits against glmmTMB, input
# checks and the methods that depend on the family.

gamma_families <- list(Gamma("log"), Gamma("inverse"), Gamma("identity"))
all_families <- c(gamma_families, list(nbinom2()))

# Parameters away from the optimum: beta, theta (lower triangle of Lambda),
# psi (log shape for Gamma, log theta for nbinom2).
family_par <- function(family, q) {
  beta <- switch(family$link, log = c(0.9, 0.35), inverse = c(1.9, 0.12), identity = c(7.8, 1.1))
  lambda <- switch(family$link, inverse = c(0.3, 0.02, 0.1), identity = c(1.3, 0.2, 0.6),
                   c(0.5, 0.1, 0.25))
  psi <- if (family$family == "Gamma") log(2) else log(1.4)
  c(beta, if (q == 1) lambda[1] else lambda, psi)
}

family_gradient_error <- function(family, q, K, weights = FALSE, offset = FALSE,
                                  use_tree = FALSE) {
  d <- family_data(10 * q + K, family, q = q)
  X <- cbind("(Intercept)" = 1, x = d$x)
  w <- if (weights) rep(c(1, 2, 0.5, 0), length.out = nrow(d)) else NULL
  off <- if (offset) rep(c(0, 0.1, -0.05), length.out = nrow(d)) else NULL
  obj <- objective_for(d$y, X, X[, seq_len(q), drop = FALSE], d$g, family, K, weights = w,
                       offset = off, use_tree = use_tree)
  par <- family_par(family, q)
  v <- obj$loglik(par, gradient = TRUE)
  fd <- central_diff(function(p) as.numeric(obj$loglik(p)), par)
  c(err = max_rel_err(attr(v, "gradient"), fd), size = max(abs(fd)))
}

test_that("gradient = finite differences: Gamma (3 links) and nbinom2, q = 1, 2, K = 1, 5", {
  for (family in all_families) for (q in 1:2) for (K in c(1, 5)) {
    r <- family_gradient_error(family, q, K)
    expect_gt(r[["size"]], 1e-2)  # away from the optimum
    expect_lt(r[["err"]], 1e-6)   # seen <= 3.2e-8
  }
})

test_that("gradient = finite differences with weights, offset and the nested integrator", {
  for (family in all_families) {
    expect_lt(family_gradient_error(family, 1, 5, weights = TRUE, offset = TRUE)[["err"]],
              1e-6)  # seen <= 1.1e-9
    expect_lt(family_gradient_error(family, 2, 3, use_tree = TRUE)[["err"]],
              1e-6)  # seen <= 4.5e-9
  }
})

test_that("gradient = finite differences: two nested levels (school/class), Gamma and nbinom2", {
  for (family in list(Gamma("log"), nbinom2())) {
    d <- family_data(7, family, J = 40, m = 5)
    school <- factor((as.integer(d$g) - 1) %/% 4)
    X <- cbind("(Intercept)" = 1, x = d$x)
    one <- X[, 1, drop = FALSE]
    obj <- objective_nested(d$y, X, list(class = list(Z = one, group = d$g),
                                         school = list(Z = one, group = school)), family, 4)
    par <- c(0.9, 0.35, 0.4, 0.3, if (family$family == "Gamma") log(2) else log(1.4))
    v <- obj$loglik(par, gradient = TRUE)
    fd <- central_diff(function(p) as.numeric(obj$loglik(p)), par)
    expect_lt(max_rel_err(attr(v, "gradient"), fd), 1e-6)  # seen <= 1.6e-9
  }
})

test_that("AGHQ equals integrate() of the full likelihood (constants included, weights too)", {
  for (family in all_families) for (weighted in c(FALSE, TRUE)) {
    d <- family_data(3, family, J = 6, m = 5)
    X <- cbind("(Intercept)" = 1, x = d$x)
    w <- if (weighted) rep(c(1, 3, 0.5, 0, 2), length.out = nrow(d)) else rep(1, nrow(d))
    par <- family_par(family, 1)
    # The identity link's integrand vanishes only as mu -> 0 (eta -> 0), a
    # singular point in the lower tail: AGHQ converges more slowly there
    # (weighted: 2.7e-6 at K = 25, 5.0e-7 at 51, 4.0e-8 at 101).
    K <- if (family$link == "identity") 101 else 25
    obj <- objective_for(d$y, X, X[, 1, drop = FALSE], d$g, family, K,
                         weights = if (weighted) w)
    eta <- drop(X %*% par[1:2])
    disp <- if (family$family == "Gamma") exp(-par[4] / 2) else exp(par[4])
    ref <- loglik_integrate(family, d$y, eta, d$g, par[3], disp, w)
    # seen: |difference| <= 4.0e-8 (identity, weighted), <= 1.3e-13 for the others
    expect_equal(as.numeric(obj$loglik(par)), ref, tolerance = 1e-9)
  }
})

# glmmTMB's Laplace fit: logLik, fixed effects, random-effect SDs, sigma
# (glmmTMB's sigma(): 1/sqrt(shape) for Gamma, theta for nbinom2) and the SEs
# of the fixed effects and of the dispersion parameter (log shape, log theta
# in both packages), all relative differences but the logLik's.
compare_glmmtmb <- function(family, q, seed = 1) {
  d <- family_data(seed, family, J = 40, m = 8, q = q)
  form <- if (q == 1) y ~ x + (1 | g) else y ~ x + (x | g)
  fit <- glamm(form, data = d, family = family, nAGQ = 1)
  # glmmTMB starts at beta = 0, where an inverse link has mu = Inf: start it at the GLM.
  start <- list(beta = unname(coef(glm(y ~ x, data = d, family = if (family$family == "Gamma")
    family else poisson()))))
  tmb <- glmmTMB::glmmTMB(form, data = d, family = family, start = start)
  sd_tmb <- attr(glmmTMB::VarCorr(tmb)$cond$g, "stddev")
  sd_glamm <- sqrt(diag(fit$Sigma))
  n_par <- length(fit$par)
  v_tmb <- vcov(tmb, full = TRUE)
  disp <- grep("^d(isp)?~", colnames(v_tmb))
  c(loglik = fit$loglik - as.numeric(logLik(tmb)),
    beta = max(abs(fit$coefficients - glmmTMB::fixef(tmb)$cond) / abs(glmmTMB::fixef(tmb)$cond)),
    sd = max(abs(sd_glamm - sd_tmb) / sd_tmb),
    sigma = abs(fit$sigma - sigma(tmb)) / sigma(tmb),
    se = max(abs(sqrt(diag(vcov(fit))) / sqrt(diag(vcov(tmb)$cond)) - 1)),
    se_disp = abs(sqrt(vcov(fit, full = TRUE)[n_par, n_par]) / sqrt(v_tmb[disp, disp]) - 1))
}

test_that("Laplace fits equal glmmTMB: Gamma (log, inverse, identity) and nbinom2", {
  skip_if_not_installed("glmmTMB")
  for (family in all_families) {
    r <- compare_glmmtmb(family, 1, seed = 2)
    expect_lt(abs(r[["loglik"]]), 1e-4)  # seen <= 1.4e-8 (Gamma log)
    expect_lt(max(r[-1]), 1e-3)          # relative; seen <= 3.3e-5 (Gamma log, SE)
  }
  for (family in list(Gamma("log"), nbinom2())) {  # random slope: q = 2
    r <- compare_glmmtmb(family, 2, seed = 4)
    expect_lt(abs(r[["loglik"]]), 1e-4)  # seen <= 2.1e-9
    expect_lt(max(r[-1]), 1e-3)          # relative; seen <= 9.2e-6
  }
})

test_that("bad responses give clear errors", {
  d <- family_data(5, Gamma("log"), J = 10, m = 4)
  bad <- d
  bad$y[3] <- 0
  expect_error(glamm(y ~ x + (1 | g), data = bad, family = Gamma(link = "log")),
               "Gamma response must be positive")
  bad$y[3] <- -1
  expect_error(glamm(y ~ x + (1 | g), data = bad, family = Gamma), "must be positive")
  expect_error(glamm(y ~ x + (1 | g), data = d, family = Gamma(link = "sqrt")),
               "link 'sqrt' is not supported for the Gamma family")
  bad <- family_data(5, nbinom2(), J = 10, m = 4)
  bad$y[2] <- 1.5
  expect_error(glamm(y ~ x + (1 | g), data = bad, family = nbinom2()),
               "nbinom2 response must hold whole numbers")
  bad$y[2] <- -1
  expect_error(glamm(y ~ x + (1 | g), data = bad, family = nbinom2()),
               "nbinom2 response has negative counts")
  bad$y <- 0
  expect_error(glamm(y ~ x + (1 | g), data = bad, family = nbinom2()), "all counts 0")
  expect_error(nbinom2("sqrt"), "should be")
  expect_error(glamm(y ~ x + (1 | g), data = d, family = Gamma, method = "PQL"),
               "PQL is for binomial and poisson")
})

test_that("nbinom2() is a family object; glmmTMB's nbinom2 is accepted too", {
  f <- nbinom2()
  expect_s3_class(f, "family")
  expect_identical(c(f$family, f$link), c("nbinom2", "log"))
  skip_if_not_installed("glmmTMB")
  d <- family_data(6, nbinom2(), J = 20, m = 6)
  a <- glamm(y ~ x + (1 | g), data = d, family = nbinom2(), nAGQ = 3)
  b <- glamm(y ~ x + (1 | g), data = d, family = glmmTMB::nbinom2(), nAGQ = 3)
  expect_equal(a$loglik, b$loglik)
})

test_that("methods: sigma, summary, residuals, fitted, simulate, predict, ranef, icc", {
  dg <- family_data(2, Gamma("log"), J = 40, m = 8)
  fg <- glamm(y ~ x + (1 | g), data = dg, family = Gamma(link = "log"), nAGQ = 7)
  dn <- family_data(2, nbinom2(), J = 40, m = 8)
  fn <- glamm(y ~ x + (1 | g), data = dn, family = nbinom2(), nAGQ = 7)
  expect_equal(sigma(fg), exp(-fg$par[["log(shape)"]] / 2))
  expect_equal(sigma(fn), exp(fn$par[["log(theta)"]]))
  expect_output(print(summary(fg)), "coefficient of variation")
  expect_output(print(fn), "theta")
  # start from a fit: the same optimum
  expect_equal(glamm(y ~ x + (1 | g), data = dn, family = nbinom2(), nAGQ = 7,
                     start = fn)$loglik, fn$loglik, tolerance = 1e-8)
  mu <- fitted(fg)
  expect_equal(residuals(fg, type = "pearson"), (dg$y - mu) / mu)
  expect_equal(residuals(fg, type = "deviance")^2, Gamma()$dev.resids(dg$y, mu, 1))
  mun <- fitted(fn)
  th <- sigma(fn)
  expect_equal(residuals(fn, type = "pearson"), (dn$y - mun) / sqrt(mun + mun^2 / th))
  # Simulated responses at the predicted effects have the fitted means and,
  # Gamma, the fitted CV; nbinom2, the fitted variance (1000 draws per row).
  s <- as.matrix(simulate(fg, nsim = 1000, seed = 1, re.form = NULL))
  expect_lt(max(abs(rowMeans(s) / mu - 1)), 0.15)  # seen 0.057 (SE of a mean 0.02)
  expect_equal(mean(apply(s, 1, sd) / rowMeans(s)), sigma(fg), tolerance = 0.02)  # seen 0.0026
  s <- as.matrix(simulate(fn, nsim = 1000, seed = 1, re.form = NULL))
  expect_true(all(s == round(s)) && min(s) >= 0)
  expect_equal(mean(apply(s, 1, var) / (mun + mun^2 / th)), 1, tolerance = 0.05)  # seen 0.0004
  # marginal mean of a log link: exp(eta + s^2/2)
  nd <- data.frame(x = 0.5)
  m <- predict(fg, nd, type = "response", marginal = TRUE, re.form = NA)
  expect_equal(unname(m), unname(exp(sum(fg$coefficients * c(1, 0.5)) + fg$Sigma[1] / 2)),
               tolerance = 1e-8)
  di <- family_data(2, Gamma("inverse"), J = 40, m = 8)
  fi <- glamm(y ~ x + (1 | g), data = di, family = Gamma(link = "inverse"), nAGQ = 5)
  expect_equal(unname(fitted(fi)), unname(1 / predict(fi)))
  expect_error(predict(fi, nd, type = "response", marginal = TRUE, re.form = NA),
               "inverse-link model does not exist")
  expect_error(icc(fg), "no latent response")
  expect_error(icc(fn), "no latent response")
  # per-cluster ML: glm() of the cluster with the fixed part as offset
  r <- ranef(fg, type = "ml")$g
  i <- dg$g == "3"
  off <- drop(cbind(1, dg$x[i]) %*% fg$coefficients)
  ref <- glm(dg$y[i] ~ 1, offset = off, family = Gamma("log"))
  expect_equal(r["3", 1], unname(coef(ref)), tolerance = 1e-6)
  expect_equal(attr(r, "postVar")[1, 1, "3"], vcov(ref)[1, 1] * sigma(fg)^2 /
                 summary(ref)$dispersion, tolerance = 1e-6)
  rn <- ranef(fn, type = "ml")$g
  expect_equal(sum(is.finite(rn[, 1])) + sum(tapply(dn$y, dn$g, max) == 0), 40)
})

test_that("at zero random-effect variance the nbinom2 log-likelihood is MASS::glm.nb()'s", {
  skip_if_not_installed("MASS")
  d <- family_data(8, nbinom2(), J = 20, m = 6)
  nb <- MASS::glm.nb(y ~ x, data = d)
  X <- cbind("(Intercept)" = 1, x = d$x)
  obj <- objective_for(d$y, X, X[, 1, drop = FALSE], d$g, nbinom2(), 5)
  expect_equal(as.numeric(obj$loglik(c(coef(nb), 0, log(nb$theta)))),
               as.numeric(logLik(nb)), tolerance = 1e-12)  # seen: 0
})
