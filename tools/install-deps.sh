#!/usr/bin/env bash
# Install the build, test and vignette dependencies of glamm on a Debian
# machine with the system R (r-base from Debian).
#
# * R packages that Debian packages (r-cran-*) are installed with apt-get:
#   they are prebuilt for the system R, so this is fast and needs no compiler.
# * GLMMadaptive (used only for comparisons in tests/vignette) is not packaged
#   by Debian and is installed from CRAN.
#
# Idempotent: when everything already loads this is a quick no-op (no apt-get
# update, no network access).
set -euo pipefail

# CRAN packages come from the R session's configured repositories
# (getOption("repos"), which Debian's site profile sets); GLAMM_REPOS (one or
# more URLs) overrides them.
GLAMM_REPOS="${GLAMM_REPOS:-}"
RSCRIPT="${RSCRIPT:-Rscript}"

# R package  ->  Debian package
R_PKGS=(Rcpp RcppEigen lme4 glmmTMB ordinal roxygen2 knitr rmarkdown survival
        testthat matrixStats MASS nlme mlmRev broom.mixed generics emmeans tibble car
        insight performance)
APT_PKGS=(r-cran-rcpp r-cran-rcppeigen r-cran-lme4 r-cran-glmmtmb r-cran-ordinal
          r-cran-roxygen2 r-cran-knitr r-cran-rmarkdown r-cran-survival
          r-cran-testthat r-cran-matrixstats r-cran-mass r-cran-nlme r-cran-mlmrev
          r-cran-broom.mixed r-cran-generics r-cran-emmeans r-cran-tibble r-cran-car
          r-cran-insight r-cran-performance
          pandoc qpdf)
CRAN_ONLY=(GLMMadaptive)

log() { printf '[install-deps] %s\n' "$*" >&2; }

command -v "$RSCRIPT" >/dev/null 2>&1 || {
  log "Rscript not found: install R first (apt-get install r-base-core r-base-dev)"
  exit 1
}

# Print the R packages of "$@" that cannot be loaded, one per line.
missing_r_pkgs() {
  "$RSCRIPT" --vanilla -e '
    p <- commandArgs(TRUE)
    ok <- vapply(p, function(x) suppressWarnings(suppressMessages(
      requireNamespace(x, quietly = TRUE))), logical(1))
    if (any(!ok)) writeLines(p[!ok])' "$@"
}

# ---- fast path: everything already there -------------------------------------
# pandoc knits the vignette; R CMD check --as-cran needs qpdf once a vignette exists.
need_pandoc=0
command -v pandoc >/dev/null 2>&1 || need_pandoc=1
command -v qpdf >/dev/null 2>&1 || need_pandoc=1
if [[ $need_pandoc -eq 0 && -z "$(missing_r_pkgs "${R_PKGS[@]}" "${CRAN_ONLY[@]}")" ]]; then
  log "all dependencies already present; nothing to do"
  exit 0
fi

# ---- Debian packages ---------------------------------------------------------
missing=$(missing_r_pkgs "${R_PKGS[@]}")
if [[ -z "$missing" && $need_pandoc -eq 0 ]]; then
  log "Debian-packaged dependencies already present; skipping apt-get"
else
  [[ -n "$missing" ]] && log "missing R packages: $(echo $missing)"
  [[ $need_pandoc -eq 1 ]] && log "missing: pandoc or qpdf"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  fi
  if command -v apt-get >/dev/null 2>&1 && { [[ $(id -u) -eq 0 ]] || [[ -n "$SUDO" ]]; }; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends "${APT_PKGS[@]}"
  else
    log "apt-get unavailable (or not root and no sudo): falling back to CRAN"
    [[ $need_pandoc -eq 1 ]] && log "WARNING: pandoc is needed to build the vignette; install it separately"
  fi
  # anything still missing (e.g. no apt) comes from CRAN
  CRAN_ONLY+=($(missing_r_pkgs "${R_PKGS[@]}"))
fi

# ---- CRAN packages -----------------------------------------------------------
missing=$(missing_r_pkgs "${CRAN_ONLY[@]}")
if [[ -z "$missing" ]]; then
  log "CRAN-only dependencies already present: ${CRAN_ONLY[*]}"
else
  log "installing from the configured repositories: $(echo $missing)"
  GLAMM_REPOS="$GLAMM_REPOS" "$RSCRIPT" --no-save --no-restore --no-init-file -e '
    p <- commandArgs(TRUE)
    repos <- Sys.getenv("GLAMM_REPOS")
    repos <- if (nzchar(repos)) strsplit(repos, "[ ,]+")[[1]] else getOption("repos")
    if (length(repos) == 0 || any(repos == "@CRAN@")) {
      stop("no CRAN repository is configured: set options(repos = ) in the site ",
           "profile, or GLAMM_REPOS", call. = FALSE)
    }
    lib <- .libPaths()[1L]
    if (file.access(lib, 2L) != 0L) {        # not root: use the user library
      lib <- Sys.getenv("R_LIBS_USER")
      dir.create(lib, recursive = TRUE, showWarnings = FALSE)
      .libPaths(c(lib, .libPaths()))
    }
    options(Ncpus = max(1L, parallel::detectCores(), na.rm = TRUE))
    install.packages(p, lib = lib, repos = repos)
  ' $missing
fi

# ---- verify ------------------------------------------------------------------
still=$(missing_r_pkgs "${R_PKGS[@]}" "${CRAN_ONLY[@]}")
if [[ -n "$still" ]]; then
  log "ERROR: could not install: $(echo $still)"
  exit 1
fi
command -v pandoc >/dev/null 2>&1 || log "WARNING: pandoc not found (needed for the vignette)"
log "all dependencies present"
