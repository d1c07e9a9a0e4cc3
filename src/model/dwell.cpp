#include "lcsim/model/dwell.hpp"

#include <algorithm>
#include <boost/math/distributions/gamma.hpp>
#include <boost/math/distributions/lognormal.hpp>
#include <boost/math/distributions/weibull.hpp>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

namespace lcsim {
namespace {

namespace bm = boost::math;
// No exceptions from Boost.Math inside the engine: overflow gives +inf; doubles stay doubles.
using Policy = bm::policies::policy<bm::policies::overflow_error<bm::policies::ignore_error>,
                                    bm::policies::promote_double<false>>;
using Lognormal = bm::lognormal_distribution<double, Policy>;
using Gamma = bm::gamma_distribution<double, Policy>;
using Weibull = bm::weibull_distribution<double, Policy>;

constexpr double kInf = std::numeric_limits<double>::infinity();

void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(what);
}

bool positive(double x) { return x > 0.0 && std::isfinite(x); }

/// d with survival S(d) = s for a Boost distribution (s in [0, 1]).
template <class Dist>
double survival_quantile(const Dist& dist, double s) {
  if (s <= 0.0) return kInf;
  if (s >= 1.0) return 0.0;
  return bm::quantile(bm::complement(dist, s));
}

template <class Dist>
double hazard_of(const Dist& dist, double d) {
  if (d <= 0.0) return 0.0;
  const double s = bm::cdf(bm::complement(dist, d));
  return s > 0.0 ? -std::log(s) : kInf;
}

/// Empirical quantile: linear interpolation through sorted values at p = i / (n - 1).
double empirical_quantile(const std::vector<double>& v, double p) {
  const double x = std::clamp(p, 0.0, 1.0) * static_cast<double>(v.size() - 1);
  const auto i = static_cast<std::size_t>(std::floor(x));
  if (i + 1 >= v.size()) return v.back();
  return v[i] + (x - static_cast<double>(i)) * (v[i + 1] - v[i]);
}

double empirical_cdf(const std::vector<double>& v, double d) {
  if (d < v.front()) return 0.0;
  if (d >= v.back()) return 1.0;
  auto it = std::upper_bound(v.begin(), v.end(), d);
  const auto j = static_cast<std::size_t>(it - v.begin());  // v[j-1] <= d < v[j]
  const double lo = v[j - 1];
  const double hi = v[j];
  const double frac = hi > lo ? (d - lo) / (hi - lo) : 1.0;
  return (static_cast<double>(j - 1) + frac) / static_cast<double>(v.size() - 1);
}

}  // namespace

const char* to_string(DwellFamily family) {
  switch (family) {
    case DwellFamily::kExponential: return "exponential";
    case DwellFamily::kWeibull: return "weibull";
    case DwellFamily::kLognormal: return "lognormal";
    case DwellFamily::kGamma: return "gamma";
    case DwellFamily::kFixed: return "fixed";
    case DwellFamily::kEmpirical: return "empirical";
  }
  return "?";
}

Dwell Dwell::exponential(double mean) {
  require(positive(mean), "exponential dwell: mean must be > 0");
  Dwell d;
  d.family_ = DwellFamily::kExponential;
  d.a_ = mean;
  return d;
}

Dwell Dwell::weibull(double shape, double scale) {
  require(positive(shape) && positive(scale), "weibull dwell: shape and scale must be > 0");
  Dwell d;
  d.family_ = DwellFamily::kWeibull;
  d.a_ = shape;
  d.b_ = scale;
  return d;
}

Dwell Dwell::lognormal(double mu, double sigma) {
  require(std::isfinite(mu) && positive(sigma), "lognormal dwell: mu finite, sigma > 0");
  Dwell d;
  d.family_ = DwellFamily::kLognormal;
  d.a_ = mu;
  d.b_ = sigma;
  return d;
}

Dwell Dwell::gamma(double shape, double scale) {
  require(positive(shape) && positive(scale), "gamma dwell: shape and scale must be > 0");
  Dwell d;
  d.family_ = DwellFamily::kGamma;
  d.a_ = shape;
  d.b_ = scale;
  return d;
}

Dwell Dwell::fixed(double days) {
  require(days >= 0.0 && std::isfinite(days), "fixed dwell: days must be >= 0");
  Dwell d;
  d.family_ = DwellFamily::kFixed;
  d.a_ = days;
  return d;
}

Dwell Dwell::empirical(std::vector<double> values) {
  require(values.size() >= 2, "empirical dwell: at least two values");
  for (double v : values) require(v >= 0.0 && std::isfinite(v), "empirical dwell: values >= 0");
  std::sort(values.begin(), values.end());
  Dwell d;
  d.family_ = DwellFamily::kEmpirical;
  d.values_ = std::move(values);
  return d;
}

double Dwell::cumulative_hazard(double d) const {
  if (d <= 0.0) return 0.0;
  switch (family_) {
    case DwellFamily::kExponential: return d / a_;
    case DwellFamily::kWeibull: return std::pow(d / b_, a_);
    case DwellFamily::kLognormal: return hazard_of(Lognormal(a_, b_), d);
    case DwellFamily::kGamma: return hazard_of(Gamma(a_, b_), d);
    case DwellFamily::kFixed: return d < a_ ? 0.0 : kInf;
    case DwellFamily::kEmpirical: {
      const double s = 1.0 - empirical_cdf(values_, d);
      return s > 0.0 ? -std::log(s) : kInf;
    }
  }
  return 0.0;
}

double Dwell::inverse_cumulative_hazard_general(double h) const {
  if (!(h > 0.0)) return family_ == DwellFamily::kFixed ? a_ : 0.0;
  switch (family_) {
    case DwellFamily::kExponential: return a_ * h;
    case DwellFamily::kWeibull: return b_ * std::pow(h, 1.0 / a_);
    case DwellFamily::kLognormal: return survival_quantile(Lognormal(a_, b_), std::exp(-h));
    case DwellFamily::kGamma: return survival_quantile(Gamma(a_, b_), std::exp(-h));
    case DwellFamily::kFixed: return a_;
    case DwellFamily::kEmpirical: return empirical_quantile(values_, -std::expm1(-h));
  }
  return 0.0;
}

double Dwell::cdf(double d) const {
  if (family_ == DwellFamily::kFixed) return d >= a_ ? 1.0 : 0.0;
  if (family_ == DwellFamily::kEmpirical) return empirical_cdf(values_, d);
  return -std::expm1(-cumulative_hazard(d));
}

double Dwell::mean() const {
  switch (family_) {
    case DwellFamily::kExponential: return a_;
    case DwellFamily::kWeibull: return b_ * std::tgamma(1.0 + 1.0 / a_);
    case DwellFamily::kLognormal: return std::exp(a_ + 0.5 * b_ * b_);
    case DwellFamily::kGamma: return a_ * b_;
    case DwellFamily::kFixed: return a_;
    case DwellFamily::kEmpirical: {
      // Mean of the piecewise-linear quantile function: average of segment midpoints.
      double sum = 0.0;
      for (std::size_t i = 0; i + 1 < values_.size(); ++i) sum += 0.5 * (values_[i] + values_[i + 1]);
      return sum / static_cast<double>(values_.size() - 1);
    }
  }
  return 0.0;
}

double Dwell::median() const { return inverse_cumulative_hazard(std::log(2.0)); }

}  // namespace lcsim
