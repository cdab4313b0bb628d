# The design-based bootstrap of a fit with survey weights: the rescaling
# bootstrap of Rao and Wu (1988) on the top-level clusters (the primary
# sampling units), within strata. In each replicate stratum h, with n_h
# clusters, has n_h - 1 of them drawn with replacement, and cluster k's top
# weight is multiplied by
#   r_k = m_k n_h / (n_h - 1),   m_k = the number of times k is drawn;
# the model is refit with those weights (responses, row weights and the
# weights below the top unchanged). Its spread estimates the design variance
# that the sandwich estimates, with the same clusters and strata; simulating
# responses from the model (the parametric bootstrap) would give the
# model-based variance instead and ignore the sampling design.

# nsim replicates of the top-weight multipliers, one value per row (the
# fit's row order).
survey_replicates <- function(object, nsim, seed) {
  if (!is.null(seed)) set.seed(seed)
  groups <- re_groups(object)
  k <- as.integer(groups[[length(groups)]]$factor)
  J <- max(k)
  strata <- object$survey$strata
  stratum <- if (is.null(strata)) rep(1L, J) else strata[match(seq_len(J), k)]
  members <- split(seq_len(J), stratum)
  lapply(seq_len(nsim), function(b) {
    r <- numeric(J)
    for (ids in members) {
      nh <- length(ids)
      m <- tabulate(sample.int(nh, nh - 1L, replace = TRUE), nh)
      r[ids] <- m * nh / (nh - 1)
    }
    r[k]
  })
}

# The refit of a replicate of multipliers r: the observed response with the
# top weights multiplied by r (refit: make_refit()'s function).
survey_refit <- function(refit, object) {
  force(refit)
  dd <- fit_data(object)
  y <- if (object$family$family == "ordinal") {
    factor(object$levels[dd$y], levels = object$levels, ordered = TRUE)
  } else dd$y
  survey <- object$survey
  top <- survey$top %||% rep(1, length(dd$y))
  function(r) {
    survey$top <- top * r
    refit(y, survey)
  }
}
