/// @file markov.hpp
/// Closed-form answers for the Markov part of a scenario and their sensitivities.
///
/// The analysis follows each customer's *jump chain*: on leaving stage i it moves to j with the
/// probability next(i -> j) of its segment; absorbing stages end the path. Expected times add up
/// expected visits x mean dwell, which is exact for every dwell family (a semi-Markov process), so
/// non-exponential dwells enter through their means. Touchpoints (and resource capacity) are left
/// out, and the horizon is infinite: every customer is followed until absorption.
///
/// Conversion is a customer's first entry into the won stage, as in the simulation: for conversion
/// questions won is treated as absorbing, and a customer who starts in a converted stage never
/// converts. All linear algebra (Eigen, LU solves) stays inside src/analysis/markov.cpp.
#pragma once

#include <string>
#include <vector>

#include "lcsim/core/types.hpp"
#include "lcsim/model/model.hpp"

namespace lcsim {

/// One start of customers: a (segment, start stage) pair and its weight in a mix.
struct StartWeight {
  SegmentId segment = 0;
  StageId start = 0;
  double weight = 1.0;  ///< >= 0; for population mixes: expected customers
};

/// What a sensitivity is taken with respect to.
enum class ParameterKind {
  kNext,       ///< a next-probability next(stage -> target) of one segment
  kDwellMean,  ///< the mean dwell of a stage of one segment
};

/// "next" or "dwell_mean".
[[nodiscard]] const char* to_string(ParameterKind kind);

/// Elasticities (dY/dθ)(θ/Y) of Y = P(convert) and Y = E[time to convert | convert] with respect
/// to one parameter θ. A next-probability p(i -> j) is changed with the other entries of row i
/// rescaled proportionally, p(i -> k) (1 - p(i -> j) - δ) / (1 - p(i -> j)), so the row still sums
/// to 1. A dwell mean is changed with the dwell's shape kept (only the mean matters here).
struct Sensitivity {
  ParameterKind kind = ParameterKind::kNext;
  SegmentId segment = 0;
  StageId stage = 0;
  StageId target = -1;    ///< next-probabilities only; -1 for dwell means
  std::string parameter;  ///< scenario path, e.g. "stages.lead.next.mql" or
                          ///< "segments.icp.stages.lead.dwell.mean" (with several segments)
  double value = 0.0;     ///< θ: the probability or the mean dwell in days
  double elasticity_conversion = 0.0;  ///< NaN when P(convert) = 0
  double elasticity_time = 0.0;        ///< NaN when P(convert) = 0
  int rank = 0;  ///< 1-based; by |elasticity_conversion|, then |elasticity_time|
};

/// Closed-form answers for one start (segment, start stage) of a mix.
struct StartResult {
  SegmentId segment = 0;
  StageId start = 0;
  double weight = 0.0;                  ///< normalised: the weights of a mix sum to 1
  double conversion_probability = 0.0;  ///< P(first entry into won); 0 from a converted stage
  double time_to_convert = 0.0;         ///< E[days to conversion | conversion]; NaN if P = 0
  double time_to_absorption = 0.0;      ///< E[days until an absorbing stage]; +inf if never
};

/// Closed-form answers for a weighted mix of starts (one start, a segment, or the population).
/// Per-stage vectors are indexed by stage and are weighted averages over the mix.
struct MarkovAnalysis {
  std::vector<std::string> stage_names;
  std::vector<std::string> segment_names;
  std::string won;
  std::string description;          ///< what the mix is, e.g. "population (arrivals)"
  std::vector<StartResult> starts;  ///< the mix, in the order given

  std::vector<double> reach_probability;  ///< [S] P(the stage is ever entered); 1 for the start
  std::vector<double> expected_visits;    ///< [S] expected entries (+inf for stages never left)
  std::vector<double> expected_days;      ///< [S] expected days spent there (visits x mean dwell)
  std::vector<double> mean_dwell;         ///< [S] mean dwell of the mix's segments (NaN: absorbing)

  double conversion_probability = 0.0;  ///< P(convert)
  double time_to_convert = 0.0;         ///< E[days to conversion | conversion]; NaN if P = 0
  double time_to_absorption = 0.0;      ///< E[days until absorption]; +inf if some never end
  double customers = 0.0;               ///< expected customers of a population mix; NaN otherwise

  std::vector<Sensitivity> sensitivity;  ///< every next-probability < 1 and dwell mean, ranked
  std::vector<std::string> notes;        ///< what the closed form leaves out or assumes
};

/// The population mix of a model: each initial cohort's count plus rate x horizon for each arrival
/// stream, per (segment, start stage); cohorts and streams drawn by segment shares are split by
/// share. Entries with the same (segment, start) are merged; order is by segment, then stage.
/// @param model a compiled model
/// @return the mix (weights are expected customers, not normalised)
[[nodiscard]] std::vector<StartWeight> population_mix(const Model& model);

/// Closed form and sensitivities for a weighted mix of starts.
/// @param model a compiled model (touchpoints are ignored)
/// @param mix starts with weights >= 0 and a positive sum
/// @param description label kept in the result
/// @return the analysis; the sensitivity list sorted by rank
/// @throws InputError when the mix is empty, has a bad segment or stage, or weights summing to 0
[[nodiscard]] MarkovAnalysis analyze_mix(const Model& model, const std::vector<StartWeight>& mix,
                                         const std::string& description = "mix");

/// Closed form for customers of one segment who start in one stage.
/// @throws InputError for a segment or stage out of range
[[nodiscard]] MarkovAnalysis analyze(const Model& model, SegmentId segment, StageId start);

/// Closed form for the whole population (population_mix()); `customers` holds its size.
/// @throws InputError when no customer arrives (not possible for a compiled model)
[[nodiscard]] MarkovAnalysis analyze_population(const Model& model);

/// The analysis the CLI and Python ask for, by names; an empty name means "not given".
/// Neither: the population. Segment only: the population mix of that segment. Start only: that
/// start stage with segments weighted by their shares. Both: that one start.
/// @param segment segment name or ""
/// @param start stage name or ""
/// @throws InputError for an unknown name (listing the known ones) or a segment nobody arrives in
[[nodiscard]] MarkovAnalysis analyze(const Model& model, const std::string& segment,
                                     const std::string& start);

/// A copy of the model without touchpoints (what the closed form describes), for simulating the
/// Markov part beside the analysis. Nothing is recompiled; everything else is kept.
[[nodiscard]] Model without_touchpoints(const Model& model);

}  // namespace lcsim
