# Grouping factors that do not form a tree (crossed or partially crossed
# designs): the decision between the nested integrator and the sparse global
# Laplace approximation (src/sparse_laplace.h), the limits of the latter and
# the row bookkeeping the methods share with nested fits.

#' The structure of the random effects: a tree or not
#'
#' @param levels levels innermost first (most clusters first), each with its
#'   grouping factor in `$factor` (or `$group`) and label in `$name`.
#' @param nAGQ the user's `nAGQ` (`NULL`, a number or a named vector).
#' @param family the family object.
#' @param q random effects per level.
#' @param control settings from [glamm_control()].
#' @param announce whether to give the message on reused labels (the fit
#'   gives it; methods that rebuild the objective do not repeat it).
#' @return `list(sparse, parents, tree, nAGQ, crossed)`: for a tree (the
#'   factors nest) the parents of [check_nesting()], the row order of
#'   [tree_order()] and the points per level of [resolve_nagq()], checked by
#'   [check_grid_size()]; otherwise `sparse = TRUE`, no parents, the rows in
#'   their own order (engine node v of a level is its factor's level v + 1),
#'   `nAGQ` 1 for every level, and `crossed` the pairs of factors that cross,
#'   as "a and b", and `crossed_levels` the indices of the levels in them.
#'   A crossed pair that would nest if one factor's labels were read within
#'   the other's clusters gets a message suggesting `a/b`.
#' @noRd
random_structure <- function(levels, nAGQ, family, q, control, announce = TRUE) {
  factors <- lapply(levels, level_factor)
  if (length(levels) == 1 || nests(factors)) {
    parents <- check_nesting(levels)
    tree <- tree_order(levels)
    K <- resolve_nagq(nAGQ, levels, family, q)
    check_grid_size(K, q, tree$max_rows_top, control$nodes.max %||% 1e6,
                    control$workspace.max %||% 2e9)
    return(list(sparse = FALSE, parents = parents, tree = tree, nAGQ = K))
  }
  labels <- level_labels(levels)
  crossed <- crossed_pairs(factors, labels)
  K <- resolve_nagq(nAGQ %||% 1L, levels, family, q)
  if (any(K > 1)) {
    stop(sprintf(paste0("the grouping factors %s are crossed, not nested: adaptive quadrature ",
                        "(nAGQ > 1) needs nested factors; use nAGQ = 1 (the Laplace ",
                        "approximation over all random effects)%s"),
                 paste(crossed$label, collapse = "; "), reused_label_hint(crossed, factors, labels)),
         call. = FALSE)
  }
  hint <- reused_label_hint(crossed, factors, labels)
  if (announce && nzchar(hint)) {
    message(sprintf(paste0("the grouping factors %s are crossed, not nested: they are fitted as ",
                           "crossed factors%s"), paste(crossed$label, collapse = "; "), hint))
  }
  n <- length(factors[[1]])
  cluster <- lapply(factors, function(f) seq_len(nlevels(f)))
  names(cluster) <- names(levels)
  list(sparse = TRUE, parents = stats::setNames(vector("list", length(levels)), labels),
       tree = list(order = NULL, cluster = cluster, max_rows_top = n, sparse = TRUE),
       nAGQ = K, crossed = crossed$label, crossed_levels = sort(unique(unlist(crossed$pair))))
}

# The pairs of factors of which neither nests in the other; identical
# partitions under two names are an error (as for nested levels).
crossed_pairs <- function(factors, labels) {
  out <- list(label = character(0), pair = list())
  for (a in seq_along(factors)) {
    for (b in seq_along(factors)[-seq_len(a)]) {
      a_in_b <- !is.null(nested_parent(factors[[a]], factors[[b]]))
      b_in_a <- !is.null(nested_parent(factors[[b]], factors[[a]]))
      if (a_in_b && b_in_a) {
        stop(sprintf(paste0("the grouping factors %s and %s define the same clusters: use one ",
                            "of them as the grouping factor of all the random-effect terms on ",
                            "these clusters"), labels[a], labels[b]), call. = FALSE)
      }
      if (!a_in_b && !b_in_a) {
        out$label <- c(out$label, sprintf("%s and %s", labels[a], labels[b]))
        out$pair <- c(out$pair, list(c(a, b)))
      }
    }
  }
  out
}

# When the clusters of one factor of a crossed pair would nest in the other
# once its labels are read within each cluster of the other (classes numbered
# 1, 2, 3 in every school, each class with several rows), the formula that
# says so; "" otherwise.
reused_label_hint <- function(crossed, factors, labels) {
  for (pr in crossed$pair) {
    sizes <- vapply(factors[pr], n_clusters, 1L)
    child <- pr[order(sizes)][1]
    parent <- setdiff(pr, child)
    combined <- factors
    combined[[child]] <- interact_factors(factors[[parent]], factors[[child]])
    # Clusters of single rows (each person meets each item once) are no hint.
    if (2 * n_clusters(combined[[child]]) <= length(combined[[child]]) && nests(combined)) {
      return(sprintf(paste0(". If the labels of %s are reused in each %s (different clusters), ",
                            "write the grouping factor as (1 | %s/%s)"),
                     labels[child], labels[parent], labels[parent], labels[child]))
    }
  }
  ""
}

# Laplace's bias for binary responses is largest when each cluster of a
# crossed factor has few observations (Joe 2008): a warning when a crossed
# factor has a median below 5 observations per cluster.
warn_crossed_binary <- function(levels, crossed_levels, resp, family) {
  single_trials <- is.null(resp$trials) || max(resp$trials) <= 1
  if (family$family != "binomial" || !single_trials) return(invisible())
  in_crossed <- seq_along(levels) %in% crossed_levels
  sizes <- vapply(levels, function(l) {
    f <- level_factor(l)
    stats::median(tabulate(f, nlevels(f)))
  }, 1)
  few <- in_crossed & sizes < 5
  if (any(few)) {
    warning(sprintf(paste0("the Laplace approximation may be biased for binary responses with ",
                           "few observations per cluster of a crossed factor (%s: median %s ",
                           "per cluster); adaptive quadrature is available only for nested ",
                           "factors"),
                    paste(level_labels(levels)[few], collapse = ", "),
                    paste(format(sizes[few]), collapse = ", ")), call. = FALSE)
  }
  invisible()
}
