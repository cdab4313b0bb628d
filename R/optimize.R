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
  # nlminb works on scale * par: parameters of their typical sizes.
  scale <- if (length(objective$typsize) == length(par0)) 1 / objective$typsize else 1
  run <- function(start) {
    tryCatch(stats::nlminb(start, fn, gr, scale = scale, lower = lower,
                           control = list(iter.max = control$iter.max,
                                          eval.max = control$eval.max,
                                          rel.tol = control$rel.tol, trace = control$trace)),
             error = function(e) {
               if (grepl("NA/NaN gradient", conditionMessage(e))) diverged()
               stop(e)
             })
  }
  opt <- run(par0)
  # A run stopped by its iteration or evaluation limit is resumed (with a
  # fresh budget and quasi-Newton matrix) while the last run still raised the
  # log-likelihood: the budget is spent only while progress is made.
  for (resume in 1:3) {
    if (opt$convergence == 0 || !grepl("limit", opt$message)) break
    more <- run(opt$par)
    gain <- opt$objective - more$objective
    more$iterations <- more$iterations + opt$iterations
    more$evaluations <- more$evaluations + opt$evaluations
    if (gain >= 0) opt <- more
    if (!(gain > 1e-8 * max(1, abs(more$objective)))) break
  }
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
  par <- snap_to_bound(objective, opt$par, -opt$objective, lower)
  final <- objective$loglik(par, gradient = TRUE)
  if (!is.finite(final) || anyNA(attr(final, "gradient"))) diverged()
  list(par = par, loglik = as.numeric(final), gradient = attr(final, "gradient"),
       convergence = opt$convergence, message = opt$message, iterations = opt$iterations,
       evaluations = opt$evaluations, lower = lower)
}

# An SD within rounding of its bound 0 (where a search stopped without
# reaching it) is set to 0 when that does not lower the log-likelihood ll.
snap_to_bound <- function(objective, par, ll, lower) {
  near <- which(lower == 0 & par > 0 & par <= 1e-6 * objective$typsize)
  if (!length(near)) return(par)
  snapped <- par
  snapped[near] <- 0
  v <- as.numeric(objective$loglik(snapped))
  if (is.finite(v) && v >= ll - 1e-12) snapped else par
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
  snapped <- snap_to_bound(objective, par, ll, opt$lower)
  if (any(snapped != par)) {
    par <- snapped
    val <- objective$loglik(par, gradient = TRUE)
    ll <- as.numeric(val)
    g <- attr(val, "gradient")
  }
  # The Hessian is recomputed at the final point only when the steps moved the
  # estimates by more than 1e-6 standard errors (by 1e-3 the variances were
  # 4e-5 off on a gaussian fit).
  se <- sqrt(pmax(diag(tryCatch(solve(info), error = function(e) diag(NA, nrow(info)))), 0))
  if (any(par != par0) && !isTRUE(all(abs(par - par0)[free] <= 1e-6 * se))) {
    H <- loglik_hessian(objective, par)
  }
  opt$par <- par
  opt$gradient <- g
  opt$loglik <- ll
  opt$hessian <- H
  opt
}

# Inverse of the observed information; parameters on the boundary whose
# curvature vanishes and estimates at infinity are left out (their variances
# are NA).
invert_information <- function(H, at_bound, infinite = FALSE) {
  k <- nrow(H)
  V <- matrix(NA_real_, k, k)
  keep <- (!at_bound | abs(diag(H)) > 1e-8 * max(1, max(abs(diag(H))))) & !infinite
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
