# One log-likelihood + gradient pass against its floors (issue 14, item 5):
# the time of one pass of glamm's engine (value and exact gradient) at the
# fit's estimates, for 1e6 rows (random intercept, AGHQ 12) and 1e5 rows
# (random intercept and slope, AGHQ 11), with 1 and 2 threads; the passes per
# fit; and two floors measured in the same process:
#   bandwidth floor:  reading the design once (sum(X), one thread);
#   arithmetic floor: the family's log-density at every row's quadrature
#                     nodes, n * K^q evaluations of log(plogis(eta)), in R's
#                     vectorized C code (one thread; a tight C++ loop would
#                     be faster, so this floor is loose).
# Run from the package root: `Rscript bench/pass.R`; GLAMM_LIB=<dir> loads
# glamm from that library. Writes bench/results-pass.md.

lib <- Sys.getenv("GLAMM_LIB")
if (nzchar(lib)) library(glamm, lib.loc = lib) else library(glamm)
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
bench_dir <- if (length(script)) dirname(script) else "bench"
loadavg <- function() tryCatch(sub("^(\\S+ \\S+ \\S+).*", "\\1", readLines("/proc/loadavg", n = 1)),
                               error = function(e) NA)
load_start <- loadavg()

simulate <- function(m, n, slope = FALSE, seed = 1) {
  set.seed(seed)
  g <- rep(seq_len(m), each = n)
  d <- data.frame(g = factor(g), x1 = rnorm(m * n), x2 = rbinom(m * n, 1, 0.5),
                  w = rnorm(m)[g])
  u <- matrix(rnorm(2 * m), m) %*% chol(matrix(c(1, 0.15, 0.15, 0.25), 2))
  eta <- -0.5 + 0.5 * d$x1 - 0.5 * d$x2 + 0.3 * d$w + u[g, 1] + slope * u[g, 2] * d$x1
  d$y <- rbinom(m * n, 1, plogis(eta))
  d
}
best_of <- function(reps, expr) {
  expr <- substitute(expr)
  env <- parent.frame()
  min(replicate(reps, system.time(eval(expr, env))[["elapsed"]]))
}

cases <- list(
  list(name = "1e6 rows, 20000 clusters, (1 | g), AGHQ 12", m = 20000, slope = FALSE, K = 12,
       nodes = 12),
  list(name = "1e5 rows, 2000 clusters, (1 + x1 | g), AGHQ 11", m = 2000, slope = TRUE, K = 11,
       nodes = 121))
rows <- list()
for (cs in cases) {
  d <- simulate(cs$m, 50, cs$slope)
  form <- if (cs$slope) y ~ x1 + x2 + w + (1 + x1 | g) else y ~ x1 + x2 + w + (1 | g)
  fit <- glamm(form, data = d, family = binomial, nAGQ = cs$K,
               control = glamm_control(nthreads = 2))
  evals <- fit$optinfo$evaluations
  X <- model.matrix(fit)
  floor_read <- best_of(5, sum(X))
  eta <- rnorm(nrow(d) * cs$nodes)
  floor_arith <- best_of(3, sum(log(stats::plogis(eta))))
  for (threads in 1:2) {
    fit$control$nthreads <- threads
    f <- loglik_function(fit)
    pass <- best_of(5, f(fit$par, gradient = TRUE))
    rows[[length(rows) + 1]] <- data.frame(
      model = cs$name, threads = threads, pass_s = round(pass, 4),
      read_floor_s = round(floor_read, 4), arith_floor_s = round(floor_arith, 4),
      pass_over_arith = round(pass / floor_arith, 2),
      fit_evaluations = paste(evals, collapse = "/"))
  }
}
tab <- do.call(rbind, rows)
print(tab, row.names = FALSE)

md <- c("# One engine pass against its floors", "",
        sprintf("Date: %s UTC  ", format(Sys.time(), "%Y-%m-%d %H:%M", tz = "UTC")),
        sprintf("glamm %s; load average at start %s, at end %s  ", utils::packageVersion("glamm"),
                load_start, loadavg()), "",
        paste("pass = one log-likelihood + exact gradient at the estimates (best of 5);",
              "read floor = sum(X), one thread; arithmetic floor = log(plogis()) at n x nodes",
              "points in R's vectorized C code, one thread (loose); fit_evaluations =",
              "nlminb's function/gradient evaluations, without the Hessian's 2k and the",
              "search scale's k gradients."), "",
        paste("|", paste(names(tab), collapse = " | "), "|"),
        paste("|", paste(rep("---", ncol(tab)), collapse = " | "), "|"),
        apply(tab, 1, function(r) paste("|", paste(r, collapse = " | "), "|")))
writeLines(md, file.path(bench_dir, "results-pass.md"))
