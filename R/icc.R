# Latent-response intraclass correlation and the variance of the random part
# of the linear predictor.

#' Intraclass correlation of the latent response
#'
#' For a binary (or binomial) response with logit, probit or cloglog link,
#' the model is a threshold model for a latent continuous response whose
#' level-1 residual has variance `pi^2/3`, `1` or `pi^2/6`. The residual
#' intraclass correlation is `v / (v + residual variance)`, where `v = z'
#' Sigma z` is the variance of the random part of the linear predictor: for a
#' random intercept `v = psi`; with random slopes `v` depends on the
#' covariates `z`, given in `newdata`. For the gaussian family the residual
#' variance is `sigma^2` (the usual ICC). For the poisson family there is no
#' latent response and an error is given.
#'
#' @param object a `glamm` fit.
#' @param newdata for models with random slopes: a data frame with the
#'   covariates of the random-effect terms (one ICC per row).
#' @return A data frame with `variance` (`v`), `residual` (the level-1
#'   variance) and `icc`; one row, or one per row of `newdata`.
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' d$SESj <- ave(d$SES, d$id_school)
#' fit <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
#'                (1 | id_school), data = d, family = binomial, nAGQ = 12)
#' icc(fit)   # about 0.08
#' @export
icc <- function(object, newdata = NULL) {
  if (!inherits(object, "glamm")) stop("'object' must be a glamm fit", call. = FALSE)
  fam <- object$family
  residual <- switch(fam$family,
    gaussian = object$sigma^2,
    binomial = ,
    ordinal = switch(fam$link, logit = pi^2 / 3, probit = 1, cloglog = pi^2 / 6),
    poisson = stop("a poisson model has no latent response, so no latent-response ",
                   "intraclass correlation", call. = FALSE)
  )
  cn <- colnames(object$Sigma)
  if (is.null(newdata)) {
    if (!identical(cn, "(Intercept)")) {
      stop("with random slopes the random part's variance depends on the covariates: ",
           "give them in 'newdata'", call. = FALSE)
    }
    Z <- matrix(1, 1, 1)
  } else {
    Z <- prediction_design(object, newdata, need_group = FALSE, allow.new.levels = TRUE)$Z
  }
  v <- rowSums((Z %*% object$Sigma) * Z)
  data.frame(variance = v, residual = residual, icc = v / (v + residual))
}
