/// @file sweep.hpp
/// A parameter sweep as stored in a study: the design, the parameter paths, and one run per point.
/// (Designs are expanded and points simulated by the caller: Python, on threads or on Dask.)
#pragma once

#include <string>
#include <vector>

#include "lcsim/run/run.hpp"

namespace lcsim {

struct SweepPoint {
  std::vector<std::string> values;  ///< one per parameter, as JSON text (e.g. "0.2", "[1, 3]")
  Run run;  ///< the point simulated; its scenario text is the point's scenario
};

struct Sweep {
  std::string design;                   ///< "grid", "points" or "latin_hypercube"
  std::vector<std::string> parameters;  ///< dotted scenario paths
  std::vector<SweepPoint> points;
};

}  // namespace lcsim
