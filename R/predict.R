# Predictions: conditional on the empirical Bayes random effects, with the
# random effects at zero, or marginal (population-averaged) over the
# random-effect distribution, on the link or the response scale.

#' Predictions from a glamm fit
#'
#' Three kinds of prediction:
#' * `re.form = NULL` (default): conditional on the empirical Bayes
#'   predictions (posterior means) of the random effects of each cluster;
#'   clusters not in the fit get random effects 0 when
#'   `allow.new.levels = TRUE` and an error otherwise.
#' * `re.form = NA` (or `~0`): random effects set to 0. For a random
#'   intercept on the response scale this is the median curve,
#'   the prediction for a typical cluster.
#' * `marginal = TRUE`: population-averaged, `E[h(x'beta + z'b)]` with
#'   `b ~ N(0, Sigma)`. The linear predictor's random part `z'b` has
#'   variance `v = z' Sigma z`, so the expectation is a one-dimensional
#'   integral over `N(0, v)` whatever the number of random effects; it is
#'   computed by Gauss-Hermite quadrature with `nquad` points. Only for
#'   `type = "response"`.
#'
#' Standard errors (`se.fit = TRUE`) are by the delta method from the
#' inverse observed information: for `re.form = NA` from the fixed effects;
#' for marginal predictions from the fixed effects and the covariance
#' parameters; for conditional predictions the fixed-effect part plus the
#' posterior variance of `z'b` (their covariance neglected, as in gllamm).
#'
#' @param object a `glamm` fit.
#' @param newdata optional data frame; default the data of the fit. Factor
#'   levels not seen in the fit give an error, as in [stats::predict.lm()].
#' @param type `"link"` or `"response"` (probabilities for the binomial; for
#'   the [ordinal()] family a matrix of category probabilities, one column per
#'   category).
#' @param re.form `NULL` to include the random effects, `NA` or `~0` to set
#'   them to zero.
#' @param marginal integrate over the random effects (population-averaged).
#' @param se.fit return standard errors as well.
#' @param allow.new.levels allow clusters not in the fit (random effects 0).
#' @param nquad Gauss-Hermite points for marginal predictions.
#' @param ... not used.
#' @return A numeric vector of predictions or, with `se.fit = TRUE`, a list
#'   with `fit` and `se.fit`.
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' fit <- glamm(pass_read ~ female + SES + (1 | id_school), data = d,
#'              family = binomial, nAGQ = 7)
#' nd <- data.frame(female = 0:1, SES = 0, id_school = d$id_school[1])
#' predict(fit, nd, type = "response")                 # this school
#' predict(fit, nd, type = "response", re.form = NA)   # typical school
#' predict(fit, nd, type = "response", marginal = TRUE, se.fit = TRUE)
#' @export
predict.glamm <- function(object, newdata = NULL, type = c("link", "response"),
                          re.form = NULL, marginal = FALSE, se.fit = FALSE,
                          allow.new.levels = FALSE, nquad = 101, ...) {
  type <- match.arg(type)
  with_re <- is.null(re.form)
  if (!with_re && !(identical(re.form, NA) || (inherits(re.form, "formula") &&
                                                 identical(re.form[[length(re.form)]], 0)))) {
    stop("'re.form' must be NULL (with random effects) or NA / ~0 (without)", call. = FALSE)
  }
  if (marginal && type != "response") {
    stop("marginal predictions are population averages on the response scale: ",
         "use type = \"response\"", call. = FALSE)
  }
  d <- prediction_design(object, newdata, need_group = with_re && !marginal,
                         allow.new.levels = allow.new.levels)
  beta <- object$coefficients
  eta_fixed <- drop(d$X %*% beta) + d$offset
  V <- object$vcov_beta
  se_fixed <- sqrt(pmax(rowSums((d$X %*% V) * d$X), 0))
  h <- link_derivatives(object$family$link)
  if (object$family$family == "ordinal" && type == "response") {
    if (se.fit) {
      stop("standard errors of ordinal category probabilities are not available; ",
           "use type = \"link\"", call. = FALSE)
    }
    if (with_re && !marginal) {
      eta_fixed <- eta_fixed + rowSums(d$Z * cluster_effects(object, d$group)$mean)
    }
    s <- if (marginal) random_sd(object, d$Z) else rep(0, length(eta_fixed))
    P <- ordinal_probabilities(object, eta_fixed, s, h$h, nquad)
    return(if (is.null(newdata)) stats::napredict(object$na.action, P) else P)
  }
  if (marginal) {
    out <- marginal_mean(object, d, eta_fixed, h, nquad, se.fit)
  } else {
    eta <- eta_fixed
    se <- se_fixed
    if (with_re) {
      b <- cluster_effects(object, d$group)
      eta <- eta + rowSums(d$Z * b$mean)
      se <- sqrt(se^2 + b$var_z(d$Z))
    }
    if (type == "response") {
      out <- list(fit = h$h(eta), se.fit = abs(h$d1(eta)) * se)
    } else {
      out <- list(fit = eta, se.fit = se)
    }
  }
  fit <- out$fit
  if (is.null(newdata)) fit <- stats::napredict(object$na.action, fit)
  if (!se.fit) return(fit)
  se <- out$se.fit
  if (is.null(newdata)) se <- stats::napredict(object$na.action, se)
  list(fit = fit, se.fit = se)
}

# X, Z, offset and cluster index for the fit's data or new data.
prediction_design <- function(object, newdata, need_group, allow.new.levels) {
  if (is.null(newdata)) {
    dd <- object$data
    return(list(X = dd$X, Z = dd$Z, offset = dd$offset, group = dd$group))
  }
  if (!is.data.frame(newdata)) stop("'newdata' must be a data frame", call. = FALSE)
  if (is.null(object$terms)) {
    stop("predictions for new data need a fit from glamm() (with a formula)", call. = FALSE)
  }
  env <- environment(object$formula)
  tt <- stats::delete.response(object$terms)
  mf <- stats::model.frame(tt, newdata, xlev = object$xlevels, na.action = stats::na.pass)
  if (!is.null(object$data_classes)) stats::.checkMFClasses(object$data_classes, mf)
  X <- stats::model.matrix(tt, mf, contrasts.arg = object$contrasts)
  X <- X[, names(object$coefficients), drop = FALSE]
  offset <- stats::model.offset(mf)
  if (is.null(offset)) offset <- rep(0, nrow(X))
  if (!is.null(object$call$offset)) offset <- offset + eval(object$call$offset, newdata, env)
  random <- object$random
  if (!need_group) {
    # The grouping factor is not needed: evaluate only the effects' design.
    random$terms <- lapply(random$terms, function(t) { t$group <- quote(NULL); t })
  }
  re <- random_design(random, newdata, env, xlev = object$random_xlevels,
                      contrasts = object$contrasts)
  Z <- re$Z[, colnames(object$data$Z), drop = FALSE]
  group <- NULL
  if (need_group) {
    g <- as.character(re$group)
    known <- g %in% levels(object$data$group)
    if (!all(known | is.na(g)) && !allow.new.levels) {
      stop(sprintf(paste0("newdata has clusters not in the fit (e.g. %s = %s); use ",
                          "allow.new.levels = TRUE to predict them with random effects 0, ",
                          "or re.form = NA"), object$group_name, g[!known & !is.na(g)][1]),
           call. = FALSE)
    }
    group <- factor(g, levels = levels(object$data$group))
  }
  list(X = X, Z = Z, offset = offset, group = group)
}

# Posterior means of the random effects for each row (0 for new clusters) and
# a function giving the posterior variance of z'b row by row (Sigma's for
# new clusters).
cluster_effects <- function(object, group) {
  idx <- as.integer(group)
  q <- ncol(object$ranef$mean)
  mean <- matrix(0, length(idx), q)
  known <- !is.na(idx)
  mean[known, ] <- object$ranef$mean[idx[known], , drop = FALSE]
  var_z <- function(Z) {
    v <- rowSums((Z %*% object$Sigma) * Z)
    for (j in unique(idx[known])) {
      rows <- which(idx == j)
      Zj <- Z[rows, , drop = FALSE]
      v[rows] <- rowSums((Zj %*% object$ranef$cov[, , j]) * Zj)
    }
    v
  }
  list(mean = mean, var_z = var_z)
}

# E[h(eta + s z)], z ~ N(0, 1), s = sqrt(z' Sigma z), by Gauss-Hermite
# quadrature; with se, the delta method over (beta, theta). The derivative
# in v = s^2 uses E[h'(eta + s z) z] / (2 s) = E[h''(eta + s z)] / 2.
marginal_mean <- function(object, d, eta, h, nquad, se) {
  gh <- cpp_gauss_hermite(nquad)
  ZL <- d$Z %*% object$lambda
  s <- random_sd(object, d$Z)
  E <- outer(eta, rep(1, nquad)) + outer(s, gh$nodes)
  fit <- drop(h$h(E) %*% gh$weights)
  if (!se) return(list(fit = fit))
  dmu_deta <- drop(h$d1(E) %*% gh$weights)
  dmu_dv <- drop(h$d2(E) %*% gh$weights) / 2
  # v = |Lambda' z|^2, dv / dLambda_ab = 2 z_a (Lambda' z)_b, for the free entries.
  pattern <- object$pattern
  ab <- which(pattern, arr.ind = TRUE)
  Jtheta <- vapply(seq_len(nrow(ab)), function(k) 2 * d$Z[, ab[k, 1]] * ZL[, ab[k, 2]],
                   numeric(nrow(d$Z)))
  J <- cbind(d$X * dmu_deta, matrix(Jtheta, nrow(d$Z)) * dmu_dv)
  idx <- seq_len(ncol(J))
  V <- object$vcov_par[idx, idx, drop = FALSE]
  list(fit = fit, se.fit = sqrt(pmax(rowSums((J %*% V) * J), 0)))
}

#' @rdname glamm-residuals
#' @export
fitted.glamm <- function(object, ...) predict(object, type = "response")

# Category probabilities of an ordinal fit, P(Y = c) = F(tau_c - eta) -
# F(tau_{c-1} - eta), conditional (s = 0) or averaged over eta + s z, z ~ N(0, 1).
ordinal_probabilities <- function(object, eta, s, cdf, nquad) {
  gh <- if (any(s > 0)) cpp_gauss_hermite(nquad) else list(nodes = 0, weights = 1)
  tau <- object$thresholds$estimate
  cum <- vapply(tau, function(t) {
    drop(cdf(t - outer(eta, rep(1, length(gh$nodes))) - outer(s, gh$nodes)) %*% gh$weights)
  }, numeric(length(eta)))
  cum <- matrix(cum, length(eta))
  P <- cbind(cum, 1) - cbind(0, cum)
  colnames(P) <- object$levels
  P
}

# SD of the random part z'b of the linear predictor, sqrt(z' Sigma z), per row.
random_sd <- function(object, Z) sqrt(rowSums((Z %*% object$lambda)^2))
