// A family per row (family_mixed.h): each batch call is split into the runs
// of consecutive rows of one family, and each run goes to its family's own
// batch call; the extra parameters of family c sit at offset_[c] in psi.
#include "family_mixed.h"

#include <stdexcept>

#include "codes.h"

namespace glamm {

namespace {

class MixedFamily : public Family {
 public:
  explicit MixedFamily(std::vector<std::unique_ptr<Family> > parts) : parts_(std::move(parts)) {
    int at = 0;
    for (const auto& f : parts_) {
      offset_.push_back(at);
      at += f->n_extra();
    }
    n_extra_ = at;
  }
  int n_extra() const override { return n_extra_; }
  void set_extra(const double* psi) override {
    for (std::size_t c = 0; c < parts_.size(); ++c) parts_[c]->set_extra(psi + offset_[c]);
  }
  double value_d1(Responses r, const double* eta, int m, double* d1) const override {
    double sum = 0.0;
    for (int i = 0; i < m;) {
      const int c = r.family[i], end = run_end(r, i, m);
      sum += parts_[c]->value_d1(r + i, eta + i, end - i, d1 + i);
      i = end;
    }
    return sum;
  }
  double derivs(Responses r, const double* eta, int m, double* d1, double* d2,
                double* d3) const override {
    double sum = 0.0;
    for (int i = 0; i < m;) {
      const int c = r.family[i], end = run_end(r, i, m);
      sum += parts_[c]->derivs(r + i, eta + i, end - i, d1 + i, d2 + i, d3 + i);
      i = end;
    }
    return sum;
  }
  void extra_value(const Response& r, double eta, double weight, double* acc) const override {
    parts_[r.family]->extra_value(r, eta, weight, acc + offset_[r.family]);
  }
  void extra_derivs(const Response& r, double eta, double* dl, double* dd1,
                    double* dd2) const override {
    for (int j = 0; j < n_extra_; ++j) dl[j] = dd1[j] = dd2[j] = 0.0;
    const int at = offset_[r.family];
    parts_[r.family]->extra_derivs(r, eta, dl + at, dd1 + at, dd2 + at);
  }

 private:
  static int run_end(const Responses& r, int i, int m) {
    int end = i + 1;
    while (end < m && r.family[end] == r.family[i]) ++end;
    return end;
  }
  std::vector<std::unique_ptr<Family> > parts_;
  std::vector<int> offset_;
  int n_extra_ = 0;
};

}  // namespace

std::unique_ptr<Family> make_mixed_family(const std::vector<int>& families,
                                          const std::vector<int>& links) {
  if (families.size() != links.size() || families.empty())
    throw std::invalid_argument("one link per family is needed");
  std::vector<std::unique_ptr<Family> > parts;
  for (std::size_t c = 0; c < families.size(); ++c) {
    if (families[c] == FAMILY_ORDINAL || families[c] == FAMILY_MULTINOMIAL)
      throw std::invalid_argument("ordinal and multinomial families cannot be mixed with others");
    parts.push_back(make_family(families[c], links[c], 0));
  }
  return std::unique_ptr<Family>(new MixedFamily(std::move(parts)));
}

}  // namespace glamm
