// The arithmetic floor of an engine pass: see family_floor.h.
#include "family_floor.h"

#include <vector>

namespace glamm {

double family_floor(const Family& family, const double* y, const double* eta, int n,
                    const double* shift, int K) {
  const double one = 1.0;
  Responses r;
  r.y = y;
  r.n = r.w = r.p = &one;
  r.n_step = r.w_step = r.p_step = 0;
  std::vector<double> eta_node(n), d1(n);
  double total = 0.0;
  for (int k = 0; k < K; ++k) {
    for (int i = 0; i < n; ++i) eta_node[i] = eta[i] + shift[k];
    total += family.value_d1(r, eta_node.data(), n, d1.data());
  }
  return total;
}

}  // namespace glamm
