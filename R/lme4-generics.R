# The accessors lme4 users call on a fit (getME, ngrps, sigma, deviance,
# extractAIC, model.matrix, ...), with lme4's conventions: random effects
# ordered by grouping factor (innermost first), then by cluster, then by
# effect; theta the elements of each factor's lower Cholesky factor, column
# by column (relative to sigma for the gaussian family).

#' lme4's accessors for glamm fits
#'
#' `getME()` and `ngrps()` are lme4's generics (the methods are registered
#' when lme4 is loaded); the others are base R's. With them, lme4's
#' `isSingular()`, [stats::drop1()], [stats::step()] and [stats::update()]
#' work on glamm fits.
#'
#' * `getME(fit, name)`: `"X"`, `"Z"` and `"Zt"` (the random-effects design;
#'   sparse when the Matrix package is available), `"theta"` and `"lower"`
#'   (lme4's covariance parameters and their lower bounds), `"beta"` or
#'   `"fixef"`, `"flist"` (the grouping factors), `"cnms"` (the names of each
#'   factor's effects), `"y"` (the response; proportions for binomial),
#'   `"mu"` (conditional fitted means), `"b"` and `"u"` (the conditional modes
#'   of the random effects on their own scale and spherical, `b = Lambda u`),
#'   `"Lambda"` and `"Lambdat"`, `"n"` (observations), `"p"` (fixed effects),
#'   `"q"` (random effects in all), `"sigma"`, `"family"` and `"call"`.
#'   Several names give a list.
#' * `ngrps()`: the number of clusters of each grouping factor.
#' * `isREML()` and `refitML()` (lme4's generics): whether the fit is by
#'   REML (`glamm(..., REML = TRUE)`), and the same model refitted by
#'   maximum likelihood (an ML fit is returned as it is).
#' * `sigma()`: the residual standard deviation or dispersion as glmmTMB's
#'   `sigma()` defines it: the residual SD (gaussian), the coefficient of
#'   variation `1/sqrt(shape)` (`Gamma`), `theta` of `var = mu + mu^2/theta`
#'   ([nbinom2()]), and 1 for the other families (as lme4).
#' * `deviance()`: minus twice the maximized log-likelihood, with every
#'   constant (lme4's `deviance()` of a glmer fit is instead the sum of
#'   squared deviance residuals at the conditional modes); for a REML fit the
#'   REML criterion (lme4's `REMLcrit()`).
#' * `df.residual()`: observations minus estimated parameters.
#' * `extractAIC()`: the equivalent degrees of freedom and the AIC, for
#'   [stats::drop1()] and [stats::step()] (which drop or add fixed-effect
#'   terms; the random part stays).
#' * `model.matrix()`: the fixed-effects design, or (`type = "random"`) `Z`.
#' * `terms()` and `formula()`: of the fixed part (`fixed.only = TRUE`),
#'   of the random part (`random.only = TRUE`, for `formula()`) or of the
#'   whole model.
#' * `weights()`: the prior weights (1 for every row when none were given).
#'
#' @param object,x,fit a `glamm` fit.
#' @param name what `getME()` extracts (see Details).
#' @param type for `model.matrix()`: `"fixed"` or `"random"`.
#' @param fixed.only,random.only for `formula()` and `terms()`: only the
#'   fixed part, or (`formula()`) only the random part.
#' @param scale,k for `extractAIC()`: `scale` is not used; `k` the penalty
#'   per parameter (2 for AIC).
#' @param ... not used.
#' @examples
#' fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000,
#'              family = binomial, nAGQ = 5)
#' sigma(fit)
#' c(deviance = deviance(fit), df.residual = df.residual(fit))
#' extractAIC(fit)
#' formula(fit, fixed.only = TRUE)
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   lme4::ngrps(fit)
#'   head(lme4::getME(fit, "b"))
#'   lme4::isSingular(fit)
#' }
#' @name glamm-lme4
NULL

#' @rdname glamm-lme4
#' @exportS3Method lme4::ngrps
ngrps.glamm <- function(object, ...) {
  vapply(re_groups(object), function(gr) nlevels(gr$factor), 1)
}

#' @rdname glamm-lme4
#' @exportS3Method lme4::getME
getME.glamm <- function(object, name, ...) {
  valid <- c("X", "Z", "Zt", "theta", "lower", "beta", "fixef", "flist", "cnms", "y", "mu",
             "b", "u", "Lambda", "Lambdat", "n", "p", "q", "sigma", "family", "call")
  if (missing(name) || !is.character(name) || length(name) == 0) {
    stop("'name' must be one or more of: ", paste(valid, collapse = ", "), call. = FALSE)
  }
  unknown <- setdiff(name, valid)
  if (length(unknown)) {
    stop(sprintf("getME() does not know %s; valid names: %s",
                 paste(sQuote(unknown, FALSE), collapse = ", "), paste(valid, collapse = ", ")),
         call. = FALSE)
  }
  if (length(name) > 1) return(stats::setNames(lapply(name, getME.glamm, object = object), name))
  groups <- re_groups(object)
  switch(name,
    X = model.matrix.glamm(object),
    Z = random_design_matrix(object),
    Zt = t(random_design_matrix(object)),
    theta = lme4_theta(object, groups),
    lower = lme4_lower(groups),
    beta = ,
    fixef = object$coefficients,
    flist = as.data.frame(lapply(groups, function(gr) gr$factor), optional = TRUE),
    cnms = lapply(groups, function(gr) colnames(gr$Sigma)),
    y = {
      d <- fit_data(object)
      if (object$family$family == "binomial") d$y / pmax(d$trials, 1) else d$y
    },
    mu = unname(stats::fitted(object)),
    b = unlist(lapply(groups, function(gr) as.vector(t(gr$ranef$mode))), use.names = FALSE),
    u = unlist(lapply(groups, function(gr) {
      as.vector(t(gr$ranef$mode %*% t(pseudo_inverse(gr$lambda / lme4_scale(object)))))
    }), use.names = FALSE),
    Lambda = relative_factor(object, groups),
    Lambdat = t(relative_factor(object, groups)),
    n = object$nobs,
    p = length(object$coefficients),
    q = sum(vapply(groups, function(gr) nlevels(gr$factor) * ncol(gr$Sigma), 1)),
    sigma = sigma.glamm(object),
    family = object$family,
    call = object$call
  )
}

# lme4's theta: each factor's free Cholesky elements column by column, named
# "factor.effect" (diagonal) or "factor.row.col", relative to sigma.
lme4_theta <- function(object, groups) {
  unlist(lapply(names(groups), function(g) {
    gr <- groups[[g]]
    cn <- colnames(gr$Sigma)
    lt <- gr$pattern
    nm <- ifelse(row(lt) == col(lt), paste(g, cn[row(lt)], sep = "."),
                 paste(g, cn[row(lt)], cn[col(lt)], sep = "."))
    stats::setNames(gr$lambda[lt] / lme4_scale(object), nm[lt])
  }))
}

lme4_lower <- function(groups) {
  unlist(lapply(groups, function(gr) ifelse((row(gr$pattern) == col(gr$pattern))[gr$pattern],
                                            0, -Inf)), use.names = FALSE)
}

# The block-diagonal factor Lambda (relative to sigma) over all random effects.
relative_factor <- function(object, groups) {
  blocks <- lapply(groups, function(gr) {
    kronecker(diag(nlevels(gr$factor)), gr$lambda / lme4_scale(object))
  })
  dense_to_sparse(block_diagonal(blocks))
}

block_diagonal <- function(blocks) {
  sizes <- vapply(blocks, nrow, 1L)
  out <- matrix(0, sum(sizes), sum(sizes))
  at <- c(0L, cumsum(sizes))
  for (k in seq_along(blocks)) {
    idx <- at[k] + seq_len(sizes[k])
    out[idx, idx] <- blocks[[k]]
  }
  out
}

# Z over all random effects in lme4's column order, built from its nonzeros.
random_design_matrix <- function(object) {
  groups <- fit_level_designs(object, re_groups(object))
  n <- object$nobs
  rows <- cols <- vals <- list()
  first <- 0L
  for (gr in groups) {
    q <- ncol(gr$Z)
    cluster <- as.integer(gr$factor)
    for (k in seq_len(q)) {
      rows[[length(rows) + 1]] <- seq_len(n)
      cols[[length(cols) + 1]] <- first + (cluster - 1L) * q + k
      vals[[length(vals) + 1]] <- gr$Z[, k]
    }
    first <- first + nlevels(gr$factor) * q
  }
  i <- unlist(rows)
  j <- unlist(cols)
  x <- unlist(vals)
  if (requireNamespace("Matrix", quietly = TRUE)) {
    return(Matrix::sparseMatrix(i = i, j = j, x = x, dims = c(n, first)))
  }
  Z <- matrix(0, n, first)
  Z[cbind(i, j)] <- x
  Z
}

dense_to_sparse <- function(M) {
  if (requireNamespace("Matrix", quietly = TRUE)) Matrix::Matrix(M, sparse = TRUE) else M
}

pseudo_inverse <- function(M) {
  s <- svd(M)
  keep <- s$d > max(dim(M)) * max(s$d) * .Machine$double.eps
  s$v[, keep, drop = FALSE] %*% (t(s$u[, keep, drop = FALSE]) / s$d[keep])
}

#' @rdname glamm-lme4
#' @export
sigma.glamm <- function(object, ...) object$sigma %||% 1

# The scale lme4's theta, Lambda and u are relative to: sigma for the
# gaussian family, 1 for the others.
lme4_scale <- function(object) if (object$family$family == "gaussian") object$sigma else 1

#' @rdname glamm-lme4
#' @export
deviance.glamm <- function(object, ...) -2 * c(stats::logLik(object))

#' @rdname glamm-lme4
#' @export
df.residual.glamm <- function(object, ...) object$nobs - object$df

#' @rdname glamm-lme4
#' @export
extractAIC.glamm <- function(fit, scale = 0, k = 2, ...) {
  c(fit$df, -2 * c(stats::logLik(fit)) + k * fit$df)
}

#' @rdname glamm-lme4
#' @export
model.matrix.glamm <- function(object, type = c("fixed", "random"), ...) {
  type <- match.arg(type)
  if (type == "random") return(random_design_matrix(object))
  fit_data(object)$X
}

#' @rdname glamm-lme4
#' @export
terms.glamm <- function(x, fixed.only = TRUE, ...) {
  if (fixed.only || is.null(x$formula)) return(x$terms)
  stats::terms(sub_bars(x$formula))
}

#' @rdname glamm-lme4
#' @export
formula.glamm <- function(x, fixed.only = FALSE, random.only = FALSE, ...) {
  f <- x$formula %||% stats::as.formula("y ~ X - 1")
  if (fixed.only && random.only) {
    stop("'fixed.only' and 'random.only' cannot both be TRUE", call. = FALSE)
  }
  if (fixed.only) return(drop_bars(f))
  if (random.only) {
    bars <- lapply(find_bars(f[[length(f)]]), function(b) call("(", b))
    rhs <- Reduce(function(a, b) call("+", a, b), bars)
    f[[length(f)]] <- rhs
  }
  f
}

#' @rdname glamm-lme4
#' @export
weights.glamm <- function(object, ...) {
  w <- if (!is.null(object$frame)) stats::model.weights(object$frame) else object$data$weights
  if (is.null(w)) rep(1, object$nobs) else as.numeric(w)
}
