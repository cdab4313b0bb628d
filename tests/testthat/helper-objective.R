# Helpers for the foundation tests (gradient, glm limit, quadrature): the
# engine's log-likelihood for given data, built through the same internals
# glamm.fit() uses but without fitting, and central finite differences.

# The log-likelihood objective of a GLMM with design X, random-effect design
# Z and grouping g, evaluated by AGHQ with K points per random effect (K = 1:
# Laplace). Returns the list from glamm:::make_objective(); its loglik(par,
# gradient = TRUE) has par = c(beta, theta, log(sigma) for the gaussian).
objective_for <- function(y, X, Z, g, family, K, weights = NULL, offset = NULL,
                          pattern = NULL, nthreads = 1L, use_tree = FALSE) {
  g <- droplevels(as.factor(g))
  if (is.null(offset)) offset <- rep(0, nrow(X))
  if (is.null(pattern)) pattern <- lower.tri(diag(ncol(Z)), diag = TRUE)
  resp <- glamm:::prepare_response(y, family, weights)
  levels <- list(list(name = "g", group = g, factor = g, Z = Z, pattern = pattern))
  glamm:::build_objective(X, levels, resp, offset, family, as.integer(K),
                          glamm_control(nthreads = nthreads), use_tree = use_tree)
}

# The same for nested levels: re is a list of list(Z, group, pattern), and
# K one number or one per level (innermost first after sorting by size).
objective_nested <- function(y, X, re, family, K, weights = NULL, offset = NULL,
                             nthreads = 1L) {
  if (is.null(offset)) offset <- rep(0, nrow(X))
  levels <- glamm:::fit_levels(NULL, NULL, NULL, re, nrow(X))
  resp <- glamm:::prepare_response(y, family, weights)
  K <- rep_len(as.integer(K), length(levels))
  glamm:::build_objective(X, levels, resp, offset, family, K,
                          glamm_control(nthreads = nthreads))
}

# Central differences of a scalar function f at par, step h.
central_diff <- function(f, par, h = 1e-5) {
  vapply(seq_along(par), function(k) {
    e <- replace(numeric(length(par)), k, h)
    (f(par + e) - f(par - e)) / (2 * h)
  }, numeric(1))
}

# Largest error of an analytic gradient relative to max(1, |numeric|).
max_rel_err <- function(analytic, numeric) {
  max(abs(analytic - numeric) / pmax(1, abs(numeric)))
}

# Jacobian of a vector function by central differences (columns = parameters),
# h = 1e-5 (glamm's own Hessian uses 1e-4 * max(1, |par|)).
central_diff_jacobian <- function(f, par, h = 1e-5) {
  cols <- lapply(seq_along(par), function(k) {
    e <- replace(numeric(length(par)), k, h)
    (f(par + e) - f(par - e)) / (2 * h)
  })
  do.call(cbind, cols)
}
