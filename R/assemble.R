# Assembling the glamm object from the optimum: estimates, observed
# information, variance components with delta-method SEs, empirical Bayes
# predictions of the random effects and the optimizer's record.

assemble_fit <- function(objective, opt, X, Z, group, resp, offset, family, nAGQ, pattern,
                         control) {
  p <- ncol(X)
  nt <- objective$n_theta
  ne <- objective$n_extra
  par <- opt$par
  extra <- objective$extra
  gaussian <- family$family == "gaussian"
  par_names <- c(colnames(X), paste0("theta", seq_len(nt)), extra$names)
  names(par) <- par_names
  at_bound <- par <= opt$lower & is.finite(opt$lower)

  if (control$hessian) {
    H <- opt$hessian
    inv <- invert_information(H, at_bound)
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
  dimnames(H) <- dimnames(V) <- list(par_names, par_names)
  g <- opt$gradient
  free <- !at_bound
  newton_gain <- if (all(is.finite(V[free, free]))) {
    0.5 * drop(crossprod(g[free], V[free, free] %*% g[free]))
  } else NA_real_
  converged <- if (is.finite(newton_gain)) newton_gain < control$grad.tol else opt$convergence == 0
  if (!converged) {
    warning(sprintf(paste0("the optimizer did not converge (%s; max |gradient| = %.2g); ",
                           "the estimates may be unreliable"), opt$message,
                    max(abs(g[free]))), call. = FALSE)
  }

  beta <- par[seq_len(p)]
  theta <- unname(par[p + seq_len(nt)])
  lambda <- theta_to_lambda(theta, pattern)
  cn <- colnames(Z)
  Sigma <- tcrossprod(lambda)
  dimnames(Sigma) <- list(cn, cn)
  sigma <- if (gaussian) exp(unname(par[p + nt + 1])) else 1
  psi <- unname(par[p + nt + seq_len(ne)])

  # Variance components: variances and covariances (and the residual variance).
  vc_fun <- function(x) c(theta_to_varcov(x[seq_len(nt)], pattern), if (gaussian) exp(2 * x[nt + 1]))
  vc_idx <- p + seq_len(nt + gaussian)
  vc_est <- vc_fun(par[vc_idx])
  J <- numeric_jacobian(vc_fun, par[vc_idx])
  vc_se <- sqrt(pmax(diag(J %*% V[vc_idx, vc_idx, drop = FALSE] %*% t(J)), 0))
  # A variance estimated at zero (and its covariances) has no Wald SE.
  zero_var <- diag(Sigma) <= 1e-12 * max(1, diag(Sigma))
  on_zero <- outer(zero_var, zero_var, "|")[lower.tri(Sigma, diag = TRUE)]
  vc_se[seq_along(on_zero)][on_zero] <- NA_real_
  keep_vc <- c(pattern_varcov(pattern), rep(TRUE, gaussian))
  varcomp <- data.frame(
    estimate = vc_est, std.error = vc_se,
    row.names = c(varcov_names(cn), if (gaussian) "residual"), check.names = FALSE
  )[keep_vc, , drop = FALSE]

  post <- cpp_model_posterior(objective$model, beta, lambda, extra$to_engine(psi))
  eb <- posterior_on_b_scale(post, lambda, levels(group), cn)

  list(
    coefficients = beta,
    vcov_beta = V[seq_len(p), seq_len(p), drop = FALSE],
    theta = theta, lambda = lambda, pattern = pattern, Sigma = Sigma, sigma = sigma,
    thresholds = thresholds_table(extra, psi, V[p + nt + seq_len(ne), p + nt + seq_len(ne),
                                                drop = FALSE]),
    levels = resp$levels,
    varcomp = varcomp, par = par, vcov_par = V, hessian = H,
    loglik = opt$loglik, df = length(par), nobs = nrow(X), ngroups = nlevels(group),
    family = family, nAGQ = nAGQ, method = "ML", ranef = eb,
    data = list(X = X, Z = Z, group = group, y = resp$y, trials = resp$trials,
                weights = resp$weights, offset = offset, constant = resp$constant),
    optinfo = list(optimizer = "nlminb", convergence = opt$convergence, message = opt$message,
                   iterations = opt$iterations, evaluations = opt$evaluations,
                   gradient = setNames(g, par_names), newton_gain = newton_gain,
                   converged = converged, at_bound = setNames(at_bound, par_names),
                   nthreads = control$nthreads),
    control = control
  )
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

# Empirical Bayes predictions b = Lambda u: posterior means and covariances
# (by AGHQ) and posterior modes, one row per cluster.
posterior_on_b_scale <- function(post, lambda, group_levels, cn) {
  q <- nrow(lambda)
  mean <- post$mean %*% t(lambda)
  mode <- post$mode %*% t(lambda)
  to_b <- function(flat) {
    out <- array(0, c(q, q, nrow(flat)), dimnames = list(cn, cn, group_levels))
    for (j in seq_len(nrow(flat))) out[, , j] <- lambda %*% matrix(flat[j, ], q, q) %*% t(lambda)
    out
  }
  dimnames(mean) <- dimnames(mode) <- list(group_levels, cn)
  list(mean = mean, mode = mode, cov = to_b(post$cov), mode_cov = to_b(post$mode_cov),
       cluster_loglik = setNames(post$loglik, group_levels))
}
