# Three-level benchmark (issue 9, "Targets"): a random-intercept logistic model
# for students in classes in schools, y ~ x + w + (1 | school/class), fitted by
# glamm (multilevel AGHQ at its default points per level, and the joint Laplace,
# nAGQ = 1), lme4::glmer (Laplace) and glmmTMB (Laplace); then glamm's memory on
# a 1,000,000-row three-level fit. Run from the package root:
# `Rscript bench/nested.R`.
#
# Environment variables:
#   GLAMM_LIB=<dir>       load glamm from this library (default: the usual ones)
#   BENCH_THREADS=<n>     threads for glamm and glmmTMB (default 2)
#   BENCH_SCHOOLS=<m>     schools in the timed model (default 2000: 200,000 rows)
#   BENCH_MEM_SCHOOLS=<m> schools in the memory model (default 10000: 1e6 rows;
#                         0 skips the memory section)
#
# Writes the tables to stdout and to bench/results-nested.md.

lib <- Sys.getenv("GLAMM_LIB")
if (nzchar(lib)) library(glamm, lib.loc = lib) else library(glamm)
nthreads <- as.integer(Sys.getenv("BENCH_THREADS", "2"))
n_schools <- as.integer(Sys.getenv("BENCH_SCHOOLS", "2000"))
n_schools_mem <- as.integer(Sys.getenv("BENCH_MEM_SCHOOLS", "10000"))
t_start <- proc.time()[["elapsed"]]
loadavg <- function() tryCatch(sub("^(\\S+ \\S+ \\S+).*", "\\1", readLines("/proc/loadavg", n = 1)),
                                error = function(e) NA)
load_start <- loadavg()
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
bench_dir <- if (length(script)) dirname(script) else "bench"
out_file <- file.path(bench_dir, "results-nested.md")
commit <- tryCatch(system2("git", c("-C", bench_dir, "describe", "--always", "--dirty"),
                           stdout = TRUE, stderr = FALSE), error = function(e) NA, warning = function(w) NA)

available <- function(pkg) {
  ok <- requireNamespace(pkg, quietly = TRUE)
  if (!ok) message("package '", pkg, "' is not installed: skipped")
  ok
}
pkgs <- c("glamm", Filter(available, c("lme4", "glmmTMB")))

# ---- data -------------------------------------------------------------------

# Bernoulli responses of `students` students in each of `classes` classes in
# each of `schools` schools (rows sorted by school, then class). Class labels
# 1..classes repeat in every school, so the nesting is given by school/class.
# x: student-level covariate (normal); w: school-level covariate (normal);
# random intercepts of SD 0.8 (school) and 0.6 (class within school).
simulate3 <- function(schools, classes = 10, students = 10, sd_school = 0.8, sd_class = 0.6,
                      seed = 1) {
  set.seed(seed)
  n <- schools * classes * students
  school <- rep(seq_len(schools), each = classes * students)
  class <- rep(rep(seq_len(classes), each = students), schools)
  w <- rnorm(schools)
  u_school <- rnorm(schools, sd = sd_school)
  u_class <- rnorm(schools * classes, sd = sd_class)
  x <- rnorm(n)
  eta <- -0.5 + 0.5 * x + 0.3 * w[school] + u_school[school] + u_class[(school - 1) * classes + class]
  data.frame(y = rbinom(n, 1, plogis(eta)), x = x, w = w[school],
             school = factor(school), class = factor(class))
}
formula <- y ~ x + w + (1 | school/class)

# ---- fitters: each returns list(fit, loglik, beta, sd, nAGQ) -------------------
# sd: random-intercept SDs named by level (class:school, school).

glamm_sd <- function(f) {
  tryCatch(vapply(f$groups, function(g) sqrt(g$Sigma[1, 1]), 0), error = function(e) NA)
}
glamm_nagq <- function(f) {  # the points per level that the fit used
  k <- f$nAGQ
  if (length(k) < 2 || is.null(names(k))) {
    k2 <- tryCatch(vapply(f$groups, function(g) as.integer(g$nAGQ)[1], 0L), error = function(e) NULL)
    if (length(k2)) k <- k2
  }
  k
}
fitters <- list(
  glamm = function(d, K) {  # K = NULL: glamm's default points per level
    f <- glamm(formula, data = d, family = binomial, nAGQ = K,
               control = glamm_control(nthreads = nthreads))
    list(fit = f, loglik = f$loglik, beta = f$coefficients, sd = glamm_sd(f), nAGQ = glamm_nagq(f))
  },
  lme4 = function(d, K) {  # Laplace only for several random-effect terms
    f <- lme4::glmer(formula, data = d, family = binomial, nAGQ = 1)
    vc <- as.data.frame(lme4::VarCorr(f))
    list(fit = f, loglik = as.numeric(logLik(f)), beta = lme4::fixef(f),
         sd = setNames(vc$sdcor, vc$grp), nAGQ = 1)
  },
  glmmTMB = function(d, K) {  # Laplace only
    f <- glmmTMB::glmmTMB(formula, data = d, family = binomial,
                          control = glmmTMB::glmmTMBControl(parallel = nthreads))
    vc <- glmmTMB::VarCorr(f)$cond
    list(fit = f, loglik = as.numeric(logLik(f)), beta = glmmTMB::fixef(f)$cond,
         sd = vapply(vc, function(s) attr(s, "stddev")[[1]], 0), nAGQ = 1)
  }
)

# Peak memory of an expression: R heap (gc "max used" above the level before)
# and process resident set (VmHWM above VmRSS before; Linux only). As in run.R.
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

# One fit: time it (fastest of 5 runs when under `repeat_below` seconds, each
# package alike), catch errors and warnings. Returns the fitter's list plus
# seconds and note; `out$fit` is NULL after an error.
repeat_below <- 2
run_fit <- function(label, d, K, pkg, keep_fit = FALSE, repeat_short = TRUE) {
  cat(sprintf("%-28s %-8s ", label, pkg)); flush.console()
  warn <- character()
  out <- NULL
  fit_once <- function() {
    out <<- NULL
    invisible(gc())  # the same starting heap for every package and run
    system.time(out <<- tryCatch(withCallingHandlers(fitters[[pkg]](d, K),
      warning = function(w) { warn <<- c(warn, conditionMessage(w)); invokeRestart("muffleWarning") }),
      error = function(e) { warn <<- c(warn, paste("ERROR:", conditionMessage(e))); NULL }))[["elapsed"]]
  }
  t <- fit_once()
  if (repeat_short && !is.null(out) && t < repeat_below) t <- min(t, replicate(4, fit_once()))
  if (is.null(out)) {  # failed: no time, no results
    out <- list(fit = NULL, loglik = NA_real_, beta = NULL, sd = NA, nAGQ = K)
    t <- NA_real_
  }
  if (!keep_fit) out$fit <- NULL
  out$seconds <- t
  out$note <- substr(paste(unique(warn), collapse = "; "), 1, 120)
  cat(sprintf("%8.2f s  logLik %.6f  SDs %s %s\n", t, out$loglik,
              paste(sprintf("%.4f", out$sd), collapse = "/"), out$note))
  out
}
approx_label <- function(k) {
  if (is.null(k) || all(is.na(k))) return("AGHQ default")
  if (all(k == 1)) return("Laplace")
  if (length(k) > 1 && !is.null(names(k))) {
    return(sprintf("AGHQ (%s)", paste(names(k), k, sep = " ", collapse = ", ")))
  }
  sprintf("AGHQ %s", paste(k, collapse = "/"))
}

# ---- warm-up ------------------------------------------------------------------
# Every package fits a small three-level model once before anything is timed,
# so that lazy loading and first-call costs count for none of them.
warm <- simulate3(60, 5, 5, seed = 99)
for (p in pkgs) for (K in list(NULL, 1)) {
  invisible(tryCatch(suppressWarnings(fitters[[p]](warm, K)), error = function(e) NULL))
}
rm(warm)

# ---- timed model ----------------------------------------------------------------

d <- simulate3(n_schools, seed = 1)
model <- sprintf("%d schools x 10 classes x 10 students (%s rows)", n_schools,
                 format(nrow(d), big.mark = ","))
cat(model, "\n")
runs <- list(
  glamm_aghq = run_fit("glamm default", d, NULL, "glamm"),
  glamm_laplace = run_fit("glamm Laplace", d, 1, "glamm")
)
for (p in setdiff(pkgs, "glamm")) runs[[p]] <- run_fit(paste(p, "Laplace"), d, 1, p)
rm(d)

ref <- runs$glamm_laplace
ref_aghq <- runs$glamm_aghq
pick_sd <- function(sd) {  # c(class, school) from SDs named by level
  if (length(sd) != 2 || anyNA(sd)) return(c(NA, NA))
  i <- match(c("class:school", "school"), names(sd))
  if (anyNA(i)) sd else sd[i]
}
beta_diff <- function(b, b0) {
  if (is.null(b) || is.null(b0)) return(NA_real_)
  max(abs(b[names(b0)] - b0))
}
tab <- do.call(rbind, lapply(names(runs), function(r) {
  x <- runs[[r]]
  pkg <- sub("_.*", "", r)
  sds <- pick_sd(x$sd)
  data.frame(package = pkg, approx = if (pkg == "glamm") approx_label(x$nAGQ) else "Laplace",
             seconds = x$seconds,
             vs_laplace = x$seconds / ref$seconds, vs_aghq = x$seconds / ref_aghq$seconds,
             logLik = x$loglik, dlogLik = x$loglik - ref$loglik,
             dbeta = if (identical(x, ref)) 0 else beta_diff(x$beta, ref$beta),
             sd_class = sds[[1]], sd_school = sds[[2]], note = x$note)
}))
# a failed glamm fit leaves the ratios and differences undefined
if (is.na(ref$loglik)) tab$vs_laplace <- tab$dlogLik <- tab$dbeta <- NA
if (is.na(ref_aghq$loglik)) tab$vs_aghq <- NA

# ---- memory: a 1,000,000-row three-level fit -------------------------------------

mem <- NULL
if (n_schools_mem > 0) {
  big <- simulate3(n_schools_mem, seed = 3)
  data_mb <- as.numeric(object.size(big)) / 2^20
  mem_model <- sprintf("%d x 10 x 10 (%s rows)", n_schools_mem, format(nrow(big), big.mark = ","))
  cat(mem_model, "\n")
  for (K in list(NULL, 1)) {
    m <- with_memory(run_fit(paste("memory glamm", if (is.null(K)) "default" else "Laplace"),
                             big, K, "glamm", keep_fit = TRUE, repeat_short = FALSE))
    fit_mb <- NA
    if (is.null(m$value$fit)) m$heap_mb <- m$rss_mb <- NA
    else fit_mb <- as.numeric(object.size(m$value$fit)) / 2^20
    mem <- rbind(mem, data.frame(model = mem_model, approx = approx_label(m$value$nAGQ),
                                 seconds = m$value$seconds, data_mb = data_mb, fit_mb = fit_mb,
                                 fit_x = fit_mb / data_mb, heap_mb = m$heap_mb,
                                 heap_x = m$heap_mb / data_mb, rss_mb = m$rss_mb,
                                 rss_x = m$rss_mb / data_mb, note = m$value$note))
    rm(m); invisible(gc())
  }
  rm(big)
}

# ---- targets (issue 9) ------------------------------------------------------------

peers <- runs[setdiff(names(runs), c("glamm_aghq", "glamm_laplace"))]
peer_time <- if (length(peers)) min(vapply(peers, `[[`, 0, "seconds"), na.rm = TRUE) else NA
peer_ll <- if (length(peers)) max(vapply(peers, `[[`, 0, "loglik"), na.rm = TRUE) else NA
if (!is.finite(peer_time)) peer_time <- peer_ll <- NA
verdict <- function(ok) if (is.na(ok)) "n/a" else if (ok) "met" else "NOT met"
ok_aghq <- ref_aghq$seconds < peer_time
ok_lap <- 10 * ref$seconds <= peer_time
ok_ll <- ref$loglik >= peer_ll - 1e-4
targets <- c(
  sprintf("- AGHQ at the default points faster than the faster peer's Laplace: %.2f s vs %.2f s (%s)",
          ref_aghq$seconds, peer_time, verdict(ok_aghq)),
  sprintf("- glamm's Laplace at least 10 times faster than the faster peer: %.1f times (%s)",
          peer_time / ref$seconds, verdict(ok_lap)),
  sprintf("- glamm's Laplace logLik no lower than the best peer's minus 1e-4: difference %s (%s)",
          formatC(ref$loglik - peer_ll, format = "e", digits = 1), verdict(ok_ll)))
if (!is.null(mem)) {
  peak_x <- suppressWarnings(max(c(mem$heap_x, mem$rss_x), na.rm = TRUE))
  if (!is.finite(peak_x)) peak_x <- NA
  targets <- c(targets,
    sprintf("- Peak memory of the %s fit at most 4 times the data frame (largest of heap and RSS peaks): %.1f times (%s)",
            mem_model, peak_x, verdict(if (is.finite(peak_x)) peak_x <= 4 else NA)),
    sprintf("- Fit object / data frame (holds the data once; was 3.5 times): %s",
            paste(sprintf("%.2f", mem$fit_x), collapse = ", ")))
}

# ---- report -------------------------------------------------------------------------

total <- proc.time()[["elapsed"]] - t_start
fmt <- function(d) {
  num <- vapply(d, is.numeric, TRUE)
  d[num] <- lapply(names(d)[num], function(n) {
    x <- d[[n]]
    switch(n, seconds = sprintf("%.2f", x), vs_laplace = , vs_aghq = , fit_x = , heap_x = ,
           rss_x = , data_mb = , fit_mb = sprintf("%.1f", x), logLik = sprintf("%.4f", x), sd_class = , sd_school = sprintf("%.4f", x),
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
versions <- vapply(pkgs, function(p) as.character(utils::packageDescription(p, lib.loc = c(if (nzchar(lib)) lib, .libPaths()))$Version), "")
header <- c(
  sprintf("Date: %s", format(Sys.time(), "%Y-%m-%d %H:%M %Z")),
  sprintf("R: %s; packages: %s; glamm commit: %s", R.version.string,
          paste(names(versions), versions, collapse = ", "), commit),
  sprintf("Machine: %s cores (nproc), %s; glamm and glmmTMB use %d threads",
          parallel::detectCores(), cpu, nthreads),
  sprintf("Load average (1, 5, 15 min) at start: %s; at end: %s", load_start, loadavg()),
  if (n_schools != 2000) sprintf("BENCH_SCHOOLS=%d: a smaller timed model than the issue's 2,000 schools", n_schools),
  if (n_schools_mem == 0) "BENCH_MEM_SCHOOLS=0: memory section skipped"
  else if (n_schools_mem != 10000) sprintf("BENCH_MEM_SCHOOLS=%d: a smaller memory model than 1,000,000 rows", n_schools_mem))
legend <- c(
  sprintf("Model: `%s`, binomial (logit); %s. Simulated (seed 1): intercept -0.5,", deparse(formula), model),
  "x (student level) 0.5, w (school level) 0.3, school SD 0.8, class-within-school SD 0.6.", "",
  "vs_laplace, vs_aghq = time / glamm's Laplace time, / glamm's AGHQ time; dlogLik = logLik - glamm's",
  "Laplace logLik; dbeta = max |fixed effect - glamm's Laplace|; sd_class, sd_school = estimated SDs.",
  "All log-likelihoods include every constant (none for Bernoulli responses).",
  sprintf("Fits under %g s are repeated (5 runs) and the fastest run is reported; every fit starts after gc().",
          repeat_below))

cat("\n"); writeLines(header)
options(width = 250)
print(fmt(tab), row.names = FALSE, right = FALSE)
if (!is.null(mem)) { cat("\nglamm memory (MB):\n"); print(fmt(mem), row.names = FALSE, right = FALSE) }
cat("\nTargets:\n"); writeLines(targets)
cat(sprintf("\nTotal runtime: %.1f s\n", total))

writeLines(c("# glamm three-level benchmark", "", paste0(header, "  "), "", legend, "",
  markdown(tab),
  if (!is.null(mem)) c("", "## glamm memory (MB)", "",
    "data = object.size of the data frame; fit = object.size of the fit object; heap = R heap peak",
    "above the level before the fit (gc max used); rss = process resident-set peak above the level",
    "before the fit (VmHWM); *_x = the figure divided by the data frame's size.", "",
    markdown(mem)),
  "", "## Targets (issue 9)", "", targets, "", sprintf("Total runtime: %.1f s", total)),
  out_file)
