#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
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

std::size_t text_width() {
  constexpr std::size_t kMost = 100;
  winsize size{};
  if (isatty(STDOUT_FILENO) != 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 &&
      size.ws_col >= 40) {
    return std::min<std::size_t>(kMost, size.ws_col);
  }
  return kMost;
}

namespace {
/// Characters on screen of UTF-8 text (continuation bytes are not characters).
std::size_t shown_length(const std::string& s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}
}  // namespace

std::string wrap(const std::string& text, std::size_t width, const std::string& first,
                 const std::string& rest) {
  std::string out = first;
  std::size_t column = shown_length(first);
  bool line_empty = true;
  std::istringstream words(text);
  std::string word;
  while (words >> word) {
    const std::size_t length = shown_length(word);
    if (!line_empty && column + 1 + length > width) {
      out += '\n' + rest;
      column = shown_length(rest);
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++column;
    }
    out += word;
    column += length;
    line_empty = false;
  }
  return out + '\n';
}

nlohmann::json number_or_null(double x) {
  return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json();
}

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

/// True if the model has referral sources (their causes are named "referral:<name>").
bool has_referrals(const Run& run) {
  for (const auto& cause : run.info.cause_names) {
    if (cause.rfind("referral:", 0) == 0) return true;
  }
  return false;
}

/// Summary rows by metric name.
std::map<std::string, const SummaryRow*> summary_by_name(const Run& run) {
  std::map<std::string, const SummaryRow*> rows;
  for (const auto& row : run.summary) rows.emplace(row.metric, &row);
  return rows;
}

/// Mean over replications (NaN ones left out) and its 95% Student-t interval.
struct Band {
  double mean = std::nan("");
  double ci_low = std::nan("");
  double ci_high = std::nan("");
};

Band band_of(const std::vector<double>& values) {
  double sum = 0.0;
  std::int64_t n = 0;
  for (const double x : values) {
    if (std::isnan(x)) continue;
    sum += x;
    ++n;
  }
  Band b;
  if (n == 0) return b;
  b.mean = sum / static_cast<double>(n);
  if (n < 2) return b;
  double ss = 0.0;
  for (const double x : values) {
    if (!std::isnan(x)) ss += (x - b.mean) * (x - b.mean);
  }
  const double half =
      t95_factor(n) * std::sqrt(ss / static_cast<double>(n - 1) / static_cast<double>(n));
  b.ci_low = b.mean - half;
  b.ci_high = b.mean + half;
  return b;
}

/// Per report time, the band of values[r][t * Q + q] over replications r.
std::vector<Band> queue_bands(const Run& run, std::size_t q, bool wait) {
  const std::size_t q_count = run.info.resource_names.size();
  const std::size_t t_count = run.info.report_times.size();
  std::vector<Band> bands(t_count);
  std::vector<double> values(run.replications.size());
  for (std::size_t t = 0; t < t_count; ++t) {
    for (std::size_t r = 0; r < run.replications.size(); ++r) {
      const auto& rep = run.replications[r];
      values[r] = wait ? rep.queue_wait[t * q_count + q]
                       : static_cast<double>(rep.queue_length[t * q_count + q]);
    }
    bands[t] = band_of(values);
  }
  return bands;
}

nlohmann::json bands_to_json(const Run& run, const std::vector<Band>& bands) {
  nlohmann::json mean = nlohmann::json::array();
  nlohmann::json low = nlohmann::json::array();
  nlohmann::json high = nlohmann::json::array();
  for (const auto& b : bands) {
    mean.push_back(number_or_null(b.mean));
    low.push_back(number_or_null(b.ci_low));
    high.push_back(number_or_null(b.ci_high));
  }
  return {
      {"report_times", run.info.report_times}, {"mean", mean}, {"ci_low", low}, {"ci_high", high}};
}

/// {resource: {metric: {mean, ci_low, ci_high}, queue_length: {report_times, mean, ci_low,
/// ci_high}, queue_wait: {...}}}: the per-resource metrics of the summary and, per report time,
/// the mean queue length and the mean wait of the services started in the period.
nlohmann::json resources_to_json(const Run& run) {
  nlohmann::json out = nlohmann::json::object();
  const auto rows = summary_by_name(run);
  for (std::size_t q = 0; q < run.info.resource_names.size(); ++q) {
    const std::string& name = run.info.resource_names[q];
    nlohmann::json r = nlohmann::json::object();
    for (const auto& metric : resource_metric_names()) {
      const auto it = rows.find("resource." + name + "." + metric);
      if (it == rows.end()) continue;
      r[metric] = {{"mean", number_or_null(it->second->mean)},
                   {"ci_low", number_or_null(it->second->ci_low)},
                   {"ci_high", number_or_null(it->second->ci_high)}};
    }
    r["queue_length"] = bands_to_json(run, queue_bands(run, q, false));
    r["queue_wait"] = bands_to_json(run, queue_bands(run, q, true));
    out[name] = std::move(r);
  }
  return out;
}

/// "mean ± half-width" of a summary row; `percent` shows fractions as percentages. The half-width
/// gets the mean's decimals when the mean is 1 or more (1.03 ± 0.33, not 1.03 ± 0.3323).
std::string with_half_width(const SummaryRow* row, bool percent) {
  if (row == nullptr || std::isnan(row->mean)) return "n/a";
  const auto fixed = [](double x, const char* format) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, x);
    return std::string(buf);
  };
  std::string text = percent ? fixed(row->mean * 100.0, "%.1f%%") : num(row->mean);
  if (!std::isnan(row->ci_low) && !std::isnan(row->ci_high)) {
    const double half = (row->ci_high - row->ci_low) / 2.0;
    std::string shown;
    if (percent) {
      shown = fixed(half * 100.0, "%.1f%%");
    } else if (std::fabs(row->mean) >= 1.0 && std::fabs(half) < 1.0) {
      shown = fixed(half, "%.2f");
    } else {
      shown = num(half);
    }
    text += " ± " + shown;
  }
  return text;
}

/// `s` padded on the left to `width` characters on screen (UTF-8: '±' is one character, 2 bytes).
std::string pad_right_aligned(const std::string& s, std::size_t width) {
  std::size_t shown = 0;
  for (const char c : s) shown += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return shown >= width ? s : std::string(width - shown, ' ') + s;
}

/// The resources table: one column per resource, one row per key metric.
std::string resources_to_text(const Run& run) {
  const auto rows = summary_by_name(run);
  struct Line {
    const char* label;
    const char* metric;
    bool percent;
  };
  static const Line lines[] = {{"utilisation", "utilisation", true},
                               {"served (customers)", "served", false},
                               {"abandoned (customers)", "abandoned", false},
                               {"waited (% of joiners)", "waited", true},
                               {"wait mean (days)", "wait_mean", false},
                               {"wait p95 (days)", "wait_p95", false},
                               {"mean queue (customers)", "queue_mean", false},
                               {"staff cost ($)", "staff_cost", false}};
  std::size_t width = 22;
  for (const auto& name : run.info.resource_names) width = std::max(width, name.size() + 2);
  // An empty first header cell keeps the label column 26 wide, as in the metrics table.
  std::ostringstream out;
  out << "\nresources (mean per replication ± 95% CI half-width)\n" << pad("", 26);
  for (const auto& name : run.info.resource_names) out << pad_right_aligned(name, width);
  out << '\n';
  for (const Line& line : lines) {
    out << pad(line.label, 26);
    for (const auto& name : run.info.resource_names) {
      const auto it = rows.find("resource." + name + "." + line.metric);
      out << pad_right_aligned(
          with_half_width(it == rows.end() ? nullptr : it->second, line.percent), width);
    }
    out << '\n';
  }
  return out.str();
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
    f.push_back({{"stage", row.stage},
                 {"reached", row.reached},
                 {"dropoff", row.dropoff},
                 {"at_horizon", row.at_horizon}});
  }
  j["resources"] = resources_to_json(run);
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

std::string metric_unit(const std::string& metric) {
  static const std::map<std::string, std::string> units = {{"customers", "customers"},
                                                           {"conversions", "customers"},
                                                           {"conversion_rate", "share"},
                                                           {"time_to_convert_mean", "days"},
                                                           {"time_to_convert_median", "days"},
                                                           {"revenue", "$"},
                                                           {"touchpoint_cost", "$"},
                                                           {"discounted_revenue", "$"},
                                                           {"discounted_cost", "$"},
                                                           {"net_value", "$"},
                                                           {"value_per_conversion", "$/conversion"},
                                                           {"cost_per_conversion", "$/conversion"},
                                                           {"transitions", "moves"},
                                                           {"referrals", "customers"}};
  const auto it = units.find(metric);
  if (it != units.end()) return it->second;
  if (metric.rfind("dropoff.", 0) == 0) return "customers";
  return "";
}

std::string run_to_text(const Run& run, double seconds) {
  std::ostringstream out;
  const double horizon = run.info.report_times.empty() ? 0.0 : run.info.report_times.back();
  out << run.info.name << ": " << run.info.replications << " replications, seed " << run.info.seed
      << ", " << num(seconds) << " s (" << num(transitions_per_second(run, seconds) / 1e6)
      << " M transitions/s)\n";
  char days[32];
  std::snprintf(days, sizeof days, "%g", horizon);
  out << "means per replication (one replication: " << days << " days of the scenario)\n\n";
  out << pad("metric", 26) << pad("unit", 14) << pad("mean", 16, true) << "   95% CI\n";
  const bool referrals = has_referrals(run);
  for (const auto& row : run.summary) {
    if (row.metric.rfind("dropoff.", 0) == 0) continue;     // shown in the funnel
    if (row.metric.rfind("resource.", 0) == 0) continue;    // shown in the resources table
    if (row.metric == "referrals" && !referrals) continue;  // always 0 without referral sources
    out << pad(row.metric, 26) << pad(metric_unit(row.metric), 14) << pad(num(row.mean), 16, true)
        << "   ";
    out << (std::isnan(row.ci_low) ? std::string("n/a")
                                   : "[" + num(row.ci_low) + ", " + num(row.ci_high) + "]")
        << '\n';
  }
  if (!run.info.resource_names.empty()) out << resources_to_text(run);
  out << "\nfunnel (customers, mean per replication; won = " << run.info.won << ")\n";
  out << pad("stage", 16) << pad("reached", 14, true) << pad("drop-off", 14, true)
      << pad("at horizon", 14, true) << '\n';
  for (const auto& row : funnel(run)) {
    out << pad(row.stage, 16) << pad(num(row.reached), 14, true) << pad(num(row.dropoff), 14, true)
        << pad(num(row.at_horizon), 14, true) << '\n';
  }
  if (!run.info.touchpoint_names.empty()) {
    const auto j = run_to_json(run, seconds);
    out << "\ntouchpoints (mean per replication; cost undiscounted)\n";
    out << pad("touchpoint", 16) << pad("contacts", 14, true) << pad("reached", 14, true)
        << pad("moves", 14, true) << pad("cost ($)", 14, true) << '\n';
    for (const auto& t : j["touchpoints"]) {
      out << pad(t["touchpoint"].get<std::string>(), 16)
          << pad(num(t["contacts"].get<double>()), 14, true)
          << pad(num(t["reached"].get<double>()), 14, true)
          << pad(num(t["moves"].get<double>()), 14, true)
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
