// The baseline-category (multinomial) logit. A unit is one observation with
// C categories: d = C - 1 rows, row c holding eta_c (the baseline's eta is 0)
// and y_c = 1 when the observation is in category c (all 0: the baseline).
// With p = softmax(0, eta) over the d non-baseline categories and the prior
// weight w (the unit's first row):
//   l   = w (sum_c y_c eta_c - log(1 + sum_c exp eta_c)),
//   g   = w (y - p),
//   W   = -Hess l = w (diag p - p p'),
//   r_c = sum_ab S_ab d^3 l / deta_a deta_b deta_c
//       = -w p_c [S_cc - p' diag(S) - 2 (S p)_c + 2 p' S p]   (S symmetric).
// Two categories (d = 1) are the binary logit's scalar rows:
//   l'' = -w p (1 - p),  l''' = l'' (1 - 2 p).
#include "multinomial.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace glamm {

namespace {

const int MAX_CATEGORIES = 32;

// p (d) and log(1 + sum exp eta), computed stably (shifted by the largest
// eta only when an exp could overflow).
double softmax(const double* eta, int d, double* p) {
  double mx = 0.0;
  for (int c = 0; c < d; ++c) mx = std::max(mx, eta[c]);
  if (mx < 300.0) {
    double sum = 1.0;
    for (int c = 0; c < d; ++c) {
      p[c] = std::exp(eta[c]);
      sum += p[c];
    }
    const double inv = 1.0 / sum;
    for (int c = 0; c < d; ++c) p[c] *= inv;
    return std::log(sum);
  }
  double sum = std::exp(-mx);
  for (int c = 0; c < d; ++c) {
    p[c] = std::exp(eta[c] - mx);
    sum += p[c];
  }
  for (int c = 0; c < d; ++c) p[c] /= sum;
  return mx + std::log(sum);
}

}  // namespace

double multinomial_unit(const double* y, double w, const double* eta, int d, double* g,
                        double* W, const double* S, double* r) {
  double p[MAX_CATEGORIES];
  const double lse = softmax(eta, d, p);
  double l = -lse;
  for (int c = 0; c < d; ++c) l += y[c] * eta[c];
  if (g)
    for (int c = 0; c < d; ++c) g[c] = w * (y[c] - p[c]);
  if (W)
    for (int b = 0; b < d; ++b)
      for (int a = 0; a < d; ++a) W[a + b * d] = w * ((a == b ? p[a] : 0.0) - p[a] * p[b]);
  if (S && r) {
    double Sp[MAX_CATEGORIES], pdiag = 0.0, pSp = 0.0;
    for (int a = 0; a < d; ++a) {
      Sp[a] = 0.0;
      for (int b = 0; b < d; ++b) Sp[a] += S[a + b * d] * p[b];
      pdiag += p[a] * S[a + a * d];
      pSp += p[a] * Sp[a];
    }
    for (int c = 0; c < d; ++c)
      r[c] = -w * p[c] * (S[c + c * d] - pdiag - 2.0 * Sp[c] + 2.0 * pSp);
  }
  return w * l;
}

namespace {

class Multinomial : public Family {
 public:
  explicit Multinomial(int d) : d_(d) {}
  int unit_size() const override { return d_; }
  double value_d1(Responses r, const double* eta, int m, double* d1) const override {
    double sum = 0.0;
    for (int s = 0; s < m; s += d_) sum += multinomial_unit(r.y + s, r[s].w, eta + s, d_,
                                                            d1 + s, nullptr, nullptr, nullptr);
    return sum;
  }
  // Two categories (d = 1) are scalar units: the engine asks for l'' and l'''.
  double derivs(Responses r, const double* eta, int m, double* d1, double* d2,
                double* d3) const override {
    if (d_ != 1) throw std::logic_error("the multinomial family has units of several rows");
    double sum = 0.0;
    for (int i = 0; i < m; ++i) {
      const double w = r[i].w;
      double p;
      sum += multinomial_unit(r.y + i, w, eta + i, 1, d1 + i, nullptr, nullptr, nullptr);
      softmax(eta + i, 1, &p);
      d2[i] = -w * p * (1.0 - p);
      d3[i] = d2[i] * (1.0 - 2.0 * p);
    }
    return sum;
  }
  double unit_derivs(Responses r, const double* eta, int m, double* d1,
                     double* W) const override {
    double sum = 0.0;
    for (int s = 0; s < m; s += d_) sum += multinomial_unit(r.y + s, r[s].w, eta + s, d_,
                                                            d1 + s, W + s * d_, nullptr, nullptr);
    return sum;
  }
  void unit_third(Responses r, const double* eta, int m, const double* S,
                  double* out) const override {
    for (int s = 0; s < m; s += d_)
      multinomial_unit(r.y + s, r[s].w, eta + s, d_, nullptr, nullptr, S + s * d_, out + s);
  }

 private:
  int d_;
};

}  // namespace

std::unique_ptr<Family> make_multinomial(int n_categories) {
  if (n_categories < 2 || n_categories > MAX_CATEGORIES + 1)
    throw std::invalid_argument("the multinomial family needs 2 to 33 categories");
  return std::unique_ptr<Family>(new Multinomial(n_categories - 1));
}

}  // namespace glamm
