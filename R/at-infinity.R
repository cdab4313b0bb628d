# Estimates at infinity: fixed effects and standard deviations that run off
# along a flat likelihood (separation, clusters all 0 or all 1), found at the
# optimum and reported by name with NA standard errors.

# Estimates that run off to infinity (separation of a binary outcome, a
# factor level whose responses are all 0, a random-effect SD growing without
# bound): the optimizer stops where the log-likelihood is flat, and the
# numbers look valid. A fixed effect, or the SD on the diagonal of Lambda, is
# a candidate when it is more than 5 typical sizes (infinity_sizes(): a change
# of 5 in the linear predictor per typical nonzero covariate value) from 0; it
# is at infinity when doubling it (all candidates together, else each alone)
# lowers the log-likelihood by less than 0.01. Returns a logical vector over
# the parameters.
estimates_at_infinity <- function(objective, opt, scaling, p, typsize) {
  par <- opt$par
  out <- rep(FALSE, length(par))
  diagonal <- unlist(lapply(objective$patterns, function(pat) (row(pat) == col(pat))[pat]))
  eligible <- c(rep(TRUE, p), diagonal, rep(FALSE, objective$n_extra))
  cand <- which(eligible & abs(par) > 5 * typsize)
  if (!length(cand)) return(out)
  ll <- function(x) as.numeric(objective$loglik(map_par(x, scaling$to_internal, p)))
  flat <- function(idx) {
    x <- par
    x[idx] <- 2 * par[idx]
    v <- ll(x)
    is.finite(v) && v > opt$loglik - 0.01
  }
  if (flat(cand)) {
    out[cand] <- TRUE
  } else if (length(cand) > 1) {
    for (j in cand) out[j] <- flat(j)
  }
  # Several estimates can run off together (a factor level with all 0: the
  # intercept to -Inf and the other levels' contrasts to +Inf): the flattest
  # direction of the information, where the candidates move away from 0 until
  # the largest of them doubles.
  H <- opt$hessian
  if (!all(out[cand]) && !is.null(H) && all(is.finite(H))) {
    d <- sqrt(pmax(-diag(H), 0))
    use <- d > 0 & !(par <= opt$lower & is.finite(opt$lower))
    if (sum(use) < 2) return(out)
    info <- -H[use, use] / outer(d[use], d[use])
    v <- numeric(length(par))
    v[use] <- eigen(info, symmetric = TRUE)$vectors[, sum(use)] / d[use]
    ratio <- abs(v[cand]) / abs(par[cand])
    t <- sign(sum(v[cand] * par[cand])) / max(ratio)
    moved <- cand[abs(t * v[cand]) > typsize[cand]]
    x <- par + t * v
    val <- ll(x)
    if (length(moved) && is.finite(val) && val > opt$loglik - 0.01) out[moved] <- TRUE
  }
  out
}

# Binary responses constant within every cluster of a level (all 0 or all
# 1): the likelihood grows with the level's random-intercept SD up to
# infinity, but the quadrature (or Laplace) approximation stops it at a large
# finite value (an SD of 23 on the probit scale, Laplace; 80 with 15 points).
# The SD of the first column of Lambda of such a level, when it exceeds 5 on
# the link scale, is flagged.
constant_cluster_sd <- function(par, objective, levels, resp) {
  out <- rep(FALSE, length(par))
  start <- objective$p
  for (l in seq_along(levels)) {
    pat <- levels[[l]]$pattern
    first <- start + 1
    start <- start + sum(pat)
    intercept <- identical(colnames(levels[[l]]$Z)[1], "(Intercept)") && pat[1, 1]
    if (!intercept || abs(par[first]) <= 5) next  # only a large SD needs the data
    prop <- resp$y / (resp$trials %||% 1)
    used <- (resp$weights %||% 1) > 0 & (resp$trials %||% 1) > 0
    g <- levels[[l]]$group[used]
    v <- prop[used]
    size <- tabulate(g, nlevels(g))
    lo <- tapply(v, g, min)
    hi <- tapply(v, g, max)
    multi <- size > 1
    constant <- any(multi) && all((lo == hi & (lo == 0 | lo == 1))[multi])
    if (constant) out[first] <- TRUE
  }
  out
}

# The sizes beyond 5 of which an estimate is a candidate for infinity: the
# optimizer's typical sizes (objective-build.R), but for a fixed effect 1 /
# the root mean square of its column over the rows where it is not 0 (the
# rows it acts on) instead of over all rows. A dummy of a level with 5 of 150
# rows has an RMS of 0.18, so that a contrast of -18.8 (the level's responses
# all 0) was no candidate; a covariate that is nowhere 0 keeps its size.
infinity_sizes <- function(X, typsize) {
  p <- ncol(X)
  if (p == 0) return(typsize)
  n <- nrow(X)
  ss <- diag(cpp_crossprod(X))
  nonzero <- vapply(seq_len(p), function(j) sum(X[, j] != 0), 0)
  ok <- nonzero > 0 & ss > 0
  rms_all <- sqrt(ss / n)
  rms_nonzero <- sqrt(ss / pmax(nonzero, 1))
  typsize[seq_len(p)][ok] <- (typsize[seq_len(p)] * rms_all / rms_nonzero)[ok]
  typsize
}

# "x | g" for the flagged diagonal entries of each level's Lambda.
infinite_sd_names <- function(flags, levels) {
  labels <- unlist(lapply(levels, function(l) {
    pat <- l$pattern
    r <- row(pat)[pat]
    paste0(colnames(l$Z)[r], " | ", l$name)
  }))
  labels[flags]
}

infinite_message <- function(names, why) {
  sprintf(paste0("the estimate(s) of %s run off to infinity (the log-likelihood stays flat as ",
                 "they grow%s): they are not meaningful and their standard errors are ",
                 "reported as NA"), paste(names, collapse = ", "), why)
}
