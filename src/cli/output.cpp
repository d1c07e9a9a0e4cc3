#include <unistd.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "lcsim/core/format.hpp"

namespace lcsim::cli {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int /*signal*/) { g_interrupted = true; }

}  // namespace

const std::atomic<bool>& interrupted() { return g_interrupted; }

SigintGuard::SigintGuard() {
  g_interrupted = false;
  std::signal(SIGINT, on_sigint);
}

SigintGuard::~SigintGuard() { std::signal(SIGINT, SIG_DFL); }

std::string num(double x) {
  if (std::isnan(x)) return "n/a";
  char buf[64];
  const double ax = std::fabs(x);
  if (ax >= 1000.0) return (x < 0 ? "-" : "") + group_thousands(x);
  std::snprintf(buf, sizeof buf, ax >= 1.0 || ax == 0.0 ? "%.2f" : "%.4f", x);
  return buf;
}

nlohmann::json number_or_null(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); }

std::string pad(const std::string& s, std::size_t width, bool right) {
  if (s.size() >= width) return s;
  const std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}

namespace {

/// Per-stage means over replications: customers reaching the stage, drop-off, count at the horizon.
struct FunnelRow {
  std::string stage;
  double reached = 0.0;
  double dropoff = 0.0;
  double at_horizon = 0.0;
};

std::vector<FunnelRow> funnel(const Run& run) {
  const auto& names = run.info.stage_names;
  const std::size_t s_count = names.size();
  std::vector<FunnelRow> rows(s_count);
  const auto r_count = static_cast<double>(run.replications.size());
  for (std::size_t s = 0; s < s_count; ++s) {
    rows[s].stage = names[s];
    for (const auto& rep : run.replications) {
      rows[s].reached += static_cast<double>(rep.reached[s]) / r_count;
      rows[s].dropoff += rep.metrics[static_cast<std::size_t>(kNumFixedMetrics) + s] / r_count;
      const auto last = static_cast<std::size_t>(rep.num_reports - 1) * s_count;
      rows[s].at_horizon += static_cast<double>(rep.occupancy[last + s]) / r_count;
    }
  }
  return rows;
}

double transitions_per_second(const Run& run, double seconds) {
  double moves = 0.0;
  for (const auto& rep : run.replications) moves += rep.metrics[kTransitions];
  return seconds > 0.0 ? moves / seconds : 0.0;
}

}  // namespace

nlohmann::json run_to_json(const Run& run, double seconds) {
  nlohmann::json j;
  j["run"] = {{"name", run.info.name},
              {"scenario", run.info.scenario_name},
              {"scenario_file", run.info.scenario_file},
              {"seed", run.info.seed},
              {"replications", run.info.replications},
              {"won", run.info.won},
              {"lcsim_version", run.info.lcsim_version},
              {"created", run.info.created},
              {"seconds", seconds},
              {"transitions_per_second", transitions_per_second(run, seconds)}};
  auto& summary = j["summary"] = nlohmann::json::array();
  for (const auto& row : run.summary) {
    summary.push_back({{"metric", row.metric},
                       {"mean", number_or_null(row.mean)},
                       {"std", number_or_null(row.std)},
                       {"ci_low", number_or_null(row.ci_low)},
                       {"ci_high", number_or_null(row.ci_high)},
                       {"n", row.n}});
  }
  auto& f = j["funnel"] = nlohmann::json::array();
  for (const auto& row : funnel(run)) {
    f.push_back({{"stage", row.stage}, {"reached", row.reached}, {"dropoff", row.dropoff}, {"at_horizon", row.at_horizon}});
  }
  auto& tps = j["touchpoints"] = nlohmann::json::array();
  const auto r_count = static_cast<double>(run.replications.size());
  for (std::size_t k = 0; k < run.info.touchpoint_names.size(); ++k) {
    TouchpointTally mean;
    for (const auto& rep : run.replications) {
      mean.contacts += rep.touchpoints[k].contacts / r_count;
      mean.reached += rep.touchpoints[k].reached / r_count;
      mean.moves += rep.touchpoints[k].moves / r_count;
      mean.cost += rep.touchpoints[k].cost / r_count;
    }
    tps.push_back({{"touchpoint", run.info.touchpoint_names[k]},
                   {"contacts", mean.contacts},
                   {"reached", mean.reached},
                   {"moves", mean.moves},
                   {"cost", mean.cost}});
  }
  return j;
}

std::string run_to_text(const Run& run, double seconds) {
  std::ostringstream out;
  out << run.info.name << ": " << run.info.replications << " replications, seed " << run.info.seed << ", "
      << num(seconds) << " s (" << num(transitions_per_second(run, seconds) / 1e6) << " M transitions/s)\n\n";
  out << pad("metric", 26) << pad("mean", 16, true) << "   95% CI\n";
  for (const auto& row : run.summary) {
    if (row.metric.rfind("dropoff.", 0) == 0) continue;  // shown in the funnel
    out << pad(row.metric, 26) << pad(num(row.mean), 16, true) << "   ";
    out << (std::isnan(row.ci_low) ? std::string("n/a") : "[" + num(row.ci_low) + ", " + num(row.ci_high) + "]") << '\n';
  }
  out << "\nfunnel (mean per replication; won = " << run.info.won << ")\n";
  out << pad("stage", 16) << pad("reached", 14, true) << pad("drop-off", 14, true) << pad("at horizon", 14, true) << '\n';
  for (const auto& row : funnel(run)) {
    out << pad(row.stage, 16) << pad(num(row.reached), 14, true) << pad(num(row.dropoff), 14, true)
        << pad(num(row.at_horizon), 14, true) << '\n';
  }
  if (!run.info.touchpoint_names.empty()) {
    const auto j = run_to_json(run, seconds);
    out << '\n' << pad("touchpoint", 16) << pad("contacts", 14, true) << pad("reached", 14, true)
        << pad("moves", 14, true) << pad("cost", 14, true) << '\n';
    for (const auto& t : j["touchpoints"]) {
      out << pad(t["touchpoint"].get<std::string>(), 16) << pad(num(t["contacts"].get<double>()), 14, true)
          << pad(num(t["reached"].get<double>()), 14, true) << pad(num(t["moves"].get<double>()), 14, true)
          << pad(num(t["cost"].get<double>()), 14, true) << '\n';
    }
  }
  return out.str();
}

Progress::Progress(std::string label, int total)
    : label_(std::move(label)), total_(total), enabled_(isatty(STDERR_FILENO) != 0) {}

void Progress::update(std::int64_t customers, int done) {
  if (!enabled_) return;
  constexpr int kWidth = 30;
  if (total_ <= 0) {
    std::fprintf(stderr, "\r%s: %d replications, %s customers", label_.c_str(), done,
                 num(static_cast<double>(customers)).c_str());
    std::fflush(stderr);
    return;
  }
  const int filled = done * kWidth / total_;
  std::fprintf(stderr, "\r%s [%s%s] %d/%d replications, %s customers", label_.c_str(),
               std::string(static_cast<std::size_t>(filled), '#').c_str(),
               std::string(static_cast<std::size_t>(kWidth - filled), '.').c_str(), done, total_,
               num(static_cast<double>(customers)).c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (!enabled_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

}  // namespace lcsim::cli
