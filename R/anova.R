#' Likelihood-ratio tests of nested glamm fits
#'
#' Compares two or more fits of nested models to the same data, ordered by
#' their number of parameters, with the likelihood-ratio statistic
#' `2 (logLik_1 - logLik_0)` referred to a chi-squared distribution with the
#' difference in parameters as degrees of freedom. Fits may also be `glm`
#' objects (a model without random effects) for testing a variance against
#' zero. Such a test is on the boundary of the parameter space: the
#' chi-squared p-value is conservative, and for one variance the correct
#' reference is a 50:50 mixture of chi-squared(0) and chi-squared(1), i.e. half
#' the printed p-value. Put a `glamm` fit first: `anova(glm_fit, glamm_fit)`
#' dispatches to `anova.glm()`, which does not know glamm fits.
#'
#' @param object a `glamm` fit.
#' @param ... further `glamm` (or `glm`) fits.
#' @return A data frame of class `anova` with columns `npar`, `logLik`, `AIC`,
#'   `BIC`, `Chisq`, `Df` and `Pr(>Chisq)`.
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' f0 <- glamm(pass_read ~ female + (1 | id_school), data = d, family = binomial, nAGQ = 7)
#' f1 <- glamm(pass_read ~ female + SES + (1 | id_school), data = d, family = binomial, nAGQ = 7)
#' anova(f0, f1)
#' @export
anova.glamm <- function(object, ...) {
  fits <- c(list(object), list(...))
  if (length(fits) < 2) stop("anova() needs at least two fits to compare", call. = FALSE)
  if (any(vapply(fits, function(f) identical(f$method, "PQL"), logical(1)))) {
    stop("likelihood-ratio tests need maximum-likelihood fits: PQL has no likelihood",
         call. = FALSE)
  }
  calls <- as.list(match.call())[-1]
  labels <- vapply(calls[seq_along(fits)], function(e) paste(deparse(e), collapse = ""), "")
  n <- vapply(fits, stats::nobs, numeric(1))
  if (length(unique(n)) > 1) {
    stop("the fits use different numbers of observations (", paste(n, collapse = ", "),
         "): refit them to the same data", call. = FALSE)
  }
  ll <- lapply(fits, stats::logLik)
  npar <- vapply(ll, function(l) attr(l, "df"), numeric(1))
  ord <- order(npar)
  ll <- vapply(ll, as.numeric, numeric(1))[ord]
  npar <- npar[ord]
  aic <- vapply(fits, stats::AIC, numeric(1))[ord]
  bic <- vapply(fits, stats::BIC, numeric(1))[ord]
  chisq <- c(NA, 2 * diff(ll))
  df <- c(NA, diff(npar))
  p <- c(NA, stats::pchisq(chisq[-1], df[-1], lower.tail = FALSE))
  p[!is.na(df) & df <= 0] <- NA
  tab <- data.frame(npar = npar, logLik = ll, AIC = aic, BIC = bic, Chisq = chisq, Df = df,
                    `Pr(>Chisq)` = p, row.names = labels[ord], check.names = FALSE)
  structure(tab, heading = "Likelihood-ratio tests of nested models\n",
            class = c("anova", "data.frame"))
}
