# Simulation study of the multinomial logit with correlated random intercepts
# (issue 11): R replicates of C = 3 categories, 100 clusters of 10
# observations, eta_c = a_c + b_c x + u_c, u ~ N(0, Sigma) with SDs 1 and 0.8
# and correlation 0.4. glamm at the default nAGQ; per parameter the bias, the
# empirical SD, the mean standard error and the coverage of the 95% Wald
# intervals (the SDs and the correlation through the delta method on the
# estimated variance components, VarCorr's SEs; intervals on the estimate
# scale). Run from the package root: Rscript bench/multinomial-sim.R
# Environment: GLAMM_LIB, SIM_REPS (200), BENCH_THREADS (1).
# Writes bench/results-multinomial-sim.md.

lib <- Sys.getenv("GLAMM_LIB")
if (nzchar(lib)) library(glamm, lib.loc = lib) else library(glamm)
R <- as.integer(Sys.getenv("SIM_REPS", "200"))
nthreads <- as.integer(Sys.getenv("BENCH_THREADS", "1"))
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
bench_dir <- if (length(script)) dirname(script) else "bench"
commit <- tryCatch(system2("git", c("-C", bench_dir, "describe", "--always", "--dirty"),
                           stdout = TRUE, stderr = FALSE), error = function(e) NA)

Sigma <- matrix(c(1, 0.4 * 0.8, 0.4 * 0.8, 0.64), 2)
truth <- c(`b:(Intercept)` = 0.5, `b:x` = 0.8, `c:(Intercept)` = -0.3, `c:x` = -0.6,
           `sd(b)` = 1, `sd(c)` = 0.8, `cor` = 0.4)
sim <- function(seed, J = 100, m = 10) {
  set.seed(seed)
  g <- rep(seq_len(J), each = m)
  x <- rnorm(J * m)
  u <- matrix(rnorm(2 * J), J) %*% chol(Sigma)
  eta <- cbind(0, truth[1] + truth[2] * x + u[g, 1], truth[3] + truth[4] * x + u[g, 2])
  p <- exp(eta) / rowSums(exp(eta))
  cum <- t(apply(p, 1, cumsum))
  y <- factor(c("a", "b", "c")[1 + rowSums(runif(J * m) > cum[, 1:2])], levels = c("a", "b", "c"))
  data.frame(y = y, x = x, g = factor(g))
}
# The SDs and the correlation from theta = the free entries of the lower
# factor Lambda (column-major), and their Jacobian in theta.
vc <- function(theta) {
  S <- tcrossprod(matrix(c(theta[1], theta[2], 0, theta[3]), 2))
  c(sqrt(S[1, 1]), sqrt(S[2, 2]), S[2, 1] / sqrt(S[1, 1] * S[2, 2]))
}
one <- function(seed) {
  d <- sim(seed)
  fit <- tryCatch(glamm(y ~ x + (1 | g), data = d, family = multinomial(),
                        control = glamm_control(nthreads = nthreads)),
                  error = function(e) NULL, warning = function(w) NULL)
  if (is.null(fit)) return(rep(NA_real_, 14))
  beta <- fit$coefficients
  theta <- fit$theta
  V <- fit$vcov_par
  p <- length(beta)
  h <- 1e-6
  Jt <- vapply(1:3, function(k) {
    e <- replace(numeric(3), k, h)
    (vc(theta + e) - vc(theta - e)) / (2 * h)
  }, numeric(3))
  Vt <- V[p + 1:3, p + 1:3]
  c(beta, vc(theta), sqrt(diag(V)[1:p]), sqrt(diag(Jt %*% Vt %*% t(Jt))))
}
t0 <- proc.time()[["elapsed"]]
res <- t(vapply(seq_len(R), one, numeric(14)))
elapsed <- proc.time()[["elapsed"]] - t0
ok <- stats::complete.cases(res)
est <- res[ok, 1:7, drop = FALSE]
se <- res[ok, 8:14, drop = FALSE]
covered <- abs(sweep(est, 2, truth)) <= 1.96 * se
tab <- data.frame(parameter = names(truth), truth = truth, mean = colMeans(est),
                  bias = colMeans(est) - truth, emp_sd = apply(est, 2, stats::sd),
                  mean_se = colMeans(se), coverage = colMeans(covered))
mc_se <- sqrt(0.95 * 0.05 / sum(ok))
lines <- c(
  "# Simulation study: multinomial logit, correlated random intercepts (bench/multinomial-sim.R)",
  "",
  sprintf("%d replicates (%d fitted without error or warning), C = 3, 100 clusters of 10, glamm at %s,",
          R, sum(ok), commit),
  sprintf("default nAGQ (7), %d thread(s); %.0f s in all. Coverage of 95%% Wald intervals", nthreads,
          elapsed),
  sprintf("(Monte Carlo SE of a coverage of 0.95: %.3f).", mc_se),
  "",
  "| parameter | truth | mean | bias | empirical SD | mean SE | coverage |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  sprintf("| %s | %.2f | %.4f | %.4f | %.4f | %.4f | %.3f |", tab$parameter, tab$truth, tab$mean,
          tab$bias, tab$emp_sd, tab$mean_se, tab$coverage)
)
writeLines(lines)
writeLines(lines, file.path(bench_dir, "results-multinomial-sim.md"))
