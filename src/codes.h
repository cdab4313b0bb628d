// Integer codes shared by R and C++. This header is the single source of
// truth: R reads the table through cpp_codes() (see R/family.R), so the two
// sides cannot drift apart.
#ifndef GLAMM_CODES_H
#define GLAMM_CODES_H

namespace glamm {

enum FamilyCode { FAMILY_GAUSSIAN = 1, FAMILY_BINOMIAL = 2, FAMILY_POISSON = 3, FAMILY_ORDINAL = 4,
                  FAMILY_GAMMA = 5, FAMILY_NBINOM2 = 6, FAMILY_MULTINOMIAL = 7 };

enum LinkCode { LINK_IDENTITY = 1, LINK_LOGIT = 2, LINK_PROBIT = 3,
                LINK_CLOGLOG = 4, LINK_LOG = 5, LINK_INVERSE = 6 };

}  // namespace glamm

#endif
