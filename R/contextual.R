#' Cluster means and within-cluster deviations of covariates
#'
#' Adds, for each covariate, its cluster mean and the deviation from it, the
#' usual decomposition for separating within- and between-cluster effects
#' (contextual effects): in a model with both `x` and its cluster mean, the
#' coefficient of the mean is the contextual effect, the difference between
#' the between- and within-cluster effects.
#'
#' @param data a data frame.
#' @param vars names of numeric covariates in `data`.
#' @param cluster name of the cluster variable in `data`.
#' @param suffix suffixes of the new columns: cluster mean and deviation.
#' @return `data` with columns `<var><suffix[1]>` and `<var><suffix[2]>` added.
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' d <- cluster_means(d, "SES", "id_school")
#' head(d[, c("id_school", "SES", "SES_mean", "SES_dev")])
#' @export
cluster_means <- function(data, vars, cluster, suffix = c("_mean", "_dev")) {
  if (!is.data.frame(data)) stop("'data' must be a data frame", call. = FALSE)
  missing_vars <- setdiff(c(vars, cluster), names(data))
  if (length(missing_vars)) {
    stop("not in 'data': ", paste(missing_vars, collapse = ", "), call. = FALSE)
  }
  g <- data[[cluster]]
  if (anyNA(g)) stop("the cluster variable has missing values", call. = FALSE)
  for (v in vars) {
    x <- data[[v]]
    if (!is.numeric(x)) stop(sprintf("'%s' is not numeric", v), call. = FALSE)
    m <- stats::ave(x, g, FUN = function(z) mean(z, na.rm = TRUE))
    data[[paste0(v, suffix[1])]] <- m
    data[[paste0(v, suffix[2])]] <- x - m
  }
  data
}
