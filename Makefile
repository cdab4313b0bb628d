# Developer / CI entry points for the glamm R package.
#
#   make deps      install dependencies (Debian r-cran-* packages + GLMMadaptive from CRAN)
#   make document  regenerate man/ and NAMESPACE with roxygen2
#   make build     R CMD build (with vignettes) -> glamm_<version>.tar.gz
#   make install   R CMD INSTALL the built tarball
#   make check     deps + build + R CMD check --as-cran; fails on ERROR or WARNING
#   make test      = make check (all tests and the vignette)
#   make demo      deps + install + PISA analysis (Table 1, output/figure1.png)
#   make bench     benchmarks (bench/run.R)
#   make site      pkgdown documentation site in docs/ (offline; needs pkgdown)
#   make sanitize  build with ASAN/UBSAN into a private library and run the tests
#   make clean     remove build and check artefacts

SHELL       := /bin/bash
R           ?= R
RSCRIPT     ?= Rscript
PKG         := $(shell sed -n 's/^Package:[[:space:]]*//p' DESCRIPTION)
PKG_VERSION := $(shell sed -n 's/^Version:[[:space:]]*//p' DESCRIPTION)
TARBALL     := $(PKG)_$(PKG_VERSION).tar.gz
OUTDIR      ?= output

BUILD_ARGS   ?=
INSTALL_ARGS ?=
CHECK_ARGS   ?= --as-cran --no-manual

# --as-cran without network access: skip the CRAN-incoming checks (remote
# and local) and the system-clock look-up; Suggests are installed by `deps`.
CHECK_ENV := _R_CHECK_FORCE_SUGGESTS_=false \
             _R_CHECK_CRAN_INCOMING_=false \
             _R_CHECK_CRAN_INCOMING_REMOTE_=false \
             _R_CHECK_SYSTEM_CLOCK_=false

.PHONY: all deps document build install check test demo bench site sanitize clean
.NOTPARALLEL:

all: check

deps:
	bash tools/install-deps.sh

document:
	$(RSCRIPT) -e 'roxygen2::roxygenise()'

build:
	rm -f $(PKG)_*.tar.gz
	$(R) CMD build $(BUILD_ARGS) .

install: build
	$(R) CMD INSTALL $(INSTALL_ARGS) $(TARBALL)

check: deps build
	rm -rf $(PKG).Rcheck
	$(CHECK_ENV) $(R) CMD check $(CHECK_ARGS) $(TARBALL)
	@if grep -Eq '(\.\.\. |^Status:.*)WARNING' $(PKG).Rcheck/00check.log; then \
	  echo "R CMD check reported WARNING(s):" >&2; \
	  grep -E -A8 '\.\.\. WARNING' $(PKG).Rcheck/00check.log >&2; \
	  exit 1; \
	fi
	@echo "R CMD check: no ERRORs or WARNINGs"

test: check

# The demo does not need the vignette, so build without it (faster).
demo: deps
	$(MAKE) --no-print-directory install BUILD_ARGS="--no-build-vignettes"
	mkdir -p $(OUTDIR)
	$(RSCRIPT) inst/scripts/pisa-analysis.R $(OUTDIR)

bench: deps
	$(MAKE) --no-print-directory install BUILD_ARGS="--no-build-vignettes"
	$(RSCRIPT) bench/run.R

# The site documents the package as installed (reference examples and the
# vignettes run against it): install it into a temporary library, built from
# a tarball made outside the source tree so src/ stays clean. pkgdown is not
# a dependency of the package (nor of `make deps`): the target only checks
# for it. pkgdown.internet = FALSE keeps the build offline (pkgdown 2.0.7
# otherwise looks the package up on CRAN for the home page's links).
# The articles' formulas need MathJax, which pkgdown's page template loads
# from a CDN (Debian's pkgdown: from a file:// path): pkgdown/templates/head.html
# loads the site's own copy, docs/mathjax, copied from MATHJAX when there.
SITE_TMP ?= $${TMPDIR:-/tmp}
MATHJAX  ?= /usr/share/javascript/mathjax

site:
	@$(RSCRIPT) -e 'if (!requireNamespace("pkgdown", quietly = TRUE)) { message("make site needs the pkgdown package: apt-get install r-cran-pkgdown (Debian), or install.packages(\"pkgdown\")"); quit(status = 1) }'
	@set -e; tmp=$$(mktemp -d "$(SITE_TMP)/$(PKG)-site.XXXXXX"); \
	  trap 'rm -rf "$$tmp"' EXIT; \
	  mkdir "$$tmp/lib"; \
	  (cd "$$tmp" && $(R) CMD build --no-build-vignettes --no-manual "$(CURDIR)" >/dev/null); \
	  echo "installing $(PKG) into a temporary library"; \
	  $(R) CMD INSTALL --no-multiarch --library="$$tmp/lib" "$$tmp"/$(PKG)_*.tar.gz >"$$tmp/install.log" 2>&1 \
	    || { cat "$$tmp/install.log" >&2; exit 1; }; \
	  R_LIBS="$$tmp/lib$${R_LIBS:+:$$R_LIBS}" $(RSCRIPT) -e \
	    'options(pkgdown.internet = FALSE); pkgdown::build_site(".", new_process = FALSE, install = FALSE, preview = FALSE)'
	@if [ -f $(MATHJAX)/MathJax.js ]; then \
	  echo "copying MathJax from $(MATHJAX) to docs/mathjax"; \
	  rm -rf docs/mathjax; mkdir docs/mathjax; \
	  for f in MathJax.js config extensions fonts jax localization; do \
	    cp -rL $(MATHJAX)/$$f docs/mathjax/; done; \
	else echo "no MathJax in $(MATHJAX) (Debian: apt-get install libjs-mathjax): the formulas load it from a CDN"; fi
	@echo "site built in docs/ (open docs/index.html)"

# A developer target (not CI): the package compiled with AddressSanitizer and
# UndefinedBehaviorSanitizer, through a Makevars file of its own passed as
# R_MAKEVARS_USER (the user's ~/.R/Makevars is not read), installed into a
# temporary library, and the tests run against it. R itself is not
# instrumented, so the ASAN runtime is preloaded; leak detection is off (R
# keeps its allocations until exit); GLAMM_SANITIZE=1 tells the tests that
# time the code (test-interrupt.R) that it runs several times slower. Every
# sanitizer report goes to
# SANITIZE_LOG.<pid>; the target fails when a test fails or any report was
# written. SANITIZE_TESTS selects test files by a regular expression
# (default: all).
SANITIZE_FLAGS ?= -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer
SANITIZE_TESTS ?=
SANITIZE_LOG   ?= $(CURDIR)/sanitize.log
LIBASAN        ?= $(shell $${CC:-gcc} -print-file-name=libasan.so)

sanitize:
	@set -e; tmp=$$(mktemp -d "$(SITE_TMP)/$(PKG)-sanitize.XXXXXX"); \
	  trap 'rm -rf "$$tmp"' EXIT; \
	  mkdir "$$tmp/lib"; rm -f $(SANITIZE_LOG).*; \
	  printf '%s\n' 'CFLAGS = $(SANITIZE_FLAGS)' 'CXXFLAGS = $(SANITIZE_FLAGS)' \
	    'CXX11FLAGS = $(SANITIZE_FLAGS)' 'CXX14FLAGS = $(SANITIZE_FLAGS)' \
	    'CXX17FLAGS = $(SANITIZE_FLAGS)' 'LDFLAGS = -fsanitize=address,undefined' >"$$tmp/Makevars"; \
	  (cd "$$tmp" && $(R) CMD build --no-build-vignettes --no-manual "$(CURDIR)" >/dev/null); \
	  echo "installing $(PKG) with -fsanitize=address,undefined into a temporary library"; \
	  R_MAKEVARS_USER="$$tmp/Makevars" $(R) CMD INSTALL --no-multiarch --no-test-load \
	    --library="$$tmp/lib" "$$tmp"/$(PKG)_*.tar.gz >"$$tmp/install.log" 2>&1 \
	    || { cat "$$tmp/install.log" >&2; exit 1; }; \
	  grep -q -- '-fsanitize=address' "$$tmp/install.log" \
	    || { echo "the sanitizer flags did not reach the compiler" >&2; exit 1; }; \
	  echo "running the tests with $(LIBASAN) preloaded"; \
	  status=0; \
	  (cd tests/testthat && \
	    GLAMM_SANITIZE=1 LD_PRELOAD="$(LIBASAN)" \
	    ASAN_OPTIONS="detect_leaks=0:log_path=$(SANITIZE_LOG)" \
	    UBSAN_OPTIONS="print_stacktrace=1:log_path=$(SANITIZE_LOG)" \
	    R_LIBS="$$tmp/lib$${R_LIBS:+:$$R_LIBS}" $(RSCRIPT) -e \
	    'r <- testthat::test_dir(".", filter = if (nzchar("$(SANITIZE_TESTS)")) "$(SANITIZE_TESTS)", package = "$(PKG)", load_package = "installed", reporter = testthat::SummaryReporter$$new(max_reports = Inf), stop_on_failure = FALSE); df <- as.data.frame(r); if (any(df$$failed > 0 | df$$error)) quit(status = 1)') \
	    || status=1; \
	  if ls $(SANITIZE_LOG).* >/dev/null 2>&1; then \
	    echo "sanitizer reports (in $(SANITIZE_LOG).*):" >&2; cat $(SANITIZE_LOG).* >&2; exit 1; fi; \
	  [ $$status -eq 0 ] || { echo "tests failed under the sanitizers" >&2; exit 1; }; \
	  echo "make sanitize: no sanitizer report, all tests passed"

clean:
	rm -f sanitize.log.*
	rm -rf $(PKG).Rcheck $(PKG)_*.tar.gz $(OUTDIR) doc Meta docs
	rm -f src/*.o src/*.so src/*.dll
