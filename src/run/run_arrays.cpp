#include "lcsim/run/run_arrays.hpp"

#include <string>
#include <type_traits>

#include "lcsim/core/error.hpp"

namespace lcsim {

RunArrays pack(const Run& run) {
  RunArrays a;
  a.replications = run.replications.size();
  a.stages = run.info.stage_names.size();
  a.reports = run.info.report_times.size();
  a.touchpoints = run.info.touchpoint_names.size();
  a.metrics = run.info.metric_names.size();
  a.resources = run.info.resource_names.size();
  const std::size_t r_count = a.replications;
  const std::size_t tq = a.reports * a.resources;
  a.replication.reserve(r_count);
  a.occupancy.reserve(r_count * a.reports * a.stages);
  a.transitions.reserve(r_count * a.stages * a.stages);
  a.reached.reserve(r_count * a.stages);
  a.touchpoint_tallies.reserve(r_count * a.touchpoints * 4);
  a.metric_values.reserve(r_count * a.metrics);
  a.queue_length.reserve(r_count * tq);
  a.queue_wait.reserve(r_count * tq);
  for (const ReplicationResult& rep : run.replications) {
    if (rep.occupancy.size() != a.reports * a.stages ||
        rep.transitions.size() != a.stages * a.stages || rep.reached.size() != a.stages ||
        rep.touchpoints.size() != a.touchpoints || rep.metrics.size() != a.metrics) {
      throw InternalError("pack: replication " + std::to_string(rep.replication) +
                          " does not match the run's stages, reports, touchpoints or metrics");
    }
    if (static_cast<std::size_t>(rep.num_resources) != a.resources ||
        rep.queue_length.size() != tq || rep.queue_wait.size() != tq) {
      throw InternalError(
          "pack: replication " + std::to_string(rep.replication) +
          " does not match the run's resources (queue_length/queue_wait are not [T * Q])");
    }
    a.replication.push_back(rep.replication);
    a.occupancy.insert(a.occupancy.end(), rep.occupancy.begin(), rep.occupancy.end());
    a.transitions.insert(a.transitions.end(), rep.transitions.begin(), rep.transitions.end());
    a.reached.insert(a.reached.end(), rep.reached.begin(), rep.reached.end());
    for (const TouchpointTally& t : rep.touchpoints) {
      a.touchpoint_tallies.insert(a.touchpoint_tallies.end(),
                                  {t.contacts, t.reached, t.moves, t.cost});
    }
    a.metric_values.insert(a.metric_values.end(), rep.metrics.begin(), rep.metrics.end());
    a.queue_length.insert(a.queue_length.end(), rep.queue_length.begin(), rep.queue_length.end());
    a.queue_wait.insert(a.queue_wait.end(), rep.queue_wait.begin(), rep.queue_wait.end());
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

Run unpack(RunInfo info, const RunArrays& a, const EventColumns* events) {
  const std::size_t r_count = a.replications;
  const std::size_t t = a.reports;
  const std::size_t s = a.stages;
  const std::size_t k = a.touchpoints;
  const std::size_t m = a.metrics;
  const std::size_t q = a.resources;
  if (a.replication.size() != r_count || a.occupancy.size() != r_count * t * s ||
      a.transitions.size() != r_count * s * s || a.reached.size() != r_count * s ||
      a.touchpoint_tallies.size() != r_count * k * 4 || a.metric_values.size() != r_count * m ||
      s != info.stage_names.size() || t != info.report_times.size() ||
      k != info.touchpoint_names.size() || m != info.metric_names.size() ||
      q != info.resource_names.size() || a.queue_length.size() != r_count * t * q ||
      a.queue_wait.size() != r_count * t * q) {
    throw InternalError("unpack: array sizes do not match the run's shape");
  }
  auto slice = [](const auto& v, std::size_t i, std::size_t n) {
    using T = typename std::decay_t<decltype(v)>::value_type;
    return std::vector<T>(v.begin() + static_cast<std::ptrdiff_t>(i * n),
                          v.begin() + static_cast<std::ptrdiff_t>((i + 1) * n));
  };
  Run run;
  run.info = std::move(info);
  run.info.replications = static_cast<int>(r_count);
  run.replications.resize(r_count);
  for (std::size_t i = 0; i < r_count; ++i) {
    ReplicationResult& rep = run.replications[i];
    rep.replication = a.replication[i];
    rep.num_stages = static_cast<int>(s);
    rep.num_reports = static_cast<int>(t);
    rep.occupancy = slice(a.occupancy, i, t * s);
    rep.transitions = slice(a.transitions, i, s * s);
    rep.reached = slice(a.reached, i, s);
    rep.metrics = slice(a.metric_values, i, m);
    rep.num_resources = static_cast<int>(q);
    rep.queue_length = slice(a.queue_length, i, t * q);
    rep.queue_wait = slice(a.queue_wait, i, t * q);
    for (std::size_t j = 0; j < k; ++j) {
      const double* x = a.touchpoint_tallies.data() + (i * k + j) * 4;
      rep.touchpoints.push_back(TouchpointTally{x[0], x[1], x[2], x[3]});
    }
  }
  run.has_events = events != nullptr;
  if (events != nullptr) {
    std::size_t i = 0;
    for (std::size_t e = 0; e < events->time.size(); ++e) {
      // events come in replication order: advance to the replication of this row
      while (i < r_count && run.replications[i].replication != events->replication[e]) ++i;
      if (i == r_count)
        throw InternalError("unpack: an event belongs to no replication of the run");
      run.replications[i].events.push_back(Event{events->replication[e], events->customer[e],
                                                 events->time[e], events->from[e], events->to[e],
                                                 events->cause[e]});
    }
  }
  run.summary = summarize(run.info.metric_names, run.replications);
  return run;
}

}  // namespace lcsim
