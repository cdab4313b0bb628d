# Maximizing the log-likelihood with nlminb() and its exact gradient, the
# observed information by central differences of that gradient, and the
# convergence diagnostics kept in the fit (as MixedModels.jl's optsum).

optimize_loglik <- function(objective, par0, lower, control) {
  cache <- new.env(parent = emptyenv())
  value_and_gradient <- function(par) {
    if (!identical(par, cache$par)) {
      cache$par <- par
      cache$value <- objective$loglik(par, gradient = TRUE)
    }
    cache$value
  }
  fn <- function(par) {
    v <- -value_and_gradient(par)
    if (is.finite(v)) v else Inf
  }
  gr <- function(par) -attr(value_and_gradient(par), "gradient")
  init <- objective$loglik(par0)
  if (!is.finite(init)) {
    stop("the log-likelihood is not finite at the start values; supply 'start' or check ",
         "the data (e.g. extreme covariate values or offsets)", call. = FALSE)
  }
  diverged <- function() {
    stop("the optimizer ended where the log-likelihood cannot be computed (the mode of the ",
         "random effects was not found in some clusters): the search diverged, e.g. from ",
         "start values far from the data or extreme covariate values or offsets; try other ",
         "'start' values (or none) or rescale the covariates", call. = FALSE)
  }
  run <- function(start) {
    tryCatch(stats::nlminb(start, fn, gr, lower = lower,
                           control = list(iter.max = control$iter.max,
                                          eval.max = control$eval.max,
                                          rel.tol = control$rel.tol, trace = control$trace)),
             error = function(e) {
               if (grepl("NA/NaN gradient", conditionMessage(e))) diverged()
               stop(e)
             })
  }
  opt <- run(par0)
  # A standard deviation at its bound 0 is a stationary point whatever the
  # data (the log-likelihood is even in it): when the log-likelihood rises on
  # moving away, the search stopped at a saddle, and it goes on from there.
  for (attempt in 1:2) {
    zero <- which(lower == 0 & opt$par <= 1e-6 * objective$typsize)
    if (!length(zero)) break
    away <- opt$par
    away[zero] <- 0.01 * objective$typsize[zero]
    if (!isTRUE(as.numeric(objective$loglik(away)) > -opt$objective + 1e-8)) break
    opt <- run(away)
  }
  par <- opt$par
  final <- objective$loglik(par, gradient = TRUE)
  if (!is.finite(final) || anyNA(attr(final, "gradient"))) diverged()
  list(par = par, loglik = as.numeric(final), gradient = attr(final, "gradient"),
       convergence = opt$convergence, message = opt$message, iterations = opt$iterations,
       evaluations = opt$evaluations, lower = lower)
}

# Hessian of the log-likelihood by central differences of the exact gradient.
loglik_hessian <- function(objective, par) {
  k <- length(par)
  H <- matrix(0, k, k)
  for (j in seq_len(k)) {
    h <- 1e-4 * objective$typsize[j] + 1e-8 * abs(par[j])
    up <- par
    down <- par
    up[j] <- par[j] + h
    down[j] <- par[j] - h
    H[, j] <- (attr(objective$loglik(up, TRUE), "gradient") -
                 attr(objective$loglik(down, TRUE), "gradient")) / (2 * h)
  }
  (H + t(H)) / 2
}

# Newton steps on the observed information after the quasi-Newton search:
# nlminb stops on a relative change in the objective, which can leave a
# gradient of 1e-3; two or three Newton steps bring it to rounding level.
# Returns the final point, gradient, log-likelihood and Hessian (recomputed
# when a step moved the estimates).
newton_polish <- function(objective, opt, control) {
  par0 <- par <- opt$par
  g <- opt$gradient
  ll <- opt$loglik
  free <- !(par <= opt$lower & is.finite(opt$lower))
  H <- loglik_hessian(objective, par)
  info <- -H[free, free, drop = FALSE]
  for (it in seq_len(control$polish.maxit)) {
    step <- tryCatch(solve(info, g[free]), error = function(e) NULL)
    if (is.null(step) || any(!is.finite(step))) break
    gain <- 0.5 * sum(g[free] * step)
    if (!(gain > 0) || gain < 1e-12) break
    cand <- par
    cand[free] <- pmax(par[free] + step, opt$lower[free])
    val <- objective$loglik(cand, gradient = TRUE)
    if (!is.finite(val) || val < ll - 1e-10) break
    par <- cand
    ll <- as.numeric(val)
    g <- attr(val, "gradient")
  }
  # The Hessian is recomputed at the final point only when the steps moved the
  # estimates by more than 1e-3 standard errors.
  se <- sqrt(pmax(diag(tryCatch(solve(info), error = function(e) diag(NA, nrow(info)))), 0))
  if (any(par != par0) && !isTRUE(all(abs(par - par0)[free] <= 1e-3 * se))) {
    H <- loglik_hessian(objective, par)
  }
  opt$par <- par
  opt$gradient <- g
  opt$loglik <- ll
  opt$hessian <- H
  opt
}

# Inverse of the observed information; parameters on the boundary whose
# curvature vanishes are left out (their variances are NA).
invert_information <- function(H, at_bound) {
  k <- nrow(H)
  V <- matrix(NA_real_, k, k)
  keep <- !at_bound | abs(diag(H)) > 1e-8 * max(1, max(abs(diag(H))))
  info <- -H[keep, keep, drop = FALSE]
  d <- diag(info)
  if (any(!is.finite(info)) || any(d <= 0)) return(list(vcov = V, positive_definite = FALSE))
  # Judge and invert on the scale where the information has a unit diagonal,
  # so that covariates of very different magnitudes do not matter.
  s <- 1 / sqrt(d)
  info_s <- info * outer(s, s)
  ev <- eigen(info_s, symmetric = TRUE, only.values = TRUE)$values
  pd <- min(ev) > 1e-10 * max(ev)
  if (pd) V[keep, keep] <- solve(info_s) * outer(s, s)
  list(vcov = V, positive_definite = pd)
}
