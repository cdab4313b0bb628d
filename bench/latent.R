# Latent-variable benchmark (issue 12, "Targets"): a 2PL item response model,
# 20 binary items x 5000 persons (100,000 rows), fitted by glamm (adaptive
# quadrature and Laplace), TAM (tam.mml.2pl: fixed-node quadrature, EM), ltm
# (ltm(): 21-point Gauss-Hermite, EM + quasi-Newton) and galamm (Laplace) in
# one process: time, each package's reported log-likelihood and, for a fair
# comparison, glamm's 31-point AGHQ log-likelihood at each package's
# estimates (the packages' own values are different approximations of the
# same marginal likelihood: TAM's discrete normal on fixed nodes, ltm's
# non-adaptive Gauss-Hermite, galamm's Laplace; for binary items none has a
# further constant).
# Run from the package root: `Rscript bench/latent.R`.
#
# Environment variables:
#   GLAMM_LIB=<dir>     load glamm (and the peers) from this library first
#   BENCH_THREADS=<n>   threads for glamm (default 2)
#   BENCH_PERSONS=<m>   persons (default 5000)
#   BENCH_ITEMS=<k>     items (default 20)
#
# Writes the table to stdout and to bench/results-latent.md.

lib <- Sys.getenv("GLAMM_LIB")
if (nzchar(lib)) .libPaths(c(lib, .libPaths()))
library(glamm)
nthreads <- as.integer(Sys.getenv("BENCH_THREADS", "2"))
n_person <- as.integer(Sys.getenv("BENCH_PERSONS", "5000"))
n_item <- as.integer(Sys.getenv("BENCH_ITEMS", "20"))
loadavg <- function() tryCatch(sub("^(\\S+ \\S+ \\S+).*", "\\1", readLines("/proc/loadavg", n = 1)),
                                error = function(e) NA)
load_start <- loadavg()
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
bench_dir <- if (length(script)) dirname(script) else "bench"
out_file <- file.path(bench_dir, "results-latent.md")
commit <- tryCatch(system2("git", c("-C", bench_dir, "describe", "--always", "--dirty"),
                           stdout = TRUE, stderr = FALSE), error = function(e) NA,
                   warning = function(w) NA)
available <- function(pkg) {
  ok <- requireNamespace(pkg, quietly = TRUE)
  if (!ok) message("package '", pkg, "' is not installed: skipped")
  ok
}

# 2PL: logit P = beta_j + a_j theta_p, theta ~ N(0, 1); discriminations
# 0.5 to 2.5, difficulties -2 to 2.
set.seed(2026)
a <- seq(0.5, 2.5, length.out = n_item)
b <- seq(-2, 2, length.out = n_item)[sample(n_item)]
theta <- stats::rnorm(n_person)
wide <- matrix(stats::rbinom(n_person * n_item, 1,
                             stats::plogis(outer(theta, a) - rep(a * b, each = n_person))),
               n_person, n_item, dimnames = list(NULL, sprintf("i%02d", seq_len(n_item))))
long <- data.frame(person = factor(rep(seq_len(n_person), n_item)),
                   item = factor(rep(colnames(wide), each = n_person)),
                   y = as.vector(wide))
lambda0 <- c(1, rep(NA, n_item - 1))

timed <- function(expr) {
  t0 <- proc.time()[["elapsed"]]
  value <- expr
  list(value = value, time = proc.time()[["elapsed"]] - t0)
}
control <- glamm_control(nthreads = nthreads)
aghq <- timed(glamm(y ~ 0 + item + (0 + ability | person), data = long, family = binomial,
                    factor = "ability", load.var = "item", lambda = lambda0, control = control))
laplace <- timed(glamm(y ~ 0 + item + (0 + ability | person), data = long, family = binomial,
                       nAGQ = 1, factor = "ability", load.var = "item", lambda = lambda0,
                       control = control))
exact <- loglik_function(aghq$value, nAGQ = 31)
# glamm's parameter vector from intercepts beta_j and discriminations a_j:
# theta = a_1 (the factor SD with lambda_1 = 1), lambda_j = a_j / a_1.
glamm_par <- function(beta, a) c(beta, a[1], a[-1] / a[1])

rows <- list(
  list(fit = "glamm AGHQ (15 points)", time = aghq$time, loglik = as.numeric(logLik(aghq$value)),
       exact = as.numeric(exact(aghq$value$par))),
  list(fit = "glamm Laplace", time = laplace$time, loglik = as.numeric(logLik(laplace$value)),
       exact = as.numeric(exact(laplace$value$par)))
)
if (available("TAM")) {
  tam <- timed(TAM::tam.mml.2pl(wide, irtmodel = "2PL", verbose = FALSE))
  B <- tam$value$B[, 2, 1]
  xsi <- tam$value$xsi$xsi
  rows[[length(rows) + 1]] <- list(fit = "TAM tam.mml.2pl", time = tam$time,
                                   loglik = -tam$value$deviance / 2,
                                   exact = as.numeric(exact(glamm_par(-xsi, B))))
}
if (available("ltm")) {
  fit_ltm <- timed(ltm::ltm(as.data.frame(wide) ~ z1, IRT.param = FALSE))
  cf <- stats::coef(fit_ltm$value)
  rows[[length(rows) + 1]] <- list(fit = "ltm ltm (21-point GH)", time = fit_ltm$time,
                                   loglik = as.numeric(stats::logLik(fit_ltm$value)),
                                   exact = as.numeric(exact(glamm_par(cf[, 1], cf[, 2]))))
}
if (available("galamm")) {
  fit_galamm <- timed(galamm::galamm(y ~ 0 + item + (0 + ability | person), data = long,
                                     family = binomial, factor = "ability", load.var = "item",
                                     lambda = matrix(lambda0)))
  g <- fit_galamm$value
  beta <- unname(galamm::fixef(g))
  lam <- unname(galamm::factor_loadings(g)[, 1])
  sd_f <- sqrt(as.numeric(galamm::VarCorr(g)$person[1, 1]))
  rows[[length(rows) + 1]] <- list(fit = "galamm (Laplace)", time = fit_galamm$time,
                                   loglik = as.numeric(stats::logLik(g)),
                                   exact = as.numeric(exact(c(beta, sd_f, lam[-1]))))
}
tab <- do.call(rbind, lapply(rows, as.data.frame))
best <- max(tab$exact)
tab$ratio <- tab$time / tab$time[1]
tab$exact_minus_best <- tab$exact - best
load_end <- loadavg()
fmt <- function(x, d) formatC(x, format = "f", digits = d)
lines <- c(
  "# Latent variables: 2PL benchmark (bench/latent.R)", "",
  sprintf("%d persons x %d binary items (%d rows); glamm with %d threads; commit %s; %s.",
          n_person, n_item, n_person * n_item, nthreads, commit, format(Sys.time(), "%Y-%m-%d %H:%M UTC", tz = "UTC")),
  sprintf("Load average at start %s, at end %s%s.", load_start, load_end,
          if (as.numeric(strsplit(load_start, " ")[[1]][1]) > 1.5) " (taken under load: timings are indicative)" else ""),
  "",
  "`loglik`: each fit's own reported value (its own approximation); `exact`: glamm's",
  "31-point AGHQ log-likelihood (error < 1e-6 here) at the fit's estimates, the same",
  "function for every row; `exact - best` compares the estimates.", "",
  "| fit | time (s) | time / glamm AGHQ | loglik (own) | exact | exact - best |",
  "|---|---:|---:|---:|---:|---:|",
  sprintf("| %s | %s | %s | %s | %s | %s |", tab$fit, fmt(tab$time, 2), fmt(tab$ratio, 2),
          fmt(tab$loglik, 3), fmt(tab$exact, 3), formatC(tab$exact_minus_best, format = "g", digits = 3))
)
writeLines(lines)
writeLines(lines, out_file)
