# Predictions: conditional on the empirical Bayes random effects, with the
# random effects at zero, or marginal (population-averaged) over the
# random-effect distribution, on the link or the response scale.

#' Predictions from a glamm fit
#'
#' Three kinds of prediction:
#' * `re.form = NULL` (default): conditional on the empirical Bayes
#'   predictions (posterior means) of the random effects of each cluster, at
#'   every level; clusters not in the fit get random effects 0 when
#'   `allow.new.levels = TRUE` and an error otherwise.
#' * `re.form = NA` (or `~0`): random effects set to 0. For a random
#'   intercept on the response scale this is the median curve,
#'   the prediction for a typical cluster.
#' * `re.form = ~ (1 | school)`, as in lme4: conditional on the empirical
#'   Bayes effects of the grouping factors named (and of the effects named:
#'   `~ (1 | school)` uses only the intercept of a model with
#'   `(1 + x | school)`), with the other levels' effects at 0. The factors are
#'   matched whatever the order of an interaction (`~ (1 | school:class)`
#'   names the level `class:school`); `~ (1 | school/class)` names both.
#' * `marginal = TRUE`: population-averaged, `E[h(x'beta + z'b)]` over the
#'   random effects of every level, independent `b_l ~ N(0, Sigma_l)`. The
#'   linear predictor's random part has variance `v = sum_l z_l' Sigma_l z_l`,
#'   so the expectation is a one-dimensional integral over `N(0, v)` whatever
#'   the number of random effects and levels; it is computed by
#'   Gauss-Hermite quadrature with `nquad` points. Only for
#'   `type = "response"`; `re.form` must then be `NULL` or `NA`.
#'
#' With nested levels, a cluster is new when its label is not in the fit at
#' its own level (a new class of a known school): its effect is 0 and the
#' effects of the levels above are used. `newdata` needs the grouping
#' variables of the levels that `re.form` uses only.
#'
#' Standard errors (`se.fit = TRUE`) are by the delta method from the
#' inverse observed information: for `re.form = NA` from the fixed effects;
#' for marginal predictions from the fixed effects and the covariance
#' parameters of every level; for conditional predictions the fixed-effect
#' part plus the posterior variance of the random part, `sum_l z_l' C_l z_l`
#' with `C_l` the posterior covariance of the row's cluster at level `l`
#' (`Sigma_l` for a new cluster). The covariance between the fixed-effect
#' estimates and the predicted effects is neglected (as in gllamm), and so
#' is the posterior covariance between the effects of different levels
#' (a class's and its school's), which is usually negative, so that these
#' SEs tend to be somewhat too large for nested levels (and for crossed
#' factors, a person's and an item's).
#'
#' The cost is linear in the number of rows, whatever the number of
#' clusters.
#'
#' @param object a `glamm` fit.
#' @param newdata optional data frame; default the data of the fit. Factor
#'   levels not seen in the fit give an error, as in [stats::predict.lm()].
#' @param type `"link"` or `"response"` (probabilities for the binomial; for
#'   the [ordinal()] family a matrix of category probabilities, one column per
#'   category).
#' @param re.form `NULL` to include the random effects of every level, `NA`
#'   or `~0` to set them to zero, or a formula of random-effect terms of the
#'   model, such as `~ (1 | school)`, to include those only.
#' @param marginal integrate over the random effects (population-averaged).
#' @param se.fit return standard errors as well.
#' @param allow.new.levels allow clusters not in the fit (random effects 0).
#' @param nquad Gauss-Hermite points for marginal predictions (1 to 1000).
#' @param na.action what to do with rows of `newdata` that have a missing
#'   value in a variable the predictions need (a covariate, the offset, or
#'   the grouping variable of a level whose effects are used): [na.pass()]
#'   (default) and [na.exclude()] predict `NA` for them, [na.omit()] drops
#'   them, [na.fail()] stops. A missing cluster label is not a new cluster:
#'   its prediction is `NA`, not the one with random effects 0.
#' @param ... not used.
#' @return A numeric vector of predictions or, with `se.fit = TRUE`, a list
#'   with `fit` and `se.fit`.
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' fit <- glamm(pass_read ~ female + SES + (1 | id_school), data = d,
#'              family = binomial, nAGQ = 7)
#' nd <- data.frame(female = 0:1, SES = 0, id_school = d$id_school[1])
#' predict(fit, nd, type = "response")                 # this school
#' predict(fit, nd, type = "response", re.form = NA)   # typical school
#' predict(fit, nd, type = "response", marginal = TRUE, se.fit = TRUE)
#'
#' # three levels: students in classes in schools
#' set.seed(1)
#' s <- data.frame(school = rep(1:30, each = 20), class = rep(1:4, each = 5, times = 30),
#'                 x = rnorm(600))
#' s$y <- rbinom(600, 1, plogis(0.3 * s$x + rnorm(30)[s$school] +
#'                                rnorm(120, 0, 0.7)[(s$school - 1) * 4 + s$class]))
#' f3 <- glamm(y ~ x + (1 | school/class), data = s, family = binomial, nAGQ = 5)
#' nd3 <- data.frame(x = 0, school = 1, class = c(1, 9))   # class 9 is new
#' predict(f3, nd3, allow.new.levels = TRUE)  # class 1: school + class; new class 9: school
#' predict(f3, nd3, re.form = ~ (1 | school))       # school 1's effect only
#' predict(f3, nd3, type = "response", marginal = TRUE)
#' @export
predict.glamm <- function(object, newdata = NULL, type = c("link", "response"),
                          re.form = NULL, marginal = FALSE, se.fit = FALSE,
                          allow.new.levels = FALSE, nquad = 101, na.action = stats::na.pass,
                          ...) {
  type <- match.arg(type)
  if (marginal && (!is.numeric(nquad) || length(nquad) != 1 || !is.finite(nquad) ||
                   nquad < 1 || nquad > 1000 || nquad != round(nquad))) {
    stop("'nquad' must be a whole number from 1 to 1000", call. = FALSE)
  }
  groups <- re_groups(object)
  cond <- re_form_levels(object, re.form, groups)
  if (marginal && type != "response") {
    stop("marginal predictions are population averages on the response scale: ",
         "use type = \"response\"", call. = FALSE)
  }
  if (marginal) stop_if_mixed(object, "a marginal prediction")
  if (marginal && object$family$link == "inverse") {
    stop("the marginal mean of an inverse-link model does not exist (1/eta over a normal ",
         "eta has no mean): use marginal = FALSE", call. = FALSE)
  }
  if (marginal) {
    if (inherits(re.form, "formula") && any(lengths(cond) > 0)) {
      stop("marginal predictions integrate over the random effects of every level: ",
           "'re.form' must be NULL or NA", call. = FALSE)
    }
    cond <- vector("list", length(groups))
  }
  used <- lengths(cond) > 0
  d <- prediction_design(object, newdata, need_group = used,
                         allow.new.levels = allow.new.levels, groups = groups,
                         need_z = used | marginal)
  if (is.null(newdata)) {
    d$family_index <- object$family$mapping  # (NULL unless a family per observation)
    out <- predict_rows(object, d, groups, cond, type, marginal, se.fit, nquad)
    if (is.list(out)) return(lapply(out, function(v) stats::napredict(object$na.action, v)))
    return(stats::napredict(object$na.action, out))
  }
  keep <- newdata_rows(d$missing, na.action)
  if (!any(d$missing)) return(predict_rows(object, d, groups, cond, type, marginal, se.fit, nquad))
  out <- predict_rows(object, design_rows(d, !d$missing), groups, cond, type, marginal, se.fit,
                      nquad)
  expand_predictions(out, d$missing, keep, rownames(d$X))
}

# The predictions (a vector, a matrix of ordinal category probabilities, or
# with se.fit a list of fit and se.fit) for the rows of the design d.
predict_rows <- function(object, d, groups, cond, type, marginal, se.fit, nquad) {
  used <- lengths(cond) > 0
  beta <- object$coefficients
  eta_fixed <- drop(d$X %*% beta) + d$offset
  V <- object$vcov_beta
  se_fixed <- sqrt(pmax(rowSums((d$X %*% V) * d$X), 0))
  h <- if (!is_mixed(object$family)) link_derivatives(object$family$link)
       else if (type == "response") mixed_link_derivatives(object$family, d$family_index)
  if (object$family$family == "ordinal" && type == "response") {
    if (se.fit) {
      stop("standard errors of ordinal category probabilities are not available; ",
           "use type = \"link\"", call. = FALSE)
    }
    if (any(used)) eta_fixed <- eta_fixed + random_part(groups, d, cond, se = FALSE)$eta
    s <- if (marginal) random_sd(groups, d) else rep(0, length(eta_fixed))
    P <- ordinal_probabilities(object, eta_fixed, s, h$h, nquad)
    return(P)
  }
  if (marginal) {
    out <- marginal_mean(object, groups, d, eta_fixed, h, nquad, se.fit)
  } else {
    eta <- eta_fixed
    se <- se_fixed
    if (any(used)) {
      r <- random_part(groups, d, cond, se = se.fit)
      eta <- eta + r$eta
      if (se.fit) se <- sqrt(se^2 + r$var)
    }
    if (type == "response") {
      out <- list(fit = h$h(eta), se.fit = abs(h$d1(eta)) * se)
    } else {
      out <- list(fit = eta, se.fit = se)
    }
  }
  if (se.fit) out else out$fit
}

#' Which levels (and which of their effects) `re.form` conditions on
#'
#' @param object a `glamm` fit.
#' @param re.form `NULL` (every level), `NA` or `~0` (none), or a formula of
#'   bar terms such as `~ (1 | school)` or `~ (1 | school/class)`.
#' @param groups `re_groups(object)`.
#' @return A list with one element per level (innermost first): the indices
#'   of the columns of the level's `Z` whose effects are used, or
#'   `integer(0)` for a level not used.
#' @noRd
re_form_levels <- function(object, re.form, groups = re_groups(object)) {
  all_cols <- lapply(groups, function(gr) seq_len(ncol(gr$Sigma)))
  none <- lapply(groups, function(gr) integer(0))
  if (is.null(re.form)) return(all_cols)
  msg <- paste0("'re.form' must be NULL (with the random effects), NA or ~0 (without), or a ",
                "formula of random-effect terms of the model such as ~ (1 | ",
                names(groups)[length(groups)], ")")
  if (!is.language(re.form) && length(re.form) == 1 && is.na(re.form)) return(none)
  if (!inherits(re.form, "formula")) stop(msg, call. = FALSE)
  rhs <- re.form[[length(re.form)]]
  if (identical(rhs, 0) || identical(rhs, 0L)) return(none)
  bars <- find_bars(rhs)
  if (length(bars) == 0 || !identical(drop_bars(re.form)[[length(re.form)]], 1)) {
    stop(msg, call. = FALSE)
  }
  keys <- level_keys(object, groups)
  out <- none
  for (b in bars) {
    lhs <- stats::as.formula(call("~", b[[2]]))
    for (g in expand_slash(b[[3]])) {
      l <- match(grouping_key(g), keys)
      if (is.na(l)) {
        stop(sprintf("'re.form' names the grouping factor %s, which is not one of the model's (%s)",
                     deparse1(g), paste(names(groups), collapse = ", ")), call. = FALSE)
      }
      cn <- re_form_columns(object, lhs)
      if (is.null(cn)) {
        out[[l]] <- all_cols[[l]]
        next
      }
      k <- match(cn, colnames(groups[[l]]$Sigma))
      if (anyNA(k)) {
        stop(sprintf("'re.form': %s is not a random effect of %s in the model (its effects: %s)",
                     cn[is.na(k)][1], names(groups)[l],
                     paste(colnames(groups[[l]]$Sigma), collapse = ", ")), call. = FALSE)
      }
      out[[l]] <- sort(unique(c(out[[l]], k)))
    }
  }
  out
}

# The key (sorted variables of the interaction) of each level's grouping
# factor, from the model's bar terms (or, for a fit from glamm.fit(), from the
# level's name).
level_keys <- function(object, groups) {
  vapply(seq_along(groups), function(l) {
    t <- Filter(function(t) identical(t$level, names(groups)[l]), object$random$terms)
    if (length(t)) return(grouping_key(t[[1]]$group))
    expr <- tryCatch(str2lang(names(groups)[l]), error = function(e) NULL)
    if (is.null(expr)) names(groups)[l] else grouping_key(expr)
  }, "")
}

# The names of the columns of Z that the left side of an re.form term makes,
# from two rows of the fit's model frame; NULL (all of the level's effects)
# for a fit without a model frame.
re_form_columns <- function(object, lhs) {
  fr <- object$frame
  if (is.null(fr)) return(NULL)
  head <- fr[seq_len(min(2L, nrow(fr))), , drop = FALSE]
  attr(head, "terms") <- attr(fr, "terms")
  tt <- with_predvars(stats::terms(lhs), attr(fr, "terms"))
  M <- tryCatch(stats::model.matrix(tt, head, contrasts.arg = object$contrasts),
                error = function(e) {
                  stop("'re.form': cannot evaluate ", deparse1(lhs), ": ", conditionMessage(e),
                       call. = FALSE)
                })
  colnames(M)
}

# X, offset and, for each level, Z and the index of each row's cluster among
# the fit's clusters of that level (NA for a new cluster or a missing label;
# NULL where need_group is FALSE), for the fit's data or new data.
prediction_design <- function(object, newdata, need_group, allow.new.levels,
                              groups = re_groups(object), need_z = need_group) {
  need_group <- rep_len(need_group, length(groups))
  need_z <- rep_len(need_z, length(groups))
  if (is.null(newdata)) {
    dd <- fit_data(object)
    groups <- fit_level_designs(object, groups)
    levels <- lapply(groups, function(gr) list(Z = gr$Z, group = as.integer(gr$factor)))
    return(list(X = dd$X, offset = dd$offset, levels = levels))
  }
  if (!is.data.frame(newdata)) stop("'newdata' must be a data frame", call. = FALSE)
  if (is.null(object$terms)) {
    stop("predictions for new data need a fit from glamm() (with a formula)", call. = FALSE)
  }
  env <- environment(object$formula)
  latent_rows <- latent_new_rows(object, newdata)  # factor loadings (R/latent-methods.R)
  if (!is.null(latent_rows)) newdata <- add_factor_columns(newdata, object$latent)
  tt <- stats::delete.response(object$terms)
  mf <- stats::model.frame(tt, newdata, xlev = object$xlevels, na.action = stats::na.pass)
  if (!is.null(object$data_classes)) stats::.checkMFClasses(object$data_classes, mf)
  X <- stats::model.matrix(tt, mf, contrasts.arg = object$contrasts)
  X <- X[, names(object$coefficients), drop = FALSE]
  if (!is.null(latent_rows)) X <- load_columns(X, object$latent$x_factor, object$latent$lambda, latent_rows)
  offset <- stats::model.offset(mf)
  if (is.null(offset)) offset <- rep(0, nrow(X))
  if (!is.null(object$call$offset)) offset <- offset + eval(object$call$offset, newdata, env)
  incomplete <- rowSums(is.na(X)) > 0 | is.na(offset)
  random <- object$random
  level_of <- vapply(random$terms, function(t) t$level, "")
  levels <- lapply(seq_along(groups), function(l) {
    gr <- groups[[l]]
    k <- which(level_of == names(groups)[l])
    design <- bar_design(random$terms[k], newdata, object$random_xlevels[k], object$contrasts)
    Z <- design$Z[, colnames(gr$Sigma), drop = FALSE]
    if (!is.null(latent_rows)) {
      Z <- load_columns(Z, object$latent$z_factor[[names(groups)[l]]], object$latent$lambda,
                        latent_rows)
    }
    if (need_z[l]) incomplete <<- incomplete | rowSums(is.na(Z)) > 0
    group <- NULL
    if (need_group[l]) {
      expr <- random$terms[[k[1]]]$group
      vars <- all.vars(expr)
      # A variable is absent unless it is in newdata or, not as a function
      # (class, t), in the formula's environment.
      absent <- vars[!vars %in% names(newdata) & vapply(vars, function(v) {
        val <- get0(v, envir = env %||% globalenv())
        is.null(val) || is.function(val)
      }, NA)]
      if (length(absent)) {
        stop(sprintf(paste0("newdata needs the grouping variable%s %s of %s (for predictions ",
                            "with its random effects; see 're.form')"),
                     if (length(absent) > 1) "s" else "", paste(absent, collapse = ", "),
                     names(groups)[l]), call. = FALSE)
      }
      g <- as.character(grouping_factor(expr, newdata, env))
      group <- match(g, levels(gr$factor))
      incomplete <<- incomplete | is.na(g)
      new <- is.na(group) & !is.na(g)
      if (any(new) && !allow.new.levels) {
        stop(sprintf(paste0("newdata has clusters not in the fit (e.g. %s = %s); use ",
                            "allow.new.levels = TRUE to predict them with random effects 0, ",
                            "or re.form = NA"), names(groups)[l], g[new][1]), call. = FALSE)
      }
    }
    list(Z = Z, group = group)
  })
  names(levels) <- names(groups)
  list(X = X, offset = offset, levels = levels, missing = unname(incomplete))
}

# The rows of new data to predict, by na.action applied to the rows with a
# missing value in a variable the predictions need (covariates, offset, the
# grouping variables of the levels used): na.pass and na.exclude give NA
# there, na.omit drops the rows, na.fail stops.
newdata_rows <- function(missing, na.action) {
  if (is.character(na.action)) na.action <- get(na.action, mode = "function")
  if (!is.function(na.action)) {
    stop("'na.action' must be a function such as na.pass, na.omit, na.exclude or na.fail",
         call. = FALSE)
  }
  if (!any(missing)) return(!missing)
  probe <- data.frame(row = ifelse(missing, NA, seq_along(missing)))
  kept <- tryCatch(na.action(probe), error = function(e) {
    stop(sprintf(paste0("newdata has missing values in the variables of the model (row%s %s) ",
                        "and na.action = na.fail; use na.action = na.pass for NA predictions ",
                        "there or na.omit to drop the rows"),
                 if (sum(missing) > 1) "s" else "", paste(utils::head(which(missing), 5),
                                                          collapse = ", ")), call. = FALSE)
  })
  omitted <- attr(kept, "na.action")
  if (inherits(omitted, "omit")) return(!missing)
  rep(TRUE, length(missing))
}

# The design of the complete rows only.
design_rows <- function(d, keep) {
  rows <- function(v) if (is.matrix(v)) v[keep, , drop = FALSE] else v[keep]
  levels <- lapply(d$levels, function(l) {
    list(Z = rows(l$Z), group = if (!is.null(l$group)) rows(l$group))
  })
  list(X = rows(d$X), offset = rows(d$offset), levels = levels, missing = rep(FALSE, sum(keep)))
}

# Predictions of the complete rows placed among the rows kept (NA at a
# missing row that is kept), named as the rows of newdata.
expand_predictions <- function(out, missing, keep, row_names) {
  place <- function(v) {
    complete <- !missing
    if (is.matrix(v)) {
      M <- matrix(NA_real_, length(missing), ncol(v), dimnames = list(row_names, colnames(v)))
      M[complete, ] <- v
      return(M[keep, , drop = FALSE])
    }
    full <- stats::setNames(rep(NA_real_, length(missing)), row_names)
    full[complete] <- v
    full[keep]
  }
  if (is.list(out) && !is.data.frame(out)) return(lapply(out, place))
  place(out)
}

#' @rdname glamm-residuals
#' @export
fitted.glamm <- function(object, ...) predict(object, type = "response")
