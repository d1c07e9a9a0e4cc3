// lcsim synth: one replication of a scenario written as CRM history (stage-change log, snapshots,
// contact log), to test calibration against a known truth.
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "checks.hpp"
#include "commands.hpp"
#include "lcsim/calibrate/synth.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/core/format.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/model/compile.hpp"

namespace lcsim::cli {
namespace {

struct SynthArgs {
  std::string scenario;
  std::string events;
  std::string snapshots;
  std::string every = "monthly";
  std::string touchpoints;
  int replication = 0;
  std::uint64_t seed = 0;
  std::string start_date = "2025-01-06";
  double observe_until = 0.0;
  bool no_segments = false;
  bool json = false;
};

/// Option errors of synthesize() named by their command-line option.
[[noreturn]] void rethrow_as_options(const InputError& e) {
  static const std::map<std::string, std::string> kOption = {{"start_date", "--start-date"},
                                                             {"observe_until", "--observe-until"},
                                                             {"replication", "--replication"},
                                                             {"every", "--every"}};
  std::vector<Problem> problems = e.problems();
  for (Problem& p : problems) {
    if (p.file != "<synth options>") continue;
    p.file = "lcsim synth";
    const auto it = kOption.find(p.field);
    if (it != kOption.end()) p.field = it->second;
  }
  throw InputError(std::move(problems));
}

std::string count(std::size_t n) { return group_thousands(static_cast<double>(n)); }

/// The calibrate command that reads the files back with the right censoring and stages.
std::string calibrate_command(const SynthHistory& h, const SynthArgs& a) {
  std::string cmd = "lcsim calibrate " + a.events + " --censor-at " + h.censor_at;
  if (!h.absorbing.empty()) {
    cmd += " --absorbing ";
    for (std::size_t i = 0; i < h.absorbing.size(); ++i) cmd += (i > 0 ? "," : "") + h.absorbing[i];
  }
  cmd += " --won " + h.won;
  if (h.with_segments) cmd += " --segment-column segment";
  if (!a.snapshots.empty()) cmd += " --snapshots " + a.snapshots;
  cmd += " --out calibrated.yaml";
  return cmd;
}

nlohmann::json to_json(const SynthHistory& h, const SynthArgs& a) {
  nlohmann::json j;
  j["scenario"] = h.scenario;
  j["scenario_file"] = a.scenario;
  j["replication"] = h.replication;
  j["seed"] = h.seed;
  j["start_date"] = h.start_date;
  j["observe_until"] = h.observe_until;
  j["censor_at"] = h.censor_at;
  j["segments"] = h.with_segments;
  j["customers"] = h.customers;
  j["customers_open"] = h.customers_open;
  j["customers_unobserved"] = h.customers_unobserved;
  j["events_unobserved"] = h.events_unobserved;
  j["events"] = {{"file", a.events},
                 {"rows", h.events.size()},
                 {"first", h.first_timestamp()},
                 {"last", h.last_timestamp()}};
  if (!a.snapshots.empty()) {
    j["snapshots"] = {
        {"file", a.snapshots}, {"rows", h.snapshots.size()}, {"dates", h.snapshot_dates}};
  }
  if (!a.touchpoints.empty())
    j["touchpoints"] = {{"file", a.touchpoints}, {"rows", h.touchpoints.size()}};
  j["calibrate_command"] = calibrate_command(h, a);
  return j;
}

std::string to_text(const SynthHistory& h, const SynthArgs& a) {
  std::ostringstream out;
  out << "Synthesized replication " << h.replication << " (seed " << h.seed << ") of '"
      << h.scenario << "': " << count(h.customers) << " customers with " << count(h.events.size())
      << " stage changes from " << h.first_timestamp() << " to " << h.last_timestamp()
      << " (day 0 = " << h.start_date << ")" << (h.with_segments ? ", with their segments" : "")
      << ". Observation ends at " << h.censor_at << " (day " << num(h.observe_until)
      << "): " << count(h.customers_open)
      << " customers are still in a non-absorbing stage then (right-censored stays); "
      << count(h.customers_unobserved) << " later arrivals and " << count(h.events_unobserved)
      << " later stage changes are not recorded. Timestamps are rounded to the second.\n";
  out << "wrote " << a.events << " (" << count(h.events.size()) << " rows)";
  if (!a.snapshots.empty()) {
    out << ", " << a.snapshots << " (" << count(h.snapshots.size()) << " rows on "
        << h.snapshot_dates.size() << " dates"
        << (h.snapshot_dates.empty()
                ? ""
                : ", " + h.snapshot_dates.front() + " to " + h.snapshot_dates.back())
        << ")";
  }
  if (!a.touchpoints.empty())
    out << ", " << a.touchpoints << " (" << count(h.touchpoints.size()) << " contacts)";
  out << "\ncalibrate with: " << calibrate_command(h, a) << '\n';
  return out.str();
}

void synth_command(const SynthArgs& a, CLI::App* cmd) {
  const Model model = compile(load_scenario(a.scenario));
  SynthOptions o;
  o.replication = a.replication;
  if (cmd->count("--seed") > 0) o.seed = a.seed;
  o.start_date = a.start_date;
  if (cmd->count("--observe-until") > 0) o.observe_until = a.observe_until;
  if (a.no_segments) o.with_segments = false;
  o.with_touchpoints = !a.touchpoints.empty();
  SynthHistory h;
  try {
    if (!a.snapshots.empty()) o.snapshot_every = SnapshotEvery::parse(a.every);
    h = synthesize(model, o);
  } catch (const InputError& e) {
    rethrow_as_options(e);
  }
  write_events_csv(h, a.events);
  if (!a.snapshots.empty()) write_snapshots_csv(h, a.snapshots);
  if (!a.touchpoints.empty()) write_touchpoints_csv(h, a.touchpoints);
  if (a.json) {
    std::cout << to_json(h, a).dump(2) << '\n';
  } else {
    std::cout << to_text(h, a);
  }
}

}  // namespace

void add_synth(CLI::App& app, int& /*exit_code*/) {
  auto* cmd = app.add_subcommand("synth",
                                 "Simulate one replication and write it as CRM history "
                                 "(stage-change log, snapshots, contacts)");
  auto a = std::make_shared<SynthArgs>();
  cmd->add_option("scenario", a->scenario, "Scenario YAML file")->required();
  cmd->add_option("--events", a->events,
                  "Stage-change log to write: customer_id,timestamp,stage[,segment]")
      ->required();
  auto* snapshots = cmd->add_option("--snapshots", a->snapshots,
                                    "Stage snapshots to write: customer_id,date,stage[,segment]");
  cmd->add_option("--every", a->every,
                  "Snapshot dates: monthly (start date's day of month) or every DAYS")
      ->needs(snapshots)
      ->capture_default_str();
  cmd->add_option("--touchpoints", a->touchpoints,
                  "Landed contacts to write: customer_id,timestamp,touchpoint");
  cmd->add_option("--replication", a->replication,
                  "Replication to simulate (selects the random streams)")
      ->check(checks::int_at_least(0))
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed (default: the scenario's)");
  cmd->add_option("--start-date", a->start_date,
                  "Date of scenario day 0, YYYY-MM-DD (UTC; a Monday by default)")
      ->capture_default_str();
  cmd->add_option("--observe-until", a->observe_until,
                  "End of observation in days (default: the horizon); nothing later is written");
  cmd->add_flag("--no-segments", a->no_segments,
                "Leave the segment column out (default: kept with > 1 segment)");
  cmd->add_flag("--json", a->json, "Print the summary as JSON on stdout");
  cmd->callback([a, cmd] { synth_command(*a, cmd); });
}

}  // namespace lcsim::cli
