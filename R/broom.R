# Tidiers for the broom / broom.mixed family of packages: tidy(), glance()
# and augment() for glamm fits, with the columns of broom.mixed's methods for
# glmer fits. The generics live in package 'generics'; the methods are
# registered lazily (S3method(generics::tidy, glamm) in NAMESPACE), so glamm
# imports nothing new.

#' Tidy a glamm fit (broom.mixed conventions)
#'
#' Methods for the generics `tidy()`, `glance()` and `augment()` of package
#' generics (re-exported by broom and broom.mixed), giving the columns that
#' broom.mixed gives for a [lme4::glmer()] fit. They are registered when
#' generics is loaded; glamm does not import it.
#'
#' `tidy()` gives one row per parameter:
#' * `effects = "fixed"`: the fixed effects with their Wald `std.error`,
#'   `statistic` (z) and `p.value`, for the [ordinal()] family preceded by the
#'   thresholds (`1|2`, ...) and with broom's column `coef.type`
#'   (`"intercept"` for the thresholds, `"location"` for the effects), as
#'   broom gives for [ordinal::clmm()] fits; with `exponentiate = TRUE` the estimate
#'   and interval are exponentiated (odds or rate ratios) and `std.error` is
#'   multiplied by the exponentiated estimate (delta method), as in
#'   broom.mixed.
#' * `effects = "ran_pars"`: the standard deviations (`sd__(Intercept)`) and
#'   correlations (`cor__(Intercept).x`) of the random effects of every
#'   grouping factor (`group`), in lme4's order (the lower triangle of each
#'   covariance matrix by columns, innermost level first), then
#'   `sd__Observation` of group `Residual` for the gaussian family;
#'   `scales = "vcov"` gives variances and covariances (`var__`, `cov__`)
#'   instead. Only the covariances the model estimates are listed (not the
#'   zeros between `||` terms). Unlike broom.mixed for glmer, `std.error` is
#'   filled in, by the delta method from the inverse observed information;
#'   Wald intervals (`conf.low`, `conf.high`) are not given for these
#'   parameters (they are poor near zero), as in broom.mixed.
#' * `effects = "ran_vals"`: the predicted random effects of every cluster
#'   at every level (`group`, `level`, `term`), with their posterior SDs as
#'   `std.error` and Wald-type intervals `estimate -/+ z * std.error`:
#'   posterior means by default (`ranef_type = "mean"`) or posterior modes
#'   (`"mode"`, the conditional modes that lme4 and broom.mixed report); see
#'   [ranef.glamm()].
#'
#' `glance()` gives one row: `nobs`, `sigma` (1 except for the gaussian
#' family), `logLik`, `AIC`, `BIC`, `deviance` and `df.residual` (the number
#' of observations less the number of parameters). As for lme4, `deviance`
#' is `-2 logLik` for the gaussian family (and for the ordinal family, as for
#' clm) and otherwise the sum of squared deviance residuals conditional on
#' the predicted random effects. For a REML fit the column `REMLcrit` (the
#' REML criterion, `-2 logLik`) takes the place of `deviance`, as in
#' broom.mixed's `glance()` of an lmer fit.
#'
#' `augment()` adds to the data the columns `.fitted` (linear predictor with
#' the predicted random effects of every level), `.fixed` (linear predictor
#' with the random effects at zero), `.mu` (the conditional mean,
#' [fitted.glamm()]), `.offset`, and, for the fit's own data, `.resid`
#' (deviance residuals, response residuals for the gaussian family, as
#' [lme4::residuals.merMod()]) and `.weights`. With `newdata`, only the
#' predictions are added (clusters not in the fit get random effects 0).
#' Leverages and Cook's distances are not available. Ordinal fits have no
#' `augment()` method.
#'
#' @param x a `glamm` fit.
#' @param effects any of `"fixed"`, `"ran_pars"` and `"ran_vals"`.
#' @param scales scale of the `ran_pars` rows: `"sdcor"` (standard deviations
#'   and correlations) or `"vcov"` (variances and covariances).
#' @param exponentiate exponentiate the fixed effects and their intervals.
#' @param conf.int add the columns `conf.low` and `conf.high`.
#' @param conf.level coverage of the intervals.
#' @param ranef_type `"mean"` or `"mode"`, for `effects = "ran_vals"`.
#' @param data for `augment()`: the data to add the columns to, by default
#'   the model frame (one row per observation of the fit; pass the original
#'   data of a fit with [stats::na.exclude()] to keep its rows).
#' @param newdata for `augment()`: new data to predict for.
#' @param ... not used.
#' @return A tibble when package tibble is available, else a data frame.
#' @examples
#' fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000,
#'              family = binomial, nAGQ = 5)
#' if (requireNamespace("broom.mixed", quietly = TRUE)) {
#'   library(broom.mixed)
#'   print(tidy(fit, conf.int = TRUE, exponentiate = TRUE))
#'   print(tidy(fit, effects = "ran_vals"))
#'   print(glance(fit))
#'   print(head(augment(fit)))
#' }
#' @name glamm-tidiers
NULL

#' @rdname glamm-tidiers
#' @exportS3Method generics::tidy
tidy.glamm <- function(x, effects = c("ran_pars", "fixed"), scales = c("sdcor", "vcov"),
                       exponentiate = FALSE, conf.int = FALSE, conf.level = 0.95,
                       ranef_type = c("mean", "mode"), ...) {
  scales <- match.arg(scales)
  ranef_type <- match.arg(ranef_type)
  bad <- setdiff(effects, c("fixed", "ran_pars", "ran_vals"))
  if (length(bad)) {
    stop("unknown effect type ", paste(sQuote(bad), collapse = ", "), "; use \"fixed\", ",
         "\"ran_pars\" or \"ran_vals\"", call. = FALSE)
  }
  z <- stats::qnorm(1 - (1 - conf.level) / 2)
  parts <- list()
  if ("fixed" %in% effects) {
    parts$fixed <- tidy_fixed(x, exponentiate, conf.int, z)
  }
  if ("ran_pars" %in% effects) {
    parts$ran_pars <- tidy_ran_pars(x, scales, conf.int)
  }
  if ("ran_vals" %in% effects) {
    parts$ran_vals <- tidy_ran_vals(x, ranef_type, conf.int, z)
  }
  columns <- c("effect", "group", "level", "term", "estimate", "std.error", "statistic",
               "p.value", "conf.low", "conf.high", "coef.type")
  present <- columns[columns %in% c("effect", unlist(lapply(parts, names)))]
  rows <- lapply(names(parts), function(e) {
    d <- parts[[e]]
    d$effect <- e
    for (v in setdiff(present, names(d))) d[[v]] <- if (v %in% c("group", "level", "coef.type")) {
      NA_character_
    } else NA_real_
    d[present]
  })
  as_tidy_frame(do.call(rbind, rows))
}

tidy_fixed <- function(x, exponentiate, conf.int, z) {
  est <- fixef(x)
  se <- sqrt(diag(stats::vcov(x)))
  tau <- summary(x)$thresholds
  if (!is.null(tau)) {
    est <- c(stats::setNames(tau$estimate, rownames(tau)), est)
    se <- c(tau$std.error, se)
  }
  zval <- unname(est / se)
  out <- data.frame(term = names(est), estimate = unname(est), std.error = unname(se),
                    statistic = zval, p.value = 2 * stats::pnorm(-abs(zval)),
                    stringsAsFactors = FALSE)
  if (!is.null(tau)) {
    out$coef.type <- rep(c("intercept", "location"), c(nrow(tau), length(fixef(x))))
  }
  if (conf.int) {
    out$conf.low <- out$estimate - z * out$std.error
    out$conf.high <- out$estimate + z * out$std.error
  }
  if (exponentiate) {
    for (v in intersect(c("estimate", "conf.low", "conf.high"), names(out))) {
      out[[v]] <- exp(out[[v]])
    }
    out$std.error <- out$std.error * out$estimate
  }
  out
}

# Standard deviations and correlations (or variances and covariances) of
# every level in lme4's order, with delta-method SEs from vcov(full = TRUE).
tidy_ran_pars <- function(x, scales, conf.int) {
  vc <- VarCorr(x)
  free <- attr(vc, "free")
  groups <- re_groups(x)
  V <- stats::vcov(x, full = TRUE)
  pos <- theta_positions(x, groups)
  prefix <- if (scales == "sdcor") c("sd", "cor") else c("var", "cov")
  rows <- lapply(seq_along(groups), function(l) {
    S <- vc[[l]]
    nm <- rownames(S)
    keep <- lower.tri(S, diag = TRUE) & free[[l]]
    i <- row(S)[keep]
    j <- col(S)[keep]
    term <- ifelse(i == j, paste0(prefix[1], "__", nm[i]),
                   paste0(prefix[2], "__", nm[j], ".", nm[i]))
    pattern <- groups[[l]]$pattern
    values <- function(theta) {
      S <- tcrossprod(theta_to_lambda(theta, pattern))
      if (scales == "vcov") return(S[keep])
      sd <- sqrt(diag(S))
      R <- S / outer(sd, sd)
      diag(R) <- 1
      ifelse(i == j, sd[i], R[keep])
    }
    theta <- groups[[l]]$theta
    est <- values(theta)
    J <- numeric_jacobian(values, theta)
    se <- sqrt(pmax(diag(J %*% V[pos[[l]], pos[[l]], drop = FALSE] %*% t(J)), 0))
    # No Wald SE for a variance estimated at zero (nor its correlations).
    zero <- diag(S) <= 1e-12 * max(1, diag(S))
    se[zero[i] | zero[j]] <- NA_real_
    est[!is.finite(est)] <- NA_real_
    data.frame(group = names(groups)[l], term = term, estimate = est, std.error = se,
               stringsAsFactors = FALSE)
  })
  sigma <- attr(vc, "sc")
  if (!is.null(sigma)) {
    k <- match("log(sigma)", colnames(V))
    se_log <- if (is.na(k)) NA_real_ else sqrt(V[k, k])
    rows[[length(rows) + 1]] <- data.frame(
      group = "Residual", term = paste0(prefix[1], "__Observation"),
      estimate = if (scales == "vcov") sigma^2 else sigma,
      std.error = se_log * if (scales == "vcov") 2 * sigma^2 else sigma,
      stringsAsFactors = FALSE)
  }
  out <- do.call(rbind, rows)
  if (conf.int) {
    out$conf.low <- NA_real_
    out$conf.high <- NA_real_
  }
  out
}

tidy_ran_vals <- function(x, ranef_type, conf.int, z) {
  re <- as.data.frame(ranef(x, type = ranef_type))
  out <- data.frame(group = re$grpvar, level = as.character(re$grp), term = re$term,
                    estimate = re$condval, std.error = re$condsd, stringsAsFactors = FALSE)
  if (conf.int) {
    out$conf.low <- out$estimate - z * out$std.error
    out$conf.high <- out$estimate + z * out$std.error
  }
  out
}

#' @rdname glamm-tidiers
#' @exportS3Method generics::glance
glance.glamm <- function(x, ...) {
  ll <- stats::logLik(x)
  n <- stats::nobs(x)
  vc <- VarCorr(x)
  deviance <- if (stats::family(x)$family %in% c("gaussian", "ordinal")) {
    -2 * as.numeric(ll)
  } else sum(stats::residuals(x, type = "deviance")^2, na.rm = TRUE)
  out <- data.frame(nobs = n, sigma = attr(vc, "sc") %||% 1, logLik = as.numeric(ll),
                    AIC = stats::AIC(x), BIC = stats::BIC(x), deviance = deviance,
                    df.residual = n - attr(ll, "df"))
  # A REML fit has the REML criterion in place of the deviance (as broom.mixed for lmer).
  if (isTRUE(x$REML)) names(out)[names(out) == "deviance"] <- "REMLcrit"
  as_tidy_frame(out)
}

#' @rdname glamm-tidiers
#' @exportS3Method generics::augment
augment.glamm <- function(x, data = stats::model.frame(x), newdata = NULL, ...) {
  if (stats::family(x)$family == "ordinal") {
    stop("augment() is not available for ordinal fits; see predict(type = \"response\")",
         call. = FALSE)
  }
  own <- is.null(newdata)
  out <- if (own) data else newdata
  # The fit's own predictions are padded with NA for rows that na.exclude()
  # dropped; the model frame has those rows removed.
  fit_rows <- function(v) {
    na <- x$na.action
    if (own && length(v) != nrow(out) && !is.null(na)) v <- v[-na]
    if (length(v) != nrow(out)) {
      stop("'data' must have one row per observation of the fit (", length(v), ")",
           call. = FALSE)
    }
    v
  }
  link <- stats::predict(x, newdata = newdata, allow.new.levels = TRUE)
  fixed <- stats::predict(x, newdata = newdata, re.form = NA)
  offset <- if (own) fit_data(x)$offset else prediction_design(x, newdata, FALSE, TRUE)$offset
  out$.fitted <- fit_rows(link)
  out$.fixed <- fit_rows(fixed)
  out$.mu <- fit_rows(x$family$linkinv(link))
  out$.offset <- if (own) fit_rows(stats::naresid(x$na.action, offset)) else offset
  if (own) {
    type <- if (stats::family(x)$family == "gaussian") "response" else "deviance"
    out$.resid <- fit_rows(stats::residuals(x, type = type))
    dd <- fit_data(x)
    w <- dd$weights * if (stats::family(x)$family == "binomial") dd$trials else 1
    out$.weights <- fit_rows(stats::naresid(x$na.action, w))
  }
  as_tidy_frame(out)
}

# A tibble when tibble is installed (it is whenever broom.mixed is), else a
# data frame without row names.
as_tidy_frame <- function(d) {
  rownames(d) <- NULL
  if (requireNamespace("tibble", quietly = TRUE)) tibble::as_tibble(d) else d
}
