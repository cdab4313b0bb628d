# Support for package emmeans: recover_data() and emm_basis() methods for
# glamm fits, registered lazily (S3method(emmeans::recover_data, glamm) in
# NAMESPACE) so that glamm imports nothing new.

#' Estimated marginal means of glamm fits (emmeans support)
#'
#' Methods that let [emmeans::emmeans()] and the rest of package emmeans work
#' on `glamm` fits of the binomial, poisson, gaussian and ordinal families, as
#' they work on [lme4::glmer()] and [ordinal::clmm()] fits. The reference grid
#' is built from the fixed part of the model, with the fixed effects and their
#' covariance matrix ([vcov.glamm()], the inverse observed information); the
#' random effects are at zero, so `type = "response"` back-transforms the
#' linear predictor of a typical cluster (not the population average of
#' [predict.glamm()] with `marginal = TRUE`). Degrees of freedom are infinite
#' (z tests), as for glmer. The methods are registered when emmeans is
#' loaded; glamm does not import it.
#'
#' For the [ordinal()] family, `mode` is as for clm and clmm fits:
#' `"latent"` (default) the linear predictor `x'beta` less the mean
#' threshold, on the scale of the latent variable (`rescale = c(a, b)` gives
#' `a + b * latent`); `"linear.predictor"` the `threshold_c - x'beta` of
#' every cut `c` (with `type = "response"`, the cumulative probabilities);
#' `"cum.prob"` and `"exc.prob"` the probabilities `P(Y <= c)` and
#' `P(Y > c)`; `"prob"` the probability of each category; `"mean.class"` the
#' mean category number. The covariance of the thresholds and the fixed
#' effects comes from [vcov.glamm()] with `full = TRUE` by the chain rule.
#'
#' The data are recovered from the fit's call, as emmeans does for glmer:
#' the data frame must still be reachable from the environment of the
#' formula (or be passed as `data`).
#'
#' @param object a `glamm` fit.
#' @param trms,xlev,grid supplied by emmeans: the terms of the fixed part,
#'   the factor levels and the reference grid.
#' @param mode for the ordinal family, what to estimate (see Details).
#' @param rescale for the ordinal family with `mode = "latent"`: the latent
#'   variable is shown as `rescale[1] + rescale[2] * latent`.
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
#'   print(emmeans::emmeans(fit, ~ lang, type = "response"))   # probabilities
#'   print(emmeans::emmeans(fit, pairwise ~ lang, type = "response"))  # odds ratio
#' }
#' if (requireNamespace("emmeans", quietly = TRUE) &&
#'     requireNamespace("ordinal", quietly = TRUE)) {
#'   w <- glamm(rating ~ temp + contact + (1 | judge), data = ordinal::wine,
#'              family = ordinal(), nAGQ = 5)
#'   print(emmeans::emmeans(w, ~ temp))                     # latent scale
#'   print(emmeans::emmeans(w, ~ rating | temp, mode = "prob"))
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
emm_basis.glamm <- function(object, trms, xlev, grid, mode = c("latent", "linear.predictor",
                            "cum.prob", "exc.prob", "prob", "mean.class"), rescale = c(0, 1),
                            ...) {
  fam <- stats::family(object)
  if (fam$family == "ordinal") {
    return(emm_basis_ordinal(object, trms, xlev, grid, match.arg(mode), rescale))
  }
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

emmeans_families <- c("binomial", "poisson", "gaussian", "ordinal")

# The ordinal family, P(Y <= c) = F(tau_c - x'beta), as emmeans treats clm and
# clmm fits: the coefficients are (tau, beta); mode "latent" gives
# x'beta - mean(tau) (times rescale[2], less rescale[1]), the other modes the
# linear predictors tau_c - x'beta of every cut, which emmeans's hook for clm
# fits turns into cumulative, exceedance or category probabilities or mean
# classes.
emm_basis_ordinal <- function(object, trms, xlev, grid, mode, rescale) {
  m <- stats::model.frame(trms, grid, na.action = stats::na.pass, xlev = xlev)
  X <- stats::model.matrix(trms, m, contrasts.arg = object$contrasts)
  beta <- fixef(object)
  X <- X[, names(beta), drop = FALSE]
  tau <- summary(object)$thresholds
  cuts <- rownames(tau)
  k <- length(cuts)
  bhat <- c(stats::setNames(tau$estimate, cuts), beta)
  # Covariance of (tau, beta) from that of (psi, beta), psi the optimizer's
  # thresholds (tau_1, log(tau_2 - tau_1), ...): d tau_c / d psi_j is 1 for
  # j = 1 and tau_j - tau_{j-1} for 1 < j <= c.
  full <- stats::vcov(object, full = TRUE)
  psi <- utils::tail(seq_len(ncol(full)), k)
  idx <- c(psi, match(names(beta), colnames(full)))
  J <- matrix(0, k, k)
  J[, 1] <- 1
  steps <- diff(tau$estimate)
  for (j in seq_len(k)[-1]) J[j:k, j] <- steps[j - 1]
  A <- diag(length(idx))
  A[seq_len(k), seq_len(k)] <- J
  V <- A %*% full[idx, idx, drop = FALSE] %*% t(A)
  dimnames(V) <- list(names(bhat), names(bhat))
  misc <- list()
  if (mode == "latent") {
    bigX <- cbind(matrix(-rescale[2] / k, nrow(X), k), rescale[2] * X)
    bhat[seq_len(k)] <- bhat[seq_len(k)] - rescale[1] / rescale[2]
  } else {
    bigX <- cbind(kronecker(diag(k), matrix(1, nrow(X), 1)), kronecker(matrix(-1, k, 1), X))
    misc$ylevs <- list(cut = cuts)
    misc$tran <- fam_link(object)
    misc$inv.lbl <- "cumprob"
    misc$offset.mult <- -1
    if (mode != "linear.predictor") {
      misc$mode <- mode
      misc$respName <- as.character(formula(object)[[2]])
      misc$postGridHook <- ".clm.postGrid"
    }
  }
  dimnames(bigX) <- list(NULL, names(bhat))
  list(X = bigX, bhat = bhat, nbasis = matrix(NA_real_, 1, 1), V = V,
       dffun = function(k, dfargs) Inf, dfargs = list(), misc = misc)
}

fam_link <- function(object) stats::family(object)$link

# An orthonormal basis of the null space of X (columns), for emmeans's
# estimability check.
null_space <- function(X) {
  s <- svd(X, nu = 0)
  small <- s$d <= max(dim(X)) * max(s$d) * .Machine$double.eps^0.5
  s$v[, small, drop = FALSE]
}
