# The restricted (REML) log-likelihood of a gaussian linear mixed model, as
# lme4 and MixedModels.jl define it: the log of the likelihood integrated
# over the fixed effects with a flat prior,
#   l_R(theta, sigma) = l(beta^, theta, sigma) + p/2 log(2 pi) - 1/2 log|M|,
#   M = X' V^-1 X,  V = Var(y) = Z Sigma Z' + sigma^2 W^-1,
# (REMLcrit() of lmer is -2 l_R). The fitter maximizes jointly in
# (beta, theta, log sigma) the function
#   f(beta, theta, sigma) = l(beta, theta, sigma) + p/2 log(2 pi) - 1/2 log|M| :
# l is exactly quadratic in beta with Hessian -M (identity link), so the
# maximum of f over beta is l_R, reached at the GLS estimate beta^ (lmer's
# REML fixed effects), and the covariance-parameter block of the inverse of
# -Hess f is the inverse REML information.
#
# M and the gradient of log|M| come from the ML engine's value and exact
# gradient at shifted fixed effects. With l(beta + v) = l + g'v - v'M v / 2
# exactly, for the fixed-effects gradient g and any covariance parameter psi:
#   M e_j          = (g(beta) - g(beta + t e_j)) / t,
#   v' (dM/dpsi) v = 2 dl/dpsi(beta) - dl/dpsi(beta + v) - dl/dpsi(beta - v),
# and with C C' = M^-1 (C = R^-1, M = R'R):
#   d(-1/2 log|M|)/dpsi = -1/2 tr(M^-1 dM/dpsi) = -1/2 sum_m c_m' (dM/dpsi) c_m.
# These are identities of a quadratic (no truncation error; the differences
# lose only rounding), and they use nothing of the engine but (l, gradient) at
# given parameters: the sparse Laplace for crossed designs, exact for
# gaussian responses as well, gives REML through the same function. A REML
# evaluation costs 3p + 1 engine evaluations (p fixed effects).

# The REML objective over the ML objective `ml` (R/objective-build.R) of a
# gaussian identity-link model whose engine design is X* = X B (B =
# `from_internal`, the identity when X is used as it is): log|X'V^-1X| =
# log|X*'V^-1X*| - 2 log|det B|, so that the value is lmer's on X's scale.
reml_objective <- function(ml, from_internal = diag(ml$p)) {
  p <- ml$p
  log_det_B <- if (p > 0) {
    as.numeric(determinant(from_internal, logarithm = TRUE)$modulus)
  } else 0
  shift <- if (length(ml$typsize) > p) ml$typsize[seq_len(p)] else rep(1, p)
  beta_idx <- seq_len(p)
  # M = X*' V^-1 X* at the covariance parameters of par, from the fixed-effects
  # gradient at par and at p shifted points; NULL when the engine fails.
  information <- function(par, at) {
    g0 <- attr(at, "gradient")[beta_idx]
    M <- matrix(0, p, p)
    for (j in beta_idx) {
      moved <- par
      moved[j] <- moved[j] + shift[j]
      r <- ml$loglik(moved, gradient = TRUE)
      g <- attr(r, "gradient")
      if (!is.finite(r) || anyNA(g)) return(NULL)
      M[, j] <- (g0 - g[beta_idx]) / shift[j]
    }
    (M + t(M)) / 2
  }
  loglik <- function(par, gradient = FALSE, scores = FALSE) {
    if (scores) stop("per-cluster scores are not available for REML fits", call. = FALSE)
    at <- ml$loglik(par, gradient = TRUE)
    g_at <- attr(at, "gradient")
    value <- as.numeric(at)
    failed <- function() {
      out <- -Inf
      if (gradient) attr(out, "gradient") <- rep(NA_real_, length(par))
      out
    }
    if (!is.finite(value) || anyNA(g_at)) return(failed())
    if (p == 0) {
      if (gradient) attr(value, "gradient") <- g_at
      return(value)
    }
    M <- information(par, at)
    R <- if (!is.null(M)) tryCatch(chol(M), error = function(e) NULL)
    if (is.null(R)) return(failed())
    out <- value + p / 2 * log(2 * pi) - sum(log(diag(R))) + log_det_B
    if (gradient) {
      rest <- -beta_idx
      trace <- numeric(length(par) - p)
      C <- backsolve(R, diag(p))
      for (m in seq_len(p)) {
        both <- lapply(c(1, -1), function(s) {
          moved <- par
          moved[beta_idx] <- moved[beta_idx] + s * C[, m]
          attr(ml$loglik(moved, gradient = TRUE), "gradient")
        })
        if (anyNA(both[[1]]) || anyNA(both[[2]])) return(failed())
        trace <- trace + 2 * g_at[rest] - both[[1]][rest] - both[[2]][rest]
      }
      attr(out, "gradient") <- c(g_at[beta_idx], g_at[rest] - trace / 2)
    }
    out
  }
  out <- ml
  out$loglik <- loglik
  # X'V^-1X on X's scale (the inverse of lmer's vcov() of the fixed effects).
  out$information_beta <- function(par) {
    if (p == 0) return(matrix(0, 0, 0))
    M <- information(par, ml$loglik(par, gradient = TRUE))
    Binv <- solve(from_internal)
    crossprod(Binv, M %*% Binv)
  }
  out$REML <- TRUE
  out
}

# REML needs a gaussian response with the identity link and no survey weights.
check_reml <- function(REML, family, method = "ML", survey = NULL) {
  if (!is.logical(REML) || length(REML) != 1 || is.na(REML)) {
    stop("'REML' must be TRUE or FALSE", call. = FALSE)
  }
  if (!REML) return(FALSE)
  if (family$family != "gaussian") {
    stop(sprintf(paste0("REML is defined for linear mixed models (the gaussian family); for ",
                        "the %s family glamm fits by maximum likelihood: use REML = FALSE ",
                        "(lme4's glmer has no REML either)"), family$family), call. = FALSE)
  }
  if (family$link != "identity") {
    stop("REML needs the identity link (the likelihood is then quadratic in the fixed effects)",
         call. = FALSE)
  }
  if (method != "ML") stop("REML = TRUE and method = \"PQL\" exclude each other", call. = FALSE)
  if (!is.null(survey)) {
    stop("REML is not available with survey weights (pweights): the pseudo-likelihood is ",
         "fitted by maximum likelihood; use REML = FALSE", call. = FALSE)
  }
  TRUE
}

# The fixed-effects block of a REML fit's covariance, as lmer reports it: the
# inverse of X'V^-1X at the estimates (conditional on the covariance
# parameters, which are uncorrelated with beta^ in the REML information).
reml_vcov <- function(V, objective, par_internal, p) {
  if (p == 0) return(V)
  M <- objective$information_beta(par_internal)
  Vb <- tryCatch(solve(M), error = function(e) matrix(NA_real_, p, p))
  V[seq_len(p), ] <- 0
  V[, seq_len(p)] <- 0
  V[seq_len(p), seq_len(p)] <- (Vb + t(Vb)) / 2
  V
}

# The fit refitted by maximum likelihood from its own data and estimates
# (lme4's refitML()); an ML fit is returned as it is.
refit_ml <- function(object) {
  if (!isTRUE(object$REML)) return(object)
  dd <- fit_data(object)
  re <- lapply(fit_level_designs(object, re_groups(object)), function(gr) {
    list(Z = gr$Z, group = gr$factor, pattern = gr$pattern, name = gr$name)
  })
  start <- list(beta = unname(object$coefficients), theta = object$theta, sigma = object$sigma)
  fit <- glamm.fit(dd$y, dd$X, family = object$family, nAGQ = object$nAGQ,
                   weights = dd$weights, offset = dd$offset, start = start,
                   control = object$control, re = re)
  if (is.null(object$frame)) return(fit)
  formula_fields <- setdiff(names(object), names(fit))
  fit[formula_fields] <- object[formula_fields]
  fit$call$REML <- FALSE
  keep_data_once(fit)
}

# lme4's generics isREML() and refitML() (registered when lme4 is loaded;
# documented with lme4's accessors, ?glamm-lme4).
#' @exportS3Method lme4::isREML
isREML.glamm <- function(x, ...) isTRUE(x$REML)

#' @exportS3Method lme4::refitML
refitML.glamm <- function(x, ...) refit_ml(x)
