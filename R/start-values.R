# Start values of the fixed effects (a GLM on a subset of rows), the
# random-effect factors and the extra parameters.

start_values <- function(resp, X, levels, offset, family, start, objective) {
  # The GLM start needs no more than an evenly spread subset of a large data set.
  rows <- if (nrow(X) > 20000) round(seq(1, nrow(X), length.out = 20000)) else seq_len(nrow(X))
  part <- function(v, default) if (is.null(v)) rep(default, length(rows)) else v[rows]
  trials <- part(resp$trials, 1)
  weights <- part(resp$weights, 1)
  ok <- trials > 0
  yy <- ifelse(ok, resp$y[rows] / ifelse(ok, trials, 1), 0)
  if (family$family == "ordinal") {
    beta <- stats::setNames(rep(0, ncol(X)), colnames(X))
  } else {
    # nbinom2 starts from the poisson GLM (the same mean model).
    # (The multinomial starts from the binary logit of each pseudo-row.)
    start_family <- if (is_mixed(family)) mixed_glm_family(family, family$mapping[rows])
                    else switch(family$family, nbinom2 = stats::poisson(),
                                multinomial = stats::binomial(), family)
    Xs <- X[rows, , drop = FALSE]
    g <- irls_start(Xs, yy, trials * weights, part(offset, 0), start_family)
    if (is.null(g) && is_mixed(family)) {
      stop("no start values: the fit without random effects failed (collinear columns of the ",
           "fixed effects, or extreme covariate values or offsets); supply 'start'",
           call. = FALSE)
    }
    if (is.null(g)) {
      g <- tryCatch(suppressWarnings(glm.fit(Xs, yy, weights = trials * weights,
                                             offset = part(offset, 0), family = start_family)),
                    error = function(e) {
                      stop("no start values: the fit without random effects (glm.fit) failed (",
                           conditionMessage(e), "); check extreme covariate values or offsets, ",
                           "or supply 'start'", call. = FALSE)
                    })
    }
    beta <- g$coefficients
    beta[is.na(beta)] <- 0
  }
  sigma <- dispersion_start(family, g, yy, weights)
  # The scale of the random effects on the linear predictor: the residual SD
  # at the mean weight (gaussian; sigma is the SD at weight 1, the same for
  # unit weights, and weights of 1e6 made the start of Lambda 1000 times too
  # large), the CV times the typical |eta| (Gamma with a non-log link).
  latent <- switch(family$family,
    gaussian = if (sum(weights) > 0) sqrt(sum(weights * g$residuals^2) / sum(weights)) else sigma,
    Gamma = if (family$link == "log") 1 else sigma * mean(abs(g$linear.predictors)),
    1)
  theta <- unlist(lapply(levels, function(l) {
    scale <- apply(l$Z[rows, , drop = FALSE], 2, function(z) {
      if (stats::sd(z) > 0) stats::sd(z) else 1
    })
    lambda <- diag(0.5 * latent / scale, ncol(l$Z))
    if (family$family == "gaussian") lambda <- lambda / sqrt(2)
    lambda_to_theta(lambda, l$pattern)
  }))
  if (!is.null(start)) {
    if (!is.list(start)) {
      stop("'start' must be a list with elements beta, theta and (gaussian) sigma, ",
           "or a glamm fit", call. = FALSE)
    }
    if (inherits(start, "glamm")) {
      start <- list(beta = start$coefficients, theta = start$theta, sigma = start$sigma)
    }
    known <- c("beta", "theta", "sigma")
    nm <- names(start) %||% rep("", length(start))
    unknown <- setdiff(nm, c(known, ""))
    if (length(unknown) || any(!nzchar(nm))) {
      stop(sprintf("'start' has %s; its elements are beta, theta and sigma",
                   if (length(unknown)) sprintf("the unknown element(s) %s",
                                                paste(unknown, collapse = ", "))
                   else "elements without names"), call. = FALSE)
    }
    set <- function(current, value, name) {
      if (is.null(value)) return(current)
      if (!is.numeric(value) || length(value) != length(current) || any(!is.finite(value))) {
        stop(sprintf("start$%s must hold %d finite number(s)", name, length(current)),
             call. = FALSE)
      }
      value
    }
    beta[] <- set(beta, start$beta, "beta")
    theta[] <- set(theta, start$theta, "theta")
    if (family$family %in% c("gaussian", "Gamma", "nbinom2")) {
      sigma <- set(sigma, start$sigma, "sigma")
      if (sigma <= 0) stop("start$sigma must be a positive number", call. = FALSE)
    }
  }
  extra <- if (is_mixed(family)) {
    mixed_start_extra(family, resp, g, yy, weights, family$mapping[rows])
  } else {
    start_extra(family, resp, sigma)
  }
  c(beta, theta, extra)
}

# Moment start of the dispersion from the GLM fit g: the gaussian residual
# SD, the Gamma coefficient of variation (Pearson) or the nbinom2 theta from
# var = mu + mu^2 / theta (large when the counts are not overdispersed).
dispersion_start <- function(family, g, y, weights) {
  switch(family$family,
    gaussian = sqrt(sum(weights * g$residuals^2) / length(y)),
    Gamma = {
      mu <- g$fitted.values
      cv <- sqrt(sum(weights * ((y - mu) / mu)^2) / sum(weights > 0))
      if (is.finite(cv) && cv > 0) cv else 1
    },
    nbinom2 = {
      mu <- g$fitted.values
      excess <- sum(weights * ((y - mu)^2 - mu))
      if (is.finite(excess) && excess > 0) min(sum(weights * mu^2) / excess, 100) else 100
    },
    1)
}

# The GLM without random effects by iteratively reweighted least squares on
# the normal equations, X' W X beta = X' W z, each solved by a Cholesky
# factor: glm.fit()'s QR costs ten times more (0.15 s of a 2PL's 1.1 s on
# 20,000 rows and 20 columns), and a start needs no more. NULL (and
# glm.fit() then) where the factor fails (collinear columns, which glm.fit
# drops) or the iterations do not give finite values. Returns what
# start_values() reads of a glm.fit() result.
irls_start <- function(X, y, weights, offset, family) {
  nobs <- NROW(y)
  n <- rep(1, nobs)
  mustart <- etastart <- start <- NULL  # what family$initialize reads
  ok <- tryCatch({
    eval(family$initialize)
    TRUE
  }, error = function(e) FALSE)
  if (!ok || ncol(X) == 0) return(NULL)
  eta <- family$linkfun(mustart)
  mu <- family$linkinv(eta)
  dev_old <- Inf
  for (iter in 1:25) {
    dmu <- family$mu.eta(eta)
    w <- weights * dmu^2 / family$variance(mu)
    z <- eta - offset + (y - mu) / dmu
    if (!all(is.finite(w)) || !all(is.finite(z[w > 0]))) return(NULL)
    z[w == 0] <- 0
    R <- tryCatch(chol(crossprod(X, w * X)), error = function(e) NULL)
    if (is.null(R) || min(diag(R)) < 1e-7 * max(diag(R))) return(NULL)
    beta <- backsolve(R, backsolve(R, crossprod(X, w * z), transpose = TRUE))
    eta <- drop(X %*% beta) + offset
    mu <- family$linkinv(eta)
    dev <- sum(family$dev.resids(y, mu, weights))
    if (!is.finite(dev)) return(NULL)
    if (abs(dev - dev_old) / (abs(dev) + 0.1) < 1e-8) break
    dev_old <- dev
  }
  list(coefficients = stats::setNames(drop(beta), colnames(X)), fitted.values = mu,
       linear.predictors = eta, residuals = (y - mu) / family$mu.eta(eta))
}
