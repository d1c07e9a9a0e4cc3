#include <algorithm>
#include <cmath>
#include <limits>

#include "lcsim/model/model.hpp"

namespace lcsim {
namespace {

constexpr double kNever = std::numeric_limits<double>::infinity();

/// Earliest t >= at (> at when strict) among the sorted list and the grid start + k * every, k >= 0.
double earliest(const std::vector<double>& days, double start, double every, double at,
                bool strict) {
  double best = kNever;
  auto it = strict ? std::upper_bound(days.begin(), days.end(), at)
                   : std::lower_bound(days.begin(), days.end(), at);
  if (it != days.end()) best = *it;
  if (every > 0.0) {
    double k = at <= start ? 0.0 : std::floor((at - start) / every);
    double t = start + k * every;
    while (strict ? t <= at : t < at) {  // at most two steps: floor, then rounding
      k += 1.0;
      t = start + k * every;
    }
    best = std::min(best, t);
  }
  return best;
}

}  // namespace

double Schedule::next_after_entry(double offset, bool strict) const {
  return earliest(after_entry_days, after_entry_start, after_entry_every, offset, strict);
}

double Schedule::next_calendar(double time, bool strict) const {
  return earliest(calendar_days, calendar_start, calendar_every, time, strict);
}

}  // namespace lcsim
