#include "lcsim/model/dwell.hpp"

#include <algorithm>
#include <bit>
#include <boost/math/distributions/gamma.hpp>
#include <boost/math/distributions/lognormal.hpp>
#include <boost/math/distributions/weibull.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
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

/// Smallest d with cumulative hazard H(d) >= h for a Boost distribution (h > 0). Below the
/// median the quantile of p = 1 - exp(-h) (computed as -expm1(-h), exact for tiny h), above it
/// the complement quantile of s = exp(-h).
template <class Dist>
double hazard_quantile(const Dist& dist, double h) {
  const double s = std::exp(-h);
  if (s <= 0.0) return kInf;
  if (s < 0.5) return bm::quantile(bm::complement(dist, s));
  const double p = -std::expm1(-h);
  return p > 0.0 ? bm::quantile(dist, p) : 0.0;
}

/// H(d) = -log S(d) for a Boost distribution: below the median -log1p(-F(d)) (exact for tiny H),
/// above it -log of the complement.
template <class Dist>
double hazard_of(const Dist& dist, double d) {
  if (d <= 0.0) return 0.0;
  const double p = bm::cdf(dist, d);
  if (p < 0.5) return -std::log1p(-p);
  const double s = bm::cdf(bm::complement(dist, d));
  return s > 0.0 ? -std::log(s) : kInf;
}

/// A coxian dwell for the tables: exact H, H^{-1} (warm-started from the previous answer, since the
/// tables ask in increasing order) and density.
struct CoxianDist {
  const Coxian* coxian;
  mutable double last = 0.0;
};

double hazard_quantile(const CoxianDist& dist, double h) {
  dist.last = dist.coxian->inverse_cumulative_hazard(h, dist.last);
  return dist.last;
}

double hazard_of(const CoxianDist& dist, double d) { return dist.coxian->cumulative_hazard(d); }

template <class Dist>
double density(const Dist& dist, double d) {
  return bm::pdf(dist, d);
}

double density(const CoxianDist& dist, double d) { return dist.coxian->pdf(d); }

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

namespace detail {

/// y(x) on a uniform grid of x = log(argument), y = log(value), with exact slopes y'(x) at the
/// nodes; cubic Hermite in between, exp(y) out. The engine's tables of H^{-1} and H are both of
/// this form: their log-log curves are smooth and nearly straight, so 4,096 cells give a relative
/// error below 1e-9 (tested against Boost.Math).
struct LogLogHermite {
  static constexpr int kCells = 4096;
  double x_low = 0.0;
  double inv_dx = 0.0;
  double low = 0.0;          // exp(x_low): the smallest argument the table takes
  double high = 0.0;         // exp(x_high): arguments must stay below it
  std::vector<double> node;  // [2 * (kCells + 1)]: y_i, dx * y'_i

  LogLogHermite() = default;  // takes no argument (covers() is false)
  /// @param at(x) returns {y(x), y'(x)}
  template <class At>
  LogLogHermite(double x_lo, double x_hi, At at)
      : x_low(x_lo),
        inv_dx(kCells / (x_hi - x_lo)),
        low(std::exp(x_lo)),
        high(std::exp(x_hi)),
        node(2 * (kCells + 1)) {
    const double dx = (x_hi - x_lo) / kCells;
    for (int i = 0; i <= kCells; ++i) {
      const auto [y, slope] = at(x_lo + dx * i);
      const auto k = static_cast<std::size_t>(2 * i);
      node[k] = y;
      node[k + 1] = dx * slope;
    }
  }

  [[nodiscard]] bool covers(double v) const { return v >= low && v < high; }

  /// Requires covers(v).
  [[nodiscard]] double eval(double v) const {
    const double x = (std::log(v) - x_low) * inv_dx;
    int i = static_cast<int>(x);
    if (i >= kCells) i = kCells - 1;
    const double t = x - i;
    const double* p = &node[static_cast<std::size_t>(2 * i)];
    const double u = 1.0 - t;
    const double y = (1.0 + 2.0 * t) * u * u * p[0] + t * u * u * p[1] +
                     t * t * (3.0 - 2.0 * t) * p[2] - t * t * u * p[3];
    return std::exp(y);
  }
};

/// y(v) for v in [low, high) between powers of two, without a log: each binade [2^e, 2^(e+1))
/// is split into 2^kBits equal cells, so the cell and the position in it come from v's bits (the
/// exponent and the top kBits bits of the fraction) and the position is exact; cubic Hermite in
/// v between the cells' ends, with exact slopes. For H^{-1} of the dwells, which the engine
/// evaluates once per stay (and H for a stay's re-aimed clock): a few multiplies and adds instead
/// of a log, an exp and a pow. The table keeps the longest run of binades whose every cell's
/// midpoint is within kTolerance of the exact value (relative); elsewhere the caller falls back.
struct BinadeHermite {
  static constexpr int kBits = 7;
  static constexpr int kShift = 52 - kBits;
  static constexpr double kTolerance = 2e-10;
  std::int64_t first = 0;  // the lowest cell's bits >> kShift
  double low = 0.0;        // the table takes v in [low, high)
  double high = 0.0;
  std::vector<double>
      node;  // [2 * (cells + 1)]: y, y' at each cell's left end (and the last right end)

  BinadeHermite() = default;
  /// @param exact(v) y(v), for the nodes and the check; @param slope(v, y) y'(v) given y = y(v)
  template <class Exact, class Slope>
  BinadeHermite(int e_low, int e_high, Exact exact, Slope slope)
      : first(std::bit_cast<std::int64_t>(std::ldexp(1.0, e_low)) >> kShift),
        low(std::ldexp(1.0, e_low)) {
    const int per_binade = 1 << kBits;
    const int cells = (e_high - e_low) * per_binade;
    node.resize(2 * static_cast<std::size_t>(cells + 1));
    for (int i = 0; i <= cells; ++i) {
      const double v = left_end(i);
      const double y = exact(v);
      node[2 * static_cast<std::size_t>(i)] = y;
      node[2 * static_cast<std::size_t>(i) + 1] = slope(v, y);
    }
    // The longest run of binades whose cells all keep the tolerance (the lowest such run).
    int best_start = 0;
    int best_count = 0;
    for (int b = 0, run = 0; b < e_high - e_low; ++b) {
      bool ok = true;
      for (int i = b * per_binade; ok && i < (b + 1) * per_binade; ++i) {
        const double mid = 0.5 * (left_end(i) + left_end(i + 1));
        const double want = exact(mid);
        const double got = eval(mid, i);
        ok = std::isfinite(got) && std::isfinite(want) &&
             std::fabs(got - want) <= kTolerance * std::fabs(want);
      }
      run = ok ? run + 1 : 0;
      if (run > best_count) {
        best_count = run;
        best_start = b - run + 1;
      }
    }
    const auto begin = node.begin() + 2 * static_cast<std::ptrdiff_t>(best_start) * per_binade;
    node.erase(node.begin(), begin);
    node.resize(2 * static_cast<std::size_t>(best_count * per_binade + 1));
    first += static_cast<std::int64_t>(best_start) * per_binade;
    low = std::ldexp(1.0, e_low + best_start);
    high = best_count > 0 ? std::ldexp(1.0, e_low + best_start + best_count) : low;
  }

  [[nodiscard]] bool covers(double v) const { return v >= low && v < high; }

  /// Requires covers(v).
  [[nodiscard]] double eval(double v) const {
    return eval(v, static_cast<int>((std::bit_cast<std::int64_t>(v) >> kShift) - first));
  }

 private:
  [[nodiscard]] double left_end(int i) const {
    return std::bit_cast<double>((first + i) << kShift);
  }

  /// y(v) in cell i (v in [left_end(i), left_end(i + 1)]).
  [[nodiscard]] double eval(double v, int i) const {
    constexpr std::int64_t kExponent = 0x7ff0000000000000LL;
    const std::int64_t cell = (first + i) << kShift;
    const double h0 = std::bit_cast<double>(cell);
    const std::int64_t width_bits =
        (cell & kExponent) - (std::int64_t{kBits} << 52);  // 2^(e - kBits)
    const double width = std::bit_cast<double>(width_bits);
    const double t =
        (v - h0) * std::bit_cast<double>((std::int64_t{2046} << 52) - width_bits);  // exact
    const double* p = &node[2 * static_cast<std::size_t>(i)];
    const double u = 1.0 - t;
    return (1.0 + 2.0 * t) * u * u * p[0] + t * u * u * (width * p[1]) +
           t * t * (3.0 - 2.0 * t) * p[2] - t * t * u * (width * p[3]);
  }
};

/// The tables of one dwell, over cumulative hazards h in [1e-10, 50]: for lognormal and gamma
/// dwells, inverse (only where binade leaves part of that range): log d against log h, slope
/// h S(d) / (d f(d)) (the derivative of log H^{-1} in log h), and forward: log H against log d over the same range of d, slope d f(d) / (S(d) H(d));
/// for those and Weibull dwells, binade: H^{-1} over h in [2^-34, 2^6) by the bits of h (slope
/// S(d) / f(d)), where it keeps its tolerance, the first table H^{-1} looks in; for lognormal and
/// gamma, binade_forward: H over the binades of forward's range within [2^-20, 2^20) days (slope
/// f(d) / S(d)), where it keeps its tolerance, the first table H looks in.
struct HazardTables {
  static constexpr double kLogLow = -23.025850929940457;  // log(1e-10)
  static constexpr double kLogHigh = 3.912023005428146;   // log(50)
  static constexpr int kBinadeLow = -34;                  // 2^-34 < 1e-10
  static constexpr int kBinadeHigh = 6;                   // 2^6 > 50
  BinadeHermite binade;
  LogLogHermite inverse;  // built only where binade does not take all of [1e-10, 50]
  LogLogHermite forward;
  BinadeHermite binade_forward;

  template <class Dist>
  explicit HazardTables(const Dist& dist)
      : binade(
            kBinadeLow, kBinadeHigh, [&](double h) { return hazard_quantile(dist, h); },
            [&](double h, double d) { return std::exp(-h) / density(dist, d); }),
        inverse(
            binade.covers(std::exp(kLogLow)) && binade.high >= std::exp(kLogHigh)
                ? LogLogHermite()
                : LogLogHermite(
                      kLogLow, kLogHigh,
                      [&](double x) {
                        const double h = std::exp(x);
                        const double d = hazard_quantile(dist, h);
                        return std::pair{std::log(d), h * std::exp(-h) / (d * density(dist, d))};
                      })),
        forward(std::log(hazard_quantile(dist, std::exp(kLogLow))),
                std::log(hazard_quantile(dist, std::exp(kLogHigh))),
                [&](double x) {
                  const double d = std::exp(x);
                  const double h = hazard_of(dist, d);
                  return std::pair{std::log(h), d * density(dist, d) / (std::exp(-h) * h)};
                }),
        binade_forward(
            std::max(-20, std::ilogb(forward.low)), std::min(20, std::ilogb(forward.high) + 1),
            [&](double d) { return hazard_of(dist, d); },
            [&](double d, double h) { return density(dist, d) / std::exp(-h); }) {}

  /// Weibull: S(d) = exp(-(d / scale)^shape), H^{-1}(h) = scale h^(1 / shape) in closed form; only
  /// the binade table (H stays in closed form).
  HazardTables(double shape, double scale)
      : binade(
            kBinadeLow, kBinadeHigh, [&](double h) { return scale * std::pow(h, 1.0 / shape); },
            [&](double h, double d) { return d / (shape * h); }) {}
};

}  // namespace detail

void Dwell::tabulate() {
  if (tables_ != nullptr) return;
  if (family_ == DwellFamily::kLognormal) {
    tables_ = std::make_shared<const detail::HazardTables>(Lognormal(a_, b_));
  } else if (family_ == DwellFamily::kGamma) {
    tables_ = std::make_shared<const detail::HazardTables>(Gamma(a_, b_));
  } else if (family_ == DwellFamily::kWeibull) {
    tables_ = std::make_shared<const detail::HazardTables>(a_, b_);
  } else if (family_ == DwellFamily::kCoxian) {
    // Building a coxian's tables takes tens of milliseconds (exact H^{-1} by Newton at each node),
    // so they are kept per parameter set: recompiling a scenario (a sweep, an optimisation, the
    // app) builds them once. At most 256 sets are kept; beyond that the cache starts afresh.
    static std::mutex mutex;
    static std::map<std::vector<double>, std::shared_ptr<const detail::HazardTables>> cache;
    const std::lock_guard<std::mutex> lock(mutex);
    auto& cached = cache[values_];
    if (cached == nullptr) {
      if (cache.size() > 256) {
        cache.clear();
        tables_ = cache[values_] =
            std::make_shared<const detail::HazardTables>(CoxianDist{coxian_.get()});
        return;
      }
      cached = std::make_shared<const detail::HazardTables>(CoxianDist{coxian_.get()});
    }
    tables_ = cached;
  }
}

std::pair<double, double> Dwell::binade_inverse_range() const {
  return tables_ == nullptr ? std::pair{0.0, 0.0}
                            : std::pair{tables_->binade.low, tables_->binade.high};
}

std::pair<double, double> Dwell::binade_forward_range() const {
  return tables_ == nullptr ? std::pair{0.0, 0.0}
                            : std::pair{tables_->binade_forward.low, tables_->binade_forward.high};
}

const char* to_string(DwellFamily family) {
  switch (family) {
    case DwellFamily::kExponential:
      return "exponential";
    case DwellFamily::kWeibull:
      return "weibull";
    case DwellFamily::kLognormal:
      return "lognormal";
    case DwellFamily::kGamma:
      return "gamma";
    case DwellFamily::kFixed:
      return "fixed";
    case DwellFamily::kEmpirical:
      return "empirical";
    case DwellFamily::kCoxian:
      return "coxian";
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

Dwell Dwell::coxian(std::vector<double> rates, std::vector<double> exit) {
  Dwell d;
  d.family_ = DwellFamily::kCoxian;
  d.coxian_ = std::make_shared<const Coxian>(rates, exit);  // throws std::invalid_argument
  d.a_ = static_cast<double>(rates.size());
  d.values_ = std::move(rates);
  d.values_.insert(d.values_.end(), exit.begin(), exit.end());
  return d;
}

double Dwell::cumulative_hazard(double d) const {
  if (tables_ != nullptr) {
    if (tables_->binade_forward.covers(d)) return tables_->binade_forward.eval(d);
    if (tables_->forward.covers(d)) return tables_->forward.eval(d);
  }
  return cumulative_hazard_exact(d);
}

double Dwell::cumulative_hazard_exact(double d) const {
  if (d <= 0.0) return 0.0;
  switch (family_) {
    case DwellFamily::kExponential:
      return d / a_;
    case DwellFamily::kWeibull:
      return std::pow(d / b_, a_);
    case DwellFamily::kLognormal:
      return hazard_of(Lognormal(a_, b_), d);
    case DwellFamily::kGamma:
      return hazard_of(Gamma(a_, b_), d);
    case DwellFamily::kFixed:
      return d < a_ ? 0.0 : kInf;
    case DwellFamily::kEmpirical: {
      const double s = 1.0 - empirical_cdf(values_, d);
      return s > 0.0 ? -std::log(s) : kInf;
    }
    case DwellFamily::kCoxian:
      return coxian_->cumulative_hazard(d);
  }
  return 0.0;
}

double Dwell::inverse_cumulative_hazard_general(double h) const {
  if (tables_ != nullptr) {
    if (tables_->binade.covers(h)) return tables_->binade.eval(h);
    if (tables_->inverse.covers(h)) return tables_->inverse.eval(h);
  }
  return inverse_cumulative_hazard_exact(h);
}

double Dwell::inverse_cumulative_hazard_exact(double h) const {
  if (!(h > 0.0)) return family_ == DwellFamily::kFixed ? a_ : 0.0;
  switch (family_) {
    case DwellFamily::kExponential:
      return a_ * h;
    case DwellFamily::kWeibull:
      return b_ * std::pow(h, 1.0 / a_);
    case DwellFamily::kLognormal:
      return hazard_quantile(Lognormal(a_, b_), h);
    case DwellFamily::kGamma:
      return hazard_quantile(Gamma(a_, b_), h);
    case DwellFamily::kFixed:
      return a_;
    case DwellFamily::kEmpirical:
      return empirical_quantile(values_, -std::expm1(-h));
    case DwellFamily::kCoxian:
      return coxian_->inverse_cumulative_hazard(h);
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
    case DwellFamily::kExponential:
      return a_;
    case DwellFamily::kWeibull:
      return b_ * std::tgamma(1.0 + 1.0 / a_);
    case DwellFamily::kLognormal:
      return std::exp(a_ + 0.5 * b_ * b_);
    case DwellFamily::kGamma:
      return a_ * b_;
    case DwellFamily::kFixed:
      return a_;
    case DwellFamily::kEmpirical: {
      // Mean of the piecewise-linear quantile function: average of segment midpoints.
      double sum = 0.0;
      for (std::size_t i = 0; i + 1 < values_.size(); ++i)
        sum += 0.5 * (values_[i] + values_[i + 1]);
      return sum / static_cast<double>(values_.size() - 1);
    }
    case DwellFamily::kCoxian:
      return coxian_->mean();
  }
  return 0.0;
}

double Dwell::median() const { return inverse_cumulative_hazard(std::log(2.0)); }

}  // namespace lcsim
