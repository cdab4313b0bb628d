# The engine's model object for the data and the log-likelihood as a function
# of the parameters (with the typical sizes that scale the optimizer).

# The engine's model object for the data (rows sorted so that every cluster
# of every level is a contiguous block) and the log-likelihood as a function
# of the parameters. use_tree forces the nested integrator for one level;
# sparse (the default for a tree from random_structure() that is not one)
# the sparse global Laplace, whatever the nesting; compress = FALSE keeps
# gaussian rows as they are (R/gaussian-compress.R).
# Survey weights (R/pweights.R): survey = list(row = , top = , node = ),
# per-row vectors or NULL (1): row i's log f is raised to row[i], the
# log-likelihood of each top cluster multiplied by its top weight, and node
# (named by levels below the top) gives each row's cluster's weight, the power
# of that cluster's integral; the response's constant (constant_rows()) is
# weighted by the product of them all.
build_objective <- function(X, levels, resp, offset, family, nAGQ, control,
                            tree = tree_order(levels), use_tree = FALSE, survey = NULL,
                            sparse = isTRUE(tree$sparse), compress = TRUE) {
  codes <- family_codes(family)
  if (sparse) return(build_sparse_objective(X, levels, resp, offset, family, control))
  # Data already sorted by cluster are passed as they are (no copy of X);
  # the engine numbers the clusters by the runs of each factor's codes.
  ord <- tree$order
  rows <- function(v) {
    if (is.null(ord)) v else if (is.matrix(v)) v[ord, , drop = FALSE] else v[ord]
  }
  engine_levels <- lapply(levels, function(l) {
    out <- list(Z = rows(l$Z), node = rows(level_factor(l)))
    if (!is.null(survey$node[[l$name]])) out$weight <- rows(as.numeric(survey$node[[l$name]]))
    out
  })
  # NULL trials, weights (all 1) and offset (0) go as empty vectors.
  or_empty <- function(v) if (is.null(v)) numeric(0) else rows(as.numeric(v))
  constant <- resp$constant
  if (is_weighted(survey)) {
    power <- (survey$row %||% 1) * (survey$top %||% 1)
    for (w in survey$node) power <- power * w
    constant <- sum(constant_rows(resp, family) * power)
  }
  # (The arguments are kept for sharding (R/shard.R); the engine holds them
  # anyway, so this costs no memory.)
  args <- list(X = rows(X), y = rows(resp$y), trials = or_empty(resp$trials),
               weights = or_empty(resp$weights), power = or_empty(survey$row),
               top_weight = or_empty(survey$top), offset = or_empty(offset),
               levels = engine_levels, family = codes[["family"]], link = codes[["link"]],
               n_categories = length(resp$levels), nAGQ = as.integer(nAGQ),
               n_threads = control$nthreads, mode_tol = control$mode.tol,
               mode_maxit = control$mode.maxit, use_tree = use_tree)
  # Gaussian rows compressed within leaves (R/gaussian-compress.R).
  compressed <- if (compress) compress_gaussian(args, family, control)
  if (!is.null(compressed)) args <- compressed$args
  model <- do.call(cpp_model_new, args)
  if (is_mixed(family)) {
    parts <- lapply(family$families, family_codes)
    cpp_set_mixed_family(model, vapply(parts, function(k) k[["family"]], 1L),
                         vapply(parts, function(k) k[["link"]], 1L), rows(family$mapping) - 1L)
  }
  patterns <- lapply(levels, function(l) l$pattern)
  extra <- extra_parameters(family, resp$levels)
  objective <- make_objective(model, ncol(X), patterns, extra, constant)
  objective$posterior <- function(beta, lambda, psi) {
    cpp_model_posterior(model, beta, lambda, psi)
  }
  objective$typsize <- typical_sizes(X, levels, resp, family, extra$n)
  objective <- louis_rules(objective, nAGQ, ncol(levels[[1]]$Z))
  objective$engine_args <- args
  # The sorted rows, for the dense gaussian pass of REML (R/reml.R).
  objective$engine_data <- list(X = args$X, y = args$y, weights = args$weights,
                                offset = args$offset, levels = args$levels,
                                constant = constant, nthreads = control$nthreads)
  objective <- shard_objective(objective, control)
  if (!is.null(compressed)) objective <- restore_dropped_rows(objective, compressed)
  objective
}

# Where Louis' identity at the adapted nodes (src/cluster_hessian.cpp) gives
# the information. It leaves out the nodes' own dependence on the
# parameters, which is of the order of the quadrature error: against the
# information at 41 points, a Poisson model with two effects per cluster was
# off by 3.7e-2 (relative) at 5 points, 3.8e-3 at 7, 9.5e-4 at 9 and 5e-5 at
# 12, and central differences of the exact gradient by 3e-4 at 5 points.
# So the Newton steps of the search and the polish, which need it only
# roughly, take it from 5 points up and at no more than 7
# (objective$points: half the cost of 15 on a 2PL, with the same
# iterations). The reported Hessian takes it at objective$information_points:
# at least 31 points for one effect and 15 for two (errors of at most 1.5e-7
# and 4e-6 in the tests; a latent regression was off by 3.7e-6 at 21
# points). Three or more effects keep the differences (not measured). The
# objective's $louis and $hessian are NULL where Louis' identity is not used.
# One evaluation of it at Kh points costs about 2 + 1.6 (Kh / K) passes with
# gradient at the fit's K points, for one effect (2PL of 5000 x 20 at K = 15:
# 0.027 s a pass, 0.100 s Louis at 15 points, 0.146 s at 31). So it pays
# where the parameters are many (louis_search()).
louis_rules <- function(objective, nAGQ, q) {
  if (is.null(objective$louis) || any(nAGQ < 5) || q > 2) {
    objective$louis <- objective$hessian <- NULL
    return(objective)
  }
  objective$points <- min(nAGQ[1], 7L)
  objective$information_points <- max(nAGQ[1], c(31L, 15L)[q])
  objective
}

# Whether the fit uses Louis' information: the search takes Newton steps on
# it from the start values (no Laplace start, no quasi-Newton), the polish
# takes its steps on it, and the reported Hessian is it at
# objective$information_points (else central differences, 2k gradients).
# Only with 10 or more parameters: with fewer, the 2k gradients cost about
# what its evaluations do, and the Newton search from the start values took
# as long as the Laplace start and the quasi-Newton search (10^6 rows, one
# effect, 4 parameters: 15 passes and 10 of its evaluations in 8.8-9.1 s,
# against 54 passes in 8.7 s; two effects, 7 parameters: 2.7 s against
# 2.4 s).
louis_search <- function(objective, k) !is.null(objective$hessian) && k >= 10

# The sparse global Laplace's model object (rows in their own order, each
# level's clusters as 0-based codes) and its objective; survey weights are
# refused before (glamm.fit()), shards here.
build_sparse_objective <- function(X, levels, resp, offset, family, control) {
  if (!is.null(control$cluster)) {
    stop("sharded fits (glamm_control(cluster = )) need independent top-level clusters; ",
         "crossed factors have none: fit without 'cluster'", call. = FALSE)
  }
  codes <- family_codes(family)
  engine_levels <- lapply(levels, function(l) {
    f <- level_factor(l)
    list(Z = l$Z, cluster = as.integer(f) - 1L, n_clusters = nlevels(f))
  })
  or_empty <- function(v) if (is.null(v)) numeric(0) else as.numeric(v)
  model <- cpp_sparse_new(X, resp$y, or_empty(resp$trials), or_empty(resp$weights),
                          or_empty(offset), engine_levels, codes[["family"]], codes[["link"]],
                          length(resp$levels), control$nthreads, control$mode.tol,
                          control$mode.maxit)
  patterns <- lapply(levels, function(l) l$pattern)
  extra <- extra_parameters(family, resp$levels)
  objective <- make_objective(model, ncol(X), patterns, extra, resp$constant,
                              engine_eval = cpp_sparse_eval)
  objective$posterior <- function(beta, lambda, psi) {
    cpp_sparse_posterior(model, beta, lambda, psi)
  }
  objective$sparse <- TRUE
  objective$constant <- resp$constant  # for the REML pass (R/reml.R)
  if (family$family == "gaussian" && family$link == "identity") {
    # the GLS fixed effects for the profiled search (R/profile-beta.R)
    objective$gls <- function(par) {
      u <- objective$unpack(par)
      r <- cpp_sparse_gls(model, u$beta, u$lambda, u$psi)
      if (r$ok) r
    }
  }
  objective$typsize <- typical_sizes(X, levels, resp, family, extra$n)
  objective
}

# A typical magnitude of each parameter, from the scales of the covariates
# (and of the response for the gaussian family): it sets the optimizer's
# scaling and the finite-difference steps of the Hessian, so that a covariate
# measured in millions is handled like one measured in units.
typical_sizes <- function(X, levels, resp, family, n_extra) {
  rms <- function(M) {
    r <- sqrt(diag(cpp_crossprod(M)) / nrow(M))
    ifelse(r > 0, r, 1)
  }
  s_y <- if (family$family == "gaussian" ||
             (family$family == "Gamma" && family$link == "identity")) {
    sd_y <- stats::sd(resp$y)
    if (is.finite(sd_y) && sd_y > 0) sd_y else 1
  } else if (family$family == "Gamma" && family$link == "inverse") {
    1 / mean(resp$y)
  } else 1
  theta <- lapply(levels, function(l) (s_y / rms(l$Z))[row(l$pattern)[l$pattern]])
  c(s_y / rms(X), unlist(theta), rep(1, n_extra))
}

# The log-likelihood as a function of par = (beta, theta_1, ..., theta_L, psi)
# (levels innermost first), with its exact gradient and, on request, the
# per-top-cluster scores (rows sum to the gradient); psi is log(sigma) for the
# gaussian family.
make_objective <- function(model, p, patterns, extra, constant, engine_eval = cpp_model_eval) {
  nt <- vapply(patterns, sum, 1L)
  ne <- extra$n
  theta_end <- p + cumsum(nt)
  unpack <- function(par) {
    lambda <- lapply(seq_along(patterns), function(l) {
      theta_to_lambda(par[theta_end[l] - nt[l] + seq_len(nt[l])], patterns[[l]])
    })
    list(beta = par[seq_len(p)], lambda = lambda, psi = par[p + sum(nt) + seq_len(ne)])
  }
  # Columns of the engine's score matrix that hold the free entries of Lambda.
  free_cols <- unlist(lapply(seq_along(patterns), function(l) {
    p + sum(nrow_sq(patterns)[seq_len(l - 1)]) + which(patterns[[l]])
  }))
  # The engine's evaluation: the model's own, or the shards' (R/shard.R).
  evaluate <- function(beta, lambda, psi, gradient, scores) {
    engine_eval(model, beta, lambda, psi, gradient, scores)
  }
  loglik <- function(par, gradient = FALSE, scores = FALSE) {
    u <- unpack(par)
    psi <- extra$to_engine(u$psi)
    r <- evaluate(u$beta, u$lambda, psi, gradient || scores, scores)
    value <- r$loglik + constant
    ok <- r$n_fail == 0
    if (gradient) {
      attr(value, "gradient") <- if (ok) {
        c(r$grad_beta, unlist(Map(function(g, pat) g[pat], r$grad_lambda, patterns)),
          extra$chain(u$psi, r$grad_psi))
      } else {
        rep(NA_real_, length(par))
      }
    }
    # Factor loadings (R/latent.R): their gradient and scores, for its wrapper.
    if (ok && !is.null(r$grad_loading)) {
      attr(value, "grad_loading") <- r$grad_loading
      if (scores) {
        attr(value, "loading_scores") <- r$scores[, p + sum(nrow_sq(patterns)) +
                                                    seq_along(r$grad_loading), drop = FALSE]
      }
    }
    if (scores && ok) {
      S <- r$scores
      psi_cols <- ncol(S) - ne + seq_len(ne)
      psi_part <- matrix(0, nrow(S), ne)
      for (k in seq_len(nrow(S))) psi_part[k, ] <- extra$chain(u$psi, S[k, psi_cols])
      attr(value, "scores") <- cbind(S[, c(seq_len(p), free_cols), drop = FALSE], psi_part)
    }
    value
  }
  # The observed information by Louis' identity at the adapted nodes
  # (src/cluster_hessian.cpp) from an engine function(beta, lambda, psi,
  # points) that returns it in the engine's score space (NULL where a mode
  # search failed): louis(par, points) in that space (for R/latent.R) and
  # hessian(par, points) on par; both NULL without such an engine.
  index <- c(seq_len(p), free_cols)
  information_from <- function(engine) {
    if (is.null(engine)) return(list(louis = NULL, hessian = NULL))
    louis <- function(par, points) {
      u <- unpack(par)
      engine(u$beta, u$lambda, extra$to_engine(u$psi), points)
    }
    list(louis = louis, hessian = function(par, points) {
      H <- louis(par, points)
      if (!is.null(H)) H[index, index, drop = FALSE]
    })
  }
  # (its matrices are dense: not for thousands of fixed effects)
  own <- if (identical(engine_eval, cpp_model_eval) && !is.null(model) &&
             p + sum(nrow_sq(patterns)) <= 2000 && cpp_model_has_louis(model)) {
    function(beta, lambda, psi, points) cpp_model_louis(model, beta, lambda, psi, points)$hessian
  }
  information <- information_from(own)
  list(loglik = loglik, unpack = unpack, model = model, beta_to_engine = identity, p = p,
       louis = information$louis, hessian = information$hessian,
       information_from = information_from,
       score_index = index, loading_col = p + sum(nrow_sq(patterns)),
       set_evaluator = function(f) evaluate <<- f,
       n_theta = sum(nt),
       n_theta_level = nt, n_extra = ne, extra = extra, patterns = patterns)
}

nrow_sq <- function(patterns) vapply(patterns, function(x) nrow(x)^2, 1)
