#include "lcsim/calibrate/snapshot_scenario.hpp"

#include <cstddef>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/math/special_functions/gamma.hpp>

namespace lcsim {

namespace {

/// Exact (Garwood) interval of a Poisson count over an exposure.
std::pair<double, double> poisson_interval(std::size_t count, double exposure) {
  const double c = static_cast<double>(count);
  const double low = count > 0 ? boost::math::gamma_p_inv(c, 0.025) : 0.0;
  const double high = boost::math::gamma_p_inv(c + 1.0, 0.975);
  return {low / exposure, high / exposure};
}

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
  std::set<std::string> absorbing;
  for (const auto& s : sc.stages) {
    if (s.absorbing) absorbing.insert(s.name);
  }
  std::map<std::string, std::size_t> initial;
  std::map<std::string, std::size_t> arrivals;
  std::size_t absorbed_arrivals = 0;
  const double last_counted = t.size() >= 3 ? t[t.size() - 2] : first;
  // With creation times: every customer created after day 0 and by the last date arrived then,
  // in the entry stage (or, created at a snapshot date, in the stage seen there).
  std::map<std::string, std::size_t> created_arrivals;
  std::size_t without_created = 0;
  const bool by_creation = !entry_stage.empty() && !log.created_column.empty();
  const double last = t.empty() ? 0.0 : t.back();
  for (const auto& c : log.customers) {
    const auto& obs = c.observations.front();
    if (by_creation && std::isfinite(c.created) && !(c.created <= 0.0 && obs.time == first)) {
      if (c.created <= last) ++created_arrivals[c.created < obs.time ? entry_stage : obs.stage];
      continue;
    }
    if (by_creation) ++without_created;
    if (obs.time == first) {
      ++initial[obs.stage];
    } else if (obs.time <= last_counted) {
      if (absorbing.count(obs.stage) > 0) {
        ++absorbed_arrivals;
      } else {
        ++arrivals[obs.stage];
      }
    }
  }
  for (const auto& [stage, n] : initial) {
    InitialCohort cohort;
    cohort.stage = stage;
    cohort.count = static_cast<std::int64_t>(n);
    sc.arrivals.initial.push_back(cohort);
    out.estimates.push_back(EstimateRow{
        "arrivals.initial[" + std::to_string(sc.arrivals.initial.size() - 1) + "].count",
        static_cast<double>(n), static_cast<double>(n), static_cast<double>(n), n});
  }
  // One Poisson stream per stage: count / exposure, with its Garwood interval.
  const auto add_streams = [&](const std::map<std::string, std::size_t>& counts, double exposure) {
    for (const auto& [stage, n] : counts) {
      ArrivalStream stream;
      stream.stage = stage;
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
