# Comparisons of glamm REML fits with lmer(REML = TRUE) fits, for test-reml.R
# and test-reml-crossed.R.

# glamm's parameter vector c(beta, Lambda's free entries per level innermost
# first, log sigma) at lmer's estimates (lmer's theta is Lambda / sigma; in
# glamm's order, or lmer's theta[order]).
par_of_lmer <- function(m, order = NULL) {
  s <- stats::sigma(m)
  theta <- lme4::getME(m, "theta")
  if (!is.null(order)) theta <- theta[order]
  c(lme4::fixef(m), s * theta, log(s))
}

# Largest relative differences between a glamm REML fit and an lmer fit. A
# covariance is compared on its natural scale sqrt(var_1 var_2), as the
# correlation: relative to itself a covariance near 0 magnifies lmer's own
# imprecision (its theta varies by 3e-8 between R sessions, with a gradient
# of 1.5e-6 at its estimate, where glamm's is 1e-10).
reml_differences <- function(f, m, order = NULL) {
  a <- as.data.frame(VarCorr(f))
  b <- as.data.frame(lme4::VarCorr(m))
  is_cov <- !is.na(a$var2)
  rel <- function(x, y) max(abs(x / y - 1))
  c(criterion = abs(deviance(f) - lme4::REMLcrit(m)),
    at_lmer = abs(-2 * loglik_function(f)(par_of_lmer(m, order)) - lme4::REMLcrit(m)),
    beta = rel(fixef(f), lme4::fixef(m)),
    se = rel(sqrt(diag(vcov(f))), sqrt(diag(as.matrix(stats::vcov(m))))),
    varcov = max(rel(a$vcov[!is_cov], b$vcov[!is_cov]), abs(a$sdcor[is_cov] - b$sdcor[is_cov])),
    sigma = rel(sigma(f), stats::sigma(m)))
}
