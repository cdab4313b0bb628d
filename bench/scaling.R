# Scaling of a fit with the data, the threads and the workers (issue 14,
# item 6 and the 1e7-row target): a binary random-intercept model with 50 rows
# per cluster (1e5 to 1e7 rows, 2e3 to 2e5 clusters), AGHQ at the default
# points, fitted in-process with 1 and 2 threads and sharded over 1 and 2
# local PSOCK workers (1 thread each), the last also with the workers reading
# the data from partition files (glamm_shards()). Each fit runs in a fresh R process, so
# that its peak resident memory is its own; the workers' peaks are read from
# their /proc entries after the fit.
# Run from the package root: `Rscript bench/scaling.R [max_rows]` (about 6
# minutes with max_rows = 1e7); GLAMM_LIB=<dir> loads glamm from that
# library. Writes bench/results-scaling.md.

status_mb <- function(field, pid = "self") {
  x <- readLines(sprintf("/proc/%s/status", pid))
  as.numeric(sub("[^0-9]*([0-9]+).*", "\\1", x[grep(field, x)])) / 1024
}

one_fit <- function(n, threads, workers) {
  lib <- Sys.getenv("GLAMM_LIB")
  if (nzchar(lib)) library(glamm, lib.loc = lib) else library(glamm)
  set.seed(1)
  m <- n / 50
  g <- rep.int(seq_len(m), rep.int(50L, m))
  d <- data.frame(x = rnorm(n), w = rnorm(m)[g])
  d$y <- rbinom(n, 1, plogis(-0.3 + 0.5 * d$x + 0.3 * d$w + rnorm(m, 0, 0.8)[g]))
  d$g <- g
  rm(g)
  data_mb <- as.numeric(object.size(d)) / 2^20
  # workers < 0: |workers| workers read the data from partition files
  # (glamm_shards()); the master drops its copy before the fit
  reading <- workers < 0
  workers <- abs(workers)
  if (reading) {
    files <- vapply(seq_len(workers), function(k) {
      path <- tempfile(fileext = ".rds")
      saveRDS(d[d$g %in% seq(k, m, by = workers), ], path, compress = FALSE)
      path
    }, "")
    d <- glamm_shards(files)
  }
  cl <- if (workers > 0) parallel::makeCluster(workers)
  ctl <- glamm_control(nthreads = threads, cluster = cl, worker.threads = threads)
  invisible(gc())
  rss0 <- status_mb("VmRSS")
  cat("5", file = "/proc/self/clear_refs")  # resets VmHWM to the current resident set
  t <- system.time(fit <- glamm(y ~ x + w + (1 | g), d, binomial, control = ctl))
  peak <- status_mb("VmHWM")
  worker_peak <- if (workers > 0) {
    max(unlist(parallel::clusterCall(cl, function() {
      x <- readLines("/proc/self/status")
      as.numeric(sub("[^0-9]*([0-9]+).*", "\\1", x[grep("VmHWM", x)])) / 1024
    })))
  } else NA
  if (!is.null(cl)) parallel::stopCluster(cl)
  cat(sprintf("RESULT %d %d %d %.2f %.4f %.0f %.0f %.0f %.0f\n", n, threads,
              if (reading) -workers else workers,
              t[["elapsed"]], fit$loglik, data_mb, peak, peak - rss0, worker_peak))
  if (reading) unlink(files)
}

args <- commandArgs(TRUE)
if (length(args) == 3) {
  one_fit(as.numeric(args[1]), as.integer(args[2]), as.integer(args[3]))
} else {
  script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  bench_dir <- dirname(script)
  max_rows <- if (length(args)) as.numeric(args[1]) else 1e7
  load_start <- readLines("/proc/loadavg", n = 1)
  layouts <- data.frame(threads = c(1, 2, 1, 1, 1), workers = c(0, 0, 1, 2, -2))
  rows <- list()
  layout_name <- function(threads, workers) {
    if (workers == 0) return(sprintf("in-process, %d thread%s", threads, if (threads > 1) "s" else ""))
    sprintf("%d worker%s x 1 thread%s", abs(workers), if (abs(workers) > 1) "s" else "",
            if (workers < 0) ", reading partition files" else "")
  }
  for (n in c(1e5, 1e6, 1e7)[c(1e5, 1e6, 1e7) <= max_rows]) {
    for (k in seq_len(nrow(layouts))) {
      out <- system2(file.path(R.home("bin"), "Rscript"),
                     c(script, format(n, scientific = FALSE), layouts$threads[k],
                       layouts$workers[k]), stdout = TRUE)
      v <- scan(text = sub("^RESULT", "", grep("^RESULT", out, value = TRUE)), quiet = TRUE)
      rows[[length(rows) + 1]] <- data.frame(
        rows = format(v[1], scientific = TRUE), clusters = format(v[1] / 50, scientific = TRUE),
        layout = layout_name(v[2], v[3]),
        seconds = v[4], loglik = sprintf("%.4f", v[5]), data_MB = v[6],
        master_peak_MB = v[7], master_rise_MB = v[8],
        worker_peak_MB = if (is.na(v[9])) "" else format(v[9]))
      print(rows[[length(rows)]], row.names = FALSE)
    }
  }
  tab <- do.call(rbind, rows)
  md <- c("# Scaling with rows, threads and workers", "",
          sprintf("Date: %s UTC; load average at start %s, at end %s  ",
                  format(Sys.time(), "%Y-%m-%d %H:%M", tz = "UTC"),
                  sub("^(\\S+ \\S+ \\S+).*", "\\1", load_start),
                  sub("^(\\S+ \\S+ \\S+).*", "\\1", readLines("/proc/loadavg", n = 1))), "",
          paste("Binary random intercept, 50 rows per cluster, AGHQ at the default 15 points;",
                "each fit in a fresh R process. master_peak_MB: the master's peak resident",
                "set during the fit; master_rise_MB: that peak less the resident set before",
                "the fit (with the data loaded, except when the workers read partition files);",
                "worker_peak_MB: the largest worker's peak."),
          "",
          paste("|", paste(names(tab), collapse = " | "), "|"),
          paste("|", paste(rep("---", ncol(tab)), collapse = " | "), "|"),
          apply(tab, 1, function(r) paste("|", paste(r, collapse = " | "), "|")))
  writeLines(md, file.path(bench_dir, "results-scaling.md"))
}
