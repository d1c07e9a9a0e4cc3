#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "checks.hpp"
#include "commands.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/core/input_file.hpp"
#include "lcsim/io/scenario_changes.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/io/study.hpp"
#include "lcsim/model/compile.hpp"
#include "lcsim/run/sweep.hpp"

namespace lcsim::cli {
namespace {

struct SweepArgs {
  std::string scenario;
  std::vector<std::string> sets;
  std::string points;
  std::string out;
  std::string name = "sweep";
  int replications = 0;
  std::uint64_t seed = 0;
  int threads = 0;
  bool json = false;
};

/// Metrics in the text table (every metric is in --json).
const std::vector<std::string> kShown = {"conversions", "conversion_rate", "revenue",
                                         "touchpoint_cost", "net_value"};

constexpr std::size_t kMaxPoints = 1'000'000;

/// The design before simulation: parameter paths and, per point, the values as YAML text (applied)
/// and as JSON text (stored and printed).
struct Design {
  std::string kind;  ///< "grid" or "points"
  std::vector<std::string> parameters;
  std::vector<std::vector<std::string>> yaml;
  std::vector<std::vector<std::string>> json;
};

std::string read_file(const std::string& path) {
  if (const std::string why = input_file_problem(path); !why.empty()) {
    throw InputError(path, 0, "", "cannot read file: " + why);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, 0, "", "cannot read file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError(path, 0, "", "cannot read file");
  return text;
}

void check_distinct(const std::vector<std::string>& parameters, const std::string& file) {
  for (std::size_t j = 0; j < parameters.size(); ++j) {
    if (parameters[j] == "point") {
      throw InputError(file, 0, parameters[j],
                       "'point' cannot be a sweep parameter (it names the point column)");
    }
    for (std::size_t k = 0; k < j; ++k) {
      if (parameters[k] == parameters[j])
        throw InputError(file, 0, parameters[j], "path given twice");
    }
  }
}

/// Full grid over the --set values: the cartesian product, the first --set varying slowest.
Design grid_design(const std::vector<std::string>& sets) {
  Design d;
  d.kind = "grid";
  std::vector<std::vector<std::string>> values;
  std::vector<std::vector<std::string>> json;
  std::size_t count = 1;
  for (const auto& set : sets) {
    ChangeValues cv = parse_changes(set);
    std::vector<std::string> as_json;
    for (const auto& v : cv.values) as_json.push_back(yaml_value_to_json(v, cv.path));
    count *= cv.values.size();
    if (count > kMaxPoints) {
      throw InputError("--set", 0, cv.path,
                       "the grid has more than " + std::to_string(kMaxPoints) + " points");
    }
    d.parameters.push_back(cv.path);
    values.push_back(std::move(cv.values));
    json.push_back(std::move(as_json));
  }
  check_distinct(d.parameters, "--set");
  for (std::size_t i = 0; i < count; ++i) {
    std::vector<std::string> yaml_row(values.size());
    std::vector<std::string> json_row(values.size());
    std::size_t rest = i;
    for (std::size_t j = values.size(); j-- > 0;) {
      const std::size_t k = rest % values[j].size();
      rest /= values[j].size();
      yaml_row[j] = values[j][k];
      json_row[j] = json[j][k];
    }
    d.yaml.push_back(std::move(yaml_row));
    d.json.push_back(std::move(json_row));
  }
  return d;
}

/// RFC 4180 CSV: rows of cells with the line each row starts on; quoted cells keep their text as is,
/// unquoted ones are trimmed; blank lines are skipped.
std::vector<std::pair<int, std::vector<std::string>>> read_csv(const std::string& text,
                                                               const std::string& file) {
  std::vector<std::pair<int, std::vector<std::string>>> rows;
  std::vector<std::string> row;
  std::string cell;
  bool quoted = false;      // inside quotes
  bool was_quoted = false;  // this cell was quoted
  bool any = false;         // the row has content
  int line = 1;
  int row_line = 1;
  std::size_t i = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;  // UTF-8 byte order mark
  const auto end_cell = [&] {
    if (!was_quoted) {
      const auto first = cell.find_first_not_of(" \t");
      const auto last = cell.find_last_not_of(" \t");
      cell = first == std::string::npos ? std::string() : cell.substr(first, last - first + 1);
    }
    row.push_back(std::move(cell));
    cell.clear();
    was_quoted = false;
  };
  const auto end_row = [&] {
    end_cell();
    if (any) rows.emplace_back(row_line, std::move(row));
    row.clear();
    any = false;
  };
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
      continue;
    }
    if (c == '"') {
      if (cell.find_first_not_of(" \t") != std::string::npos) {
        throw InputError(
            file, line, "",
            "a quote inside an unquoted cell (quote the whole cell, doubling inner quotes)");
      }
      cell.clear();
      quoted = true;
      was_quoted = true;
      any = true;
    } else if (c == ',') {
      end_cell();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_row();
      ++line;
      row_line = line;
    } else {
      if (c != ' ' && c != '\t') any = true;
      cell += c;
    }
  }
  if (quoted) throw InputError(file, row_line, "", "a quoted cell is not closed");
  end_row();
  return rows;
}

Design csv_design(const std::string& file) {
  const auto rows = read_csv(read_file(file), file);
  if (rows.empty()) throw InputError(file, 0, "", "no header row (expected the parameter paths)");
  Design d;
  d.kind = "points";
  d.parameters = rows.front().second;
  for (const auto& p : d.parameters) {
    if (p.empty()) throw InputError(file, rows.front().first, "", "empty path in the header row");
  }
  check_distinct(d.parameters, file);
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const auto& [line, cells] = rows[r];
    if (cells.size() != d.parameters.size()) {
      throw InputError(
          file, line, "",
          expected_got(std::to_string(d.parameters.size()) + " values (one per header path)",
                       std::to_string(cells.size())));
    }
    std::vector<std::string> json;
    for (std::size_t j = 0; j < cells.size(); ++j) {
      if (cells[j].empty())
        throw InputError(file, line, d.parameters[j], "empty value (write ~ to remove the field)");
      try {
        json.push_back(yaml_value_to_json(cells[j], d.parameters[j]));
      } catch (const InputError& e) {
        throw InputError(file, line, d.parameters[j], e.problems().front().message);
      }
    }
    d.yaml.push_back(cells);
    d.json.push_back(std::move(json));
  }
  if (d.yaml.empty()) throw InputError(file, 0, "", "no points (only a header row)");
  return d;
}

Design json_design(const std::string& file) {
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(read_file(file));
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(file, 0, "", std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_array() || j.empty()) {
    throw InputError(file, 0, "", "expected a non-empty JSON list of {path: value} objects");
  }
  Design d;
  d.kind = "points";
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto& point = j[i];
    const std::string where = "point " + std::to_string(i);
    if (!point.is_object() || point.empty()) {
      throw InputError(file, 0, where, "expected a non-empty {path: value} object");
    }
    std::vector<std::string> keys;
    for (const auto& [key, value] : point.items()) keys.push_back(key);
    if (i == 0) {
      d.parameters = keys;
      check_distinct(d.parameters, file);
    } else {
      std::vector<std::string> a = keys;
      std::vector<std::string> b = d.parameters;
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      if (a != b)
        throw InputError(file, 0, where, "every point must set the same paths as point 0");
    }
    std::vector<std::string> yaml_row;
    std::vector<std::string> json_row;
    for (const auto& parameter : d.parameters) {
      const std::string text = point.at(parameter).dump();  // JSON is YAML
      yaml_row.push_back(text);
      json_row.push_back(yaml_value_to_json(text, parameter));
    }
    d.yaml.push_back(std::move(yaml_row));
    d.json.push_back(std::move(json_row));
  }
  return d;
}

bool ends_with_json(std::string path) {
  std::transform(path.begin(), path.end(), path.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
}

/// "p=v, q=w" for messages.
std::string assignments(const Design& d, std::size_t i) {
  std::string out;
  for (std::size_t j = 0; j < d.parameters.size(); ++j) {
    if (j > 0) out += ", ";
    out += d.parameters[j] + "=" + d.json[i][j];
  }
  return out;
}

/// The point's scenario, parsed and compiled; problems name the point and its values.
Model point_model(const std::string& base_text, const std::string& base_file, const Design& d,
                  std::size_t i) {
  const std::string label = base_file + " (sweep point " + std::to_string(i) + ")";
  std::vector<Change> changes;
  for (std::size_t j = 0; j < d.parameters.size(); ++j)
    changes.emplace_back(d.parameters[j], d.yaml[i][j]);
  try {
    const std::string text = apply_changes(base_text, changes, label);
    return compile(parse_scenario(text, label));
  } catch (const InputError& e) {
    std::vector<Problem> problems = e.problems();
    for (auto& p : problems) {
      if (p.file == label)
        p.file = base_file + " (sweep point " + std::to_string(i) + ": " + assignments(d, i) + ")";
    }
    throw InputError(std::move(problems));
  }
}

/// Point i's run name in the study (Study::append_sweep stores point i as <name>.p<i>).
std::string point_run(const std::string& name, std::size_t i) {
  return name + ".p" + std::to_string(i);
}

nlohmann::json value_json(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json(text) : j;  // Infinity / NaN stay text
}

const SummaryRow* find_row(const Run& run, const std::string& metric) {
  for (const auto& row : run.summary) {
    if (row.metric == metric) return &row;
  }
  return nullptr;
}

nlohmann::json to_json(const std::string& scenario, const Sweep& sweep) {
  nlohmann::json j;
  j["scenario"] = scenario;
  j["design"] = sweep.design;
  j["parameters"] = sweep.parameters;
  auto& points = j["points"] = nlohmann::json::array();
  for (std::size_t i = 0; i < sweep.points.size(); ++i) {
    const SweepPoint& p = sweep.points[i];
    nlohmann::json params = nlohmann::json::object();
    for (std::size_t k = 0; k < sweep.parameters.size(); ++k)
      params[sweep.parameters[k]] = value_json(p.values[k]);
    nlohmann::json summary = nlohmann::json::array();
    for (const auto& row : p.run.summary) {
      summary.push_back({{"metric", row.metric},
                         {"mean", number_or_null(row.mean)},
                         {"std", number_or_null(row.std)},
                         {"ci_low", number_or_null(row.ci_low)},
                         {"ci_high", number_or_null(row.ci_high)},
                         {"n", row.n}});
    }
    points.push_back({{"point", i},
                      {"parameters", params},
                      {"run", p.run.info.name},
                      {"seed", p.run.info.seed},
                      {"replications", p.run.info.replications},
                      {"summary", summary}});
  }
  return j;
}

std::string to_text(const std::string& scenario, const Sweep& sweep, double seconds) {
  std::ostringstream out;
  const Run& first = sweep.points.front().run;
  bool same_seed = true;
  bool same_reps = true;
  for (const auto& p : sweep.points) {
    same_seed = same_seed && p.run.info.seed == first.info.seed;
    same_reps = same_reps && p.run.info.replications == first.info.replications;
  }
  out << "sweep of " << scenario << ": " << sweep.design << " of " << sweep.points.size()
      << (sweep.points.size() == 1 ? " point" : " points") << " over " << sweep.parameters.size()
      << (sweep.parameters.size() == 1 ? " parameter" : " parameters") << ", ";
  if (same_reps) out << first.info.replications << " replications per point, ";
  if (same_seed) {
    out << "seed " << first.info.seed << " for every point (common random numbers)";
  } else {
    out << "seeds differ between points";
  }
  out << ", " << num(seconds) << " s\n\n";

  // Column widths: "point", each parameter, "metric", mean, CI.
  std::vector<std::size_t> widths;
  widths.push_back(5);
  for (std::size_t k = 0; k < sweep.parameters.size(); ++k) {
    std::size_t w = sweep.parameters[k].size();
    for (const auto& p : sweep.points) w = std::max(w, p.values[k].size());
    widths.push_back(w);
  }
  std::size_t metric_width = 6;
  for (const auto& m : kShown) metric_width = std::max(metric_width, m.size());

  out << pad("point", widths[0], true);
  for (std::size_t k = 0; k < sweep.parameters.size(); ++k)
    out << "  " << pad(sweep.parameters[k], widths[k + 1]);
  out << "  " << pad("metric", metric_width) << pad("mean", 16, true) << "   95% CI\n";
  for (std::size_t i = 0; i < sweep.points.size(); ++i) {
    const SweepPoint& p = sweep.points[i];
    for (const auto& metric : kShown) {
      const SummaryRow* row = find_row(p.run, metric);
      if (row == nullptr) continue;
      out << pad(std::to_string(i), widths[0], true);
      for (std::size_t k = 0; k < sweep.parameters.size(); ++k)
        out << "  " << pad(p.values[k], widths[k + 1]);
      out << "  " << pad(metric, metric_width) << pad(num(row->mean), 16, true) << "   "
          << (std::isnan(row->ci_low) ? std::string("n/a")
                                      : "[" + num(row->ci_low) + ", " + num(row->ci_high) + "]")
          << '\n';
    }
  }
  return out.str();
}

void sweep_command(const SweepArgs& a, CLI::App* cmd) {
  if (a.sets.empty() && a.points.empty()) {
    throw InputError("lcsim sweep", 0, "",
                     "give the values to sweep with --set PATH=V1,V2,... or --points FILE");
  }
  const Design d = !a.points.empty()
                       ? (ends_with_json(a.points) ? json_design(a.points) : csv_design(a.points))
                       : grid_design(a.sets);
  // The scenario's whole text (a variant's `extends:` resolved, its problems named in its files).
  const std::string base_text = load_scenario(a.scenario).source;
  if (!a.out.empty()) Study::check_sweep_names(a.out, a.name, d.yaml.size());

  // Every point is checked before any is simulated.
  std::vector<Model> models;
  models.reserve(d.yaml.size());
  for (std::size_t i = 0; i < d.yaml.size(); ++i)
    models.push_back(point_model(base_text, a.scenario, d, i));

  Sweep sweep;
  sweep.design = d.kind;
  sweep.parameters = d.parameters;
  sweep.points.resize(models.size());
  const auto start = std::chrono::steady_clock::now();
  {
    const SigintGuard guard;
    for (std::size_t i = 0; i < models.size(); ++i) {
      if (interrupted()) throw Cancelled();
      RunOptions options;
      options.replications = a.replications;
      options.has_seed =
          cmd->count("--seed") > 0;  // else the point's own seed: the base's unless swept
      options.seed = a.seed;
      options.threads = a.threads;
      options.name = point_run(a.name, i);
      options.cancel = &interrupted();
      const int reps = a.replications > 0 ? a.replications : models[i].replications;
      Progress progress("point " + std::to_string(i + 1) + "/" + std::to_string(models.size()),
                        reps);
      options.on_progress = [&progress](std::int64_t customers, int done) {
        progress.update(customers, done);
      };
      sweep.points[i].run = simulate(models[i], options);
      progress.finish();
      sweep.points[i].values = d.json[i];
    }
    if (interrupted()) throw Cancelled();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (!a.out.empty()) Study::append_sweep(a.out, sweep, a.name);
  if (a.json) {
    auto j = to_json(a.scenario, sweep);
    j["seconds"] = seconds;
    if (!a.out.empty()) {
      j["study"] = a.out;
      j["name"] = a.name;
    }
    std::cout << j.dump(2) << '\n';
  } else {
    std::cout << to_text(a.scenario, sweep, seconds);
    if (!a.out.empty()) {
      std::cout << "\nsaved as sweep '" << a.name << "' (runs " << point_run(a.name, 0) << " to "
                << point_run(a.name, sweep.points.size() - 1) << ") in " << a.out << '\n';
    }
  }
}

}  // namespace

void add_sweep(CLI::App& app, int& /*exit_code*/) {
  auto* cmd = app.add_subcommand(
      "sweep",
      "Simulate a scenario at several values of its fields (full grid or explicit points) with common random "
      "numbers.\nPaths address any scenario field: touchpoints.webinar.reach, stages.sql.next.customer, "
      "segments.icp.share, arrivals.initial[0].count; values are YAML (~ removes a field).\nLatin hypercube "
      "designs over ranges: use lcsim.sweep in Python.");
  auto a = std::make_shared<SweepArgs>();
  cmd->add_option("scenario", a->scenario, "Base scenario YAML file")->required();
  auto* set =
      cmd->add_option(
             "--set", a->sets,
             "PATH=V1,V2,...: values of one field (repeat for a full grid, first --set varying "
             "slowest); commas inside [], {} or quotes do not split")
          ->allow_extra_args(false);
  auto* points = cmd->add_option(
      "--points", a->points,
      "Explicit points: a CSV file (header = paths, one row per point, cells are YAML) or "
      "a .json file (a list of {path: value} objects)");
  set->excludes(points);
  cmd->add_option("--replications,-r", a->replications,
                  "Replications per point (default: the scenario's)")
      ->check(checks::positive_int());
  cmd->add_option("--seed", a->seed, "Seed for every point (default: the scenario's)");
  cmd->add_option("--threads,-t", a->threads, "Threads (default: all cores)")
      ->check(checks::positive_int());
  cmd->add_option(
      "--out", a->out,
      "Study file (HDF5) to add the sweep to (/sweeps/NAME, runs NAME.p0, NAME.p1, ...)");
  cmd->add_option("--name", a->name, "Sweep name in the study (default: sweep)");
  cmd->add_flag("--json", a->json, "Print the points and their summaries as JSON on stdout");
  cmd->callback([a, cmd] { sweep_command(*a, cmd); });
}

}  // namespace lcsim::cli
