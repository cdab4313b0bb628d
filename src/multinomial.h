// The baseline-category logit: a response unit of d = C - 1 consecutive rows,
// one per non-baseline category (see multinomial.cpp for the formulas).
#ifndef GLAMM_MULTINOMIAL_H
#define GLAMM_MULTINOMIAL_H

#include <memory>

#include "family.h"

namespace glamm {

// The family for n_categories = C >= 2 categories (units of C - 1 rows).
std::unique_ptr<Family> make_multinomial(int n_categories);

// One unit's value, gradient g (d), W = -Hess (d x d, column-major) and the
// third-derivative contraction r (d) with the symmetric S (d x d), for
// checking the formulas (any pointer may be nullptr to skip that output).
double multinomial_unit(const double* y, double w, const double* eta, int d, double* g,
                        double* W, const double* S, double* r);

}  // namespace glamm

#endif
