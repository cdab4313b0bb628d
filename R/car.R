# car's Anova() and vif() for glamm fits, computed as car's methods for
# glmer fits (car:::Anova.merMod, car:::vif.merMod) compute them, from the
# fixed effects, their covariance matrix, the "assign" attribute of the
# fixed-effects design and the terms of the fixed part. car's default methods
# would read coef(), which for a glamm fit (as for lme4) is the per-cluster
# coefficients, and give wrong answers.

#' car's Anova() and vif() for glamm fits
#'
#' Wald chi-square tests of the fixed-effect terms and (generalized) variance
#' inflation factors, as package car computes them for glmer fits; the
#' methods are registered when car is loaded (car is not imported).
#'
#' * `Anova(fit, type = "II")` tests each term after all the terms that do
#'   not contain it (marginality respected: a main effect is tested in the
#'   model without its interactions, projected as car does on the inner
#'   product of the coefficients' covariance); `type = "III"` tests each
#'   term's coefficients being zero, the intercept included, whatever else
#'   is in the model (meaningful with sum-to-zero contrasts).
#' * `vif(fit)`: the generalized variance inflation factor of each term from
#'   the correlation matrix of the fixed effects without the intercept
#'   (Fox and Monette 1992), with `GVIF^(1/(2*Df))` for terms of several
#'   columns.
#'
#' @param mod a `glamm` fit.
#' @param type `"II"` or `"III"` (also `2` or `3`).
#' @param test.statistic only `"Chisq"` (Wald chi-square tests; car's `"F"`
#'   needs the Kenward-Roger adjustment of linear mixed models).
#' @param vcov. the covariance matrix of the fixed effects.
#' @param ... not used.
#' @return `Anova()`: an `"anova"` data frame with columns `Chisq`, `Df` and
#'   `Pr(>Chisq)`, one row per term. `vif()`: a named vector of VIFs when
#'   every term has one column, otherwise a matrix with columns `GVIF`, `Df`
#'   and `GVIF^(1/(2*Df))`.
#' @examples
#' if (requireNamespace("car", quietly = TRUE)) {
#'   d <- pisa2000
#'   d$SES <- (d$isei - mean(d$isei)) / 20
#'   fit <- glamm(pass_read ~ female * SES + high_school + (1 | id_school), data = d,
#'                family = binomial, nAGQ = 1)
#'   print(car::Anova(fit))
#'   print(car::Anova(fit, type = "III"))
#'   car::vif(fit)
#' }
#' @name glamm-car
NULL

#' @rdname glamm-car
#' @exportS3Method car::Anova
Anova.glamm <- function(mod, type = c("II", "III", 2, 3), test.statistic = "Chisq",
                        vcov. = stats::vcov(mod), ...) {
  type <- match.arg(as.character(type), c("II", "III", "2", "3"))
  type <- c(`2` = "II", `3` = "III", II = "II", III = "III")[[type]]
  if (!identical(test.statistic, "Chisq")) {
    stop("Anova() of a glamm fit gives Wald chi-square tests only (test.statistic = \"Chisq\")",
         call. = FALSE)
  }
  d <- car_design(mod, vcov.)
  rows <- if (type == "II") anova_type2_rows(d) else anova_type3_rows(d)
  tests <- vapply(rows, function(L) wald_chisq(L, d$beta, d$vcov), numeric(2))
  result <- data.frame(tests[1, ], tests[2, ],
                       stats::pchisq(tests[1, ], tests[2, ], lower.tail = FALSE))
  names(result) <- c("Chisq", "Df", "Pr(>Chisq)")
  row.names(result) <- names(rows)
  class(result) <- c("anova", "data.frame")
  response <- deparse1(attr(d$terms, "variables")[[2]])
  attr(result, "heading") <- c(
    sprintf("Analysis of Deviance Table (Type %s Wald chisquare tests)\n", type),
    paste("Response:", response))
  result
}

#' @rdname glamm-car
#' @exportS3Method car::vif
vif.glamm <- function(mod, ...) {
  d <- car_design(mod, stats::vcov(mod))
  v <- d$vcov
  assign <- d$assign
  if (d$intercept) {
    keep <- names(d$beta) != "(Intercept)"
    v <- v[keep, keep, drop = FALSE]
    assign <- assign[keep]
  } else {
    warning("No intercept: vifs may not be sensible.", call. = FALSE)
  }
  labels <- d$labels
  if (length(labels) < 2) stop("model contains fewer than 2 terms", call. = FALSE)
  R <- stats::cov2cor(v)
  det_R <- det(R)
  result <- matrix(0, length(labels), 3,
                   dimnames = list(labels, c("GVIF", "Df", "GVIF^(1/(2*Df))")))
  for (k in seq_along(labels)) {
    subs <- which(assign == k)
    result[k, 1] <- det(R[subs, subs, drop = FALSE]) * det(R[-subs, -subs, drop = FALSE]) / det_R
    result[k, 2] <- length(subs)
  }
  if (all(result[, 2] == 1)) return(result[, 1])
  result[, 3] <- result[, 1]^(1 / (2 * result[, 2]))
  result
}

# What the tests need: estimates, covariance, the term of each column
# (0 for the intercept), the terms' labels and their factor matrix.
car_design <- function(mod, vcov.) {
  beta <- mod$coefficients
  assign <- attr(stats::model.matrix(mod), "assign")
  tt <- stats::terms(mod)
  if (is.null(assign) || is.null(tt) || length(assign) != length(beta)) {
    stop("car's Anova() and vif() need a glamm() fit from a formula (the terms of the fixed ",
         "part and the columns they make)", call. = FALSE)
  }
  vcov. <- as.matrix(vcov.)
  if (!all(dim(vcov.) == length(beta))) {
    stop("'vcov.' must be the covariance matrix of the fixed effects", call. = FALSE)
  }
  list(beta = beta, vcov = vcov., assign = assign, terms = tt,
       labels = labels(tt), factors = attr(tt, "factors"),
       intercept = "(Intercept)" %in% names(beta))
}

# The Wald statistic of L beta = 0 and its degrees of freedom.
wald_chisq <- function(L, beta, V) {
  if (nrow(L) == 0) return(c(NA_real_, 0))
  Lb <- L %*% beta
  c(drop(crossprod(Lb, solve(L %*% V %*% t(L), Lb))), nrow(L))
}

# Type III: each term's own coefficients (the intercept first).
anova_type3_rows <- function(d) {
  p <- length(d$beta)
  labels <- c(if (d$intercept) "(Intercept)", d$labels)
  codes <- c(if (d$intercept) 0L, seq_along(d$labels))
  stats::setNames(lapply(codes, function(k) diag(p)[d$assign == k, , drop = FALSE]), labels)
}

# Type II: the hypothesis on a term's coefficients orthogonal, in the inner
# product of V, to those of its relatives (the terms that contain it), as
# car's Anova.II.mer with ConjComp().
anova_type2_rows <- function(d) {
  p <- length(d$beta)
  I_p <- diag(p)
  fac <- d$factors
  rows <- lapply(seq_along(d$labels), function(k) {
    others <- setdiff(seq_along(d$labels), k)
    relatives <- others[vapply(others, function(j) all(!(fac[, k] & !fac[, j])), TRUE)]
    H1 <- I_p[d$assign %in% relatives, , drop = FALSE]
    H2 <- I_p[d$assign %in% c(relatives, k), , drop = FALSE]
    L <- if (nrow(H1) == 0) H2 else t(conjugate_complement(t(H1), t(H2), d$vcov))
    L[apply(L, 1, function(r) any(r != 0)), , drop = FALSE]
  })
  stats::setNames(rows, d$labels)
}

# The part of the column space of Z conjugate (orthogonal in the inner
# product ip) to that of X: car's ConjComp().
conjugate_complement <- function(X, Z, ip) {
  xq <- qr(t(Z) %*% ip %*% X)
  if (xq$rank == 0) return(Z)
  Z %*% qr.Q(xq, complete = TRUE)[, -seq_len(xq$rank), drop = FALSE]
}
