#include "lcsim/run/run_arrays.hpp"

#include <string>

#include "lcsim/core/error.hpp"

namespace lcsim {

RunArrays pack(const Run& run) {
  RunArrays a;
  a.replications = run.replications.size();
  a.stages = run.info.stage_names.size();
  a.reports = run.info.report_times.size();
  a.touchpoints = run.info.touchpoint_names.size();
  a.metrics = run.info.metric_names.size();
  const std::size_t r_count = a.replications;
  a.replication.reserve(r_count);
  a.occupancy.reserve(r_count * a.reports * a.stages);
  a.transitions.reserve(r_count * a.stages * a.stages);
  a.reached.reserve(r_count * a.stages);
  a.touchpoint_tallies.reserve(r_count * a.touchpoints * 4);
  a.metric_values.reserve(r_count * a.metrics);
  for (const ReplicationResult& rep : run.replications) {
    if (rep.occupancy.size() != a.reports * a.stages || rep.transitions.size() != a.stages * a.stages ||
        rep.reached.size() != a.stages || rep.touchpoints.size() != a.touchpoints ||
        rep.metrics.size() != a.metrics) {
      throw InternalError("pack: replication " + std::to_string(rep.replication) +
                          " does not match the run's stages, reports, touchpoints or metrics");
    }
    a.replication.push_back(rep.replication);
    a.occupancy.insert(a.occupancy.end(), rep.occupancy.begin(), rep.occupancy.end());
    a.transitions.insert(a.transitions.end(), rep.transitions.begin(), rep.transitions.end());
    a.reached.insert(a.reached.end(), rep.reached.begin(), rep.reached.end());
    for (const TouchpointTally& t : rep.touchpoints) {
      a.touchpoint_tallies.insert(a.touchpoint_tallies.end(), {t.contacts, t.reached, t.moves, t.cost});
    }
    a.metric_values.insert(a.metric_values.end(), rep.metrics.begin(), rep.metrics.end());
  }
  return a;
}

EventColumns event_columns(const Run& run) {
  EventColumns c;
  std::size_t n = 0;
  for (const auto& rep : run.replications) n += rep.events.size();
  c.replication.reserve(n);
  c.customer.reserve(n);
  c.time.reserve(n);
  c.from.reserve(n);
  c.to.reserve(n);
  c.cause.reserve(n);
  for (const auto& rep : run.replications) {
    for (const Event& e : rep.events) {
      c.replication.push_back(e.replication);
      c.customer.push_back(e.customer);
      c.time.push_back(e.time);
      c.from.push_back(e.from);
      c.to.push_back(e.to);
      c.cause.push_back(e.cause);
    }
  }
  return c;
}

}  // namespace lcsim
