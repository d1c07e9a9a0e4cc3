#include "lcsim/io/scenario_yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "lcsim/core/format.hpp"
#include "lcsim/core/input_file.hpp"
#include "lcsim/io/scenario_extends.hpp"
#include "lcsim/model/compile.hpp"
#include "yaml_load.hpp"

namespace lcsim {
namespace {

// ---- allowed keys, alphabetical (they are listed in messages) ----------------------------------

using Keys = std::vector<std::string_view>;

const Keys kTopKeys = {
    "arrivals", "converted_stages", "description",  "horizon",      "max_customers", "money",
    "name",     "referrals",        "replications", "report_every", "resources",     "seed",
    "segments", "stages",           "touchpoints",  "won"};
// The top-level keys a file may have, as listed in messages and searched for a "did you mean": a
// variant's `extends:` and `changes:` are taken off before the parser sees the file, but a misspelt
// one ("chnages:") reaches it as an unknown key.
const Keys kTopKeysListed = {"arrivals",    "changes",   "converted_stages", "description",
                             "extends",     "horizon",   "max_customers",    "money",
                             "name",        "referrals", "replications",     "report_every",
                             "resources",   "seed",      "segments",         "stages",
                             "touchpoints", "won"};
const Keys kStageKeys = {"absorbing", "dwell", "next", "revenue_per_month"};
const Keys kOverrideKeys = {"dwell", "next", "revenue_per_month"};
const Keys kDwellParamKeys = {"days",  "mean", "median", "mu",   "rate",
                              "scale", "sd",   "shape",  "sigma"};
const Keys kDwellKeys = {"days",  "dist",  "exit", "mean",  "median", "mu",    "rate",
                         "rates", "scale", "sd",   "shape", "sigma",  "values"};
const Keys kSegmentKeys = {"share", "stages"};
const Keys kArrivalsKeys = {"initial", "streams"};
const Keys kInitialKeys = {"count", "segment", "stage"};
const Keys kStreamKeys = {"rate_per_day", "segment", "stage", "weekly_profile"};
const Keys kMoneyKeys = {"discount_rate", "one_off"};
const Keys kOneOffKeys = {"from", "to", "value"};
const Keys kTouchpointKeys = {"cost", "effect", "reach", "schedule", "segments", "stages"};
const Keys kScheduleKeys = {"after_entry", "calendar"};
const Keys kTimesKeys = {"days", "every", "start"};
const Keys kEffectKeys = {"hazard_factor", "move", "next", "window"};
const Keys kMoveKeys = {"probability", "to"};
const Keys kResourceKeys = {"abandon_to", "changes",  "cost_per_server_day",
                            "discipline", "handoff",  "outcome",
                            "patience",   "priority", "servers",
                            "serves",     "service",  "weekdays"};
const Keys kChangeKeys = {"day", "servers"};
const Keys kOutcomeKeys = {"decay", "next"};
const Keys kDecayKeys = {"half_life", "stage", "to"};
const Keys kReferralKeys = {"from", "rate_per_day", "segment", "to"};

// ---- small text helpers ------------------------------------------------------------------------

std::string join(Keys keys) {
  std::string out;
  for (const auto key : keys) {
    if (!out.empty()) out += ", ";
    out += key;
  }
  return out;
}

bool contains(Keys keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string child(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

std::string item(const std::string& prefix, std::size_t index) {
  return prefix + "[" + std::to_string(index) + "]";
}

/// 1-based line of a node, or `fallback` when yaml-cpp has no position for it.
int line_of(const YAML::Node& node, int fallback) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark.line + 1;
}

/// How a node looks, for "expected X, got Y".
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return "\"" + node.Scalar() + "\"";
    default:
      return "an undefined value";
  }
}

/// True for scalars that YAML reads as strings whatever they look like ("7" quoted, !!str 7).
bool is_string_scalar(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

// ---- scalar conversions (YAML 1.2 core schema, exact) ------------------------------------------

std::optional<double> to_double(std::string_view text) {
  if (text == ".inf" || text == ".Inf" || text == ".INF" || text == "+.inf" || text == "+.Inf" ||
      text == "+.INF") {
    return std::numeric_limits<double>::infinity();
  }
  if (text == "-.inf" || text == "-.Inf" || text == "-.INF") {
    return -std::numeric_limits<double>::infinity();
  }
  if (text == ".nan" || text == ".NaN" || text == ".NAN") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  for (const char c : text) {
    const bool ok =
        (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
    if (!ok) return std::nullopt;
  }
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> to_int64(std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (!digits.empty() && ec == std::errc() && ptr == digits.data() + digits.size()) return value;
  // Integral values written as floats (1e6, 5000.0) are accepted when exactly representable.
  const auto real = to_double(text);
  constexpr double kLimit = 9007199254740992.0;  // 2^53
  if (real && std::isfinite(*real) && std::trunc(*real) == *real && std::fabs(*real) <= kLimit) {
    return static_cast<std::int64_t>(*real);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> to_uint64(std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  std::uint64_t value = 0;
  if (!digits.empty() && digits.front() != '-') {
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc() && ptr == digits.data() + digits.size()) return value;
  }
  const auto real = to_int64(text);
  if (real && *real >= 0) return static_cast<std::uint64_t>(*real);
  return std::nullopt;
}

std::optional<bool> to_bool(std::string_view text) {
  for (const auto word : {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"}) {
    if (text == word) return true;
  }
  for (const auto word : {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"}) {
    if (text == word) return false;
  }
  return std::nullopt;
}

// ---- the parser --------------------------------------------------------------------------------

/// One key of a mapping: its text, its 1-based line and its value.
struct Entry {
  std::string key;
  int line = 0;
  YAML::Node value;
};

/// A checked mapping: entries in written order and their lines.
struct MapView {
  Where where;
  std::vector<Entry> entries;

  [[nodiscard]] const Entry* find(std::string_view key) const {
    for (const auto& entry : entries) {
      if (entry.key == key) return &entry;
    }
    return nullptr;
  }
};

/// Reads a YAML tree into a Scenario, collecting every structural problem on the way.
class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  void parse(const YAML::Node& root, Scenario& scenario);
  [[nodiscard]] std::vector<Problem>& problems() { return problems_; }

 private:
  void add(int line, std::string field, std::string message) {
    problems_.push_back(Problem{file_, line, std::move(field), std::move(message), false});
  }

  /// The mapping at `node`; unknown keys (when `allowed` is given), duplicate and non-text keys are
  /// reported. `line` is the line reported for the mapping itself (that of its key, if any).
  /// `listed`: the keys an unknown key's message lists and suggests from (default: `allowed`).
  std::optional<MapView> map(const YAML::Node& node, int line, const std::string& field,
                             const Keys* allowed, const Keys* listed = nullptr);
  std::optional<MapView> map(const Entry& entry, const std::string& field, const Keys& allowed) {
    return map(entry.value, entry.line, field, &allowed);
  }
  /// A mapping whose keys are names chosen by the user (stages, next targets, ...).
  std::optional<MapView> named_map(const Entry& entry, const std::string& field) {
    return map(entry.value, entry.line, field, nullptr);
  }
  bool sequence(const Entry& entry, const std::string& field);
  void require(const MapView& view, Keys keys, const std::string& prefix);

  std::optional<double> number(const YAML::Node& node, int line, const std::string& field);
  std::optional<std::string> text(const YAML::Node& node, int line, const std::string& field);

  void get(const MapView& view, std::string_view key, const std::string& prefix, double& out);
  void get(const MapView& view, std::string_view key, const std::string& prefix,
           std::optional<double>& out);
  void get(const MapView& view, std::string_view key, const std::string& prefix, std::string& out);
  void get(const MapView& view, std::string_view key, const std::string& prefix, bool& out);
  void get(const MapView& view, std::string_view key, const std::string& prefix, std::int64_t& out);
  void get(const MapView& view, std::string_view key, const std::string& prefix, int& out);
  void get(const MapView& view, std::string_view key, const std::string& prefix,
           std::uint64_t& out);
  void get(const MapView& view, std::string_view key, const std::string& prefix,
           std::vector<double>& out);
  void get(const MapView& view, std::string_view key, const std::string& prefix,
           std::vector<std::string>& out);
  void get(const MapView& view, std::string_view key, const std::string& prefix,
           std::vector<int>& out);
  std::optional<int> integer(const YAML::Node& node, int line, const std::string& field);

  std::optional<DwellSpec> dwell(const Entry& entry, const std::string& field);
  std::optional<NextSpec> next(const Entry& entry, const std::string& field);
  void stages(const Entry& entry, Scenario& scenario);
  void segments(const Entry& entry, Scenario& scenario);
  void arrivals(const Entry& entry, Scenario& scenario);
  void money(const Entry& entry, Scenario& scenario);
  void touchpoints(const Entry& entry, Scenario& scenario);
  void schedule(const Entry& entry, const std::string& field, ScheduleSpec& out);
  void effect(const Entry& entry, const std::string& field, EffectSpec& out);
  void resources(const Entry& entry, Scenario& scenario);
  void outcome(const Entry& entry, const std::string& field, ResourceSpec& out);
  void referrals(const Entry& entry, Scenario& scenario);

  std::string file_;
  std::vector<Problem> problems_;
};

std::optional<MapView> Parser::map(const YAML::Node& node, int line, const std::string& field,
                                   const Keys* allowed, const Keys* listed) {
  if (!node.IsMap()) {
    add(line, field, expected_got("a mapping", describe(node)));
    return std::nullopt;
  }
  MapView view;
  view.where.line = line;
  for (auto it = node.begin(); it != node.end(); ++it) {
    // Copies: the iterator's pair is a temporary proxy.
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    const int key_line = line_of(key, line);
    if (!key.IsScalar()) {
      add(key_line, field, expected_got("a text key", describe(key)));
      continue;
    }
    const std::string name = key.Scalar();
    if (allowed != nullptr && !contains(*allowed, name)) {
      add(key_line, child(field, name),
          "unknown key '" + name +
              "' (expected one of: " + join(listed != nullptr ? *listed : *allowed) + ")" +
              did_you_mean(name, listed != nullptr ? *listed : *allowed));
      continue;
    }
    if (view.find(name) != nullptr) {
      add(key_line, child(field, name),
          "duplicate key '" + name + "' (first given on line " +
              std::to_string(view.where.of(name)) + ")");
      continue;
    }
    view.where.keys.emplace(name, key_line);
    view.entries.push_back(Entry{name, key_line, value});
  }
  return view;
}

bool Parser::sequence(const Entry& entry, const std::string& field) {
  if (entry.value.IsSequence()) return true;
  add(entry.line, field, expected_got("a sequence", describe(entry.value)));
  return false;
}

void Parser::require(const MapView& view, Keys keys, const std::string& prefix) {
  for (const auto key : keys) {
    if (view.find(key) == nullptr) {
      add(view.where.line, child(prefix, key), "missing required key '" + std::string(key) + "'");
    }
  }
}

std::optional<double> Parser::number(const YAML::Node& node, int line, const std::string& field) {
  if (node.IsScalar() && !is_string_scalar(node)) {
    if (auto value = to_double(node.Scalar())) return value;
  }
  add(line, field, expected_got("a number", describe(node)));
  return std::nullopt;
}

std::optional<std::string> Parser::text(const YAML::Node& node, int line,
                                        const std::string& field) {
  if (node.IsScalar()) return node.Scalar();
  add(line, field, expected_got("a string", describe(node)));
  return std::nullopt;
}

void Parser::get(const MapView& view, std::string_view key, const std::string& prefix,
                 double& out) {
  if (const Entry* entry = view.find(key)) {
    if (auto value = number(entry->value, entry->line, child(prefix, key))) out = *value;
  }
}

void Parser::get(const MapView& view, std::string_view key, const std::string& prefix,
                 std::optional<double>& out) {
  if (const Entry* entry = view.find(key)) {
    if (auto value = number(entry->value, entry->line, child(prefix, key))) out = *value;
  }
}

void Parser::get(const MapView& view, std::string_view key, const std::string& prefix,
                 std::string& out) {
  if (const Entry* entry = view.find(key)) {
    if (auto value = text(entry->value, entry->line, child(prefix, key))) out = *value;
  }
}

void Parser::get(const MapView& view, std::string_view key, const std::string& prefix, bool& out) {
  if (const Entry* entry = view.find(key)) {
    const YAML::Node& node = entry->value;
    if (node.IsScalar() && !is_string_scalar(node)) {
      if (auto value = to_bool(node.Scalar())) {
        out = *value;
        return;
      }
    }
    add(entry->line, child(prefix, key), expected_got("true or false", describe(node)));
  }
}

void Parser::get(const MapView& view, std::string_view key, const std::string& prefix,
                 std::int64_t& out) {
  if (const Entry* entry = view.find(key)) {
    const YAML::Node& node = entry->value;
    if (node.IsScalar() && !is_string_scalar(node)) {
      if (auto value = to_int64(node.Scalar())) {
        out = *value;
        return;
      }
    }
    add(entry->line, child(prefix, key), expected_got("an integer", describe(node)));
  }
}

std::optional<int> Parser::integer(const YAML::Node& node, int line, const std::string& field) {
  if (node.IsScalar() && !is_string_scalar(node)) {
    const auto value = to_int64(node.Scalar());
    if (value && *value >= std::numeric_limits<int>::min() &&
        *value <= std::numeric_limits<int>::max()) {
      return static_cast<int>(*value);
    }
  }
  add(line, field, expected_got("an integer", describe(node)));
  return std::nullopt;
}

void Parser::get(const MapView& view, std::string_view key, const std::string& prefix, int& out) {
  if (const Entry* entry = view.find(key)) {
    if (auto value = integer(entry->value, entry->line, child(prefix, key))) out = *value;
  }
}

void Parser::get(const MapView& view, std::string_view key, const std::string& prefix,
                 std::uint64_t& out) {
  if (const Entry* entry = view.find(key)) {
    const YAML::Node& node = entry->value;
    if (node.IsScalar() && !is_string_scalar(node)) {
      if (auto value = to_uint64(node.Scalar())) {
        out = *value;
        return;
      }
    }
    add(entry->line, child(prefix, key), expected_got("a non-negative integer", describe(node)));
  }
}

void Parser::get(const MapView& view, std::string_view key, const std::string& prefix,
                 std::vector<double>& out) {
  const Entry* entry = view.find(key);
  const std::string field = child(prefix, key);
  if (entry == nullptr || !sequence(*entry, field)) return;
  out.clear();
  for (std::size_t i = 0; i < entry->value.size(); ++i) {
    const YAML::Node node = entry->value[i];
    if (auto value = number(node, line_of(node, entry->line), item(field, i))) {
      out.push_back(*value);
    }
  }
}

void Parser::get(const MapView& view, std::string_view key, const std::string& prefix,
                 std::vector<std::string>& out) {
  const Entry* entry = view.find(key);
  const std::string field = child(prefix, key);
  if (entry == nullptr || !sequence(*entry, field)) return;
  out.clear();
  for (std::size_t i = 0; i < entry->value.size(); ++i) {
    const YAML::Node node = entry->value[i];
    if (auto value = text(node, line_of(node, entry->line), item(field, i))) {
      out.push_back(*value);
    }
  }
}

void Parser::get(const MapView& view, std::string_view key, const std::string& prefix,
                 std::vector<int>& out) {
  const Entry* entry = view.find(key);
  const std::string field = child(prefix, key);
  if (entry == nullptr || !sequence(*entry, field)) return;
  out.clear();
  for (std::size_t i = 0; i < entry->value.size(); ++i) {
    const YAML::Node node = entry->value[i];
    if (auto value = integer(node, line_of(node, entry->line), item(field, i))) {
      out.push_back(*value);
    }
  }
}

void Parser::parse(const YAML::Node& root, Scenario& scenario) {
  const auto top = map(root, line_of(root, 1), "", &kTopKeys, &kTopKeysListed);
  if (!top) return;
  scenario.where = top->where;
  require(*top, {"name", "horizon", "report_every", "won", "stages", "arrivals"}, "");
  get(*top, "name", "", scenario.name);
  get(*top, "description", "", scenario.description);
  get(*top, "horizon", "", scenario.horizon);
  get(*top, "report_every", "", scenario.report_every);
  get(*top, "seed", "", scenario.seed);
  get(*top, "replications", "", scenario.replications);
  get(*top, "won", "", scenario.won);
  get(*top, "converted_stages", "", scenario.converted_stages);
  if (const Entry* entry = top->find("stages")) stages(*entry, scenario);
  if (const Entry* entry = top->find("segments")) segments(*entry, scenario);
  if (const Entry* entry = top->find("arrivals")) arrivals(*entry, scenario);
  if (const Entry* entry = top->find("money")) money(*entry, scenario);
  if (const Entry* entry = top->find("touchpoints")) touchpoints(*entry, scenario);
  if (const Entry* entry = top->find("resources")) resources(*entry, scenario);
  if (const Entry* entry = top->find("referrals")) referrals(*entry, scenario);
  get(*top, "max_customers", "", scenario.max_customers);
}

std::optional<DwellSpec> Parser::dwell(const Entry& entry, const std::string& field) {
  const auto view = map(entry, field, kDwellKeys);
  if (!view) return std::nullopt;
  DwellSpec spec;
  spec.where = view->where;
  get(*view, "dist", field, spec.dist);
  for (const auto key : kDwellParamKeys) {
    std::optional<double> value;
    get(*view, key, field, value);
    if (value) spec.params.emplace(std::string(key), *value);
  }
  get(*view, "values", field, spec.values);
  get(*view, "rates", field, spec.rates);
  get(*view, "exit", field, spec.exit);
  if (spec.dist == "empirical") require(*view, {"values"}, field);
  if (spec.dist == "coxian") require(*view, {"rates", "exit"}, field);
  return spec;
}

std::optional<NextSpec> Parser::next(const Entry& entry, const std::string& field) {
  const auto view = named_map(entry, field);
  if (!view) return std::nullopt;
  NextSpec spec;
  spec.where = view->where;
  for (const auto& target : view->entries) {
    if (auto p = number(target.value, target.line, child(field, target.key))) {
      spec.probs.emplace_back(target.key, *p);
    }
  }
  return spec;
}

void Parser::stages(const Entry& entry, Scenario& scenario) {
  const auto view = named_map(entry, "stages");
  if (!view) return;
  for (const auto& stage_entry : view->entries) {
    const std::string field = child("stages", stage_entry.key);
    const auto stage_view = map(stage_entry, field, kStageKeys);
    if (!stage_view) continue;
    StageSpec stage;
    stage.name = stage_entry.key;
    stage.where = stage_view->where;
    get(*stage_view, "absorbing", field, stage.absorbing);
    if (const Entry* e = stage_view->find("dwell")) stage.dwell = dwell(*e, child(field, "dwell"));
    if (const Entry* e = stage_view->find("next")) stage.next = next(*e, child(field, "next"));
    get(*stage_view, "revenue_per_month", field, stage.revenue_per_month);
    scenario.stages.push_back(std::move(stage));
  }
}

void Parser::segments(const Entry& entry, Scenario& scenario) {
  const auto view = named_map(entry, "segments");
  if (!view) return;
  for (const auto& segment_entry : view->entries) {
    const std::string field = child("segments", segment_entry.key);
    const auto segment_view = map(segment_entry, field, kSegmentKeys);
    if (!segment_view) continue;
    SegmentSpec segment;
    segment.name = segment_entry.key;
    segment.where = segment_view->where;
    require(*segment_view, {"share"}, field);
    get(*segment_view, "share", field, segment.share);
    if (const Entry* stages_entry = segment_view->find("stages")) {
      const std::string stages_field = child(field, "stages");
      if (const auto overrides = named_map(*stages_entry, stages_field)) {
        for (const auto& override_entry : overrides->entries) {
          const std::string override_field = child(stages_field, override_entry.key);
          const auto override_view = map(override_entry, override_field, kOverrideKeys);
          if (!override_view) continue;
          StageOverride stage;
          stage.stage = override_entry.key;
          stage.where = override_view->where;
          if (const Entry* e = override_view->find("dwell")) {
            stage.dwell = dwell(*e, child(override_field, "dwell"));
          }
          if (const Entry* e = override_view->find("next")) {
            stage.next = next(*e, child(override_field, "next"));
          }
          std::optional<double> revenue;
          get(*override_view, "revenue_per_month", override_field, revenue);
          stage.revenue_per_month = revenue;
          segment.stages.push_back(std::move(stage));
        }
      }
    }
    scenario.segments.push_back(std::move(segment));
  }
}

void Parser::arrivals(const Entry& entry, Scenario& scenario) {
  const auto view = map(entry, "arrivals", kArrivalsKeys);
  if (!view) return;
  ArrivalsSpec& arrivals = scenario.arrivals;
  arrivals.where = view->where;
  const Entry* initial = view->find("initial");
  if (initial != nullptr && sequence(*initial, "arrivals.initial")) {
    for (std::size_t i = 0; i < initial->value.size(); ++i) {
      const YAML::Node node = initial->value[i];
      const std::string field = item("arrivals.initial", i);
      const auto cohort_view = map(node, line_of(node, initial->line), field, &kInitialKeys);
      if (!cohort_view) continue;
      InitialCohort cohort;
      cohort.where = cohort_view->where;
      require(*cohort_view, {"stage", "count"}, field);
      get(*cohort_view, "stage", field, cohort.stage);
      get(*cohort_view, "count", field, cohort.count);
      get(*cohort_view, "segment", field, cohort.segment);
      arrivals.initial.push_back(std::move(cohort));
    }
  }
  const Entry* streams = view->find("streams");
  if (streams != nullptr && sequence(*streams, "arrivals.streams")) {
    for (std::size_t i = 0; i < streams->value.size(); ++i) {
      const YAML::Node node = streams->value[i];
      const std::string field = item("arrivals.streams", i);
      const auto stream_view = map(node, line_of(node, streams->line), field, &kStreamKeys);
      if (!stream_view) continue;
      ArrivalStream stream;
      stream.where = stream_view->where;
      require(*stream_view, {"stage", "rate_per_day"}, field);
      get(*stream_view, "stage", field, stream.stage);
      get(*stream_view, "rate_per_day", field, stream.rate_per_day);
      get(*stream_view, "weekly_profile", field, stream.weekly_profile);
      get(*stream_view, "segment", field, stream.segment);
      arrivals.streams.push_back(std::move(stream));
    }
  }
}

void Parser::money(const Entry& entry, Scenario& scenario) {
  const auto view = map(entry, "money", kMoneyKeys);
  if (!view) return;
  MoneySpec& money = scenario.money;
  money.where = view->where;
  get(*view, "discount_rate", "money", money.discount_rate);
  const Entry* one_off = view->find("one_off");
  if (one_off == nullptr || !sequence(*one_off, "money.one_off")) return;
  for (std::size_t i = 0; i < one_off->value.size(); ++i) {
    const YAML::Node node = one_off->value[i];
    const std::string field = item("money.one_off", i);
    const auto value_view = map(node, line_of(node, one_off->line), field, &kOneOffKeys);
    if (!value_view) continue;
    OneOffValue value;
    value.where = value_view->where;
    require(*value_view, {"to", "value"}, field);
    get(*value_view, "from", field, value.from);
    get(*value_view, "to", field, value.to);
    get(*value_view, "value", field, value.value);
    money.one_off.push_back(std::move(value));
  }
}

void Parser::touchpoints(const Entry& entry, Scenario& scenario) {
  const auto view = named_map(entry, "touchpoints");
  if (!view) return;
  for (const auto& tp_entry : view->entries) {
    const std::string field = child("touchpoints", tp_entry.key);
    const auto tp_view = map(tp_entry, field, kTouchpointKeys);
    if (!tp_view) continue;
    TouchpointSpec tp;
    tp.name = tp_entry.key;
    tp.where = tp_view->where;
    require(*tp_view, {"stages", "schedule"}, field);
    get(*tp_view, "stages", field, tp.stages);
    get(*tp_view, "segments", field, tp.segments);
    if (const Entry* e = tp_view->find("schedule")) {
      schedule(*e, child(field, "schedule"), tp.schedule);
    }
    get(*tp_view, "reach", field, tp.reach);
    get(*tp_view, "cost", field, tp.cost);
    if (const Entry* e = tp_view->find("effect")) effect(*e, child(field, "effect"), tp.effect);
    scenario.touchpoints.push_back(std::move(tp));
  }
}

void Parser::schedule(const Entry& entry, const std::string& field, ScheduleSpec& out) {
  const auto view = map(entry, field, kScheduleKeys);
  if (!view) return;
  out.where = view->where;
  if (const Entry* e = view->find("after_entry")) {
    const std::string sub = child(field, "after_entry");
    if (const auto times = map(*e, sub, kTimesKeys)) {
      out.after_entry_where = times->where;
      get(*times, "days", sub, out.after_entry_days);
      get(*times, "every", sub, out.after_entry_every);
      get(*times, "start", sub, out.after_entry_start);
    }
  }
  if (const Entry* e = view->find("calendar")) {
    const std::string sub = child(field, "calendar");
    if (const auto times = map(*e, sub, kTimesKeys)) {
      out.calendar_where = times->where;
      get(*times, "days", sub, out.calendar_days);
      get(*times, "every", sub, out.calendar_every);
      get(*times, "start", sub, out.calendar_start);
    }
  }
}

void Parser::effect(const Entry& entry, const std::string& field, EffectSpec& out) {
  const auto view = map(entry, field, kEffectKeys);
  if (!view) return;
  out.where = view->where;
  if (const Entry* e = view->find("move")) {
    const std::string sub = child(field, "move");
    if (const auto move = map(*e, sub, kMoveKeys)) {
      require(*move, {"to"}, sub);
      get(*move, "to", sub, out.move_to);
      out.move_probability = 1.0;  // a move without a probability always happens
      get(*move, "probability", sub, out.move_probability);
      // Lines of the move's keys, under dotted names, so that compile() can point at them.
      for (const auto& [key, line] : move->where.keys) out.where.keys.emplace("move." + key, line);
    }
  }
  get(*view, "window", field, out.window);
  get(*view, "hazard_factor", field, out.hazard_factor);
  if (const Entry* e = view->find("next")) out.next = next(*e, child(field, "next"));
}

void Parser::resources(const Entry& entry, Scenario& scenario) {
  const auto view = named_map(entry, "resources");
  if (!view) return;
  for (const auto& resource_entry : view->entries) {
    const std::string field = child("resources", resource_entry.key);
    const auto resource_view = map(resource_entry, field, kResourceKeys);
    if (!resource_view) continue;
    ResourceSpec resource;
    resource.name = resource_entry.key;
    resource.where = resource_view->where;
    require(*resource_view, {"serves", "service"}, field);
    if (resource_view->find("servers") != nullptr) {
      int servers = 0;
      get(*resource_view, "servers", field, servers);
      resource.servers = servers;
    }
    get(*resource_view, "weekdays", field, resource.weekdays);
    const Entry* changes = resource_view->find("changes");
    const std::string changes_field = child(field, "changes");
    if (changes != nullptr && sequence(*changes, changes_field)) {
      for (std::size_t i = 0; i < changes->value.size(); ++i) {
        const YAML::Node node = changes->value[i];
        const std::string change_field = item(changes_field, i);
        const auto change_view =
            map(node, line_of(node, changes->line), change_field, &kChangeKeys);
        if (!change_view) continue;
        StaffingChange change;
        change.where = change_view->where;
        require(*change_view, {"day", "servers"}, change_field);
        get(*change_view, "day", change_field, change.day);
        get(*change_view, "servers", change_field, change.servers);
        resource.changes.push_back(std::move(change));
      }
    }
    get(*resource_view, "serves", field, resource.serves);
    if (const Entry* e = resource_view->find("handoff")) {
      resource.handoff = dwell(*e, child(field, "handoff"));
    }
    if (const Entry* e = resource_view->find("service")) {
      resource.service = dwell(*e, child(field, "service"));
    }
    get(*resource_view, "discipline", field, resource.discipline);
    get(*resource_view, "priority", field, resource.priority);
    if (const Entry* e = resource_view->find("patience")) {
      resource.patience = dwell(*e, child(field, "patience"));
    }
    get(*resource_view, "abandon_to", field, resource.abandon_to);
    if (const Entry* e = resource_view->find("outcome")) {
      outcome(*e, child(field, "outcome"), resource);
    }
    get(*resource_view, "cost_per_server_day", field, resource.cost_per_server_day);
    scenario.resources.push_back(std::move(resource));
  }
}

void Parser::outcome(const Entry& entry, const std::string& field, ResourceSpec& out) {
  const auto view = map(entry, field, kOutcomeKeys);
  if (!view) return;
  out.outcome_where = view->where;
  if (const Entry* e = view->find("next")) out.outcome = next(*e, child(field, "next"));
  if (const Entry* e = view->find("decay")) {
    const std::string sub = child(field, "decay");
    if (const auto decay_view = map(*e, sub, kDecayKeys)) {
      DecaySpec decay;
      decay.where = decay_view->where;
      require(*decay_view, {"stage", "half_life", "to"}, sub);
      get(*decay_view, "stage", sub, decay.stage);
      get(*decay_view, "half_life", sub, decay.half_life);
      get(*decay_view, "to", sub, decay.to);
      out.decay = std::move(decay);
    }
  }
}

void Parser::referrals(const Entry& entry, Scenario& scenario) {
  const auto view = named_map(entry, "referrals");
  if (!view) return;
  for (const auto& referral_entry : view->entries) {
    const std::string field = child("referrals", referral_entry.key);
    const auto referral_view = map(referral_entry, field, kReferralKeys);
    if (!referral_view) continue;
    ReferralSpec referral;
    referral.name = referral_entry.key;
    referral.where = referral_view->where;
    require(*referral_view, {"from", "rate_per_day", "to"}, field);
    get(*referral_view, "from", field, referral.from);
    get(*referral_view, "rate_per_day", field, referral.rate_per_day);
    get(*referral_view, "to", field, referral.to);
    get(*referral_view, "segment", field, referral.segment);
    scenario.referrals.push_back(std::move(referral));
  }
}

// ---- writing -----------------------------------------------------------------------------------

/// Shortest text that reads back to exactly `value`.
std::string format_number(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

/// A double-quoted YAML string (valid YAML for any UTF-8 text).
std::string quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          static constexpr char kHex[] = "0123456789abcdef";
          const auto u = static_cast<unsigned char>(c);
          out += "\\x";
          out += kHex[u >> 4U];
          out += kHex[u & 0xfU];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string flow_numbers(const std::vector<double>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += format_number(values[i]);
  }
  return out + "]";
}

std::string flow_strings(const std::vector<std::string>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += quote(values[i]);
  }
  return out + "]";
}

/// Joins "key: value" parts into a flow mapping.
std::string flow_map(const std::vector<std::string>& parts) {
  std::string out = "{";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += ", ";
    out += parts[i];
  }
  return out + "}";
}

std::string flow_next(const NextSpec& next) {
  std::vector<std::string> parts;
  for (const auto& [stage, p] : next.probs) parts.push_back(quote(stage) + ": " + format_number(p));
  return flow_map(parts);
}

std::string flow_dwell(const DwellSpec& dwell) {
  std::vector<std::string> parts{"dist: " + quote(dwell.dist)};
  for (const auto& [key, value] : dwell.params) parts.push_back(key + ": " + format_number(value));
  if (!dwell.values.empty()) parts.push_back("values: " + flow_numbers(dwell.values));
  if (!dwell.rates.empty()) parts.push_back("rates: " + flow_numbers(dwell.rates));
  if (!dwell.exit.empty()) parts.push_back("exit: " + flow_numbers(dwell.exit));
  return flow_map(parts);
}

std::string flow_times(const std::vector<double>& days, const std::optional<double>& every,
                       const std::optional<double>& start) {
  std::vector<std::string> parts;
  if (!days.empty()) parts.push_back("days: " + flow_numbers(days));
  if (every) parts.push_back("every: " + format_number(*every));
  if (start) parts.push_back("start: " + format_number(*start));
  return flow_map(parts);
}

/// Writes "key:" followed by the block lines of a stage-like definition, or "key: {}".
void write_stage_body(std::ostringstream& out, const std::string& indent, bool absorbing,
                      const std::optional<DwellSpec>& dwell, const std::optional<NextSpec>& next,
                      const std::optional<double>& revenue) {
  const bool any = absorbing || dwell || next || revenue;
  if (!any) {
    out << " {}\n";
    return;
  }
  out << "\n";
  if (absorbing) out << indent << "absorbing: true\n";
  if (dwell) out << indent << "dwell: " << flow_dwell(*dwell) << "\n";
  if (next) out << indent << "next: " << flow_next(*next) << "\n";
  if (revenue) out << indent << "revenue_per_month: " << format_number(*revenue) << "\n";
}

void write_touchpoint(std::ostringstream& out, const TouchpointSpec& tp) {
  out << "  " << quote(tp.name) << ":\n";
  out << "    stages: " << flow_strings(tp.stages) << "\n";
  if (!tp.segments.empty()) out << "    segments: " << flow_strings(tp.segments) << "\n";
  const ScheduleSpec& schedule = tp.schedule;
  const bool after_entry = !schedule.after_entry_days.empty() || schedule.after_entry_every ||
                           schedule.after_entry_start;
  const bool calendar =
      !schedule.calendar_days.empty() || schedule.calendar_every || schedule.calendar_start;
  if (!after_entry && !calendar) {
    out << "    schedule: {}\n";
  } else {
    out << "    schedule:\n";
    if (after_entry) {
      out << "      after_entry: "
          << flow_times(schedule.after_entry_days, schedule.after_entry_every,
                        schedule.after_entry_start)
          << "\n";
    }
    if (calendar) {
      out << "      calendar: "
          << flow_times(schedule.calendar_days, schedule.calendar_every, schedule.calendar_start)
          << "\n";
    }
  }
  out << "    reach: " << format_number(tp.reach) << "\n";
  out << "    cost: " << format_number(tp.cost) << "\n";
  const EffectSpec& effect = tp.effect;
  const bool move = !effect.move_to.empty();
  if (move || effect.window != 0.0 || effect.hazard_factor != 1.0 || effect.next) {
    out << "    effect:\n";
    if (move) {
      out << "      move: {to: " << quote(effect.move_to)
          << ", probability: " << format_number(effect.move_probability) << "}\n";
    }
    out << "      window: " << format_number(effect.window) << "\n";
    out << "      hazard_factor: " << format_number(effect.hazard_factor) << "\n";
    if (effect.next) out << "      next: " << flow_next(*effect.next) << "\n";
  }
}

std::string flow_ints(const std::vector<int>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(values[i]);
  }
  return out + "]";
}

void write_resource(std::ostringstream& out, const ResourceSpec& resource) {
  out << "  " << quote(resource.name) << ":\n";
  if (resource.servers) out << "    servers: " << *resource.servers << "\n";
  if (!resource.weekdays.empty()) out << "    weekdays: " << flow_ints(resource.weekdays) << "\n";
  if (!resource.changes.empty()) {
    out << "    changes:\n";
    for (const auto& change : resource.changes) {
      out << "      - "
          << flow_map({"day: " + format_number(change.day),
                       "servers: " + std::to_string(change.servers)})
          << "\n";
    }
  }
  out << "    serves: " << flow_strings(resource.serves) << "\n";
  if (resource.handoff) out << "    handoff: " << flow_dwell(*resource.handoff) << "\n";
  if (resource.service) out << "    service: " << flow_dwell(*resource.service) << "\n";
  out << "    discipline: " << quote(resource.discipline) << "\n";
  if (!resource.priority.empty()) {
    out << "    priority: " << flow_strings(resource.priority) << "\n";
  }
  if (resource.patience) out << "    patience: " << flow_dwell(*resource.patience) << "\n";
  if (!resource.abandon_to.empty()) out << "    abandon_to: " << quote(resource.abandon_to) << "\n";
  if (resource.outcome || resource.decay) {
    out << "    outcome:\n";
    if (resource.outcome) out << "      next: " << flow_next(*resource.outcome) << "\n";
    if (resource.decay) {
      const DecaySpec& decay = *resource.decay;
      out << "      decay: "
          << flow_map({"stage: " + quote(decay.stage),
                       "half_life: " + format_number(decay.half_life), "to: " + quote(decay.to)})
          << "\n";
    }
  }
  out << "    cost_per_server_day: " << format_number(resource.cost_per_server_day) << "\n";
}

void write_referral(std::ostringstream& out, const ReferralSpec& referral) {
  std::vector<std::string> parts{"from: " + quote(referral.from),
                                 "rate_per_day: " + format_number(referral.rate_per_day),
                                 "to: " + quote(referral.to)};
  if (!referral.segment.empty()) parts.push_back("segment: " + quote(referral.segment));
  out << "  " << quote(referral.name) << ": " << flow_map(parts) << "\n";
}

}  // namespace

namespace {

/// True when a document's top level says `extends:` or `changes:` (a variant of a base).
bool is_variant(const YAML::Node& document) {
  return document.IsMap() && (document["extends"] || document["changes"]);
}

}  // namespace

Scenario parse_scenario(const std::string& text, const std::string& file) {
  try {
    const std::vector<YAML::Node> documents = yaml_load::load_all(text);
    if (documents.size() == 1 && is_variant(documents.front())) {
      ResolvedScenario resolved = resolve_extends(text, file);
      try {
        Scenario scenario = parse_scenario(resolved.text, file);
        scenario.sources = std::move(resolved.sources);
        return scenario;
      } catch (InputError& e) {
        std::vector<Problem> problems = e.problems();
        for (Problem& problem : problems) resolved.sources.place(problem);
        throw InputError(std::move(problems));
      }
    }
  } catch (const YAML::Exception&) {
    // reported below, with the line
  }
  Scenario scenario;
  scenario.file = file;
  scenario.source = text;
  Parser parser(file);
  try {
    const std::vector<YAML::Node> documents = yaml_load::load_all(text);
    if (documents.size() > 1) {
      parser.problems().push_back(
          Problem{file, line_of(documents[1], 0), "",
                  expected_got("one YAML document", std::to_string(documents.size())), false});
    } else {
      parser.parse(documents.empty() ? YAML::Node() : documents.front(), scenario);
    }
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 0 : e.mark.line + 1;
    parser.problems().push_back(Problem{file, line, "", "YAML syntax error: " + e.msg, false});
  }
  if (!parser.problems().empty()) throw InputError(std::move(parser.problems()));
  return scenario;
}

Scenario load_scenario(const std::string& path) {
  bool ok = false;
  std::string why;
  std::string text = read_input_file(path, kMaxScenarioBytes, ok, why);
  if (!ok)
    throw InputError(path, 0, "", why.empty() ? "cannot read file" : "cannot read file: " + why);
  return parse_scenario(text, path);
}

std::string to_yaml(const Scenario& scenario) {
  std::ostringstream out;
  out << "name: " << quote(scenario.name) << "\n";
  if (!scenario.description.empty()) out << "description: " << quote(scenario.description) << "\n";
  out << "horizon: " << format_number(scenario.horizon) << "\n";
  out << "report_every: " << format_number(scenario.report_every) << "\n";
  out << "seed: " << scenario.seed << "\n";
  out << "replications: " << scenario.replications << "\n";
  out << "won: " << quote(scenario.won) << "\n";
  if (!scenario.converted_stages.empty()) {
    out << "converted_stages: " << flow_strings(scenario.converted_stages) << "\n";
  }

  out << "stages:" << (scenario.stages.empty() ? " {}" : "") << "\n";
  for (const auto& stage : scenario.stages) {
    out << "  " << quote(stage.name) << ":";
    std::optional<double> revenue;
    if (stage.revenue_per_month != 0.0) revenue = stage.revenue_per_month;
    write_stage_body(out, "    ", stage.absorbing, stage.dwell, stage.next, revenue);
  }

  if (!scenario.segments.empty()) {
    out << "segments:\n";
    for (const auto& segment : scenario.segments) {
      out << "  " << quote(segment.name) << ":\n";
      out << "    share: " << format_number(segment.share) << "\n";
      if (segment.stages.empty()) continue;
      out << "    stages:\n";
      for (const auto& stage : segment.stages) {
        out << "      " << quote(stage.stage) << ":";
        write_stage_body(out, "        ", false, stage.dwell, stage.next, stage.revenue_per_month);
      }
    }
  }

  const ArrivalsSpec& arrivals = scenario.arrivals;
  out << "arrivals:" << (arrivals.initial.empty() && arrivals.streams.empty() ? " {}" : "") << "\n";
  if (!arrivals.initial.empty()) {
    out << "  initial:\n";
    for (const auto& cohort : arrivals.initial) {
      std::vector<std::string> parts{"stage: " + quote(cohort.stage),
                                     "count: " + std::to_string(cohort.count)};
      if (!cohort.segment.empty()) parts.push_back("segment: " + quote(cohort.segment));
      out << "    - " << flow_map(parts) << "\n";
    }
  }
  if (!arrivals.streams.empty()) {
    out << "  streams:\n";
    for (const auto& stream : arrivals.streams) {
      std::vector<std::string> parts{"stage: " + quote(stream.stage),
                                     "rate_per_day: " + format_number(stream.rate_per_day)};
      if (!stream.weekly_profile.empty()) {
        parts.push_back("weekly_profile: " + flow_numbers(stream.weekly_profile));
      }
      if (!stream.segment.empty()) parts.push_back("segment: " + quote(stream.segment));
      out << "    - " << flow_map(parts) << "\n";
    }
  }

  const MoneySpec& money = scenario.money;
  if (money.discount_rate != 0.0 || !money.one_off.empty()) {
    out << "money:\n";
    out << "  discount_rate: " << format_number(money.discount_rate) << "\n";
    if (!money.one_off.empty()) {
      out << "  one_off:\n";
      for (const auto& value : money.one_off) {
        std::vector<std::string> parts;
        if (!value.from.empty()) parts.push_back("from: " + quote(value.from));
        parts.push_back("to: " + quote(value.to));
        parts.push_back("value: " + format_number(value.value));
        out << "    - " << flow_map(parts) << "\n";
      }
    }
  }

  if (!scenario.touchpoints.empty()) {
    out << "touchpoints:\n";
    for (const auto& tp : scenario.touchpoints) write_touchpoint(out, tp);
  }
  if (!scenario.resources.empty()) {
    out << "resources:\n";
    for (const auto& resource : scenario.resources) write_resource(out, resource);
  }
  if (!scenario.referrals.empty()) {
    out << "referrals:\n";
    for (const auto& referral : scenario.referrals) write_referral(out, referral);
  }
  if (scenario.max_customers != Scenario().max_customers) {
    out << "max_customers: " << scenario.max_customers << "\n";
  }
  return out.str();
}

std::vector<Problem> validate_file(const std::string& path) {
  bool ok = false;
  std::string why;
  const std::string text = read_input_file(path, kMaxScenarioBytes, ok, why);
  if (!ok)
    return {
        Problem{path, 0, "", why.empty() ? "cannot read file" : "cannot read file: " + why, false}};
  Scenario scenario;
  try {
    scenario = parse_scenario(text, path);
  } catch (const InputError& e) {
    return e.problems();
  }
  return check(scenario);
}

}  // namespace lcsim
