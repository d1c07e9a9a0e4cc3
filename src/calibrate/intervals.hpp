// Exact and Jeffreys intervals of counts, shared by the calibrations that estimate arrival rates
// and segment shares (calibrate.cpp, snapshot_scenario.cpp).
#pragma once

#include <cstddef>
#include <utility>

#include <boost/math/distributions/beta.hpp>
#include <boost/math/special_functions/gamma.hpp>

namespace lcsim::calibrate_intervals {

/// Exact (Garwood) interval of a Poisson mean from a count, divided by the exposure.
inline std::pair<double, double> poisson_interval(std::size_t count, double exposure,
                                                  double level) {
  const double tail = (1.0 - level) / 2.0;
  const double c = static_cast<double>(count);
  const double low = count > 0 ? boost::math::gamma_p_inv(c, tail) : 0.0;
  const double high = boost::math::gamma_p_inv(c + 1.0, 1.0 - tail);
  return {low / exposure, high / exposure};
}

/// Jeffreys interval of a binomial proportion.
inline std::pair<double, double> jeffreys_interval(std::size_t successes, std::size_t n,
                                                   double level) {
  const double tail = (1.0 - level) / 2.0;
  const double s = static_cast<double>(successes);
  const boost::math::beta_distribution<double> posterior(s + 0.5, static_cast<double>(n) - s + 0.5);
  return {successes == 0 ? 0.0 : boost::math::quantile(posterior, tail),
          successes == n ? 1.0 : boost::math::quantile(posterior, 1.0 - tail)};
}

}  // namespace lcsim::calibrate_intervals
