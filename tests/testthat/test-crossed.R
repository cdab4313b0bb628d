# Crossed random effects by the sparse global Laplace approximation
# (src/sparse_laplace.h): agreement with glmmTMB's Laplace and with lmer, the
# nested integrator on nested data, the selected inverse, the exact gradient
# and the limits (nAGQ > 1, binary data with small clusters).

test_that("the selected inverse equals the dense inverse on the factor's pattern", {
  set.seed(1)
  for (N in c(1, 7, 30)) {
    A <- matrix(0, N, N)
    A[sample(N * N, 2 * N, replace = TRUE)] <- stats::rnorm(2 * N)
    H <- crossprod(A) + diag(N)
    S <- glamm:::cpp_selected_inverse(H)
    on <- !is.na(S)
    expect_true(all(diag(on)))
    expect_true(all(on[H != 0]))  # the pattern of L contains that of H
    expect_lt(max(abs(S[on] - solve(H)[on])), 1e-12)  # seen 2.2e-16
  }
  # a dense matrix: every entry
  H <- crossprod(matrix(stats::rnorm(100), 10)) + diag(10)
  expect_lt(max(abs(glamm:::cpp_selected_inverse(H) - solve(H))), 1e-12)  # seen 2.8e-16
})

test_that("binary and poisson crossed models equal glmmTMB's Laplace at given parameters", {
  skip_if_not_installed("glmmTMB")
  for (fam in list(binomial(), binomial("probit"), poisson())) {
    d <- sim_crossed(11, fam)
    fit <- suppressWarnings(glamm(y ~ x + (1 | id) + (1 | item), data = d, family = fam))
    expect_identical(fit$crossed, "id and item")
    obj <- glmmTMB::glmmTMB(y ~ x + (1 | id) + (1 | item), data = d, family = fam)$obj
    f <- loglik_function(fit)
    for (par in list(c(-0.3, 0.4, 0.9, 0.5), c(0.2, 0.6, 0.3, 1.4))) {
      # glamm's par: beta, SD(id) (40 clusters), SD(item); glmmTMB's: beta, log SDs
      expect_lt(abs(as.numeric(f(par)) + obj$fn(c(par[1:2], log(par[3:4])))),
                1e-8)  # seen <= 2.4e-10 (probit), 4.1e-11 (poisson)
    }
  }
})

test_that("binary and poisson crossed fits equal glmmTMB at the optimum", {
  skip_if_not_installed("glmmTMB")
  for (fam in list(binomial(), poisson())) {
    d <- sim_crossed(12, fam)
    fit <- glamm(y ~ x + (1 | id) + (1 | item), data = d, family = fam)
    tmb <- glmmTMB::glmmTMB(y ~ x + (1 | id) + (1 | item), data = d, family = fam)
    diff <- as.numeric(logLik(fit) - logLik(tmb))
    expect_lt(abs(diff), 1e-4)  # seen 1.2e-11 (binary), 1.3e-9 (poisson)
    expect_gte(diff, -1e-4)
    expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(tmb)$cond),
                 tolerance = 1e-4)  # seen <= 3.4e-7 (absolute)
  }
})

test_that("a gaussian crossed fit equals lmer(REML = FALSE)", {
  skip_if_not_installed("lme4")
  d <- sim_crossed(13, gaussian(), slope_sds = c(0.3, 0))
  fit <- glamm(y ~ x + (1 + x | id) + (1 | item), data = d)
  lm4 <- lme4::lmer(y ~ x + (1 + x | id) + (1 | item), data = d, REML = FALSE,
                    control = lme4::lmerControl(optimizer = "bobyqa",
                                                optCtrl = list(rhoend = 1e-12)))
  expect_lt(abs(as.numeric(logLik(fit) - logLik(lm4))), 1e-6)  # seen 5.1e-13
  expect_equal(unname(fixef(fit)), unname(lme4::fixef(lm4)), tolerance = 1e-5)  # seen 1.6e-9 (absolute)
  expect_equal(sigma(fit), sigma(lm4), tolerance = 1e-5)  # seen 1.5e-8
  # conditional modes and variances
  re <- ranef(fit, condVar = TRUE)
  re4 <- lme4::ranef(lm4, condVar = TRUE)
  expect_equal(unname(as.matrix(re$item)), unname(as.matrix(re4$item)),
               tolerance = 1e-4)  # seen 2.3e-8 (absolute)
  expect_equal(as.numeric(attr(re$item, "postVar")), as.numeric(attr(re4$item, "postVar")),
               tolerance = 1e-4)  # seen 1.8e-9 (absolute)
  # a random slope: both columns and their posterior covariances
  expect_equal(unname(as.matrix(re$id)), unname(as.matrix(re4$id)),
               tolerance = 1e-4)  # seen 3.4e-8 (absolute)
  expect_equal(as.numeric(attr(re$id, "postVar")), as.numeric(attr(re4$id, "postVar")),
               tolerance = 1e-4)  # seen 6.9e-9 (absolute)
})

test_that("a nested design through the sparse path equals the tree integrator at K = 1", {
  for (fam in list(binomial(), poisson(), gaussian())) {
    d <- sim_nested(33, fam, sds = c(0.7, 0.8), slope_sds = c(0.4, 0))
    X <- cbind(1, d$x)
    re <- list(list(Z = X, group = d$class_u, name = "class"),
               list(Z = X[, 1, drop = FALSE], group = d$school, name = "school"))
    tree <- objective_levels(d$y, X, re, fam)
    sparse <- objective_levels(d$y, X, re, fam, sparse = TRUE)
    par <- c(-0.1, 0.4, 0.7, 0.1, 0.4, 0.8, if (fam$family == "gaussian") log(0.9))
    vt <- tree$loglik(par, gradient = TRUE)
    vs <- sparse$loglik(par, gradient = TRUE)
    expect_lt(abs(as.numeric(vt) - as.numeric(vs)), 1e-9)  # seen <= 2.6e-13
    expect_lt(max(abs(attr(vt, "gradient") - attr(vs, "gradient"))), 1e-9)  # seen <= 3.0e-13
  }
})

test_that("the gradient equals finite differences with slopes on both factors", {
  fams <- list(binomial(), binomial("probit"), poisson(), gaussian())
  for (fam in fams) {
    d <- sim_crossed(14, fam, n_person = 25, n_item = 8, slope_sds = c(0.3, 0.3))
    X <- cbind(1, d$x)
    re <- list(list(Z = X, group = d$id, name = "id"), list(Z = X, group = d$item, name = "item"))
    obj <- objective_levels(d$y, X, re, fam)
    par <- c(-0.2, 0.5, 0.8, 0.2, 0.3, 0.5, -0.1, 0.4, if (fam$family == "gaussian") log(0.8))
    g <- attr(obj$loglik(par, gradient = TRUE), "gradient")
    fd <- central_diff(function(p) as.numeric(obj$loglik(p)), par)
    expect_lt(max_rel_err(g, fd), 1e-6)  # seen <= 1.3e-7 (probit; the differences' own error)
  }
})

test_that("partially crossed and nested-in-crossed designs fit", {
  skip_if_not_installed("glmmTMB")
  d <- sim_crossed(15, binomial(), n_person = 48)
  d$school <- factor((as.integer(d$id) - 1) %/% 6)  # persons nested in schools
  fit <- glamm(y ~ x + (1 | item) + (1 | school/id), data = d, family = binomial)
  expect_setequal(names(fit$groups), c("id:school", "item", "school"))
  tmb <- glmmTMB::glmmTMB(y ~ x + (1 | item) + (1 | school/id), data = d, family = binomial)
  expect_lt(abs(as.numeric(logLik(fit) - logLik(tmb))), 1e-4)  # seen 5.7e-14
})

test_that("nAGQ > 1 on crossed factors is an error naming them and suggesting nAGQ = 1", {
  d <- sim_crossed(16, binomial())
  expect_error(glamm(y ~ x + (1 | id) + (1 | item), data = d, family = binomial, nAGQ = 5),
               "id and item are crossed.*nAGQ = 1")
  expect_error(glamm(y ~ x + (1 | id) + (1 | item), data = d, family = binomial,
                     nAGQ = c(id = 1, item = 3)), "nAGQ = 1")
})

test_that("binary responses with small clusters of a crossed factor warn of Laplace's bias", {
  d <- sim_crossed(17, binomial(), n_person = 60, n_item = 4, keep = 0.9)
  expect_warning(glamm(y ~ x + (1 | id) + (1 | item), data = d, family = binomial),
                 "biased.*id: median")
  d2 <- sim_crossed(17, binomial())
  expect_no_warning(glamm(y ~ x + (1 | id) + (1 | item), data = d2, family = binomial))
})

test_that("sharded fits are refused for crossed factors", {
  d <- sim_crossed(18, binomial())
  cl <- structure(list(list()), class = c("SOCKcluster", "cluster"))  # never used
  expect_error(glamm(y ~ x + (1 | id) + (1 | item), data = d, family = binomial,
                     control = glamm_control(cluster = cl)), "crossed factors have none")
})

test_that("survey weights are refused for crossed factors", {
  d <- sim_crossed(18, binomial())
  d$w <- 1
  expect_error(glamm(y ~ x + (1 | id) + (1 | item), data = d, family = binomial,
                     pweights = ~ w), "not available for crossed")
})

test_that("methods of a crossed fit: VarCorr, ranef, predict, simulate, anova, icc", {
  d <- sim_crossed(19, binomial())
  fit <- glamm(y ~ x + (1 | id) + (1 | item), data = d, family = binomial)
  expect_named(VarCorr(fit), c("id", "item"))
  expect_identical(fit$ngroups, c(id = 40L, item = 12L))
  re <- ranef(fit, condVar = TRUE)
  expect_identical(rownames(re$item), levels(d$item))
  expect_true(all(attr(re$id, "postVar") > 0))
  # the conditional predictions add both factors' modes
  eta <- fixef(fit)[1] + fixef(fit)[2] * d$x + re$id[d$id, 1] + re$item[d$item, 1]
  expect_equal(unname(predict(fit)), unname(eta), tolerance = 1e-12)  # seen 4.4e-16
  expect_equal(unname(predict(fit, re.form = ~ (1 | item))),
               unname(eta - re$id[d$id, 1]), tolerance = 1e-12)  # seen 4.4e-16
  nd <- data.frame(x = c(0, 1), id = c("1", "new"), item = c("i1", "new"))
  p <- predict(fit, newdata = nd, allow.new.levels = TRUE)
  expect_equal(unname(p), unname(c(fixef(fit)[1] + re$id["1", 1] + re$item["i1", 1],
                                   sum(fixef(fit)))), tolerance = 1e-12)  # seen 0
  expect_identical(dim(simulate(fit, nsim = 2, seed = 1)), c(nrow(d), 2L))
  fit0 <- glamm(y ~ 1 + (1 | id) + (1 | item), data = d, family = binomial)
  a <- anova(fit0, fit)
  expect_equal(a$Chisq[2], 2 * as.numeric(logLik(fit) - logLik(fit0)),
               tolerance = 1e-10)  # seen 0
  v <- vapply(VarCorr(fit), function(s) s[1, 1], 1)
  expect_equal(icc(fit)$icc, unname(v / (sum(v) + pi^2 / 3)), tolerance = 1e-12)  # seen 0
  expect_error(vcov(fit, type = "sandwich"), "crossed")
})

test_that("the gradient equals finite differences for Gamma, nbinom2 and ordinal responses", {
  d <- sim_crossed(20, poisson(), n_person = 25, n_item = 8)
  set.seed(20)
  X <- cbind(1, d$x)
  one <- X[, 1, drop = FALSE]
  re <- list(list(Z = X, group = d$id, name = "id"), list(Z = one, group = d$item, name = "item"))
  cases <- list(
    list(fam = Gamma("log"), y = stats::rgamma(nrow(d), 2, 2 / exp(0.3 * d$x)), X = X, extra = 0.6),
    list(fam = nbinom2(), y = d$y, X = X, extra = 0.8),
    list(fam = ordinal(), y = cut(d$x + stats::rlogis(nrow(d)), c(-Inf, -1, 0.5, Inf)),
         X = X[, 2, drop = FALSE], extra = c(-0.8, log(1.2)))
  )
  for (cs in cases) {
    obj <- objective_levels(cs$y, cs$X, re, cs$fam)
    par <- c(rep(0.3, ncol(cs$X)), 0.7, 0.2, 0.3, 0.5, cs$extra)
    g <- attr(obj$loglik(par, gradient = TRUE), "gradient")
    fd <- central_diff(function(p) as.numeric(obj$loglik(p)), par)
    expect_lt(max_rel_err(g, fd), 1e-6)  # seen 2.4e-10 (Gamma), 1.2e-8 (nbinom2), 5.7e-9 (ordinal)
  }
})

test_that("the value and gradient do not depend on the number of threads", {
  # 12,000 rows: three chunks of rows, a dense block of 60 item effects
  d <- sim_crossed(21, binomial(), n_person = 200, n_item = 60, keep = 1)
  X <- cbind(1, d$x)
  re <- list(list(Z = X[, 1, drop = FALSE], group = d$id, name = "id"),
             list(Z = X, group = d$item, name = "item"))
  par <- c(-0.2, 0.5, 0.8, 0.3, 0.1, 0.2)
  v1 <- objective_levels(d$y, X, re, binomial(), nthreads = 1L)$loglik(par, gradient = TRUE)
  v2 <- objective_levels(d$y, X, re, binomial(), nthreads = 2L)$loglik(par, gradient = TRUE)
  expect_identical(v1, v2)
})

test_that("a sparse crossing (one cell in twenty observed) equals glmmTMB at given parameters", {
  skip_if_not_installed("glmmTMB")
  # 400 persons with about 4 of 80 items each: the items' block of the factor is
  # formed by sparse updates, not one dense rank update
  d <- sim_crossed(22, poisson(), n_person = 400, n_item = 80, keep = 0.05)
  fit <- glamm(y ~ x + (1 | id) + (1 | item), data = d, family = poisson)
  obj <- glmmTMB::glmmTMB(y ~ x + (1 | id) + (1 | item), data = d, family = poisson)$obj
  f <- loglik_function(fit)
  for (par in list(c(-0.3, 0.4, 0.9, 0.5), c(0.2, 0.6, 0.3, 1.4))) {
    expect_lt(abs(as.numeric(f(par)) + obj$fn(c(par[1:2], log(par[3:4])))),
              1e-8)  # seen <= 4.1e-12
  }
})
