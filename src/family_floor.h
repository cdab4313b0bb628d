// The arithmetic floor of an engine pass (bench/pass.R, issue 14 item 5): the
// family's log-density and first derivative at n rows x K nodes,
//   F = sum_k sum_i l(y_i, eta_i + s_k),
// through the same batch call (Family::value_d1) the integrators make at
// each quadrature node, with nothing else: no mode search, no curvature, no
// posterior weights, no adjoints.
#ifndef GLAMM_FAMILY_FLOOR_H
#define GLAMM_FAMILY_FLOOR_H

#include "family.h"

namespace glamm {

// y: n responses (trials, prior and power weights 1); eta: n values; shift:
// K node offsets. Returns F; d1 is written to a buffer of n values.
double family_floor(const Family& family, const double* y, const double* eta, int n,
                    const double* shift, int K);

}  // namespace glamm

#endif
