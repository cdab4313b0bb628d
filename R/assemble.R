# Assembling the glamm object from the optimum: estimates, observed
# information, variance components with delta-method SEs, empirical Bayes
# predictions of the random effects and the optimizer's record.

assemble_fit <- function(objective, opt, X, levels, parents, tree, resp, offset, family, nAGQ,
                         control, survey = NULL, REML = FALSE) {
  p <- ncol(X)
  nt <- objective$n_theta
  ne <- objective$n_extra
  par <- opt$par
  extra <- objective$extra
  gaussian <- family$family == "gaussian"
  par_names <- c(colnames(X), paste0("theta", seq_len(nt)), extra$names)
  names(par) <- par_names
  at_bound <- par <= opt$lower & is.finite(opt$lower)

  infinite <- opt$infinite %||% rep(FALSE, length(par))
  if (control$hessian) {
    H <- opt$hessian
    inv <- invert_information_mapped(opt, at_bound, infinite, p)
    V <- inv$vcov
    if (!inv$positive_definite) {
      warning("the observed information is not positive definite: the fit may not be at a ",
              "maximum, and standard errors are not available; try other start values ",
              "or a simpler random-effect structure", call. = FALSE)
    }
  } else {
    H <- matrix(NA_real_, length(par), length(par))
    V <- H
  }
  # Estimates at infinity have no standard errors (nor covariances).
  V[infinite, ] <- NA_real_
  V[, infinite] <- NA_real_
  dimnames(H) <- dimnames(V) <- list(par_names, par_names)
  V_model <- V
  weighted <- is_weighted(survey)
  if (weighted && control$hessian) {
    # Pseudo-likelihood: the sandwich, clustered at the top level (R/pweights.R).
    V <- fit_sandwich(objective, opt$par, V, tree, levels, survey$strata)
    dimnames(V) <- list(par_names, par_names)
  }
  g <- opt$gradient
  free <- !at_bound & !infinite
  newton_gain <- if (all(is.finite(V_model[free, free]))) {
    0.5 * drop(crossprod(g[free], V_model[free, free] %*% g[free]))
  } else NA_real_
  converged <- if (is.finite(newton_gain)) newton_gain < control$grad.tol else opt$convergence == 0
  if (REML && control$hessian) {
    par_internal <- c(objective$beta_to_engine(par[seq_len(p)]), unname(par[-seq_len(p)]))
    V <- reml_vcov(V, objective, par_internal, p)
    dimnames(V) <- list(par_names, par_names)
  }
  if (!converged) {
    warning(sprintf(paste0("the optimizer did not converge (%s; max |gradient| = %.2g); ",
                           "the estimates may be unreliable"), opt$message,
                    max(abs(g[free]))), call. = FALSE)
  }

  beta <- par[seq_len(p)]
  theta <- unname(par[p + seq_len(nt)])
  u <- objective$unpack(unname(par))
  # The residual SD (gaussian), the coefficient of variation 1/sqrt(shape)
  # (Gamma) or theta (nbinom2): what glmmTMB's sigma() reports.
  sigma <- if (is_mixed(family)) mixed_sigma(family, unname(par[p + nt + seq_len(ne)]))
  else switch(family$family,
    gaussian = ,
    nbinom2 = exp(unname(par[p + nt + 1])),
    Gamma = exp(-unname(par[p + nt + 1]) / 2),
    1)
  psi <- unname(par[p + nt + seq_len(ne)])
  varcomp <- variance_components(levels, objective, par, V, p, gaussian)

  post <- objective$posterior(objective$beta_to_engine(beta), u$lambda, extra$to_engine(psi))
  groups <- lapply(seq_along(levels), function(l) {
    lev <- levels[[l]]
    lambda <- u$lambda[[l]]
    cn <- colnames(lev$Z)
    Sigma <- tcrossprod(lambda)
    dimnames(Sigma) <- list(cn, cn)
    # Engine node v is the cluster tree$cluster[[l]][v + 1] of the factor.
    eb <- posterior_on_b_scale(post$levels[[l]], tree$cluster[[l]], lambda, levels(lev$group), cn)
    list(name = lev$name, factor = lev$group, Z = lev$Z, pattern = lev$pattern,
         theta = lambda_to_theta(lambda, lev$pattern),
         lambda = lambda, Sigma = Sigma, nAGQ = unname(nAGQ[l]), parent = parents[[l]],
         ranef = eb)
  })
  names(groups) <- names(levels)
  # A crossed design has one log-likelihood, not one per top-level cluster.
  top_loglik <- if (isTRUE(tree$sparse)) post$loglik else {
    stats::setNames(post$loglik, levels(levels[[length(levels)]]$group)[
      tree$cluster[[length(levels)]]])
  }

  out <- list(
    coefficients = beta,
    vcov_beta = V[seq_len(p), seq_len(p), drop = FALSE],
    theta = theta, sigma = sigma,
    thresholds = thresholds_table(extra, psi, V[p + nt + seq_len(ne), p + nt + seq_len(ne),
                                                drop = FALSE]),
    levels = resp$levels, groups = groups,
    varcomp = varcomp, par = par, vcov_par = V, hessian = H,
    loglik = opt$loglik, df = length(par), nobs = nrow(X),
    ngroups = if (length(groups) == 1) nlevels(groups[[1]]$factor) else
      vapply(groups, function(gr) nlevels(gr$factor), 1L),
    family = family, nAGQ = if (length(nAGQ) == 1) unname(nAGQ) else nAGQ, method = if (REML) "REML" else "ML", REML = REML,
    cluster_loglik = top_loglik,
    data = list(X = X, y = resp$y, trials = resp$trials, weights = resp$weights, offset = offset,
                constant = resp$constant),
    optinfo = list(optimizer = "nlminb", convergence = opt$convergence, message = opt$message,
                   iterations = opt$iterations, evaluations = opt$evaluations,
                   gradient = stats::setNames(g, par_names), newton_gain = newton_gain,
                   converged = converged, at_bound = stats::setNames(at_bound, par_names),
                   at_infinity = par_names[infinite],
                   nthreads = control$nthreads),
    control = control
  )
  if (!is.null(survey)) out$survey <- survey
  if (weighted) out$vcov_model <- V_model
  if (length(groups) == 1) out <- c(out, single_level_fields(groups[[1]]))
  out
}

# Fields of a fit with one grouping factor that the methods of the
# two-level release read (kept so that such fits look as before).
single_level_fields <- function(gr) {
  list(lambda = gr$lambda, pattern = gr$pattern, Sigma = gr$Sigma, ranef = gr$ranef)
}

# Variances and covariances of every level (and the residual variance) with
# delta-method SEs; a variance estimated at zero (and its covariances) has no
# Wald SE. Rows are named var(x), cov(x,z) for one level and
# var(x|level), cov(x,z|level) for several.
variance_components <- function(levels, objective, par, V, p, gaussian) {
  nt <- objective$n_theta
  nl <- objective$n_theta_level
  ends <- cumsum(nl)
  idx_of <- function(l) ends[l] - nl[l] + seq_len(nl[l])
  vc_fun <- function(x) {
    per_level <- lapply(seq_along(levels), function(l) {
      theta_to_varcov(x[idx_of(l)], levels[[l]]$pattern)
    })
    c(unlist(per_level), if (gaussian) exp(2 * x[nt + 1]))
  }
  vc_idx <- p + seq_len(nt + gaussian)
  est <- vc_fun(par[vc_idx])
  J <- numeric_jacobian(vc_fun, par[vc_idx])
  se <- sqrt(pmax(diag(J %*% V[vc_idx, vc_idx, drop = FALSE] %*% t(J)), 0))
  keep <- list()
  names_vc <- list()
  offset <- 0
  for (l in seq_along(levels)) {
    pat <- levels[[l]]$pattern
    lambda <- theta_to_lambda(par[p + idx_of(l)], pat)
    S <- tcrossprod(lambda)
    zero_var <- diag(S) <= 1e-12 * max(1, diag(S))
    on_zero <- outer(zero_var, zero_var, "|")[lower.tri(S, diag = TRUE)]
    k <- offset + seq_along(on_zero)
    se[k][on_zero] <- NA_real_
    keep[[l]] <- pattern_varcov(pat)
    cn <- colnames(levels[[l]]$Z)
    names_vc[[l]] <- if (length(levels) == 1) varcov_names(cn) else
      sub(")$", paste0("|", levels[[l]]$name, ")"), varcov_names(cn))
    offset <- offset + length(on_zero)
  }
  data.frame(estimate = est, std.error = se,
             row.names = c(unlist(names_vc), if (gaussian) "residual"), check.names = FALSE
  )[c(unlist(keep), rep(TRUE, gaussian)), , drop = FALSE]
}

# Ordinal thresholds with delta-method SEs (NULL for other families).
thresholds_table <- function(extra, psi, V) {
  if (is.null(extra$labels)) return(NULL)
  J <- numeric_jacobian(extra$to_engine, psi)
  data.frame(estimate = extra$to_engine(psi),
             std.error = sqrt(pmax(diag(J %*% V %*% t(J)), 0)), row.names = extra$labels)
}

# Which entries of the lower triangle of Sigma are free (not structurally 0).
pattern_varcov <- function(pattern) {
  s <- abs(tcrossprod(pattern * 1)) > 0
  s[lower.tri(s, diag = TRUE)]
}

# Empirical Bayes predictions b = Lambda u of one level: posterior means and
# covariances (by AGHQ) and posterior modes, one row per cluster in the order
# of the factor's levels (engine node v is cluster node_cluster[v + 1]).
posterior_on_b_scale <- function(post, node_cluster, lambda, group_levels, cn) {
  q <- nrow(lambda)
  J <- length(group_levels)
  place <- function(M) {
    out <- matrix(0, J, ncol(M))
    out[node_cluster, ] <- M
    out
  }
  mean <- place(post$mean) %*% t(lambda)
  mode <- place(post$mode) %*% t(lambda)
  # vec(Lambda M Lambda') = (Lambda x Lambda) vec(M), for all clusters at once.
  to_b <- function(flat) {
    array(t(place(flat) %*% t(kronecker(lambda, lambda))), c(q, q, J),
          dimnames = list(cn, cn, group_levels))
  }
  dimnames(mean) <- dimnames(mode) <- list(group_levels, cn)
  list(mean = mean, mode = mode, cov = to_b(post$cov), mode_cov = to_b(post$mode_cov))
}
