# Parametric bootstrap: responses simulated from the fit (new random effects
# at every level), the model refit to each, and percentile intervals of the
# fixed effects, the random-effect SDs and the residual SD.

# The estimates reported by the bootstrap, named as the profile's rows: the SD
# of every random effect (levels innermost first), sigma (gaussian), then the
# fixed effects.
boot_statistics <- function(fit) {
  groups <- re_groups(fit)
  sds <- unlist(lapply(groups, function(gr) sqrt(diag(gr$Sigma))), use.names = FALSE)
  names(sds) <- unlist(lapply(groups, function(gr) {
    cn <- colnames(gr$Sigma)
    if (length(groups) == 1) sprintf("sd(%s)", cn) else sprintf("sd(%s|%s)", cn, gr$name)
  }))
  c(sds, if (fit$family$family == "gaussian") c(sigma = fit$sigma), fit$coefficients)
}

# A function of a simulated response (and of survey weights, for the
# bootstrap of a weighted fit, R/bootstrap-survey.R) that refits the model
# (from the fit's estimates, without the observed information) and returns
# its statistics.
make_refit <- function(object, nthreads) {
  if (!is.null(object$latent)) {
    stop("the bootstrap is not available for fits with factor loadings yet (a refit would ",
         "keep the loadings fixed)", call. = FALSE)
  }
  dd <- fit_data(object)
  groups <- fit_level_designs(object, re_groups(object))
  re <- lapply(groups, function(gr) {
    list(Z = gr$Z, group = gr$factor, pattern = gr$pattern, name = gr$name)
  })
  control <- object$control
  control$hessian <- FALSE
  control$nthreads <- nthreads
  family <- object$family
  binomial_counts <- family$family == "binomial" && max(dd$trials) > 1
  start <- list(beta = unname(object$coefficients), theta = object$theta,
                sigma = if (family$family == "gaussian") object$sigma)
  if (family$family == "ordinal") start <- NULL
  function(y, survey = NULL) {
    if (binomial_counts) y <- cbind(y, dd$trials - y)
    fit <- glamm.fit(y, dd$X, family = family, nAGQ = object$nAGQ, weights = dd$weights,
                     offset = dd$offset, start = start, control = control, re = re,
                     survey = survey, REML = isTRUE(object$REML))
    boot_statistics(fit)
  }
}

# One replicate, NA when the refit fails; its environment holds only what a
# cluster's worker needs.
boot_worker <- function(refit, n_stat) {
  function(y) {
    tryCatch(suppressWarnings(refit(y)), error = function(e) {
      structure(rep(NA_real_, n_stat), error = conditionMessage(e))
    })
  }
}

# confint(method = "boot").
confint_boot <- function(object, parm, level, nsim, seed, progress, cl) {
  if (identical(object$method, "PQL")) {
    stop("the bootstrap refits by maximum likelihood: refit with method = \"ML\"", call. = FALSE)
  }
  if (!is.numeric(nsim) || length(nsim) != 1 || nsim < 2 || nsim != round(nsim)) {
    stop("'nsim' must be a whole number of at least 2", call. = FALSE)
  }
  est <- boot_statistics(object)
  keep <- if (missing(parm) || is.null(parm)) names(est) else if (is.numeric(parm)) {
    names(est)[parm]
  } else {
    groups <- list(theta_ = setdiff(names(est), names(object$coefficients)),
                   beta_ = names(object$coefficients))
    unlist(lapply(parm, function(p) if (p %in% names(groups)) groups[[p]] else p))
  }
  if (anyNA(keep) || any(!keep %in% names(est))) {
    stop(sprintf("unknown parameter(s) in 'parm'; available: %s",
                 paste(names(est), collapse = ", ")), call. = FALSE)
  }
  refit <- make_refit(object, nthreads = if (is.null(cl)) object$control$nthreads else 1L)
  if (is_weighted(object$survey)) {
    sims <- survey_replicates(object, nsim, seed)
    refit <- survey_refit(refit, object)
  } else {
    sims <- stats::simulate(object, nsim = nsim, seed = seed)
  }
  one <- boot_worker(refit, length(est))
  chunk <- if (is.null(cl)) 1L else length(cl)
  starts <- seq(1L, nsim, by = chunk)
  bar <- if (progress) utils::txtProgressBar(min = 0, max = nsim, style = 3)
  reps <- vector("list", nsim)
  for (s in starts) {
    k <- s:min(nsim, s + chunk - 1L)
    reps[k] <- if (is.null(cl)) lapply(sims[k], one) else parallel::parLapply(cl, sims[k], one)
    if (progress) utils::setTxtProgressBar(bar, max(k))
  }
  if (progress) close(bar)
  replicates <- do.call(rbind, reps)
  colnames(replicates) <- names(est)
  failed <- !stats::complete.cases(replicates)
  if (any(failed)) {
    warning(sprintf("%d of %d bootstrap refits failed and are left out (first error: %s)",
                    sum(failed), nsim, attr(reps[[which(failed)[1]]], "error") %||% "none"),
            call. = FALSE)
  }
  a <- (1 - level) / 2
  out <- t(apply(replicates[, keep, drop = FALSE], 2, stats::quantile, probs = c(a, 1 - a),
                 na.rm = TRUE, names = FALSE))
  dimnames(out) <- list(keep, interval_labels(level))
  out
}
