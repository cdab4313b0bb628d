# Family-specific parameters beyond beta and theta: on the optimizer's scale
# (psi) and on the engine's scale, with the chain rule between them.
#   gaussian: psi = log(sigma), passed as it is;
#   Gamma:    psi = log(shape), glmmTMB's dispersion parameter (its sigma()
#             is the coefficient of variation 1/sqrt(shape)), as it is;
#   nbinom2:  psi = log(theta), var = mu + mu^2 / theta, as it is;
#   ordinal:  psi = (tau_1, log(tau_2 - tau_1), ..., log(tau_{C-1} - tau_{C-2})),
#             so the thresholds tau = cumsum(tau_1, exp(psi[-1])) stay ordered;
#             d/dpsi_1 = sum_k d/dtau_k, d/dpsi_j = exp(psi_j) sum_{k >= j} d/dtau_k.
extra_parameters <- function(family, levels = NULL) {
  if (is_mixed(family)) return(mixed_extra(family))
  none <- list(n = 0L, names = character(0), to_engine = identity,
               chain = function(psi, g) g)
  switch(family$family,
    gaussian = utils::modifyList(none, list(n = 1L, names = "log(sigma)")),
    Gamma = utils::modifyList(none, list(n = 1L, names = "log(shape)")),
    nbinom2 = utils::modifyList(none, list(n = 1L, names = "log(theta)")),
    ordinal = {
      C <- length(levels)
      list(n = C - 1L,
           names = c("tau1", if (C > 2) sprintf("log(tau%d-tau%d)", 2:(C - 1), 1:(C - 2))),
           to_engine = function(psi) cumsum(c(psi[1], exp(psi[-1]))),
           chain = function(psi, g) {
             tail_sums <- rev(cumsum(rev(g)))
             c(tail_sums[1], exp(psi[-1]) * tail_sums[-1])
           },
           labels = paste(levels[-C], levels[-1], sep = "|"))
    },
    none
  )
}

# Start values of psi: the gaussian residual SD, the Gamma coefficient of
# variation or the nbinom2 theta (each a moment estimate from the GLM start,
# passed as sigma), or for the ordinal family the thresholds of the marginal
# distribution of the response.
start_extra <- function(family, resp, sigma) {
  switch(family$family,
    gaussian = ,
    nbinom2 = log(sigma),
    Gamma = -2 * log(sigma),
    ordinal = {
      p <- cumsum(tabulate(resp$y, length(resp$levels))) / length(resp$y)
      p <- p[-length(p)]
      quantile <- switch(family$link, logit = stats::qlogis, probit = stats::qnorm,
                         cloglog = function(x) log(-log(1 - x)))
      tau <- quantile(p)
      c(tau[1], log(pmax(diff(tau), 1e-3)))
    },
    numeric(0)
  )
}
