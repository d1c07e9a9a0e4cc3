#include "lcsim/calibrate/snapshot_scenario.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "intervals.hpp"

namespace lcsim {

using calibrate_intervals::jeffreys_interval;

namespace {

/// Garwood interval at 95%, as the arrival rates of a snapshot scenario are reported.
std::pair<double, double> poisson_interval(std::size_t count, double exposure) {
  return calibrate_intervals::poisson_interval(count, exposure, 0.95);
}

/// (stage, segment): arrivals and the initial cohort are counted per segment when the log has
/// segments ("" otherwise).
using StageSegment = std::pair<std::string, std::string>;

}  // namespace

SnapshotScenario scenario_from_snapshots(const SnapshotLog& log, const MarkovFit& fit,
                                         const PhaseTypeFit* phase, const std::string& won,
                                         const std::string& name, const std::string& entry_stage) {
  SnapshotScenario out;
  Scenario& sc = out.scenario;
  const auto warn = [&](const std::string& field, const std::string& message) {
    out.warnings.push_back(Problem{log.file, 0, field, message, true});
  };
  std::set<double> dates;
  for (const auto& c : log.customers) {
    for (const auto& obs : c.observations) dates.insert(obs.time);
  }
  const std::vector<double> t(dates.begin(), dates.end());
  const double first = t.empty() ? 0.0 : t.front();
  sc.name = name;
  sc.description = "calibrated from snapshots " + log.file + " (" +
                   std::to_string(log.customers.size()) + " customers; day 0 is " + log.epoch + ")";
  sc.horizon = t.empty() || t.back() <= 0.0 ? 1.0 : t.back();
  sc.report_every = 7.0;
  sc.seed = 1;
  sc.replications = 10;
  sc.won = won;
  sc.stages = phase != nullptr ? phase_type_stage_specs(*phase) : markov_stage_specs(fit);
  if (!log.segments.empty()) {
    // Shares: the segments' fractions of the customers in the fit, in the log's order (summed in
    // that order, the last is fixed to make 1). Arrival streams and the initial cohort name their
    // segment, so the shares only describe the mix.
    std::vector<std::size_t> counts(log.segments.size(), 0);
    for (const auto& c : log.customers) {
      const auto it = std::find(log.segments.begin(), log.segments.end(), c.segment);
      ++counts[static_cast<std::size_t>(it - log.segments.begin())];
    }
    const std::size_t n = log.customers.size();
    double head = 0.0;
    for (std::size_t g = 0; g < counts.size(); ++g) {
      SegmentSpec segment;
      segment.name = log.segments[g];
      segment.share = static_cast<double>(counts[g]) / static_cast<double>(n);
      if (g + 1 == counts.size()) segment.share = std::max(0.0, 1.0 - head);
      head += segment.share;
      const auto [lo, hi] = jeffreys_interval(counts[g], n, 0.95);
      out.estimates.push_back(
          EstimateRow{"segments." + segment.name + ".share", segment.share, lo, hi, n});
      sc.segments.push_back(std::move(segment));
    }
  }
  std::set<std::string> absorbing;
  for (const auto& s : sc.stages) {
    if (s.absorbing) absorbing.insert(s.name);
  }
  std::map<StageSegment, std::size_t> initial;
  std::map<StageSegment, std::size_t> arrivals;
  std::size_t absorbed_arrivals = 0;
  const double last_counted = t.size() >= 3 ? t[t.size() - 2] : first;
  // With creation times: every customer created after day 0 and by the last date arrived then,
  // in the entry stage (or, created at a snapshot date, in the stage seen there).
  std::map<StageSegment, std::size_t> created_arrivals;
  std::size_t without_created = 0;
  const bool by_creation = !entry_stage.empty() && !log.created_column.empty();
  const double last = t.empty() ? 0.0 : t.back();
  for (const auto& c : log.customers) {
    const auto& obs = c.observations.front();
    if (by_creation && std::isfinite(c.created) && !(c.created <= 0.0 && obs.time == first)) {
      if (c.created <= last) {
        ++created_arrivals[{c.created < obs.time ? entry_stage : obs.stage, c.segment}];
      }
      continue;
    }
    if (by_creation) ++without_created;
    if (obs.time == first) {
      ++initial[{obs.stage, c.segment}];
    } else if (obs.time <= last_counted) {
      if (absorbing.count(obs.stage) > 0) {
        ++absorbed_arrivals;
      } else {
        ++arrivals[{obs.stage, c.segment}];
      }
    }
  }
  for (const auto& [key, n] : initial) {
    InitialCohort cohort;
    cohort.stage = key.first;
    cohort.segment = key.second;
    cohort.count = static_cast<std::int64_t>(n);
    sc.arrivals.initial.push_back(cohort);
    out.estimates.push_back(EstimateRow{
        "arrivals.initial[" + std::to_string(sc.arrivals.initial.size() - 1) + "].count",
        static_cast<double>(n), static_cast<double>(n), static_cast<double>(n), n});
  }
  // One Poisson stream per stage: count / exposure, with its Garwood interval.
  const auto add_streams = [&](const std::map<StageSegment, std::size_t>& counts, double exposure) {
    for (const auto& [key, n] : counts) {
      ArrivalStream stream;
      stream.stage = key.first;
      stream.segment = key.second;
      stream.rate_per_day = static_cast<double>(n) / exposure;
      sc.arrivals.streams.push_back(stream);
      const auto [lo, hi] = poisson_interval(n, exposure);
      out.estimates.push_back(EstimateRow{
          "arrivals.streams[" + std::to_string(sc.arrivals.streams.size() - 1) + "].rate_per_day",
          stream.rate_per_day, lo, hi, n});
    }
  };
  if (by_creation) {
    add_streams(created_arrivals, last);
    if (without_created == 0) {
      warn("arrivals",
           "arrivals from the creation times (" + log.created_column +
               "): one stream per entry stage, rate = customers created after day 0 and by the "
               "last date / the days between; customers created before the first date and absorbed "
               "before it are not in the export and not counted");
      return out;
    }
  }
  const double exposure = last_counted - first;
  if (t.size() < 3) {
    warn("arrivals",
         "fewer than three snapshot dates: no arrival rate can be estimated (only the initial "
         "cohort)");
  } else {
    add_streams(arrivals, exposure);
  }
  if (absorbed_arrivals > 0) {
    warn("arrivals",
         std::to_string(absorbed_arrivals) +
             " customers first seen in an absorbing stage are left out of the arrivals");
  }
  if (log.customers_single > 0) {
    warn("arrivals",
         std::to_string(log.customers_single) +
             " customers with a single usable row are not in the fit, the initial cohort or the "
             "arrivals");
  }
  warn("arrivals",
       "snapshots do not show when customers arrive: the initial cohort is the customers seen at "
       "the "
       "first date, and arrivals are the customers first seen at later dates in a non-absorbing "
       "stage, entering the stage they were first seen in. Customers who arrive and are absorbed "
       "between two dates are never counted, so rates are too low when stays are shorter than the "
       "interval between snapshots: check them against your own counts");
  return out;
}

}  // namespace lcsim
