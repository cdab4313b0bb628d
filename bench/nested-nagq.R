# The measurement behind glamm's default points per level for nested models
# (issue 9, "Default points per level"). On simulated three-level data, at
# fixed parameters (the simulation's truth), glamm's log-likelihood by
# multilevel AGHQ with Ki points at the inner level and Kt at the top level,
#   loglik_function(fit, nAGQ = c(<inner> = Ki, <top> = Kt))(par),
# is compared with a converged reference (31 x 31 points, checked against
# 25 x 25) for Ki, Kt in {1, 3, 5, 7, 9, 11, 15}; each pair's evaluation time
# (value, and value with gradient) is measured. Per case the cheapest pair with
# |error| < 1e-3 is picked, and the pairs that pass in every case.
# The joint Laplace (1 x 1) is checked against lme4's and glmmTMB's Laplace at
# the same parameters. Run from the package root: `Rscript bench/nested-nagq.R`.
#
# Cases:
#   a  binary,  200 schools x 5 classes x 8 students, school SD 1, class SD 1
#   b  Poisson, the same sizes and SDs
#   c  binary, the hard case: 300 sites x 4-8 families (about 6) x 1-3 rows,
#      site SD 1, family SD 2 (small inner clusters, large inner variance)
#
# Environment variables:
#   GLAMM_LIB=<dir>      load glamm from this library (default: the usual ones)
#   BENCH_THREADS=<n>    threads for glamm (default 2)
#   BENCH_NAGQ_REPS=<r>  timing: fastest of r batches of repeated evaluations (default 3)
#
# Writes the tables to stdout and to bench/results-nested-nagq.md.

lib <- Sys.getenv("GLAMM_LIB")
if (nzchar(lib)) library(glamm, lib.loc = lib) else library(glamm)
nthreads <- as.integer(Sys.getenv("BENCH_THREADS", "2"))
reps <- as.integer(Sys.getenv("BENCH_NAGQ_REPS", "3"))
t_start <- proc.time()[["elapsed"]]
loadavg <- function() tryCatch(sub("^(\\S+ \\S+ \\S+).*", "\\1", readLines("/proc/loadavg", n = 1)),
                                error = function(e) NA)
load_start <- loadavg()
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
bench_dir <- if (length(script)) dirname(script) else "bench"
out_file <- file.path(bench_dir, "results-nested-nagq.md")
commit <- tryCatch(system2("git", c("-C", bench_dir, "describe", "--always", "--dirty"),
                           stdout = TRUE, stderr = FALSE), error = function(e) NA, warning = function(w) NA)
has_lme4 <- requireNamespace("lme4", quietly = TRUE)
has_tmb <- requireNamespace("glmmTMB", quietly = TRUE)

grid <- c(1, 3, 5, 7, 9, 11, 15)
K_ref <- 31         # the reference: K_ref x K_ref points
K_check <- 25       # its check: K_check x K_check
tol <- 1e-3         # the error a default must stay below
min_batch <- 0.05   # seconds: each timed batch repeats the evaluation at least this long

# ---- data -------------------------------------------------------------------

# Three-level data: `n_top` top clusters; n_inner(n_top) inner clusters in each
# (labels 1, 2, ... within the top cluster, so the nesting is given by
# top/inner); n_rows(number of inner clusters) rows in each. x: row-level
# covariate, w: top-level covariate (both normal). Random intercepts of SD
# `sd[["top"]]` and `sd[["inner"]]`.
simulate_tree <- function(n_top, n_inner, n_rows, sd, beta, family, seed,
                          top = "school", inner = "class") {
  set.seed(seed)
  k <- n_inner(n_top)
  top_of_inner <- rep(seq_len(n_top), k)
  label_in_top <- sequence(k)
  m <- n_rows(length(top_of_inner))
  inner_row <- rep(seq_along(top_of_inner), m)
  top_row <- top_of_inner[inner_row]
  n <- length(inner_row)
  w <- rnorm(n_top)
  u_top <- rnorm(n_top, sd = sd[["top"]])
  u_inner <- rnorm(length(top_of_inner), sd = sd[["inner"]])
  x <- rnorm(n)
  eta <- beta[[1]] + beta[[2]] * x + beta[[3]] * w[top_row] + u_top[top_row] + u_inner[inner_row]
  y <- switch(family, binomial = rbinom(n, 1, plogis(eta)), poisson = rpois(n, exp(eta)))
  d <- data.frame(y = y, x = x, w = w[top_row])
  d[[top]] <- factor(top_row)
  d[[inner]] <- factor(label_in_top[inner_row])
  d
}
fixed <- function(n) function(k) rep(n, k)
uniform <- function(lo, hi) function(k) sample(lo:hi, k, replace = TRUE)

make_case <- function(id, label, family, beta, sd, top, inner, ...) {
  d <- simulate_tree(beta = beta, sd = sd, family = family, top = top, inner = inner, ...)
  list(id = id, label = label, family = family, data = d, beta = beta, sd = sd,
       top = top, inner = inner,
       formula = as.formula(sprintf("y ~ x + w + (1 | %s/%s)", top, inner)),
       sizes = sprintf("%d rows, %d %s, %d %s:%s (%.1f rows each)", nrow(d),
                       nlevels(d[[top]]), top, nlevels(interaction(d[[top]], d[[inner]], drop = TRUE)),
                       inner, top, nrow(d) / nlevels(interaction(d[[top]], d[[inner]], drop = TRUE))))
}
cases <- list(
  make_case("a", "binary, 200 x 5 x 8, SDs 1 / 1", "binomial", c(-0.5, 0.5, 0.3),
            c(top = 1, inner = 1), "school", "class",
            n_top = 200, n_inner = fixed(5), n_rows = fixed(8), seed = 11),
  make_case("b", "Poisson, 200 x 5 x 8, SDs 1 / 1", "poisson", c(0, 0.3, 0.2),
            c(top = 1, inner = 1), "school", "class",
            n_top = 200, n_inner = fixed(5), n_rows = fixed(8), seed = 12),
  make_case("c", "hard: binary, 300 x ~6 x 1-3, SDs 1 / 2", "binomial", c(-0.5, 0.5, 0.3),
            c(top = 1, inner = 2), "site", "family",
            n_top = 300, n_inner = uniform(4, 8), n_rows = uniform(1, 3), seed = 13)
)

# ---- glamm: the log-likelihood at fixed parameters -------------------------------

# par = c(beta, theta1 (inner SD), theta2 (top SD)): levels innermost first.
glamm_par <- function(fit, cs) {
  par <- fit$par
  th <- grep("^theta", names(par))
  if (length(par) != 5 || length(th) != 2) {
    stop("unexpected parameter layout: ", paste(names(par), collapse = ", "), call. = FALSE)
  }
  par[-th] <- cs$beta
  par[th] <- cs$sd[c("inner", "top")]
  par
}
nagq <- function(cs, Ki, Kt) setNames(c(Ki, Kt), c(cs$inner, cs$top))

# Seconds per call of f(): the fastest of `reps` batches, each repeating f for
# at least `min_batch` seconds.
time_per_call <- function(f) {
  t1 <- system.time(f())[["elapsed"]]
  m <- max(1L, ceiling(min_batch / max(t1, 1e-4)))
  min(replicate(reps, system.time(for (i in seq_len(m)) f())[["elapsed"]] / m))
}

run_glamm <- function(cs) {
  fit <- glamm(cs$formula, data = cs$data, family = cs$family, nAGQ = 1,
               control = glamm_control(nthreads = nthreads, hessian = FALSE))
  par <- glamm_par(fit, cs)
  ll_at <- function(Ki, Kt) loglik_function(fit, nAGQ = nagq(cs, Ki, Kt))(par)
  # The reference and its check; should the engine's guard on nodes per row
  # refuse K_ref x K_ref, fall back to smaller grids (and say so).
  ref <- check <- NULL
  for (k in list(c(K_ref, K_check), c(25, 21), c(21, 17))) {
    ref <- tryCatch(ll_at(k[1], k[1]), error = function(e) { message("reference ", k[1], ": ", conditionMessage(e)); NULL })
    if (!is.null(ref)) { check <- ll_at(k[2], k[2]); break }
  }
  if (is.null(ref)) stop("no reference grid could be evaluated", call. = FALSE)
  if (k[1] != K_ref) message(sprintf("case %s: reference %d x %d (checked against %d x %d)", cs$id, k[1], k[1], k[2], k[2]))
  pairs <- expand.grid(Ki = grid, Kt = grid)
  rows <- lapply(seq_len(nrow(pairs)), function(i) {
    Ki <- pairs$Ki[i]; Kt <- pairs$Kt[i]
    f <- loglik_function(fit, nAGQ = nagq(cs, Ki, Kt))
    ll <- f(par)
    data.frame(case = cs$id, Ki = Ki, Kt = Kt, nodes = Ki * Kt, loglik = ll, error = abs(ll - ref),
               ms = 1000 * time_per_call(function() f(par)),
               ms_grad = 1000 * time_per_call(function() f(par, gradient = TRUE)))
  })
  tab <- do.call(rbind, rows)
  lap <- tab$Ki == 1 & tab$Kt == 1
  tab$x_laplace <- tab$ms / tab$ms[lap]
  tab$x_laplace_grad <- tab$ms_grad / tab$ms_grad[lap]
  list(par = par, ref = ref, check = check, K = k, tab = tab)
}

# ---- peers: the Laplace log-likelihood at the same parameters --------------------

level_label <- function(cs) c(inner = paste0(cs$inner, ":", cs$top), top = cs$top)
lme4_laplace <- function(cs) {
  lf <- lme4::glFormula(cs$formula, data = cs$data, family = cs$family)
  sd <- setNames(cs$sd[c("inner", "top")], level_label(cs))[names(lf$reTrms$cnms)]
  # lme4's default PIRLS tolerance (tolPwrss = 1e-7) leaves the modes short by up
  # to 0.03 log-likelihood units here; 1e-13 gives the converged Laplace value.
  dev <- lme4::glmer(cs$formula, data = cs$data, family = cs$family, nAGQ = 1, devFunOnly = TRUE,
                     control = lme4::glmerControl(tolPwrss = 1e-13))
  -dev(c(sd, cs$beta)) / 2
}
tmb_laplace <- function(cs) {
  s <- glmmTMB::glmmTMB(cs$formula, data = cs$data, family = cs$family, doFit = FALSE)
  sd <- setNames(cs$sd[c("inner", "top")], level_label(cs))[names(s$condList$reTrms$cnms)]
  f <- glmmTMB::glmmTMB(cs$formula, data = cs$data, family = cs$family,
                        start = list(beta = cs$beta, theta = log(sd)),
                        map = list(beta = factor(rep(NA, 3)), theta = factor(c(NA, NA))))
  as.numeric(logLik(f))
}
try_or_na <- function(expr, what) {
  tryCatch(expr, error = function(e) {
    message(what, ": ", conditionMessage(e))
    structure(NA_real_, error = conditionMessage(e))
  })
}

# ---- run ----------------------------------------------------------------------------

results <- list()
for (cs in cases) {
  cat(sprintf("case %s: %s; %s\n", cs$id, cs$label, cs$sizes)); flush.console()
  t0 <- proc.time()[["elapsed"]]
  g <- try_or_na(run_glamm(cs), "glamm")
  peers <- c(lme4 = if (has_lme4) try_or_na(lme4_laplace(cs), "lme4") else NA,
             glmmTMB = if (has_tmb) try_or_na(tmb_laplace(cs), "glmmTMB") else NA)
  ok <- is.list(g)
  laplace <- if (ok) g$tab$loglik[g$tab$Ki == 1 & g$tab$Kt == 1] else NA
  kk <- if (ok) g$K else c(K_ref, K_check)
  cat(sprintf("  reference %dx%d: %s; |%dx%d - %dx%d| = %s\n", kk[1], kk[1],
              if (ok) sprintf("%.8f", g$ref) else paste("glamm failed:", attr(g, "error")),
              kk[1], kk[1], kk[2], kk[2],
              if (ok) formatC(abs(g$ref - g$check), format = "e", digits = 1) else "NA"))
  cat(sprintf("  Laplace at these parameters: glamm 1x1 %.6f, lme4 %.6f, glmmTMB %.6f\n",
              laplace, peers[["lme4"]], peers[["glmmTMB"]]))
  cat(sprintf("  (%.1f s)\n", proc.time()[["elapsed"]] - t0))
  results[[cs$id]] <- list(case = cs, glamm = g, ok = ok, laplace = laplace, peers = peers)
}

# ---- selection ------------------------------------------------------------------------

pick <- function(tab, order_by) {
  p <- tab[tab$error < tol, ]
  if (!nrow(p)) return(NULL)
  p[order(p[[order_by]], p$ms)[1], ]
}
sel <- NULL
for (r in results) {
  if (!r$ok) next
  for (by in c("nodes", "ms")) {
    p <- pick(r$glamm$tab, by)
    val <- function(col) if (is.null(p)) NA else p[[col]]
    sel <- rbind(sel, data.frame(case = r$case$id, criterion = c(ms = "fastest", nodes = "fewest nodes")[[by]],
      Ki = val("Ki"), Kt = val("Kt"), nodes = val("nodes"), error = val("error"), ms = val("ms"),
      ms_grad = val("ms_grad"), x_laplace = val("x_laplace"), x_laplace_grad = val("x_laplace_grad")))
  }
}
# Pairs under the tolerance in every case, by nodes per row (the cost model of
# the nested sums; timings on a shared machine are noisy), then by mean time
# relative to Laplace.
common <- NULL
oks <- Filter(function(r) r$ok, results)
if (length(oks)) {
  all_tab <- do.call(rbind, lapply(oks, function(r) r$glamm$tab))
  agg <- do.call(rbind, lapply(split(all_tab, list(all_tab$Ki, all_tab$Kt)), function(t) {
    data.frame(Ki = t$Ki[1], Kt = t$Kt[1], nodes = t$nodes[1], max_error = max(t$error),
               mean_x_laplace = mean(t$x_laplace), mean_x_laplace_grad = mean(t$x_laplace_grad),
               cases = nrow(t))
  }))
  common <- agg[agg$max_error < tol & agg$cases == length(oks), ]
  common <- common[order(common$nodes, common$mean_x_laplace), ]
  rownames(common) <- NULL
}
same_K <- if (length(common) && nrow(common)) {
  s <- common[common$Ki == common$Kt, ]
  if (nrow(s)) min(s$Ki) else NA
} else NA

# ---- report ----------------------------------------------------------------------------

total <- proc.time()[["elapsed"]] - t_start
sci <- function(x) ifelse(is.na(x), "NA", formatC(x, format = "e", digits = 1))
fmt <- function(d) {
  num <- vapply(d, is.numeric, TRUE)
  d[num] <- lapply(names(d)[num], function(n) {
    x <- d[[n]]
    switch(n, error = , max_error = sci(x), ms = , ms_grad = sprintf("%.2f", x),
           x_laplace = , mean_x_laplace = , x_laplace_grad = , mean_x_laplace_grad = sprintf("%.1f", x), loglik = sprintf("%.6f", x),
           sprintf("%.0f", x))
  })
  d
}
markdown <- function(d, fmt_it = TRUE) {
  if (fmt_it) d <- fmt(d)
  c(paste("|", paste(names(d), collapse = " | "), "|"),
    paste("|", paste(rep("---", ncol(d)), collapse = " | "), "|"),
    apply(d, 1, function(r) paste("|", paste(r, collapse = " | "), "|")))
}
# A Ki x Kt matrix of one column of a case's table, rows Ki (inner), columns Kt (top).
grid_matrix <- function(tab, col, f) {
  m <- matrix(f(tab[[col]]), length(grid), length(grid))  # expand.grid: Ki varies fastest
  d <- data.frame(paste0("Ki=", grid), m, check.names = FALSE)
  names(d) <- c("Ki/Kt", paste0("Kt=", grid))
  d
}
cpu <- sub(".*:\\s*", "", grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)[1])
pk <- c("glamm", if (has_lme4) "lme4", if (has_tmb) "glmmTMB")
versions <- vapply(pk, function(p) as.character(utils::packageDescription(p, lib.loc = c(if (nzchar(lib)) lib, .libPaths()))$Version), "")
header <- c(
  sprintf("Date: %s", format(Sys.time(), "%Y-%m-%d %H:%M %Z")),
  sprintf("R: %s; packages: %s; glamm commit: %s", R.version.string,
          paste(names(versions), versions, collapse = ", "), commit),
  sprintf("Machine: %s cores (nproc), %s; glamm uses %d threads",
          parallel::detectCores(), cpu, nthreads),
  sprintf("Load average (1, 5, 15 min) at start: %s; at end: %s", load_start, loadavg()),
  sprintf("Timing: fastest of %d batches, each repeating one evaluation for at least %g s%s", reps,
          min_batch, if (reps != 3) " (BENCH_NAGQ_REPS)" else ""))
legend <- c(
  "Log-likelihood (all constants included) at fixed parameters, the simulation's truth",
  sprintf("(intercept, x, w; inner SD, top SD), by AGHQ with Ki points at the inner level and Kt at the top level;"),
  sprintf("error = |logLik - logLik(%d x %d)| (the reference, unless a case says otherwise).", K_ref, K_ref),
  "ms = milliseconds per evaluation of the value, ms_grad = of the value with the gradient,",
  "x_laplace, x_laplace_grad = ms, ms_grad / the same at 1 x 1 (the joint Laplace); nodes = Ki * Kt",
  "(quadrature nodes per row, the cost model of the nested sums).",
  "Laplace check: lme4's value is its deviance function (nAGQ = 1, tolPwrss = 1e-13) at the same parameters;",
  "glmmTMB's a fit with every parameter fixed by `map`.",
  sprintf("A pair passes when error < %g.", tol))

case_md <- function(r) {
  cs <- r$case
  out <- c(sprintf("## Case %s: %s", cs$id, cs$label), "",
           sprintf("`%s`, %s; %s. Parameters: beta = (%s), inner SD %g, top SD %g.",
                   deparse(cs$formula), cs$family, cs$sizes, paste(cs$beta, collapse = ", "),
                   cs$sd[["inner"]], cs$sd[["top"]]), "")
  if (!r$ok) return(c(out, paste("glamm failed:", attr(r$glamm, "error")), "",
    sprintf("Laplace at these parameters: lme4 %.6f, glmmTMB %.6f.", r$peers[["lme4"]], r$peers[["glmmTMB"]]), ""))
  g <- r$glamm
  c(out,
    sprintf("Reference (%d x %d): %.8f; |%d x %d - %d x %d| = %s.", g$K[1], g$K[1], g$ref, g$K[1], g$K[1],
            g$K[2], g$K[2], sci(abs(g$ref - g$check))),
    sprintf("Laplace at these parameters: glamm 1 x 1 %.6f, lme4 %.6f (difference %s), glmmTMB %.6f (difference %s).",
            r$laplace, r$peers[["lme4"]], sci(r$peers[["lme4"]] - r$laplace),
            r$peers[["glmmTMB"]], sci(r$peers[["glmmTMB"]] - r$laplace)), "",
    "Error:", "", markdown(grid_matrix(g$tab, "error", sci), FALSE), "",
    "ms per evaluation (value):", "", markdown(grid_matrix(g$tab, "ms", function(x) sprintf("%.2f", x)), FALSE), "",
    "ms per evaluation (value and gradient):", "",
    markdown(grid_matrix(g$tab, "ms_grad", function(x) sprintf("%.2f", x)), FALSE), "")
}
summary_md <- c("## The cheapest pairs with error < 1e-3", "",
  "Per case, the passing pair with the fewest nodes per row (ties: the faster) and the fastest passing pair:", "",
  if (is.null(sel)) "glamm failed in every case." else markdown(sel), "",
  "Pairs that pass in every case, by nodes per row, then mean time relative to Laplace (the first 10):", "",
  if (is.null(common) || !nrow(common)) "None." else markdown(head(common, 10)), "",
  sprintf("The smallest K with K x K passing in every case: %s.", if (is.na(same_K)) "none in the grid" else same_K))

cat("\n"); writeLines(header); cat("\n")
options(width = 200)
for (r in results) {
  if (!r$ok) next
  cat(sprintf("case %s (%s): error, rows Ki (inner) x columns Kt (top)\n", r$case$id, r$case$label))
  print(grid_matrix(r$glamm$tab, "error", sci), row.names = FALSE, right = TRUE)
  cat("ms per evaluation (value)\n")
  print(grid_matrix(r$glamm$tab, "ms", function(x) sprintf("%.2f", x)), row.names = FALSE, right = TRUE)
  cat("\n")
}
if (!is.null(sel)) { cat("Cheapest passing pairs per case:\n"); print(fmt(sel), row.names = FALSE) }
if (!is.null(common) && nrow(common)) {
  cat("\nPairs passing in every case (first 10):\n"); print(fmt(head(common, 10)), row.names = FALSE)
}
cat(sprintf("\nSmallest K with K x K passing in every case: %s\n", same_K))
cat(sprintf("Total runtime: %.1f s\n", total))

writeLines(c("# glamm: points per level for nested models (multilevel AGHQ)", "",
  paste0(header, "  "), "", legend, "", unlist(lapply(results, case_md)), summary_md, "",
  sprintf("Total runtime: %.1f s", total)), out_file)
