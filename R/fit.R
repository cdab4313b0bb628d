# The matrix-level fitter: start values, the call into C++, the optimizer,
# the observed information and the assembly of the result.

#' Fit a GLMM from matrices
#'
#' The engine under [glamm()]: the same fit from a response, a fixed-effects
#' design `X` and the random effects, given as a design `Z` with a grouping
#' factor (one level) or as a list `re` of nested levels. Use it to fit many
#' models with designs built once, or from other front ends.
#'
#' @param y response: a numeric vector; for the binomial family also 0/1,
#'   a factor, proportions with `weights` as trials, or a two-column matrix
#'   `cbind(successes, failures)`; for the [ordinal()] family an (ordered)
#'   factor.
#' @param X fixed-effects design matrix (n x p, with column names).
#' @param Z random-effects design matrix (n x q, with column names), for one
#'   grouping factor.
#' @param group grouping factor (length n); each level is one cluster.
#' @param family a family object: `binomial` (logit, probit, cloglog),
#'   `poisson` (log), `gaussian` (identity), `Gamma` (log, inverse,
#'   identity), [nbinom2()] (log) or [ordinal()] (then `X` has no intercept
#'   column: the thresholds take its place).
#' @param nAGQ quadrature points per random effect; 1 is the Laplace
#'   approximation. `NULL` chooses 15, 11, 7 and 5 points for 1, 2, 3 and more
#'   random effects (1 for the gaussian family, where it is exact).
#' @param weights prior weights (for the binomial family with proportions,
#'   the numbers of trials).
#' @param offset a known component of the linear predictor.
#' @param pattern q x q logical matrix of the free entries of the
#'   lower-triangular factor `Lambda` of the random-effect covariance
#'   `Sigma = Lambda Lambda'`; default: a full covariance matrix.
#' @param start optional named list with elements `beta`, `theta` (the free
#'   entries of `Lambda`, column-major) and, for the gaussian, Gamma and
#'   nbinom2 families, `sigma` (as in [sigma.glamm()]).
#' @param control settings from [glamm_control()].
#' @param method `"ML"` (maximum likelihood by adaptive quadrature or
#'   Laplace) or `"PQL"` (penalized quasi-likelihood, for comparison with
#'   older software; see [glamm()]).
#' @param re instead of `Z`, `group` and `pattern`: the levels of nested
#'   random effects, a list with one element per grouping factor, each
#'   `list(Z = , group = , pattern = , name = )` (`pattern` and `name`
#'   optional). Every cluster of a finer factor must lie in one cluster of
#'   each coarser factor. `nAGQ` may then be named by the levels' names.
#' @param survey survey weights, as [glamm()] builds them from `pweights`:
#'   `list(row = , top = , strata = )`, vectors with one value per
#'   observation (or `NULL`): `row` the power of each row's density, `top`
#'   the weight of its top-level cluster (constant within it), `strata` the
#'   stratum of its top-level cluster (for the sandwich covariance).
#' @return An object of class `glamm` (see [glamm()] for its components).
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' X <- model.matrix(~ female + SES, d)
#' Z <- matrix(1, nrow(d), 1, dimnames = list(NULL, "(Intercept)"))
#' fit <- glamm.fit(d$pass_read, X, Z, factor(d$id_school), family = binomial())
#' fixef(fit)
#' # the same model with the random effects as a list of levels
#' fit2 <- glamm.fit(d$pass_read, X, family = binomial(),
#'                   re = list(list(Z = Z, group = d$id_school, name = "id_school")))
#' logLik(fit2) - logLik(fit)
#' @export
glamm.fit <- function(y, X, Z = NULL, group = NULL, family = gaussian(), nAGQ = NULL,
                      weights = NULL, offset = NULL, pattern = NULL, start = NULL,
                      control = glamm_control(), method = c("ML", "PQL"), re = NULL,
                      survey = NULL) {
  family <- resolve_family(family)
  method <- match.arg(method)
  X <- as_design(X, "X")
  n <- nrow(X)
  levels <- fit_levels(Z, group, pattern, re, n)
  if (NROW(y) != n) {
    stop("'y', 'X', 'Z' and 'group' must have the same number of observations", call. = FALSE)
  }
  if (!is.null(offset) && (length(offset) != n || !all_finite(offset))) {
    stop("'offset' must be finite, with one value per observation", call. = FALSE)
  }
  if (!is.null(offset)) check_offset_scale(offset, family)
  q <- vapply(levels, function(l) ncol(l$Z), 1L)
  if (any(q > 10)) {
    stop(sprintf("%d random effects per cluster: at most 10 are supported", max(q)), call. = FALSE)
  }
  control <- as_glamm_control(control)
  parents <- check_nesting(levels)
  tree <- tree_order(levels)
  nAGQ <- resolve_nagq(nAGQ, levels, family, q)
  check_grid_size(nAGQ, q, tree$max_rows_top, control$nodes.max, control$workspace.max)
  if (method == "PQL") {
    if (!is.null(survey)) stop("survey weights need method = \"ML\"", call. = FALSE)
    if (!family$family %in% c("binomial", "poisson")) {
      stop("PQL is for binomial and poisson responses", call. = FALSE)
    }
    if (length(levels) > 1) {
      stop("PQL is available for one grouping factor; use method = \"ML\" for nested levels",
           call. = FALSE)
    }
    l1 <- levels[[1]]
    return(structure(pql_fit(y, X, l1$Z, l1$group, family, weights, offset %||% rep(0, n),
                             l1$pattern, control),
                     class = "glamm"))
  }
  # Unit trials and weights and a zero offset stay NULL (no n-vectors of 1s and 0s).
  resp <- prepare_response(y, family, weights, compact = TRUE)
  check_variation(resp, family)
  inner <- levels[[1]]$group
  single_trials <- is.null(resp$trials) || max(resp$trials) <= 1
  if (family$family == "binomial" && single_trials && nlevels(inner) == n) {
    warning("every cluster has a single binary observation: an observation-level random ",
            "effect is not identified for binary responses (binary data cannot be ",
            "overdispersed); its variance is estimated only through the link function",
            call. = FALSE)
  }
  if (family$family == "gaussian" && nlevels(inner) == n) {
    stop("every cluster of ", levels[[1]]$name, " has a single observation: with the ",
         "gaussian family its random effect and the residual are not separately identified; ",
         "drop that random effect (lm) or group the observations", call. = FALSE)
  }

  scaling <- design_scaling(X, centre = family$family != "ordinal")
  # A weighted fit's sandwich (R/pweights.R) takes the scores on X's own scale.
  if (!is.null(survey$row) || !is.null(survey$top)) {
    scaling <- design_scaling(X[0, , drop = FALSE])
  }
  objective <- build_objective(scaled_design(X, scaling), levels, resp, offset, family, nAGQ,
                               control, tree, survey = survey)
  objective$beta_to_engine <- function(beta) drop(scaling$to_internal %*% beta)
  par0 <- start_values(resp, X, levels, offset, family, start, objective)
  par0 <- map_par(par0, scaling$to_internal, ncol(X))
  lower <- c(rep(-Inf, ncol(X)),
             unlist(lapply(levels, function(l) ifelse(theta_is_diagonal(l$pattern), 0, -Inf))),
             rep(-Inf, objective$n_extra))
  if (!is.null(start) && any(par0 < lower)) {
    stop("start$theta must be >= 0 where it is a standard deviation (a diagonal entry of ",
         "Lambda with a diagonal covariance)", call. = FALSE)
  }
  if (family$family == "gaussian") check_response_location(objective, par0, resp)
  opt <- optimize_loglik(objective, par0, lower, control)
  if (control$hessian) opt <- newton_polish(objective, opt, control)
  opt <- map_optimum(opt, scaling, ncol(X))
  opt$infinite <- estimates_at_infinity(objective, opt, scaling, ncol(X),
                                        typical_sizes(X, levels, resp, family, objective$n_extra))
  if (family$family == "binomial") {
    opt$infinite <- opt$infinite | constant_cluster_sd(opt$par, objective, levels, resp)
  }
  fit <- structure(
    assemble_fit(objective, opt, X, levels, parents, tree, resp, offset, family, nAGQ, control,
                 survey),
    class = "glamm"
  )
  inf_beta <- names(fit$coefficients)[opt$infinite[seq_len(ncol(X))]]
  if (family$family == "binomial") {
    check_separation(fit$coefficients, X, offset, resp, family, inf_beta)
  } else if (length(inf_beta)) {
    warning(infinite_message(inf_beta, ""), call. = FALSE)
  }
  inf_sd <- infinite_sd_names(opt$infinite[ncol(X) + seq_len(objective$n_theta)], levels)
  if (length(inf_sd)) {
    warning(sprintf(paste0("the random-effect standard deviation(s) of %s run off to infinity ",
                           "(the log-likelihood stays flat as they grow: e.g. the outcomes of ",
                           "every cluster are all 0 or all 1); their estimates are not ",
                           "meaningful and their standard errors are reported as NA"),
                    paste(inf_sd, collapse = ", ")), call. = FALSE)
  }
  fit
}

# Estimates that run off to infinity (separation of a binary outcome, a
# factor level whose responses are all 0, a random-effect SD growing without
# bound): the optimizer stops where the log-likelihood is flat, and the
# numbers look valid. A fixed effect, or the SD on the diagonal of Lambda, is
# a candidate when it is more than 5 typical sizes (a change of 5 in the
# linear predictor per typical covariate value) from 0; it is at infinity when
# doubling it (all candidates together, else each alone) lowers the
# log-likelihood by less than 0.01. Returns a logical vector over the
# parameters.
estimates_at_infinity <- function(objective, opt, scaling, p, typsize) {
  par <- opt$par
  out <- rep(FALSE, length(par))
  diagonal <- unlist(lapply(objective$patterns, function(pat) (row(pat) == col(pat))[pat]))
  eligible <- c(rep(TRUE, p), diagonal, rep(FALSE, objective$n_extra))
  cand <- which(eligible & abs(par) > 5 * typsize)
  if (!length(cand)) return(out)
  ll <- function(x) as.numeric(objective$loglik(map_par(x, scaling$to_internal, p)))
  flat <- function(idx) {
    x <- par
    x[idx] <- 2 * par[idx]
    v <- ll(x)
    is.finite(v) && v > opt$loglik - 0.01
  }
  if (flat(cand)) {
    out[cand] <- TRUE
  } else if (length(cand) > 1) {
    for (j in cand) out[j] <- flat(j)
  }
  # Several estimates can run off together (a factor level with all 0: the
  # intercept to -Inf and the other levels' contrasts to +Inf): the flattest
  # direction of the information, where the candidates move away from 0 until
  # the largest of them doubles.
  H <- opt$hessian
  if (!all(out[cand]) && !is.null(H) && all(is.finite(H))) {
    d <- sqrt(pmax(-diag(H), 0))
    use <- d > 0 & !(par <= opt$lower & is.finite(opt$lower))
    if (sum(use) < 2) return(out)
    info <- -H[use, use] / outer(d[use], d[use])
    v <- numeric(length(par))
    v[use] <- eigen(info, symmetric = TRUE)$vectors[, sum(use)] / d[use]
    ratio <- abs(v[cand]) / abs(par[cand])
    t <- sign(sum(v[cand] * par[cand])) / max(ratio)
    moved <- cand[abs(t * v[cand]) > typsize[cand]]
    x <- par + t * v
    val <- ll(x)
    if (length(moved) && is.finite(val) && val > opt$loglik - 0.01) out[moved] <- TRUE
  }
  out
}

# Binary responses constant within every cluster of a level (all 0 or all
# 1): the likelihood grows with the level's random-intercept SD up to
# infinity, but the quadrature (or Laplace) approximation stops it at a large
# finite value (an SD of 23 on the probit scale, Laplace; 80 with 15 points).
# The SD of the first column of Lambda of such a level, when it exceeds 5 on
# the link scale, is flagged.
constant_cluster_sd <- function(par, objective, levels, resp) {
  out <- rep(FALSE, length(par))
  start <- objective$p
  for (l in seq_along(levels)) {
    pat <- levels[[l]]$pattern
    first <- start + 1
    start <- start + sum(pat)
    intercept <- identical(colnames(levels[[l]]$Z)[1], "(Intercept)") && pat[1, 1]
    if (!intercept || abs(par[first]) <= 5) next  # only a large SD needs the data
    prop <- resp$y / (resp$trials %||% 1)
    used <- (resp$weights %||% 1) > 0 & (resp$trials %||% 1) > 0
    g <- levels[[l]]$group[used]
    v <- prop[used]
    size <- tabulate(g, nlevels(g))
    lo <- tapply(v, g, min)
    hi <- tapply(v, g, max)
    multi <- size > 1
    constant <- any(multi) && all((lo == hi & (lo == 0 | lo == 1))[multi])
    if (constant) out[first] <- TRUE
  }
  out
}

# "x | g" for the flagged diagonal entries of each level's Lambda.
infinite_sd_names <- function(flags, levels) {
  labels <- unlist(lapply(levels, function(l) {
    pat <- l$pattern
    r <- row(pat)[pat]
    paste0(colnames(l$Z)[r], " | ", l$name)
  }))
  labels[flags]
}

infinite_message <- function(names, why) {
  sprintf(paste0("the estimate(s) of %s run off to infinity (the log-likelihood stays flat as ",
                 "they grow%s): they are not meaningful and their standard errors are ",
                 "reported as NA"), paste(names, collapse = ", "), why)
}

# The optimizer works on the fixed effects of a centred and scaled design:
# with a covariate in the tens, the intercept and its slope are so strongly
# correlated that the quasi-Newton search crawls and can stop at its iteration
# limit short of the maximum. A column whose mean exceeds its SD is centred
# (when the design has an intercept; not for the ordinal family, whose
# thresholds play that part) and a column whose spread is not near 1 is
# scaled: X* = (X - 1 c') D^-1, so that beta = B beta* with B = D^-1 minus
# c / d in the intercept's row. A well-scaled design is used as it is (no
# copy). Returns the centres, scales and the maps beta = B beta* and
# beta* = B^-1 beta, or NULL scales and identity maps.
design_scaling <- function(X, centre = TRUE) {
  p <- ncol(X)
  identity_map <- list(centre = NULL, scale = NULL, from_internal = diag(p),
                       to_internal = diag(p))
  if (p == 0 || nrow(X) < 2) return(identity_map)
  moments <- cpp_column_moments(X)  # no copy of a column
  m <- moments$mean
  s <- moments$sd
  rms <- sqrt(s^2 * (nrow(X) - 1) / nrow(X) + m^2)
  ones <- which(s == 0 & m == 1)
  intercept <- if (length(ones)) ones[1] else 0L
  shift <- intercept > 0 & centre & s > 0 & abs(m) > s
  d <- ifelse(shift, s, rms)
  d[!(d > 0) | seq_len(p) == intercept] <- 1
  d[d >= 0.5 & d <= 2] <- 1
  if (!any(shift) && all(d == 1)) return(identity_map)
  c0 <- ifelse(shift, m, 0)
  B <- diag(1 / d, p)
  Binv <- diag(d, p)
  if (intercept > 0) {
    B[intercept, ] <- B[intercept, ] - c0 / d
    Binv[intercept, ] <- Binv[intercept, ] + c0
    B[intercept, intercept] <- Binv[intercept, intercept] <- 1
  }
  dimnames(B) <- dimnames(Binv) <- list(colnames(X), colnames(X))
  list(centre = c0, scale = d, from_internal = B, to_internal = Binv)
}

# The design the engine works with: X* = (X - 1 c') D^-1 (X itself when no
# column needs it).
scaled_design <- function(X, scaling) {
  if (is.null(scaling$scale)) return(X)
  Xs <- X
  for (j in which(scaling$centre != 0 | scaling$scale != 1)) {
    Xs[, j] <- (X[, j] - scaling$centre[j]) / scaling$scale[j]
  }
  Xs
}

# A parameter vector (beta, theta, psi) with its fixed-effects block mapped by
# the p x p matrix M.
map_par <- function(par, M, p) {
  if (p > 0) par[seq_len(p)] <- drop(M %*% par[seq_len(p)])
  par
}

# The optimum on the internal scale mapped back to the fixed effects of X:
# beta = B beta*, the gradient in beta is B^-T times that in beta*, and the
# Hessian H = T^-T H* T^-1 with T = diag(B, I).
map_optimum <- function(opt, scaling, p) {
  if (is.null(scaling$scale) || p == 0) return(opt)
  k <- length(opt$par)
  Tinv <- diag(k)
  Tinv[seq_len(p), seq_len(p)] <- scaling$to_internal
  opt$par <- map_par(opt$par, scaling$from_internal, p)
  opt$gradient <- drop(crossprod(Tinv, opt$gradient))
  if (!is.null(opt$hessian)) opt$hessian <- crossprod(Tinv, opt$hessian %*% Tinv)
  opt
}

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

# The levels of random effects, innermost first, from Z and group (one level)
# or from re (a list of list(Z, group, pattern, name)), each checked.
fit_levels <- function(Z, group, pattern, re, n) {
  if (is.null(re)) {
    if (is.null(Z) || is.null(group)) {
      stop("give the random effects as 'Z' and 'group', or as a list 're'", call. = FALSE)
    }
    re <- list(list(Z = Z, group = group, pattern = pattern, name = "group"))
  }
  if (!is.list(re) || length(re) == 0) {
    stop("'re' must be a list of levels, each list(Z = , group = )", call. = FALSE)
  }
  levels <- lapply(seq_along(re), function(k) {
    l <- re[[k]]
    name <- l$name %||% names(re)[k] %||% ""
    if (!nzchar(name)) name <- paste0("group", k)
    Zl <- as_design(l$Z, "Z")
    g <- l$group
    if (nrow(Zl) != n || length(g) != n) {
      stop("'y', 'X', 'Z' and 'group' must have the same number of observations", call. = FALSE)
    }
    if (anyNA(g)) stop("the grouping factor has missing values", call. = FALSE)
    g <- as.factor(g)
    if (any(tabulate(g, nlevels(g)) == 0)) g <- droplevels(g)
    pat <- l$pattern %||% lower.tri(diag(ncol(Zl)), diag = TRUE)
    list(name = name, group = g, factor = g, Z = Zl, pattern = pat)
  })
  names(levels) <- vapply(levels, function(l) l$name, "")
  levels <- levels[order(-vapply(levels, function(l) nlevels(l$group), 1L))]
  top <- levels[[length(levels)]]$group
  if (nlevels(top) < 2) {
    stop("the grouping factor has a single level: a random-effect variance cannot be ",
         "estimated from one cluster; fit a model without random effects (glm)", call. = FALSE)
  }
  levels
}

# A response without variation has its maximum likelihood at infinity
# (binomial, poisson) or a zero residual variance (gaussian).
check_variation <- function(resp, family) {
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

# The engine's model object for the data (rows sorted so that every cluster
# of every level is a contiguous block) and the log-likelihood as a function
# of the parameters. use_tree forces the nested integrator for one level.
# Survey weights (R/pweights.R): survey = list(row = , top = ), per-row
# vectors or NULL (1): row i's log f is raised to row[i], the log-likelihood
# of each top cluster multiplied by its top weight; the response's constant
# (constant_rows()) is weighted alike.
build_objective <- function(X, levels, resp, offset, family, nAGQ, control,
                            tree = tree_order(levels), use_tree = FALSE, survey = NULL) {
  codes <- family_codes(family)
  # Data already sorted by cluster are passed as they are (no copy of X);
  # the engine numbers the clusters by the runs of each factor's codes.
  ord <- tree$order
  rows <- function(v) {
    if (is.null(ord)) v else if (is.matrix(v)) v[ord, , drop = FALSE] else v[ord]
  }
  engine_levels <- lapply(levels, function(l) {
    list(Z = rows(l$Z), node = rows(level_factor(l)))
  })
  # NULL trials, weights (all 1) and offset (0) go as empty vectors.
  or_empty <- function(v) if (is.null(v)) numeric(0) else rows(as.numeric(v))
  constant <- resp$constant
  if (!is.null(survey$row) || !is.null(survey$top)) {
    constant <- sum(constant_rows(resp, family) * (survey$row %||% 1) * (survey$top %||% 1))
  }
  model <- cpp_model_new(rows(X), rows(resp$y), or_empty(resp$trials), or_empty(resp$weights),
                         or_empty(survey$row), or_empty(survey$top), or_empty(offset),
                         engine_levels, codes[["family"]],
                         codes[["link"]], length(resp$levels), as.integer(nAGQ),
                         control$nthreads, control$mode.tol, control$mode.maxit, use_tree)
  patterns <- lapply(levels, function(l) l$pattern)
  extra <- extra_parameters(family, resp$levels)
  objective <- make_objective(model, ncol(X), patterns, extra, constant)
  objective$typsize <- typical_sizes(X, levels, resp, family, extra$n)
  objective
}

# A typical magnitude of each parameter, from the scales of the covariates
# (and of the response for the gaussian family): it sets the optimizer's
# scaling and the finite-difference steps of the Hessian, so that a covariate
# measured in millions is handled like one measured in units.
typical_sizes <- function(X, levels, resp, family, n_extra) {
  rms <- function(M) {
    r <- sqrt(diag(cpp_crossprod(M)) / nrow(M))
    ifelse(r > 0, r, 1)
  }
  s_y <- if (family$family == "gaussian" ||
             (family$family == "Gamma" && family$link == "identity")) {
    sd_y <- stats::sd(resp$y)
    if (is.finite(sd_y) && sd_y > 0) sd_y else 1
  } else if (family$family == "Gamma" && family$link == "inverse") {
    1 / mean(resp$y)
  } else 1
  theta <- lapply(levels, function(l) (s_y / rms(l$Z))[row(l$pattern)[l$pattern]])
  c(s_y / rms(X), unlist(theta), rep(1, n_extra))
}

# The log-likelihood as a function of par = (beta, theta_1, ..., theta_L, psi)
# (levels innermost first), with its exact gradient and, on request, the
# per-top-cluster scores (rows sum to the gradient); psi is log(sigma) for the
# gaussian family.
make_objective <- function(model, p, patterns, extra, constant) {
  nt <- vapply(patterns, sum, 1L)
  ne <- extra$n
  theta_end <- p + cumsum(nt)
  unpack <- function(par) {
    lambda <- lapply(seq_along(patterns), function(l) {
      theta_to_lambda(par[theta_end[l] - nt[l] + seq_len(nt[l])], patterns[[l]])
    })
    list(beta = par[seq_len(p)], lambda = lambda, psi = par[p + sum(nt) + seq_len(ne)])
  }
  # Columns of the engine's score matrix that hold the free entries of Lambda.
  free_cols <- unlist(lapply(seq_along(patterns), function(l) {
    p + sum(nrow_sq(patterns)[seq_len(l - 1)]) + which(patterns[[l]])
  }))
  loglik <- function(par, gradient = FALSE, scores = FALSE) {
    u <- unpack(par)
    psi <- extra$to_engine(u$psi)
    r <- cpp_model_eval(model, u$beta, u$lambda, psi, gradient || scores, scores)
    value <- r$loglik + constant
    ok <- r$n_fail == 0
    if (gradient) {
      attr(value, "gradient") <- if (ok) {
        c(r$grad_beta, unlist(Map(function(g, pat) g[pat], r$grad_lambda, patterns)),
          extra$chain(u$psi, r$grad_psi))
      } else {
        rep(NA_real_, length(par))
      }
    }
    if (scores && ok) {
      S <- r$scores
      psi_cols <- ncol(S) - ne + seq_len(ne)
      psi_part <- matrix(0, nrow(S), ne)
      for (k in seq_len(nrow(S))) psi_part[k, ] <- extra$chain(u$psi, S[k, psi_cols])
      attr(value, "scores") <- cbind(S[, c(seq_len(p), free_cols), drop = FALSE], psi_part)
    }
    value
  }
  list(loglik = loglik, unpack = unpack, model = model, beta_to_engine = identity, p = p,
       n_theta = sum(nt),
       n_theta_level = nt, n_extra = ne, extra = extra, patterns = patterns)
}

nrow_sq <- function(patterns) vapply(patterns, function(x) nrow(x)^2, 1)

start_values <- function(resp, X, levels, offset, family, start, objective) {
  # The GLM start needs no more than an evenly spread subset of a large data set.
  rows <- if (nrow(X) > 20000) round(seq(1, nrow(X), length.out = 20000)) else seq_len(nrow(X))
  part <- function(v, default) if (is.null(v)) rep(default, length(rows)) else v[rows]
  trials <- part(resp$trials, 1)
  weights <- part(resp$weights, 1)
  ok <- trials > 0
  yy <- ifelse(ok, resp$y[rows] / ifelse(ok, trials, 1), 0)
  if (family$family == "ordinal") {
    beta <- stats::setNames(rep(0, ncol(X)), colnames(X))
  } else {
    # nbinom2 starts from the poisson GLM (the same mean model).
    start_family <- if (family$family == "nbinom2") stats::poisson() else family
    g <- tryCatch(suppressWarnings(glm.fit(X[rows, , drop = FALSE], yy,
                                           weights = trials * weights, offset = part(offset, 0),
                                           family = start_family)),
                  error = function(e) {
                    stop("no start values: the fit without random effects (glm.fit) failed (",
                         conditionMessage(e), "); check extreme covariate values or offsets, ",
                         "or supply 'start'", call. = FALSE)
                  })
    beta <- g$coefficients
    beta[is.na(beta)] <- 0
  }
  sigma <- dispersion_start(family, g, yy, weights)
  # The scale of the random effects on the linear predictor: the residual SD
  # at the mean weight (gaussian; sigma is the SD at weight 1, the same for
  # unit weights, and weights of 1e6 made the start of Lambda 1000 times too
  # large), the CV times the typical |eta| (Gamma with a non-log link).
  latent <- switch(family$family,
    gaussian = if (sum(weights) > 0) sqrt(sum(weights * g$residuals^2) / sum(weights)) else sigma,
    Gamma = if (family$link == "log") 1 else sigma * mean(abs(g$linear.predictors)),
    1)
  theta <- unlist(lapply(levels, function(l) {
    scale <- apply(l$Z[rows, , drop = FALSE], 2, function(z) {
      if (stats::sd(z) > 0) stats::sd(z) else 1
    })
    lambda <- diag(0.5 * latent / scale, ncol(l$Z))
    if (family$family == "gaussian") lambda <- lambda / sqrt(2)
    lambda_to_theta(lambda, l$pattern)
  }))
  if (!is.null(start)) {
    if (!is.list(start)) {
      stop("'start' must be a list with elements beta, theta and (gaussian) sigma, ",
           "or a glamm fit", call. = FALSE)
    }
    set <- function(current, value, name) {
      if (is.null(value)) return(current)
      if (!is.numeric(value) || length(value) != length(current) || any(!is.finite(value))) {
        stop(sprintf("start$%s must hold %d finite number(s)", name, length(current)),
             call. = FALSE)
      }
      value
    }
    beta[] <- set(beta, start$beta, "beta")
    theta[] <- set(theta, start$theta, "theta")
    if (family$family %in% c("gaussian", "Gamma", "nbinom2")) {
      sigma <- set(sigma, start$sigma, "sigma")
      if (sigma <= 0) stop("start$sigma must be a positive number", call. = FALSE)
    }
  }
  c(beta, theta, start_extra(family, resp, sigma))
}

# Moment start of the dispersion from the GLM fit g: the gaussian residual
# SD, the Gamma coefficient of variation (Pearson) or the nbinom2 theta from
# var = mu + mu^2 / theta (large when the counts are not overdispersed).
dispersion_start <- function(family, g, y, weights) {
  switch(family$family,
    gaussian = sqrt(sum(weights * g$residuals^2) / length(y)),
    Gamma = {
      mu <- g$fitted.values
      cv <- sqrt(sum(weights * ((y - mu) / mu)^2) / sum(weights > 0))
      if (is.finite(cv) && cv > 0) cv else 1
    },
    nbinom2 = {
      mu <- g$fitted.values
      excess <- sum(weights * ((y - mu)^2 - mu))
      if (is.finite(excess) && excess > 0) min(sum(weights * mu^2) / excess, 100) else 100
    },
    1)
}
