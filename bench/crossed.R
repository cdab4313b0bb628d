# Crossed benchmark (issue 15, "Targets"): a logistic model for persons by
# items, y ~ x + (1 | person) + (1 | item), fitted by glamm (the sparse
# Laplace), lme4::glmer (nAGQ = 1) and glmmTMB (Laplace) in one process, with
# the time ratios and log-likelihood differences; then a Poisson model of
# the same design. Run from the package root: `Rscript bench/crossed.R`.
#
# Environment variables:
#   GLAMM_LIB=<dir>       load glamm from this library (default: the usual ones)
#   BENCH_THREADS=<n>     threads for glamm and glmmTMB (default 2)
#   BENCH_PERSONS=<m>     persons (default 1000)
#   BENCH_ITEMS=<k>       items (default 100): persons x items rows
#   BENCH_LARGE_PERSONS=<m>  also fit glamm alone on m persons with 100 of
#                         1000 items each (m = 10000: 1e6 rows; default 0, skipped)
#   BENCH_LARGE_PEERS=1   fit the large design by glmer and glmmTMB as well
#                         (hours of CPU for glmer; run only on an idle machine)
#
# Writes the tables to stdout and to bench/results-crossed.md.

lib <- Sys.getenv("GLAMM_LIB")
if (nzchar(lib)) library(glamm, lib.loc = lib) else library(glamm)
nthreads <- as.integer(Sys.getenv("BENCH_THREADS", "2"))
n_person <- as.integer(Sys.getenv("BENCH_PERSONS", "1000"))
n_item <- as.integer(Sys.getenv("BENCH_ITEMS", "100"))
n_large <- as.integer(Sys.getenv("BENCH_LARGE_PERSONS", "0"))
large_peers <- identical(Sys.getenv("BENCH_LARGE_PEERS"), "1")
loadavg <- function() tryCatch(sub("^(\\S+ \\S+ \\S+).*", "\\1", readLines("/proc/loadavg", n = 1)),
                                error = function(e) NA)
load_start <- loadavg()
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
bench_dir <- if (length(script)) dirname(script) else "bench"
out_file <- file.path(bench_dir, "results-crossed.md")
commit <- tryCatch(system2("git", c("-C", bench_dir, "describe", "--always", "--dirty"),
                           stdout = TRUE, stderr = FALSE), error = function(e) NA,
                   warning = function(w) NA)
available <- function(pkg) {
  ok <- requireNamespace(pkg, quietly = TRUE)
  if (!ok) message("package '", pkg, "' is not installed: skipped")
  ok
}
have_lme4 <- available("lme4")
have_tmb <- available("glmmTMB")

# Every person answers every item; x a row-level covariate; random intercepts
# of SD 1 (person) and 0.7 (item).
simulate_crossed <- function(persons, items, family, seed = 1) {
  set.seed(seed)
  d <- expand.grid(person = seq_len(persons), item = seq_len(items))
  d$x <- rnorm(nrow(d))
  eta <- -0.3 + 0.5 * d$x + rnorm(persons, sd = 1)[d$person] + rnorm(items, sd = 0.7)[d$item]
  d$y <- if (family == "binomial") rbinom(nrow(d), 1, plogis(eta)) else rpois(nrow(d), exp(eta))
  d$person <- factor(d$person)
  d$item <- factor(d$item)
  d
}
formula <- y ~ x + (1 | person) + (1 | item)

# Elapsed time, and CPU time of the process (all its threads): on a shared
# machine the elapsed times stretch with the load, the CPU times much less.
timed <- function(expr) {
  gc()
  t0 <- proc.time()
  value <- expr
  t1 <- proc.time()
  list(value = value, time = t1[["elapsed"]] - t0[["elapsed"]],
       cpu = sum(t1[c("user.self", "sys.self")]) - sum(t0[c("user.self", "sys.self")]))
}

run <- function(family) {
  d <- simulate_crossed(n_person, n_item, family)
  fam <- if (family == "binomial") binomial() else poisson()
  rows <- list()
  g <- timed(glamm(formula, data = d, family = fam, control = glamm_control(nthreads = nthreads)))
  rows$glamm <- c(time = g$time, cpu = g$cpu, loglik = as.numeric(logLik(g$value)))
  if (have_lme4) {
    r <- timed(lme4::glmer(formula, data = d, family = fam, nAGQ = 1))
    rows$`glmer (nAGQ = 1)` <- c(time = r$time, cpu = r$cpu, loglik = as.numeric(logLik(r$value)))
  }
  if (have_tmb) {
    r <- timed(glmmTMB::glmmTMB(formula, data = d, family = fam,
                                control = glmmTMB::glmmTMBControl(parallel = nthreads)))
    rows$glmmTMB <- c(time = r$time, cpu = r$cpu, loglik = as.numeric(logLik(r$value)))
  }
  tab <- do.call(rbind, rows)
  data.frame(model = sprintf("%s, %d persons x %d items (%d rows)", family, n_person, n_item,
                             nrow(d)),
             fitter = rownames(tab), seconds = round(tab[, "time"], 2),
             `time / glamm` = round(tab[, "time"] / tab["glamm", "time"], 1),
             `CPU seconds` = round(tab[, "cpu"], 2),
             `CPU / glamm` = round(tab[, "cpu"] / tab["glamm", "cpu"], 1),
             `loglik - glamm` = signif(tab[, "loglik"] - tab["glamm", "loglik"], 3),
             check.names = FALSE, row.names = NULL)
}

results <- rbind(run("binomial"), run("poisson"))
print(results, row.names = FALSE)

# A sparse crossing: each person answers 100 of 1000 items (drawn at random).
large <- NULL
if (n_large > 0) {
  set.seed(2)
  d <- data.frame(person = rep(seq_len(n_large), each = 100),
                  item = as.vector(vapply(seq_len(n_large), function(i) sample.int(1000, 100),
                                          integer(100))))
  d$x <- rnorm(nrow(d))
  d$y <- rbinom(nrow(d), 1, plogis(-0.3 + 0.5 * d$x + rnorm(n_large)[d$person] +
                                    rnorm(1000, sd = 0.7)[d$item]))
  d$person <- factor(d$person)
  d$item <- factor(d$item)
  g <- timed(glamm(formula, data = d, family = binomial,
                   control = glamm_control(nthreads = nthreads)))
  large <- sprintf(paste0("glamm, binomial, %d persons x 100 of 1000 items (%d rows): ",
                          "%.1f s elapsed, %.1f s CPU, log-likelihood %.2f, %d evaluations"),
                   n_large, nrow(d), g$time, g$cpu, as.numeric(logLik(g$value)),
                   g$value$optinfo$evaluations[[1]])
  peer_line <- function(name, r) {
    sprintf(paste0("%s on the same data: %.1f s elapsed (%.1f times glamm's), %.1f s CPU, ",
                   "log-likelihood %.2f (glamm's minus it: %.3g)"),
            name, r$time, r$time / g$time, r$cpu, as.numeric(logLik(r$value)),
            as.numeric(logLik(g$value)) - as.numeric(logLik(r$value)))
  }
  if (large_peers && have_lme4) {
    large <- c(large, peer_line("glmer (nAGQ = 1)",
                                timed(lme4::glmer(formula, data = d, family = binomial, nAGQ = 1))))
  }
  if (large_peers && have_tmb) {
    large <- c(large, peer_line("glmmTMB", timed(glmmTMB::glmmTMB(
      formula, data = d, family = binomial,
      control = glmmTMB::glmmTMBControl(parallel = nthreads)))))
  }
  cat(large, sep = "\n")
}

md_row <- function(r) paste0("| ", paste(r, collapse = " | "), " |")
lines <- c(
  "# Crossed benchmark (bench/crossed.R)", "",
  sprintf("glamm %s at %s, %d threads for glamm and glmmTMB; load average %s at the start.",
          as.character(utils::packageVersion("glamm")), commit, nthreads, load_start),
  "Times in seconds for a whole fit (formula to object, glamm with its standard errors),",
  "in one R process, elapsed and CPU (all threads of the process); `loglik - glamm` > 0",
  "means a higher maximum than glamm's.", "",
  md_row(names(results)), md_row(rep("---", ncol(results))),
  vapply(seq_len(nrow(results)), function(i) md_row(unlist(results[i, ])), ""),
  "", "A `loglik - glamm` below -1e-4 means that fitter stopped short of the maximum",
  "(glmer with its default settings does so on the binary model).",
  if (!is.null(large)) c("", paste0(large, "."))
)
writeLines(lines, out_file)
cat("\nwritten to", out_file, "\n")
