#include "lcsim/run/run.hpp"

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "lcsim/core/error.hpp"
#include "lcsim/core/version.hpp"
#include "lcsim/engine/engine.hpp"

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

RunInfo make_info(const Model& model, const RunOptions& options, std::uint64_t seed, int reps) {
  RunInfo info;
  info.name = options.name.empty() ? model.name : options.name;
  info.scenario_name = model.name;
  info.scenario_text = model.scenario_text;
  info.scenario_file = model.scenario_file;
  info.seed = seed;
  info.replications = reps;
  info.lcsim_version = kVersion;
  info.boost_version = kBoostVersion;
  info.created = utc_now();
  info.stage_names = model.stage_names;
  info.segment_names = model.segment_names;
  info.touchpoint_names = model.touchpoint_names;
  info.metric_names = metric_names(model.stage_names);
  info.cause_names = {"exit", "arrival"};
  for (const auto& t : model.touchpoint_names) info.cause_names.push_back("touchpoint:" + t);
  info.report_times = model.report_times;
  info.won = model.stage_names[static_cast<std::size_t>(model.won)];
  return info;
}

}  // namespace

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
      const boost::math::students_t t(n - 1.0);
      const double half = boost::math::quantile(boost::math::complement(t, 0.025)) * row.std / std::sqrt(n);
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
  int threads = options.threads > 0 ? options.threads
                                    : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  threads = std::min(threads, reps);

  std::vector<ReplicationResult> results(static_cast<std::size_t>(reps));
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> progress{0};
  std::exception_ptr failure;
  std::mutex mutex;  // guards failure; with `wake` lets the watcher sleep until something happens
  std::condition_variable wake;

  SimulationControl control;
  control.events = options.events;
  control.cancel = &stop;
  control.progress = &progress;
  control.seed_override = seed;
  control.has_seed = true;
  const Engine engine(model);

  auto worker = [&] {
    for (int r = next++; r < reps && !stop.load(); r = next++) {
      try {
        results[static_cast<std::size_t>(r)] = engine.simulate(r, control);
        ++done;
      } catch (...) {
        const std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        stop = true;
      }
      wake.notify_all();
    }
  };

  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker);
  // The calling thread watches: user cancellation and progress reports. Whatever happens here,
  // the workers are stopped and joined before leaving.
  try {
    while (done.load() < reps && !stop.load()) {
      if (options.cancel != nullptr && options.cancel->load()) stop = true;
      if (options.on_progress) options.on_progress(progress.load(), done.load());
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait_for(lock, std::chrono::milliseconds(100),
                    [&] { return done.load() >= reps || stop.load(); });
    }
  } catch (...) {
    stop = true;
    for (auto& t : pool) t.join();
    throw;
  }
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  if (done.load() < reps) throw Cancelled();
  if (options.on_progress) options.on_progress(progress.load(), done.load());

  Run run;
  run.info = make_info(model, options, seed, reps);
  run.has_events = options.events;
  run.replications = std::move(results);
  run.summary = summarize(run.info.metric_names, run.replications);
  return run;
}

}  // namespace lcsim
