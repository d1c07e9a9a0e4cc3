#include "lcsim/calibrate/dwell_fit.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <atomic>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/special_functions/erf.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <nlopt.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../run/parallel.hpp"
#include "lcsim/model/coxian.hpp"
#include "nlopt_run.hpp"

namespace lcsim {
namespace {

namespace bm = boost::math;
// No exceptions from Boost.Math inside likelihoods: a bad region just gives -inf or NaN.
using Policy = bm::policies::policy<bm::policies::domain_error<bm::policies::ignore_error>,
                                    bm::policies::pole_error<bm::policies::ignore_error>,
                                    bm::policies::overflow_error<bm::policies::ignore_error>,
                                    bm::policies::underflow_error<bm::policies::ignore_error>,
                                    bm::policies::evaluation_error<bm::policies::ignore_error>,
                                    bm::policies::promote_double<false>>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
const double kHalfLog2Pi = 0.5 * std::log(2.0 * 3.14159265358979323846);

/// Bounds of shape parameters (Weibull and gamma shape, lognormal sigma).
constexpr double kShapeMin = 1e-3;
constexpr double kShapeMax = 1e3;
/// Half-width (in log units) of the box searched around the starting scale (or mu).
constexpr double kScaleBox = 40.0;
/// Objective value where the likelihood is not finite (keeps BOBYQA's model finite).
constexpr double kPenalty = 1e100;

/// Stays prepared for the likelihoods: clamped durations, their logs, censoring flags.
struct Stays {
  std::vector<double> x;
  std::vector<double> log_x;
  std::vector<std::uint8_t> censored;
  std::size_t events = 0;
  double total = 0.0;  ///< sum of all durations
};

/// The checks of prepare(), on their own (fit_dwell_all_sets checks every set before fitting any).
void check_stays(const std::vector<double>& durations, const std::vector<bool>& censored,
                 double min_duration) {
  if (durations.size() != censored.size()) {
    throw std::invalid_argument("dwell fit: durations and censored differ in size");
  }
  if (!(min_duration > 0.0) || !std::isfinite(min_duration)) {
    throw std::invalid_argument("dwell fit: min_duration must be finite and > 0");
  }
  for (const double d : durations) {
    if (!std::isfinite(d) || d < 0.0) {
      throw std::invalid_argument("dwell fit: durations must be finite and >= 0");
    }
  }
}

Stays prepare(const std::vector<double>& durations, const std::vector<bool>& censored,
              double min_duration) {
  check_stays(durations, censored, min_duration);
  Stays s;
  s.x.reserve(durations.size());
  for (std::size_t i = 0; i < durations.size(); ++i) {
    const double d = durations[i];
    const double x = std::max(d, min_duration);
    s.x.push_back(x);
    s.log_x.push_back(std::log(x));
    s.censored.push_back(censored[i] ? 1 : 0);
    if (!censored[i]) ++s.events;
    s.total += x;
  }
  return s;
}

/// log P(Z > z) for a standard normal Z, accurate far into the upper tail.
double log_normal_survival(double z) {
  if (z < 25.0) return std::log(0.5 * bm::erfc(z / std::sqrt(2.0), Policy()));
  // Mills-ratio asymptotic series; the first omitted term is below 1e-11 at z = 25.
  const double u = 1.0 / (z * z);
  const double series = 1.0 - u * (1.0 - 3.0 * u * (1.0 - 5.0 * u * (1.0 - 7.0 * u)));
  return -0.5 * z * z - std::log(z) - kHalfLog2Pi + std::log(series);
}

/// log Q(a, x), the regularised upper incomplete gamma function, accurate where Q underflows.
double log_gamma_q(double a, double x) {
  const double q = bm::gamma_q(a, x, Policy());
  if (q > 1e-280 || x <= a + 1.0) return std::log(q);
  // Continued fraction for Gamma(a, x) (modified Lentz), in logs.
  constexpr double kTiny = 1e-300;
  double b = x + 1.0 - a;
  double c = 1.0 / kTiny;
  double d = 1.0 / b;
  double h = d;
  for (int i = 1; i < 1000; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < 1e-15) break;
  }
  return -x + a * std::log(x) - bm::lgamma(a, Policy()) + std::log(h);
}

double loglik(DwellFamily family, double a, double b, const Stays& s) {
  const std::size_t n = s.x.size();
  double sum = 0.0;
  switch (family) {
    case DwellFamily::kExponential: {
      if (!(a > 0.0) || !std::isfinite(a)) return -kInf;
      return -static_cast<double>(s.events) * std::log(a) - s.total / a;
    }
    case DwellFamily::kWeibull: {
      if (!(a > 0.0 && b > 0.0) || !std::isfinite(a) || !std::isfinite(b)) return -kInf;
      const double log_k = std::log(a);
      const double log_scale = std::log(b);
      for (std::size_t i = 0; i < n; ++i) {
        const double t = s.log_x[i] - log_scale;
        const double z = std::exp(a * t);
        sum += s.censored[i] ? -z : log_k - log_scale + (a - 1.0) * t - z;
      }
      return sum;
    }
    case DwellFamily::kLognormal: {
      if (!(b > 0.0) || !std::isfinite(a) || !std::isfinite(b)) return -kInf;
      const double log_sigma = std::log(b);
      for (std::size_t i = 0; i < n; ++i) {
        const double z = (s.log_x[i] - a) / b;
        sum += s.censored[i] ? log_normal_survival(z)
                             : -s.log_x[i] - log_sigma - kHalfLog2Pi - 0.5 * z * z;
      }
      return sum;
    }
    case DwellFamily::kGamma: {
      if (!(a > 0.0 && b > 0.0) || !std::isfinite(a) || !std::isfinite(b)) return -kInf;
      const double lg = bm::lgamma(a, Policy());
      const double log_scale = std::log(b);
      for (std::size_t i = 0; i < n; ++i) {
        const double y = s.x[i] / b;
        sum += s.censored[i] ? log_gamma_q(a, y) : -lg - a * log_scale + (a - 1.0) * s.log_x[i] - y;
      }
      return sum;
    }
    case DwellFamily::kFixed:
    case DwellFamily::kEmpirical:
    case DwellFamily::kCoxian:
      break;
  }
  throw std::invalid_argument(std::string("dwell fit: family '") + to_string(family) +
                              "' is not fitted by maximum likelihood");
}

/// Optimisation parameters phi -> natural (a, b): logs of both, except mu for the lognormal.
std::pair<double, double> natural(DwellFamily family, const std::vector<double>& phi) {
  if (family == DwellFamily::kLognormal) return {phi[0], std::exp(phi[1])};
  return {std::exp(phi[0]), std::exp(phi[1])};
}

struct Objective {
  DwellFamily family;
  const Stays* stays;
};

double negative_loglik(const std::vector<double>& phi, const Objective& o) {
  const auto [a, b] = natural(o.family, phi);
  const double ll = loglik(o.family, a, b, *o.stays);
  return std::isfinite(ll) ? -ll : kPenalty;
}

double nlopt_objective(const std::vector<double>& phi, std::vector<double>& /*grad*/, void* data) {
  return negative_loglik(phi, *static_cast<const Objective*>(data));
}

/// Mean and standard deviation of the logs of ended stays (sd 1 when undefined or zero).
std::pair<double, double> log_moments(const Stays& s) {
  double sum = 0.0;
  double sum2 = 0.0;
  double n = 0.0;
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    if (s.censored[i]) continue;
    sum += s.log_x[i];
    sum2 += s.log_x[i] * s.log_x[i];
    n += 1.0;
  }
  const double mean = sum / n;
  const double var = n > 1.0 ? (sum2 - n * mean * mean) / (n - 1.0) : 0.0;
  const double sd = var > 1e-12 ? std::sqrt(var) : 1.0;
  return {mean, sd};
}

/// Starting point in phi for a two-parameter family.
std::vector<double> start(DwellFamily family, const Stays& s) {
  const auto [m, sd] = log_moments(s);
  const double mean_exp = s.total / static_cast<double>(s.events);  // exponential MLE of the mean
  switch (family) {
    case DwellFamily::kWeibull: {
      // log of a Weibull variable is Gumbel with sd pi / (sqrt(6) k); scale profiled for that k.
      const double k = std::clamp(1.2825 / sd, 0.05, 20.0);
      double sum = 0.0;
      for (const double x : s.x) sum += std::pow(x, k);
      const double scale = std::pow(sum / static_cast<double>(s.events), 1.0 / k);
      return {std::log(k), std::log(scale)};
    }
    case DwellFamily::kLognormal: {
      const double sigma = std::clamp(sd, 0.05, 10.0);
      return {std::log(mean_exp) - 0.5 * sigma * sigma, std::log(sigma)};
    }
    case DwellFamily::kGamma: {
      // Shape from the spread of log durations (var log X ~ trigamma(k) ~ 1/k), mean as censored.
      const double k = std::clamp(1.0 / (sd * sd), 0.05, 50.0);
      return {std::log(k), std::log(mean_exp / k)};
    }
    default:
      break;
  }
  return {0.0, 0.0};
}

/// Index of the optimisation parameter bounded as a shape (log shape or log sigma).
constexpr std::size_t shape_index(DwellFamily family) {
  return family == DwellFamily::kLognormal ? 1 : 0;
}

std::vector<double> minimise(const Objective& objective, std::vector<double> phi) {
  const std::size_t shape = shape_index(objective.family);
  const std::size_t other = 1 - shape;
  std::vector<double> lower(2);
  std::vector<double> upper(2);
  lower[shape] = std::log(kShapeMin);
  upper[shape] = std::log(kShapeMax);
  phi[shape] = std::clamp(phi[shape], lower[shape] + 0.1, upper[shape] - 0.1);
  lower[other] = phi[other] - kScaleBox;
  upper[other] = phi[other] + kScaleBox;
  for (const double step : {0.5, 0.05}) {
    nlopt::opt opt(nlopt::LN_BOBYQA, 2);
    opt.set_lower_bounds(lower);
    opt.set_upper_bounds(upper);
    opt.set_min_objective(nlopt_objective, const_cast<Objective*>(&objective));
    opt.set_initial_step(step);
    opt.set_xtol_abs(1e-9);
    opt.set_ftol_abs(1e-13);
    opt.set_maxeval(5000);
    for (std::size_t i = 0; i < 2; ++i) phi[i] = std::clamp(phi[i], lower[i], upper[i]);
    double value = 0.0;
    (void)calibrate_nlopt::optimize(opt, phi, value);  // phi: the best point found
  }
  return phi;
}

/// Central-difference Hessian of the negative log-likelihood in phi.
Eigen::Matrix2d hessian(const Objective& objective, const std::vector<double>& phi) {
  constexpr double h = 1e-3;
  const double f0 = negative_loglik(phi, objective);
  Eigen::Matrix2d hess;
  const auto at = [&](double d0, double d1) {
    return negative_loglik({phi[0] + d0, phi[1] + d1}, objective);
  };
  hess(0, 0) = (at(h, 0) - 2.0 * f0 + at(-h, 0)) / (h * h);
  hess(1, 1) = (at(0, h) - 2.0 * f0 + at(0, -h)) / (h * h);
  hess(0, 1) = hess(1, 0) = (at(h, h) - at(h, -h) - at(-h, h) + at(-h, -h)) / (4.0 * h * h);
  return hess;
}

double z_value(double level) {
  if (!(level > 0.0 && level < 1.0)) {
    throw std::invalid_argument("dwell fit: level must be in (0, 1)");
  }
  return bm::quantile(bm::normal_distribution<double>(), 0.5 + level / 2.0);
}

/// A positive parameter exp(phi) with a Wald interval on the log scale.
DwellParameter positive(std::string name, double phi, double se_phi, double z) {
  const double value = std::exp(phi);
  return DwellParameter{std::move(name), value, value * se_phi, std::exp(phi - z * se_phi),
                        std::exp(phi + z * se_phi)};
}

DwellParameter location(std::string name, double value, double se, double z) {
  return DwellParameter{std::move(name), value, se, value - z * se, value + z * se};
}

/// Distinct durations of ended stays, counted up to 3 (all the fits ask: 2 for a two-parameter
/// family, 3 for the coxian): one pass that stops at the third, instead of sorting the stays for
/// every family (6% of a calibration's time went to that sort).
std::size_t distinct_events(const Stays& s) {
  std::array<double, 3> seen{};
  std::size_t count = 0;
  for (std::size_t i = 0; i < s.x.size() && count < seen.size(); ++i) {
    if (s.censored[i]) continue;
    if (std::find(seen.begin(), seen.begin() + static_cast<std::ptrdiff_t>(count), s.x[i]) ==
        seen.begin() + static_cast<std::ptrdiff_t>(count)) {
      seen[count++] = s.x[i];
    }
  }
  return count;
}

// ---- Coxian with two phases -------------------------------------------------------------------
// phi = (log r1, log r2, logit p1): phase 1 lasts Exp(r1) and ends the dwell with p1, else phase 2
// lasts Exp(r2). Densities and survivals from Coxian::at (full relative accuracy in both tails).

double logistic(double x) { return 1.0 / (1.0 + std::exp(-x)); }

double log_sum_exp(double a, double b) {
  if (a == -kInf) return b;
  if (b == -kInf) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::abs(a - b)));
}

}  // namespace

std::pair<double, double> coxian2_log(double r1, double r2, double p1, double d) {
  // S(d) = e^{-r1 d} + (1 - p1) r1 e^{-r2 d} g and f(d) = p1 r1 e^{-r1 d} + (1 - p1) r1 r2 e^{-r2 d} g
  // with g = (1 - e^{-(r1 - r2) d}) / (r1 - r2) (d when r1 = r2), all in logs.
  const double delta = r1 - r2;
  double log_g = 0.0;
  if (d <= 0.0) {
    log_g = -kInf;
  } else if (std::abs(delta) * d < 1e-8) {
    log_g = std::log(d) - 0.5 * delta * d;  // g = d (1 - delta d / 2 + ...)
  } else if (delta > 0.0) {
    log_g = std::log(-std::expm1(-delta * d)) - std::log(delta);
  } else {
    const double a = -delta;
    log_g = a * d + std::log(-std::expm1(-a * d)) - std::log(a);
  }
  const double log_rest = std::log1p(-p1) + std::log(r1) - r2 * d + log_g;  // -inf at p1 = 1
  const double log_s = log_sum_exp(-r1 * d, log_rest);
  const double log_f = log_sum_exp(std::log(p1) + std::log(r1) - r1 * d, log_rest + std::log(r2));
  return {log_s, log_f};
}

namespace {

/// The scaled Coxian's h = (e - a) / (r1 - r2) and its derivatives dh/dr1, dh/dr2, from the scaled
/// a = e^{-(r1 - m) d} and e = e^{-(r2 - m) d}; a series near r1 = r2. Shared by
/// coxian2_log_gradient and the fit's one-sided term (the same operations, so the same bits).
struct ScaledH {
  double h, h1, h2;
};

inline ScaledH scaled_h(double r1, double r2, double d, double a, double e) {
  const double delta = r1 - r2;
  const double x = delta * d;
  ScaledH out{0.0, 0.0, 0.0};
  if (std::abs(x) > 1e-2) {
    out.h = (e - a) / delta;
    out.h1 = (d * a - out.h) / delta;
    out.h2 = (out.h - d * e) / delta;
  } else {
    // h = e d G(x), G(x) = (1 - e^{-x}) / x; dh/dr1 = e d^2 G'(x); dh/dr2 = -d h - dh/dr1.
    out.h = e * d * (1.0 - x / 2.0 + x * x / 6.0 - x * x * x / 24.0 + x * x * x * x / 120.0);
    out.h1 = e * d * d * (-0.5 + x / 3.0 - x * x / 8.0 + x * x * x / 30.0 - x * x * x * x / 144.0);
    out.h2 = -d * out.h - out.h1;
  }
  return out;
}

}  // namespace

std::pair<double, double> coxian2_log_gradient(double r1, double r2, double p1, double d,
                                               std::array<double, 3>& dlog_s,
                                               std::array<double, 3>& dlog_f) {
  // Scaled by e^{m d}, m = min(r1, r2): a = e^{-r1 d}, e = e^{-r2 d}, h and dh/dr1, dh/dr2.
  const double m = std::min(r1, r2);
  const double a = std::exp(-(r1 - m) * d);
  const double e = std::exp(-(r2 - m) * d);
  const auto [h, h1, h2] = scaled_h(r1, r2, d, a, e);
  const double q = 1.0 - p1;
  const double sv = a + q * r1 * h;
  const double fv = p1 * r1 * a + q * r1 * r2 * h;
  // d/dr1, d/dr2, d/dp1 of the scaled S and f.
  const double s_r1 = -d * a + q * h + q * r1 * h1;
  const double s_r2 = q * r1 * h2;
  const double s_p = -r1 * h;
  const double f_r1 = p1 * a - p1 * r1 * d * a + q * r2 * h + q * r1 * r2 * h1;
  const double f_r2 = q * r1 * h + q * r1 * r2 * h2;
  const double f_p = r1 * a - r1 * r2 * h;
  const double dp = p1 * q;  // dp1 / dlogit p1
  dlog_s = {r1 * s_r1 / sv, r2 * s_r2 / sv, dp * s_p / sv};
  dlog_f = {r1 * f_r1 / fv, r2 * f_r2 / fv, dp * f_p / fv};
  // The derivatives above are those of the unscaled S and f times the same scale as sv and fv, so
  // their ratios are the derivatives of log S and log f; the values take the scale back out.
  const double shift = -m * d;
  return {shift + std::log(sv), shift + std::log(fv)};
}

namespace {

/// One stay's term of the coxian log-likelihood with its gradient in (log r1, log r2, logit p1):
/// log S(d) and its gradient for a censored stay, log f(d) and its for an ended one, exactly as
/// coxian2_log_gradient computes them (the same operations in the same order, so bit for bit the
/// same values) but only the half that is used, and without the exp of the slower phase's scale
/// factor: the scale is e^{min(r1, r2) d}, so one of the two exps is e^{-0} = 1 exactly.
/// (The pass over the stays had spent two exps, two logs and both gradients per stay.)
inline double term_gradient(double r1, double r2, double p1, double d, bool censored,
                            std::array<double, 3>& g) {
  const double m = std::min(r1, r2);
  const double a = r1 > m ? std::exp(-(r1 - m) * d) : 1.0;
  const double e = r2 > m ? std::exp(-(r2 - m) * d) : 1.0;
  const auto [h, h1, h2] = scaled_h(r1, r2, d, a, e);
  const double q = 1.0 - p1;
  const double dp = p1 * q;
  const double shift = -m * d;
  if (censored) {
    const double sv = a + q * r1 * h;
    const double s_r1 = -d * a + q * h + q * r1 * h1;
    const double s_r2 = q * r1 * h2;
    const double s_p = -r1 * h;
    g = {r1 * s_r1 / sv, r2 * s_r2 / sv, dp * s_p / sv};
    return shift + std::log(sv);
  }
  const double fv = p1 * r1 * a + q * r1 * r2 * h;
  const double f_r1 = p1 * a - p1 * r1 * d * a + q * r2 * h + q * r1 * r2 * h1;
  const double f_r2 = q * r1 * h + q * r1 * r2 * h2;
  const double f_p = r1 * a - r1 * r2 * h;
  g = {r1 * f_r1 / fv, r2 * f_r2 / fv, dp * f_p / fv};
  return shift + std::log(fv);
}

}  // namespace

double coxian2_term_gradient(double r1, double r2, double p1, double d, bool censored,
                             std::array<double, 3>& gradient) {
  return term_gradient(r1, r2, p1, d, censored, gradient);
}

namespace {

/// Log-likelihood of the stays at phi = (log r1, log r2, logit p1), with its gradient when asked;
/// -inf where it is not finite.
double coxian_loglik(const std::vector<double>& phi, const Stays& s, double* gradient = nullptr) {
  const double r1 = std::exp(phi[0]);
  const double r2 = std::exp(phi[1]);
  const double p1 = logistic(phi[2]);
  if (!(r1 > 0.0 && r2 > 0.0 && std::isfinite(r1) && std::isfinite(r2)) || !(p1 < 1.0))
    return -kInf;
  double sum = 0.0;
  std::array<double, 3> g{0.0, 0.0, 0.0};
  std::array<double, 3> d{};
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    if (gradient == nullptr) {
      const auto [log_s, log_f] = coxian2_log(r1, r2, p1, s.x[i]);
      sum += s.censored[i] ? log_s : log_f;
      continue;
    }
    sum += term_gradient(r1, r2, p1, s.x[i], s.censored[i] != 0, d);
    for (int k = 0; k < 3; ++k) g[static_cast<std::size_t>(k)] += d[static_cast<std::size_t>(k)];
  }
  if (!std::isfinite(sum)) return -kInf;
  if (gradient != nullptr) {
    for (int k = 0; k < 3; ++k) gradient[k] = g[static_cast<std::size_t>(k)];
  }
  return sum;
}

double coxian_objective(const std::vector<double>& phi, std::vector<double>& grad, void* data) {
  double g[3] = {0.0, 0.0, 0.0};
  const double ll =
      coxian_loglik(phi, *static_cast<const Stays*>(data), grad.empty() ? nullptr : g);
  if (!std::isfinite(ll)) {
    for (double& v : grad) v = 0.0;
    return kPenalty;
  }
  for (std::size_t k = 0; k < grad.size(); ++k) grad[k] = -g[k];
  return -ll;
}

constexpr double kCoxianLogit = 15.0;  ///< |logit p1| bound: beyond it one phase does the work

DwellFit fit_coxian(const Stays& s, double z) {
  DwellFit fit;
  fit.family = DwellFamily::kCoxian;
  fit.n_events = s.events;
  fit.n_censored = s.x.size() - s.events;
  fit.loglik = kNaN;
  fit.aic = kNaN;
  if (distinct_events(s) < 3) {
    fit.reason =
        "fewer than three distinct ended stays: a three-parameter coxian fit is not identified";
    return fit;
  }
  const double mean = s.total / static_cast<double>(s.events);
  const double lm = std::log(1.0 / mean);
  std::vector<double> lower{lm - kScaleBox / 4.0, lm - kScaleBox / 4.0, -kCoxianLogit};
  std::vector<double> upper{lm + kScaleBox / 4.0, lm + kScaleBox / 4.0, kCoxianLogit};
  // Starts: hyperexponential-like (a fast phase that often ends it, then a slow one) and
  // hypoexponential-like (two similar phases in a row).
  const std::vector<std::vector<double>> starts = {{lm + std::log(3.0), lm + std::log(0.4), 0.4},
                                                   {lm + std::log(2.0), lm + std::log(2.4), -3.0}};
  std::vector<double> best;
  double best_value = kInf;
  for (std::vector<double> phi : starts) {
    // L-BFGS with the analytic gradient (coxian2_log_gradient): a few dozen passes over the stays
    // where the derivative-free BOBYQA needed thousands.
    nlopt::opt opt(nlopt::LD_LBFGS, 3);
    opt.set_lower_bounds(lower);
    opt.set_upper_bounds(upper);
    opt.set_min_objective(coxian_objective, const_cast<Stays*>(&s));
    // Relative tolerances: the log-likelihood of a big stage is ~1e5, where an absolute 1e-11
    // is never reached and every run would go to maxeval.
    opt.set_xtol_rel(1e-10);
    opt.set_ftol_rel(1e-14);
    opt.set_maxeval(1000);
    double objective = 0.0;
    (void)calibrate_nlopt::optimize(opt, phi, objective);  // phi: the best point found
    const double value = -coxian_loglik(phi, s);
    if (value < best_value) {
      best_value = value;
      best = phi;
    }
  }
  if (best.empty() || !std::isfinite(best_value)) {
    fit.reason = "the likelihood is not finite at the optimum";
    return fit;
  }
  if (std::abs(best[2]) >= kCoxianLogit - 1e-3) {
    fit.reason = "the first phase's exit probability went to " +
                 std::string(best[2] > 0 ? "1" : "0") +
                 ": one phase (or a hypoexponential) does as well, no interior maximum";
    return fit;
  }
  for (std::size_t j = 0; j < 2; ++j) {
    if (best[j] <= lower[j] + 1e-3 || best[j] >= upper[j] - 1e-3) {
      // Typically the second rate going to 0: a share of the customers that never leaves within
      // the window (censored stays), which the likelihood keeps rewarding without a maximum.
      fit.reason =
          "phase " + std::to_string(j + 1) + "'s rate went to its bound (" +
          (best[j] <= lower[j] + 1e-3 ? "a phase that never ends: stays that outlast the data"
                                      : "a phase that ends at once") +
          "): the likelihood has no interior maximum";
      return fit;
    }
  }
  fit.loglik = -best_value;
  fit.aic = 6.0 - 2.0 * fit.loglik;
  fit.fitted = true;
  // Observed information by central differences of the analytic gradient.
  constexpr double h = 1e-4;
  Eigen::Matrix3d info;
  for (int j = 0; j < 3; ++j) {
    std::vector<double> up = best;
    std::vector<double> down = best;
    up[static_cast<std::size_t>(j)] += h;
    down[static_cast<std::size_t>(j)] -= h;
    double gu[3] = {kNaN, kNaN, kNaN};
    double gd[3] = {kNaN, kNaN, kNaN};
    const double lu = coxian_loglik(up, s, gu);
    const double ld = coxian_loglik(down, s, gd);
    for (int i = 0; i < 3; ++i) {
      info(i, j) = std::isfinite(lu) && std::isfinite(ld) ? -(gu[i] - gd[i]) / (2.0 * h) : kNaN;
    }
  }
  info = (0.5 * (info + info.transpose())).eval();
  Eigen::Vector3d se(kNaN, kNaN, kNaN);
  const Eigen::LLT<Eigen::Matrix3d> llt(info);
  if (info.allFinite() && llt.info() == Eigen::Success) {
    se = llt.solve(Eigen::Matrix3d::Identity()).diagonal().cwiseSqrt();
  } else {
    fit.reason = "the observed information is not positive definite: no standard errors";
  }
  fit.params.push_back(positive("rates[0]", best[0], se[0], z));
  fit.params.push_back(positive("rates[1]", best[1], se[1], z));
  const double p1 = logistic(best[2]);
  fit.params.push_back(DwellParameter{"exit[0]", p1, p1 * (1.0 - p1) * se[2],
                                      logistic(best[2] - z * se[2]),
                                      logistic(best[2] + z * se[2])});
  return fit;
}

DwellFit fit_prepared(DwellFamily family, const Stays& s, const DwellFitOptions& options) {
  const double z = z_value(options.level);
  DwellFit fit;
  fit.family = family;
  fit.n_events = s.events;
  fit.n_censored = s.x.size() - s.events;
  fit.loglik = kNaN;
  fit.aic = kNaN;
  if (family == DwellFamily::kFixed || family == DwellFamily::kEmpirical) {
    throw std::invalid_argument(std::string("dwell fit: family '") + to_string(family) +
                                "' is not fitted by maximum likelihood");
  }
  if (s.events == 0) {
    fit.reason = "no ended stays (" + std::to_string(fit.n_censored) +
                 " censored): the dwell cannot be estimated";
    return fit;
  }
  if (family == DwellFamily::kCoxian) return fit_coxian(s, z);
  if (family == DwellFamily::kExponential) {
    const double d = static_cast<double>(s.events);
    const double mean = s.total / d;
    fit.params.push_back(positive("mean", std::log(mean), 1.0 / std::sqrt(d), z));
    fit.loglik = loglik(family, mean, 0.0, s);
    fit.aic = 2.0 - 2.0 * fit.loglik;
    fit.fitted = true;
    return fit;
  }
  if (distinct_events(s) < 2) {
    fit.reason = "fewer than two distinct ended stays: a two-parameter " +
                 std::string(to_string(family)) + " fit is not identified";
    return fit;
  }
  const Objective objective{family, &s};
  const std::vector<double> phi = minimise(objective, start(family, s));
  const std::size_t shape = shape_index(family);
  if (phi[shape] <= std::log(kShapeMin) + 1e-6 || phi[shape] >= std::log(kShapeMax) - 1e-6) {
    fit.reason = std::string("the ") + (family == DwellFamily::kLognormal ? "sigma" : "shape") +
                 " went to its bound: the likelihood has no interior maximum";
    return fit;
  }
  const auto [a, b] = natural(family, phi);
  fit.loglik = loglik(family, a, b, s);
  if (!std::isfinite(fit.loglik)) {
    fit.reason = "the likelihood is not finite at the optimum";
    fit.loglik = kNaN;
    return fit;
  }
  fit.aic = 4.0 - 2.0 * fit.loglik;
  fit.fitted = true;

  const Eigen::Matrix2d info = hessian(objective, phi);
  Eigen::Vector2d se(kNaN, kNaN);
  const Eigen::LLT<Eigen::Matrix2d> llt(info);
  if (info.allFinite() && llt.info() == Eigen::Success) {
    const Eigen::Matrix2d cov = llt.solve(Eigen::Matrix2d::Identity());
    se = cov.diagonal().cwiseSqrt();
  } else {
    fit.reason = "the observed information is not positive definite: no standard errors";
  }
  switch (family) {
    case DwellFamily::kWeibull:
    case DwellFamily::kGamma:
      fit.params.push_back(positive("shape", phi[0], se[0], z));
      fit.params.push_back(positive("scale", phi[1], se[1], z));
      break;
    case DwellFamily::kLognormal:
      fit.params.push_back(location("mu", phi[0], se[0], z));
      fit.params.push_back(positive("sigma", phi[1], se[1], z));
      break;
    default:
      break;
  }
  return fit;
}

}  // namespace

const DwellParameter* DwellFit::param(std::string_view name) const {
  for (const auto& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

DwellSpec DwellFit::spec() const {
  if (!fitted) throw std::logic_error("DwellFit::spec: the fit failed: " + reason);
  DwellSpec out;
  out.dist = to_string(family);
  if (family == DwellFamily::kCoxian) {
    out.rates = {params[0].estimate, params[1].estimate};
    out.exit = {params[2].estimate, 1.0};
    return out;
  }
  for (const auto& p : params) out.params[p.name] = p.estimate;
  return out;
}

Dwell DwellFit::dwell() const {
  if (!fitted) throw std::logic_error("DwellFit::dwell: the fit failed: " + reason);
  switch (family) {
    case DwellFamily::kExponential:
      return Dwell::exponential(params[0].estimate);
    case DwellFamily::kWeibull:
      return Dwell::weibull(params[0].estimate, params[1].estimate);
    case DwellFamily::kLognormal:
      return Dwell::lognormal(params[0].estimate, params[1].estimate);
    case DwellFamily::kGamma:
      return Dwell::gamma(params[0].estimate, params[1].estimate);
    case DwellFamily::kCoxian:
      return Dwell::coxian({params[0].estimate, params[1].estimate}, {params[2].estimate, 1.0});
    default:
      break;
  }
  throw std::logic_error("DwellFit::dwell: unexpected family");
}

const DwellFit* DwellComparison::best() const {
  return chosen >= 0 ? &fits[static_cast<std::size_t>(chosen)] : nullptr;
}

const DwellFit* DwellComparison::fit(DwellFamily family) const {
  for (const auto& f : fits) {
    if (f.family == family) return &f;
  }
  return nullptr;
}

double dwell_log_likelihood(DwellFamily family, double a, double b,
                            const std::vector<double>& durations, const std::vector<bool>& censored,
                            double min_duration) {
  return loglik(family, a, b, prepare(durations, censored, min_duration));
}

DwellFit fit_dwell(DwellFamily family, const std::vector<double>& durations,
                   const std::vector<bool>& censored, const DwellFitOptions& options) {
  return fit_prepared(family, prepare(durations, censored, options.min_duration), options);
}

namespace {

const std::vector<DwellFamily>& families_of(const DwellFitOptions& options) {
  static const std::vector<DwellFamily> kAll = {DwellFamily::kExponential, DwellFamily::kWeibull,
                                                DwellFamily::kLognormal, DwellFamily::kGamma,
                                                DwellFamily::kCoxian};
  return options.families.empty() ? kAll : options.families;
}

/// The minimum-AIC choice among fits made in family order (the first of equal AICs).
void choose(DwellComparison& out, std::size_t events, std::size_t stays) {
  for (std::size_t i = 0; i < out.fits.size(); ++i) {
    const DwellFit& f = out.fits[i];
    if (!f.fitted || !std::isfinite(f.aic)) continue;
    if (out.chosen < 0 || f.aic < out.fits[static_cast<std::size_t>(out.chosen)].aic) {
      out.chosen = static_cast<int>(i);
    }
  }
  if (out.chosen < 0) {
    out.reason = events == 0 ? "no ended stays (" + std::to_string(stays) +
                                   " censored): the dwell cannot be estimated"
                             : "no family could be fitted";
  }
}

/// Rough relative cost of one family's fit per stay (passes over the stays times their price),
/// only to start the big fits first; it has no effect on any result.
double cost_weight(DwellFamily family) {
  switch (family) {
    case DwellFamily::kExponential:
      return 0.01;
    case DwellFamily::kLognormal:
      return 1.0;
    case DwellFamily::kGamma:
      return 2.0;
    case DwellFamily::kWeibull:
      return 3.0;
    case DwellFamily::kCoxian:
      return 6.0;
    default:
      return 1.0;
  }
}

}  // namespace

DwellComparison fit_dwell_all(const std::vector<double>& durations,
                              const std::vector<bool>& censored, const DwellFitOptions& options) {
  const Stays stays = prepare(durations, censored, options.min_duration);
  DwellComparison out;
  for (const DwellFamily family : families_of(options)) {
    out.fits.push_back(fit_prepared(family, stays, options));
  }
  choose(out, stays.events, stays.x.size());
  return out;
}

std::vector<DwellComparison> fit_dwell_all_sets(const std::vector<DwellStays>& sets,
                                                const DwellFitOptions& options, int threads) {
  const std::vector<DwellFamily>& families = families_of(options);
  const std::size_t n_sets = sets.size();
  const std::size_t n_families = families.size();
  // Every family and set is checked first, in order, so that what is thrown does not depend on
  // the schedule.
  for (const DwellFamily family : families) {
    if (family == DwellFamily::kFixed || family == DwellFamily::kEmpirical) {
      throw std::invalid_argument(std::string("dwell fit: family '") + to_string(family) +
                                  "' is not fitted by maximum likelihood");
    }
  }
  for (const DwellStays& set : sets) {
    if (set.durations == nullptr || set.censored == nullptr) {
      throw std::invalid_argument("dwell fit: a set of stays without durations or flags");
    }
    check_stays(*set.durations, *set.censored, options.min_duration);
  }
  // A set's stays are prepared by the first of its fits to start and freed when its last one ends,
  // so that only the sets being fitted are held (all at once were 65 MB more at the 3 M-row log).
  struct Slot {
    std::once_flag prepared;
    Stays stays;
    std::atomic<std::size_t> left{0};
    std::size_t events = 0;
    std::size_t size = 0;
  };
  std::vector<Slot> slots(n_sets);
  for (Slot& slot : slots) slot.left = n_families;
  // Tasks set by set, the largest sets first and within a set the most expensive families first
  // (for the balance of the threads only: no result depends on the order).
  std::vector<std::size_t> by_size(n_sets);
  for (std::size_t i = 0; i < n_sets; ++i) by_size[i] = i;
  std::stable_sort(by_size.begin(), by_size.end(), [&](std::size_t a, std::size_t b) {
    return sets[a].durations->size() > sets[b].durations->size();
  });
  std::vector<std::size_t> family_order(n_families);
  for (std::size_t f = 0; f < n_families; ++f) family_order[f] = f;
  std::stable_sort(family_order.begin(), family_order.end(), [&](std::size_t a, std::size_t b) {
    return cost_weight(families[a]) > cost_weight(families[b]);
  });
  std::vector<std::pair<std::size_t, std::size_t>> order;
  for (const std::size_t i : by_size) {
    for (const std::size_t f : family_order) order.emplace_back(i, f);
  }
  std::vector<DwellComparison> out(n_sets);
  for (DwellComparison& c : out) c.fits.resize(n_families);
  if (!order.empty()) {
    detail::parallel_for(static_cast<int>(order.size()), threads, nullptr, nullptr,
                         [&](int k, const detail::TaskControl&) {
                           const auto [i, f] = order[static_cast<std::size_t>(k)];
                           Slot& slot = slots[i];
                           std::call_once(slot.prepared, [&] {
                             slot.stays = prepare(*sets[i].durations, *sets[i].censored,
                                                  options.min_duration);
                             slot.events = slot.stays.events;
                             slot.size = slot.stays.x.size();
                           });
                           out[i].fits[f] = fit_prepared(families[f], slot.stays, options);
                           if (--slot.left == 0) slot.stays = Stays{};
                         });
  }
  for (std::size_t i = 0; i < n_sets; ++i) choose(out[i], slots[i].events, slots[i].size);
  return out;
}

}  // namespace lcsim
