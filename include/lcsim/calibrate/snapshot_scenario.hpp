/// @file snapshot_scenario.hpp
/// A scenario from snapshots alone: the stages of a snapshot fit (the phase-type fit when given,
/// else the Markov fit) and arrivals read off the panel.
#pragma once

#include <string>
#include <vector>

#include "lcsim/calibrate/estimate.hpp"
#include "lcsim/calibrate/phase_fit.hpp"
#include "lcsim/calibrate/snapshot_fit.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/model/scenario.hpp"

namespace lcsim {

struct SnapshotScenario {
  Scenario scenario;
  std::vector<EstimateRow> estimates;  ///< arrivals and the initial cohort
  std::vector<Problem> warnings;
};

/// Stages from `phase` (phase_type_stage_specs) when given, else from `fit`
/// (markov_stage_specs); the initial cohort from the customers seen at the first snapshot date
/// (placed at day 0, by stage); one Poisson stream per stage in which customers are first seen at
/// a later date, rate = those customers / the time between the first and the second-to-last date
/// (customers first seen at the last date have a single row and are not in the log, so that
/// interval is left out of both), with a Garwood interval. The warnings say what snapshots cannot
/// show about arrivals. `won` must be a stage of the log (or empty).
///
/// With `entry_stage` given and creation times in the log (SnapshotLog::created_column), customers
/// with a creation time are arrivals instead: created after day 0 (the epoch) and by the last
/// date, each in `entry_stage` when created before its first snapshot, else in the stage seen
/// then; one stream per such stage, rate = the count / the last date. Customers created at day 0
/// and seen then are the initial cohort; customers without a creation time are counted the old
/// way.
[[nodiscard]] SnapshotScenario scenario_from_snapshots(const SnapshotLog& log, const MarkovFit& fit,
                                                       const PhaseTypeFit* phase,
                                                       const std::string& won,
                                                       const std::string& name,
                                                       const std::string& entry_stage = "");

}  // namespace lcsim
