# Inverse links and their first two derivatives, mu = h(eta), h'(eta),
# h''(eta): used by marginal predictions and their delta-method SEs.

link_derivatives <- function(link) {
  switch(link,
    identity = list(h = function(e) e, d1 = function(e) rep(1, length(e)),
                    d2 = function(e) rep(0, length(e))),
    logit = list(h = stats::plogis,
                 d1 = function(e) { m <- stats::plogis(e); m * (1 - m) },
                 d2 = function(e) { m <- stats::plogis(e); m * (1 - m) * (1 - 2 * m) }),
    probit = list(h = stats::pnorm, d1 = stats::dnorm, d2 = function(e) -e * stats::dnorm(e)),
    cloglog = list(h = function(e) -expm1(-exp(e)),
                   d1 = function(e) { t <- exp(pmin(e, 700)); t * exp(-t) },
                   d2 = function(e) { t <- exp(pmin(e, 700)); t * exp(-t) * (1 - t) }),
    log = list(h = exp, d1 = exp, d2 = exp),
    inverse = list(h = function(e) 1 / e, d1 = function(e) -1 / e^2, d2 = function(e) 2 / e^3),
    stop(sprintf("link '%s' has no derivatives here", link), call. = FALSE)
  )
}
