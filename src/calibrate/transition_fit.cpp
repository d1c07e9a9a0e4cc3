#include "lcsim/calibrate/transition_fit.hpp"

#include <boost/math/distributions/beta.hpp>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

namespace lcsim {

const TransitionEstimate* TransitionFit::target(const std::string& to) const {
  for (const auto& t : targets) {
    if (t.to == to) return &t;
  }
  return nullptr;
}

TransitionFit fit_transitions(const std::vector<std::pair<std::string, std::size_t>>& counts,
                              double prior, double level) {
  if (!(prior > 0.0) || !std::isfinite(prior)) {
    throw std::invalid_argument("fit_transitions: prior must be finite and > 0");
  }
  if (!(level > 0.0 && level < 1.0)) {
    throw std::invalid_argument("fit_transitions: level must be in (0, 1)");
  }
  TransitionFit fit;
  fit.prior = prior;
  fit.level = level;
  std::set<std::string> names;
  for (const auto& [to, count] : counts) {
    if (to.empty()) throw std::invalid_argument("fit_transitions: empty target name");
    if (!names.insert(to).second) {
      throw std::invalid_argument("fit_transitions: target '" + to + "' listed twice");
    }
    fit.n += count;
  }
  const double n = static_cast<double>(fit.n);
  const double k = static_cast<double>(counts.size());
  const double tail = (1.0 - level) / 2.0;
  for (const auto& [to, count] : counts) {
    TransitionEstimate e;
    e.to = to;
    e.count = count;
    e.probability =
        fit.n > 0 ? static_cast<double>(count) / n : std::numeric_limits<double>::quiet_NaN();
    if (counts.size() == 1) {
      e.ci_low = e.ci_high = 1.0;
    } else {
      const double alpha = static_cast<double>(count) + prior;
      const double beta = n - static_cast<double>(count) + (k - 1.0) * prior;
      const boost::math::beta_distribution<double> posterior(alpha, beta);
      e.ci_low = boost::math::quantile(posterior, tail);
      e.ci_high = boost::math::quantile(posterior, 1.0 - tail);
    }
    fit.targets.push_back(std::move(e));
  }
  return fit;
}

}  // namespace lcsim
