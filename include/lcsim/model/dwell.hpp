/// @file dwell.hpp
/// A dwell distribution in the form the hazard clock needs: cumulative hazard H(d) and its inverse.
/// A customer entering a stage draws E ~ Exp(1) and leaves when the accumulated (factor-weighted)
/// hazard reaches E; with no touchpoint effect the dwell is H^{-1}(E), a draw from the distribution.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lcsim/model/coxian.hpp"

namespace lcsim {

namespace detail {
struct HazardTables;
}  // namespace detail

enum class DwellFamily { kExponential, kWeibull, kLognormal, kGamma, kFixed, kEmpirical, kCoxian };

/// Name of a family as written in scenarios ("exponential", "weibull", ...).
[[nodiscard]] const char* to_string(DwellFamily family);

/// A validated dwell distribution over days. Construct through the named factories; they throw
/// std::invalid_argument on parameters outside the domain (compile() checks first, with locations).
class Dwell {
 public:
  Dwell() = default;
  /// @param mean days, > 0
  static Dwell exponential(double mean);
  /// @param shape k > 0 @param scale lambda > 0: S(d) = exp(-(d/lambda)^k)
  static Dwell weibull(double shape, double scale);
  /// @param mu @param sigma > 0: log(d) ~ Normal(mu, sigma)
  static Dwell lognormal(double mu, double sigma);
  /// @param shape > 0 @param scale > 0
  static Dwell gamma(double shape, double scale);
  /// @param days >= 0: always exactly this long (hazard factors do not change it)
  static Dwell fixed(double days);
  /// Linear interpolation of the empirical quantile function through the sorted values.
  /// @param values at least two, all >= 0
  static Dwell empirical(std::vector<double> values);
  /// Coxian phase-type (coxian.hpp): phase i lasts Exp(rates[i]), then the dwell ends with
  /// probability exit[i] or goes on to phase i + 1; 1 to 4 phases, exit.back() == 1.
  static Dwell coxian(std::vector<double> rates, std::vector<double> exit);

  [[nodiscard]] DwellFamily family() const noexcept { return family_; }
  /// First parameter: mean (exponential), shape (weibull, gamma), mu (lognormal), days (fixed),
  /// the number of phases (coxian).
  [[nodiscard]] double a() const noexcept { return a_; }
  /// Second parameter: scale (weibull, gamma), sigma (lognormal).
  [[nodiscard]] double b() const noexcept { return b_; }
  /// The sorted values (empirical); the rates then the exit probabilities (coxian).
  [[nodiscard]] const std::vector<double>& values() const noexcept { return values_; }
  /// The phase-type distribution of a coxian dwell (nullptr for the other families).
  [[nodiscard]] const Coxian* phase_type() const noexcept { return coxian_.get(); }

  /// Cumulative hazard H(d) = -log S(d); +inf where S(d) = 0 (through the tables of tabulate(),
  /// where they were built and take d).
  [[nodiscard]] double cumulative_hazard(double d) const;
  /// Smallest d with H(d) >= h. Exponential in closed form; the others through the tables of
  /// tabulate() where they were built and take h, else Weibull in closed form, the others via
  /// quantiles.
  [[nodiscard]] double inverse_cumulative_hazard(double h) const {
    return family_ == DwellFamily::kExponential && h > 0.0 ? a_ * h
                                                           : inverse_cumulative_hazard_general(h);
  }
  /// Builds the engine's tables (a no-op for exponential, fixed and empirical dwells, and when
  /// built already). For Weibull, lognormal, gamma and coxian dwells, H^{-1} by the bits of h: each binade
  /// of h in [2^-34, 2^6) split into 128 cells, cubic Hermite in h with exact slopes, kept over
  /// the longest run of binades in which every cell's midpoint is within 2e-10 of the exact value
  /// (relative): no log, exp or pow per draw. For lognormal and gamma also H the same way
  /// (binades of d in [2^-20, 2^20)) (coxian as lognormal and gamma, its exact H and H^{-1} from
  /// coxian.hpp), and behind both, for arguments the first tables do not take,
  /// piecewise cubic Hermite interpolation of log d against log h (H^{-1}: only where the binade
  /// table leaves part of [1e-10, 50]) and of log H against log d on 4,096 cells over h in
  /// [1e-10, 50] (relative error below 1e-9, tested against Boost.Math); outside of those,
  /// Boost.Math (or the closed form) as before. Costs two quantile (or cdf) evaluations and a pdf
  /// per cell once (a gamma dwell 6-8 ms, a lognormal 3-4 ms on the 2-core VM); compile() calls it for
  /// every dwell it makes.
  void tabulate();
  [[nodiscard]] bool has_tables() const noexcept { return tables_ != nullptr; }
  /// The h in [first, second) whose H^{-1} the tables take by the bits of h ({0, 0} without
  /// tables). For tests and diagnostics.
  [[nodiscard]] std::pair<double, double> binade_inverse_range() const;
  /// The d in [first, second) whose H the tables take by the bits of d ({0, 0} without them).
  [[nodiscard]] std::pair<double, double> binade_forward_range() const;
  /// P(dwell <= d).
  [[nodiscard]] double cdf(double d) const;
  [[nodiscard]] double mean() const;
  [[nodiscard]] double median() const;

 private:
  [[nodiscard]] double inverse_cumulative_hazard_general(double h) const;
  /// H^{-1}(h) and H(d) through Boost.Math (or in closed form), never through the tables.
  [[nodiscard]] double inverse_cumulative_hazard_exact(double h) const;
  [[nodiscard]] double cumulative_hazard_exact(double d) const;

  DwellFamily family_ = DwellFamily::kExponential;
  double a_ = 1.0;
  double b_ = 0.0;
  std::vector<double> values_;            // sorted (empirical only)
  std::shared_ptr<const Coxian> coxian_;  // coxian only
  std::shared_ptr<const detail::HazardTables>
      tables_;  // Weibull, lognormal, gamma, coxian: see tabulate()
};

}  // namespace lcsim
