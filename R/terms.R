# Random-effect terms in lme4's formula language: (1 | g), (1 + x | g) with a
# full covariance matrix, (1 + x || g) with independent effects, g1:g2 as one
# grouping factor. Terms on the same grouping factor are combined into one
# block-diagonal covariance.

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

# Parses the bar terms into a description of the random-effect structure.
parse_random <- function(formula) {
  bars <- find_bars(formula[[length(formula)]])
  if (length(bars) == 0) {
    stop("the formula has no random-effect term such as (1 | group); ",
         "for a model without random effects use glm()", call. = FALSE)
  }
  terms <- lapply(bars, function(b) {
    group <- b[[3]]
    if (is.call(group) && identical(group[[1]], as.name("/"))) {
      stop(sprintf("nested grouping (%s) is not supported yet: glamm fits one grouping factor",
                   deparse(group)), call. = FALSE)
    }
    lhs <- stats::as.formula(call("~", b[[2]]))
    list(lhs = lhs, group = group, diagonal = as.character(b[[1]]) == "||")
  })
  groups <- unique(vapply(terms, function(t) deparse(t$group), ""))
  if (length(groups) > 1) {
    stop(sprintf(paste0("random effects on several grouping factors (%s) are not supported ",
                        "yet: glamm fits one grouping factor (crossed and nested levels come ",
                        "in a later release)"), paste(groups, collapse = ", ")), call. = FALSE)
  }
  list(terms = terms, group_name = groups)
}

# Z, its column names, the grouping factor and the covariance pattern.
random_design <- function(random, frame, env, xlev = NULL, contrasts = NULL) {
  mats <- list()
  blocks <- list()
  col <- 0L
  for (k in seq_along(random$terms)) {
    t <- random$terms[[k]]
    tt <- if (is.null(t$terms)) stats::terms(t$lhs) else t$terms
    # The fit's model frame already holds each variable (e.g. scale(x)) as a
    # column; new data are evaluated with the fit's predvars (scale's centre).
    if (is.null(attr(frame, "terms"))) {
      frame_k <- stats::model.frame(tt, frame, xlev = xlev[[k]], na.action = stats::na.pass)
    } else {
      frame_k <- frame
    }
    M <- strip_rownames(stats::model.matrix(tt, frame_k, contrasts.arg = contrasts))
    attr(M, "assign") <- NULL
    attr(M, "contrasts") <- NULL
    mats[[k]] <- M
    blocks[[k]] <- list(columns = col + seq_len(ncol(M)), diagonal = t$diagonal)
    col <- col + ncol(M)
  }
  Z <- do.call(cbind, mats)
  if (anyDuplicated(colnames(Z))) {
    stop("the random-effect terms repeat a column (", colnames(Z)[duplicated(colnames(Z))][1],
         "); write each random effect once", call. = FALSE)
  }
  # A grouping expression such as factor(a) is a column of the model frame.
  group_expr <- random$terms[[1]]$group
  label <- deparse1(group_expr)
  group <- if (label %in% names(frame)) frame[[label]] else eval(group_expr, frame, env)
  list(Z = Z, group = group, pattern = lambda_pattern(blocks, ncol(Z)), blocks = blocks)
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
