# Data and an independent reference for the Gamma and nbinom2 families:
# simulated clustered responses, and the log-likelihood of a random-intercept
# model by stats::integrate() over each cluster's effect, from the densities
# dgamma() and dnbinom() (every normalizing constant included). Plain R: no
# glamm code is used by the reference.

# J clusters of m rows, x ~ N(0, 1), a random intercept of SD 0.6 (and a
# random slope of x of SD 0.3 for q = 2). Gamma: shape 2.5 (CV 0.63);
# nbinom2: theta 1.7. The linear predictor suits the link: eta = 1 + 0.4 x + b
# (log), 2 + 0.1 x + 0.6 b (inverse), 8 + x + 2.5 b (identity), so that
# mu stays positive.
family_data <- function(seed, family, J = 30, m = 8, q = 1) {
  set.seed(seed)
  n <- J * m
  d <- data.frame(g = factor(rep(seq_len(J), each = m)), x = rnorm(n))
  b0 <- rnorm(J, sd = 0.6)[d$g]
  b1 <- if (q == 2) rnorm(J, sd = 0.3)[d$g] else 0
  eta <- switch(family$link,
    log = 1 + 0.4 * d$x + b0 + b1 * d$x,
    inverse = 2 + 0.1 * d$x + 0.6 * (b0 + b1 * d$x),
    identity = 8 + d$x + 2.5 * (b0 + b1 * d$x))
  mu <- family$linkinv(eta)
  d$y <- if (family$family == "Gamma") rgamma(n, shape = 2.5, rate = 2.5 / mu) else
    rnbinom(n, size = 1.7, mu = mu)
  d
}

# log f(y | mu) for a Gamma with shape w / sigma^2 (w: precision weights; rows
# of weight 0 carry nothing) or
# an NB2 with weights multiplying log f.
family_logf <- function(family, y, mu, disp, w) {
  if (family$family == "Gamma") {
    shape <- w / disp^2
    ifelse(w > 0, stats::dgamma(y, shape = shape, rate = shape / mu, log = TRUE), 0)
  } else {
    w * stats::dnbinom(y, size = disp, mu = mu, log = TRUE)
  }
}

# Sum over clusters of log integral prod_i f(y_i | h(eta_i + sd u)) dnorm(u) du,
# by integrate() on the interval where the integrand lives (|u| < 12).
loglik_integrate <- function(family, y, eta, g, sd, disp, w = rep(1, length(y))) {
  rows <- split(seq_along(y), g)
  sum(vapply(rows, function(i) {
    logf <- function(u) {
      vapply(u, function(uu) {
        e <- eta[i] + sd * uu
        if (family$link != "log" && any(e <= 0)) return(-Inf)  # mu must be positive
        sum(family_logf(family, y[i], family$linkinv(e), disp, w[i]))
      }, numeric(1)) + stats::dnorm(u, log = TRUE)
    }
    grid <- seq(-12, 12, length.out = 2001)
    top <- max(logf(grid))
    log(stats::integrate(function(u) exp(logf(u) - top), -12, 12, subdivisions = 1000L,
                         rel.tol = 1e-12)$value) + top
  }, numeric(1)))
}
