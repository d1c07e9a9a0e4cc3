#include "lcsim/calibrate/calibrate.hpp"

#include <algorithm>
#include <boost/math/distributions/beta.hpp>
#include <boost/math/distributions/poisson.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "intervals.hpp"
#include "lcsim/calibrate/timestamp.hpp"
#include "lcsim/core/format.hpp"
#include "lcsim/model/compile.hpp"
#include "log_reader.hpp"
#include "text.hpp"

namespace lcsim {
namespace {

namespace text = calibrate_text;

/// Stays and moves of one stage for all customers or one segment.
struct StageData {
  std::vector<double> durations;
  std::vector<bool> censored;
  std::map<std::string, std::size_t> moves;  ///< target -> count
  std::size_t exits = 0;
};

using calibrate_intervals::jeffreys_interval;
using calibrate_intervals::poisson_interval;
using calibrate_log::exact_probabilities;

/// Rejects options that would make the scenario invalid, naming the option.
void check_options(const EventLog& log, const CalibrateOptions& o) {
  std::vector<Problem> problems;
  const auto bad = [&](const char* field, const std::string& what, double value) {
    problems.push_back(Problem{log.file, 0, field, expected_got(what, text::number(value)), false});
  };
  const auto finite = [](double x) { return std::isfinite(x); };
  if (!finite(o.horizon) || o.horizon < 0.0)
    bad("horizon", "a number >= 0 (0: censor_at)", o.horizon);
  if (!finite(o.report_every) || o.report_every <= 0.0) {
    bad("report_every", "a number > 0", o.report_every);
  } else {
    const double horizon = o.horizon > 0.0 ? o.horizon : log.censor_at;
    if (finite(horizon) && horizon / o.report_every > 1e7) {
      bad("report_every", "at most 1e7 reports over the horizon, a larger step", o.report_every);
    }
  }
  if (o.replications < 1) bad("replications", "an integer >= 1", o.replications);
  if (o.threads < 0) bad("threads", "an integer >= 0 (0: all cores)", o.threads);
  if (!finite(o.initial_cohort_days) || o.initial_cohort_days < 0.0) {
    bad("initial_cohort_days", "a number >= 0", o.initial_cohort_days);
  }
  if (!finite(o.transition_prior) || o.transition_prior <= 0.0) {
    bad("transition_prior", "a number > 0", o.transition_prior);
  }
  if (!(o.dwell.level > 0.0 && o.dwell.level < 1.0))
    bad("dwell.level", "a level in (0, 1)", o.dwell.level);
  if (!finite(o.dwell.min_duration) || o.dwell.min_duration <= 0.0) {
    bad("dwell.min_duration", "a number > 0", o.dwell.min_duration);
  }
  for (const DwellFamily family : o.dwell.families) {
    if (family == DwellFamily::kFixed || family == DwellFamily::kEmpirical) {
      problems.push_back(Problem{
          log.file, 0, "dwell.families",
          expected_got("exponential, weibull, lognormal, gamma or coxian", to_string(family)),
          false});
    }
  }
  if (!problems.empty()) throw InputError(std::move(problems));
}

class Calibrator {
 public:
  Calibrator(const EventLog& log, const CalibrateOptions& options) : log_(log), o_(options) {}

  Calibration run() {
    out_.file = log_.file;
    out_.epoch = log_.epoch;
    out_.epoch_weekday = log_.epoch_weekday;
    out_.window_start = log_.first_time;
    out_.window_end = log_.censor_at;
    const std::string won = won_stage();
    collect();
    fit_dwells();
    fit_stages();
    fit_segments();
    estimate_arrivals();
    estimate_shares();
    build_scenario(won);
    out_.warnings = log_.warnings;
    out_.warnings.insert(out_.warnings.end(), warnings_.begin(), warnings_.end());
    for (const Problem& p : check(out_.scenario)) {
      if (!p.warning) {
        throw InternalError("calibrate: the calibrated scenario is invalid: " + p.to_string());
      }
      out_.warnings.push_back(p);
    }
    return std::move(out_);
  }

 private:
  void warning(std::string field, std::string message) {
    warnings_.push_back(Problem{log_.file, 0, std::move(field), std::move(message), true});
  }

  [[nodiscard]] double level() const { return o_.dwell.level; }

  [[nodiscard]] std::size_t stage_index(const std::string& stage) const {
    return static_cast<std::size_t>(std::find(log_.stages.begin(), log_.stages.end(), stage) -
                                    log_.stages.begin());
  }
  [[nodiscard]] std::size_t segment_index(const std::string& segment) const {
    return static_cast<std::size_t>(std::find(log_.segments.begin(), log_.segments.end(), segment) -
                                    log_.segments.begin());
  }
  [[nodiscard]] bool absorbing(const std::string& stage) const {
    return log_.is_absorbing(stage) || std::find(made_absorbing_.begin(), made_absorbing_.end(),
                                                 stage) != made_absorbing_.end();
  }

  std::string won_stage() const {
    const auto has = [&](const std::string& name) {
      return std::find(log_.stages.begin(), log_.stages.end(), name) != log_.stages.end();
    };
    if (o_.won.empty()) {
      if (has("won")) return "won";
      throw InputError(log_.file, 0, "won",
                       "the log has no stage named 'won': name the stage that counts as a "
                       "conversion with " +
                           option_hint("won", o_.spelling) +
                           " (stages in the log: " + text::join(log_.stages) + ")");
    }
    if (!has(o_.won)) {
      throw InputError(log_.file, 0, "won",
                       "unknown stage '" + o_.won + "' (stages in the log: " +
                           text::join(log_.stages) + ")" + did_you_mean(o_.won, log_.stages));
    }
    return o_.won;
  }

  /// Stays and moves per stage: all customers ([0]) and per segment ([1 + g]). Reads the log's
  /// flat arrays (stage and segment numbers, no string per entry); the stays are in customer
  /// order and path order, as the fits have always seen them.
  void collect() {
    const std::size_t groups = 1 + log_.segments.size();
    data_.assign(groups, std::vector<StageData>(log_.stages.size()));
    const CustomerPaths& paths = log_.customers;
    const std::vector<std::string>& names = paths.stage_names();
    const std::size_t ids = names.size();
    std::vector<std::size_t> position(ids);  // stage number -> index in log_.stages
    std::vector<std::uint8_t> is_absorbing(ids);
    for (std::size_t id = 0; id < ids; ++id) {
      position[id] = stage_index(names[id]);
      is_absorbing[id] = log_.is_absorbing(names[id]) ? 1 : 0;
    }
    std::vector<std::size_t> group_of(paths.segment_names().size(), 0);  // segment number -> group
    if (log_.has_segments) {
      for (std::size_t g = 0; g < group_of.size(); ++g) {
        group_of[g] = 1 + segment_index(paths.segment_names()[g]);
      }
    }
    // moves[(group * stages + s) * ids + target]: counted here, put in the maps at the end.
    std::vector<std::size_t> moves(groups * log_.stages.size() * ids, 0);
    const auto offsets = paths.offsets();
    const auto times = paths.times();
    const auto stages = paths.stage_ids();
    const auto segments = paths.segment_ids();
    for (std::size_t c = 0; c < paths.size(); ++c) {
      const std::size_t g = log_.has_segments ? group_of[segments[c]] : 0;
      const auto add = [&](std::size_t s, double duration, bool open, std::size_t to) {
        for (const std::size_t group : {std::size_t{0}, g}) {
          StageData& d = data_[group][s];
          d.durations.push_back(std::max(0.0, duration));
          d.censored.push_back(open);
          if (!open) {
            ++moves[(group * log_.stages.size() + s) * ids + to];
            ++d.exits;
          }
          if (group == g) break;  // without segments g == 0: count once
        }
      };
      const std::size_t end = offsets[c + 1];
      for (std::size_t k = offsets[c]; k < end; ++k) {
        const std::size_t s = position[stages[k]];
        if (k + 1 < end) {
          add(s, times[k + 1] - times[k], false, stages[k + 1]);
        } else if (is_absorbing[stages[k]] == 0) {
          add(s, log_.censor_at - times[k], true, 0);
        }
      }
    }
    for (std::size_t group = 0; group < groups; ++group) {
      for (std::size_t s = 0; s < log_.stages.size(); ++s) {
        for (std::size_t to = 0; to < ids; ++to) {
          const std::size_t n = moves[(group * log_.stages.size() + s) * ids + to];
          if (n > 0) data_[group][s].moves[names[to]] = n;
        }
      }
    }
  }

  /// Targets by decreasing count (ties in stage order), with their counts.
  [[nodiscard]] std::vector<std::pair<std::string, std::size_t>> ordered_moves(
      const StageData& d) const {
    std::vector<std::pair<std::string, std::size_t>> moves(d.moves.begin(), d.moves.end());
    std::stable_sort(moves.begin(), moves.end(), [&](const auto& a, const auto& b) {
      if (a.second != b.second) return a.second > b.second;
      return stage_index(a.first) < stage_index(b.first);
    });
    return moves;
  }

  /// Whether fit_stages() (group 0) or fit_segments() (group 1 + g) fits the dwell of stage s:
  /// the all-segment fit of every non-absorbing stage with stays; a segment's of a stage that is
  /// not absorbing (nor made absorbing: nobody leaves it) with at least min_segment_observations
  /// moves out (fewer: pooled).
  [[nodiscard]] bool fits_dwell(std::size_t group, std::size_t s) const {
    const std::string& stage = log_.stages[s];
    const StageData& d = data_[group][s];
    if (d.durations.empty() || log_.is_absorbing(stage)) return false;
    if (group == 0) return true;
    if (data_[0][s].exits == 0) return false;  // made absorbing by fit_stages()
    return d.exits >= std::max<std::size_t>(1, o_.min_segment_observations);
  }

  /// Every dwell fit of fit_stages() and fit_segments() at once, the (stage, segment, family)
  /// fits on o_.threads threads (fit_dwell_all_sets: the same result at any thread count).
  void fit_dwells() {
    std::vector<DwellStays> sets;
    std::vector<std::pair<std::size_t, std::size_t>> where;
    for (std::size_t group = 0; group < data_.size(); ++group) {
      for (std::size_t s = 0; s < log_.stages.size(); ++s) {
        if (!fits_dwell(group, s)) continue;
        sets.push_back(DwellStays{&data_[group][s].durations, &data_[group][s].censored});
        where.emplace_back(group, s);
      }
    }
    std::vector<DwellComparison> fits = fit_dwell_all_sets(sets, o_.dwell, o_.threads);
    dwells_.assign(data_.size(), std::vector<DwellComparison>(log_.stages.size()));
    for (std::size_t i = 0; i < where.size(); ++i) {
      dwells_[where[i].first][where[i].second] = std::move(fits[i]);
    }
  }

  StageFit fit(const std::string& stage, const std::string& segment, std::size_t group,
               std::size_t s, bool fit_dwell) {
    const StageData& d = data_[group][s];
    StageFit f;
    f.stage = stage;
    f.segment = segment;
    f.durations = d.durations;
    f.censored = d.censored;
    if (fit_dwell && !d.durations.empty()) {
      if (!fits_dwell(group, s))
        throw InternalError("calibrate: a dwell fit missing from fit_dwells()");
      f.dwell = std::move(dwells_[group][s]);
    } else {
      f.dwell.reason = fit_dwell ? "no stays" : "pooled with the all-segment fit";
    }
    f.next = fit_transitions(ordered_moves(d), o_.transition_prior, level());
    return f;
  }

  void fit_stages() {
    for (std::size_t s = 0; s < log_.stages.size(); ++s) {
      const std::string& stage = log_.stages[s];
      if (log_.is_absorbing(stage)) continue;
      const StageData& d = data_[0][s];
      if (d.exits == 0) {
        made_absorbing_.push_back(stage);
        warning("stages." + stage,
                "no customer leaves stage '" + stage + "' (" + std::to_string(d.durations.size()) +
                    " stays, all open at censor_at): the scenario makes it absorbing");
      }
      out_.stages.push_back(fit(stage, "", 0, s, true));
      add_stage_rows(out_.stages.back(), "stages." + stage);
    }
  }

  void fit_segments() {
    const std::size_t min_moves = std::max<std::size_t>(1, o_.min_segment_observations);
    for (std::size_t g = 0; g < log_.segments.size(); ++g) {
      const std::string& segment = log_.segments[g];
      for (std::size_t s = 0; s < log_.stages.size(); ++s) {
        const std::string& stage = log_.stages[s];
        if (absorbing(stage)) continue;
        const StageData& d = data_[1 + g][s];
        if (d.durations.empty()) continue;  // the segment never enters the stage
        const bool pooled = d.exits < min_moves;
        out_.stages.push_back(fit(stage, segment, 1 + g, s, !pooled));
        out_.stages.back().pooled = pooled;
        const std::string prefix = "segments." + segment + ".stages." + stage;
        if (pooled) {
          warning(prefix, "segment '" + segment + "' has " + std::to_string(d.exits) +
                              " moves out of stage '" + stage +
                              "' (fewer than min_segment_observations = " +
                              std::to_string(o_.min_segment_observations) +
                              "): pooled with the all-segment fit");
        } else {
          add_stage_rows(out_.stages.back(), prefix);
        }
      }
    }
  }

  void add_stage_rows(const StageFit& f, const std::string& prefix) {
    for (const auto& t : f.next.targets) {
      out_.estimates.push_back(
          EstimateRow{prefix + ".next." + t.to, t.probability, t.ci_low, t.ci_high, f.next.n});
    }
    if (const DwellFit* best = f.dwell.best()) {
      for (const auto& p : best->params) {
        out_.estimates.push_back(EstimateRow{prefix + ".dwell." + p.name, p.estimate, p.ci_low,
                                             p.ci_high, best->n_events});
      }
    }
    for (std::size_t i = 0; i < f.dwell.fits.size(); ++i) {
      const DwellFit& fit = f.dwell.fits[i];
      FamilyRow row;
      row.stage = f.stage;
      row.segment = f.segment;
      row.family = to_string(fit.family);
      row.fitted = fit.fitted;
      row.loglik = fit.loglik;
      row.aic = fit.aic;
      for (const auto& p : fit.params) row.params.emplace_back(p.name, p.estimate);
      row.chosen = static_cast<int>(i) == f.dwell.chosen;
      row.n_events = fit.n_events;
      row.n_censored = fit.n_censored;
      row.note = fit.reason;
      out_.families.push_back(std::move(row));
    }
  }

  /// Customers first seen in an entry stage within the cohort window who were already there at
  /// the start of the log: the window's first appearances in entry stage s beyond what the later
  /// arrival rate explains. With lambda_s from the customers first seen in s after the window and
  /// n_s first appearances within it, an excess is declared when P(Poisson(lambda_s * window) >=
  /// n_s) < kExcessP; then the n_s - round(lambda_s * window) earliest of them (log order breaks
  /// ties) are taken as present at day 0 and join the initial cohort, and a warning says so.
  /// Without an excess every one of them is an arrival, as before.
  std::vector<std::uint8_t> present_in_entry_stages(const std::vector<std::uint8_t>& entry,
                                                    double cohort_end) {
    constexpr double kExcessP = 1e-3;
    std::vector<std::uint8_t> present(log_.customers.size(), 0);
    const double start = log_.first_time;
    const double window = std::min(cohort_end, log_.censor_at) - start;
    const double late_exposure = log_.censor_at - cohort_end;
    if (!(window > 0.0) || !(late_exposure > 0.0)) return present;
    // Per entry stage: the customers first seen there within the window, and the count after it.
    std::vector<std::vector<std::size_t>> early_by_stage(log_.stages.size());
    std::vector<std::size_t> late_by_stage(log_.stages.size(), 0);
    for (std::size_t c = 0; c < log_.customers.size(); ++c) {
      const StageEntry& first = log_.customers[c].entries.front();
      const std::size_t s = stage_index(first.stage);
      if (entry[s] == 0) continue;
      if (first.time < cohort_end) {
        early_by_stage[s].push_back(c);
      } else {
        ++late_by_stage[s];
      }
    }
    for (std::size_t s = 0; s < log_.stages.size(); ++s) {
      std::vector<std::size_t>& early = early_by_stage[s];
      const std::size_t late = late_by_stage[s];
      if (late == 0 || early.empty()) continue;
      const double rate = static_cast<double>(late) / late_exposure;
      const double expected = rate * window;
      const boost::math::poisson_distribution<double> arrivals(expected);
      const double p = boost::math::cdf(
          boost::math::complement(arrivals, static_cast<double>(early.size() - 1)));
      if (!(p < kExcessP)) continue;
      const auto excess =
          static_cast<std::size_t>(static_cast<double>(early.size()) - std::round(expected));
      std::stable_sort(early.begin(), early.end(), [&](std::size_t a, std::size_t b) {
        return log_.customers[a].entries.front().time < log_.customers[b].entries.front().time;
      });
      for (std::size_t i = 0; i < excess; ++i) present[early[i]] = 1;
      const auto tenths = [](double x) { return text::number(std::round(x * 10.0) / 10.0); };
      warning(
          "arrivals",
          std::to_string(early.size()) + " customers were first seen in entry stage '" +
              log_.stages[s] + "' within the first " + tenths(window) +
              " days, where the later arrival rate (" + tenths(rate) + " a day) explains " +
              tenths(expected) + "; the " + std::to_string(excess) +
              " earliest are taken as already there at day 0 (initial cohort), the rest as arrivals");
    }
    return present;
  }

  void estimate_arrivals() {
    const double start = log_.first_time;
    const double exposure = log_.censor_at - start;
    const double cohort_end = start + o_.initial_cohort_days;
    std::vector<std::uint8_t> entry(log_.stages.size(), 0);
    bool any_late = false;
    for (const CustomerPath& path : log_.customers) {
      const StageEntry& first = path.entries.front();
      if (first.time >= cohort_end) {
        entry[stage_index(first.stage)] = 1;
        any_late = true;
      }
    }
    // No customer after the cohort window: every first stage is an entry stage.
    if (!any_late) {
      for (const CustomerPath& path : log_.customers) {
        entry[stage_index(path.entries.front().stage)] = 1;
      }
    }
    if (!(exposure > 0.0)) {
      warning("arrivals", "the log spans no time: every customer is put in the initial cohort");
      std::fill(entry.begin(), entry.end(), 0);
    }

    const std::vector<std::uint8_t> present = present_in_entry_stages(entry, cohort_end);

    const std::size_t groups = std::max<std::size_t>(1, log_.segments.size());
    std::vector<std::size_t> initial(log_.stages.size() * groups, 0);
    std::vector<std::size_t> arrivals(log_.stages.size(), 0);
    std::vector<double> weekday_count(7, 0.0);
    arrival_segment_.assign(groups, 0);
    all_segment_.assign(groups, 0);
    std::size_t total = 0;
    for (std::size_t c = 0; c < log_.customers.size(); ++c) {
      const CustomerPath& path = log_.customers[c];
      const StageEntry& first = path.entries.front();
      const std::size_t s = stage_index(first.stage);
      const std::size_t g = log_.has_segments ? segment_index(path.segment) : 0;
      ++all_segment_[g];
      if ((first.time < cohort_end && entry[s] == 0) || present[c] != 0) {
        ++initial[s * groups + g];
        continue;
      }
      ++arrivals[s];
      ++arrival_segment_[g];
      ++total;
      const auto day = static_cast<std::int64_t>(std::floor(first.time));
      weekday_count[static_cast<std::size_t>(weekday(log_.epoch_day + day))] += 1.0;
    }

    for (std::size_t s = 0; s < log_.stages.size(); ++s) {
      for (std::size_t g = 0; g < groups; ++g) {
        const std::size_t count = initial[s * groups + g];
        if (count == 0) continue;
        out_.initial.push_back(InitialEstimate{
            log_.stages[s], log_.has_segments ? log_.segments[g] : std::string(), count});
        const double c = static_cast<double>(count);
        out_.estimates.push_back(
            EstimateRow{"arrivals.initial[" + std::to_string(out_.initial.size() - 1) + "].count",
                        c, c, c, count});
      }
    }
    if (total == 0) return;
    const auto [low, high] = poisson_interval(total, exposure, level());
    out_.arrival_rate = static_cast<double>(total) / exposure;
    out_.estimates.push_back(
        EstimateRow{"arrivals.rate_per_day", out_.arrival_rate, low, high, total});
    for (std::size_t s = 0; s < log_.stages.size(); ++s) {
      if (arrivals[s] == 0) continue;
      const auto [lo, hi] = poisson_interval(arrivals[s], exposure, level());
      out_.arrivals.push_back(ArrivalEstimate{log_.stages[s], arrivals[s],
                                              static_cast<double>(arrivals[s]) / exposure, lo, hi});
      out_.estimates.push_back(EstimateRow{
          "arrivals.streams[" + std::to_string(out_.arrivals.size() - 1) + "].rate_per_day",
          out_.arrivals.back().rate_per_day, lo, hi, arrivals[s]});
    }
    if (exposure < 7.0) return;
    // Time the window [start, censor_at] spends in each true weekday.
    std::vector<double> weekday_exposure(7, 0.0);
    const auto first_day = static_cast<std::int64_t>(std::floor(start));
    const auto last_day = static_cast<std::int64_t>(std::floor(log_.censor_at));
    for (std::int64_t k = first_day; k <= last_day; ++k) {
      const double from = std::max(start, static_cast<double>(k));
      const double to = std::min(log_.censor_at, static_cast<double>(k + 1));
      if (to > from) {
        weekday_exposure[static_cast<std::size_t>(weekday(log_.epoch_day + k))] += to - from;
      }
    }
    std::vector<double> rate(7);
    for (std::size_t w = 0; w < 7; ++w) rate[w] = weekday_count[w] / weekday_exposure[w];
    const double mean = std::accumulate(rate.begin(), rate.end(), 0.0) / 7.0;
    for (std::size_t w = 0; w < 7; ++w) {
      out_.weekly_profile.push_back(rate[w] / mean);
      const auto count = static_cast<std::size_t>(weekday_count[w]);
      const auto [lo, hi] = poisson_interval(count, weekday_exposure[w], level());
      out_.estimates.push_back(EstimateRow{"arrivals.weekly_profile[" + std::to_string(w) + "]",
                                           out_.weekly_profile.back(), lo / mean, hi / mean,
                                           count});
    }
  }

  void estimate_shares() {
    if (!log_.has_segments) return;
    const std::size_t arrived =
        std::accumulate(arrival_segment_.begin(), arrival_segment_.end(), std::size_t{0});
    const std::vector<std::size_t>& counts = arrived > 0 ? arrival_segment_ : all_segment_;
    const std::size_t n = std::accumulate(counts.begin(), counts.end(), std::size_t{0});
    // Shares keep the segments' order: summed in that order, the last is fixed to make 1.
    double head = 0.0;
    for (std::size_t g = 0; g < counts.size(); ++g) {
      double share = static_cast<double>(counts[g]) / static_cast<double>(n);
      if (g + 1 == counts.size()) share = std::max(0.0, 1.0 - head);
      head += share;
      shares_.push_back(share);
      const auto [lo, hi] = jeffreys_interval(counts[g], n, level());
      out_.estimates.push_back(
          EstimateRow{"segments." + log_.segments[g] + ".share", share, lo, hi, n});
    }
  }

  static NextSpec next_spec(const TransitionFit& fit) {
    std::vector<double> weights;
    for (const auto& t : fit.targets) weights.push_back(static_cast<double>(t.count));
    const std::vector<double> p = exact_probabilities(weights);
    NextSpec next;
    for (std::size_t i = 0; i < p.size(); ++i) next.probs.emplace_back(fit.targets[i].to, p[i]);
    return next;
  }

  void build_scenario(const std::string& won) {
    Scenario& sc = out_.scenario;
    sc.file = "<calibrated from " + log_.file + ">";
    sc.name = o_.name;
    sc.description = "calibrated from " + log_.file + " (" + std::to_string(log_.customers.size()) +
                     " customers; day 0 is " + log_.epoch + ")";
    sc.horizon = o_.horizon > 0.0 ? o_.horizon : (log_.censor_at > 0.0 ? log_.censor_at : 1.0);
    sc.report_every = o_.report_every;
    sc.seed = o_.seed;
    sc.replications = o_.replications;
    sc.won = won;
    for (const auto& stage : log_.stages) {
      StageSpec spec;
      spec.name = stage;
      spec.absorbing = absorbing(stage);
      if (!spec.absorbing) {
        const StageFit* f = out_.stage(stage, "");
        spec.dwell = f->dwell.best()->spec();
        spec.next = next_spec(f->next);
      }
      sc.stages.push_back(std::move(spec));
    }
    for (std::size_t g = 0; g < log_.segments.size(); ++g) {
      SegmentSpec segment;
      segment.name = log_.segments[g];
      segment.share = shares_[g];
      for (const StageFit& f : out_.stages) {
        if (f.segment != segment.name || f.pooled || !f.dwell.fitted()) continue;
        StageOverride ov;
        ov.stage = f.stage;
        ov.dwell = f.dwell.best()->spec();
        ov.next = next_spec(f.next);
        segment.stages.push_back(std::move(ov));
      }
      sc.segments.push_back(std::move(segment));
    }
    for (const InitialEstimate& initial : out_.initial) {
      InitialCohort cohort;
      cohort.stage = initial.stage;
      cohort.segment = initial.segment;
      cohort.count = static_cast<std::int64_t>(initial.count);
      sc.arrivals.initial.push_back(std::move(cohort));
    }
    for (const ArrivalEstimate& arrival : out_.arrivals) {
      ArrivalStream stream;
      stream.stage = arrival.stage;
      stream.rate_per_day = arrival.rate_per_day;
      if (!out_.weekly_profile.empty()) {
        // Scenario day j is weekday j mod 7 (Monday = 0); its real weekday is epoch + j.
        for (std::size_t j = 0; j < 7; ++j) {
          stream.weekly_profile.push_back(
              out_.weekly_profile[(static_cast<std::size_t>(log_.epoch_weekday) + j) % 7]);
        }
      }
      sc.arrivals.streams.push_back(std::move(stream));
    }
  }

  const EventLog& log_;
  const CalibrateOptions& o_;
  Calibration out_;
  std::vector<Problem> warnings_;
  std::vector<std::vector<StageData>> data_;
  std::vector<std::vector<DwellComparison>> dwells_;  ///< [group][stage], from fit_dwells()
  std::vector<std::string> made_absorbing_;
  std::vector<std::size_t> arrival_segment_;
  std::vector<std::size_t> all_segment_;
  std::vector<double> shares_;
};

}  // namespace

const StageFit* Calibration::stage(const std::string& name, const std::string& segment) const {
  for (const auto& f : stages) {
    if (f.stage == name && f.segment == segment) return &f;
  }
  return nullptr;
}

const EstimateRow* Calibration::estimate(const std::string& parameter) const {
  return find_estimate(estimates, parameter);
}

Calibration calibrate_logs(const EventLog& log, const CalibrateOptions& options) {
  if (log.customers.empty()) {
    throw InputError(log.file, 0, "", "the log holds no customers");
  }
  check_options(log, options);
  return Calibrator(log, options).run();
}

}  // namespace lcsim
