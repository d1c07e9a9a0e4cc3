// `lcsim report`, `lcsim app` and `lcsim optimise`: the pages for strategists are made by the Python package (Jinja2,
// Plotly, Dash), so these verbs hand their arguments to `python -m lcsim` (python/lcsim/__main__.py).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

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

}  // namespace

void add_report(CLI::App& app, int& /*exit_code*/) {
  auto* cmd = app.add_subcommand("report", "Write a study as one self-contained HTML page (opens offline)");
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
  cmd->add_option("SCENARIO", a->scenarios, "baseline scenarios to offer (default: the bundled ones)");
  cmd->add_option("--port", a->port, "the port to listen on (127.0.0.1 only)")->check(CLI::Range(1, 65535));
  cmd->add_option("--replications", a->replications,
                  "paired replications per comparison (default: the scenario's, as lcsim compare)")
      ->check(CLI::Range(2, 100000));
  cmd->add_option("--save-dir", a->save_dir, "where saved variants and reports go (default: the current directory)");
  cmd->callback([a] {
    std::vector<std::string> args{"app", "--port", std::to_string(a->port)};
    if (a->replications > 0) args.insert(args.end(), {"--replications", std::to_string(a->replications)});
    if (!a->save_dir.empty()) args.insert(args.end(), {"--save-dir", a->save_dir});
    args.insert(args.end(), a->scenarios.begin(), a->scenarios.end());
    exec_python(args);
  });
}

void add_optimise(CLI::App& app, int& /*exit_code*/) {
  auto* cmd = app.add_subcommand("optimise", "The best plan under a budget: search levers, then a paired selection "
                                             "(lcsim optimise --help for the options)");
  cmd->alias("optimize");
  // Every argument, --help included, goes to python -m lcsim optimise (python/lcsim/__main__.py).
  cmd->set_help_flag();
  cmd->allow_extras();
  cmd->callback([cmd] {
    std::vector<std::string> args{"optimise"};
    for (const std::string& a : cmd->remaining()) args.push_back(a);
    exec_python(args);
  });
}

}  // namespace lcsim::cli
