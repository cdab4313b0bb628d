#' Fit a generalized linear mixed model by adaptive quadrature
#'
#' Maximum likelihood for a generalized linear mixed model with random
#' effects for one grouping factor or for several nested ones, by adaptive
#' Gauss-Hermite quadrature (`nAGQ` points per random effect, product rule,
#' nested level by level) or the Laplace approximation (`nAGQ = 1`). The
#' reported log-likelihood includes every normalizing constant, so it can be
#' compared with [stats::glm()], lme4 and other packages.
#'
#' Random effects are written as in lme4: `(1 | g)` a random intercept,
#' `(1 + x | g)` correlated random intercept and slope, `(1 + x || g)`
#' independent ones, `(1 | g) + (0 + x | g)` likewise. `g` may be an
#' interaction such as `g1:g2`.
#'
#' Nested levels: `(1 | school/class)` is `(1 | school) + (1 | school:class)`,
#' a random intercept for each school and for each class within its school
#' (the inner level is named `class:school`, as in lme4); `/` may be repeated
#' (`school/class/student`). `(1 | school) + (1 | class)` is the same model
#' when every class lies in one school, which is checked on the data. Each
#' level may have its own random slopes and `||`.
#'
#' Crossed grouping factors (persons by items: `(1 | person) + (1 | item)`),
#' partially crossed ones and mixes such as `(1 | item) + (1 | school/student)`
#' are detected from the data: when the factors do not nest, the model is
#' fitted by the Laplace approximation over all random effects at once, with a
#' sparse Cholesky factorization of its curvature (as lme4's `glmer` and
#' glmmTMB do) and the exact gradient; random slopes may be on any factor.
#' Adaptive quadrature (`nAGQ > 1`) is then an error. For binary responses
#' with few observations per cluster of a crossed factor the Laplace
#' approximation can be biased (a warning says so). A class label that occurs
#' in two schools for different classes makes `school` and `class` crossed;
#' a message suggests `school/class` when that would nest them. Survey
#' weights are not available for crossed factors.
#'
#' Overdispersion of counts or of binomial responses with several trials is
#' modelled by an observation-level random effect, `(1 | obs)` with `obs` a
#' factor with one level per row: the likelihood-based alternative to a
#' quasi-likelihood scale factor. For binary responses such an effect is not
#' identified (a warning says so).
#'
#' @param formula a two-sided formula: response, fixed effects and
#'   random-effect terms, e.g. `y ~ x + (1 | g)`. For the binomial family the
#'   response may be 0/1, a factor (the first level is failure), a logical,
#'   a proportion with `weights` giving the trials, or
#'   `cbind(successes, failures)`.
#' @param data a data frame with the variables of the formula, or partitions of
#'   the data that the workers of `control$cluster` read, from [glamm_shards()].
#' @param family a family object, function or name: `binomial` with link
#'   `"logit"`, `"probit"` or `"cloglog"`; `poisson` (`"log"`); `gaussian`
#'   (`"identity"`); `Gamma` (`"log"`, `"inverse"` or `"identity"`; a
#'   positive response, `log(shape)` estimated as in glmmTMB, `weights` are
#'   precisions as in `glm()`: row i has shape `w_i shape`, where glmmTMB
#'   multiplies the row's log-likelihood by `w_i`); [nbinom2()] (`"log"`;
#'   counts,
#'   `var = mu + mu^2/theta`, `theta` estimated); [ordinal()] for an ordered
#'   factor (cumulative link model with thresholds in place of the
#'   intercept).
#' @param nAGQ quadrature points per random effect (1: Laplace): one number
#'   for every level, or a vector named by grouping factor, e.g.
#'   `nAGQ = c(class = 7, school = 11)` (a name is the level's label such as
#'   `class:school`, or its own variable, `class`); levels not named get the
#'   default. 1 at a level is the Laplace approximation at that level; 1 at
#'   every level is the joint Laplace approximation of lme4 and glmmTMB.
#'   The default for one grouping factor is 15, 11, 7 or 5 points for 1, 2, 3
#'   or more random effects. With nested levels the innermost level gets
#'   these points and every level above it 7, 5, 3 or 3: on simulated
#'   three-level data the log-likelihood error of this rule was 4e-5 (binary,
#'   200 schools x 5 classes x 8 students, both SDs 1), 1e-5 (the same with
#'   counts) and 1.6e-4 in the hard case of one to three observations per
#'   inner cluster with an inner SD of 2, where 11 inner points gave 3e-3;
#'   more than 7 points at the outer level changed nothing. The cost per
#'   observation is the product of the points along its levels (15 x 7 =
#'   105 for random intercepts at two levels). The gaussian family uses 1,
#'   where the integral is exact. The error grows with the number of clusters
#'   and the size of the variances: to check a fit, refit with more points
#'   (at the inner level first) and compare the log-likelihoods. A grid of
#'   more than 1e6 points per innermost cluster, or one whose workspace would
#'   exceed 2 GB, is an error that suggests fewer points. Crossed factors
#'   take only 1 (the default for them).
#' @param weights optional prior weights (for binomial proportions, the
#'   numbers of trials).
#' @param offset optional offset (a vector or an expression in `data`);
#'   `offset()` terms in the formula are also used.
#' @param subset optional expression selecting the rows to use.
#' @param na.action what to do with missing values; default
#'   `getOption("na.action")` (usually [stats::na.omit()]). With
#'   [stats::na.exclude()], fitted values and residuals are padded with `NA`.
#' @param start optional start values: a list with `beta`, `theta` and (for
#'   the gaussian, Gamma and nbinom2 families) `sigma` (as in [sigma.glamm()]), or a
#'   previous `glamm` fit.
#' @param control settings from [glamm_control()]. lme4's `glmerControl()` and
#'   `lmerControl()` objects are accepted: their optimizer limits
#'   (`optCtrl = list(maxfun = , maxit = )`) are used, and a message lists the
#'   settings that have no glamm equivalent (they are ignored).
#' @param contrasts optional list of contrasts for factors, as in
#'   [stats::model.matrix()].
#' @param method `"ML"` (default): maximum likelihood by adaptive quadrature
#'   or Laplace. `"PQL"`: penalized quasi-likelihood (first order, Breslow and
#'   Clayton 1993), as in `MASS::glmmPQL()`, SAS GLIMMIX, MLwiN and HLM, for
#'   comparison with them: the working linear mixed model is fitted by ML with
#'   glamm's engine. PQL is an approximation without a likelihood (its
#'   variance estimates are biased toward zero for binary data): no
#'   log-likelihood, AIC or likelihood-ratio test is given.
#' @param REML `FALSE` (the default, as glmmTMB): maximum likelihood.
#'   `TRUE`: restricted maximum likelihood for a gaussian (identity link)
#'   model with any number of nested or crossed levels and random slopes, the criterion
#'   of `lmer(..., REML = TRUE)`: the log of the likelihood integrated over
#'   the fixed effects with a flat prior,
#'   \eqn{l(\hat\beta, \theta, \sigma) + \frac{p}{2}\log(2\pi) -
#'   \frac12 \log|X'V^{-1}X|}{l(beta^, theta, sigma) + p/2 log(2 pi) - 1/2
#'   log|X' V^-1 X|}, maximized with its exact gradient. [logLik()] then
#'   returns the restricted log-likelihood (labelled REML; [deviance()] and
#'   print/summary give the REML criterion `-2 logLik`, as lmer), the fixed
#'   effects are the GLS estimates at the REML covariance parameters and
#'   [vcov()] is \eqn{(X'V^{-1}X)^{-1}}{(X' V^-1 X)^-1} there, as lmer's.
#'   REML criteria of models with different fixed effects are not
#'   comparable: [anova.glamm()] refits REML fits by ML first (as lme4), or
#'   refuses with `refit = FALSE`. Other families, `method = "PQL"`,
#'   `pweights` give an error (glmer has no REML either). A REML evaluation
#'   costs about two ML evaluations (the REML term is one more pass over the
#'   rows, dense within each top-level cluster, or for crossed factors `p`
#'   solves with the sparse factor; a top cluster with more than 400 random
#'   effects makes it `3p + 1` ML evaluations, `p` fixed effects).
#' @param verbose as in lme4: print the optimizer's progress every
#'   `verbose` iterations (the `trace` setting of [glamm_control()]).
#' @param pweights survey (sampling) weights: a one-sided formula, or a list
#'   of them, evaluated in `data` (they follow `subset` and `na.action`). The
#'   unnamed element gives each row's weight conditional on its cluster (the
#'   inverse of its probability of selection within the cluster); an element
#'   named by a grouping factor gives the weight of that factor's clusters
#'   (constant within each cluster) given the cluster of the level above, e.g.
#'   `pweights = list(~ w_student, id_school = ~ w_school)`, or for three
#'   levels `pweights = list(~ w_student, class = ~ w_class, school = ~
#'   w_school)` (with `(1 | school/class)` the level `class:school` may be
#'   named `class`). The fit then maximizes the pseudo-log-likelihood
#'   \eqn{\sum_k w_k \log \int \prod_i f(y_{ki} | u)^{p_{i|k}} \phi(u) du}{sum_k
#'   w_k log int prod_i f(y_ki | u)^p_i|k phi(u) du} (Pfeffermann et al. 1998;
#'   Rabe-Hesketh and Skrondal 2006); with more levels each cluster's
#'   integral enters the integrand of its parent cluster raised to the power
#'   of its weight. [vcov()] and every standard error are the sandwich
#'   (robust) ones, clustered at the top level. Weights of levels below the
#'   top must be positive (leave clusters of weight 0 out of the data).
#'   `weights` keeps its [stats::glm()] meaning (prior weights, numbers of
#'   trials or precisions); both may be given, and the row's density with
#'   its prior weight is then raised to the power of its survey weight.
#'   The pseudo-log-likelihood is no likelihood: [anova()] refuses weighted
#'   fits (use Wald tests, e.g. from [vcov()]).
#' @param pweights.scale how the row weights are scaled within each
#'   innermost cluster: `"size"` (default) to sum to the cluster's number of
#'   rows, `"effective"` to its effective size \eqn{(\sum w)^2 / \sum w^2}{(sum
#'   w)^2 / sum(w^2)} (methods 1 and 2 of Rabe-Hesketh and Skrondal 2006),
#'   `"none"` to leave them as given. The same method is applied level by
#'   level: the weights of the clusters of a level below the top are scaled
#'   within each cluster of the level above (classes within their school: to
#'   sum to the school's number of classes, or to their effective number);
#'   the top level's weights are never scaled (their scale changes neither
#'   the estimates nor the sandwich). Unscaled weights bias the variance
#'   components, because the row weights act as replication inside each
#'   cluster's integral; scaling removes most of that bias. It remains
#'   noticeable when clusters are small (a few rows) and the weights
#'   informative: compare `"size"` and `"effective"` then. Scaling makes the
#'   fit invariant to multiplying a cluster's row weights by a constant.
#' @param strata optional one-sided formula giving the sampling stratum of
#'   each top-level cluster (constant within it): the sandwich then uses
#'   stratum-centred scores with the factors \eqn{J_h / (J_h - 1)}.
#' @param mustart,etastart optional start values for the conditional means
#'   or the linear predictor, one per row, as in [stats::glm()] and lme4: the
#'   start of the fixed effects is their least-squares fit.
#' @param factor,load.var,lambda factor loadings, as in galamm: `factor`
#'   names the latent variables (not columns of `data`; they enter the
#'   formula as variables, e.g. `(0 + ability | person)`, and a fixed term
#'   `x:ability` regresses the factor on `x`), `load.var` the variable of
#'   `data` whose levels get the loadings (e.g. the item), and `lambda` the
#'   loadings: a vector, or a matrix with one column per factor, with one
#'   row per level of `load.var`; a number fixes a loading and `NA` frees
#'   it. Every design column involving a factor is multiplied by its row's
#'   loading, so `lambda = c(1, NA, NA)` with `y ~ 0 + item + (0 + ability | person)`
#'   is a two-parameter logistic IRT model (fit by adaptive quadrature, or
#'   Laplace with `nAGQ = 1`). A factor at several levels
#'   (`(0 + ability | person) + (0 + ability | school)`) shares one loading
#'   vector. The free loadings follow the other parameters in `par`; see
#'   [stats::loadings()] and [irt_parameters()].
#' @param family_mapping with a list of families in `family` (mixed
#'   response types, as in galamm: e.g. `family = list(gaussian, binomial)`
#'   for continuous and binary items of one latent trait): the index in
#'   `family` of every observation's family, a vector with one value per row
#'   of `data` or a variable of `data`. Each family keeps its own link and
#'   extra parameter (the gaussian `log(sigma)` of family k is named
#'   `log(sigma)[k]` in `par`; [sigma.glamm()] gives one value per family
#'   with one). Not yet with crossed factors, survey weights or sharded data.
#' @return An object of class `glamm`, a list with (among others)
#'   `coefficients` (fixed effects), `groups` (one element per level of
#'   random effects, innermost first, named by the grouping factor: its
#'   clusters, design, covariance matrix `Sigma` and empirical Bayes
#'   predictions `ranef`; a fit with one grouping factor also has `Sigma` and
#'   `ranef` at the top), `sigma` (residual SD of the gaussian, coefficient
#'   of variation of the Gamma, theta of the nbinom2 family), `varcomp`
#'   (variance components with delta-method SEs), `loglik`, `vcov_par`
#'   (inverse observed information of all parameters; for a fit with
#'   `pweights` the sandwich, the model-based one being `vcov_model`) and `optinfo`
#'   (optimizer record: iterations, final gradient, convergence); a fit
#'   with factor loadings also has `loadings` (the loading matrix, levels of
#'   `load.var` by factors, as [stats::loadings()] returns it) and `latent`
#'   (the loading specification and the table of loadings with SEs).
#'   Use the accessors rather than the components: [fixef()], [ranef()],
#'   [VarCorr()], [vcov()], [logLik()], [summary.glamm()], [predict.glamm()],
#'   [anova.glamm()], [confint.glamm()], [fitted()], [residuals()], [icc()],
#'   [simulate.glamm()]; they work level by level for nested fits.
#' @seealso [glamm.fit()] for the matrix interface, [glamm_control()].
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' d$SESj <- ave(d$SES, d$id_school)
#' fit <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
#'                (1 | id_school), data = d, family = binomial)
#' fit
#' summary(fit, exponentiate = TRUE)
#' @export
glamm <- function(formula, data = NULL, family = gaussian, nAGQ = NULL, weights, offset,
                  subset, na.action, start = NULL, control = glamm_control(),
                  contrasts = NULL, method = c("ML", "PQL"), REML = FALSE, verbose = 0L,
                  mustart, etastart, pweights = NULL,
                  pweights.scale = c("size", "effective", "none"), strata = NULL,
                  factor = NULL, load.var = NULL, lambda = NULL, family_mapping = NULL) {
  call <- match.call(expand.dots = FALSE)
  pweights.scale <- match.arg(pweights.scale)
  if (!is.null(pweights)) pweights <- check_pweights_spec(pweights)
  if (!is.null(strata) && (!inherits(strata, "formula") || length(strata) != 2)) {
    stop("'strata' must be a one-sided formula such as ~ stratum", call. = FALSE)
  }
  method <- match.arg(method)
  families <- family_list(family, !is.null(call$family_mapping))
  family <- if (is.null(families)) resolve_family(family)
            else structure(list(family = "mixed", link = "mixed", families = families),
                           class = "family")
  REML <- check_reml(REML, family, method, pweights)
  control <- as_glamm_control(control)
  if (!identical(verbose, 0L) && !isFALSE(verbose)) control$trace <- as.integer(verbose)
  if (identical(as.numeric(nAGQ), 0)) {
    message("nAGQ = 0 (lme4's fast approximation) is fitted as the Laplace approximation, nAGQ = 1")
    nAGQ <- 1L
  }
  if (!inherits(formula, "formula") || length(formula) != 3) {
    stop("'formula' must be a two-sided formula such as y ~ x + (1 | g)", call. = FALSE)
  }
  if (inherits(data, "glamm_shards")) {
    unused <- c(weights = !missing(weights), offset = !missing(offset),
                subset = !missing(subset), na.action = !missing(na.action),
                mustart = !missing(mustart), etastart = !missing(etastart),
                pweights = !is.null(pweights), strata = !is.null(strata), REML = isTRUE(REML),
                method = method != "ML")
    if (any(unused)) {
      stop(sprintf("data read by the workers (glamm_shards()) cannot be fitted with %s yet",
                   paste(names(unused)[unused], collapse = ", ")), call. = FALSE)
    }
    if (inherits(start, "glamm")) {
      start <- list(beta = start$coefficients, theta = start$theta, sigma = start$sigma)
    }
    return(source_fit(formula, data, family, nAGQ, start, control, contrasts, call))
  }
  random <- parse_random(formula)
  fixed <- drop_bars(formula)
  frame_formula <- sub_bars(formula)
  environment(frame_formula) <- environment(formula)

  latent <- latent_arguments(factor, load.var, lambda, data)
  if (!is.null(latent)) frame_formula <- frame_formula_with(frame_formula, latent$load.var)
  mf <- call[c(1L, match(c("data", "subset", "weights", "offset", "na.action", "mustart",
                            "etastart", "family_mapping"), names(call), 0L))]
  if (!is.null(latent)) mf$data <- add_factor_columns(data, latent)
  mf$formula <- frame_formula
  mf$drop.unused.levels <- TRUE
  mf$na.action <- shared_na_action(if (missing(na.action)) NULL else na.action,
                                   survey_columns(pweights, strata))
  mf <- add_pweights_to_frame_call(mf, pweights)
  if (!is.null(strata)) mf$.strata <- strata[[2]]
  mf[[1L]] <- quote(stats::model.frame)
  frame <- tryCatch(eval(mf, parent.frame()), error = function(e) {
    msg <- conditionMessage(e)
    hint <- if (grepl("not found", msg)) " (are all variables of the formula in 'data'?)" else ""
    stop("cannot build the model frame: ", msg, hint, call. = FALSE)
  })
  if (nrow(frame) == 0) {
    stop("no observations left after ", if (!is.null(call$subset)) "'subset' and ",
         "removing missing values", call. = FALSE)
  }

  if (!is.null(families)) family <- mixed_family(families, frame[["(family_mapping)"]])
  frame_terms <- attr(frame, "terms")
  fixed_terms <- with_predvars(stats::terms(fixed, data = frame), frame_terms)
  for (k in seq_along(random$terms)) {
    random$terms[[k]]$terms <- with_predvars(stats::terms(random$terms[[k]]$lhs), frame_terms)
  }
  X <- strip_rownames(stats::model.matrix(fixed_terms, frame, contrasts.arg = contrasts))
  if (family$family == "ordinal") X <- drop_intercept(X)
  check_finite_columns(X, "fixed-effects")
  X <- drop_aliased(X)
  re_levels <- random_levels(random, frame, environment(formula), contrasts = contrasts)
  for (level in re_levels) check_finite_columns(level$Z, "random-effects")
  re <- lapply(re_levels, function(l) list(Z = l$Z, group = l$factor, pattern = l$pattern,
                                        name = l$name))
  y <- unname_response(stats::model.response(frame))
  weights <- stats::model.weights(frame)
  offset <- stats::model.offset(frame)

  if (inherits(start, "glamm")) {
    start <- list(beta = start$coefficients, theta = start$theta, sigma = start$sigma)
  }
  eta_start <- linear_predictor_start(frame, family, offset)
  if (!is.null(eta_start)) {
    beta <- qr.coef(qr(X), eta_start - (offset %||% 0))
    beta[is.na(beta)] <- 0
    start <- c(list(beta = beta), start[setdiff(names(start), "beta")])
  }
  if (family$family == "multinomial") {
    if (!is.null(latent)) {
      stop("factor loadings are not available for the multinomial family yet", call. = FALSE)
    }
    fit <- multinomial_fit(y, X, re_levels, weights, offset, family, nAGQ, start, control,
                           pweights, REML, method)
  } else {
    survey <- if (!is.null(pweights)) survey_weights(frame, pweights, re_levels, pweights.scale)
    if (!is.null(strata)) survey$strata <- survey_strata(frame, re_levels)
    fit <- glamm.fit(y, X, re = re, family = family, nAGQ = nAGQ, weights = weights,
                     offset = offset, start = start, control = control, method = method,
                     survey = survey, REML = REML,
                     loadings = if (!is.null(latent)) {
                       c(latent, list(level = frame[[latent$load.var]]))
                     })
  }
  fit$call <- call
  fit$formula <- formula
  fit$terms <- fixed_terms
  fit$frame <- frame
  fit$random <- random
  fit$group_name <- names(re_levels)
  fit$xlevels <- stats::.getXlevels(fixed_terms, frame)
  fit$data_classes <- attr(attr(frame, "terms"), "dataClasses")
  fit$random_xlevels <- random_xlevels(random, frame)
  fit$contrasts <- attr(X, "contrasts")
  if (!inherits(fit, "glamm_multinomial")) fit <- keep_data_once(fit)
  fit$na.action <- attr(frame, "na.action")
  fit
}

# The linear predictor given by etastart or mustart (columns of the model
# frame), or NULL.
linear_predictor_start <- function(frame, family, offset) {
  eta <- stats::model.extract(frame, "etastart")
  mu <- stats::model.extract(frame, "mustart")
  if (is.null(eta) && !is.null(mu)) {
    if (family$family == "ordinal") {
      stop("'mustart' is not available for ordinal fits", call. = FALSE)
    }
    eta <- family$linkfun(mu)
  }
  if (is.null(eta)) return(NULL)
  if (!all_finite(eta)) {
    stop("'etastart' and 'mustart' must give a finite linear predictor on every row",
         call. = FALSE)
  }
  as.numeric(eta)
}

# na.omit() and na.exclude() subset the frame even when no row is dropped,
# which copies every column of the data; when there is nothing to drop, the
# frame keeps the data's columns (no copy).
# Missing survey weights or strata (the frame's columns `survey`) are an
# error rather than dropped rows.
shared_na_action <- function(na.action, survey = character(0)) {
  action <- na.action %||% getOption("na.action") %||% "na.omit"
  action <- match.fun(action)
  function(object, ...) {
    for (k in seq_along(survey)) {
      col <- object[[survey[[k]]]]
      if (!is.null(col) && anyNA(col)) {
        stop(sprintf("the survey weights or strata '%s' have missing values", names(survey)[k]),
             call. = FALSE)
      }
    }
    complete <- all(vapply(object, function(col) !anyNA(col), NA))
    if (complete) object else action(object, ...)
  }
}

# The response without the names model.response() gives it (the row names:
# n strings once anything materializes them).
unname_response <- function(y) {
  if (is.matrix(y)) rownames(y) <- NULL else names(y) <- NULL
  y
}

check_finite_columns <- function(M, what) {
  bad <- colnames(M)[!cpp_finite_columns(M)]
  if (length(bad)) {
    stop(sprintf("the %s design has infinite or NaN values in: %s", what,
                 paste(bad, collapse = ", ")), call. = FALSE)
  }
}

# Ordinal models have thresholds in place of an intercept.
drop_intercept <- function(X) {
  keep <- colnames(X) != "(Intercept)"
  out <- X[, keep, drop = FALSE]
  attr(out, "assign") <- attr(X, "assign")[keep]
  attr(out, "contrasts") <- attr(X, "contrasts")
  out
}

# Drops columns of a rank-deficient design, with a message (as lm and lme4 do).
# A design whose scaled cross-product has its smallest eigenvalue above
# 1e-10 leaves every column a residual above 1e-5 of its norm, which qr()
# (tolerance 1e-7) calls full rank; only other designs are decomposed (a
# copy of X).
drop_aliased <- function(X) {
  if (ncol(X) == 0) return(X)
  XtX <- cpp_crossprod(X)
  s <- sqrt(diag(XtX))
  if (all(s > 0)) {
    ev <- eigen(XtX / tcrossprod(s), symmetric = TRUE, only.values = TRUE)$values
    if (min(ev) > 1e-10) return(X)
  }
  qx <- qr(X)
  if (qx$rank == ncol(X)) return(X)
  keep <- sort(qx$pivot[seq_len(qx$rank)])
  message(sprintf("the fixed-effects design is rank deficient: dropping %s",
                  paste(colnames(X)[-keep], collapse = ", ")))
  out <- X[, keep, drop = FALSE]
  attr(out, "contrasts") <- attr(X, "contrasts")
  attr(out, "assign") <- attr(X, "assign")[keep]
  out
}
