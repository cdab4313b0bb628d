# print() and summary() for glamm fits.

approximation_label <- function(object) {
  if (identical(object$method, "PQL")) {
    return("penalized quasi-likelihood (PQL: approximate, no likelihood)")
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

# "Observations: n; clusters (g): J" for one grouping factor,
# "Observations: n; clusters: class:school 160, school 40" for several.
clusters_line <- function(nobs, names, counts) {
  if (length(counts) == 1) {
    return(sprintf("Observations: %d; clusters (%s): %d", nobs, names, counts))
  }
  sprintf("Observations: %d; clusters: %s", nobs,
          paste(names, counts, sep = " ", collapse = ", "))
}

#' @export
print.glamm <- function(x, digits = max(3, getOption("digits") - 3), ...) {
  cat(sprintf("Generalized linear mixed model (%s, %s link)\n", x$family$family, x$family$link))
  cat("Fit by", approximation_label(x), "\n")
  if (!is.null(x$formula)) cat("Formula:", deparse1(x$formula), "\n")
  groups <- re_groups(x)
  cat(clusters_line(x$nobs, names(groups), x$ngroups), "\n", sep = "")
  if (is.finite(x$loglik)) {
    cat(sprintf("log-likelihood: %.4f   AIC: %.2f   BIC: %.2f\n", x$loglik,
                stats::AIC(x), stats::BIC(x)))
  }
  cat("\n")
  cat("Random effects:\n")
  print(VarCorr(x), digits = digits)
  cat("\nFixed effects:", if (length(x$coefficients) == 0) " none (y ~ 0 + ...)", "\n", sep = "")
  if (length(x$coefficients)) print(x$coefficients, digits = digits)
  print_dispersion(x, digits)
  if (!is.null(x$thresholds)) {
    cat("\nThresholds:\n")
    print(stats::setNames(x$thresholds$estimate, rownames(x$thresholds)), digits = digits)
  }
  if (!isTRUE(x$optinfo$converged)) cat("\nWarning: the optimizer did not converge.\n")
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
#' nested levels, the quadrature points of each level, and the number of
#' clusters of each grouping factor.
#'
#' @param object a `glamm` fit.
#' @param exponentiate add `exp(estimate)` and its confidence interval.
#' @param level confidence level of the intervals.
#' @param ... not used.
#' @return An object of class `summary.glamm` with elements `coefficients`
#'   (matrix: estimate, SE, z, p and, when asked, exp and CI), `thresholds`
#'   (ordinal family: estimates and SEs), `varcomp`
#'   (variances/covariances with SEs), `VarCorr`, `loglik`, `AIC`, `BIC`,
#'   `optinfo` and descriptive fields (`ngroups`: the number of clusters,
#'   a vector named by grouping factor when there are several).
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' fit <- glamm(pass_read ~ female + SES + (1 | id_school), data = d,
#'              family = binomial, nAGQ = 7)
#' summary(fit, exponentiate = TRUE)
#' @export
summary.glamm <- function(object, exponentiate = FALSE, level = 0.95, ...) {
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
    optinfo = object$optinfo, exponentiate = exponentiate, sigma = object$sigma
  ), class = "summary.glamm")
}

# The Gamma and nbinom2 dispersion (x$sigma), as glmmTMB's sigma() reports it.
print_dispersion <- function(x, digits) {
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
  cat(sprintf("Generalized linear mixed model (%s, %s link)\n", x$family$family, x$family$link))
  cat("Fit by", x$approximation, "\n")
  if (!is.null(x$formula)) cat("Formula:", deparse1(x$formula), "\n")
  cat(clusters_line(x$nobs, x$group_name, x$ngroups), "\n\n", sep = "")
  if (is.finite(x$loglik)) print(c(logLik = x$loglik, AIC = x$AIC, BIC = x$BIC), digits = digits + 3)
  cat("\nRandom effects:\n")
  print(x$VarCorr, digits = digits)
  cat("\nVariance components (delta-method SEs):\n")
  print(as.matrix(x$varcomp), digits = digits)
  tab <- x$coefficients
  cat("\nFixed effects:", if (nrow(tab) == 0) " none", "\n", sep = "")
  if (nrow(tab)) stats::printCoefmat(tab[, 1:4, drop = FALSE], digits = digits, has.Pvalue = TRUE)
  if (x$exponentiate) {
    cat("\n")
    print(tab[, -(1:4), drop = FALSE], digits = digits)
  }
  print_dispersion(x, digits)
  if (!is.null(x$thresholds)) {
    cat("\nThresholds (P(Y <= c) = F(threshold_c - eta)):\n")
    print(as.matrix(x$thresholds), digits = digits)
  }
  o <- x$optinfo
  cat(sprintf("\nOptimizer: %s, %d iterations; max |gradient| %.1e; %s\n", o$optimizer,
              o$iterations, max(abs(o$gradient)),
              if (isTRUE(o$converged)) "converged" else "NOT CONVERGED"))
  if (any(o$at_bound)) cat("Variance parameters on the boundary (zero):",
                           paste(names(o$at_bound)[o$at_bound], collapse = ", "), "\n")
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
#' left out with a warning.
#'
#' @param object a `glamm` fit.
#' @param parm Wald: names or indices of fixed effects, or `"all"`. Profile
#'   and bootstrap: names or indices of rows, `"theta_"` for the SDs or
#'   `"beta_"` for the fixed effects; default all rows.
#' @param level confidence level.
#' @param method `"Wald"`, `"profile"` or `"boot"`.
#' @param nsim bootstrap: number of simulated responses.
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
