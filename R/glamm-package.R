#' glamm: generalized linear latent and mixed models by adaptive quadrature
#'
#' Fits generalized linear mixed models for clustered data by maximum
#' likelihood, with adaptive Gauss-Hermite quadrature or the Laplace
#' approximation, an exact gradient and a multithreaded C++ core. See
#' [glamm()] to fit a model and `vignette("pisa", package = "glamm")` for a
#' worked analysis.
#'
#' @keywords internal
#' @docType package
#' @name glamm-package
#' @useDynLib glamm, .registration = TRUE
#' @importFrom Rcpp sourceCpp
#' @importFrom stats AIC BIC coef confint fitted formula logLik model.frame
#'   model.matrix model.response model.weights model.offset nobs predict
#'   pnorm qnorm pchisq printCoefmat residuals setNames terms vcov sigma deviance
#'   df.residual extractAIC weights
#'   delete.response na.omit naprint napredict naresid glm.fit .getXlevels
#'   update simulate dbinom dpois dnorm rbinom rpois rnorm sd family gaussian
#'   profile
#' @importFrom nlme fixef ranef VarCorr
NULL

#' @export
nlme::fixef
#' @export
nlme::ranef
#' @export
nlme::VarCorr
