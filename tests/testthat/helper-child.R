# Runs lines of R in a child R session with this session's library paths and
# glamm loaded. The session is interactive, since a non-interactive R quits on
# SIGINT (the interrupt tests send it one). Returns the words after "RESULT"
# on the one line of the child's output that starts with it.
child_result <- function(lines) {
  script <- tempfile(fileext = ".R")
  on.exit(unlink(script))
  writeLines(c(sprintf(".libPaths(%s)", paste(deparse(.libPaths()), collapse = "")),
               "library(glamm)", lines), script)
  out <- system2(file.path(R.home("bin"), "R"),
                 c("--interactive", "--vanilla", "--quiet", "--no-echo"),
                 stdin = script, stdout = TRUE, stderr = TRUE)
  line <- grep("^RESULT", out, value = TRUE)
  expect_length(line, 1)
  strsplit(trimws(sub("^RESULT", "", line[1])), " +")[[1]]
}
