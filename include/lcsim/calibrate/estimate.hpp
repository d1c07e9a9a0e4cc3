/// @file estimate.hpp
/// EstimateRow: one estimate with its interval, shared by calibrate(), the snapshot fit and the
/// touchpoint lift.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace lcsim {

/// One estimate, addressed by its scenario path.
struct EstimateRow {
  /// Dotted scenario path: "stages.lead.next.mql", "stages.lead.dwell.mean",
  /// "segments.icp.stages.lead.dwell.shape", "segments.icp.share", "arrivals.rate_per_day" (all
  /// streams), "arrivals.streams[0].rate_per_day", "arrivals.weekly_profile[0]" (true weekdays,
  /// Monday first), "arrivals.initial[0].count".
  std::string parameter;
  double estimate = 0.0;
  double ci_low = 0.0;    ///< interval at the options' level (equal to the estimate for counts)
  double ci_high = 0.0;
  std::size_t n = 0;      ///< observations behind it: moves out of the stage for next and dwell
                          ///< parameters, customers for shares and arrivals, arrivals on that
                          ///< weekday for the profile
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
