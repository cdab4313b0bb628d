// Families: log f(y | eta) and derivatives in eta (see family.h for formulas).
// Binomial links are written through log mu(eta) and log(1 - mu(eta))
// (links.h) so that both tails stay finite.
#include "family.h"
#include "codes.h"
#include "family_gamma_nb.h"
#include "links.h"
#include "multinomial.h"
#include "ordinal.h"

#include <cmath>
#include <stdexcept>

namespace glamm {

namespace {

class Gaussian : public FamilyRows<Gaussian> {
 public:
  int n_extra() const override { return 1; }
  void set_extra(const double* psi) override {
    log_sigma_ = psi[0];
    inv_var_ = std::exp(-2.0 * psi[0]);
  }
  double one_value_d1(const Response& r, double eta, double* d1) const {
    double res = r.y - eta;
    *d1 = r.w * res * inv_var_;
    return norm(r) - 0.5 * r.w * res * res * inv_var_;
  }
  Derivs one_derivs(const Response& r, double eta) const {
    double res = r.y - eta;
    return {norm(r) - 0.5 * r.w * res * res * inv_var_, r.w * res * inv_var_, -r.w * inv_var_, 0.0};
  }
  void extra_value(const Response& r, double eta, double weight, double* acc) const override {
    double res = r.y - eta;
    acc[0] += weight * (r.w * res * res * inv_var_ - (r.w > 0 ? 1.0 : 0.0));
  }
  void extra_derivs(const Response& r, double eta, double* dl, double* dd1,
                    double* dd2) const override {
    double res = r.y - eta;
    dl[0] = r.w * res * res * inv_var_ - (r.w > 0 ? 1.0 : 0.0);
    dd1[0] = -2.0 * r.w * res * inv_var_;
    dd2[0] = 2.0 * r.w * inv_var_;
  }

 private:
  double norm(const Response& r) const { return r.w > 0 ? -LOG_SQRT_2PI - log_sigma_ : 0.0; }
  double log_sigma_ = 0.0, inv_var_ = 1.0;
};

class Poisson : public FamilyRows<Poisson> {
 public:
  double one_value_d1(const Response& r, double eta, double* d1) const {
    double mu = std::exp(eta);
    *d1 = r.w * (r.y - mu);
    return r.w * (r.y * eta - mu);
  }
  Derivs one_derivs(const Response& r, double eta) const {
    double mu = std::exp(eta);
    return {r.w * (r.y * eta - mu), r.w * (r.y - mu), -r.w * mu, -r.w * mu};
  }
};

class BinomialLogit : public FamilyRows<BinomialLogit> {
 public:
  double one_value_d1(const Response& r, double eta, double* d1) const {
    double mu, sp;
    mu_softplus(eta, &mu, &sp);
    *d1 = r.w * (r.y - r.n * mu);
    return r.w * (r.y * eta - r.n * sp);
  }
  Derivs one_derivs(const Response& r, double eta) const {
    double mu, sp;
    mu_softplus(eta, &mu, &sp);
    double v = mu * (1.0 - mu);
    return {r.w * (r.y * eta - r.n * sp), r.w * (r.y - r.n * mu), -r.w * r.n * v,
            -r.w * r.n * v * (1.0 - 2.0 * mu)};
  }

 private:
  // mu = 1 / (1 + exp(-eta)) and softplus(eta) = log(1 + exp(eta)) from one
  // exp. With e in (0, 1], log(1 + e) has an absolute error below 1.2e-16
  // (as good as log1p for a sum of log-likelihood terms) and is much faster.
  static void mu_softplus(double eta, double* mu, double* sp) {
    double e = std::exp(-std::fabs(eta));
    *sp = (eta > 0 ? eta : 0.0) + std::log(1.0 + e);
    *mu = eta >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
  }
};

// Binomial with a link given by log mu and log(1 - mu) as functions of eta.
class BinomialGeneral : public FamilyRows<BinomialGeneral> {
 public:
  explicit BinomialGeneral(int link) : link_(link) {}
  double one_value_d1(const Response& r, double eta, double* d1) const {
    Derivs d = one_derivs(r, eta);
    *d1 = d.d1;
    return d.l;
  }
  Derivs one_derivs(const Response& r, double eta) const {
    D3 p1 = log_cdf(link_, eta), p0 = log_sf(link_, eta);
    double f = r.n - r.y;
    // Terms with a zero count are dropped so that 0 * (-inf) never occurs.
    auto comb = [&](double a, double b) {
      return r.w * ((r.y > 0 ? r.y * a : 0.0) + (f > 0 ? f * b : 0.0));
    };
    return {comb(p1.v, p0.v), comb(p1.d1, p0.d1), comb(p1.d2, p0.d2), comb(p1.d3, p0.d3)};
  }

 private:
  int link_;
};

}  // namespace

std::unique_ptr<Family> make_family(int family, int link, int n_categories) {
  if (family == FAMILY_ORDINAL) return make_ordinal(link, n_categories);
  if (family == FAMILY_MULTINOMIAL) return make_multinomial(n_categories);
  if (family == FAMILY_GAMMA) return make_gamma(link);
  if (family == FAMILY_NBINOM2) return make_nbinom2(link);
  if (family == FAMILY_GAUSSIAN && link == LINK_IDENTITY) return std::unique_ptr<Family>(new Gaussian());
  if (family == FAMILY_POISSON && link == LINK_LOG) return std::unique_ptr<Family>(new Poisson());
  if (family == FAMILY_BINOMIAL) {
    if (link == LINK_LOGIT) return std::unique_ptr<Family>(new BinomialLogit());
    if (link == LINK_PROBIT || link == LINK_CLOGLOG)
      return std::unique_ptr<Family>(new BinomialGeneral(link));
  }
  throw std::invalid_argument("unsupported family/link combination");
}

}  // namespace glamm
