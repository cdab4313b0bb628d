# The matrix-level fitter: checks, the call into C++ (objective-build.R), start
# values (start-values.R), the optimizer and the assembly of the result.

#' Fit a GLMM from matrices
#'
#' The engine under [glamm()]: the same fit from a response, a fixed-effects
#' design `X` and the random effects, given as a design `Z` with a grouping
#' factor (one level) or as a list `re` of nested or crossed levels. Use it to fit many
#' models with designs built once, or from other front ends.
#'
#' @param y response: a numeric vector; for the binomial family also 0/1,
#'   a factor, proportions with `weights` as trials, or a two-column matrix
#'   `cbind(successes, failures)`; for the [ordinal()] family an (ordered)
#'   factor.
#' @param X fixed-effects design matrix (n x p, with column names).
#' @param Z random-effects design matrix (n x q, with column names), for one
#'   grouping factor.
#' @param group grouping factor (length n); each level is one cluster.
#' @param family a family object: `binomial` (logit, probit, cloglog),
#'   `poisson` (log), `gaussian` (identity), `Gamma` (log, inverse,
#'   identity), [nbinom2()] (log) or [ordinal()] (then `X` has no intercept
#'   column: the thresholds take its place).
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
#'   entries of `Lambda`, column-major) and, for the gaussian, Gamma and
#'   nbinom2 families, `sigma` (as in [sigma.glamm()]).
#' @param control settings from [glamm_control()].
#' @param method `"ML"` (maximum likelihood by adaptive quadrature or
#'   Laplace) or `"PQL"` (penalized quasi-likelihood, for comparison with
#'   older software; see [glamm()]).
#' @param re instead of `Z`, `group` and `pattern`: the levels of nested
#'   random effects, a list with one element per grouping factor, each
#'   `list(Z = , group = , pattern = , name = )` (`pattern` and `name`
#'   optional). When every cluster of a finer factor lies in one cluster of
#'   each coarser factor the levels are nested (adaptive quadrature);
#'   otherwise they are crossed and fitted by the Laplace approximation (see
#'   [glamm()]). `nAGQ` may then be named by the levels' names.
#' @param survey survey weights, as [glamm()] builds them from `pweights`:
#'   `list(row = , top = , node = , strata = )`, vectors with one value per
#'   observation (or `NULL`): `row` the power of each row's density, `top`
#'   the weight of its top-level cluster (constant within it), `strata` the
#'   stratum of its top-level cluster (for the sandwich covariance); `node`
#'   a list named by levels below the top, each giving the weight of the
#'   row's cluster of that level given its parent cluster (positive, constant
#'   within the cluster), the power of that cluster's integral.
#' @param REML `TRUE` for restricted maximum likelihood (gaussian family,
#'   identity link; see [glamm()]).
#' @param loadings factor loadings (see [glamm()]'s `factor`, `load.var`
#'   and `lambda`): `list(factor = , level = , lambda = )`, the names of the
#'   latent variables (design columns of `X` and `Z` named by a factor, or by
#'   an interaction `x:factor`, carry its loadings), the level of the loading
#'   variable of every row, and the loadings (a vector or a matrix with one
#'   column per factor and one row per level; numbers fixed, `NA` free).
#' @return An object of class `glamm` (see [glamm()] for its components).
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' X <- model.matrix(~ female + SES, d)
#' Z <- matrix(1, nrow(d), 1, dimnames = list(NULL, "(Intercept)"))
#' fit <- glamm.fit(d$pass_read, X, Z, factor(d$id_school), family = binomial())
#' fixef(fit)
#' # the same model with the random effects as a list of levels
#' fit2 <- glamm.fit(d$pass_read, X, family = binomial(),
#'                   re = list(list(Z = Z, group = d$id_school, name = "id_school")))
#' logLik(fit2) - logLik(fit)
#' @export
glamm.fit <- function(y, X, Z = NULL, group = NULL, family = gaussian(), nAGQ = NULL,
                      weights = NULL, offset = NULL, pattern = NULL, start = NULL,
                      control = glamm_control(), method = c("ML", "PQL"), re = NULL,
                      survey = NULL, REML = FALSE, loadings = NULL) {
  family <- resolve_family(family)
  method <- match.arg(method)
  REML <- check_reml(REML, family, method, survey)
  X <- as_design(X, "X")
  n <- nrow(X)
  levels <- fit_levels(Z, group, pattern, re, n)
  if (NROW(y) != n) {
    stop("'y', 'X', 'Z' and 'group' must have the same number of observations", call. = FALSE)
  }
  if (!is.null(offset) && (length(offset) != n || !all_finite(offset))) {
    stop("'offset' must be finite, with one value per observation", call. = FALSE)
  }
  if (!is.null(offset)) check_offset_scale(offset, family)
  q <- vapply(levels, function(l) ncol(l$Z), 1L)
  if (any(q > 10)) {
    stop(sprintf("%d random effects per cluster: at most 10 are supported", max(q)), call. = FALSE)
  }
  control <- as_glamm_control(control)
  re_structure <- random_structure(levels, nAGQ, family, q, control)
  parents <- re_structure$parents
  tree <- re_structure$tree
  nAGQ <- re_structure$nAGQ
  if (re_structure$sparse && !is.null(survey)) {
    stop("survey weights (pweights, strata) are not available for crossed random effects",
         call. = FALSE)
  }
  if (is_mixed(family) && (re_structure$sparse || !is.null(survey) ||
                           !is.null(control$cluster))) {
    stop("a family per observation (family = list(...)) is not available with crossed random ",
         "effects, survey weights or sharded data yet", call. = FALSE)
  }
  if (re_structure$sparse && family$family == "multinomial") {
    stop("the multinomial family is not available for crossed random effects yet; its ",
         "grouping factors must be nested", call. = FALSE)
  }
  if (method == "PQL") {
    if (!is.null(survey)) stop("survey weights need method = \"ML\"", call. = FALSE)
    if (!family$family %in% c("binomial", "poisson")) {
      stop("PQL is for binomial and poisson responses", call. = FALSE)
    }
    if (length(levels) > 1) {
      stop("PQL is available for one grouping factor; use method = \"ML\" for nested levels",
           call. = FALSE)
    }
    l1 <- levels[[1]]
    return(structure(pql_fit(y, X, l1$Z, l1$group, family, weights, offset %||% rep(0, n),
                             l1$pattern, control),
                     class = "glamm"))
  }
  if ((!is.null(survey$row) || !is.null(survey$top)) &&
      !any((survey$row %||% 1) * (survey$top %||% 1) > 0)) {
    stop("the survey weights (pweights) are all zero: no observation is left to fit",
         call. = FALSE)
  }
  latent <- NULL
  if (!is.null(loadings)) {
    check_latent_fit(family, method, REML, survey, control)
    latent <- latent_map(latent_fit_spec(loadings, n), loadings$level, X, levels)
  }
  # Unit trials and weights and a zero offset stay NULL (no n-vectors of 1s and 0s).
  resp <- prepare_response(y, family, weights, compact = TRUE)
  check_variation(resp, family)
  if (re_structure$sparse) warn_crossed_binary(levels, re_structure$crossed_levels, resp, family)
  inner <- levels[[1]]$group
  single_trials <- is.null(resp$trials) || max(resp$trials) <= 1
  if (family$family == "binomial" && single_trials && nlevels(inner) == n) {
    warning("every cluster has a single binary observation: an observation-level random ",
            "effect is not identified for binary responses (binary data cannot be ",
            "overdispersed); its variance is estimated only through the link function",
            call. = FALSE)
  }
  if (family$family == "gaussian" && nlevels(inner) == n) {
    stop("every cluster of ", levels[[1]]$name, " has a single observation: with the ",
         "gaussian family its random effect and the residual are not separately identified; ",
         "drop that random effect (lm) or group the observations", call. = FALSE)
  }

  scaling <- design_scaling(X, centre = family$family != "ordinal")
  # A weighted fit's sandwich (R/pweights.R) takes the scores on X's own scale.
  if (is_weighted(survey)) {
    scaling <- design_scaling(X[0, , drop = FALSE])
  }
  # Loaded columns multiply their loadings: centring them is no reparametrization.
  if (!is.null(latent)) scaling <- design_scaling(X[0, , drop = FALSE])
  X_engine <- scaled_design(X, scaling)
  build <- function(K) {
    o <- build_objective(X_engine, levels, resp, offset, family, K, control, tree, survey = survey)
    if (is.null(latent)) o else latent_objective(o, latent, tree)
  }
  objective <- build(nAGQ)
  release <- objective$release %||% function() NULL
  on.exit(release(), add = TRUE)
  if (REML) objective <- reml_objective(objective, scaling$from_internal)
  objective$beta_to_engine <- function(beta) drop(scaling$to_internal %*% beta)
  par0 <- start_values(resp, X, levels, offset, family, start, objective)
  if (!is.null(latent)) {
    par0 <- if (is.null(start)) latent_start(par0, latent, resp, X, levels, offset, family)
            else c(par0, rep(1, length(latent$free)))
  }
  par0 <- map_par(par0, scaling$to_internal, ncol(X))
  lower <- c(rep(-Inf, ncol(X)),
             unlist(lapply(levels, function(l) ifelse(theta_is_diagonal(l$pattern), 0, -Inf))),
             rep(-Inf, objective$n_extra))
  if (!is.null(start) && any(par0 < lower)) {
    stop("start$theta must be >= 0 where it is a standard deviation (a diagonal entry of ",
         "Lambda with a diagonal covariance)", call. = FALSE)
  }
  if (family$family == "gaussian") check_response_location(objective, par0, resp)
  begin <- list(par = par0, scale = NULL)
  # With Louis' information the quadrature search takes Newton steps from
  # par0 and needs no Laplace start.
  if (is.null(start) && !louis_search(objective, length(par0))) {
    begin <- laplace_start(par0, lower, control, nAGQ, objective, build)
  }
  if (is.null(start)) begin <- profiled_start(begin$par, lower, control, objective)
  opt <- optimize_loglik(objective, begin$par, lower, control, begin$scale)
  if (control$hessian) opt <- escape_saddle(objective, newton_polish(objective, opt, control),
                                            control)
  opt <- map_optimum(opt, scaling, ncol(X))
  opt$infinite <- estimates_at_infinity(
    objective, opt, scaling, ncol(X),
    infinity_sizes(X, typical_sizes(X, levels, resp, family, objective$n_extra)))
  if (family$family == "binomial") {
    opt$infinite <- opt$infinite | constant_cluster_sd(opt$par, objective, levels, resp)
  }
  fit <- structure(
    assemble_fit(objective, opt, X, levels, parents, tree, resp, offset, family, nAGQ, control,
                 survey, REML),
    class = "glamm"
  )
  # Crossed factors: the sparse Laplace; the methods read the pairs that cross.
  if (re_structure$sparse) fit$crossed <- re_structure$crossed
  fit$control$cluster <- NULL  # the workers' engines are gone; methods run here
  if (!is.null(latent)) {
    fit$latent <- latent_result(fit, latent)
    fit$loadings <- fit$latent$lambda  # what stats::loadings() returns
    warn_latent_runoff(fit, nAGQ)
  }
  inf_beta <- names(fit$coefficients)[opt$infinite[seq_len(ncol(X))]]
  if (family$family == "binomial") {
    check_separation(fit$coefficients, X, offset, resp, family, inf_beta)
  } else if (length(inf_beta)) {
    warning(infinite_message(inf_beta, ""), call. = FALSE)
  }
  inf_sd <- infinite_sd_names(opt$infinite[ncol(X) + seq_len(objective$n_theta)], levels)
  if (length(inf_sd)) {
    warning(sprintf(paste0("the random-effect standard deviation(s) of %s run off to infinity ",
                           "(the log-likelihood stays flat as they grow: e.g. the outcomes of ",
                           "every cluster are all 0 or all 1); their estimates are not ",
                           "meaningful and their standard errors are reported as NA"),
                    paste(inf_sd, collapse = ", ")), call. = FALSE)
  }
  fit
}

# The levels of random effects, innermost first, from Z and group (one level)
# or from re (a list of list(Z, group, pattern, name)), each checked.
fit_levels <- function(Z, group, pattern, re, n) {
  if (is.null(re)) {
    if (is.null(Z) || is.null(group)) {
      stop("give the random effects as 'Z' and 'group', or as a list 're'", call. = FALSE)
    }
    re <- list(list(Z = Z, group = group, pattern = pattern, name = "group"))
  }
  if (!is.list(re) || length(re) == 0) {
    stop("'re' must be a list of levels, each list(Z = , group = )", call. = FALSE)
  }
  levels <- lapply(seq_along(re), function(k) {
    l <- re[[k]]
    name <- l$name %||% names(re)[k] %||% ""
    if (!nzchar(name)) name <- paste0("group", k)
    Zl <- as_design(l$Z, "Z")
    g <- l$group
    if (nrow(Zl) != n || length(g) != n) {
      stop("'y', 'X', 'Z' and 'group' must have the same number of observations", call. = FALSE)
    }
    if (anyNA(g)) stop("the grouping factor has missing values", call. = FALSE)
    g <- as.factor(g)
    if (any(tabulate(g, nlevels(g)) == 0)) g <- droplevels(g)
    pat <- l$pattern %||% lower.tri(diag(ncol(Zl)), diag = TRUE)
    zero <- which(vapply(seq_len(ncol(Zl)), function(j) all(Zl[, j] == 0), NA))
    if (length(zero)) {
      stop(sprintf(paste0("the random effect %s of %s is 0 on every row: its variance cannot ",
                          "be estimated; drop it from the random-effect term"),
                   colnames(Zl)[zero[1]], name), call. = FALSE)
    }
    list(name = name, group = g, factor = g, Z = Zl, pattern = pat)
  })
  names(levels) <- vapply(levels, function(l) l$name, "")
  levels <- levels[order(-vapply(levels, function(l) nlevels(l$group), 1L))]
  top <- levels[[length(levels)]]$group
  if (nlevels(top) < 2) {
    stop("the grouping factor has a single level: a random-effect variance cannot be ",
         "estimated from one cluster; fit a model without random effects (glm)", call. = FALSE)
  }
  levels
}
