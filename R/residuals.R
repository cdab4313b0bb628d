# Fitted values, residuals and simulation from a fit.

#' Fitted values and residuals
#'
#' Fitted values are conditional means on the response scale (proportions
#' for the binomial family), with the random effects of every level at
#' their empirical Bayes predictions. Both cost O(n), whatever the number of
#' clusters. Residuals are `"response"` (observed minus fitted),
#' `"pearson"` (divided by the square root of the variance function, times
#' the square root of the prior weight or number of trials) or `"deviance"`
#' (signed square roots of the deviance contributions), as for `glm`.
#'
#' @param object a `glamm` fit.
#' @param type the kind of residual.
#' @param ... not used.
#' @return A numeric vector, padded with `NA` for rows dropped by
#'   [stats::na.exclude()].
#' @examples
#' fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000,
#'              family = binomial, nAGQ = 5)
#' summary(residuals(fit, type = "pearson"))
#' head(fitted(fit))
#' @name glamm-residuals
NULL

#' @rdname glamm-residuals
#' @export
residuals.glamm <- function(object, type = c("response", "pearson", "deviance"), ...) {
  type <- match.arg(type)
  if (object$family$family == "ordinal") {
    stop("residuals are not defined for ordinal responses; see predict(type = \"response\") ",
         "for the category probabilities", call. = FALSE)
  }
  dd <- fit_data(object)
  mu <- predict(object, type = "response")
  mu <- mu[!is.na(mu)]
  mixed <- is_mixed(object$family)
  if (mixed && type != "response" &&
      any(vapply(object$family$families, function(f) f$family == "nbinom2", NA))) {
    stop_if_mixed(object, sprintf("type = \"%s\" with the nbinom2 family", type))
  }
  # (per row: the rows of a binomial family)
  binom <- if (mixed) object$family$mapping %in% which(vapply(object$family$families,
                                                                function(f) f$family == "binomial", NA))
           else rep(object$family$family == "binomial", length(dd$y))
  y <- ifelse(binom, ifelse(dd$trials > 0, dd$y / pmax(dd$trials, 1), 0), dd$y)
  wt <- dd$weights * ifelse(binom, dd$trials, 1)
  fam <- if (mixed) mixed_glm_family(object$family, object$family$mapping) else glm_family(object)
  r <- switch(type,
    response = y - mu,
    pearson = (y - mu) * sqrt(wt) / sqrt(fam$variance(mu)),
    deviance = sign(y - mu) * sqrt(pmax(fam$dev.resids(y, mu, wt), 0))
  )
  stats::naresid(object$na.action, r)
}

#' Simulate responses from a glamm fit
#'
#' Draws new responses from the fitted model: with new random effects from
#' `N(0, Sigma_l)` at every level (`re.form = NA`, the default, as for a new
#' sample of clusters) or with the random effects at their empirical Bayes
#' predictions (`re.form = NULL`). As in lme4, `re.form` may also name some
#' grouping factors, e.g. `~ (1 | school)`: the effects of those levels are
#' kept at their empirical Bayes predictions and the other levels get new
#' ones (new classes in the same schools).
#'
#' A fit with survey weights (`pweights`) is simulated conditional on the
#' design: the same rows in the same clusters, with responses drawn from the
#' fitted model. The survey weights describe how the sample was drawn, not
#' the distribution of the responses, so they play no part in generating
#' them; they stay with the fit, and a refit of a simulated response (as in
#' [glamm.fit()] with the fit's `survey`) uses them again.
#'
#' @param object a `glamm` fit.
#' @param nsim number of simulated responses.
#' @param seed optional seed for [set.seed()].
#' @param re.form `NA` for new random effects, `NULL` for the predicted ones,
#'   or a formula naming the grouping factors whose predicted effects are
#'   kept.
#' @param ... not used.
#' @return A data frame with `nsim` columns: counts of successes (binomial),
#'   counts (poisson, nbinom2), values (gaussian, Gamma) or ordered factors
#'   (ordinal), one row
#'   per observation of the fit.
#' @examples
#' fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000,
#'              family = binomial, nAGQ = 5)
#' sims <- simulate(fit, nsim = 2, seed = 1)
#' colMeans(sims)
#' @export
simulate.glamm <- function(object, nsim = 1, seed = NULL, re.form = NA, ...) {
  stop_if_mixed(object, "simulate()")
  if (!is.numeric(nsim) || length(nsim) != 1 || !is.finite(nsim) || nsim < 1 ||
      nsim != round(nsim)) {
    stop("'nsim' must be a whole number >= 1 (the number of simulated responses)", call. = FALSE)
  }
  if (!is.null(seed)) set.seed(seed)
  dd <- fit_data(object)
  groups <- fit_level_designs(object, re_groups(object))
  cond <- re_form_levels(object, re.form, groups)
  for (l in seq_along(groups)) {
    if (length(cond[[l]]) && length(cond[[l]]) < ncol(groups[[l]]$Z)) {
      stop(sprintf(paste0("simulate(): 're.form' keeps the predicted effects of whole levels; ",
                          "name all the effects of %s (%s) or none"), names(groups)[l],
                   paste(colnames(groups[[l]]$Sigma), collapse = ", ")), call. = FALSE)
    }
  }
  n <- nrow(dd$X)
  eta0 <- drop(dd$X %*% object$coefficients) + dd$offset
  h <- link_derivatives(object$family$link)$h
  idx <- lapply(groups, function(gr) as.integer(gr$factor))
  sims <- lapply(seq_len(nsim), function(s) {
    eta <- eta0
    for (l in seq_along(groups)) {
      gr <- groups[[l]]
      J <- nlevels(gr$factor)
      q <- ncol(gr$Z)
      b <- if (length(cond[[l]])) gr$ranef$mean else
        matrix(stats::rnorm(J * q), J, q) %*% t(gr$lambda)
      eta <- eta + rowSums(gr$Z * b[idx[[l]], , drop = FALSE])
    }
    if (object$family$family == "ordinal") {
      cum <- h(outer(-eta, object$thresholds$estimate, "+"))
      return(factor(object$levels[1 + rowSums(stats::runif(n) > cum)], levels = object$levels,
                    ordered = TRUE))
    }
    mu <- h(eta)
    switch(object$family$family,
      binomial = stats::rbinom(n, dd$trials, mu),
      poisson = stats::rpois(n, mu),
      gaussian = stats::rnorm(n, mu, object$sigma / sqrt(dd$weights)),
      # shape w / sigma^2 (weights are precisions), mean mu
      Gamma = {
        shape <- dd$weights / object$sigma^2
        stats::rgamma(n, shape = shape, rate = shape / mu)
      },
      nbinom2 = stats::rnbinom(n, size = object$sigma, mu = mu)
    )
  })
  stats::setNames(as.data.frame(sims), paste0("sim_", seq_len(nsim)))
}
