// `lcsim analyze`: the closed form of the Markov part of a scenario, its ranked elasticities, and
// optionally a simulation of the same stage rules beside it as a check.
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>

#include "checks.hpp"
#include "commands.hpp"
#include "lcsim/analysis/markov.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/model/compile.hpp"

namespace lcsim::cli {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint_analyze(int /*signal*/) { g_interrupted = true; }

struct AnalyzeArgs {
  std::string scenario;
  std::string segment;
  std::string start;
  int top = 10;
  int simulate = 0;
  std::uint64_t seed = 0;
  int threads = 0;
  bool keep_touchpoints = false;
  bool json = false;
};

/// The simulated side of the check: means and 95% CIs over replications.
struct Simulated {
  int replications = 0;
  std::uint64_t seed = 0;
  bool touchpoints = false;
  SummaryRow customers;
  SummaryRow conversions;
  SummaryRow conversion_rate;
  SummaryRow time_to_convert;
  std::vector<double> reached;  ///< [S] mean fraction of customers who entered each stage
};

std::string fmt(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}

/// Readable number: n/a for NaN, inf for infinity, thousands separators for large values.
std::string num(double x) {
  if (std::isnan(x)) return "n/a";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  const double ax = std::fabs(x);
  if (ax >= 1000.0) {
    std::string s = fmt("%.0f", x);
    const std::size_t first = s[0] == '-' ? 1 : 0;
    for (auto i = static_cast<std::ptrdiff_t>(s.size()) - 3; i > static_cast<std::ptrdiff_t>(first);
         i -= 3) {
      s.insert(static_cast<std::size_t>(i), ",");
    }
    return s;
  }
  return fmt(ax >= 1.0 || ax == 0.0 ? "%.2f" : "%.4f", x);
}

std::string pad(const std::string& s, std::size_t width, bool right = false) {
  if (s.size() >= width) return s;
  const std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}

nlohmann::json number_or_null(double x) {
  return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json();
}

nlohmann::json row_json(const SummaryRow& r) {
  return {{"mean", number_or_null(r.mean)},
          {"ci_low", number_or_null(r.ci_low)},
          {"ci_high", number_or_null(r.ci_high)},
          {"n", r.n}};
}

std::string row_text(const SummaryRow& r) {
  if (std::isnan(r.mean)) return "n/a";
  return num(r.mean) +
         (std::isnan(r.ci_low) ? "" : "  [" + num(r.ci_low) + ", " + num(r.ci_high) + "]");
}

Simulated simulate_check(const Model& model, const AnalyzeArgs& a, bool has_seed) {
  const Model bare = a.keep_touchpoints ? model : without_touchpoints(model);
  RunOptions options;
  options.replications = a.simulate;
  options.has_seed = has_seed;
  options.seed = a.seed;
  options.threads = a.threads;
  options.cancel = &g_interrupted;
  Progress progress("simulating " + model.name, a.simulate);
  options.on_progress = [&progress](std::int64_t customers, int done) {
    progress.update(customers, done);
  };
  std::signal(SIGINT, on_sigint_analyze);
  const Run run = simulate(bare, options);
  progress.finish();
  std::signal(SIGINT, SIG_DFL);

  Simulated out;
  out.replications = run.info.replications;
  out.seed = run.info.seed;
  out.touchpoints = a.keep_touchpoints && model.num_touchpoints() > 0;
  for (const SummaryRow& row : run.summary) {
    if (row.metric == "customers") out.customers = row;
    if (row.metric == "conversions") out.conversions = row;
    if (row.metric == "conversion_rate") out.conversion_rate = row;
    if (row.metric == "time_to_convert_mean") out.time_to_convert = row;
  }
  const auto s_count = static_cast<std::size_t>(model.num_stages());
  out.reached.assign(s_count, 0.0);
  const auto r_count = static_cast<double>(run.replications.size());
  for (const auto& rep : run.replications) {
    const double customers = rep.metrics[kCustomers];
    for (std::size_t s = 0; s < s_count; ++s) {
      if (customers > 0)
        out.reached[s] += static_cast<double>(rep.reached[s]) / customers / r_count;
    }
  }
  return out;
}

nlohmann::json to_json(const Model& model, const MarkovAnalysis& r,
                       const std::optional<Simulated>& sim) {
  nlohmann::json j;
  j["scenario"] = model.name;
  j["scenario_file"] = model.scenario_file;
  j["won"] = r.won;
  j["mix"] = r.description;
  j["summary"] = {{"conversion_probability", number_or_null(r.conversion_probability)},
                  {"time_to_convert", number_or_null(r.time_to_convert)},
                  {"time_to_absorption", number_or_null(r.time_to_absorption)},
                  {"customers", number_or_null(r.customers)},
                  {"expected_conversions", number_or_null(r.customers * r.conversion_probability)}};
  auto& stages = j["stages"] = nlohmann::json::array();
  for (std::size_t s = 0; s < r.stage_names.size(); ++s) {
    stages.push_back({{"stage", r.stage_names[s]},
                      {"absorbing", model.absorbing[s] != 0},
                      {"reach_probability", number_or_null(r.reach_probability[s])},
                      {"expected_visits", number_or_null(r.expected_visits[s])},
                      {"expected_days", number_or_null(r.expected_days[s])},
                      {"mean_dwell", number_or_null(r.mean_dwell[s])}});
  }
  auto& starts = j["starts"] = nlohmann::json::array();
  for (const StartResult& st : r.starts) {
    starts.push_back({{"segment", r.segment_names[static_cast<std::size_t>(st.segment)]},
                      {"start", r.stage_names[static_cast<std::size_t>(st.start)]},
                      {"weight", st.weight},
                      {"conversion_probability", number_or_null(st.conversion_probability)},
                      {"time_to_convert", number_or_null(st.time_to_convert)},
                      {"time_to_absorption", number_or_null(st.time_to_absorption)}});
  }
  auto& sens = j["sensitivity"] = nlohmann::json::array();
  for (const Sensitivity& s : r.sensitivity) {
    sens.push_back(
        {{"rank", s.rank},
         {"parameter", s.parameter},
         {"kind", to_string(s.kind)},
         {"segment", r.segment_names[static_cast<std::size_t>(s.segment)]},
         {"stage", r.stage_names[static_cast<std::size_t>(s.stage)]},
         {"target", s.target >= 0
                        ? nlohmann::json(r.stage_names[static_cast<std::size_t>(s.target)])
                        : nlohmann::json()},
         {"value", s.value},
         {"elasticity_conversion", number_or_null(s.elasticity_conversion)},
         {"elasticity_time", number_or_null(s.elasticity_time)}});
  }
  j["notes"] = r.notes;
  if (sim) {
    nlohmann::json reached = nlohmann::json::object();
    for (std::size_t s = 0; s < r.stage_names.size(); ++s)
      reached[r.stage_names[s]] = sim->reached[s];
    j["simulation"] = {{"replications", sim->replications},
                       {"seed", sim->seed},
                       {"touchpoints", sim->touchpoints},
                       {"horizon", model.horizon},
                       {"customers", row_json(sim->customers)},
                       {"conversions", row_json(sim->conversions)},
                       {"conversion_rate", row_json(sim->conversion_rate)},
                       {"time_to_convert", row_json(sim->time_to_convert)},
                       {"reached", reached}};
  }
  return j;
}

std::string to_text(const Model& model, const MarkovAnalysis& r,
                    const std::optional<Simulated>& sim, int top) {
  std::ostringstream out;
  std::string title = model.name + ": closed form of the Markov part (" + r.description;
  if (!std::isnan(r.customers)) title += "; " + num(r.customers) + " customers";
  out << wrap(title + ")", text_width(), "", "  ") << '\n';
  const bool population = !std::isnan(r.customers);
  out << pad("quantity", 34) << pad("closed form", 14, true);
  if (sim) {
    out << "   simulated, " << sim->replications << " replications (95% CI)"
        << (sim->touchpoints ? ", with touchpoints" : "");
  }
  out << '\n';
  const auto line = [&](const std::string& name, double closed, const SummaryRow* simulated) {
    out << pad(name, 34) << pad(num(closed), 14, true);
    if (sim && simulated != nullptr) out << "   " << row_text(*simulated);
    out << '\n';
  };
  line("P(convert) (won = " + r.won + ")", r.conversion_probability,
       sim ? &sim->conversion_rate : nullptr);
  line("E[days to convert | convert]", r.time_to_convert, sim ? &sim->time_to_convert : nullptr);
  line("E[days to absorption]", r.time_to_absorption, nullptr);
  if (population) {
    line("customers", r.customers, sim ? &sim->customers : nullptr);
    line("expected conversions", r.customers * r.conversion_probability,
         sim ? &sim->conversions : nullptr);
  }

  out << '\n'
      << pad("stage", 16) << pad("reach P", 12, true) << pad("visits", 12, true)
      << pad("days", 12, true) << pad("mean dwell", 12, true);
  if (sim) out << pad("sim reached", 14, true);
  out << '\n';
  for (std::size_t s = 0; s < r.stage_names.size(); ++s) {
    const bool absorbing = model.absorbing[s] != 0;
    out << pad(r.stage_names[s], 16) << pad(num(r.reach_probability[s]), 12, true)
        << pad(absorbing ? "-" : num(r.expected_visits[s]), 12, true)
        << pad(absorbing ? "-" : num(r.expected_days[s]), 12, true)
        << pad(absorbing ? "absorbing" : num(r.mean_dwell[s]), 12, true);
    if (sim) out << pad(num(sim->reached[s]), 14, true);
    out << '\n';
  }

  if (r.starts.size() > 1) {
    out << '\n'
        << pad("segment", 12) << pad("start", 14) << pad("weight", 10, true)
        << pad("P(convert)", 13, true) << pad("days|conv", 12, true) << '\n';
    for (const StartResult& st : r.starts) {
      out << pad(r.segment_names[static_cast<std::size_t>(st.segment)], 12)
          << pad(r.stage_names[static_cast<std::size_t>(st.start)], 14)
          << pad(num(st.weight), 10, true) << pad(num(st.conversion_probability), 13, true)
          << pad(num(st.time_to_convert), 12, true) << '\n';
    }
  }

  const std::size_t shown = top <= 0
                                ? r.sensitivity.size()
                                : std::min(r.sensitivity.size(), static_cast<std::size_t>(top));
  out << "\nelasticities: where nurture effort moves the needle (top " << shown << " of "
      << r.sensitivity.size() << ")\n";
  out << pad("rank", 6) << pad("parameter", 46) << pad("value", 10, true)
      << pad("P(convert)", 13, true) << pad("days|conv", 12, true) << '\n';
  for (std::size_t i = 0; i < shown; ++i) {
    const Sensitivity& s = r.sensitivity[i];
    const auto e = [](double x) { return std::isnan(x) ? std::string("n/a") : fmt("%+.4f", x); };
    out << pad(std::to_string(s.rank), 6) << pad(s.parameter, 46) << pad(num(s.value), 10, true)
        << pad(e(s.elasticity_conversion), 13, true) << pad(e(s.elasticity_time), 12, true) << '\n';
  }

  out << "\nnotes\n";
  const std::size_t width = text_width();
  for (const auto& n : r.notes) out << wrap(n, width, "- ", "  ");
  if (sim) {
    out << wrap(
        "simulated: " + std::to_string(sim->replications) + " replications to the horizon (" +
            num(model.horizon) + " days) " + (sim->touchpoints ? "with" : "without") +
            " touchpoints; customers still on their way at the horizon have not converted yet, so a "
            "short horizon pulls the simulated rate below the closed form",
        width, "- ", "  ");
  }
  return out.str();
}

void analyze_command(const AnalyzeArgs& a, CLI::App* cmd) {
  const Model model = compile(load_scenario(a.scenario));
  const MarkovAnalysis result = analyze(model, a.segment, a.start);
  std::optional<Simulated> sim;
  if (a.simulate > 0) {
    if (!a.segment.empty() || !a.start.empty()) {
      throw InputError("<arguments>", 0, "--simulate",
                       "simulation checks the whole population: drop --segment and --start");
    }
    sim = simulate_check(model, a, cmd->count("--seed") > 0);
  }
  if (a.json) {
    std::cout << to_json(model, result, sim).dump(2) << '\n';
  } else {
    std::cout << to_text(model, result, sim, a.top);
  }
}

}  // namespace

void add_analyze(CLI::App& app, int& /*exit_code*/) {
  auto* cmd = app.add_subcommand(
      "analyze",
      "Closed form of the scenario's Markov part: reach probabilities, expected visits and days per stage, "
      "P(convert), expected days to convert, and ranked elasticities");
  cmd->alias("analyse");  // one canonical spelling (analyze, as lcsim.analyze), the other an alias
  auto a = std::make_shared<AnalyzeArgs>();
  cmd->add_option("scenario", a->scenario, "Scenario YAML file")->required();
  cmd->add_option("--segment", a->segment, "Only this segment (default: the whole population)");
  cmd->add_option(
      "--start", a->start,
      "Customers who start in this stage (default: where customers arrive; segments by share)");
  cmd->add_option("--top", a->top, "Elasticities shown in the table (0: all; JSON lists all)")
      ->check(checks::int_at_least(0));
  cmd->add_option(
         "--simulate", a->simulate,
         "Also simulate R replications of the same stage rules (touchpoints removed) as a check")
      ->check(checks::positive_int());
  cmd->add_option("--seed", a->seed, "Seed of the simulation (default: the scenario's)");
  cmd->add_option("--threads,-t", a->threads, "Threads of the simulation (default: all cores)")
      ->check(checks::positive_int());
  cmd->add_flag("--keep-touchpoints", a->keep_touchpoints,
                "Simulate with the touchpoints, to see what they add to the closed form");
  cmd->add_flag("--json", a->json, "Print the analysis as JSON on stdout");
  cmd->callback([a, cmd] { analyze_command(*a, cmd); });
}

}  // namespace lcsim::cli
