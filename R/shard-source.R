# Data that stays on the workers (issue 14, item 3): each worker reads its
# own partitions of the data (files, or whatever a reading function returns),
# builds the model's designs and its engine there, and sends the master only
# summaries: column moments and cross-products of the designs, the labels of
# its clusters, an evenly spread sample of at most 20,000 rows for the start
# values, and, after the fit, its clusters' empirical Bayes predictions. The
# master never holds the data. This file holds the user's constructor and the
# workers' side; R/shard-source-fit.R the master's.

#' Data in partitions that the workers read
#'
#' For [glamm()]'s `data` with `control = glamm_control(cluster = cl)`: the
#' data are read by the workers of the parallel cluster, each reading its own
#' partitions, and never by the master (see Details).
#'
#' Partition the data by the top-level grouping factor: every top-level
#' cluster (a school, in `(1 | school/class)`) must lie in one partition, and
#' the clusters of the lower levels must have labels of their own in each
#' partition (`school/class` gives them). Partition `k` goes to worker
#' `(k - 1) %% length(cl) + 1`. Factors and character columns get the levels
#' that occur in any partition, in the order of the factors' levels (sorted,
#' for character columns), so the designs are those of the whole data frame; transformations in the formula
#' that depend on all the data (`scale(x)`, `poly(x)`) would be computed per
#' partition, so compute such variables before writing the partitions. The
#' fit equals the one on the combined data frame (rows in partition order).
#'
#' The fit holds no data: `summary()`, `coef()`, `vcov()`, `logLik()`,
#' `anova()`, `VarCorr()`, `confint()` (Wald), `ranef()` and `predict()` with
#' `newdata` work; methods that need the rows (`fitted()`, `residuals()`,
#' `predict()` without `newdata`, `simulate()`, profiles) give an error.
#' Available for the binomial, poisson, gaussian, Gamma and nbinom2 families
#' without prior or survey weights.
#' @param sources the partitions: a character vector of file paths, or a
#'   list, each element passed to `read`.
#' @param read a function of one source returning a data frame, run on the
#'   workers (it must not depend on the master's session); the default reads
#'   files ending in `.csv` with [utils::read.csv()] and `.rds` with
#'   [readRDS()].
#' @return An object of class `glamm_shards`.
#' @examples
#' \donttest{
#' d <- pisa2000
#' schools <- unique(d$id_school)
#' files <- vapply(1:2, function(k) {
#'   f <- tempfile(fileext = ".rds")
#'   saveRDS(d[d$id_school %in% schools[seq(k, length(schools), 2)], ], f)
#'   f
#' }, "")
#' cl <- parallel::makeCluster(2)
#' fit <- glamm(pass_read ~ female + (1 | id_school), data = glamm_shards(files),
#'              family = binomial, control = glamm_control(cluster = cl))
#' parallel::stopCluster(cl)
#' fixef(fit)
#' }
#' @export
glamm_shards <- function(sources, read = NULL) {
  if (!(is.character(sources) || is.list(sources)) || length(sources) == 0) {
    stop("'sources' must be a character vector of file paths or a list, one element per ",
         "partition", call. = FALSE)
  }
  if (is.null(read)) {
    if (!is.character(sources)) {
      stop("give 'read', a function that reads one partition, for sources that are not ",
           "file paths", call. = FALSE)
    }
    read <- read_partition_file
  }
  if (!is.function(read)) stop("'read' must be a function of one source", call. = FALSE)
  structure(list(sources = as.list(sources), read = read), class = "glamm_shards")
}

#' @export
print.glamm_shards <- function(x, ...) {
  cat(sprintf("glamm_shards: %d partitions, read on the workers\n", length(x$sources)))
  invisible(x)
}

read_partition_file <- function(path) {
  if (grepl("\\.csv$", path, ignore.case = TRUE)) return(utils::read.csv(path))
  if (grepl("\\.rds$", path, ignore.case = TRUE)) return(readRDS(path))
  stop(sprintf("cannot read %s: give 'read' for files other than .csv and .rds", path),
       call. = FALSE)
}

# Worker side. Each function returns its result or the error (the master
# names the worker that failed); the worker's state lives in
# shard_store[[key]].

# Reads the worker's partitions, keeps the formula's variables on complete
# rows, and returns the levels that occur in each factor or character column.
source_read <- function(key, sources, read, vars) {
  tryCatch({
    parts <- lapply(sources, function(s) {
      d <- as.data.frame(read(s))
      missing <- setdiff(vars, names(d))
      if (length(missing)) {
        stop(sprintf("partition %s has no column %s", format(s)[1],
                     paste(missing, collapse = ", ")), call. = FALSE)
      }
      d[vars]
    })
    d <- do.call(rbind, parts)
    d <- d[stats::complete.cases(d), , drop = FALSE]
    rownames(d) <- NULL
    shard_store[[key]] <- list(data = d)
    lapply(d, function(x) {
      if (is.factor(x)) list(type = "factor", levels = levels(x), present = levels(droplevels(x)))
      else if (is.character(x)) list(type = "character", present = sort(unique(x)))
      else list(type = "other")
    })
  }, error = function(e) e)
}

# Builds the designs with the common factor levels and returns the
# summaries the master needs (see source_summary()).
source_prepare <- function(key, formula, family, contrasts, common_levels, nAGQ, control) {
  tryCatch({
    d <- shard_store[[key]]$data
    for (v in names(common_levels)) d[[v]] <- factor(d[[v]], levels = common_levels[[v]])
    random <- parse_random(formula)
    fixed <- drop_bars(formula)
    frame_formula <- sub_bars(formula)
    environment(frame_formula) <- environment(formula)
    frame <- stats::model.frame(frame_formula, d, drop.unused.levels = FALSE)
    frame_terms <- attr(frame, "terms")
    fixed_terms <- with_predvars(stats::terms(fixed, data = frame), frame_terms)
    for (k in seq_along(random$terms)) {
      random$terms[[k]]$terms <- with_predvars(stats::terms(random$terms[[k]]$lhs), frame_terms)
    }
    X <- strip_rownames(stats::model.matrix(fixed_terms, frame, contrasts.arg = contrasts))
    check_finite_columns(X, "fixed-effects")
    re_levels <- random_levels(random, frame, environment(formula), contrasts = contrasts)
    re <- lapply(re_levels, function(l) list(Z = l$Z, group = l$factor, pattern = l$pattern,
                                          name = l$name))
    levels <- fit_levels(NULL, NULL, NULL, re, nrow(X))
    q <- vapply(levels, function(l) ncol(l$Z), 1L)
    structure <- random_structure(levels, nAGQ, family, q, control, announce = FALSE)
    if (structure$sparse) {
      stop(sprintf("the grouping factors %s cross within the partition: sharded fits need ",
                   "nested factors", paste(structure$crossed, collapse = "; ")), call. = FALSE)
    }
    resp <- prepare_response(unname_response(stats::model.response(frame)), family, NULL,
                             compact = TRUE)
    offset <- stats::model.offset(frame)
    shard_store[[key]] <- list(X = X, levels = levels, resp = resp, offset = offset,
                               tree = structure$tree, family = family)
    source_summary(X, levels, resp, offset, structure, fixed_terms, frame, random)
  }, error = function(e) e)
}

# What the master needs of one partition: sizes, column moments and
# cross-products of X, root mean squares of Z, the response's moments and
# constant, each level's cluster labels in the engine's node order, and the
# terms (from the first partition) for the methods.
source_summary <- function(X, levels, resp, offset, structure, fixed_terms, frame, random) {
  moments <- cpp_column_moments(X)
  used <- (resp$weights %||% 1) > 0 & (resp$trials %||% 1) > 0
  y <- resp$y[used]
  list(n = nrow(X), columns = colnames(X), assign = attr(X, "assign"),
       contrasts = attr(X, "contrasts"), mean = moments$mean, sd = moments$sd,
       XtX = cpp_crossprod(X), nonzero = colSums(X != 0),
       Z = lapply(levels, function(l) {
         list(name = l$name, columns = colnames(l$Z), pattern = l$pattern,
              ss = diag(cpp_crossprod(l$Z)),
              labels = levels(l$group)[structure$tree$cluster[[l$name]]])
       }),
       y = c(n = length(y), sum = sum(y), ss = sum(y^2), min = if (length(y)) min(y) else NA,
             max = if (length(y)) max(y) else NA,
             trials = if (is.null(resp$trials)) length(y) else sum(resp$trials[used]),
             sum_inverse = sum(1 / y)),
       constant = resp$constant, response_levels = resp$levels,
       parents = structure$parents, nAGQ = structure$nAGQ,
       max_rows_top = structure$tree$max_rows_top,
       terms = fixed_terms, xlevels = stats::.getXlevels(fixed_terms, frame),
       data_classes = attr(attr(frame, "terms"), "dataClasses"),
       random_xlevels = random_xlevels(random, frame))
}

# The rows `rows` of the partition (positions in its own order) for the
# start values: X, the response, the offset and each level's Z.
source_sample <- function(key, rows) {
  tryCatch({
    s <- shard_store[[key]]
    pick <- function(v) if (is.null(v)) NULL else if (is.matrix(v)) v[rows, , drop = FALSE] else v[rows]
    list(X = pick(s$X), y = pick(s$resp$y), trials = pick(s$resp$trials),
         weights = pick(s$resp$weights), offset = pick(s$offset),
         Z = lapply(s$levels, function(l) pick(l$Z)))
  }, error = function(e) e)
}

# Builds the partition's engine with nAGQ points (the fixed-effects design
# scaled as the master says) under the key engine_key.
source_engine <- function(key, engine_key, scaling, nAGQ, control) {
  tryCatch({
    s <- shard_store[[key]]
    # (gaussian rows stay uncompressed: the master sums the engines' values)
    objective <- build_objective(scaled_design(s$X, scaling), s$levels, s$resp, s$offset,
                                 s$family, nAGQ, control, s$tree, compress = FALSE)
    shard_store[[engine_key]] <- objective$model
    TRUE
  }, error = function(e) e)
}

# The posterior summaries of the partition's clusters (engine order).
source_posterior <- function(engine_key, beta, lambda, psi) {
  tryCatch(cpp_model_posterior(shard_store[[engine_key]], beta, lambda, psi),
           error = function(e) e)
}
