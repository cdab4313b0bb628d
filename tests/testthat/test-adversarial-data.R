# Adversarial input (issue 16), data: NA patterns, new data for predict(),
# nested designs with a bad structure, weights and survey weights, and
# ordinal, Gamma and nbinom2 responses out of their range. Each case stops
# with an error naming the cause, or agrees with an independent reference
# (lme4, glamm on the equivalent clean data). Data: helper-adversarial.R.

# ---- NA and non-finite values -----------------------------------------------------------

test_that("an infinite covariate is an error naming the column", {
  d <- ad
  d$x[3] <- Inf
  expect_error(glamm(yg ~ x + (1 | g), data = d), "infinite or NaN values in: x")
})

test_that("a NaN response is a missing value: the fit on the other rows (lmer)", {
  d <- ad
  d$yg[3] <- NaN
  fit <- glamm(yg ~ x + (1 | g), data = d)
  ref <- lme4::lmer(yg ~ x + (1 | g), data = d[-3, ], REML = FALSE)
  expect_equal(nobs(fit), an - 1)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 1e-14
})

test_that("a cluster whose responses are all NA drops out of the clusters", {
  d <- ad
  d$yg[d$g == 3] <- NA
  fit <- glamm(yg ~ x + (1 | g), data = d)
  ref <- lme4::lmer(yg ~ x + (1 | g), data = d[d$g != 3, ], REML = FALSE)
  expect_equal(c(nobs(fit), unname(fit$ngroups)), c(an - 5, 29))
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 1e-14
})

test_that("NA in a factor covariate drops the row (lmer)", {
  d <- ad
  d$f[4] <- NA
  fit <- glamm(yg ~ f + (1 | g), data = d)
  ref <- lme4::lmer(yg ~ f + (1 | g), data = d[-4, ], REML = FALSE)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 1e-14
})

test_that("NA in the inner grouping factor of a nested model drops the rows (lmer)", {
  d <- ad
  d$g[c(4, 50)] <- NA
  fit <- glamm(yg ~ x + (1 | h / g), data = d)
  ref <- lme4::lmer(yg ~ x + (1 | h / g), data = d[-c(4, 50), ], REML = FALSE)
  expect_equal(nobs(fit), an - 2)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 1e-13
})

test_that("an NA in a logical subset drops the row, as in lm()", {
  s <- rep(TRUE, an)
  s[3] <- NA
  fit <- glamm(yg ~ x + (1 | g), data = ad, subset = s)
  expect_equal(ll(fit), ll(glamm(yg ~ x + (1 | g), data = ad[-3, ])), tolerance = 1e-12)
})

# ---- new data ---------------------------------------------------------------------------

adv_gf <- glamm(yg ~ x + f + (1 | g), data = ad)

test_that("predict(): a character column for a factor is matched by label", {
  nd <- ad[1:6, ]
  ch <- nd
  ch$f <- as.character(ch$f)
  expect_equal(predict(adv_gf, ch), predict(adv_gf, nd), tolerance = 1e-14)  # seen 0
})

test_that("predict(): a numeric covariate given as text or factor is an error naming it", {
  nd <- ad[1:3, ]
  nd$x <- as.character(nd$x)
  expect_error(predict(adv_gf, nd), "variable 'x' was fitted with type \"numeric\"")
  nd$x <- factor(ad$x[1:3])
  expect_error(predict(adv_gf, nd), "variable 'x' was fitted with type \"numeric\"")
})

test_that("predict(): an NA covariate gives NA in its row only", {
  nd <- ad[1:3, ]
  nd$x[2] <- NA
  p <- predict(adv_gf, nd)
  expect_true(is.na(p[2]))
  expect_equal(unname(p[-2]), unname(predict(adv_gf, ad[c(1, 3), ])), tolerance = 1e-14)
})

test_that("predict(): new data as a list is an error", {
  expect_error(predict(adv_gf, as.list(ad[1:3, ])), "'newdata' must be a data frame")
})

test_that("predict(): extra and reordered columns change nothing", {
  nd <- ad[1:5, ]
  nd2 <- cbind(junk = letters[1:5], nd[, rev(names(nd))])
  expect_equal(predict(adv_gf, nd2), predict(adv_gf, nd), tolerance = 1e-14)  # seen 0
  expect_equal(unname(predict(adv_gf, nd)), unname(fitted(adv_gf)[1:5]),
               tolerance = 1e-10)  # seen 1e-15
})

# ---- nested designs with a bad structure ------------------------------------------------

test_that("crossed grouping factors fit as crossed (lmer's fit)", {
  # (an error before the sparse Laplace of crossed designs)
  fit <- glamm(yg ~ x + (1 | g) + (1 | f), data = ad)
  ref <- suppressMessages(lme4::lmer(yg ~ x + (1 | g) + (1 | f), data = ad, REML = FALSE))
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 3e-14
})

test_that("class labels reused across schools: crossed, with a message; (1 | h/c) is lmer's", {
  d <- ad
  d$c <- factor(rep(1:3, each = 5, length.out = an))  # class 1, 2, 3 in every h
  expect_message(glamm(yg ~ x + (1 | h) + (1 | c), data = d),
                 "h and c are crossed, not nested.*\\(1 \\| h/c\\)")
  fit <- glamm(yg ~ x + (1 | h / c), data = d)
  ref <- lme4::lmer(yg ~ x + (1 | h / c), data = d, REML = FALSE)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 1e-13
})

test_that("two grouping factors with the same clusters are an error", {
  d <- ad
  d$g2 <- d$g
  expect_error(glamm(yg ~ x + (1 | g2 / g), data = d), "define the same clusters")
})

test_that("(1 | h/g) and (1 | h) + (1 | h:g) are the same model", {
  f1 <- glamm(yg ~ x + (1 | h / g), data = ad)
  f2 <- glamm(yg ~ x + (1 | h) + (1 | h:g), data = ad)
  expect_equal(ll(f1), ll(f2), tolerance = 1e-12)  # seen 0
})

test_that("a nested factor with one cluster per top cluster (gaussian) is an error", {
  d <- ad
  d$hh <- d$h
  expect_error(glamm(yg ~ x + (1 | h / hh), data = d), "same clusters")
})

# ---- weights and survey weights ---------------------------------------------------------

test_that("survey weights all zero are an error", {
  # (was a fit with log-likelihood 0 and a warning about the information)
  d <- ad
  d$w0 <- 0
  expect_error(glamm(yg ~ x + (1 | g), data = d, pweights = ~ w0), "pweights\\) are all zero")
})

test_that("character survey weights are an error", {
  d <- ad
  d$wc <- "a"
  expect_error(glamm(yg ~ x + (1 | g), data = d, pweights = ~ wc), "must be numeric")
})

test_that("constant survey weights (unscaled): rows replicated, or clusters counted 3 times", {
  d <- ad
  d$w3 <- 3
  # a row weight is a power of the row's density: each row 3 times in its cluster
  rows <- glamm(yg ~ x + (1 | g), data = d, pweights = ~ w3, pweights.scale = "none")
  ref <- lme4::lmer(yg ~ x + (1 | g), data = d[rep(seq_len(an), each = 3), ], REML = FALSE)
  expect_equal(rows$loglik, as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 2e-16
  expect_equal(unname(fixef(rows)), unname(lme4::fixef(ref)), tolerance = 1e-5)  # seen 2e-9
  # a weight of the clusters multiplies the pseudo-log-likelihood
  top <- glamm(yg ~ x + (1 | g), data = d, pweights = list(g = ~ w3), pweights.scale = "none")
  expect_equal(top$loglik, 3 * ll(adv_gau), tolerance = 1e-8)  # seen 0
  expect_equal(fixef(top), fixef(adv_gau), tolerance = 1e-6)  # seen 2e-11
})

test_that("poisson weights of 2 equal each row twice in its cluster (glmmTMB)", {
  skip_if_not_installed("glmmTMB")
  # (glmer's Laplace fit of these counts stops 3e-4 short in the estimates)
  d <- ad
  fit <- glamm(cnt ~ x + (1 | g), data = d, family = poisson, nAGQ = 1, weights = rep(2, an))
  dd <- d[rep(seq_len(an), each = 2), ]
  ref <- glmmTMB::glmmTMB(cnt ~ x + (1 | g), data = dd, family = poisson)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-9)  # seen 5e-15 (relative)
  expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(ref)$cond), tolerance = 1e-5)  # 6e-8
})

# ---- ordinal, Gamma, nbinom2, poisson and binomial responses out of range ---------------

test_that("an ordinal response of two categories equals the logistic fit (glmer)", {
  fit <- glamm(factor(y) ~ x + (1 | g), data = ad, family = ordinal(), nAGQ = 5)
  ref <- lme4::glmer(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = 5)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 6e-7 (relative 2e-9)
  expect_equal(unname(fixef(fit)), unname(lme4::fixef(ref)[2]), tolerance = 1e-4)  # seen 1e-6
})

test_that("an unobserved ordinal category: dropped by glamm() as by clmm, named by glamm.fit()", {
  skip_if_not_installed("ordinal")
  d <- ad
  d$o <- factor(cut(d$x, c(-Inf, -0.5, 0.5, Inf), labels = c("lo", "mid", "hi")),
                levels = c("lo", "mid", "none", "hi"), ordered = TRUE)
  fit <- glamm(o ~ z + (1 | g), data = d, family = ordinal(), nAGQ = 3)
  ref <- ordinal::clmm(o ~ z + (1 | g), data = d, nAGQ = 3)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 1e-10
  expect_equal(unname(fit$thresholds[, "estimate"]), unname(ref$alpha),
               tolerance = 1e-5)  # seen 2e-7
  expect_identical(fit$levels, c("lo", "mid", "hi"))
  Z <- matrix(1, an, 1, dimnames = list(NULL, "(Intercept)"))
  expect_error(glamm.fit(d$o, cbind(z = d$z), Z, d$g, family = ordinal(), nAGQ = 3),
               "response category 'none' has no observations: drop it with droplevels")
})

test_that("an ordinal response given as numbers is an error", {
  d <- ad
  d$o <- as.integer(cut(d$x, 3))
  expect_error(glamm(o ~ z + (1 | g), data = d, family = ordinal()),
               "ordinal family needs an \\(ordered\\) factor response")
})

test_that("a Gamma response with a zero or a negative value is an error", {
  for (v in c(0, -1)) {
    d <- ad
    d$pos[3] <- v
    expect_error(glamm(pos ~ x + (1 | g), data = d, family = Gamma(link = "log")),
                 "Gamma response must be positive")
  }
})

test_that("nbinom2 counts that are negative, fractional or all 0 are errors", {
  d <- ad
  d$cnt[3] <- -1
  expect_error(glamm(cnt ~ x + (1 | g), data = d, family = nbinom2()), "negative counts")
  d$cnt[3] <- 1.5
  expect_error(glamm(cnt ~ x + (1 | g), data = d, family = nbinom2()), "whole numbers")
  d$cnt <- 0
  expect_error(glamm(cnt ~ x + (1 | g), data = d, family = nbinom2()), "all counts 0")
})

test_that("poisson counts that are negative or fractional are errors", {
  d <- ad
  d$cnt[3] <- 1.5
  expect_error(glamm(cnt ~ x + (1 | g), data = d, family = poisson), "whole numbers")
  d$cnt[3] <- -1
  expect_error(glamm(cnt ~ x + (1 | g), data = d, family = poisson), "negative counts")
})

test_that("binomial proportions without trials or values outside 0/1 are errors", {
  d <- ad
  d$pr <- seq(0.01, 0.99, length.out = an)
  expect_error(glamm(pr ~ x + (1 | g), data = d, family = binomial),
               "proportion \\* weights must give whole numbers")
  d$y[3] <- -1
  expect_error(glamm(y ~ x + (1 | g), data = d, family = binomial), "must be 0/1")
})
