# Benchmark: glamm against lme4, glmmTMB and GLMMadaptive on the same
# approximations (Laplace; adaptive Gauss-Hermite quadrature with K points per
# random effect). Run from the package root: `make bench` or `Rscript bench/run.R`.
#
# Environment variables:
#   GLAMM_LIB=<dir>     load glamm from this library (default: the usual ones)
#   BENCH_SKIP_SLOW=1   skip the comparison packages on the 1,000,000-row model
#   BENCH_THREADS=<n>   threads for glamm and glmmTMB (default 2)
#   BENCH_PEERS=<list>  comma-separated comparison packages to run (default:
#                       all installed; "none" times glamm alone)
#   BENCH_OUT=<file>    write the table there instead of bench/results.md
#
# Writes the table to stdout and to bench/results.md.

lib <- Sys.getenv("GLAMM_LIB")
if (nzchar(lib)) library(glamm, lib.loc = lib) else library(glamm)
skip_slow <- Sys.getenv("BENCH_SKIP_SLOW") == "1"
nthreads <- as.integer(Sys.getenv("BENCH_THREADS", "2"))
t_start <- proc.time()[["elapsed"]]
loadavg <- function() tryCatch(sub("^(\\S+ \\S+ \\S+).*", "\\1", readLines("/proc/loadavg", n = 1)),
                                error = function(e) NA)
load_start <- loadavg()
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
bench_dir <- if (length(script)) dirname(script) else "bench"
out_file <- Sys.getenv("BENCH_OUT", file.path(bench_dir, "results.md"))
commit <- tryCatch(system2("git", c("-C", bench_dir, "describe", "--always", "--dirty"),
                           stdout = TRUE, stderr = FALSE), error = function(e) NA, warning = function(w) NA)

available <- function(pkg) {
  ok <- requireNamespace(pkg, quietly = TRUE)
  if (!ok) message("package '", pkg, "' is not installed: skipped")
  ok
}
peers <- c("lme4", "glmmTMB", "GLMMadaptive")
if (nzchar(Sys.getenv("BENCH_PEERS"))) {
  peers <- intersect(peers, strsplit(Sys.getenv("BENCH_PEERS"), ",")[[1]])
}
pkgs <- c("glamm", Filter(available, peers))

# ---- data -------------------------------------------------------------------

pisa <- pisa2000
pisa$SES <- (pisa$isei - mean(pisa$isei)) / 20
pisa$SESj <- ave(pisa$SES, pisa$id_school)

# Bernoulli responses, `m` clusters of `n` observations; covariates x1 (normal),
# x2 (binary), w (cluster level); random intercept SD 1 and, if `slope`, a
# random slope of x1 with SD 0.5 and correlation 0.3 with the intercept.
simulate <- function(m, n, slope = FALSE, seed = 1) {
  set.seed(seed)
  g <- rep(seq_len(m), each = n)
  d <- data.frame(g = factor(g), x1 = rnorm(m * n), x2 = rbinom(m * n, 1, 0.5),
                  w = rnorm(m)[g])
  S <- matrix(c(1, 0.15, 0.15, 0.25), 2)
  u <- matrix(rnorm(2 * m), m) %*% chol(S)
  eta <- -0.5 + 0.5 * d$x1 - 0.5 * d$x2 + 0.3 * d$w + u[g, 1] + slope * u[g, 2] * d$x1
  d$y <- rbinom(m * n, 1, plogis(eta))
  d
}

# A model: fixed-effects formula, random-effects terms `re` for grouping factor `g`.
spec <- function(name, data, fixed, re, g) {
  list(name = name, data = data, fixed = fixed,
       formula = update(fixed, as.formula(sprintf(". ~ . + (%s | %s)", re, g))),
       random = as.formula(sprintf("~ %s | %s", re, g)))
}
sim_fixed <- y ~ x1 + x2 + w

# ---- fitters: each returns list(loglik, beta) --------------------------------

fitters <- list(
  glamm = function(s, K) {
    f <- glamm(s$formula, data = s$data, family = binomial, nAGQ = K,
               control = glamm_control(nthreads = nthreads))
    list(loglik = f$loglik, beta = f$coefficients)
  },
  lme4 = function(s, K) {
    f <- lme4::glmer(s$formula, data = s$data, family = binomial, nAGQ = K)
    list(loglik = as.numeric(logLik(f)), beta = lme4::fixef(f))
  },
  glmmTMB = function(s, K) {  # Laplace only
    f <- glmmTMB::glmmTMB(s$formula, data = s$data, family = binomial,
                          control = glmmTMB::glmmTMBControl(parallel = nthreads))
    list(loglik = as.numeric(logLik(f)), beta = glmmTMB::fixef(f)$cond)
  },
  GLMMadaptive = function(s, K) {  # AGHQ only; nAGQ is passed on to `control`
    f <- GLMMadaptive::mixed_model(s$fixed, random = s$random, data = s$data,
                                   family = binomial(), nAGQ = K)
    list(loglik = as.numeric(logLik(f)), beta = GLMMadaptive::fixef(f))
  }
)

# Peak memory of an expression: R heap (gc "max used" above the level before)
# and process resident set (VmHWM above VmRSS before; Linux only).
proc_kb <- function(field) {
  x <- tryCatch(readLines("/proc/self/status"), error = function(e) character())
  as.numeric(sub("\\D*(\\d+).*", "\\1", grep(paste0("^", field, ":"), x, value = TRUE)))
}
with_memory <- function(expr) {
  invisible(gc(reset = TRUE))
  heap0 <- sum(gc()[, 2])
  rss0 <- proc_kb("VmRSS")
  reset <- tryCatch({ cat("5", file = "/proc/self/clear_refs"); TRUE }, error = function(e) FALSE)
  value <- expr
  heap <- sum(gc()[, 6]) - heap0
  rss <- if (reset && length(rss0)) (proc_kb("VmHWM") - rss0) / 1024 else NA
  list(value = value, heap_mb = heap, rss_mb = rss)
}

# One row per fit: time it, catch errors and warnings; compare with glamm.
# A fit under `repeat_below` seconds is repeated (up to 5 runs, each package
# alike) and the fastest run reported, as short timings are noisy.
repeat_below <- 2
results <- list()
memory <- list()
bench_fit <- function(s, approx, K, pkg, ref = NULL) {
  cat(sprintf("%-34s %-8s %-13s ", s$name, approx, pkg)); flush.console()
  warn <- character()
  out <- NULL
  fit_once <- function() {
    invisible(gc())  # the same starting heap for every package and run
    system.time(out <<- tryCatch(withCallingHandlers(fitters[[pkg]](s, K),
      warning = function(w) { warn <<- c(warn, conditionMessage(w)); invokeRestart("muffleWarning") }),
      error = function(e) { warn <<- c(warn, paste("ERROR:", conditionMessage(e))); NULL }))[["elapsed"]]
  }
  t <- fit_once()
  if (t < repeat_below) t <- min(t, replicate(4, fit_once()))
  ll <- if (is.null(out)) NA else out$loglik
  row <- data.frame(model = s$name, approx = approx, package = pkg, seconds = t,
                    ratio = if (is.null(ref)) 1 else t / ref$seconds, logLik = ll,
                    dlogLik = if (is.null(ref)) 0 else ll - ref$logLik,
                    dbeta = if (is.null(ref) || is.null(out)) NA
                            else max(abs(out$beta[names(ref$beta)] - ref$beta)),
                    note = substr(paste(unique(warn), collapse = "; "), 1, 90))
  cat(sprintf("%8.2f s  logLik %.6f %s\n", t, ll, row$note))
  results[[length(results) + 1]] <<- row
  list(seconds = t, logLik = ll, beta = out$beta)
}

# Fit one approximation with glamm, then with each comparison package.
bench <- function(s, K, others, memory_report = FALSE) {
  approx <- if (K == 1) "Laplace" else sprintf("AGHQ %d", K)
  if (memory_report) {
    m <- with_memory(bench_fit(s, approx, K, "glamm"))
    ref <- m$value
    memory[[length(memory) + 1]] <<- data.frame(model = s$name, approx = approx,
      data_mb = as.numeric(object.size(s$data)) / 2^20, heap_mb = m$heap_mb, rss_mb = m$rss_mb)
  } else ref <- bench_fit(s, approx, K, "glamm")
  for (p in intersect(others, pkgs)) bench_fit(s, approx, K, p, ref)
}

# ---- models -----------------------------------------------------------------

# Warm-up: every package fits a small model once before anything is timed, so
# that lazy loading and first-call costs count for none of them.
warm <- spec("warm-up", pisa[pisa$id_school <= 40, ], pass_read ~ female + SES, "1", "id_school")
for (p in pkgs) invisible(tryCatch(suppressWarnings(fitters[[p]](warm, 3)), error = function(e) NULL))

pisa_model <- spec("1 PISA (2069 obs, 148 schools)", pisa,
                   pass_read ~ SESj + female + SES + high_school + college + test_lang,
                   "1", "id_school")
bench(pisa_model, 12, c("lme4", "GLMMadaptive"))
bench(pisa_model, 1, c("lme4", "glmmTMB"))

sim_int <- spec("2 sim intercept (1e5 obs, 2000 cl)", simulate(2000, 50), sim_fixed, "1", "g")
bench(sim_int, 12, c("lme4", "GLMMadaptive"))
bench(sim_int, 1, c("lme4", "glmmTMB"))

sim_slope <- spec("3 sim int+slope (1e5 obs, 2000 cl)", simulate(2000, 50, slope = TRUE, seed = 2),
                  sim_fixed, "1 + x1", "g")
bench(sim_slope, 7, "GLMMadaptive")
bench(sim_slope, 1, c("lme4", "glmmTMB"))
rm(sim_int, sim_slope)

big <- spec("4 sim intercept (1e6 obs, 20000 cl)", simulate(20000, 50, seed = 3), sim_fixed, "1", "g")
bench(big, 12, if (skip_slow) character() else "lme4", memory_report = TRUE)
bench(big, 1, if (skip_slow) character() else c("lme4", "glmmTMB"), memory_report = TRUE)

# ---- report -----------------------------------------------------------------

total <- proc.time()[["elapsed"]] - t_start
tab <- do.call(rbind, results)
mem <- do.call(rbind, memory)
fmt <- function(d) {
  num <- vapply(d, is.numeric, TRUE)
  d[num] <- lapply(names(d)[num], function(n) {
    x <- d[[n]]
    switch(n, seconds = sprintf("%.2f", x), ratio = sprintf("%.1f", x), logLik = sprintf("%.4f", x),
           dlogLik = , dbeta = formatC(x, format = "e", digits = 1), sprintf("%.0f", x))
  })
  d
}
markdown <- function(d) {
  d <- fmt(d)
  d[] <- lapply(d, function(x) gsub("|", "\\|", x, fixed = TRUE))
  c(paste("|", paste(names(d), collapse = " | "), "|"),
    paste("|", paste(rep("---", ncol(d)), collapse = " | "), "|"),
    apply(d, 1, function(r) paste("|", paste(r, collapse = " | "), "|")))
}
cpu <- sub(".*:\\s*", "", grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)[1])
versions <- vapply(pkgs, function(p) as.character(packageVersion(p)), "")
header <- c(
  sprintf("Date: %s", format(Sys.time(), "%Y-%m-%d %H:%M %Z")),
  sprintf("R: %s; packages: %s; glamm commit: %s", R.version.string,
          paste(names(versions), versions, collapse = ", "), commit),
  sprintf("Machine: %s cores (nproc), %s; glamm and glmmTMB use %d threads",
          parallel::detectCores(), cpu, nthreads),
  sprintf("Load average (1, 5, 15 min) at start: %s; at end: %s", load_start, loadavg()),
  if (skip_slow) "BENCH_SKIP_SLOW=1: comparison packages skipped on model 4")

cat("\n"); writeLines(header)
options(width = 250)
print(fmt(tab), row.names = FALSE, right = FALSE)
cat("\nglamm memory on model 4 (MB):\n"); print(fmt(mem), row.names = FALSE)
cat(sprintf("\nTotal runtime: %.1f s\n", total))

writeLines(c("# glamm benchmark", "", paste0(header, "  "), "",
  "ratio = package time / glamm time; dlogLik = package logLik - glamm logLik;",
  "dbeta = max |fixed effect - glamm's|. All log-likelihoods include every constant.",
  sprintf("Fits under %g s are repeated (5 runs) and the fastest run is reported.", repeat_below), "",
  markdown(tab), "", "## glamm memory on model 4 (MB)", "",
  "data = object.size of the data frame; heap = R heap peak above the level before the fit",
  "(gc max used); rss = process resident-set peak above the level before the fit (VmHWM).", "",
  markdown(mem), "", sprintf("Total runtime: %.1f s", total)),
  out_file)
