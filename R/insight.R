# Methods for the generics of insight and performance, so that
# performance::icc(), r2(), model_performance() and check_convergence() treat
# a glamm fit as they treat the equivalent glmer/lmer fit.

#' Methods for insight and performance
#'
#' These methods (registered when insight or performance is loaded) let the
#' easystats packages work on glamm fits as on lme4's: `insight::model_info()`
#' reports a mixed model, `insight::find_formula()` splits the fixed and the
#' random part, `insight::get_parameters()` and `find_parameters()` give the
#' fixed effects (not the per-cluster coefficients of [coef.glamm()]) or,
#' with `effects = "random"`, the empirical Bayes predictions, and
#' `insight::get_statistic()` the z statistics.
#'
#' `insight::get_variance()` gives the variance components of Nakagawa's R2
#' and of the ICC as insight computes them for a glmer fit (Nakagawa,
#' Johnson and Schielzeth 2017; Johnson 2014 for random slopes): the variance
#' of the fixed part of the linear predictor, the random-effect variance
#' averaged over the observations (`mean(diag(Z Sigma Z'))`, summed over the
#' levels), and the distribution-specific variance: `sigma^2` (gaussian),
#' `pi^2/3`, `1` or `pi^2/6` (binomial and ordinal with logit, probit or
#' cloglog link: the latent response), `log(1 + 1/mu)` (poisson, log link;
#' `log(1 + 1/mu + 1/theta)` for [nbinom2()]) with `mu` the exponentiated
#' intercept of the null model (refitted with the same random part), and
#' `sigma^2` (`Gamma`, as insight). Random effects with one cluster per
#' observation count as overdispersion (`var.dispersion`).
#'
#' `performance::r2()` is Nakagawa's marginal and conditional R2; it is not
#' defined for ordinal fits and gives an error. `performance::icc()` of an
#' ordinal fit is that of the latent response. `performance::check_convergence()`
#' is lme4's criterion: the largest absolute Newton step
#' `solve(Hessian, gradient)` at the maximum, below `tolerance`.
#'
#' @param x,model a `glamm` fit.
#' @param component,tolerance,effects,flatten,verbose,metrics as for the
#'   generics of insight and performance.
#' @param ... passed on or not used.
#' @examples
#' if (requireNamespace("performance", quietly = TRUE) &&
#'     requireNamespace("lme4", quietly = TRUE)) {
#'   fit <- glamm(pass_read ~ female + isei + (1 | id_school), data = pisa2000,
#'                family = binomial, nAGQ = 1)
#'   performance::icc(fit)
#'   performance::r2(fit)
#'   performance::model_performance(fit)
#' }
#' @name glamm-insight
NULL

#' @rdname glamm-insight
#' @exportS3Method insight::find_formula
find_formula.glamm <- function(x, verbose = TRUE, ...) {
  random <- lapply(find_bars(x$formula[[length(x$formula)]]), function(b) {
    stats::as.formula(call("~", b), env = environment(x$formula))
  })
  if (length(random) == 1) random <- random[[1]]
  out <- list(conditional = formula.glamm(x, fixed.only = TRUE))
  if (length(random)) out$random <- random
  class(out) <- c("insight_formula", "list")
  out
}

#' @rdname glamm-insight
#' @exportS3Method insight::model_info
model_info.glamm <- function(x, verbose = TRUE, ...) {
  # insight's default method reads family(x) and find_formula(x).
  out <- NextMethod()
  out$is_mixed <- TRUE
  if (x$family$family == "ordinal") {
    out$is_ordinal <- TRUE
    out$is_binomial <- out$is_bernoulli <- out$is_linear <- FALSE
  }
  out
}

#' @rdname glamm-insight
#' @exportS3Method insight::find_parameters
find_parameters.glamm <- function(x, effects = c("all", "fixed", "random"), flatten = FALSE,
                                  ...) {
  effects <- match.arg(effects)
  out <- list(conditional = names(x$coefficients))
  if (effects != "fixed") {
    out$random <- lapply(re_groups(x), function(gr) colnames(gr$Sigma))
  }
  if (effects == "random") out <- out["random"]
  if (flatten) unique(unlist(out, use.names = FALSE)) else out
}

#' @rdname glamm-insight
#' @exportS3Method insight::get_parameters
get_parameters.glamm <- function(x, effects = c("fixed", "random"), ...) {
  effects <- match.arg(effects)
  if (effects == "random") return(lapply(re_groups(x), function(gr) gr$ranef$mode))
  beta <- x$coefficients
  data.frame(Parameter = names(beta), Estimate = unname(beta), stringsAsFactors = FALSE)
}

#' @rdname glamm-insight
#' @exportS3Method insight::find_statistic
find_statistic.glamm <- function(x, ...) "z-statistic"

#' @rdname glamm-insight
#' @exportS3Method insight::get_statistic
get_statistic.glamm <- function(x, ...) {
  beta <- x$coefficients
  out <- data.frame(Parameter = names(beta),
                    Statistic = unname(beta / sqrt(diag(as.matrix(x$vcov_beta)))),
                    stringsAsFactors = FALSE)
  attr(out, "statistic") <- "z-statistic"
  out
}

#' @rdname glamm-insight
#' @exportS3Method insight::get_data
get_data.glamm <- function(x, ...) x$frame

#' @rdname glamm-insight
#' @param select,as_proportion as for `insight::get_response()`.
#' @exportS3Method insight::get_response
get_response.glamm <- function(x, select = NULL, as_proportion = TRUE, verbose = TRUE, ...) {
  y <- stats::model.response(x$frame)
  if (is.matrix(y) && ncol(y) == 2 && as_proportion) y <- y[, 1] / rowSums(y)
  y
}

#' @rdname glamm-insight
#' @exportS3Method insight::link_function
link_function.glamm <- function(x, ...) stats::make.link(x$family$link)$linkfun

#' @rdname glamm-insight
#' @exportS3Method insight::link_inverse
link_inverse.glamm <- function(x, ...) stats::make.link(x$family$link)$linkinv

#' @rdname glamm-insight
#' @exportS3Method insight::n_obs
n_obs.glamm <- function(x, ...) x$nobs

#' @rdname glamm-insight
#' @exportS3Method insight::get_varcov
get_varcov.glamm <- function(x, ...) as.matrix(x$vcov_beta)

#' @rdname glamm-insight
#' @exportS3Method insight::is_converged
is_converged.glamm <- function(x, tolerance = 0.001, ...) {
  step <- tryCatch(solve(x$hessian, x$optinfo$gradient), error = function(e) NA)
  out <- isTRUE(x$optinfo$converged) && all(is.finite(step)) && max(abs(step)) < tolerance
  attr(out, "gradient") <- max(abs(step))
  out
}

#' @rdname glamm-insight
#' @exportS3Method performance::check_convergence
check_convergence.glamm <- function(x, tolerance = 0.001, ...) {
  is_converged.glamm(x, tolerance = tolerance)
}

#' @rdname glamm-insight
#' @exportS3Method insight::get_variance
get_variance.glamm <- function(x, component = c("all", "fixed", "random", "residual",
                                                "distribution", "dispersion", "intercept",
                                                "slope", "rho01", "rho00"),
                               verbose = TRUE, tolerance = 1e-5, ...) {
  component <- match.arg(component)
  name_full <- list(...)$name_full %||% "random effect variances"
  groups <- fit_level_designs(x, re_groups(x))
  X <- model.matrix.glamm(x)
  beta <- x$coefficients[colnames(X)]
  obs_level <- vapply(groups, function(gr) nlevels(gr$factor) == x$nobs, NA)
  level_var <- function(gr) mean(rowSums((gr$Z %*% gr$Sigma) * gr$Z))
  theta <- lme4_theta(x, groups)
  singular <- any(abs(theta[lme4_lower(groups) == 0]) < tolerance)
  if (singular && verbose && !component %in% c("slope", "intercept")) {
    warning(sprintf(paste("Can't compute %s. Some variance components equal zero;",
                          "the model may be singular (see lme4::isSingular())."), name_full),
            call. = FALSE)
  }
  fixed_names <- names(x$coefficients)
  slopes <- setdiff(unlist(lapply(groups, function(gr) colnames(gr$Sigma))), "(Intercept)")
  if (verbose && length(setdiff(slopes, fixed_names))) {
    warning(sprintf(paste("Random slopes not present as fixed effects. This artificially",
                          "inflates the conditional %s."), name_full), call. = FALSE)
  }
  Sig <- lapply(groups, function(gr) gr$Sigma)
  corr <- lapply(Sig, function(S) S / outer(sqrt(diag(S)), sqrt(diag(S))))
  has_int <- vapply(Sig, function(S) colnames(S)[1] == "(Intercept)", NA)
  dist <- insight_distribution_variance(x, verbose = verbose, name_full = name_full)
  disp <- if (x$family$family == "gaussian" || !any(obs_level)) 0 else
    sum(vapply(groups[obs_level], level_var, 1))
  slope_var <- unlist(lapply(Sig, function(S) {
    if (colnames(S)[1] == "(Intercept)") diag(S)[-1] else diag(S)
  }))
  rho01 <- unlist(lapply(corr[has_int], function(R) R[-1, 1]))
  rho00 <- unlist(lapply(corr, function(R) {
    keep <- lower.tri(R) & col(R) > as.integer(colnames(R)[1] == "(Intercept)")
    if (!any(keep)) return(NULL)
    stats::setNames(R[keep], paste0(colnames(R)[col(R)[keep]], "-", rownames(R)[row(R)[keep]]))
  }))
  want <- function(...) component %in% c("all", ...)
  out <- list(
    var.fixed = if (want("fixed")) stats::var(as.vector(X %*% beta)),
    var.random = if (want("random") && !singular && any(!obs_level)) {
      sum(vapply(groups[!obs_level], level_var, 1))
    },
    var.residual = if (want("residual")) dist + disp,
    var.distribution = if (want("distribution")) dist,
    var.dispersion = if (want("dispersion")) disp,
    var.intercept = if (want("intercept")) vapply(Sig[has_int], function(S) S[1, 1], 1),
    var.slope = if (want("slope") && length(slope_var)) slope_var,
    cor.slope_intercept = if (want("rho01") && length(rho01)) rho01,
    cor.slopes = if (want("rho00") && length(rho00)) rho00
  )
  Filter(Negate(is.null), out)
}

# The distribution-specific (level-1) variance on the scale of the linear
# predictor, as insight's .compute_variance_distribution() for glmer fits.
insight_distribution_variance <- function(x, verbose, name_full) {
  fam <- x$family
  bad_link <- function() {
    stop(sprintf("the distribution-specific variance is not defined for the %s family with %s link",
                 fam$family, fam$link), call. = FALSE)
  }
  switch(fam$family,
    gaussian = sigma.glamm(x)^2,
    binomial = ,
    ordinal = switch(fam$link, logit = pi^2 / 3, probit = 1, cloglog = pi^2 / 6, bad_link()),
    Gamma = sigma.glamm(x)^2,
    poisson = ,
    nbinom2 = {
      if (fam$link == "sqrt" && fam$family == "poisson") return(0.25)
      if (fam$link != "log") bad_link()
      mu <- exp(unname(null_fit(x)$coefficients[1]))
      if (verbose && mu < 6) {
        warning(sprintf("mu of %0.1f is too close to zero, estimate of %s may be unreliable.",
                        mu, name_full), call. = FALSE)
      }
      log1p(1 / mu + if (fam$family == "nbinom2") 1 / sigma.glamm(x) else 0)
    },
    bad_link()
  )
}

# The fit with the same random part and offsets, and only an intercept as
# fixed part, evaluated (as lme4's update()) where the formula was written.
null_fit <- function(x) {
  f <- x$formula
  rhs <- f[[length(f)]]
  fixed <- stats::terms(drop_bars(f))
  offsets <- lapply(attr(fixed, "offset"), function(k) attr(fixed, "variables")[[k + 1]])
  parts <- c(list(1), offsets, lapply(find_bars(rhs), function(b) call("(", b)))
  f[[length(f)]] <- Reduce(function(a, b) call("+", a, b), parts)
  cl <- x$call
  cl$formula <- f
  tryCatch(suppressMessages(eval(cl, environment(x$formula))), error = function(e) {
    stop("could not refit the null model for the distribution-specific variance: ",
         conditionMessage(e), call. = FALSE)
  })
}

#' @rdname glamm-insight
#' @exportS3Method performance::r2
r2.glamm <- function(model, ...) {
  if (model$family$family == "ordinal") {
    stop("R2 is not defined for ordinal glamm fits: Nakagawa's R2 needs a residual variance ",
         "on the scale of the response", call. = FALSE)
  }
  performance::r2_nakagawa(model, ...)
}

#' @rdname glamm-insight
#' @exportS3Method performance::model_performance
model_performance.glamm <- function(model, metrics = "all", verbose = TRUE, ...) {
  all_metrics <- c("AIC", "AICc", "BIC", "R2", "ICC", "RMSE", "SIGMA", "LOGLOSS", "SCORE")
  if (all(metrics == "all")) metrics <- all_metrics
  if (all(metrics == "common")) metrics <- c("AIC", "BIC", "R2", "ICC", "RMSE")
  metrics <- toupper(metrics)
  ordinal <- model$family$family == "ordinal"
  out <- list()
  if ("AIC" %in% metrics) out$AIC <- stats::AIC(model)
  if ("AICC" %in% metrics) {
    k <- model$df
    out$AICc <- -2 * model$loglik + 2 * k * model$nobs / (model$nobs - k - 1)
  }
  if ("BIC" %in% metrics) out$BIC <- stats::BIC(model)
  if ("R2" %in% metrics && !ordinal) {
    rsq <- suppressWarnings(r2.glamm(model))
    if (!all(is.na(rsq))) out <- c(out, rsq)
  }
  if ("ICC" %in% metrics) {
    icc_mm <- suppressWarnings(performance::icc(model))
    if (!all(is.na(icc_mm))) out$ICC <- icc_mm$ICC_adjusted
  }
  if ("RMSE" %in% metrics && !ordinal) out$RMSE <- performance::performance_rmse(model)
  if ("SIGMA" %in% metrics) out$Sigma <- sigma.glamm(model)
  fam <- model$family$family
  if ("LOGLOSS" %in% metrics && fam == "binomial") {
    out$Log_loss <- performance::performance_logloss(model, verbose = verbose)
  }
  if ("SCORE" %in% metrics && fam %in% c("binomial", "poisson")) {
    score <- performance::performance_score(model, verbose = verbose)
    if (!is.na(score$logarithmic)) out$Score_log <- score$logarithmic
    if (!is.na(score$spherical)) out$Score_spherical <- score$spherical
  }
  out <- as.data.frame(out)
  row.names(out) <- NULL
  class(out) <- c("performance_model", class(out))
  out
}
