#' The log-likelihood of a fitted model as a function of its parameters
#'
#' Returns the function that the fit maximized: the log-likelihood (with all
#' normalizing constants) by adaptive quadrature with `nAGQ` points per random
#' effect, or the Laplace approximation for `nAGQ = 1`, of the fit's model and
#' data, as a function of the parameter vector `par = c(beta, theta, log(sigma))`:
#' the fixed effects, the free entries of the lower-triangular factor
#' `Lambda` of the random-effect covariance `Sigma = Lambda Lambda'`
#' (column-major; `fit$par` shows the layout), and for the gaussian family the
#' log residual SD, for `Gamma` the log shape (glmmTMB's dispersion
#' parameter; `sigma = 1/sqrt(shape)`), for [nbinom2()] `log(theta)`, for the
#' [ordinal()] family the first threshold and the logs of the differences
#' between successive thresholds. With `gradient = TRUE` the exact gradient
#' is attached as attribute `"gradient"`. With `theta = 0` (no random-effect variance) the
#' value equals the log-likelihood of the corresponding `glm`.
#'
#' @param object a `glamm` fit.
#' @param nAGQ quadrature points per random effect (default: the fit's).
#' @return A function `f(par, gradient = FALSE)`.
#' @examples
#' fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000,
#'              family = binomial, nAGQ = 7)
#' f <- loglik_function(fit)
#' f(fit$par) - logLik(fit)          # 0: the maximum
#' g <- glm(pass_read ~ female, data = pisa2000, family = binomial)
#' f(c(coef(g), 0)) - logLik(g)      # 0: at zero variance, the glm
#' @export
loglik_function <- function(object, nAGQ = object$nAGQ) {
  objective <- fit_objective(object, nAGQ)
  npar <- length(object$par)
  function(par, gradient = FALSE) {
    if (length(par) != npar) {
      stop(sprintf("'par' must have %d values: %s", npar, paste(names(object$par), collapse = ", ")),
           call. = FALSE)
    }
    objective$loglik(as.numeric(par), gradient)
  }
}

# The engine's objective (R/fit.R make_objective) of a fit's model and data,
# with its survey weights, and the levels and their row order (tree).
fit_objective <- function(object, nAGQ = object$nAGQ) {
  dd <- fit_data(object, loaded = FALSE)
  resp <- list(y = dd$y, trials = dd$trials, weights = dd$weights, constant = dd$constant,
               levels = object$levels)
  levels <- lapply(fit_level_designs(object, re_groups(object), loaded = FALSE), function(gr) {
    list(name = gr$name, group = gr$factor, factor = gr$factor, Z = gr$Z, pattern = gr$pattern)
  })
  q <- vapply(levels, function(l) ncol(l$Z), 1L)
  structure <- random_structure(levels, nAGQ, object$family, q, object$control,
                                announce = FALSE)
  tree <- structure$tree
  objective <- build_objective(dd$X, levels, resp, dd$offset, object$family, structure$nAGQ,
                               object$control, tree, survey = object$survey)
  if (!is.null(object$latent)) {
    objective <- latent_objective(objective, latent_map_of_fit(object, levels), tree)
  }
  if (isTRUE(object$REML)) objective <- reml_objective(objective)
  objective$tree <- tree
  objective$levels <- levels
  objective
}
