# Predictions of the random effects: empirical Bayes posterior means and
# covariances, posterior modes, per-cluster ML estimates; checked against
# integrate(), optim(), glm(), closed-form gaussian BLUPs and lme4.

d <- pisa2000
d$SES <- (d$isei - mean(d$isei)) / 20
d$SESj <- ave(d$SES, d$id_school)
pisa_fit <- function(K) {
  glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
          (1 | id_school), data = d, family = binomial, nAGQ = K)
}
fit <- pisa_fit(12)
psi <- fit$Sigma[1, 1]
eta0 <- drop(model.matrix(~ SESj + female + SES + high_school + college + test_lang, d) %*%
               fixef(fit))
schools <- levels(factor(d$id_school))

# log of the likelihood times the N(0, psi) prior density of school j's effect
log_post <- function(b, j) {
  i <- as.character(d$id_school) == j
  vapply(b, function(bb) sum(dbinom(d$pass_read[i], 1, plogis(eta0[i] + bb), log = TRUE)),
         numeric(1)) + dnorm(b, 0, sqrt(psi), log = TRUE)
}

test_that("EB means and posterior SDs equal the posterior moments computed by integrate()", {
  re <- ranef(fit)$id_school
  for (j in schools[c(1, 17, 60, 120)]) {
    lmax <- log_post(ranef(fit, type = "mode")$id_school[j, 1], j)
    dens <- function(b) exp(log_post(b, j) - lmax)
    m0 <- integrate(dens, -Inf, Inf, rel.tol = 1e-12)$value
    m1 <- integrate(function(b) b * dens(b), -Inf, Inf, rel.tol = 1e-12)$value / m0
    m2 <- integrate(function(b) (b - m1)^2 * dens(b), -Inf, Inf, rel.tol = 1e-12)$value / m0
    expect_lt(abs(re[j, 1] - m1), 1e-7)  # seen 3e-11
    expect_lt(abs(attr(re, "postVar")[1, 1, j] - m2), 1e-7)  # seen 8e-11
  }
})

test_that("EB means converge as the number of quadrature points grows", {
  eb <- sapply(list(pisa_fit(3), pisa_fit(15), pisa_fit(25)),
               function(f) ranef(f)$id_school[, 1])
  d15 <- max(abs(eb[, 2] - eb[, 3]))
  d3 <- max(abs(eb[, 1] - eb[, 3]))
  expect_lt(d15, 1e-5)  # seen 4e-12
  expect_lt(d15, d3)    # seen d3 = 3.5e-3
})

test_that("posterior modes maximize each cluster's log posterior (optimize/optim)", {
  md <- ranef(fit, type = "mode")$id_school
  for (j in schools[c(2, 33, 99)]) {
    o <- optimize(function(b) log_post(b, j), c(-5, 5), maximum = TRUE, tol = 1e-10)
    expect_lt(abs(md[j, 1] - o$maximum), 1e-6)  # seen 5e-9
    # postVar of the mode: inverse negative second derivative of the log posterior
    h <- 1e-4
    d2 <- (log_post(o$maximum + h, j) - 2 * log_post(o$maximum, j) + log_post(o$maximum - h, j)) / h^2
    expect_equal(attr(md, "postVar")[1, 1, j], -1 / d2, tolerance = 1e-5)  # seen 8e-9
  }
})

test_that("posterior modes with a random slope maximize the 2-d log posterior (optim)", {
  set.seed(31)
  s <- data.frame(g = rep(1:40, each = 15), x = rnorm(600))
  s$y <- rbinom(600, 1, plogis(0.3 + 0.6 * s$x + rnorm(40, 0, 0.8)[s$g] +
                                 rnorm(40, 0, 0.5)[s$g] * s$x))
  f <- glamm(y ~ x + (1 + x | g), data = s, family = binomial, nAGQ = 5)
  Si <- solve(f$Sigma)
  md <- ranef(f, type = "mode")$g
  for (j in c(3, 25)) {
    i <- s$g == j
    e0 <- fixef(f)[1] + fixef(f)[2] * s$x[i]
    nlp <- function(b) -sum(dbinom(s$y[i], 1, plogis(e0 + b[1] + b[2] * s$x[i]), log = TRUE)) +
      0.5 * drop(t(b) %*% Si %*% b)
    o <- optim(c(0, 0), nlp, method = "BFGS", control = list(reltol = 1e-14))
    expect_lt(max(abs(unlist(md[as.character(j), ]) - o$par)), 1e-5)  # seen 1.1e-7 (optim's accuracy)
    expect_equal(unname(attr(md, "postVar")[, , as.character(j)]),
                 unname(solve(optimHess(o$par, nlp))), tolerance = 1e-5)  # seen 2e-7
  }
})

test_that("per-cluster ML estimates equal glm() with the fixed part as offset; NA with a reason", {
  ml <- ranef(fit, type = "ml")$id_school
  reason <- attr(ml, "reason")
  for (j in schools[c(1, 50, 100)]) {
    i <- as.character(d$id_school) == j
    g <- glm(d$pass_read[i] ~ 1, offset = eta0[i], family = binomial)
    expect_lt(abs(ml[j, 1] - coef(g)), 1e-6)  # seen 0
    expect_equal(attr(ml, "postVar")[1, 1, j], vcov(g)[1, 1], tolerance = 1e-6)  # seen 0
  }
  allzero <- names(which(tapply(d$pass_read, d$id_school, max) == 0))
  expect_gt(length(allzero), 0)  # seen 27 schools
  expect_true(all(is.na(ml[allzero, 1])))
  expect_match(reason[allzero], "all responses are 0")
  expect_true(all(is.na(reason[!is.na(ml[, 1])])))
})

test_that("EB means shrink the ML estimates, more so for smaller clusters", {
  set.seed(21)
  J <- 80
  nj <- rep(c(4, 8, 20, 60), each = 20)
  g <- rep(seq_len(J), nj)
  x <- rnorm(sum(nj))
  s <- data.frame(g = g, x = x, y = rbinom(sum(nj), 1, plogis(0.2 + 0.5 * x + rnorm(J, 0, 0.8)[g])))
  f <- glamm(y ~ x + (1 | g), data = s, family = binomial, nAGQ = 9)
  eb <- ranef(f)$g[, 1]
  md <- ranef(f, type = "mode")$g[, 1]
  ml <- ranef(f, type = "ml")$g[, 1]
  ok <- !is.na(ml)
  expect_gt(sum(ok), 60)  # seen 74
  # The posterior mode lies strictly between 0 and the ML estimate (log-concave
  # likelihood, normal prior).
  expect_true(all(abs(md[ok]) < abs(ml[ok])))
  expect_true(all(sign(md[ok]) == sign(ml[ok])))
  # The posterior mean too, except where the ML estimate is near 0: there the
  # skewness of the posterior can move its mean just past the ML estimate
  # (seen: ML 0.0157, EB mean 0.0168, mode 0.0114 in one cluster of 20).
  big <- ok & abs(ml) > 0.1
  expect_true(all(abs(eb[big]) < abs(ml[big])))
  ratio <- eb[big] / ml[big]
  expect_gt(cor(nj[big], ratio, method = "spearman"), 0.5)  # seen 0.97
  med <- tapply(ratio, nj[big], median)
  expect_true(all(diff(med) > 0))  # seen 0.33, 0.50, 0.71, 0.88
})

test_that("posterior SDs are positive and smaller than sqrt(psi)", {
  for (type in c("mean", "mode")) {
    sd <- as.data.frame(ranef(fit, type = type))$condsd
    expect_true(all(sd > 0))
    expect_true(all(sd < sqrt(psi)))
  }
})

test_that("posterior SDs are positive with the Laplace approximation (nAGQ = 1) too", {
  f1 <- pisa_fit(1)
  sd_mean <- as.data.frame(ranef(f1))$condsd
  sd_mode <- as.data.frame(ranef(f1, type = "mode"))$condsd
  # with one quadrature point the posterior covariance is the Laplace one (= the mode's)
  expect_true(all(sd_mean > 0))
  expect_equal(sd_mean, sd_mode, tolerance = 1e-8)
})

test_that("as.data.frame(ranef()) has the lme4 columns; plot() runs", {
  re <- ranef(fit)
  df <- as.data.frame(re)
  expect_named(df, c("grpvar", "term", "grp", "condval", "condsd"))
  expect_equal(nrow(df), length(schools))
  expect_equal(df$condval, re$id_school[, 1], ignore_attr = TRUE)
  expect_equal(df$condsd, sqrt(attr(re$id_school, "postVar")[1, 1, ]), ignore_attr = TRUE)
  expect_equal(as.character(df$grp), schools)
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  expect_silent(plot(re))
  expect_silent(plot(ranef(fit, type = "ml")))
})

test_that("gaussian: EB means and posterior covariances equal the closed-form BLUPs and lme4", {
  skip_if_not_installed("lme4")
  data("sleepstudy", package = "lme4")
  g <- glamm(Reaction ~ Days + (Days | Subject), data = sleepstudy, family = gaussian)
  # closed form at glamm's own estimates: b = P Z'(y - X beta) / s2,
  # P = (Sigma^-1 + Z'Z / s2)^-1, P the posterior covariance
  S <- g$Sigma
  s2 <- g$sigma^2
  re <- ranef(g)$Subject
  pv <- attr(re, "postVar")
  md <- ranef(g, type = "mode")$Subject
  subj <- levels(sleepstudy$Subject)
  B <- matrix(0, length(subj), 2)
  P <- array(0, c(2, 2, length(subj)))
  for (k in seq_along(subj)) {
    i <- sleepstudy$Subject == subj[k]
    Z <- cbind(1, sleepstudy$Days[i])
    P[, , k] <- solve(solve(S) + crossprod(Z) / s2)
    B[k, ] <- drop(P[, , k] %*% crossprod(Z, sleepstudy$Reaction[i] - Z %*% fixef(g))) / s2
  }
  expect_equal(unname(as.matrix(re)), B, tolerance = 1e-8)  # seen 4e-15
  expect_equal(unname(as.matrix(md)), B, tolerance = 1e-8)  # seen 4e-15
  expect_equal(c(attr(md, "postVar")), c(P), tolerance = 1e-8)  # seen 8e-17
  # the posterior covariance of the EB means: the same closed form
  expect_equal(c(pv), c(P), tolerance = 1e-8)
  # lme4 by ML with a tight optimizer: the fits agree first, then the modes
  m <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, REML = FALSE,
                  control = lme4::lmerControl(optimizer = "bobyqa",
                                              optCtrl = list(rhoend = 1e-12)))
  expect_lt(abs(as.numeric(logLik(g)) - as.numeric(logLik(m))), 1e-8)  # seen 1.1e-13
  expect_equal(unname(fixef(g)), unname(lme4::fixef(m)), tolerance = 1e-6)  # seen 7e-15
  expect_equal(unname(g$Sigma), matrix(c(lme4::VarCorr(m)$Subject), 2, 2),
               tolerance = 1e-5)  # seen 6e-7
  rm <- as.matrix(lme4::ranef(m)$Subject)
  expect_equal(unname(as.matrix(re)), unname(rm), tolerance = 1e-6)  # seen 2e-7
  pv_m <- attr(lme4::ranef(m, condVar = TRUE)$Subject, "postVar")
  expect_equal(c(attr(md, "postVar")), c(pv_m), tolerance = 1e-5)  # seen 1.1e-8
  expect_equal(c(pv), c(pv_m), tolerance = 1e-5)
})
