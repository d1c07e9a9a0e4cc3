#include "lcsim/run/run.hpp"

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <ctime>
#include <limits>

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
  info.cause_names = cause_names(model.touchpoint_names, model.resource_names, model.referral_names);
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
  std::vector<ReplicationResult> results(static_cast<std::size_t>(reps));
  detail::parallel_for(reps, options.threads, options.cancel, options.on_progress,
                       [&](int i, const detail::TaskControl& task) {
                         SimulationControl control;
                         control.events = options.events;
                         control.contacts = options.contacts;
                         control.cancel = task.stop;
                         control.progress = task.progress;
                         control.seed_override = seed;
                         control.has_seed = true;
                         results[static_cast<std::size_t>(i)] = engine.simulate(options.first_replication + i, control);
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
                   [](const ReplicationResult& a, const ReplicationResult& b) { return a.replication < b.replication; });
  out.info.replications = static_cast<int>(out.replications.size());
  out.summary = summarize(out.info.metric_names, out.replications);
  return out;
}

}  // namespace lcsim
