// A family per row (galamm's family = list(...) with family_mapping): row i
// has log f_{c(i)}(y_i | eta_i) of its family c(i), and the extra
// parameters are those of the families in turn,
//   psi = (psi_1, ..., psi_F),   d l_i / d psi_c = 0 for c != c(i).
#ifndef GLAMM_FAMILY_MIXED_H
#define GLAMM_FAMILY_MIXED_H

#include <memory>
#include <vector>

#include "family.h"

namespace glamm {

// families and links: the codes (codes.h) of each family. Throws
// std::invalid_argument for families that take vector responses or
// categories (ordinal, multinomial).
std::unique_ptr<Family> make_mixed_family(const std::vector<int>& families,
                                          const std::vector<int>& links);

}  // namespace glamm

#endif
