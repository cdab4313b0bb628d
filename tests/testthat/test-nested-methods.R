# Methods of nested (multilevel) fits (issue 9, items 6 and 8): print,
# summary and VarCorr per level; ranef per level (means, modes, ML); predict
# with lme4's re.form, new levels at any level, marginal predictions over all
# levels with their SEs; the O(n) gathering of the posterior variances; icc
# per level; simulate; anova, confint, logLik and loglik_function.
#
# References: lmer(REML = FALSE) for a gaussian three-level model (at its own
# optimum, which equals glamm's), and lme4's own merMod built at glamm's
# Laplace optimum (lme4::mkMerMod on glmer's deviance function evaluated at
# glamm's parameters), so that conditional modes and predictions are compared
# at identical parameters. Data: sim_nested() of helper-nested.R, 20 schools x
# 3 classes x 5 students, class labels 1..3 reused in every school.

nm_binary <- sim_nested(1, binomial, sizes = c(20, 3, 5), sds = c(0.8, 1), slope_sds = c(0, 0.5))
nm_gauss <- sim_nested(3, gaussian, sizes = c(20, 3, 5), sds = c(0.6, 0.8), slope_sds = c(0, 0.4),
                       sigma = 1)
fb <- glamm(y ~ x + (1 | school/class), data = nm_binary, family = binomial)  # default points: 15 (class), 7 (school)
fg <- glamm(y ~ x + (1 + x | school) + (1 | school:class), data = nm_gauss, family = gaussian)

# lme4's merMod at glamm's parameters (binomial, Laplace): the deviance
# function of glmer evaluated at c(theta, beta) leaves its conditional modes
# at the joint mode for those parameters.
glmer_at <- function(fit, formula, data) {
  glmod <- lme4::glFormula(formula, data = data, family = binomial)
  devfun <- do.call(lme4::mkGlmerDevfun, glmod)
  devfun <- lme4::updateGlmerDevfun(devfun, glmod$reTrms, nAGQ = 1)
  par <- c(fit$theta, fixef(fit))
  dev <- devfun(par)
  lme4::mkMerMod(environment(devfun),
                 opt = list(par = par, fval = dev, conv = 0, feval = 1, message = ""),
                 glmod$reTrms, fr = glmod$fr, mc = quote(glmer()))
}

ranef_gap <- function(a, b) {
  a <- as.matrix(a)
  b <- as.matrix(b)
  max(abs(a - b[rownames(a), colnames(a), drop = FALSE]))
}

# ---- print, summary, VarCorr ------------------------------------------------

test_that("print and summary name every level, its points and its clusters", {
  expect_output(print(fb), paste0("adaptive Gauss-Hermite quadrature, 15 points \\(class:school\\), ",
                                  "7 \\(school\\)"))
  expect_output(print(fb), "Number of obs: 300, groups:  class:school, 60; school, 20", fixed = TRUE)
  s <- summary(fb)
  expect_output(print(s), "groups:  class:school, 60; school, 20", fixed = TRUE)
  expect_output(print(s), "var\\(\\(Intercept\\)\\|school\\)")
  expect_equal(s$ngroups, c(`class:school` = 60L, school = 20L))
  expect_identical(s$group_name, c("class:school", "school"))
  expect_output(print(VarCorr(fb)), "class:school \\(Intercept\\).*\\n school +\\(Intercept\\)")
  # a different number of points per level; Laplace at a level; Laplace everywhere
  f71 <- glamm(y ~ x + (1 | school/class), data = nm_binary, family = binomial,
               nAGQ = c(class = 7, school = 1))
  expect_output(print(f71), "quadrature, 7 points \\(class:school\\), Laplace \\(school\\)")
  f17 <- glamm(y ~ x + (1 | school/class), data = nm_binary, family = binomial,
               nAGQ = c(class = 1, school = 9))
  expect_output(print(summary(f17)), "quadrature, Laplace \\(class:school\\), 9 points \\(school\\)")
  f1 <- glamm(y ~ x + (1 | school/class), data = nm_binary, family = binomial, nAGQ = 1)
  expect_output(print(f1), "maximum likelihood, Laplace approximation")
})

test_that("VarCorr and its data frame equal lme4's for a three-level gaussian fit", {
  skip_if_not_installed("lme4")
  m <- lme4::lmer(y ~ x + (1 + x | school) + (1 | school:class), data = nm_gauss, REML = FALSE,
                  control = lme4::lmerControl(optimizer = "bobyqa",
                                              optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
  expect_lt(abs(as.numeric(logLik(fg) - logLik(m))), 1e-6)  # seen 1.1e-13
  vc <- VarCorr(fg)
  expect_named(vc, c("school:class", "school"))  # innermost first, as lme4
  expect_equal(names(vc), names(lme4::VarCorr(m)))
  a <- as.data.frame(vc)
  b <- as.data.frame(lme4::VarCorr(m))
  expect_identical(names(a), c("grp", "var1", "var2", "vcov", "sdcor"))
  expect_identical(a[, 1:3], b[, 1:3])
  expect_equal(a$vcov, b$vcov, tolerance = 1e-5)    # seen 1.4e-7 (mean relative)
  expect_equal(a$sdcor, b$sdcor, tolerance = 1e-5)  # seen 1.1e-7 (mean relative)
  # the one-level table too; with || the zero covariance is not listed
  data("sleepstudy", package = "lme4")
  g1 <- glamm(Reaction ~ Days + (1 + Days | Subject), data = sleepstudy)
  m1 <- lme4::lmer(Reaction ~ Days + (1 + Days | Subject), data = sleepstudy, REML = FALSE,
                   control = lme4::lmerControl(optimizer = "bobyqa",
                                               optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
  a1 <- as.data.frame(VarCorr(g1))
  b1 <- as.data.frame(lme4::VarCorr(m1))
  expect_identical(a1[, 1:3], b1[, 1:3])
  expect_equal(a1$vcov, b1$vcov, tolerance = 1e-5)  # seen 9.6e-8 (mean relative)
  g2 <- glamm(Reaction ~ Days + (1 + Days || Subject), data = sleepstudy)
  expect_identical(as.data.frame(VarCorr(g2))$var2, rep(NA_character_, 3))
})

test_that("coef() gives one table per level: the fixed effects plus that level's effects", {
  cf <- coef(fb)
  expect_named(cf, c("class:school", "school"))
  for (g in names(cf)) {
    b <- ranef(fb)[[g]]
    expect_identical(rownames(cf[[g]]), rownames(b))
    expect_equal(cf[[g]][["(Intercept)"]], fixef(fb)[[1]] + b[["(Intercept)"]], tolerance = 1e-14)  # seen 0
    expect_equal(cf[[g]]$x, rep(fixef(fb)[["x"]], nrow(b)), tolerance = 1e-14)  # seen 0
  }
  cg <- coef(fg)$school
  expect_equal(cg$x, fixef(fg)[["x"]] + ranef(fg)$school$x, tolerance = 1e-14)  # seen 0
})

# ---- ranef ------------------------------------------------------------------------

test_that("ranef: one table per level; gaussian EB means and modes equal lmer's conditional modes", {
  skip_if_not_installed("lme4")
  m <- lme4::lmer(y ~ x + (1 + x | school) + (1 | school:class), data = nm_gauss, REML = FALSE,
                  control = lme4::lmerControl(optimizer = "bobyqa",
                                              optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
  rl <- lme4::ranef(m, condVar = TRUE)
  for (g in c("school:class", "school")) {
    expect_lt(ranef_gap(ranef(fg)[[g]], rl[[g]]), 1e-6)  # seen 5.2e-8 (class), 7.4e-8 (school)
    expect_lt(ranef_gap(ranef(fg, type = "mode")[[g]], rl[[g]]), 1e-6)  # the same (mean = mode)
    pv <- attr(ranef(fg)[[g]], "postVar")
    pl <- attr(rl[[g]], "postVar")[, , match(dimnames(pv)[[3]], rownames(rl[[g]])), drop = FALSE]
    expect_lt(max(abs(pv - pl)), 1e-6)  # seen 6.9e-9 (class), 7.0e-9 (school)
  }
  r <- ranef(fg)
  expect_named(r, c("school:class", "school"))
  expect_identical(dim(attr(r$school, "postVar")), c(2L, 2L, 20L))
  long <- as.data.frame(r)
  expect_identical(unique(long$grpvar), c("school:class", "school"))
  expect_equal(nrow(long), 60 + 2 * 20)
  expect_equal(long$condsd[long$grpvar == "school" & long$term == "x"],
               unname(sqrt(attr(r$school, "postVar")[2, 2, ])), tolerance = 1e-14)  # seen 0
  expect_output(print(r), "\\$school:class")
  pdf(NULL)
  on.exit(dev.off())
  expect_invisible(plot(r))  # three panels: class intercept, school intercept, school slope
})

test_that("binomial Laplace: modes and predictions equal lme4's at glamm's own optimum", {
  skip_if_not_installed("lme4")
  form <- y ~ x + (1 + x | school) + (1 | school:class)
  f1 <- glamm(form, data = nm_binary, family = binomial, nAGQ = 1)
  m <- glmer_at(f1, form, nm_binary)
  expect_equal(unname(lme4::getME(m, "theta")), f1$theta)  # seen 0
  rl <- lme4::ranef(m, condVar = TRUE)
  for (g in names(rl)) {
    expect_lt(ranef_gap(ranef(f1, type = "mode")[[g]], rl[[g]]), 1e-8)  # seen 1.5e-12, 2.6e-12
    # at nAGQ = 1 the EB mean is the mode
    expect_lt(ranef_gap(ranef(f1)[[g]], rl[[g]]), 1e-8)  # seen 1.5e-12, 2.6e-12
    # lme4's condVar uses its last PIRLS weights: seen 7.6e-7 (class), 6.1e-7 (school)
    pv <- attr(ranef(f1, type = "mode")[[g]], "postVar")
    pl <- attr(rl[[g]], "postVar")[, , match(dimnames(pv)[[3]], rownames(rl[[g]])), drop = FALSE]
    expect_lt(max(abs(pv - pl)), 1e-5)
  }
  for (rf in list(NULL, ~ (1 | school), ~ (1 + x | school), ~ (1 | school:class),
                  ~ (1 | class:school), NA)) {
    lf <- if (identical(rf, ~ (1 | class:school))) ~ (1 | school:class) else rf
    expect_lt(max(abs(predict(f1, re.form = rf) - predict(m, re.form = lf))), 1e-9)  # seen <= 6.1e-12
    expect_lt(max(abs(predict(f1, re.form = rf, type = "response") -
                        predict(m, re.form = lf, type = "response"))), 1e-9)  # seen <= 5.9e-13
  }
  # new data with a new class in a known school and a new school
  nd <- nm_binary[c(1, 20, 40), c("x", "school", "class")]
  nd$school <- as.character(nd$school)
  nd$class <- as.character(nd$class)
  nd$class[2] <- "9"
  nd$school[3] <- "99"
  expect_lt(max(abs(predict(f1, nd, allow.new.levels = TRUE) -
                      predict(m, nd, allow.new.levels = TRUE))), 1e-9)  # seen 3.3e-16
})

test_that("ranef(type = 'ml') of a level uses the other levels' EB effects as an offset", {
  r <- ranef(fb, type = "ml")
  expect_named(r, c("class:school", "school"))
  d <- nm_binary
  eta_fix <- fixef(fb)[[1]] + fixef(fb)[["x"]] * d$x
  cls <- paste(d$class, d$school, sep = ":")
  b_class <- ranef(fb)$`class:school`[cls, 1]
  b_school <- ranef(fb)$school[as.character(d$school), 1]
  # a class: its rows with the fixed part and its school's EB effect as offset
  j <- rownames(r$`class:school`)[which(!is.na(r$`class:school`[, 1]))[1]]
  i <- cls == j
  g <- glm(d$y[i] ~ 1, family = binomial, offset = eta_fix[i] + b_school[i])
  expect_equal(r$`class:school`[j, 1], unname(coef(g)), tolerance = 1e-6)  # seen 0 (the same IRLS)
  # a school: the fixed part and its classes' EB effects as offset
  k <- rownames(r$school)[which(!is.na(r$school[, 1]))[1]]
  i <- as.character(d$school) == k
  g <- glm(d$y[i] ~ 1, family = binomial, offset = eta_fix[i] + b_class[i])
  expect_equal(r$school[k, 1], unname(coef(g)), tolerance = 1e-6)  # seen 0
  expect_equal(attr(r$school, "postVar")[1, 1, k], vcov(g)[1, 1], tolerance = 1e-6)  # seen 0
  # classes of 5 binary responses are often all 0 or all 1: NA with a reason
  reason <- attr(r$`class:school`, "reason")
  expect_identical(unname(is.na(reason)), !is.na(r$`class:school`[, 1]))
})

# ---- predict ------------------------------------------------------------------------

test_that("predictions: fixed part plus the EB effects of the levels that re.form names", {
  d <- nm_binary
  eta_fix <- fixef(fb)[[1]] + fixef(fb)[["x"]] * d$x
  cls <- paste(d$class, d$school, sep = ":")
  b_class <- ranef(fb)$`class:school`[cls, 1]
  b_school <- ranef(fb)$school[as.character(d$school), 1]
  expect_equal(unname(predict(fb)), eta_fix + b_class + b_school, tolerance = 1e-12)  # seen 0
  expect_equal(unname(predict(fb, re.form = ~ (1 | school))), eta_fix + b_school,
               tolerance = 1e-12)  # seen 0
  expect_equal(unname(predict(fb, re.form = ~ (1 | school:class))), eta_fix + b_class,
               tolerance = 1e-12)  # seen 0
  expect_equal(unname(predict(fb, re.form = ~ (1 | school/class))), unname(predict(fb)),
               tolerance = 1e-15)  # seen 0
  expect_equal(unname(predict(fb, re.form = ~0)), eta_fix, tolerance = 1e-12)  # seen 0
  expect_equal(unname(fitted(fb)), plogis(eta_fix + b_class + b_school), tolerance = 1e-12)  # seen 2.2e-16
  expect_equal(unname(residuals(fb)), d$y - plogis(eta_fix + b_class + b_school),
               tolerance = 1e-12)  # seen 2.2e-16
  # conditional SE: fixed part plus the posterior variances of both levels
  X <- cbind(1, d$x)
  pv_c <- attr(ranef(fb)$`class:school`, "postVar")[1, 1, cls]
  pv_s <- attr(ranef(fb)$school, "postVar")[1, 1, as.character(d$school)]
  se_fix <- rowSums((X %*% vcov(fb)) * X)
  expect_equal(unname(predict(fb, se.fit = TRUE)$se.fit), unname(sqrt(se_fix + pv_c + pv_s)),
               tolerance = 1e-12)  # seen 2.2e-16
  expect_equal(unname(predict(fb, re.form = ~ (1 | school), se.fit = TRUE)$se.fit),
               unname(sqrt(se_fix + pv_s)), tolerance = 1e-12)  # seen 1.1e-16
  # the fit's own rows as new data
  rows <- c(1, 77, 150, 300)
  for (rf in list(NULL, ~ (1 | school), NA)) {
    expect_equal(unname(predict(fb, d[rows, ], re.form = rf, se.fit = TRUE)$se.fit),
                 unname(predict(fb, re.form = rf, se.fit = TRUE)$se.fit[rows]), tolerance = 1e-12)  # seen 0
    expect_equal(unname(predict(fb, d[rows, ], re.form = rf)), unname(predict(fb, re.form = rf)[rows]),
                 tolerance = 1e-12)  # seen 0
  }
})

test_that("new levels at any level; newdata needs only the grouping variables used", {
  d <- nm_binary
  nd <- data.frame(x = c(0.3, -1, 2), school = c("1", "1", "77"), class = c("1", "9", "1"))
  expect_error(predict(fb, nd), "not in the fit \\(e\\.g\\. class:school = 9:1\\)")
  got <- predict(fb, nd, allow.new.levels = TRUE)
  school_only <- predict(fb, nd, re.form = ~ (1 | school), allow.new.levels = TRUE)
  none <- predict(fb, nd, re.form = NA)
  # row 1: a known class; row 2: a new class of a known school; row 3: a new school
  expect_equal(unname(got[1]), unname(predict(fb)[which(d$school == "1" & d$class == "1")[1]] -
                                        fixef(fb)[["x"]] * (d$x[1] - 0.3)), tolerance = 1e-12)  # seen 8.3e-17
  expect_equal(unname(got[2]), unname(school_only[2]), tolerance = 1e-15)  # seen 0
  expect_equal(unname(got[3]), unname(none[3]), tolerance = 1e-15)  # seen 0
  # the SE of a new class uses the class variance
  se <- predict(fb, nd, allow.new.levels = TRUE, se.fit = TRUE)$se.fit
  se_s <- predict(fb, nd, re.form = ~ (1 | school), allow.new.levels = TRUE, se.fit = TRUE)$se.fit
  expect_equal(unname(se[2]^2 - se_s[2]^2), fb$groups$`class:school`$Sigma[1, 1], tolerance = 1e-12)  # seen 2.2e-16
  # grouping variables: only those of the levels used
  expect_error(predict(fb, nd[, c("x", "school")]), "grouping variable class of class:school")
  expect_equal(predict(fb, nd[, c("x", "school")], re.form = ~ (1 | school),
                       allow.new.levels = TRUE), school_only, tolerance = 1e-15)  # seen 0
  expect_equal(predict(fb, nd[, "x", drop = FALSE], re.form = NA), none, tolerance = 1e-15)  # seen 0
  expect_length(predict(fb, nd[, "x", drop = FALSE], type = "response", marginal = TRUE), 3)
  # bad re.form
  expect_error(predict(fb, re.form = ~ (1 | x)), "re.form.*not one of the model's")
  expect_error(predict(fb, re.form = ~ (1 + x | school)), "x is not a random effect of school")
  expect_error(predict(fb, re.form = "school"), "re.form")
  expect_error(predict(fb, type = "response", marginal = TRUE, re.form = ~ (1 | school)),
               "every level")
})

test_that("marginal predictions integrate over both levels, with delta-method SEs", {
  nd <- data.frame(x = c(-1, 0.5, 2))
  got <- predict(fb, nd, type = "response", marginal = TRUE, se.fit = TRUE)
  # reference: the two-dimensional integral over the class and school effects
  marg <- function(par) {
    eta <- par[1] + par[2] * nd$x
    vapply(eta, function(e) {
      stats::integrate(function(bs) vapply(bs, function(b2) {
        stats::integrate(function(bc) plogis(e + b2 + par[3] * bc) * dnorm(bc), -Inf, Inf,
                         rel.tol = 1e-12)$value
      }, 0) * dnorm(bs / par[4]) / par[4], -Inf, Inf, rel.tol = 1e-12)$value
    }, 0)
  }
  par <- fb$par[1:4]  # beta0, beta1, theta (class), theta (school)
  expect_equal(unname(got$fit), marg(par), tolerance = 1e-8)  # seen 2.8e-16
  J <- glamm:::numeric_jacobian(marg, unname(par), h = 1e-4)
  se_ref <- sqrt(rowSums((J %*% fb$vcov_par[1:4, 1:4]) * J))
  expect_equal(unname(got$se.fit), se_ref, tolerance = 1e-6)  # seen 7.9e-10 (relative)
  # with a random slope: v = z' Sigma_school z + Sigma_class
  nd2 <- data.frame(x = c(-1, 2))
  v <- fg$groups$school$Sigma[1, 1] + 2 * nd2$x * fg$groups$school$Sigma[1, 2] +
    nd2$x^2 * fg$groups$school$Sigma[2, 2] + fg$groups$`school:class`$Sigma[1, 1]
  expect_equal(glamm:::random_sd(glamm:::re_groups(fg),
                                 glamm:::prediction_design(fg, nd2, FALSE, FALSE)), sqrt(v),
               tolerance = 1e-14)  # seen 0
  # gaussian: the marginal mean is the fixed part, its SE the fixed part's
  pg <- predict(fg, nd2, type = "response", marginal = TRUE, se.fit = TRUE)
  pf <- predict(fg, nd2, re.form = NA, se.fit = TRUE)
  expect_equal(unname(pg$fit), unname(pf$fit), tolerance = 1e-14)        # seen 0
  expect_equal(unname(pg$se.fit), unname(pf$se.fit), tolerance = 1e-14)  # seen 0
  # the marginal survival of one period is one minus the marginal probability
  sc <- survival_curve(fb, nd[1, , drop = FALSE], nquad = 30)
  expect_equal(sc$marginal, 1 - unname(got$fit[1]), tolerance = 1e-8)  # seen 1.8e-13
})

test_that("posterior variances are gathered row by row (O(n)), as the loop over clusters did", {
  # slow reference: the previous release's loop over clusters with which()
  slow_var <- function(Z, idx, C, Sigma) {
    v <- rowSums((Z %*% Sigma) * Z)
    for (j in unique(idx[!is.na(idx)])) {
      rows <- which(idx == j)
      Zj <- Z[rows, , drop = FALSE]
      v[rows] <- rowSums((Zj %*% C[, , j]) * Zj)
    }
    v
  }
  for (l in 1:2) {
    gr <- glamm:::fit_level_designs(fg, fg$groups)[[l]]
    idx <- as.integer(gr$factor)
    idx[c(3, 50, 200)] <- NA  # rows of new clusters: the prior covariance
    fast <- glamm:::posterior_var_z(gr$Z, gr$ranef$cov, idx, gr$Sigma)
    expect_equal(fast, slow_var(gr$Z, idx, gr$ranef$cov, gr$Sigma), tolerance = 1e-13)  # seen <= 5.6e-17
  }
  # three random effects at a level (a full covariance, all six products)
  set.seed(7)
  q <- 3
  J <- 15
  Z <- cbind(1, matrix(rnorm(200 * 2), 200))
  idx <- sample(J, 200, TRUE)
  C <- array(0, c(q, q, J))
  for (j in seq_len(J)) {
    A <- matrix(rnorm(9), 3)
    C[, , j] <- crossprod(A)
  }
  S <- crossprod(matrix(rnorm(9), 3))
  expect_equal(glamm:::posterior_var_z(Z, C, idx, S), slow_var(Z, idx, C, S), tolerance = 1e-13)  # seen 1.4e-14 (values ~ 100)
  # predict's SE uses it for every level: gaussian fit with a slope at the school level
  X <- cbind(1, nm_gauss$x)
  ref <- rowSums((X %*% vcov(fg)) * X)
  for (gr in glamm:::fit_level_designs(fg, fg$groups)) {
    ref <- ref + slow_var(gr$Z, as.integer(gr$factor), gr$ranef$cov, gr$Sigma)
  }
  expect_equal(unname(predict(fg, se.fit = TRUE)$se.fit), sqrt(ref), tolerance = 1e-13)  # seen 1.1e-16
})

test_that("predictions of a three-level gaussian fit equal lmer's for every re.form", {
  skip_if_not_installed("lme4")
  m <- lme4::lmer(y ~ x + (1 + x | school) + (1 | school:class), data = nm_gauss, REML = FALSE,
                  control = lme4::lmerControl(optimizer = "bobyqa",
                                              optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
  for (rf in list(NULL, ~ (1 | school), ~ (1 + x | school), ~ (1 | school:class), NA)) {
    expect_lt(max(abs(predict(fg, re.form = rf) - predict(m, re.form = rf))), 1e-6)  # seen <= 1.7e-7
  }
  nd <- data.frame(x = c(0.5, -1, 1), school = c("2", "2", "50"), class = c("3", "7", "1"))
  expect_lt(max(abs(predict(fg, nd, allow.new.levels = TRUE) -
                      predict(m, nd, allow.new.levels = TRUE))), 1e-6)  # seen 6.5e-8
})

# ---- icc ------------------------------------------------------------------------------

test_that("icc: one row per level, (v_l + ... + v_L) / (v_1 + ... + v_L + residual)", {
  r <- icc(fb)
  vc <- fb$groups$`class:school`$Sigma[1, 1]
  vs <- fb$groups$school$Sigma[1, 1]
  tot <- vc + vs + pi^2 / 3
  expect_identical(r$level, c("class:school", "school"))
  expect_identical(names(r), c("level", "variance", "residual", "icc"))
  expect_equal(r$variance, c(vc, vs), tolerance = 1e-15)  # seen 0
  expect_equal(r$residual, rep(pi^2 / 3, 2), tolerance = 1e-15)  # seen 0
  expect_equal(r$icc, c((vc + vs) / tot, vs / tot), tolerance = 1e-14)  # seen 0
  # gaussian with a random slope at the school level: per row of newdata and level
  expect_error(icc(fg), "newdata")
  nd <- data.frame(x = c(0, 1.5))
  rg <- icc(fg, nd)
  expect_identical(rg$row, c(1L, 1L, 2L, 2L))
  S <- fg$groups$school$Sigma
  v_s <- c(S[1, 1], S[1, 1] + 3 * S[1, 2] + 2.25 * S[2, 2])
  v_c <- rep(fg$groups$`school:class`$Sigma[1, 1], 2)
  tot <- v_s + v_c + fg$sigma^2
  expect_equal(rg$variance, c(rbind(v_c, v_s)), tolerance = 1e-14)  # seen 0
  expect_equal(rg$icc, c(rbind((v_c + v_s) / tot, v_s / tot)), tolerance = 1e-14)  # seen 0
  # four levels, intercepts only
  d4 <- sim_nested(5, gaussian, sizes = c(8, 2, 2, 3), names = c("a", "b", "c"),
                   sds = c(0.5, 0.6, 0.7), sigma = 0.8)
  f4 <- glamm(y ~ x + (1 | a/b/c), data = d4, family = gaussian)
  v <- vapply(f4$groups, function(gr) gr$Sigma[1, 1], 0)
  expect_equal(icc(f4)$icc, unname(rev(cumsum(rev(v))) / (sum(v) + f4$sigma^2)),
               tolerance = 1e-14)  # seen 0
})

# ---- simulate ---------------------------------------------------------------------------

test_that("simulate draws new effects at every level (NA) or keeps the EB ones (NULL, some levels)", {
  nsim <- 400
  d <- nm_gauss
  # rows of the same class, of the same school (other classes), of other schools
  key_c <- paste(d$school, d$class)
  pairs <- function(same_class, same_school) {
    ij <- which(outer(key_c, key_c, "==") == same_class & outer(d$school, d$school, "==") ==
                  same_school & upper.tri(diag(nrow(d))), arr.ind = TRUE)
    ij[seq(1, nrow(ij), length.out = min(nrow(ij), 400)), ]
  }
  pc <- pairs(TRUE, TRUE)
  ps <- pairs(FALSE, TRUE)
  po <- pairs(FALSE, FALSE)
  mean_cov <- function(Y, ij) {
    Y <- Y - rowMeans(Y)
    mean(rowSums(Y[ij[, 1], ] * Y[ij[, 2], ]) / (ncol(Y) - 1))
  }
  # at x = 0 the school part has variance Sigma_school[1, 1]; use the covariance of
  # the residual responses after removing the fixed part and the school slope's share
  vc <- fg$groups$`school:class`$Sigma[1, 1]
  S <- fg$groups$school$Sigma
  zs <- function(ij) S[1, 1] + S[1, 2] * (d$x[ij[, 1]] + d$x[ij[, 2]]) + S[2, 2] * d$x[ij[, 1]] * d$x[ij[, 2]]
  Y <- as.matrix(simulate(fg, nsim = nsim, seed = 1))
  # Monte Carlo error of a mean covariance over 400 draws of 60 classes and 20 schools:
  # a few hundredths (fixed seeds)
  expect_lt(abs(mean_cov(Y, pc) - mean(vc + zs(pc))), 0.15)  # seen 0.037
  expect_lt(abs(mean_cov(Y, ps) - mean(zs(ps))), 0.15)       # seen 0.034
  expect_lt(abs(mean_cov(Y, po)), 0.15)                      # seen 0.0006
  # with the school effects kept at their EB values, classes of a school are independent
  Ys <- as.matrix(simulate(fg, nsim = nsim, seed = 2, re.form = ~ (1 + x | school)))
  expect_lt(abs(mean_cov(Ys, pc) - vc), 0.15)  # seen 0.0014
  expect_lt(abs(mean_cov(Ys, ps)), 0.15)       # seen 0.0008
  expect_lt(max(abs(rowMeans(Ys) - predict(fg, re.form = ~ (1 + x | school)))),
            5 * sqrt((vc + fg$sigma^2) / nsim))  # seen 0.13 < 0.26
  # with every level at the EB values only the residual is drawn
  Yn <- as.matrix(simulate(fg, nsim = nsim, seed = 3, re.form = NULL))
  expect_lt(abs(mean_cov(Yn, pc)), 0.15)  # seen 0.005
  expect_lt(max(abs(rowMeans(Yn) - fitted(fg))), 5 * fg$sigma / sqrt(nsim))  # seen 0.16 < 0.24
  # the draws: at each level, innermost first, J x q standard normals times Lambda'
  set.seed(9)
  eta <- drop(glamm:::fit_data(fg)$X %*% fixef(fg))
  for (gr in glamm:::fit_level_designs(fg, fg$groups)) {
    b <- matrix(rnorm(nlevels(gr$factor) * ncol(gr$Z)), ncol = ncol(gr$Z)) %*% t(gr$lambda)
    eta <- eta + rowSums(gr$Z * b[as.integer(gr$factor), , drop = FALSE])
  }
  ref <- rnorm(nrow(d), eta, fg$sigma)
  expect_equal(simulate(fg, seed = 9)$sim_1, ref, tolerance = 1e-14)  # seen 0
  expect_error(simulate(fg, re.form = ~ (1 | school)), "whole levels")
  sb <- simulate(fb, nsim = 2, seed = 4)
  expect_true(all(unlist(sb) %in% 0:1))
})

# ---- anova, confint, logLik, loglik_function, plots -------------------------------------

test_that("anova, confint, logLik and loglik_function work for nested fits", {
  f2 <- glamm(y ~ x + (1 | school), data = nm_binary, family = binomial)
  a <- anova(f2, fb)
  expect_equal(a$Df[2], 1)
  expect_equal(a$Chisq[2], 2 * (as.numeric(logLik(fb)) - as.numeric(logLik(f2))), tolerance = 1e-12)  # seen 0
  expect_gt(a$Chisq[2], 0)
  expect_identical(rownames(a), c("f2", "fb"))
  ci <- confint(fb, "all")
  expect_identical(rownames(ci), c("(Intercept)", "x", "var((Intercept)|class:school)",
                                   "var((Intercept)|school)"))
  expect_equal(unname(ci[3, ]), fb$varcomp$estimate[1] + c(-1, 1) * qnorm(0.975) *
                 fb$varcomp$std.error[1], tolerance = 1e-12)  # seen 0
  expect_equal(attr(logLik(fb), "df"), 4)
  f <- loglik_function(fb)
  expect_equal(as.numeric(f(fb$par)), as.numeric(logLik(fb)), tolerance = 1e-10)  # seen 2.8e-14
  expect_lt(max(abs(attr(f(fb$par, gradient = TRUE), "gradient"))), 1e-3)  # seen 2.8e-6
  # another number of points by level
  expect_lt(abs(as.numeric(loglik_function(fb, nAGQ = c(class = 21, school = 21))(fb$par)) -
                  as.numeric(logLik(fb))), 1e-3)  # seen 1.1e-7
  pdf(NULL)
  on.exit(dev.off())
  expect_invisible(plot(fb))
  cur <- plot_predictions(fb, "x")
  expect_true(all(cur$marginal > 0 & cur$marginal < 1))
})

test_that("glamm.fit with a list of levels: the methods read the levels by name", {
  d <- nm_binary
  one <- matrix(1, nrow(d), 1, dimnames = list(NULL, "(Intercept)"))
  X <- cbind(`(Intercept)` = 1, x = d$x)
  g <- glamm.fit(d$y, X, family = binomial(), re = list(
    list(Z = one, group = d$school, name = "school"),
    list(Z = one, group = interaction(d$school, d$class), name = "class")))
  expect_equal(as.numeric(logLik(g)), as.numeric(logLik(fb)), tolerance = 1e-8)  # seen 0
  expect_named(VarCorr(g), c("class", "school"))
  expect_named(ranef(g), c("class", "school"))
  expect_equal(unname(predict(g, re.form = ~ (1 | school))),
               unname(predict(fb, re.form = ~ (1 | school))), tolerance = 1e-6)  # seen 0
  expect_equal(icc(g)$icc, icc(fb)$icc, tolerance = 1e-6)  # seen 0
  expect_output(print(g), "groups:  class, 60; school, 20", fixed = TRUE)
})

test_that("ordinal nested fits: category probabilities, conditional and marginal", {
  d <- nm_binary
  set.seed(2)
  d$r <- cut(qlogis(pmin(pmax(plogis(d$x + rnorm(300)), 1e-3), 1 - 1e-3)) +
               rnorm(20)[as.integer(d$school)], c(-Inf, -1, 0.5, Inf), labels = c("lo", "mid", "hi"),
             ordered_result = TRUE)
  fo <- glamm(r ~ x + (1 | school/class), data = d, family = ordinal, nAGQ = 3)
  P <- predict(fo, type = "response")
  expect_equal(unname(rowSums(P)), rep(1, 300), tolerance = 1e-12)  # seen 1.1e-16
  tau <- fo$thresholds$estimate
  eta <- predict(fo)
  expect_equal(unname(P[, 1]), plogis(tau[1] - unname(eta)), tolerance = 1e-12)  # seen 0
  Pm <- predict(fo, d[1:3, ], type = "response", marginal = TRUE)
  s <- sqrt(sum(vapply(fo$groups, function(gr) gr$Sigma[1, 1], 0)))
  e1 <- fixef(fo)[["x"]] * d$x[1]
  ref <- stats::integrate(function(z) plogis(tau[1] - e1 - s * z) * dnorm(z), -Inf, Inf,
                          rel.tol = 1e-12)$value
  expect_equal(unname(Pm[1, 1]), ref, tolerance = 1e-8)  # seen 2e-13
})
