/// @file coxian.hpp
/// The Coxian phase-type distribution: k phases in a row, phase i (0-based) lasting Exp(rates[i])
/// and then ending the dwell with probability exit[i] or moving on to phase i + 1 (exit[k-1] = 1).
/// With one phase it is the exponential; with exit = [0, ..., 0, 1] the hypoexponential (Erlang
/// when the rates are equal). Its survival is S(d) = alpha exp(T d) 1 for the bidiagonal
/// sub-generator T (T_ii = -rates[i], T_i,i+1 = rates[i] (1 - exit[i])) and alpha = e_0.
#pragma once

#include <cstddef>
#include <vector>

namespace lcsim {

class Coxian {
 public:
  static constexpr std::size_t kMaxPhases = 4;

  /// @throws std::invalid_argument unless 1 <= k <= kMaxPhases, rates finite > 0, exit in [0, 1]
  /// with exit[k-1] == 1
  Coxian(std::vector<double> rates, std::vector<double> exit);

  [[nodiscard]] std::size_t phases() const noexcept { return rates_.size(); }
  [[nodiscard]] const std::vector<double>& rates() const noexcept { return rates_; }
  [[nodiscard]] const std::vector<double>& exit() const noexcept { return exit_; }

  /// log S(d) and log f(d) with relative accuracy near machine precision for every d >= 0 (also
  /// far in the tail): for the generator Q of the phases plus the absorbing state,
  /// exp(Q d) = exp(-Lambda d) exp(B d) with B = Q + Lambda I >= 0 entrywise, exp(B d) by a
  /// Taylor series of nonnegative terms on d / 2^s and s squarings of nonnegative matrices,
  /// rescaled as it goes, so nothing cancels, underflows or overflows. Its absorbing column is
  /// F(d), also a sum of nonnegative terms: below the median log S = log1p(-F), so that H keeps its
  /// relative accuracy near 0 too. The cost grows with log(Lambda d) only (stiff rates included).
  /// Each squaring doubles the rounding error: F is relative to ~4 Lambda d eps, and far in the
  /// tail (H ~ r_min d) H is relative to ~4 (Lambda / r_min) eps: 1e-14 for rates within 10x,
  /// 1e-8 for rates eight orders apart (tests/cpp/model/test_coxian.cpp, stiff_rates_*).
  struct LogSurvival {
    double log_survival = 0.0;
    double log_density = 0.0;
  };
  [[nodiscard]] LogSurvival at(double d) const;

  [[nodiscard]] double cumulative_hazard(double d) const {
    return d > 0.0 ? -at(d).log_survival : 0.0;
  }
  /// Smallest d with H(d) >= h: Newton on log H against log d, safeguarded by bisection, to 1e-14
  /// relative; `guess` (> 0) warm-starts it.
  [[nodiscard]] double inverse_cumulative_hazard(double h, double guess = 0.0) const;
  [[nodiscard]] double pdf(double d) const;
  /// Exact: sum over phases of P(reach phase i) / rates[i].
  [[nodiscard]] double mean() const;

 private:
  std::vector<double> rates_;
  std::vector<double> exit_;
};

}  // namespace lcsim
