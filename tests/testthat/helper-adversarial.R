# Shared by the adversarial test files (issue 16): small simulated two-level
# data (30 clusters g of 5 rows, in 10 groups h) with binary, count, gaussian
# and positive continuous responses, and the log-likelihood of a fit as a number.

adv_data <- function(seed = 16) {
  set.seed(seed)
  J <- 30
  m <- 5
  n <- J * m
  d <- data.frame(g = factor(rep(seq_len(J), each = m)), x = rnorm(n), z = runif(n),
                  f = factor(rep(c("a", "b", "c"), length.out = n)))
  u <- rnorm(J, 0, 0.8)[d$g]
  d$y <- rbinom(n, 1, plogis(-0.2 + 0.7 * d$x + u))
  d$cnt <- rpois(n, exp(0.3 + 0.4 * d$x + u))
  d$yg <- 1 + 0.5 * d$x + u + rnorm(n)
  d$pos <- rgamma(n, shape = 2, rate = 2 / exp(0.2 + 0.3 * d$x + u))
  d$h <- factor(rep(seq_len(J / 3), each = 3 * m))  # 10 groups of 3 clusters: g nested in h
  d
}
ad <- adv_data()
an <- nrow(ad)
adv_bin <- glamm(y ~ x + (1 | g), data = ad, family = binomial, nAGQ = 5)
adv_gau <- glamm(yg ~ x + (1 | g), data = ad)
ll <- function(fit) as.numeric(logLik(fit))
