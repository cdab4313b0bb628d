# Support for package emmeans: recover_data() and emm_basis() methods for
# glamm fits, registered lazily (S3method(emmeans::recover_data, glamm) in
# NAMESPACE) so that glamm imports nothing new.

#' Estimated marginal means of glamm fits (emmeans support)
#'
#' Methods that let [emmeans::emmeans()] and the rest of package emmeans work
#' on `glamm` fits of the binomial, poisson and gaussian families, as they
#' work on [lme4::glmer()] fits. The reference grid is built from the fixed
#' part of the model, with the fixed effects and their covariance matrix
#' ([vcov.glamm()], the inverse observed information); the random effects are
#' at zero, so `type = "response"` back-transforms the linear predictor of a
#' typical cluster (not the population average of [predict.glamm()] with
#' `marginal = TRUE`). Degrees of freedom are infinite (z tests), as for
#' glmer. The methods are registered when emmeans is loaded; glamm does not
#' import it.
#'
#' The data are recovered from the fit's call, as emmeans does for glmer:
#' the data frame must still be reachable from the environment of the
#' formula (or be passed as `data`).
#'
#' @param object a `glamm` fit.
#' @param trms,xlev,grid supplied by emmeans: the terms of the fixed part,
#'   the factor levels and the reference grid.
#' @param ... passed on to emmeans's own `recover_data()` method for calls
#'   (e.g. `data`).
#' @return `recover_data()`: the data of the predictors; `emm_basis()`: a
#'   list with the model matrix of the grid `X`, the estimates `bhat`, their
#'   covariance `V`, the non-estimability basis `nbasis`, a function `dffun`
#'   giving infinite degrees of freedom and `misc` with the link.
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' d$lang <- factor(d$test_lang, labels = c("other", "English"))
#' fit <- glamm(pass_read ~ female + SES + lang + (1 | id_school), data = d,
#'              family = binomial, nAGQ = 7)
#' if (requireNamespace("emmeans", quietly = TRUE)) {
#'   emmeans::emmeans(fit, ~ lang, type = "response")   # probabilities
#'   emmeans::emmeans(fit, pairwise ~ lang, type = "response")  # odds ratio
#' }
#' @name glamm-emmeans
NULL

#' @rdname glamm-emmeans
#' @exportS3Method emmeans::recover_data
recover_data.glamm <- function(object, ...) {
  # emmeans reports a character result as the reason it cannot go on.
  fam <- stats::family(object)$family
  if (!fam %in% emmeans_families) {
    return(paste0("emmeans support is for the ", paste(emmeans_families, collapse = ", "),
                  " families, not ", fam))
  }
  if (is.null(object$terms) || is.null(object$call)) {
    return("emmeans needs a fit from glamm() (with a formula and data)")
  }
  emmeans::recover_data(object$call, stats::delete.response(object$terms), object$na.action,
                        frame = stats::model.frame(object), ...)
}

#' @rdname glamm-emmeans
#' @exportS3Method emmeans::emm_basis
emm_basis.glamm <- function(object, trms, xlev, grid, ...) {
  fam <- stats::family(object)
  m <- stats::model.frame(trms, grid, na.action = stats::na.pass, xlev = xlev)
  X <- stats::model.matrix(trms, m, contrasts.arg = object$contrasts)
  bhat <- fixef(object)
  V <- stats::vcov(object)
  nbasis <- matrix(NA_real_, 1, 1)
  if (!all(colnames(X) %in% names(bhat))) {
    # Columns dropped from a rank-deficient design: NA estimates, and the
    # null space of the fit's full design marks the non-estimable functions.
    full <- stats::model.matrix(trms, stats::model.frame(object),
                                contrasts.arg = object$contrasts)
    nbasis <- null_space(full)
    kept <- match(names(bhat), colnames(X))
    b <- stats::setNames(rep(NA_real_, ncol(X)), colnames(X))
    b[kept] <- bhat
    bhat <- b
  } else {
    X <- X[, names(bhat), drop = FALSE]
  }
  list(X = X, bhat = bhat, nbasis = nbasis, V = V,
       dffun = function(k, dfargs) Inf, dfargs = list(),
       misc = emmeans::.std.link.labels(fam, list()))
}

emmeans_families <- c("binomial", "poisson", "gaussian")

# An orthonormal basis of the null space of X (columns), for emmeans's
# estimability check.
null_space <- function(X) {
  s <- svd(X, nu = 0)
  small <- s$d <= max(dim(X)) * max(s$d) * .Machine$double.eps^0.5
  s$v[, small, drop = FALSE]
}
