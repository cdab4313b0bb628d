// Latent-residual distributions of the logit, probit and cloglog links; see
// links.h. Formulas, with F the distribution function and f its density:
//   logit:   F = 1 / (1 + e^-x),  f = F (1 - F),  f' = f (1 - 2F),  f'' = f (1 - 6F + 6F^2)
//   probit:  F = Phi,  f = phi,  f' = -x phi,  f'' = (x^2 - 1) phi
//   cloglog: F = 1 - exp(-t), t = e^x,  f = t e^-t,  f' = f (1 - t),  f'' = f ((1 - t)^2 - t)
// log Phi uses the Mills ratio m = phi / Phi: (log Phi)' = m, '' = -m (x + m),
// ''' = -m'(x + m) - m (1 + m'), with an asymptotic series below x = -30.
#include "links.h"

#include <cmath>

#include "codes.h"

namespace glamm {

namespace {

D3 log_pnorm(double x) {
  double lp, m;
  if (x > -30.0) {
    double Phi = 0.5 * std::erfc(-x / std::sqrt(2.0));
    lp = std::log(Phi);
    m = std::exp(-0.5 * x * x - LOG_SQRT_2PI - lp);
  } else {
    double x2 = x * x;
    double s = 1.0 - 1.0 / x2 + 3.0 / (x2 * x2) - 15.0 / (x2 * x2 * x2);
    lp = -0.5 * x2 - LOG_SQRT_2PI - std::log(-x) + std::log(s);
    m = -x / s;
  }
  double d2 = -m * (x + m);
  double d3 = -d2 * (x + m) - m * (1.0 + d2);
  return {lp, m, d2, d3};
}

// x >= 0: F = 1 / (1 + e), else F = e / (1 + e), with e = exp(-|x|).
void logistic(double x, double* F, double* Fbar) {
  double e = std::exp(-std::fabs(x));
  *F = x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
  *Fbar = x >= 0 ? e / (1.0 + e) : 1.0 / (1.0 + e);
}

double clamp_exp(double x) { return std::exp(x > 700.0 ? 700.0 : x); }

}  // namespace

D3 log_cdf(int link, double x) {
  if (link == LINK_PROBIT) return log_pnorm(x);
  if (link == LINK_CLOGLOG) {
    double t = clamp_exp(x);
    double r = t / std::expm1(t);
    double d2 = r * (1.0 - t - r);
    return {std::log(-std::expm1(-t)), r, d2, d2 * (1.0 - t - 2.0 * r) - r * t};
  }
  double F, Fbar;
  logistic(x, &F, &Fbar);
  double f = F * Fbar;
  double sp = (x < 0 ? -x : 0.0) + std::log(1.0 + std::exp(-std::fabs(x)));  // softplus(-x)
  return {-sp, Fbar, -f, -f * (1.0 - 2.0 * F)};
}

D3 log_sf(int link, double x) {
  if (link == LINK_PROBIT) {
    D3 m = log_pnorm(-x);
    return {m.v, -m.d1, m.d2, -m.d3};
  }
  if (link == LINK_CLOGLOG) {
    double t = clamp_exp(x);
    return {-t, -t, -t, -t};
  }
  double F, Fbar;
  logistic(x, &F, &Fbar);
  double f = F * Fbar;
  double sp = (x > 0 ? x : 0.0) + std::log(1.0 + std::exp(-std::fabs(x)));  // softplus(x)
  return {-sp, -F, -f, -f * (1.0 - 2.0 * F)};
}

Dist link_dist(int link, double x) {
  Dist d;
  if (link == LINK_PROBIT) {
    d.F = 0.5 * std::erfc(-x / std::sqrt(2.0));
    d.Fbar = 0.5 * std::erfc(x / std::sqrt(2.0));
    d.f = std::exp(-0.5 * x * x - LOG_SQRT_2PI);
    d.f1 = -x * d.f;
    d.f2 = (x * x - 1.0) * d.f;
  } else if (link == LINK_CLOGLOG) {
    double t = clamp_exp(x);
    d.Fbar = std::exp(-t);
    d.F = -std::expm1(-t);
    d.f = t * d.Fbar;
    d.f1 = d.f * (1.0 - t);
    d.f2 = d.f * ((1.0 - t) * (1.0 - t) - t);
  } else {
    logistic(x, &d.F, &d.Fbar);
    d.f = d.F * d.Fbar;
    d.f1 = d.f * (1.0 - 2.0 * d.F);
    d.f2 = d.f * (1.0 - 6.0 * d.F + 6.0 * d.F * d.F);
  }
  return d;
}

}  // namespace glamm
