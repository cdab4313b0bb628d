# Adversarial input (issue 16), arguments: families and links, nAGQ, controls,
# start values and grids too large to allocate. Each case stops with an error
# naming the cause in the user's terms, or fits and agrees with an independent
# reference (lme4, glamm on the equivalent call). Data: helper-adversarial.R.

# ---- families and links -----------------------------------------------------------------

test_that("a family given by its name fits as the family function (glmer)", {
  fit <- glamm(y ~ x + (1 | g), data = ad, family = "binomial", nAGQ = 5)
  ref <- lme4::glmer(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = 5)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 1e-12
})

test_that("an unknown family name is an error naming it and the supported families", {
  # (was "object 'nonsense' of mode 'function' was not found")
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = "nonsense"),
               "family 'nonsense' not found.*gaussian, binomial, poisson")
})

test_that("quasi families are an error listing the supported ones", {
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = quasibinomial),
               "family 'quasibinomial' is not supported; use one of: gaussian, binomial")
  expect_error(glamm(cnt ~ x + (1 | g), data = ad, family = quasipoisson), "quasipoisson")
})

test_that("unsupported links are errors naming the link and the family's links", {
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial("cauchit")),
               "link 'cauchit' is not supported for the binomial family; use 'logit' or")
  expect_error(glamm(cnt ~ x + (1 | g), data = ad, family = poisson("sqrt")),
               "link 'sqrt' is not supported for the poisson family; use 'log'")
  expect_error(glamm(yg ~ x + (1 | g), data = ad, family = gaussian("log")),
               "link 'log' is not supported for the gaussian family")
})

test_that("a family object of the wrong kind is an error", {
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = list(family = "binomial")),
               "'family' must be a family object")
})

# ---- nAGQ -------------------------------------------------------------------------------

test_that("nAGQ = 0 (lme4's fast fit) is the Laplace approximation, with a message", {
  expect_message(fit <- glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = 0),
                 "fitted as the Laplace approximation")
  ref <- lme4::glmer(y ~ x + (1 | g), data = ad, family = binomial)
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 1e-11
})

test_that("a negative or fractional nAGQ is an error", {
  msg <- "'nAGQ' must be a whole number >= 1 \\(1 is the Laplace approximation\\)"
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = -1), msg)
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = 2.5), msg)
})

test_that("two unnamed nAGQ values for one grouping factor are an error naming it", {
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = c(3, 5)),
               "or a vector of such numbers named by grouping factor \\(g\\)")
})

test_that("nAGQ named by an unknown level of a nested model lists the valid names", {
  expect_error(glamm(y ~ x + (1 | h / g), data = ad, family = binomial, nAGQ = c(foo = 3)),
               "'nAGQ' names foo, which is not a grouping factor of the model; valid names")
})

test_that("nAGQ per level of a nested model equals the same rule given once (gaussian)", {
  # the gaussian integral is exact for any number of points
  f1 <- glamm(yg ~ x + (1 | h / g), data = ad)
  f2 <- glamm(yg ~ x + (1 | h / g), data = ad, nAGQ = c(h = 3, `g:h` = 2))
  ref <- lme4::lmer(yg ~ x + (1 | h / g), data = ad, REML = FALSE)
  expect_equal(ll(f2), ll(f1), tolerance = 1e-9)  # seen 1e-14
  expect_equal(ll(f1), as.numeric(logLik(ref)), tolerance = 1e-7)  # seen 1e-12
})

# ---- grids too large --------------------------------------------------------------------

test_that("a nested grid of 7e8 points is refused before allocation, with advice", {
  expect_error(glamm(y ~ x + (1 + x + z | h / g), data = ad, family = binomial, nAGQ = 30),
               "needs 7.29e\\+08 quadrature points per innermost cluster; use fewer points")
})

test_that("q = 3 with nAGQ = 101 exceeds nodes.max and names the control to raise", {
  expect_error(glamm(y ~ x + (1 + x + z | g), data = ad, family = binomial, nAGQ = 101),
               "1.03e\\+06 quadrature points per cluster.*glamm_control\\(nodes.max =")
})

test_that("a small nodes.max or workspace.max refuses the grid", {
  expect_error(glamm(y ~ x + (1 + x | g), data = ad, family = binomial, nAGQ = 5,
                     control = glamm_control(nodes.max = 10)),
               "needs 25 quadrature points per cluster")
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial,
                     control = glamm_control(workspace.max = 100)),
               "GB of workspace")
})

# ---- controls and start values ----------------------------------------------------------

test_that("zero threads, a negative tolerance or NA limits are errors naming the control", {
  expect_error(glamm_control(nthreads = 0), "'nthreads' must be a positive whole number")
  expect_error(glamm_control(rel.tol = -1), "'rel.tol' must be a positive number")
  expect_error(glamm_control(iter.max = NA), "'iter.max' must be a positive whole number")
})

test_that("a control that is a string is an error saying where controls come from", {
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial, control = "fast"),
               "'control' must come from glamm_control\\(\\)")
})

test_that("start with an unknown element is an error naming it", {
  # (start = list(foo = 1) was ignored without a word)
  expect_error(glamm(yg ~ x + (1 | g), data = ad, start = list(foo = 1)),
               "'start' has the unknown element\\(s\\) foo; its elements are beta, theta")
  expect_error(glamm(yg ~ x + (1 | g), data = ad, start = list(1)), "elements without names")
})

test_that("start of the wrong length is an error naming the element", {
  expect_error(glamm(yg ~ x + (1 | g), data = ad, start = list(beta = 1)),
               "start\\$beta must hold 2 finite number")
  expect_error(glamm(yg ~ x + (1 | g), data = ad, start = list(theta = c(1, 2))),
               "start\\$theta must hold 1 finite number")
})

test_that("a glamm fit as start gives the same fit, from glamm() and glamm.fit()", {
  f1 <- glamm(yg ~ x + (1 | g), data = ad, start = adv_gau)
  expect_equal(ll(f1), ll(adv_gau), tolerance = 1e-10)  # seen 0
  X <- model.matrix(~ x, ad)
  Z <- matrix(1, an, 1, dimnames = list(NULL, "(Intercept)"))
  f2 <- glamm.fit(ad$yg, X, Z, ad$g, start = adv_gau)
  expect_equal(ll(f2), ll(adv_gau), tolerance = 1e-10)  # seen 0
})

# ---- the call ---------------------------------------------------------------------------

test_that("data given as a matrix is an error", {
  expect_error(glamm(yg ~ x + (1 | g), data = as.matrix(ad[, c("yg", "x")])),
               "'data' must be a data.frame, not a matrix")
})

test_that("a formula without random effects points to glm()", {
  expect_error(glamm(yg ~ x, data = ad),
               "no random-effect term such as \\(1 \\| group\\).*glm\\(\\)")
})

test_that("REML for a binomial model is an error", {
  expect_error(glamm(y ~ x + (1 | g), data = ad, family = binomial, REML = TRUE), "REML")
})

# ---- anova(): nesting by column spaces, not by names ------------------------------------

test_that("anova(): y ~ f is nested in y ~ 0 + f + x (other names, the same space)", {
  f0 <- glamm(y ~ f + (1 | g), data = ad, family = binomial, nAGQ = 5)
  f1 <- glamm(y ~ 0 + f + x + (1 | g), data = ad, family = binomial, nAGQ = 5)
  a <- anova(f0, f1)
  expect_equal(a$Chisq[2], 2 * (ll(f1) - ll(f0)), tolerance = 1e-12)
  expect_equal(a$Df[2], 1)
})

test_that("anova(): a column of the same name but other values is not nested", {
  d <- ad
  set.seed(9)
  d$x <- rnorm(an)  # the same response, another x
  f0 <- glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = 5)
  f1 <- glamm(y ~ x + z + (1 | g), data = d, family = binomial, nAGQ = 5)
  expect_error(anova(f0, f1), "f0 has the fixed effect x, which f1 lacks \\(its x holds other")
})

test_that("anova(): a random slope on 2 x is the random slope on x", {
  d <- ad
  d$x2 <- 2 * d$x
  f0 <- suppressWarnings(glamm(yg ~ x + (1 + x | g), data = d))
  f1 <- suppressWarnings(glamm(yg ~ x + z + (1 + x2 | g), data = d))
  a <- anova(f0, f1)
  expect_equal(a$Chisq[2], 2 * (ll(f1) - ll(f0)), tolerance = 1e-12)
  f2 <- suppressWarnings(glamm(yg ~ x + z + (1 + z | g), data = d))
  expect_error(anova(f0, f2), "has the random effect x of g, which f2 lacks")
})

test_that("anova(): ordinal fits compare their designs with the thresholds as intercept", {
  d <- ad
  d$o <- cut(d$x, 3, ordered_result = TRUE)
  f0 <- glamm(o ~ z + (1 | g), data = d, family = ordinal(), nAGQ = 3)
  f1 <- glamm(o ~ z + f + (1 | g), data = d, family = ordinal(), nAGQ = 3)
  expect_equal(anova(f0, f1)$Df[2], 2)
  f2 <- glamm(o ~ f + (1 | g), data = d, family = ordinal(), nAGQ = 3)
  expect_error(anova(f0, f2), "f0 has the fixed effect z, which f2 lacks")
})

test_that("trace reports the log-likelihood and the gradient as the search goes", {
  msgs <- character()
  withCallingHandlers(
    fit <- glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = 5,
                 control = glamm_control(trace = 1)),
    message = function(m) {
      msgs <<- c(msgs, conditionMessage(m))
      invokeRestart("muffleMessage")
    })
  steps <- grep("^iteration +[0-9]+: log-likelihood .*, max \\|gradient\\| ", msgs, value = TRUE)
  expect_gt(length(steps), 2)
  # the last reported log-likelihood is the maximum's (up to the polish)
  last <- as.numeric(sub(".*log-likelihood ([^,]+),.*", "\\1", steps[length(steps)]))
  expect_lt(abs(last - fit$loglik), 1e-4)  # seen 2e-9
  expect_identical(fit$coefficients, adv_bin$coefficients)
})
