# Peak memory of a 1,000,000-row three-level fit, each in a fresh R process
# (in a process that has run other fits, the resident set does not rise above
# memory R already holds, so bench/nested.R's RSS figure understates it).
# Run from the package root: `Rscript bench/nested-memory.R` (about 2 minutes);
# GLAMM_LIB=<dir> loads glamm from that library. Prints one line per fit.
one_fit <- function(K) {
  lib <- Sys.getenv("GLAMM_LIB")
  if (nzchar(lib)) library(glamm, lib.loc = lib) else library(glamm)
  set.seed(1)
  S <- 10000; C <- 10; m <- 10; n <- S * C * m
  d <- data.frame(school = rep(1:S, each = C * m), class = rep(rep(1:C, each = m), S),
                  x = rnorm(n))
  d$w <- rnorm(S)[d$school]
  d$y <- rbinom(n, 1, plogis(-0.3 + 0.5 * d$x + 0.3 * d$w + rnorm(S, 0, 0.8)[d$school] +
                               rnorm(S * C, 0, 0.6)[(d$school - 1) * C + d$class]))
  status_mb <- function(field) {
    x <- readLines("/proc/self/status")
    as.numeric(sub("[^0-9]*([0-9]+).*", "\\1", x[grep(field, x)])) / 1024
  }
  invisible(gc())
  rss0 <- status_mb("VmRSS")
  cat("5", file = "/proc/self/clear_refs")  # resets VmHWM to the current resident set
  g0 <- gc(reset = TRUE)
  t <- system.time(fit <- glamm(y ~ x + w + (1 | school/class), d, binomial,
                                nAGQ = if (K == 0) NULL else K))
  g1 <- gc()
  data_mb <- as.numeric(object.size(d)) / 2^20
  sprintf(paste0("nAGQ %-8s %5.1f s  data %.1f MB  fit object %.1f MB (%.1fx)  ",
                 "heap max used %.0f MB (%.1fx)  RSS peak %.0f MB (%.1fx)"),
          if (K == 0) "default" else K, t[["elapsed"]], data_mb,
          as.numeric(object.size(fit)) / 2^20, as.numeric(object.size(fit)) / 2^20 / data_mb,
          sum(g1[, 6]) - sum(g0[, 2]), (sum(g1[, 6]) - sum(g0[, 2])) / data_mb,
          status_mb("VmHWM") - rss0, (status_mb("VmHWM") - rss0) / data_mb)
}
args <- commandArgs(TRUE)
if (length(args)) {
  cat(one_fit(as.integer(args[1])), "\n")
} else {
  script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  for (K in c(1, 0)) system2(file.path(R.home("bin"), "Rscript"), c(script, K))
}
