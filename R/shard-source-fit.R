# The master's side of a fit on data that stays on the workers
# (glamm_shards(); workers' side in R/shard-source.R): it unifies the factor
# levels of the partitions, combines their summaries into what glamm.fit()
# computes from the whole data (the design's scaling, the optimizer's typical
# sizes, the start values from an evenly spread sample of rows), optimizes
# the sum of the partitions' log-likelihoods and assembles a fit without data.

source_fit <- function(formula, shards, family, nAGQ, start, control, contrasts, call) {
  cl <- control$cluster
  if (is.null(cl)) {
    stop("data = glamm_shards(...) is read by the workers of a parallel cluster: give ",
         "control = glamm_control(cluster = cl)", call. = FALSE)
  }
  if (family$family == "ordinal") {
    stop("the ordinal family is not available for data read by the workers yet",
         call. = FALSE)
  }
  n_parts <- length(shards$sources)
  workers <- min(length(cl), n_parts)
  cl <- cl[seq_len(workers)]
  assigned <- lapply(seq_len(workers), function(w) shards$sources[seq(w, n_parts, by = workers)])
  key <- shard_key()
  on.exit(try(cluster_call(cl, shard_drop, key), silent = TRUE), add = TRUE)
  load_glamm_on_workers(cl)
  # (shard_call() names the worker whose call failed, with its error)
  ask <- function(fun, ...) shard_call(cl, fun, ...)
  # each worker reads its own partitions
  read_all <- lapply(seq_len(workers), function(w) {
    shard_call(cl[w], source_read, key, assigned[[w]], shards$read,
               all.vars(sub_bars(formula)))[[1]]
  })
  common <- common_levels(read_all)
  worker_control <- control
  worker_control$cluster <- NULL
  worker_control$nthreads <- control$worker.threads
  parts <- ask(source_prepare, key, formula, family, contrasts, common, nAGQ, worker_control)
  info <- combine_summaries(parts, family)
  p <- length(info$columns)

  scaling <- scaling_from_moments(info$mean, info$sd, info$n, info$columns,
                                  centre = family$family != "ordinal")
  engines <- character(0)
  on.exit(for (k in engines) try(cluster_call(cl, shard_drop, k), silent = TRUE), add = TRUE)
  build <- function(K) {
    engine_key <- paste0(key, "_", length(engines) + 1)
    engines <<- c(engines, engine_key)
    ask(source_engine, key, engine_key, scaling, K, worker_control)
    objective <- make_objective(NULL, p, info$patterns, info$extra, info$constant)
    objective$set_evaluator(function(beta, lambda, psi, gradient, scores) {
      combine_shards(ask(shard_eval, engine_key, beta, lambda, psi, gradient, scores))
    })
    if (all(unlist(ask(shard_has_louis, engine_key)))) {
      objective[c("louis", "hessian")] <- objective$information_from(
        function(beta, lambda, psi, points) {
          sum_shard_hessians(ask(shard_louis, engine_key, beta, lambda, psi, points))
        })
      objective <- louis_rules(objective, K, nrow(info$patterns[[1]]))
    }
    objective$posterior <- function(beta, lambda, psi) {
      combine_posteriors(ask(source_posterior, engine_key, beta, lambda, psi))
    }
    objective$typsize <- info$typsize
    objective$beta_to_engine <- function(beta) drop(scaling$to_internal %*% beta)
    objective
  }
  objective <- build(info$nAGQ)

  sample <- source_start_sample(cl, key, vapply(parts, function(s) s$n, 0), info$patterns)
  par0 <- start_values(sample$resp, sample$X, sample$levels, sample$offset, family, start,
                       objective)
  par0 <- map_par(par0, scaling$to_internal, p)
  lower <- c(rep(-Inf, p),
             unlist(lapply(info$patterns, function(pat) ifelse(theta_is_diagonal(pat), 0, -Inf))),
             rep(-Inf, objective$n_extra))
  begin <- list(par = par0, scale = NULL)
  if (is.null(start) && !louis_search(objective, length(par0))) {
    begin <- laplace_start(par0, lower, control, info$nAGQ, objective, build)
  }
  opt <- optimize_loglik(objective, begin$par, lower, control, begin$scale)
  if (control$hessian) opt <- escape_saddle(objective, newton_polish(objective, opt, control),
                                            control)
  opt <- map_optimum(opt, scaling, p)
  opt$infinite <- estimates_at_infinity(objective, opt, scaling, p, info$infinity_sizes)
  fit <- structure(assemble_fit(objective, opt, info$X, info$levels, info$parents,
                                info$tree, info$resp, NULL, family, info$nAGQ, control),
                   class = "glamm")
  first <- parts[[1]]
  fit$nobs <- as.integer(info$n)
  fit$ngroups <- if (length(info$levels) == 1) length(info$tree$cluster[[1]]) else
    vapply(info$tree$cluster, length, 1L)
  fit["data"] <- list(NULL)  # an element, so that $data does not match $data_classes
  fit$control$cluster <- NULL
  fit$call <- call
  fit$formula <- formula
  fit$terms <- first$terms
  fit$random <- parse_random(formula)
  fit$group_name <- names(info$levels)
  fit$xlevels <- first$xlevels
  fit$data_classes <- first$data_classes
  fit$random_xlevels <- first$random_xlevels
  fit$contrasts <- first$contrasts
  fit$sharded_data <- list(partitions = n_parts, workers = workers,
                           rows = vapply(parts, function(s) s$n, 0), response = info$y)
  fit
}

# The levels of each factor or character column that occur in any partition:
# in the order of the factors' levels (their union in order of appearance),
# or sorted (character columns).
common_levels <- function(read_all) {
  vars <- names(read_all[[1]])
  out <- list()
  for (v in vars) {
    types <- vapply(read_all, function(r) r[[v]]$type, "")
    if (all(types == "other")) next
    if (any(types == "other")) {
      stop(sprintf("the column %s is a factor or character in some partitions and not in others",
                   v), call. = FALSE)
    }
    present <- unique(unlist(lapply(read_all, function(r) r[[v]]$present)))
    order <- unique(unlist(lapply(read_all, function(r) r[[v]]$levels %||% r[[v]]$present)))
    out[[v]] <- if (all(types == "character")) sort(present) else order[order %in% present]
  }
  out
}

# The partitions' summaries combined: sizes, the moments of X's columns (the
# pooled mean and SD), the typical sizes of the parameters (as
# typical_sizes() and infinity_sizes() compute them from the whole data), the
# levels with their clusters' labels (each cluster in one partition), and
# stand-ins of X, the levels and the response without rows, for assemble_fit().
combine_summaries <- function(parts, family) {
  first <- parts[[1]]
  for (s in parts[-1]) {
    if (!identical(s$columns, first$columns)) {
      stop("the partitions give different fixed-effects designs (columns ",
           paste(setdiff(union(s$columns, first$columns), intersect(s$columns, first$columns)),
                 collapse = ", "), ")", call. = FALSE)
    }
  }
  n_s <- vapply(parts, function(s) s$n, 0)
  n <- sum(n_s)
  means <- sapply(parts, function(s) s$mean)
  sds <- sapply(parts, function(s) s$sd)
  p <- length(first$columns)
  means <- matrix(means, nrow = p)
  sds <- matrix(sds, nrow = p)
  sds[!is.finite(sds)] <- 0
  mean <- drop(means %*% n_s) / n
  m2 <- drop(sds^2 %*% pmax(n_s - 1, 0)) + drop((means - mean)^2 %*% n_s)
  sd <- sqrt(m2 / (n - 1))
  XtX <- Reduce(`+`, lapply(parts, function(s) s$XtX))
  check_rank(XtX, first$columns)
  y <- Reduce(`+`, lapply(parts, function(s) s$y[c("n", "sum", "ss", "trials", "sum_inverse")]))
  y_min <- min(vapply(parts, function(s) s$y[["min"]], 0), na.rm = TRUE)
  y_max <- max(vapply(parts, function(s) s$y[["max"]], 0), na.rm = TRUE)
  check_variation_from(y, y_min, y_max, family)
  levels <- lapply(seq_along(first$Z), function(l) {
    z <- first$Z[[l]]
    labels <- unlist(lapply(parts, function(s) s$Z[[l]]$labels))
    if (anyDuplicated(labels)) {
      stop(sprintf(paste0("clusters of %s (e.g. %s) occur in several partitions: partition ",
                          "the data by the top-level clusters, and give the clusters of each ",
                          "level labels of their own (e.g. school/class)"), z$name,
                   labels[anyDuplicated(labels)]), call. = FALSE)
    }
    ss <- Reduce(`+`, lapply(parts, function(s) s$Z[[l]]$ss))
    list(name = z$name, Z = matrix(0, 0, length(z$columns), dimnames = list(NULL, z$columns)),
         group = factor(character(0), levels = labels), pattern = z$pattern,
         labels = labels, rms = ifelse(ss > 0, sqrt(ss / n), 1))
  })
  names(levels) <- vapply(levels, function(l) l$name, "")
  cluster <- lapply(levels, function(l) seq_along(l$labels))
  resp_levels <- first$response_levels
  extra <- extra_parameters(family, resp_levels)
  s_y <- if (family$family == "gaussian" ||
             (family$family == "Gamma" && family$link == "identity")) {
    sd_y <- sqrt((y[["ss"]] - y[["sum"]]^2 / y[["n"]]) / (y[["n"]] - 1))
    if (is.finite(sd_y) && sd_y > 0) sd_y else 1
  } else if (family$family == "Gamma" && family$link == "inverse") {
    y[["n"]] / y[["sum"]]
  } else 1
  rms_x <- sqrt(diag(XtX) / n)
  rms_x <- ifelse(rms_x > 0, rms_x, 1)
  theta <- lapply(levels, function(l) (s_y / l$rms)[row(l$pattern)[l$pattern]])
  typsize <- c(s_y / rms_x, unlist(theta), rep(1, extra$n))
  nonzero <- Reduce(`+`, lapply(parts, function(s) s$nonzero))
  infinity <- typsize
  ok <- nonzero > 0 & diag(XtX) > 0
  infinity[seq_len(p)][ok] <- (typsize[seq_len(p)] * rms_x / sqrt(diag(XtX) / pmax(nonzero, 1)))[ok]
  X <- matrix(0, 0, p, dimnames = list(NULL, first$columns))
  attr(X, "assign") <- first$assign
  attr(X, "contrasts") <- first$contrasts
  list(n = n, columns = first$columns, mean = mean, sd = sd, X = X, levels = levels,
       patterns = lapply(levels, function(l) l$pattern), extra = extra,
       constant = sum(vapply(parts, function(s) s$constant, 0)),
       typsize = typsize, infinity_sizes = infinity, nAGQ = first$nAGQ,
       parents = first$parents, tree = list(order = NULL, cluster = cluster),
       resp = list(levels = resp_levels, y = NULL, constant = 0), y = y)
}

check_rank <- function(XtX, columns) {
  if (length(columns) == 0) return(invisible())
  s <- sqrt(diag(XtX))
  if (all(s > 0)) {
    ev <- eigen(XtX / tcrossprod(s), symmetric = TRUE, only.values = TRUE)$values
    if (min(ev) > 1e-10) return(invisible())
  }
  q <- qr(XtX)
  dropped <- columns[-q$pivot[seq_len(q$rank)]]
  stop(sprintf(paste0("the fixed-effects design is rank deficient (%s): drop aliased terms ",
                      "from the formula (data read by the workers are not reduced ",
                      "automatically)"), paste(dropped, collapse = ", ")), call. = FALSE)
}

# check_variation() from the pooled response summaries.
check_variation_from <- function(y, y_min, y_max, family) {
  if (y[["n"]] == 0) {
    stop("no observation has a positive weight (and, binomial, trials): nothing to fit",
         call. = FALSE)
  }
  what <- switch(family$family,
    binomial = if (y_max == 0) "all failures" else if (y[["sum"]] == y[["trials"]]) "all successes",
    poisson = ,
    nbinom2 = if (y_max == 0) "all counts 0",
    if (y_min == y_max) "a constant response")
  if (!is.null(what)) {
    stop(sprintf("the response has no variation (%s): the model cannot be estimated", what),
         call. = FALSE)
  }
}

# The rows of the in-memory start values (glamm.fit(): at most 20,000, evenly
# spread over the rows in partition order), gathered from the workers.
source_start_sample <- function(cl, key, n_s, patterns) {
  n <- sum(n_s)
  rows <- if (n > 20000) round(seq(1, n, length.out = 20000)) else seq_len(n)
  ends <- cumsum(n_s)
  local <- lapply(seq_along(n_s), function(w) rows[rows > ends[w] - n_s[w] & rows <= ends[w]] -
                    (ends[w] - n_s[w]))
  got <- lapply(seq_along(cl), function(w) shard_call(cl[w], source_sample, key, local[[w]])[[1]])
  stack <- function(name) {
    v <- lapply(got, `[[`, name)
    if (all(vapply(v, is.null, NA))) NULL else if (is.matrix(v[[1]])) do.call(rbind, v) else unlist(v)
  }
  Z <- lapply(seq_along(got[[1]]$Z), function(l) do.call(rbind, lapply(got, function(g) g$Z[[l]])))
  levels <- Map(function(z, pattern) list(Z = z, pattern = pattern), Z, patterns)
  list(X = stack("X"), offset = stack("offset"), levels = levels,
       resp = list(y = stack("y"), trials = stack("trials"), weights = stack("weights")))
}

# The partitions' posterior summaries stacked in partition order (the order
# of combine_summaries()'s cluster labels).
combine_posteriors <- function(parts) {
  out <- parts[[1]]
  out$loglik <- unlist(lapply(parts, `[[`, "loglik"))
  out$levels <- lapply(seq_along(out$levels), function(l) {
    lapply(stats::setNames(nm = names(out$levels[[l]])), function(field) {
      do.call(rbind, lapply(parts, function(s) s$levels[[l]][[field]]))
    })
  })
  out
}
