// Response families: log f(y | eta) and its first three derivatives in eta,
// per observation, plus derivatives in any extra parameter psi.
//
//   binomial  (y successes of n trials, prior weight w):
//       l = w [ y log mu(eta) + (n - y) log(1 - mu(eta)) ]     (log choose(n, y) added in R)
//   poisson   l = w [ y eta - exp(eta) ]                        (-w log y! added in R)
//   gaussian  l = [w > 0] (-log(2 pi)/2 - psi) - w (y - eta)^2 / (2 exp(2 psi))
//             (psi = log sigma; w log(w)/2 added in R)
//   Gamma, nbinom2: family_gamma_nb.cpp
// A row's pseudo-likelihood power weight p (survey weights) multiplies its
// whole log f: see family_power.h.
#ifndef GLAMM_FAMILY_H
#define GLAMM_FAMILY_H

#include <memory>

namespace glamm {

// One observation's response: y, trials n (binomial), prior weight w,
// power weight p (1 unless survey weights are given) and, in a model with a
// family per row (family_mixed.h), the index of the row's family.
struct Response {
  double y, n, w, p;
  int family = 0;
};

// The responses of a block of rows, read in place from three columns (R's
// vectors): r[i] is row i of the block, r + s the block from its row s on.
// Trials and weights that are 1 on every row are one value read with step 0.
// The rows' family indices are read from `family` (nullptr: 0 on every row).
struct Responses {
  const double *y = nullptr, *n = nullptr, *w = nullptr, *p = nullptr;
  int n_step = 1, w_step = 1, p_step = 1;
  const int* family = nullptr;
  Response operator[](int i) const {
    return {y[i], n[i * n_step], w[i * w_step], p[i * p_step], family ? family[i] : 0};
  }
  Responses operator+(int s) const {
    return {y + s, n + s * n_step, w + s * w_step, p + s * p_step, n_step, w_step, p_step,
            family ? family + s : nullptr};
  }
  Responses from(int s) const { return *this + s; }
};

// Derivatives of log f in eta at one point.
struct Derivs {
  double l, d1, d2, d3;
};

// The engine's view of a family: batch calls over the rows of one cluster,
// so that there is one virtual call per cluster and node, not per row.
class Family {
 public:
  virtual ~Family() {}
  // Number of extra parameters (e.g. the log residual SD of the gaussian).
  virtual int n_extra() const { return 0; }
  virtual void set_extra(const double* /*psi*/) {}
  // Sum over m rows of log f; fills d1 (used at every quadrature node).
  virtual double value_d1(Responses r, const double* eta, int m, double* d1) const = 0;
  // Sum over m rows of log f; fills d1, d2, d3 (used at the mode).
  virtual double derivs(Responses r, const double* eta, int m, double* d1, double* d2,
                        double* d3) const = 0;
  // d/dpsi of l at one row (at a node): adds weight * dl/dpsi_j into acc[j].
  virtual void extra_value(const Response& /*r*/, double /*eta*/, double /*weight*/,
                           double* /*acc*/) const {}
  // d/dpsi of l, d1 and d2 at one row (at the mode), each of length n_extra().
  virtual void extra_derivs(const Response& /*r*/, double /*eta*/, double* /*dl*/,
                            double* /*dd1*/, double* /*dd2*/) const {}
  // Vector families (multinomial.h): a response unit is unit_size() = d
  // consecutive rows, and the engine asks unit_derivs and unit_third in
  // place of derivs (m is a multiple of d). unit_derivs fills d1 (m) and W
  // (d x m: columns [s, s + d) hold the symmetric block -Hess l of the unit
  // starting at row s); unit_third fills out (m) with each unit's
  // r_c = sum_ab S_ab d^3 l / deta_a deta_b deta_c, S laid out as W.
  virtual int unit_size() const { return 1; }
  virtual double unit_derivs(Responses /*r*/, const double* /*eta*/, int /*m*/, double* /*d1*/,
                             double* /*W*/) const {
    return 0.0;
  }
  virtual void unit_third(Responses /*r*/, const double* /*eta*/, int /*m*/,
                          const double* /*S*/, double* /*out*/) const {}
};

// Implements the batch calls from a family's inline per-row functions
// one_value_d1(r, eta, &d1) and one_derivs(r, eta) (CRTP).
template <class F>
class FamilyRows : public Family {
 public:
  double value_d1(Responses r, const double* eta, int m, double* d1) const override {
    const F& f = static_cast<const F&>(*this);
    double sum = 0.0;
    for (int i = 0; i < m; ++i) sum += f.one_value_d1(r[i], eta[i], d1 + i);
    return sum;
  }
  double derivs(Responses r, const double* eta, int m, double* d1, double* d2,
                double* d3) const override {
    const F& f = static_cast<const F&>(*this);
    double sum = 0.0;
    for (int i = 0; i < m; ++i) {
      Derivs d = f.one_derivs(r[i], eta[i]);
      sum += d.l;
      d1[i] = d.d1;
      d2[i] = d.d2;
      d3[i] = d.d3;
    }
    return sum;
  }
};

// Builds the family for integer codes (see codes.h); n_categories is the
// number of response categories of an ordinal family (else unused). Throws
// std::invalid_argument.
std::unique_ptr<Family> make_family(int family, int link, int n_categories);

}  // namespace glamm

#endif
