# Fitted values and response, Pearson and deviance residuals, by hand from
# fitted() and the data; NA padding under na.exclude.

d <- pisa2000
d$SES <- (d$isei - mean(d$isei)) / 20
d$SESj <- ave(d$SES, d$id_school)
fit <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
               (1 | id_school), data = d, family = binomial, nAGQ = 12)

test_that("fitted() equals predict(type = 'response') and plogis(X beta + b_EB)", {
  mu <- fitted(fit)
  expect_equal(mu, predict(fit, type = "response"), tolerance = 1e-14)  # seen 0
  X <- model.matrix(~ SESj + female + SES + high_school + college + test_lang, d)
  b <- ranef(fit)$id_school[as.character(d$id_school), 1]
  expect_equal(unname(mu), unname(plogis(drop(X %*% fixef(fit)) + b)), tolerance = 1e-12)  # seen 0
})

test_that("Bernoulli residuals: response, Pearson and deviance by their closed forms", {
  y <- d$pass_read
  mu <- unname(fitted(fit))
  expect_equal(unname(residuals(fit)), y - mu, tolerance = 1e-12)  # seen 0
  expect_equal(unname(residuals(fit, type = "response")), y - mu, tolerance = 1e-12)  # seen 0
  expect_equal(unname(residuals(fit, type = "pearson")), (y - mu) / sqrt(mu * (1 - mu)),
               tolerance = 1e-12)  # seen 0
  dev <- ifelse(y == 1, sqrt(-2 * log(mu)), -sqrt(-2 * log(1 - mu)))
  expect_equal(unname(residuals(fit, type = "deviance")), dev, tolerance = 1e-12)  # seen 4e-16
  # the deviance residuals reproduce the conditional deviance -2 sum log p(y | b_EB)
  expect_equal(sum(residuals(fit, type = "deviance")^2),
               -2 * sum(dbinom(y, 1, mu, log = TRUE)), tolerance = 1e-12)  # seen 0
  expect_error(residuals(fit, type = "working"))
})

test_that("binomial residuals with trials (cbind and proportions with weights)", {
  set.seed(5)
  s <- data.frame(g = rep(1:25, each = 4), x = rnorm(100), n = sample(1:8, 100, TRUE))
  s$y <- rbinom(100, s$n, plogis(-0.2 + 0.6 * s$x + rnorm(25, 0, 0.7)[s$g]))
  f1 <- glamm(cbind(y, n - y) ~ x + (1 | g), data = s, family = binomial, nAGQ = 7)
  f2 <- glamm(y / n ~ x + (1 | g), data = s, weights = n, family = binomial, nAGQ = 7)
  expect_equal(fixef(f1), fixef(f2), tolerance = 1e-8)  # seen 0
  p <- s$y / s$n
  mu <- unname(fitted(f1))
  expect_true(all(mu > 0 & mu < 1))
  dev_i <- 2 * (ifelse(s$y > 0, s$y * log(s$y / (s$n * mu)), 0) +
                  ifelse(s$n > s$y, (s$n - s$y) * log((s$n - s$y) / (s$n * (1 - mu))), 0))
  for (f in list(f1, f2)) {
    expect_equal(unname(residuals(f, "response")), p - mu, tolerance = 1e-12)  # seen 0
    expect_equal(unname(residuals(f, "pearson")), (s$y - s$n * mu) / sqrt(s$n * mu * (1 - mu)),
                 tolerance = 1e-12)  # seen 5e-16
    expect_equal(unname(residuals(f, "deviance")), sign(p - mu) * sqrt(dev_i),
                 tolerance = 1e-12)  # seen 4e-15
  }
})

test_that("poisson and gaussian residuals", {
  set.seed(6)
  s <- data.frame(g = rep(1:25, each = 6), x = rnorm(150))
  s$y <- rpois(150, exp(0.4 + 0.3 * s$x + rnorm(25, 0, 0.5)[s$g]))
  s$z <- 2 + s$x + rnorm(25)[s$g] + rnorm(150)
  fp <- glamm(y ~ x + (1 | g), data = s, family = poisson, nAGQ = 7)
  mu <- unname(fitted(fp))
  expect_equal(unname(residuals(fp, "pearson")), (s$y - mu) / sqrt(mu), tolerance = 1e-12)  # seen 0
  dev_i <- 2 * (ifelse(s$y > 0, s$y * log(s$y / mu), 0) - (s$y - mu))
  expect_equal(unname(residuals(fp, "deviance")), sign(s$y - mu) * sqrt(dev_i),
               tolerance = 1e-12)  # seen 0
  fg <- glamm(z ~ x + (1 | g), data = s, family = gaussian)
  r <- s$z - unname(fitted(fg))
  expect_equal(unname(residuals(fg, "response")), r, tolerance = 1e-12)  # seen 0
  expect_equal(unname(residuals(fg, "pearson")), r, tolerance = 1e-12)  # seen 0
  expect_equal(unname(residuals(fg, "deviance")), r, tolerance = 1e-12)  # seen 0
})

test_that("na.exclude pads fitted values, residuals and predictions with NA; na.omit does not", {
  s <- d
  miss <- c(3, 100, 2000)
  s$SES[miss] <- NA
  fe <- glamm(pass_read ~ female + SES + (1 | id_school), data = s, family = binomial,
              nAGQ = 5, na.action = na.exclude)
  fo <- glamm(pass_read ~ female + SES + (1 | id_school), data = s, family = binomial,
              nAGQ = 5, na.action = na.omit)
  expect_equal(nobs(fe), nrow(s) - 3)
  expect_equal(fixef(fe), fixef(fo), tolerance = 1e-12)  # seen 0
  for (v in list(fitted(fe), residuals(fe), residuals(fe, "pearson"),
                 residuals(fe, "deviance"), predict(fe), predict(fe, re.form = NA))) {
    expect_length(v, nrow(s))
    expect_equal(unname(which(is.na(v))), miss)
  }
  expect_equal(unname(fitted(fe)[-miss]), unname(fitted(fo)), tolerance = 1e-12)  # seen 0
  expect_equal(unname(residuals(fe)[-miss]), s$pass_read[-miss] - unname(fitted(fo)),
               tolerance = 1e-12)  # seen 0
  expect_length(fitted(fo), nrow(s) - 3)
  expect_length(residuals(fo, "deviance"), nrow(s) - 3)
  se <- predict(fe, se.fit = TRUE)$se.fit
  expect_equal(unname(which(is.na(se))), miss)
})

test_that("plot() of a fit draws the residual plot", {
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  expect_identical(plot(fit), fit)
})
