# Accessor methods for glamm fits.

#' Extract parts of a glamm fit
#'
#' `fixef()` the fixed effects, `coef()` the cluster-specific coefficients
#' (fixed plus empirical Bayes random effects, one row per cluster, as in
#' lme4), `vcov()` the covariance matrix of the fixed effects (of all
#' parameters with `full = TRUE`), `logLik()` the maximized (approximate)
#' log-likelihood with all normalizing constants, `nobs()` the number of
#' observations, `formula()` the model formula.
#'
#' @param object,x,formula a `glamm` fit.
#' @param full for `vcov()`: the covariance of all parameters (fixed effects,
#'   the free entries `theta` of the covariance factor and, for the gaussian
#'   family, `log(sigma)`), the inverse observed information.
#' @param ... not used.
#' @return See the description; `logLik()` returns a `logLik` object, so
#'   [stats::AIC()] and [stats::BIC()] work.
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' fit <- glamm(pass_read ~ female + SES + (1 | id_school), data = d,
#'              family = binomial, nAGQ = 7)
#' fixef(fit)
#' sqrt(diag(vcov(fit)))
#' c(logLik = logLik(fit), AIC = AIC(fit), BIC = BIC(fit))
#' head(coef(fit)$id_school)
#' @name glamm-accessors
NULL

#' @rdname glamm-accessors
#' @export
fixef.glamm <- function(object, ...) object$coefficients

#' @rdname glamm-accessors
#' @export
coef.glamm <- function(object, ...) {
  b <- object$ranef$mean
  beta <- object$coefficients
  out <- matrix(beta, nrow(b), length(beta), byrow = TRUE,
                dimnames = list(rownames(b), names(beta)))
  shared <- intersect(colnames(b), names(beta))
  out[, shared] <- out[, shared] + b[, shared]
  extra <- setdiff(colnames(b), names(beta))
  out <- cbind(out, b[, extra, drop = FALSE])
  stats::setNames(list(as.data.frame(out, check.names = FALSE)), object$group_name %||% "group")
}

#' @rdname glamm-accessors
#' @export
vcov.glamm <- function(object, full = FALSE, ...) {
  if (full) object$vcov_par else object$vcov_beta
}

#' @rdname glamm-accessors
#' @export
logLik.glamm <- function(object, ...) {
  structure(object$loglik, df = object$df, nobs = object$nobs, class = "logLik")
}

#' @rdname glamm-accessors
#' @export
nobs.glamm <- function(object, ...) object$nobs

#' @rdname glamm-accessors
#' @export
formula.glamm <- function(x, ...) x$formula %||% stats::as.formula("y ~ X - 1")

#' @rdname glamm-accessors
#' @export
family.glamm <- function(object, ...) object$family

#' @rdname glamm-accessors
#' @export
model.frame.glamm <- function(formula, ...) formula$frame

`%||%` <- function(a, b) if (is.null(a)) b else a

#' Random-effect variances, standard deviations and correlations
#'
#' @param x a `glamm` fit.
#' @param sigma not used (for compatibility with the generic).
#' @param ... not used.
#' @return An object of class `VarCorr.glamm`: a list with the covariance
#'   matrix of the random effects (element named after the grouping factor,
#'   with attributes `stddev` and `correlation`) and, for the gaussian family,
#'   the residual standard deviation as attribute `sc`.
#' @examples
#' fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000,
#'              family = binomial, nAGQ = 5)
#' VarCorr(fit)
#' @export
VarCorr.glamm <- function(x, sigma = 1, ...) {
  S <- x$Sigma
  sd <- sqrt(diag(S))
  corr <- S / outer(sd, sd)
  corr[!is.finite(corr)] <- 0
  diag(corr) <- 1
  out <- stats::setNames(list(structure(S, stddev = sd, correlation = corr)),
                         x$group_name %||% "group")
  structure(out, sc = if (x$family$family == "gaussian") x$sigma else NULL,
            class = "VarCorr.glamm")
}

#' @export
print.VarCorr.glamm <- function(x, digits = max(3, getOption("digits") - 3), ...) {
  rows <- list()
  for (g in names(x)) {
    S <- x[[g]]
    sd <- attr(S, "stddev")
    corr <- attr(S, "correlation")
    for (i in seq_along(sd)) {
      r <- data.frame(Groups = if (i == 1) g else "", Name = names(sd)[i],
                      Variance = format(S[i, i], digits = digits),
                      Std.Dev. = format(sd[i], digits = digits), stringsAsFactors = FALSE)
      if (length(sd) > 1) {
        cc <- if (i > 1) format(round(corr[i, seq_len(i - 1)], 3), nsmall = 3) else character(0)
        r$Corr <- paste(cc, collapse = " ")
      }
      rows[[length(rows) + 1]] <- r
    }
  }
  tab <- do.call(rbind, lapply(rows, function(r) { if (is.null(r$Corr)) r$Corr <- ""; r }))
  if (!is.null(attr(x, "sc"))) {
    tab <- rbind(tab, data.frame(Groups = "Residual", Name = "",
                                 Variance = format(attr(x, "sc")^2, digits = digits),
                                 Std.Dev. = format(attr(x, "sc"), digits = digits), Corr = ""))
  }
  if (all(tab$Corr == "")) tab$Corr <- NULL
  print(tab, row.names = FALSE, right = FALSE)
  invisible(x)
}
