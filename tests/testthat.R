library(testthat)
library(glamm)

test_check("glamm")
