#include "lcsim/calibrate/touchpoint_lift.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <istream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/math/distributions/normal.hpp>

#include "csv.hpp"
#include "lcsim/calibrate/timestamp.hpp"
#include "lcsim/core/format.hpp"
#include "log_reader.hpp"
#include "text.hpp"

namespace lcsim {
namespace {

namespace text = calibrate_text;

// ================================================================================================
// Reading the contact log
// ================================================================================================

class ContactReader {
 public:
  ContactReader(std::string file, const EventLog& events, const TouchpointLogOptions& options)
      : file_(std::move(file)), events_(events), o_(options) {}

  TouchpointLog read(const std::string& content) {
    const std::vector<csv::Record> records = calibrate_log::read_table(
        content, file_, o_.customer_column + ", " + o_.time_column + ", " + o_.touchpoint_column);
    read_header(records.front());
    problems_.throw_if_errors();
    TouchpointLog log;
    log.file = file_;
    log.epoch = events_.epoch;
    for (const auto& path : events_.customers) customers_.emplace(path.id);
    calibrate_log::for_each_row(records, problems_, "contact",
                                [&](const csv::Record& record) { read_row(record, log); });
    problems_.throw_if_errors();
    problems_.warn_lines(unknown_customer_lines_, o_.customer_column,
                         "contacts of customers not in the stage-change log " + events_.file +
                             " (they expose no stay)",
                         o_.rows_listed);
    problems_.warn_lines(
        after_censor_lines_, o_.time_column,
        "contacts after the end of observation of the stage-change log (they expose no stay)",
        o_.rows_listed);
    log.warnings = problems_.take_warnings();
    return log;
  }

 private:
  void read_header(const csv::Record& record) {
    const calibrate_log::Header header(record);
    columns_ = header.columns();
    customer_col_ = header.find(o_.customer_column, problems_);
    time_col_ = header.find(o_.time_column, problems_);
    touchpoint_col_ = header.find(o_.touchpoint_column, problems_);
  }

  void read_row(const csv::Record& record, TouchpointLog& log) {
    ++log.rows;
    const int line = record.line;
    if (!calibrate_log::check_width(record, columns_, problems_)) return;
    bool ok = true;
    const std::string id = calibrate_log::required_field(record, customer_col_, o_.customer_column,
                                                         "a customer id", problems_, ok);
    const std::string time_text = calibrate_log::field(record, time_col_);
    const std::optional<Timestamp> time = calibrate_log::timestamp_field(
        time_text, line, o_.time_column, calibrate_log::timestamp_expected(), problems_, ok);
    const std::string name = calibrate_log::required_field(
        record, touchpoint_col_, o_.touchpoint_column, "a touchpoint name", problems_, ok);
    if (!name.empty() && !o_.touchpoints.empty() &&
        std::find(o_.touchpoints.begin(), o_.touchpoints.end(), name) == o_.touchpoints.end()) {
      problems_.error(line, o_.touchpoint_column,
                      "unknown touchpoint '" + name + "' (expected one of: " +
                          text::join(o_.touchpoints) + ")" + did_you_mean(name, o_.touchpoints));
      ok = false;
    }
    if (!ok) return;
    const double days = time->days_since(events_.epoch_day);
    if (customers_.count(id) == 0) unknown_customer_lines_.push_back(line);
    if (days > events_.censor_at) after_censor_lines_.push_back(line);
    if (std::find(log.touchpoints.begin(), log.touchpoints.end(), name) == log.touchpoints.end()) {
      log.touchpoints.push_back(name);
    }
    log.contacts.push_back(TouchpointContact{id, days, name, line});
  }

  std::string file_;
  const EventLog& events_;
  const TouchpointLogOptions& o_;
  calibrate_log::Problems problems_{file_};
  std::size_t columns_ = 0;
  int customer_col_ = -1;
  int time_col_ = -1;
  int touchpoint_col_ = -1;
  std::set<std::string> customers_;
  std::vector<int> unknown_customer_lines_;
  std::vector<int> after_censor_lines_;
};

// ================================================================================================
// Cox partial likelihood with a binary time-varying covariate
// ================================================================================================

/// A counting-process piece of a stay: at risk on (start, stop], covariate x, event at stop.
struct Piece {
  double start = 0.0;
  double stop = 0.0;
  bool exposed = false;
  bool event = false;
};

/// Risk-set sizes and events at one distinct event time.
struct EventTime {
  double n0 = 0.0;  ///< unexposed at risk
  double n1 = 0.0;  ///< exposed at risk
  double d = 0.0;   ///< events
  double d1 = 0.0;  ///< events while exposed
};

struct Partial {
  double value = 0.0;
  double score = 0.0;
  double information = 0.0;
};

/// Breslow partial log-likelihood, its derivative and minus its second derivative at beta.
Partial partial(const std::vector<EventTime>& times, double beta) {
  Partial out;
  const double e = std::exp(beta);
  for (const EventTime& t : times) {
    const double denominator = t.n0 + t.n1 * e;
    const double p = t.n1 * e / denominator;
    out.value += t.d1 * beta - t.d * std::log(denominator);
    out.score += t.d1 - t.d * p;
    out.information += t.d * p * (1.0 - p);
  }
  return out;
}

std::vector<EventTime> event_times(const std::vector<Piece>& pieces) {
  std::vector<double> start0;
  std::vector<double> stop0;
  std::vector<double> start1;
  std::vector<double> stop1;
  std::vector<std::pair<double, bool>> events;
  for (const Piece& p : pieces) {
    (p.exposed ? start1 : start0).push_back(p.start);
    (p.exposed ? stop1 : stop0).push_back(p.stop);
    if (p.event) events.emplace_back(p.stop, p.exposed);
  }
  for (auto* v : {&start0, &stop0, &start1, &stop1}) std::sort(v->begin(), v->end());
  std::sort(events.begin(), events.end());
  // Pieces at risk at t: start < t <= stop, i.e. #(start < t) - #(stop < t).
  const auto at_risk = [](const std::vector<double>& starts, const std::vector<double>& stops,
                          double t) {
    const auto started = std::lower_bound(starts.begin(), starts.end(), t) - starts.begin();
    const auto stopped = std::lower_bound(stops.begin(), stops.end(), t) - stops.begin();
    return static_cast<double>(started - stopped);
  };
  std::vector<EventTime> out;
  for (std::size_t i = 0; i < events.size();) {
    const double t = events[i].first;
    EventTime et;
    et.n0 = at_risk(start0, stop0, t);
    et.n1 = at_risk(start1, stop1, t);
    for (; i < events.size() && events[i].first == t; ++i) {
      et.d += 1.0;
      if (events[i].second) et.d1 += 1.0;
    }
    out.push_back(et);
  }
  return out;
}

void check_options(const LiftOptions& o, const std::string& file) {
  std::vector<Problem> errors;
  if (o.stage.empty()) {
    errors.push_back(
        Problem{file, 0, "stage", expected_got("a stage name", "an empty value"), false});
  }
  if (o.exposure == LiftExposure::kWindow && !(o.window > 0.0 && std::isfinite(o.window))) {
    errors.push_back(
        Problem{file, 0, "window",
                expected_got("a positive, finite number of days", text::number(o.window)), false});
  }
  if (!(o.level > 0.0 && o.level < 1.0)) {
    errors.push_back(Problem{file, 0, "level",
                             expected_got("a confidence level in (0, 1)", text::number(o.level)),
                             false});
  }
  if (!(o.min_duration > 0.0)) {
    errors.push_back(
        Problem{file, 0, "min_duration",
                expected_got("a positive number of days", text::number(o.min_duration)), false});
  }
  if (!errors.empty()) throw InputError(std::move(errors));
}

}  // namespace

// ================================================================================================
// Public
// ================================================================================================

TouchpointLog parse_touchpoint_log(std::istream& in, const std::string& file,
                                   const EventLog& events, const TouchpointLogOptions& options) {
  ContactReader reader(file, events, options);
  return reader.read(calibrate_log::read_all(in, file));
}

TouchpointLog read_touchpoint_log(const std::string& path, const EventLog& events,
                                  const TouchpointLogOptions& options) {
  std::ifstream in = calibrate_log::open_input(path);
  return parse_touchpoint_log(in, path, events, options);
}

std::vector<Stay> stays_of(const EventLog& log) {
  std::vector<Stay> out;
  for (const auto& path : log.customers) {
    for (std::size_t i = 0; i < path.entries.size(); ++i) {
      const StageEntry& e = path.entries[i];
      if (log.is_absorbing(e.stage)) break;
      Stay stay;
      stay.customer = path.id;
      stay.stage = e.stage;
      stay.entry = e.time;
      if (i + 1 < path.entries.size()) {
        stay.exit = path.entries[i + 1].time;
        stay.ended = true;
        stay.to = path.entries[i + 1].stage;
      } else {
        stay.exit = log.censor_at;
        stay.ended = false;
      }
      out.push_back(std::move(stay));
    }
  }
  return out;
}

TouchpointLift fit_touchpoint_lift(const std::vector<Stay>& stays,
                                   const std::vector<TouchpointContact>& contacts,
                                   const LiftOptions& options) {
  check_options(options, "<lift options>");
  TouchpointLift out;
  out.touchpoint = options.touchpoint;
  out.stage = options.stage;
  out.to = options.to;
  out.window = options.window;
  out.exposure = options.exposure;
  out.level = options.level;

  std::unordered_map<std::string, std::vector<double>> contact_times;
  for (const TouchpointContact& c : contacts) {
    if (!options.touchpoint.empty() && c.touchpoint != options.touchpoint) continue;
    ++out.n_contacts;
    contact_times[c.customer].push_back(c.time);
  }
  for (auto& [id, times] : contact_times) std::sort(times.begin(), times.end());

  std::vector<Piece> pieces;
  std::vector<std::pair<double, double>> windows;
  for (const Stay& stay : stays) {
    if (stay.stage != options.stage) continue;
    const double observed = stay.exit - stay.entry;
    if (!(observed >= 0.0)) continue;
    const bool event = stay.ended && (options.to.empty() || stay.to == options.to);
    const double length = stay.ended ? std::max(observed, options.min_duration) : observed;
    if (length <= 0.0) continue;  // open and empty: never at risk
    ++out.n_stays;
    out.days_at_risk += length;
    // Exposure windows relative to entry, merged.
    windows.clear();
    const auto found = contact_times.find(stay.customer);
    if (found != contact_times.end()) {
      const auto& times = found->second;
      for (auto it = std::lower_bound(times.begin(), times.end(), stay.entry);
           it != times.end() && *it < stay.exit; ++it) {
        ++out.n_contacts_in_stays;
        const double from = *it - stay.entry;
        const double until = options.exposure == LiftExposure::kWholeStay
                                 ? length
                                 : std::min(from + options.window, length);
        if (options.exposure == LiftExposure::kWholeStay) {
          if (windows.empty()) windows.emplace_back(0.0, length);
          continue;
        }
        if (!windows.empty() && from <= windows.back().second) {
          windows.back().second = std::max(windows.back().second, until);
        } else {
          windows.emplace_back(from, until);
        }
      }
    }
    double at = 0.0;
    const std::size_t first_piece = pieces.size();
    for (const auto& [from, until] : windows) {
      if (from > at) pieces.push_back(Piece{at, from, false, false});
      if (until > from) {
        pieces.push_back(Piece{from, until, true, false});
        out.days_exposed += until - from;
      }
      at = until;
    }
    if (at < length) pieces.push_back(Piece{at, length, false, false});
    if (pieces.size() > first_piece) {
      bool exposed = false;
      for (std::size_t i = first_piece; i < pieces.size(); ++i) {
        exposed = exposed || pieces[i].exposed;
      }
      if (exposed) ++out.n_exposed_stays;
      if (event) {
        pieces.back().event = true;
        ++out.n_events;
        if (pieces.back().exposed) ++out.n_events_exposed;
      }
    }
  }

  const std::vector<EventTime> times = event_times(pieces);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  out.log_factor = out.se_log_factor = out.factor = out.ci_low = out.ci_high = nan;
  out.partial_loglik = out.partial_loglik_null = partial(times, 0.0).value;
  out.row.parameter = "touchpoints." +
                      (options.touchpoint.empty() ? std::string("any") : options.touchpoint) +
                      ".effect.hazard_factor";
  out.row.n = out.n_exposed_stays;
  out.row.estimate = out.row.ci_low = out.row.ci_high = nan;

  if (out.n_events == 0) {
    out.note = "no exit from '" + options.stage + "'" +
               (options.to.empty() ? std::string() : " to '" + options.to + "'") +
               " observed: nothing to estimate";
    return out;
  }
  if (out.n_events_exposed == 0) {
    out.note =
        "no exit while exposed: the factor's maximum-likelihood estimate is 0 (no finite "
        "log factor)";
    return out;
  }
  const Partial at_zero = partial(times, 0.0);
  if (!(at_zero.information > 0.0)) {
    out.note =
        "exposed and unexposed stays are never at risk together at an exit: the factor is "
        "not identified";
    return out;
  }
  // Newton-Raphson with step halving; the partial log-likelihood is concave in beta.
  double beta = 0.0;
  Partial current = at_zero;
  bool done = false;
  for (int iteration = 1; iteration <= options.max_iterations; ++iteration) {
    out.iterations = iteration;
    if (!(current.information > 0.0)) break;
    double step = current.score / current.information;
    step = std::clamp(step, -5.0, 5.0);
    Partial next = partial(times, beta + step);
    for (int halving = 0; halving < 50 && !(next.value >= current.value); ++halving) {
      step /= 2.0;
      next = partial(times, beta + step);
    }
    beta += step;
    current = next;
    const double score_tolerance = 1e-9 * std::max(1.0, static_cast<double>(out.n_events));
    if (std::abs(step) < 1e-10 || std::abs(current.score) < score_tolerance) {
      done = true;
      break;
    }
    if (std::abs(beta) > 30.0) break;
  }
  if (!done || std::abs(beta) > 30.0 || !(current.information > 0.0)) {
    out.note = "Newton-Raphson found no finite maximum (log factor " + text::number(beta) +
               " after " + std::to_string(out.iterations) +
               " iterations): the data do not bound the factor";
    return out;
  }
  const double z =
      boost::math::quantile(boost::math::normal_distribution<double>(), 0.5 + options.level / 2.0);
  out.converged = true;
  out.log_factor = beta;
  out.se_log_factor = 1.0 / std::sqrt(current.information);
  out.factor = std::exp(beta);
  out.ci_low = std::exp(beta - z * out.se_log_factor);
  out.ci_high = std::exp(beta + z * out.se_log_factor);
  out.partial_loglik = current.value;
  out.row.estimate = out.factor;
  out.row.ci_low = out.ci_low;
  out.row.ci_high = out.ci_high;
  return out;
}

TouchpointLift fit_touchpoint_lift(const EventLog& events, const TouchpointLog& contacts,
                                   const LiftOptions& options) {
  check_options(options, events.file);
  std::vector<Problem> errors;
  const auto check_stage = [&](const std::string& field, const std::string& stage) {
    if (std::find(events.stages.begin(), events.stages.end(), stage) == events.stages.end()) {
      errors.push_back(Problem{events.file, 0, field,
                               "unknown stage '" + stage +
                                   "' (the log has: " + text::join(events.stages) + ")" +
                                   did_you_mean(stage, events.stages),
                               false});
    }
  };
  check_stage("stage", options.stage);
  if (!options.to.empty()) check_stage("to", options.to);
  if (!options.touchpoint.empty() &&
      std::find(contacts.touchpoints.begin(), contacts.touchpoints.end(), options.touchpoint) ==
          contacts.touchpoints.end()) {
    errors.push_back(Problem{contacts.file, 0, "touchpoint",
                             "unknown touchpoint '" + options.touchpoint +
                                 "' (the contact log has: " + text::join(contacts.touchpoints) +
                                 ")" + did_you_mean(options.touchpoint, contacts.touchpoints),
                             false});
  }
  if (!errors.empty()) throw InputError(std::move(errors));
  return fit_touchpoint_lift(stays_of(events), contacts.contacts, options);
}

}  // namespace lcsim
