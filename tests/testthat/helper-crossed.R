# Simulated crossed data for test-crossed.R: persons by items with a
# covariate at the row level, a share of the person-item cells missing
# (partially crossed), and the responses of a GLMM with random intercepts
# (and slopes of x when slope_sds > 0) on both factors.
sim_crossed <- function(seed, family, n_person = 40, n_item = 12, sds = c(0.8, 0.6),
                        slope_sds = c(0, 0), keep = 0.8) {
  set.seed(seed)
  d <- expand.grid(id = seq_len(n_person), item = seq_len(n_item))
  d <- d[stats::runif(nrow(d)) < keep, ]
  d$x <- stats::rnorm(nrow(d))
  b_id <- stats::rnorm(n_person, 0, sds[1])
  b_item <- stats::rnorm(n_item, 0, sds[2])
  s_id <- stats::rnorm(n_person, 0, slope_sds[1])
  s_item <- stats::rnorm(n_item, 0, slope_sds[2])
  eta <- -0.2 + 0.5 * d$x + b_id[d$id] + b_item[d$item] + (s_id[d$id] + s_item[d$item]) * d$x
  d$y <- switch(family$family,
    binomial = stats::rbinom(nrow(d), 1, family$linkinv(eta)),
    poisson = stats::rpois(nrow(d), exp(eta)),
    gaussian = eta + stats::rnorm(nrow(d), 0, 0.7)
  )
  d$id <- factor(d$id)
  d$item <- factor(paste0("i", d$item))
  rownames(d) <- NULL
  d
}

# The objective of a model given as a list of levels re (each list(Z, group,
# pattern, name)), through the sparse Laplace (sparse = TRUE) or the engine
# the structure calls for.
objective_levels <- function(y, X, re, family, sparse = FALSE, nthreads = 1L) {
  levels <- glamm:::fit_levels(NULL, NULL, NULL, re, nrow(X))
  resp <- glamm:::prepare_response(y, family, NULL)
  glamm:::build_objective(X, levels, resp, NULL, family, rep(1L, length(levels)),
                          glamm_control(nthreads = nthreads), sparse = sparse)
}
