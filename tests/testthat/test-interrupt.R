# Ctrl-C during one long likelihood evaluation (src/interrupt.h): the loop
# over clusters, and the loops over the leaves of one top cluster
# (src/tree.cpp), stop within about a second, R gets its interrupt, and the
# model evaluates correctly afterwards. The check runs in a child R session
# that is interactive (a non-interactive R quits on SIGINT) and sends itself
# the signal from a forked process.

# Under make sanitize (GLAMM_SANITIZE=1) the instrumented code runs 2 to 4
# times slower: the latency bounds are 4 times wider (observed under it: CPU
# 2.0 and 4.2 s for the one-top-cluster case at a load average of 5).
slow <- if (nzchar(Sys.getenv("GLAMM_SANITIZE"))) 4 else 1

# Runs setup (lines of R that define obj and par) in the child, evaluates
# obj$loglik(par, gradient) in full, interrupted delay seconds in, and in
# full again; returns c(full, handled (1/0), latency, CPU latency, again): the latency in seconds from the signal to R's handler, and
# the CPU time the child spent in between (Linux; NA elsewhere), which does
# not depend on the load of the machine.
interrupt_run <- function(setup, gradient = FALSE, delay = 0.3) {
  v <- suppressWarnings(as.numeric(child_result(c(
    setup,
    "stamp <- tempfile()",
    "cpu <- function(pid) {",
    "  f <- sprintf('/proc/%d/stat', pid)",
    "  if (!file.exists(f)) return(NA)",
    "  v <- strsplit(sub('.*\\\\) ', '', readLines(f)), ' ')[[1]]",
    "  sum(as.numeric(v[12:13])) / 100",
    "}",
    "run <- function(interrupt) {",
    "  pid <- Sys.getpid()",
    "  if (interrupt) job <- parallel::mcparallel({",
    sprintf("    Sys.sleep(%g); saveRDS(c(as.numeric(Sys.time()), cpu(pid)), stamp); tools::pskill(pid, 2L)})",
            delay),
    sprintf("  res <- tryCatch(obj$loglik(par, gradient = %s),", gradient),
    "                  interrupt = function(e) c(as.numeric(Sys.time()), cpu(pid)))",
    "  if (!interrupt) return(c(res, 0, NA))",
    "  parallel::mccollect(job)",
    "  if (length(res) != 2) return(c(0, NA, NA))",
    "  c(1, res - readRDS(stamp))",
    "}",
    "f <- function() { full <- run(FALSE); cut <- run(TRUE); again <- run(FALSE)",
    "  cat('RESULT', full, cut, again, '\\n') }",
    "f()"))))
  c(full = v[1], handled = v[4], latency = v[5], cpu = v[6], again = v[7])
}

test_that("an interrupt stops a long evaluation and leaves the model usable", {
  skip_on_os("windows")
  v <- interrupt_run(c(
    "set.seed(1); J <- 1000; m <- 2; n <- J * m; g <- rep(1:J, each = m)",
    "x <- rnorm(n); z <- rnorm(n); y <- rbinom(n, 1, 0.5)",
    "lev <- list(list(name = 'g', group = factor(g), factor = factor(g), Z = cbind(1, x, z),",
    "                 pattern = lower.tri(diag(3), diag = TRUE)))",
    "obj <- glamm:::build_objective(cbind(1, x), lev, glamm:::prepare_response(y, binomial()),",
    "                               NULL, binomial(), 30L, glamm_control(nthreads = 1L))",
    "par <- c(0, 0, 0.5, 0, 0, 0.5, 0, 0.5)"))
  expect_true(is.finite(v[["full"]]))
  expect_identical(v[["handled"]], 1)  # R's interrupt handler ran: the evaluation did not finish
  # CPU seconds of the child from the signal to R's handler (Linux): observed
  # 0.1-0.3 (a full evaluation takes 2.7 s idle)
  if (!is.na(v[["cpu"]])) expect_lt(v[["cpu"]], slow * 1)
  # wall-clock seconds: observed 0.1-0.5 idle, up to 2.2 at a load average of 4
  # on two cores and 3.5 at 10 (nice 19)
  expect_lt(v[["latency"]], slow * 6)
  expect_identical(v[["again"]], v[["full"]])  # the model is intact
})

test_that("an interrupt stops the evaluation of one top cluster holding almost every row", {
  # classes in schools: school 1 holds 2998 of the 3000 rows, so the loop
  # over top clusters has nothing to poll between; the leaves (classes) do
  skip_on_os("windows")
  for (threads in 1:2) {
    v <- interrupt_run(c(
      "set.seed(1); nc <- 1500; n <- 2 * nc; cls <- rep(1:nc, each = 2)",
      "school <- c(rep(1, n - 2), 2, 2); x <- rnorm(n); z <- rnorm(n); y <- rbinom(n, 1, 0.5)",
      "lev <- list(list(name = 'cls', group = factor(cls), factor = factor(cls),",
      "                 Z = cbind(rep(1, n)), pattern = matrix(TRUE)),",
      "            list(name = 'school', group = factor(school), factor = factor(school),",
      "                 Z = cbind(1, x, z), pattern = lower.tri(diag(3), diag = TRUE)))",
      "obj <- glamm:::build_objective(cbind(1, x), lev, glamm:::prepare_response(y, binomial()),",
      sprintf("  NULL, binomial(), c(8L, 10L), glamm_control(nthreads = %dL))", threads),
      "par <- c(0, 0, 0.5, 0.5, 0, 0, 0.5, 0, 0.5)"), gradient = TRUE)
    expect_true(is.finite(v[["full"]]))
    expect_identical(v[["handled"]], 1)
    # CPU seconds of the child from the signal to R's handler: observed 0.77
    # (one thread) and 1.35 (two, summed) at a load average of 5.6 on two cores,
    # most of it in allocating the evaluation's workspace, before the first
    # poll; without polling in the leaves 3.5 and 3.0 (the whole evaluation)
    if (!is.na(v[["cpu"]])) expect_lt(v[["cpu"]], slow * 2)
    # wall-clock seconds: 2.5 and 3.0 at that load (nice 19), 6.6 and 4.3
    # without; 5.1 and 5.8 at a load average of 10
    expect_lt(v[["latency"]], slow * 8)
    expect_identical(v[["again"]], v[["full"]])
  }
})
