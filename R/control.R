#' Control settings for glamm fits
#'
#' @param nthreads number of threads over clusters. The default uses every
#'   core, at most 2 when `_R_CHECK_LIMIT_CORES_` is set (as under
#'   `R CMD check`). Results do not depend on the thread count: sums over
#'   clusters are reduced in a fixed order.
#' @param iter.max,eval.max maximum iterations and function evaluations of
#'   one run of the optimizer ([stats::nlminb()]); a run stopped by them is
#'   resumed (at most three times) while it still raises the log-likelihood.
#' @param rel.tol relative tolerance of the optimizer on the log-likelihood.
#' @param grad.tol convergence check after optimization: a warning is given
#'   when the predicted gain of one more Newton step, `g' V g / 2` with `V`
#'   the inverse observed information, exceeds this value.
#' @param mode.tol,mode.maxit tolerance and iteration limit of the Newton
#'   search for each cluster's posterior mode.
#' @param polish.maxit maximum number of Newton steps on the observed
#'   information after the quasi-Newton search (each costs one Hessian).
#' @param hessian compute the observed information (needed for standard
#'   errors); set to `FALSE` to save time when only estimates are needed.
#'   With 10 or more parameters, one level of one or two random effects, a
#'   family without a dispersion parameter and at least 5 quadrature points,
#'   it is the information of the marginal likelihood by Louis' identity at
#'   the adapted nodes of a 31-point (one effect) or 15-point (two effects)
#'   rule, which costs a few evaluations, and the optimizer takes Newton
#'   steps on it; otherwise it is taken by central differences of the exact
#'   gradient (2 gradients per parameter).
#' @param trace report the optimizer's progress every `trace` iterations (0:
#'   none), as messages giving the log-likelihood and the largest entry of
#'   its gradient.
#' @param nodes.max,workspace.max limits on the quadrature grid, checked
#'   before any allocation: the points per row (the product of `nAGQ^q`
#'   along the row's levels) and the bytes of workspace for the largest
#'   top-level cluster. A fit above them stops with an error suggesting fewer
#'   points; raise them to run such a fit anyway (a long evaluation can be
#'   interrupted with Ctrl-C).
#' @param cluster `NULL` (the default), or a cluster of R worker processes
#'   from [parallel::makeCluster()] (or any `parallel`-compatible cluster,
#'   e.g. from `parallelly::makeClusterPSOCK()` or an MPI cluster): the
#'   top-level clusters of the data are split into shards of whole clusters
#'   with about equal numbers of rows, one per worker. Each worker receives
#'   its shard once and builds its engine there (glamm must be installed on
#'   the workers); per evaluation only the parameters go out, and the shards'
#'   log-likelihoods, gradients and scores are summed in shard order, so the
#'   fit does not depend on the number of workers or on timing. The methods
#'   (modes, empirical Bayes, predictions) run on the master, which holds the
#'   data. A worker that fails or dies stops the fit with an error naming it.
#'   Interrupting the master (Ctrl-C) while it waits for the workers ends
#'   the fit once each worker has finished the evaluation it is running
#'   (one pass over its shard); the workers then hold nothing of the fit and
#'   the cluster can be used again (socket clusters from `parallel` and
#'   `parallelly`; with other clusters, e.g. MPI, make a new cluster after
#'   an interrupt).
#' @param worker.threads threads per worker of `cluster` (default 1).
#' @return A list of class `glamm_control`.
#' @examples
#' glamm_control(nthreads = 1)
#' @export
glamm_control <- function(nthreads = NULL, iter.max = 300, eval.max = 600, rel.tol = 1e-10,
                          grad.tol = 1e-6, mode.tol = 1e-12, mode.maxit = 100,
                          polish.maxit = 3, hessian = TRUE, trace = 0, nodes.max = 1e6,
                          workspace.max = 2e9, cluster = NULL, worker.threads = 1) {
  if (is.null(nthreads)) nthreads <- default_threads()
  if (!is.null(cluster) && (!inherits(cluster, "cluster") || length(cluster) < 1)) {
    stop("'cluster' must be a cluster of R processes from parallel::makeCluster() (or a ",
         "compatible package), or NULL", call. = FALSE)
  }
  check_count <- function(x, name) {
    if (!is.numeric(x) || length(x) != 1 || !is.finite(x) || x < 1 || x != round(x)) {
      stop(sprintf("'%s' must be a positive whole number", name), call. = FALSE)
    }
    as.integer(x)
  }
  check_positive <- function(x, name) {
    if (!is.numeric(x) || length(x) != 1 || !is.finite(x) || x <= 0) {
      stop(sprintf("'%s' must be a positive number", name), call. = FALSE)
    }
    x
  }
  structure(list(
    nthreads = check_count(nthreads, "nthreads"),
    iter.max = check_count(iter.max, "iter.max"),
    eval.max = check_count(eval.max, "eval.max"),
    rel.tol = check_positive(rel.tol, "rel.tol"),
    grad.tol = check_positive(grad.tol, "grad.tol"),
    mode.tol = check_positive(mode.tol, "mode.tol"),
    mode.maxit = check_count(mode.maxit, "mode.maxit"),
    polish.maxit = as.integer(max(0, polish.maxit)),
    hessian = isTRUE(hessian),
    trace = as.integer(trace),
    nodes.max = check_positive(nodes.max, "nodes.max"),
    workspace.max = check_positive(workspace.max, "workspace.max"),
    cluster = cluster,
    worker.threads = check_count(worker.threads, "worker.threads")
  ), class = "glamm_control")
}

# The cores this process may use: every core, limited by the settings that
# parallel back ends and schedulers use to limit nested parallelism (a
# `future` or `parallel` worker allowed one core gets one thread).
default_threads <- function() {
  n <- parallel::detectCores()
  if (is.na(n) || n < 1) n <- 1L
  if (nzchar(Sys.getenv("_R_CHECK_LIMIT_CORES_"))) n <- min(n, 2L)
  limits <- c(getOption("mc.cores"), suppressWarnings(as.integer(c(
    Sys.getenv("MC_CORES"), Sys.getenv("OMP_THREAD_LIMIT"), Sys.getenv("OMP_NUM_THREADS"),
    Sys.getenv("R_PARALLELLY_AVAILABLECORES_FALLBACK")))))
  limits <- limits[is.finite(limits) & limits >= 1]
  if (length(limits)) n <- min(n, limits)
  as.integer(n)
}

# control as glamm_control: a glamm_control object, a list of its settings,
# or lme4's glmerControl()/lmerControl(), whose optimizer limits are used and
# whose other non-default settings are named in one message.
as_glamm_control <- function(control) {
  if (inherits(control, "glamm_control")) return(control)
  if (inherits(control, "merControl")) return(from_mer_control(control))
  if (!is.list(control)) stop("'control' must come from glamm_control()", call. = FALSE)
  do.call(glamm_control, control)
}

from_mer_control <- function(control) {
  opt <- control$optCtrl %||% list()
  maxfun <- opt$maxfun %||% opt$maxeval
  maxit <- opt$maxit %||% opt$iter.max
  out <- glamm_control(eval.max = maxfun %||% 600, iter.max = maxit %||% 300)
  reference <- if (requireNamespace("lme4", quietly = TRUE)) {
    if (inherits(control, "glmerControl")) lme4::glmerControl() else lme4::lmerControl()
  }
  used <- intersect(names(opt), c("maxfun", "maxeval", "maxit", "iter.max"))
  ignored <- c(setdiff(names(opt), used),
               Filter(function(nm) nm != "optCtrl" && !identical(control[[nm]], reference[[nm]]),
                      names(control)))
  if (length(ignored)) {
    message(sprintf("lme4 control settings without a glamm equivalent are ignored: %s",
                    paste(ignored, collapse = ", ")))
  }
  out
}

# Points per dimension when the user does not choose: exact for the gaussian
# (the integrand is Gaussian, so K = 1 is exact); otherwise, fewer points as
# the grid K^q grows. Measured log-likelihood errors (against K = 31):
# q = 1, 2000 clusters of 50 binary responses, K = 15: 6e-7; q = 2, the same
# size, K = 11: 1.7e-4 (K = 9: 8.6e-4); q = 2, 300 clusters of 8, K = 11: 6e-7.
default_nagq <- function(family, q) {
  if (family$family == "gaussian") return(1L)
  # Multinomial, 2 category effects (C = 3, correlated intercepts), 5,000
  # observations in 300 clusters: K = 7 gave 2.8e-4, K = 9 2e-5, K = 11 5e-6
  # (bench/results-multinomial.md); 7 is 2.5 times faster than 11.
  if (family$family == "multinomial" && q == 2) return(7L)
  c(15L, 11L, 7L, 5L)[min(q, 4L)]
}
