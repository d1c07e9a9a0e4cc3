/// @file snapshot_calibration.hpp
/// The whole calibration from stage snapshots, as `lcsim calibrate --snapshots` and
/// lcsim.calibrate(snapshots=...) run it: the continuous-time Markov fit (snapshot_fit.hpp), the
/// phase-type fit (phase_fit.hpp) unless only one phase is allowed, the same fits per segment
/// when the snapshots have a segment column, and the scenarios built from them
/// (snapshot_scenario.hpp).
///
/// **Segments.** The fits over all customers give the scenario's stage values. Each segment's
/// customers are fitted on their own (customers are independent, so the segment's likelihood is
/// exactly the sum over its customers), with the transitions and the entry stage of the
/// all-customer fit so that every segment has the same stage model, and its own choice of phases
/// by AIC. A segment gets its own dwell and next for a stage (a segment override in the scenario)
/// when it has at least min_segment_pairs observed pairs starting in that stage; otherwise the
/// stage is pooled with the all-customer fit and a warning says so. A segment with fewer pairs
/// than that in every stage is not fitted at all. Segment shares are the segments' fractions of
/// the customers in the fit (Jeffreys intervals); arrival streams and the initial cohort are
/// counted per segment and name it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "lcsim/calibrate/estimate.hpp"
#include "lcsim/calibrate/phase_fit.hpp"
#include "lcsim/calibrate/snapshot_fit.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/model/scenario.hpp"

namespace lcsim {

struct SnapshotCalibrationOptions {
  MarkovFitOptions markov;
  /// The phase-type fit runs unless phase.max_phases is 1 and phase.phases is empty. Its
  /// transitions are markov.transitions.
  PhaseFitOptions phase;
  /// Observed pairs from a stage a segment needs for its own fit of that stage; fewer: pooled.
  std::size_t min_segment_pairs = 30;
  /// The conversion stage of the scenarios; empty: "won" when the snapshots have that stage,
  /// else no scenario is built (has_scenario false).
  std::string won;
  std::string name = "calibrated";
};

/// The fits of one segment.
struct SegmentSnapshotFit {
  std::string segment;
  std::size_t customers = 0;
  MarkovFit markov;
  std::optional<PhaseTypeFit> phase;
  std::vector<std::string> own_stages;     ///< non-absorbing stages with a segment override
  std::vector<std::string> pooled_stages;  ///< non-absorbing stages left to the all-customer fit
  std::vector<std::size_t> pairs;          ///< per stage of the log: observed pairs from it
};

struct SnapshotCalibration {
  MarkovFit markov;                          ///< all customers
  std::optional<PhaseTypeFit> phase;         ///< all customers, when fitted
  std::vector<SegmentSnapshotFit> segments;  ///< per fitted segment, in the log's order
  std::string won;                           ///< the conversion stage used; empty: no scenario
  bool has_scenario = false;
  /// From the phase-type fits when fitted, else the Markov fits; with segment overrides.
  Scenario scenario;
  /// From the Markov fits (named name + "_markov"): the same question under the Markov model.
  Scenario markov_scenario;
  /// Arrivals, the initial cohort and segment shares of the scenarios.
  std::vector<EstimateRow> scenario_estimates;
  /// The fits' warnings (the Markov fit's, the phase-type fit's, each segment's prefixed with
  /// "segments.<name>."), then the scenario's.
  std::vector<Problem> warnings;
};

/// Runs the fits and builds the scenarios.
/// @throws InputError as fit_snapshots() and fit_phase_type() do; for `won` naming a stage that is
///         not in the snapshots (field "won"); for min_segment_pairs 0 (field "min_segment_pairs")
[[nodiscard]] SnapshotCalibration calibrate_snapshots(
    const SnapshotLog& log, const SnapshotCalibrationOptions& options = {});

}  // namespace lcsim
