# Gaussian (identity link) rows compressed within the leaf clusters of a
# tree: the likelihood of a linear mixed model depends on a leaf's rows only
# through the cross-products A'A of a_i = sqrt(w_i) [z_i1, ..., z_iL, x_i,
# y_i - offset_i] and the number of rows with positive weight, so a leaf of m
# rows is replaced by rank(A) <= m rows with the same A'A
# (src/compress_rows.cpp) and unit weights, and the log-likelihood gets back
# the terms -(log sqrt(2 pi) + log sigma) of the rows dropped. The engines
# (ML and the REML pass) then work on fewer rows with the same results, as
# lmer works on cross-products. Modes and posterior covariances per cluster
# are unchanged (they are functions of A'A too).

# The compressed engine arguments, or NULL when the model is not gaussian
# with the identity link, has survey weights or shards, or the leaves would
# keep more than 70% of the rows.
compress_gaussian <- function(args, family, control) {
  if (family$family != "gaussian" || family$link != "identity" || !is.null(control$cluster) ||
      length(args$power) || length(args$top_weight) ||
      any(vapply(args$levels, function(l) !is.null(l$weight), NA))) {
    return(NULL)
  }
  n <- nrow(args$X)
  if (n < 2) return(NULL)
  L <- length(args$levels)
  changes <- rep(FALSE, n - 1)
  for (l in args$levels) {
    node <- as.integer(l$node)
    changes <- changes | node[-1] != node[-n]
  }
  run_start <- c(0L, which(changes), n)
  if (length(run_start) - 1 > 0.5 * n) return(NULL)
  w <- if (length(args$weights)) args$weights else NULL
  response <- args$y - if (length(args$offset)) args$offset else 0
  Zs <- lapply(args$levels, function(l) l$Z)
  A <- cbind(do.call(cbind, Zs), args$X, response)
  if (!is.null(w)) A <- sqrt(w) * A
  out <- cpp_compress_rows(A, as.integer(run_start), 1e-11)
  n_out <- nrow(out$rows)
  if (n_out > 0.7 * n) return(NULL)
  first <- run_start[out$run] + 1L  # an original row of each output row's leaf
  ends <- cumsum(c(vapply(Zs, ncol, 1L), ncol(args$X), 1L))
  cols <- function(j) (if (j == 1) 0L else ends[j - 1]) + seq_len(ends[j] - (if (j == 1) 0L else ends[j - 1]))
  new <- args
  new$levels <- lapply(seq_len(L), function(l) {
    Z <- out$rows[, cols(l), drop = FALSE]
    colnames(Z) <- colnames(Zs[[l]])
    list(Z = Z, node = args$levels[[l]]$node[first])
  })
  new$X <- out$rows[, cols(L + 1), drop = FALSE]
  colnames(new$X) <- colnames(args$X)
  new$y <- out$rows[, ncol(out$rows)]
  new$weights <- new$offset <- new$trials <- numeric(0)
  # Rows with positive weight dropped, in total and per top cluster.
  top <- as.integer(args$levels[[L]]$node)
  top_id <- cumsum(c(TRUE, top[-1] != top[-n]))
  positive <- if (is.null(w)) rep(TRUE, n) else w > 0
  n_top <- top_id[n]
  dropped_top <- tabulate(top_id[positive], n_top) - tabulate(top_id[first], n_top)
  list(args = new, dropped = sum(dropped_top), dropped_top = dropped_top)
}

# The objective on compressed rows with the terms of the dropped rows added
# back to its value, gradient (in log sigma, the last parameter), scores and
# the posterior's log-likelihoods per top cluster.
restore_dropped_rows <- function(objective, compressed) {
  c0 <- log(sqrt(2 * pi))
  shift <- compressed$dropped
  psi_at <- objective$p + objective$n_theta + 1
  loglik <- objective$loglik
  objective$loglik <- function(par, gradient = FALSE, scores = FALSE) {
    out <- loglik(par, gradient, scores)
    g <- attr(out, "gradient")
    S <- attr(out, "scores")
    out <- out - shift * (c0 + par[psi_at])
    if (!is.null(g)) attr(out, "gradient")[psi_at] <- g[psi_at] - shift
    if (!is.null(S)) attr(out, "scores")[, psi_at] <- S[, psi_at] - compressed$dropped_top
    out
  }
  posterior <- objective$posterior
  objective$posterior <- function(beta, lambda, psi) {
    post <- posterior(beta, lambda, psi)
    post$loglik <- post$loglik - compressed$dropped_top * (c0 + psi[1])
    post
  }
  objective$dropped_rows <- shift
  objective
}
