/// @file phase_fit.hpp
/// Calibration from stage snapshots with phase-type dwells: a semi-Markov stage model whose
/// dwells are Coxian (coxian.hpp, 1 to 3 phases a stage, chosen by AIC) and whose next-stage
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
/// **Likelihood.** Exact for interval-censored paths: for each customer, the forward recursion
/// over its snapshots, alpha_k = alpha_{k-1} P(dt_k) restricted to the phases of the stage seen at
/// the k-th snapshot, P(dt) = expm(Q dt) (Eigen; one per distinct gap), log-likelihood
/// sum log(sum alpha_k) (each step normalised). The customer starts in the first phase of the
/// stage of its first snapshot at that date, or, when the snapshots carry a creation time before
/// it, in the first phase of the entry stage at the creation time (PhaseFitOptions::entry_stage).
/// Gaps are rounded to PhaseFitOptions::resolution_days (at least one resolution).
/// The gradient is analytic: the backward recursion gives d loglik / dP(dt) for every gap, the
/// Fréchet derivative of expm (Van Loan's block exponential) turns that into d loglik / dQ, and
/// the chain rule into the parameters theta = (log r, logit p, next-stage logits against the
/// first allowed exit). Maximised with NLopt's L-BFGS from several starts.
///
/// **Choice.** The Markov model (k = 1 everywhere) first; then, stage by stage, k = 2 and 3
/// (while each step lowers AIC = 2 K - 2 loglik) for stages with at least min_pairs observed
/// pairs. Each step's likelihood-ratio statistic 2 (loglik_k - loglik_{k-1}) and its chi-square
/// (2 df) p-value are reported (conservative: the smaller model lies on the boundary p -> 1).
///
/// **Uncertainty.** Observed information by central differences of the analytic gradient,
/// inverted after a positive definiteness check; when it fails (a flat direction: typically a
/// phase the data cannot tell apart), the fit says so in words and the intervals are NaN.
/// Intervals for derived quantities by the delta method with numerical gradients: mean dwells
/// (exact Coxian means) on the log scale, next-probabilities and occupancies (P(in stage s at day
/// D) of a customer entering the entry stage at day 0) on the logit scale.
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
  int max_evaluations = 3000;
  double relative_tolerance = 1e-10;
};

/// One model tried in the choice.
struct PhaseCandidate {
  std::string stage;           ///< the stage whose phases changed ("" for the Markov model)
  std::vector<int> phases;     ///< per stage (absorbing stages 1)
  double loglik = 0.0;
  std::size_t parameters = 0;
  double aic = 0.0;
  double lr_statistic = 0.0;   ///< against the model it extends (NaN for the first)
  double lr_p_value = 0.0;     ///< chi-square, 2 df
  bool chosen = false;         ///< kept (the step lowered AIC)
  bool converged = false;
};

/// The fitted Coxian dwell of one stage.
struct PhaseDwell {
  std::string stage;
  std::vector<double> rates;   ///< per phase, per day
  std::vector<double> exit;    ///< per phase, the last 1
  double mean = 0.0;           ///< exact mean dwell (days)
  double ci_low = 0.0;
  double ci_high = 0.0;
  std::size_t n = 0;           ///< observed pairs starting in the stage
};

/// The result of fit_phase_type().
struct PhaseTypeFit {
  std::string file;
  std::vector<std::string> stages;
  std::vector<bool> absorbing;          ///< per stage
  std::vector<int> phases;              ///< chosen, per stage (absorbing 1)
  std::string entry_stage;
  std::vector<PhaseDwell> dwells;       ///< non-absorbing stages, in stage order
  /// Next-stage probabilities by (from, to) as "stages.<from>.next.<to>"; mean dwells as
  /// "stages.<s>.dwell.mean"; occupancies as "occupancy.<day>.<stage>" (share of a customer
  /// entering the entry stage at day 0 who is in <stage> at day <day>).
  std::vector<EstimateRow> estimates;
  /// The same rows for the Markov model (one phase everywhere) fitted to the same likelihood: how
  /// much the answer moves.
  std::vector<EstimateRow> markov_estimates;
  std::vector<PhaseCandidate> candidates;  ///< every model tried, in order
  double loglik = 0.0;                  ///< of the chosen model
  double loglik_markov = 0.0;           ///< of k = 1 everywhere, on the same likelihood
  double aic = 0.0;
  double aic_markov = 0.0;
  std::size_t parameters = 0;
  std::vector<double> theta;            ///< the chosen model's parameters
  std::vector<double> covariance;       ///< of theta, row-major (NaN when not positive definite)
  bool information_positive_definite = false;
  bool converged = false;
  std::size_t n_customers = 0;
  std::size_t n_observations = 0;       ///< transitions between observations (incl. from creation)
  std::size_t n_created = 0;            ///< customers starting at a creation time
  std::size_t n_intervals = 0;          ///< distinct gap lengths
  double level = 0.95;
  std::vector<Problem> warnings;        ///< the fit's (the log's are in the log)

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
