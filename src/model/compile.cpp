#include "lcsim/model/compile.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lcsim/core/format.hpp"

namespace lcsim {
namespace {

/// Tolerance for probabilities and shares that must sum to 1.
constexpr double kSumTolerance = 1e-9;
/// Most occupancy reports a run may ask for (horizon / report_every).
constexpr double kMaxReports = 1e7;
/// Longest horizon (days) over which a weekday staffing calendar is expanded.
constexpr double kMaxWeekdayHorizon = 1e7;
/// Most occupancy cells (reports x stages) of one replication: 2e7 cells of 8 bytes are 160 MB
/// (the 1e7 reports kMaxReports allows, of the two stages every scenario has at least).
constexpr double kMaxReportCells = 2e7;
/// Largest max_customers, and most customers the streams may bring on average in one replication.
constexpr std::int64_t kMaxCustomersLimit = 10'000'000'000;
/// Most resources a scenario may declare (Model::served_by holds int16 indices).
constexpr std::size_t kMaxResources = 32767;

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

// ---- dwell parametrisations (docs/scenario.md, "Dwell distributions") --------------------------

struct DwellFamilySpec {
  std::string_view name;
  DwellFamily family;
  std::vector<std::vector<std::string>> forms;  ///< allowed parameter sets, each sorted
  std::string_view description;
};

const std::vector<DwellFamilySpec>& dwell_families() {
  static const std::vector<DwellFamilySpec> families = {
      {"exponential",
       DwellFamily::kExponential,
       {{"mean"}, {"rate"}, {"median"}},
       "mean, rate or median"},
      {"weibull",
       DwellFamily::kWeibull,
       {{"scale", "shape"}, {"mean", "shape"}, {"median", "shape"}},
       "shape with one of scale, mean, median"},
      {"lognormal",
       DwellFamily::kLognormal,
       {{"mu", "sigma"}, {"median", "sigma"}, {"mean", "sigma"}, {"mean", "sd"}},
       "sigma with one of mu, median, mean; or mean with sd"},
      {"gamma",
       DwellFamily::kGamma,
       {{"scale", "shape"}, {"mean", "shape"}, {"mean", "sd"}},
       "shape with one of scale, mean; or mean with sd"},
      {"fixed", DwellFamily::kFixed, {{"days"}}, "days"},
      {"empirical", DwellFamily::kEmpirical, {{}}, "values (at least 2) and no other parameter"},
      {"coxian",
       DwellFamily::kCoxian,
       {{}},
       "rates and exit (one per phase, 1 to 4 phases) and no other parameter"},
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
    case DwellFamily::kCoxian:
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
    case DwellFamily::kCoxian:
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
    case DwellFamily::kCoxian:
      return Dwell::coxian(spec.rates, spec.exit);
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
    for (const auto& resource : s_.resources) {
      for (const auto& name : resource.serves) served_.emplace(name, &resource);  // first wins
    }
  }

  std::vector<Problem> run() {
    check_top();
    check_stages();
    check_segments();
    const bool arrivals_ok = check_arrivals();
    check_money();
    check_touchpoints();
    check_resources();
    check_referrals();
    if (arrivals_ok) check_reachability();
    for (Problem& problem : problems_) s_.sources.place(problem);
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
  /// The resource serving a stage (the first one listing it), or nullptr.
  [[nodiscard]] const ResourceSpec* served(const std::string& name) const {
    const auto it = served_.find(name);
    return it == served_.end() ? nullptr : it->second;
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

  /// rates: 1 to 4, each > 0; exit: as many, each in [0, 1], the last exactly 1.
  bool check_coxian(const DwellSpec& dwell, const std::string& field) {
    bool ok = true;
    const std::size_t k = dwell.rates.size();
    if (k < 1 || k > Coxian::kMaxPhases) {
      error(dwell.where.of("rates"), child(field, "rates"),
            expected_got("1 to 4 rates (one per phase)", std::to_string(k)));
      ok = false;
    }
    for (std::size_t i = 0; i < k; ++i) {
      ok =
          check_positive(dwell.rates[i], dwell.where.of("rates"), item(child(field, "rates"), i)) &&
          ok;
    }
    if (dwell.exit.size() != k) {
      error(dwell.where.of("exit"), child(field, "exit"),
            expected_got("one exit probability per rate (" + std::to_string(k) + ")",
                         std::to_string(dwell.exit.size())));
      return false;
    }
    for (std::size_t i = 0; i < k; ++i) {
      const double p = dwell.exit[i];
      if (!(p >= 0.0 && p <= 1.0)) {
        error(dwell.where.of("exit"), item(child(field, "exit"), i),
              expected_got("a probability in [0, 1]", format_number(p)));
        ok = false;
      }
    }
    if (k > 0 && dwell.exit[k - 1] != 1.0) {
      error(dwell.where.of("exit"), item(child(field, "exit"), k - 1),
            expected_got("1 (the last phase always ends the dwell)",
                         format_number(dwell.exit[k - 1])));
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
    const bool form_ok =
        std::find(family->forms.begin(), family->forms.end(), given) != family->forms.end();
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
    if (family->family == DwellFamily::kCoxian) {
      ok = check_coxian(dwell, field) && ok;
    } else {
      for (const char* key : {"rates", "exit"}) {
        if ((key[0] == 'r' ? dwell.rates : dwell.exit).empty()) continue;
        error(dwell.where.of(key), child(field, key),
              std::string(key) + " is only allowed with dist: coxian");
        ok = false;
      }
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
    if (s_.max_customers < 1) {
      error(w.of("max_customers"), "max_customers",
            expected_got("an integer >= 1", std::to_string(s_.max_customers)));
    } else if (s_.max_customers > kMaxCustomersLimit) {
      error(w.of("max_customers"), "max_customers",
            expected_got("an integer of at most 1e10 (customers per replication)",
                         std::to_string(s_.max_customers)));
    }
    if (std::isfinite(s_.horizon) && s_.horizon > 0.0 && std::isfinite(s_.report_every) &&
        s_.report_every > 0.0 && s_.horizon / s_.report_every <= kMaxReports &&
        (s_.horizon / s_.report_every + 1.0) * static_cast<double>(s_.stages.size()) >
            kMaxReportCells) {
      error(
          w.of("report_every"), "report_every",
          "too small for the horizon and the stages: " +
              format_number(std::floor(s_.horizon / s_.report_every) + 1.0) + " reports of " +
              std::to_string(s_.stages.size()) +
              " stages need more than 2e7 occupancy cells (160 MB) per replication; raise report_every");
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
      } else if (const ResourceSpec* team = served(st.name)) {
        // The team's hand-off, wait and service replace the dwell; its outcome.next, when given,
        // replaces the next-probabilities.
        const std::string by = "resources." + team->name;
        if (st.dwell) {
          warning(st.where.of("dwell"), child(field, "dwell"),
                  "ignored: stage " + st.name + " is served by " + by +
                      ", whose hand-off, wait and service replace the dwell");
        }
        if (!st.next && !team->outcome) {
          error(st.where.line, child(field, "next"),
                "stage " + st.name + " is served by " + by +
                    " without outcome.next: it needs next-probabilities for after the service");
        } else if (st.next && team->outcome) {
          warning(st.where.of("next"), child(field, "next"),
                  "ignored: " + by + ".outcome.next replaces it after the service");
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
    } else if (const ResourceSpec* team = served(ov.stage)) {
      const std::string by = "resources." + team->name;
      if (ov.dwell) {
        warning(ov.where.of("dwell"), child(field, "dwell"),
                "ignored: stage " + ov.stage + " is served by " + by +
                    ", whose hand-off, wait and service replace the dwell");
      }
      if (ov.next && team->outcome) {
        warning(ov.where.of("next"), child(field, "next"),
                "ignored: " + by + ".outcome.next replaces it after the service");
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
    // Every initial customer is simulated: more of them than max_customers can only fail, after
    // simulating max_customers of them, so it is refused here, before anything is allocated.
    std::int64_t initial = 0;
    for (std::size_t i = 0; i < arrivals.initial.size(); ++i) {
      const InitialCohort& cohort = arrivals.initial[i];
      if (cohort.count <= 0) continue;
      initial = cohort.count > std::numeric_limits<std::int64_t>::max() - initial
                    ? std::numeric_limits<std::int64_t>::max()
                    : initial + cohort.count;
      if (s_.max_customers >= 1 && initial > s_.max_customers) {
        const std::string field = item("arrivals.initial", i);
        error(cohort.where.of("count"), child(field, "count"),
              "the initial cohorts hold " + std::to_string(initial) +
                  " customers up to here, more than max_customers (" +
                  std::to_string(s_.max_customers) +
                  "); lower the counts or raise max_customers (at most 1e10)");
        break;
      }
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
    // The mean number of stream arrivals per replication (rates are checked above; a bad rate adds
    // nothing here): far past what any replication may simulate is refused before it runs.
    double expected = 0.0;
    for (const ArrivalStream& stream : arrivals.streams) {
      if (std::isfinite(stream.rate_per_day) && stream.rate_per_day > 0.0)
        expected += stream.rate_per_day;
    }
    expected *= std::isfinite(s_.horizon) && s_.horizon > 0.0 ? s_.horizon : 0.0;
    if (expected > static_cast<double>(kMaxCustomersLimit)) {
      error(
          s_.where.of("arrivals"), "arrivals.streams",
          "the streams bring " + format_number(expected) +
              " customers per replication on average over the horizon of " +
              format_number(s_.horizon) +
              " days, more than the 1e10 a replication may simulate; lower rate_per_day or the horizon");
    }
    if (!any) {
      error(s_.where.of("arrivals"), "arrivals",
            "no customer arrives: give an initial count > 0 or a stream with rate_per_day > 0");
    }
    return any;
  }

  void check_money() {
    const MoneySpec& money = s_.money;
    check_non_negative(money.discount_rate, money.where.of("discount_rate"), "money.discount_rate");
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
        } else if (const ResourceSpec* team = served(tp.stages[k])) {
          error(w.of("stages"), stage_field,
                "stage " + tp.stages[k] + " is served by resources." + team->name +
                    "; touchpoints cannot target it: remove it from " + child(field, "stages"));
        }
      }
      for (std::size_t k = 0; k < tp.segments.size(); ++k) {
        check_segment_name(tp.segments[k], w.of("segments"), item(child(field, "segments"), k));
      }
      check_probability(tp.reach, w.of("reach"), child(field, "reach"));
      check_non_negative(tp.cost, w.of("cost"), child(field, "cost"));
      check_schedule(tp.schedule, child(field, "schedule"));
      check_effect(tp.effect, child(field, "effect"));
    }
  }

  // ---- resources (docs/scenario.md, "Resources") -----------------------------------------------

  void check_staffing(const ResourceSpec& r, const std::string& field) {
    const Where& w = r.where;
    if (r.servers && *r.servers < 0) {
      error(w.of("servers"), child(field, "servers"),
            expected_got("an integer >= 0", std::to_string(*r.servers)));
    }
    if (!r.weekdays.empty()) {
      const int line = w.of("weekdays");
      const std::string weekdays = child(field, "weekdays");
      if (r.servers) {
        error(line, weekdays, "give servers (with optional changes) or weekdays, not both");
      }
      if (r.weekdays.size() != 7) {
        error(line, weekdays,
              expected_got("7 integers (reps per weekday, Monday first)",
                           std::to_string(r.weekdays.size())));
      }
      for (std::size_t k = 0; k < r.weekdays.size(); ++k) {
        if (r.weekdays[k] < 0) {
          error(line, item(weekdays, k),
                expected_got("an integer >= 0", std::to_string(r.weekdays[k])));
        }
      }
      if (std::isfinite(s_.horizon) && s_.horizon > kMaxWeekdayHorizon) {
        error(line, weekdays, "a weekday calendar needs a horizon of at most 1e7 days");
      }
      if (!r.changes.empty()) {
        error(w.of("changes"), child(field, "changes"),
              "changes need servers: they cannot be combined with weekdays");
      }
    }
    if (!r.servers && r.weekdays.empty()) {
      error(w.line, child(field, "servers"),
            "missing staffing: give servers (reps) or weekdays (reps per weekday, Monday first)");
    }
    const std::string changes = child(field, "changes");
    for (std::size_t k = 0; k < r.changes.size(); ++k) {
      const StaffingChange& c = r.changes[k];
      const std::string change = item(changes, k);
      if (check_non_negative(c.day, c.where.of("day"), child(change, "day")) && k > 0 &&
          std::isfinite(r.changes[k - 1].day) && c.day <= r.changes[k - 1].day) {
        error(c.where.of("day"), child(change, "day"),
              "change days must be strictly increasing: day " + format_number(c.day) +
                  " is not after day " + format_number(r.changes[k - 1].day) + " of " +
                  item(changes, k - 1));
      }
      if (c.servers < 0) {
        error(c.where.of("servers"), child(change, "servers"),
              expected_got("an integer >= 0", std::to_string(c.servers)));
      }
    }
    // A team that never has anyone is legal (everyone waits) but almost surely a mistake.
    bool anyone = false;
    if (r.servers) anyone = *r.servers > 0;
    for (const auto& c : r.changes) anyone = anyone || c.servers > 0;
    for (const int n : r.weekdays) anyone = anyone || n > 0;
    if (!anyone && (r.servers || !r.weekdays.empty())) {
      warning(w.of(r.servers ? "servers" : "weekdays"), field,
              "the team never has a server: every customer waits until it gives up or the run "
              "ends");
    }
  }

  void check_priority(const ResourceSpec& r, const std::string& field) {
    const Where& w = r.where;
    const std::string priority = child(field, "priority");
    if (r.discipline == "fifo") {
      if (!r.priority.empty()) {
        error(w.of("priority"), priority,
              "priority is only used with discipline: priority (this team is fifo)");
      }
      return;
    }
    if (r.discipline != "priority") {
      const std::vector<std::string> names = {"fifo", "priority"};
      error(w.of("discipline"), child(field, "discipline"),
            "unknown discipline '" + r.discipline + "' (expected one of: fifo, priority)" +
                did_you_mean(r.discipline, names));
      return;
    }
    // Without declared segments the single segment is named "all" (as compile() names it).
    const std::vector<std::string> names =
        segment_names_.empty() ? std::vector<std::string>{"all"} : segment_names_;
    const int line = w.of("priority");
    std::vector<std::string> listed;
    for (std::size_t k = 0; k < r.priority.size(); ++k) {
      const std::string& name = r.priority[k];
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        error(line, item(priority, k),
              "unknown segment '" + name + "' (segments: " + join(names) + ")" +
                  did_you_mean(name, names));
      } else if (std::find(listed.begin(), listed.end(), name) != listed.end()) {
        error(line, item(priority, k), "segment '" + name + "' is listed twice");
      } else {
        listed.push_back(name);
      }
    }
    std::vector<std::string> missing;
    for (const auto& name : names) {
      if (std::find(listed.begin(), listed.end(), name) == listed.end()) missing.push_back(name);
    }
    if (!missing.empty()) {
      error(line, priority,
            "discipline priority needs every segment exactly once, highest priority first; "
            "missing: " +
                join(missing));
    }
  }

  /// decay.stage must be an entry of the next-probabilities the served customers leave with.
  void check_decay(const ResourceSpec& r, const std::string& field) {
    const DecaySpec& d = *r.decay;
    const std::string decay = child(field, "outcome.decay");
    const Where& w = d.where;
    const bool stage_ok = check_stage_name(d.stage, w.of("stage"), child(decay, "stage"));
    check_positive(d.half_life, w.of("half_life"), child(decay, "half_life"));
    const bool to_ok = check_stage_name(d.to, w.of("to"), child(decay, "to"));
    if (stage_ok && to_ok && d.stage == d.to) {
      error(w.of("to"), child(decay, "to"), "decay.to must differ from decay.stage");
    }
    if (!stage_ok) return;
    const auto lists = [&](const NextSpec& next) {
      return std::any_of(next.probs.begin(), next.probs.end(),
                         [&](const auto& entry) { return entry.first == d.stage; });
    };
    if (r.outcome) {
      if (!lists(*r.outcome)) {
        error(w.of("stage"), child(decay, "stage"),
              "stage '" + d.stage + "' is not a possible outcome: it is not in " +
                  child(field, "outcome.next"));
      }
      return;
    }
    // Without outcome.next the customers leave by the served stage's own next, per segment.
    for (const auto& served_name : r.serves) {
      const StageSpec* st = stage(served_name);
      if (st == nullptr || st->absorbing || served(served_name) != &r) continue;
      const std::size_t segments = std::max<std::size_t>(1, s_.segments.size());
      for (std::size_t g = 0; g < segments; ++g) {
        const NextSpec* next = st->next ? &*st->next : nullptr;
        std::string where = "stages." + served_name + ".next";
        if (!s_.segments.empty()) {
          for (const auto& ov : s_.segments[g].stages) {
            if (ov.stage == served_name && ov.next) {
              next = &*ov.next;
              where = "segments." + s_.segments[g].name + ".stages." + served_name + ".next";
            }
          }
        }
        if (next != nullptr && !lists(*next)) {
          error(w.of("stage"), child(decay, "stage"),
                "stage '" + d.stage + "' is not a possible outcome: it is not in " + where);
        }
      }
    }
  }

  void check_resources() {
    if (s_.resources.size() > kMaxResources) {
      error(s_.where.of("resources"), "resources",
            expected_got("at most 32767 resources", std::to_string(s_.resources.size())));
    }
    for (std::size_t i = 0; i < s_.resources.size(); ++i) {
      const ResourceSpec& r = s_.resources[i];
      const std::string field = child("resources", r.name);
      const Where& w = r.where;
      for (std::size_t j = 0; j < i; ++j) {
        if (s_.resources[j].name == r.name) error(w.line, field, "duplicate resource name");
      }
      check_staffing(r, field);

      const std::string serves = child(field, "serves");
      if (r.serves.empty()) error(w.of("serves"), serves, "expected at least one served stage");
      for (std::size_t k = 0; k < r.serves.size(); ++k) {
        const std::string& name = r.serves[k];
        const std::string stage_field = item(serves, k);
        if (!check_stage_name(name, w.of("serves"), stage_field)) continue;
        if (std::find(r.serves.begin(), r.serves.begin() + static_cast<std::ptrdiff_t>(k), name) !=
            r.serves.begin() + static_cast<std::ptrdiff_t>(k)) {
          error(w.of("serves"), stage_field, "stage '" + name + "' is listed twice");
        } else if (stage(name)->absorbing) {
          error(w.of("serves"), stage_field, "a team cannot serve absorbing stage '" + name + "'");
        } else if (const ResourceSpec* first = served(name); first != &r) {
          error(w.of("serves"), stage_field,
                "stage " + name + " is already served by resources." + first->name +
                    "; a stage can be served by one team only");
        }
      }

      if (r.service) {
        check_dwell(*r.service, child(field, "service"));
      } else {
        error(w.line, child(field, "service"), "missing required key 'service'");
      }
      if (r.handoff) check_dwell(*r.handoff, child(field, "handoff"));
      check_priority(r, field);

      if (r.patience) {
        check_dwell(*r.patience, child(field, "patience"));
        if (r.abandon_to.empty()) {
          error(w.of("patience"), child(field, "abandon_to"),
                "abandon_to is required with patience: the stage a customer moves to when it "
                "gives up waiting");
        }
      } else if (!r.abandon_to.empty()) {
        error(w.of("abandon_to"), child(field, "abandon_to"),
              "abandon_to needs patience: without it nobody gives up waiting");
      }
      if (!r.abandon_to.empty()) {
        check_stage_name(r.abandon_to, w.of("abandon_to"), child(field, "abandon_to"));
      }

      if (r.outcome) check_row_stochastic(*r.outcome, child(field, "outcome.next"));
      if (r.decay) check_decay(r, field);
      check_non_negative(r.cost_per_server_day, w.of("cost_per_server_day"),
                         child(field, "cost_per_server_day"));
    }
  }

  void check_referrals() {
    for (std::size_t i = 0; i < s_.referrals.size(); ++i) {
      const ReferralSpec& r = s_.referrals[i];
      const std::string field = child("referrals", r.name);
      const Where& w = r.where;
      for (std::size_t j = 0; j < i; ++j) {
        if (s_.referrals[j].name == r.name) error(w.line, field, "duplicate referral name");
      }
      check_stage_name(r.from, w.of("from"), child(field, "from"));
      check_non_negative(r.rate_per_day, w.of("rate_per_day"), child(field, "rate_per_day"));
      check_stage_name(r.to, w.of("to"), child(field, "to"));
      if (!r.segment.empty()) {
        check_segment_name(r.segment, w.of("segment"), child(field, "segment"));
      }
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
    for (const auto& r : s_.resources) {
      for (const auto& name : r.serves) {
        const auto from = id.find(name);
        if (from == id.end()) continue;
        if (r.outcome) add_edges(from->second, *r.outcome);
        for (const std::string* target : {&r.abandon_to, r.decay ? &r.decay->to : nullptr}) {
          if (target == nullptr) continue;
          const auto to = id.find(*target);
          if (to != id.end()) edges[from->second].push_back(to->second);
        }
      }
    }
    for (const auto& referral : s_.referrals) {
      const auto from = id.find(referral.from);
      const auto to = id.find(referral.to);
      if (from != id.end() && to != id.end() && referral.rate_per_day > 0.0) {
        edges[from->second].push_back(to->second);
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
  std::map<std::string, const ResourceSpec*> served_;  ///< stage -> first resource serving it
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
    build_resources(m);
    build_referrals(m);
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
    m.max_customers = s_.max_customers;
    m.seed = s_.seed;
    m.replications = s_.replications;
    m.scenario_text = s_.source;
    m.scenario_file = s_.file;
    if (!s_.sources.empty()) {
      m.scenario_extends.assign(s_.sources.files.begin() + 1, s_.sources.files.end());
      m.scenario_own_text = s_.sources.own_text;
    }
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
    std::vector<std::optional<Dwell>> default_dwell(num_stages);
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
        // A served stage may have neither (build_resources() fills them in).
        if (dwell != nullptr) {
          // Segments without a dwell override share the stage's dwell (and its sampling table).
          const bool stage_default = st.dwell && dwell == &*st.dwell;
          if (stage_default && default_dwell[s]) {
            rule.dwell = *default_dwell[s];
          } else {
            rule.dwell = make_dwell(*dwell);
            rule.dwell.tabulate();
            if (stage_default) default_dwell[s] = rule.dwell;
          }
        }
        if (next != nullptr) {
          positive_entries(*next, rule.next_stages, rule.next_probs);
          rule.next = AliasTable(rule.next_probs);
        }
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
      process.max_rate =
          *std::max_element(process.weekday_rate.begin(), process.weekday_rate.end());
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

  /// Step function of a team's size: from servers and changes, or from the weekday calendar
  /// expanded day by day (day d is weekday d % 7, Monday = 0) over [0, horizon). A point is kept
  /// only where the level changes.
  void build_staffing(const ResourceSpec& spec, Resource& r) const {
    const auto step = [&r](double time, int level) {
      if (!r.staffing_levels.empty() && r.staffing_levels.back() == level) return;
      if (!r.staffing_times.empty() && r.staffing_times.back() == time) {
        r.staffing_levels.back() = level;  // a change on day 0 replaces the initial size
        if (r.staffing_levels.size() > 1 &&
            r.staffing_levels[r.staffing_levels.size() - 2] == level) {
          r.staffing_times.pop_back();
          r.staffing_levels.pop_back();
        }
        return;
      }
      r.staffing_times.push_back(time);
      r.staffing_levels.push_back(level);
    };
    if (!spec.weekdays.empty()) {
      for (std::int64_t d = 0; static_cast<double>(d) < s_.horizon || d == 0; ++d) {
        step(static_cast<double>(d), spec.weekdays[static_cast<std::size_t>(d % 7)]);
      }
      return;
    }
    step(0.0, spec.servers.value_or(0));
    for (const auto& change : spec.changes) step(change.day, change.servers);
  }

  void build_resources(Model& m) const {
    const std::size_t num_stages = s_.stages.size();
    const std::size_t num_segments = m.segment_names.size();
    m.served_by.assign(num_stages, -1);
    for (std::size_t i = 0; i < s_.resources.size(); ++i) {
      const ResourceSpec& spec = s_.resources[i];
      Resource r;
      r.name = spec.name;
      r.stream_key = fnv1a(spec.name);
      build_staffing(spec, r);
      r.service = make_dwell(*spec.service);
      r.service.tabulate();
      if (spec.handoff) {
        r.has_handoff = true;
        r.handoff = make_dwell(*spec.handoff);
        r.handoff.tabulate();
      }
      r.segment_class.assign(num_segments, 0);
      if (spec.discipline == "priority") {
        for (std::size_t k = 0; k < spec.priority.size(); ++k) {
          const SegmentId g = s_.segments.empty() ? 0 : segment_id_.at(spec.priority[k]);
          r.segment_class[static_cast<std::size_t>(g)] = static_cast<int>(k);
        }
        r.num_classes = static_cast<int>(spec.priority.size());
      }
      if (spec.patience) {
        r.has_patience = true;
        r.patience = make_dwell(*spec.patience);
        r.patience.tabulate();
        r.abandon_to = stage_id_.at(spec.abandon_to);
      }
      if (spec.outcome) {
        r.has_outcome = true;
        std::vector<double> probs;
        positive_entries(*spec.outcome, r.outcome_stages, probs);
        r.outcome = AliasTable(probs);
      }
      if (spec.decay) {
        r.decay_stage = stage_id_.at(spec.decay->stage);
        r.decay_per_day = std::log(2.0) / spec.decay->half_life;
        r.decay_to = stage_id_.at(spec.decay->to);
      }
      r.cost_per_server_day = spec.cost_per_server_day;

      // The engine sends every entry into a served stage to the team and never uses the stage's
      // StageRule dwell (nor, with an outcome, its next). The rule is still filled in, for the
      // closed-form analysis (lcsim analyze) and anyone else reading a stage as a Markov step:
      // dwell ~ exponential with the mean hand-off + service time (waiting and abandonment are
      // not in it), next = the team's outcome (without decay) when given.
      const double handoff_mean = r.has_handoff ? r.handoff.mean() : 0.0;
      const double mean = handoff_mean + r.service.mean();
      std::vector<double> outcome_probs;
      if (spec.outcome) {
        std::vector<StageId> stages;
        positive_entries(*spec.outcome, stages, outcome_probs);
      }
      for (const auto& name : spec.serves) {
        const StageId s = stage_id_.at(name);
        m.served_by[static_cast<std::size_t>(s)] = static_cast<std::int16_t>(i);
        for (std::size_t g = 0; g < num_segments; ++g) {
          StageRule& rule = m.rules[g * num_stages + static_cast<std::size_t>(s)];
          rule.dwell = std::isfinite(mean) && mean > 0.0 ? Dwell::exponential(mean)
                       : mean == 0.0                     ? Dwell::fixed(0.0)
                                     : Dwell::exponential(std::numeric_limits<double>::max());
          if (spec.outcome) {
            rule.next_stages = r.outcome_stages;
            rule.next_probs = outcome_probs;
            rule.next = r.outcome;
          }
        }
      }
      m.resource_names.push_back(spec.name);
      m.resources.push_back(std::move(r));
    }
  }

  void build_referrals(Model& m) const {
    const std::size_t num_stages = s_.stages.size();
    for (const auto& spec : s_.referrals) {
      Referral r;
      r.name = spec.name;
      r.stream_key = fnv1a(spec.name);
      r.from = stage_id_.at(spec.from);
      r.rate_per_day = spec.rate_per_day;
      r.to = stage_id_.at(spec.to);
      r.segment = segment_or_shares(spec.segment);
      m.referral_names.push_back(spec.name);
      m.referrals.push_back(std::move(r));
    }
    m.referral_offsets.assign(num_stages + 1, 0);
    for (const auto& r : m.referrals) ++m.referral_offsets[static_cast<std::size_t>(r.from) + 1];
    for (std::size_t s = 0; s < num_stages; ++s) m.referral_offsets[s + 1] += m.referral_offsets[s];
    m.referrals_for.assign(m.referrals.size(), 0);
    std::vector<std::uint32_t> fill(m.referral_offsets.begin(), m.referral_offsets.end() - 1);
    for (std::size_t k = 0; k < m.referrals.size(); ++k) {
      const auto from = static_cast<std::size_t>(m.referrals[k].from);
      m.referrals_for[fill[from]++] = static_cast<std::uint32_t>(k);
    }
  }

  /// The given converted stages, or won and every stage reachable from it (next entries of every
  /// segment, touchpoint moves and next overrides, a team's abandonment and decay targets).
  void build_converted(Model& m) const {
    const std::size_t n = s_.stages.size();
    m.converted.assign(n, 0);
    if (!s_.converted_stages.empty()) {
      for (const auto& name : s_.converted_stages)
        m.converted[static_cast<std::size_t>(stage_id_.at(name))] = 1;
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
      if (const int team = m.served_by[static_cast<std::size_t>(s)]; team >= 0) {
        const Resource& r = m.resources[static_cast<std::size_t>(team)];
        if (r.abandon_to >= 0) reach(r.abandon_to);
        if (r.decay_to >= 0) reach(r.decay_to);
        // Outcome stages are the served stage's rule next (set by build_resources()).
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
