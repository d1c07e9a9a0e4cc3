// `lcsim report`, `lcsim app` and `lcsim optimise`: the pages for strategists are made by the Python package (Jinja2,
// Plotly, Dash), and the optimiser is Optuna's, so these verbs hand their arguments to `python -m lcsim`
// (python/lcsim/__main__.py). Their options are declared here, with CLI11, like every other verb's: one help
// style and one kind of message for a bad value.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "checks.hpp"
#include "commands.hpp"
#include "lcsim/core/error.hpp"

namespace lcsim::cli {
namespace {

namespace fs = std::filesystem;

/// The Python next to this program (a virtual environment's bin/), else python3 on the PATH.
std::string python() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (!error) {
    for (const char* name : {"python3", "python"}) {
      const fs::path candidate = self.parent_path() / name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return "python3";
}

/// Replaces this process with `python -m lcsim VERB ARGS...`; returns only on failure.
[[noreturn]] void exec_python(const std::vector<std::string>& args) {
  const std::string interpreter = python();
  std::vector<std::string> all{interpreter, "-m", "lcsim"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execvp(interpreter.c_str(), argv.data());
  throw IoError("lcsim " + args.front() + " runs in Python, but " + interpreter +
                " could not be started: " + std::strerror(errno) +
                " (install the package with pip: pip install lcsim)");
}

struct ReportArgs {
  std::string study;
  std::string out;
  std::string title;
};

struct AppArgs {
  std::vector<std::string> scenarios;
  int port = 8050;
  int replications = 0;
  std::string save_dir;
};

/// `lcsim optimise`'s options, kept as the text given (python -m lcsim optimise reads them).
struct OptimiseArgs {
  std::string scenario;
  std::vector<std::string> levers;
  std::string maximise;
  std::string minimise;
  std::vector<std::string> subject_to;
  std::vector<std::string> at_least;
  std::string budget;
  std::string trials;
  std::string replications;
  std::string final_replications;
  std::string finalists;
  std::string batch;
  std::string tolerance;
  std::string seed;
  std::string threads;
  std::string out;
  std::string name;
  std::string variant_out;
  std::string trials_csv;
  bool progress = false;
};

}  // namespace

void add_report(CLI::App& app, int& /*exit_code*/) {
  auto* cmd =
      app.add_subcommand("report", "Write a study as one self-contained HTML page (opens offline)");
  auto a = std::make_shared<ReportArgs>();
  cmd->add_option("STUDY", a->study, "the study file (.h5)")->required();
  cmd->add_option("--out,-o", a->out, "the HTML file to write")->required();
  cmd->add_option("--title", a->title, "the page title (default: the study's file name)");
  cmd->callback([a] {
    std::vector<std::string> args{"report", a->study, "--out", a->out};
    if (!a->title.empty()) args.insert(args.end(), {"--title", a->title});
    exec_python(args);
  });
}

void add_app(CLI::App& app, int& /*exit_code*/) {
  auto* cmd = app.add_subcommand("app", "What-if in the browser: a local app on 127.0.0.1");
  auto a = std::make_shared<AppArgs>();
  cmd->add_option("SCENARIO", a->scenarios,
                  "baseline scenarios to offer (default: the bundled ones)");
  cmd->add_option("--port", a->port, "the port to listen on (127.0.0.1 only)")
      ->check(checks::int_between(1, 65535));
  cmd->add_option("--replications", a->replications,
                  "paired replications per comparison (default: the scenario's, as lcsim compare)")
      ->check(checks::int_between(2, 100000));
  cmd->add_option("--save-dir", a->save_dir,
                  "where saved variants and reports go (default: the current directory)");
  cmd->callback([a] {
    std::vector<std::string> args{"app", "--port", std::to_string(a->port)};
    if (a->replications > 0)
      args.insert(args.end(), {"--replications", std::to_string(a->replications)});
    if (!a->save_dir.empty()) args.insert(args.end(), {"--save-dir", a->save_dir});
    args.insert(args.end(), a->scenarios.begin(), a->scenarios.end());
    exec_python(args);
  });
}

void add_optimise(CLI::App& app, int& /*exit_code*/) {
  auto* cmd = app.add_subcommand(
      "optimise",
      "The best plan under a budget: search levers on common random numbers, then "
      "re-evaluate the best plans on fresh paired replications (docs/optimise.md)");
  cmd->alias("optimize");
  // The options are declared here, so that `lcsim optimise --help` reads like every other verb and
  // bad values get the same one-line messages; the work is done by python -m lcsim optimise.
  auto a = std::make_shared<OptimiseArgs>();
  cmd->add_option("scenario", a->scenario, "The base scenario YAML file")->required();
  cmd->add_option(
         "--lever", a->levers,
         "A dotted scenario path and its range, PATH=LOW:HIGH (whole numbers when both ends are), "
         "or its choices, PATH=[A, B, ...] (a YAML list); repeat for each lever")
      ->required()
      ->type_name("PATH=LOW:HIGH|PATH=[A,...]")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* maximise = cmd->add_option("--maximise,--maximize", a->maximise,
                                   "Metric to maximise (default net_value)")
                       ->type_name("METRIC");
  cmd->add_option("--minimise,--minimize", a->minimise, "Metric to minimise")
      ->type_name("METRIC")
      ->excludes(maximise);
  cmd->add_option("--subject-to", a->subject_to,
                  "A constraint on the mean per replication; repeatable")
      ->type_name("METRIC<=VALUE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--at-least", a->at_least,
                  "A chance constraint: met in at least a share P of the replications; repeatable")
      ->type_name("METRIC>=VALUE@P")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--budget", a->budget, "Shorthand for --subject-to touchpoint_cost<=BUDGET")
      ->type_name("NUMBER")
      ->check(checks::non_negative());
  cmd->add_option("--trials", a->trials, "Plans proposed by the search (default 60)")
      ->type_name("INT")
      ->check(checks::positive_int());
  cmd->add_option("--replications,-r", a->replications,
                  "Replications per plan in the search (default: the scenario's)")
      ->type_name("INT")
      ->check(checks::int_at_least(2));
  cmd->add_option(
         "--final-replications", a->final_replications,
         "Replications per plan in the selection step (default 4 x --replications, at least 40)")
      ->type_name("INT")
      ->check(checks::int_at_least(2));
  cmd->add_option("--finalists", a->finalists,
                  "Plans re-evaluated in the selection step (default 3)")
      ->type_name("INT")
      ->check(checks::positive_int());
  cmd->add_option("--batch", a->batch, "Plans proposed at a time (default 8)")
      ->type_name("INT")
      ->check(checks::positive_int());
  cmd->add_option(
         "--tolerance", a->tolerance,
         "A lead over the runner-up below this (in the objective's unit, e.g. 5000 for $5,000) is "
         "called practically the same (default 0: only the 95% CI decides)")
      ->type_name("NUMBER")
      ->check(checks::non_negative());
  cmd->add_option("--seed", a->seed, "Seed (default: the scenario's)")
      ->type_name("UINT")
      ->check(checks::int_at_least(0));
  cmd->add_option("--threads,-t", a->threads, "Threads per plan (default: all cores)")
      ->type_name("INT")
      ->check(checks::positive_int());
  cmd->add_option("--out", a->out, "Study file (HDF5) to add the optimisation to");
  cmd->add_option("--name", a->name, "Its name in the study (default: optimisation)");
  cmd->add_option("--variant-out", a->variant_out,
                  "Write the chosen plan here as an extends: file");
  cmd->add_option("--trials-csv", a->trials_csv, "Write every plan tried here as CSV");
  cmd->add_flag(
      "--progress", a->progress,
      "Show the progress bar on stderr even when it is not a terminal (default: only on a terminal)");
  cmd->callback([a, cmd] {
    std::vector<std::string> args{"optimise", a->scenario};
    for (const auto& lever : a->levers) args.insert(args.end(), {"--lever", lever});
    if (!a->maximise.empty()) args.insert(args.end(), {"--maximise", a->maximise});
    if (!a->minimise.empty()) args.insert(args.end(), {"--minimise", a->minimise});
    for (const auto& c : a->subject_to) args.insert(args.end(), {"--subject-to", c});
    for (const auto& c : a->at_least) args.insert(args.end(), {"--at-least", c});
    const auto given = [cmd](const char* name) { return cmd->count(name) > 0; };
    const auto pass = [&](const char* name, const std::string& value) {
      if (given(name)) args.insert(args.end(), {name, value});
    };
    pass("--budget", a->budget);
    pass("--trials", a->trials);
    pass("--replications", a->replications);
    pass("--final-replications", a->final_replications);
    pass("--finalists", a->finalists);
    pass("--batch", a->batch);
    pass("--tolerance", a->tolerance);
    pass("--seed", a->seed);
    pass("--threads", a->threads);
    pass("--out", a->out);
    pass("--name", a->name);
    pass("--variant-out", a->variant_out);
    pass("--trials-csv", a->trials_csv);
    if (a->progress) args.emplace_back("--progress");
    exec_python(args);
  });
}

}  // namespace lcsim::cli
