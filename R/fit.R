# The matrix-level fitter: start values, the call into C++, the optimizer,
# the observed information and the assembly of the result.

#' Fit a two-level GLMM from matrices
#'
#' The engine under [glamm()]: the same fit from a response, a fixed-effects
#' design `X`, a random-effects design `Z` and a grouping factor. Use it to fit
#' many models with designs built once, or from other front ends.
#'
#' @param y response: a numeric vector; for the binomial family also 0/1,
#'   a factor, proportions with `weights` as trials, or a two-column matrix
#'   `cbind(successes, failures)`; for the [ordinal()] family an (ordered)
#'   factor.
#' @param X fixed-effects design matrix (n x p, with column names).
#' @param Z random-effects design matrix (n x q, with column names).
#' @param group grouping factor (length n); each level is one cluster.
#' @param family a family object: `binomial` (logit, probit, cloglog),
#'   `poisson` (log), `gaussian` (identity) or [ordinal()] (then `X` has no
#'   intercept column: the thresholds take its place).
#' @param nAGQ quadrature points per random effect; 1 is the Laplace
#'   approximation. `NULL` chooses 15, 11, 7 and 5 points for 1, 2, 3 and more
#'   random effects (1 for the gaussian family, where it is exact).
#' @param weights prior weights (for the binomial family with proportions,
#'   the numbers of trials).
#' @param offset a known component of the linear predictor.
#' @param pattern q x q logical matrix of the free entries of the
#'   lower-triangular factor `Lambda` of the random-effect covariance
#'   `Sigma = Lambda Lambda'`; default: a full covariance matrix.
#' @param start optional named list with elements `beta`, `theta` (the free
#'   entries of `Lambda`, column-major) and, for the gaussian family, `sigma`.
#' @param control settings from [glamm_control()].
#' @param method `"ML"` (maximum likelihood by adaptive quadrature or
#'   Laplace) or `"PQL"` (penalized quasi-likelihood, for comparison with
#'   older software; see [glamm()]).
#' @return An object of class `glamm` (see [glamm()] for its components).
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' X <- model.matrix(~ female + SES, d)
#' Z <- matrix(1, nrow(d), 1, dimnames = list(NULL, "(Intercept)"))
#' fit <- glamm.fit(d$pass_read, X, Z, factor(d$id_school), family = binomial())
#' fixef(fit)
#' @export
glamm.fit <- function(y, X, Z, group, family = gaussian(), nAGQ = NULL, weights = NULL,
                      offset = NULL, pattern = NULL, start = NULL,
                      control = glamm_control(), method = c("ML", "PQL")) {
  family <- resolve_family(family)
  method <- match.arg(method)
  X <- as_design(X, "X")
  Z <- as_design(Z, "Z")
  n <- nrow(X)
  q <- ncol(Z)
  if (nrow(Z) != n || NROW(y) != n || length(group) != n) {
    stop("'y', 'X', 'Z' and 'group' must have the same number of observations", call. = FALSE)
  }
  if (anyNA(group)) stop("the grouping factor has missing values", call. = FALSE)
  group <- droplevels(as.factor(group))
  if (nlevels(group) < 2) {
    stop("the grouping factor has a single level: a random-effect variance cannot be ",
         "estimated from one cluster; fit a model without random effects (glm)", call. = FALSE)
  }
  if (is.null(offset)) offset <- rep(0, n)
  if (length(offset) != n || any(!is.finite(offset))) {
    stop("'offset' must be finite, with one value per observation", call. = FALSE)
  }
  if (q > 10) {
    stop(sprintf("%d random effects per cluster: at most 10 are supported", q), call. = FALSE)
  }
  if (is.null(nAGQ)) nAGQ <- default_nagq(family, q)
  if (!is.numeric(nAGQ) || length(nAGQ) != 1 || !is.finite(nAGQ) || nAGQ < 1 ||
      nAGQ != round(nAGQ)) {
    stop("'nAGQ' must be a whole number >= 1 (1 is the Laplace approximation)", call. = FALSE)
  }
  nAGQ <- as.integer(nAGQ)
  if (nAGQ^q > 1e6) {
    stop(sprintf("nAGQ = %d with %d random effects needs %.3g quadrature points per cluster; ",
                 nAGQ, q, nAGQ^q), "use fewer points", call. = FALSE)
  }
  if (!inherits(control, "glamm_control")) control <- do.call(glamm_control, as.list(control))
  if (is.null(pattern)) pattern <- lower.tri(diag(q), diag = TRUE)
  if (method == "PQL") {
    if (!family$family %in% c("binomial", "poisson")) {
      stop("PQL is for binomial and poisson responses", call. = FALSE)
    }
    return(structure(pql_fit(y, X, Z, group, family, weights, offset, pattern, control),
                     class = "glamm"))
  }
  resp <- prepare_response(y, family, weights)
  check_variation(resp, family)
  if (family$family == "binomial" && all(resp$trials <= 1) && nlevels(group) == n) {
    warning("every cluster has a single binary observation: an observation-level random ",
            "effect is not identified for binary responses (binary data cannot be ",
            "overdispersed); its variance is estimated only through the link function",
            call. = FALSE)
  }

  objective <- build_objective(X, Z, group, resp, offset, family, nAGQ, pattern, control)
  par0 <- start_values(resp, X, Z, offset, family, pattern, start, objective)
  lower <- c(rep(-Inf, ncol(X)), ifelse(theta_is_diagonal(pattern), 0, -Inf),
             rep(-Inf, objective$n_extra))
  opt <- optimize_loglik(objective, par0, lower, control)
  if (control$hessian) opt <- newton_polish(objective, opt, control)
  structure(
    assemble_fit(objective, opt, X, Z, group, resp, offset, family, nAGQ, pattern, control),
    class = "glamm"
  )
}

# A response without variation has its maximum likelihood at infinity
# (binomial, poisson) or a zero residual variance (gaussian).
check_variation <- function(resp, family) {
  used <- resp$weights > 0 & resp$trials > 0
  y <- resp$y[used]
  n <- resp$trials[used]
  what <- switch(family$family,
    binomial = if (all(y == 0)) "all failures" else if (all(y == n)) "all successes",
    poisson = if (all(y == 0)) "all counts 0",
    gaussian = ,
    ordinal = if (length(unique(y)) < 2) "a constant response"
  )
  if (!is.null(what)) {
    stop(sprintf("the response has no variation (%s): the model cannot be estimated", what),
         call. = FALSE)
  }
}

as_design <- function(M, name) {
  if (!is.matrix(M) || !is.numeric(M)) stop(sprintf("'%s' must be a numeric matrix", name), call. = FALSE)
  if (any(!is.finite(M))) stop(sprintf("'%s' has missing or non-finite values", name), call. = FALSE)
  if (is.null(colnames(M))) colnames(M) <- paste0(name, seq_len(ncol(M)))
  storage.mode(M) <- "double"
  strip_rownames(M)
}

# Row names of a design (n strings) cost more memory than its numbers.
strip_rownames <- function(M) {
  if (!is.null(rownames(M))) rownames(M) <- NULL
  M
}

# The engine's model object for the data (rows sorted by cluster: each cluster
# is a contiguous block) and the log-likelihood as a function of the
# parameters.
build_objective <- function(X, Z, group, resp, offset, family, nAGQ, pattern, control) {
  starts <- c(0L, cumsum(tabulate(group, nlevels(group))))  # 0-based starts for C++
  codes <- family_codes(family)
  # Data already sorted by cluster are passed as they are (no copy of X).
  sorted <- !is.unsorted(as.integer(group))
  ord <- if (sorted) NULL else order(group)
  rows <- function(v) if (sorted) v else if (is.matrix(v)) v[ord, , drop = FALSE] else v[ord]
  model <- cpp_model_new(rows(X), rows(Z), rows(resp$y), rows(resp$trials), rows(resp$weights),
                         rows(as.numeric(offset)), as.integer(starts), codes[["family"]],
                         codes[["link"]], length(resp$levels), nAGQ, control$nthreads,
                         control$mode.tol, control$mode.maxit)
  extra <- extra_parameters(family, resp$levels)
  objective <- make_objective(model, ncol(X), pattern, extra, resp$constant)
  objective$typsize <- typical_sizes(X, Z, resp, family, pattern, extra$n)
  objective
}

# A typical magnitude of each parameter, from the scales of the covariates
# (and of the response for the gaussian family): it sets the optimizer's
# scaling and the finite-difference steps of the Hessian, so that a covariate
# measured in millions is handled like one measured in units.
typical_sizes <- function(X, Z, resp, family, pattern, n_extra) {
  rms <- function(M) {
    r <- sqrt(colMeans(M^2))
    ifelse(r > 0, r, 1)
  }
  s_y <- if (family$family == "gaussian") {
    sd_y <- stats::sd(resp$y)
    if (is.finite(sd_y) && sd_y > 0) sd_y else 1
  } else 1
  theta_row <- row(pattern)[pattern]
  c(s_y / rms(X), (s_y / rms(Z))[theta_row], rep(1, n_extra))
}

# The log-likelihood as a function of par = (beta, theta, psi), with its exact
# gradient; psi is log(sigma) for the gaussian family.
make_objective <- function(model, p, pattern, extra, constant) {
  nt <- sum(pattern)
  ne <- extra$n
  unpack <- function(par) {
    list(beta = par[seq_len(p)], lambda = theta_to_lambda(par[p + seq_len(nt)], pattern),
         psi = par[p + nt + seq_len(ne)])
  }
  loglik <- function(par, gradient = FALSE) {
    u <- unpack(par)
    r <- cpp_model_eval(model, u$beta, u$lambda, extra$to_engine(u$psi), gradient)
    value <- r$loglik + constant
    if (gradient) {
      attr(value, "gradient") <- if (r$n_fail == 0) {
        c(r$grad_beta, r$grad_lambda[pattern], extra$chain(u$psi, r$grad_psi))
      } else {
        rep(NA_real_, length(par))
      }
    }
    value
  }
  list(loglik = loglik, unpack = unpack, model = model, p = p, n_theta = nt, n_extra = ne,
       extra = extra)
}

start_values <- function(resp, X, Z, offset, family, pattern, start, objective) {
  # The GLM start needs no more than an evenly spread subset of a large data set.
  rows <- if (nrow(X) > 50000) round(seq(1, nrow(X), length.out = 50000)) else seq_len(nrow(X))
  ok <- resp$trials[rows] > 0
  yy <- ifelse(ok, resp$y[rows] / ifelse(ok, resp$trials[rows], 1), 0)
  if (family$family == "ordinal") {
    beta <- stats::setNames(rep(0, ncol(X)), colnames(X))
  } else {
    g <- suppressWarnings(glm.fit(X[rows, , drop = FALSE], yy,
                                  weights = (resp$trials * resp$weights)[rows],
                                  offset = offset[rows], family = family))
    beta <- g$coefficients
    beta[is.na(beta)] <- 0
  }
  sigma <- if (family$family == "gaussian") {
    sqrt(sum(resp$weights[rows] * g$residuals^2) / length(yy))
  } else 1
  scale <- apply(Z, 2, function(z) if (stats::sd(z) > 0) stats::sd(z) else 1)
  lambda <- diag(0.5 * sigma / scale, ncol(Z))
  if (family$family == "gaussian") lambda <- lambda / sqrt(2)
  theta <- lambda_to_theta(lambda, pattern)
  if (!is.null(start)) {
    if (!is.list(start)) {
      stop("'start' must be a list with elements beta, theta and (gaussian) sigma, ",
           "or a glamm fit", call. = FALSE)
    }
    set <- function(current, value, name) {
      if (is.null(value)) return(current)
      if (!is.numeric(value) || length(value) != length(current) || any(!is.finite(value))) {
        stop(sprintf("start$%s must hold %d finite number(s)", name, length(current)),
             call. = FALSE)
      }
      value
    }
    beta[] <- set(beta, start$beta, "beta")
    theta[] <- set(theta, start$theta, "theta")
    if (family$family == "gaussian") sigma <- set(sigma, start$sigma, "sigma")
  }
  c(beta, theta, start_extra(family, resp, sigma))
}
