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
#' The fits must have the same response values, family and link, and be
#' nested: each one's fixed-effects design within the column space of the
#' next larger one's (so that `y ~ f` and `y ~ 0 + f`, or `x` and `2 * x`,
#' match, and a column of the same name but other values does not), its
#' grouping factors (by their clusters) among the larger one's, and the
#' random-effects design of each grouping factor within the column space of
#' the larger one's; otherwise `anova()` stops and says which condition
#' fails.
#'
#' REML fits (`glamm(..., REML = TRUE)`): the restricted likelihood depends
#' on the fixed-effects design, so REML criteria of models with different
#' fixed effects are not comparable. As lme4's `anova()`, the default
#' `refit = TRUE` refits every REML fit by maximum likelihood (with a
#' message) and tests the ML fits, so the table is lme4's. With
#' `refit = FALSE` REML fits are compared by their REML criteria when all of
#' them are REML fits with the same fixed effects (a test of the random
#' part); REML fits with different fixed effects, or REML fits beside ML
#' fits, are then refused with an error (lme4 would compare them, with at
#' most a warning).
#'
#' @param object a `glamm` fit.
#' @param ... further `glamm` (or `glm`) fits.
#' @param refit refit REML fits by maximum likelihood before comparing them
#'   (`TRUE`, as lme4), or compare REML criteria (`FALSE`; see Details).
#' @return A data frame of class `anova` with columns `npar`, `logLik`, `AIC`,
#'   `BIC`, `Chisq`, `Df` and `Pr(>Chisq)`.
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' f0 <- glamm(pass_read ~ female + (1 | id_school), data = d, family = binomial, nAGQ = 7)
#' f1 <- glamm(pass_read ~ female + SES + (1 | id_school), data = d, family = binomial, nAGQ = 7)
#' anova(f0, f1)
#' @export
anova.glamm <- function(object, ..., refit = TRUE) {
  fits <- c(list(object), list(...))
  if (length(fits) < 2) stop("anova() needs at least two fits to compare", call. = FALSE)
  ok <- vapply(fits, function(f) inherits(f, c("glamm", "glm")), NA)
  if (!all(ok)) {
    stop(sprintf("anova() compares glamm (or glm) fits; argument %d is a %s", which(!ok)[1],
                 class(fits[[which(!ok)[1]]])[1]), call. = FALSE)
  }
  if (any(vapply(fits, function(f) !is.null(f$vcov_model), logical(1)))) {
    stop("likelihood-ratio tests are not valid for fits with survey weights (pweights): the ",
         "pseudo-log-likelihood is no likelihood; use Wald tests with the robust vcov(), ",
         "e.g. car::linearHypothesis() or car::Anova()", call. = FALSE)
  }
  if (any(vapply(fits, function(f) identical(f$method, "PQL"), logical(1)))) {
    stop("likelihood-ratio tests need maximum-likelihood fits: PQL has no likelihood",
         call. = FALSE)
  }
  calls <- as.list(match.call())[-1]
  calls <- calls[is.null(names(calls)) | names(calls) != "refit"]
  fits <- reml_for_anova(fits, refit)
  labels <- make.unique(vapply(calls[seq_along(fits)], function(e) paste(deparse(e),
                                                                          collapse = ""), ""))
  n <- vapply(fits, stats::nobs, numeric(1))
  if (length(unique(n)) > 1) {
    stop("the fits use different numbers of observations (", paste(n, collapse = ", "),
         "): refit them to the same data", call. = FALSE)
  }
  ll <- lapply(fits, stats::logLik)
  npar <- vapply(ll, function(l) attr(l, "df"), numeric(1))
  ord <- order(npar)
  check_comparable(fits[ord], labels[ord])
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
  heading <- if (isTRUE(fits[[1]]$REML)) {
    "Restricted (REML) likelihood-ratio tests of nested random parts\n"
  } else "Likelihood-ratio tests of nested models\n"
  structure(tab, heading = heading,
            class = c("anova", "data.frame"))
}

# The fits, sorted by their number of parameters, must be of one response
# (the same values: nobs alone does not tell two data sets apart), one family
# and link, and nested: each fit's fixed effects, grouping factors (compared
# as partitions of the rows, so that school/class and (1 | school) +
# (1 | class) match) and random effects within the next fit's.
check_comparable <- function(fits, labels) {
  fam <- vapply(fits, function(f) {
    if (is_mixed(f$family)) return(sprintf("(%s)", family_label(f$family)))
    sprintf("%s(%s)", f$family$family, f$family$link)
  }, "")
  mapping <- lapply(fits, function(f) f$family$mapping)
  if (length(unique(fam)) == 1 && !all(vapply(mapping, identical, NA, mapping[[1]]))) {
    stop(sprintf("%s and the other fits give the observations different families",
                 labels[1]), call. = FALSE)
  }
  if (length(unique(fam)) > 1) {
    k <- which(fam != fam[1])[1]
    stop(sprintf(paste0("%s is a %s fit and %s a %s fit: likelihoods of different families ",
                        "or links are not comparable"), labels[1], fam[1], labels[k], fam[k]),
         call. = FALSE)
  }
  sharded <- vapply(fits, function(f) inherits(f, "glamm") && !is.null(f$sharded_data), NA)
  if (any(sharded)) return(check_comparable_sharded(fits, labels, sharded))
  y <- lapply(fits, anova_response)
  for (k in seq_along(fits)[-1]) {
    if (!isTRUE(all.equal(y[[1]], y[[k]], check.attributes = FALSE))) {
      stop(sprintf(paste0("%s and %s have different response values: likelihood-ratio tests ",
                          "compare models of the same data; refit them to the same ",
                          "observations"), labels[1], labels[k]), call. = FALSE)
    }
  }
  for (k in seq_along(fits)[-1]) {
    small <- anova_structure(fits[[k - 1]])
    big <- anova_structure(fits[[k]])
    not_nested <- function(what) {
      stop(sprintf(paste0("%s and %s are not nested: %s %s; likelihood-ratio tests compare ",
                          "nested models (the smaller one a special case of the larger)"),
                   labels[k - 1], labels[k], labels[k - 1], what), call. = FALSE)
    }
    loading_gap <- latent_not_nested(fits[[k - 1]], fits[[k]], labels[k])
    if (!is.null(loading_gap)) not_nested(loading_gap)
    extra <- outside_span(small$X, big$X)
    if (length(extra)) {
      same_name <- intersect(extra, colnames(big$X))
      not_nested(sprintf("has the fixed effect%s %s, which %s lacks%s",
                         if (length(extra) > 1) "s" else "", paste(extra, collapse = ", "),
                         labels[k],
                         if (length(same_name)) {
                           sprintf(" (its %s holds other values)", paste(same_name, collapse = ", "))
                         } else ""))
    }
    for (l in seq_along(small$groups)) {
      m <- Position(function(g) same_partition(small$groups[[l]]$factor, g$factor), big$groups)
      if (is.na(m)) {
        not_nested(sprintf("has random effects by %s, which %s lacks",
                           names(small$groups)[l], labels[k]))
      }
      lacks <- outside_span(small$groups[[l]]$Z, big$groups[[m]]$Z)
      if (length(lacks)) {
        not_nested(sprintf("has the random effect %s of %s, which %s lacks", lacks[1],
                           names(small$groups)[l], labels[k]))
      }
    }
  }
  invisible()
}

# Fits on data read by the workers (glamm_shards()) hold no rows: their
# responses are compared by their sums, and their nesting by the names of
# the fixed effects and of each grouping factor's random effects.
check_comparable_sharded <- function(fits, labels, sharded) {
  if (!all(sharded)) {
    stop(sprintf(paste0("%s was fitted on data read by the workers and %s was not: fit both ",
                        "on the same data"), labels[which(sharded)[1]], labels[which(!sharded)[1]]),
         call. = FALSE)
  }
  y <- lapply(fits, function(f) f$sharded_data$response)
  for (k in seq_along(fits)[-1]) {
    if (!isTRUE(all.equal(y[[1]], y[[k]]))) {
      stop(sprintf(paste0("%s and %s have different response values: likelihood-ratio tests ",
                          "compare models of the same data"), labels[1], labels[k]),
           call. = FALSE)
    }
    small <- fits[[k - 1]]
    big <- fits[[k]]
    lacks <- setdiff(names(small$coefficients), names(big$coefficients))
    for (g in names(small$groups)) {
      lacks <- c(lacks, setdiff(colnames(small$groups[[g]]$Z), colnames(big$groups[[g]]$Z)))
    }
    if (length(lacks)) {
      stop(sprintf(paste0("%s and %s are not nested: %s has %s, which %s lacks; ",
                          "likelihood-ratio tests compare nested models"), labels[k - 1],
                   labels[k], labels[k - 1], lacks[1], labels[k]), call. = FALSE)
    }
  }
  invisible()
}

# The response values of a glamm or glm fit as numbers (a binary factor as 0/1).
anova_response <- function(f) {
  r <- if (inherits(f, "glamm")) {
    if (!is.null(f$frame)) stats::model.response(f$frame) else f$data$y
  } else {
    stats::model.response(stats::model.frame(f))
  }
  if (is.factor(r)) r <- if (is.ordered(r)) as.integer(r) else as.integer(r != levels(r)[1])
  unname(as.numeric(as.matrix(r)))
}

# The fixed-effects design and, per grouping factor, its clusters and its
# random-effects design (rows in the data's order). An ordinal fit's
# thresholds act as an intercept, so its design gets the column of 1s.
anova_structure <- function(f) {
  if (!inherits(f, "glamm")) {
    X <- stats::model.matrix(f)
    return(list(X = X[, !is.na(stats::coef(f)), drop = FALSE], groups = list()))
  }
  # (with factor loadings the designs before the loadings; R/latent-methods.R
  # compares the loadings)
  X <- if (is.null(f$latent)) stats::model.matrix(f) else fit_data(f, loaded = FALSE)$X
  if (f$family$family == "ordinal") X <- cbind(`(Intercept)` = 1, X)
  groups <- lapply(fit_level_designs(f, re_groups(f), loaded = FALSE), function(gr) {
    list(factor = gr$factor, Z = gr$Z)
  })
  list(X = X, groups = groups)
}

# The names of the columns of A (n x p) outside the column space of B (n x r):
# those whose residual on B is not negligible next to the column itself.
outside_span <- function(A, B) {
  if (ncol(A) == 0) return(character(0))
  res <- if (ncol(B) == 0) A else qr.resid(qr(B), A)
  size <- sqrt(colSums(A^2))
  out <- sqrt(colSums(as.matrix(res)^2)) > 1e-7 * pmax(size, .Machine$double.xmin)
  cn <- colnames(A) %||% paste0("column ", seq_len(ncol(A)))
  cn[out]
}

# Whether two grouping factors (of the same rows) make the same clusters.
same_partition <- function(a, b) {
  if (length(a) != length(b)) return(FALSE)
  a <- as.numeric(as.factor(a))
  b <- as.numeric(as.factor(b))
  pairs <- length(unique(a + (b - 1) * max(a)))
  pairs == length(unique(a)) && pairs == length(unique(b))
}

# REML fits for a likelihood-ratio table: refitted by ML (refit = TRUE, with
# lme4's message), or kept when all fits are REML with the same fixed effects
# (refit = FALSE); anything else is refused.
reml_for_anova <- function(fits, refit) {
  reml <- vapply(fits, function(f) isTRUE(f$REML), NA)
  if (!any(reml)) return(fits)
  if (isTRUE(refit)) {
    message("refitting model(s) with ML (instead of REML)")
    fits[reml] <- lapply(fits[reml], refit_ml)
    return(fits)
  }
  if (!all(reml)) {
    stop("some fits are by REML and some by ML: their criteria are not comparable; use ",
         "refit = TRUE (REML fits are refitted by ML, as lme4 does) or fit all by ML ",
         "(REML = FALSE)", call. = FALSE)
  }
  fixed <- lapply(fits, function(f) sort(names(f$coefficients)))
  if (!all(vapply(fixed, identical, NA, fixed[[1]]))) {
    stop("the REML fits have different fixed effects: REML criteria of models with ",
         "different fixed effects are not comparable (the restricted likelihood depends on ",
         "the fixed-effects design); use refit = TRUE (refits by ML, as lme4) or fit the ",
         "models with REML = FALSE", call. = FALSE)
  }
  fits
}
