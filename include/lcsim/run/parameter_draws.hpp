/// @file parameter_draws.hpp
/// ParameterDraws: the parameter values behind each replication of a run with parameter
/// uncertainty (probabilistic sensitivity analysis: every replication simulates the scenario with
/// the calibrated parameters drawn from their posterior, so intervals over draws include
/// estimation uncertainty). A Run that has them is stored with them (docs/format.md).
#pragma once

#include <string>
#include <vector>

namespace lcsim {

struct ParameterDraws {
  std::vector<std::string> parameters;  ///< scenario paths, e.g. "stages.lead.next.mql"
  /// [replications x parameters], row-major, in the run's replication order: the values
  /// replication r simulated (a path the scenario kept at its own value holds that value).
  std::vector<double> values;
  int inner = 1;       ///< replications per draw: the run's r-th replication uses draw r / inner
  std::string source;  ///< where the posterior came from, e.g. "calibration of events.csv"
  std::string note;    ///< how the run's intervals were made (that they include estimation
                       ///< uncertainty), as its summary says it
};

}  // namespace lcsim
