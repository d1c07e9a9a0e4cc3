/// @file model.hpp
/// A compiled scenario: dense indices, per-segment stage tables, alias tables. Valid by construction
/// (only compile() makes one), so the engine never re-checks anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "lcsim/core/types.hpp"
#include "lcsim/model/alias_table.hpp"
#include "lcsim/model/dwell.hpp"

namespace lcsim {

/// A stage as seen by one segment (stage defaults with that segment's overrides applied).
struct StageRule {
  Dwell dwell;                       ///< unused for absorbing stages
  AliasTable next;                   ///< over next_stages
  std::vector<StageId> next_stages;  ///< targets with positive probability
  std::vector<double> next_probs;    ///< same order as next_stages
  double revenue_per_day = 0.0;
};

struct InitialGroup {
  StageId stage = 0;
  SegmentId segment = -1;  ///< -1: drawn by segment shares
  std::int64_t count = 0;
};

struct ArrivalProcess {
  double rate_per_day = 0.0;  ///< mean rate over a week
  StageId stage = 0;
  SegmentId segment = -1;            ///< -1: drawn by segment shares
  std::vector<double> weekday_rate;  ///< 7 rates per day (Monday first); all equal without profile
  double max_rate = 0.0;             ///< max of weekday_rate, for thinning
};

/// A touchpoint's contact times. After-entry offsets are relative to the stage entry; calendar days
/// are absolute. `every` = 0 means no repetition.
struct Schedule {
  std::vector<double> after_entry_days;  ///< sorted
  double after_entry_every = 0.0;
  double after_entry_start = 0.0;
  std::vector<double> calendar_days;  ///< sorted
  double calendar_every = 0.0;
  double calendar_start = 0.0;

  /// Earliest after-entry offset (days since stage entry) >= `offset` (> when `strict`); +inf if none.
  [[nodiscard]] double next_after_entry(double offset, bool strict) const;
  /// Earliest calendar day >= `time` (> when `strict`); +inf if none.
  [[nodiscard]] double next_calendar(double time, bool strict) const;
};

struct Touchpoint {
  std::string name;
  std::uint32_t stream_key = 0;  ///< hash of the name: keeps random streams stable across variants
  std::vector<std::uint8_t> targets_stage;    ///< [S] 1 if the touchpoint targets the stage
  std::vector<std::uint8_t> targets_segment;  ///< [G]
  Schedule schedule;
  double reach = 1.0;
  double cost = 0.0;
  // effect
  StageId move_to = -1;  ///< -1: no immediate move
  double move_probability = 0.0;
  double window = 0.0;  ///< days; 0: no window effect
  double hazard_factor = 1.0;
  bool has_next_override = false;
  AliasTable next_override;
  std::vector<StageId> next_override_stages;
};

/// A team with limited capacity, compiled. Staffing is a step function: `staffing_levels[i]`
/// servers from `staffing_times[i]` on (staffing_times[0] == 0; weekday calendars are expanded up
/// to the horizon).
struct Resource {
  std::string name;
  std::uint32_t stream_key = 0;        ///< hash of the name: keeps random streams stable
  std::vector<double> staffing_times;  ///< sorted, first 0
  std::vector<int> staffing_levels;    ///< same length
  Dwell service;
  bool has_handoff = false;
  Dwell handoff;
  /// [G] queue class of each segment, 0 served first; all 0 for FIFO.
  std::vector<int> segment_class;
  int num_classes = 1;
  bool has_patience = false;
  Dwell patience;
  StageId abandon_to = -1;
  /// After service: when has_outcome, these next stages (for every segment); else the served
  /// stage's own rule of the customer's segment.
  bool has_outcome = false;
  AliasTable outcome;
  std::vector<StageId> outcome_stages;
  StageId decay_stage = -1;    ///< -1: no decay
  double decay_per_day = 0.0;  ///< log(2) / half_life
  StageId decay_to = -1;
  double cost_per_server_day = 0.0;
};

/// Word of mouth from customers in stage `from`.
struct Referral {
  std::string name;
  std::uint32_t stream_key = 0;
  StageId from = 0;
  double rate_per_day = 0.0;
  StageId to = 0;
  SegmentId segment = -1;  ///< -1: drawn by segment shares
};

struct Model {
  std::string name;
  std::vector<std::string> stage_names;
  std::vector<std::string> segment_names;  ///< at least one ("all" when none declared)
  std::vector<std::string> touchpoint_names;
  std::vector<std::uint8_t> absorbing;  ///< [S]
  StageId won = 0;
  /// [S] 1 for stages whose customers have already converted: a customer arriving there is not
  /// counted as a conversion when it later enters `won`.
  std::vector<std::uint8_t> converted;

  std::vector<StageRule> rules;       ///< [G * S], index segment * S + stage
  std::vector<double> segment_share;  ///< [G]
  AliasTable segment_choice;

  std::vector<InitialGroup> initial;
  std::vector<ArrivalProcess> arrivals;

  double discount_per_day = 0.0;  ///< continuous rate: log(1 + annual) / 365.25
  std::vector<double> one_off;    ///< [S * S] value on a from -> to move

  std::vector<Touchpoint> touchpoints;
  /// Touchpoints that can contact a customer of segment g in stage s:
  /// ids touchpoints_for[tp_offsets[g*S+s] .. tp_offsets[g*S+s+1]).
  std::vector<std::uint32_t> tp_offsets;
  std::vector<TouchpointId> touchpoints_for;

  std::vector<Resource> resources;
  std::vector<std::string> resource_names;
  std::vector<std::int16_t> served_by;  ///< [S] resource serving entries into the stage, -1 none
  std::vector<Referral> referrals;
  std::vector<std::string> referral_names;
  /// Referrals made from stage s: ids referrals_for[referral_offsets[s] .. referral_offsets[s+1]).
  std::vector<std::uint32_t> referral_offsets;
  std::vector<std::uint32_t> referrals_for;
  std::int64_t max_customers = 100'000'000;  ///< per replication (runaway referral guard)

  double horizon = 0.0;
  double report_every = 0.0;
  std::vector<double> report_times;  ///< 0, step, 2 step, ... <= horizon
  std::uint64_t seed = 1;
  int replications = 1;
  std::string scenario_text;  ///< YAML source, recorded with runs
  std::string scenario_file;
  std::vector<std::string>
      scenario_extends;           ///< a variant's bases, nearest first (empty: one file)
  std::string scenario_own_text;  ///< a variant's own text (scenario_text is resolved)

  [[nodiscard]] int num_stages() const noexcept { return static_cast<int>(stage_names.size()); }
  [[nodiscard]] int num_segments() const noexcept { return static_cast<int>(segment_names.size()); }
  [[nodiscard]] int num_touchpoints() const noexcept {
    return static_cast<int>(touchpoints.size());
  }
  [[nodiscard]] int num_resources() const noexcept { return static_cast<int>(resources.size()); }
  [[nodiscard]] const StageRule& rule(SegmentId g, StageId s) const {
    return rules[static_cast<std::size_t>(g * num_stages() + s)];
  }
};

}  // namespace lcsim
