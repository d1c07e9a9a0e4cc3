// lcsim calibrate: estimates with uncertainty from CRM history (a stage-change log and/or stage
// snapshots, optionally a contact log for touchpoint lift; or aggregate funnel counts alone) and a
// scenario built from them.
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/math/special_functions/gamma.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../io/yaml_load.hpp"
#include "checks.hpp"
#include "commands.hpp"
#include "lcsim/calibrate/calibrate.hpp"
#include "lcsim/calibrate/funnel_fit.hpp"
#include "lcsim/calibrate/history.hpp"
#include "lcsim/calibrate/phase_fit.hpp"
#include "lcsim/calibrate/snapshot_calibration.hpp"
#include "lcsim/calibrate/snapshot_fit.hpp"
#include "lcsim/calibrate/synth.hpp"
#include "lcsim/calibrate/timestamp.hpp"
#include "lcsim/calibrate/touchpoint_lift.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/core/input_file.hpp"
#include "lcsim/core/version.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/model/compile.hpp"

namespace lcsim::cli {
namespace {

using nlohmann::json;

constexpr const char* kCommand = "lcsim calibrate";
constexpr double kDefaultLiftWindow = 7.0;

struct CalibrateArgs {
  std::string events;
  std::string out;
  std::string snapshots;
  std::string funnel;
  std::vector<std::string> transitions;
  std::string start = "steady";
  double period_days = 0.0;
  std::string segment_column;
  std::string censor_at;
  std::string stage_map;
  std::vector<std::string> stages;
  std::vector<std::string> absorbing;
  std::string won;
  bool drop_duplicates = false;
  bool drop_invalid = false;
  bool dry_run = false;
  std::string columns;              ///< "customer_id=Deal ID,timestamp=Date entered,stage=Stage"
  std::string separator;            ///< "," ";" "tab" or empty (detected)
  std::string date_format = "iso";  ///< iso, dmy or mdy
  std::string date_means = "end-of-day";  ///< --snapshots: what a date without a time means
  int max_phases = 3;                  ///< --snapshots: phases a stage's dwell may get (1: Markov)
  std::vector<std::string> phases;     ///< --snapshots: STAGE=K fixed
  std::string entry_stage;             ///< --snapshots: where created customers entered
  std::string phase_criterion = "lr";  ///< --snapshots: how phases are chosen (lr, aic, bic)
  std::vector<std::string> exact_stages;  ///< --snapshots: absorbing stages dated exactly
  std::string touchpoints;
  std::vector<std::string> lift;
  std::string report;
  std::string name = "calibrated";
  int threads = 0;  ///< --events: threads of the dwell fits (0: all cores)
  bool json = false;
};

/// One --lift TOUCHPOINT:STAGE[:WINDOW_DAYS].
struct LiftRequest {
  std::string touchpoint;
  std::string stage;
  double window = kDefaultLiftWindow;
};

// ---- small formatting helpers
// ---------------------------------------------------------------------

/// Four significant digits ("n/a" for NaN), enough for estimates and intervals of any scale.
std::string g4(double x) {
  if (std::isnan(x)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", x);
  return buf;
}

/// A table with a header row; columns are as wide as their widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::vector<bool> right = {})
      : rows_{std::move(header)}, right_(std::move(right)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  [[nodiscard]] bool empty() const { return rows_.size() <= 1; }
  [[nodiscard]] std::string str() const {
    std::vector<std::size_t> width;
    for (const auto& row : rows_) {
      if (width.size() < row.size()) width.resize(row.size(), 0);
      for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line;
      for (std::size_t c = 0; c < row.size(); ++c) {
        const bool right = c < right_.size() && right_[c];
        line += (c > 0 ? "  " : "") +
                (c + 1 == row.size() && !right ? row[c] : pad(row[c], width[c], right));
      }
      out += line + '\n';
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

/// "warning: file:line: field: message".
std::string warning_line(const Problem& p) {
  Problem q = p;
  q.warning = false;
  return "warning: " + q.to_string();
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// A time in days since an epoch day as "YYYY-MM-DDTHH:MM:SSZ".
std::string timestamp_of(std::int64_t epoch_day, double days) {
  return iso_timestamp(epoch_day, static_cast<std::int64_t>(std::llround(days * 86400.0)));
}

// ---- inputs -------------------------------------------------------------------------------------

/// A YAML mapping "CRM name: stage name".
std::map<std::string, std::string> read_stage_map(const std::string& path) {
  bool ok = false;
  std::string why;
  const std::string text = read_input_file(path, kMaxScenarioBytes, ok, why);
  if (!ok)
    throw InputError(path, 0, "--stage-map",
                     why.empty() ? "cannot read the file" : "cannot read the file: " + why);
  YAML::Node root;
  try {
    // yaml_load, as for scenarios: a stray ',' is a syntax error, aliases are bounded (yaml_load.hpp).
    const std::vector<YAML::Node> documents = yaml_load::load_all(text);
    if (documents.size() > 1) {
      throw InputError(path, 0, "--stage-map",
                       expected_got("one YAML document", std::to_string(documents.size())));
    }
    if (!documents.empty()) root = documents.front();
  } catch (const YAML::ParserException& e) {
    throw InputError(path, e.mark.is_null() ? 0 : e.mark.line + 1, "", "YAML syntax: " + e.msg);
  }
  if (!root.IsMap() || root.size() == 0) {
    throw InputError(path, root.IsDefined() && !root.IsNull() ? root.Mark().line + 1 : 0, "",
                     expected_got("a mapping of CRM stage name: stage name",
                                  root.IsNull() || !root.IsDefined() ? "an empty file"
                                  : root.IsSequence()                ? "a list"
                                  : root.IsScalar()                  ? "'" + root.Scalar() + "'"
                                                                     : "an empty mapping"));
  }
  std::map<std::string, std::string> map;
  std::vector<Problem> problems;
  for (const auto& entry : root) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : std::string();
    const int line = entry.first.Mark().line + 1;
    if (key.empty()) {
      problems.push_back(Problem{path, line, "", "expected a CRM stage name as the key", false});
      continue;
    }
    if (!entry.second.IsScalar() || entry.second.Scalar().empty()) {
      problems.push_back(
          Problem{path, line, key,
                  expected_got("a stage name", entry.second.IsNull()       ? "nothing"
                                               : entry.second.IsSequence() ? "a list"
                                                                           : "a mapping"),
                  false});
      continue;
    }
    map[key] = entry.second.Scalar();
  }
  if (!problems.empty()) throw InputError(std::move(problems));
  return map;
}

std::vector<LiftRequest> parse_lifts(const std::vector<std::string>& specs) {
  std::vector<LiftRequest> lifts;
  std::vector<Problem> problems;
  for (const std::string& spec : specs) {
    std::vector<std::string> parts;
    std::stringstream s(spec);
    for (std::string part; std::getline(s, part, ':');) parts.push_back(part);
    const auto bad = [&] {
      problems.push_back(Problem{
          kCommand, 0, "--lift",
          expected_got("TOUCHPOINT:STAGE[:WINDOW_DAYS] with a window > 0", "'" + spec + "'"),
          false});
    };
    if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty()) {
      bad();
      continue;
    }
    LiftRequest r{parts[0], parts[1], kDefaultLiftWindow};
    if (parts.size() == 3) {
      try {
        std::size_t used = 0;
        r.window = std::stod(parts[2], &used);
        if (used != parts[2].size() || !(r.window > 0.0) || !std::isfinite(r.window)) {
          bad();
          continue;
        }
      } catch (const std::exception&) {
        bad();
        continue;
      }
    }
    lifts.push_back(r);
  }
  if (!problems.empty()) throw InputError(std::move(problems));
  return lifts;
}

/// --transitions FROM:TO,...: the pairs in order.
std::vector<std::pair<std::string, std::string>> parse_transitions(
    const std::vector<std::string>& specs) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::vector<Problem> problems;
  for (const std::string& spec : specs) {
    const auto colon = spec.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size() ||
        spec.find(':', colon + 1) != std::string::npos) {
      problems.push_back(
          Problem{kCommand, 0, "--transitions",
                  expected_got("FROM:TO pairs, e.g. lead:mql,lead:lost", "'" + spec + "'"), false});
      continue;
    }
    pairs.emplace_back(spec.substr(0, colon), spec.substr(colon + 1));
  }
  if (!problems.empty()) throw InputError(std::move(problems));
  return pairs;
}

/// --phases STAGE=K,...: phases fixed by stage.
std::map<std::string, int> parse_phases(const std::vector<std::string>& specs) {
  std::map<std::string, int> out;
  std::vector<Problem> problems;
  for (const std::string& spec : specs) {
    const auto eq = spec.find('=');
    int k = 0;
    bool ok = eq != std::string::npos && eq > 0 && eq + 2 == spec.size() && spec[eq + 1] >= '1' &&
              spec[eq + 1] <= '4';
    if (ok) k = spec[eq + 1] - '0';
    if (!ok) {
      problems.push_back(Problem{
          kCommand, 0, "--phases",
          expected_got("STAGE=K with K from 1 to 4, e.g. lead=2", "'" + spec + "'"), false});
      continue;
    }
    out[spec.substr(0, eq)] = k;
  }
  if (!problems.empty()) throw InputError(std::move(problems));
  return out;
}

/// FROM:TO pairs grouped by FROM, in order of first appearance (the funnel fit's structure).
std::vector<std::pair<std::string, std::vector<std::string>>> group_transitions(
    const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::vector<std::pair<std::string, std::vector<std::string>>> grouped;
  for (const auto& [from, to] : pairs) {
    auto it = std::find_if(grouped.begin(), grouped.end(),
                           [&](const auto& g) { return g.first == from; });
    if (it == grouped.end()) {
      grouped.emplace_back(from, std::vector<std::string>{});
      it = std::prev(grouped.end());
    }
    it->second.push_back(to);
  }
  return grouped;
}

// ---- output -------------------------------------------------------------------------------------

json problem_json(const Problem& p) {
  return {{"file", p.file}, {"line", p.line}, {"field", p.field}, {"message", p.message}};
}

json estimates_json(const std::vector<EstimateRow>& rows) {
  json a = json::array();
  for (const auto& r : rows) {
    a.push_back({{"parameter", r.parameter},
                 {"estimate", number_or_null(r.estimate)},
                 {"ci_low", number_or_null(r.ci_low)},
                 {"ci_high", number_or_null(r.ci_high)},
                 {"n", r.n}});
    if (!r.method.empty()) a.back()["method"] = r.method;
    if (!std::isnan(r.p_zero)) a.back()["p_zero"] = r.p_zero;
    if (!r.note.empty()) a.back()["note"] = r.note;
  }
  return a;
}

json lift_json(const TouchpointLift& l) {
  return {{"touchpoint", l.touchpoint},
          {"stage", l.stage},
          {"window", l.window},
          {"factor", number_or_null(l.factor)},
          {"ci_low", number_or_null(l.ci_low)},
          {"ci_high", number_or_null(l.ci_high)},
          {"log_factor", number_or_null(l.log_factor)},
          {"se_log_factor", number_or_null(l.se_log_factor)},
          {"partial_loglik", number_or_null(l.partial_loglik)},
          {"partial_loglik_null", number_or_null(l.partial_loglik_null)},
          {"n_stays", l.n_stays},
          {"n_exposed_stays", l.n_exposed_stays},
          {"n_events", l.n_events},
          {"n_events_exposed", l.n_events_exposed},
          {"n_contacts", l.n_contacts},
          {"n_contacts_in_stays", l.n_contacts_in_stays},
          {"days_at_risk", l.days_at_risk},
          {"days_exposed", l.days_exposed},
          {"converged", l.converged},
          {"note", l.note}};
}

json markov_json(const MarkovFit& f) {
  json rates = json::array();
  for (const auto& r : f.rates) {
    rates.push_back({{"from", r.from},
                     {"to", r.to},
                     {"rate", number_or_null(r.rate)},
                     {"ci_low", number_or_null(r.ci_low)},
                     {"ci_high", number_or_null(r.ci_high)},
                     {"n", r.n},
                     {"at_bound", r.at_bound}});
  }
  return {{"file", f.file},
          {"stages", f.stages},
          {"transitions_inferred", f.transitions_inferred},
          {"rates", rates},
          {"estimates", estimates_json(f.estimates)},
          {"loglik", number_or_null(f.loglik)},
          {"n_transitions", f.n_transitions},
          {"n_customers", f.n_customers},
          {"n_intervals", f.n_intervals},
          {"converged", f.converged},
          {"status", f.status},
          {"information_positive_definite", f.information_positive_definite}};
}

json phase_json(const PhaseTypeFit& f) {
  json dwells = json::array();
  for (const auto& d : f.dwells) {
    dwells.push_back({{"stage", d.stage},
                      {"phases", d.rates.size()},
                      {"rates", d.rates},
                      {"exit", d.exit},
                      {"mean", number_or_null(d.mean)},
                      {"ci_low", number_or_null(d.ci_low)},
                      {"ci_high", number_or_null(d.ci_high)},
                      {"n", d.n}});
  }
  json candidates = json::array();
  for (const auto& c : f.candidates) {
    candidates.push_back({{"stage", c.stage},
                          {"step", c.step},
                          {"phases", c.phases},
                          {"loglik", number_or_null(c.loglik)},
                          {"parameters", c.parameters},
                          {"aic", number_or_null(c.aic)},
                          {"bic", number_or_null(c.bic)},
                          {"edge", c.edge},
                          {"lr_statistic", number_or_null(c.lr_statistic)},
                          {"lr_p_value", number_or_null(c.lr_p_value)},
                          {"chosen", c.chosen},
                          {"converged", c.converged}});
  }
  json starts = json::array();
  for (const auto& s : f.starts) {
    starts.push_back({{"start", s.start},
                      {"loglik", number_or_null(s.loglik)},
                      {"converged", s.converged},
                      {"best", s.best}});
  }
  return {{"file", f.file},
          {"stages", f.stages},
          {"phases", f.phases},
          {"entry_stage", f.entry_stage},
          {"criterion", f.criterion},
          {"dwells", dwells},
          {"candidates", candidates},
          {"starts", starts},
          {"not_identified", f.not_identified},
          {"n_exact", f.n_exact},
          {"bic", number_or_null(f.bic)},
          {"bic_markov", number_or_null(f.bic_markov)},
          {"estimates", estimates_json(f.estimates)},
          {"markov_estimates", estimates_json(f.markov_estimates)},
          {"loglik", number_or_null(f.loglik)},
          {"loglik_markov", number_or_null(f.loglik_markov)},
          {"aic", number_or_null(f.aic)},
          {"aic_markov", number_or_null(f.aic_markov)},
          {"parameters", f.parameters},
          {"n_customers", f.n_customers},
          {"n_observations", f.n_observations},
          {"n_created", f.n_created},
          {"n_intervals", f.n_intervals},
          {"converged", f.converged},
          {"information_positive_definite", f.information_positive_definite}};
}

json funnel_json(const FunnelFit& f, const std::string& start) {
  json cells = json::array();
  for (const auto& c : f.cells) {
    cells.push_back({{"period", c.period},
                     {"stage", c.stage},
                     {"observed", c.observed},
                     {"expected", number_or_null(c.expected)},
                     {"fitted", c.fitted}});
  }
  return {{"file", f.file},
          {"epoch", f.epoch},
          {"periods", f.periods},
          {"period_starts", f.period_starts},
          {"stages", f.stages},
          {"entry_stages", f.entry_stages},
          {"counted_stages", f.counted_stages},
          {"start", start},
          {"deviance", number_or_null(f.deviance)},
          {"pearson", number_or_null(f.pearson)},
          {"dispersion", number_or_null(f.dispersion)},
          {"cells", f.n_cells},
          {"parameters", f.n_parameters},
          {"iterations", f.iterations},
          {"converged", f.converged},
          {"unidentified", f.unidentified},
          {"counts", cells}};
}

json families_json(const std::vector<FamilyRow>& rows) {
  json a = json::array();
  for (const auto& r : rows) {
    json params = json::object();
    for (const auto& [k, v] : r.params) params[k] = number_or_null(v);
    a.push_back({{"stage", r.stage},
                 {"segment", r.segment},
                 {"family", r.family},
                 {"fitted", r.fitted},
                 {"loglik", number_or_null(r.loglik)},
                 {"aic", number_or_null(r.aic)},
                 {"params", params},
                 {"chosen", r.chosen},
                 {"n_events", r.n_events},
                 {"n_censored", r.n_censored},
                 {"note", r.note}});
  }
  return a;
}

/// How a row's interval was found, when not the delta method: "upper bound (0 not rejected:
/// LR test p = 0.41)", "profile likelihood", what is not identified.
std::string interval_note(const EstimateRow& r) {
  std::string out;
  if (r.method == "boundary") {
    out = "0 not rejected (LR test p = " + g4(r.p_zero) + "): [0, upper bound]";
  } else if (r.method == "profile") {
    out = "profile likelihood";
    if (!std::isnan(r.p_zero)) out += "; LR test of 0: p = " + g4(r.p_zero);
  }
  if (!r.note.empty()) out += (out.empty() ? "" : "; ") + r.note;
  return out;
}

std::string estimates_text(const std::vector<EstimateRow>& rows) {
  bool notes = false;
  for (const auto& r : rows) notes = notes || !interval_note(r).empty();
  std::vector<std::string> header{"parameter", "estimate", "95% CI", "n"};
  if (notes) header.emplace_back("interval");
  Table t(header, {false, true, true, true, false});
  for (const auto& r : rows) {
    std::vector<std::string> row{r.parameter, g4(r.estimate),
                                 "[" + g4(r.ci_low) + ", " + g4(r.ci_high) + "]",
                                 std::to_string(r.n)};
    if (notes) row.push_back(interval_note(r));
    t.add(std::move(row));
  }
  return t.str();
}

std::string phase_text(const PhaseTypeFit& f) {
  std::ostringstream out;
  out << "phase-type snapshot fit (semi-Markov, Coxian dwells chosen by "
      << (f.criterion == "lr"    ? std::string("likelihood-ratio tests")
          : f.criterion == "aic" ? std::string("AIC")
                                 : std::string("BIC"))
      << "; " << (f.converged ? "converged" : "NOT converged") << "): log-likelihood "
      << g4(f.loglik) << " vs Markov " << g4(f.loglik_markov) << ", AIC " << g4(f.aic) << " vs "
      << g4(f.aic_markov) << "; " << f.n_customers << " customers, " << f.n_created
      << " from their creation time in '" << f.entry_stage << "'\n";
  std::string starts;
  for (const auto& s : f.starts) {
    starts +=
        (starts.empty() ? "" : ", ") + s.start + " " + g4(s.loglik) + (s.best ? " (best)" : "");
  }
  out << "Markov model's starts (log-likelihood where each ended): " << starts << "\n";
  Table steps({"step", "model", "phases", "loglik", "AIC", "BIC", "LR", "p", "kept"},
              {false, false, false, true, true, true, true, true, false});
  for (const auto& c : f.candidates) {
    std::string phases;
    for (std::size_t i = 0; i < c.phases.size(); ++i) {
      if (f.absorbing[i] || c.phases[i] == 1) continue;
      phases += (phases.empty() ? "" : " ") + f.stages[i] + "=" + std::to_string(c.phases[i]);
    }
    const std::string model = c.step == "markov"   ? "Markov"
                              : c.step == "remove" ? c.stage + " -1 phase"
                                                   : c.stage + " +1 phase";
    steps.add({c.step, model, phases.empty() ? "all 1" : phases, g4(c.loglik), g4(c.aic), g4(c.bic),
               std::isnan(c.lr_statistic) ? "-" : g4(c.lr_statistic),
               std::isnan(c.lr_p_value) ? "-" : g4(c.lr_p_value),
               c.step == "screen" ? "-"
               : c.edge           ? "yes (edge)"
               : c.chosen         ? "yes"
                                  : "no"});
  }
  out << steps.str() << "\n";
  Table dwells({"stage", "dwell", "mean (days)", "95% CI", "rates", "exit", "pairs"},
               {false, false, true, true, false, false, true});
  for (const auto& d : f.dwells) {
    std::string rates;
    std::string exits;
    for (std::size_t i = 0; i < d.rates.size(); ++i) {
      rates += (i > 0 ? " " : "") + g4(d.rates[i]);
      exits += (i > 0 ? " " : "") + g4(d.exit[i]);
    }
    dwells.add({d.stage,
                d.rates.size() == 1 ? "exponential" : "coxian " + std::to_string(d.rates.size()),
                g4(d.mean), "[" + g4(d.ci_low) + ", " + g4(d.ci_high) + "]", rates, exits,
                std::to_string(d.n)});
  }
  out << dwells.str() << "\n" << estimates_text(f.estimates) << "\n";
  return out.str();
}

std::string families_text(const std::vector<FamilyRow>& rows) {
  // AIC differences to the chosen family of the same stage and segment.
  std::map<std::pair<std::string, std::string>, double> best;
  for (const auto& r : rows) {
    if (r.chosen) best[{r.stage, r.segment}] = r.aic;
  }
  Table t(
      {"stage", "segment", "family", "", "AIC", "dAIC", "loglik", "ended", "open", "parameters"},
      {false, false, false, false, true, true, true, true, true, false});
  for (const auto& r : rows) {
    std::string params;
    for (const auto& [k, v] : r.params) params += (params.empty() ? "" : " ") + k + "=" + g4(v);
    if (!r.fitted) params = r.note.empty() ? "not fitted" : "not fitted: " + r.note;
    const auto it = best.find({r.stage, r.segment});
    const double delta = it == best.end() || !r.fitted ? std::nan("") : r.aic - it->second;
    t.add({r.stage, r.segment.empty() ? "-" : r.segment, r.family, r.chosen ? "*" : "",
           r.fitted ? g4(r.aic) : "n/a", std::isnan(delta) ? "n/a" : g4(delta),
           r.fitted ? g4(r.loglik) : "n/a", std::to_string(r.n_events),
           std::to_string(r.n_censored), params});
  }
  return t.str();
}

/// What the command computed: everything the tables, the report and the YAML header need.
struct Result {
  std::optional<EventLog> log;
  std::optional<Calibration> calibration;
  std::optional<SnapshotLog> snapshot_log;
  std::optional<MarkovFit> markov;
  std::optional<PhaseTypeFit> phase;
  std::vector<SegmentSnapshotFit> snapshot_segments;  ///< --snapshots with --segment-column
  std::optional<FunnelFit> funnel;
  std::vector<TouchpointLift> lifts;
  std::vector<EstimateRow> snapshot_scenario_estimates;
  std::vector<Problem> warnings;
  Scenario scenario;
  bool has_scenario = true;  ///< false: --snapshots alone without a conversion stage
};

/// Stays still open at the end of observation (right-censored), over all segments.
std::size_t stays_open(const Calibration& c) {
  std::size_t open = 0;
  for (const auto& f : c.stages) {
    if (f.segment.empty())
      open += static_cast<std::size_t>(std::count(f.censored.begin(), f.censored.end(), true));
  }
  return open;
}

/// The "events" section of a report: what reading the log found (also when it has errors).
json events_json(const EventLog& log) {
  const bool any = !log.customers.empty();
  json j = {{"file", log.file},
            {"rows", log.rows},
            {"rows_used", log.rows_used},
            {"customers", log.customers.size()},
            {"stages", log.stages},
            {"segments", log.segments},
            {"epoch", any ? json(log.epoch) : json()},
            {"first", any ? json(timestamp_of(log.epoch_day, log.first_time)) : json()},
            {"last", any ? json(timestamp_of(log.epoch_day, log.last_time)) : json()},
            {"censor_at", any ? json(timestamp_of(log.epoch_day, log.censor_at)) : json()}};
  json counts = json::array();
  for (const StageCount& c : log.stage_counts) {
    counts.push_back(
        {{"stage", c.stage}, {"rows", c.rows}, {"customers", c.customers}, {"rare", c.rare}});
  }
  j["stage_counts"] = counts;
  json cleaning = json::array();
  for (const CleaningStep& s : log.cleaning) {
    cleaning.push_back({{"defect", s.defect},
                        {"column", s.column},
                        {"rows", s.rows},
                        {"customers", s.customers},
                        {"lines", s.lines},
                        {"action", s.action},
                        {"detail", s.detail},
                        {"error", s.error}});
  }
  j["cleaning"] = cleaning;
  return j;
}

json report_json(const Result& r, const CalibrateArgs& a) {
  json j;
  j["lcsim_version"] = kVersion;
  j["created"] = utc_now();
  j["inputs"] = {{"events", a.events.empty() ? json() : json(a.events)},
                 {"snapshots", a.snapshots.empty() ? json() : json(a.snapshots)},
                 {"touchpoints", a.touchpoints.empty() ? json() : json(a.touchpoints)},
                 {"funnel", a.funnel.empty() ? json() : json(a.funnel)},
                 {"stage_map", a.stage_map.empty() ? json() : json(a.stage_map)}};
  json warnings = json::array();
  for (const auto& w : r.warnings) warnings.push_back(problem_json(w));
  j["warnings"] = warnings;
  if (r.log) {
    j["events"] = events_json(*r.log);
  }
  if (r.calibration) {
    const Calibration& c = *r.calibration;
    j["estimates"] = estimates_json(c.estimates);
    j["families"] = families_json(c.families);
    j["events"]["stays_open"] = stays_open(c);
  } else if (r.funnel) {
    j["estimates"] = estimates_json(r.funnel->estimates);
    j["families"] = json::array();
    j["funnel"] = funnel_json(*r.funnel, a.start);
  } else {
    j["estimates"] = estimates_json(r.snapshot_scenario_estimates);
    j["families"] = json::array();
  }
  json lifts = json::array();
  for (const auto& l : r.lifts) lifts.push_back(lift_json(l));
  j["lift"] = lifts;
  if (r.markov) {
    j["snapshots"] = markov_json(*r.markov);
    j["snapshots"]["rows"] = r.snapshot_log->rows;
    j["snapshots"]["epoch"] = r.snapshot_log->epoch;
  }
  if (r.phase) j["phase_type"] = phase_json(*r.phase);
  if (!r.snapshot_segments.empty()) {
    json segments = json::array();
    for (const SegmentSnapshotFit& g : r.snapshot_segments) {
      segments.push_back({{"segment", g.segment},
                          {"customers", g.customers},
                          {"own_stages", g.own_stages},
                          {"pooled_stages", g.pooled_stages},
                          {"markov", markov_json(g.markov)},
                          {"phase_type", g.phase ? phase_json(*g.phase) : json()}});
    }
    j["snapshot_segments"] = segments;
  }
  if (!r.has_scenario || a.out.empty()) {
    j["scenario"] = json();  // --snapshots alone without --out: the fits only
    return j;
  }
  std::vector<std::string> stages;
  for (const auto& s : r.scenario.stages) stages.push_back(s.name);
  std::vector<std::string> segments;
  for (const auto& s : r.scenario.segments) segments.push_back(s.name);
  j["scenario"] = {{"file", a.out},
                   {"name", r.scenario.name},
                   {"source", r.calibration ? "events"
                              : r.funnel    ? "funnel"
                                            : "snapshots"},
                   {"stages", stages},
                   {"segments", segments},
                   {"horizon", r.scenario.horizon},
                   {"won", r.scenario.won}};
  return j;
}

std::string yaml_header(const Result& r, const CalibrateArgs& a) {
  std::vector<std::string> lines;
  lines.push_back("Calibrated by lcsim " + std::string(kVersion) + " on " + utc_now() + ".");
  if (r.log) {
    const EventLog& log = *r.log;
    const std::size_t open = stays_open(*r.calibration);
    lines.push_back("Source: stage-change log " + log.file + " (" + std::to_string(log.rows) +
                    " rows, " + std::to_string(log.customers.size()) + " customers" +
                    (log.has_segments ? ", segments from column '" + a.segment_column + "'" : "") +
                    ").");
    lines.push_back("Rows from " + timestamp_of(log.epoch_day, log.first_time) + " to " +
                    timestamp_of(log.epoch_day, log.last_time) + "; day 0 is " + log.epoch + ".");
    lines.push_back("Censoring: observation ends at " + timestamp_of(log.epoch_day, log.censor_at) +
                    (a.censor_at.empty() ? " (the last timestamp; set it with --censor-at)"
                                         : " (--censor-at)") +
                    "; " + std::to_string(open) + " stays still open then are right-censored.");
  }
  if (r.snapshot_log) {
    lines.push_back(
        "Snapshots: " + r.snapshot_log->file + " (" + std::to_string(r.snapshot_log->rows) +
        " rows, " + std::to_string(r.markov->n_customers) + " customers, " +
        std::to_string(r.markov->n_transitions) +
        " consecutive pairs): continuous-time Markov fit" +
        (r.calibration ? ", in the report only (the scenario comes from the stage-change log)."
                       : "; the scenario's stages come from it (exponential dwells)."));
  }
  if (r.funnel) {
    const FunnelFit& f = *r.funnel;
    lines.push_back("Source: funnel counts " + f.file + " (" + std::to_string(f.periods.size()) +
                    " periods from " + f.periods.front() + ", stages counted: " +
                    [&] {
                      std::string s;
                      for (const auto& c : f.counted_stages) s += (s.empty() ? "" : ", ") + c;
                      return s;
                    }() +
                    "): a continuous-time Markov model fitted by matching expected entries "
                    "(exponential dwells; start " +
                    a.start + ").");
    lines.push_back("Fit: Poisson deviance " + g4(f.deviance) + " on " + std::to_string(f.n_cells) +
                    " cells and " + std::to_string(f.n_parameters) + " parameters, dispersion " +
                    g4(f.dispersion) + (f.converged ? "" : ", NOT converged") + ".");
    if (!f.unidentified.empty()) {
      lines.push_back("Not identified by the counts (see the warnings): " +
                      std::to_string(f.unidentified.size()) + " parameters.");
    }
  }
  for (const auto& l : r.lifts) {
    lines.push_back("Touchpoint lift (not in the scenario: its schedule is unknown): " +
                    l.touchpoint + " on " + l.stage + ", " + g4(l.window) +
                    "-day window: hazard_factor " + g4(l.factor) + " [" + g4(l.ci_low) + ", " +
                    g4(l.ci_high) + "]" + (l.note.empty() ? "" : " (" + l.note + ")") + ".");
  }
  lines.push_back("Estimates with 95% intervals: lcsim calibrate ... --report FILE (or --json).");
  std::string out;
  for (const auto& line : lines) out += "# " + line + "\n";
  return out;
}

/// What cleaning found and did, one row per class of defect (the first lines of each: the report
/// lists them all).
std::string cleaning_text(const EventLog& log) {
  constexpr std::size_t kFirstLines = 5;
  Table t({"defect", "column", "rows", "customers", "first lines", "action"},
          {false, false, true, true, false, false});
  for (const CleaningStep& s : log.cleaning) {
    std::string lines;
    for (std::size_t i = 0; i < s.lines.size() && i < kFirstLines; ++i) {
      lines += (lines.empty() ? "" : ", ") + std::to_string(s.lines[i]);
    }
    if (s.rows > kFirstLines) lines += ", ...";
    t.add({s.defect, s.column.empty() ? "-" : s.column, std::to_string(s.rows),
           std::to_string(s.customers), lines,
           s.action + (s.detail.empty() ? "" : ": " + s.detail)});
  }
  return t.str();
}

/// The stages found with their rows and customers, in funnel order, rare ones flagged.
std::string stages_text(const EventLog& log, const CalibrateArgs& a) {
  Table t({"stage", "rows", "customers", ""}, {false, true, true, false});
  for (const StageCount& c : log.stage_counts) {
    t.add({c.stage, std::to_string(c.rows), std::to_string(c.customers),
           c.rare ? "rare: an unmapped CRM stage? (--stages / --stage-map)" : ""});
  }
  return "stages found (rows and customers; in " +
         std::string(a.stages.empty() ? "funnel order along the paths" : "--stages order") + ")\n" +
         t.str();
}

std::string result_text(const Result& r, const CalibrateArgs& a) {
  std::ostringstream out;
  if (r.log) {
    const EventLog& log = *r.log;
    out << "calibrated from " << log.file << ": " << log.customers.size() << " customers, "
        << log.rows_used << " of " << log.rows << " rows, "
        << timestamp_of(log.epoch_day, log.first_time) << " to "
        << timestamp_of(log.epoch_day, log.censor_at) << " (censored there), day 0 = " << log.epoch
        << "\n\n";
    out << stages_text(log, a) << "\n";
    if (!log.cleaning.empty())
      out << "cleaning (what the log needed)\n" << cleaning_text(log) << "\n";
    out << "estimates (95% intervals; n = moves out of the stage, customers or arrivals)\n"
        << estimates_text(r.calibration->estimates) << "\n";
    out << "dwell families by stage (* = chosen, minimum AIC; ended / open stays)\n"
        << families_text(r.calibration->families) << "\n";
  } else if (r.funnel) {
    const FunnelFit& f = *r.funnel;
    out << "calibrated from funnel counts " << f.file << ": " << f.periods.size()
        << " periods from " << f.periods.front() << ", " << f.n_cells << " cells fitted, "
        << (f.converged ? "converged" : "NOT converged") << " (Poisson deviance " << g4(f.deviance)
        << ", dispersion " << g4(f.dispersion) << ")\n\n";
    out << "estimates (95% intervals; n = counted entries of the stage)\n"
        << estimates_text(f.estimates) << "\n";
  } else {
    out << "calibrated from snapshots " << r.snapshot_log->file << ": " << r.markov->n_customers
        << " customers, " << r.markov->n_transitions
        << " consecutive pairs, day 0 = " << r.snapshot_log->epoch << "\n\n";
    out << "arrivals (95% intervals)\n" << estimates_text(r.snapshot_scenario_estimates) << "\n";
  }
  if (r.markov) {
    out << "snapshot fit (continuous-time Markov; "
        << (r.markov->converged ? "converged" : "NOT converged: ")
        << (r.markov->converged ? "" : r.markov->status) << ", log-likelihood "
        << g4(r.markov->loglik) << ")\n"
        << estimates_text(r.markov->estimates) << "\n";
  }
  if (r.phase) out << phase_text(*r.phase);
  const auto listed = [](const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
    return text;
  };
  for (const SegmentSnapshotFit& g : r.snapshot_segments) {
    out << "segment '" << g.segment << "' (" << g.customers << " customers; own fit of "
        << (g.own_stages.empty() ? std::string("no stage") : listed(g.own_stages))
        << (g.pooled_stages.empty() ? std::string() : "; pooled: " + listed(g.pooled_stages))
        << ")\n";
    if (g.phase) {
      out << phase_text(*g.phase);
    } else {
      out << estimates_text(g.markov.estimates) << "\n";
    }
  }
  if (!r.lifts.empty()) {
    Table t({"touchpoint", "stage", "window", "hazard factor", "95% CI", "exposed stays",
             "exits (exposed)", "note"},
            {false, false, true, true, true, true, true, false});
    for (const auto& l : r.lifts) {
      t.add({l.touchpoint, l.stage, g4(l.window), g4(l.factor),
             "[" + g4(l.ci_low) + ", " + g4(l.ci_high) + "]",
             std::to_string(l.n_exposed_stays) + " of " + std::to_string(l.n_stays),
             std::to_string(l.n_events) + " (" + std::to_string(l.n_events_exposed) + ")", l.note});
    }
    out << "touchpoint lift (Cox partial likelihood: factor on the hazard of leaving the stage "
           "while exposed)\n"
        << t.str() << "\n";
  }
  if (a.out.empty()) {
    out << "no scenario written (no --out" << (r.has_scenario ? "" : "; it needs --won STAGE too")
        << ")";
    if (!a.report.empty()) out << "; wrote " << a.report;
    out << "\n";
    return out.str();
  }
  out << "wrote " << a.out << " (scenario '" << r.scenario.name << "': " << r.scenario.stages.size()
      << " stages";
  if (!r.scenario.segments.empty()) out << ", " << r.scenario.segments.size() << " segments";
  out << ", horizon " << g4(r.scenario.horizon) << " days)";
  if (!a.report.empty()) out << " and " << a.report;
  out << "\n";
  return out.str();
}

// ---- the command --------------------------------------------------------------------------------

/// --funnel COUNTS.csv: aggregate counts alone.
void calibrate_funnel(const CalibrateArgs& a, Result& r) {
  for (const auto& [given, option] :
       {std::pair{!a.events.empty(), "EVENTS"}, std::pair{!a.snapshots.empty(), "--snapshots"},
        std::pair{!a.touchpoints.empty(), "--touchpoints"},
        std::pair{!a.segment_column.empty(), "--segment-column"},
        std::pair{!a.censor_at.empty(), "--censor-at"},
        std::pair{!a.stage_map.empty(), "--stage-map"}, std::pair{!a.lift.empty(), "--lift"},
        std::pair{!a.stages.empty(), "--stages"}, std::pair{!a.absorbing.empty(), "--absorbing"},
        std::pair{a.drop_duplicates, "--drop-duplicates"}}) {
    if (given) {
      throw InputError(kCommand, 0, option,
                       std::string("cannot be combined with --funnel (funnel counts are fitted "
                                   "alone)"));
    }
  }
  if (a.transitions.empty()) {
    throw InputError(kCommand, 0, "--transitions",
                     "--funnel needs the stage model: --transitions FROM:TO,... (e.g. "
                     "lead:mql,lead:lost,mql:won,mql:lost)");
  }
  FunnelFitOptions fo;
  fo.transitions = group_transitions(parse_transitions(a.transitions));
  fo.won = a.won;
  const std::optional<FunnelStart> start = parse_funnel_start(a.start);
  if (!start) {
    throw InputError(kCommand, 0, "--start", expected_got("steady or empty", "'" + a.start + "'"));
  }
  fo.start = *start;
  if (!(a.period_days >= 0.0)) {
    throw InputError(kCommand, 0, "--period-days",
                     expected_got("a number of days > 0", g4(a.period_days)));
  }
  fo.period_days = a.period_days;
  fo.name = a.name;
  r.funnel = fit_funnel(read_funnel_counts(a.funnel), fo);
  r.warnings = r.funnel->warnings;
  r.scenario = r.funnel->scenario;
}

/// --separator: the character, or 0 (detected).
char separator_of(const CalibrateArgs& a) {
  if (a.separator.empty()) return 0;
  if (a.separator == "tab" || a.separator == "\\t") return '\t';
  if (a.separator.size() == 1 && a.separator != "\"" && a.separator != "\n") {
    return a.separator.front();
  }
  throw InputError(kCommand, 0, "--separator",
                   expected_got("one character (',' ';' '|') or 'tab'", "'" + a.separator + "'"));
}

DateOrder date_order_of(const CalibrateArgs& a) {
  if (a.date_format == "dmy") return DateOrder::kDayFirst;
  if (a.date_format == "mdy") return DateOrder::kMonthFirst;
  return DateOrder::kIso;
}

/// --columns KEY=NAME,...: the names by key, each key one the inputs given have (EVENTS:
/// customer_id, timestamp, stage, segment; --snapshots: customer_id, date, stage, created,
/// segment).
std::map<std::string, std::string> parse_columns(const CalibrateArgs& a) {
  std::vector<std::string> keys{"customer_id"};
  if (!a.events.empty()) keys.emplace_back("timestamp");
  if (!a.snapshots.empty()) keys.insert(keys.end(), {"date", "created", "entered"});
  keys.insert(keys.end(), {"stage", "segment"});
  std::map<std::string, std::string> out;
  if (a.columns.empty()) return out;
  std::size_t start = 0;
  while (start <= a.columns.size()) {
    const std::size_t comma = a.columns.find(',', start);
    const std::string item =
        a.columns.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? a.columns.size() + 1 : comma + 1;
    const std::size_t eq = item.find('=');
    const std::string key = eq == std::string::npos ? item : item.substr(0, eq);
    const std::string name = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (eq == std::string::npos || name.empty()) {
      throw InputError(kCommand, 0, "--columns",
                       expected_got("KEY=COLUMN NAME pairs separated by commas, e.g. "
                                    "customer_id=Deal ID,timestamp=Date entered,stage=Stage",
                                    "'" + item + "'"));
    }
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      std::string list;
      for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
      throw InputError(
          kCommand, 0, "--columns",
          "unknown key '" + key + "' (expected one of: " + list + ")" + did_you_mean(key, keys));
    }
    out[key] = name;
  }
  return out;
}

/// --columns, --separator and --date-format into the log options.
void apply_columns(const CalibrateArgs& a, LogOptions& lo) {
  lo.separator = separator_of(a);
  lo.date_order = date_order_of(a);
  for (const auto& [key, name] : parse_columns(a)) {
    if (key == "customer_id") lo.customer_column = name;
    if (key == "timestamp") lo.time_column = name;
    if (key == "stage") lo.stage_column = name;
    if (key == "segment") lo.segment_column = name;
  }
}

/// --columns, --separator, --date-format and --date-means into the snapshot options.
void apply_columns(const CalibrateArgs& a, SnapshotOptions& so) {
  so.separator = separator_of(a);
  so.date_order = date_order_of(a);
  const std::optional<DateMeans> means = parse_date_means(a.date_means);
  if (!means) {
    throw InputError(kCommand, 0, "--date-means",
                     expected_got("end-of-day or start-of-day", "'" + a.date_means + "'"));
  }
  so.date_means = *means;
  for (const auto& [key, name] : parse_columns(a)) {
    if (key == "customer_id") so.customer_column = name;
    if (key == "date") so.time_column = name;
    if (key == "created") so.created_column = name;
    if (key == "entered") so.entered_column = name;
    if (key == "stage") so.stage_column = name;
    if (key == "segment") so.segment_column = name;
  }
}

/// What reading the log found, as the dry run shows it and as a failing run shows it before its
/// errors: the counts, the stages found and every class of defect.
void print_log_picture(const EventLog& log, const CalibrateArgs& a, const std::string& first_line) {
  for (const Problem& w : log.warnings) std::cerr << warning_line(w) << '\n';
  std::cout << first_line << ": " << log.customers.size() << " customers, " << log.rows_used
            << " of " << log.rows << " rows usable\n";
  if (!log.stage_counts.empty()) std::cout << "\n" << stages_text(log, a);
  if (log.cleaning.empty()) {
    std::cout << "\nno defects found\n";
  } else {
    std::cout << "\ncleaning (what the log needs)\n" << cleaning_text(log);
  }
  if (!log.errors.empty()) {
    std::size_t classes = 0;
    for (const CleaningStep& s : log.cleaning) classes += s.error ? 1 : 0;
    std::cout << "\n"
              << classes << (classes == 1 ? " class" : " classes")
              << " of defect stop the fit (the errors on stderr; the report lists every row)\n";
  }
}

/// --dry-run: what reading the log found and would do, nothing fitted or written but the report,
/// which is written also when errors would stop the fit (exit 2 then).
void dry_run_report(const EventLog& log, const CalibrateArgs& a) {
  json j;
  j["lcsim_version"] = kVersion;
  j["created"] = utc_now();
  j["events"] = events_json(log);
  json warnings = json::array();
  for (const auto& w : log.warnings) warnings.push_back(problem_json(w));
  j["warnings"] = warnings;
  json errors = json::array();
  for (const auto& e : log.errors) errors.push_back(problem_json(e));
  j["errors"] = errors;
  if (!a.report.empty()) write_file_atomically(a.report, j.dump(2) + "\n");
  if (a.json) {
    std::cout << j.dump(2) << '\n';
  } else {
    print_log_picture(log, a,
                      "checked " + log.file + " (dry run: nothing fitted, nothing written" +
                          (a.report.empty() ? std::string() : " but " + a.report) + ")");
  }
  if (!log.errors.empty()) throw InputError(log.errors);
}

void calibrate_command(const CalibrateArgs& a) {
  if (a.dry_run &&
      (a.events.empty() || !a.funnel.empty() || !a.snapshots.empty() || !a.touchpoints.empty())) {
    throw InputError(kCommand, 0, "--dry-run", "checks a stage-change log (EVENTS.csv) alone");
  }
  const bool snapshots_alone = a.events.empty() && a.funnel.empty() && !a.snapshots.empty();
  if (!a.dry_run && a.out.empty() && !snapshots_alone) {
    throw InputError(kCommand, 0, "--out",
                     "expected the calibrated scenario file to write: --out FILE.yaml");
  }
  if (a.events.empty() && a.snapshots.empty() && a.funnel.empty()) {
    throw InputError(kCommand, 0, "EVENTS",
                     "expected a stage-change log (EVENTS.csv), --snapshots FILE or --funnel FILE");
  }
  if (a.events.empty() && !a.touchpoints.empty()) {
    throw InputError(kCommand, 0, "--touchpoints",
                     "needs a stage-change log (EVENTS.csv): lift is measured on stays");
  }
  if (!a.transitions.empty() && a.funnel.empty() && a.snapshots.empty()) {
    throw InputError(kCommand, 0, "--transitions",
                     "applies to --funnel and --snapshots only (a stage-change log shows the "
                     "moves itself)");
  }
  if (a.date_means != "end-of-day" && a.snapshots.empty()) {
    throw InputError(
        kCommand, 0, "--date-means",
        "applies to --snapshots only (a stage-change log's dates are the moments of change)");
  }
  const std::vector<LiftRequest> lifts = parse_lifts(a.lift);
  std::map<std::string, std::string> stage_map;
  if (!a.stage_map.empty()) stage_map = read_stage_map(a.stage_map);

  Result r;
  if (!a.funnel.empty()) {
    calibrate_funnel(a, r);
  } else if (!a.events.empty()) {
    LogOptions lo;
    lo.segment_column = a.segment_column;
    lo.stage_map = stage_map;
    lo.stages = a.stages;
    lo.absorbing = a.absorbing;
    lo.censor_at = a.censor_at;
    lo.drop_duplicates = a.drop_duplicates;
    lo.drop_invalid = a.drop_invalid;
    lo.collect_errors = true;  // every class and warning is shown before the errors stop the run
    lo.spelling = OptionSpelling::kCli;
    apply_columns(a, lo);
    EventLog log = read_event_log(a.events, lo);
    if (a.dry_run) {
      dry_run_report(log, a);
      return;
    }
    if (!log.errors.empty()) {
      if (!a.json) {
        print_log_picture(log, a,
                          "read " + log.file +
                              " (stopped by the errors below: nothing fitted, nothing written; "
                              "--dry-run --report FILE lists every row as JSON)");
      }
      throw InputError(log.errors);
    }
    r.log = std::move(log);
    CalibrateOptions co;
    co.won = a.won;
    co.name = a.name;
    co.spelling = OptionSpelling::kCli;
    co.threads = a.threads;
    r.calibration = calibrate_logs(*r.log, co);
    r.warnings = r.calibration->warnings;  // the log's, then the calibration's
    r.scenario = r.calibration->scenario;
  }
  if (!a.touchpoints.empty()) {
    const TouchpointLog contacts = read_touchpoint_log(a.touchpoints, *r.log);
    r.warnings.insert(r.warnings.end(), contacts.warnings.begin(), contacts.warnings.end());
    for (const LiftRequest& q : lifts) {
      LiftOptions lo;
      lo.touchpoint = q.touchpoint;
      lo.stage = q.stage;
      lo.window = q.window;
      r.lifts.push_back(fit_touchpoint_lift(*r.log, contacts, lo));
      if (!r.lifts.back().note.empty()) {
        r.warnings.push_back(Problem{a.touchpoints, 0,
                                     "touchpoints." + q.touchpoint + ".effect.hazard_factor",
                                     r.lifts.back().note, true});
      }
    }
    if (lifts.empty()) {
      r.warnings.push_back(
          Problem{a.touchpoints, 0, "--lift",
                  "contacts read but no --lift TOUCHPOINT:STAGE[:WINDOW_DAYS] asked for", true});
    }
  } else if (!lifts.empty()) {
    throw InputError(kCommand, 0, "--lift", "needs --touchpoints FILE (the contact log)");
  }
  if (!a.snapshots.empty()) {
    SnapshotOptions so;
    so.stage_map = stage_map;
    so.stages = a.stages;
    so.absorbing = a.absorbing;
    so.segment_column = a.segment_column;
    so.spelling = OptionSpelling::kCli;
    apply_columns(a, so);
    so.exact_stages = a.exact_stages;
    if (r.log) so.epoch = r.log->epoch;  // one day 0 for both inputs
    r.snapshot_log = read_snapshots(a.snapshots, so);
    SnapshotCalibrationOptions co;
    co.markov.transitions = parse_transitions(a.transitions);
    co.phase.max_phases = a.max_phases;
    co.phase.phases = parse_phases(a.phases);
    co.phase.entry_stage = a.entry_stage;
    co.phase.criterion = a.phase_criterion;
    co.won = r.calibration ? std::string() : a.won;  // with EVENTS the scenario is theirs
    co.name = a.name;
    SnapshotCalibration c = calibrate_snapshots(*r.snapshot_log, co);
    r.markov = std::move(c.markov);
    if (c.phase) r.phase = std::move(c.phase);
    r.snapshot_segments = std::move(c.segments);
    r.warnings.insert(r.warnings.end(), c.warnings.begin(), c.warnings.end());
    if (!r.calibration) {
      if (!c.has_scenario && !a.out.empty()) {
        throw InputError(r.snapshot_log->file, 0, "--won",
                         "the snapshots have no stage 'won': a scenario needs the stage that "
                         "counts as a conversion, --won STAGE (or leave out --out to print and "
                         "report the fits alone)");
      }
      r.has_scenario = c.has_scenario;
      r.scenario = std::move(c.scenario);
      r.snapshot_scenario_estimates = std::move(c.scenario_estimates);
    }
  }
  const bool write_scenario = !a.out.empty();
  std::string yaml;
  if (write_scenario) {
    // The scenario must load and simulate as written: check the YAML text itself.
    yaml = yaml_header(r, a) + to_yaml(r.scenario);
    std::vector<Problem> errors;
    for (const Problem& p : check(parse_scenario(yaml, a.out))) {
      if (!p.warning) errors.push_back(p);
    }
    if (!errors.empty()) throw InputError(std::move(errors));
  }
  const json report = report_json(r, a);
  if (write_scenario) write_file_atomically(a.out, yaml);
  if (!a.report.empty()) write_file_atomically(a.report, report.dump(2) + "\n");
  if (a.json) {
    std::cout << report.dump(2) << '\n';
  } else {
    for (const Problem& w : r.warnings) std::cerr << warning_line(w) << '\n';
    std::cout << result_text(r, a);
  }
}

}  // namespace

void add_calibrate(CLI::App& app, int& /*exit_code*/) {
  auto* cmd = app.add_subcommand(
      "calibrate",
      "Estimate a stage model with uncertainty from CRM history (a stage-change log, snapshots "
      "or funnel counts) and write it as a scenario");
  auto a = std::make_shared<CalibrateArgs>();
  cmd->add_option("events", a->events,
                  "Stage-change log (CSV: customer_id,timestamp,stage[,segment]); optional with "
                  "--snapshots, not with --funnel")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out,-o", a->out,
                  "Calibrated scenario YAML to write (required unless --dry-run; optional with "
                  "--snapshots alone, which then prints and reports the fits without a scenario)");
  cmd->add_option("--snapshots", a->snapshots,
                  "Stage snapshots (CSV: customer_id,date,stage[,created]): a continuous-time "
                  "Markov fit and a phase-type (Coxian dwell) fit; the scenario comes from the "
                  "phase-type fit when no EVENTS file is given (it needs a conversion stage: "
                  "'won' or --won; the fits alone do not)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--max-phases", a->max_phases,
                  "--snapshots: most phases of a stage's Coxian dwell, chosen stage by stage "
                  "(--phase-criterion; default 3; 1: the continuous-time Markov fit only)")
      ->check(checks::int_between(1, 4));
  cmd->add_option("--phase-criterion", a->phase_criterion,
                  "--snapshots: how a stage's phases are chosen: lr (a phase is kept when the "
                  "likelihood-ratio test gives p < 0.05; the default), aic or bic")
      ->check(CLI::IsMember({"lr", "aic", "bic"}));
  cmd->add_option("--exact-stages", a->exact_stages,
                  "--snapshots: absorbing stages whose date in the snapshots is the exact time the "
                  "customer entered them (a won or lost date; msm's deathexact), comma-separated. "
                  "A column 'entered' (the time the customer entered the row's stage, when known) "
                  "is used when the file has it")
      ->delimiter(',');
  cmd->add_option("--phases", a->phases,
                  "--snapshots: phases fixed for some stages, STAGE=K comma-separated (K 1 to 4)")
      ->delimiter(',');
  cmd->add_option("--entry-stage", a->entry_stage,
                  "--snapshots: the stage a customer enters at its creation time (the created "
                  "column; default: the stage most of them are first seen in)");
  auto* funnel = cmd->add_option(
      "--funnel", a->funnel,
      "Aggregate funnel counts (CSV: period,stage,entries; period YYYY-MM, a date or consecutive "
      "integers): a Markov model fitted by matching expected entries; needs --transitions; "
      "alone (not with EVENTS or --snapshots)");
  funnel->check(CLI::ExistingFile);
  cmd->add_option("--transitions", a->transitions,
                  "Allowed transitions FROM:TO, comma-separated or repeated, e.g. "
                  "lead:mql,lead:lost,mql:won,mql:lost. --funnel: required (the stage model; "
                  "stages no transition leads to are the entry stages). --snapshots: default "
                  "inferred from the data")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--start", a->start,
                  "--funnel: the funnel at the first period's start, steady (running, the "
                  "default) or empty")
      ->check(CLI::IsMember({"steady", "empty"}))
      ->needs(funnel);
  cmd->add_option("--period-days", a->period_days,
                  "--funnel: days per integer period (default 30) and of the last dated period "
                  "(default: its month, or the period before)")
      ->check(checks::positive())
      ->needs(funnel);
  cmd->add_option("--segment-column", a->segment_column,
                  "Column of EVENTS or of --snapshots holding the segment (default: none); "
                  "snapshots: each segment is fitted too and gets overrides for stages with at "
                  "least 30 pairs");
  cmd->add_option(
      "--censor-at", a->censor_at,
      "End of observation (date or timestamp); stays still open then are right-censored "
      "(default: the last timestamp)");
  cmd->add_option("--stage-map", a->stage_map, "YAML mapping of CRM stage names to stage names")
      ->check(CLI::ExistingFile);
  cmd->add_option("--stages", a->stages,
                  "Known stages, in funnel order (any other stage is an error; tables and the "
                  "scenario follow this order). Without it every stage name found is a stage "
                  "(listed with its rows; names in very few rows are flagged as possibly "
                  "unmapped CRM stages), in order along the customers' paths")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--absorbing", a->absorbing, "Stages that end a path, e.g. won,lost")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--won", a->won, "Stage that counts as a conversion (default: 'won')");
  cmd->add_flag("--drop-duplicates", a->drop_duplicates,
                "Drop repeated rows with a warning instead of failing");
  cmd->add_flag(
      "--drop-invalid", a->drop_invalid,
      "Drop unusable rows (missing or unparseable timestamp, unknown or empty stage, empty id, "
      "wrong number of fields, after --censor-at) and duplicates, listing each class, instead "
      "of failing");
  cmd->add_flag(
      "--dry-run", a->dry_run,
      "Only read EVENTS and report the stages found, every class of defect and warning and "
      "what cleaning would do (with --report: as JSON listing every affected row, written "
      "even when errors stop the run with exit 2); nothing is fitted or written");
  cmd->add_option("--columns", a->columns,
                  "Column names: KEY=NAME pairs, e.g. 'customer_id=Deal ID,timestamp=Date "
                  "entered,stage=Stage[,segment=Segment]' for EVENTS, "
                  "'customer_id=Account,date=month_end,stage=Stage[,created=created_at]"
                  "[,entered=stage_entered_at]' for --snapshots (customer_id, stage and segment "
                  "name the columns of both)");
  cmd->add_option(
         "--date-format", a->date_format,
         "Also accept day-first (dmy: 31/12/2025 14:00) or month-first (mdy: 12/31/2025) dates in "
         "EVENTS, --snapshots and --censor-at; iso (the default) accepts ISO 8601 only")
      ->check(CLI::IsMember({"iso", "dmy", "mdy"}));
  cmd->add_option("--date-means", a->date_means,
                  "--snapshots: the moment a snapshot date without a time stands for: end-of-day "
                  "(the default: 23:59:59 UTC, the state as of the close of the day, as month-end "
                  "exports mean it) or start-of-day (00:00:00 UTC). A creation date alone always "
                  "means the start of its day")
      ->check(CLI::IsMember({"end-of-day", "start-of-day"}));
  cmd->add_option("--separator", a->separator,
                  "Field separator of EVENTS and --snapshots: one "
                  "character or 'tab' (default: ',' unless the header has ';' and no ',')");
  cmd->add_option("--touchpoints", a->touchpoints,
                  "Contact log (CSV: customer_id,timestamp,touchpoint)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--lift", a->lift,
                  "Estimate a touchpoint's hazard factor: TOUCHPOINT:STAGE[:WINDOW_DAYS] (window "
                  "default 7); "
                  "repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--report", a->report, "Write every table and warning as JSON to this file");
  cmd->add_option("--name", a->name, "Name of the calibrated scenario")->capture_default_str();
  cmd->add_option("--threads,-t", a->threads,
                  "Threads of a stage-change log's dwell fits (default: all cores; the same "
                  "result at any count)")
      ->check(checks::positive_int());
  cmd->add_flag("--json", a->json, "Print the report JSON on stdout instead of tables");
  cmd->callback([a] { calibrate_command(*a); });
}

}  // namespace lcsim::cli
