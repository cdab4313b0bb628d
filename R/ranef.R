# Predictions of the random effects: empirical Bayes posterior means (by
# adaptive quadrature) with posterior covariances, posterior modes with the
# curvature at the mode, and per-cluster maximum-likelihood estimates.

#' Predictions of the random effects
#'
#' * `type = "mean"` (default): empirical Bayes predictions, the posterior
#'   means of the random effects given the data at the estimated parameters,
#'   computed by adaptive quadrature with the fit's `nAGQ` (with nested
#'   levels, by the nested quadrature over the whole top-level cluster), with
#'   their posterior covariances (attribute `postVar`).
#' * `type = "mode"`: posterior modes (the conditional modes of lme4; with
#'   nested levels the joint mode of all the effects of a top-level cluster),
#'   with the inverse curvature at the mode as `postVar`.
#' * `type = "ml"`: maximum-likelihood estimates for each cluster treating the
#'   fixed effects as known (the random effects as fixed parameters, no
#'   prior), with their sampling covariances as `postVar`. With nested
#'   levels, the estimate for a cluster of one level treats the fixed part
#'   plus the empirical Bayes predictions (posterior means) of the other
#'   levels' effects as a known offset: a class's estimate is given its
#'   school's predicted effect, a school's given its classes' predicted
#'   effects. Where a cluster's estimate does not exist (all responses 0, all
#'   successes, or a within-cluster design not of full rank) the row is `NA`
#'   and attribute `reason` says why.
#'
#' Posterior means are shrunk toward zero relative to the ML estimates, the
#' more so the less information a cluster has.
#'
#' @param object a `glamm` fit.
#' @param type `"mean"`, `"mode"` or `"ml"`.
#' @param ... not used.
#' @return An object of class `ranef.glamm`: a list with one data frame per
#'   grouping factor (clusters by random effects), named after the factor,
#'   innermost level first, each with attribute `postVar` (a q x q x clusters
#'   array). Use `as.data.frame()` for a long table with posterior SDs (lme4's
#'   columns `grpvar`, `term`, `grp`, `condval`, `condsd`) and `plot()` for a
#'   caterpillar plot (one panel per grouping factor and effect).
#' @examples
#' fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000,
#'              family = binomial, nAGQ = 7)
#' re <- ranef(fit)
#' head(as.data.frame(re))
#' plot(re)
#' @export
ranef.glamm <- function(object, type = c("mean", "mode", "ml"), ...) {
  type <- match.arg(type)
  groups <- re_groups(object)
  out <- lapply(seq_along(groups), function(l) {
    r <- groups[[l]]$ranef
    est <- switch(type,
      mean = list(value = r$mean, var = r$cov, reason = NULL),
      mode = list(value = r$mode, var = r$mode_cov, reason = NULL),
      ml = cluster_ml(object, groups, l)
    )
    df <- as.data.frame(est$value, check.names = FALSE)
    attr(df, "postVar") <- est$var
    if (!is.null(est$reason)) attr(df, "reason") <- est$reason
    df
  })
  structure(stats::setNames(out, names(groups)), type = type, class = "ranef.glamm")
}

# Per-cluster ML estimates of the effects of level l with the fixed part and
# the other levels' posterior means as an offset (IRLS by glm.fit); NA with a
# reason where the estimate does not exist.
cluster_ml <- function(object, groups, l) {
  dd <- fit_data(object)
  groups <- fit_level_designs(object, groups)
  fam <- object$family
  if (fam$family == "ordinal") {
    stop("per-cluster ML estimates are not available for the ordinal family", call. = FALSE)
  }
  glm_fam <- glm_family(object)
  eta0 <- drop(dd$X %*% object$coefficients) + dd$offset
  for (k in seq_along(groups)[-l]) {
    eta0 <- eta0 + posterior_mean_z(groups[[k]]$Z, groups[[k]]$ranef$mean,
                                    as.integer(groups[[k]]$factor))
  }
  binom <- fam$family == "binomial"
  y <- if (binom) ifelse(dd$trials > 0, dd$y / pmax(dd$trials, 1), 0) else dd$y
  wt <- dd$weights * if (binom) dd$trials else 1
  group <- groups[[l]]$factor
  Z <- groups[[l]]$Z
  levs <- levels(group)
  q <- ncol(Z)
  cn <- colnames(Z)
  value <- matrix(NA_real_, length(levs), q, dimnames = list(levs, cn))
  var <- array(NA_real_, c(q, q, length(levs)), dimnames = list(cn, cn, levs))
  reason <- rep(NA_character_, length(levs))
  rows <- split(seq_along(y), group)
  for (j in seq_along(levs)) {
    i <- rows[[j]]
    Zj <- Z[i, , drop = FALSE]
    if (qr(Zj)$rank < q) {
      reason[j] <- "the random-effect design is not of full rank within the cluster"
      next
    }
    if ((binom || fam$family %in% c("poisson", "nbinom2")) && all(y[i] == 0)) {
      reason[j] <- "all responses are 0: the ML estimate is -Inf"
      next
    }
    if (binom && all(y[i] == 1)) {
      reason[j] <- "all responses are successes: the ML estimate is +Inf"
      next
    }
    sep <- FALSE
    g <- withCallingHandlers(
      stats::glm.fit(Zj, y[i], weights = wt[i], offset = eta0[i], family = glm_fam),
      warning = function(w) { sep <<- TRUE; invokeRestart("muffleWarning") })
    if (sep || !g$converged) {
      reason[j] <- "the estimate does not exist (separation: fitted values at 0 or 1)"
      next
    }
    value[j, ] <- g$coefficients
    R <- qr.R(g$qr)[seq_len(q), seq_len(q), drop = FALSE]
    piv <- g$qr$pivot[seq_len(q)]
    Vj <- chol2inv(R)
    Vj[piv, piv] <- Vj
    if (fam$family %in% c("gaussian", "Gamma")) Vj <- Vj * object$sigma^2
    var[, , j] <- Vj
  }
  list(value = value, var = var, reason = stats::setNames(reason, levs))
}

#' @export
print.ranef.glamm <- function(x, ...) {
  cat(sprintf("Random effects (%s):\n", switch(attr(x, "type"),
    mean = "empirical Bayes posterior means", mode = "posterior modes",
    ml = "per-cluster maximum-likelihood estimates")))
  for (g in names(x)) {
    cat("$", g, "\n", sep = "")
    df <- x[[g]]
    attributes(df) <- attributes(df)[c("names", "row.names", "class")]
    print(utils::head(df, 10))
    if (nrow(df) > 10) cat(sprintf("... (%d clusters)\n", nrow(df)))
  }
  invisible(x)
}

#' @rdname ranef.glamm
#' @param x a `ranef.glamm` object.
#' @param row.names,optional not used.
#' @export
as.data.frame.ranef.glamm <- function(x, row.names = NULL, optional = FALSE, ...) {
  out <- lapply(names(x), function(g) {
    df <- x[[g]]
    pv <- attr(df, "postVar")
    do.call(rbind, lapply(seq_along(df), function(k) {
      data.frame(grpvar = g, term = names(df)[k], grp = factor(rownames(df), rownames(df)),
                 condval = df[[k]], condsd = sqrt(pv[k, k, ]), stringsAsFactors = FALSE)
    }))
  })
  out <- do.call(rbind, out)
  rownames(out) <- NULL
  out
}

#' @rdname ranef.glamm
#' @param level coverage of the intervals drawn by `plot()`.
#' @export
plot.ranef.glamm <- function(x, level = 0.95, ...) {
  d <- as.data.frame(x)
  z <- stats::qnorm(1 - (1 - level) / 2)
  # One panel per grouping factor and effect.
  panels <- unique(d[, c("grpvar", "term")])
  old <- graphics::par(mfrow = c(1, nrow(panels)), mar = c(4, 3, 2, 1))
  on.exit(graphics::par(old))
  for (p in seq_len(nrow(panels))) {
    t <- panels$term[p]
    s <- d[d$grpvar == panels$grpvar[p] & d$term == t & !is.na(d$condval), ]
    s <- s[order(s$condval), ]
    k <- seq_len(nrow(s))
    lo <- s$condval - z * s$condsd
    hi <- s$condval + z * s$condsd
    args <- utils::modifyList(list(x = s$condval, y = k, type = "n", yaxt = "n", xlab = t,
                                   ylab = "", main = s$grpvar[1],
                                   xlim = range(lo, hi, na.rm = TRUE)), list(...))
    do.call(graphics::plot, args)
    graphics::segments(lo, k, hi, k, col = "grey60")
    graphics::points(s$condval, k, pch = 19, cex = 0.5)
    graphics::abline(v = 0, lty = 2)
  }
  invisible(x)
}
