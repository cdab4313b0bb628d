# simulate(): reproducibility, moments against the fit's marginal and
# conditional means, the random-effect covariance used, and response types.

d <- pisa2000
d$SES <- (d$isei - mean(d$isei)) / 20
d$SESj <- ave(d$SES, d$id_school)
fit <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
               (1 | id_school), data = d, family = binomial, nAGQ = 12)
nsim <- 300
sim_new <- simulate(fit, nsim = nsim, seed = 1)                  # new schools' effects
sim_eb <- simulate(fit, nsim = nsim, seed = 2, re.form = NULL)   # EB effects

test_that("simulate() returns nsim columns of 0/1 responses, reproducibly with a seed", {
  expect_s3_class(sim_new, "data.frame")
  expect_equal(dim(sim_new), c(nrow(d), nsim))
  expect_equal(names(sim_new)[1:2], c("sim_1", "sim_2"))
  expect_true(all(unlist(sim_new[, 1:5]) %in% 0:1))
  s1 <- simulate(fit, nsim = 3, seed = 99)
  s2 <- simulate(fit, nsim = 3, seed = 99)
  expect_identical(s1, s2)
  expect_false(identical(s1, simulate(fit, nsim = 3, seed = 100)))
  expect_identical(simulate(fit, nsim = 2, seed = 5, re.form = NULL),
                   simulate(fit, nsim = 2, seed = 5, re.form = NULL))
})

test_that("simulated proportions match the observed one and the fit's marginal / conditional means", {
  p_new <- colMeans(sim_new)
  p_eb <- colMeans(sim_eb)
  obs <- mean(d$pass_read)
  # the observed proportion is a typical draw from the fitted model
  expect_lt(abs(obs - mean(p_new)), 3 * sd(p_new))  # seen 0.63 SD
  expect_lt(abs(obs - mean(p_eb)), 3 * sd(p_eb))    # seen 0.26 SD
  # E[mean y] = mean of the marginal predictions (new effects) or of the
  # fitted values (EB effects); Monte Carlo SE sd / sqrt(nsim)
  m_marg <- mean(predict(fit, d, type = "response", marginal = TRUE))
  expect_lt(abs(mean(p_new) - m_marg), 4 * sd(p_new) / sqrt(nsim))  # seen 0.04 MC SE
  expect_lt(abs(mean(p_eb) - mean(fitted(fit))), 4 * sd(p_eb) / sqrt(nsim))  # seen 0.14 MC SE
})

test_that("new random effects add between-school variation that the EB-based simulation lacks", {
  school <- d$id_school
  # variance over replicates of each school's number of successes
  v_new <- apply(rowsum(as.matrix(sim_new), school), 1, var)
  v_eb <- apply(rowsum(as.matrix(sim_eb), school), 1, var)
  # with the random effects fixed at b_EB only Bernoulli noise is left:
  # Var(sum y) = sum mu (1 - mu)
  mu <- fitted(fit)
  v_theory <- tapply(mu * (1 - mu), school, sum)
  expect_equal(sum(v_eb) / sum(v_theory), 1, tolerance = 0.05)  # seen 0.008 (MC SE ~0.01)
  expect_gt(sum(v_new) / sum(v_eb), 1.2)  # seen 1.9
  # variance of the simulated schools' mean proportions across schools, per replicate
  between <- function(sims) apply(rowsum(as.matrix(sims), school) / as.vector(table(school)),
                                  2, var)
  expect_gt(mean(between(sim_new)), mean(between(sim_eb)))  # seen 0.054 vs 0.049
})

test_that("new random effects are drawn from N(0, Sigma): gaussian random-slope check", {
  set.seed(8)
  J <- 30
  nj <- 10
  s <- data.frame(g = rep(1:J, each = nj), x = rep(seq(-1, 1, length.out = nj), J))
  L <- matrix(c(1, 0.8, 0, 0.5), 2)      # true Sigma = L L', correlation 0.85
  b <- matrix(rnorm(2 * J), J) %*% t(L)
  s$y <- 1 + 0.5 * s$x + b[s$g, 1] + b[s$g, 2] * s$x + rnorm(J * nj, 0, 0.3)
  f <- glamm(y ~ x + (1 + x | g), data = s, family = gaussian)
  sims <- as.matrix(simulate(f, nsim = 200, seed = 3))
  expect_true(is.double(sims))
  # per cluster and replicate, OLS intercept and slope minus the fixed part
  Z <- cbind(1, s$x[1:nj])
  H <- solve(crossprod(Z), t(Z))
  est <- do.call(rbind, lapply(1:J, function(j) {
    t(H %*% sims[s$g == j, ]) - matrix(fixef(f), 200, 2, byrow = TRUE)
  }))
  # Cov = Sigma + sigma^2 (Z'Z)^-1, the same design in every cluster
  S_hat <- cov(est) - f$sigma^2 * solve(crossprod(Z))
  expect_equal(c(S_hat), c(f$Sigma), tolerance = 0.1)  # seen 0.017 (MC, 6000 draws)
  expect_lt(max(abs(colMeans(est)) / (apply(est, 2, sd) / sqrt(nrow(est)))), 4)  # seen 1.1 MC SE
  # residual SD of the simulated responses around the cluster lines
  res <- sims[, 1] - (fixef(f)[1] + fixef(f)[2] * s$x)
  expect_gt(var(res), f$sigma^2)
})

test_that("poisson and binomial-with-trials simulations give counts in range", {
  set.seed(9)
  s <- data.frame(g = rep(1:25, each = 6), x = rnorm(150), n = sample(1:10, 150, TRUE))
  s$y <- rpois(150, exp(0.4 + 0.3 * s$x + rnorm(25, 0, 0.5)[s$g]))
  s$k <- rbinom(150, s$n, plogis(0.2 + 0.5 * s$x + rnorm(25, 0, 0.5)[s$g]))
  fp <- glamm(y ~ x + (1 | g), data = s, family = poisson, nAGQ = 7)
  sp <- as.matrix(simulate(fp, nsim = 200, seed = 4))
  expect_true(all(sp >= 0 & sp == round(sp)))
  # mean count equals the mean marginal prediction exp(eta + psi / 2)
  m_marg <- mean(predict(fp, s, type = "response", marginal = TRUE))
  expect_lt(abs(mean(sp) - m_marg), 4 * sd(colMeans(sp)) / sqrt(200))  # seen 1.2 MC SE
  fb <- glamm(cbind(k, n - k) ~ x + (1 | g), data = s, family = binomial, nAGQ = 7)
  sb <- as.matrix(simulate(fb, nsim = 50, seed = 5))
  expect_true(all(sb >= 0 & sb <= s$n & sb == round(sb)))
  expect_true(any(sb > 1))
})
