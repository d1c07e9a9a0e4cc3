// Private to the CLI: the verbs and the shared output helpers.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "lcsim/run/run.hpp"

namespace lcsim::cli {

/// Adds `validate` to the app; the callback sets `exit_code`.
void add_validate(CLI::App& app, int& exit_code);
/// Adds `run` to the app.
void add_run(CLI::App& app, int& exit_code);

/// The run as JSON: info, summary rows (NaN as null) and the funnel by stage.
nlohmann::json run_to_json(const Run& run, double seconds);
/// Human tables: metrics with 95% CIs and the funnel by stage.
std::string run_to_text(const Run& run, double seconds);

/// A one-line progress bar on stderr, only when stderr is a terminal.
class Progress {
 public:
  Progress(std::string label, int total);
  void update(std::int64_t customers, int done);
  void finish();

 private:
  std::string label_;
  int total_;
  bool enabled_;
};

}  // namespace lcsim::cli
