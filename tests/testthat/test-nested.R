# Nested (multilevel) random effects (issue 9): multilevel AGHQ against
# brute-force nested integration at fixed parameters, the joint Laplace
# against glmmTMB and lme4, the gaussian case against lmer (exact), invariance
# to row order and labels, the formula forms, the exact gradient at four
# levels, and the input errors. The references are in helper-nested.R; the
# first tests validate them (they do not use the nested engine).
#
# par layout (spec): c(beta, theta_1, ..., theta_L, psi), levels innermost
# first; theta_l the free entries of Lambda_l (column-major), psi = log(sigma)
# for the gaussian family. Lambda is on the scale of the effects (not relative
# to sigma as lme4's theta): Lambda = sigma * theta_lme4.

# 12 schools x 3 classes x 4 students; class labels 1..3 reused in every
# school (the `/` form), class_u the unique labels.
nested3 <- function(seed, family, sds = c(1, 1.2), ...) {
  sim_nested(seed, family, sizes = c(12, 3, 4), names = c("school", "class"), sds = sds,
             beta = c(0, 0.5), ...)
}

# The three-level random-intercept log-likelihood by brute force at
# par = c(beta0, beta1, sd_class, sd_school).
brute3 <- function(d, family, par, ...) {
  X <- cbind(1, d$x)
  one <- X[, 1, drop = FALSE]
  nested_loglik_brute(d$y, X, par[1:2], list(one, one), list(d$class, d$school),
                      list(par[3], par[4]), family, ...)
}

laplace3 <- function(d, family, par, ...) {
  X <- cbind(1, d$x)
  one <- X[, 1, drop = FALSE]
  nested_loglik_laplace(d$y, X, par[1:2], list(one, one), list(d$class, d$school),
                        list(par[3], par[4]), family, ...)
}

# lmer's default stopping leaves the school covariance of the slope model 5e-5
# (relative) from the optimum that glamm and a tight lmer agree on to 4e-8.
tight_lmer <- function() {
  lme4::lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
}

tight_glmer <- function() {
  lme4::glmerControl(optimizer = "bobyqa", tolPwrss = 1e-10,
                     optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
}

# ---- the references themselves (no nested engine needed) -------------------

test_that("reference: brute force equals the exact gaussian marginal (3 levels, slopes)", {
  d <- sim_nested(2, gaussian, sizes = c(6, 2, 3), sds = c(0.6, 0.8), slope_sds = c(0.4, 0.5),
                  sigma = 1)
  X <- cbind(1, d$x)
  one <- X[, 1, drop = FALSE]
  L1 <- matrix(c(0.6, 0.1, 0, 0.4), 2)
  L2 <- matrix(c(0.7, -0.2, 0, 0.5), 2)
  g <- list(d$class, d$school)
  # random intercepts
  ex <- nested_loglik_gaussian_exact(d$y, X, c(-0.1, 0.4), list(one, one), g, list(0.6, 0.7), 1)
  br <- nested_loglik_brute(d$y, X, c(-0.1, 0.4), list(one, one), g, list(0.6, 0.7), gaussian(),
                            sigma = 1)
  expect_lt(abs(br - ex), 1e-9)  # seen 0
  # a random slope at the inner level (3 effects per row path)
  ex <- nested_loglik_gaussian_exact(d$y, X, c(-0.1, 0.4), list(X, one), g, list(L1, 0.7), 1)
  br <- nested_loglik_brute(d$y, X, c(-0.1, 0.4), list(X, one), g, list(L1, 0.7), gaussian(),
                            sigma = 1, h = 0.3)
  expect_lt(abs(br - ex), 1e-9)  # seen 1.4e-14
  # random slopes at both levels (4 effects per row path: a coarser rule)
  ex <- nested_loglik_gaussian_exact(d$y, X, c(-0.1, 0.4), list(X, X), g, list(L1, L2), 1)
  br <- nested_loglik_brute(d$y, X, c(-0.1, 0.4), list(X, X), g, list(L1, L2), gaussian(),
                            sigma = 1, h = 0.5)
  expect_lt(abs(br - ex), 1e-9)  # seen 2.0e-13
  # the joint Laplace is exact for the gaussian
  la <- nested_loglik_laplace(d$y, X, c(-0.1, 0.4), list(X, X), g, list(L1, L2), gaussian(),
                              sigma = 1)
  expect_lt(abs(la - ex), 1e-9)  # seen 1.4e-14
})

test_that("reference: brute force equals lmer(REML = FALSE) at its optimum (3 levels)", {
  skip_if_not_installed("lme4")
  d <- nested3(1, gaussian, sds = c(0.6, 0.8))
  m <- lme4::lmer(y ~ x + (1 | school/class), data = d, REML = FALSE)
  s <- stats::sigma(m)
  th <- lme4::getME(m, "theta")
  expect_named(th, c("class:school.(Intercept)", "school.(Intercept)"))  # innermost first
  br <- brute3(d, gaussian(), c(lme4::fixef(m), s * th), sigma = s)
  expect_lt(abs(br - as.numeric(logLik(m))), 1e-6)  # seen 2.8e-14
})

test_that("reference: brute force equals glamm's two-level AGHQ with many points", {
  # a scalar effect, logit, nAGQ = 30
  d <- sim_nested(4, binomial, sizes = c(30, 8), names = "g", sds = 0.9)
  X <- cbind(1, d$x)
  fit <- glamm(y ~ x + (1 | g), data = d, family = binomial, nAGQ = 30)
  f <- loglik_function(fit)
  for (par in list(fit$par, fit$par + c(0.2, -0.1, 0.3))) {
    br <- nested_loglik_brute(d$y, X, par[1:2], list(X[, 1, drop = FALSE]), list(d$g),
                              list(par[3]), binomial())
    expect_lt(abs(as.numeric(f(par)) - br), 1e-7)  # seen <= 7.5e-10 (glamm's side: the
    # rule is converged to 1e-12, glamm gives 1.6e-9 at nAGQ = 50)
  }
  # correlated intercept and slope, probit with 3 trials, nAGQ = 25 (625 nodes)
  d <- sim_nested(5, binomial("probit"), sizes = c(30, 6), names = "g", sds = 0.7,
                  slope_sds = 0.4, trials = 3)
  X <- cbind(1, d$x)
  fit <- glamm(cbind(y, trials - y) ~ x + (1 + x | g), data = d, family = binomial("probit"),
               nAGQ = 25)
  br <- nested_loglik_brute(d$y, X, fit$par[1:2], list(X), list(d$g),
                            theta_to_lambdas(fit$par[3:5], 2), binomial("probit"),
                            trials = d$trials)
  expect_lt(abs(as.numeric(loglik_function(fit)(fit$par)) - br), 1e-7)  # seen 2.4e-11
  # poisson, nAGQ = 30
  d <- sim_nested(6, poisson, sizes = c(30, 5), names = "g", sds = 0.6)
  X <- cbind(1, d$x)
  fit <- glamm(y ~ x + (1 | g), data = d, family = poisson, nAGQ = 30)
  br <- nested_loglik_brute(d$y, X, fit$par[1:2], list(X[, 1, drop = FALSE]), list(d$g),
                            list(fit$par[3]), poisson())
  expect_lt(abs(as.numeric(loglik_function(fit)(fit$par)) - br), 1e-7)  # seen 2.8e-14
})

test_that("reference: the trapezoid rule is converged and equals integrate() level by level", {
  d <- nested3(33, binomial)
  par <- c(-0.1, 0.4, 0.9, 1.1)
  X <- cbind(1, d$x)
  one <- X[, 1, drop = FALSE]
  br <- nested_loglik_brute(d$y, X, par[1:2], list(one, one), list(d$class, d$school),
                            list(par[3], par[4]), binomial(), by_cluster = TRUE)
  # a coarser step gives the same value: the rule has converged
  br2 <- brute3(d, binomial(), par, h = 0.35)
  expect_lt(abs(sum(br) - br2), 1e-9)  # seen 7.1e-14
  # nested integrate() for two schools
  tops <- c("1", "7")
  ig <- nested_loglik_integrate3(d$y, X, par[1:2], d$class, d$school, par[3], par[4], binomial(),
                                 tops = tops)
  expect_lt(max(abs(ig - br[tops])), 1e-9)  # seen 8.9e-16
})

test_that("reference: the joint Laplace equals glmmTMB at its optimum (logit, probit, poisson)", {
  skip_if_not_installed("glmmTMB")
  for (fam in list(binomial(), binomial("probit"), poisson())) {
    d <- nested3(if (fam$family == "poisson") 34 else 33, fam,
                 sds = if (fam$family == "poisson") c(0.5, 0.6) else c(1, 1.2))
    tmb <- glmmTMB::glmmTMB(y ~ x + (1 | school/class), data = d, family = fam)
    vc <- glmmTMB::VarCorr(tmb)$cond
    par <- c(glmmTMB::fixef(tmb)$cond, attr(vc[["class:school"]], "stddev"),
             attr(vc[["school"]], "stddev"))
    expect_gt(min(par[3:4]), 0.3)  # not a boundary fit
    expect_lt(abs(laplace3(d, fam, par) - as.numeric(logLik(tmb))), 1e-8)  # seen <= 2.8e-9
  }
})

# ---- multilevel AGHQ against the references ---------------------------------

test_that("AGHQ with K = 15 at both levels equals brute force: logit, probit, poisson", {
  for (fam in list(binomial(), binomial("probit"), poisson())) {
    pois <- fam$family == "poisson"
    d <- nested3(if (pois) 34 else 33, fam, sds = if (pois) c(0.5, 0.6) else c(1, 1.2))
    fit <- glamm(y ~ x + (1 | school/class), data = d, family = fam, nAGQ = 15)
    expect_named(fit$par, c("(Intercept)", "x", "theta1", "theta2"))
    expect_named(fit$groups, c("class:school", "school"))
    f <- loglik_function(fit)
    par <- c(-0.1, 0.4, if (pois) c(0.5, 0.6) else c(0.9, 1.1))
    ref <- brute3(d, fam, par)
    # the approximation matters here: Laplace is off by 0.072 (poisson) to 0.59
    expect_gt(abs(ref - laplace3(d, fam, par)), 0.05)
    # two-level analogues with glamm today at K = 15: 6.6e-10 (36 clusters of
    # 4, SD 0.9), 2e-8 (12 clusters of 12, SD 1.1)
    expect_lt(abs(as.numeric(f(par)) - ref), 1e-6)  # seen <= 5.0e-8
    # at the fit's own estimates the SDs are larger (probit: 1.4, 1.8) and
    # K = 15 is off by up to 6.3e-6, K = 25 by 2.5e-9
    expect_equal(as.numeric(f(fit$par)), as.numeric(logLik(fit)), tolerance = 1e-12)  # seen 0
    expect_lt(abs(as.numeric(loglik_function(fit, nAGQ = 25)(fit$par)) - brute3(d, fam, fit$par)),
              1e-6)  # seen <= 2.5e-9
  }
})

test_that("AGHQ equals brute force with a correlated random slope at the inner level", {
  d <- nested3(35, binomial, slope_sds = c(0.5, 0))
  X <- cbind(1, d$x)
  fit <- glamm(y ~ x + (1 | school) + (1 + x | school:class), data = d, family = binomial,
               nAGQ = 11)
  # levels innermost first: Lambda of school:class (3 entries), then school
  par <- c(-0.1, 0.4, 0.9, 0.2, 0.5, 1.1)
  ref <- nested_loglik_brute(d$y, X, par[1:2], list(X, X[, 1, drop = FALSE]),
                             list(d$class, d$school), theta_to_lambdas(par[3:6], c(2, 1)),
                             binomial(), h = 0.4)  # the same to 2.8e-14 at h = 0.25
  expect_gt(abs(ref - nested_loglik_laplace(d$y, X, par[1:2], list(X, X[, 1, drop = FALSE]),
                                            list(d$class, d$school),
                                            theta_to_lambdas(par[3:6], c(2, 1)), binomial())),
            0.5)  # Laplace is off by 0.87
  expect_lt(abs(as.numeric(loglik_function(fit)(par)) - ref), 1e-6)  # seen 1.5e-7
})

test_that("as K grows the nested AGHQ log-likelihood converges (small inner clusters)", {
  # the hard case: 2 students per class, a large class variance
  d <- sim_nested(23, binomial, sizes = c(12, 4, 2), sds = c(2, 0.8), beta = c(0, 0.5))
  par <- c(0, 0.5, 2, 0.8)
  ref <- brute3(d, binomial(), par)
  fit <- glamm(y ~ x + (1 | school/class), data = d, family = binomial, nAGQ = 1)
  Ks <- c(1, 3, 7, 15, 25)
  ll <- vapply(Ks, function(K) as.numeric(loglik_function(fit, nAGQ = K)(par)), numeric(1))
  err <- abs(ll - ref)
  expect_gt(err[1], 1e-2)  # Laplace is visibly off
  # errors and successive changes shrink until they reach the reference's
  # accuracy (~1e-10)
  # seen: errors 1.6, 0.30, 5.8e-3, 1.3e-5, 2.8e-8; changes 1.3, 0.29, 5.8e-3, 1.3e-5
  expect_true(all(diff(err) < 0 | err[-1] < 1e-9))
  ch <- abs(diff(ll))
  expect_true(all(diff(ch) < 0 | ch[-1] < 1e-9))
  # the two-level analogue (48 clusters of 2, SD 2, glamm today) has errors
  # 1.5, 0.29, 7e-3, 3.6e-5, 1.8e-7 at these K
  expect_lt(err[length(Ks)], 1e-5)  # seen 2.8e-8
  # K = 1 is the joint Laplace
  expect_lt(abs(ll[1] - laplace3(d, binomial(), par)), 1e-8)  # seen 3.8e-13
})

test_that("nAGQ by grouping factor: by label or by variable, one number for all", {
  d <- nested3(33, binomial)
  par <- c(-0.1, 0.4, 0.9, 1.1)
  form <- y ~ x + (1 | school/class)
  v <- function(nAGQ) {
    fit <- glamm(form, data = d, family = binomial, nAGQ = nAGQ)
    as.numeric(loglik_function(fit)(par))
  }
  a <- v(c(class = 7, school = 11))
  expect_lt(abs(v(c("class:school" = 7, school = 11)) - a), 1e-12)  # seen 0
  expect_lt(abs(v(c(school = 11, class = 7)) - a), 1e-12)  # order of the names is free
  expect_lt(abs(v(5) - v(c(class = 5, school = 5))), 1e-12)  # seen 0
  # Laplace at the school level only differs from AGHQ there
  expect_gt(abs(v(c(class = 7, school = 1)) - a), 1e-4)
  # seen 2.8e-5: the class level's K = 7 (3.7e-8 with K = 25 there)
  expect_lt(abs(a - brute3(d, binomial(), par)), 1e-4)
})

test_that("the joint Laplace (K = 1 at every level) equals the R reference at fixed parameters", {
  for (fam in list(binomial(), binomial("probit"), binomial("cloglog"), poisson())) {
    d <- nested3(36, fam, sds = c(0.7, 0.8), slope_sds = c(0.4, 0))
    X <- cbind(1, d$x)
    fit <- glamm(y ~ x + (1 | school) + (1 + x | school:class), data = d, family = fam,
                 nAGQ = 1)
    par <- c(-0.1, 0.4, 0.7, 0.1, 0.4, 0.8)
    ref <- nested_loglik_laplace(d$y, X, par[1:2], list(X, X[, 1, drop = FALSE]),
                                 list(d$class, d$school), theta_to_lambdas(par[3:6], c(2, 1)),
                                 fam)
    expect_lt(abs(as.numeric(loglik_function(fit)(par)) - ref), 1e-8)  # seen <= 2.8e-13
  }
})

# ---- agreement with glmmTMB and lme4 at their optimum -----------------------

test_that("Laplace equals glmmTMB for (1 | school/class): binary and poisson", {
  skip_if_not_installed("glmmTMB")
  for (fam in list(binomial(), poisson())) {
    pois <- fam$family == "poisson"
    d <- nested3(if (pois) 34 else 33, fam, sds = if (pois) c(0.5, 0.6) else c(1, 1.2))
    tmb <- glmmTMB::glmmTMB(y ~ x + (1 | school/class), data = d, family = fam)
    fit <- glamm(y ~ x + (1 | school/class), data = d, family = fam, nAGQ = 1)
    expect_lt(abs(as.numeric(logLik(fit) - logLik(tmb))), 1e-4)  # seen <= 1.8e-12
    expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(tmb)) - 1e-4)
    expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(tmb)$cond),
                 tolerance = 1e-5)  # seen <= 5.4e-8
    vc <- glmmTMB::VarCorr(tmb)$cond
    sd_tmb <- c(attr(vc[["class:school"]], "stddev"), attr(vc[["school"]], "stddev"))
    sd_fit <- sqrt(c(fit$groups[["class:school"]]$Sigma[1, 1], fit$groups$school$Sigma[1, 1]))
    expect_equal(sd_fit, unname(sd_tmb), tolerance = 1e-5)  # seen <= 1.2e-7
    # the same function: glamm's objective at glmmTMB's estimates
    par_tmb <- c(glmmTMB::fixef(tmb)$cond, sd_tmb)
    v <- as.numeric(loglik_function(fit)(par_tmb))
    expect_lt(abs(v - as.numeric(logLik(tmb))), 1e-6)  # seen <= 1.7e-12
  }
})

test_that("Laplace equals glmer for (1 | school/class): binary and poisson", {
  skip_if_not_installed("lme4")
  # glmer's Laplace uses Fisher scoring weights, so only canonical links agree
  for (fam in list(binomial(), poisson())) {
    pois <- fam$family == "poisson"
    d <- nested3(if (pois) 34 else 33, fam, sds = if (pois) c(0.5, 0.6) else c(1, 1.2))
    gl <- lme4::glmer(y ~ x + (1 | school/class), data = d, family = fam, control = tight_glmer())
    fit <- glamm(y ~ x + (1 | school/class), data = d, family = fam, nAGQ = 1)
    expect_lt(abs(as.numeric(logLik(fit) - logLik(gl))), 1e-4)  # seen <= 2.0e-7 (glmer's PIRLS)
    par_gl <- c(lme4::fixef(gl), lme4::getME(gl, "theta"))
    v <- as.numeric(loglik_function(fit)(par_gl))
    expect_lt(abs(v - as.numeric(logLik(gl))), 1e-6)  # seen <= 2.0e-7
    # the R reference agrees with glmer at glmer's optimum
    expect_lt(abs(laplace3(d, fam, par_gl) - as.numeric(logLik(gl))), 1e-6)  # seen <= 2.0e-7
  }
})

test_that("a three-level gaussian fit equals lmer(REML = FALSE)", {
  skip_if_not_installed("lme4")
  d <- nested3(24, gaussian, sds = c(0.7, 0.9))
  m <- lme4::lmer(y ~ x + (1 | school/class), data = d, REML = FALSE, control = tight_lmer())
  fit <- glamm(y ~ x + (1 | school/class), data = d, family = gaussian)
  expect_lt(abs(as.numeric(logLik(fit) - logLik(m))), 1e-6)  # seen 5.7e-14
  expect_equal(fixef(fit), lme4::fixef(m), tolerance = 1e-5)  # seen 1.5e-10
  vc <- lme4::VarCorr(m)
  expect_equal(fit$groups[["class:school"]]$Sigma[1, 1], vc[["class:school"]][1, 1],
               tolerance = 1e-5)  # seen 4.3e-8
  expect_equal(fit$groups$school$Sigma[1, 1], vc$school[1, 1], tolerance = 1e-5)  # seen 1.3e-7
  expect_equal(fit$sigma, stats::sigma(m), tolerance = 1e-5)  # seen 8.2e-9
  # the same function at lmer's estimates (Lambda = sigma * theta)
  s <- stats::sigma(m)
  par_lmer <- c(lme4::fixef(m), s * lme4::getME(m, "theta"), log(s))
  v <- as.numeric(loglik_function(fit)(par_lmer))
  expect_lt(abs(v - as.numeric(logLik(m))), 1e-8)  # seen 1.1e-13
})

test_that("a three-level gaussian fit with a random slope at the top equals lmer", {
  skip_if_not_installed("lme4")
  d <- nested3(25, gaussian, sds = c(0.7, 0.9), slope_sds = c(0, 0.5))
  form <- y ~ x + (1 + x | school) + (1 | school:class)
  m <- lme4::lmer(form, data = d, REML = FALSE, control = tight_lmer())
  fit <- glamm(form, data = d, family = gaussian)
  expect_lt(abs(as.numeric(logLik(fit) - logLik(m))), 1e-6)  # seen 0
  expect_equal(fixef(fit), lme4::fixef(m), tolerance = 1e-5)  # seen 2.2e-9
  S_lme4 <- lme4::VarCorr(m)$school
  attributes(S_lme4) <- attributes(S_lme4)[c("dim", "dimnames")]
  expect_equal(unname(fit$groups$school$Sigma), unname(S_lme4), tolerance = 1e-5)  # seen 1.3e-7
  # lme4's theta: school:class (36 levels) before school, as glamm's levels
  s <- stats::sigma(m)
  par_lmer <- c(lme4::fixef(m), s * lme4::getME(m, "theta"), log(s))
  v <- as.numeric(loglik_function(fit)(par_lmer))
  expect_lt(abs(v - as.numeric(logLik(m))), 1e-8)  # seen 8.5e-14
})

test_that("gaussian: the nested log-likelihood is exact at any K, slopes at two levels", {
  d <- nested3(26, gaussian, sds = c(0.6, 0.8), slope_sds = c(0.4, 0.5))
  X <- cbind(1, d$x)
  fit <- glamm(y ~ x + (1 + x | school/class), data = d, family = gaussian)
  par <- c(-0.1, 0.4, 0.6, 0.1, 0.4, 0.7, -0.2, 0.5, log(0.9))
  ex <- nested_loglik_gaussian_exact(d$y, X, par[1:2], list(X, X), list(d$class, d$school),
                                     theta_to_lambdas(par[3:8], c(2, 2)), 0.9)
  for (K in c(1, 3)) {
    expect_lt(abs(as.numeric(loglik_function(fit, nAGQ = K)(par)) - ex), 1e-8)  # seen 0
  }
})

# ---- invariances and formula forms ------------------------------------------

test_that("permuting rows and relabelling clusters does not change the fit", {
  d <- nested3(33, binomial)
  form <- y ~ x + (1 | school/class)
  fit1 <- glamm(form, data = d, family = binomial, nAGQ = 5)
  set.seed(9)
  d2 <- d[sample(nrow(d)), ]
  d2$school <- factor(paste0("s", sample(12))[d2$school])
  d2$class <- factor(c("c", "a", "b")[d2$class])
  fit2 <- glamm(form, data = d2, family = binomial, nAGQ = 5)
  v <- as.numeric(loglik_function(fit2)(fit1$par))
  expect_lt(abs(v - as.numeric(logLik(fit1))), 1e-8)  # seen 0
  expect_lt(abs(as.numeric(logLik(fit2) - logLik(fit1))), 1e-8)  # seen 1.4e-14
  expect_equal(fit2$par, fit1$par, tolerance = 1e-5)  # seen 5.7e-16
})

test_that("(1 | a/b), (1 | a) + (1 | a:b) and (1 | a) + (1 | b) with unique b are one model", {
  d <- nested3(33, binomial, slope_sds = c(0.3, 0.3))
  forms <- list(y ~ x + (1 | school/class), y ~ x + (1 | school) + (1 | school:class),
                y ~ x + (1 | school) + (1 | class_u))
  fits <- lapply(forms, glamm, data = d, family = binomial, nAGQ = 5)
  par <- c(-0.1, 0.4, 0.9, 1.1)
  v1 <- as.numeric(loglik_function(fits[[1]])(par))
  for (k in 2:3) {
    expect_lt(abs(as.numeric(loglik_function(fits[[k]])(par)) - v1), 1e-10)  # seen 0
    expect_lt(abs(as.numeric(logLik(fits[[k]]) - logLik(fits[[1]]))), 1e-8)  # seen 0
    expect_equal(unname(fits[[k]]$par), unname(fits[[1]]$par), tolerance = 1e-6)  # seen 0
  }
  # with correlated slopes at both levels (the same function; the fits may
  # sit near a boundary, so their maxima are compared less tightly)
  forms <- list(y ~ x + (1 + x | school/class), y ~ x + (1 + x | school) + (1 + x | school:class),
                y ~ x + (1 + x | school) + (1 + x | class_u))
  fits <- lapply(forms, glamm, data = d, family = binomial, nAGQ = 3)
  par <- c(-0.1, 0.4, 0.9, 0.1, 0.3, 1.1, -0.1, 0.3)
  v1 <- as.numeric(loglik_function(fits[[1]])(par))
  for (k in 2:3) {
    expect_lt(abs(as.numeric(loglik_function(fits[[k]])(par)) - v1), 1e-10)  # seen 0
    expect_lt(abs(as.numeric(logLik(fits[[k]]) - logLik(fits[[1]]))), 1e-6)  # seen 0
  }
  # ... and at a maximum: a Newton polish once ran these fits into a saddle
  # (the slope SDs' Cholesky entries at 0 with a Hessian eigenvalue of +0.8,
  # 0.08 below the maximum, and "not positive definite")
  for (fit in fits) {
    expect_lt(max(eigen(fit$hessian, only.values = TRUE)$values), 0)  # seen -0.37
    expect_false(anyNA(diag(as.matrix(vcov(fit)))))
  }
})

# ---- the exact gradient at four levels --------------------------------------

# 5 districts x 2 schools x 2 classes x 2 students x 3 measures: four levels
# of random effects.
nested4 <- function(seed, family) {
  sim_nested(seed, family, sizes = c(5, 2, 2, 2, 3),
             names = c("district", "school", "class", "student"),
             sds = c(0.5, 0.6, 0.5, 0.7), slope_sds = c(0, 0.3, 0, 0.3),
             beta = c(-0.2, 0.5), sigma = 0.7, trials = 4)
}

check_gradient_nested <- function(family, slopes) {
  d <- nested4(40, family)
  lhs <- if (family$family == "binomial") "cbind(y, trials - y)" else "y"
  rhs <- if (slopes) {
    paste("(1 + x | district) + (1 | district:school) + (1 + x | district:school:class)",
          "+ (1 | district:school:class:student)")
  } else {
    "(1 | district/school/class/student)"
  }
  form <- stats::as.formula(paste(lhs, "~ x +", rhs))
  # only the objective is needed: no Hessian (near a boundary it is not
  # positive definite and glamm warns)
  fit <- glamm(form, data = d, family = family, nAGQ = 1,
               control = glamm_control(hessian = FALSE))
  expect_true(is.finite(as.numeric(logLik(fit))))
  # levels innermost first: student, class, school, district
  theta <- if (slopes) c(0.5, 0.6, 0.1, 0.3, 0.7, 0.8, -0.2, 0.4) else c(0.5, 0.6, 0.7, 0.8)
  par <- c(-0.1, 0.3, theta, if (family$family == "gaussian") log(0.6))
  expect_length(fit$par, length(par))
  vapply(c(1, 3), function(K) {
    f <- loglik_function(fit, nAGQ = K)
    v <- f(par, gradient = TRUE)
    fd <- central_diff(function(p) as.numeric(f(p)), par)
    expect_gt(max(abs(fd)), 1e-2)  # away from the optimum
    max_rel_err(attr(v, "gradient"), fd)
  }, numeric(1))
}

test_that("four levels: gradient = finite differences, binomial logit, probit, cloglog", {
  for (link in c("logit", "probit", "cloglog")) {
    for (slopes in c(FALSE, TRUE)) {
      expect_lt(max(check_gradient_nested(binomial(link), slopes)), 1e-6)  # seen <= 3.5e-8
    }
  }
})

test_that("four levels: gradient = finite differences, poisson and gaussian", {
  for (fam in list(poisson(), gaussian())) {
    for (slopes in c(FALSE, TRUE)) {
      expect_lt(max(check_gradient_nested(fam, slopes)), 1e-6)  # seen <= 9.5e-9
    }
  }
})

# ---- bad input --------------------------------------------------------------

test_that("a factor nested in two parents written as (1 | a) + (1 | b): crossed, message naming a/b", {
  d <- nested3(33, binomial)  # class labels 1..3 reused in every school
  form <- y ~ x + (1 | school) + (1 | class)
  expect_message(fit <- glamm(form, data = d, family = binomial), "crossed, not nested")
  expect_identical(fit$crossed, "school and class")
  expect_message(glamm(form, data = d, family = binomial), "school/class", fixed = TRUE)
})

test_that("nAGQ named for a factor not in the model: error listing the valid names", {
  d <- nested3(33, binomial)
  form <- y ~ x + (1 | school/class)
  expect_error(glamm(form, data = d, family = binomial, nAGQ = c(class = 5, teacher = 3)),
               "teacher")
  expect_error(glamm(form, data = d, family = binomial, nAGQ = c(class = 5, teacher = 3)),
               "school")
})

test_that("a grid too large is refused before any allocation, suggesting fewer points", {
  d <- nested4(41, binomial())
  form <- cbind(y, trials - y) ~ x + (1 + x | district/school/class)  # 60^6 nodes per row
  t0 <- proc.time()[["elapsed"]]
  expect_error(glamm(form, data = d, family = binomial, nAGQ = 60), "fewer")
  expect_lt(proc.time()[["elapsed"]] - t0, 10)
})
