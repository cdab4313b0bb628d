# Nominal responses: the baseline-category (multinomial) logit with random
# effects. An observation of C categories becomes d = C - 1 consecutive
# pseudo-rows, one per non-baseline category c, with
#   eta_ic = x_i' beta_c + z_i' b_c,   P(y_i = c) = exp(eta_ic) / (1 + sum_k exp(eta_ik)),
# which the engine integrates as one response unit (src/multinomial.cpp).
# Pseudo-row (i, c) carries x_i in category c's block of the fixed design and,
# for category-specific random effects, z_i in category c's block of Z (an
# unstructured covariance over all categories' effects); shared random
# effects put z_i on every pseudo-row.

#' The multinomial (baseline-category logit) family
#'
#' For an unordered factor response with C categories: one linear predictor
#' per non-baseline category, `log(P(y = c) / P(y = baseline)) = x'beta_c +
#' z'b_c`, with category-specific fixed effects named `category:term`.
#'
#' @param baseline the reference category (a level of the response); `NULL`
#'   takes the first level.
#' @param random `"correlated"`: each random-effect term gets C - 1
#'   category-specific copies with an unstructured covariance (for `(1 | g)`
#'   a (C-1) x (C-1) covariance of the category intercepts); `"shared"`: one
#'   effect per term, shared by the non-baseline categories (it shifts every
#'   category's log-odds against the baseline equally).
#' @return A family object for [glamm()].
#' @examples
#' set.seed(1)
#' d <- data.frame(g = factor(rep(1:30, each = 10)), x = rnorm(300))
#' eta <- cbind(0, 0.5 + d$x, -0.5 - d$x) + rnorm(30)[d$g]
#' p <- exp(eta) / rowSums(exp(eta))
#' d$y <- factor(apply(p, 1, function(pr) sample(c("a", "b", "c"), 1, prob = pr)))
#' fit <- glamm(y ~ x + (1 | g), data = d, family = multinomial(random = "shared"), nAGQ = 5)
#' summary(fit)
#' @export
multinomial <- function(baseline = NULL, random = c("correlated", "shared")) {
  random <- match.arg(random)
  if (!is.null(baseline) && (!is.character(baseline) || length(baseline) != 1 || is.na(baseline))) {
    stop("'baseline' must be one level of the response, as a string", call. = FALSE)
  }
  structure(list(family = "multinomial", link = "logit", baseline = baseline, random = random),
            class = "family")
}

# The response as a factor with the baseline first; checks it.
multinomial_response <- function(y, family) {
  if (is.ordered(y)) {
    warning("the response is an ordered factor: the multinomial family ignores the order ",
            "(family = ordinal() uses it)", call. = FALSE)
  }
  if (is.character(y) || is.logical(y)) y <- factor(y)
  if (!is.factor(y)) {
    stop("the multinomial family needs a factor (or character) response", call. = FALSE)
  }
  y <- droplevels(factor(y, ordered = FALSE))
  if (nlevels(y) < 2) {
    stop(sprintf(paste0("the response has a single category ('%s'): the multinomial model ",
                        "needs two or more"), levels(y)[1]), call. = FALSE)
  }
  if (nlevels(y) > 33) stop("the multinomial family takes at most 33 categories", call. = FALSE)
  base <- family$baseline
  if (!is.null(base)) {
    if (!base %in% levels(y)) {
      stop(sprintf("the baseline '%s' is not a category of the response (%s)", base,
                   paste(levels(y), collapse = ", ")), call. = FALSE)
    }
    y <- stats::relevel(y, ref = base)
  }
  y
}

# The pseudo-row layout of n observations with d non-baseline categories:
# observation-major, categories in order within an observation.
multinomial_rows <- function(n, d) {
  list(obs = rep(seq_len(n), each = d), category = rep(seq_len(d), times = n))
}

# A design M (n x k) expanded to the pseudo-rows, category-specific: the
# (n d) x (k d) matrix with M in category c's block of columns on c's rows.
category_design <- function(M, categories) {
  d <- length(categories)
  n <- nrow(M)
  k <- ncol(M)
  out <- matrix(0, n * d, k * d)
  for (c in seq_len(d)) out[seq(c, by = d, length.out = n), (c - 1) * k + seq_len(k)] <- M
  colnames(out) <- paste0(rep(categories, each = k), ":", rep(colnames(M), d))
  out
}

# The fit of glamm(family = multinomial()) from the frame's pieces (glamm.R):
# expands the observations into pseudo-rows and calls glamm.fit.
multinomial_fit <- function(y, X, re_levels, weights, offset, family, nAGQ, start, control,
                            pweights, REML, method) {
  if (!is.null(pweights)) {
    stop("survey weights (pweights) are not available for the multinomial family", call. = FALSE)
  }
  if (REML || method != "ML") stop("the multinomial family is fitted by ML", call. = FALSE)
  if (!is.null(offset)) {
    stop("an offset is not available for the multinomial family", call. = FALSE)
  }
  y <- multinomial_response(y, family)
  categories <- levels(y)
  d <- length(categories) - 1L
  n <- length(y)
  rows <- multinomial_rows(n, d)
  ye <- as.numeric(as.integer(y)[rows$obs] - 1L == rows$category)
  Xe <- category_design(X, categories[-1])
  re <- lapply(re_levels, function(l) {
    Z <- if (family$random == "shared") {
      l$Z[rows$obs, , drop = FALSE]
    } else {
      category_design(l$Z, categories[-1])
    }
    q <- ncol(Z)
    pattern <- if (family$random == "shared") l$pattern else lower.tri(diag(q), diag = TRUE)
    list(Z = Z, group = l$factor[rows$obs], pattern = pattern, name = l$name)
  })
  family$categories <- categories
  we <- if (is.null(weights)) NULL else weights[rows$obs]
  fit <- glamm.fit(ye, Xe, re = re, family = family, nAGQ = nAGQ, weights = we,
                   start = start, control = control)
  fit$multinomial <- list(categories = categories, n_obs = n, d = d, y = y,
                          p_fixed = ncol(X), fixed_names = colnames(X),
                          z_names = lapply(re_levels, function(l) colnames(l$Z)))
  fit$nobs <- n
  class(fit) <- c("glamm_multinomial", class(fit))
  fit
}

# The engine's response for the pseudo-rows (family.R's prepare_response).
prepare_multinomial_response <- function(y, family, weights, unit_weights, compact) {
  if (is.null(family$categories)) {
    stop("fit the multinomial family through glamm() with a factor response", call. = FALSE)
  }
  ones <- if (compact) NULL else rep(1, length(y))
  list(y = as.numeric(y), trials = ones, weights = if (unit_weights) ones else as.numeric(weights),
       constant = 0, levels = family$categories)
}
