# Likelihood profiles of the fixed effects, the random-effect standard
# deviations and the residual SD: each point maximizes the log-likelihood
# over the other parameters (nlminb with the exact gradient), and intervals
# are where the signed square root of the likelihood-ratio statistic,
# zeta = sign(x - x_hat) sqrt(2 (logLik_max - logLik_profile)), reaches
# +-qnorm((1 + level) / 2), as in lme4.

# The quantities that can be profiled, in the order of lme4's profiles:
# the random-effect SDs (levels innermost first), the residual SD (gaussian),
# then the fixed effects. Each has the positions in fit$par it depends on,
# its estimate and a step (its Wald SE where there is one) on the scale on
# which it is profiled: the SD itself, log(sigma), the coefficient.
profile_targets <- function(object) {
  if (identical(object$method, "PQL")) {
    stop("profiles need a likelihood: refit with method = \"ML\"", call. = FALSE)
  }
  groups <- re_groups(object)
  positions <- theta_positions(object, groups)
  par <- object$par
  se_par <- sqrt(pmax(diag(object$vcov_par), 0))
  gaussian <- object$family$family == "gaussian"
  scale <- if (gaussian) object$sigma else 1
  sds <- list()
  for (l in seq_along(groups)) {
    pat <- groups[[l]]$pattern
    cn <- colnames(pat) %||% colnames(groups[[l]]$Sigma)
    index <- matrix(0L, nrow(pat), ncol(pat))
    index[pat] <- positions[[l]]
    for (i in seq_len(nrow(pat))) {
      idx <- index[i, pat[i, ]]
      name <- if (length(groups) == 1) sprintf("sd(%s)", cn[i]) else
        sprintf("sd(%s|%s)", cn[i], names(groups)[l])
      est <- sqrt(sum(par[idx]^2))
      # Delta-method SE of the row's norm (NA for an SD estimated at 0).
      u <- par[idx] / est
      step <- sqrt(drop(crossprod(u, object$vcov_par[idx, idx, drop = FALSE] %*% u)))
      sds[[name]] <- list(kind = "sd", idx = idx, diag = index[i, i], est = est, lower = 0,
                          step = fallback_step(step, est, scale))
    }
  }
  p <- length(object$coefficients)
  if (gaussian) {
    j <- p + sum(lengths(positions)) + 1
    sds[["sigma"]] <- list(kind = "logsd", idx = j, est = unname(par[j]), lower = -Inf,
                           step = fallback_step(se_par[j], 1, 1))
  }
  fixed <- lapply(seq_len(p), function(j) {
    list(kind = "par", idx = j, est = unname(par[j]), lower = -Inf,
         step = fallback_step(se_par[j], abs(par[j]), 1))
  })
  names(fixed) <- names(object$coefficients)
  c(sds, fixed)
}

fallback_step <- function(se, est, scale) {
  if (is.finite(se) && se > 0) unname(se) else 0.25 * max(est, 0.1 * scale)
}

# The reported value of a target from its profiling scale.
report_scale <- function(target, x) if (target$kind == "logsd") exp(x) else x

# Lower bounds of fit$par: diagonal entries of each Lambda are at least 0.
par_lower <- function(object) {
  groups <- re_groups(object)
  theta <- unlist(lapply(groups, function(gr) ifelse(theta_is_diagonal(gr$pattern), 0, -Inf)))
  lower <- rep(-Inf, length(object$par))
  lower[length(object$coefficients) + seq_along(theta)] <- theta
  lower
}

# A function of a target's value x that maximizes the log-likelihood over the
# other parameters and returns that maximum with the full parameter vector.
# An SD of a random effect whose row of Lambda has several free entries r is
# held at x by writing r = x w / |w| and optimizing over w.
make_profiler <- function(object, target, f = loglik_function(object)) {
  par_hat <- unname(object$par)
  lower_all <- par_lower(object)
  idx <- target$idx
  rest <- setdiff(seq_along(par_hat), idx)
  sphere <- length(idx) > 1
  # Starts: the estimates moved along the regression of the other parameters
  # on the target in the inverse information (its first-order profile path).
  V <- object$vcov_par
  slope <- if (!sphere && all(is.finite(V[rest, idx])) && is.finite(V[idx, idx]) &&
               V[idx, idx] > 0) V[rest, idx] / V[idx, idx] else rep(0, length(rest))
  w_lower <- if (sphere) ifelse(idx == target$diag, 0, -Inf) else numeric(0)
  control <- object$control
  function(x) {
    full <- function(z) {
      out <- par_hat
      out[rest] <- z[seq_along(rest)]
      if (sphere) {
        w <- z[length(rest) + seq_along(idx)]
        out[idx] <- x * w / sqrt(sum(w^2))
      } else {
        out[idx] <- x
      }
      out
    }
    objective <- list(loglik = function(z, gradient = FALSE) {
      theta <- full(z)
      v <- f(theta, gradient)
      if (gradient) {
        g <- attr(v, "gradient")
        g_w <- if (sphere) {
          w <- z[length(rest) + seq_along(idx)]
          norm <- sqrt(sum(w^2))
          u <- w / norm
          x / norm * (g[idx] - u * sum(u * g[idx]))
        }
        attr(v, "gradient") <- c(g[rest], g_w)
      }
      v
    })
    shift <- if (sphere) 0 else (x - target$est) * slope
    start <- pmax(par_hat[rest] + shift, lower_all[rest])
    if (sphere) {
      row <- par_hat[idx]
      start <- c(start, if (sum(row^2) > 0) row else as.numeric(idx == target$diag))
    }
    opt <- optimize_loglik(objective, start, c(lower_all[rest], w_lower), control)
    list(loglik = opt$loglik, par = full(opt$par))
  }
}

# zeta of a target at x (on its profiling scale), recording every point.
make_zeta <- function(object, target, f) {
  profile_at <- make_profiler(object, target, f)
  env <- new.env(parent = emptyenv())
  env$points <- list()
  zeta <- function(x) {
    pt <- profile_at(x)
    dev <- 2 * (object$loglik - pt$loglik)
    if (dev < -1e-3) {
      warning(sprintf("profiling %s found a higher log-likelihood (by %.3g) than the fit's: ",
                      target$name, -dev / 2), "the fit may not be at its maximum", call. = FALSE)
    }
    z <- sign(x - target$est) * sqrt(max(dev, 0))
    env$points[[length(env$points) + 1]] <- c(x = x, zeta = z, loglik = pt$loglik, pt$par)
    z
  }
  list(zeta = zeta, env = env)
}

# The value on one side (direction +1 or -1) where zeta reaches direction *
# z_target; NA when the search gives up, the bound when zeta does not reach it
# before the bound (an SD whose lower limit is 0).
profile_limit <- function(target, zeta, z_target, direction, tol = 1e-8) {
  est <- target$est
  if (direction < 0 && est <= target$lower) return(target$lower)
  inside <- est
  step <- target$step * z_target
  for (k in seq_len(30)) {
    x <- est + direction * step
    if (x <= target$lower) {
      x <- target$lower
      if (direction * zeta(x) < z_target) return(target$lower)
      break
    }
    if (direction * zeta(x) >= z_target) break
    inside <- x
    step <- 2 * step
    if (k == 30) return(NA_real_)
  }
  stats::uniroot(function(v) zeta(v) - direction * z_target, sort(c(inside, x)),
                 tol = tol * target$step)$root
}

select_targets <- function(targets, parm) {
  if (missing(parm) || is.null(parm)) return(targets)
  n_fixed <- sum(vapply(targets, function(t) t$kind == "par", NA))
  groups <- list(theta_ = names(targets)[seq_len(length(targets) - n_fixed)],
                 beta_ = utils::tail(names(targets), n_fixed))
  if (is.character(parm)) {
    parm <- unlist(lapply(parm, function(p) if (p %in% names(groups)) groups[[p]] else p))
    unknown <- setdiff(parm, names(targets))
    if (length(unknown)) {
      stop(sprintf("unknown parameter(s) %s; available: %s", paste(unknown, collapse = ", "),
                   paste(names(targets), collapse = ", ")), call. = FALSE)
    }
  } else if (any(!parm %in% seq_along(targets))) {
    stop(sprintf("'parm' indices must lie in 1..%d", length(targets)), call. = FALSE)
  }
  targets[parm]
}

interval_labels <- function(level) {
  a <- (1 - level) / 2
  paste0(format(100 * c(a, 1 - a), trim = TRUE), " %")
}

# confint(method = "profile"): both limits of each target by root finding.
confint_profile <- function(object, parm, level) {
  targets <- select_targets(profile_targets(object), parm)
  f <- loglik_function(object)
  z_target <- stats::qnorm((1 + level) / 2)
  out <- t(vapply(names(targets), function(nm) {
    target <- c(targets[[nm]], name = nm)
    zeta <- make_zeta(object, target, f)$zeta
    limits <- c(profile_limit(target, zeta, z_target, -1), profile_limit(target, zeta, z_target, 1))
    report_scale(target, limits)
  }, numeric(2)))
  dimnames(out) <- list(names(targets), interval_labels(level))
  out
}

#' Likelihood profiles of a glamm fit
#'
#' Profiles the log-likelihood for each fixed effect, each random-effect
#' standard deviation and, for the gaussian family, the residual SD: at each
#' value of the parameter the log-likelihood is maximized over all the other
#' parameters (with the exact gradient), and the profile is reported as the
#' signed square root `zeta = sign(x - x_hat) sqrt(2 (logLik_max -
#' logLik_profile))`, as by lme4's `profile()`. A linear `zeta` means a
#' quadratic log-likelihood, where Wald intervals are accurate.
#'
#' The SD of a random effect is the norm of its row of `Lambda`; when that row
#' has several free entries (the second and later effects of a `|` term), the
#' SD is held fixed by optimizing over the direction of the row. Correlations
#' are not profiled (lme4 profiles them too), nor are the thresholds of the
#' [ordinal()] family. An SD estimated at zero has the lower limit 0. The
#' profile uses the fit's approximation (its `nAGQ`).
#'
#' For a REML fit the profiled function is the restricted log-likelihood
#' that the fit maximized (see `REML` in [glamm()]; for a fixed effect, with
#' the REML correction of the whole fixed-effects design). lme4's `profile()`
#' of an lmer REML fit profiles another function (its deviance without the
#' REML term), so REML profile intervals differ from lme4's: on
#' `Reaction ~ Days + (Days | Subject)` the residual SD's limits agree to
#' 1e-5 and the intercept SD's are 15.0 to 39.5 against lme4's 14.4 to 37.7.
#'
#' @param fitted a `glamm` fit (by maximum likelihood or REML).
#' @param which names or indices of the parameters to profile (rows of
#'   `confint(fitted, method = "profile")`), `"theta_"` for all SDs or
#'   `"beta_"` for all fixed effects; default all.
#' @param alphamax the profile reaches the limits of `1 - alphamax` intervals.
#' @param npts points on each side of the estimate.
#' @param ... not used.
#' @return A data frame of class `profile.glamm` with one row per point:
#'   `.par` (the parameter), `.focal` (its value: SDs and coefficients as
#'   reported), `.zeta`, `.loglik` (profile log-likelihood) and the whole
#'   parameter vector at the point (columns named as `fitted$par`). The
#'   method [confint.profile.glamm()] interpolates intervals from it.
#' @seealso [confint.glamm()] with `method = "profile"`, which finds the
#'   limits by root finding.
#' @examples
#' fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000,
#'              family = binomial, nAGQ = 1)
#' \donttest{
#' pr <- profile(fit, which = "sd((Intercept))", npts = 4)
#' pr[, c(".focal", ".zeta")]
#' confint(pr)
#' }
#' @export
profile.glamm <- function(fitted, which = NULL, alphamax = 0.01, npts = 8, ...) {
  refuse_weighted(fitted, "likelihood profiles")
  targets <- select_targets(profile_targets(fitted), which)
  f <- loglik_function(fitted)
  z_max <- stats::qnorm(1 - alphamax / 2)
  rows <- lapply(names(targets), function(nm) {
    target <- c(targets[[nm]], name = nm)
    zt <- make_zeta(fitted, target, f)
    ends <- c(profile_limit(target, zt$zeta, z_max, -1, tol = 1e-4),
              profile_limit(target, zt$zeta, z_max, 1, tol = 1e-4))
    for (end in ends[is.finite(ends) & ends != target$est]) {
      for (x in target$est + (end - target$est) * seq_len(npts - 1) / npts) zt$zeta(x)
    }
    pts <- do.call(rbind, zt$env$points)
    # Root finding evaluates some points twice; the estimate is the fit itself.
    pts <- pts[!duplicated(pts[, "x"]) & pts[, "x"] != target$est, , drop = FALSE]
    pts <- rbind(pts, c(x = target$est, zeta = 0, loglik = fitted$loglik, unname(fitted$par)))
    pts <- pts[order(pts[, "x"]), , drop = FALSE]
    frame <- data.frame(.par = nm, .focal = report_scale(target, pts[, "x"]),
                        .zeta = pts[, "zeta"], .loglik = pts[, "loglik"])
    cbind(frame, stats::setNames(as.data.frame(pts[, -(1:3), drop = FALSE]), names(fitted$par)))
  })
  out <- do.call(rbind, rows)
  out$.par <- factor(out$.par, levels = names(targets))
  rownames(out) <- NULL
  structure(out, class = c("profile.glamm", "data.frame"), loglik = fitted$loglik)
}

#' Confidence intervals from a likelihood profile
#'
#' Interpolates, for each profiled parameter, the values where `zeta` equals
#' `-+qnorm((1 + level) / 2)` (a monotone spline of the parameter in
#' `zeta`). Limits beyond the profiled range are `NA`; an SD whose profile
#' stops at 0 has the lower limit 0.
#'
#' @param object a [profile.glamm()] result.
#' @param parm names of profiled parameters (default all).
#' @param level confidence level.
#' @param ... not used.
#' @return A matrix with one row per parameter and the lower and upper limits.
#' @export
confint.profile.glamm <- function(object, parm, level = 0.95, ...) {
  pars <- levels(object$.par)
  if (!missing(parm)) pars <- if (is.numeric(parm)) pars[parm] else intersect(pars, parm)
  z <- stats::qnorm((1 + level) / 2)
  out <- t(vapply(pars, function(nm) {
    d <- object[object$.par == nm, , drop = FALSE]
    d <- d[order(d$.zeta), , drop = FALSE]
    d <- d[!duplicated(d$.zeta), , drop = FALSE]
    back <- stats::splinefun(d$.zeta, d$.focal, method = "monoH.FC")
    vapply(c(-z, z), function(zz) {
      if (zz >= min(d$.zeta) && zz <= max(d$.zeta)) return(back(zz))
      if (zz < 0 && startsWith(nm, "sd(") && min(d$.focal) == 0) 0 else NA_real_
    }, 1)
  }, numeric(2)))
  dimnames(out) <- list(pars, interval_labels(level))
  out
}
