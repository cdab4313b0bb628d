# Methods for multinomial fits (R/multinomial.R): category probabilities,
# conditional or marginal, with delta-method SEs; the summary by category
# with relative-risk ratios; simulation. A fit keeps its pseudo-row designs
# (observation-major, d = C - 1 rows per observation), so logLik, anova,
# VarCorr and ranef are the general methods.

# softmax(0, eta) by rows: n x d log-odds -> n x C probabilities.
softmax_rows <- function(eta) {
  E <- cbind(0, eta)
  E <- exp(E - apply(E, 1, max))
  E / rowSums(E)
}

# The pseudo-row designs for the observations of newdata (NULL: the fit's):
# X, and per level Z and the cluster index of each pseudo-row.
multinomial_design <- function(object, newdata, need_group, allow.new.levels) {
  groups <- re_groups(object)
  mn <- object$multinomial
  if (is.null(newdata)) {
    d <- fit_data(object)
    levels <- lapply(groups, function(gr) list(Z = gr$Z, group = as.integer(gr$factor)))
    return(list(X = d$X, levels = levels, n = mn$n_obs, missing = rep(FALSE, mn$n_obs)))
  }
  # The observation-level designs from prediction_design() (predict.R), on a
  # view of the fit with the formula's own column names; then expanded.
  view <- object
  view$coefficients <- stats::setNames(numeric(length(mn$fixed_names)), mn$fixed_names)
  view_groups <- groups
  for (l in names(groups)) {
    zn <- mn$z_names[[l]]
    view_groups[[l]]$Sigma <- matrix(0, length(zn), length(zn), dimnames = list(zn, zn))
  }
  od <- prediction_design(view, newdata, need_group = need_group,
                          allow.new.levels = allow.new.levels, groups = view_groups,
                          need_z = TRUE)
  if (any(od$missing)) {
    stop("newdata has missing values in the variables of the model", call. = FALSE)
  }
  n <- nrow(od$X)
  rows <- multinomial_rows(n, mn$d)
  cats <- mn$categories[-1]
  levels <- lapply(seq_along(groups), function(l) {
    Z <- od$levels[[l]]$Z
    Z <- if (object$family$random == "shared") {
      Z[rows$obs, , drop = FALSE]
    } else {
      category_design(Z, cats)
    }
    list(Z = Z, group = if (is.null(od$levels[[l]]$group)) NULL else od$levels[[l]]$group[rows$obs])
  })
  names(levels) <- names(groups)
  list(X = category_design(od$X, cats), levels = levels, n = n, missing = od$missing)
}

# Pseudo-row linear predictors (n d) at beta with the posterior means of the
# levels in `use` (0 for new clusters).
multinomial_eta <- function(object, dsgn, beta, use) {
  groups <- re_groups(object)
  eta <- drop(dsgn$X %*% beta)
  for (l in which(use)) {
    b <- groups[[l]]$ranef$mean
    eta <- eta + posterior_mean_z(dsgn$levels[[l]]$Z, b, dsgn$levels[[l]]$group)
  }
  eta
}

# The covariance (d x d) of the random part of observation i's d linear
# predictors, sum_l Z_il Sigma_l Z_il', for every observation: an n x d^2
# matrix (row i: vec of the matrix).
random_covariances <- function(dsgn, Sigmas, d) {
  n <- dsgn$n
  out <- matrix(0, n, d * d)
  for (l in seq_along(Sigmas)) {
    Z <- dsgn$levels[[l]]$Z
    ZS <- Z %*% Sigmas[[l]]
    for (a in seq_len(d)) for (b in seq_len(d)) {
      ra <- seq(a, by = d, length.out = n)
      rb <- seq(b, by = d, length.out = n)
      k <- a + (b - 1) * d
      out[, k] <- out[, k] + rowSums(ZS[ra, , drop = FALSE] * Z[rb, , drop = FALSE])
    }
  }
  out
}

# E[softmax(0, eta_i + b_i)], b_i ~ N(0, V_i), by a product Gauss-Hermite rule
# of nquad points along each direction of V_i's eigenvectors with a
# non-negligible eigenvalue (one direction for shared effects).
marginal_probabilities <- function(eta, V, d, nquad) {
  n <- nrow(eta)
  out <- matrix(0, n, d + 1)
  gh <- cpp_gauss_hermite(nquad)
  key <- apply(signif(V, 12), 1, paste, collapse = ",")
  for (k in unique(key)) {
    i <- which(key == k)
    e <- eigen(matrix(V[i[1], ], d, d), symmetric = TRUE)
    keep <- e$values > 1e-12 * max(1, e$values[1])
    if (!any(keep)) {
      out[i, ] <- softmax_rows(eta[i, , drop = FALSE])
      next
    }
    r <- sum(keep)
    grid <- as.matrix(expand.grid(rep(list(seq_len(nquad)), r)))
    nodes <- matrix(gh$nodes[grid], ncol = r)
    w <- apply(matrix(gh$weights[grid], ncol = r), 1, prod)
    shift <- nodes %*% t(e$vectors[, keep, drop = FALSE] %*% diag(sqrt(e$values[keep]), r))
    for (m in seq_len(nrow(shift))) {
      out[i, ] <- out[i, ] + w[m] * softmax_rows(sweep(eta[i, , drop = FALSE], 2, shift[m, ], "+"))
    }
  }
  out
}

#' Predictions from a multinomial fit
#'
#' @param object a fit of [glamm()] with `family = multinomial()`.
#' @param newdata a data frame, or `NULL` for the fitted observations.
#' @param type `"link"`: the n x (C-1) log-odds against the baseline;
#'   `"response"`: the n x C category probabilities.
#' @param re.form `NULL` (the random effects' posterior means) or `NA`
#'   (random effects 0).
#' @param marginal `TRUE`: population-averaged probabilities, integrated over
#'   the random effects' normal distribution (type `"response"`).
#' @param se.fit whether to return standard errors by the delta method
#'   (numeric derivatives of the predictions in the fixed effects and, for
#'   marginal predictions, the covariance parameters; conditional predictions
#'   treat the predicted random effects as known).
#' @param allow.new.levels whether clusters not in the fit are predicted with
#'   random effects 0.
#' @param nquad quadrature points per direction of the marginal integral.
#' @param ... unused.
#' @return A matrix with one row per observation and one column per category
#'   (type `"response"`) or non-baseline category (`"link"`); with `se.fit`
#'   a list of `fit` and `se.fit`, matrices of the same shape.
#' @export
predict.glamm_multinomial <- function(object, newdata = NULL, type = c("link", "response"),
                                      re.form = NULL, marginal = FALSE, se.fit = FALSE,
                                      allow.new.levels = FALSE, nquad = 15, ...) {
  type <- match.arg(type)
  if (marginal && type != "response") {
    stop("marginal predictions are category probabilities: use type = \"response\"",
         call. = FALSE)
  }
  if (!is.null(re.form) && !(length(re.form) == 1 && is.na(re.form))) {
    stop("for multinomial fits 're.form' is NULL (with the random effects) or NA (without)",
         call. = FALSE)
  }
  mn <- object$multinomial
  groups <- re_groups(object)
  use <- rep(is.null(re.form) && !marginal, length(groups))
  dsgn <- multinomial_design(object, newdata, need_group = use, allow.new.levels)
  d <- mn$d
  p <- length(object$coefficients)
  patterns <- lapply(groups, function(gr) gr$pattern)
  nt <- vapply(patterns, sum, 1L)
  compute <- function(par) {
    beta <- par[seq_len(p)]
    eta <- matrix(multinomial_eta(object, dsgn, beta, use), dsgn$n, d, byrow = TRUE)
    if (type == "link") return(eta)
    if (!marginal) return(softmax_rows(eta))
    theta <- split(par[-seq_len(p)], rep(seq_along(nt), nt))
    Sigmas <- lapply(seq_along(groups), function(l) {
      tcrossprod(theta_to_lambda(theta[[l]], patterns[[l]]))
    })
    marginal_probabilities(eta, random_covariances(dsgn, Sigmas, d), d, nquad)
  }
  par <- c(object$coefficients, object$theta)
  fit <- compute(par)
  cats <- if (type == "link") mn$categories[-1] else mn$categories
  dimnames(fit) <- list(rownames(newdata), cats)
  if (!se.fit) return(fit)
  k <- if (marginal) length(par) else p
  J <- vapply(seq_len(k), function(j) {
    h <- 1e-6 * max(1, abs(par[j]))
    up <- par
    dn <- par
    up[j] <- up[j] + h
    dn[j] <- dn[j] - h
    as.vector(compute(up) - compute(dn)) / (2 * h)
  }, numeric(length(fit)))
  V <- object$vcov_par[seq_len(k), seq_len(k), drop = FALSE]
  se <- matrix(sqrt(pmax(rowSums((J %*% V) * J), 0)), nrow(fit), dimnames = dimnames(fit))
  list(fit = fit, se.fit = se)
}

#' @export
fitted.glamm_multinomial <- function(object, ...) predict(object, type = "response")

#' @export
residuals.glamm_multinomial <- function(object, ...) {
  stop("residuals are not available for multinomial fits; compare fitted(fit) (the ",
       "category probabilities) with the observed categories", call. = FALSE)
}

#' Summary of a multinomial fit
#'
#' @param object a fit of [glamm()] with `family = multinomial()`.
#' @param exp whether to add the relative-risk ratios exp(beta) (with CIs).
#' @param conf.int whether to add Wald confidence intervals (of the ratios
#'   when `exp = TRUE`).
#' @param level the confidence level.
#' @param ... unused.
#' @return An object of class `summary.glamm_multinomial`: `coefficients`, a
#'   list with one table per non-baseline category (Estimate, Std. Error,
#'   with `exp` RRR, with `conf.int` the bounds, then z value and Pr(>|z|)),
#'   `baseline`, `varcor` (VarCorr), `logLik`, `nobs`, `call`.
#' @export
summary.glamm_multinomial <- function(object, exp = FALSE, conf.int = exp, level = 0.95, ...) {
  mn <- object$multinomial
  beta <- object$coefficients
  se <- sqrt(diag(object$vcov_par))[seq_along(beta)]
  z <- beta / se
  tab <- cbind(Estimate = beta, `Std. Error` = se)
  q <- stats::qnorm(1 - (1 - level) / 2)
  lo <- beta - q * se
  hi <- beta + q * se
  if (exp) tab <- cbind(tab, RRR = base::exp(beta))
  if (conf.int) {
    bounds <- if (exp) cbind(base::exp(lo), base::exp(hi)) else cbind(lo, hi)
    colnames(bounds) <- sprintf("%s %g%%", c("lower", "upper"), 100 * c(1 - level, 1 + level) / 2)
    tab <- cbind(tab, bounds)
  }
  # the test columns last, as printCoefmat() reads them
  tab <- cbind(tab, `z value` = z, `Pr(>|z|)` = 2 * stats::pnorm(-abs(z)))
  cat_of <- rep(mn$categories[-1], each = mn$p_fixed)
  tables <- lapply(split(seq_along(beta), factor(cat_of, levels = mn$categories[-1])),
                   function(i) {
                     t <- tab[i, , drop = FALSE]
                     rownames(t) <- mn$fixed_names
                     t
                   })
  structure(list(coefficients = tables, baseline = mn$categories[1], varcor = VarCorr(object),
                 logLik = stats::logLik(object), nobs = mn$n_obs, call = object$call,
                 nAGQ = object$nAGQ),
            class = "summary.glamm_multinomial")
}

#' @export
print.summary.glamm_multinomial <- function(x, digits = max(3, getOption("digits") - 3), ...) {
  cat("Multinomial (baseline-category) logit mixed model, baseline:", x$baseline, "\n")
  if (!is.null(x$call)) cat("Call:", paste(deparse(x$call), collapse = "\n"), "\n")
  ll <- x$logLik
  cat(sprintf("log-likelihood: %.4f (df = %d), %d observations\n\n", as.numeric(ll),
              attr(ll, "df"), x$nobs))
  cat("Random effects:\n")
  print(x$varcor)
  for (k in names(x$coefficients)) {
    cat(sprintf("\nCategory %s vs %s:\n", k, x$baseline))
    tab <- x$coefficients[[k]]
    stats::printCoefmat(tab, digits = digits, has.Pvalue = TRUE, P.values = TRUE, cs.ind = 1:2,
                        tst.ind = ncol(tab) - 1)
  }
  invisible(x)
}

#' @export
simulate.glamm_multinomial <- function(object, nsim = 1, seed = NULL, ...) {
  if (!is.numeric(nsim) || length(nsim) != 1 || !is.finite(nsim) || nsim < 1 ||
      nsim != round(nsim)) {
    stop("'nsim' must be a whole number >= 1 (the number of simulated responses)", call. = FALSE)
  }
  if (!is.null(seed)) set.seed(seed)
  mn <- object$multinomial
  dd <- fit_data(object)
  groups <- re_groups(object)
  eta0 <- drop(dd$X %*% object$coefficients)
  sims <- lapply(seq_len(nsim), function(s) {
    eta <- eta0
    for (gr in groups) {
      J <- nlevels(gr$factor)
      q <- ncol(gr$Z)
      b <- matrix(stats::rnorm(J * q), J, q) %*% t(gr$lambda)
      eta <- eta + rowSums(gr$Z * b[as.integer(gr$factor), , drop = FALSE])
    }
    prob <- softmax_rows(matrix(eta, mn$n_obs, mn$d, byrow = TRUE))
    u <- stats::runif(mn$n_obs)
    factor(mn$categories[1 + rowSums(u > t(apply(prob, 1, cumsum))[, -ncol(prob), drop = FALSE])],
           levels = mn$categories)
  })
  stats::setNames(as.data.frame(sims), paste0("sim_", seq_len(nsim)))
}
