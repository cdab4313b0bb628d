# The multinomial target of issue 11: C = 3 categories, correlated category
# intercepts (1 | g), 5,000 observations in 300 clusters. Fits glamm at
# nAGQ = K for K in 1, 3, 5, 7, 9, 11 (7: the default for 2 category effects,
# R/control.R) and reports the fit time and the log-likelihood error at each fit's
# estimates against K = 31 (checked against K = 41). With mclogit installed
# its PQL fit is timed beside (a different approximation: its estimates are
# compared, not its criterion). Run from the package root:
#   Rscript bench/multinomial.R
# Environment: GLAMM_LIB=<dir> (load glamm from there), BENCH_THREADS (2),
# BENCH_REPS (fastest of 3 fits). Writes bench/results-multinomial.md.

lib <- Sys.getenv("GLAMM_LIB")
if (nzchar(lib)) library(glamm, lib.loc = lib) else library(glamm)
nthreads <- as.integer(Sys.getenv("BENCH_THREADS", "2"))
reps <- as.integer(Sys.getenv("BENCH_REPS", "3"))
loadavg <- function() sub("^(\\S+ \\S+ \\S+).*", "\\1", readLines("/proc/loadavg", n = 1))
load_start <- loadavg()
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
bench_dir <- if (length(script)) dirname(script) else "bench"
commit <- tryCatch(system2("git", c("-C", bench_dir, "describe", "--always", "--dirty"),
                           stdout = TRUE, stderr = FALSE), error = function(e) NA)

sim <- function(seed, J = 300, n = 5000, Sigma = matrix(c(1, 0.5, 0.5, 1), 2)) {
  set.seed(seed)
  g <- sort(sample(J, n, replace = TRUE))
  x <- rnorm(n)
  u <- matrix(rnorm(2 * J), J) %*% chol(Sigma)
  eta <- cbind(0, 0.5 + 0.8 * x + u[g, 1], -0.3 - 0.6 * x + u[g, 2])
  p <- exp(eta) / rowSums(exp(eta))
  cum <- t(apply(p, 1, cumsum))
  y <- factor(c("a", "b", "c")[1 + rowSums(runif(n) > cum[, 1:2])], levels = c("a", "b", "c"))
  data.frame(y = y, x = x, g = factor(g))
}
d <- sim(1)
ctl <- glamm_control(nthreads = nthreads)
fastest <- function(expr_fun) {
  times <- vapply(seq_len(reps), function(r) system.time(fit <<- expr_fun())[["elapsed"]], 0)
  min(times)
}
rows <- list()
fits <- list()
for (K in c(1, 3, 5, 7, 9, 11)) {
  fit <- NULL
  t <- fastest(function() glamm(y ~ x + (1 | g), data = d, family = multinomial(), nAGQ = K,
                                control = ctl))
  fits[[as.character(K)]] <- fit
  rows[[length(rows) + 1]] <- data.frame(K = K, seconds = t, loglik = as.numeric(logLik(fit)))
}
tab <- do.call(rbind, rows)
ref31 <- vapply(fits, function(f) as.numeric(loglik_function(f, nAGQ = 31)(f$par)), 0)
ref41 <- vapply(fits, function(f) as.numeric(loglik_function(f, nAGQ = 41)(f$par)), 0)
tab$error_vs_K31 <- tab$loglik - ref31
tab$K31_vs_K41 <- ref31 - ref41
est <- t(vapply(fits, function(f) c(f$coefficients, sd_b = sqrt(VarCorr(f)$g[1, 1]),
                                    sd_c = sqrt(VarCorr(f)$g[2, 2]),
                                    cor = stats::cov2cor(VarCorr(f)$g)[2, 1]), numeric(7)))

peer <- NULL
if (requireNamespace("mclogit", quietly = TRUE)) {
  tp <- fastest(function() suppressMessages(mclogit::mblogit(y ~ x, random = ~ 1 | g, data = d)))
  mf <- suppressMessages(mclogit::mblogit(y ~ x, random = ~ 1 | g, data = d))
  peer <- list(seconds = tp, coef = coef(mf), VarCov = mf$VarCov)
}

lines <- c(
  "# Multinomial logit with correlated random intercepts (bench/multinomial.R)",
  "",
  sprintf("C = 3, 5,000 observations in 300 clusters, `y ~ x + (1 | g)`; glamm at %s, %d threads,",
          commit, nthreads),
  sprintf("fastest of %d fits; load average at the start %s, at the end %s (2 cores: a load", reps,
          load_start, loadavg()),
  "above 1 means the timings were taken under load).",
  "",
  "| nAGQ | seconds | log-likelihood | error vs K = 31 | K = 31 vs K = 41 |",
  "| ---: | ---: | ---: | ---: | ---: |",
  sprintf("| %d | %.3f | %.4f | %.2e | %.1e |", tab$K, tab$seconds, tab$loglik, tab$error_vs_K31,
          tab$K31_vs_K41),
  "",
  "Estimates (category b and c coefficients, SDs of the two intercepts, their correlation;",
  "truth 0.5, 0.8, -0.3, -0.6, 1, 1, 0.5):",
  "",
  paste0("| nAGQ | ", paste(colnames(est), collapse = " | "), " |"),
  paste0("| ---: |", strrep(" ---: |", ncol(est))),
  sprintf("| %s | %s |", rownames(est),
          apply(est, 1, function(r) paste(sprintf("%.4f", r), collapse = " | ")))
)
if (!is.null(peer)) {
  lines <- c(lines, "",
             sprintf("mclogit::mblogit (PQL): %.3f s (%.1f times glamm's default fit); coefficients %s;",
                     peer$seconds, peer$seconds / tab$seconds[tab$K == 7],
                     paste(sprintf("%.4f", peer$coef), collapse = ", ")),
             sprintf("its intercept covariance (b, c): %s.",
                     paste(sprintf("%.4f", as.vector(peer$VarCov[[1]])), collapse = ", ")))
}
writeLines(lines)
writeLines(lines, file.path(bench_dir, "results-multinomial.md"))
