# simulate() and the bootstrap of fits with survey weights (issue 13):
# responses are simulated conditional on the design, without the weights;
# confint(method = "boot") is the design-based Rao-Wu rescaling bootstrap of
# the top-level clusters (R/bootstrap-survey.R).

boot_data <- function(seed = 7, J = 20, m = 6) {
  set.seed(seed)
  n <- J * m
  school <- rep(seq_len(J), each = m)
  x <- rnorm(n)
  data.frame(school = school, x = x,
             y = rbinom(n, 1, plogis(-0.2 + 0.6 * x + rnorm(J)[school])),
             yg = 1 + 0.5 * x + rnorm(J)[school] + rnorm(n),
             wc = runif(n, 0.5, 2), ws = runif(J, 1, 3)[school],
             stratum = rep(1:4, length.out = J)[school])
}

test_that("simulate() of a weighted fit draws from the model without the weights", {
  d <- boot_data()
  f <- glamm(y ~ x + (1 | school), data = d, family = binomial, nAGQ = 7,
             pweights = list(~ wc, school = ~ ws))
  plain <- f
  plain$survey <- NULL
  plain$vcov_model <- NULL
  expect_identical(simulate(f, nsim = 3, seed = 4), simulate(plain, nsim = 3, seed = 4))
  # the weights stay with the fit
  expect_equal(f$survey$top, d$ws)
})

test_that("Rao-Wu replicates: n_h - 1 draws per stratum, rescaled to n_h", {
  d <- boot_data()
  f <- glamm(yg ~ x + (1 | school), data = d, pweights = list(~ wc, school = ~ ws),
             strata = ~ stratum)
  reps <- glamm:::survey_replicates(f, 50, seed = 1)
  for (r in reps) {
    per_school <- tapply(r, d$school, unique)
    expect_true(is.numeric(per_school))  # constant within each school
    per_stratum <- tapply(per_school, d$stratum[!duplicated(d$school)], sum)
    # 5 schools per stratum: 4 draws times 5/4 (observed: exact up to rounding)
    expect_equal(as.numeric(per_stratum), rep(5, 4), tolerance = 1e-12)
    expect_true(all(per_school %in% (0:4 * 5 / 4)))
  }
})

test_that("the weighted bootstrap's SDs of the fixed effects match the sandwich SEs", {
  d <- boot_data()
  f <- glamm(yg ~ x + (1 | school), data = d, pweights = list(~ wc, school = ~ ws))
  refit <- glamm:::survey_refit(glamm:::make_refit(f, 1L), f)
  reps <- vapply(glamm:::survey_replicates(f, 200, seed = 1), refit, numeric(4))
  ratio <- apply(reps[3:4, ], 1, stats::sd) / sqrt(diag(vcov(f)))
  # observed: 1.07 (intercept) and 1.03 (x); Monte Carlo error about 5% at
  # 200 replicates
  expect_true(all(abs(ratio - 1) < 0.2))
  ci <- confint(f, method = "boot", nsim = 10, seed = 2)
  expect_equal(rownames(ci), c("sd((Intercept))", "sigma", "(Intercept)", "x"))
  expect_false(anyNA(ci))
  expect_true(all(ci[, 1] < ci[, 2]))
})
