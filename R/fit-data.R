# The data of a fit. A fit from glamm() keeps its data once, as the model
# frame; the designs (X, and Z of each level) and the
# response in the engine's form are rebuilt from it when a method needs them.
# A fit from glamm.fit() has no frame and keeps its matrices.

# X, y, trials, weights, offset and the response constant.
# With factor loadings, X's loaded columns are multiplied by the estimated
# loadings (R/latent.R) unless loaded = FALSE.
fit_data <- function(object, loaded = TRUE) {
  stop_without_rows(object)
  if (!is.null(object$data$X)) {  # glamm.fit(): unit trials and weights, zero offset as NULL
    d <- object$data
    n <- nrow(d$X)
    d$trials <- d$trials %||% rep(1, n)
    d$weights <- d$weights %||% rep(1, n)
    d$offset <- d$offset %||% rep(0, n)
    if (loaded) d$X <- loaded_fixed_design(object, d$X)
    return(d)
  }
  frame <- object$frame
  full <- strip_rownames(stats::model.matrix(object$terms, frame, contrasts.arg = object$contrasts))
  # the fitted columns (aliased ones dropped), with the term of each column
  # ("assign", as lme4's model.matrix() has it; car's Anova() reads it)
  keep <- match(names(object$coefficients), colnames(full))
  X <- full[, keep, drop = FALSE]
  attr(X, "assign") <- attr(full, "assign")[keep]
  attr(X, "contrasts") <- attr(full, "contrasts")
  resp <- prepare_response(stats::model.response(frame), object$family,
                           stats::model.weights(frame))
  offset <- stats::model.offset(frame)
  if (is.null(offset)) offset <- rep(0, nrow(X))
  if (loaded) X <- loaded_fixed_design(object, X)
  list(X = X, y = resp$y, trials = resp$trials, weights = resp$weights, offset = offset,
       constant = resp$constant)
}

# The random-effects design Z of each level (groups innermost first, as
# re_groups()), rebuilt from the model frame when the fit does not hold it.
# With factor loadings, the loaded columns are multiplied by the estimated
# loadings unless loaded = FALSE.
fit_level_designs <- function(object, groups, loaded = TRUE) {
  stop_without_rows(object)
  if (!all(vapply(groups, function(gr) !is.null(gr$Z), NA))) {
    levels <- random_levels(object$random, object$frame, environment(object$formula),
                            contrasts = object$contrasts)
    for (l in names(groups)) groups[[l]]$Z <- levels[[l]]$Z
  }
  if (loaded) groups <- loaded_level_designs(object, groups)
  groups
}

# Drops the designs, which the model frame holds, from a fit of glamm(); the
# clusters of each level are kept (one integer per row and level).
keep_data_once <- function(fit) {
  fit["data"] <- list(NULL)  # kept as an element, so that $data does not match $data_classes
  for (l in seq_along(fit$groups)) fit$groups[[l]]$Z <- NULL
  fit
}

# A fit on data read by the workers (glamm_shards()) holds no rows.
stop_without_rows <- function(object) {
  if (is.null(object$sharded_data)) return(invisible())
  stop("the data of this fit stayed on the workers (glamm_shards()): this needs its rows; ",
       "use predict() with newdata, or fit on a data frame", call. = FALSE)
}
