# The random-effect covariance Sigma = Lambda Lambda' with Lambda lower
# triangular. `pattern` is a q x q logical matrix marking the free entries of
# Lambda (full lower triangle within a `|` term, diagonal only for `||`,
# zero between terms). The optimizer's theta holds the free entries in
# column-major order; diagonal entries are bounded below by zero, so a
# variance on the boundary is reached exactly (as in lme4).

lambda_pattern <- function(blocks, q) {
  pattern <- matrix(FALSE, q, q)
  for (b in blocks) {
    if (b$diagonal) {
      diag(pattern)[b$columns] <- TRUE
    } else {
      sub <- pattern[b$columns, b$columns, drop = FALSE]
      sub[lower.tri(sub, diag = TRUE)] <- TRUE
      pattern[b$columns, b$columns] <- sub
    }
  }
  pattern
}

theta_is_diagonal <- function(pattern) {
  (row(pattern) == col(pattern))[pattern]
}

theta_to_lambda <- function(theta, pattern) {
  lambda <- matrix(0, nrow(pattern), ncol(pattern))
  lambda[pattern] <- theta
  lambda
}

lambda_to_theta <- function(lambda, pattern) lambda[pattern]

# Variances and covariances (lower triangle of Sigma, column-major) from theta.
theta_to_varcov <- function(theta, pattern) {
  lambda <- theta_to_lambda(theta, pattern)
  sigma <- tcrossprod(lambda)
  sigma[lower.tri(sigma, diag = TRUE)]
}

# Names "var(a)", "cov(a,b)" matching theta_to_varcov().
varcov_names <- function(cnames) {
  q <- length(cnames)
  out <- character(0)
  for (j in seq_len(q)) for (i in j:q) {
    out <- c(out, if (i == j) sprintf("var(%s)", cnames[i]) else
      sprintf("cov(%s,%s)", cnames[j], cnames[i]))
  }
  out
}

# Numerical Jacobian by central differences (used for delta-method SEs of
# smooth transformations of the parameters).
numeric_jacobian <- function(f, x, h = 1e-6) {
  f0 <- f(x)
  J <- matrix(0, length(f0), length(x))
  for (k in seq_along(x)) {
    step <- h * max(1, abs(x[k]))
    xp <- x
    xm <- x
    xp[k] <- x[k] + step
    xm[k] <- x[k] - step
    J[, k] <- (f(xp) - f(xm)) / (2 * step)
  }
  J
}
