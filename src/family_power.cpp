// Power-weighted family (survey weights of the rows):
//   l_i = p_i log f(y_i | eta_i),   d^k l_i / d eta^k = p_i d^k log f / d eta^k,
//   d l_i / d psi = p_i d log f / d psi   (and likewise for d1, d2 in psi).
// The wrapped family is called one row at a time (one virtual call per row:
// only weighted fits pay for it).
#include "family_power.h"

#include <utility>

namespace glamm {

namespace {

class PowerWeighted : public Family {
 public:
  explicit PowerWeighted(std::unique_ptr<Family> f) : f_(std::move(f)) {}
  int n_extra() const override { return f_->n_extra(); }
  void set_extra(const double* psi) override { f_->set_extra(psi); }
  double value_d1(Responses r, const double* eta, int m, double* d1) const override {
    double sum = 0.0;
    for (int i = 0; i < m; ++i) {
      const double p = r.p[i * r.p_step];
      if (p == 0.0) {
        d1[i] = 0.0;
        continue;
      }
      sum += p * f_->value_d1(r + i, eta + i, 1, d1 + i);
      d1[i] *= p;
    }
    return sum;
  }
  double derivs(Responses r, const double* eta, int m, double* d1, double* d2,
                double* d3) const override {
    double sum = 0.0;
    for (int i = 0; i < m; ++i) {
      const double p = r.p[i * r.p_step];
      if (p == 0.0) {
        d1[i] = d2[i] = d3[i] = 0.0;
        continue;
      }
      sum += p * f_->derivs(r + i, eta + i, 1, d1 + i, d2 + i, d3 + i);
      d1[i] *= p;
      d2[i] *= p;
      d3[i] *= p;
    }
    return sum;
  }
  void extra_value(const Response& r, double eta, double weight, double* acc) const override {
    if (r.p != 0.0) f_->extra_value(r, eta, weight * r.p, acc);
  }
  void extra_derivs(const Response& r, double eta, double* dl, double* dd1,
                    double* dd2) const override {
    f_->extra_derivs(r, eta, dl, dd1, dd2);
    for (int j = 0; j < f_->n_extra(); ++j) {
      dl[j] *= r.p;
      dd1[j] *= r.p;
      dd2[j] *= r.p;
    }
  }

 private:
  std::unique_ptr<Family> f_;
};

}  // namespace

std::unique_ptr<Family> make_power_weighted(std::unique_ptr<Family> family) {
  return std::unique_ptr<Family>(new PowerWeighted(std::move(family)));
}

}  // namespace glamm
