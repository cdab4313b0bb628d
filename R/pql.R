# Penalized quasi-likelihood (first order; Breslow and Clayton 1993), as in
# MASS::glmmPQL: starting from a glm, repeat
#   z = eta + (y - mu) / mu'(eta) - offset,   w = prior weight * mu'(eta)^2 / V(mu),
#   fit the linear mixed model z = X beta + Z b + e, var(e_i) = sigma^2 / w_i, by ML,
#   eta = X beta + Z b^ + offset  (b^: the predicted random effects),
# until sum((eta - eta_old)^2) < 1e-6 sum(eta^2). The working model is fitted
# by glamm's own engine (gaussian family, exact for a linear mixed model).
# PQL is an approximation without a likelihood: no log-likelihood is reported.

pql_fit <- function(y, X, Z, group, family, weights, offset, pattern, control, maxit = 10) {
  n <- nrow(X)
  resp <- prepare_response(y, family, weights)
  check_variation(resp, family)
  yy <- ifelse(resp$trials > 0, resp$y / pmax(resp$trials, 1), 0)
  prior <- resp$trials * resp$weights
  g0 <- suppressWarnings(glm.fit(X, yy, weights = prior, offset = offset, family = family))
  eta <- g0$linear.predictors
  converged <- FALSE
  fit <- NULL
  for (it in seq_len(maxit)) {
    mu <- family$linkinv(eta)
    d_mu <- family$mu.eta(eta)
    z <- eta + (yy - mu) / d_mu - offset
    w <- prior * d_mu^2 / family$variance(mu)
    start <- if (!is.null(fit)) list(beta = fit$coefficients, theta = fit$theta, sigma = fit$sigma)
    fit <- glamm.fit(z, X, Z, group, family = stats::gaussian(), nAGQ = 1L, weights = w,
                     pattern = pattern, start = start, control = control)
    eta_old <- eta
    eta <- drop(X %*% fit$coefficients) + offset +
      rowSums(Z * fit$ranef$mean[as.integer(droplevels(as.factor(group))), , drop = FALSE])
    if (sum((eta - eta_old)^2) < 1e-6 * sum(eta^2)) {
      converged <- TRUE
      break
    }
  }
  if (!converged) {
    warning(sprintf("PQL did not converge in %d iterations", maxit), call. = FALSE)
  }
  fit$family <- family
  fit$method <- "PQL"
  fit$loglik <- NA_real_
  fit$pql <- list(iterations = it, converged = converged, working_sigma = fit$sigma)
  fit$sigma <- 1
  fit$varcomp <- fit$varcomp[rownames(fit$varcomp) != "residual", , drop = FALSE]
  fit$data <- list(X = X, Z = Z, group = droplevels(as.factor(group)), y = resp$y,
                   trials = resp$trials, weights = resp$weights, offset = offset,
                   constant = resp$constant)
  fit
}
