# Conditional predictions (with empirical Bayes random effects or with them at
# zero), new data, factors, offsets, and the Figure-1 facts of the PISA
# reference analysis (/work/shared/reference/pisa-table1.md).

d <- pisa2000
d$SES <- (d$isei - mean(d$isei)) / 20
d$SESj <- ave(d$SES, d$id_school)
fit <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
               (1 | id_school), data = d, family = binomial, nAGQ = 12)
X <- model.matrix(~ SESj + female + SES + high_school + college + test_lang, d)
b_eb <- ranef(fit)$id_school[as.character(d$id_school), "(Intercept)"]

test_that("re.form = NA gives X beta on the link scale, plogis of it on the response scale", {
  eta0 <- unname(drop(X %*% fixef(fit)))
  expect_equal(unname(predict(fit, re.form = NA)), eta0, tolerance = 1e-12)  # seen 0
  expect_equal(unname(predict(fit, re.form = ~0)), eta0, tolerance = 1e-12)  # seen 0
  expect_equal(unname(predict(fit, type = "response", re.form = NA)), plogis(eta0),
               tolerance = 1e-12)  # seen 0
})

test_that("re.form = NULL adds the empirical Bayes random effects of each row's school", {
  expect_false(anyNA(b_eb))
  eta <- unname(drop(X %*% fixef(fit))) + b_eb
  expect_equal(unname(predict(fit)), eta, tolerance = 1e-12)  # seen 0
  expect_equal(unname(predict(fit, type = "response")), plogis(eta), tolerance = 1e-12)  # seen 0
  expect_equal(unname(fitted(fit)), plogis(eta), tolerance = 1e-12)  # seen 0
  # SE: fixed part plus the posterior variance of the school's effect
  V <- vcov(fit)
  condsd <- attr(ranef(fit)$id_school, "postVar")[1, 1, as.character(d$id_school)]
  se <- predict(fit, se.fit = TRUE)$se.fit
  expect_equal(unname(se), unname(sqrt(rowSums((X %*% V) * X) + condsd)), tolerance = 1e-10)  # seen 3e-16
})

test_that("conditional SEs include the posterior variance with the Laplace approximation too", {
  f1 <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
                (1 | id_school), data = d, family = binomial, nAGQ = 1)
  se_cond <- predict(f1, se.fit = TRUE)$se.fit
  se_fixed <- predict(f1, re.form = NA, se.fit = TRUE)$se.fit
  condvar <- attr(ranef(f1, type = "mode")$id_school, "postVar")[1, 1, as.character(d$id_school)]
  # with nAGQ = 1 the EB posterior is the Gaussian at the mode
  expect_equal(unname(se_cond), unname(sqrt(se_fixed^2 + condvar)), tolerance = 1e-6)
})

test_that("newdata with known schools reproduces the in-sample predictions", {
  rows <- c(1, 50, 700, 1500, 2069)
  nd <- d[rows, ]
  expect_equal(predict(fit, nd), predict(fit)[rows], tolerance = 1e-12, ignore_attr = TRUE)  # seen 0
  expect_equal(predict(fit, nd, type = "response"), predict(fit, type = "response")[rows],
               tolerance = 1e-12, ignore_attr = TRUE)  # seen 0
  # rows in another order, the school as a character
  nd2 <- nd[5:1, ]
  nd2$id_school <- as.character(nd2$id_school)
  expect_equal(unname(predict(fit, nd2)), unname(predict(fit)[rev(rows)]), tolerance = 1e-12)  # seen 0
})

test_that("a new school errors unless allow.new.levels = TRUE, which gives re.form = NA", {
  nd <- d[1:3, ]
  nd$id_school <- c(1e6, d$id_school[1], 1e6 + 1)
  expect_error(predict(fit, nd), "not in the fit")
  got <- predict(fit, nd, allow.new.levels = TRUE)
  ref <- predict(fit, nd, re.form = NA)
  expect_equal(unname(got[c(1, 3)]), unname(ref[c(1, 3)]), tolerance = 1e-12)  # seen 0
  expect_equal(unname(got[2]), unname(predict(fit)[2]), tolerance = 1e-12)  # seen 0
  # re.form = NA and marginal predictions need no school at all
  nd$id_school <- NULL
  expect_equal(unname(predict(fit, nd, re.form = NA)), unname(ref), tolerance = 1e-12)  # seen 0
  expect_error(predict(fit, nd))
  expect_length(predict(fit, nd, type = "response", marginal = TRUE), 3)
})

test_that("marginal predictions on the link scale are refused; bad re.form is refused", {
  expect_error(predict(fit, d[1:2, ], type = "link", marginal = TRUE), "response")
  # (re.form = ~ (1 | id_school) is valid since nested levels, as in lme4: a
  # formula naming a factor that is not a grouping factor of the model is bad)
  expect_error(predict(fit, d[1:2, ], re.form = ~ (1 | female)), "re.form")
  expect_error(predict(fit, d[1:2, ], re.form = ~ female), "re.form")
})

test_that("factor covariates in newdata are handled as glm does", {
  set.seed(11)
  J <- 40
  s <- data.frame(g = rep(1:J, each = 10), f = factor(sample(c("a", "b", "c"), 400, TRUE)),
                  x = rnorm(400))
  s$y <- rbinom(400, 1, plogis(-0.5 + c(a = 0, b = 0.8, c = -0.6)[as.character(s$f)] +
                                 0.5 * s$x + rnorm(J, 0, 0.7)[s$g]))
  fs <- glamm(y ~ f + x + (1 | g), data = s, family = binomial, nAGQ = 7)
  gl <- glm(y ~ f + x, data = s, family = binomial)
  nd <- data.frame(f = c("c", "c", "b"), x = c(0, 1, -1), g = 1)  # character, not all levels
  Xn <- model.matrix(delete.response(terms(gl)), model.frame(delete.response(terms(gl)), nd,
                                                             xlev = gl$xlevels))
  expect_equal(unname(predict(fs, nd, re.form = NA)), unname(drop(Xn %*% fixef(fs))),
               tolerance = 1e-12)  # seen 0
  # same rows in the fit's data
  i <- which(s$f == "c")[1:3]
  expect_equal(unname(predict(fs, s[i, ], re.form = NA)), unname(predict(fs, re.form = NA)[i]),
               tolerance = 1e-12)  # seen 0
  bad <- data.frame(f = "d", x = 0, g = 1)
  expect_error(predict(gl, bad), "new level")
  expect_error(predict(fs, bad, re.form = NA), "new level")
  expect_error(predict(fs, bad), "new level")
})

test_that("offsets, in the formula or as an argument, are used in predictions for newdata", {
  set.seed(12)
  J <- 40
  s <- data.frame(g = rep(1:J, each = 8), x = rnorm(320), t = runif(320, 0.5, 4))
  s$y <- rpois(320, s$t * exp(0.3 + 0.4 * s$x + rnorm(J, 0, 0.5)[s$g]))
  f1 <- glamm(y ~ x + offset(log(t)) + (1 | g), data = s, family = poisson, nAGQ = 7)
  f2 <- glamm(y ~ x + (1 | g), data = s, family = poisson, offset = log(t), nAGQ = 7)
  expect_equal(fixef(f1), fixef(f2), tolerance = 1e-8)  # seen 0
  nd <- data.frame(x = c(-1, 0, 2), t = c(1, 2, 10), g = c(1, 2, 3))
  for (f in list(f1, f2)) {
    eta0 <- fixef(f)[1] + fixef(f)[2] * nd$x + log(nd$t)
    expect_equal(unname(predict(f, nd, re.form = NA)), unname(eta0), tolerance = 1e-12)  # seen 0
    expect_equal(unname(predict(f, nd, type = "response", re.form = NA)), unname(exp(eta0)),
                 tolerance = 1e-12)  # seen 0
    b <- ranef(f)$g[as.character(nd$g), 1]
    expect_equal(unname(predict(f, nd)), unname(eta0 + b), tolerance = 1e-12)  # seen 0
    # in-sample: the offset of the data
    eta_in <- fixef(f)[1] + fixef(f)[2] * s$x + log(s$t) + ranef(f)$g[as.character(s$g), 1]
    expect_equal(unname(fitted(f)), unname(exp(eta_in)), tolerance = 1e-12)  # seen 0
    # marginal poisson mean: exp(eta + psi / 2)
    expect_equal(unname(predict(f, nd, type = "response", marginal = TRUE)),
                 unname(exp(eta0 + f$Sigma[1, 1] / 2)), tolerance = 1e-8)  # seen 6e-16
  }
})

test_that("gaussian marginal predictions equal the conditional ones with random effects 0", {
  set.seed(13)
  s <- data.frame(g = rep(1:30, each = 5), x = rnorm(150))
  s$y <- 1 + 2 * s$x + rnorm(30)[s$g] + rnorm(150)
  f <- glamm(y ~ x + (1 + x | g), data = s, family = gaussian)
  nd <- data.frame(x = c(-1, 0, 3))
  expect_equal(unname(predict(f, nd, type = "response", marginal = TRUE)),
               unname(fixef(f)[1] + fixef(f)[2] * nd$x), tolerance = 1e-10)  # seen 3e-16
})

# Figure 1 of the reference: boys with SES = 0, HS = 1, Coll = 0, by school-mean SES
fig_grid <- function(eng) {
  data.frame(SESj = seq(min(d$SESj), max(d$SESj), length.out = 41), female = 0, SES = 0,
             high_school = 1, college = 0, test_lang = eng)
}
cond <- lapply(0:1, function(e) predict(fit, fig_grid(e), type = "response", re.form = NA))
marg <- lapply(0:1, function(e) predict(fit, fig_grid(e), type = "response", marginal = TRUE))

test_that("Figure 1: probabilities differ by more than 0.4 between the lowest and highest SES schools", {
  for (e in 1:2) {
    p <- cond[[e]]
    expect_true(all(diff(p) > 0))
    expect_gt(p[length(p)] - p[1], 0.4)  # seen 0.418 (Eng = 0), 0.539 (Eng = 1)
  }
})

test_that("Figure 1: Eng = 1 raises the probabilities by about 0.1 in average and above-average schools", {
  sesj <- fig_grid(0)$SESj
  gap <- cond[[2]] - cond[[1]]
  at0 <- predict(fit, transform(fig_grid(1)[1, ], SESj = 0), type = "response", re.form = NA) -
    predict(fit, transform(fig_grid(0)[1, ], SESj = 0), type = "response", re.form = NA)
  expect_gt(at0, 0.05)  # seen 0.104
  expect_lt(at0, 0.15)
  above <- sesj >= 0
  expect_gt(mean(gap[above]), 0.05)  # seen 0.138
  expect_lt(mean(gap[above]), 0.15)
  expect_true(all(gap[above] > 0.05))  # seen min 0.10
  # the gap at the very highest school means reaches 0.154 (> 0.15): it is
  # bounded by the logistic ceiling tanh(beta_Eng / 4) = 0.154
  expect_true(all(gap <= tanh(fixef(fit)[["test_lang"]] / 4) + 1e-12))
})

test_that("Figure 1: marginal curves lie closer to 0.5 than the conditional ones", {
  for (e in 1:2) {
    expect_true(all(abs(marg[[e]] - 0.5) < abs(cond[[e]] - 0.5)))
  }
})

test_that("plot_predictions() draws and returns the conditional and marginal curves", {
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  cv <- plot_predictions(fit, "SESj", at = list(female = 0, SES = 0, high_school = 1, college = 0),
                         by = list(test_lang = c(0, 1)), n = 41)
  expect_s3_class(cv, "data.frame")
  expect_equal(nrow(cv), 82)
  expect_true(all(c("SESj", "test_lang", "conditional", "marginal") %in% names(cv)))
  for (e in 0:1) {
    s <- cv[cv$test_lang == e, ]
    expect_equal(s$SESj, fig_grid(e)$SESj, tolerance = 1e-12)  # seen 0
    expect_equal(unname(s$conditional), unname(cond[[e + 1]]), tolerance = 1e-12)  # seen 0
    expect_equal(unname(s$marginal), unname(marg[[e + 1]]), tolerance = 1e-12)  # seen 0
  }
})

test_that("data-dependent terms (scale, poly) are evaluated on new data as on the fit's data", {
  set.seed(1)
  d <- data.frame(g = rep(1:40, each = 10), x = rnorm(400, 5, 2), h = runif(400, 10, 20))
  d$c <- rpois(400, exp(0.3 + 0.1 * (d$x - 5) + rnorm(40)[d$g] * 0.4))
  fit <- glamm(c ~ scale(h) + poly(x, 2) + (1 + scale(x) | g), data = d, family = poisson,
               nAGQ = 3)
  rows <- c(1, 17, 250)
  # a few rows of new data would give other centres and polynomials if re-evaluated
  expect_equal(unname(predict(fit, d[rows, ])), unname(predict(fit)[rows]), tolerance = 1e-12)
  expect_equal(unname(predict(fit, d[rows, ], re.form = NA)),
               unname(predict(fit, re.form = NA)[rows]), tolerance = 1e-12)
  expect_equal(unname(predict(fit, d[rows, ], type = "response", marginal = TRUE)),
               unname(predict(fit, type = "response", marginal = TRUE)[rows]), tolerance = 1e-12)
})
