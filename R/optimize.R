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
  opt <- stats::nlminb(par0, fn, gr, lower = lower,
                       control = list(iter.max = control$iter.max, eval.max = control$eval.max,
                                      rel.tol = control$rel.tol, trace = control$trace))
  par <- opt$par
  final <- objective$loglik(par, gradient = TRUE)
  list(par = par, loglik = as.numeric(final), gradient = attr(final, "gradient"),
       convergence = opt$convergence, message = opt$message, iterations = opt$iterations,
       evaluations = opt$evaluations, lower = lower)
}

# Hessian of the log-likelihood by central differences of the exact gradient.
loglik_hessian <- function(objective, par) {
  k <- length(par)
  H <- matrix(0, k, k)
  for (j in seq_len(k)) {
    h <- 1e-4 * max(1, abs(par[j]))
    up <- par
    down <- par
    up[j] <- par[j] + h
    down[j] <- par[j] - h
    H[, j] <- (attr(objective$loglik(up, TRUE), "gradient") -
                 attr(objective$loglik(down, TRUE), "gradient")) / (2 * h)
  }
  (H + t(H)) / 2
}

# Inverse of the observed information; parameters on the boundary whose
# curvature vanishes are left out (their variances are NA).
invert_information <- function(H, at_bound) {
  k <- nrow(H)
  V <- matrix(NA_real_, k, k)
  keep <- !at_bound | abs(diag(H)) > 1e-8 * max(1, max(abs(diag(H))))
  info <- -H[keep, keep, drop = FALSE]
  ev <- tryCatch(eigen(info, symmetric = TRUE, only.values = TRUE)$values,
                 error = function(e) NA_real_)
  pd <- all(is.finite(ev)) && min(ev) > 1e-10 * max(abs(ev))
  if (pd) V[keep, keep] <- solve(info)
  list(vcov = V, positive_definite = pd)
}
