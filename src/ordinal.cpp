// Cumulative link family: P(Y <= c) = F(tau_c - eta), c = 1..C-1, with
// ordered thresholds tau (the extra parameters) and tau_0 = -inf, tau_C = inf.
// For category c (the response y = c, prior weight w):
//   l = w log P,  P = F(tau_c - eta) - F(tau_{c-1} - eta),
//   l' = P'/P,  l'' = P''/P - (P'/P)^2,  l''' = P'''/P - 3 P' P''/P^2 + 2 (P'/P)^3,
// with P' = -(f(a) - f(b)), P'' = f'(a) - f'(b), P''' = -(f''(a) - f''(b)) for
// a = tau_c - eta, b = tau_{c-1} - eta. The end categories use log F and
// log(1 - F) directly (links.h). Threshold derivatives: for d = d/dtau,
//   dl = dP/P,  dl' = dP'/P - (P'/P) dl,  dl'' = dP''/P - (P''/P) dl - 2 (P'/P) dl'.
#include "ordinal.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "links.h"

namespace glamm {

namespace {

// Derivatives of l in eta and, for the (at most two) thresholds it involves,
// in each threshold: index, dl, dl', dl''.
struct OrdinalRow {
  Derivs eta;
  int idx[2];
  double dl[2], dd1[2], dd2[2];
  int n_tau;
};

class Ordinal : public FamilyRows<Ordinal> {
 public:
  Ordinal(int link, int n_categories) : link_(link), tau_(n_categories - 1, 0.0) {}
  int n_extra() const override { return static_cast<int>(tau_.size()); }
  void set_extra(const double* psi) override { tau_.assign(psi, psi + tau_.size()); }

  double one_value_d1(const Response& r, double eta, double* d1) const {
    OrdinalRow o = row(r, eta);
    *d1 = o.eta.d1;
    return o.eta.l;
  }
  Derivs one_derivs(const Response& r, double eta) const { return row(r, eta).eta; }
  void extra_value(const Response& r, double eta, double weight, double* acc) const override {
    OrdinalRow o = row(r, eta);
    for (int t = 0; t < o.n_tau; ++t) acc[o.idx[t]] += weight * o.dl[t];
  }
  void extra_derivs(const Response& r, double eta, double* dl, double* dd1,
                    double* dd2) const override {
    for (size_t t = 0; t < tau_.size(); ++t) dl[t] = dd1[t] = dd2[t] = 0.0;
    OrdinalRow o = row(r, eta);
    for (int t = 0; t < o.n_tau; ++t) {
      dl[o.idx[t]] = o.dl[t];
      dd1[o.idx[t]] = o.dd1[t];
      dd2[o.idx[t]] = o.dd2[t];
    }
  }

 private:
  OrdinalRow row(const Response& r, double eta) const {
    const int C = static_cast<int>(tau_.size()) + 1;
    const int c = static_cast<int>(r.y);
    const double w = r.w;
    OrdinalRow o;
    if (c == 1 || c == C) {
      // One threshold: l = log F(a) (c = 1) or log(1 - F(b)) (c = C); the
      // derivative in eta is minus the derivative in the argument.
      D3 L = c == 1 ? log_cdf(link_, tau_[0] - eta) : log_sf(link_, tau_[C - 2] - eta);
      o.eta = {w * L.v, -w * L.d1, w * L.d2, -w * L.d3};
      o.n_tau = 1;
      o.idx[0] = c == 1 ? 0 : C - 2;
      o.dl[0] = w * L.d1;
      o.dd1[0] = -w * L.d2;
      o.dd2[0] = w * L.d3;
      return o;
    }
    Dist A = link_dist(link_, tau_[c - 1] - eta), B = link_dist(link_, tau_[c - 2] - eta);
    // Both arguments in the upper tail: difference of survival functions.
    double P = (tau_[c - 1] + tau_[c - 2] - 2.0 * eta > 0) ? B.Fbar - A.Fbar : A.F - B.F;
    double P1 = -(A.f - B.f), P2 = A.f1 - B.f1, P3 = -(A.f2 - B.f2);
    double r1 = P1 / P, r2 = P2 / P;
    o.eta = {w * std::log(P), w * r1, w * (r2 - r1 * r1),
             w * (P3 / P - 3.0 * r1 * r2 + 2.0 * r1 * r1 * r1)};
    o.n_tau = 2;
    const double dP[2] = {A.f, -B.f}, dP1[2] = {-A.f1, B.f1}, dP2[2] = {A.f2, -B.f2};
    for (int t = 0; t < 2; ++t) {
      o.idx[t] = c - 1 - t;
      double dl = dP[t] / P;
      double dd1 = dP1[t] / P - r1 * dl;
      o.dl[t] = w * dl;
      o.dd1[t] = w * dd1;
      o.dd2[t] = w * (dP2[t] / P - r2 * dl - 2.0 * r1 * dd1);
    }
    return o;
  }

  int link_;
  std::vector<double> tau_;
};

}  // namespace

std::unique_ptr<Family> make_ordinal(int link, int n_categories) {
  if (n_categories < 2) throw std::invalid_argument("an ordinal response needs >= 2 categories");
  return std::unique_ptr<Family>(new Ordinal(link, n_categories));
}

}  // namespace glamm
