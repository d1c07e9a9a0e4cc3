/// @file transition_fit.hpp
/// Next-stage probabilities of one stage from counts of observed moves.
///
/// The point estimate is the maximum-likelihood one, count / n. Intervals come from the Dirichlet
/// posterior under a Dirichlet(prior, ..., prior) prior over the listed targets (prior = 1/2 by
/// default, Jeffreys' prior for two targets): with K targets and counts n_j summing to n, the
/// marginal posterior of p_j is Beta(n_j + prior, n - n_j + (K - 1) prior), and the interval is its
/// central `level` interval (Boost.Math beta quantiles). Only the listed targets are possible: the
/// calibration lists the targets it observed, so a move never seen keeps probability 0. With one
/// target the probability is 1 and its interval [1, 1].
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace lcsim {

/// One target stage of a move.
struct TransitionEstimate {
  std::string to;
  std::size_t count = 0;
  double probability = 0.0;  ///< count / n (NaN when n = 0)
  double ci_low = 0.0;       ///< marginal posterior interval
  double ci_high = 0.0;
};

/// Next-stage probabilities of one stage.
struct TransitionFit {
  std::size_t n = 0;   ///< moves out of the stage (sum of the counts)
  double prior = 0.5;  ///< Dirichlet concentration per listed target
  double level = 0.95;
  std::vector<TransitionEstimate> targets;  ///< in the order given

  /// The estimate for `to`; nullptr when it is not a listed target.
  [[nodiscard]] const TransitionEstimate* target(const std::string& to) const;
};

/// Estimates next-stage probabilities from counts (target, count).
/// @param prior Dirichlet concentration per target, > 0
/// @param level interval level in (0, 1)
/// @throws std::invalid_argument for a bad prior or level, an empty or repeated target name
[[nodiscard]] TransitionFit fit_transitions(
    const std::vector<std::pair<std::string, std::size_t>>& counts, double prior = 0.5,
    double level = 0.95);

}  // namespace lcsim
