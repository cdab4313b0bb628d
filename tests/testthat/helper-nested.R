# Independent references for nested (multilevel) random effects, at fixed
# parameters: the log-likelihood of an L-level GLMM by brute-force
# integration, level by level, with a fine non-adaptive rule
# (nested_loglik_brute; nested_loglik_integrate3 does three levels with
# integrate()); the joint Laplace approximation (nested_loglik_laplace); the
# exact marginal gaussian log-likelihood (nested_loglik_gaussian_exact); and
# simulated nested data (sim_nested). test-nested.R validates them against
# each other, lmer, glmmTMB and glamm's two-level AGHQ.
#
# Nothing here uses glamm: the references are plain R, so that the engine's
# multilevel AGHQ can be checked against them.

# log f(y | eta) with every normalizing constant (binomial coefficient, log y!,
# log(2 pi)), for the rows `rows` and a matrix eta with one row per such row
# (columns: quadrature nodes). y: successes (binomial), counts or values.
nested_logf <- function(family, y, trials, sigma) {
  link <- family$link
  switch(family$family,
    binomial = {
      lc <- lchoose(trials, y)
      function(rows, eta) {
        yy <- y[rows]
        nn <- trials[rows]
        lmu <- switch(link,
          logit = stats::plogis(eta, log.p = TRUE),
          probit = stats::pnorm(eta, log.p = TRUE),
          cloglog = ifelse(eta < -30, eta - exp(eta) / 2, log(-expm1(-exp(eta)))),
          stop("nested_logf: unsupported binomial link ", link)
        )
        l1mu <- switch(link,
          logit = stats::plogis(-eta, log.p = TRUE),
          probit = stats::pnorm(-eta, log.p = TRUE),
          cloglog = -exp(eta)
        )
        lc[rows] + yy * lmu + (nn - yy) * l1mu
      }
    },
    poisson = {
      if (link != "log") stop("nested_logf: poisson needs the log link")
      lg <- lgamma(y + 1)
      function(rows, eta) y[rows] * eta - exp(eta) - lg[rows]
    },
    gaussian = {
      if (link != "identity") stop("nested_logf: gaussian needs the identity link")
      if (is.null(sigma)) stop("nested_logf: the gaussian family needs sigma")
      function(rows, eta) {
        -0.5 * log(2 * pi) - log(sigma) - (y[rows] - eta)^2 / (2 * sigma^2)
      }
    },
    stop("nested_logf: unsupported family ", family$family)
  )
}

# The factor Lambda (q x q, Sigma = Lambda Lambda') of a level from a scalar
# SD (q = 1), a vector of SDs (independent effects) or a matrix (the factor
# itself).
as_lambda <- function(s, q) {
  if (is.matrix(s)) {
    stopifnot(nrow(s) == q, ncol(s) == q)
    return(s)
  }
  if (length(s) == 1 && q == 1) return(matrix(s, 1, 1))
  stopifnot(length(s) == q)
  diag(s, q)
}

# The L-level log-likelihood by brute force.
#
#   y, X, beta    response, fixed-effect design and coefficients; for the
#                 binomial y is the number of successes out of `trials`
#                 (default 1).
#   Z_list        list of the random-effect designs, one n x q_l matrix per
#                 level, innermost first.
#   group_list    list of the grouping variables (one per level, innermost
#                 first). A cluster of level l is a distinct combination of
#                 the labels of levels l, l + 1, ..., L, i.e. the `/` form:
#                 inner labels need only be unique within their parent.
#   sd_list       per level the factor Lambda_l of Sigma_l (see as_lambda()).
#   family        a family object: binomial (logit, probit, cloglog), poisson
#                 (log), gaussian (identity, with `sigma`).
#   h, width      trapezoid rule on the standardized effects u (b = Lambda u,
#                 u ~ N(0, I)): nodes seq(-width, width, by = h) in every
#                 dimension of every level (recycled over levels). The rule
#                 is non-adaptive; for an integrand phi(u) L(u) with L
#                 log-concave its relative error is about
#                 2 exp(-2 pi^2 s^2 / h^2) with s the smallest posterior SD of
#                 u (< 1; s >= 1.2 h gives < 1e-12), plus the prior mass
#                 beyond +-width in each dimension (2e-9 at 6, 1e-15 at 8).
#                 Cost per row: the product of the nodes per level (65 per
#                 dimension at the defaults).
#   by_cluster    return the log-likelihood of each top-level cluster.
#   pweights      survey weights (pseudo-log-likelihood), or NULL: a list of
#                 row (row i's log f is multiplied by row[i]), level (a list,
#                 innermost first, of per-row weights of each row's cluster
#                 of that level, or NULL: a cluster's log-integral is
#                 multiplied by its weight in its parent's integrand; the
#                 top level's weight multiplies its log L_k).
#
# For each top cluster k,
#   log L_k = log int phi(u_L) prod_{children c} [int phi(u_{L-1}) prod ...
#             [int phi(u_1) prod_{rows i} f(y_i | eta_i) du_1] ... ] du_L,
# evaluated recursively: each level carries the linear predictors of its rows
# at every combination of the outer nodes (columns), adds its own nodes, asks
# its children (or, at level 1, the rows) for their log-integrals and sums
# its nodes out by log-sum-exp.
nested_loglik_brute <- function(y, X, beta, Z_list, group_list, sd_list, family,
                                trials = NULL, sigma = NULL, offset = NULL,
                                h = 0.25, width = 8, by_cluster = FALSE, pweights = NULL) {
  if (is.function(family)) family <- family()
  n <- length(y)
  L <- length(Z_list)
  stopifnot(length(group_list) == L, length(sd_list) == L, nrow(X) == n,
            all(vapply(Z_list, nrow, 1L) == n),
            all(vapply(group_list, length, 1L) == n))
  if (is.null(trials)) trials <- rep(1, n)
  if (is.null(offset)) offset <- rep(0, n)
  h <- rep_len(h, L)
  width <- rep_len(width, L)
  logf <- nested_logf(family, as.numeric(y), as.numeric(trials), sigma)

  # cluster keys: level l is the combination of the labels of levels l..L
  key <- vector("list", L)
  key[[L]] <- as.character(group_list[[L]])
  for (l in rev(seq_len(L - 1))) {
    key[[l]] <- paste(key[[l + 1]], as.character(group_list[[l]]), sep = "\r")
  }

  # per level: the effect b = Lambda u at every node (G_l x q_l) and the log
  # weights of the product trapezoid rule (standard normal density included)
  B <- lw <- vector("list", L)
  for (l in seq_len(L)) {
    q <- ncol(Z_list[[l]])
    Lam <- as_lambda(sd_list[[l]], q)
    u1 <- seq(-width[l], width[l], by = h[l])
    U <- as.matrix(expand.grid(rep(list(u1), q)))
    B[[l]] <- U %*% t(Lam)
    lw[[l]] <- rowSums(matrix(stats::dnorm(U, log = TRUE), ncol = q)) + q * log(h[l])
  }

  log_sum_exp_rows <- function(v) {
    mx <- v[cbind(seq_len(nrow(v)), max.col(v, ties.method = "first"))]
    mx + log(rowSums(exp(v - mx)))
  }

  # rows: the rows of one level-l cluster; eta: length(rows) x M linear
  # predictors at the M combinations of outer nodes. Returns M log-integrals.
  level_integral <- function(rows, l, eta) {
    M <- ncol(eta)
    G <- nrow(B[[l]])
    shift <- Z_list[[l]][rows, , drop = FALSE] %*% t(B[[l]])
    e <- eta[, rep(seq_len(M), times = G), drop = FALSE] +
      shift[, rep(seq_len(G), each = M), drop = FALSE]
    v <- if (l == 1) {
      colSums(row_w[rows] * logf(rows, e))
    } else {
      kids <- split(seq_along(rows), key[[l - 1]][rows], drop = TRUE)
      Reduce(`+`, lapply(kids, function(k) {
        level_w[[l - 1]][rows[k][1]] * level_integral(rows[k], l - 1, e[k, , drop = FALSE])
      }))
    }
    v <- matrix(v, M, G) + rep(lw[[l]], each = M)
    log_sum_exp_rows(v)
  }

  or_one <- function(w) if (is.null(w)) rep(1, n) else w
  row_w <- or_one(pweights$row)
  level_w <- lapply(seq_len(L), function(l) or_one(if (l <= length(pweights$level)) pweights$level[[l]]))
  eta0 <- drop(X %*% beta) + offset
  tops <- split(seq_len(n), key[[L]])
  ll <- vapply(tops, function(r) {
    level_w[[L]][r[1]] * level_integral(r, L, matrix(eta0[r], ncol = 1))
  }, numeric(1))
  if (by_cluster) ll else sum(ll)
}

# The exact marginal log-likelihood of a nested gaussian model: per top
# cluster y ~ N(X beta, sigma^2 I + sum_l (Z_l Sigma_l Z_l') * [same cluster
# of level l]). Same arguments as nested_loglik_brute().
nested_loglik_gaussian_exact <- function(y, X, beta, Z_list, group_list, sd_list, sigma,
                                         offset = NULL) {
  n <- length(y)
  L <- length(Z_list)
  if (is.null(offset)) offset <- rep(0, n)
  key <- vector("list", L)
  key[[L]] <- as.character(group_list[[L]])
  for (l in rev(seq_len(L - 1))) {
    key[[l]] <- paste(key[[l + 1]], as.character(group_list[[l]]), sep = "\r")
  }
  r_all <- y - drop(X %*% beta) - offset
  sum(vapply(split(seq_len(n), key[[L]]), function(r) {
    V <- diag(sigma^2, length(r))
    for (l in seq_len(L)) {
      Z <- Z_list[[l]][r, , drop = FALSE]
      Lam <- as_lambda(sd_list[[l]], ncol(Z))
      same <- outer(key[[l]][r], key[[l]][r], `==`)
      V <- V + (Z %*% tcrossprod(Lam) %*% t(Z)) * same
    }
    R <- chol(V)
    z <- backsolve(R, r_all[r], transpose = TRUE)
    -0.5 * length(r) * log(2 * pi) - sum(log(diag(R))) - 0.5 * sum(z^2)
  }, numeric(1)))
}

# A second, slower rule for three levels with random intercepts only:
# stats::integrate() at each level (rel.tol 1e-12), for the top clusters
# `tops` (labels of g2). Checks the trapezoid rule of nested_loglik_brute().
nested_loglik_integrate3 <- function(y, X, beta, g1, g2, sd1, sd2, family, trials = NULL,
                                     tops = unique(as.character(g2))) {
  if (is.function(family)) family <- family()
  if (is.null(trials)) trials <- rep(1, length(y))
  logf <- nested_logf(family, as.numeric(y), as.numeric(trials), NULL)
  eta0 <- drop(X %*% beta)
  vapply(tops, function(k) {
    r <- which(as.character(g2) == k)
    kids <- split(r, as.character(g1[r]))
    inner <- function(rows, a) {
      vapply(a, function(a1) {
        stats::integrate(function(u) {
          exp(colSums(logf(rows, outer(eta0[rows] + a1, sd1 * u, `+`)))) * stats::dnorm(u)
        }, -Inf, Inf, rel.tol = 1e-12)$value
      }, numeric(1))
    }
    log(stats::integrate(function(v) {
      out <- stats::dnorm(v)
      for (rows in kids) out <- out * inner(rows, sd2 * v)
      out
    }, -Inf, Inf, rel.tol = 1e-12)$value)
  }, numeric(1))
}

# First and second derivatives of log f(y | eta) with respect to eta.
nested_logf_derivs <- function(family, y, trials, sigma, eta) {
  n <- trials
  switch(family$family,
    binomial = switch(family$link,
      logit = {
        mu <- stats::plogis(eta)
        list(d1 = y - n * mu, d2 = -n * mu * (1 - mu))
      },
      probit = {
        r <- function(x) exp(stats::dnorm(x, log = TRUE) - stats::pnorm(x, log.p = TRUE))
        rp <- r(eta)   # d/deta log Phi(eta)
        rm <- r(-eta)  # -d/deta log(1 - Phi(eta))
        list(d1 = y * rp - (n - y) * rm,
             d2 = y * (-eta * rp - rp^2) + (n - y) * (eta * rm - rm^2))
      },
      cloglog = {
        t <- exp(eta)
        a <- t / expm1(t)  # d/deta log(1 - exp(-t))
        list(d1 = y * a - (n - y) * t, d2 = y * (a - a^2 * exp(t)) - (n - y) * t)
      }
    ),
    poisson = list(d1 = y - exp(eta), d2 = -exp(eta)),
    gaussian = list(d1 = (y - eta) / sigma^2, d2 = rep(-1 / sigma^2, length(eta)))
  )
}

# The joint Laplace approximation of the same log-likelihood (glamm's nAGQ = 1
# at every level; lme4's and glmmTMB's Laplace): per top cluster, Newton on
# all its standardized effects u jointly (dense), then
# log L_k ~ h(u_hat) - log det(-H)/2 with h(u) = sum_i log f(y_i | eta_i) -
# |u|^2 / 2 and H its Hessian (the exact one, not Fisher scoring). Same
# arguments as nested_loglik_brute().
nested_loglik_laplace <- function(y, X, beta, Z_list, group_list, sd_list, family,
                                  trials = NULL, sigma = NULL, offset = NULL,
                                  tol = 1e-12, maxit = 100, by_cluster = FALSE) {
  if (is.function(family)) family <- family()
  n <- length(y)
  L <- length(Z_list)
  if (is.null(trials)) trials <- rep(1, n)
  if (is.null(offset)) offset <- rep(0, n)
  logf <- nested_logf(family, as.numeric(y), as.numeric(trials), sigma)
  key <- vector("list", L)
  key[[L]] <- as.character(group_list[[L]])
  for (l in rev(seq_len(L - 1))) {
    key[[l]] <- paste(key[[l + 1]], as.character(group_list[[l]]), sep = "\r")
  }
  lams <- lapply(seq_len(L), function(l) as_lambda(sd_list[[l]], ncol(Z_list[[l]])))
  eta0 <- drop(X %*% beta) + offset
  ll <- vapply(split(seq_len(n), key[[L]]), function(r) {
    # A: the map from the cluster's stacked u to its eta (rows r)
    blocks <- lapply(seq_len(L), function(l) {
      cl <- factor(key[[l]][r], levels = unique(key[[l]][r]))
      ZL <- Z_list[[l]][r, , drop = FALSE] %*% lams[[l]]
      q <- ncol(ZL)
      A <- matrix(0, length(r), nlevels(cl) * q)
      for (j in seq_len(q)) A[cbind(seq_along(r), (as.integer(cl) - 1) * q + j)] <- ZL[, j]
      A
    })
    A <- do.call(cbind, blocks)
    m <- ncol(A)
    h_fun <- function(u) sum(logf(r, matrix(eta0[r] + drop(A %*% u), ncol = 1))) - sum(u^2) / 2
    u <- numeric(m)
    hu <- h_fun(u)
    for (it in seq_len(maxit)) {
      e <- eta0[r] + drop(A %*% u)
      dd <- nested_logf_derivs(family, y[r], trials[r], sigma, e)
      g <- drop(crossprod(A, dd$d1)) - u
      H <- crossprod(A, A * dd$d2) - diag(m)
      step <- -solve(H, g)
      s <- 1
      repeat {
        h_new <- h_fun(u + s * step)
        if (h_new >= hu - 1e-14 * abs(hu) || s < 1e-10) break
        s <- s / 2
      }
      u <- u + s * step
      hu <- h_new
      if (max(abs(s * step)) < tol) break
    }
    e <- eta0[r] + drop(A %*% u)
    dd <- nested_logf_derivs(family, y[r], trials[r], sigma, e)
    H <- crossprod(A, A * dd$d2) - diag(m)
    hu - 0.5 * as.numeric(determinant(-H, logarithm = TRUE)$modulus)
  }, numeric(1))
  if (by_cluster) ll else sum(ll)
}

# The factors Lambda_l (innermost first) from theta numbered over all levels
# (glamm's and lme4's layout: per level the free entries of a full lower
# triangle, column-major); q: the number of effects per level.
theta_to_lambdas <- function(theta, q) {
  out <- vector("list", length(q))
  pos <- 0
  for (l in seq_along(q)) {
    Lam <- matrix(0, q[l], q[l])
    k <- sum(lower.tri(Lam, diag = TRUE))
    Lam[lower.tri(Lam, diag = TRUE)] <- theta[pos + seq_len(k)]
    out[[l]] <- Lam
    pos <- pos + k
  }
  out
}

# Simulated nested data. sizes: clusters per parent from the top level down,
# then rows per innermost cluster, e.g. c(12, 3, 4) = 12 schools x 3 classes x
# 4 students. names: the grouping factors from the top down. Inner labels are
# reused within every parent (1, 2, ...), as the `/` form expects; below the
# top, `<name>_u` is the same factor with unique labels ("3.2": class 2 of
# school 3). sds: per level the SD of the random
# intercept, innermost first; slope_sds: SDs of a random slope of x per level
# (0: none). Columns: the factors, x, z (a second covariate), y, and for the
# binomial `trials`.
sim_nested <- function(seed, family, sizes = c(12, 3, 4), names = c("school", "class"),
                       sds = rep(0.7, length(names)), slope_sds = rep(0, length(names)),
                       beta = c(-0.2, 0.5), sigma = 0.8, trials = 1) {
  if (is.function(family)) family <- family()
  set.seed(seed)
  L <- length(names)
  stopifnot(length(sizes) == L + 1, length(sds) == L, length(slope_sds) == L)
  n <- prod(sizes)
  d <- data.frame(row = seq_len(n))
  # level labels (top first): block structure, labels reused within parents
  for (j in seq_len(L)) {
    inner <- prod(sizes[-seq_len(j)])
    d[[names[j]]] <- factor(rep(rep(seq_len(sizes[j]), each = inner), length.out = n))
  }
  full <- d[[names[1]]]
  for (j in seq_len(L)[-1]) {
    full <- interaction(full, d[[names[j]]], sep = ".", lex.order = TRUE, drop = TRUE)
    d[[paste0(names[j], "_u")]] <- full
  }
  d$x <- round(stats::rnorm(n), 3)
  d$z <- round(stats::runif(n), 3)
  eta <- beta[1] + beta[2] * d$x
  for (j in seq_len(L)) {
    g <- d[[if (j == 1) names[1] else paste0(names[j], "_u")]]
    l <- L + 1 - j  # the level number, innermost = 1
    eta <- eta + stats::rnorm(nlevels(g), 0, sds[l])[g] +
      stats::rnorm(nlevels(g), 0, slope_sds[l])[g] * d$x
  }
  switch(family$family,
    binomial = {
      d$trials <- rep_len(trials, n)
      d$y <- stats::rbinom(n, d$trials, family$linkinv(eta))
    },
    poisson = d$y <- stats::rpois(n, exp(eta)),
    gaussian = d$y <- stats::rnorm(n, eta, sigma)
  )
  d$row <- NULL
  d
}
