# Maximizing the log-likelihood with nlminb() and its exact gradient, the
# observed information by central differences of that gradient, and the
# convergence diagnostics kept in the fit (as MixedModels.jl's optsum).

optimize_loglik <- function(objective, par0, lower, control, scale = NULL) {
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
  # Progress every `trace` gradients (about one per iteration): the
  # log-likelihood and the largest gradient entry, which says how far the
  # search still is from the maximum.
  cache$n_gradient <- 0L
  gr <- function(par) {
    v <- value_and_gradient(par)
    cache$n_gradient <- cache$n_gradient + 1L
    if (control$trace > 0 && cache$n_gradient %% control$trace == 0) {
      message(sprintf("iteration %3d: log-likelihood %.8g, max |gradient| %.3g",
                      cache$n_gradient, as.numeric(v), max(abs(attr(v, "gradient")))))
    }
    -attr(v, "gradient")
  }
  init <- value_and_gradient(par0)
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
  # With the information at hand (objective$hessian, Louis' identity),
  # nlminb takes Newton steps in a trust region. The matrix is kept from one
  # iterate to the next while the steps converge fast (the Newton decrement
  # g' (-H)^{-1} g fell at least hundredfold since the last iterate), and
  # recomputed otherwise or where it is not negative definite: near the
  # maximum it changes little (the 2PL of bench/latent.R: 6 evaluations of
  # it for 8 iterations, where it took one per iterate). The last good matrix stands in
  # where a trial point's could not be computed.
  hess <- NULL
  if (louis_search(objective, length(par0))) {
    cache$H <- objective$hessian(par0, objective$points)
    if (!is.null(cache$H) && all(is.finite(cache$H))) {
      cache$H_par <- par0
      cache$decrement <- newton_decrement(cache$H, attr(init, "gradient"))
      hess <- function(par) {
        if (identical(par, cache$H_par)) return(-cache$H)
        g <- attr(value_and_gradient(par), "gradient")
        decrement <- newton_decrement(cache$H, g)
        if (!isTRUE(decrement < 0.01 * cache$decrement)) {
          H <- objective$hessian(par, objective$points)
          if (!is.null(H) && all(is.finite(H))) cache$H <- H
          decrement <- newton_decrement(cache$H, g)
        }
        cache$H_par <- par
        cache$decrement <- decrement
        -cache$H
      }
      if (is.null(scale)) {
        scale <- pmax(sqrt(pmax(-diag(cache$H), 0)), 1 / objective$typsize)
      }
    }
  }
  if (is.null(scale)) scale <- search_scale(objective, par0, attr(init, "gradient"))
  # Each run searches over the step z = par - start: nlminb's X-convergence
  # test is relative to the size of its variables, and an intercept that
  # absorbs an offset of 1e5 stopped that test after one step, 0.06 short in
  # the gradient.
  run <- function(start) {
    hz <- if (!is.null(hess)) function(z) hess(start + z)
    opt <- tryCatch(stats::nlminb(numeric(length(start)), function(z) fn(start + z),
                                  function(z) gr(start + z), hz, scale = scale,
                                  lower = lower - start,
                                  control = list(iter.max = control$iter.max,
                                                 eval.max = control$eval.max,
                                                 rel.tol = control$rel.tol,
                                                 trace = 0L)),
                    error = function(e) {
                      if (grepl("NA/NaN gradient", conditionMessage(e))) diverged()
                      stop(e)
                    })
    opt$par <- start + opt$par
    opt
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
  final <- value_and_gradient(par)
  if (!is.finite(final) || anyNA(attr(final, "gradient"))) diverged()
  list(par = par, loglik = as.numeric(final), gradient = attr(final, "gradient"),
       convergence = opt$convergence, message = opt$message, iterations = opt$iterations,
       evaluations = opt$evaluations, lower = lower, scale = scale,
       information = if (!is.null(hess)) list(H = cache$H, par = cache$H_par))
}

# The Newton decrement g' (-H)^{-1} g: twice the gain a Newton step on H
# promises; NA where -H is not positive definite (or g not finite).
newton_decrement <- function(H, g) {
  R <- tryCatch(chol(-(H + t(H)) / 2), error = function(e) NULL)
  if (is.null(R) || any(!is.finite(g))) return(NA_real_)
  sum(backsolve(R, g, transpose = TRUE)^2)
}

# nlminb works on scale * par, and its quasi-Newton search starts with the
# identity as the Hessian there: a scale of the square roots of the
# curvatures -d2l/dpar_j^2 at the start (forward differences of the exact
# gradient g, k evaluations) makes that start nearly right, so the search
# needs far fewer steps (12 instead of 28 on a three-level logistic model of
# 60,000 rows, whose information had eigenvalues from 1.8e3 to 1.1e4). The
# scores' outer product would cost nothing but misleads where the model is
# misspecified (counts in millions: 1e6 times the curvature), and the search
# then ran off. The scale is at least the inverse typical size, so that a
# flat direction (separation: an estimate on its way to infinity) is not
# taken in one huge first step; an objective without typical sizes (the
# profiles') keeps the unit scale.
search_scale <- function(objective, par, g) {
  if (length(objective$typsize) != length(par)) return(1)
  h <- hessian_steps(objective, par)
  curvature <- -(diag(shifted_gradients(objective, par, h, 1)) - g) / h
  curvature[!is.finite(curvature) | curvature < 0] <- 0
  pmax(sqrt(curvature), 1 / objective$typsize)
}

# Start values and the search scale for adaptive quadrature from the Laplace
# fit (nAGQ = 1 at every level): a Laplace evaluation costs a fraction of a
# quadrature one (one node per random effect instead of K^q), and its maximum
# and curvature are near the quadrature's, so the quadrature search then
# needs few of its expensive steps (4 instead of 10-12 on a three-level
# logistic model). The Laplace search is run to a looser tolerance (1e-8),
# since it only gives a start; when it fails, or its end is worse for the
# quadrature than par0, par0 is kept (and the scale is found afresh).
# build(K) makes the objective for the points K per level. Returns list(par,
# scale).
laplace_start <- function(par0, lower, control, nAGQ, objective, build) {
  fresh <- list(par = par0, scale = NULL)
  if (all(nAGQ <= 1)) return(fresh)
  K <- nAGQ
  K[] <- 1L
  control$rel.tol <- max(control$rel.tol, 1e-8)
  laplace <- build(K)
  release <- laplace$release %||% function() NULL
  on.exit(release())
  opt <- tryCatch(optimize_loglik(laplace, par0, lower, control), error = function(e) NULL)
  if (is.null(opt)) return(fresh)
  scale <- search_scale(laplace, opt$par, opt$gradient)
  rm(laplace)
  better <- as.numeric(objective$loglik(opt$par)) >= as.numeric(objective$loglik(par0))
  if (isTRUE(better)) list(par = opt$par, scale = scale) else fresh
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

# Finite-difference steps for the Hessian: 1e-4 typical sizes (plus a
# relative part for estimates far from 0).
hessian_steps <- function(objective, par) 1e-4 * objective$typsize + 1e-8 * abs(par)

# The exact gradients at par + sign * h_j e_j, one column per parameter j.
shifted_gradients <- function(objective, par, h, sign) {
  k <- length(par)
  matrix(vapply(seq_len(k), function(j) {
    x <- par
    x[j] <- par[j] + sign * h[j]
    attr(objective$loglik(x, TRUE), "gradient")
  }, numeric(k)), k, k)
}

# Hessian of the log-likelihood by central differences of the exact gradient
# (2k gradients; `up`, the gradients at the forward points, when known).
loglik_hessian <- function(objective, par, up = NULL) {
  h <- hessian_steps(objective, par)
  if (is.null(up)) up <- shifted_gradients(objective, par, h, 1)
  down <- shifted_gradients(objective, par, h, -1)
  H <- sweep(up - down, 2, 2 * h, "/")
  (H + t(H)) / 2
}

# Newton steps on the observed information after the quasi-Newton search:
# nlminb stops on a relative change in the objective, which can leave a
# gradient of 1e-3; two or three Newton steps bring it to rounding level.
# The steps need the curvature only roughly, so they use forward differences
# of the gradient at the search's end (k gradients: the gradient there is
# known; their O(h) error of about 1e-4 only slows the quadratic convergence
# a little). The reported Hessian is the central-difference one at the final
# point (2k gradients, k of them the forward ones when no step was taken):
# it must be the curvature at the maximum itself, since moving by 1e-3
# standard errors already changed the variances of a gaussian fit by 4e-5.
# Where the fit uses Louis' information (louis_search()), the steps and the
# reported Hessian take it instead.
# Returns the final point, gradient, log-likelihood and Hessian.
newton_polish <- function(objective, opt, control) {
  par0 <- par <- opt$par
  g <- opt$gradient
  ll <- opt$loglik
  free <- !(par <= opt$lower & is.finite(opt$lower))
  # The curvature of the steps: Louis' information at the search's points
  # where the fit uses it (R/objective-build.R), the search's own last matrix
  # (R/optimize.R) when it was taken here; else forward differences at the
  # start. Either is kept for every step: the steps are small.
  H <- if (louis_search(objective, length(par))) {
    if (identical(opt$information$par, par)) opt$information$H
    else objective$hessian(par, objective$points)
  }
  louis <- !is.null(H)
  if (!louis) {
    h <- hessian_steps(objective, par)
    up <- shifted_gradients(objective, par, h, 1)
    H <- sweep(up - g, 2, h, "/")
  }
  # The information in units of the parameters' typical sizes: on a gaussian
  # response of size 1e-8 it spans 1e17 (beta, theta) to 1e2 (log sigma), and
  # solve() on it stopped as "computationally singular".
  D <- objective$typsize[free]
  for (it in seq_len(control$polish.maxit)) {
    info <- -((H + t(H)) / 2)[free, free, drop = FALSE] * tcrossprod(D)
    # (Newton steps go to a stationary point: only where the curvature is
    # that of a maximum, else they can run into a saddle.)
    if (inherits(tryCatch(chol(info), error = function(e) e), "error")) break
    step <- tryCatch(D * solve(info, D * g[free]), error = function(e) NULL)
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
  opt$par <- par
  opt$gradient <- g
  opt$loglik <- ll
  final <- if (louis) objective$hessian(par, objective$information_points)
  opt$hessian <- if (!is.null(final)) (final + t(final)) / 2
                 else if (!louis && identical(par, par0)) loglik_hessian(objective, par, up)
                 else loglik_hessian(objective, par)
  opt
}

# A stationary point where the log-likelihood still rises in some direction
# (a saddle): a column of Lambda that is exactly 0 is stationary whatever the
# data, since the log-likelihood is even in it, and a search that reaches
# one stays there (a three-level model with correlated slopes ended so, with
# a Hessian eigenvalue of +0.8). When the Hessian at the polished point has a
# clearly positive eigenvalue (on the scale of a unit diagonal), the search
# goes on from a step along that eigenvector that raises the log-likelihood,
# and its maximum is kept when it is higher (at most twice).
escape_saddle <- function(objective, opt, control) {
  for (attempt in 1:2) {
    H <- opt$hessian
    if (is.null(H) || any(!is.finite(H))) return(opt)
    d <- sqrt(pmax(abs(diag(H)), 1e-300))
    e <- eigen(H / outer(d, d), symmetric = TRUE)
    if (!(e$values[1] > 1e-4 * max(abs(e$values)))) return(opt)
    v <- e$vectors[, 1] / d
    v <- v / max(abs(v) / objective$typsize)
    best <- NULL
    for (t in c(0.1, -0.1, 0.01, -0.01)) {
      x <- pmax(opt$par + t * v, opt$lower)
      val <- as.numeric(objective$loglik(x))
      if (is.finite(val) && val > opt$loglik + 1e-8) {
        best <- x
        break
      }
    }
    if (is.null(best)) return(opt)
    again <- newton_polish(objective, optimize_loglik(objective, best, opt$lower, control,
                                                      opt$scale), control)
    if (!(again$loglik > opt$loglik)) return(opt)
    opt <- again
  }
  opt
}

# Inverse of the observed information; parameters on the boundary whose
# curvature vanishes and estimates at infinity are left out (their variances
# are NA).
invert_information <- function(H, at_bound, infinite = FALSE) {
  k <- nrow(H)
  V <- matrix(NA_real_, k, k)
  keep <- (!at_bound | abs(diag(H)) > 1e-8 * max(1, max(abs(diag(H))))) & !infinite
  # (nothing left to invert: every estimate at infinity or on a flat bound)
  if (!any(keep)) return(list(vcov = V, positive_definite = TRUE))
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
