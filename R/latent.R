# Factor loadings (galamm's interface): a latent variable (a factor) is a
# column of ones in the data, used in random-effect terms such as
# (0 + ability | person) and in fixed terms such as x:ability (the latent
# regression). Every design column that involves a factor is multiplied, on
# row i, by the loading lambda[j(i), f] of row i's level j(i) of the loading
# variable (load.var). The loading matrix has one row per level of load.var
# and one column per factor; fixed entries are numbers, free ones NA. The
# engine multiplies the columns (src/loadings.h); here are the parsing, the
# identification checks and the objective with the free loadings appended to
# the parameter vector (after the family's extra parameters).

# The user's arguments, checked before the model frame is built.
latent_arguments <- function(factor, load.var, lambda, data) {
  if (is.null(factor)) {
    if (!is.null(load.var) || !is.null(lambda)) {
      stop("'load.var' and 'lambda' need 'factor' (the names of the latent variables)",
           call. = FALSE)
    }
    return(NULL)
  }
  if (is.list(factor)) factor <- unlist(factor)
  if (!is.character(factor) || !length(factor) || anyNA(factor) || anyDuplicated(factor)) {
    stop("'factor' must name the latent variables (distinct character strings)", call. = FALSE)
  }
  if (!is.data.frame(data)) {
    stop("factor loadings need 'data' (a data frame holding 'load.var')", call. = FALSE)
  }
  in_data <- factor[factor %in% names(data)]
  if (length(in_data)) {
    stop(sprintf("the factor '%s' is a column of 'data': a latent variable must not be in the data",
                 in_data[1]), call. = FALSE)
  }
  if (!is.character(load.var) || length(load.var) != 1) {
    stop("'load.var' must name one variable of 'data' (whose levels get the loadings)",
         call. = FALSE)
  }
  if (!load.var %in% names(data)) {
    stop(sprintf("'load.var' (\"%s\") is not a variable of 'data'", load.var), call. = FALSE)
  }
  if (is.null(lambda)) stop("'lambda' must give the loadings (numbers fixed, NA free)", call. = FALSE)
  lambda <- as.matrix(lambda)
  if (!is.numeric(lambda) && !all(is.na(lambda))) {
    stop("'lambda' must be numeric (numbers fix loadings, NA frees them)", call. = FALSE)
  }
  storage.mode(lambda) <- "double"
  if (ncol(lambda) != length(factor)) {
    stop(sprintf("'lambda' has %d column(s) but there are %d factor(s): one column per factor",
                 ncol(lambda), length(factor)), call. = FALSE)
  }
  if (any(!is.na(lambda) & !is.finite(lambda))) {
    stop("the fixed loadings in 'lambda' must be finite", call. = FALSE)
  }
  colnames(lambda) <- factor
  list(factor = factor, load.var = load.var, lambda = lambda)
}

# glamm.fit()'s loadings = list(factor, level, lambda), checked.
latent_fit_spec <- function(loadings, n) {
  if (!is.list(loadings) || is.null(loadings$level)) {
    stop("'loadings' must be list(factor = , level = , lambda = )", call. = FALSE)
  }
  if (length(loadings$level) != n || anyNA(loadings$level)) {
    stop("'loadings$level' must give the level of the loading variable of every observation ",
         "(no missing values)", call. = FALSE)
  }
  lv <- loadings$load.var %||% "level"
  columns <- data.frame(numeric(0))
  names(columns) <- lv
  latent_arguments(loadings$factor, lv, loadings$lambda, columns)
}

# The data with a column of ones for each factor.
add_factor_columns <- function(data, spec) {
  for (f in spec$factor) data[[f]] <- rep(1, nrow(data))
  data
}

# A formula whose model frame also holds load.var.
frame_formula_with <- function(formula, variable) {
  rhs <- call("+", formula[[3]], as.name(variable))
  out <- formula
  out[[3]] <- rhs
  out
}

# The factor (index in factors) of each design column, 0 when none: a column
# belongs to the factor named by one of the parts of its name (x:ability).
column_factors <- function(names, factors, what) {
  vapply(names, function(nm) {
    hit <- which(factors %in% strsplit(nm, ":", fixed = TRUE)[[1]])
    if (length(hit) > 1) {
      stop(sprintf("the %s column '%s' involves two factors: each column may carry one loading",
                   what, nm), call. = FALSE)
    }
    if (length(hit)) hit else 0L
  }, 1L, USE.NAMES = FALSE)
}

# The loading map of a model: from the loading variable (per row), the fixed design X
# and the random-effect levels. Checks that every factor is in a random term
# and has a fixed non-zero loading.
latent_map <- function(spec, item, X, levels) {
  item <- as.factor(item)
  lambda <- spec$lambda
  if (nrow(lambda) != nlevels(item)) {
    stop(sprintf(paste0("'lambda' has %d row(s) but '%s' has %d level(s) in the data: one ",
                        "loading per level (numbers fixed, NA free)"),
                 nrow(lambda), spec$load.var, nlevels(item)), call. = FALSE)
  }
  rownames(lambda) <- levels(item)
  z_factor <- lapply(levels, function(l) column_factors(colnames(l$Z), spec$factor, "random-effect"))
  x_factor <- column_factors(colnames(X), spec$factor, "fixed-effect")
  in_random <- unique(unlist(z_factor))
  for (k in seq_along(spec$factor)) {
    f <- spec$factor[k]
    if (!k %in% in_random) {
      stop(sprintf(paste0("the factor '%s' is not in a random-effect term of the formula: ",
                          "add e.g. (0 + %s | person)"), f, f), call. = FALSE)
    }
    fixed <- lambda[!is.na(lambda[, k]), k]
    if (!any(fixed != 0)) {
      stop(sprintf(paste0("the factor '%s' has no fixed non-zero loading: with its variance ",
                          "free, its scale is not identified; fix one loading (galamm's ",
                          "convention: the first to 1, lambda = c(1, NA, ...))"), f),
           call. = FALSE)
    }
  }
  free <- which(is.na(lambda))
  list(factor = spec$factor, load.var = spec$load.var, lambda = lambda, item = item,
       row_level = as.integer(item), x_factor = x_factor, z_factor = z_factor,
       free = free, names = free_loading_names(lambda, free))
}

free_loading_names <- function(lambda, free) {
  if (!length(free)) return(character(0))
  paste0("lambda_", colnames(lambda)[col(lambda)[free]], "_", rownames(lambda)[row(lambda)[free]])
}

# The loading matrix from the free loadings.
loading_matrix <- function(map, values) {
  L <- map$lambda
  L[map$free] <- values
  L
}

# Adds the free loadings to an objective (R/objective-build.R), at the end of
# the parameter vector: par = (beta, theta, psi, lambda_free). The engine
# holds the loading map; each evaluation sets the loading values first.
latent_objective <- function(objective, map, tree) {
  sparse <- isTRUE(objective$sparse)
  ord <- if (sparse) NULL else tree$order
  row_level <- if (is.null(ord)) map$row_level else map$row_level[ord]
  cpp_set_loading_map(objective$model, sparse, row_level - 1L, map$x_factor - 1L,
                      lapply(map$z_factor, function(f) f - 1L), nrow(map$lambda),
                      ncol(map$lambda))
  nf <- length(map$free)
  base <- objective
  ne <- base$n_extra
  set_values <- function(values) {
    cpp_set_loadings(base$model, sparse, loading_matrix(map, values))
  }
  split <- function(par) {
    n <- length(par)
    list(base = par[seq_len(n - nf)], loading = par[n - nf + seq_len(nf)])
  }
  objective$loglik <- function(par, gradient = FALSE, scores = FALSE) {
    s <- split(par)
    set_values(s$loading)
    value <- base$loglik(s$base, gradient, scores)
    g_loading <- attr(value, "grad_loading")
    attr(value, "grad_loading") <- NULL
    if (gradient) {
      g <- attr(value, "gradient")
      attr(value, "gradient") <- c(g, if (anyNA(g)) rep(NA_real_, nf) else g_loading[map$free])
    }
    S_loading <- attr(value, "loading_scores")
    attr(value, "loading_scores") <- NULL
    if (!is.null(attr(value, "scores"))) {
      attr(value, "scores") <- cbind(attr(value, "scores"), S_loading[, map$free, drop = FALSE])
    }
    value
  }
  # The information (R/objective-build.R) with the free loadings' rows.
  if (!is.null(base$louis)) {
    index <- c(base$score_index, base$loading_col + map$free)
    objective$hessian <- function(par, points) {
      s <- split(par)
      set_values(s$loading)
      H <- base$louis(s$base, points)
      if (!is.null(H)) H[index, index, drop = FALSE]
    }
  }
  objective$posterior <- function(beta, lambda, psi) {
    s <- split(psi)
    set_values(s$loading)
    base$posterior(beta, lambda, s$base)
  }
  objective$unpack <- function(par) {
    s <- split(par)
    out <- base$unpack(s$base)
    out$psi <- c(out$psi, s$loading)
    out
  }
  extra <- base$extra
  objective$extra <- list(
    n = ne + nf, names = c(extra$names, map$names),
    to_engine = function(psi) c(extra$to_engine(psi[seq_len(ne)]), psi[ne + seq_len(nf)]),
    chain = function(psi, g) c(extra$chain(psi[seq_len(ne)], g[seq_len(ne)]), g[ne + seq_len(nf)]),
    labels = extra$labels)
  objective$n_extra <- ne + nf
  objective$typsize <- c(base$typsize, rep(1, nf))
  objective$latent <- map
  objective
}


# The loaded design columns of X (or a level's Z): each column of a factor
# times the loading of its row's level.
load_columns <- function(M, factor_of_col, lambda, row_level) {
  for (c in which(factor_of_col > 0)) M[, c] <- M[, c] * lambda[row_level, factor_of_col[c]]
  M
}

# The estimated loading matrix of a fit and the table of the loadings (free
# ones with SEs) that summary() prints.
latent_result <- function(fit, map) {
  par <- fit$par
  est <- unname(par[map$names])
  lambda <- loading_matrix(map, est)
  se <- matrix(NA_real_, nrow(lambda), ncol(lambda), dimnames = dimnames(lambda))
  se[map$free] <- sqrt(pmax(diag(fit$vcov_par)[map$names], 0))
  table <- do.call(rbind, lapply(seq_len(ncol(lambda)), function(k) {
    data.frame(factor = colnames(lambda)[k], level = rownames(lambda), estimate = lambda[, k],
               std.error = se[, k], fixed = !is.na(map$lambda[, k]), stringsAsFactors = FALSE)
  }))
  rownames(table) <- NULL
  list(factor = map$factor, load.var = map$load.var, lambda = lambda, lambda_se = se,
       lambda_spec = map$lambda, free = map$free, names = map$names, row_level = map$row_level,
       x_factor = map$x_factor, z_factor = map$z_factor, loadings = table)
}

# Refuses what loadings do not support yet, naming the cause.
check_latent_fit <- function(family, method, REML, survey, control) {
  if (method != "ML") stop("factor loadings need method = \"ML\"", call. = FALSE)
  if (REML) stop("REML is not available with factor loadings; use REML = FALSE", call. = FALSE)
  if (!is.null(survey)) {
    stop("survey weights (pweights) are not available with factor loadings yet", call. = FALSE)
  }
  if (family$family == "ordinal") {
    stop("factor loadings are not available for the ordinal family yet", call. = FALSE)
  }
  if (!is.null(control$cluster)) {
    stop("factor loadings are not available with a cluster of workers (glamm_control(cluster =))",
         call. = FALSE)
  }
}

# The loading map of a fit (for its objective), with the levels in the order given.
latent_map_of_fit <- function(object, levels) {
  lt <- object$latent
  list(factor = lt$factor, load.var = lt$load.var, lambda = lt$lambda_spec,
       row_level = lt$row_level, x_factor = lt$x_factor, z_factor = lt$z_factor[names(levels)],
       free = lt$free, names = lt$names)
}

# A fit's X with its loaded columns multiplied by the estimated loadings.
loaded_fixed_design <- function(object, X) {
  lt <- object$latent
  if (is.null(lt)) return(X)
  load_columns(X, lt$x_factor, lt$lambda, lt$row_level)
}

# A fit's levels (each with Z) with the loaded columns multiplied.
loaded_level_designs <- function(object, groups) {
  lt <- object$latent
  if (is.null(lt)) return(groups)
  for (l in names(groups)) {
    groups[[l]]$Z <- load_columns(groups[[l]]$Z, lt$z_factor[[l]], lt$lambda, lt$row_level)
  }
  groups
}

# A warning when the loadings or a factor's variance run off: the largest
# discrimination |lambda_j| sd_f beyond 20 (on the logit scale a step
# function). With the Laplace approximation this is often its lack of an
# interior maximum (binary items, few per person), which quadrature does not
# share.
warn_latent_runoff <- function(fit, nAGQ) {
  lt <- fit$latent
  largest <- max(vapply(seq_along(lt$factor), function(k) {
    sd_f <- factor_sd_function(fit, lt$factor[k])(fit$par)
    max(abs(lt$lambda[, k])) * sd_f
  }, 0))
  if (!is.finite(largest) || largest <= 20) return(invisible())
  if (all(nAGQ == 1)) {
    warning(sprintf(paste0("the Laplace approximation has no interior maximum here: the factor ",
                           "loadings or the factor variance run off (largest |loading| x factor ",
                           "SD = %.3g); fit by adaptive quadrature (nAGQ > 1), which does not ",
                           "share this bias"), largest), call. = FALSE)
  } else {
    warning(sprintf(paste0("the factor loadings or the factor variance run off (largest ",
                           "|loading| x factor SD = %.3g): the data hardly identify the ",
                           "loadings (a Heywood case); fix some loadings or use more items"),
                    largest), call. = FALSE)
  }
}
