# Plots: predicted response curves (conditional and marginal) and a
# residual plot.

#' Conditional and marginal prediction curves
#'
#' Draws the predicted mean response against a covariate, with the other
#' covariates fixed at given values, for each value of a grouping covariate:
#' the conditional curve with the random effects at zero (for a random
#' intercept, the median curve: a typical cluster) as a solid line and the
#' marginal (population-averaged) curve as a dashed line. With a non-linear
#' link the marginal curve is flatter: closer to 0.5 for probabilities.
#'
#' @param object a `glamm` fit.
#' @param x name of the covariate on the horizontal axis.
#' @param at named list of values for the other covariates.
#' @param by optional named list of length one: a covariate and the values
#'   that make the separate curves.
#' @param range range of `x`; default the range in the data of the fit.
#' @param n number of points per curve.
#' @param col colours, one per curve of `by`.
#' @param labels legend labels of the curves of `by`; default `"<name> = <value>"`.
#' @param legend position of the legend (see [graphics::legend()]), or `NULL`.
#' @param xlab,ylab axis labels.
#' @param ... passed to [graphics::plot()].
#' @return Invisibly, a data frame with the curves: the covariate values,
#'   `conditional` and `marginal` predictions.
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' d$SESj <- ave(d$SES, d$id_school)
#' fit <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
#'                (1 | id_school), data = d, family = binomial, nAGQ = 12)
#' plot_predictions(fit, "SESj", at = list(female = 0, SES = 0, high_school = 1, college = 0),
#'                  by = list(test_lang = c(0, 1)))
#' @export
plot_predictions <- function(object, x, at = list(), by = NULL, range = NULL, n = 101,
                             col = NULL, labels = NULL, legend = "topleft", xlab = x,
                             ylab = "predicted mean response", ...) {
  if (is.null(range)) range <- base::range(object$frame[[x]])
  grid <- stats::setNames(data.frame(seq(range[1], range[2], length.out = n)), x)
  for (v in names(at)) grid[[v]] <- at[[v]]
  groups <- if (is.null(by)) list(NULL) else as.list(by[[1]])
  if (is.null(col)) col <- seq_along(groups)
  curves <- do.call(rbind, lapply(seq_along(groups), function(k) {
    g <- grid
    if (!is.null(by)) g[[names(by)[1]]] <- groups[[k]]
    g$conditional <- predict(object, g, type = "response", re.form = NA)
    g$marginal <- predict(object, g, type = "response", marginal = TRUE)
    g$curve <- k
    g
  }))
  graphics::plot(range, base::range(curves$conditional, curves$marginal), type = "n",
                 xlab = xlab, ylab = ylab, ...)
  for (k in seq_along(groups)) {
    s <- curves[curves$curve == k, ]
    graphics::lines(s[[x]], s$conditional, col = col[k], lwd = 2)
    graphics::lines(s[[x]], s$marginal, col = col[k], lwd = 2, lty = 2)
  }
  if (!is.null(legend)) {
    kinds <- c("conditional (random effect 0)", "marginal (population average)")
    lcol <- c(1, 1)
    if (!is.null(by)) {
      if (is.null(labels)) labels <- paste(names(by)[1], "=", unlist(groups))
      lcol <- c(col, lcol)
    }
    labels <- c(if (!is.null(by)) labels, kinds)
    graphics::legend(legend, legend = labels, col = lcol, bty = "n", lwd = 2,
                     lty = c(rep(1, length(labels) - 1), 2))
  }
  curves$curve <- NULL
  invisible(curves)
}

#' Residual plot for a glamm fit
#'
#' Pearson residuals against fitted values (conditional on the empirical
#' Bayes random effects).
#'
#' @param x a `glamm` fit.
#' @param ... passed to [graphics::plot()].
#' @return `x`, invisibly.
#' @examples
#' fit <- glamm(pass_read ~ female + (1 | id_school), data = pisa2000,
#'              family = binomial, nAGQ = 5)
#' plot(fit)
#' @export
plot.glamm <- function(x, ...) {
  graphics::plot(stats::fitted(x), stats::residuals(x, type = "pearson"),
                 xlab = "fitted values", ylab = "Pearson residuals", ...)
  graphics::abline(h = 0, lty = 2)
  invisible(x)
}
