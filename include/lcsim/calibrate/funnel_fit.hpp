/// @file funnel_fit.hpp
/// Calibration from aggregate funnel counts (stage entries per period), fitted by matching a
/// continuous-time Markov model's expected entries. For when nothing finer than a CRM's funnel
/// report exists; `lcsim calibrate --funnel` and `lcsim.calibrate(funnel=...)` use this code.
///
/// **Data.** A CSV file (or text) with a header row and the columns `period, stage, entries`, one
/// row per (period, stage): entries = customers who entered the stage in the period. A period is
/// either a date (`YYYY-MM`, meaning the first of the month, or one of kTimestampFormats) or an
/// integer; integer periods must be consecutive and last `period_days` days each (default 30).
/// Dated periods start at their dates; the last one lasts `period_days`, or the days of its month
/// when every period is the first of a month, or as long as the one before it. Every stage that has
/// rows must have one in every period (0 entries are written as 0). Errors, thrown together as one
/// InputError naming file, line and column: an empty file, a missing column, a row with the wrong
/// number of fields, a period that is neither a date nor an integer, integer periods with gaps, an
/// unknown stage (with "did you mean"), entries that are not counts (integers >= 0), a second row
/// for one (period, stage), a missing (period, stage) row of a counted stage, an entry stage without
/// counts, and no counted stage to fit.
///
/// **Model.** Exponential dwells: stage s is left at rate 1/m_s towards target t with probability
/// p_st (FunnelFitOptions::transitions give the targets, in order; the stages are the transitions'
/// sources, then the other targets, which are absorbing, sorted by name). Customers arrive into
/// the *entry stages* (those no transition leads to) at a constant rate within each period, equal
/// to that stage's observed entries in the period over its length. With B the generator among the
/// non-absorbing stages and a_k the arrival rates of period k (length L), the occupancy follows
/// x' = x B + a_k, so over a period
///
///     x(end) = x(start) e^{BL} + a_k F1,    integral of x = x(start) F1 + a_k F2,
///     F1 = int_0^L e^{Bs} ds,  F2 = int_0^L int_0^t e^{Bs} ds dt,
///
/// read from one matrix exponential of the block matrix [[B, I, 0], [0, 0, I], [0, 0, 0]] L (Van
/// Loan; Eigen's MatrixFunctions, as the snapshot fit). The expected entries into stage t in the
/// period are (integral of x) . Q[:, t]. At the start of the first period the funnel is empty
/// (FunnelStart::empty) or in the steady state of the first period's arrival rates, x = -a_0 B^-1
/// (FunnelStart::steady, the default: a funnel that has been running).
///
/// **Fit.** The counts of every counted stage except the entry stages are matched by minimising
/// the Poisson deviance 2 sum[y log(y/mu) - (y - mu)] over theta = (log m_s, logits of p_st
/// against the first target) by Fisher scoring with Levenberg-Marquardt damping (the Jacobian of mu
/// by central differences). Fisher scoring is the standard algorithm for Poisson models, and its
/// information J' diag(1/mu) J is the one the covariance needs; NLopt has no such method. The
/// covariance of theta is phi I^-1 with phi = max(1, Pearson chi^2 / (cells - parameters))
/// (quasi-Poisson: real counts are usually overdispersed). Intervals are exp(theta +- z se) for
/// means and delta-method intervals on the logit for probabilities. An arrival stream's rate is
/// the entry stage's total over the days counted, with a normal interval rate +- z sqrt(n) / days.
///
/// **Identifiability.** Counts identify a next-probability when the target's entries are counted
/// and come from that source only (or the sources' flows differ in time). Dwell means are
/// identified only through *changes* of the inflow over time (a ramp-up from an empty funnel,
/// seasonality, a campaign): with a steady inflow and a steady start the expected counts do not
/// depend on the means at all. Means whose interval spans more than a factor of 50 and
/// probabilities whose interval is wider than 0.5 are named in a warning as not identified
/// (FunnelFit::unidentified); a singular information matrix gets a vague ridge (1e-8 times its
/// largest eigenvalue), so the identified parameters keep their intervals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lcsim/calibrate/estimate.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/model/scenario.hpp"

namespace lcsim {

/// The funnel's state at the start of the first period.
enum class FunnelStart {
  steady,  ///< in the steady state of the first period's arrival rates
  empty,   ///< no customer in any stage
};

/// "steady" or "empty"; std::nullopt for anything else.
[[nodiscard]] std::optional<FunnelStart> parse_funnel_start(const std::string& text);

/// One row of a funnel-count file.
struct FunnelRow {
  std::string period;  ///< as written (trimmed)
  std::string stage;
  double entries = 0.0;
  int line = 0;
};

/// A funnel-count file, checked only for its own form (columns, counts); the stages and periods
/// are checked against the model by fit_funnel().
struct FunnelCounts {
  std::string file;
  std::vector<FunnelRow> rows;  ///< in file order
};

/// Reads a funnel-count file (columns period, stage, entries; others are ignored).
/// @throws IoError when the file cannot be opened; InputError listing every error found
[[nodiscard]] FunnelCounts read_funnel_counts(const std::string& path);

/// Same, from a stream; `file` names the input in messages.
[[nodiscard]] FunnelCounts parse_funnel_counts(std::istream& in, const std::string& file);

struct FunnelFitOptions {
  /// Stage -> its targets, in order (the first target is the reference of the logits). Required.
  std::vector<std::pair<std::string, std::vector<std::string>>> transitions;
  /// The conversion stage; empty: "won" when it is a stage of the model (else an error).
  std::string won;
  FunnelStart start = FunnelStart::steady;
  /// Days per integer period, and the last dated period's length (0: see the file comment).
  double period_days = 0.0;
  double level = 0.95;
  /// The calibrated scenario's name, seed and replications.
  std::string name = "calibrated";
  std::uint64_t seed = 1;
  int replications = 10;
  /// Fisher scoring limit.
  int max_iterations = 200;
};

/// The parameters of one non-absorbing stage in theta.
struct FunnelStageParameters {
  std::string stage;
  std::vector<std::string> targets;
  std::size_t offset = 0;  ///< theta[offset] = log mean; theta[offset + j] = logit of targets[j]
                           ///< against targets[0], j = 1 .. targets.size() - 1
};

/// One (period, counted stage) cell: the observed and expected entries at the fit.
struct FunnelCell {
  std::string period;  ///< label: "YYYY-MM-DD" for dates, the integer for integer periods
  std::string stage;
  double observed = 0.0;
  double expected = 0.0;
  bool fitted = false;  ///< false for entry stages (their counts are the arrivals)
};

/// The result of fit_funnel().
struct FunnelFit {
  std::string file;
  std::string epoch;                  ///< day 0 "YYYY-MM-DD" for dated periods, else ""
  std::vector<std::string> periods;   ///< labels, in time order
  std::vector<double> period_starts;  ///< days since the first period's start; one more entry:
                                      ///< the end of the last period
  std::vector<std::string> stages;    ///< non-absorbing first, then absorbing
  std::vector<std::string> entry_stages;
  std::vector<std::string> counted_stages;  ///< stages with rows, in model order
  std::vector<FunnelStageParameters> parameters;
  std::vector<double> theta;       ///< log means and logits at the fit
  std::vector<double> covariance;  ///< of theta, row-major (quasi-Poisson, ridge if singular)
  /// Tidy table: "stages.<s>.dwell.mean", "stages.<s>.next.<t>" (n: the stage's counted entries,
  /// 0 when it has no counts) and "arrivals.streams[i].rate_per_day" (n: the entry stage's entries).
  std::vector<EstimateRow> estimates;
  std::vector<std::string> unidentified;  ///< estimate parameters flagged as not identified
  std::vector<FunnelCell> cells;          ///< period-major, counted stages in model order
  double deviance = 0.0;
  double pearson = 0.0;
  double dispersion = 1.0;
  std::size_t n_cells = 0;  ///< fitted cells
  std::size_t n_parameters = 0;
  int iterations = 0;
  bool converged = false;
  double level = 0.95;
  std::vector<Problem> warnings;
  Scenario scenario;  ///< exponential dwells, the streams, the steady start's
                      ///< initial cohort; horizon = the periods' days

  /// The estimate row of a parameter; nullptr when none.
  [[nodiscard]] const EstimateRow* estimate(const std::string& parameter) const;
};

/// Fits the funnel model to counts.
/// @throws InputError (file = the counts' file) naming line and column, see the file comment; and
///         for transitions without an entry stage, a stage listed as its own target, repeated or
///         no targets, a bad level or period_days, or a `won` that is not a stage
[[nodiscard]] FunnelFit fit_funnel(const FunnelCounts& counts, const FunnelFitOptions& options);

/// Expected entries per period [periods x stages, row-major] of the funnel model at `theta`:
/// `stages` as FunnelFit::stages (parameters[i].stage is stages[i]), `arrivals` per period into
/// each non-absorbing stage [periods x parameters.size(), row-major], `lengths` the periods' days.
/// The entries of a stage with arrivals include them.
/// @throws std::invalid_argument for sizes that do not fit or a target that is not a stage
[[nodiscard]] std::vector<double> funnel_expected_entries(
    const std::vector<std::string>& stages, const std::vector<FunnelStageParameters>& parameters,
    const std::vector<double>& theta, const std::vector<double>& arrivals,
    const std::vector<double>& lengths, FunnelStart start);

}  // namespace lcsim
