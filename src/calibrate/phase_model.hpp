// Private to lcsim_calibrate: the expanded Markov chain of a stage model with Coxian dwells, and
// its log-likelihood for panel data mixed with exactly timed observations (phase_fit.hpp's model).
//
// Each non-absorbing stage a is expanded into k_a phases: phase i lasts Exp(r_ai), then the dwell
// ends with probability p_ai (p_a,k = 1), else phase i + 1 starts; a dwell that ends moves to
// stage b with probability pi_ab, entering b's first phase. Parameters theta, per non-absorbing
// stage in stage order: log r (k), logit p (k - 1), next-stage logits (one per allowed exit but
// the stage's reference exit, exits[a][0], whose logit is 0).
//
// Observations are steps of a customer from one known state to the next:
//   kPanel  in stage b at the end of the gap, the path in between unknown (a snapshot);
//   kEntry  entered stage b exactly at the end of the gap, from some other stage (an exact won or
//           lost date, msm's "deathexact", or a stage-entry timestamp);
//   kStay   stayed in the same stage without leaving for the whole gap (after an exact entry).
// A customer starts in the first phase of its start stage. The likelihood is the forward
// recursion over its steps; the gradient comes from the backward recursion, then the Fréchet
// derivative of expm (Van Loan's block exponential), then the chain rule into theta.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include <Eigen/Dense>

#include "lcsim/model/coxian.hpp"

namespace lcsim::phase_model {

using Matrix = Eigen::MatrixXd;
constexpr int kMaxPhases = static_cast<int>(Coxian::kMaxPhases);

/// Bounds of the parameters: log rates (per day), logits of the exit probabilities, next-stage
/// logits against the reference exit.
constexpr double kLogRateLow = -13.8;  // 1e-6 per day
constexpr double kLogRateHigh = 6.9;   // 1e3 per day
constexpr double kLogitBound = 20.0;
constexpr double kNextBound = 25.0;

double logistic(double x);
double logit(double p);

/// Stages, which are absorbing and where each may go.
struct Structure {
  std::size_t s = 0;
  std::vector<bool> absorbing;
  /// Per stage, the allowed exits; the first is the reference of the next-stage logits.
  std::vector<std::vector<int>> exits;
};

/// The expanded states and the parameter vector of one choice of phases.
struct Layout {
  std::vector<int> phases;    ///< per stage (absorbing: 1)
  std::vector<int> first;     ///< first expanded state of each stage
  std::vector<int> stage_of;  ///< stage of each expanded state
  int n = 0;                  ///< expanded states
  std::vector<int> rate_at;   ///< per stage: index of log r_1 in theta (-1 when absorbing)
  std::vector<int> exit_at;   ///< logit p_1
  std::vector<int> next_at;   ///< next logit of exits[1]
  std::size_t parameters = 0;
};

Layout make_layout(const Structure& st, const std::vector<int>& phases);

/// One stage's Coxian and next-stage probabilities read from theta.
struct StageParams {
  std::array<double, kMaxPhases> r{};
  std::array<double, kMaxPhases> p{};  ///< exit probabilities, p[k-1] = 1
  std::vector<double> pi;              ///< per allowed exit
};

StageParams stage_params(const Structure& st, const Layout& l, const std::vector<double>& theta,
                         std::size_t a);
double coxian_mean(const StageParams& sp, int k);
Matrix generator(const Structure& st, const Layout& l, const std::vector<double>& theta);

std::vector<double> lower_bounds(const Structure& st, const Layout& l);
std::vector<double> upper_bounds(const Structure& st, const Layout& l);

enum class StepKind : std::uint8_t { kPanel, kEntry, kStay };

/// The observations of every customer as steps between stages over gaps that are whole
/// multiples of `unit` days.
struct Data {
  double unit = 1.0;
  std::vector<std::int64_t> gaps;       ///< distinct gap lengths (units) of kPanel / kEntry steps
  std::vector<std::int64_t> stay_gaps;  ///< distinct gap lengths (units) of kStay steps
  /// The customers' observations as a tree of shared prefixes: a customer is a path from a root
  /// (its start stage, phase 1) through one node per step; customers whose first steps agree
  /// share those nodes, so each is computed once.
  struct Node {
    int parent = -1;  ///< -1 for a root
    int stage = 0;    ///< the stage after the step (a root: the start stage)
    int gap = 0;      ///< index into gaps (kPanel, kEntry) or stay_gaps (kStay)
    StepKind kind = StepKind::kPanel;
    double through = 0.0;  ///< customers whose path contains the node
    double ends = 0.0;     ///< customers whose path ends at it
  };
  std::vector<Node> nodes;  ///< parents before children
  std::size_t customers = 0;
  std::size_t observations = 0;         ///< steps over all customers
  std::vector<std::size_t> pairs_from;  ///< per stage: kPanel / kEntry steps starting there
                                        ///< (customers, not sequences)
  std::size_t created = 0;              ///< customers starting at a creation time
  std::size_t exact = 0;                ///< kEntry steps (customers, not sequences)
};

/// Per stage, per allowed exit: d loglik / d eps of moving probability eps from the stage's
/// other exits (proportionally) to that exit, pi -> (1 - eps) pi + eps e_j. At an exit whose
/// probability is 0 a positive score means the likelihood rises when the exit opens: the point
/// is not a maximum over the closed simplex (the Karush-Kuhn-Tucker condition fails).
using ExitScores = std::vector<std::vector<double>>;

/// The log-likelihood of one choice of phases.
class Likelihood {
 public:
  Likelihood(const Structure& st, const Data& data, std::vector<int> phases)
      : st_(st), data_(data), layout_(make_layout(st, std::move(phases))) {}

  [[nodiscard]] const Layout& layout() const { return layout_; }
  [[nodiscard]] const Structure& structure() const { return st_; }

  /// Log-likelihood at theta (-inf when an observation has probability 0); the gradient in
  /// theta and the exit scores when asked.
  double value(const std::vector<double>& theta, std::vector<double>* gradient,
               ExitScores* scores = nullptr) const;

 private:
  void chain(const std::vector<double>& theta, const Matrix& dq, std::vector<double>& gradient,
             ExitScores* scores) const;

  const Structure& st_;
  const Data& data_;
  Layout layout_;
};

}  // namespace lcsim::phase_model
