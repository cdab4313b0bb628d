// Distributions of the latent residual behind the binary and ordinal links:
// logistic (logit), standard normal (probit), minimum extreme value
// (cloglog, F(x) = 1 - exp(-exp(x))).
//
//   log F(x), log(1 - F(x)) with three derivatives in x (stable in both tails);
//   F, 1 - F, the density f and its derivatives f', f''.
#ifndef GLAMM_LINKS_H
#define GLAMM_LINKS_H

namespace glamm {

const double LOG_SQRT_2PI = 0.918938533204672741780329736406;  // log(sqrt(2 pi))

// A function of x with three derivatives.
struct D3 {
  double v, d1, d2, d3;
};

D3 log_cdf(int link, double x);  // log F(x)
D3 log_sf(int link, double x);   // log(1 - F(x))

struct Dist {
  double F, Fbar, f, f1, f2;
};

Dist link_dist(int link, double x);

}  // namespace glamm

#endif
