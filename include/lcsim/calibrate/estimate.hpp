/// @file estimate.hpp
/// EstimateRow: one estimate with its interval, shared by calibrate(), the snapshot fit and the
/// touchpoint lift.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace lcsim {

/// One estimate, addressed by its scenario path.
struct EstimateRow {
  EstimateRow() = default;
  EstimateRow(std::string parameter_, double estimate_, double ci_low_, double ci_high_,
              std::size_t n_)
      : parameter(std::move(parameter_)),
        estimate(estimate_),
        ci_low(ci_low_),
        ci_high(ci_high_),
        n(n_) {}

  /// Dotted scenario path: "stages.lead.next.mql", "stages.lead.dwell.mean",
  /// "segments.icp.stages.lead.dwell.shape", "segments.icp.share", "arrivals.rate_per_day" (all
  /// streams), "arrivals.streams[0].rate_per_day", "arrivals.weekly_profile[0]" (true weekdays,
  /// Monday first), "arrivals.initial[0].count".
  std::string parameter;
  double estimate = 0.0;
  double ci_low = 0.0;  ///< interval at the options' level (equal to the estimate for counts)
  double ci_high = 0.0;
  std::size_t n = 0;  ///< observations behind it: moves out of the stage for next and dwell
                      ///< parameters, customers for shares and arrivals, arrivals on that
                      ///< weekday for the profile
  /// How the interval was found, where a fit says: "wald" (delta method on the log or logit
  /// scale), "profile" (profile likelihood), "boundary" (the estimate is at or near 0 and the data
  /// do not reject 0: the interval is [0, the profile-likelihood upper bound]), "fixed" (a value
  /// with no freedom, e.g. the probability of a stage's only exit). Empty: the fit does not say.
  std::string method;
  /// For probabilities at or near 0: the p-value of the likelihood-ratio test of the value 0
  /// (half a chi-square(1) tail: 0 lies on the boundary); NaN when not tested.
  double p_zero = std::numeric_limits<double>::quiet_NaN();
  /// What the interval cannot say, e.g. "not identified above: ...". Empty when nothing.
  std::string note;
};

/// The row of `parameter` in `rows`, or nullptr: what every fit's estimate(parameter) returns.
[[nodiscard]] inline const EstimateRow* find_estimate(const std::vector<EstimateRow>& rows,
                                                      const std::string& parameter) {
  for (const auto& row : rows) {
    if (row.parameter == parameter) return &row;
  }
  return nullptr;
}

}  // namespace lcsim
