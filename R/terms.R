# Random-effect terms in lme4's formula language: (1 | g), (1 + x | g) with a
# full covariance matrix, (1 + x || g) with independent effects, g1:g2 as one
# grouping factor, g1/g2 for g2 nested in g1. Terms on the same grouping
# factor are combined into one level with a block-diagonal covariance; the
# levels of the model are built from the data in structure.R.

# The bar terms of a formula's right-hand side, as a list of calls.
find_bars <- function(expr) {
  if (is.call(expr)) {
    head <- as.character(expr[[1]])
    if (head %in% c("|", "||")) return(list(expr))
    if (head == "(") return(find_bars(expr[[2]]))
    if (head %in% c("+", "-", "*", ":", "/", "^", "~")) {
      return(do.call(c, lapply(as.list(expr)[-1], find_bars)))
    }
  }
  list()
}

# The formula without its bar terms (the fixed part).
drop_bars <- function(formula) {
  strip <- function(expr) {
    if (!is.call(expr)) return(expr)
    head <- as.character(expr[[1]])
    if (head == "(" && is_bar(expr[[2]])) return(NULL)
    if (head %in% c("|", "||")) return(NULL)
    if (head %in% c("+", "-") && length(expr) == 3) {
      left <- strip(expr[[2]])
      right <- strip(expr[[3]])
      if (is.null(left)) return(if (head == "-") call("-", right) else right)
      if (is.null(right)) return(left)
      return(call(head, left, right))
    }
    expr
  }
  rhs <- strip(formula[[length(formula)]])
  if (is.null(rhs)) rhs <- 1
  out <- formula
  out[[length(formula)]] <- rhs
  out
}

is_bar <- function(expr) is.call(expr) && as.character(expr[[1]]) %in% c("|", "||")

# The formula with every bar replaced by +, so that model.frame() collects
# the variables of the random-effect terms and grouping factors too.
sub_bars <- function(expr) {
  if (is.call(expr)) {
    if (is_bar(expr)) expr[[1]] <- as.name("+")
    for (k in seq_along(expr)[-1]) expr[[k]] <- sub_bars(expr[[k]])
  }
  expr
}

#' The random-effect structure of a formula
#'
#' Parses the bar terms. A grouping expression `a/b/c` expands as in lme4
#' (`findbars()`) to the grouping factors `c:(b:a)`, `b:a` and `a`, each with
#' the term's effects. Terms whose grouping expressions are interactions of
#' the same variables (`school:class` and `class:school`) form one level,
#' named by the first of them.
#'
#' @param formula the model formula.
#' @return A list with `terms`, one element per bar term after expansion,
#'   each `list(lhs, group, diagonal, level)`: the effects as a one-sided
#'   formula, the grouping expression (a call or name), `TRUE` for `||`, and
#'   the label of the term's level; and `group_names`, the labels of the
#'   levels in the order of the formula.
#' @noRd
parse_random <- function(formula) {
  bars <- find_bars(formula[[length(formula)]])
  if (length(bars) == 0) {
    stop("the formula has no random-effect term such as (1 | group); ",
         "for a model without random effects use glm()", call. = FALSE)
  }
  terms <- list()
  for (b in bars) {
    lhs <- stats::as.formula(call("~", b[[2]]))
    diagonal <- as.character(b[[1]]) == "||"
    for (group in expand_slash(b[[3]])) {
      terms[[length(terms) + 1L]] <- list(lhs = lhs, group = group, diagonal = diagonal)
    }
  }
  labels <- vapply(terms, function(t) deparse1(t$group), "")
  keys <- vapply(terms, function(t) grouping_key(t$group), "")
  level <- labels[match(keys, keys)]
  for (k in seq_along(terms)) terms[[k]]$level <- level[k]
  list(terms = terms, group_names = unique(level))
}

# lme4's expansion of a/b/c: the grouping factors c:(b:a), b:a and a, the
# innermost first.
expand_slash <- function(expr) {
  parts <- slash_parts(expr)
  if (length(parts) == 1) return(list(expr))
  out <- list(parts[[1]])
  for (k in seq_along(parts)[-1]) out <- c(list(call(":", parts[[k]], out[[1]])), out)
  out
}

slash_parts <- function(expr) {
  if (is.call(expr) && identical(expr[[1]], as.name("/"))) {
    return(c(slash_parts(expr[[2]]), slash_parts(expr[[3]])))
  }
  if (is.call(expr) && identical(expr[[1]], as.name("(")) && is_slash(expr[[2]])) {
    return(slash_parts(expr[[2]]))
  }
  list(expr)
}

is_slash <- function(expr) is.call(expr) && identical(expr[[1]], as.name("/"))

# The variables (or expressions such as factor(a)) of an interaction a:b:c.
interaction_parts <- function(expr) {
  if (is.call(expr) && identical(expr[[1]], as.name(":"))) {
    return(c(interaction_parts(expr[[2]]), interaction_parts(expr[[3]])))
  }
  if (is.call(expr) && identical(expr[[1]], as.name("("))) return(interaction_parts(expr[[2]]))
  list(expr)
}

# Grouping expressions with the same key define the same clusters whatever
# the order of the interaction (school:class, class:school).
grouping_key <- function(expr) {
  parts <- vapply(interaction_parts(expr), deparse1, "")
  paste(sort(unique(parts)), collapse = ":")
}

# Z, its column names and the covariance pattern of a set of bar terms (the
# terms of one level); xlev holds the factor levels of each term for new data.
bar_design <- function(terms, frame, xlev = NULL, contrasts = NULL, what = "random-effect terms") {
  mats <- list()
  blocks <- list()
  col <- 0L
  for (k in seq_along(terms)) {
    t <- terms[[k]]
    tt <- if (is.null(t$terms)) stats::terms(t$lhs) else t$terms
    # The fit's model frame already holds each variable (e.g. scale(x)) as a
    # column; new data are evaluated with the fit's predvars (scale's centre).
    if (is.null(attr(frame, "terms"))) {
      frame_k <- stats::model.frame(tt, frame, xlev = xlev[[k]], na.action = stats::na.pass)
    } else {
      frame_k <- frame
    }
    # (only the contrasts of the term's own variables: model.matrix warns of others)
    own <- contrasts[intersect(names(contrasts), all.vars(tt))]
    M <- strip_rownames(stats::model.matrix(tt, frame_k, contrasts.arg = if (length(own)) own))
    attr(M, "assign") <- NULL
    attr(M, "contrasts") <- NULL
    mats[[k]] <- M
    blocks[[k]] <- list(columns = col + seq_len(ncol(M)), diagonal = t$diagonal)
    col <- col + ncol(M)
  }
  Z <- do.call(cbind, mats)
  if (anyDuplicated(colnames(Z))) {
    stop("the ", what, " repeat a column (", colnames(Z)[duplicated(colnames(Z))][1],
         "); write each random effect once", call. = FALSE)
  }
  list(Z = Z, pattern = lambda_pattern(blocks, ncol(Z)), blocks = blocks)
}

# Z, its column names, the grouping factor and the covariance pattern of all
# terms together (one level). A term whose group is NULL needs no grouping
# factor (predictions without random effects).
random_design <- function(random, frame, env, xlev = NULL, contrasts = NULL) {
  design <- bar_design(random$terms, frame, xlev, contrasts)
  group_expr <- random$terms[[1]]$group
  group <- if (!is.null(group_expr)) grouping_factor(group_expr, frame, env)
  list(Z = design$Z, group = group, pattern = design$pattern, blocks = design$blocks)
}

random_xlevels <- function(random, frame) {
  lapply(random$terms, function(t) stats::.getXlevels(t$terms, frame))
}

# Terms of a part of the model with the predvars of the full model frame, so
# that data-dependent terms (scale(), poly(), ns()) are evaluated on new data
# as they were on the data of the fit.
with_predvars <- function(tt, frame_terms) {
  pv <- attr(frame_terms, "predvars")
  if (is.null(pv)) return(tt)
  all_vars <- vapply(as.list(attr(frame_terms, "variables"))[-1], deparse1, "")
  pv <- stats::setNames(as.list(pv)[-1], all_vars)
  own <- as.list(attr(tt, "variables"))[-1]
  own_pv <- lapply(own, function(v) pv[[deparse1(v)]] %||% v)
  attr(tt, "predvars") <- as.call(c(quote(list), own_pv))
  tt
}
