# lme4's grouseticks (issue 16, a known open case): tick counts on 403 chicks
# (INDEX) in 118 broods in 63 locations, written as three crossed-looking
# intercepts that are nested in the data. glamm finds the nesting, and its
# Laplace fit is glmmTMB's (glmer stops short: max|grad| 0.003, a warning).

test_that("grouseticks: the nested poisson model agrees with glmmTMB, in both spellings", {
  skip_on_cran()
  skip_if_not_installed("glmmTMB")
  d <- lme4::grouseticks
  fn <- TICKS ~ YEAR + HEIGHT + (1 | LOCATION / BROOD / INDEX)
  fo <- TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)
  fit <- glamm(fn, data = d, family = poisson, nAGQ = 1)
  expect_true(fit$optinfo$converged)
  crossed <- glamm(fo, data = d, family = poisson, nAGQ = 1)
  expect_equal(ll(crossed), ll(fit), tolerance = 1e-10)  # seen 0
  # glmmTMB warns "NA/NaN function evaluation" on the way; the crossed spelling
  # is the same model and fits in 4 s (the nested one in 28 s)
  ref <- suppressWarnings(glmmTMB::glmmTMB(fo, data = d, family = poisson))
  expect_equal(ll(fit), as.numeric(logLik(ref)), tolerance = 1e-9)  # seen 1e-13 (relative)
  expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(ref)$cond),
               tolerance = 1e-5)  # seen 6e-7
  sd_tmb <- vapply(glmmTMB::VarCorr(ref)$cond, function(v) attr(v, "stddev"), 0)
  sd_glamm <- sqrt(vapply(VarCorr(fit), function(v) v[1, 1], 0))
  expect_equal(unname(sort(sd_glamm)), unname(sort(sd_tmb)), tolerance = 1e-4)  # seen 6e-6
})
