# The fixed effects profiled out of a gaussian identity-link search. The
# log-likelihood (and the REML objective, whose extra term does not depend on
# beta) is exactly quadratic in beta with Hessian -M, M = X'V^-1X, so at given
# covariance parameters its maximum over beta is the GLS estimate, one step
#   beta^ = beta + M^-1 g(beta)
# from any beta (g the fixed-effects gradient). The search then runs over the
# covariance parameters alone (as lmer and MixedModels.jl do): the profiled
# function's gradient is the partial gradient at beta^ (envelope theorem).
# On InstEval the joint search zig-zagged between the intercept and the SD of
# 14 departments for 60 iterations; the profile has no such ridge.

# objective$gls(par) gives list(beta, M) at par's covariance parameters (NULL
# when V is not positive definite); without it, par0 is returned as it is.
# The profile is searched by nlminb for at most 12 iterations, then by
# Newton steps: near its maximum nlminb crawled (90 evaluations for a gain
# of 0.01 on InstEval, its quasi-Newton matrix still that of the start). The
# full search that follows starts at the profile's maximum with a scale
# measured there and stops in a step or two. Returns list(par, scale = NULL), par0 when the profiled search fails.
profiled_start <- function(par0, lower, control, objective) {
  fresh <- list(par = par0, scale = NULL)
  if (is.null(objective$gls) || objective$p == 0 || length(par0) == objective$p) return(fresh)
  b <- seq_len(objective$p)
  last <- new.env(parent = emptyenv())
  last$beta <- par0[b]
  beta_at <- function(cov) {
    r <- objective$gls(c(last$beta, cov))
    if (is.null(r) || !all(is.finite(r$beta))) return(NULL)
    last$beta <- r$beta
    last$M <- r$M
    r$beta
  }
  profile <- list(
    typsize = objective$typsize[-b],
    loglik = function(cov, gradient = FALSE, scores = FALSE) {
      beta <- beta_at(cov)
      if (is.null(beta)) {
        out <- -Inf
        if (gradient) attr(out, "gradient") <- rep(NA_real_, length(cov))
        return(out)
      }
      out <- objective$loglik(c(beta, cov), gradient)
      if (gradient) attr(out, "gradient") <- attr(out, "gradient")[-b]
      out
    })
  control$iter.max <- 12L
  opt <- tryCatch(optimize_loglik(profile, par0[-b], lower[-b], control), error = function(e) NULL)
  if (is.null(opt)) return(fresh)
  cov <- profile_newton(profile, opt$par, opt$loglik, opt$gradient, lower[-b])
  beta <- beta_at(cov)
  if (is.null(beta)) return(fresh)
  par <- par0
  par[b] <- beta
  par[-b] <- cov
  list(par = par, scale = NULL)
}

# Newton steps on the profile from par (log-likelihood ll, gradient g) with
# the Hessian by forward differences of its exact gradient (k gradients a
# step), halved until the profile rises, while a step gains more than 1e-9;
# a Hessian that is not negative definite, or a step onto a bound, ends them.
profile_newton <- function(profile, par, ll, g, lower, steps = 6) {
  for (it in seq_len(steps)) {
    h <- hessian_steps(profile, par)
    H <- sweep(shifted_gradients(profile, par, h, 1) - g, 2, h, "/")
    H <- (H + t(H)) / 2
    R <- tryCatch(chol(-H), error = function(e) NULL)
    if (is.null(R)) break
    step <- backsolve(R, forwardsolve(t(R), g))
    moved <- FALSE
    for (t in 2^-(0:4)) {
      x <- par + t * step
      if (any(x < lower)) next
      v <- profile$loglik(x, gradient = TRUE)
      if (is.finite(v) && as.numeric(v) > ll) {
        gain <- as.numeric(v) - ll
        par <- x
        ll <- as.numeric(v)
        g <- attr(v, "gradient")
        moved <- TRUE
        break
      }
    }
    if (!moved || gain < 1e-9) break
  }
  par
}
