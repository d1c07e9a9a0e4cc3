/// @file optimisation.hpp
/// An optimisation as stored in a study: every plan tried, the finalists' paired re-evaluation, and
/// the chosen plan. (The search itself runs in Python over lcsim.compare-style paired runs: see
/// python/lcsim/optimise.py.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lcsim/run/compare.hpp"

namespace lcsim {

/// One plan evaluated: its lever values and its numbers (objective, constraints, CIs).
struct OptimisationTrial {
  std::int32_t number = 0;          ///< trial number, from 0
  std::string phase;                ///< "search" or "final"
  std::vector<std::string> values;  ///< one per lever, as JSON text (e.g. "0.25", "3", "[0.5]")
  std::vector<double> numbers;      ///< one per column of Optimisation::columns
};

struct Optimisation {
  std::string settings;  ///< JSON text: objective, direction, levers, constraints, seeds, ...
  std::vector<std::string> levers;   ///< dotted scenario paths
  std::vector<std::string> columns;  ///< names of the trials' numbers
  std::vector<OptimisationTrial> trials;
  std::string chosen;                ///< the chosen plan as an `extends:` variant file
  std::vector<std::string> verdict;  ///< the result in words, one line each
  Comparison selection;              ///< base and finalists on more paired replications
};

}  // namespace lcsim
