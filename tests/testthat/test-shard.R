# Sharded fits (issue 14): the top-level clusters split over the workers of
# a parallel cluster give the single-process fit, whatever the number of
# workers; the workers keep nothing after the fit; a failing or dead worker
# gives an error naming it, and the session stays usable.

shard_data <- function(seed = 3) {
  set.seed(seed)
  schools <- 30
  d <- data.frame(school = factor(rep(seq_len(schools), each = 20)),
                  class = factor(rep(rep(1:4, each = 5), schools)), x = rnorm(schools * 20))
  u <- rnorm(schools, sd = 0.8)[d$school] + rnorm(schools * 4, sd = 0.5)[
    (as.integer(d$school) - 1) * 4 + as.integer(d$class)]
  d$y <- rbinom(nrow(d), 1, plogis(-0.3 + 0.6 * d$x + u))
  d$w <- runif(schools, 1, 3)[d$school]
  d$wc <- runif(schools * 4, 1, 2)[(as.integer(d$school) - 1) * 4 + as.integer(d$class)]
  d
}

test_that("a sharded fit equals the single-process fit, for 1 and 2 workers", {
  d <- shard_data()
  cl <- parallel::makeCluster(2)
  on.exit(parallel::stopCluster(cl))
  form <- y ~ x + (1 | school/class)
  ref <- glamm(form, data = d, family = binomial)
  for (workers in list(cl[1], cl)) {
    fit <- glamm(form, data = d, family = binomial, control = glamm_control(cluster = workers))
    expect_lt(abs(fit$loglik - ref$loglik), 1e-10)  # seen 4.5e-13 (1e5 rows)
    expect_lt(max(abs(fit$par - ref$par)), 1e-8)  # seen 2e-16
    expect_lt(max(abs(vcov(fit) - vcov(ref))), 1e-8)  # seen 8e-15
    expect_null(fit$control$cluster)
  }
  # the workers hold no engine after the fit, and the fit leaves the random
  # number stream where it was
  set.seed(11)
  invisible(glamm(form, data = d, family = binomial, control = glamm_control(cluster = cl)))
  after_fit <- runif(1)
  set.seed(11)
  expect_identical(after_fit, runif(1))
  left <- parallel::clusterEvalQ(cl, length(ls(glamm:::shard_store)))
  expect_identical(unlist(left), c(0L, 0L))
  # a weighted fit: its sandwich takes the scores, stacked over the shards
  # (weights at the school and the class level)
  pw <- list(school = ~w, class = ~wc)
  refw <- glamm(form, data = d, family = binomial, pweights = pw)
  fitw <- glamm(form, data = d, family = binomial, pweights = pw,
                control = glamm_control(cluster = cl))
  expect_lt(abs(fitw$loglik - refw$loglik), 1e-10)  # seen 0
  expect_lt(max(abs(vcov(fitw) - vcov(refw))), 1e-8)  # seen 1e-15
})

test_that("two-level binary and Poisson fits with an odd number of clusters shard exactly", {
  d <- shard_data()
  d <- d[as.integer(d$school) <= 29, ]  # 29 schools over 2 workers
  d$school <- droplevels(d$school)
  d$count <- rpois(nrow(d), exp(0.2 + 0.3 * d$x))
  cl <- parallel::makeCluster(2)
  on.exit(parallel::stopCluster(cl))
  ctl <- glamm_control(cluster = cl)
  for (family in list(binomial(), poisson())) {
    form <- if (family$family == "binomial") y ~ x + (1 + x | school) else count ~ x + (1 | school)
    ref <- glamm(form, data = d, family = family)
    fit <- glamm(form, data = d, family = family, control = ctl)
    expect_lt(abs(fit$loglik - ref$loglik), 1e-10)  # seen 0 (binomial), 1e-13 (poisson)
    expect_lt(max(abs(fit$par - ref$par)), 1e-8)  # seen 0
  }
})

test_that("the shards are whole top-level clusters of about equal size", {
  top <- rep(1:7, times = c(5, 1, 9, 3, 3, 8, 1))
  r <- glamm:::shard_ranges(top, 3)
  expect_identical(r[[1]][1], 1L)
  expect_identical(r[[length(r)]][2], length(top))
  for (s in r) {
    expect_true(s[1] == 1 || top[s[1]] != top[s[1] - 1])  # starts a cluster
  }
  expect_identical(glamm:::shard_ranges(rep(1, 10), 4), list(c(1L, 10L)))
})

test_that("a failing or dead worker stops the fit with an error naming it", {
  d <- shard_data()
  cl <- parallel::makeCluster(2)
  # (stopCluster() stops at the dead worker: close every connection instead,
  # which ends the live workers too)
  on.exit(for (node in cl) try(close(node$con), silent = TRUE))
  ctl <- glamm_control(cluster = cl)
  # worker 2's engine evaluation fails
  inject <- function(lib) {
    .libPaths(lib)
    ns <- asNamespace("glamm")
    unlockBinding("cpp_model_eval", ns)
    assign("cpp_model_eval", function(...) stop("injected failure"), envir = ns)
  }
  environment(inject) <- globalenv()  # sending it must not load glamm before .libPaths()
  parallel::clusterCall(cl[2], inject, .libPaths())
  expect_error(glamm(y ~ x + (1 | school), data = d, family = binomial, control = ctl),
               "worker 2 \\(shard 2: rows [0-9]+ to 600 .*\\) failed: injected failure")
  # the master stays usable and so does worker 1
  expect_s3_class(glamm(y ~ x + (1 | school), data = d, family = binomial), "glamm")
  expect_identical(parallel::clusterEvalQ(cl[1], length(ls(glamm:::shard_store)))[[1]], 0L)
  # a worker that dies mid-fit (worker 1 quits at its fourth evaluation)
  die <- function() {
    ns <- asNamespace("glamm")
    eval_engine <- get("cpp_model_eval", envir = ns)
    calls <- 0
    unlockBinding("cpp_model_eval", ns)
    assign("cpp_model_eval", function(...) {
      calls <<- calls + 1
      if (calls > 3) quit(save = "no")
      eval_engine(...)
    }, envir = ns)
  }
  environment(die) <- globalenv()
  parallel::clusterCall(cl[1], die)
  expect_error(glamm(y ~ x + (1 | school), data = d, family = binomial,
                     control = glamm_control(cluster = cl[1])),
               "a worker of the parallel cluster stopped responding")
  expect_s3_class(glamm(y ~ x + (1 | school), data = d, family = binomial), "glamm")
  # a worker that died before the fit
  expect_error(glamm(y ~ x + (1 | school), data = d, family = binomial, control = ctl),
               "a worker of the parallel cluster stopped responding")
  expect_error(glamm_control(cluster = "localhost"), "must be a cluster of R processes")
})

test_that("an interrupt of the master leaves the workers idle and the cluster usable", {
  skip_on_os("windows")
  # A child R session (interactive: a non-interactive R quits on SIGINT) fits
  # on 2 PSOCK workers. Worker 1's third evaluation writes a flag file and
  # sleeps 1 s; a forked process waits for the flag and sends the master
  # SIGINT, which so arrives while the master waits for the workers.
  v <- child_result(c(
    "set.seed(5); J <- 300; g <- rep(seq_len(J), each = 10); x <- rnorm(J * 10)",
    "y <- rbinom(J * 10, 1, plogis(0.5 * x + rnorm(J)[g]))",
    "d <- data.frame(y, x, g = factor(g))",
    "cl <- parallel::makeCluster(2)",
    "flag <- tempfile(); stamp <- tempfile()",
    "slow <- function(lib, flag) {",
    "  .libPaths(lib); ns <- asNamespace('glamm'); eval_engine <- ns$cpp_model_eval",
    "  calls <- 0; unlockBinding('cpp_model_eval', ns)",
    "  assign('cpp_model_eval', function(...) {",
    "    calls <<- calls + 1",
    "    if (calls == 3) { file.create(flag); Sys.sleep(1) }",
    "    eval_engine(...)",
    "  }, envir = ns)",
    "}",
    "environment(slow) <- globalenv()",
    "invisible(parallel::clusterCall(cl[1], slow, .libPaths(), flag))",
    "ctl <- glamm_control(cluster = cl, worker.threads = 1)",
    "pid <- Sys.getpid()",
    "job <- parallel::mcparallel({",
    "  for (i in 1:1200) if (file.exists(flag)) break else Sys.sleep(0.05)",
    "  saveRDS(Sys.time(), stamp); tools::pskill(pid, 2L)})",
    "res <- tryCatch(glamm(y ~ x + (1 | g), data = d, family = binomial, control = ctl),",
    "                glamm_interrupt = function(e) 'drained', interrupt = function(e) 'raw')",
    "latency <- as.numeric(Sys.time() - readRDS(stamp), units = 'secs')",
    "parallel::mccollect(job)",
    "left <- unlist(parallel::clusterEvalQ(cl, length(ls(glamm:::shard_store))))",
    "ref <- glamm(y ~ x + (1 | g), data = d, family = binomial)",
    "again <- glamm(y ~ x + (1 | g), data = d, family = binomial, control = ctl)",
    "parallel::stopCluster(cl)",
    "cat('RESULT', res, latency, sum(left), abs(again$loglik - ref$loglik), '\\n')"))
  expect_identical(v[1], "drained")  # the interrupt came back as glamm's error
  # the master returned once worker 1 finished the evaluation it was in (its
  # remaining sleep, 1 s; seen 1.0 s)
  expect_lt(as.numeric(v[2]), 3)
  expect_identical(as.numeric(v[3]), 0)  # no engine left on the workers
  expect_lt(as.numeric(v[4]), 1e-10)  # the next fit on the same workers is exact (seen 4.5e-13)
})
