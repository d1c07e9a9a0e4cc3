// Private to the CLI: the verbs and the shared output helpers.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <nlohmann/json.hpp>
#include <string>

#include "lcsim/run/run.hpp"

namespace lcsim::cli {

/// Adds `validate` to the app; the callback sets `exit_code`.
void add_validate(CLI::App& app, int& exit_code);
/// Adds `run` to the app.
void add_run(CLI::App& app, int& exit_code);
/// Adds `analyze` to the app.
void add_analyze(CLI::App& app, int& exit_code);

/// Adds `compare` to the app.
void add_compare(CLI::App& app, int& exit_code);
/// Adds `sweep` to the app.
void add_sweep(CLI::App& app, int& exit_code);
/// Adds `synth` (one replication written as CRM history).
void add_synth(CLI::App& app, int& exit_code);
/// Adds `calibrate` (estimates and a scenario from CRM history).
void add_calibrate(CLI::App& app, int& exit_code);
/// Adds `report` (a study as HTML; made by the Python package).
void add_report(CLI::App& app, int& exit_code);
/// Adds `app` (the what-if app in the browser; run by the Python package).
void add_app(CLI::App& app, int& exit_code);
void add_optimise(CLI::App& app, int& exit_code);

/// Readable number: thousands separators for large values, a few decimals for small ones; NaN "n/a".
std::string num(double x);
/// Columns for wrapped prose on stdout: the terminal's width, at most 100 (100 when not a terminal).
std::size_t text_width();
/// `text` wrapped at spaces to lines of at most `width` characters (a longer word gets a line of
/// its own): the first line starts with `first`, the others with `rest`; ends with a newline.
std::string wrap(const std::string& text, std::size_t width, const std::string& first,
                 const std::string& rest);
/// `s` padded with spaces to `width` (on the left when `right`).
std::string pad(const std::string& s, std::size_t width, bool right = false);
/// A JSON number, or null for NaN and infinities.
nlohmann::json number_or_null(double x);

/// The flag Ctrl-C sets while a SigintGuard is alive (the library polls it and stops).
const std::atomic<bool>& interrupted();
/// Routes SIGINT to interrupted() for its lifetime.
class SigintGuard {
 public:
  SigintGuard();
  ~SigintGuard();
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;
};

/// The run as JSON: info, summary rows (NaN as null) and the funnel by stage.
nlohmann::json run_to_json(const Run& run, double seconds);
/// The unit of a run metric as the tables show it: "customers", "days", "$", "share", ... ("" unknown).
std::string metric_unit(const std::string& metric);
/// Human tables: metrics with units and 95% CIs, the funnel by stage, teams and touchpoints.
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
