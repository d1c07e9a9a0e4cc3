/// @file touchpoint_lift.hpp
/// Touchpoint lift: the hazard factor of a touchpoint's effect window on the exit from a stage,
/// estimated from a stage-change log and a contact log.
///
/// **Data.** Stays in a stage come from a stage-change log (history.hpp): each stay starts at the
/// customer's entry and ends with a move (an event) or is still open at the end of observation
/// (right-censored). A contact log lists (customer, timestamp, touchpoint). A contact during a stay
/// *exposes* the customer from the contact until contact + window or the end of the stay; several
/// contacts in one stay expose the union of their windows. Contacts outside any stay of the stage
/// expose nothing.
///
/// **Model.** Cox proportional hazards on the time since stage entry (the clock of a dwell) with a
/// time-varying binary covariate x(t) = 1 while exposed: h(t) = h0(t) exp(beta x(t)). The baseline
/// h0 is left unspecified, so the factor exp(beta) is estimated without assuming a dwell family
/// (an exponential, Weibull or lognormal baseline are all covered), which is what the engine's
/// hazard-clock mechanism multiplies. Each stay is split into counting-process pieces
/// (start, stop, x, event). With a binary covariate the Breslow partial log-likelihood reduces to
/// sums over distinct event times t of d1(t) beta - d(t) log(n0(t) + n1(t) e^beta), where n0, n1
/// count the unexposed and exposed pieces at risk (start < t <= stop) and d, d1 the events (all,
/// exposed) at t; score and information are closed form and beta is found by Newton-Raphson with
/// step halving. The Wald interval is exp(beta +- z se), se = 1/sqrt(information).
///
/// **Target.** With LiftOptions::to empty every exit from the stage is an event; with a target
/// stage only exits to it are, and exits elsewhere censor the stay (a cause-specific hazard).
///
/// LiftExposure::kWholeStay treats every contacted stay as exposed from entry to exit: a naive
/// analysis kept for comparison. It is biased: a stay can only be contacted at time c if it lasts
/// beyond c, so contacted stays get event-free exposed time ("immortal time") and the factor is
/// underestimated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "lcsim/calibrate/estimate.hpp"
#include "lcsim/calibrate/history.hpp"
#include "lcsim/core/error.hpp"

namespace lcsim {

/// How to read a contact log.
struct TouchpointLogOptions {
  std::string customer_column = "customer_id";
  std::string time_column = "timestamp";
  std::string touchpoint_column = "touchpoint";
  /// Known touchpoint names; when given, any other name is an error.
  std::vector<std::string> touchpoints;
  /// How many row numbers a warning lists before "...".
  std::size_t rows_listed = 5;
};

/// One contact of a touchpoint with a customer.
struct TouchpointContact {
  std::string customer;
  double time = 0.0;  ///< days since the stage-change log's epoch
  std::string touchpoint;
  int line = 0;  ///< line of the row in the file (0 when not read from a file)
};

/// A cleaned contact log.
struct TouchpointLog {
  std::string file;
  std::string epoch;                        ///< the stage-change log's epoch
  std::vector<TouchpointContact> contacts;  ///< in file order
  std::vector<std::string> touchpoints;     ///< names in order of first occurrence
  std::size_t rows = 0;
  std::vector<Problem> warnings;
};

/// Reads a contact log, with times counted from the epoch of `events`.
/// Errors (thrown together as one InputError naming file, line and column): an empty file, a
/// missing column, a row with the wrong number of fields, an empty customer id or touchpoint, a
/// missing or unparseable timestamp, an unknown touchpoint (when names are given). Warnings:
/// contacts of customers the stage-change log does not have, contacts after its censor_at.
/// @throws IoError when the file cannot be opened; InputError listing every error found
[[nodiscard]] TouchpointLog read_touchpoint_log(const std::string& path, const EventLog& events,
                                                const TouchpointLogOptions& options = {});

/// Same, from a stream; `file` names the input in messages.
[[nodiscard]] TouchpointLog parse_touchpoint_log(std::istream& in, const std::string& file,
                                                 const EventLog& events,
                                                 const TouchpointLogOptions& options = {});

/// One stay of a customer in a stage.
struct Stay {
  std::string customer;
  std::string stage;
  double entry = 0.0;  ///< days since the epoch
  double exit = 0.0;   ///< the move, or the end of observation when !ended
  bool ended = false;  ///< the customer moved on at `exit`
  std::string to;      ///< where it moved ("" when !ended)
};

/// The stays of a cleaned log: every stage entry up to the next one; the last stay of a path is
/// open at censor_at unless its stage is absorbing (absorbing stays are left out).
[[nodiscard]] std::vector<Stay> stays_of(const EventLog& log);

enum class LiftExposure {
  kWindow,     ///< exposed from each contact for `window` days (the model)
  kWholeStay,  ///< a contacted stay is exposed throughout (naive, biased; for comparison)
};

struct LiftOptions {
  std::string touchpoint;  ///< contacts of this touchpoint; empty: every contact
  std::string stage;       ///< the stage whose exit the touchpoint targets
  std::string to;          ///< target stage; empty: any exit
  double window = 0.0;     ///< effect window, days (> 0; ignored for kWholeStay)
  LiftExposure exposure = LiftExposure::kWindow;
  double level = 0.95;
  /// Shorter ended stays (zero stays: two changes at one timestamp) are raised to this.
  double min_duration = 1.0 / 1440.0;
  int max_iterations = 100;
};

/// The estimated hazard factor of a touchpoint's window.
struct TouchpointLift {
  std::string touchpoint;
  std::string stage;
  std::string to;
  double window = 0.0;
  LiftExposure exposure = LiftExposure::kWindow;
  double level = 0.95;
  double log_factor = 0.0;              ///< beta (NaN when there is no finite maximum)
  double se_log_factor = 0.0;           ///< 1/sqrt(information) at beta
  double factor = 0.0;                  ///< exp(beta)
  double ci_low = 0.0;                  ///< exp(beta - z se)
  double ci_high = 0.0;                 ///< exp(beta + z se)
  double partial_loglik = 0.0;          ///< at beta
  double partial_loglik_null = 0.0;     ///< at beta = 0 (likelihood-ratio statistic: twice the gap)
  std::size_t n_stays = 0;              ///< stays of the stage used
  std::size_t n_exposed_stays = 0;      ///< stays with some exposed time
  std::size_t n_events = 0;             ///< exits (to the target) observed
  std::size_t n_events_exposed = 0;     ///< of which while exposed
  std::size_t n_contacts = 0;           ///< contacts of the touchpoint
  std::size_t n_contacts_in_stays = 0;  ///< of which during a stay of the stage
  double days_at_risk = 0.0;
  double days_exposed = 0.0;
  bool converged = false;
  int iterations = 0;
  std::string note;  ///< why there is no estimate ("" when all is well)
  /// "touchpoints.<touchpoint>.effect.hazard_factor" (estimate, interval, n = exposed stays).
  EstimateRow row;
};

/// Estimates the hazard factor from stays and contacts (contacts of other customers, other
/// touchpoints or outside the stays are ignored).
/// Without a finite maximum (no event while exposed, or every event exposed with nobody
/// unexposed at risk) the result is not converged, with a note; never an exception for data.
/// @throws InputError (file "<lift options>") for an empty stage, a window <= 0 with kWindow, a
///         level outside (0, 1)
[[nodiscard]] TouchpointLift fit_touchpoint_lift(const std::vector<Stay>& stays,
                                                 const std::vector<TouchpointContact>& contacts,
                                                 const LiftOptions& options);

/// Same, from a stage-change log and a contact log.
/// @throws InputError (file = the stage-change log's) as above, and for a stage or target the log
///         does not have, or a touchpoint the contact log does not have
[[nodiscard]] TouchpointLift fit_touchpoint_lift(const EventLog& events,
                                                 const TouchpointLog& contacts,
                                                 const LiftOptions& options);

}  // namespace lcsim
