#include "lcsim/model/compile.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lcsim {
namespace {

/// Tolerance for probabilities and shares that must sum to 1.
constexpr double kSumTolerance = 1e-9;
/// Most occupancy reports a run may ask for (horizon / report_every).
constexpr double kMaxReports = 1e7;

// ---- names and numbers in messages -------------------------------------------------------------

std::string format_number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

std::string child(const std::string& prefix, std::string_view key) {
  return prefix + "." + std::string(key);
}

std::string item(const std::string& prefix, std::size_t index) {
  return prefix + "[" + std::to_string(index) + "]";
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

/// "; did you mean 'x'?" for the closest name within distance 2, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& names) {
  const std::string* best = nullptr;
  std::size_t best_distance = 3;
  for (const auto& name : names) {
    const std::size_t distance = edit_distance(word, name);
    if (distance < best_distance && distance < word.size()) {
      best = &name;
      best_distance = distance;
    }
  }
  return best == nullptr ? std::string() : "; did you mean '" + *best + "'?";
}

// ---- dwell parametrisations (docs/scenario.md, "Dwell distributions") --------------------------

struct DwellFamilySpec {
  std::string_view name;
  DwellFamily family;
  std::vector<std::vector<std::string>> forms;  ///< allowed parameter sets, each sorted
  std::string_view description;
};

const std::vector<DwellFamilySpec>& dwell_families() {
  static const std::vector<DwellFamilySpec> families = {
      {"exponential", DwellFamily::kExponential, {{"mean"}, {"rate"}, {"median"}},
       "mean, rate or median"},
      {"weibull", DwellFamily::kWeibull,
       {{"scale", "shape"}, {"mean", "shape"}, {"median", "shape"}},
       "shape with one of scale, mean, median"},
      {"lognormal", DwellFamily::kLognormal,
       {{"mu", "sigma"}, {"median", "sigma"}, {"mean", "sigma"}, {"mean", "sd"}},
       "sigma with one of mu, median, mean; or mean with sd"},
      {"gamma", DwellFamily::kGamma, {{"scale", "shape"}, {"mean", "shape"}, {"mean", "sd"}},
       "shape with one of scale, mean; or mean with sd"},
      {"fixed", DwellFamily::kFixed, {{"days"}}, "days"},
      {"empirical", DwellFamily::kEmpirical, {{}}, "values (at least 2) and no other parameter"},
  };
  return families;
}

const DwellFamilySpec* find_family(std::string_view name) {
  for (const auto& family : dwell_families()) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

/// A dwell distribution in the factories' parameters: (a, b) as in Dwell::a() and Dwell::b().
struct DwellParams {
  DwellFamily family = DwellFamily::kExponential;
  double a = 0.0;
  double b = 0.0;
};

/// Converts a DwellSpec whose family and parameter set are valid into factory parameters.
DwellParams convert(const DwellSpec& spec, DwellFamily family) {
  const auto has = [&](const char* key) { return spec.params.count(key) > 0; };
  const auto at = [&](const char* key) { return spec.params.at(key); };
  const double ln2 = std::log(2.0);
  DwellParams out{family, 0.0, 0.0};
  switch (family) {
    case DwellFamily::kExponential:
      out.a = has("mean") ? at("mean") : has("rate") ? 1.0 / at("rate") : at("median") / ln2;
      break;
    case DwellFamily::kWeibull: {
      const double k = at("shape");
      out.a = k;
      out.b = has("scale")  ? at("scale")
              : has("mean") ? at("mean") / std::tgamma(1.0 + 1.0 / k)
                            : at("median") / std::pow(ln2, 1.0 / k);
      break;
    }
    case DwellFamily::kLognormal:
      if (has("sd")) {
        const double mean = at("mean");
        const double sd = at("sd");
        const double variance = std::log1p(sd * sd / (mean * mean));
        out.b = std::sqrt(variance);
        out.a = std::log(mean) - variance / 2.0;
      } else {
        const double sigma = at("sigma");
        out.b = sigma;
        out.a = has("mu")       ? at("mu")
                : has("median") ? std::log(at("median"))
                                : std::log(at("mean")) - sigma * sigma / 2.0;
      }
      break;
    case DwellFamily::kGamma:
      if (has("sd")) {
        const double mean = at("mean");
        const double sd = at("sd");
        out.a = mean * mean / (sd * sd);
        out.b = sd * sd / mean;
      } else {
        out.a = at("shape");
        out.b = has("scale") ? at("scale") : at("mean") / out.a;
      }
      break;
    case DwellFamily::kFixed:
      out.a = at("days");
      break;
    case DwellFamily::kEmpirical:
      break;
  }
  return out;
}

/// True when converted parameters are inside the factories' domain.
bool valid(const DwellParams& p) {
  const auto positive = [](double x) { return std::isfinite(x) && x > 0.0; };
  switch (p.family) {
    case DwellFamily::kExponential:
      return positive(p.a);
    case DwellFamily::kWeibull:
    case DwellFamily::kGamma:
      return positive(p.a) && positive(p.b);
    case DwellFamily::kLognormal:
      return std::isfinite(p.a) && positive(p.b);
    case DwellFamily::kFixed:
      return std::isfinite(p.a) && p.a >= 0.0;
    case DwellFamily::kEmpirical:
      return true;
  }
  return false;
}

Dwell make_dwell(const DwellSpec& spec) {
  const DwellFamilySpec* family = find_family(spec.dist);
  if (family == nullptr) throw InternalError("compile: unchecked dwell family " + spec.dist);
  const DwellParams p = convert(spec, family->family);
  switch (p.family) {
    case DwellFamily::kExponential:
      return Dwell::exponential(p.a);
    case DwellFamily::kWeibull:
      return Dwell::weibull(p.a, p.b);
    case DwellFamily::kLognormal:
      return Dwell::lognormal(p.a, p.b);
    case DwellFamily::kGamma:
      return Dwell::gamma(p.a, p.b);
    case DwellFamily::kFixed:
      return Dwell::fixed(p.a);
    case DwellFamily::kEmpirical:
      return Dwell::empirical(spec.values);
  }
  throw InternalError("compile: unknown dwell family");
}

std::vector<std::string> sorted_keys(const std::map<std::string, double>& params) {
  std::vector<std::string> keys;
  for (const auto& entry : params) keys.push_back(entry.first);
  return keys;  // std::map iterates in sorted order
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

// ---- checks ------------------------------------------------------------------------------------

/// Collects every problem of one scenario. Field names are the dotted paths of the YAML schema.
class Checker {
 public:
  explicit Checker(const Scenario& scenario) : s_(scenario) {
    for (const auto& stage : s_.stages) {
      stage_names_.push_back(stage.name);
      stages_.emplace(stage.name, &stage);  // the first of duplicates (reported) wins
    }
    for (const auto& segment : s_.segments) segment_names_.push_back(segment.name);
  }

  std::vector<Problem> run() {
    check_top();
    check_stages();
    check_segments();
    const bool arrivals_ok = check_arrivals();
    check_money();
    check_touchpoints();
    if (arrivals_ok) check_reachability();
    return std::move(problems_);
  }

 private:
  void error(int line, std::string field, std::string message) {
    problems_.push_back(Problem{s_.file, line, std::move(field), std::move(message), false});
  }
  void warning(int line, std::string field, std::string message) {
    problems_.push_back(Problem{s_.file, line, std::move(field), std::move(message), true});
  }

  [[nodiscard]] const StageSpec* stage(const std::string& name) const {
    const auto it = stages_.find(name);
    return it == stages_.end() ? nullptr : it->second;
  }
  [[nodiscard]] bool has_segment(const std::string& name) const {
    return std::find(segment_names_.begin(), segment_names_.end(), name) != segment_names_.end();
  }

  /// Reports an unknown stage name; true when it exists.
  bool check_stage_name(const std::string& name, int line, const std::string& field) {
    if (stage(name) != nullptr) return true;
    error(line, field, "unknown stage '" + name + "'" + did_you_mean(name, stage_names_));
    return false;
  }
  bool check_segment_name(const std::string& name, int line, const std::string& field) {
    if (has_segment(name)) return true;
    if (segment_names_.empty()) {
      error(line, field, "unknown segment '" + name + "' (the scenario declares no segments)");
    } else {
      error(line, field, "unknown segment '" + name + "'" + did_you_mean(name, segment_names_));
    }
    return false;
  }

  bool check_probability(double p, int line, const std::string& field) {
    if (p >= 0.0 && p <= 1.0) return true;
    error(line, field, expected_got("a probability in [0, 1]", format_number(p)));
    return false;
  }
  bool check_positive(double x, int line, const std::string& field) {
    if (std::isfinite(x) && x > 0.0) return true;
    error(line, field, expected_got("a finite number > 0", format_number(x)));
    return false;
  }
  bool check_non_negative(double x, int line, const std::string& field) {
    if (std::isfinite(x) && x >= 0.0) return true;
    error(line, field, expected_got("a finite number >= 0", format_number(x)));
    return false;
  }
  bool check_finite(double x, int line, const std::string& field) {
    if (std::isfinite(x)) return true;
    error(line, field, expected_got("a finite number", format_number(x)));
    return false;
  }

  /// Names known, each probability in [0, 1], sum 1 within kSumTolerance (never renormalised).
  bool check_row_stochastic(const NextSpec& next, const std::string& field) {
    bool ok = true;
    double sum = 0.0;
    for (const auto& [target, p] : next.probs) {
      const int line = next.where.of(target);
      ok = check_stage_name(target, line, child(field, target)) && ok;
      ok = check_probability(p, line, child(field, target)) && ok;
      sum += p;
    }
    if (!std::isnan(sum) && std::fabs(sum - 1.0) > kSumTolerance) {
      error(next.where.line, field,
            "probabilities must sum to 1 (tolerance 1e-9), got sum " + format_number(sum));
      ok = false;
    }
    return ok;
  }

  void check_dwell(const DwellSpec& dwell, const std::string& field) {
    const DwellFamilySpec* family = find_family(dwell.dist);
    if (family == nullptr) {
      std::vector<std::string> names;
      for (const auto& f : dwell_families()) names.emplace_back(f.name);
      error(dwell.where.of("dist"), child(field, "dist"),
            "unknown dist '" + dwell.dist + "' (expected one of: " + join(names) + ")" +
                did_you_mean(dwell.dist, names));
      return;
    }
    const std::vector<std::string> given = sorted_keys(dwell.params);
    const bool form_ok = std::find(family->forms.begin(), family->forms.end(), given) !=
                         family->forms.end();
    if (!form_ok) {
      error(dwell.where.line, field,
            std::string(family->name) + " needs " + std::string(family->description) + "; got " +
                (given.empty() ? std::string("no parameter") : join(given)));
    }
    bool ok = form_ok;
    for (const auto& [key, value] : dwell.params) {
      const int line = dwell.where.of(key);
      if (key == "mu") {
        ok = check_finite(value, line, child(field, key)) && ok;
      } else if (key == "days") {
        ok = check_non_negative(value, line, child(field, key)) && ok;
      } else {
        ok = check_positive(value, line, child(field, key)) && ok;
      }
    }
    if (family->family == DwellFamily::kEmpirical) {
      if (dwell.values.size() < 2) {
        error(dwell.where.of("values"), child(field, "values"),
              expected_got("at least 2 values", std::to_string(dwell.values.size())));
        ok = false;
      }
      for (std::size_t i = 0; i < dwell.values.size(); ++i) {
        ok = check_non_negative(dwell.values[i], dwell.where.of("values"),
                                item(child(field, "values"), i)) &&
             ok;
      }
    } else if (!dwell.values.empty()) {
      error(dwell.where.of("values"), child(field, "values"),
            "values are only allowed with dist: empirical");
      ok = false;
    }
    if (ok && !valid(convert(dwell, family->family))) {
      error(dwell.where.line, field,
            "these parameters give no valid " + std::string(family->name) +
                " distribution (a converted parameter is zero or not finite)");
    }
  }

  void check_top() {
    const Where& w = s_.where;
    check_positive(s_.horizon, w.of("horizon"), "horizon");
    check_positive(s_.report_every, w.of("report_every"), "report_every");
    if (std::isfinite(s_.horizon) && s_.horizon > 0.0 && std::isfinite(s_.report_every) &&
        s_.report_every > 0.0 && s_.horizon / s_.report_every > kMaxReports) {
      error(w.of("report_every"), "report_every",
            "too small for the horizon: " + format_number(s_.horizon / s_.report_every) +
                " reports (at most 1e7)");
    }
    if (s_.replications < 1) {
      error(w.of("replications"), "replications",
            expected_got("an integer >= 1", std::to_string(s_.replications)));
    }
    check_stage_name(s_.won, w.of("won"), "won");
    if (!s_.converted_stages.empty()) {
      const int line = w.of("converted_stages");
      for (std::size_t i = 0; i < s_.converted_stages.size(); ++i) {
        check_stage_name(s_.converted_stages[i], line, item("converted_stages", i));
      }
      if (std::find(s_.converted_stages.begin(), s_.converted_stages.end(), s_.won) ==
          s_.converted_stages.end()) {
        error(line, "converted_stages", "must include the won stage '" + s_.won + "'");
      }
    }
  }

  void check_stages() {
    for (const StageSpec& st : s_.stages) {
      const std::string field = child("stages", st.name);
      if (stage(st.name) != &st) error(st.where.line, field, "duplicate stage name");
      if (st.absorbing) {
        if (st.dwell) {
          error(st.where.of("dwell"), child(field, "dwell"),
                "absorbing stage cannot have outgoing moves");
        }
        if (st.next) {
          error(st.where.of("next"), child(field, "next"),
                "absorbing stage cannot have outgoing moves");
        }
      } else {
        if (!st.dwell) {
          error(st.where.line, child(field, "dwell"),
                "a non-absorbing stage needs a dwell (or absorbing: true)");
        }
        if (!st.next) {
          error(st.where.line, child(field, "next"),
                "a non-absorbing stage needs next-probabilities (or absorbing: true)");
        }
      }
      if (st.dwell) check_dwell(*st.dwell, child(field, "dwell"));
      if (st.next) check_row_stochastic(*st.next, child(field, "next"));
      check_non_negative(st.revenue_per_month, st.where.of("revenue_per_month"),
                         child(field, "revenue_per_month"));
    }
  }

  void check_segments() {
    if (s_.segments.empty()) return;
    double sum = 0.0;
    for (std::size_t i = 0; i < s_.segments.size(); ++i) {
      const SegmentSpec& segment = s_.segments[i];
      const std::string field = child("segments", segment.name);
      for (std::size_t j = 0; j < i; ++j) {
        if (s_.segments[j].name == segment.name) {
          error(segment.where.line, field, "duplicate segment name");
        }
      }
      check_probability(segment.share, segment.where.of("share"), child(field, "share"));
      sum += segment.share;
      for (const auto& ov : segment.stages) check_override(ov, child(field, "stages"));
    }
    if (!std::isnan(sum) && std::fabs(sum - 1.0) > kSumTolerance) {
      error(s_.where.of("segments"), "segments",
            "shares must sum to 1 (tolerance 1e-9), got sum " + format_number(sum));
    }
  }

  void check_override(const StageOverride& ov, const std::string& prefix) {
    const std::string field = child(prefix, ov.stage);
    const StageSpec* st = stage(ov.stage);
    if (st == nullptr) {
      error(ov.where.line, field,
            "unknown stage '" + ov.stage + "'" + did_you_mean(ov.stage, stage_names_));
    } else if (st->absorbing) {
      if (ov.dwell) {
        error(ov.where.of("dwell"), child(field, "dwell"),
              "absorbing stage cannot have outgoing moves");
      }
      if (ov.next) {
        error(ov.where.of("next"), child(field, "next"),
              "absorbing stage cannot have outgoing moves");
      }
    }
    if (ov.dwell) check_dwell(*ov.dwell, child(field, "dwell"));
    if (ov.next) check_row_stochastic(*ov.next, child(field, "next"));
    if (ov.revenue_per_month) {
      check_non_negative(*ov.revenue_per_month, ov.where.of("revenue_per_month"),
                         child(field, "revenue_per_month"));
    }
  }

  void check_weekly_profile(const ArrivalStream& stream, const std::string& field) {
    const std::vector<double>& profile = stream.weekly_profile;
    if (profile.empty()) return;
    const int line = stream.where.of("weekly_profile");
    if (profile.size() != 7) {
      error(line, field, expected_got("7 weights (Monday first)", std::to_string(profile.size())));
      return;
    }
    bool ok = true;
    for (std::size_t i = 0; i < profile.size(); ++i) {
      ok = check_non_negative(profile[i], line, item(field, i)) && ok;
    }
    if (ok && std::accumulate(profile.begin(), profile.end(), 0.0) <= 0.0) {
      error(line, field, "weights must have a positive sum");
    }
  }

  /// Returns whether any customer arrives.
  bool check_arrivals() {
    const ArrivalsSpec& arrivals = s_.arrivals;
    bool any = false;
    for (std::size_t i = 0; i < arrivals.initial.size(); ++i) {
      const InitialCohort& cohort = arrivals.initial[i];
      const std::string field = item("arrivals.initial", i);
      const Where& w = cohort.where;
      check_stage_name(cohort.stage, w.of("stage"), child(field, "stage"));
      if (!cohort.segment.empty()) {
        check_segment_name(cohort.segment, w.of("segment"), child(field, "segment"));
      }
      if (cohort.count < 0) {
        error(w.of("count"), child(field, "count"),
              expected_got("a count >= 0", std::to_string(cohort.count)));
      }
      any = any || cohort.count > 0;
    }
    for (std::size_t i = 0; i < arrivals.streams.size(); ++i) {
      const ArrivalStream& stream = arrivals.streams[i];
      const std::string field = item("arrivals.streams", i);
      const Where& w = stream.where;
      check_stage_name(stream.stage, w.of("stage"), child(field, "stage"));
      if (!stream.segment.empty()) {
        check_segment_name(stream.segment, w.of("segment"), child(field, "segment"));
      }
      check_non_negative(stream.rate_per_day, w.of("rate_per_day"), child(field, "rate_per_day"));
      check_weekly_profile(stream, child(field, "weekly_profile"));
      any = any || (std::isfinite(stream.rate_per_day) && stream.rate_per_day > 0.0);
    }
    if (!any) {
      error(s_.where.of("arrivals"), "arrivals",
            "no customer arrives: give an initial count > 0 or a stream with rate_per_day > 0");
    }
    return any;
  }

  void check_money() {
    const MoneySpec& money = s_.money;
    check_non_negative(money.discount_rate, money.where.of("discount_rate"),
                       "money.discount_rate");
    for (std::size_t i = 0; i < money.one_off.size(); ++i) {
      const OneOffValue& value = money.one_off[i];
      const std::string field = item("money.one_off", i);
      if (!value.from.empty()) {
        check_stage_name(value.from, value.where.of("from"), child(field, "from"));
      }
      check_stage_name(value.to, value.where.of("to"), child(field, "to"));
      check_finite(value.value, value.where.of("value"), child(field, "value"));
    }
  }

  void check_times(const std::vector<double>& days, const std::optional<double>& every,
                   const std::optional<double>& start, const Where& where,
                   const std::string& field) {
    for (std::size_t i = 0; i < days.size(); ++i) {
      check_non_negative(days[i], where.of("days"), item(child(field, "days"), i));
    }
    if (every) check_positive(*every, where.of("every"), child(field, "every"));
    if (start) {
      check_non_negative(*start, where.of("start"), child(field, "start"));
      if (!every) error(where.of("start"), child(field, "start"), "start needs every");
    }
  }

  void check_schedule(const ScheduleSpec& schedule, const std::string& field) {
    check_times(schedule.after_entry_days, schedule.after_entry_every, schedule.after_entry_start,
                schedule.after_entry_where, child(field, "after_entry"));
    check_times(schedule.calendar_days, schedule.calendar_every, schedule.calendar_start,
                schedule.calendar_where, child(field, "calendar"));
    const bool after_entry = !schedule.after_entry_days.empty() || schedule.after_entry_every;
    const bool calendar = !schedule.calendar_days.empty() || schedule.calendar_every;
    if (!after_entry && !calendar) {
      error(schedule.where.line, field,
            "a schedule needs after_entry and/or calendar contacts (days or every)");
    }
  }

  void check_effect(const EffectSpec& effect, const std::string& field) {
    const Where& w = effect.where;
    if (!effect.move_to.empty()) {
      check_stage_name(effect.move_to, w.of("move.to"), child(field, "move.to"));
      check_probability(effect.move_probability, w.of("move.probability"),
                        child(field, "move.probability"));
    } else if (effect.move_probability != 0.0) {
      error(w.of("move"), child(field, "move.to"), "a move probability needs a target stage");
    }
    const bool window_ok =
        check_non_negative(effect.window, w.of("window"), child(field, "window"));
    check_positive(effect.hazard_factor, w.of("hazard_factor"), child(field, "hazard_factor"));
    if (window_ok && effect.window == 0.0 && (effect.hazard_factor != 1.0 || effect.next)) {
      error(w.of("window"), child(field, "window"),
            "window must be > 0 when hazard_factor or next is given");
    }
    if (effect.next) check_row_stochastic(*effect.next, child(field, "next"));
  }

  void check_touchpoints() {
    for (std::size_t i = 0; i < s_.touchpoints.size(); ++i) {
      const TouchpointSpec& tp = s_.touchpoints[i];
      const std::string field = child("touchpoints", tp.name);
      const Where& w = tp.where;
      for (std::size_t j = 0; j < i; ++j) {
        if (s_.touchpoints[j].name == tp.name) error(w.line, field, "duplicate touchpoint name");
      }
      if (tp.stages.empty()) {
        error(w.of("stages"), child(field, "stages"), "expected at least one target stage");
      }
      for (std::size_t k = 0; k < tp.stages.size(); ++k) {
        const std::string stage_field = item(child(field, "stages"), k);
        if (!check_stage_name(tp.stages[k], w.of("stages"), stage_field)) continue;
        if (stage(tp.stages[k])->absorbing) {
          error(w.of("stages"), stage_field,
                "a touchpoint cannot target absorbing stage '" + tp.stages[k] + "'");
        }
      }
      for (std::size_t k = 0; k < tp.segments.size(); ++k) {
        check_segment_name(tp.segments[k], w.of("segments"),
                           item(child(field, "segments"), k));
      }
      check_probability(tp.reach, w.of("reach"), child(field, "reach"));
      check_non_negative(tp.cost, w.of("cost"), child(field, "cost"));
      check_schedule(tp.schedule, child(field, "schedule"));
      check_effect(tp.effect, child(field, "effect"));
    }
  }

  /// Warns about stages that no arriving customer can reach.
  void check_reachability() {
    const std::size_t n = s_.stages.size();
    std::map<std::string, std::size_t> id;
    for (std::size_t i = 0; i < n; ++i) id.emplace(s_.stages[i].name, i);
    std::vector<std::vector<std::size_t>> edges(n);
    const auto add_edges = [&](std::size_t from, const NextSpec& next) {
      for (const auto& [target, p] : next.probs) {
        const auto it = id.find(target);
        if (it != id.end() && p > 0.0) edges[from].push_back(it->second);
      }
    };
    for (std::size_t i = 0; i < n; ++i) {
      if (s_.stages[i].next) add_edges(i, *s_.stages[i].next);
    }
    for (const auto& segment : s_.segments) {
      for (const auto& ov : segment.stages) {
        const auto it = id.find(ov.stage);
        if (it != id.end() && ov.next) add_edges(it->second, *ov.next);
      }
    }
    for (const auto& tp : s_.touchpoints) {
      for (const auto& name : tp.stages) {
        const auto from = id.find(name);
        if (from == id.end()) continue;
        const auto to = id.find(tp.effect.move_to);
        if (to != id.end() && tp.effect.move_probability > 0.0) {
          edges[from->second].push_back(to->second);
        }
        if (tp.effect.next) add_edges(from->second, *tp.effect.next);
      }
    }
    std::vector<std::uint8_t> reached(n, 0);
    std::vector<std::size_t> stack;
    const auto source = [&](const std::string& name) {
      const auto it = id.find(name);
      if (it != id.end() && reached[it->second] == 0) {
        reached[it->second] = 1;
        stack.push_back(it->second);
      }
    };
    for (const auto& cohort : s_.arrivals.initial) {
      if (cohort.count > 0) source(cohort.stage);
    }
    for (const auto& stream : s_.arrivals.streams) {
      if (stream.rate_per_day > 0.0) source(stream.stage);
    }
    while (!stack.empty()) {
      const std::size_t from = stack.back();
      stack.pop_back();
      for (const std::size_t to : edges[from]) {
        if (reached[to] == 0) {
          reached[to] = 1;
          stack.push_back(to);
        }
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (reached[i] == 0) {
        warning(s_.stages[i].where.line, child("stages", s_.stages[i].name),
                "no arriving customer can reach this stage");
      }
    }
  }

  const Scenario& s_;
  std::map<std::string, const StageSpec*> stages_;
  std::vector<std::string> stage_names_;
  std::vector<std::string> segment_names_;
  std::vector<Problem> problems_;
};

// ---- building the model ------------------------------------------------------------------------

/// 32-bit FNV-1a of the bytes of `text`.
std::uint32_t fnv1a(const std::string& text) {
  std::uint32_t hash = 2166136261U;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619U;
  }
  return hash;
}

/// Builds a Model from a scenario that passed check() without errors.
class Builder {
 public:
  explicit Builder(const Scenario& scenario) : s_(scenario) {
    for (std::size_t i = 0; i < s_.stages.size(); ++i) {
      stage_id_.emplace(s_.stages[i].name, static_cast<StageId>(i));
    }
    for (std::size_t i = 0; i < s_.segments.size(); ++i) {
      segment_id_.emplace(s_.segments[i].name, static_cast<SegmentId>(i));
    }
  }

  Model build() {
    Model m;
    m.name = s_.name;
    for (const auto& st : s_.stages) {
      m.stage_names.push_back(st.name);
      m.absorbing.push_back(st.absorbing ? 1 : 0);
    }
    if (s_.segments.empty()) {
      m.segment_names = {"all"};
      m.segment_share = {1.0};
    } else {
      for (const auto& segment : s_.segments) {
        m.segment_names.push_back(segment.name);
        m.segment_share.push_back(segment.share);
      }
    }
    m.segment_choice = AliasTable(m.segment_share);
    m.won = stage_id_.at(s_.won);
    build_rules(m);
    build_arrivals(m);
    build_money(m);
    build_touchpoints(m);
    build_converted(m);
    m.horizon = s_.horizon;
    m.report_every = s_.report_every;
    // 0, step, 2 step, ... and the horizon itself, so the last report is the end state.
    const double last = s_.horizon * (1.0 - 1e-12);
    for (std::int64_t k = 0;; ++k) {
      const double t = static_cast<double>(k) * s_.report_every;
      if (t >= last) break;
      m.report_times.push_back(t);
    }
    m.report_times.push_back(s_.horizon);
    m.seed = s_.seed;
    m.replications = s_.replications;
    m.scenario_text = s_.source;
    m.scenario_file = s_.file;
    return m;
  }

 private:
  [[nodiscard]] SegmentId segment_or_shares(const std::string& name) const {
    return name.empty() ? -1 : segment_id_.at(name);
  }

  /// Positive entries of `next`, in written order.
  void positive_entries(const NextSpec& next, std::vector<StageId>& stages,
                        std::vector<double>& probs) const {
    for (const auto& [target, p] : next.probs) {
      if (p > 0.0) {
        stages.push_back(stage_id_.at(target));
        probs.push_back(p);
      }
    }
  }

  void build_rules(Model& m) const {
    const std::size_t num_stages = s_.stages.size();
    const std::size_t num_segments = m.segment_names.size();
    m.rules.resize(num_segments * num_stages);
    for (std::size_t g = 0; g < num_segments; ++g) {
      for (std::size_t s = 0; s < num_stages; ++s) {
        const StageSpec& st = s_.stages[s];
        const DwellSpec* dwell = st.dwell ? &*st.dwell : nullptr;
        const NextSpec* next = st.next ? &*st.next : nullptr;
        double revenue = st.revenue_per_month;
        if (!s_.segments.empty()) {
          for (const auto& ov : s_.segments[g].stages) {
            if (ov.stage != st.name) continue;
            if (ov.dwell) dwell = &*ov.dwell;
            if (ov.next) next = &*ov.next;
            if (ov.revenue_per_month) revenue = *ov.revenue_per_month;
          }
        }
        StageRule& rule = m.rules[g * num_stages + s];
        rule.revenue_per_day = revenue / kDaysPerMonth;
        if (st.absorbing) continue;
        rule.dwell = make_dwell(*dwell);
        positive_entries(*next, rule.next_stages, rule.next_probs);
        rule.next = AliasTable(rule.next_probs);
      }
    }
  }

  void build_arrivals(Model& m) const {
    for (const auto& cohort : s_.arrivals.initial) {
      m.initial.push_back(InitialGroup{stage_id_.at(cohort.stage),
                                       segment_or_shares(cohort.segment), cohort.count});
    }
    for (const auto& stream : s_.arrivals.streams) {
      ArrivalProcess process;
      process.rate_per_day = stream.rate_per_day;
      process.stage = stage_id_.at(stream.stage);
      process.segment = segment_or_shares(stream.segment);
      process.weekday_rate.assign(7, stream.rate_per_day);
      if (!stream.weekly_profile.empty()) {
        const auto& profile = stream.weekly_profile;
        const double mean = std::accumulate(profile.begin(), profile.end(), 0.0) / 7.0;
        for (std::size_t w = 0; w < 7; ++w) {
          process.weekday_rate[w] = stream.rate_per_day * profile[w] / mean;
        }
      }
      process.max_rate = *std::max_element(process.weekday_rate.begin(),
                                           process.weekday_rate.end());
      m.arrivals.push_back(std::move(process));
    }
  }

  void build_money(Model& m) const {
    const std::size_t n = s_.stages.size();
    m.discount_per_day = std::log1p(s_.money.discount_rate) / kDaysPerYear;
    m.one_off.assign(n * n, 0.0);
    for (const auto& value : s_.money.one_off) {
      const auto to = static_cast<std::size_t>(stage_id_.at(value.to));
      for (std::size_t from = 0; from < n; ++from) {
        if (value.from.empty() || s_.stages[from].name == value.from) {
          m.one_off[from * n + to] += value.value;
        }
      }
    }
  }

  static Schedule make_schedule(const ScheduleSpec& spec) {
    Schedule out;
    out.after_entry_days = spec.after_entry_days;
    std::sort(out.after_entry_days.begin(), out.after_entry_days.end());
    out.after_entry_every = spec.after_entry_every.value_or(0.0);
    out.after_entry_start = spec.after_entry_start.value_or(out.after_entry_every);
    out.calendar_days = spec.calendar_days;
    std::sort(out.calendar_days.begin(), out.calendar_days.end());
    out.calendar_every = spec.calendar_every.value_or(0.0);
    out.calendar_start = spec.calendar_start.value_or(0.0);
    return out;
  }

  void build_touchpoints(Model& m) const {
    const std::size_t num_stages = s_.stages.size();
    const std::size_t num_segments = m.segment_names.size();
    for (const auto& spec : s_.touchpoints) {
      Touchpoint tp;
      tp.name = spec.name;
      tp.stream_key = fnv1a(spec.name);
      tp.targets_stage.assign(num_stages, 0);
      for (const auto& name : spec.stages) {
        tp.targets_stage[static_cast<std::size_t>(stage_id_.at(name))] = 1;
      }
      tp.targets_segment.assign(num_segments, spec.segments.empty() ? 1 : 0);
      for (const auto& name : spec.segments) {
        tp.targets_segment[static_cast<std::size_t>(segment_id_.at(name))] = 1;
      }
      tp.schedule = make_schedule(spec.schedule);
      tp.reach = spec.reach;
      tp.cost = spec.cost;
      const EffectSpec& effect = spec.effect;
      if (!effect.move_to.empty()) {
        tp.move_to = stage_id_.at(effect.move_to);
        tp.move_probability = effect.move_probability;
      }
      tp.window = effect.window;
      tp.hazard_factor = effect.hazard_factor;
      if (effect.next) {
        tp.has_next_override = true;
        std::vector<double> probs;
        positive_entries(*effect.next, tp.next_override_stages, probs);
        tp.next_override = AliasTable(probs);
      }
      m.touchpoint_names.push_back(spec.name);
      m.touchpoints.push_back(std::move(tp));
    }
    m.tp_offsets.reserve(num_segments * num_stages + 1);
    for (std::size_t g = 0; g < num_segments; ++g) {
      for (std::size_t s = 0; s < num_stages; ++s) {
        m.tp_offsets.push_back(static_cast<std::uint32_t>(m.touchpoints_for.size()));
        for (std::size_t t = 0; t < m.touchpoints.size(); ++t) {
          const Touchpoint& tp = m.touchpoints[t];
          if (tp.targets_stage[s] != 0 && tp.targets_segment[g] != 0) {
            m.touchpoints_for.push_back(static_cast<TouchpointId>(t));
          }
        }
      }
    }
    m.tp_offsets.push_back(static_cast<std::uint32_t>(m.touchpoints_for.size()));
  }

  /// The given converted stages, or won and every stage reachable from it (next entries of every
  /// segment, touchpoint moves and next overrides).
  void build_converted(Model& m) const {
    const std::size_t n = s_.stages.size();
    m.converted.assign(n, 0);
    if (!s_.converted_stages.empty()) {
      for (const auto& name : s_.converted_stages) m.converted[static_cast<std::size_t>(stage_id_.at(name))] = 1;
      return;
    }
    std::vector<StageId> todo = {m.won};
    m.converted[static_cast<std::size_t>(m.won)] = 1;
    auto reach = [&](StageId t) {
      if (m.converted[static_cast<std::size_t>(t)] == 0) {
        m.converted[static_cast<std::size_t>(t)] = 1;
        todo.push_back(t);
      }
    };
    while (!todo.empty()) {
      const StageId s = todo.back();
      todo.pop_back();
      for (int g = 0; g < m.num_segments(); ++g) {
        for (StageId t : m.rule(g, s).next_stages) reach(t);
      }
      for (const Touchpoint& tp : m.touchpoints) {
        if (tp.targets_stage[static_cast<std::size_t>(s)] == 0) continue;
        if (tp.move_to >= 0) reach(tp.move_to);
        for (StageId t : tp.next_override_stages) reach(t);
      }
    }
  }

  const Scenario& s_;
  std::map<std::string, StageId> stage_id_;
  std::map<std::string, SegmentId> segment_id_;
};

}  // namespace

std::vector<Problem> check(const Scenario& scenario) { return Checker(scenario).run(); }

Model compile(const Scenario& scenario) {
  std::vector<Problem> problems = check(scenario);
  const auto is_error = [](const Problem& p) { return !p.warning; };
  if (std::any_of(problems.begin(), problems.end(), is_error)) {
    std::stable_partition(problems.begin(), problems.end(), is_error);
    throw InputError(std::move(problems));
  }
  try {
    return Builder(scenario).build();
  } catch (const std::invalid_argument& e) {
    throw InternalError(std::string("compile: a checked scenario was rejected: ") + e.what());
  } catch (const std::out_of_range& e) {
    throw InternalError(std::string("compile: a checked name was not found: ") + e.what());
  }
}

}  // namespace lcsim
