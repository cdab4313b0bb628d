## Build data/pisa2000.rda from the raw PISA 2000 USA file.
##
## Run from the package root:  Rscript data-raw/pisa2000.R
## Source: ../shared/data/pisaUSA2000.txt (tab-separated, header row), the
## United States sample of PISA 2000 as distributed with Rabe-Hesketh &
## Skrondal, "Multilevel and Longitudinal Modeling Using Stata" (pisaUSA2000).
## Codebook: ../shared/data/README.md.  The raw columns are kept unchanged
## (no derived variables); integral columns are stored as integers.

src <- file.path("..", "shared", "data", "pisaUSA2000.txt")
if (!file.exists(src)) stop("cannot find ", src, "; run from the package root")

pisa2000 <- utils::read.delim(src, header = TRUE, check.names = FALSE,
                              stringsAsFactors = FALSE)

expected <- c("female", "isei", "w_fstuwt", "wnrschbw", "high_school",
              "college", "one_for", "both_for", "test_lang", "pass_read",
              "id_school", "wvarstr")
stopifnot(identical(names(pisa2000), expected))

## integers where integral
for (v in names(pisa2000)) {
  x <- pisa2000[[v]]
  if (is.numeric(x) && all(x == round(x))) pisa2000[[v]] <- as.integer(x)
}

stopifnot(nrow(pisa2000) == 2069L,
          length(unique(pisa2000$id_school)) == 148L,
          !anyNA(pisa2000))

rownames(pisa2000) <- NULL
dir.create("data", showWarnings = FALSE)
save(pisa2000, file = file.path("data", "pisa2000.rda"), compress = "xz")
