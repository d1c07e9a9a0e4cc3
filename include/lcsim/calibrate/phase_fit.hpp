/// @file phase_fit.hpp
/// Calibration from stage snapshots with phase-type dwells: a semi-Markov stage model whose
/// dwells are Coxian (coxian.hpp, 1 to 3 phases a stage, chosen by BIC or AIC) and whose next-stage
/// choice does not depend on how long the customer stayed, fitted by maximum likelihood to panel
/// data (snapshot_fit.hpp reads them). With one phase everywhere it is the continuous-time Markov
/// model of fit_snapshots(); with more it removes the Markov fit's bias when dwells are not
/// exponential (a lead that just arrived is less likely to leave this week than one that has sat
/// for a month, or the opposite).
///
/// **Model.** Each non-absorbing stage a is expanded into k_a phases; phase i of a lasts
/// Exp(r_ai) and then the dwell ends with probability p_ai (p_a,k = 1), else phase i + 1 starts.
/// A dwell that ends moves to stage b with probability pi_ab (the allowed transitions, as in
/// fit_snapshots), entering b's first phase. The expanded process is a Markov chain with generator
/// Q (phase i of a -> phase i + 1 at rate r_ai (1 - p_ai), -> phase 1 of b at r_ai p_ai pi_ab);
/// the observed stage is the set of its phases (an aggregated Markov chain).
///
/// **Likelihood.** Exact for interval-censored paths mixed with exactly timed observations: for
/// each customer, the forward recursion over its observations with P(dt) = expm(Q dt) (gaps are
/// whole multiples of PhaseFitOptions::resolution_days, and P(m u) = P(u)^m: one exponential per
/// evaluation). A snapshot contributes the probability of being in its stage; an exact entry (a
/// stage-entry time, or the date of an exact stage, SnapshotOptions::entered_column and
/// exact_stages: msm's obstype 2 and deathexact) the density of a jump into the stage at that
/// time, from any other stage; the time after an exact entry up to the snapshot the probability
/// of staying. The customer starts in the first phase of the stage of its first observation at
/// that date (its entry time when known), or, when the snapshots carry a creation time before it,
/// in the first phase of the entry stage at the creation time (PhaseFitOptions::entry_stage).
/// The gradient is analytic: the backward recursion gives d loglik / dP for every gap, the power
/// chain's adjoint and one Fréchet derivative of expm (Van Loan's block exponential) give
/// d loglik / dQ, and the chain rule the parameters theta = (log r, logit p, next-stage logits
/// against each stage's reference exit, the exit with the most observed pairs).
///
/// **Finding the maximum.** The Markov model (one phase everywhere) is maximised with NLopt's
/// L-BFGS from several starts: the continuous-time Markov fit of fit_snapshots(), the same with
/// every next-stage probability lifted to at least PhaseFitOptions::start_floor (so that a
/// transition the Markov fit left at 0 can leave the boundary), crude estimates from the
/// observed pairs, and PhaseFitOptions::random_starts random ones; the best is kept and every
/// start's log-likelihood is reported (PhaseTypeFit::starts). Every model with more phases is
/// started from the model it extends (its Coxian grown by one phase in up to three ways) and
/// from the same with the floor applied to next-stage probabilities below it.
///
/// **Choice.** The Markov model first. Screening: one more phase for each stage alone (stages
/// with at least min_pairs observed pairs), which orders the stages by the evidence for a
/// non-exponential dwell. Forward: in that order, one more phase at a time while the criterion
/// keeps it (PhaseFitOptions::criterion: by default the likelihood-ratio test at phase_level,
/// chi-square with 2 df, conservative because the smaller model lies on the boundary p -> 1; or
/// AIC, or BIC). Backward: for each stage that got phases, one fewer where the criterion prefers
/// it given the others (a stage fitted early may have taken a phase for a neighbour's misfit).
/// Every model tried is reported with its log-likelihood, AIC, BIC and LR test.
///
/// **Uncertainty.** The observed information by central differences of the analytic gradient.
/// Parameters on a bound (and phase exits or next-stage logits so extreme that the likelihood is
/// flat in them) are held fixed. Where the information of the others is positive definite,
/// quantities get delta-method (Wald) intervals on the log (mean dwells) or logit
/// (probabilities) scale. Otherwise the quantities whose gradient lies in the identified
/// subspace keep Wald intervals (pseudo-inverse), and the others get profile-likelihood
/// intervals, open on a side the data do not bound (EstimateRow::note says so, and
/// PhaseTypeFit::not_identified lists them). A probability at or near 0 (its Wald interval would
/// reach 0 on the probability scale) never gets a Wald interval: a next-stage probability is
/// tested against 0 by the likelihood ratio of the fit without that exit (p-value from the
/// chi-bar-squared mixture: half a chi-square(1) tail); when 0 is not rejected at the level the
/// answer is [0, upper bound] with the one-sided profile-likelihood bound (method "boundary"),
/// else a two-sided profile-likelihood interval (method "profile"). Derived quantities: mean dwells
/// (exact Coxian means), next-probabilities, P(ending in each absorbing stage) and P(reaching the
/// conversion stage) from the entry stage, and occupancies (P(in stage s at day D) of a customer
/// entering the entry stage at day 0).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lcsim/calibrate/estimate.hpp"
#include "lcsim/calibrate/snapshot_fit.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/model/scenario.hpp"

namespace lcsim {

struct PhaseFitOptions {
  /// Allowed transitions (from, to) by stage name; empty: inferred as fit_snapshots() does.
  std::vector<std::pair<std::string, std::string>> transitions;
  /// Most phases a stage may get (1..3); 1 fits the Markov model only.
  int max_phases = 3;
  /// Phases fixed by stage name (1..4), instead of the choice by AIC.
  std::map<std::string, int> phases;
  /// A stage tries more than one phase only with at least this many observed pairs from it.
  std::size_t min_pairs = 50;
  /// Where a customer with a creation time before its first snapshot entered; empty: the
  /// non-absorbing stage most customers with a creation time are first seen in (the first
  /// non-absorbing stage of the log's list without creation times).
  std::string entry_stage;
  /// Gaps between observations are rounded to multiples of this (days, > 0).
  double resolution_days = 1.0;
  /// Days at which the occupancy of every stage is estimated.
  std::vector<double> occupancy_days = {365.0};
  double level = 0.95;
  /// Random starts per candidate model in addition to the warm start (>= 0).
  int extra_starts = 1;
  /// Random starts of the Markov (one-phase) model in addition to the Markov fit, the floored
  /// and the crude start (>= 0).
  int random_starts = 2;
  /// Next-stage probabilities below this are lifted to it in the floored starts ([0, 0.5)).
  double start_floor = 0.05;
  /// How the number of phases is chosen: "lr" (a phase is added when the likelihood-ratio test
  /// against the model without it gives p < phase_level, chi-square with 2 df, and removed in the
  /// backward pass when it no longer does), "bic" (k log(observations) penalty; observations:
  /// snapshot pairs and exact entries) or "aic" (2 k).
  std::string criterion = "lr";
  /// The level of the "lr" criterion's test, in (0, 1).
  double phase_level = 0.05;
  /// The conversion stage: P(reaching it) from the entry stage is estimated as
  /// "conversion.<won>". Empty: none.
  std::string won;
  int max_evaluations = 3000;
  double relative_tolerance = 1e-10;
};

/// One model tried in the choice.
struct PhaseCandidate {
  std::string stage;        ///< the stage whose phases changed ("" for the Markov model)
  std::vector<int> phases;  ///< per stage (absorbing stages 1)
  double loglik = 0.0;
  std::size_t parameters = 0;
  double aic = 0.0;
  double lr_statistic = 0.0;  ///< against the model it extends (NaN for the first)
  double lr_p_value = 0.0;    ///< chi-square, 2 df
  double bic = 0.0;           ///< k log(observations) - 2 loglik
  /// "markov" (the start), "screen" (one more phase for this stage alone, from the Markov model:
  /// its gain orders the stages), "add" (one more phase) or "remove" (one fewer, the backward
  /// pass).
  std::string step;
  bool chosen = false;  ///< kept by the criterion (screening rows are never kept)
  /// Kept because the stage's Coxian was at the edge of its family (an Erlang: equal rates, no
  /// early exit), which one more phase can only improve.
  bool edge = false;
  bool converged = false;
};

/// One start of the Markov (one-phase) model's maximisation.
struct PhaseStart {
  std::string start;    ///< "markov fit", "floored", "crude", "random 1", ...
  double loglik = 0.0;  ///< where L-BFGS ended from it
  bool converged = false;
  bool best = false;  ///< the start kept
};

/// The fitted Coxian dwell of one stage.
struct PhaseDwell {
  std::string stage;
  std::vector<double> rates;  ///< per phase, per day
  std::vector<double> exit;   ///< per phase, the last 1
  double mean = 0.0;          ///< exact mean dwell (days)
  double ci_low = 0.0;
  double ci_high = 0.0;
  std::size_t n = 0;  ///< observed pairs starting in the stage
};

/// The result of fit_phase_type().
struct PhaseTypeFit {
  std::string file;
  std::vector<std::string> stages;
  std::vector<bool> absorbing;  ///< per stage
  std::vector<int> phases;      ///< chosen, per stage (absorbing 1)
  std::string entry_stage;
  std::vector<PhaseDwell> dwells;  ///< non-absorbing stages, in stage order
  /// Next-stage probabilities by (from, to) as "stages.<from>.next.<to>"; mean dwells as
  /// "stages.<s>.dwell.mean"; occupancies as "occupancy.<day>.<stage>" (share of a customer
  /// entering the entry stage at day 0 who is in <stage> at day <day>).
  std::vector<EstimateRow> estimates;
  /// The same rows for the Markov model (one phase everywhere) fitted to the same likelihood: how
  /// much the answer moves.
  std::vector<EstimateRow> markov_estimates;
  std::vector<PhaseCandidate> candidates;  ///< every model tried, in order
  std::vector<PhaseStart> starts;          ///< every start of the Markov model
  /// Estimate rows (of `estimates`) whose interval the data leave open on a side, with why.
  std::vector<std::string> not_identified;
  std::string criterion;       ///< "bic" or "aic"
  double loglik = 0.0;         ///< of the chosen model
  double loglik_markov = 0.0;  ///< of k = 1 everywhere, on the same likelihood
  double aic = 0.0;
  double aic_markov = 0.0;
  double bic = 0.0;
  double bic_markov = 0.0;
  std::size_t parameters = 0;
  std::vector<double> theta;       ///< the chosen model's parameters
  std::vector<double> covariance;  ///< of theta, row-major (NaN when not positive definite)
  bool information_positive_definite = false;
  bool converged = false;
  std::size_t n_customers = 0;
  std::size_t n_observations = 0;  ///< transitions between observations (incl. from creation)
  std::size_t n_created = 0;       ///< customers starting at a creation time
  std::size_t n_intervals = 0;     ///< distinct gap lengths
  std::size_t n_exact = 0;         ///< exact entries (stage-entry times, exact stages)
  double level = 0.95;
  std::vector<Problem> warnings;  ///< the fit's (the log's are in the log)

  [[nodiscard]] const EstimateRow* estimate(const std::string& parameter) const;
};

/// Fits the phase-type stage model to snapshots and chooses the phases by AIC.
/// @throws InputError (file = the log's file) as fit_snapshots() does for bad transitions, and for
///         a bad option (max_phases, phases, entry_stage, resolution_days, occupancy_days)
[[nodiscard]] PhaseTypeFit fit_phase_type(const SnapshotLog& log,
                                          const PhaseFitOptions& options = {});

/// The log-likelihood of one choice of phases (per stage, in the order of the log's stages;
/// absorbing stages 1) at parameters theta (per non-absorbing stage: log rates, exit logits,
/// next-stage logits against the first allowed exit), with its analytic gradient when asked: for
/// tests and diagnostics.
/// @throws std::invalid_argument for sizes that do not match; what fit_phase_type() throws
[[nodiscard]] double phase_type_loglik(const SnapshotLog& log, const PhaseFitOptions& options,
                                       const std::vector<int>& phases,
                                       const std::vector<double>& theta,
                                       std::vector<double>* gradient = nullptr);

/// Stage entries for a Scenario: one-phase stages get an exponential dwell, others a coxian dwell
/// with the fitted rates and exits; next-probabilities as markov_stage_specs() writes them.
[[nodiscard]] std::vector<StageSpec> phase_type_stage_specs(const PhaseTypeFit& fit);

}  // namespace lcsim
