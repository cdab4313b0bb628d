// Constructors of the Gamma and negative binomial (NB2) families
// (family_gamma_nb.cpp has the formulas).
#ifndef GLAMM_FAMILY_GAMMA_NB_H
#define GLAMM_FAMILY_GAMMA_NB_H

#include <memory>

#include "family.h"

namespace glamm {

// Throw std::invalid_argument for a link the family does not take.
std::unique_ptr<Family> make_gamma(int link);
std::unique_ptr<Family> make_nbinom2(int link);

}  // namespace glamm

#endif
