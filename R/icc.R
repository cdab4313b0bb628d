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
#' With nested levels (Rabe-Hesketh and Skrondal's conventions, *Multilevel
#' and Longitudinal Modeling Using Stata*, chapters on three-level models),
#' each level `l` has its variance `v_l = z_l' Sigma_l z_l` and the total
#' latent variance is `v_1 + ... + v_L + residual`. The ICC of level `l` is
#' the correlation of the latent responses of two units in the same cluster
#' of level `l` (and hence in the same clusters of the levels above), the
#' share of the variance of that level and the levels above:
#' `(v_l + ... + v_L) / (v_1 + ... + v_L + residual)`. For students in classes
#' in schools: school, `v_school / (v_class + v_school + residual)` (two
#' students of the same school in different classes); class (within school),
#' `(v_class + v_school) / (v_class + v_school + residual)` (two students of
#' the same class). The ICC of the innermost level is the largest.
#'
#' With crossed factors (persons by items), two units in the same cluster of
#' a factor share the effects of that factor and of the factors it is nested
#' in, and no others: the ICC of `person` in `(1 | person) + (1 | item)` is
#' `v_person / (v_person + v_item + residual)` (two responses of one person
#' to different items).
#'
#' @param object a `glamm` fit.
#' @param newdata for models with random slopes: a data frame with the
#'   covariates of the random-effect terms (one ICC per row, and per level).
#' @return A data frame with `variance` (`v`, the level's own variance),
#'   `residual` (the level-1 variance) and `icc`; one row, or one per row of
#'   `newdata`. With several levels, one row per level (innermost first, as
#'   lme4 lists them), with its name in column `level` (and the row of
#'   `newdata` in column `row`).
#' @examples
#' d <- pisa2000
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' d$SESj <- ave(d$SES, d$id_school)
#' fit <- glamm(pass_read ~ SESj + female + SES + high_school + college + test_lang +
#'                (1 | id_school), data = d, family = binomial, nAGQ = 12)
#' icc(fit)   # about 0.08
#'
#' # three levels: one row per level
#' set.seed(1)
#' s <- data.frame(school = rep(1:30, each = 20), class = rep(1:4, each = 5, times = 30),
#'                 x = rnorm(600))
#' s$y <- rbinom(600, 1, plogis(0.3 * s$x + rnorm(30)[s$school] +
#'                                rnorm(120, 0, 0.7)[(s$school - 1) * 4 + s$class]))
#' f3 <- glamm(y ~ x + (1 | school/class), data = s, family = binomial, nAGQ = 5)
#' icc(f3)   # class:school: same class; school: same school, other classes
#' @export
icc <- function(object, newdata = NULL) {
  stop_if_mixed(object, "icc()")
  if (!inherits(object, "glamm")) stop("'object' must be a glamm fit", call. = FALSE)
  fam <- object$family
  residual <- switch(fam$family,
    gaussian = object$sigma^2,
    binomial = ,
    ordinal = switch(fam$link, logit = pi^2 / 3, probit = 1, cloglog = pi^2 / 6),
    poisson = ,
    nbinom2 = ,
    Gamma = stop(sprintf("a %s model has no latent response, so no latent-response ",
                         fam$family), "intraclass correlation", call. = FALSE),
    multinomial = stop("a multinomial model has one latent response per category: see ",
                       "VarCorr() for the category effects' covariance", call. = FALSE)
  )
  groups <- re_groups(object)
  L <- length(groups)
  if (is.null(newdata)) {
    if (!all(vapply(groups, function(gr) identical(colnames(gr$Sigma), "(Intercept)"), NA))) {
      stop("with random slopes the random part's variance depends on the covariates: ",
           "give them in 'newdata'", call. = FALSE)
    }
    Zs <- lapply(groups, function(gr) matrix(1, 1, 1))
  } else {
    d <- prediction_design(object, newdata, need_group = FALSE, allow.new.levels = TRUE,
                           groups = groups)
    Zs <- lapply(d$levels, function(lv) lv$Z)
  }
  # v[i, l]: the variance of level l's random part at row i.
  v <- vapply(seq_len(L), function(l) rowSums((Zs[[l]] %*% groups[[l]]$Sigma) * Zs[[l]]),
              numeric(nrow(Zs[[1]])))
  v <- matrix(v, ncol = L)
  if (is.null(object$crossed)) {
    above <- t(apply(v, 1, function(x) rev(cumsum(rev(x)))))  # v_l + ... + v_L
    above <- matrix(above, ncol = L)
  } else {
    above <- v %*% t(shared_levels(groups))
  }
  total <- rowSums(v) + residual
  out <- data.frame(variance = c(t(v)), residual = residual, icc = c(t(above / total)))
  if (L > 1) {
    out <- cbind(level = rep(names(groups), nrow(v)), out, stringsAsFactors = FALSE)
    if (!is.null(newdata)) out <- cbind(row = rep(seq_len(nrow(v)), each = L), out)
  }
  out
}

# share[l, a]: whether two units in one cluster of level l are in one cluster
# of level a (a is l, or l is nested in a), from the fit's grouping factors.
shared_levels <- function(groups) {
  L <- length(groups)
  share <- diag(L) > 0
  for (l in seq_len(L)) {
    for (a in seq_len(L)[-l]) {
      share[l, a] <- !is.null(nested_parent(groups[[l]]$factor, groups[[a]]$factor))
    }
  }
  share
}
