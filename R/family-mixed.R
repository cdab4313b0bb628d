# A family per row, galamm's `family = list(...)` with `family_mapping`:
# row i has the density of family c(i) (mixed response types, e.g. gaussian
# and binary items of one latent trait). The engine holds one family per
# family index (src/family_mixed.h); the extra parameters are those of the
# families in turn, each on its own scale (R/extra.R). Here: the family
# object, the response, the constants, the extra parameters, their start
# values and a glm-like family for the start values.

# glamm()'s `family` as a list of families (galamm's mixed response types),
# or NULL when it is one family; `mapped`: whether family_mapping was given.
family_list <- function(family, mapped) {
  is_family <- function(f) inherits(f, "family") || is.function(f) || is.character(f)
  listed <- is.list(family) && !inherits(family, "family")
  if (listed && length(family) >= 1 && all(vapply(family, is_family, NA))) {
    if (length(family) == 1 && !mapped) return(NULL)
    return(lapply(family, resolve_family))
  }
  if (mapped) {
    stop("'family_mapping' needs a list of families in 'family', e.g. ",
         "family = list(gaussian, binomial)", call. = FALSE)
  }
  NULL
}

# The mixed family of a list of families and the family index of every row.
mixed_family <- function(families, mapping) {
  families <- lapply(families, resolve_family)
  kinds <- vapply(families, function(f) f$family, "")
  vector_kind <- kinds %in% c("ordinal", "multinomial")
  if (any(vector_kind)) {
    stop(sprintf("the %s family cannot be mixed with others in 'family': use one family",
                 kinds[vector_kind][1]), call. = FALSE)
  }
  if (is.null(mapping)) {
    stop("a list of families needs 'family_mapping': the index in 'family' of every ",
         "observation's family", call. = FALSE)
  }
  if (!is.numeric(mapping) || anyNA(mapping) || any(mapping != round(mapping)) ||
      any(mapping < 1) || any(mapping > length(families))) {
    stop(sprintf("'family_mapping' must hold whole numbers from 1 to %d (the elements of ",
                 length(families)), "'family') without missing values", call. = FALSE)
  }
  mapping <- as.integer(mapping)
  unused <- setdiff(seq_along(families), mapping)
  if (length(unused)) {
    stop(sprintf("family %d of 'family' (%s) has no observation in 'family_mapping'",
                 unused[1], kinds[unused[1]]), call. = FALSE)
  }
  structure(list(family = "mixed", link = "mixed", families = families, mapping = mapping,
                 rows = split(seq_along(mapping), factor(mapping, seq_along(families)))),
            class = "family")
}

is_mixed <- function(family) is.list(family) && identical(family$family, "mixed")

# Each family's response by prepare_response(), put together.
prepare_mixed_response <- function(y, family, weights, compact) {
  n <- NROW(y)
  if (is.matrix(y)) stop("a matrix response cannot be mixed with other families", call. = FALSE)
  if (is.factor(y)) stop("a factor response cannot be mixed with other families", call. = FALSE)
  out <- list(y = numeric(n), trials = rep(1, n), weights = rep(1, n), constant = 0)
  for (k in seq_along(family$families)) {
    r <- family$rows[[k]]
    part <- prepare_response(y[r], family$families[[k]], weights[r])
    out$y[r] <- part$y
    out$trials[r] <- part$trials
    out$weights[r] <- part$weights
    out$constant <- out$constant + part$constant
  }
  if (compact && all(out$trials == 1)) out["trials"] <- list(NULL)
  if (compact && all(out$weights == 1)) out["weights"] <- list(NULL)
  out
}

# The per-row constants (constant_rows()) of each family on its rows.
mixed_constant_rows <- function(resp, family) {
  out <- numeric(length(resp$y))
  part <- function(v, r) if (is.null(v)) NULL else v[r]
  for (k in seq_along(family$families)) {
    r <- family$rows[[k]]
    out[r] <- constant_rows(list(y = resp$y[r], trials = part(resp$trials, r),
                                 weights = part(resp$weights, r)), family$families[[k]])
  }
  out
}

# The families' extra parameters in turn, each named with its family's index.
mixed_extra <- function(family) {
  parts <- lapply(family$families, extra_parameters)
  n <- vapply(parts, function(e) e$n, 1L)
  names <- unlist(lapply(seq_along(parts), function(k) {
    if (n[k]) sprintf("%s[%d]", parts[[k]]$names, k)
  }))
  list(n = sum(n), names = names %||% character(0), to_engine = identity,
       chain = function(psi, g) g, family_of = rep(seq_along(parts), n))
}

# glmmTMB's sigma() of each family with an extra parameter (R/assemble.R).
mixed_sigma <- function(family, psi) {
  extra <- mixed_extra(family)
  if (!extra$n) return(1)
  kinds <- vapply(family$families, function(f) f$family, "")[extra$family_of]
  stats::setNames(ifelse(kinds == "Gamma", exp(-psi / 2), exp(psi)),
                  sprintf("%s[%d]", kinds, extra$family_of))
}

# A glm-like family over rows whose family indices are `mapping` (a subset
# of the fit's rows): linkfun, linkinv, mu.eta, variance, dev.resids and
# initialize of each row's family (nbinom2 as poisson), for irls_start().
mixed_glm_family <- function(family, mapping) {
  parts <- lapply(family$families, function(f) if (f$family == "nbinom2") stats::poisson() else f)
  rows <- split(seq_along(mapping), factor(mapping, seq_along(parts)))
  by_rows <- function(fun) {
    force(fun)
    function(x) {
      for (k in seq_along(parts)) {
        r <- rows[[k]]
        if (length(r)) x[r] <- parts[[k]][[fun]](x[r])
      }
      x
    }
  }
  dev_resids <- function(y, mu, wt) {
    out <- numeric(length(y))
    for (k in seq_along(parts)) {
      r <- rows[[k]]
      if (length(r)) out[r] <- parts[[k]]$dev.resids(y[r], mu[r], wt[r])
    }
    out
  }
  start_mu <- function(y, weights) {
    mustart <- y
    for (k in seq_along(parts)) {
      r <- rows[[k]]
      if (!length(r)) next
      env <- list2env(list(y = y[r], weights = weights[r], nobs = length(r),
                           n = rep(1, length(r)), mustart = NULL, etastart = NULL,
                           start = NULL))
      eval(parts[[k]]$initialize, env)
      mustart[r] <- env$mustart
    }
    mustart
  }
  list(family = "mixed", linkfun = by_rows("linkfun"), linkinv = by_rows("linkinv"),
       mu.eta = by_rows("mu.eta"), variance = by_rows("variance"), dev.resids = dev_resids,
       initialize = substitute(mustart <- START(y, weights), list(START = start_mu)),
       parts = parts, rows = rows)
}

# Start values of the extra parameters from the GLM start g (on the rows
# given by mapping, responses yy and weights): each family's moment start
# (dispersion_start(), start_extra()) on its own rows.
mixed_start_extra <- function(family, resp, g, yy, weights, mapping) {
  unlist(lapply(seq_along(family$families), function(k) {
    f <- family$families[[k]]
    r <- which(mapping == k)
    gk <- list(residuals = g$residuals[r], fitted.values = g$fitted.values[r])
    start_extra(f, resp, dispersion_start(f, gk, yy[r], weights[r]))
  }))
}

# The inverse links of the rows' families and their derivatives
# (link_derivatives()), applied row by row: index gives the family of each
# element of a vector or each row of a matrix.
mixed_link_derivatives <- function(family, index) {
  if (is.null(index)) {
    stop("predictions on the response scale for new data need each row's family, which ",
         "a fit with family = list(...) does not take yet: use type = \"link\"", call. = FALSE)
  }
  parts <- lapply(family$families, function(f) link_derivatives(f$link))
  rows <- split(seq_along(index), factor(index, seq_along(parts)))
  by_rows <- function(fun) {
    force(fun)
    function(e) {
      out <- e
      for (k in seq_along(parts)) {
        r <- rows[[k]]
        if (!length(r)) next
        if (is.matrix(e)) out[r, ] <- parts[[k]][[fun]](e[r, , drop = FALSE])
        else out[r] <- parts[[k]][[fun]](e[r])
      }
      out
    }
  }
  list(h = by_rows("h"), d1 = by_rows("d1"), d2 = by_rows("d2"))
}

# "mixed: gaussian (identity), binomial (logit)" for the printed summaries.
family_label <- function(family) {
  if (!is_mixed(family)) return(sprintf("%s, %s link", family$family, family$link))
  sprintf("a family per observation: %s", paste(vapply(seq_along(family$families), function(k) {
    f <- family$families[[k]]
    sprintf("[%d] %s (%s)", k, f$family, f$link)
  }, ""), collapse = ", "))
}

# Methods that need one family refuse a fit with a family per observation.
stop_if_mixed <- function(object, what) {
  if (is_mixed(object$family)) {
    stop(sprintf("%s is not available yet for a fit with a family per observation ",
                 what), "(family = list(...))", call. = FALSE)
  }
}
