/// @file calibrate.hpp
/// Calibration from CRM history: estimates with uncertainty from a stage-change log, and a Scenario
/// built from them that compile() accepts.
///
/// **Stays and moves.** A customer's path (t0, s0), (t1, s1), ..., (tm, sm) gives a stay in s_i of
/// t_{i+1} - t_i that ended with a move s_i -> s_{i+1} (a repeated stage is a re-entry, which
/// scenarios allow), and a last stay in s_m still open at the end of observation: right-censored
/// at censor_at - t_m, unless s_m is absorbing. Per stage (and per segment when the log has them)
/// the stays are fitted by every dwell family (dwell_fit.hpp), the minimum-AIC family is chosen,
/// and the moves give next-probabilities (transition_fit.hpp).
///
/// **Segments.** The stage fits over all customers are the scenario's stage values. A segment gets
/// its own dwell and next for a stage (a segment override) when it has at least
/// min_segment_observations moves out of that stage; otherwise it is pooled with the all-segment
/// fit, and a warning says so. Segment shares are the segments' fractions of arriving customers
/// (of all customers when none arrives), with Jeffreys intervals.
///
/// **Arrivals and the initial cohort.** A log starts in the middle of things: customers already in
/// the funnel show up in its first days with whatever stage change they make next. Entry stages are
/// the first stages of customers first seen after the first `initial_cohort_days` days of the log.
/// A customer first seen within those days whose first stage is *not* an entry stage is taken as
/// already present: it joins the initial cohort (placed at day 0 in that stage and segment). Every
/// other customer is an arrival, counted at its first row, except customers already in an entry
/// stage at the start: when an entry stage has more first appearances within those days than its
/// later rate explains (P(Poisson(rate * days) >= count) < 1e-3, rate from the customers first
/// seen there after those days), the excess, earliest first, joins the initial cohort in that
/// stage and a warning says so. Each entry stage gets a Poisson stream with rate = arrivals /
/// exposure, exposure = censor_at - first timestamp, and an exact (Garwood) interval. A customer
/// already present whose next change enters an entry stage is counted as an arrival: the log
/// cannot tell the two apart.
///
/// **Weekly profile.** Arrivals per true weekday (from the epoch's date), divided by the time the
/// observation window spends in that weekday, relative to their mean: Monday first
/// (Calibration::weekly_profile and the `arrivals.weekly_profile[i]` rows). Scenarios treat day 0
/// as a Monday, and scenario day 0 is the epoch, so the scenario's profile is rotated by the
/// epoch's weekday: its entry j is the weight of the real weekday of epoch + j (no rotation when
/// the epoch is a Monday). No profile when the window is shorter than 7 days.
///
/// **Time.** Scenario day 0 is the log's epoch (EventLog::epoch, by default the date of the first
/// row), and the horizon defaults to censor_at, so a run replays the observed window.
///
/// **Stages nobody leaves.** A non-absorbing stage with no observed move out has no dwell or next
/// to estimate; the scenario makes it absorbing and a warning says so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lcsim/calibrate/dwell_fit.hpp"
#include "lcsim/calibrate/estimate.hpp"
#include "lcsim/calibrate/history.hpp"
#include "lcsim/calibrate/option_spelling.hpp"
#include "lcsim/calibrate/transition_fit.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/model/scenario.hpp"

namespace lcsim {

struct CalibrateOptions {
  /// The stage that counts as a conversion; empty: "won" when the log has that stage.
  std::string won;
  /// How hints in messages name options (the C++ field, the CLI flag or the Python keyword).
  OptionSpelling spelling = OptionSpelling::kCpp;
  /// Moves out of a stage a segment needs for its own fit of that stage; fewer: pooled.
  std::size_t min_segment_observations = 30;
  /// Days at the start of the log in which customers may belong to the initial cohort.
  double initial_cohort_days = 7.0;
  /// Dirichlet concentration per observed target for next-probability intervals.
  double transition_prior = 0.5;
  /// Dwell fitting: families tried, interval level, shortest duration.
  DwellFitOptions dwell;
  /// Threads for the dwell fits (every stage, segment and family its own fit); 0: all cores.
  /// The result is the same at any count.
  int threads = 0;
  // ---- the scenario ----
  std::string name = "calibrated";
  double horizon = 0.0;       ///< days; 0: censor_at (the observed window from the epoch)
  double report_every = 7.0;  ///< days
  std::uint64_t seed = 1;
  int replications = 10;
};

/// One row of the dwell family comparison.
struct FamilyRow {
  std::string stage;
  std::string segment;  ///< "" for the all-segment fit
  std::string family;
  bool fitted = false;
  double loglik = 0.0;  ///< NaN when not fitted
  double aic = 0.0;     ///< NaN when not fitted
  std::vector<std::pair<std::string, double>> params;
  bool chosen = false;
  std::size_t n_events = 0;
  std::size_t n_censored = 0;
  std::string note;  ///< DwellFit::reason
};

/// Everything estimated for one stage over all customers or one segment.
struct StageFit {
  std::string stage;
  std::string segment;            ///< "" for all segments
  std::vector<double> durations;  ///< stays, days
  std::vector<bool> censored;     ///< same size: open at censor_at
  DwellComparison dwell;          ///< empty (not fitted) when there is no move out
  TransitionFit next;             ///< targets by decreasing count
  bool pooled = false;            ///< segment with too few moves: the scenario uses the
                                  ///< all-segment fit
};

/// Customers that enter through one stage.
struct ArrivalEstimate {
  std::string stage;
  std::size_t count = 0;  ///< arrivals observed
  double rate_per_day = 0.0;
  double ci_low = 0.0;
  double ci_high = 0.0;
};

/// Customers taken as already present at the start of the log.
struct InitialEstimate {
  std::string stage;
  std::string segment;  ///< "" without segments
  std::size_t count = 0;
};

/// The result of calibrate_logs().
struct Calibration {
  std::string file;              ///< the log's file
  std::string epoch;             ///< day 0 as "YYYY-MM-DD"
  int epoch_weekday = 0;         ///< 0 = Monday
  double window_start = 0.0;     ///< first timestamp, days since the epoch
  double window_end = 0.0;       ///< censor_at, days since the epoch
  std::vector<StageFit> stages;  ///< all-segment fits in stage order, then per segment
  std::vector<ArrivalEstimate> arrivals;
  std::vector<InitialEstimate> initial;
  double arrival_rate = 0.0;           ///< all streams, per day
  std::vector<double> weekly_profile;  ///< true weekdays, Monday first, mean 1; empty if < 7 days
  std::vector<EstimateRow> estimates;
  std::vector<FamilyRow> families;
  std::vector<Problem> warnings;  ///< the log's warnings, then the calibration's
  Scenario scenario;              ///< ready for compile(); `source` is empty (no YAML text)

  /// The all-segment (segment "") or segment fit of a stage; nullptr when none.
  [[nodiscard]] const StageFit* stage(const std::string& name,
                                      const std::string& segment = "") const;
  /// The estimate row of a parameter path; nullptr when none.
  [[nodiscard]] const EstimateRow* estimate(const std::string& parameter) const;
};

/// Calibrates a stage model from a cleaned log.
/// @throws InputError (file = the log's file, line 0, field = the option) when the won stage is
///         not given and the log has no stage "won", or names a stage the log does not have, or
///         when an option is out of range (horizon, report_every, replications, ...)
[[nodiscard]] Calibration calibrate_logs(const EventLog& log, const CalibrateOptions& options = {});

}  // namespace lcsim
