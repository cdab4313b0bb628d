# Discrete-time durations: person-period expansion and survival curves. A
# subject observed for periods 1..T with event indicator d contributes
#   prod_{t < T} (1 - h_t) * h_T^d (1 - h_T)^(1 - d),
# which is the likelihood of binary responses y_t = [t = T and d = 1] in the
# person-period data; a binary glamm fit (logit: proportional odds, cloglog:
# grouped proportional hazards) on those data is the discrete-time hazard
# model, with frailty when it has random effects.

#' Expand durations to person-period data
#'
#' Turns one row per subject (a discrete duration and an event indicator) into
#' one row per subject and period at risk, with a binary response that is 1
#' in the period of the event. A binary [glamm()] fit to the result with a
#' `logit` or `cloglog` link is the discrete-time hazard model (the
#' continuation-ratio model), with a frailty when the formula has random
#' effects for subjects or clusters of subjects.
#'
#' @param data a data frame with one row per subject.
#' @param time name of the column with the discrete time (1, 2, ...) of the
#'   event or of censoring.
#' @param event name of the column that is 1 when the event occurred at
#'   `time` and 0 when the subject was censored then.
#' @param period name of the new column numbering the periods at risk.
#' @param response name of the new binary response column.
#' @return A data frame with the columns of `data` repeated for each period at
#'   risk, plus `period` and `response`.
#' @seealso [survival_curve()] for survival curves from the fit.
#' @examples
#' d <- data.frame(id = 1:3, time = c(2, 3, 1), died = c(1, 0, 1), x = c(0.5, -1, 0))
#' expand_periods(d, "time", "died")
#' @export
expand_periods <- function(data, time, event, period = "period", response = "y") {
  if (!is.data.frame(data)) stop("'data' must be a data frame", call. = FALSE)
  missing_cols <- setdiff(c(time, event), names(data))
  if (length(missing_cols)) {
    stop("not in 'data': ", paste(missing_cols, collapse = ", "), call. = FALSE)
  }
  T <- data[[time]]
  d <- data[[event]]
  if (!is.numeric(T) || any(!is.finite(T)) || any(T < 1) || any(T != round(T))) {
    stop(sprintf("'%s' must hold whole numbers >= 1 (discrete periods)", time), call. = FALSE)
  }
  if (any(!d %in% c(0, 1))) stop(sprintf("'%s' must be 0 or 1", event), call. = FALSE)
  if (any(c(period, response) %in% names(data))) {
    stop("'data' already has a column named '", period, "' or '", response, "'", call. = FALSE)
  }
  rows <- rep(seq_len(nrow(data)), T)
  out <- data[rows, , drop = FALSE]
  out[[period]] <- sequence(T)
  out[[response]] <- as.numeric(out[[period]] == T[rows] & d[rows] == 1)
  rownames(out) <- NULL
  out
}

#' Survival curves from a discrete-time hazard model
#'
#' For a binary [glamm()] fit to person-period data (see [expand_periods()]),
#' the survival function `S(t) = prod_{s <= t} (1 - h_s)` for one covariate
#' profile given period by period in `newdata`: conditional on random effects
#' of zero (a subject with median frailty) and marginal, averaged over the
#' random-effect distribution `E_b[prod_{s <= t} (1 - h_s(b))]` (the survival
#' of the population, which is not the product of the averaged hazards). The
#' average is computed with a Gauss-Hermite product rule.
#'
#' @param object a binary `glamm` fit to person-period data.
#' @param newdata a data frame with one row per period `1, ..., t_max` (in
#'   order) and the covariates of the profile.
#' @param nquad Gauss-Hermite points per random effect for the marginal curve.
#' @return A data frame with `conditional` and `marginal` survival
#'   probabilities, one row per row of `newdata`.
#' @examples
#' # 300 subjects in 60 families sharing a frailty; at most 6 periods
#' set.seed(1)
#' subjects <- data.frame(id = 1:300, family = rep(1:60, each = 5), x = rnorm(300))
#' frailty <- rnorm(60, sd = 0.8)[subjects$family]
#' subjects$time <- 6
#' subjects$event <- 0
#' for (i in 1:300) for (t in 1:6) {
#'   if (runif(1) < plogis(-2 + 0.3 * t + 0.5 * subjects$x[i] + frailty[i])) {
#'     subjects$time[i] <- t
#'     subjects$event[i] <- 1
#'     break
#'   }
#' }
#' pp <- expand_periods(subjects, "time", "event")
#' fit <- glamm(y ~ period + x + (1 | family), data = pp, family = binomial, nAGQ = 9)
#' survival_curve(fit, data.frame(period = 1:6, x = 0))
#' @export
survival_curve <- function(object, newdata, nquad = NULL) {
  if (!inherits(object, "glamm") || object$family$family != "binomial") {
    stop("'object' must be a binary glamm fit to person-period data", call. = FALSE)
  }
  groups <- re_groups(object)
  d <- prediction_design(object, newdata, need_group = FALSE, allow.new.levels = TRUE,
                         groups = groups)
  eta <- drop(d$X %*% object$coefficients) + d$offset
  h <- link_derivatives(object$family$link)$h
  # The effects of every level, stacked: Z = [Z_1 ... Z_L], Lambda block
  # diagonal (the profile's rows share their cluster at every level).
  Z <- do.call(cbind, lapply(d$levels, function(lv) lv$Z))
  lambda <- block_diagonal(lapply(groups, function(gr) gr$lambda))
  q <- ncol(Z)
  if (is.null(nquad)) nquad <- c(30L, 15L, 9L)[min(q, 3L)]
  gh <- cpp_gauss_hermite(nquad)
  grid <- as.matrix(expand.grid(rep(list(gh$nodes), q)))
  w <- apply(as.matrix(expand.grid(rep(list(gh$weights), q))), 1, prod)
  # Random part of eta for each period (rows) at each node (columns): Z Lambda z.
  shift <- Z %*% lambda %*% t(grid)
  log_surv <- apply(log1p(-h(eta + shift)), 2, cumsum)
  data.frame(conditional = exp(cumsum(log1p(-h(eta)))),
             marginal = drop(exp(matrix(log_surv, nrow(d$X))) %*% w))
}

block_diagonal <- function(mats) {
  q <- vapply(mats, nrow, 1L)
  out <- matrix(0, sum(q), sum(q))
  end <- cumsum(q)
  for (l in seq_along(mats)) {
    k <- end[l] - q[l] + seq_len(q[l])
    out[k, k] <- mats[[l]]
  }
  out
}
