# The nested random-effect structure built in R: parsing and expansion of the
# formula terms, the levels built from the data, the nesting test, the row
# order of the tree, the quadrature points per level and the guard on the
# grid's size.

# 4 schools with classes numbered 1, 2, 3 in each (labels reused), 2 pupils
# per class with unique ids, and class ids unique across schools.
st_data <- function() {
  d <- expand.grid(pupil = 1:2, class = 1:3, school = 1:4)
  d$id <- seq_len(nrow(d))
  d$class_id <- sprintf("s%d-c%d", d$school, d$class)
  d$x <- seq(-1, 1, length.out = nrow(d))
  d$z <- cos(d$id)
  d
}
sd_ <- st_data()

levels_of <- function(formula, data = sd_) {
  random_levels(parse_random(formula), data, environment(formula))
}

test_that("a/b and a/b/c expand as lme4's findbars(), innermost first", {
  r <- parse_random(y ~ x + (1 + x | school/class))
  expect_identical(vapply(r$terms, function(t) deparse(t$group), ""), c("class:school", "school"))
  expect_identical(r$group_names, c("class:school", "school"))
  expect_identical(lapply(r$terms, function(t) t$lhs[[2]]), rep(list(quote(1 + x)), 2))
  r3 <- parse_random(y ~ (1 | a/b/c))
  expect_identical(r3$group_names, c("c:(b:a)", "b:a", "a"))
  skip_if_not_installed("lme4")
  bars <- lme4::findbars(y ~ (1 | a/b/c))
  expect_identical(r3$group_names, vapply(bars, function(b) deparse(b[[3]]), ""))
})

test_that("one grouping factor parses as before", {
  r <- parse_random(y ~ x + (1 + x | g) + (0 + z | g))
  expect_identical(r$group_names, "g")
  expect_identical(vapply(r$terms, function(t) t$level, ""), c("g", "g"))
  expect_identical(r$terms[[1]]$group, quote(g))
  expect_error(parse_random(y ~ x), "no random-effect term")
})

test_that("terms on the same grouping factor form one level with a block-diagonal pattern", {
  lv <- levels_of(y ~ (1 + x | school/class) + (0 + z | school))
  expect_identical(names(lv), c("class:school", "school"))
  expect_identical(colnames(lv$school$Z), c("(Intercept)", "x", "z"))
  expect_identical(lv$school$pattern, matrix(c(TRUE, TRUE, FALSE, FALSE, TRUE, FALSE,
                                               FALSE, FALSE, TRUE), 3, 3))
  expect_identical(colnames(lv[["class:school"]]$Z), c("(Intercept)", "x"))
  # school:class and class:school are the same clusters: one level, named by the first
  lv2 <- levels_of(y ~ (1 | school:class) + (0 + x | class:school))
  expect_identical(names(lv2), "school:class")
  expect_identical(colnames(lv2[[1]]$Z), c("(Intercept)", "x"))
})

test_that("|| applies at every level of a/b", {
  lv <- levels_of(y ~ (1 + x || school/class))
  for (l in lv) expect_identical(l$pattern, diag(TRUE, 2))
  expect_error(levels_of(y ~ (1 + x | school) + (x | school)), "terms repeat a column")
  expect_error(levels_of(y ~ (1 + x | school) + (x | school) + (1 | class_id)),
               "terms on school repeat a column \\(\\(Intercept\\)\\)")
})

test_that("levels come innermost first with clusters labelled uniquely over the data", {
  lv <- levels_of(y ~ (1 | school) + (1 | school:class) + (1 | id))
  expect_identical(names(lv), c("id", "school:class", "school"))
  expect_identical(vapply(lv, function(l) nlevels(l$factor), 1L),
                   c(id = 24L, "school:class" = 12L, school = 4L))
  # numeric parts give the clusters of the interaction, not the sequence school:class
  expect_identical(as.character(lv[["school:class"]]$factor),
                   paste(sd_$school, sd_$class, sep = ":"))
  for (l in lv) {
    expect_length(l$factor, nrow(sd_))
    expect_identical(nrow(l$Z), nrow(sd_))
  }
  # the levels of one factor as glamm.fit() received them before
  one <- levels_of(y ~ (1 | class_id))
  expect_identical(one$class_id$factor, droplevels(as.factor(sd_$class_id)))
})

test_that("interactions of factors with many levels give the same clusters", {
  set.seed(5)
  a <- factor(sample(5000, 200, replace = TRUE), levels = 1:5000)
  b <- factor(sample(4000, 200, replace = TRUE), levels = 1:4000)
  ab <- interact_factors(droplevels(a), droplevels(b))  # a small table of codes
  big <- interact_factors(a, b)                          # 2e7 combinations: by sorting
  expect_identical(big, ab)
  expect_identical(as.character(ab), paste(a, b, sep = ":"))
  # levels in the order of a, then b
  o <- order(as.integer(a), as.integer(b))
  expect_identical(levels(ab), unique(paste(a, b, sep = ":")[o]))
})

test_that("cluster labels of an interaction match lme4's", {
  skip_if_not_installed("lme4")
  d <- sd_
  d$school <- factor(d$school)
  d$class <- factor(d$class)
  d$y <- d$x
  rt <- lme4::lFormula(y ~ (1 | school/class), data = d,
                       control = lme4::lmerControl(check.nobs.vs.nlev = "ignore",
                                                   check.nobs.vs.nRE = "ignore"))$reTrms
  lv <- levels_of(y ~ (1 | school/class), d)
  expect_identical(names(lv), names(rt$flist))
  expect_identical(lv[["class:school"]]$factor, rt$flist[["class:school"]])
})

test_that("a missing grouping value is an error naming the factor", {
  d <- sd_
  d$class[3] <- NA
  expect_error(levels_of(y ~ (1 | school/class), d), "grouping factor class:school has missing")
})

test_that("nested levels give each cluster's parent", {
  lv <- levels_of(y ~ (1 | school/class/pupil))
  parents <- check_nesting(lv)
  expect_identical(names(parents), names(lv))
  expect_null(parents$school)
  cs <- lv[["class:school"]]$factor
  expect_identical(levels(lv$school$factor)[parents[["class:school"]]],
                   sub("^.*:", "", levels(cs)))
  inner <- lv[[1]]$factor
  expect_identical(levels(cs)[parents[[1]]], sub("^[^:]*:", "", levels(inner)))
  # the same structure from unique labels, written without /
  p2 <- check_nesting(levels_of(y ~ (1 | school) + (1 | class_id) + (1 | id)))
  expect_identical(lengths(p2), c(id = 24L, class_id = 12L, school = 0L))
})

test_that("labels reused within parents are an error suggesting school/class", {
  lv <- levels_of(y ~ (1 | school) + (1 | class))
  expect_error(check_nesting(lv),
               paste0("school and class are crossed, not nested: class 1 occurs in school 1 ",
                      "and in school 2.*\\(1 \\| school/class\\) or \\(1 \\| school:class\\); ",
                      "the nested integrator needs nested factors \\(glamm\\(\\) fits crossed ",
                      "factors by the Laplace approximation"))
  # pupils numbered 1, 2 in every class: the parent to suggest is the class
  expect_error(check_nesting(levels_of(y ~ (1 | school) + (1 | class_id) + (1 | pupil))),
               "\\(1 \\| class_id/pupil\\)")
})

test_that("crossed factors are an error of the nested integrator without a suggestion when none would nest", {
  # classes and pupils both numbered within their parents: no single interaction nests
  expect_error(check_nesting(levels_of(y ~ (1 | school) + (1 | class) + (1 | pupil))),
               "crossed, not nested: class 1 occurs in school 1 and in school 2; the nested integ")
  msg <- tryCatch(check_nesting(levels_of(y ~ (1 | school) + (1 | class) + (1 | pupil))),
                  error = conditionMessage)
  expect_false(grepl("write the grouping factor", msg))
})

test_that("two levels with the same clusters are an error", {
  d <- sd_
  d$school2 <- d$school * 10
  expect_error(check_nesting(levels_of(y ~ (1 | school) + (0 + x | school2), d)),
               "grouping factors school and school2 define the same clusters")
})

test_that("levels out of order (glamm.fit's re) are an error saying so", {
  lv <- levels_of(y ~ (1 | school/class))
  expect_error(check_nesting(rev(lv)), "levels are out of order: class:school is nested in school")
})

test_that("check_nesting and tree_order read glamm.fit's re (group in place of factor)", {
  lv <- levels_of(y ~ (1 | school/class))
  re <- lapply(lv, function(l) list(Z = l$Z, group = l$factor, pattern = l$pattern, name = l$name))
  expect_identical(check_nesting(re), check_nesting(lv))
  expect_identical(tree_order(re), tree_order(lv))
})

# Every cluster of every level a contiguous block of the sorted rows (as
# many runs of equal codes as clusters), and the map from the engine's nodes
# (the runs, in order) to the factor's levels.
expect_tree <- function(lv, to) {
  ord <- to$order %||% seq_along(lv[[1]]$factor)
  for (l in seq_along(lv)) {
    codes <- as.integer(lv[[l]]$factor[ord])
    starts <- c(TRUE, codes[-1] != codes[-length(codes)])
    expect_identical(sum(starts), nlevels(lv[[l]]$factor))
    expect_identical(to$cluster[[l]], codes[starts])
  }
}

test_that("tree_order sorts by top cluster, then inner levels, making clusters contiguous", {
  set.seed(3)
  perm <- sample(nrow(sd_))
  dp <- sd_[perm, ]
  lv <- levels_of(y ~ (1 | school/class/pupil), dp)
  to <- tree_order(lv)
  expect_false(is.null(to$order))
  expect_tree(lv, to)
  expect_identical(dp$school[to$order], sd_$school)
  expect_identical(dp$class[to$order], sd_$class)
  expect_identical(to$max_rows_top, 6L)
  expect_identical(lengths(to$cluster),
                   c("pupil:(class:school)" = 24L, "class:school" = 12L, school = 4L))
})

test_that("tree_order does not depend on the order of the rows", {
  lv <- levels_of(y ~ (1 | school/class/pupil))
  to <- tree_order(lv)
  expect_null(to$order)  # already sorted: no copy of the data
  expect_tree(lv, to)
  for (seed in 1:3) {
    set.seed(seed)
    dp <- sd_[sample(nrow(sd_)), ]
    lvp <- levels_of(y ~ (1 | school/class/pupil), dp)
    top <- tree_order(lvp)
    expect_identical(mapply(function(k, l) levels(l$factor)[k], top$cluster, lvp),
                     mapply(function(k, l) levels(l$factor)[k], to$cluster, lv))
    expect_identical(dp$id[top$order], sd_$id)
  }
})

test_that("data whose clusters are contiguous in another order need no sorting", {
  d <- sd_[nrow(sd_):1, ]
  lv <- levels_of(y ~ (1 | school/class), d)
  to <- tree_order(lv)
  expect_null(to$order)
  expect_tree(lv, to)
  expect_identical(to$cluster$school, 4:1)
})

test_that("nAGQ: default rule per level, one number, or named by label or own variable", {
  lv <- levels_of(y ~ (1 + x | school/class) + (1 | id))
  expect_identical(names(lv), c("id", "class:school", "school"))
  q <- c(1L, 2L, 2L)
  # the innermost level as one grouping factor, the levels above 7, 5, 3, 3
  expect_identical(resolve_nagq(NULL, lv, binomial(), q),
                   c(id = 15L, "class:school" = 5L, school = 5L))
  expect_identical(resolve_nagq(NULL, lv, binomial(), c(2L, 1L, 1L)),
                   c(id = 11L, "class:school" = 7L, school = 7L))
  expect_identical(resolve_nagq(NULL, lv, gaussian(), q), c(id = 1L, "class:school" = 1L,
                                                            school = 1L))
  expect_identical(resolve_nagq(NULL, lv, binomial()), resolve_nagq(NULL, lv, binomial(), q))
  expect_identical(resolve_nagq(5, lv, binomial(), q),
                   c(id = 5L, "class:school" = 5L, school = 5L))
  expect_identical(resolve_nagq(c(class = 7, school = 9, id = 1), lv, binomial(), q),
                   c(id = 1L, "class:school" = 7L, school = 9L))
  expect_identical(resolve_nagq(c("class:school" = 3), lv, binomial(), q),
                   c(id = 15L, "class:school" = 3L, school = 5L))
  # the result passes through again unchanged
  k <- resolve_nagq(c(class = 7), lv, binomial(), q)
  expect_identical(resolve_nagq(k, lv, binomial(), q), k)
})

test_that("the own variable of a level is the one not in the levels above", {
  expect_identical(level_aliases(c("pupil:(class:school)", "class:school", "school")),
                   c("pupil", "class", NA))
  expect_identical(level_aliases(c("school:class", "school")), c("class", NA))
  expect_identical(level_aliases(c("class_id", "school")), c(NA_character_, NA))
  expect_identical(level_aliases("group 1"), NA_character_)
})

test_that("nAGQ with unknown names, repeated or non-whole values is an error", {
  lv <- levels_of(y ~ (1 | school/class))
  expect_error(resolve_nagq(c(klass = 7), lv, binomial()),
               paste0("'nAGQ' names klass, which is not a grouping factor of the model; ",
                      "valid names: class:school \\(or class\\), school"))
  expect_error(resolve_nagq(c(klass = 7, pupil = 3, school = 5), lv, binomial()),
               "names klass, pupil, which are not")
  expect_error(resolve_nagq(c(class = 7, "class:school" = 5), lv, binomial()),
               "gives the points of class:school twice")
  expect_error(resolve_nagq(c(class = 7, 5), lv, binomial()),
               "every element of 'nAGQ' needs the name of a grouping factor")
  msg <- "'nAGQ' must be a whole number >= 1 \\(1 is the Laplace approximation\\)"
  for (bad in list(0, 2.5, -3, NA, "5", Inf, c(class = 0), numeric(0))) {
    expect_error(resolve_nagq(bad, lv, binomial()), msg)
  }
  expect_error(resolve_nagq(c(3, 5), lv, binomial()),
               paste0(msg, ", or a vector of such numbers named by grouping factor"))
  one <- levels_of(y ~ (1 | school))
  expect_error(resolve_nagq(c(3, 5), one, binomial()), msg)
})

test_that("a grid too large per row or for the workspace is an error suggesting fewer points", {
  expect_identical(check_grid_size(c(a = 11L, b = 11L), c(2, 1), 1000), 11^3)
  expect_error(check_grid_size(c(g = 40L), 5, 10),
               paste0("nAGQ = 40 with 5 random effects needs 1.02e\\+08 quadrature points per ",
                      "cluster; use fewer points"))
  expect_error(check_grid_size(c("class:school" = 40L, school = 40L), c(3, 2), 10),
               paste0("nAGQ = c\\(`class:school` = 40, school = 40\\) with 3, 2 random effects ",
                      "needs 1.02e\\+08 quadrature points per innermost cluster; use fewer ",
                      "points, e.g. nAGQ = c\\(`class:school` = 1, school = 40\\)"))
  expect_error(check_grid_size(c(class = 15L, school = 15L), c(2, 2), 1e6),
               paste0("needs 5.06e\\+04 quadrature points for each of the 1000000 rows of the ",
                      "largest top-level cluster, 405 GB of workspace; use fewer points, ",
                      "e.g. nAGQ = c\\(class = 1, school = 15\\) \\(1 is the Laplace ",
                      "approximation\\), or raise glamm_control"))
  # the limits come from glamm_control()
  expect_identical(check_grid_size(c(g = 40L), 5, 10, nodes_max = 2e8, bytes_max = 1e10), 40^5)
  expect_error(check_grid_size(c(g = 11L), 2, 1000, nodes_max = 100), "raise glamm_control")
  expect_error(glamm_control(nodes.max = -1), "'nodes.max' must be a positive number")
})
