#include "lcsim/run/run.hpp"

#include <algorithm>
#include <atomic>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <ctime>
#include <limits>
#include <memory>

#include "lcsim/core/error.hpp"
#include "lcsim/core/version.hpp"
#include "lcsim/engine/engine.hpp"
#include "parallel.hpp"

namespace lcsim {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

RunInfo make_info(const Model& model, const std::string& name, std::uint64_t seed, int reps) {
  RunInfo info;
  info.name = name.empty() ? model.name : name;
  info.scenario_name = model.name;
  info.scenario_text = model.scenario_text;
  info.scenario_file = model.scenario_file;
  info.scenario_extends = model.scenario_extends;
  info.scenario_own_text = model.scenario_own_text;
  info.seed = seed;
  info.replications = reps;
  info.lcsim_version = kVersion;
  info.boost_version = kBoostVersion;
  info.created = utc_now();
  info.stage_names = model.stage_names;
  info.segment_names = model.segment_names;
  info.touchpoint_names = model.touchpoint_names;
  info.resource_names = model.resource_names;
  info.metric_names = metric_names(model.stage_names, model.resource_names);
  info.cause_names =
      cause_names(model.touchpoint_names, model.resource_names, model.referral_names);
  info.report_times = model.report_times;
  info.won = model.stage_names[static_cast<std::size_t>(model.won)];
  return info;
}

}  // namespace

double t95_factor(std::int64_t n) {
  if (n < 2) return kNaN;
  const boost::math::students_t t(static_cast<double>(n - 1));
  return boost::math::quantile(boost::math::complement(t, 0.025));
}

std::vector<SummaryRow> summarize(const std::vector<std::string>& metric_names,
                                  const std::vector<ReplicationResult>& reps) {
  std::vector<SummaryRow> rows;
  rows.reserve(metric_names.size());
  for (std::size_t m = 0; m < metric_names.size(); ++m) {
    SummaryRow row;
    row.metric = metric_names[m];
    double sum = 0.0;
    for (const auto& r : reps) {
      const double x = r.metrics[m];
      if (std::isnan(x)) continue;
      sum += x;
      ++row.n;
    }
    if (row.n == 0) {
      row.mean = row.std = row.ci_low = row.ci_high = kNaN;
      rows.push_back(row);
      continue;
    }
    const auto n = static_cast<double>(row.n);
    row.mean = sum / n;
    double ss = 0.0;
    for (const auto& r : reps) {
      const double x = r.metrics[m];
      if (!std::isnan(x)) ss += (x - row.mean) * (x - row.mean);
    }
    if (row.n < 2) {
      row.std = row.ci_low = row.ci_high = kNaN;
    } else {
      row.std = std::sqrt(ss / (n - 1.0));
      const double half = t95_factor(row.n) * row.std / std::sqrt(n);
      row.ci_low = row.mean - half;
      row.ci_high = row.mean + half;
    }
    rows.push_back(row);
  }
  return rows;
}

Run simulate(const Model& model, const RunOptions& options) {
  const int reps = options.replications > 0 ? options.replications : model.replications;
  const std::uint64_t seed = options.has_seed ? options.seed : model.seed;
  const Engine engine(model);
  SimulationControl base;
  base.events = options.events;
  base.contacts = options.contacts;
  base.seed_override = seed;
  base.has_seed = true;
  base.part_customers = options.part_customers;
  // Each replication is split into parts of its customers (Engine::plan: one part unless it is
  // large), and the tasks are the parts of every replication, in replication order: the threads
  // share one big replication as they share many small ones. The thread that finishes a
  // replication's last part joins its parts, in part order, so the result does not depend on which
  // thread ran which part, nor when.
  std::vector<ReplicationPlan> plans(static_cast<std::size_t>(reps));
  for (int i = 0; i < reps; ++i)
    plans[static_cast<std::size_t>(i)] = engine.plan(options.first_replication + i, base);
  struct Task {
    int replication;  // index into plans
    int part;
  };
  std::vector<Task> tasks;
  for (int i = 0; i < reps; ++i) {
    for (int p = 0; p < plans[static_cast<std::size_t>(i)].parts(); ++p)
      tasks.push_back(Task{i, p});
  }
  std::vector<std::vector<ReplicationPart>> parts(static_cast<std::size_t>(reps));
  auto left = std::make_unique<std::atomic<int>[]>(static_cast<std::size_t>(reps));
  for (int i = 0; i < reps; ++i) {
    const auto n = static_cast<std::size_t>(plans[static_cast<std::size_t>(i)].parts());
    parts[static_cast<std::size_t>(i)].resize(n);
    left[static_cast<std::size_t>(i)] = static_cast<int>(n);
  }
  std::atomic<int> joined{0};
  std::vector<ReplicationResult> results(static_cast<std::size_t>(reps));
  std::function<void(std::int64_t, int)> on_progress;  // (customers, replications joined)
  if (options.on_progress) {
    on_progress = [&](std::int64_t customers, int) {
      options.on_progress(customers, joined.load());
    };
  }
  detail::parallel_for(static_cast<int>(tasks.size()), options.threads, options.cancel, on_progress,
                       [&](int t, const detail::TaskControl& task) {
                         const Task& k = tasks[static_cast<std::size_t>(t)];
                         const auto i = static_cast<std::size_t>(k.replication);
                         SimulationControl control = base;
                         control.cancel = task.stop;
                         control.progress = task.progress;
                         parts[i][static_cast<std::size_t>(k.part)] =
                             engine.simulate_part(plans[i], k.part, control);
                         if (--left[i] == 0) {  // the last part of the replication: join
                           results[i] = engine.join(plans[i], std::move(parts[i]), control);
                           ++joined;
                         }
                       });
  return assemble_run(model, options.name, seed, std::move(results), options.events);
}

Run assemble_run(const Model& model, const std::string& name, std::uint64_t seed,
                 std::vector<ReplicationResult> replications, bool has_events) {
  Run run;
  run.info = make_info(model, name, seed, static_cast<int>(replications.size()));
  run.has_events = has_events;
  run.replications = std::move(replications);
  run.summary = summarize(run.info.metric_names, run.replications);
  return run;
}

Run join_batches(std::vector<Run> batches) {
  if (batches.empty()) throw InternalError("join_batches: no batches");
  Run out = std::move(batches.front());
  for (std::size_t b = 1; b < batches.size(); ++b) {
    Run& next = batches[b];
    if (next.info.scenario_text != out.info.scenario_text || next.info.seed != out.info.seed ||
        next.info.metric_names != out.info.metric_names || next.has_events != out.has_events) {
      throw InternalError("join_batches: batches of different scenarios, seeds or event logging");
    }
    for (auto& rep : next.replications) out.replications.push_back(std::move(rep));
  }
  std::stable_sort(out.replications.begin(), out.replications.end(),
                   [](const ReplicationResult& a, const ReplicationResult& b) {
                     return a.replication < b.replication;
                   });
  out.info.replications = static_cast<int>(out.replications.size());
  out.summary = summarize(out.info.metric_names, out.replications);
  return out;
}

}  // namespace lcsim
