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
# -Hess f is the inverse REML information. l and its gradient come from the
# ML engine; the term -1/2 log|M| and its exact gradient from one of:
#
# * the dense gaussian pass (src/gaussian_reml.cpp): one pass over the rows,
#   Woodbury within each top cluster, that also gives l and its gradient (so
#   the ML engine is not called), used when no top cluster has more than
#   `dense_max` random effects (its dense factor stays cheap);
# * for crossed factors, the sparse Laplace's own evaluation and factor
#   (src/sparse_reml.cpp): p solves with H and two passes over the rows;
# * otherwise, the ML engine's value and exact gradient at shifted fixed
#   effects. With l(beta + v) = l + g'v - v'M v / 2 exactly, for the
#   fixed-effects gradient g and any covariance parameter psi:
#     M e_j          = (g(beta) - g(beta + t e_j)) / t,
#     v' (dM/dpsi) v = 2 dl/dpsi(beta) - dl/dpsi(beta + v) - dl/dpsi(beta - v),
#   and with C C' = M^-1 (C = R^-1, M = R'R):
#     d(-1/2 log|M|)/dpsi = -1/2 tr(M^-1 dM/dpsi) = -1/2 sum_m c_m' (dM/dpsi) c_m.
#   These are identities of a quadratic (no truncation error; the
#   differences lose only rounding) that use nothing of the engine but
#   (l, gradient) at given parameters, so they carry over to any exact
#   gaussian integrator (the sparse Laplace of crossed designs); the cost is
#   3p + 1 engine evaluations.

dense_max <- 400L

# The REML objective over the ML objective `ml` (R/objective-build.R) of a
# gaussian identity-link model whose engine design is X* = X B (B =
# `from_internal`, the identity when X is used as it is): log|X'V^-1X| =
# log|X*'V^-1X*| - 2 log|det B|, so that the value is lmer's on X's scale.
# shifts = TRUE forces the shifted-evaluation identities.
reml_objective <- function(ml, from_internal = diag(ml$p), shifts = FALSE) {
  p <- ml$p
  log_det_B <- if (p > 0) {
    as.numeric(determinant(from_internal, logarithm = TRUE)$modulus)
  } else 0
  path <- if (shifts) {
    "shifts"
  } else if (isTRUE(ml$sparse)) {
    "sparse"
  } else if (!is.null(ml$engine_data) &&
             max_top_dimension(ml$engine_data$levels, ml$patterns) <= dense_max) {
    "dense"
  } else "shifts"
  dense <- path != "shifts"
  term <- if (dense) dense_reml_term(ml) else shifted_reml_term(ml)
  loglik <- function(par, gradient = FALSE, scores = FALSE) {
    if (scores) stop("per-cluster scores are not available for REML fits", call. = FALSE)
    if (dense && p > 0) return(dense_reml_loglik(ml, par, gradient, log_det_B))
    at <- ml$loglik(par, gradient = gradient || !dense)
    value <- as.numeric(at)
    failed <- function() {
      out <- -Inf
      if (gradient) attr(out, "gradient") <- rep(NA_real_, length(par))
      out
    }
    if (!is.finite(value) || (gradient && anyNA(attr(at, "gradient")))) return(failed())
    if (p == 0) return(at)
    tr <- term(par, at, gradient)
    if (is.null(tr)) return(failed())
    out <- value + p / 2 * log(2 * pi) + tr$value + log_det_B
    if (gradient) attr(out, "gradient") <- attr(at, "gradient") + c(rep(0, p), tr$gradient)
    out
  }
  out <- ml
  out$loglik <- loglik
  # X'V^-1X on X's scale (the inverse of lmer's vcov() of the fixed effects).
  out$information_beta <- function(par) {
    if (p == 0) return(matrix(0, 0, 0))
    M <- term(par, ml$loglik(par, gradient = TRUE), FALSE)$M
    Binv <- solve(from_internal)
    crossprod(Binv, M %*% Binv)
  }
  out$REML <- TRUE
  out$reml_path <- path
  out
}

# The largest number of random effects in one top cluster of the sorted rows.
max_top_dimension <- function(levels, patterns) {
  L <- length(levels)
  top <- as.integer(levels[[L]]$node)
  n <- length(top)
  if (n < 2) return(0)
  top_id <- cumsum(c(TRUE, top[-1] != top[-n]))
  dims <- numeric(top_id[n])
  for (l in seq_len(L)) {
    node <- as.integer(levels[[l]]$node)
    first <- c(TRUE, node[-1] != node[-n] | top_id[-1] != top_id[-n])
    dims <- dims + nrow(patterns[[l]]) * tabulate(top_id[first], top_id[n])
  }
  max(dims)
}

# The dense gaussian pass at par, or the sparse Laplace's evaluation with its
# REML term for crossed factors (NULL when V is not positive definite).
dense_pass <- function(ml, par) {
  u <- ml$unpack(par)
  if (isTRUE(ml$sparse)) {
    r <- cpp_sparse_reml(ml$model, u$beta, u$lambda, u$psi)
    return(if (r$ok) r)
  }
  data <- ml$engine_data
  r <- cpp_gaussian_reml(data$X, data$y, data$offset, data$weights, data$levels, u$beta,
                         u$lambda, u$psi[1], dense_max, data$nthreads)
  if (r$ok) r
}

# The REML objective f by the dense pass alone: the log-likelihood with the
# constant that the ML objective adds, and the REML term.
dense_reml_loglik <- function(ml, par, gradient, log_det_B) {
  r <- dense_pass(ml, par)
  if (is.null(r)) {
    out <- -Inf
    if (gradient) attr(out, "gradient") <- rep(NA_real_, length(par))
    return(out)
  }
  p <- ml$p
  constant <- if (isTRUE(ml$sparse)) ml$constant else ml$engine_data$constant
  # Rows dropped by the compression of gaussian leaves (R/gaussian-compress.R).
  dropped <- ml$dropped_rows %||% 0
  out <- r$loglik + constant + p / 2 * log(2 * pi) + r$value + log_det_B -
    dropped * (log(sqrt(2 * pi)) + par[length(par)])
  if (gradient) {
    free <- function(g) unlist(Map(function(gl, pat) gl[pat], g, ml$patterns))
    attr(out, "gradient") <- c(r$loglik_grad_beta,
                               free(r$loglik_grad_lambda) + free(r$grad_lambda),
                               r$loglik_grad_log_sigma + r$grad_log_sigma - dropped)
  }
  out
}

# -1/2 log|M| with its gradient in (theta, log sigma) and M, by the dense
# pass; NULL when V is not positive definite.
dense_reml_term <- function(ml) {
  function(par, at, gradient) {
    r <- dense_pass(ml, par)
    if (is.null(r)) return(NULL)
    g <- if (gradient) {
      c(unlist(Map(function(gl, pat) gl[pat], r$grad_lambda, ml$patterns)), r$grad_log_sigma)
    }
    list(value = r$value, gradient = g, M = r$M)
  }
}

# The same from the ML engine at shifted fixed effects (the identities above).
shifted_reml_term <- function(ml) {
  p <- ml$p
  beta_idx <- seq_len(p)
  shift <- if (length(ml$typsize) > p) ml$typsize[beta_idx] else rep(1, p)
  engine_gradient <- function(par) {
    g <- attr(ml$loglik(par, gradient = TRUE), "gradient")
    if (anyNA(g)) NULL else g
  }
  function(par, at, gradient) {
    g0 <- attr(at, "gradient")
    M <- matrix(0, p, p)
    for (j in beta_idx) {
      moved <- par
      moved[j] <- moved[j] + shift[j]
      g <- engine_gradient(moved)
      if (is.null(g)) return(NULL)
      M[, j] <- (g0[beta_idx] - g[beta_idx]) / shift[j]
    }
    M <- (M + t(M)) / 2
    R <- tryCatch(chol(M), error = function(e) NULL)
    if (is.null(R)) return(NULL)
    out <- list(value = -sum(log(diag(R))), M = M)
    if (gradient) {
      trace <- numeric(length(par) - p)
      C <- backsolve(R, diag(p))
      for (m in beta_idx) {
        up <- down <- par
        up[beta_idx] <- par[beta_idx] + C[, m]
        down[beta_idx] <- par[beta_idx] - C[, m]
        g_up <- engine_gradient(up)
        g_down <- engine_gradient(down)
        if (is.null(g_up) || is.null(g_down)) return(NULL)
        trace <- trace + 2 * g0[-beta_idx] - g_up[-beta_idx] - g_down[-beta_idx]
      }
      out$gradient <- -trace / 2
    }
    out
  }
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
