/// @file dwell_fit.hpp
/// Maximum-likelihood fits of a dwell distribution to stays in a stage, with right-censoring.
///
/// A stay that ended (the customer moved on) contributes its density log f(d); a stay still open
/// at the end of observation contributes its survival log S(d), computed stably far in the tail
/// (closed forms for exponential and Weibull, an asymptotic series for the lognormal, a continued
/// fraction for the gamma). Exponential fits are closed form (mean = total time / exits); Weibull,
/// lognormal and gamma fits maximise the likelihood with NLopt (BOBYQA, derivative-free) over
/// log-parameters (mu itself for the lognormal), restarted once from the optimum. The two-phase
/// Coxian (coxian.hpp; rates[0], rates[1], exit[0]) is fitted the same way over (log r1, log r2,
/// logit p1) from a hyper- and a hypoexponential-like start, its densities and survivals from
/// Coxian::at; an exit probability at its bound (|logit| 15) means one phase does as well: not
/// fitted, with the reason. exit[0] gets its interval on the logit scale.
///
/// Uncertainty comes from the observed information: a central-difference Hessian of the negative
/// log-likelihood at the optimum, in the optimisation parameters, inverted with Eigen. Positive
/// parameters get Wald intervals on the log scale, exp(log θ ± z se(log θ)), and se(θ) by the delta
/// method; mu gets mu ± z se.
///
/// Durations below DwellFitOptions::min_duration (a zero stay: two stage changes with the same
/// timestamp) are raised to it for every family, so that densities stay finite and AICs compare
/// the same data.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lcsim/model/dwell.hpp"
#include "lcsim/model/scenario.hpp"

namespace lcsim {

struct DwellFitOptions {
  /// Shortest duration in days; shorter ones (zeros) are raised to it. Default: one minute.
  double min_duration = 1.0 / 1440.0;
  /// Confidence level of the intervals.
  double level = 0.95;
  /// Families fit_dwell_all() tries, in this order (fixed and empirical are not fitted);
  /// empty: exponential, Weibull, lognormal, gamma and the two-phase Coxian.
  std::vector<DwellFamily> families;
};

/// One fitted parameter, named as in docs/scenario.md for its family.
struct DwellParameter {
  std::string name;  ///< mean (exponential), shape/scale (Weibull, gamma), mu/sigma (lognormal),
                     ///< rates[0], rates[1], exit[0] (coxian)
  double estimate = 0.0;
  double se = 0.0;      ///< standard error (NaN when the information is singular)
  double ci_low = 0.0;  ///< Wald interval at DwellFitOptions::level (NaN as se)
  double ci_high = 0.0;
};

/// A maximum-likelihood fit of one family.
struct DwellFit {
  DwellFamily family = DwellFamily::kExponential;
  bool fitted = false;
  std::string reason;  ///< why not fitted, or a note on the uncertainty ("" when all is well)
  std::vector<DwellParameter> params;
  double loglik = 0.0;         ///< maximised log-likelihood (NaN when not fitted)
  double aic = 0.0;            ///< 2 k - 2 loglik (NaN when not fitted)
  std::size_t n_events = 0;    ///< stays that ended
  std::size_t n_censored = 0;  ///< stays still open at the end of observation

  /// The parameter named `name`; nullptr when the family has none of that name.
  [[nodiscard]] const DwellParameter* param(std::string_view name) const;
  /// The fit as a scenario dwell: {dist, params} in the names above. Requires `fitted`.
  [[nodiscard]] DwellSpec spec() const;
  /// The fit as a model dwell. Requires `fitted`.
  [[nodiscard]] Dwell dwell() const;
};

/// Fits of several families to the same stays, and the one with the smallest AIC.
struct DwellComparison {
  std::vector<DwellFit> fits;  ///< in the order of DwellFitOptions::families
  int chosen = -1;             ///< index into fits of the minimum-AIC fit; -1 when none fitted
  std::string reason;          ///< why nothing was fitted ("" when chosen >= 0)

  [[nodiscard]] bool fitted() const noexcept { return chosen >= 0; }
  /// The chosen fit; nullptr when none.
  [[nodiscard]] const DwellFit* best() const;
  /// The fit of `family`; nullptr when it was not tried.
  [[nodiscard]] const DwellFit* fit(DwellFamily family) const;
};

/// (log S(d), log f(d)) of the two-phase Coxian with rates r1, r2 and exit probability p1 of the
/// first phase, in closed form with full relative accuracy in both tails (what the coxian fit
/// uses; Coxian::at is the general k-phase computation).
[[nodiscard]] std::pair<double, double> coxian2_log(double r1, double r2, double p1, double d);

/// The same (log S(d), log f(d)) with their gradients in (log r1, log r2, logit p1), what the
/// coxian fit maximises with L-BFGS. S and f are linear in e^{-r1 d}, e^{-r2 d} and
/// h = (e^{-r2 d} - e^{-r1 d}) / (r1 - r2), computed scaled by e^{min(r1, r2) d} (no underflow in
/// the tail), h and its derivatives by a Taylor series in (r1 - r2) d when that is below 1e-2.
[[nodiscard]] std::pair<double, double> coxian2_log_gradient(double r1, double r2, double p1,
                                                             double d,
                                                             std::array<double, 3>& dlog_s,
                                                             std::array<double, 3>& dlog_f);

/// One stay's term of the coxian fit's pass over the stays: log S(d) with its gradient when
/// `censored`, else log f(d) with its, the same values bit for bit as that half of
/// coxian2_log_gradient (the same operations in the same order) without computing the other half,
/// and with one exp instead of two (the scale factor of the slower phase is e^0 = 1).
[[nodiscard]] double coxian2_term_gradient(double r1, double r2, double p1, double d, bool censored,
                                           std::array<double, 3>& gradient);

/// Log-likelihood of stays under a family with parameters (a, b) as in Dwell::a() and Dwell::b():
/// exponential (mean, -), Weibull (shape, scale), lognormal (mu, sigma), gamma (shape, scale).
/// Durations below `min_duration` are raised to it. -inf outside the parameter domain.
[[nodiscard]] double dwell_log_likelihood(DwellFamily family, double a, double b,
                                          const std::vector<double>& durations,
                                          const std::vector<bool>& censored,
                                          double min_duration = 1.0 / 1440.0);

/// Maximum-likelihood fit of one family (exponential, weibull, lognormal or gamma).
/// Not fitted (with a reason, never an exception) when there is no ended stay, when a two-parameter
/// family has fewer than two distinct ended stays, or when the maximum lies on a parameter bound
/// (shape or sigma outside [1e-3, 1e3]: the likelihood has no interior maximum).
/// @param durations days, >= 0 and finite
/// @param censored same size: true for a stay still open at the end of observation
/// @throws std::invalid_argument for mismatched sizes, negative or non-finite durations, or a
///         family that is not fitted by maximum likelihood (fixed, empirical)
[[nodiscard]] DwellFit fit_dwell(DwellFamily family, const std::vector<double>& durations,
                                 const std::vector<bool>& censored,
                                 const DwellFitOptions& options = {});

/// Fits every family of `options.families` and picks the minimum-AIC one.
/// Nothing is chosen (reason set) when there is no ended stay.
/// @throws std::invalid_argument as fit_dwell
[[nodiscard]] DwellComparison fit_dwell_all(const std::vector<double>& durations,
                                            const std::vector<bool>& censored,
                                            const DwellFitOptions& options = {});

/// One set of stays for fit_dwell_all_sets(): durations and flags as for fit_dwell_all().
struct DwellStays {
  const std::vector<double>* durations = nullptr;
  const std::vector<bool>* censored = nullptr;
};

/// fit_dwell_all() of every set, the (set, family) fits spread over up to `threads` threads (0: all
/// cores). Each fit is computed by one thread from the set's own prepared stays and written to its
/// own slot, and the minimum-AIC choice is made afterwards in family order, so the result is the
/// same, bit for bit, at any thread count.
/// @throws std::invalid_argument as fit_dwell (for the first bad set in `sets` order)
[[nodiscard]] std::vector<DwellComparison> fit_dwell_all_sets(const std::vector<DwellStays>& sets,
                                                              const DwellFitOptions& options = {},
                                                              int threads = 0);

}  // namespace lcsim
