# One log-likelihood + gradient pass against its floors (issue 14, item 5):
# the time of one pass of glamm's engine (value and exact gradient) at the
# fit's estimates, for 1e6 rows (random intercept, AGHQ 12) and 1e5 rows
# (random intercept and slope, AGHQ 11), with 1 and 2 threads; the passes per
# fit; and two floors measured in the same process:
#   bandwidth floor:  reading the design once (sum(X), one thread);
#   arithmetic floor: the family's log-density and first derivative at every
#                     row's quadrature nodes, n * K^q evaluations, in a tight
#                     C++ loop through the batch call the integrators make
#                     at each node (src/family_floor.cpp; one thread).
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
  # every engine pass of the fit, with and without the gradient (the Laplace
  # start's passes included)
  passes <- c(value = 0, gradient = 0)
  count <- function(gradient) {
    k <- if (gradient) "gradient" else "value"
    passes[k] <<- passes[k] + 1
  }
  suppressMessages(trace("cpp_model_eval", bquote(.(count)(gradient)), print = FALSE,
                         where = asNamespace("glamm")))
  fit <- glamm(form, data = d, family = binomial, nAGQ = cs$K,
               control = glamm_control(nthreads = 2))
  suppressMessages(untrace("cpp_model_eval", where = asNamespace("glamm")))
  evals <- fit$optinfo$evaluations
  X <- model.matrix(fit)
  floor_read <- best_of(5, sum(X))
  eta <- drop(X %*% fixef(fit))
  shift <- seq(-2, 2, length.out = cs$nodes)
  floor_arith <- best_of(5, glamm:::cpp_family_floor(2L, 2L, as.numeric(d$y), eta, shift))
  for (threads in 1:2) {
    fit$control$nthreads <- threads
    f <- loglik_function(fit)
    pass <- best_of(5, f(fit$par, gradient = TRUE))
    rows[[length(rows) + 1]] <- data.frame(
      model = cs$name, threads = threads, pass_s = round(pass, 4),
      read_floor_s = round(floor_read, 4), arith_floor_s = round(floor_arith, 4),
      pass_over_arith = round(pass / floor_arith, 2),
      fit_evaluations = paste(evals, collapse = "/"),
      fit_passes = sprintf("%d (%d with gradient)", sum(passes), passes[["gradient"]]))
  }
}
tab <- do.call(rbind, rows)
print(tab, row.names = FALSE)

md <- c("# One engine pass against its floors", "",
        sprintf("Date: %s UTC  ", format(Sys.time(), "%Y-%m-%d %H:%M", tz = "UTC")),
        sprintf("glamm %s; load average at start %s, at end %s  ", utils::packageVersion("glamm"),
                load_start, loadavg()), "",
        paste("pass = one log-likelihood + exact gradient at the estimates (best of 5);",
              "read floor = sum(X), one thread; arithmetic floor = the binomial family's",
              "log-density and derivative at n x nodes points in a tight C++ loop, one thread",
              "(src/family_floor.cpp); fit_evaluations =",
              "nlminb's function/gradient evaluations; fit_passes = every engine pass of the",
              "fit (Laplace start, search scale, nlminb, Newton polish and the Hessian)."), "",
        paste("|", paste(names(tab), collapse = " | "), "|"),
        paste("|", paste(rep("---", ncol(tab)), collapse = " | "), "|"),
        apply(tab, 1, function(r) paste("|", paste(r, collapse = " | "), "|")))
writeLines(md, file.path(bench_dir, "results-pass.md"))
