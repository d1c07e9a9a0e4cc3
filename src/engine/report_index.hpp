/// @file report_index.hpp
/// Which report a time falls before: the engine's report rows (internal to the engine).
#pragma once

namespace lcsim::detail {

/// First k with times[k] >= t (count if none), for report times 0, step, 2 step, ... and then
/// the horizon (Model::report_times), t >= 0: ceil(t / step) without a search, then an exact
/// correction against the times (for rounding, and the horizon's shorter last step).
[[nodiscard]] inline int report_index(const double* times, int count, double inv_step,
                                      double t) noexcept {
  const double guess = t * inv_step;
  int k = count;
  if (guess < static_cast<double>(count)) {
    k = static_cast<int>(guess);              // truncation = floor for t >= 0
    if (static_cast<double>(k) < guess) ++k;  // ceil without a libm call
  }
  while (k < count && times[k] < t) ++k;
  while (k > 0 && times[k - 1] >= t) --k;
  return k;
}

}  // namespace lcsim::detail
