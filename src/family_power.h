// Pseudo-likelihood power weights (survey weights of the rows): row i
// contributes p_i log f(y_i | eta_i), so that its eta-derivatives d1, d2, d3
// and its psi-derivatives are p_i times the family's.
#ifndef GLAMM_FAMILY_POWER_H
#define GLAMM_FAMILY_POWER_H

#include <memory>

#include "family.h"

namespace glamm {

// Wraps a family so that each row's log f and derivatives are multiplied by
// the row's power weight Response::p (rows of weight 0 carry nothing).
std::unique_ptr<Family> make_power_weighted(std::unique_ptr<Family> family);

}  // namespace glamm

#endif
