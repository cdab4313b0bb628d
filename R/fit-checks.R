# Checks of the fitter's input and result that stop or warn in the user's
# terms: the response's variation and location, separation, the offset's
# scale, and the design matrices.

# The engine's search for the modes works to a precision relative to the
# linear predictor: a gaussian response of 1e6 +- 1 leaves it too few digits
# (the log-likelihood is -Inf at the start).
check_response_location <- function(objective, par0, resp) {
  if (is.finite(objective$loglik(par0))) return(invisible())
  y <- resp$y
  s <- stats::sd(y)
  if (is.finite(s) && abs(mean(y)) > 1e4 * s) {
    stop(sprintf(paste0("the gaussian response is near %.3g with a spread of only %.3g: too ",
                        "few digits are left for the random effects; subtract a constant ",
                        "from it (e.g. y - %.3g)"), mean(y), s, signif(mean(y), 3)),
         call. = FALSE)
  }
  invisible()
}

# Fitted probabilities of the fixed part numerically 0 or 1 (as glm.fit
# judges them) mean that a covariate separates the outcomes: the fixed
# effects run off to infinity, and the estimates and SEs mean nothing.
# The fixed effects found at infinity at the optimum (names in infinite) are
# named in the warning.
check_separation <- function(beta, X, offset, resp, family, infinite = character(0)) {
  if (length(beta) == 0) return(invisible())
  # mu numerically 0 or 1 (glm.fit's test) is eta beyond linkfun(eps), linkfun(1 - eps)
  eps <- 10 * .Machine$double.eps
  or_empty <- function(v) if (is.null(v)) numeric(0) else as.numeric(v)
  k <- cpp_count_eta_outside(X, as.numeric(beta), or_empty(offset), or_empty(resp$weights),
                             or_empty(resp$trials), family$linkfun(eps), family$linkfun(1 - eps))
  if (length(infinite)) {
    why <- if (k > 0) {
      sprintf(paste0("; fitted probabilities numerically 0 or 1 for %d observation(s): a ",
                     "covariate (or a combination) separates the outcomes"), k)
    } else {
      ": quasi-complete separation by a covariate or a factor level"
    }
    warning(infinite_message(infinite, why), call. = FALSE)
  } else if (k > 0) {
    warning(sprintf(paste0("fitted probabilities numerically 0 or 1 for %d observation(s): a ",
                           "covariate (or a combination) separates the outcomes, so that some ",
                           "fixed effects are infinite and their estimates and standard errors ",
                           "are not meaningful"), k), call. = FALSE)
  }
  invisible()
}

# A response without variation has its maximum likelihood at infinity
# (binomial, poisson) or a zero residual variance (gaussian).
check_variation <- function(resp, family) {
  if (is_mixed(family)) {  # each family on its rows
    part <- function(v, r) if (is.null(v)) NULL else v[r]
    for (k in seq_along(family$families)) {
      r <- family$rows[[k]]
      check_variation(list(y = resp$y[r], trials = part(resp$trials, r),
                           weights = part(resp$weights, r)), family$families[[k]])
    }
    return(invisible())
  }
  y <- resp$y
  n <- resp$trials  # NULL: one trial per row (or not binomial)
  w <- resp$weights %||% 1
  if (min(w) <= 0 || (!is.null(n) && min(n) <= 0)) {  # rows that carry no information
    used <- w > 0 & (n %||% 1) > 0
    y <- y[used]
    if (!is.null(n)) n <- n[used]
  }
  if (length(y) == 0) {
    stop("no observation has a positive weight (and, binomial, trials): nothing to fit",
         call. = FALSE)
  }
  trials <- if (is.null(n)) length(y) else sum(n)
  what <- switch(family$family,
    binomial = if (max(y) == 0) "all failures" else if (sum(y) == trials) "all successes",
    poisson = ,
    nbinom2 = if (max(y) == 0) "all counts 0",
    Gamma = ,
    gaussian = ,
    ordinal = if (length(y) == 0 || min(y) == max(y)) "a constant response"
  )
  if (!is.null(what)) {
    stop(sprintf("the response has no variation (%s): the model cannot be estimated", what),
         call. = FALSE)
  }
}

# An offset is on the scale of the linear predictor: with the log link, a
# range beyond 700 makes exp() overflow for some rows whatever the fixed
# effects (often an exposure given where log(exposure) was meant), and values
# beyond 1e15 leave no digits for the rest of the linear predictor.
check_offset_scale <- function(offset, family) {
  if (length(offset) == 0) return(invisible())
  r <- range(offset)
  if (max(abs(r)) > 1e15) {
    stop(sprintf(paste0("'offset' has values as large as %.3g: the linear predictor carries ",
                        "16 digits, none are left for the fixed effects; check the offset"),
                 max(abs(r))), call. = FALSE)
  }
  if (identical(family$link, "log") && r[2] - r[1] > 700) {
    stop(sprintf(paste0("'offset' ranges from %.3g to %.3g: with the log link, exp(offset) ",
                        "then overflows for some observations whatever the fixed effects; ",
                        "an offset is on the log scale (offset = log(exposure), not exposure)"),
                 r[1], r[2]), call. = FALSE)
  }
  invisible()
}

as_design <- function(M, name) {
  if (!is.matrix(M) || !is.numeric(M)) stop(sprintf("'%s' must be a numeric matrix", name), call. = FALSE)
  if (!all_finite(M)) stop(sprintf("'%s' has missing or non-finite values", name), call. = FALSE)
  # Attributes are set only when they must change: each change of a large
  # shared matrix makes R wrap it, and the first C-level write access to a
  # wrapper copies the matrix.
  if (is.null(colnames(M)) && ncol(M) > 0) colnames(M) <- paste0(name, seq_len(ncol(M)))
  if (!is.double(M)) storage.mode(M) <- "double"
  strip_rownames(M)
}

# Row names of a design (n strings) cost more memory than its numbers.
strip_rownames <- function(M) {
  if (!is.null(rownames(M))) rownames(M) <- NULL
  M
}
