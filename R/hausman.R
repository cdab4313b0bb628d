#' Hausman test of fixed against random cluster effects
#'
#' Compares the coefficients that a fixed-effects (conditional) estimator and
#' a random-effects fit share: `H = d' (V_fe - V_re)^{-1} d` with `d` the
#' difference of the estimates, referred to a chi-squared distribution with
#' as many degrees of freedom as compared coefficients. Under the hypothesis
#' that the random effects are independent of the covariates both estimators
#' are consistent and the random-effects one efficient; a large `H`
#' suggests that the covariates are correlated with the cluster effects. A
#' typical fixed-effects fit for a binary response is a conditional logit,
#' `survival::clogit(y ~ x + strata(cluster))`.
#'
#' @param fixed a fit with `coef()` and `vcov()` methods (e.g. from
#'   `survival::clogit`).
#' @param random a `glamm` fit.
#' @param parm names of the coefficients to compare; default all that both
#'   fits have.
#' @return A list of class `htest`-like data: `statistic`, `parameter`
#'   (degrees of freedom), `p.value` and a table `coefficients` with both
#'   estimates and SEs.
#' @examples
#' if (requireNamespace("survival", quietly = TRUE)) {
#'   library(survival)  # clogit() needs its own package attached
#'   d <- pisa2000
#'   d$SES <- (d$isei - mean(d$isei)) / 20
#'   fe <- clogit(pass_read ~ female + SES + strata(id_school), data = d)
#'   re <- glamm(pass_read ~ female + SES + (1 | id_school), data = d,
#'               family = binomial, nAGQ = 7)
#'   hausman(fe, re)
#' }
#' @export
hausman <- function(fixed, random, parm = NULL) {
  bf <- stats::coef(fixed)
  br <- fixef(random)
  if (is.null(parm)) parm <- intersect(names(bf), names(br))
  if (length(parm) == 0) stop("the fits share no coefficient names", call. = FALSE)
  Vf <- as.matrix(stats::vcov(fixed))[parm, parm, drop = FALSE]
  Vr <- stats::vcov(random)[parm, parm, drop = FALSE]
  d <- bf[parm] - br[parm]
  Vd <- Vf - Vr
  ev <- eigen(Vd, symmetric = TRUE, only.values = TRUE)$values
  if (min(ev) <= 0) {
    warning("V_fixed - V_random is not positive definite; the statistic uses a ",
            "generalized inverse", call. = FALSE)
  }
  e <- eigen(Vd, symmetric = TRUE)
  keep <- e$values > 1e-12 * max(abs(e$values))
  Vinv <- e$vectors[, keep, drop = FALSE] %*% (t(e$vectors[, keep, drop = FALSE]) / e$values[keep])
  stat <- drop(t(d) %*% Vinv %*% d)
  df <- sum(keep)
  tab <- data.frame(fixed = bf[parm], se_fixed = sqrt(diag(Vf)), random = br[parm],
                    se_random = sqrt(diag(Vr)), difference = d)
  structure(list(statistic = c(chisq = stat), parameter = c(df = df),
                 p.value = stats::pchisq(stat, df, lower.tail = FALSE), coefficients = tab),
            class = "glamm_hausman")
}

#' @export
print.glamm_hausman <- function(x, digits = 4, ...) {
  cat("Hausman test: fixed (conditional) versus random cluster effects\n\n")
  print(x$coefficients, digits = digits)
  cat(sprintf("\nchi-squared = %.3f, df = %d, p-value = %.4g\n", x$statistic, x$parameter,
              x$p.value))
  invisible(x)
}
