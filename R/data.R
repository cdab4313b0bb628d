#' PISA 2000 reading proficiency, United States sample
#'
#' The United States sample of the OECD Programme for International Student
#' Assessment (PISA) 2000: 2069 fifteen-year-old students nested in 148
#' schools, with a binary indicator of reading proficiency, student
#' background characteristics and the survey design variables. There are no
#' missing values. The columns are the raw variables of the original file;
#' derived variables such as the centred socio-economic index used in the
#' reference analysis are computed by the user (see the examples).
#'
#' @format A data frame with 2069 rows (students) and 12 columns:
#' \describe{
#'   \item{female}{integer, 1 = female student, 0 = male.}
#'   \item{isei}{integer, international socio-economic index of
#'     occupational status (the higher of the two parents'), range 16--90.}
#'   \item{w_fstuwt}{numeric, final student weight: the inverse of the
#'     probability that the student was selected into the sample (school and
#'     student within school), adjusted for non-response.}
#'   \item{wnrschbw}{numeric, school weight: the inverse of the probability
#'     that the school was selected, adjusted for school non-response
#'     (constant within school).}
#'   \item{high_school}{integer, 1 = the highest education of either parent
#'     is high school.}
#'   \item{college}{integer, 1 = the highest education of either parent is
#'     college. The reference category (both \code{high_school} and
#'     \code{college} 0) is less than high school.}
#'   \item{one_for}{integer, 1 = one parent foreign born.}
#'   \item{both_for}{integer, 1 = both parents foreign born.}
#'   \item{test_lang}{integer, 1 = the test language (English) is spoken at
#'     home.}
#'   \item{pass_read}{integer, 1 = reading proficiency at or above the
#'     proficiency threshold, 0 = below.}
#'   \item{id_school}{integer, school identifier (148 distinct values
#'     between 1 and 151; not consecutive).}
#'   \item{wvarstr}{integer, variance stratum of the school (survey design;
#'     constant within school).}
#' }
#'
#' @details The sampling weights are supplied for completeness. In a
#'   two-level pseudo-likelihood analysis the level-2 (school) weight is
#'   \code{wnrschbw} and the level-1 weight, the conditional weight of the
#'   student given the school, is \code{w_fstuwt / wnrschbw} (Rabe-Hesketh
#'   and Skrondal, 2006). The textbook's reference analysis is an unweighted
#'   random-intercept logistic regression of \code{pass_read} on the school
#'   mean of SES, \code{female}, SES, \code{high_school}, \code{college} and
#'   \code{test_lang}, where SES is the grand-mean centred \code{isei}
#'   divided by 20.
#'
#' @source OECD PISA 2000, United States sample, as distributed with
#'   Rabe-Hesketh, S. and Skrondal, A. \emph{Multilevel and Longitudinal
#'   Modeling Using Stata} (Stata Press), data set \code{pisaUSA2000}.
#'
#' @references Rabe-Hesketh, S. and Skrondal, A. (2006). Multilevel
#'   modelling of complex survey data. \emph{Journal of the Royal Statistical
#'   Society, Series A}, \bold{169}, 805--827.
#'
#'   OECD (2001). \emph{Knowledge and Skills for Life: First Results
#'   from PISA 2000}. Paris: OECD.
#'
#' @examples
#' data(pisa2000)
#' str(pisa2000)
#' d <- pisa2000
#' ## grand-mean centred socio-economic index, in units of 20 ISEI points
#' d$SES <- (d$isei - mean(d$isei)) / 20
#' ## school mean of SES
#' d$SESj <- ave(d$SES, d$id_school)
#' summary(d[c("SES", "SESj")])
#' ## proportion of proficient readers by school (first schools)
#' head(tapply(d$pass_read, d$id_school, mean))
"pisa2000"
