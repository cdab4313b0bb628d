# The optimizer's centred and scaled fixed-effects design, and the maps of
# the parameters, gradient and Hessian between it and the user's design.

# The optimizer works on the fixed effects of a centred and scaled design:
# with a covariate in the tens, the intercept and its slope are so strongly
# correlated that the quasi-Newton search crawls and can stop at its iteration
# limit short of the maximum. A column whose mean exceeds its SD is centred
# (when the design has an intercept; not for the ordinal family, whose
# thresholds play that part) and a column whose spread is not near 1 is
# scaled: X* = (X - 1 c') D^-1, so that beta = B beta* with B = D^-1 minus
# c / d in the intercept's row. A well-scaled design is used as it is (no
# copy). Returns the centres, scales and the maps beta = B beta* and
# beta* = B^-1 beta, or NULL scales and identity maps.
design_scaling <- function(X, centre = TRUE) {
  if (ncol(X) == 0 || nrow(X) < 2) return(scaling_from_moments(NULL, NULL, nrow(X), colnames(X)))
  moments <- cpp_column_moments(X)  # no copy of a column
  scaling_from_moments(moments$mean, moments$sd, nrow(X), colnames(X), centre)
}

# design_scaling() from the columns' means m and SDs s over n rows (also
# pooled over the partitions of data read by the workers, R/shard-source-fit.R).
scaling_from_moments <- function(m, s, n, columns, centre = TRUE) {
  p <- length(columns)
  identity_map <- list(centre = NULL, scale = NULL, from_internal = diag(p),
                       to_internal = diag(p))
  if (p == 0 || n < 2) return(identity_map)
  rms <- sqrt(s^2 * (n - 1) / n + m^2)
  ones <- which(s == 0 & m == 1)
  intercept <- if (length(ones)) ones[1] else 0L
  shift <- intercept > 0 & centre & s > 0 & abs(m) > s
  d <- ifelse(shift, s, rms)
  d[!(d > 0) | seq_len(p) == intercept] <- 1
  d[d >= 0.5 & d <= 2] <- 1
  if (!any(shift) && all(d == 1)) return(identity_map)
  c0 <- ifelse(shift, m, 0)
  B <- diag(1 / d, p)
  Binv <- diag(d, p)
  if (intercept > 0) {
    B[intercept, ] <- B[intercept, ] - c0 / d
    Binv[intercept, ] <- Binv[intercept, ] + c0
    B[intercept, intercept] <- Binv[intercept, intercept] <- 1
  }
  dimnames(B) <- dimnames(Binv) <- list(columns, columns)
  list(centre = c0, scale = d, from_internal = B, to_internal = Binv)
}

# The design the engine works with: X* = (X - 1 c') D^-1 (X itself when no
# column needs it).
scaled_design <- function(X, scaling) {
  if (is.null(scaling$scale)) return(X)
  Xs <- X
  for (j in which(scaling$centre != 0 | scaling$scale != 1)) {
    Xs[, j] <- (X[, j] - scaling$centre[j]) / scaling$scale[j]
  }
  Xs
}

# A parameter vector (beta, theta, psi) with its fixed-effects block mapped by
# the p x p matrix M.
map_par <- function(par, M, p) {
  if (p > 0) par[seq_len(p)] <- drop(M %*% par[seq_len(p)])
  par
}

# The optimum on the internal scale mapped back to the fixed effects of X:
# beta = B beta*, the gradient in beta is B^-T times that in beta*, and the
# Hessian H = T^-T H* T^-1 with T = diag(B, I).
map_optimum <- function(opt, scaling, p) {
  if (is.null(scaling$scale) || p == 0) return(opt)
  k <- length(opt$par)
  Tinv <- diag(k)
  Tinv[seq_len(p), seq_len(p)] <- scaling$to_internal
  opt$hessian_internal <- opt$hessian
  opt$from_internal <- scaling$from_internal
  opt$par <- map_par(opt$par, scaling$from_internal, p)
  opt$gradient <- drop(crossprod(Tinv, opt$gradient))
  if (!is.null(opt$hessian)) opt$hessian <- crossprod(Tinv, opt$hessian %*% Tinv)
  opt
}

# The inverse information (invert_information()) of the fit's parameters,
# found on the optimizer's internal scale and mapped back, V = T V* T' with
# T = diag(B, I): with a covariate shifted by 1e6 the Hessian on the user's
# scale has an intercept-slope correlation of 1 - 1e-12 and cannot be
# inverted, while the internal one is well conditioned. Fixed effects at
# infinity (whose internal counterparts mix with the intercept) use the
# user's scale.
invert_information_mapped <- function(opt, at_bound, infinite, p) {
  if (is.null(opt$hessian_internal) || p == 0 || any(infinite[seq_len(p)])) {
    return(invert_information(opt$hessian, at_bound, infinite))
  }
  inv <- invert_information(opt$hessian_internal, at_bound, infinite)
  V <- inv$vcov
  b <- seq_len(p)
  B <- opt$from_internal
  V[b, b] <- B %*% V[b, b, drop = FALSE] %*% t(B)
  if (nrow(V) > p) {
    o <- -b
    V[b, o] <- B %*% V[b, o, drop = FALSE]
    V[o, b] <- t(V[b, o, drop = FALSE])
  }
  inv$vcov <- V
  inv
}
