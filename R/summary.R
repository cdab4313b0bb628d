# print() and summary() for glamm fits.

approximation_label <- function(object) {
  if (identical(object$method, "PQL")) {
    return("penalized quasi-likelihood (PQL: approximate, no likelihood)")
  }
  # With the identity link the integral over the random effects is Gaussian:
  # the Laplace approximation (and every quadrature rule) is exact.
  if (isTRUE(object$REML)) {
    return("restricted maximum likelihood (REML; exact for the gaussian likelihood)")
  }
  if (object$family$family == "gaussian") {
    return("maximum likelihood (exact: the gaussian likelihood needs no approximation)")
  }
  groups <- re_groups(object)
  K <- vapply(groups, function(gr) as.integer(gr$nAGQ), 1L)
  if (all(K == 1)) return("maximum likelihood, Laplace approximation")
  if (length(K) == 1) {
    return(sprintf(paste("maximum likelihood, adaptive Gauss-Hermite quadrature, %d points",
                         "per random effect"), K))
  }
  # Points per level, e.g. "15 points (class:school), 11 (school)"; a level
  # with one point is "Laplace (school)".
  first <- TRUE
  parts <- character(length(K))
  for (l in seq_along(K)) {
    if (K[l] == 1) {
      parts[l] <- sprintf("Laplace (%s)", names(groups)[l])
    } else {
      parts[l] <- sprintf(if (first) "%d points (%s)" else "%d (%s)", K[l], names(groups)[l])
      first <- FALSE
    }
  }
  paste("maximum likelihood, adaptive Gauss-Hermite quadrature,", paste(parts, collapse = ", "))
}

# glmer's "Number of obs: n, groups:  g, J" ("groups:  class:school, 60; school, 20"
# for several grouping factors).
clusters_line <- function(nobs, names, counts) {
  sprintf("Number of obs: %d, groups:  %s", nobs,
          paste(names, counts, sep = ", ", collapse = "; "))
}

# The call's formula and data as glmer prints them ("Formula:", "   Data:").
print_call <- function(formula, call) {
  if (!is.null(formula)) cat("Formula:", deparse1(formula), "\n")
  if (!is.null(call$data)) cat("   Data:", deparse1(call$data), "\n")
}

# Pearson residuals divided by sigma where the family has a dispersion
# (gaussian: the residual SD; Gamma: the coefficient of variation), as lme4's
# residuals(type = "pearson", scaled = TRUE) in summary.merMod; none for
# ordinal fits.
scaled_residuals <- function(object) {
  if (object$family$family %in% c("ordinal", "mixed") || !is.null(object$sharded_data)) {
    return(NULL)
  }
  r <- stats::residuals(object, type = "pearson")
  r <- r[!is.na(r)]
  if (object$family$family %in% c("gaussian", "Gamma")) r / object$sigma else r
}

print_scaled_residuals <- function(r, digits) {
  if (is.null(r)) return(invisible())
  cat("Scaled residuals:\n")
  q <- stats::setNames(zapsmall(stats::quantile(r), digits + 1L),
                       c("Min", "1Q", "Median", "3Q", "Max"))
  print(q, digits = digits)
  cat("\n")
}

# glmer's "optimizer (nlminb) convergence code: 0 (OK)" (with `details`, the
# iterations and the largest gradient element), a warning line when the fit
# has not converged, and the variance parameters estimated at zero.
print_convergence <- function(o, details = FALSE) {
  if (is.null(o$optimizer)) return(invisible())
  code <- o$convergence %||% if (isTRUE(o$converged)) 0L else 1L
  cat(sprintf("optimizer (%s) convergence code: %d %s", o$optimizer, code,
              if (code == 0) "(OK)" else sprintf("(%s)", o$message)))
  grad <- if (length(o$gradient)) max(abs(o$gradient)) else NA_real_
  if (details && is.finite(grad)) {
    cat(sprintf("; %d iterations, max |gradient| %.1e", o$iterations, grad))
  }
  cat("\n")
  if (!isTRUE(o$converged)) {
    why <- c(o$message, if (is.finite(grad)) sprintf("max |gradient| = %.2g", grad),
             if (is.finite(o$newton_gain %||% NA)) sprintf("Newton step gain %.2g", o$newton_gain))
    cat(sprintf("Warning: model failed to converge (%s); the estimates may be unreliable\n",
                paste(why, collapse = ", ")))
  }
  if (length(o$at_infinity)) {
    cat("Estimates at infinity (standard errors NA):", paste(o$at_infinity, collapse = ", "),
        "\n")
  }
  if (any(o$at_bound)) cat("Variance parameters on the boundary (zero):",
                           paste(names(o$at_bound)[o$at_bound], collapse = ", "), "\n")
}

#' @export
print.glamm <- function(x, digits = max(3, getOption("digits") - 3), ...) {
  cat(sprintf("Generalized linear mixed model (%s)\n", family_label(x$family)))
  cat("Fit by", approximation_label(x), "\n")
  print_call(x$formula, x$call)
  if (!is.null(x$vcov_model)) {
    cat(sprintf("survey weights: pseudo-log-likelihood %.4f; robust SE\n", x$loglik))
  } else if (isTRUE(x$REML)) {
    cat(sprintf("REML criterion at convergence: %.4f\n", -2 * x$loglik))
  } else if (is.finite(x$loglik)) {
    cat(sprintf("log-likelihood: %.4f   AIC: %.2f   BIC: %.2f\n", x$loglik,
                stats::AIC(x), stats::BIC(x)))
  }
  cat("\n")
  cat("Random effects:\n")
  print(VarCorr(x), digits = digits)
  cat(clusters_line(x$nobs, names(re_groups(x)), x$ngroups), "\n", sep = "")
  cat("\nFixed effects:", if (length(x$coefficients) == 0) " none (y ~ 0 + ...)", "\n", sep = "")
  if (length(x$coefficients)) print(x$coefficients, digits = digits)
  print_dispersion(x, digits)
  if (!is.null(x$loadings)) {
    cat("\nFactor loadings:\n")
    print(x$loadings, digits = digits)
  }
  if (!is.null(x$thresholds)) {
    cat("\nThresholds:\n")
    print(stats::setNames(x$thresholds$estimate, rownames(x$thresholds)), digits = digits)
  }
  print_convergence(x$optinfo)
  invisible(x)
}

#' Summarize a glamm fit
#'
#' Fixed effects with standard errors (from the observed information), z
#' statistics and p-values; with `exponentiate = TRUE` also the exponentiated
#' coefficients (odds ratios for logit links, rate ratios for log links) with
#' Wald confidence intervals. Variance components are reported as variances
#' and covariances with delta-method standard errors, and as standard
#' deviations and correlations, for each grouping factor (innermost first,
#' as lme4 lists them; the rows of `varcomp` are then named
#' `var((Intercept)|school)`). The header states the approximation and, with
#' nested levels, the quadrature points of each level (a gaussian fit is
#' exact), the data, the number of observations and of clusters of each
#' grouping factor, in glmer's layout, the quantiles of the scaled Pearson
#' residuals (divided by `sigma` for the gaussian and Gamma families, as
#' lme4's), and the optimizer's convergence code as glmer prints it.
#'
#' @param object a `glamm` fit.
#' @param exponentiate add `exp(estimate)` and its confidence interval.
#' @param level confidence level of the intervals.
#' @param irt for a fit with factor loadings: add the IRT parametrization
#'   (see [irt_parameters()]).
#' @param ... not used.
#' @return An object of class `summary.glamm` with elements `coefficients`
#'   (matrix: estimate, SE, z, p and, when asked, exp and CI), `thresholds`
#'   (ordinal family: estimates and SEs), `varcomp`
#'   (variances/covariances with SEs), `VarCorr`, `loglik`, `AIC`, `BIC`,
#'   `optinfo` and descriptive fields (`ngroups`: the number of clusters,
#'   a vector named by grouping factor when there are several), `call`,
#'   and `residuals` (the scaled Pearson residuals; `NULL` for ordinal fits);
#'   `latent` (fits with factor loadings: the loadings table and, with
#'   `irt = TRUE`, the IRT parametrization).
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' fit <- glamm(pass_read ~ female + SES + (1 | id_school), data = d,
#'              family = binomial, nAGQ = 7)
#' summary(fit, exponentiate = TRUE)
#' @export
summary.glamm <- function(object, exponentiate = FALSE, level = 0.95, irt = FALSE, ...) {
  est <- object$coefficients
  se <- sqrt(diag(object$vcov_beta))
  z <- est / se
  tab <- cbind(Estimate = est, `Std. Error` = se, `z value` = z,
               `Pr(>|z|)` = 2 * stats::pnorm(-abs(z)))
  if (exponentiate) {
    q <- stats::qnorm(1 - (1 - level) / 2)
    pct <- paste0(format(100 * c((1 - level) / 2, 1 - (1 - level) / 2), trim = TRUE), " %")
    ci <- cbind(exp(est), exp(est - q * se), exp(est + q * se))
    colnames(ci) <- c(exp_label(object$family), pct)
    tab <- cbind(tab, ci)
  }
  structure(list(
    coefficients = tab, thresholds = object$thresholds, varcomp = object$varcomp,
    VarCorr = VarCorr(object),
    loglik = object$loglik, AIC = stats::AIC(object), BIC = stats::BIC(object),
    nobs = object$nobs, ngroups = object$ngroups, group_name = names(re_groups(object)),
    family = object$family, formula = object$formula, approximation = approximation_label(object),
    optinfo = object$optinfo, exponentiate = exponentiate, sigma = object$sigma,
    call = object$call, residuals = scaled_residuals(object),
    weighted = !is.null(object$vcov_model), REML = isTRUE(object$REML),
    latent = latent_summary(object, irt)
  ), class = "summary.glamm")
}

# The Gamma and nbinom2 dispersion (x$sigma), as glmmTMB's sigma() reports it.
print_dispersion <- function(x, digits) {
  if (is_mixed(x$family) && length(names(x$sigma))) {
    cat("\nDispersion by family (sigma(): residual SD, coefficient of variation or theta):\n")
    print(x$sigma, digits = digits)
    return(invisible())
  }
  what <- switch(x$family$family, Gamma = "sigma (coefficient of variation, 1/sqrt(shape))",
                 nbinom2 = "theta (var = mu + mu^2/theta)")
  if (is.null(what)) return(invisible())
  cat(sprintf("\nDispersion: %s = %s\n", what, format(x$sigma, digits = digits)))
}

exp_label <- function(family) {
  if (family$family == "ordinal" && family$link == "logit") return("Cumulative odds ratio")
  if (family$link == "logit") return("Odds ratio")
  if (family$family == "Gamma" && family$link == "log") return("Mean ratio")
  if (family$link == "log") return("Rate ratio")
  "exp(Estimate)"
}

#' @export
print.summary.glamm <- function(x, digits = max(3, getOption("digits") - 3), ...) {
  cat(sprintf("Generalized linear mixed model (%s)\n", family_label(x$family)))
  cat("Fit by", x$approximation, "\n")
  print_call(x$formula, x$call)
  cat("\n")
  if (isTRUE(x$weighted)) {
    cat(sprintf("Survey weights: pseudo-log-likelihood %s; robust SE (sandwich, clustered %s)\n\n",
                format(x$loglik, digits = digits + 3), "at the top level"))
  } else if (isTRUE(x$REML)) {
    cat("REML criterion at convergence:", format(-2 * x$loglik, digits = digits + 3), "\n")
    print(c(`REML logLik` = x$loglik, AIC = x$AIC, BIC = x$BIC), digits = digits + 3)
    cat("\n")
  } else if (is.finite(x$loglik)) {
    print(c(logLik = x$loglik, AIC = x$AIC, BIC = x$BIC), digits = digits + 3)
    cat("\n")
  }
  print_scaled_residuals(x$residuals, digits)
  cat("Random effects:\n")
  print(x$VarCorr, digits = digits)
  cat(clusters_line(x$nobs, x$group_name, x$ngroups), "\n", sep = "")
  cat(if (isTRUE(x$weighted)) "\nVariance components (delta-method robust SEs):\n" else
    "\nVariance components (delta-method SEs):\n")
  print(as.matrix(x$varcomp), digits = digits)
  tab <- x$coefficients
  cat("\nFixed effects", if (isTRUE(x$weighted)) " (robust SE)", ":",
      if (nrow(tab) == 0) " none", "\n", sep = "")
  if (nrow(tab)) stats::printCoefmat(tab[, 1:4, drop = FALSE], digits = digits, has.Pvalue = TRUE)
  if (x$exponentiate) {
    cat("\n")
    print(tab[, -(1:4), drop = FALSE], digits = digits)
  }
  print_dispersion(x, digits)
  print_latent(x$latent, digits)
  if (!is.null(x$thresholds)) {
    cat("\nThresholds (P(Y <= c) = F(threshold_c - eta)):\n")
    print(as.matrix(x$thresholds), digits = digits)
  }
  cat("\n")
  print_convergence(x$optinfo, details = TRUE)
  invisible(x)
}

#' Confidence intervals: Wald, likelihood profile or parametric bootstrap
#'
#' `method = "Wald"` (the default) gives Wald intervals for the fixed effects
#' and, with `parm = "all"`, for the variance components (on the variance
#' scale, from delta-method SEs; these are poor near zero).
#'
#' `method = "profile"` gives likelihood-profile intervals (see
#' [profile.glamm()]): the values where twice the drop of the profile
#' log-likelihood from its maximum equals `qchisq(level, 1)`, found by root
#' finding on the signed square root of the profile, for the random-effect
#' standard deviations (rows `sd(x)`, or `sd(x|level)` with several levels),
#' the residual SD (`sigma`, gaussian family) and the fixed effects, in the
#' order of lme4's `confint(method = "profile")`. An SD whose profile does
#' not reach the limit before 0 (in particular one estimated at 0) has the
#' lower limit 0. Each limit costs a few refits of the model with one
#' parameter fixed.
#'
#' `method = "boot"` gives parametric bootstrap percentile intervals for the
#' same quantities (the SDs of all random effects): `nsim` responses are
#' simulated from the fit with [simulate.glamm()] (new random effects at
#' every level), the model is refit to each (from the estimates, with the
#' fit's approximation), and the `(1 - level) / 2` and `(1 + level) / 2`
#' quantiles of the refits' estimates are the limits. Refits that fail are
#' left out with a warning. For a fit with survey weights (`pweights`) the
#' bootstrap is the design-based one instead: the Rao-Wu rescaling bootstrap
#' of the top-level clusters (the primary sampling units), within `strata`
#' when the fit has them. Each replicate draws \eqn{n_h - 1} of the
#' \eqn{n_h} clusters of each stratum with replacement and multiplies the
#' weight of a cluster drawn \eqn{m} times by \eqn{m n_h / (n_h - 1)}; the
#' model is refit with those weights (the responses and the weights below
#' the top are kept). It estimates the same design variance as the sandwich
#' SEs, not the model-based one that simulating responses would give.
#'
#' @param object a `glamm` fit.
#' @param parm Wald: names or indices of fixed effects, or `"all"`. Profile
#'   and bootstrap: names or indices of rows, `"theta_"` for the SDs or
#'   `"beta_"` for the fixed effects; default all rows.
#' @param level confidence level.
#' @param method `"Wald"`, `"profile"` or `"boot"`.
#' @param nsim bootstrap: number of simulated responses (or of weight
#'   replicates, for a fit with survey weights).
#' @param seed bootstrap: optional seed for [set.seed()]; otherwise the
#'   current random number stream is used.
#' @param progress bootstrap: show a progress bar (default: in interactive
#'   sessions).
#' @param cl bootstrap: optional cluster from [parallel::makeCluster()] on
#'   which the refits run (glamm must be installed on its workers); the
#'   responses are simulated in this session, so the intervals do not depend
#'   on the cluster.
#' @param ... not used.
#' @return A matrix with one row per parameter and the lower and upper limits.
#' @examples
#' fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000,
#'              family = binomial, nAGQ = 5)
#' confint(fit)
#' exp(confint(fit))
#' \donttest{
#' confint(fit, method = "profile")
#' confint(fit, method = "boot", nsim = 20, seed = 1)
#' }
#' @export
confint.glamm <- function(object, parm, level = 0.95, method = c("Wald", "profile", "boot"),
                          nsim = 500, seed = NULL, progress = interactive(), cl = NULL, ...) {
  method <- match.arg(method)
  if (method == "profile") refuse_weighted(object, "method = \"profile\" intervals")
  if (!is.numeric(level) || length(level) != 1 || !(level > 0 && level < 1)) {
    stop("'level' must be a number between 0 and 1", call. = FALSE)
  }
  if (method == "profile") return(confint_profile(object, parm, level))
  if (method == "boot") return(confint_boot(object, parm, level, nsim, seed, progress, cl))
  est <- object$coefficients
  se <- sqrt(diag(object$vcov_beta))
  if (!missing(parm) && identical(parm, "all")) {
    est <- c(est, stats::setNames(object$varcomp$estimate, rownames(object$varcomp)))
    se <- c(se, object$varcomp$std.error)
  } else if (!missing(parm)) {
    est <- est[parm]
    se <- se[parm]
  }
  a <- (1 - level) / 2
  q <- stats::qnorm(1 - a)
  out <- cbind(est - q * se, est + q * se)
  dimnames(out) <- list(names(est), paste0(format(100 * c(a, 1 - a), trim = TRUE), " %"))
  out
}
