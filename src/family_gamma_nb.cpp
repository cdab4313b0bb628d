// Gamma and negative binomial (NB2) families, per observation with prior
// weight w (see family.h for the interface).
//
//   Gamma, mean mu = h(eta), shape a = w nu, nu = exp(psi) (psi = log shape, as
//   glmmTMB's dispersion parameter; its sigma() is 1/sqrt(nu), the CV):
//     l = a log a - lgamma(a) + a log y - a log mu - a y / mu   (-log y added in R)
//     dl/dpsi = a [log a + 1 - digamma(a) + log y - log mu - y / mu];
//     l', l'' are a times functions of eta, so dl'/dpsi = l', dl''/dpsi = l''.
//     Links: log (mu = e^eta), inverse (mu = 1/eta) and identity (mu = eta); the
//     last two need eta > 0 (l = -inf otherwise). Rows with w = 0 carry nothing.
//   NB2, log link, theta = exp(psi), var = mu + mu^2 / theta; with x = eta - psi
//   (so mu / (theta + mu) = p = 1 / (1 + e^-x) and log(1 + mu/theta) = sp(x),
//   the softplus):
//     l = w [lgamma(y + theta) - lgamma(theta) + y x - (y + theta) sp(x)]
//                                                    (-w lgamma(y + 1) added in R)
//     l' = w [y - (y + theta) p],  l'' = -w (y + theta) p (1 - p),
//     l''' = l'' (1 - 2 p),
//     dl/dpsi = w [theta (digamma(y + theta) - digamma(theta)) - y + (y + theta) p
//                  - theta sp(x)],
//     dl'/dpsi = w [(y + theta) p (1 - p) - theta p],
//     dl''/dpsi = -w p (1 - p) [theta - (y + theta) (1 - 2 p)].
#include "family_gamma_nb.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "codes.h"

namespace glamm {

namespace {

// log Gamma(x) for x > 0 without the global sign variable of std::lgamma
// (written by glibc's lgamma: a data race when threads evaluate clusters).
double log_gamma(double x) {
#ifdef __GLIBC__
  int sign;
  return lgamma_r(x, &sign);
#else
  return std::lgamma(x);
#endif
}

// digamma(x) for x > 0: recurrence up to x >= 10, then the asymptotic series
// (truncation error below 3e-14 there).
double digamma(double x) {
  double shift = 0.0;
  for (; x < 10.0; x += 1.0) shift -= 1.0 / x;
  double f = 1.0 / (x * x);
  double tail = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
  return shift + std::log(x) - 0.5 / x - tail;
}

// digamma(y + theta) - digamma(theta): for a small whole y the exact sum
// of 1 / (theta + k), k < y (no cancellation when theta is large).
double digamma_diff(double y, double theta) {
  if (y < 50.0 && y == std::floor(y)) {
    double s = 0.0;
    for (int k = 0; k < static_cast<int>(y); ++k) s += 1.0 / (theta + k);
    return s;
  }
  return digamma(y + theta) - digamma(theta);
}

// lgamma(y + theta) - lgamma(theta): for a whole y below 16 the log of the
// product of theta + k, k < y (one log in place of two lgamma calls: this
// term is evaluated at every quadrature node), else by lgamma.
double lgamma_ratio(double y, double theta, double lgamma_theta) {
  if (y < 16.0 && theta < 1e15 && y == std::floor(y)) {
    double prod = 1.0;
    for (int k = 0; k < static_cast<int>(y); ++k) prod *= theta + k;
    return std::log(prod);
  }
  return log_gamma(y + theta) - lgamma_theta;
}

const double NEG_INF = -std::numeric_limits<double>::infinity();

// log mu, y/mu and the eta-derivatives of -log mu - y/mu for one link; ok is
// false where mu is not positive.
struct GammaTerms {
  bool ok;
  double log_mu, y_over_mu, d1, d2, d3;
};

class GammaFamily : public FamilyRows<GammaFamily> {
 public:
  explicit GammaFamily(int link) : link_(link) {}
  int n_extra() const override { return 1; }
  void set_extra(const double* psi) override {
    nu_ = std::exp(psi[0]);
    unit_norm_ = nu_ * std::log(nu_) - log_gamma(nu_);
  }
  double one_value_d1(const Response& r, double eta, double* d1) const {
    Derivs d = one_derivs(r, eta);
    *d1 = d.d1;
    return d.l;
  }
  Derivs one_derivs(const Response& r, double eta) const {
    if (r.w <= 0) return {0.0, 0.0, 0.0, 0.0};
    GammaTerms t = terms(r.y, eta);
    if (!t.ok) return {NEG_INF, 0.0, 0.0, 0.0};
    double a = r.w * nu_;
    return {norm(a) + a * (std::log(r.y) - t.log_mu - t.y_over_mu), a * t.d1, a * t.d2,
            a * t.d3};
  }
  void extra_value(const Response& r, double eta, double weight, double* acc) const override {
    if (r.w <= 0) return;
    GammaTerms t = terms(r.y, eta);
    if (t.ok) acc[0] += weight * dl_dpsi(r, t);
  }
  void extra_derivs(const Response& r, double eta, double* dl, double* dd1,
                    double* dd2) const override {
    dl[0] = dd1[0] = dd2[0] = 0.0;
    if (r.w <= 0) return;
    GammaTerms t = terms(r.y, eta);
    if (!t.ok) return;
    double a = r.w * nu_;
    dl[0] = dl_dpsi(r, t);
    dd1[0] = a * t.d1;
    dd2[0] = a * t.d2;
  }

 private:
  // a log a - lgamma(a), computed once per parameter value for unit weights.
  double norm(double a) const { return a == nu_ ? unit_norm_ : a * std::log(a) - log_gamma(a); }
  double dl_dpsi(const Response& r, const GammaTerms& t) const {
    double a = r.w * nu_;
    return a * (std::log(a) + 1.0 - digamma(a) + std::log(r.y) - t.log_mu - t.y_over_mu);
  }
  GammaTerms terms(double y, double eta) const {
    if (link_ == LINK_LOG) {
      double ym = y * std::exp(-eta);
      return {true, eta, ym, ym - 1.0, -ym, ym};
    }
    if (!(eta > 0)) return {false, 0.0, 0.0, 0.0, 0.0, 0.0};
    double inv = 1.0 / eta;
    if (link_ == LINK_INVERSE) {
      return {true, -std::log(eta), y * eta, inv - y, -inv * inv, 2.0 * inv * inv * inv};
    }
    double inv2 = inv * inv, inv3 = inv2 * inv;
    return {true, std::log(eta), y * inv, -inv + y * inv2, inv2 - 2.0 * y * inv3,
            -2.0 * inv3 + 6.0 * y * inv3 * inv};
  }
  int link_;
  double nu_ = 1.0, unit_norm_ = 0.0;
};

class NegativeBinomial2 : public FamilyRows<NegativeBinomial2> {
 public:
  int n_extra() const override { return 1; }
  void set_extra(const double* psi) override {
    log_theta_ = psi[0];
    theta_ = std::exp(psi[0]);
    lgamma_theta_ = log_gamma(theta_);
  }
  double one_value_d1(const Response& r, double eta, double* d1) const {
    double p, sp;
    p_softplus(eta - log_theta_, &p, &sp);
    *d1 = r.w * (r.y - (r.y + theta_) * p);
    return value(r, eta, sp);
  }
  Derivs one_derivs(const Response& r, double eta) const {
    double p, sp;
    p_softplus(eta - log_theta_, &p, &sp);
    double d2 = -r.w * (r.y + theta_) * p * (1.0 - p);
    return {value(r, eta, sp), r.w * (r.y - (r.y + theta_) * p), d2, d2 * (1.0 - 2.0 * p)};
  }
  void extra_value(const Response& r, double eta, double weight, double* acc) const override {
    double p, sp;
    p_softplus(eta - log_theta_, &p, &sp);
    acc[0] += weight * dl_dpsi(r, p, sp);
  }
  void extra_derivs(const Response& r, double eta, double* dl, double* dd1,
                    double* dd2) const override {
    double p, sp;
    p_softplus(eta - log_theta_, &p, &sp);
    double yt = r.y + theta_, v = p * (1.0 - p);
    dl[0] = dl_dpsi(r, p, sp);
    dd1[0] = r.w * (yt * v - theta_ * p);
    dd2[0] = -r.w * v * (theta_ - yt * (1.0 - 2.0 * p));
  }

 private:
  double value(const Response& r, double eta, double sp) const {
    double lg = r.y > 0 ? lgamma_ratio(r.y, theta_, lgamma_theta_) : 0.0;
    return r.w * (lg + r.y * (eta - log_theta_) - (r.y + theta_) * sp);
  }
  double dl_dpsi(const Response& r, double p, double sp) const {
    return r.w * (theta_ * digamma_diff(r.y, theta_) - r.y + (r.y + theta_) * p - theta_ * sp);
  }
  // p = 1 / (1 + e^-x) and sp = log(1 + e^x), stable in both tails.
  static void p_softplus(double x, double* p, double* sp) {
    double e = std::exp(-std::fabs(x));
    *sp = (x > 0 ? x : 0.0) + std::log1p(e);
    *p = x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
  }
  double log_theta_ = 0.0, theta_ = 1.0, lgamma_theta_ = 0.0;
};

}  // namespace

std::unique_ptr<Family> make_gamma(int link) {
  if (link != LINK_LOG && link != LINK_INVERSE && link != LINK_IDENTITY) {
    throw std::invalid_argument("the Gamma family takes the log, inverse or identity link");
  }
  return std::unique_ptr<Family>(new GammaFamily(link));
}

std::unique_ptr<Family> make_nbinom2(int link) {
  if (link != LINK_LOG) throw std::invalid_argument("the nbinom2 family takes the log link");
  return std::unique_ptr<Family>(new NegativeBinomial2());
}

}  // namespace glamm
