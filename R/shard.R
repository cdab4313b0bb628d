# Sharding a fit over the workers of a parallel cluster (issue 14): the
# log-likelihood is a sum over independent top-level clusters,
#   l(par) = sum_s l_s(par),   gradient = sum_s grad l_s(par),
# so each worker holds a shard of whole top-level clusters (contiguous in the
# engine's row order), builds its own engine on it once, and per evaluation
# receives only the parameters and returns its shard's value, gradient and
# (on request) scores. The master sums the shards in shard order, so the
# result does not depend on timing, and stacks the scores in the same order
# as the single-process engine.

# The engines built on this process as a worker, by fit key.
shard_store <- new.env(parent = emptyenv())

# A fresh key for a fit's state on the workers (this process's id and a
# counter: drawing it at random would move the user's random number stream).
shard_key <- function() {
  shard_store$.count <- (shard_store$.count %||% 0) + 1
  sprintf("glamm%d_%d_%s", Sys.getpid(), shard_store$.count,
          format(as.numeric(Sys.time()) * 1e6, scientific = FALSE))
}

# Row ranges of at most n_shards shards of whole top-level clusters with about
# equal numbers of rows (every row of a tree design carries the same levels,
# so rows measure the work). top: the top-level code of each row, in engine
# order (a cluster is a run of equal codes).
shard_ranges <- function(top, n_shards) {
  n <- length(top)
  starts <- which(c(TRUE, top[-1L] != top[-n]))
  shard <- pmin(floor((starts - 1) / n * n_shards), n_shards - 1) + 1
  first <- starts[!duplicated(shard)]
  last <- c(first[-1L] - 1L, n)
  Map(function(a, b) c(a, b), first, last)
}

# The engine arguments of rows a..b (empty vectors stay empty).
shard_args <- function(args, a, b) {
  rows <- function(v) {
    if (is.matrix(v)) v[a:b, , drop = FALSE] else if (length(v)) v[a:b] else v
  }
  for (name in c("X", "y", "trials", "weights", "power", "top_weight", "offset")) {
    args[[name]] <- rows(args[[name]])
  }
  args$levels <- lapply(args$levels, function(l) lapply(l, rows))  # Z, node (and weight)
  args
}

# Worker side: build, evaluate and drop a shard's engine. Errors are returned,
# not raised, so that the master can name the shard that failed.
shard_build <- function(key, args) {
  tryCatch({
    shard_store[[key]] <- do.call(cpp_model_new, args)
    TRUE
  }, error = function(e) e)
}
shard_eval <- function(key, beta, lambda, psi, gradient, scores) {
  tryCatch(cpp_model_eval(shard_store[[key]], beta, lambda, psi, gradient, scores),
           error = function(e) e)
}
shard_louis <- function(key, beta, lambda, psi, points) {
  tryCatch(cpp_model_louis(shard_store[[key]], beta, lambda, psi, points)$hessian,
           error = function(e) e)
}
shard_has_louis <- function(key) {
  tryCatch(cpp_model_has_louis(shard_store[[key]]), error = function(e) e)
}
shard_drop <- function(key) {
  if (exists(key, envir = shard_store, inherits = FALSE)) rm(list = key, envir = shard_store)
  TRUE
}

# The objective evaluated on the workers of control$cluster (unchanged when
# there is none). The engine arguments go to the workers once; the master's
# own engine stays for the methods (modes, empirical Bayes). release() drops
# the workers' engines.
shard_objective <- function(objective, control) {
  cl <- control$cluster
  if (is.null(cl)) return(objective)
  args <- objective$engine_args
  args$n_threads <- control$worker.threads
  top <- args$levels[[length(args$levels)]]$node
  ranges <- shard_ranges(top, length(cl))
  cl <- cl[seq_along(ranges)]
  key <- shard_key()
  load_glamm_on_workers(cl)
  # An error or interrupt before the objective is returned drops what was built.
  built <- FALSE
  on.exit(if (!built) try(cluster_call(cl, shard_drop, key), silent = TRUE))
  for (s in seq_along(ranges)) {
    one <- shard_args(args, ranges[[s]][1], ranges[[s]][2])
    r <- tryCatch(cluster_call(cl[s], shard_build, key, one)[[1]], error = function(e) e)
    if (inherits(r, "error")) {
      stop(sprintf("worker %d could not build the engine of shard %d (rows %d to %d): %s", s,
                   s, ranges[[s]][1], ranges[[s]][2], conditionMessage(r)), call. = FALSE)
    }
  }
  built <- TRUE
  objective$set_evaluator(function(beta, lambda, psi, gradient, scores) {
    parts <- shard_call(cl, shard_eval, key, beta, lambda, psi, gradient, scores,
                        ranges = ranges)
    combine_shards(parts)
  })
  if (!is.null(objective$louis)) {
    objective[c("louis", "hessian")] <- objective$information_from(
      function(beta, lambda, psi, points) {
        sum_shard_hessians(shard_call(cl, shard_louis, key, beta, lambda, psi, points,
                                      ranges = ranges))
      })
  }
  objective$release <- function() try(cluster_call(cl, shard_drop, key), silent = TRUE)
  objective$n_shards <- length(ranges)
  objective
}

# The engine's result summed over shards in shard order (scores stacked).
combine_shards <- function(parts) {
  out <- parts[[1]]
  out$loglik <- sum(vapply(parts, function(r) r$loglik, 0))
  out$n_fail <- sum(vapply(parts, function(r) r$n_fail, 0))
  if (out$n_fail > 0 || is.null(out$grad_beta)) return(out)
  add <- function(name) Reduce(`+`, lapply(parts, `[[`, name))
  out$grad_beta <- add("grad_beta")
  out$grad_psi <- add("grad_psi")
  out$grad_lambda <- Reduce(function(a, b) Map(`+`, a, b), lapply(parts, `[[`, "grad_lambda"))
  if (!is.null(out$scores)) out$scores <- do.call(rbind, lapply(parts, `[[`, "scores"))
  out
}

# The shards' information matrices summed in shard order (NULL when a
# shard's mode search failed).
sum_shard_hessians <- function(parts) {
  if (any(vapply(parts, is.null, NA))) NULL else Reduce(`+`, parts)
}

# Makes the workers load this process's glamm: its library goes first on
# their paths (set by a function of the base environment, so that sending it
# neither loads glamm there first nor carries the caller's frame along).
load_glamm_on_workers <- function(cl) {
  paths <- unique(c(dirname(getNamespaceInfo("glamm", "path")), .libPaths()))
  set_paths <- function(p) {
    .libPaths(p)
    ns <- tryCatch(loadNamespace("glamm"), error = function(e) NULL)
    if (is.null(ns)) return("")
    if (exists("shard_store", envir = ns, inherits = FALSE)) "ok" else getNamespaceVersion(ns)
  }
  environment(set_paths) <- baseenv()
  found <- shard_call(cl, set_paths, paths)
  for (s in seq_along(found)) {
    if (!identical(found[[s]], "ok")) {
      stop(sprintf(paste0("worker %d %s: install glamm %s (the version this session runs) where ",
                          "the workers find it, or start new workers"), s,
                   if (nzchar(found[[s]])) paste("has an older glamm", found[[s]], "loaded")
                   else "cannot load glamm", utils::packageVersion("glamm")), call. = FALSE)
    }
  }
  invisible()
}
