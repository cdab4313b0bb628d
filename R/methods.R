# Accessor methods for glamm fits.

#' Extract parts of a glamm fit
#'
#' `fixef()` the fixed effects, `coef()` the cluster-specific coefficients
#' (fixed plus empirical Bayes random effects, one row per cluster, as in
#' lme4: one data frame per grouping factor, with that factor's effects
#' only), `vcov()` the covariance matrix of the fixed effects (of all
#' parameters with `full = TRUE`), `logLik()` the maximized (approximate)
#' log-likelihood with all normalizing constants, `nobs()` the number of
#' observations (more accessors, with lme4's conventions: [glamm-lme4]).
#'
#' @param object,formula a `glamm` fit.
#' @param full for `vcov()`: the covariance of all parameters (fixed effects,
#'   the free entries `theta` of the covariance factor and `log(sigma)` for
#'   the gaussian, `log(shape)` for the Gamma and `log(theta)` for the
#'   nbinom2 family), the inverse observed information.
#' @param type for `vcov()`: `NULL` (default) the fit's own covariance, the
#'   sandwich (robust) one for a fit with survey weights (`pweights` of
#'   [glamm()]) and the model-based one (inverse observed information)
#'   otherwise; `"model"` the model-based one; `"sandwich"` the sandwich
#'   \eqn{A^{-1} B A^{-1}}{A^-1 B A^-1}, with A the observed information and
#'   \eqn{B = J/(J-1) \sum_k s_k s_k'}{B = J/(J-1) sum_k s_k s_k'} from the
#'   scores of the J top-level clusters (by stratum, with centred scores,
#'   when the fit has `strata`), also for unweighted fits.
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
#' sigma(fit)  # 1: a binomial model has no dispersion parameter
#' head(coef(fit)$id_school)
#' @name glamm-accessors
NULL

#' @rdname glamm-accessors
#' @export
fixef.glamm <- function(object, ...) object$coefficients

#' @rdname glamm-accessors
#' @export
coef.glamm <- function(object, ...) {
  beta <- object$coefficients
  lapply(re_groups(object), function(gr) {
    b <- gr$ranef$mean
    out <- matrix(beta, nrow(b), length(beta), byrow = TRUE,
                  dimnames = list(rownames(b), names(beta)))
    shared <- intersect(colnames(b), names(beta))
    out[, shared] <- out[, shared] + b[, shared]
    extra <- setdiff(colnames(b), names(beta))
    out <- cbind(out, b[, extra, drop = FALSE])
    as.data.frame(out, check.names = FALSE)
  })
}

#' @rdname glamm-accessors
#' @export
vcov.glamm <- function(object, full = FALSE, type = NULL, ...) {
  if (is.null(type)) return(if (full) object$vcov_par else object$vcov_beta)
  weighted <- !is.null(object$vcov_model)
  V <- {
    type <- match.arg(type, c("model", "sandwich"))
    if (type == "model") {
      object$vcov_model %||% object$vcov_par
    } else if (weighted) {
      object$vcov_par
    } else {
      if (!identical(object$method, "ML")) {
        stop("the sandwich covariance needs a fit by maximum likelihood", call. = FALSE)
      }
      if (!is.null(object$crossed)) {
        stop("the sandwich covariance needs independent top-level clusters; crossed factors ",
             "(", paste(object$crossed, collapse = "; "), ") have none", call. = FALSE)
      }
      obj <- fit_objective(object)
      out <- fit_sandwich(obj, object$par, object$vcov_par, obj$tree, obj$levels,
                          object$survey$strata)
      dimnames(out) <- dimnames(object$vcov_par)
      out
    }
  }
  if (full) V else V[seq_along(object$coefficients), seq_along(object$coefficients), drop = FALSE]
}

#' @rdname glamm-accessors
#' @export
logLik.glamm <- function(object, ...) {
  if (isTRUE(object$REML)) {
    return(structure(object$loglik, df = object$df, nobs = object$nobs, REML = TRUE,
                     class = c("glamm_REML_logLik", "logLik")))
  }
  structure(object$loglik, df = object$df, nobs = object$nobs, class = "logLik")
}

#' @export
print.glamm_REML_logLik <- function(x, digits = getOption("digits"), ...) {
  cat("'log Lik.' (restricted, REML) ", paste(format(c(x), digits = digits), collapse = ", "),
      " (df=", format(attr(x, "df")), "; REML criterion ",
      format(-2 * c(x), digits = digits), ")\n", sep = "")
  invisible(x)
}

#' @rdname glamm-accessors
#' @export
nobs.glamm <- function(object, ...) object$nobs

#' @rdname glamm-accessors
#' @export
family.glamm <- function(object, ...) object$family

#' @rdname glamm-accessors
#' @export
model.frame.glamm <- function(formula, ...) {
  stop_without_rows(formula)
  formula$frame
}

`%||%` <- function(a, b) if (is.null(a)) b else a

# The levels of random effects of a fit, innermost first, named by their
# labels: fit$groups, with the label of a one-level fit from glamm() (PQL fits
# carry the working model's levels, named "group"), or built from the fields
# of a fit made before nested levels existed.
re_groups <- function(object) {
  g <- object$groups
  if (is.null(g)) {
    g <- list(list(name = object$group_name %||% "group", factor = object$data$group,
                   Z = object$data$Z, pattern = object$pattern, theta = object$theta,
                   lambda = object$lambda, Sigma = object$Sigma, nAGQ = object$nAGQ,
                   parent = NULL, ranef = object$ranef))
  }
  if (length(g) == 1 && !is.null(object$group_name)) g[[1]]$name <- object$group_name[1]
  names(g) <- vapply(g, function(gr) gr$name, "")
  g
}

# The positions of each level's theta in fit$par (levels innermost first).
theta_positions <- function(object, groups = re_groups(object)) {
  nt <- vapply(groups, function(gr) sum(gr$pattern), 1L)
  ends <- length(object$coefficients) + cumsum(nt)
  lapply(seq_along(groups), function(l) ends[l] - nt[l] + seq_len(nt[l]))
}

#' Random-effect variances, standard deviations and correlations
#'
#' @param x a `glamm` fit (for `as.data.frame()`, a `VarCorr.glamm` object).
#' @param sigma not used (for compatibility with the generic).
#' @param row.names,optional not used.
#' @param ... not used.
#' @return An object of class `VarCorr.glamm`: a list with one covariance
#'   matrix of the random effects per grouping factor (named after the
#'   factor, innermost level first as lme4 lists them, with attributes
#'   `stddev` and `correlation`) and, for the gaussian family, the residual
#'   standard deviation as attribute `sc`. `as.data.frame()` gives lme4's long
#'   table: columns `grp`, `var1`, `var2`, `vcov` (variance or covariance)
#'   and `sdcor` (standard deviation or correlation), the variances of each
#'   factor first, then its covariances (only those the model estimates, not
#'   the zeros between `||` terms), then the residual.
#' @examples
#' fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000,
#'              family = binomial, nAGQ = 5)
#' VarCorr(fit)
#' as.data.frame(VarCorr(fit))
#' @export
VarCorr.glamm <- function(x, sigma = 1, ...) {
  groups <- re_groups(x)
  out <- lapply(groups, function(gr) {
    S <- gr$Sigma
    sd <- sqrt(diag(S))
    corr <- S / outer(sd, sd)
    corr[!is.finite(corr)] <- 0
    diag(corr) <- 1
    structure(S, stddev = sd, correlation = corr)
  })
  structure(out, sc = if (x$family$family == "gaussian") x$sigma else NULL,
            free = lapply(groups, function(gr) abs(tcrossprod(gr$pattern * 1)) > 0),
            class = "VarCorr.glamm")
}

#' @rdname VarCorr.glamm
#' @export
as.data.frame.VarCorr.glamm <- function(x, row.names = NULL, optional = FALSE, ...) {
  free <- attr(x, "free")
  rows <- lapply(names(x), function(g) {
    S <- x[[g]]
    nm <- rownames(S) %||% paste0("V", seq_len(nrow(S)))
    lt <- lower.tri(S)
    if (!is.null(free[[g]])) lt <- lt & free[[g]]
    n <- nrow(S)
    data.frame(grp = g, var1 = nm[c(seq_len(n), col(S)[lt])],
               var2 = c(rep(NA_character_, n), nm[row(S)[lt]]),
               vcov = c(diag(S), S[lt]),
               sdcor = c(attr(S, "stddev"), attr(S, "correlation")[lt]),
               stringsAsFactors = FALSE)
  })
  if (!is.null(attr(x, "sc"))) {
    rows[[length(rows) + 1]] <- data.frame(grp = "Residual", var1 = NA_character_,
                                           var2 = NA_character_, vcov = attr(x, "sc")^2,
                                           sdcor = attr(x, "sc"), stringsAsFactors = FALSE)
  }
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  out
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
