// Private to lcsim_calibrate: maximum likelihood under box bounds, and profile-likelihood bounds of
// any smooth function of the parameters, for the snapshot fits.
//
// A profile bound of h(theta) is found by *tilting*: theta(lambda) = argmax loglik(theta) +
// lambda h(theta) traces the profile likelihood of h (each point is the constrained maximum at
// h = h(theta(lambda)), by the Lagrange conditions), and lambda is searched until the drop
// 2 (loglik_max - loglik(theta(lambda))) reaches the critical value. Every solve is an L-BFGS run
// warm-started at the previous one, so no constrained optimiser and no reparametrisation per
// quantity are needed; the tilt's gradient is the likelihood's plus lambda times h's (central
// differences of h, which is cheap beside the likelihood).
#pragma once

#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace lcsim::calibrate_profile {

/// Log-likelihood at theta, filling the gradient when given (-inf when impossible).
using Objective = std::function<double(const std::vector<double>&, std::vector<double>*)>;
/// A quantity of interest on an unbounded scale (log of a mean, logit of a probability).
using Quantity = std::function<double(const std::vector<double>&)>;

struct Problem {
  Objective loglik;
  std::vector<double> lower;
  std::vector<double> upper;
  int max_evaluations = 3000;
  double relative_tolerance = 1e-10;
  /// Converged only when max |d loglik / d theta| off the bounds is at most this.
  double gradient_tolerance = 1e-3;
};

struct Point {
  std::vector<double> theta;
  double loglik = -std::numeric_limits<double>::infinity();
  bool converged = false;
  std::string status;
  double gradient_max = 0.0;
  int evaluations = 0;
};

/// Maximises loglik + lambda h from `start` (clamped into the bounds) with NLopt's L-BFGS; the
/// returned loglik is the likelihood's alone (without the tilt). h may be empty (lambda unused).
[[nodiscard]] Point maximise(const Problem& problem, std::vector<double> start,
                             const Quantity& h = {}, double lambda = 0.0);

/// Central differences of h at theta (step 1e-6 relative, at least 1e-6).
[[nodiscard]] std::vector<double> gradient(const Quantity& h, const std::vector<double>& theta);

/// One end of a profile-likelihood interval of h.
struct Bound {
  double value = std::numeric_limits<double>::quiet_NaN();  ///< on h's scale
  /// The drop never reached the critical value: h ran to the end of its range (or stopped
  /// moving) first, and `value` is where it stopped: the data do not bound h on this side.
  bool open = false;
  /// The farthest point found with a drop below the critical value: h there and the profile
  /// log-likelihood (for a probability whose search ran to 0, the profile likelihood at 0).
  double inside_value = std::numeric_limits<double>::quiet_NaN();
  double inside_loglik = std::numeric_limits<double>::quiet_NaN();
  /// A tilted solve found a higher likelihood than `best` (best was not the global maximum).
  bool higher = false;
  Point better;  ///< that solve's point when `higher`
  int solves = 0;
};

/// The value of h beyond which 2 (best.loglik - profile loglik) exceeds `critical`, on the side
/// `direction` (+1: above h(best.theta), -1: below). `lambda0` is the first tilt (e.g. from the
/// Wald variance V of h: sqrt(critical / V)); `limit` is where h's range ends on that side (e.g.
/// the logit of 1e-9), beyond which the search stops and the bound is open.
[[nodiscard]] Bound profile_bound(const Problem& problem, const Point& best, const Quantity& h,
                                  double direction, double critical, double lambda0, double limit);

}  // namespace lcsim::calibrate_profile
