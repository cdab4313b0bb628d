# Ctrl-C during one long likelihood evaluation (src/interrupt.h): the loop
# over clusters stops within about a second, R gets its interrupt, and the
# model evaluates correctly afterwards. The check runs in a child R session
# that is interactive (a non-interactive R quits on SIGINT) and sends itself
# the signal from a forked process.

test_that("an interrupt stops a long evaluation and leaves the model usable", {
  skip_on_os("windows")
  script <- tempfile(fileext = ".R")
  on.exit(unlink(script))
  writeLines(c(
    sprintf(".libPaths(%s)", paste(deparse(.libPaths()), collapse = "")),
    "library(glamm)",
    "set.seed(1); J <- 200; m <- 10; n <- J * m; g <- rep(1:J, each = m)",
    "x <- rnorm(n); z <- rnorm(n); y <- rbinom(n, 1, 0.5)",
    "lev <- list(list(name = 'g', group = factor(g), factor = factor(g), Z = cbind(1, x, z),",
    "                 pattern = lower.tri(diag(3), diag = TRUE)))",
    "obj <- glamm:::build_objective(cbind(1, x), lev, glamm:::prepare_response(y, binomial()),",
    "                               NULL, binomial(), 30L, glamm_control(nthreads = 1L))",
    "par <- c(0, 0, 0.5, 0, 0, 0.5, 0, 0.5)",
    "run <- function(interrupt) {",
    "  pid <- Sys.getpid()",
    "  if (interrupt) job <- parallel::mcparallel({Sys.sleep(0.2); tools::pskill(pid, 2L)})",
    "  t0 <- proc.time()[[3]]",
    "  res <- tryCatch(obj$loglik(par), interrupt = function(e) NA)",
    "  el <- proc.time()[[3]] - t0",
    "  if (interrupt) parallel::mccollect(job)",
    "  c(res, el)",
    "}",
    "f <- function() { full <- run(FALSE); cut <- run(TRUE); again <- run(FALSE)",
    "  cat('RESULT', full, cut, again, '\\n') }",
    "f()"), script)
  out <- system2(file.path(R.home("bin"), "R"),
                 c("--interactive", "--vanilla", "--quiet", "--no-echo"),
                 stdin = script, stdout = TRUE, stderr = TRUE)
  line <- grep("^RESULT", out, value = TRUE)
  expect_length(line, 1)
  v <- scan(text = sub("^RESULT", "", line), quiet = TRUE)
  full <- v[1:2]
  cut <- v[3:4]
  again <- v[5:6]
  expect_true(is.finite(full[1]))
  expect_true(is.na(cut[1]))  # the interrupt reached R's handler
  # stopped soon after the signal (0.2 s): observed 0.5-1.4 s against 2.7-4.7 s
  expect_lt(cut[2], 0.6 * full[2])
  expect_identical(again[1], full[1])  # the model is intact
})
