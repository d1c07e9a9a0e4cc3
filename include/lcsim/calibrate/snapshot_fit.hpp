/// @file snapshot_fit.hpp
/// Calibration from stage snapshots (panel data): a continuous-time Markov model fitted by maximum
/// likelihood when only the stage at each observation date is known (e.g. monthly CRM exports).
///
/// **Data.** A snapshot file has a header row and one row per (customer, date): a customer id, a
/// date or timestamp (the forms of kTimestampFormats) and the stage the customer was in. Times are
/// counted in days since an epoch, as for stage-change logs (history.hpp). A snapshot date without
/// a time of day means the end of that day by default (SnapshotOptions::date_means): an export
/// labelled 2025-01-31 shows the stages as of the close of that day, including accounts created
/// on it. A creation time given as a date alone means the start of that day. Errors (thrown together
/// as one InputError naming file, line and column): an empty file, a missing column, a row with the
/// wrong number of fields, an empty id or stage, a missing or unparseable date, an unknown stage
/// (when a stage list or map is given), and two rows of one customer with the same date and
/// different stages. Warnings (SnapshotLog::warnings): repeated identical rows (dropped), rows out
/// of order within a customer (sorted), rows after an absorbing stage that show another stage
/// (ignored), and customers with a single usable row and no earlier creation time (not used: one
/// observation carries no information about moves).
///
/// **Model.** A generator Q (S x S, rows sum to 0) with q_ab > 0 on the *allowed transitions* and 0
/// elsewhere; absorbing stages have zero rows. P(t) = expm(Q t) is the matrix of probabilities of
/// being in b at time t after being in a. The allowed transitions are either given
/// (MarkovFitOptions::transitions) or inferred: every ordered pair (a, b), a != b, seen at two
/// consecutive observations of one customer, from a non-absorbing a, and nothing else. An inferred
/// pair can be an artefact of the panel design: a customer seen in lead and, a month later, in sql
/// may have passed through mql in between, and inference then adds a direct lead -> sql rate that
/// the data may drive towards zero (its estimate ends at the lower bound, with no interval). Give
/// the transitions explicitly when the stage model's structure is known.
///
/// **Likelihood.** Each pair of consecutive observations (a at t, b at t + dt) of one customer
/// contributes log P(dt)[a, b]: the path between is interval-censored. Pairs with the same dt are
/// grouped, so monthly data needs one matrix exponential per distinct interval. Rates are
/// parametrised as q_ab = exp(theta_ab) and the log-likelihood is maximised with NLopt's LD_LBFGS
/// using an analytic gradient: with W = n ./ P(dt) (elementwise, counts over probabilities), the
/// gradient of sum n log P(dt) with respect to Q is dt * L(dt Q^T, W), where L(A, E) is the
/// Fréchet derivative of expm, read off the top-right block of expm([[A, E], [0, A]]) (Van
/// Loan). One 2S x 2S exponential per distinct interval gives the gradient in every theta at once.
///
/// **Maximum.** L-BFGS from crude rates; a rate left at its lower bound whose score
/// d loglik / dq is positive is opened and the fit run again (the Karush-Kuhn-Tucker check,
/// which L-BFGS cannot make in log q, where the gradient vanishes at the bound).
///
/// **Boundaries.** A rate at its lower bound is answered as 0 with an upper bound (the profile
/// likelihood's second-order expansion at 0, one-sided), and so is its next-stage probability
/// (EstimateRow::method "boundary"). A next-stage probability near 0 (its Wald interval would
/// reach 0) gets the likelihood-ratio test of 0 (the fit without the transition; chi-bar-squared
/// p-value in EstimateRow::p_zero) and profile-likelihood bounds instead of a logit-scale Wald
/// interval: [0, upper bound] when 0 is not rejected.
///
/// **Uncertainty.** The observed information is minus the Hessian of the log-likelihood in theta,
/// by central differences of the analytic gradient, inverted with Eigen after a positive
/// definiteness check (when it fails, standard errors and intervals are NaN and the fit says why).
/// Intervals for q_ab are Wald intervals on the log scale, exp(theta +- z se). Derived quantities
/// use the delta method: mean sojourn m_a = -1/q_aa on the log scale, jump probabilities
/// p_ab = q_ab / -q_aa on the logit scale (so both stay in their ranges).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lcsim/calibrate/estimate.hpp"
#include "lcsim/calibrate/option_spelling.hpp"
#include "lcsim/calibrate/timestamp.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/model/scenario.hpp"

namespace lcsim {

/// The moment a snapshot date without a time of day stands for (SnapshotOptions::date_means).
enum class DateMeans {
  kEndOfDay,  ///< 23:59:59 UTC of the date: the state as of the close of the day (month-end exports)
  kStartOfDay,  ///< 00:00:00 UTC of the date: the state before anything happened that day
};

/// "end-of-day" or "start-of-day"; std::nullopt for anything else.
[[nodiscard]] std::optional<DateMeans> parse_date_means(std::string_view text);

/// How to read a snapshot file.
struct SnapshotOptions {
  std::string customer_column = "customer_id";
  std::string time_column = "date";
  std::string stage_column = "stage";
  /// A column with each customer's creation (entry) time, used when the header has it: the
  /// phase-type fit (phase_fit.hpp) then knows how long the customer had been in the pipeline at
  /// its first snapshot. Every row of a customer must give the same value (or leave it empty), no
  /// later than its first snapshot. Empty: never read.
  std::string created_column = "created";
  /// A column with the time the customer entered the row's stage, when the export knows it
  /// exactly (a stage-entry timestamp, or a won / lost date filled on the closed rows only),
  /// used when the header has it: such a row is an exact entry (then a stay), not a snapshot of
  /// an unknown path. Empty values: unknown. It may not be later than the row's date, earlier
  /// than the creation time, or earlier than the previous snapshot of another stage. Empty: never
  /// read.
  std::string entered_column = "entered";
  /// Absorbing stages whose date in the time column is the exact time the customer entered them
  /// (msm's `deathexact`: an exact death date after panel visits): the first row in such a stage
  /// is an exact entry, from whichever stage the customer was in just before.
  std::vector<std::string> exact_stages;
  /// A column naming each customer's segment (e.g. "segment"); empty: the snapshots have no
  /// segments. When given, the header must have it and no row may leave it empty; a customer whose
  /// rows name different segments keeps the segment of its first row (in time order), with a
  /// warning. The phase-type calibration then fits each segment too (snapshot_scenario.hpp).
  std::string segment_column;
  /// CRM stage name -> stage name. When given, every value of the stage column must be a key or a
  /// value of the map (or one of `stages`); other values are errors.
  std::map<std::string, std::string> stage_map;
  /// Known stage names (after mapping), in model order. When given, any other stage is an error.
  std::vector<std::string> stages;
  /// Stages that end a path (lost, churned): later rows of the customer are ignored.
  std::vector<std::string> absorbing;
  /// Day 0 as a date "YYYY-MM-DD"; empty: the UTC date of the earliest row (as for event logs) or
  /// of the earliest creation time, when earlier.
  std::string epoch;
  /// What a date without a time of day in the time column means (a creation time given as a date
  /// alone always means the start of its day: the customer exists from that day on).
  DateMeans date_means = DateMeans::kEndOfDay;
  /// Field separator; 0: ',' unless the header has ';' and no ',' (as for event logs).
  char separator = 0;
  /// Also accept day-first or month-first dates (DD/MM/YYYY ...) in the time and created columns.
  DateOrder date_order = DateOrder::kIso;
  /// How hints in messages name options (the C++ field, the CLI flag or the Python keyword).
  OptionSpelling spelling = OptionSpelling::kCpp;
  /// How many row numbers a warning lists before "...".
  std::size_t rows_listed = 5;
};

/// One observation of a customer's stage.
struct SnapshotObservation {
  double time = 0.0;  ///< days since the epoch
  std::string stage;  ///< stage name (after the stage map)
  int line = 0;       ///< line of the row in the file
  /// Days since the epoch when the customer entered `stage`, when known exactly
  /// (SnapshotOptions::entered_column, exact_stages); NaN when unknown.
  double entered = std::numeric_limits<double>::quiet_NaN();
};

/// One customer's observations in time order (at least two, or one after its creation time).
struct SnapshotPath {
  std::string id;
  std::vector<SnapshotObservation> observations;
  /// Days since the epoch when the customer was created (SnapshotOptions::created_column); NaN
  /// when unknown.
  double created = std::numeric_limits<double>::quiet_NaN();
  /// SnapshotOptions::segment_column's value; empty without segments.
  std::string segment;
};

/// A cleaned snapshot file.
struct SnapshotLog {
  std::string file;
  std::string epoch;                      ///< day 0, "YYYY-MM-DD"
  std::int64_t epoch_day = 0;             ///< the epoch in days since 1970-01-01
  std::vector<std::string> stages;        ///< SnapshotOptions::stages when given, else the stages
                                          ///< that occur in funnel order along the customers' paths
                                          ///< (as EventLog::stages), absorbing stages last
  std::vector<std::string> absorbing;     ///< SnapshotOptions::absorbing
  std::string created_column;             ///< the column creation times came from; empty: none
  std::string segment_column;             ///< the column segments came from; empty: none
  std::string entered_column;             ///< the column exact entry times came from; empty: none
  std::vector<std::string> exact_stages;  ///< SnapshotOptions::exact_stages
  std::vector<std::string> segments;      ///< segments of the customers kept, in order of first
                                          ///< occurrence (empty without a segment column)
  std::vector<SnapshotPath> customers;    ///< customers with >= 2 usable rows (or one after their
                                          ///< creation time), in file order
  std::size_t rows = 0;                   ///< data rows read
  std::size_t rows_used = 0;              ///< rows kept in customer paths
  std::size_t customers_single = 0;       ///< customers with one usable row (not used)
  std::vector<Problem> warnings;
};

/// Reads and checks a snapshot file.
/// @throws IoError when the file cannot be opened; InputError listing every error found
[[nodiscard]] SnapshotLog read_snapshots(const std::string& path,
                                         const SnapshotOptions& options = {});

/// Same, from a stream; `file` names the input in messages.
/// @throws IoError when the stream cannot be read; InputError listing every error found
[[nodiscard]] SnapshotLog parse_snapshots(std::istream& in, const std::string& file,
                                          const SnapshotOptions& options = {});

/// The customers of one segment, with the log's stages, epoch and columns (their fit is the fit of
/// that segment: customers are independent). `segments` holds `segment` alone.
/// @throws std::invalid_argument when `segment` is not one of log.segments
[[nodiscard]] SnapshotLog segment_of(const SnapshotLog& log, const std::string& segment);

/// Consecutive-observation counts grouped by interval length: the sufficient statistics of the
/// panel likelihood.
struct PanelCounts {
  std::vector<std::string> stages;
  std::vector<bool> absorbing;  ///< per stage
  struct Interval {
    double dt = 0.0;             ///< days between the two observations (> 0)
    std::vector<double> counts;  ///< S x S row-major: pairs (from, to) with this dt
  };
  std::vector<Interval> intervals;  ///< by increasing dt
  std::vector<double> pairs;        ///< S x S row-major: pairs over all intervals
  std::vector<double> time_from;    ///< per stage: sum of dt over pairs starting there
  std::vector<int> first_line;      ///< S x S: line of the later row of the first such pair
  std::size_t n_transitions = 0;    ///< pairs used (including a -> a)
  std::size_t n_customers = 0;

  [[nodiscard]] std::size_t size() const noexcept { return stages.size(); }
};

/// Groups the consecutive observations of a log. Pairs starting in an absorbing stage are left
/// out (they carry no information); observations at the same time as the previous one are skipped.
[[nodiscard]] PanelCounts count_panel(const SnapshotLog& log);

/// The log-likelihood sum over intervals of n[a, b] log expm(Q dt)[a, b] as a function of the log
/// rates theta of a fixed list of transitions, with its analytic gradient.
class PanelLikelihood {
 public:
  /// @param transitions (from, to) stage indices into counts.stages, from != to
  /// @throws std::invalid_argument for an index out of range or from == to
  PanelLikelihood(PanelCounts counts, std::vector<std::pair<int, int>> transitions);

  /// Log-likelihood at log rates `theta` (one per transition); fills `gradient` (resized) when
  /// given. Returns -inf when an observed pair has probability 0 under the rates.
  [[nodiscard]] double value(const std::vector<double>& theta,
                             std::vector<double>* gradient = nullptr) const;

  /// Log-likelihood of a full generator (S x S row-major; the diagonal is ignored and replaced by
  /// minus the row sum of the off-diagonal entries). Any off-diagonal pattern is allowed.
  [[nodiscard]] double value_of_generator(const std::vector<double>& generator) const;

  [[nodiscard]] const PanelCounts& counts() const noexcept { return counts_; }
  [[nodiscard]] const std::vector<std::pair<int, int>>& transitions() const noexcept {
    return transitions_;
  }

 private:
  PanelCounts counts_;
  std::vector<std::pair<int, int>> transitions_;
};

struct MarkovFitOptions {
  /// Allowed transitions (from, to) by stage name; empty: inferred from the data (see the file
  /// comment).
  std::vector<std::pair<std::string, std::string>> transitions;
  /// Confidence level of the intervals.
  double level = 0.95;
  /// Bounds on each rate, per day. An estimate at a bound has no interval.
  double min_rate = 1e-8;
  double max_rate = 1e3;
  /// NLopt limits.
  int max_evaluations = 2000;
  double relative_tolerance = 1e-12;
};

/// One rate of the generator.
struct RateEstimate {
  std::string from;
  std::string to;
  double rate = 0.0;    ///< q_ab, per day
  double se_log = 0.0;  ///< standard error of log q_ab (NaN without a valid information)
  double ci_low = 0.0;  ///< exp(log q -+ z se_log) (NaN as se_log); [0, upper bound] at min_rate
  double ci_high = 0.0;
  std::size_t n = 0;      ///< observed pairs from `from` to `to` (not necessarily direct moves)
  bool at_bound = false;  ///< the estimate lies on min_rate or max_rate
};

/// The result of fit_snapshots().
struct MarkovFit {
  std::string file;
  std::vector<std::string> stages;
  std::vector<bool> absorbing;    ///< per stage: given absorbing, or without allowed exits
  std::vector<double> generator;  ///< Q, S x S row-major, rows sum to 0
  bool transitions_inferred = false;
  std::vector<RateEstimate> rates;  ///< one per allowed transition, in fitting order
  std::vector<double> covariance;   ///< of theta = log rates, K x K row-major (NaN when the
                                    ///< information is not positive definite)
  /// Tidy table: "Q.<from>.<to>" rates, "stages.<s>.dwell.mean" mean sojourns (days) and
  /// "stages.<s>.next.<to>" jump probabilities. n: pairs starting in <from> / <s>.
  std::vector<EstimateRow> estimates;
  double loglik = 0.0;
  std::size_t n_transitions = 0;  ///< consecutive-observation pairs used
  std::size_t n_customers = 0;
  std::size_t n_intervals = 0;  ///< distinct interval lengths
  bool converged = false;
  std::string status;  ///< the NLopt result, e.g. "FTOL_REACHED"
  int evaluations = 0;
  double gradient_norm = 0.0;  ///< max |d loglik / d theta| at the optimum
  bool information_positive_definite = false;
  double level = 0.95;
  std::vector<Problem> warnings;  ///< the log's, then the fit's

  /// q_ab (0 when not allowed); throws std::out_of_range for an unknown stage.
  [[nodiscard]] double rate(const std::string& from, const std::string& to) const;
  /// The estimate row of a parameter; nullptr when none.
  [[nodiscard]] const EstimateRow* estimate(const std::string& parameter) const;
};

/// Fits a continuous-time Markov model to snapshots.
/// @throws InputError (file = the log's file) for a transition naming an unknown stage, a
///         transition out of an absorbing stage or to itself, an observed pair that the allowed
///         transitions cannot produce, or a log without any pair of observations
[[nodiscard]] MarkovFit fit_snapshots(const SnapshotLog& log, const MarkovFitOptions& options = {});

/// Stage entries for a Scenario from a fit: absorbing stages (zero rows) are absorbing; every
/// other stage gets an exponential dwell with mean -1/q_aa and next-probabilities q_ab / -q_aa in
/// decreasing order, adding up to exactly 1 when summed in order.
[[nodiscard]] std::vector<StageSpec> markov_stage_specs(const MarkovFit& fit);

}  // namespace lcsim
