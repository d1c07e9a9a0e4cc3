#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "checks.hpp"
#include "commands.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/io/study.hpp"
#include "lcsim/model/compile.hpp"
#include "lcsim/run/compare.hpp"

namespace lcsim::cli {
namespace {

struct CompareArgs {
  std::string base;
  std::vector<std::string> variants;
  std::string out;
  std::string name;
  int replications = 0;
  double precision = 0.0;
  std::vector<std::string> precision_metrics;
  std::string precision_on = "delta";
  int max_replications = 1000;
  std::uint64_t seed = 0;
  int threads = 0;
  bool no_independent = false;
  bool json = false;
};

/// Metrics shown in the text table (all of them are in --json), plus each team's main figures.
const std::vector<std::string> kShown = {
    "customers", "conversions",     "conversion_rate", "time_to_convert_mean",
    "revenue",   "touchpoint_cost", "net_value",       "value_per_conversion"};
const std::vector<std::string> kShownPerTeam = {".utilisation", ".wait_mean", ".abandoned"};

bool shown(const std::string& metric) {
  if (std::find(kShown.begin(), kShown.end(), metric) != kShown.end()) return true;
  if (metric.rfind("resource.", 0) != 0) return false;
  return std::any_of(kShownPerTeam.begin(), kShownPerTeam.end(), [&](const std::string& suffix) {
    return metric.size() > suffix.size() &&
           metric.compare(metric.size() - suffix.size(), suffix.size(), suffix) == 0;
  });
}

nlohmann::json to_json(const Comparison& c) {
  nlohmann::json j;
  j["base"] = c.base.info.name;
  j["replications"] = c.replications;
  j["seed"] = c.base.info.seed;
  j["precision"] = c.precision;
  j["precision_met"] = c.precision_met;
  j["precision_metrics"] = c.precision_metrics;
  auto& variants = j["variants"] = nlohmann::json::array();
  for (const auto& v : c.variants) {
    nlohmann::json vj;
    vj["name"] = v.run.info.name;
    vj["verdict"] = v.verdict;
    vj["changed_touchpoints"] = v.changed_touchpoints;
    auto& deltas = vj["deltas"] = nlohmann::json::array();
    for (const auto& d : v.deltas) {
      deltas.push_back({{"metric", d.metric},
                        {"base_mean", number_or_null(d.base_mean)},
                        {"variant_mean", number_or_null(d.variant_mean)},
                        {"delta", number_or_null(d.delta)},
                        {"delta_std", number_or_null(d.delta_std)},
                        {"ci_low", number_or_null(d.ci_low)},
                        {"ci_high", number_or_null(d.ci_high)},
                        {"lift", number_or_null(d.lift)},
                        {"lift_ci_low", number_or_null(d.lift_ci_low)},
                        {"lift_ci_high", number_or_null(d.lift_ci_high)},
                        {"variance_reduction", number_or_null(d.variance_reduction)},
                        {"n", d.n}});
    }
    auto& changes = vj["who_changed"] = nlohmann::json::array();
    for (const auto& ch : v.changes) {
      changes.push_back(
          {{"segment", ch.segment},
           {"reached_in", ch.reached_in.empty() ? nlohmann::json() : nlohmann::json(ch.reached_in)},
           {"customers", ch.customers},
           {"converted_base", ch.converted_base},
           {"converted_variant", ch.converted_variant},
           {"gained", ch.gained},
           {"lost", ch.lost}});
    }
    variants.push_back(vj);
  }
  return j;
}

std::string to_text(const Comparison& c) {
  std::ostringstream out;
  out << "paired comparison with common random numbers: " << c.replications
      << " replications per arm, seed " << c.base.info.seed;
  if (c.precision > 0.0) {
    out << ", precision target " << num(c.precision)
        << (c.precision_met ? " met" : " NOT met (max replications)");
  }
  out << "\nbase: " << c.base.info.name << '\n';
  for (const auto& v : c.variants) {
    out << '\n' << v.verdict << '\n';
    out << "changed touchpoints: " << (v.changed_touchpoints.empty() ? std::string("(none)") : "");
    for (std::size_t i = 0; i < v.changed_touchpoints.size(); ++i)
      out << (i ? ", " : "") << v.changed_touchpoints[i];
    out << "\n\n"
        << pad("metric", 24) << pad("base", 14, true) << pad("variant", 14, true)
        << pad("delta", 14, true) << "   95% CI" << pad("", 22) << pad("lift", 9, true)
        << pad("var. red.", 11, true) << '\n';
    for (const auto& d : v.deltas) {
      if (!shown(d.metric)) continue;
      const std::string ci =
          std::isnan(d.ci_low) ? "n/a" : "[" + num(d.ci_low) + ", " + num(d.ci_high) + "]";
      char lift[32];
      std::snprintf(lift, sizeof lift, "%+.1f%%", d.lift * 100.0);
      out << pad(d.metric, 24) << pad(num(d.base_mean), 14, true)
          << pad(num(d.variant_mean), 14, true) << pad(num(d.delta), 14, true) << "   "
          << pad(ci, 29) << pad(std::isnan(d.lift) ? "n/a" : lift, 9, true)
          << pad(std::isinf(d.variance_reduction) ? "inf" : num(d.variance_reduction) + "x", 11,
                 true)
          << '\n';
    }
    if (!v.changes.empty()) {
      out << "\nwho changed (customers summed over replications)\n"
          << pad("segment", 12) << pad("reached in", 14) << pad("customers", 12, true)
          << pad("gained", 10, true) << pad("lost", 10, true) << '\n';
      for (const auto& ch : v.changes) {
        out << pad(ch.segment, 12)
            << pad(ch.reached_in.empty() ? "(not reached)" : ch.reached_in, 14)
            << pad(num(static_cast<double>(ch.customers)), 12, true)
            << pad(num(static_cast<double>(ch.gained)), 10, true)
            << pad(num(static_cast<double>(ch.lost)), 10, true) << '\n';
      }
    }
  }
  out << "\nvar. red. = variance of (variant on independent streams - base) / variance of (variant - base)\n";
  return out.str();
}

void compare_command(const CompareArgs& a, CLI::App* cmd) {
  const Model base = compile(load_scenario(a.base));
  std::vector<Model> variant_models;
  variant_models.reserve(a.variants.size());
  for (const auto& path : a.variants) variant_models.push_back(compile(load_scenario(path)));
  std::vector<const Model*> variants;
  for (const auto& m : variant_models) variants.push_back(&m);

  CompareOptions options;
  options.replications = a.replications;
  options.precision = a.precision;
  if (!a.precision_metrics.empty()) options.precision_metrics = a.precision_metrics;
  options.precision_on_delta = a.precision_on == "delta";
  options.max_replications = a.max_replications;
  options.has_seed = cmd->count("--seed") > 0;
  options.seed = a.seed;
  options.threads = a.threads;
  options.measure_independent = !a.no_independent;
  options.cancel = &interrupted();
  Progress progress("comparing", 0);
  options.on_progress = [&progress](std::int64_t customers, int done) {
    progress.update(customers, done);
  };

  const SigintGuard guard;
  const Comparison c = compare(base, variants, options);
  progress.finish();
  if (!a.out.empty()) Study::append_comparison(a.out, c, a.name.empty() ? "comparison" : a.name);
  if (a.json) {
    auto j = to_json(c);
    if (!a.out.empty()) j["study"] = a.out;
    std::cout << j.dump(2) << '\n';
  } else {
    std::cout << to_text(c);
    if (!a.out.empty())
      std::cout << "saved as comparison '" << (a.name.empty() ? "comparison" : a.name) << "' in "
                << a.out << '\n';
  }
}

}  // namespace

void add_compare(CLI::App& app, int& /*exit_code*/) {
  auto* cmd = app.add_subcommand(
      "compare", "Paired what-if comparison of variants against a base (common random numbers)");
  auto a = std::make_shared<CompareArgs>();
  cmd->add_option("base", a->base, "Base scenario YAML")->required();
  cmd->add_option("variants", a->variants, "Variant scenario YAML file(s)")->required();
  cmd->add_option("--replications,-r", a->replications,
                  "Replications per arm (default: the base scenario's)")
      ->check(checks::positive_int());
  cmd->add_option(
         "--precision", a->precision,
         "Add batches until the 95% CI half-width is below this fraction of the base mean (e.g. 0.02)")
      ->check(checks::between(1e-9, 10.0));
  cmd->add_option("--precision-metric", a->precision_metrics,
                  "Metric(s) the precision target applies to (default: conversions)");
  cmd->add_option("--precision-on", a->precision_on,
                  "delta: the paired differences; mean: each arm's mean")
      ->check(CLI::IsMember({"delta", "mean"}));
  cmd->add_option("--max-replications", a->max_replications, "Cap for --precision")
      ->check(checks::positive_int());
  cmd->add_option("--seed", a->seed, "Seed for every arm (default: the base scenario's)");
  cmd->add_option("--threads,-t", a->threads, "Threads (default: all cores)")
      ->check(checks::positive_int());
  cmd->add_flag("--no-independent", a->no_independent,
                "Skip the independent-streams run that measures the variance reduction");
  cmd->add_option("--out", a->out, "Study file (HDF5) to add the comparison to");
  cmd->add_option("--name", a->name, "Comparison name in the study (default: comparison)");
  cmd->add_flag("--json", a->json, "Print the comparison as JSON on stdout");
  cmd->callback([a, cmd] { compare_command(*a, cmd); });
}

}  // namespace lcsim::cli
