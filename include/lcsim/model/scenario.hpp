/// @file scenario.hpp
/// A scenario as the user wrote it: plain structs with names, no logic and no validation.
/// `compile()` (model/compile.hpp) validates a Scenario and turns it into a Model.
/// The YAML schema is documented field by field in docs/scenario.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lcsim/core/error.hpp"

namespace lcsim {

/// Line numbers of the keys of one YAML mapping (key -> 1-based line); `line` is the mapping's own.
struct Where {
  int line = 0;
  std::map<std::string, int> keys;
  /// Line of `key` when it was written, else the mapping's line.
  [[nodiscard]] int of(const std::string& key) const {
    auto it = keys.find(key);
    return it == keys.end() ? line : it->second;
  }
};

/// A dwell distribution as written: a family and the parameters the analyst gave
/// (mean, median, sd, shape, scale, rate, mu, sigma, days), or observed values for "empirical".
struct DwellSpec {
  std::string dist = "exponential";
  std::map<std::string, double> params;
  std::vector<double> values;  ///< empirical
  std::vector<double> rates;   ///< coxian: one per phase
  std::vector<double> exit;    ///< coxian: P(the dwell ends after phase i), the last 1
  Where where;
};

/// Probabilities over next stages, in the order written.
struct NextSpec {
  std::vector<std::pair<std::string, double>> probs;
  Where where;
};

struct StageSpec {
  std::string name;
  bool absorbing = false;
  std::optional<DwellSpec> dwell;
  std::optional<NextSpec> next;
  double revenue_per_month = 0.0;
  Where where;
};

/// A segment's override of one stage; unset fields keep the stage's values.
struct StageOverride {
  std::string stage;
  std::optional<DwellSpec> dwell;
  std::optional<NextSpec> next;
  std::optional<double> revenue_per_month;
  Where where;
};

struct SegmentSpec {
  std::string name;
  double share = 0.0;
  std::vector<StageOverride> stages;
  Where where;
};

/// Customers present at day 0. An empty segment means "drawn by segment shares".
struct InitialCohort {
  std::string stage;
  std::string segment;
  std::int64_t count = 0;
  Where where;
};

/// A Poisson stream of new customers. `rate_per_day` is the mean rate over a week; the optional
/// weekly profile (Monday first, day 0 is a Monday) gives relative weights per weekday.
struct ArrivalStream {
  double rate_per_day = 0.0;
  std::string stage;
  std::string segment;
  std::vector<double> weekly_profile;
  Where where;
};

struct ArrivalsSpec {
  std::vector<InitialCohort> initial;
  std::vector<ArrivalStream> streams;
  Where where;
};

/// A one-off value booked when a customer moves `from` -> `to` (empty `from`: from any stage).
struct OneOffValue {
  std::string from;
  std::string to;
  double value = 0.0;
  Where where;
};

struct MoneySpec {
  double discount_rate = 0.0;  ///< annual
  std::vector<OneOffValue> one_off;
  Where where;
};

/// When a touchpoint contacts customers. After entry: at listed days after entering a target stage
/// and/or every `every` days starting `start` days after entry (start defaults to every).
/// Calendar: at listed days and/or every `every` days from day `start` (default 0).
struct ScheduleSpec {
  std::vector<double> after_entry_days;
  std::optional<double> after_entry_every;
  std::optional<double> after_entry_start;
  std::vector<double> calendar_days;
  std::optional<double> calendar_every;
  std::optional<double> calendar_start;
  Where where;
  Where after_entry_where;
  Where calendar_where;
};

/// What a landed contact does: an immediate move with a probability, and/or, for `window` days
/// while the customer stays in the stage, a hazard factor and replacement next-probabilities.
struct EffectSpec {
  std::string move_to;
  double move_probability = 0.0;
  double window = 0.0;
  double hazard_factor = 1.0;
  std::optional<NextSpec> next;
  Where where;
};

struct TouchpointSpec {
  std::string name;
  std::vector<std::string> stages;
  std::vector<std::string> segments;  ///< empty: every segment
  ScheduleSpec schedule;
  double reach = 1.0;
  double cost = 0.0;  ///< per contact
  EffectSpec effect;
  Where where;
};

/// A change of a team's size: from `day` on, `servers` reps.
struct StaffingChange {
  double day = 0.0;
  int servers = 0;
  Where where;
};

/// After-service routing that depends on the wait: the probability of moving to `stage` is
/// multiplied by 2^(-wait / half_life); the mass taken from it goes to `to`.
struct DecaySpec {
  std::string stage;
  double half_life = 0.0;  ///< days, > 0
  std::string to;
  Where where;
};

/// A team with limited capacity (e.g. sales reps). Every entry into a stage in `serves` waits
/// `handoff`, then queues for the team; service takes `service`; a customer still waiting after its
/// `patience` gives up and moves to `abandon_to`. After service the customer moves by `outcome`
/// (default: the served stage's own next-probabilities), optionally decayed by the wait.
struct ResourceSpec {
  std::string name;
  std::optional<int> servers;  ///< reps; required unless `weekdays` is given
  std::vector<int> weekdays;   ///< 7 values, reps per weekday (Monday first, day 0 is a Monday)
  std::vector<StaffingChange> changes;  ///< with `servers`: the team's size from given days on
  std::vector<std::string> serves;      ///< stages whose every entry asks this team for service
  std::optional<DwellSpec> service;     ///< required
  std::optional<DwellSpec> handoff;     ///< delay from stage entry to joining the queue; none: 0
  std::string discipline = "fifo";      ///< "fifo" or "priority"
  std::vector<std::string> priority;    ///< with discipline priority: segments, highest first
  std::optional<DwellSpec> patience;    ///< none: customers wait as long as it takes
  std::string abandon_to;               ///< required with patience
  std::optional<NextSpec> outcome;   ///< next stages after service; none: the served stage's next
  std::optional<DecaySpec> decay;    ///< outcome.decay
  double cost_per_server_day = 0.0;  ///< staffing cost, counted with the touchpoint cost
  Where where;
  Where outcome_where;  ///< the `outcome` mapping (next and decay live under it)
};

/// Word of mouth: each customer in stage `from` brings new customers at `rate_per_day`, arriving
/// in stage `to` (and `segment`, empty: drawn by shares).
struct ReferralSpec {
  std::string name;
  std::string from;
  double rate_per_day = 0.0;
  std::string to;
  std::string segment;
  Where where;
};

/// Where the fields of a scenario were written when it was resolved from several files: a variant
/// that `extends:` a base (docs/scenario.md, "Variants"). Empty for a scenario in one file.
struct Sources {
  /// The variant's own file first, then its base, the base's base, ...
  std::vector<std::string> files;
  std::string own_text;  ///< the variant's own text (Scenario::source is the resolved text)
  /// Dotted field path (list items as [i]) -> (index into `files`, 1-based line of its key or item).
  std::map<std::string, std::pair<int, int>> origins;

  [[nodiscard]] bool empty() const noexcept { return files.empty(); }

  /// Moves a problem found in the resolved text to the file and line where its field (or the
  /// closest enclosing field) was written. When that field came from a base but something under it
  /// was changed in another file, the message names the first such change.
  void place(Problem& problem) const {
    if (files.empty()) return;
    std::string at = problem.field;
    auto found = origins.find(at);
    while (found == origins.end() && !at.empty()) {
      const std::size_t cut = at.find_last_of(".[");
      at.resize(cut == std::string::npos ? 0 : cut);
      found = origins.find(at);
    }
    const auto [file, line] = found == origins.end() ? std::pair<int, int>{0, 0} : found->second;
    problem.file = files[static_cast<std::size_t>(file)];
    problem.line = line;
    for (auto it = origins.upper_bound(at); it != origins.end(); ++it) {
      const std::string& path = it->first;
      if (path.compare(0, at.size(), at) != 0) break;
      if (!at.empty() && path.size() > at.size() && path[at.size()] != '.' &&
          path[at.size()] != '[') {
        continue;
      }
      if (!at.empty() && it->second.first != file) {
        problem.message += " (changed in " + files[static_cast<std::size_t>(it->second.first)] +
                           " line " + std::to_string(it->second.second) + ": " + path + ")";
        break;
      }
    }
  }
};

/// Everything one YAML scenario file says.
struct Scenario {
  std::string file = "<string>";  ///< where it came from, for messages
  std::string source;             ///< the YAML text as read (recorded with every run); for a
                                  ///< variant, the resolved text (no `extends:`)
  Sources sources;                ///< for a variant: its files and where each field was written
  std::string name;
  std::string description;
  double horizon = 0.0;       ///< days
  double report_every = 0.0;  ///< days between occupancy reports
  std::uint64_t seed = 1;
  int replications = 10;
  std::string won;  ///< the stage that counts as a conversion
  /// Stages whose customers have already converted (arrivals there are not conversions);
  /// empty: `won` and every stage reachable from it.
  std::vector<std::string> converted_stages;
  std::vector<StageSpec> stages;
  std::vector<SegmentSpec> segments;
  ArrivalsSpec arrivals;
  MoneySpec money;
  std::vector<TouchpointSpec> touchpoints;
  std::vector<ResourceSpec> resources;
  std::vector<ReferralSpec> referrals;
  /// Guard against runaway referral growth: a replication that would simulate more customers
  /// stops with an error.
  std::int64_t max_customers = 100'000'000;
  Where where;
};

}  // namespace lcsim
