# Families: R family objects -> integer codes for C++ (codes come from
# src/codes.h through cpp_codes()), and the response in the form the engine
# takes: y (successes, counts or values), trials, prior weights, and the
# normalizing constant of the log-likelihood that does not depend on the
# parameters.

supported_links <- list(
  gaussian = "identity",
  binomial = c("logit", "probit", "cloglog"),
  poisson = "log",
  ordinal = c("logit", "probit", "cloglog"),
  Gamma = c("log", "inverse", "identity"),
  nbinom2 = "log",
  multinomial = "logit"
)

#' Negative binomial family (NB2)
#'
#' The negative binomial distribution for counts with mean `mu` and variance
#' `mu + mu^2 / theta`, the parameterization of `glmmTMB::nbinom2()` and
#' `MASS::glm.nb()`. The shape `theta` (smaller: more overdispersion) is
#' estimated as `log(theta)`; a fit reports it as `sigma` (as `sigma()` of
#' glmmTMB does). Prior weights multiply each row's log-likelihood.
#'
#' @param link `"log"` (the only link).
#' @return A family object for [glamm()].
#' @examples
#' set.seed(1)
#' d <- data.frame(g = factor(rep(1:30, each = 10)), x = rnorm(300))
#' b <- rnorm(30, sd = 0.5)
#' d$y <- rnbinom(300, mu = exp(0.5 + 0.3 * d$x + b[d$g]), size = 2)
#' fit <- glamm(y ~ x + (1 | g), data = d, family = nbinom2(), nAGQ = 1)
#' fit$sigma  # theta
#' @export
nbinom2 <- function(link = "log") {
  link <- match.arg(link)
  structure(list(family = "nbinom2", link = link, linkfun = log, linkinv = exp,
                 variance = function(mu, theta) mu + mu^2 / theta),
            class = "family")
}

#' Cumulative link family for ordered responses
#'
#' The proportional-odds (cumulative link) model for an ordered factor with
#' categories `1, ..., C`: `P(Y <= c) = F(tau_c - eta)`, with ordered
#' thresholds `tau_1 < ... < tau_{C-1}` and a linear predictor `eta` without
#' intercept (the thresholds take its place). `F` is the logistic
#' (`"logit"`: cumulative odds ratios `exp(beta)` for higher categories),
#' standard normal (`"probit"`) or minimum extreme value distribution
#' (`"cloglog"`). This is the parameterization of `MASS::polr()` and
#' `ordinal::clmm()`.
#'
#' @param link `"logit"`, `"probit"` or `"cloglog"`.
#' @return A family object for [glamm()].
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' # an ordered outcome for illustration: parents' education
#' d$educ <- factor(1 + d$high_school + 2 * d$college, ordered = TRUE)
#' fit <- glamm(educ ~ SES + (1 | id_school), data = d, family = ordinal(), nAGQ = 7)
#' summary(fit)
#' @export
ordinal <- function(link = c("logit", "probit", "cloglog")) {
  link <- match.arg(link)
  structure(list(family = "ordinal", link = link), class = "family")
}

# The fit's family as glm.fit() takes it, for per-cluster fits and
# residuals: for nbinom2 the negative binomial at the fitted theta (as
# MASS::negative.binomial(theta)), from the poisson family's log link.
glm_family <- function(object) {
  family <- object$family
  if (family$family != "nbinom2") return(family)
  theta <- object$sigma
  out <- stats::poisson()
  out$family <- sprintf("Negative Binomial(%.4g)", theta)
  out$variance <- function(mu) mu + mu^2 / theta
  out$dev.resids <- function(y, mu, wt) {
    2 * wt * (y * log(pmax(1, y) / mu) - (y + theta) * log((y + theta) / (mu + theta)))
  }
  out$aic <- function(y, n, mu, wt, dev) {
    -2 * sum(wt * stats::dnbinom(y, size = theta, mu = mu, log = TRUE))
  }
  out
}

# Accepts what glm() accepts: a family object, a family function or its name.
resolve_family <- function(family) {
  if (is_mixed(family)) return(family)
  if (is.character(family)) {
    name <- family
    family <- get0(name, mode = "function", envir = parent.frame(2))
    if (is.null(family)) {
      stop(sprintf(paste0("family '%s' not found: give a family object such as ",
                          "binomial(\"probit\"), a family function or its name (%s)"),
                   name, paste(names(supported_links), collapse = ", ")), call. = FALSE)
    }
  }
  if (is.function(family)) family <- family()
  if (!inherits(family, "family")) {
    stop("'family' must be a family object such as binomial(\"probit\"), ",
         "a family function or its name", call. = FALSE)
  }
  links <- supported_links[[family$family]]
  if (is.null(links)) {
    stop(sprintf("family '%s' is not supported; use one of: %s", family$family,
                 paste(names(supported_links), collapse = ", ")), call. = FALSE)
  }
  if (!family$link %in% links) {
    stop(sprintf("link '%s' is not supported for the %s family; use %s", family$link,
                 family$family, paste(sQuote(links, FALSE), collapse = " or ")), call. = FALSE)
  }
  family
}

family_codes <- function(family) {
  if (is_mixed(family)) family <- family$families[[1]]  # (replaced: R/family-mixed.R)
  codes <- cpp_codes()
  c(family = codes$family[[family$family]], link = codes$link[[family$link]])
}

is_whole <- function(x, tol = 1e-8) all(abs(x - round(x)) < tol)

# Returns list(y, trials, weights, constant) with the response on the scale of
# the engine (see src/family.h); with compact = TRUE, trials and weights that
# are 1 on every row are NULL (the engine's form; the fitter's memory). The
# checks avoid n-length temporaries where they can (min(), max() and anyNA()
# make none): a fit of 10^6 rows should not need several copies of its response.
prepare_response <- function(y, family, weights = NULL, compact = FALSE) {
  y <- unname_response(y)
  n <- NROW(y)
  unit_weights <- is.null(weights)
  if (unit_weights) weights <- rep(1, n)
  if (length(weights) != n) stop("'weights' must have one value per observation", call. = FALSE)
  if (!all_finite(weights) || min(weights) < 0) {
    stop("'weights' must be finite and non-negative", call. = FALSE)
  }
  if (family$family == "ordinal") return(prepare_ordinal_response(y, weights))
  if (is_mixed(family)) return(prepare_mixed_response(y, family, weights, compact))
  if (family$family == "multinomial") {
    return(prepare_multinomial_response(y, family, weights, unit_weights, compact))
  }
  if (family$family == "Gamma") return(prepare_gamma_response(y, weights, unit_weights, compact))
  if (is.factor(y) && family$family != "binomial") {
    stop(sprintf("a factor response needs the binomial family, not %s", family$family),
         call. = FALSE)
  }
  trials <- NULL
  switch(family$family,
    binomial = {
      if (is.matrix(y)) {
        if (ncol(y) != 2) stop("a matrix response must be cbind(successes, failures)", call. = FALSE)
        if (!all_finite(y) || min(y) < 0 || !is_whole(y)) {
          stop("cbind(successes, failures) must hold non-negative whole numbers", call. = FALSE)
        }
        trials <- as.numeric(y[, 1] + y[, 2])
        y <- as.numeric(y[, 1])
      } else {
        if (is.factor(y)) y <- as.numeric(y != levels(y)[1L])
        if (is.logical(y)) y <- as.numeric(y)
        if (!is.numeric(y) || !all_finite(y)) {
          stop("the binomial response must be finite: 0/1, a factor, a logical, ",
               "a proportion with 'weights' as trials, or cbind(successes, failures)",
               call. = FALSE)
        }
        if (n > 0 && (min(y) < 0 || max(y) > 1)) {
          stop("a binomial response must be 0/1 (or a proportion with 'weights' as the ",
               "number of trials); for counts of successes use cbind(successes, failures)",
               call. = FALSE)
        }
        # As in glm(): a proportion with weights w is y * w successes of w trials.
        if (!unit_weights) {
          trials <- weights
          y <- y * weights
          weights <- rep(1, n)
          unit_weights <- TRUE
        }
        if (!is.integer(y)) {
          if (!is_whole(y, 1e-6)) {
            stop("proportion * weights must give whole numbers of successes", call. = FALSE)
          }
          y <- round(y)
        }
      }
      # log choose(n, y) is 0 for single trials.
      constant <- if (is.null(trials)) 0 else sum(weights * lchoose(trials, y))
    },
    poisson = ,
    nbinom2 = {
      name <- family$family
      if (!is.numeric(y) || is.matrix(y) || !all_finite(y)) {
        stop(sprintf("the %s response must be a finite numeric vector of counts", name),
             call. = FALSE)
      }
      if (n > 0 && min(y) < 0) {
        stop(sprintf("the %s response has negative counts", name), call. = FALSE)
      }
      if (!is.integer(y) && !is_whole(y)) {
        stop(sprintf("the %s response must hold whole numbers", name), call. = FALSE)
      }
      constant <- -sum(weights * lgamma(y + 1))
    },
    gaussian = {
      if (!is.numeric(y) || is.matrix(y) || !all_finite(y)) {
        stop("the gaussian response must be a finite numeric vector", call. = FALSE)
      }
      constant <- if (unit_weights) 0 else 0.5 * sum(log(weights[weights > 0]))
    }
  )
  ones <- if (compact) NULL else rep(1, n)
  list(y = as.numeric(y), trials = if (is.null(trials)) ones else as.numeric(trials),
       weights = if (unit_weights) ones else as.numeric(weights), constant = constant)
}

# Whether every value of a numeric vector or matrix is finite (no temporary).
all_finite <- function(x) all(cpp_finite_columns(x))

# An ordered response: the category index 1..C, with the factor's levels.
prepare_ordinal_response <- function(y, weights) {
  if (!is.factor(y)) {
    stop("the ordinal family needs an (ordered) factor response", call. = FALSE)
  }
  counts <- tabulate(as.integer(y), nlevels(y))
  if (any(counts == 0)) {
    stop(sprintf("response category '%s' has no observations: drop it with droplevels()",
                 levels(y)[counts == 0][1]), call. = FALSE)
  }
  list(y = as.numeric(as.integer(y)), trials = rep(1, length(y)), weights = as.numeric(weights),
       constant = 0, levels = levels(y))
}

# A Gamma response: positive and finite. Weights are precisions, as in glm():
# row i has shape w_i nu; rows of zero weight carry nothing. The constant is
# -sum(log y) over the rows of positive weight (the rest of log f depends on nu).
prepare_gamma_response <- function(y, weights, unit_weights, compact) {
  if (!is.numeric(y) || is.matrix(y) || !all_finite(y)) {
    stop("the Gamma response must be a finite numeric vector", call. = FALSE)
  }
  if (length(y) > 0 && min(y) <= 0) {
    stop("the Gamma response must be positive (it has values <= 0)", call. = FALSE)
  }
  constant <- -if (unit_weights) sum(log(y)) else sum(log(y[weights > 0]))
  ones <- if (compact) NULL else rep(1, length(y))
  list(y = as.numeric(y), trials = ones, weights = if (unit_weights) ones else as.numeric(weights),
       constant = constant)
}

# The per-row terms of prepare_response()'s constant, from the engine-scale
# response (y, trials, weights): survey weights (R/pweights.R) weight each
# row's term by its power and top-cluster weights.
constant_rows <- function(resp, family) {
  if (is_mixed(family)) return(mixed_constant_rows(resp, family))
  n <- length(resp$y)
  w <- resp$weights %||% rep(1, n)
  switch(family$family,
    binomial = if (is.null(resp$trials)) rep(0, n) else w * lchoose(resp$trials, resp$y),
    poisson = ,
    nbinom2 = -w * lgamma(resp$y + 1),
    gaussian = ifelse(w > 0, 0.5 * log(pmax(w, .Machine$double.xmin)), 0),
    Gamma = ifelse(w > 0, -log(resp$y), 0),
    rep(0, n))
}
