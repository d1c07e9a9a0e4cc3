#include "lcsim/model/coxian.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace lcsim {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
/// The sub-generator's phases plus the absorbing state.
using Matrix = std::array<std::array<double, Coxian::kMaxPhases + 1>, Coxian::kMaxPhases + 1>;

/// C = A B for upper-triangular n x n matrices (only the upper triangle is read and written).
void multiply(const Matrix& a, const Matrix& b, Matrix& c, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i; j < n; ++j) {
      double sum = 0.0;
      for (std::size_t m = i; m <= j; ++m) sum += a[i][m] * b[m][j];
      c[i][j] = sum;
    }
  }
}

}  // namespace

Coxian::Coxian(std::vector<double> rates, std::vector<double> exit)
    : rates_(std::move(rates)), exit_(std::move(exit)) {
  const std::size_t k = rates_.size();
  if (k < 1 || k > kMaxPhases) throw std::invalid_argument("coxian dwell: 1 to 4 phases");
  if (exit_.size() != k)
    throw std::invalid_argument("coxian dwell: one exit probability per phase");
  for (std::size_t i = 0; i < k; ++i) {
    if (!(rates_[i] > 0.0) || !std::isfinite(rates_[i]))
      throw std::invalid_argument("coxian dwell: rates must be > 0");
    if (!(exit_[i] >= 0.0 && exit_[i] <= 1.0))
      throw std::invalid_argument("coxian dwell: exit probabilities in [0, 1]");
  }
  if (exit_[k - 1] != 1.0)
    throw std::invalid_argument("coxian dwell: the last phase's exit probability must be 1");
}

Coxian::LogSurvival Coxian::at(double d) const {
  const std::size_t k = rates_.size();
  if (!(d > 0.0)) return {0.0, std::log(rates_[0] * exit_[0])};
  if (std::isinf(d)) return {-kInf, -kInf};
  // The chain with its absorbing state k ("the dwell has ended") appended: its generator Q is
  // upper triangular, B = Q + lambda I >= 0 entrywise with every row sum = lambda, and
  // exp(Q d) = exp(-lambda d) exp(B d). Row 0 of exp(B d) holds both S(d) (the phases' columns)
  // and F(d) (the absorbing column), each a sum of nonnegative terms: F keeps its relative
  // accuracy where it is tiny, and the cost is O(k^3 log(lambda d)) however stiff the rates are.
  const std::size_t n = k + 1;
  const double lambda = *std::max_element(rates_.begin(), rates_.end());
  // A = B d / 2^s, its largest row sum lambda d / 2^s <= 1/4.
  const int s = std::max(0, static_cast<int>(std::ceil(std::log2(lambda * d * 4.0))));
  const double x = std::ldexp(d, -s);
  Matrix a{};
  for (std::size_t i = 0; i < k; ++i) {
    a[i][i] = (lambda - rates_[i]) * x;
    if (i + 1 < k) a[i][i + 1] = rates_[i] * (1.0 - exit_[i]) * x;
    a[i][k] = rates_[i] * exit_[i] * x;
  }
  a[k][k] = lambda * x;
  // exp(A) by its Taylor series: every term is nonnegative, so it is exact to rounding.
  Matrix e{};
  Matrix term{};
  for (std::size_t i = 0; i < n; ++i) e[i][i] = term[i][i] = 1.0;
  Matrix next{};
  for (int m = 1; m < 40; ++m) {
    multiply(term, a, next, n);
    double largest = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = i; j < n; ++j) {
        term[i][j] = next[i][j] / m;
        e[i][j] += term[i][j];
        if (e[i][j] > 0.0) largest = std::max(largest, term[i][j] / e[i][j]);
      }
    }
    if (largest < 1e-18) break;
  }
  // Square s times, keeping exp(B d) = exp(log_scale) e with e's largest entry near 1.
  double log_scale = 0.0;
  for (int m = 0; m < s; ++m) {
    multiply(e, e, next, n);
    double largest = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = i; j < n; ++j) largest = std::max(largest, next[i][j]);
    }
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = i; j < n; ++j) e[i][j] = next[i][j] / largest;
    }
    log_scale = 2.0 * log_scale + std::log(largest);
  }
  double survival = 0.0;
  double density = 0.0;
  for (std::size_t j = 0; j < k; ++j) {
    survival += e[0][j];
    density += e[0][j] * rates_[j] * exit_[j];
  }
  const double base = -lambda * d + log_scale;
  const double log_survival = base + std::log(survival);
  // Below the median 1 - S cancels: take F(d) from its own column instead.
  if (log_survival > -0.6931471805599453)
    return {std::log1p(-std::exp(base) * e[0][k]), base + std::log(density)};
  return {log_survival, base + std::log(density)};
}

double Coxian::pdf(double d) const {
  if (d < 0.0) return 0.0;
  return std::exp(at(d).log_density);
}

double Coxian::inverse_cumulative_hazard(double h, double guess) const {
  if (!(h > 0.0)) return 0.0;
  if (std::isinf(h)) return kInf;
  const double target = std::log(h);
  // g(x) = log H(e^x) - log h is increasing in x; Newton with g'(x) = d f(d) / (S(d) H(d)).
  double x = std::log(guess > 0.0 ? guess : h * mean());
  double lo = -kInf;
  double hi = kInf;
  for (int iteration = 0; iteration < 200; ++iteration) {
    const double d = std::exp(x);
    const LogSurvival v = at(d);
    const double big_h = -v.log_survival;
    const double g = std::log(big_h) - target;
    if (g < 0.0) lo = std::max(lo, x);
    if (g > 0.0) hi = std::min(hi, x);
    if (g == 0.0) return d;
    const double slope = d * std::exp(v.log_density - v.log_survival) / big_h;
    double step = slope > 0.0 && std::isfinite(slope) ? -g / slope : (g < 0.0 ? 1.0 : -1.0);
    step = std::clamp(step, -5.0, 5.0);
    double candidate = x + step;
    if (!(candidate > lo && candidate < hi)) {  // outside the bracket: bisect (or widen it)
      candidate =
          std::isfinite(lo) && std::isfinite(hi) ? 0.5 * (lo + hi) : x + (g < 0.0 ? 2.0 : -2.0);
    }
    if (std::fabs(candidate - x) < 1e-14 * std::max(1.0, std::fabs(x))) return std::exp(candidate);
    x = candidate;
  }
  return std::exp(x);
}

double Coxian::mean() const {
  double reach = 1.0;
  double sum = 0.0;
  for (std::size_t i = 0; i < rates_.size(); ++i) {
    sum += reach / rates_[i];
    reach *= 1.0 - exit_[i];
  }
  return sum;
}

}  // namespace lcsim
