# Data read by the workers (glamm_shards(), issue 14 item 3): partitions
# written to files (or made by a function) are read on the workers of a
# PSOCK cluster; the fit equals the one on the combined data frame, the
# master holds no rows, and the workers keep nothing afterwards.

source_data <- function(seed = 3, schools = 40) {
  set.seed(seed)
  d <- data.frame(school = sprintf("s%02d", rep(seq_len(schools), each = 20)),
                  class = rep(rep(1:4, each = 5), schools), x = rnorm(schools * 20),
                  f = sample(c("a", "b", "c"), schools * 20, TRUE))
  u <- rnorm(schools, sd = 0.8)[as.integer(factor(d$school))] +
    rnorm(schools * 4, sd = 0.5)[(as.integer(factor(d$school)) - 1) * 4 + d$class]
  d$y <- rbinom(nrow(d), 1, plogis(-0.3 + 0.6 * d$x + u))
  d$count <- rpois(nrow(d), exp(0.2 + 0.3 * d$x + u / 2))
  d
}

# Writes d as `parts` CSV files of whole schools (in order) and returns the paths.
write_partitions <- function(d, parts, dir) {
  block <- cut(as.integer(factor(d$school)), parts, labels = FALSE)
  vapply(seq_len(parts), function(k) {
    path <- file.path(dir, sprintf("part%d.csv", k))
    utils::write.csv(d[block == k, ], path, row.names = FALSE)
    path
  }, "")
}

test_that("partitions read by the workers give the fit of the combined data frame", {
  d <- source_data()
  dir <- tempfile()
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  files <- write_partitions(d, 3, dir)
  cl <- parallel::makeCluster(2)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  ctl <- glamm_control(cluster = cl)
  form <- y ~ x + f + (1 | school/class)
  ref <- glamm(form, data = d, family = binomial)
  fit <- glamm(form, data = glamm_shards(files), family = binomial, control = ctl)
  expect_lt(abs(fit$loglik - ref$loglik), 1e-10)  # seen 5.7e-14
  expect_lt(max(abs(fit$par - ref$par)), 1e-8)  # seen 4.4e-16
  expect_lt(max(abs(vcov(fit) - vcov(ref))), 1e-8)  # seen 2.1e-14
  expect_identical(nobs(fit), nobs(ref))
  expect_identical(fit$ngroups, ref$ngroups)
  # the empirical Bayes predictions, by cluster name
  for (g in names(ref$groups)) {
    a <- ranef(fit)[[g]]
    b <- ranef(ref)[[g]]
    expect_setequal(rownames(a), rownames(b))
    expect_lt(max(abs(a[rownames(b), ] - b[, 1])), 1e-8)  # seen 1.1e-15
  }
  # predictions for new data, conditional and marginal
  nd <- d[c(1, 150, 799), ]
  # seen 3e-16
  expect_lt(max(abs(predict(fit, newdata = nd) - predict(ref, newdata = nd))), 1e-8)
  expect_lt(max(abs(predict(fit, newdata = nd, re.form = NA, type = "response") -
                      predict(ref, newdata = nd, re.form = NA, type = "response"))), 1e-8)
  # the summary and a likelihood-ratio test between two such fits
  expect_output(print(summary(fit)), "Number of obs: 800")
  small <- glamm(y ~ x + (1 | school/class), data = glamm_shards(files), family = binomial,
                 control = ctl)
  refsmall <- glamm(y ~ x + (1 | school/class), data = d, family = binomial)
  # seen 1.1e-13
  expect_lt(abs(anova(small, fit)$Chisq[2] - anova(refsmall, ref)$Chisq[2]), 1e-8)
  expect_error(anova(small, ref), "was fitted on data read by the workers")
  # the master holds no rows; methods that need them say so
  expect_null(fit$frame)
  expect_null(fit$data)
  for (f in list(fitted, residuals, function(x) predict(x), function(x) simulate(x))) {
    expect_error(f(fit), "stayed on the workers")
  }
  # nothing is left on the workers
  left <- parallel::clusterEvalQ(cl, length(ls(glamm:::shard_store)))
  expect_identical(unlist(left), c(0L, 0L))
})

test_that("a reading function makes the partitions on the workers; counts fit too", {
  d <- source_data(seed = 8, schools = 30)
  cl <- parallel::makeCluster(2)
  on.exit(parallel::stopCluster(cl))
  # schools split by parity: the partitions' rows are not in the data's order
  saved <- tempfile(fileext = ".rds")
  on.exit(unlink(saved), add = TRUE)
  saveRDS(d, saved)
  read <- function(k) {
    d <- readRDS(k$path)
    d[as.integer(substring(d$school, 2)) %% 2 == k$parity, ]
  }
  parts <- list(list(path = saved, parity = 0), list(path = saved, parity = 1))
  form <- count ~ x + (1 | school)
  ref <- glamm(form, data = d, family = poisson)
  fit <- glamm(form, data = glamm_shards(parts, read), family = poisson,
               control = glamm_control(cluster = cl))
  expect_lt(abs(fit$loglik - ref$loglik), 1e-10)  # seen 0
  expect_lt(max(abs(fit$par - ref$par)), 1e-8)  # seen 5.6e-17
  # one worker reading both partitions
  one <- glamm(form, data = glamm_shards(parts, read), family = poisson,
               control = glamm_control(cluster = cl[1]))
  expect_lt(abs(one$loglik - ref$loglik), 1e-10)  # seen 1.1e-13
  # a gaussian fit (its residual SD starts from the sampled rows)
  refg <- glamm(x ~ f + (1 | school), data = d)
  fitg <- glamm(x ~ f + (1 | school), data = glamm_shards(parts, read),
                control = glamm_control(cluster = cl))
  expect_lt(abs(fitg$loglik - refg$loglik), 1e-10)  # seen 0
  expect_lt(max(abs(fitg$par - refg$par)), 1e-8)  # seen 5.6e-17
})

test_that("partitions that split clusters, and unsupported requests, give clear errors", {
  d <- source_data(schools = 12)
  dir <- tempfile()
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  cl <- parallel::makeCluster(2)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  ctl <- glamm_control(cluster = cl)
  # rows of one school in both partitions
  split <- file.path(dir, c("a.csv", "b.csv"))
  utils::write.csv(d[seq(1, nrow(d), 2), ], split[1], row.names = FALSE)
  utils::write.csv(d[seq(2, nrow(d), 2), ], split[2], row.names = FALSE)
  expect_error(glamm(y ~ x + (1 | school), data = glamm_shards(split), family = binomial,
                     control = ctl), "clusters of school \\(e.g. s[0-9]+\\) occur in several")
  files <- write_partitions(d, 2, dir)
  expect_error(glamm(y ~ x + (1 | school), data = glamm_shards(files), family = binomial),
               "give control = glamm_control\\(cluster = cl\\)")
  expect_error(glamm(y ~ z + (1 | school), data = glamm_shards(files), family = binomial,
                     control = ctl), "worker 1 failed: partition .*part1.csv has no column z")
  expect_error(glamm(y ~ x + (1 | school), data = glamm_shards(files), family = binomial,
                     weights = x, control = ctl), "cannot be fitted with weights")
  expect_error(glamm(y ~ x + (1 | school), data = glamm_shards(file.path(dir, "none.txt")),
                     family = binomial, control = ctl), "give 'read' for files other than")
  expect_error(glamm_shards(list(1, 2)), "give 'read'")
  expect_error(glamm_shards(character(0)), "one element per partition")
})
