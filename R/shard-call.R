# Calls on the workers of a sharded fit: one call per worker, the results
# received in worker order. On socket clusters (parallel's PSOCK, parallelly's)
# glamm sends and receives the messages itself, with the protocol of
# parallel's snow-style workers (an "EXEC" message out, a "VALUE" message
# back), so that it knows which workers still owe a result when the master is
# interrupted: it then waits for those results (each worker finishes the one
# evaluation it is running, a single pass over its shard), so every worker is
# idle and the connections are in step for the next call, and reports the
# interrupt as an error. Other clusters (MPI) go through
# parallel::clusterCall().

# TRUE when every node of cl is a socket node glamm can talk to directly.
socket_cluster <- function(cl) {
  all(vapply(cl, function(node) {
    (inherits(node, "SOCKnode") || inherits(node, "SOCK0node")) &&
      inherits(node$con, "connection")
  }, TRUE))
}

shard_send <- function(node, fun, args) {
  message <- list(type = "EXEC", data = list(fun = fun, args = args, return = TRUE, tag = NULL),
                  tag = NULL)
  serialize(message, node$con, xdr = !inherits(node, "SOCK0node"))
}

shard_receive <- function(node) {
  reply <- unserialize(node$con)
  if (!identical(reply$type, "VALUE")) stop("unexpected reply from a worker", call. = FALSE)
  reply$value
}

# fun(...) on every worker of cl; a list of the results in worker order.
# An interrupt is raised again (after draining) as a condition of class
# c("glamm_interrupt", "interrupt") with a message: error handlers (the
# fallback of the Laplace start, say) let it pass, as they let a plain
# interrupt pass. A broken connection is an error.
cluster_call <- function(cl, fun, ...) {
  if (!socket_cluster(cl)) return(parallel::clusterCall(cl, fun, ...))
  args <- list(...)
  n <- length(cl)
  out <- vector("list", n)
  owed <- rep(FALSE, n)
  # Results still owed (after an interrupt, or an error at another worker)
  # are read and dropped, so that the connections stay in step.
  on.exit(for (s in which(owed)) try(shard_receive(cl[[s]]), silent = TRUE))
  interrupted <- FALSE
  failure <- NULL
  tryCatch({
    for (s in seq_len(n)) {
      owed[s] <- TRUE
      shard_send(cl[[s]], fun, args)
    }
    for (s in seq_len(n)) {
      out[s] <- list(shard_receive(cl[[s]]))
      owed[s] <- FALSE
    }
  }, interrupt = function(e) interrupted <<- TRUE, error = function(e) {
    owed[s] <<- FALSE  # the worker whose connection broke owes nothing
    failure <<- e
  })
  if (interrupted) {
    stop(structure(class = c("glamm_interrupt", "interrupt", "condition"), list(
      message = paste0("interrupted: the workers of the parallel cluster finished their ",
                       "current evaluation and are idle; the sharded fit was abandoned"),
      call = NULL)))
  }
  if (!is.null(failure)) stop(failure)
  out
}

# One call on every worker of the shards, with a clear error naming the shard
# that failed (or the connection that broke). ranges: the shards' row ranges
# (NULL: the call is not about shards).
shard_call <- function(cl, fun, ..., ranges = NULL) {
  out <- tryCatch(cluster_call(cl, fun, ...), error = function(e) {
    stop("a worker of the parallel cluster stopped responding (", conditionMessage(e),
         "); the sharded fit was abandoned", call. = FALSE)
  })
  for (s in seq_along(out)) {
    if (inherits(out[[s]], "error")) {
      where <- if (is.null(ranges)) "" else
        sprintf(" (shard %d: rows %d to %d in the engine's order)", s, ranges[[s]][1],
                ranges[[s]][2])
      stop(sprintf("worker %d%s failed: %s", s, where, conditionMessage(out[[s]])),
           call. = FALSE)
    }
  }
  out
}
