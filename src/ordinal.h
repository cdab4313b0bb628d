// Cumulative (proportional-odds) family for an ordered response with C
// categories; see ordinal.cpp.
#ifndef GLAMM_ORDINAL_H
#define GLAMM_ORDINAL_H

#include <memory>

#include "family.h"

namespace glamm {

std::unique_ptr<Family> make_ordinal(int link, int n_categories);

}  // namespace glamm

#endif
