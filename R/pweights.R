# Survey (sampling) weights: glamm(pweights = ) maximizes the
# pseudo-log-likelihood
#   sum_k w_k log L_k,
#   L_v = int phi(u_v) prod_{rows i of v} f(y_i | u)^(p_i|v)
#             prod_{child clusters c of v} L_c^(w_c|v) du_v,
# with top-cluster weights w_k, the weights w_c|v of the clusters below the
# top (given their parent cluster) and row weights p_i|v (given the innermost
# cluster). Every level's weights but the top's are scaled within their
# parent cluster by pweights.scale (the rows within the innermost cluster,
# the clusters of each level within the cluster above). src/family_power.cpp
# (rows), src/tree_weights.cpp (clusters below the top) and
# src/likelihood.cpp (top) compute it.

# Whether survey holds weights (strata alone change only the sandwich).
is_weighted <- function(survey) {
  !is.null(survey$row) || !is.null(survey$top) || length(survey$node) > 0
}

# The pweights argument checked: a one-sided formula (the row weights) or a
# list of them, unnamed (rows) or named by a grouping factor. Returns the
# list with names "" for the rows.
check_pweights_spec <- function(pweights) {
  if (inherits(pweights, "formula")) pweights <- list(pweights)
  if (!is.list(pweights) || length(pweights) == 0) {
    stop("'pweights' must be a one-sided formula or a list of them, e.g. ",
         "list(~ w_student, id_school = ~ w_school)", call. = FALSE)
  }
  nm <- names(pweights) %||% rep("", length(pweights))
  nm[is.na(nm)] <- ""
  for (k in seq_along(pweights)) {
    f <- pweights[[k]]
    if (!inherits(f, "formula") || length(f) != 2) {
      stop("each element of 'pweights' must be a one-sided formula such as ~ w", call. = FALSE)
    }
  }
  if (sum(nm == "") > 1) {
    stop("'pweights' has more than one unnamed element: one (the row weights) at most; ",
         "name the others by their grouping factor", call. = FALSE)
  }
  if (anyDuplicated(nm[nm != ""])) {
    stop("'pweights' names a grouping factor more than once", call. = FALSE)
  }
  names(pweights) <- nm
  pweights
}

# Adds the weight expressions to a model.frame() call: column k of the frame
# is then "(.pw<k>)", following subset and na.action like the other variables.
add_pweights_to_frame_call <- function(mf, pweights) {
  for (k in seq_along(pweights)) mf[[paste0(".pw", k)]] <- pweights[[k]][[2]]
  mf
}

# The per-row survey weights for the engine from the model frame: list(row,
# top, node), NULL where absent; node is a list named by the levels below the
# top that have weights (each the scaled weight of the row's cluster). levels:
# the random-effect levels (named list with $factor), in any order.
survey_weights <- function(frame, pweights, levels, scale) {
  levels <- levels[order(-vapply(levels, function(l) nlevels(l$factor), 1L))]
  inner <- levels[[1]]$factor
  top_name <- names(levels)[length(levels)]
  values <- lapply(seq_along(pweights), function(k) {
    v <- frame[[paste0("(.pw", k, ")")]]
    label <- deparse1(pweights[[k]][[2]])
    if (!is.numeric(v)) stop(sprintf("pweights '%s' must be numeric", label), call. = FALSE)
    if (anyNA(v)) stop(sprintf("pweights '%s' has missing values", label), call. = FALSE)
    if (!all(is.finite(v))) stop(sprintf("pweights '%s' has infinite values", label), call. = FALSE)
    if (any(v < 0)) stop(sprintf("pweights '%s' has negative values", label), call. = FALSE)
    as.numeric(v)
  })
  out <- list(row = NULL, top = NULL, node = NULL)
  seen <- character(0)
  for (k in seq_along(values)) {
    nm <- names(pweights)[k]
    v <- values[[k]]
    if (nm == "") {
      out$row <- scale_row_weights(v, inner, scale)
      next
    }
    nm <- pweights_level_name(nm, names(levels))
    if (nm %in% seen) stop("'pweights' names the level '", nm, "' twice", call. = FALSE)
    seen <- c(seen, nm)
    g <- levels[[nm]]$factor
    spread <- tapply(v, g, function(x) max(x) - min(x))
    if (any(spread > 1e-12 * pmax(1, tapply(v, g, max)), na.rm = TRUE)) {
      stop(sprintf("pweights for '%s' must be constant within each of its clusters", nm),
           call. = FALSE)
    }
    if (nm == top_name) {
      out$top <- v
      next
    }
    if (any(v == 0)) {
      stop(sprintf(paste0("pweights for '%s' are 0 for some clusters: weights below the top ",
                          "level must be positive; leave those clusters out (subset =)"), nm),
           call. = FALSE)
    }
    parent <- levels[[match(nm, names(levels)) + 1]]$factor
    out$node[[nm]] <- scale_cluster_weights(v, g, parent, scale)
  }
  if (all(vapply(out, is.null, NA))) return(NULL)
  out
}

# The level that a pweights name refers to: a level's name, or for a nested
# term (1 | school/class) the inner factor's own name ("class" for the level
# "class:school") when that is unambiguous.
pweights_level_name <- function(nm, level_names) {
  if (nm %in% level_names) return(nm)
  inner <- sub(":.*", "", level_names)
  hit <- level_names[inner == nm]
  if (length(hit) == 1) return(hit)
  stop(sprintf("pweights names '%s', which is not a grouping factor of the model; ", nm),
       "valid names: ", paste(level_names, collapse = ", "), call. = FALSE)
}

# The weights of the clusters of one level (v per row, constant within each
# cluster) scaled within each parent cluster as the row weights are within
# the innermost clusters (scale_row_weights()): to sum to the parent's number
# of clusters ("size") or to their effective number ("effective").
scale_cluster_weights <- function(v, cluster, parent, scale) {
  first <- !duplicated(cluster)
  scaled <- scale_row_weights(v[first], parent[first], scale)
  scaled[match(cluster, cluster[first])]
}

# Row weights scaled within each innermost cluster: to sum to the cluster's
# size ("size"), to its effective size (sum w)^2 / sum w^2 ("effective") or
# not at all ("none"). Clusters whose weights are all 0 keep them.
scale_row_weights <- function(w, cluster, scale) {
  if (scale == "none") return(w)
  s1 <- rowsum(w, cluster, reorder = FALSE)[, 1]
  key <- match(cluster, unique(cluster))
  target <- if (scale == "size") {
    tabulate(key, length(s1))
  } else {
    s1^2 / rowsum(w^2, cluster, reorder = FALSE)[, 1]
  }
  f <- ifelse(s1 > 0, target / s1, 0)
  w * f[key]
}

# The sandwich covariance A^-1 B A^-1 from the model-based covariance
# V = A^-1 and the per-top-cluster scores S (rows): B = J/(J-1) S'S, or with
# strata (one stratum label per top cluster, row of S) the sum over strata of
# J_h/(J_h - 1) times the cross-products of the stratum-centred scores.
# Parameters without a model-based variance (at a bound) keep NA.
sandwich_vcov <- function(V, S, strata = NULL) {
  keep <- is.finite(diag(V))
  centre <- !is.null(strata)
  if (is.null(strata)) strata <- rep(1L, nrow(S))
  B <- matrix(0, ncol(S), ncol(S))
  for (h in unique(strata)) {
    Sh <- S[strata == h, , drop = FALSE]
    J <- nrow(Sh)
    if (J < 2) {
      stop("the sandwich needs at least two top-level clusters per stratum", call. = FALSE)
    }
    Sc <- if (centre) sweep(Sh, 2, colMeans(Sh)) else Sh
    B <- B + J / (J - 1) * crossprod(Sc)
  }
  out <- V
  Vk <- V[keep, keep, drop = FALSE]
  out[keep, keep] <- Vk %*% B[keep, keep, drop = FALSE] %*% Vk
  out
}

# The sandwich covariance of a fit at par from its objective: the scores of
# the top clusters (engine order: top cluster k is level tree$cluster[[L]][k]
# of the top factor) and strata given per row (or NULL).
fit_sandwich <- function(objective, par, V, tree, levels, strata = NULL) {
  S <- attr(objective$loglik(unname(par), scores = TRUE), "scores")
  if (is.null(S)) return(V * NA_real_)
  L <- length(levels)
  if (!is.null(strata)) {
    top <- levels[[L]]$group
    per_level <- strata[match(seq_len(nlevels(top)), as.integer(top))]
    strata <- per_level[tree$cluster[[L]]]
  }
  sandwich_vcov(V, S, strata)
}

# The model-frame columns that hold survey weights and strata.
# Named by the expressions, for messages.
survey_columns <- function(pweights, strata) {
  cols <- c(if (length(pweights)) paste0("(.pw", seq_along(pweights), ")"),
            if (!is.null(strata)) "(.strata)")
  if (length(cols) == 0) return(character(0))
  names(cols) <- c(vapply(pweights, function(f) deparse1(f[[2]]), ""),
                   if (!is.null(strata)) deparse1(strata[[2]]))
  cols
}

# The stratum of each row's top-level cluster (checked constant within it).
survey_strata <- function(frame, levels) {
  levels <- levels[order(-vapply(levels, function(l) nlevels(l$factor), 1L))]
  top <- levels[[length(levels)]]$factor
  s <- as.integer(as.factor(frame[["(.strata)"]]))
  if (any(tapply(s, top, function(x) length(unique(x))) > 1, na.rm = TRUE)) {
    stop("'strata' must be constant within each top-level cluster (",
         names(levels)[length(levels)], ")", call. = FALSE)
  }
  per_stratum <- tapply(as.integer(top), s, function(x) length(unique(x)))
  if (any(per_stratum < 2)) {
    stop(sprintf(paste0("%d stratum/strata of 'strata' hold a single top-level cluster: the ",
                        "sandwich needs at least two per stratum; merge such strata with ",
                        "similar ones"), sum(per_stratum < 2)), call. = FALSE)
  }
  s
}

# Methods that need a likelihood (profiles, the parametric bootstrap) are
# not valid for a pseudo-likelihood.
refuse_weighted <- function(object, what) {
  if (!is.null(object$vcov_model)) {
    stop(what, " are not available for fits with survey weights (pweights): the ",
         "pseudo-log-likelihood is no likelihood; use the Wald intervals with the robust SEs",
         call. = FALSE)
  }
  invisible()
}
