# Benchmark of gaussian (linear mixed) models: glamm against lmer, by ML and
# by REML, on simulated data with 1e5 rows (random intercept; random
# intercept and slope; three levels; persons crossed with items) and on
# lme4's InstEval (73,421 ratings, students x lecturers x departments). Run from the package root:
# `Rscript bench/gaussian.R` (GLAMM_LIB=<dir> loads glamm from that library,
# BENCH_THREADS=<n> sets glamm's threads, default 2). Writes the table to
# stdout and to bench/results-gaussian.md.

lib <- Sys.getenv("GLAMM_LIB")
if (nzchar(lib)) library(glamm, lib.loc = lib) else library(glamm)
nthreads <- as.integer(Sys.getenv("BENCH_THREADS", "2"))
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
bench_dir <- if (length(script)) dirname(script) else "bench"
commit <- tryCatch(system2("git", c("-C", bench_dir, "describe", "--always", "--dirty"),
                           stdout = TRUE, stderr = FALSE), error = function(e) NA)
loadavg <- function() tryCatch(sub("^(\\S+ \\S+ \\S+).*", "\\1", readLines("/proc/loadavg", n = 1)),
                                error = function(e) NA)
load_start <- loadavg()

# `m` clusters of `n` rows (each cluster split into `sub` subclusters when
# sub > 1); covariates x1, x2 (row level) and w (cluster level); intercept SD
# 1 (0.5 for the subclusters), slope SD 0.5 with correlation 0.3; residual SD 1.
simulate <- function(m, n, slope = FALSE, sub = 1, seed = 1) {
  set.seed(seed)
  g <- rep(seq_len(m), each = n)
  h <- rep(seq_len(m * sub), each = n / sub)
  d <- data.frame(g = factor(g), h = factor(h), x1 = rnorm(m * n),
                  x2 = rbinom(m * n, 1, 0.5), w = rnorm(m)[g])
  S <- matrix(c(1, 0.15, 0.15, 0.25), 2)
  u <- matrix(rnorm(2 * m), m) %*% chol(S)
  d$y <- 1 + 0.5 * d$x1 - 0.5 * d$x2 + 0.3 * d$w + u[g, 1] + slope * u[g, 2] * d$x1 +
    (sub > 1) * rnorm(m * sub, 0, 0.5)[h] + rnorm(m * n)
  d
}

# `np` persons crossed with `ni` items, each person meeting each item with
# probability `keep`; person SD 1, item SD 0.5, residual SD 1.
simulate_crossed <- function(np, ni, keep, seed = 4) {
  set.seed(seed)
  d <- expand.grid(p = seq_len(np), i = seq_len(ni))
  d <- d[runif(nrow(d)) < keep, ]
  d$x1 <- rnorm(nrow(d))
  d$y <- 1 + 0.5 * d$x1 + rnorm(np)[d$p] + rnorm(ni, 0, 0.5)[d$i] + rnorm(nrow(d))
  d$p <- factor(d$p)
  d$i <- factor(d$i)
  d
}
inst <- lme4::InstEval
inst$y <- as.numeric(inst$y)

models <- list(
  list(name = "1 intercept (1e5 obs, 2000 cl)", data = simulate(2000, 50),
       formula = y ~ x1 + x2 + w + (1 | g)),
  list(name = "2 int+slope (1e5 obs, 2000 cl)", data = simulate(2000, 50, slope = TRUE, seed = 2),
       formula = y ~ x1 + x2 + w + (1 + x1 | g)),
  list(name = "3 three levels (1e5 obs, 2000 x 5 cl)", data = simulate(2000, 50, sub = 5, seed = 3),
       formula = y ~ x1 + x2 + w + (1 | g/h)),
  list(name = "4 crossed (1e5 obs, 2000 x 100, half the cells)",
       data = simulate_crossed(2000, 100, 0.5), formula = y ~ x1 + (1 | p) + (1 | i)),
  list(name = "5 InstEval (73421 obs, 2972 s x 1128 d x 14 dept)", data = inst,
       formula = y ~ service + (1 | s) + (1 | d) + (1 | dept)))

time_fit <- function(expr) {
  gc()
  t0 <- proc.time()[["elapsed"]]
  fit <- expr
  list(fit = fit, time = proc.time()[["elapsed"]] - t0)
}

# Warm-up (lazy loading and first calls count for neither package).
warm <- models[[1]]$data[1:2000, ]
invisible(glamm(y ~ x1 + (1 | g), warm, REML = TRUE))
invisible(lme4::lmer(y ~ x1 + (1 | g), warm))

rows <- list()
for (s in models) {
  for (reml in c(FALSE, TRUE)) {
    a <- time_fit(glamm(s$formula, s$data, REML = reml,
                        control = glamm_control(nthreads = nthreads)))
    b <- time_fit(lme4::lmer(s$formula, s$data, REML = reml))
    crit <- function(f) -2 * as.numeric(logLik(f))  # the REML criterion for REML fits
    rows[[length(rows) + 1]] <- data.frame(
      model = s$name, criterion = if (reml) "REML" else "ML",
      glamm_s = round(a$time, 2), lmer_s = round(b$time, 2),
      ratio = round(a$time / b$time, 2),
      criterion_glamm = sprintf("%.4f", crit(a$fit)),
      diff_vs_lmer = sprintf("%.1e", crit(a$fit) - crit(b$fit)))
  }
}
tab <- do.call(rbind, rows)
print(tab, row.names = FALSE)

md <- c("# Gaussian benchmark: glamm against lmer (ML and REML)", "",
        sprintf("Commit %s, %s, glamm threads %d, load average at start %s.", commit,
                format(Sys.time(), "%Y-%m-%d %H:%M UTC", tz = "UTC"), nthreads, load_start),
        "Times in seconds (one fit each, elapsed); `ratio` is glamm / lmer;",
        "`diff_vs_lmer` is glamm's criterion (-2 logLik, ML or REML) minus lmer's",
        "(negative: glamm's fit is better).", "",
        paste0("| ", paste(names(tab), collapse = " | "), " |"),
        paste0("|", paste(rep("---", ncol(tab)), collapse = "|"), "|"),
        apply(tab, 1, function(r) paste0("| ", paste(r, collapse = " | "), " |")))
writeLines(md, file.path(bench_dir, "results-gaussian.md"))
