# Reporting fits with factor loadings (R/latent.R): the loadings with their
# SEs in summary(), and the IRT parametrization of a 2PL,
#   logit P(y_pj = 1) = beta_j + lambda_j sigma theta_p = a_j (theta_p - b_j),
# theta_p ~ N(0, 1): discrimination a_j = lambda_j sigma, difficulty
# b_j = -beta_j / a_j, with delta-method SEs from the covariance of
# (beta_j, theta, lambda_j).

#' IRT parametrization of a fit with factor loadings
#'
#' For a two-parameter logistic (or probit) model fitted with factor
#' loadings, `y ~ 0 + item + (0 + ability | person)` with
#' `load.var = "item"`, the linear predictor of item `j` is
#' `beta_j + lambda_j * b_p` with `b_p ~ N(0, sigma^2)`. With the standardized
#' ability `theta_p = b_p / sigma` this is `a_j * (theta_p - b_j)`: the
#' discrimination `a_j = lambda_j * sigma` and the difficulty
#' `b_j = -beta_j / a_j` (ltm's and TAM's "IRT parametrization"). Standard
#' errors are by the delta method.
#'
#' @param object a `glamm` fit with factor loadings.
#' @param factor the factor (default the first).
#' @return A data frame with one row per level of the loading variable and
#'   columns `discrimination`, `discrimination.se`, `difficulty`,
#'   `difficulty.se`.
#' @examples
#' d <- subset(lme4::VerbAgg, item %in% levels(item)[1:6] & as.integer(id) <= 120)
#' d$item <- droplevels(d$item)
#' fit <- glamm(r2 ~ 0 + item + (0 + ability | id), data = d, family = binomial,
#'              nAGQ = 7, factor = "ability", load.var = "item", lambda = c(1, rep(NA, 5)))
#' irt_parameters(fit)
#' @export
irt_parameters <- function(object, factor = NULL) {
  lt <- object$latent
  if (is.null(lt)) stop("the fit has no factor loadings", call. = FALSE)
  factor <- factor %||% lt$factor[1]
  k <- match(factor, lt$factor)
  if (is.na(k)) stop(sprintf("'%s' is not a factor of the fit", factor), call. = FALSE)
  items <- rownames(lt$lambda)
  beta_names <- paste0(lt$load.var, items)
  if (!all(beta_names %in% names(object$coefficients))) {
    stop(sprintf(paste0("the IRT parametrization needs one intercept per level of '%s': ",
                        "fit y ~ 0 + %s + (0 + %s | person)"), lt$load.var, lt$load.var, factor),
         call. = FALSE)
  }
  sd_of <- factor_sd_function(object, factor)
  par <- object$par
  lambda_index <- match(lt$names, names(par))
  free_row <- row(lt$lambda)[lt$free][col(lt$lambda)[lt$free] == k]
  irt <- function(p) {
    lam <- lt$lambda[, k]
    here <- col(lt$lambda)[lt$free] == k
    lam[free_row] <- p[lambda_index[here]]
    a <- lam * sd_of(p)
    c(a, -p[beta_names] / a)
  }
  est <- irt(par)
  J <- numeric_jacobian(irt, par)
  V <- object$vcov_par
  se <- sqrt(pmax(diag(J %*% V %*% t(J)), 0))
  n <- length(items)
  data.frame(discrimination = est[seq_len(n)], discrimination.se = se[seq_len(n)],
             difficulty = est[n + seq_len(n)], difficulty.se = se[n + seq_len(n)],
             row.names = items)
}

# The SD of a factor (at its first level among the random terms) as a
# function of the parameter vector.
factor_sd_function <- function(object, factor) {
  p <- length(object$coefficients)
  groups <- object$groups
  offsets <- p + cumsum(c(0, vapply(groups, function(gr) sum(gr$pattern), 1L)))
  for (l in seq_along(groups)) {
    r <- match(factor, rownames(groups[[l]]$Sigma))
    if (!is.na(r)) {
      pattern <- groups[[l]]$pattern
      idx <- offsets[l] + seq_len(sum(pattern))
      return(function(par) {
        L <- theta_to_lambda(par[idx], pattern)
        sqrt(sum(L[r, ]^2))
      })
    }
  }
  stop(sprintf("the factor '%s' has no random effect", factor), call. = FALSE)
}

# The loadings table (and the IRT parametrization on request) of summary().
latent_summary <- function(object, irt) {
  lt <- object$latent
  if (is.null(lt)) return(NULL)
  list(loadings = lt$loadings, irt = if (irt) irt_parameters(object))
}

print_latent <- function(x, digits) {
  if (is.null(x)) return(invisible())
  cat("\nFactor loadings (fixed ones without SE):\n")
  tab <- x$loadings
  m <- cbind(Estimate = tab$estimate, `Std. Error` = ifelse(tab$fixed, NA, tab$std.error))
  rownames(m) <- paste0(tab$factor, ": ", tab$level)
  print(m, digits = digits, na.print = "")
  if (!is.null(x$irt)) {
    cat("\nIRT parametrization (a (theta - b), theta ~ N(0, 1)):\n")
    print(as.matrix(x$irt), digits = digits)
  }
}

# Whether the loadings of fit `small` are a special case of those of `big`
# (for anova): wherever big fixes a loading, small fixes it at the same
# value; a fit without loadings has all of them fixed at 1. NULL when nested,
# else what small has that big lacks.
latent_not_nested <- function(small, big, big_label) {
  if (!inherits(small, "glamm") || !inherits(big, "glamm")) return(NULL)
  if (is.null(small$latent) && is.null(big$latent)) return(NULL)
  spec <- function(f, like) {
    if (!is.null(f$latent)) return(f$latent$lambda_spec)
    matrix(1, nrow(like), ncol(like), dimnames = dimnames(like))
  }
  b <- spec(big, small$latent$lambda_spec)
  s <- spec(small, b)
  if (!identical(dim(s), dim(b)) || !identical(dimnames(s), dimnames(b))) {
    return(sprintf("has other factors or loading levels than %s", big_label))
  }
  fixed_big <- !is.na(b)
  differs <- fixed_big & (is.na(s) | s != b)
  if (any(differs)) {
    k <- which(differs)[1]
    return(sprintf("has the loading of %s on %s %s, which %s fixes at %s",
                   rownames(b)[row(b)[k]], colnames(b)[col(b)[k]],
                   if (is.na(s[k])) "free" else sprintf("fixed at %g", s[k]), big_label,
                   format(b[k])))
  }
  NULL
}

# The row levels of the loading variable in new data (NULL for a fit without
# loadings); a level the fit has no loading for is an error.
latent_new_rows <- function(object, newdata) {
  lt <- object$latent
  if (is.null(lt)) return(NULL)
  if (!lt$load.var %in% names(newdata)) {
    stop(sprintf("newdata needs the loading variable '%s'", lt$load.var), call. = FALSE)
  }
  v <- as.character(newdata[[lt$load.var]])
  rows <- match(v, rownames(lt$lambda))
  if (any(is.na(rows) & !is.na(v))) {
    stop(sprintf("newdata has a level of '%s' that the fit has no loading for (%s)", lt$load.var,
                 v[is.na(rows) & !is.na(v)][1]), call. = FALSE)
  }
  rows
}
