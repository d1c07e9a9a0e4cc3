#include <atomic>
#include <chrono>
#include <iostream>

#include "checks.hpp"
#include "commands.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/io/study.hpp"
#include "lcsim/model/compile.hpp"

namespace lcsim::cli {
namespace {

struct RunArgs {
  std::string scenario;
  std::string out;
  std::string name;
  int replications = 0;
  std::uint64_t seed = 0;
  int threads = 0;
  bool events = false;
  bool json = false;
};

void run_command(const RunArgs& a, CLI::App* cmd) {
  const Model model = compile(load_scenario(a.scenario));
  RunOptions options;
  options.replications = a.replications;
  options.has_seed = cmd->count("--seed") > 0;
  options.seed = a.seed;
  options.threads = a.threads;
  options.events = a.events;
  options.name = a.name;
  options.cancel = &interrupted();
  const int reps = a.replications > 0 ? a.replications : model.replications;
  Progress progress("simulating " + model.name, reps);
  options.on_progress = [&progress](std::int64_t customers, int done) {
    progress.update(customers, done);
  };

  const auto start = std::chrono::steady_clock::now();
  Run run = [&] {
    const SigintGuard guard;
    return simulate(model, options);
  }();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.finish();

  if (!a.out.empty()) Study::append(a.out, run, run.info.name);
  if (a.json) {
    auto j = run_to_json(run, seconds);
    if (!a.out.empty()) j["study"] = a.out;
    std::cout << j.dump(2) << '\n';
  } else {
    std::cout << run_to_text(run, seconds);
    if (!a.out.empty()) std::cout << "saved as run '" << run.info.name << "' in " << a.out << '\n';
  }
}

}  // namespace

void add_run(CLI::App& app, int& /*exit_code*/) {
  auto* cmd = app.add_subcommand("run", "Simulate a scenario for R replications and summarise it");
  auto a = std::make_shared<RunArgs>();
  cmd->add_option("scenario", a->scenario, "Scenario YAML file")->required();
  cmd->add_option("--out", a->out, "Study file (HDF5) to add the run to");
  cmd->add_option("--name", a->name, "Run name in the study (default: the scenario's name)");
  cmd->add_option("--replications,-r", a->replications, "Replications (default: the scenario's)")
      ->check(checks::positive_int());
  cmd->add_option("--seed", a->seed, "Seed (default: the scenario's)");
  cmd->add_option("--threads,-t", a->threads, "Threads (default: all cores)")
      ->check(checks::positive_int());
  cmd->add_flag("--events", a->events, "Keep the per-customer event log (stored with --out)");
  cmd->add_flag("--json", a->json, "Print the summary as JSON on stdout");
  cmd->callback([a, cmd] { run_command(*a, cmd); });
}

}  // namespace lcsim::cli
