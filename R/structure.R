# The levels of a nested random-effect structure, built from the data: one
# grouping factor per level with its design and covariance pattern, the test
# that the levels nest, the row order that makes every cluster contiguous,
# and the quadrature points per level with a guard on the grid's size.

#' The levels of the random-effect structure
#'
#' @param random the structure from `parse_random()` (with `$terms` holding
#'   each term's `terms` object when `frame` is the fit's model frame).
#' @param frame the model frame (or new data).
#' @param env the environment in which grouping expressions that are not
#'   columns of `frame` are evaluated.
#' @param xlev,contrasts factor levels of each term (for new data) and
#'   contrasts, as for `bar_design()`.
#' @return A list of levels named by their labels, innermost first (most
#'   clusters first; ties keep the order of the formula). Each level is
#'   `list(name, factor, Z, pattern, blocks, terms)`: the label (lme4's, e.g.
#'   `"class:school"`), a factor of length `nrow(frame)` without unused levels
#'   whose levels are the clusters (labels unique across the data: an
#'   interaction's clusters are labelled `"3:12"` for class 3 of school 12),
#'   the n x q_l design with column names, the q_l x q_l logical pattern of
#'   the free entries of Lambda_l, the terms' column blocks and the level's
#'   bar terms.
#' @noRd
random_levels <- function(random, frame, env, xlev = NULL, contrasts = NULL) {
  level_of <- vapply(random$terms, function(t) t$level, "")
  out <- lapply(random$group_names, function(name) {
    idx <- which(level_of == name)
    terms <- random$terms[idx]
    what <- if (length(random$group_names) > 1) sprintf("random-effect terms on %s", name) else
      "random-effect terms"
    design <- bar_design(terms, frame, xlev[idx], contrasts, what)
    group <- grouping_factor(terms[[1]]$group, frame, env)
    if (anyNA(group)) {
      stop(sprintf("the grouping factor %s has missing values", name), call. = FALSE)
    }
    list(name = name, factor = group, Z = design$Z, pattern = design$pattern,
         blocks = design$blocks, terms = terms)
  })
  names(out) <- random$group_names
  out[order(-vapply(out, function(l) nlevels(l$factor), 1L))]
}

# The clusters of a grouping expression as a factor without unused levels.
# An interaction a:b is built from its parts, each made a factor first (as
# lme4 does), so that numeric codes give the clusters and not a sequence.
grouping_factor <- function(expr, frame, env) {
  parts <- lapply(interaction_parts(expr), function(e) {
    label <- deparse1(e)
    f <- as.factor(if (label %in% names(frame)) frame[[label]] else eval(e, frame, env))
    if (any(tabulate(f, nlevels(f)) == 0)) f <- droplevels(f)
    f
  })
  Reduce(interact_factors, parts)
}

# The interaction of two factors: levels "a:b" in the order of a, then b,
# only those that occur; missing where either is missing.
interact_factors <- function(a, b) {
  nb <- nlevels(b)
  size <- as.numeric(nlevels(a)) * nb
  key <- (as.numeric(a) - 1) * nb + as.numeric(b)
  if (size <= max(1e7, 4 * length(key))) {
    key <- as.integer(key)
    used <- which(tabulate(key, size) > 0)
    code <- integer(size)
    code[used] <- seq_along(used)
    code <- code[key]
  } else {
    used <- sort(unique(key[!is.na(key)]))
    code <- match(key, used)
  }
  labels <- paste(levels(a)[(used - 1) %/% nb + 1], levels(b)[(used - 1) %% nb + 1], sep = ":")
  if (anyDuplicated(labels)) labels <- make.unique(labels)
  structure(code, levels = labels, class = "factor")
}

# The grouping factor of a level: `factor` from random_levels(), `group` in
# glamm.fit()'s `re`.
level_factor <- function(level) level$factor %||% level$group

#' Check that the levels nest
#'
#' Every cluster of level l must lie in exactly one cluster of level l + 1,
#' and no two levels may define the same clusters.
#'
#' @param levels levels innermost first, each with its grouping factor in
#'   `$factor` (or `$group`) and its label in `$name`.
#' @return A list named by the levels' labels: for each level but the top an
#'   integer vector with, for each cluster (in the order of the factor's
#'   levels), the index of its parent among the levels of the next factor;
#'   `NULL` at the top. Errors name the two factors.
#' @noRd
check_nesting <- function(levels) {
  factors <- lapply(levels, level_factor)
  labels <- level_labels(levels)
  for (l in seq_along(factors)[vapply(factors, anyNA, NA)]) {
    stop(sprintf("the grouping factor %s has missing values", labels[l]), call. = FALSE)
  }
  parents <- vector("list", length(levels))
  names(parents) <- labels
  for (l in seq_len(length(levels) - 1L)) {
    parent <- nested_parent(factors[[l]], factors[[l + 1L]])
    if (is.null(parent)) stop(not_nested_message(factors, labels, l), call. = FALSE)
    if (n_clusters(factors[[l]]) == n_clusters(factors[[l + 1L]])) {
      stop(sprintf(paste0("the grouping factors %s and %s define the same clusters: use one ",
                          "of them as the grouping factor of all the random-effect terms on ",
                          "these clusters"), labels[l], labels[l + 1L]), call. = FALSE)
    }
    parents[l] <- list(parent)
  }
  parents
}

level_labels <- function(levels) {
  labels <- vapply(levels, function(l) as.character(l$name %||% NA_character_), "")
  ifelse(is.na(labels), paste0("level", seq_along(levels)), labels)
}

n_clusters <- function(f) sum(tabulate(f, nlevels(f)) > 0)

# For each cluster of `inner`, its cluster in `outer`; NULL when a cluster
# of `inner` meets several clusters of `outer`. Unused levels get NA.
nested_parent <- function(inner, outer) {
  cpp_nested_parent(inner, outer, nlevels(inner))
}

# Why level l is not nested in level l + 1, with one cluster as an example,
# and the formula that would nest them when the labels of one factor are
# reused within the clusters of the other (classes numbered 1, 2, 3 in every
# school).
not_nested_message <- function(factors, labels, l) {
  if (!is.null(nested_parent(factors[[l + 1L]], factors[[l]]))) {
    return(sprintf(paste0("the levels are out of order: %s is nested in %s, so %s must come ",
                          "first (the levels are listed innermost first)"),
                   labels[l + 1L], labels[l], labels[l + 1L]))
  }
  crossed <- sprintf("%s and %s are crossed, not nested", labels[l], labels[l + 1L])
  # check_nesting() serves the nested integrator; glamm() sends factors that
  # do not nest to the sparse Laplace before it (random_structure()).
  unsupported <- paste0("the nested integrator needs nested factors (glamm() fits crossed ",
                        "factors by the Laplace approximation over all random effects)")
  # The factor with fewer clusters is the likelier to reuse its labels, and
  # the other factor of the pair the likelier to be its parent.
  sizes <- c(n_clusters(factors[[l]]), n_clusters(factors[[l + 1L]]))
  for (child in c(l, l + 1L)[order(sizes)]) {
    partner <- if (child == l) l + 1L else l
    for (parent in c(partner, setdiff(seq_along(factors), c(child, partner)))) {
      combined <- factors
      combined[[child]] <- interact_factors(factors[[parent]], factors[[child]])
      if (!nests(combined)) next
      ex <- shared_cluster(factors[[child]], factors[[partner]])
      return(sprintf(paste0("%s: %s %s occurs in %s %s and in %s %s. If these are different ",
                            "clusters (labels of %s reused in each %s), write the grouping ",
                            "factor as (1 | %s/%s) or (1 | %s:%s); %s"),
                     crossed, labels[child], ex[1], labels[partner], ex[2], labels[partner],
                     ex[3], labels[child], labels[parent], labels[parent], labels[child],
                     labels[parent], labels[child], unsupported))
    }
  }
  child <- c(l, l + 1L)[order(sizes)][1]
  partner <- if (child == l) l + 1L else l
  ex <- shared_cluster(factors[[child]], factors[[partner]])
  sprintf("%s: %s %s occurs in %s %s and in %s %s; %s", crossed, labels[child], ex[1],
          labels[partner], ex[2], labels[partner], ex[3], unsupported)
}

# A cluster of `inner` that meets two clusters of `outer`: its label and theirs.
shared_cluster <- function(inner, outer) {
  ci <- as.integer(inner)
  co <- as.integer(outer)
  first <- match(seq_len(nlevels(inner)), ci)
  row <- which(co != co[first[ci]])[1]
  c(levels(inner)[ci[row]], levels(outer)[co[first[ci[row]]]], levels(outer)[co[row]])
}

# Whether factors (in any order) form a chain of nested partitions.
nests <- function(factors) {
  sizes <- vapply(factors, n_clusters, 1L)
  factors <- factors[order(-sizes)]
  sizes <- sort(sizes, decreasing = TRUE)
  for (l in seq_len(length(factors) - 1L)) {
    if (sizes[l] == sizes[l + 1L] || is.null(nested_parent(factors[[l]], factors[[l + 1L]]))) {
      return(FALSE)
    }
  }
  TRUE
}

#' The row order of the tree
#'
#' @param levels nested levels innermost first, each with its grouping
#'   factor in `$factor` (or `$group`).
#' @return `list(order, cluster, max_rows_top)`: `order` the row order that
#'   makes every cluster of every level a contiguous block (by top cluster,
#'   then the next level, ..., the innermost; rows keep their order within the
#'   innermost clusters), or `NULL` when the rows already have every cluster
#'   contiguous (the data need no copy); `cluster` for each level the index
#'   among the factor's levels of the engine's nodes 0, 1, ... (its clusters
#'   in the order in which they come); `max_rows_top` the number of rows of
#'   the largest top-level cluster.
#' @noRd
tree_order <- function(levels) {
  factors <- lapply(levels, level_factor)
  cluster <- lapply(factors, cpp_run_codes, ord = integer(0))
  sorted <- all(vapply(seq_along(factors), function(l) {
    length(cluster[[l]]) == n_clusters(factors[[l]])
  }, NA))
  ord <- NULL
  if (!sorted) {
    ord <- do.call(order, c(rev(factors), list(method = "radix")))
    cluster <- lapply(factors, cpp_run_codes, ord = ord)
  }
  names(cluster) <- names(levels)
  top <- factors[[length(factors)]]
  list(order = ord, cluster = cluster, max_rows_top = max(0L, tabulate(top, nlevels(top))))
}

#' Quadrature points per level
#'
#' @param nAGQ `NULL` (the default rule), one whole number for every level,
#'   or a vector named by grouping factor; a name is the level's label
#'   (`"class:school"`) or the variable that is its own, not in the levels
#'   above (`class`). Levels not named get the default.
#' @param levels the levels, innermost first (only `$name` is used).
#' @param family the family object.
#' @param q the number of random effects of each level.
#' @return An integer vector, one element per level innermost first, named by
#'   the levels' labels (so that the result passes through again unchanged).
#' @noRd
resolve_nagq <- function(nAGQ, levels, family, q = vapply(levels, function(l) ncol(l$Z), 1L)) {
  labels <- level_labels(levels)
  out <- stats::setNames(default_level_nagq(family, q), labels)
  if (is.null(nAGQ)) return(out)
  msg <- "'nAGQ' must be a whole number >= 1 (1 is the Laplace approximation)"
  if (!is.numeric(nAGQ) || length(nAGQ) == 0 || any(!is.finite(nAGQ)) || any(nAGQ < 1) ||
      any(nAGQ != round(nAGQ))) {
    stop(msg, call. = FALSE)
  }
  if (any(nAGQ > 1000)) {
    stop(sprintf(paste0("nAGQ = %.3g: at most 1000 quadrature points per random effect are ",
                        "supported (a rule of K points costs K^3 to compute; 15 to 50 ",
                        "points are accurate for almost any model)"), max(nAGQ)),
         call. = FALSE)
  }
  aliases <- level_aliases(labels)
  valid <- paste(ifelse(is.na(aliases), labels, sprintf("%s (or %s)", labels, aliases)),
                 collapse = ", ")
  given <- names(nAGQ)
  if (is.null(given)) {
    if (length(nAGQ) != 1) {
      stop(msg, ", or a vector of such numbers named by grouping factor (", valid, ")",
           call. = FALSE)
    }
    out[] <- as.integer(nAGQ)
    return(out)
  }
  if (any(given == "")) {
    stop("every element of 'nAGQ' needs the name of a grouping factor: ", valid, call. = FALSE)
  }
  idx <- match(given, labels)
  idx[is.na(idx)] <- match(given[is.na(idx)], aliases)
  if (anyNA(idx)) {
    stop(sprintf("'nAGQ' names %s, which %s not a grouping factor of the model; valid names: %s",
                 paste(given[is.na(idx)], collapse = ", "),
                 if (sum(is.na(idx)) > 1) "are" else "is", valid), call. = FALSE)
  }
  if (anyDuplicated(idx)) {
    stop(sprintf("'nAGQ' gives the points of %s twice", labels[idx[duplicated(idx)][1]]),
         call. = FALSE)
  }
  out[idx] <- as.integer(nAGQ)
  out
}

# The points of each level when the user does not choose: the innermost level
# (levels[1]) as a single grouping factor (15, 11, 7, 5 for 1, 2, 3, 4+
# effects), every level above it 7, 5, 3, 3. Measured by bench/nested-nagq.R
# (bench/results-nested-nagq.md) on three-level data at the true parameters,
# log-likelihood error against 31 x 31 points: binary 200 x 5 x 8 (SDs 1, 1)
# 4.1e-5; Poisson, the same design, 1.3e-5; binary with 1 to 3 rows per inner
# cluster, inner SD 2, top SD 1: 1.6e-4. The inner level needs the points:
# 11 inner points gave 1.4e-3 and 2.7e-3 on the last two, while more than 7
# outer points changed nothing.
default_level_nagq <- function(family, q) {
  if (family$family == "gaussian") return(rep(1L, length(q)))
  outer <- c(7L, 5L, 3L, 3L)[pmin(q, 4L)]
  c(default_nagq(family, q[1]), outer[-1])
}

# The other name of each level in nAGQ: the one variable of its label that
# is not in the labels of the levels above it (class for class:school), or
# NA when there is none, it is the label itself, or it names two levels.
level_aliases <- function(labels) {
  vars <- lapply(labels, function(label) {
    expr <- tryCatch(str2lang(label), error = function(e) NULL)
    if (is.null(expr)) character(0) else all.vars(expr)
  })
  L <- length(labels)
  aliases <- vapply(seq_len(L), function(l) {
    above <- unlist(vars[seq_len(L) > l])
    own <- setdiff(vars[[l]], above)
    if (length(own) == 1 && own != labels[l]) own else NA_character_
  }, "")
  aliases[aliases %in% labels | duplicated(aliases) | duplicated(aliases, fromLast = TRUE)] <-
    NA_character_
  aliases
}

#' Guard on the size of the quadrature grid
#'
#' Stops, before any allocation, when the nodes per row (the product of the
#' grids along a row's path, `prod(nAGQ^q)`) exceed `nodes_max`, or the
#' workspace of the largest top-level cluster (its rows x nodes x 8 bytes)
#' exceeds `bytes_max` (both from [glamm_control()]: `nodes.max`,
#' `workspace.max`). The error suggests points that fit.
#'
#' @param nAGQ integer points per level, innermost first (named by level).
#' @param q random effects per level.
#' @param max_rows_top rows of the largest top-level cluster.
#' @param nodes_max,bytes_max the limits.
#' @return The nodes per row, invisibly.
#' @noRd
check_grid_size <- function(nAGQ, q, max_rows_top, nodes_max = 1e6, bytes_max = 2e9) {
  nodes_of <- function(K) prod(as.numeric(K)^q)
  nodes <- nodes_of(nAGQ)
  fits <- function(K) nodes_of(K) <= nodes_max && max_rows_top * nodes_of(K) * 8 <= bytes_max
  if (fits(nAGQ)) return(invisible(nodes))
  L <- length(nAGQ)
  if (L == 1) {
    given <- sprintf("nAGQ = %d with %d random effects", nAGQ, q)
    advice <- "use fewer points (nAGQ = 1 is the Laplace approximation)"
  } else {
    fewer <- nAGQ
    for (l in seq_len(L)) if (!fits(fewer)) fewer[l] <- 1L
    given <- sprintf("nAGQ = %s with %s random effects", format_nagq(nAGQ),
                     paste(q, collapse = ", "))
    advice <- sprintf("use fewer points, e.g. nAGQ = %s (1 is the Laplace approximation)",
                      format_nagq(fewer))
  }
  per <- if (L == 1) "cluster" else "innermost cluster"
  raise <- "or raise glamm_control(nodes.max =, workspace.max =)"
  if (nodes > nodes_max) {
    stop(sprintf("%s needs %.3g quadrature points per %s; %s, %s", given, nodes, per, advice,
                 raise), call. = FALSE)
  }
  stop(sprintf(paste0("%s needs %.3g quadrature points for each of the %d rows of the ",
                      "largest top-level cluster, %.3g GB of workspace; %s, %s"),
               given, nodes, max_rows_top, max_rows_top * nodes * 8 / 1e9, advice, raise),
       call. = FALSE)
}

# nAGQ as R code: c(`class:school` = 7, school = 11).
format_nagq <- function(K) {
  nm <- names(K)
  if (is.null(nm)) return(sprintf("c(%s)", paste(K, collapse = ", ")))
  syntactic <- make.names(nm) == nm
  nm <- ifelse(syntactic, nm, sprintf("`%s`", nm))
  sprintf("c(%s)", paste(sprintf("%s = %d", nm, K), collapse = ", "))
}
