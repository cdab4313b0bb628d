# Gaussian rows compressed within leaf clusters (R/gaussian-compress.R): the
# objective on the compressed rows equals the one on all rows (value,
# gradient, per-top-cluster scores, posterior modes, covariances and
# log-likelihoods), with prior weights (some zero), an offset, slopes and
# three levels; models it must leave alone keep their rows.

compress_data <- function() {
  d <- sim_nested(7, gaussian, sizes = c(10, 3, 8), sds = c(0.6, 0.8), slope_sds = c(0.3, 0))
  d$w <- 0.5 + (seq_len(nrow(d)) %% 4) / 2
  d$w[c(3, 50, 51)] <- 0
  d$off <- d$z / 3
  d
}

objectives_both_ways <- function(d, family = gaussian()) {
  f <- glamm(y ~ x + z + offset(off) + (1 + x | school) + (1 + z | school:class), data = d,
             weights = w, family = family)
  dd <- glamm:::fit_data(f)
  resp <- list(y = dd$y, trials = dd$trials, weights = dd$weights, constant = dd$constant,
               levels = f$levels)
  levels <- lapply(glamm:::fit_level_designs(f, glamm:::re_groups(f)), function(gr) {
    list(name = gr$name, group = gr$factor, factor = gr$factor, Z = gr$Z, pattern = gr$pattern)
  })
  tree <- glamm:::tree_order(levels)
  build <- function(compress) {
    glamm:::build_objective(dd$X, levels, resp, dd$offset, f$family, rep(1L, length(levels)),
                            f$control, tree, compress = compress)
  }
  list(fit = f, all = build(FALSE), compressed = build(TRUE))
}

test_that("the compressed gaussian objective equals the objective on all rows", {
  o <- objectives_both_ways(compress_data())
  expect_identical(o$compressed$dropped_rows, 117L)  # 237 rows of positive weight; 30 classes of rank 4
  expect_null(o$all$dropped_rows)
  for (shift in c(0, 0.4)) {
    par <- o$fit$par * (1 + shift)
    a <- o$all$loglik(par, gradient = TRUE, scores = TRUE)
    b <- o$compressed$loglik(par, gradient = TRUE, scores = TRUE)
    expect_lt(abs(as.numeric(a) - as.numeric(b)), 1e-9)  # seen 0
    ga <- attr(a, "gradient")
    expect_lt(max(abs(attr(b, "gradient") - ga) / pmax(abs(ga), 1)), 1e-9)  # seen 1.6e-14
    expect_lt(max(abs(attr(b, "scores") - attr(a, "scores"))), 1e-9)  # seen 2.0e-14
    u <- o$all$unpack(par)
    pa <- o$all$posterior(u$beta, u$lambda, u$psi)
    pb <- o$compressed$posterior(u$beta, u$lambda, u$psi)
    expect_lt(max(abs(pa$loglik - pb$loglik)), 1e-9)  # seen 7.1e-15
    for (l in seq_along(pa$levels)) {
      expect_lt(max(abs(pa$levels[[l]]$mode - pb$levels[[l]]$mode)), 1e-9)  # seen 5.4e-15
      expect_lt(max(abs(pa$levels[[l]]$cov - pb$levels[[l]]$cov)), 1e-9)  # seen 9.4e-16
    }
  }
})

test_that("the compressed REML objective equals the REML objective on all rows", {
  o <- objectives_both_ways(compress_data())
  ra <- reml_objective(o$all)
  rb <- reml_objective(o$compressed)
  expect_identical(rb$reml_path, "dense")
  par <- o$fit$par * 1.2
  a <- ra$loglik(par, gradient = TRUE)
  b <- rb$loglik(par, gradient = TRUE)
  expect_lt(abs(as.numeric(a) - as.numeric(b)), 1e-9)  # seen 0
  ga <- attr(a, "gradient")
  expect_lt(max(abs(attr(b, "gradient") - ga) / pmax(abs(ga), 1)), 1e-9)  # seen 2.5e-14
  expect_lt(max(abs(ra$information_beta(par) - rb$information_beta(par))), 1e-9)  # seen 5.7e-14
})

test_that("non-gaussian models and leaves of single rows keep their rows", {
  d <- compress_data()
  d$y <- exp(d$y / 4)
  o <- objectives_both_ways(d, family = Gamma("log"))
  expect_null(o$compressed$dropped_rows)
  one <- sim_nested(8, gaussian, sizes = c(30, 1), names = "g")
  expect_null(compress_gaussian(list(X = cbind(1, one$x), y = one$y,
                                     levels = list(list(Z = matrix(1, nrow(one)),
                                                        node = as.integer(one$g)))),
                                gaussian(), glamm_control()))
})
