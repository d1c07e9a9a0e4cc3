#include "lcsim/calibrate/phase_fit.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Dense>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>
#include <nlopt.hpp>
#include <unsupported/Eigen/MatrixFunctions>

#include "lcsim/core/format.hpp"
#include "lcsim/model/coxian.hpp"
#include "log_reader.hpp"
#include "nlopt_run.hpp"
#include "text.hpp"

namespace lcsim {
namespace {

namespace text = calibrate_text;
using Matrix = Eigen::MatrixXd;
constexpr int kMaxPhases = static_cast<int>(Coxian::kMaxPhases);
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Bounds of the parameters: log rates (per day), logits of the exit probabilities, next-stage
// logits against the first allowed exit.
constexpr double kLogRateLow = -13.8;   // 1e-6 per day
constexpr double kLogRateHigh = 6.9;    // 1e3 per day
constexpr double kLogitBound = 20.0;
constexpr double kNextBound = 25.0;

double logistic(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double logit(double p) { return std::log(p / (1.0 - p)); }

/// Stages, which are absorbing and where each may go (from the Markov fit's transitions).
struct Structure {
  std::size_t s = 0;
  std::vector<bool> absorbing;
  std::vector<std::vector<int>> exits;  ///< per stage, in the Markov fit's order
};

/// The expanded states and the parameter vector of one choice of phases.
struct Layout {
  std::vector<int> phases;   ///< per stage (absorbing: 1)
  std::vector<int> first;    ///< first expanded state of each stage
  int n = 0;                 ///< expanded states
  std::vector<int> rate_at;  ///< per stage: index of log r_1 in theta (-1 when absorbing)
  std::vector<int> exit_at;  ///< logit p_1
  std::vector<int> next_at;  ///< next logit of exits[1]
  std::size_t parameters = 0;
};

Layout make_layout(const Structure& st, const std::vector<int>& phases) {
  Layout l;
  l.phases = phases;
  int p = 0;
  for (std::size_t a = 0; a < st.s; ++a) {
    const int k = st.absorbing[a] ? 1 : phases[a];
    l.phases[a] = k;
    l.first.push_back(l.n);
    l.n += k;
    if (st.absorbing[a]) {
      l.rate_at.push_back(-1);
      l.exit_at.push_back(-1);
      l.next_at.push_back(-1);
      continue;
    }
    l.rate_at.push_back(p);
    p += k;
    l.exit_at.push_back(p);
    p += k - 1;
    l.next_at.push_back(p);
    p += static_cast<int>(st.exits[a].size()) - 1;
  }
  l.parameters = static_cast<std::size_t>(p);
  return l;
}

/// One stage's Coxian and next-stage probabilities read from theta.
struct StageParams {
  std::array<double, kMaxPhases> r{};
  std::array<double, kMaxPhases> p{};  ///< exit probabilities, p[k-1] = 1
  std::vector<double> pi;              ///< per allowed exit
};

StageParams stage_params(const Structure& st, const Layout& l, const std::vector<double>& theta,
                         std::size_t a) {
  StageParams sp;
  const int k = l.phases[a];
  for (int i = 0; i < k; ++i) {
    sp.r[static_cast<std::size_t>(i)] = std::exp(theta[static_cast<std::size_t>(l.rate_at[a] + i)]);
    sp.p[static_cast<std::size_t>(i)] =
        i + 1 < k ? logistic(theta[static_cast<std::size_t>(l.exit_at[a] + i)]) : 1.0;
  }
  const std::size_t m = st.exits[a].size();
  sp.pi.assign(m, 1.0);
  double total = 1.0;
  for (std::size_t j = 1; j < m; ++j) {
    sp.pi[j] = std::exp(theta[static_cast<std::size_t>(l.next_at[a]) + j - 1]);
    total += sp.pi[j];
  }
  for (double& v : sp.pi) v /= total;
  return sp;
}

double coxian_mean(const StageParams& sp, int k) {
  double reach = 1.0;
  double mean = 0.0;
  for (int i = 0; i < k; ++i) {
    mean += reach / sp.r[static_cast<std::size_t>(i)];
    reach *= 1.0 - sp.p[static_cast<std::size_t>(i)];
  }
  return mean;
}

Matrix generator(const Structure& st, const Layout& l, const std::vector<double>& theta) {
  Matrix q = Matrix::Zero(l.n, l.n);
  for (std::size_t a = 0; a < st.s; ++a) {
    if (st.absorbing[a]) continue;
    const StageParams sp = stage_params(st, l, theta, a);
    const int k = l.phases[a];
    for (int i = 0; i < k; ++i) {
      const int row = l.first[a] + i;
      const double r = sp.r[static_cast<std::size_t>(i)];
      const double p = sp.p[static_cast<std::size_t>(i)];
      q(row, row) = -r;
      if (i + 1 < k) q(row, row + 1) = r * (1.0 - p);
      for (std::size_t j = 0; j < st.exits[a].size(); ++j) {
        q(row, l.first[static_cast<std::size_t>(st.exits[a][j])]) += r * p * sp.pi[j];
      }
    }
  }
  return q;
}

/// The observations of every customer as steps between stages over distinct gaps.
struct Data {
  std::vector<double> gaps;          ///< distinct gap lengths, days, increasing
  struct Step {
    int stage;
    int gap;
  };
  std::vector<int> start;            ///< per customer: the stage it starts in (phase 1)
  std::vector<std::size_t> offset;   ///< per customer: first step (size customers + 1)
  std::vector<Step> steps;
  std::vector<std::size_t> pairs_from;  ///< per stage: steps starting there
  std::size_t created = 0;
};

/// The likelihood of one choice of phases.
class Likelihood {
 public:
  Likelihood(const Structure& st, const Data& data, std::vector<int> phases)
      : st_(st), data_(data), layout_(make_layout(st, std::move(phases))) {}

  [[nodiscard]] const Layout& layout() const { return layout_; }

  double value(const std::vector<double>& theta, std::vector<double>* gradient) const {
    const Layout& l = layout_;
    const Matrix q = generator(st_, l, theta);
    const std::size_t g_count = data_.gaps.size();
    std::vector<Matrix> p(g_count);
    for (std::size_t g = 0; g < g_count; ++g) p[g] = (q * data_.gaps[g]).exp();
    std::vector<Matrix> w;
    if (gradient != nullptr) w.assign(g_count, Matrix::Zero(l.n, l.n));
    double ll = 0.0;
    using Vec = std::array<double, kMaxPhases>;
    std::vector<Vec> alpha;
    std::vector<double> scale;
    const std::size_t customers = data_.start.size();
    for (std::size_t c = 0; c < customers; ++c) {
      const std::size_t begin = data_.offset[c];
      const std::size_t end = data_.offset[c + 1];
      alpha.assign(end - begin + 1, Vec{});
      scale.assign(end - begin, 0.0);
      alpha[0][0] = 1.0;
      int from = data_.start[c];
      for (std::size_t k = begin; k < end; ++k) {
        const auto& step = data_.steps[k];
        const Matrix& pk = p[static_cast<std::size_t>(step.gap)];
        const int r0 = l.first[static_cast<std::size_t>(from)];
        const int c0 = l.first[static_cast<std::size_t>(step.stage)];
        const int kr = l.phases[static_cast<std::size_t>(from)];
        const int kc = l.phases[static_cast<std::size_t>(step.stage)];
        const Vec& a = alpha[k - begin];
        Vec& u = alpha[k - begin + 1];
        double total = 0.0;
        for (int j = 0; j < kc; ++j) {
          double v = 0.0;
          for (int i = 0; i < kr; ++i) v += a[static_cast<std::size_t>(i)] * pk(r0 + i, c0 + j);
          v = std::max(v, 0.0);  // expm's rounding may leave -1e-18 where 0 is exact
          u[static_cast<std::size_t>(j)] = v;
          total += v;
        }
        if (!(total > 0.0)) return -std::numeric_limits<double>::infinity();
        for (int j = 0; j < kc; ++j) u[static_cast<std::size_t>(j)] /= total;
        scale[k - begin] = total;
        ll += std::log(total);
        from = step.stage;
      }
      if (gradient == nullptr) continue;
      Vec beta{};
      beta.fill(1.0);
      for (std::size_t k = end; k-- > begin;) {
        const auto& step = data_.steps[k];
        const int prev = k == begin ? data_.start[c] : data_.steps[k - 1].stage;
        const Matrix& pk = p[static_cast<std::size_t>(step.gap)];
        Matrix& wk = w[static_cast<std::size_t>(step.gap)];
        const int r0 = l.first[static_cast<std::size_t>(prev)];
        const int c0 = l.first[static_cast<std::size_t>(step.stage)];
        const int kr = l.phases[static_cast<std::size_t>(prev)];
        const int kc = l.phases[static_cast<std::size_t>(step.stage)];
        const Vec& a = alpha[k - begin];
        const double inv = 1.0 / scale[k - begin];
        Vec next{};
        for (int i = 0; i < kr; ++i) {
          double v = 0.0;
          for (int j = 0; j < kc; ++j) {
            wk(r0 + i, c0 + j) += a[static_cast<std::size_t>(i)] * beta[static_cast<std::size_t>(j)] * inv;
            v += pk(r0 + i, c0 + j) * beta[static_cast<std::size_t>(j)];
          }
          next[static_cast<std::size_t>(i)] = v * inv;
        }
        beta = next;
      }
    }
    if (gradient != nullptr) chain(theta, q, w, *gradient);
    return ll;
  }

 private:
  /// d loglik / dtheta from d loglik / dP(gap) for every gap.
  void chain(const std::vector<double>& theta, const Matrix& q, const std::vector<Matrix>& w,
             std::vector<double>& gradient) const {
    const Layout& l = layout_;
    const auto n = static_cast<Eigen::Index>(l.n);
    Matrix dq = Matrix::Zero(n, n);
    Matrix block(2 * n, 2 * n);
    for (std::size_t g = 0; g < data_.gaps.size(); ++g) {
      const double s = w[g].cwiseAbs().maxCoeff();
      if (s == 0.0) continue;
      const Matrix at = (q * data_.gaps[g]).transpose();
      block.setZero();
      block.topLeftCorner(n, n) = at;
      block.bottomRightCorner(n, n) = at;
      block.topRightCorner(n, n) = w[g] / s;
      const Matrix e = block.exp();
      dq += (data_.gaps[g] * s) * e.topRightCorner(n, n);
    }
    gradient.assign(theta.size(), 0.0);
    for (std::size_t a = 0; a < st_.s; ++a) {
      if (st_.absorbing[a]) continue;
      const StageParams sp = stage_params(st_, l, theta, a);
      const int k = l.phases[a];
      const std::size_t m = st_.exits[a].size();
      for (int i = 0; i < k; ++i) {
        const int row = l.first[a] + i;
        const double r = sp.r[static_cast<std::size_t>(i)];
        const double p = sp.p[static_cast<std::size_t>(i)];
        // The row's entries: diagonal -r, onward r (1 - p), to stage b's phase 1 r p pi_b.
        double onward = i + 1 < k ? dq(row, row + 1) : 0.0;
        double exits = 0.0;  // sum_b dq(row, b) pi_b
        std::vector<double> to(m);
        for (std::size_t j = 0; j < m; ++j) {
          to[j] = dq(row, l.first[static_cast<std::size_t>(st_.exits[a][j])]);
          exits += to[j] * sp.pi[j];
        }
        // d / d log r: every entry of the row scales with r.
        gradient[static_cast<std::size_t>(l.rate_at[a] + i)] +=
            -r * dq(row, row) + r * (1.0 - p) * onward + r * p * exits;
        if (i + 1 < k) {  // d / d logit p = p (1 - p) d / dp
          gradient[static_cast<std::size_t>(l.exit_at[a] + i)] +=
              p * (1.0 - p) * r * (exits - onward);
        }
        // d / d eta_j (j >= 1): r p pi_c (delta_cj - pi_j) summed over c.
        for (std::size_t j = 1; j < m; ++j) {
          gradient[static_cast<std::size_t>(l.next_at[a]) + j - 1] +=
              r * p * sp.pi[j] * (to[j] - exits);
        }
      }
    }
  }

  const Structure& st_;
  const Data& data_;
  Layout layout_;
};

struct Optimum {
  std::vector<double> theta;
  double loglik = -std::numeric_limits<double>::infinity();
  bool converged = false;
  std::string status;
  double gradient_max = 0.0;
};

std::vector<double> lower_bounds(const Structure& st, const Layout& l) {
  std::vector<double> lo(l.parameters, -kNextBound);
  for (std::size_t a = 0; a < st.s; ++a) {
    if (st.absorbing[a]) continue;
    for (int i = 0; i < l.phases[a]; ++i) lo[static_cast<std::size_t>(l.rate_at[a] + i)] = kLogRateLow;
    for (int i = 0; i + 1 < l.phases[a]; ++i) lo[static_cast<std::size_t>(l.exit_at[a] + i)] = -kLogitBound;
  }
  return lo;
}

std::vector<double> upper_bounds(const Structure& st, const Layout& l) {
  std::vector<double> hi(l.parameters, kNextBound);
  for (std::size_t a = 0; a < st.s; ++a) {
    if (st.absorbing[a]) continue;
    for (int i = 0; i < l.phases[a]; ++i) hi[static_cast<std::size_t>(l.rate_at[a] + i)] = kLogRateHigh;
    for (int i = 0; i + 1 < l.phases[a]; ++i) hi[static_cast<std::size_t>(l.exit_at[a] + i)] = kLogitBound;
  }
  return hi;
}

std::vector<bool> on_bound(const std::vector<double>& theta, const std::vector<double>& lo,
                           const std::vector<double>& hi) {
  std::vector<bool> out(theta.size());
  for (std::size_t i = 0; i < theta.size(); ++i) {
    out[i] = theta[i] <= lo[i] + 1e-6 || theta[i] >= hi[i] - 1e-6;
  }
  return out;
}

/// Parameters the information matrix leaves out: on a bound, or an exit or next-stage
/// probability so close to 0 or 1 (|logit| >= 10, resp. 15) that the likelihood is flat in its
/// logit (a phase the data do not use): held fixed, like a rate on a bound.
std::vector<bool> held_fixed(const Structure& st, const Layout& l, const std::vector<double>& theta) {
  std::vector<bool> out = on_bound(theta, lower_bounds(st, l), upper_bounds(st, l));
  for (std::size_t a = 0; a < st.s; ++a) {
    if (st.absorbing[a]) continue;
    for (int i = 0; i + 1 < l.phases[a]; ++i) {
      const auto k = static_cast<std::size_t>(l.exit_at[a] + i);
      out[k] = out[k] || std::abs(theta[k]) >= 10.0;
    }
    for (std::size_t j = 1; j < st.exits[a].size(); ++j) {
      const auto k = static_cast<std::size_t>(l.next_at[a]) + j - 1;
      out[k] = out[k] || std::abs(theta[k]) >= 15.0;
    }
  }
  return out;
}

Optimum maximise(const Likelihood& lik, const Structure& st, std::vector<double> start,
                 const PhaseFitOptions& o, std::size_t n_observations) {
  const Layout& l = lik.layout();
  const std::vector<double> lo = lower_bounds(st, l);
  const std::vector<double> hi = upper_bounds(st, l);
  for (std::size_t i = 0; i < start.size(); ++i) start[i] = std::clamp(start[i], lo[i], hi[i]);
  Optimum best;
  best.theta = start;
  struct Context {
    const Likelihood* lik;
    Optimum* best;
  } context{&lik, &best};
  nlopt::opt opt(nlopt::LD_LBFGS, static_cast<unsigned>(l.parameters));
  opt.set_lower_bounds(lo);
  opt.set_upper_bounds(hi);
  opt.set_ftol_rel(o.relative_tolerance);
  opt.set_xtol_rel(1e-10);
  opt.set_maxeval(o.max_evaluations);
  opt.set_min_objective(
      [](const std::vector<double>& x, std::vector<double>& grad, void* data) -> double {
        auto* c = static_cast<Context*>(data);
        std::vector<double> g;
        const double ll = c->lik->value(x, grad.empty() ? nullptr : &g);
        if (!std::isfinite(ll)) {
          if (!grad.empty()) std::fill(grad.begin(), grad.end(), 0.0);
          return std::numeric_limits<double>::max();
        }
        for (std::size_t i = 0; i < grad.size(); ++i) grad[i] = -g[i];
        if (ll > c->best->loglik) {
          c->best->loglik = ll;
          c->best->theta = x;
        }
        return -ll;
      },
      &context);
  double minimum = 0.0;
  std::vector<double> x = start;
  const nlopt::result result = calibrate_nlopt::optimize(opt, x, minimum);
  best.status = calibrate_nlopt::result_name(result);
  if (!std::isfinite(best.loglik)) return best;
  std::vector<double> g;
  best.loglik = lik.value(best.theta, &g);
  const std::vector<bool> bound = on_bound(best.theta, lo, hi);
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (!bound[i]) best.gradient_max = std::max(best.gradient_max, std::abs(g[i]));
  }
  best.converged = calibrate_nlopt::converged(result) && best.gradient_max <=
                             1e-3 * std::max(1.0, std::sqrt(static_cast<double>(n_observations)));
  return best;
}

/// Theta of `to` (a layout with stage `a` at a new number of phases) from theta of `from`: every
/// other stage's parameters copied; stage a's Coxian from `coxian` (rates, exit logits).
std::vector<double> carry_over(const Structure& st, const Layout& from,
                               const std::vector<double>& theta, const Layout& to, std::size_t a,
                               const std::vector<double>& log_rates,
                               const std::vector<double>& exit_logits) {
  std::vector<double> out(to.parameters, 0.0);
  for (std::size_t b = 0; b < st.s; ++b) {
    if (st.absorbing[b]) continue;
    const std::size_t m = st.exits[b].size();
    for (std::size_t j = 1; j < m; ++j) {
      out[static_cast<std::size_t>(to.next_at[b]) + j - 1] =
          theta[static_cast<std::size_t>(from.next_at[b]) + j - 1];
    }
    if (b == a) {
      for (int i = 0; i < to.phases[b]; ++i) {
        out[static_cast<std::size_t>(to.rate_at[b] + i)] = log_rates[static_cast<std::size_t>(i)];
      }
      for (int i = 0; i + 1 < to.phases[b]; ++i) {
        out[static_cast<std::size_t>(to.exit_at[b] + i)] = exit_logits[static_cast<std::size_t>(i)];
      }
      continue;
    }
    for (int i = 0; i < to.phases[b]; ++i) {
      out[static_cast<std::size_t>(to.rate_at[b] + i)] =
          theta[static_cast<std::size_t>(from.rate_at[b] + i)];
    }
    for (int i = 0; i + 1 < to.phases[b]; ++i) {
      out[static_cast<std::size_t>(to.exit_at[b] + i)] =
          theta[static_cast<std::size_t>(from.exit_at[b] + i)];
    }
  }
  return out;
}

/// Starts for stage a at k phases from a fit with k - 1: the old Coxian with one more phase
/// behind it (the old last phase now leaving with probability 0.8), a hypoexponential-like
/// start (k phases at k / mean, each leaving with 0.1) and a hyperexponential-like one (a fast
/// first phase leaving with 0.6, then slow ones).
std::vector<std::pair<std::vector<double>, std::vector<double>>> coxian_starts(
    const StageParams& old, int k_old, int k, int extra) {
  std::vector<std::pair<std::vector<double>, std::vector<double>>> out;
  const double mean = coxian_mean(old, k_old);
  {
    std::vector<double> lr;
    std::vector<double> el;
    for (int i = 0; i < k_old; ++i) lr.push_back(std::log(old.r[static_cast<std::size_t>(i)]));
    for (int i = 0; i + 1 < k_old; ++i) el.push_back(logit(std::clamp(old.p[static_cast<std::size_t>(i)], 1e-6, 1 - 1e-6)));
    while (static_cast<int>(lr.size()) < k) {
      lr.push_back(lr.back() + std::log(1.5));  // not equal: r_k = r_k+1 is a stationary point
      el.push_back(logit(0.8));
    }
    out.emplace_back(lr, el);
  }
  if (extra >= 1) {
    out.emplace_back(std::vector<double>(static_cast<std::size_t>(k), std::log(k / mean)),
                     std::vector<double>(static_cast<std::size_t>(k - 1), logit(0.1)));
  }
  if (extra >= 2) {
    std::vector<double> lr{std::log(3.0 / mean)};
    while (static_cast<int>(lr.size()) < k) lr.push_back(std::log(0.4 / mean));
    out.emplace_back(lr, std::vector<double>(static_cast<std::size_t>(k - 1), logit(0.6)));
  }
  return out;
}

/// Central differences of `f` in the free parameters.
std::vector<double> numeric_gradient(const std::function<double(const std::vector<double>&)>& f,
                                     const std::vector<double>& theta,
                                     const std::vector<bool>& fixed) {
  std::vector<double> g(theta.size(), 0.0);
  for (std::size_t i = 0; i < theta.size(); ++i) {
    if (fixed[i]) continue;
    const double h = 1e-6 * std::max(1.0, std::abs(theta[i]));
    std::vector<double> x = theta;
    x[i] = theta[i] + h;
    const double up = f(x);
    x[i] = theta[i] - h;
    const double down = f(x);
    g[i] = (up - down) / (2.0 * h);
  }
  return g;
}

/// What every model of one fit shares: the Markov fit (the transitions checked, the start), the
/// structure, the entry stage and the data as steps.
struct Prepared {
  MarkovFit markov;
  Structure st;
  std::map<std::string, int> index;
  std::string entry;
  int entry_stage = 0;
  Data data;
  std::vector<Problem> warnings;
};

Prepared prepare(const SnapshotLog& log, const PhaseFitOptions& o) {
  Prepared prep;
  const auto bad = [&](const std::string& field, const std::string& expected,
                       const std::string& got) {
    throw InputError(log.file, 0, field, expected_got(expected, got));
  };
  if (o.max_phases < 1 || o.max_phases > kMaxPhases) {
    bad("max_phases", "a whole number of phases from 1 to " + std::to_string(kMaxPhases),
        std::to_string(o.max_phases));
  }
  if (!(o.resolution_days > 0.0) || !std::isfinite(o.resolution_days)) {
    bad("resolution_days", "a number of days > 0", text::number(o.resolution_days));
  }
  if (!(o.level > 0.0 && o.level < 1.0)) {
    bad("level", "a confidence level in (0, 1)", text::number(o.level));
  }
  for (const double d : o.occupancy_days) {
    if (!(d > 0.0) || !std::isfinite(d)) bad("occupancy_days", "days > 0", text::number(d));
  }
  if (o.extra_starts < 0) bad("extra_starts", "a count >= 0", std::to_string(o.extra_starts));

  // The Markov fit checks the transitions and gives the structure and the start.
  MarkovFitOptions mo;
  mo.transitions = o.transitions;
  mo.level = o.level;
  prep.markov = fit_snapshots(log, mo);
  const MarkovFit& markov = prep.markov;
  const auto warn = [&](const std::string& field, const std::string& message) {
    prep.warnings.push_back(Problem{log.file, 0, field, message, true});
  };
  Structure& st = prep.st;
  st.s = markov.stages.size();
  st.absorbing = markov.absorbing;
  st.exits.resize(st.s);
  std::map<std::string, int>& index = prep.index;
  for (std::size_t i = 0; i < st.s; ++i) index.emplace(markov.stages[i], static_cast<int>(i));
  for (const auto& r : markov.rates) {
    st.exits[static_cast<std::size_t>(index.at(r.from))].push_back(index.at(r.to));
  }
  for (const auto& [name, k] : o.phases) {
    const auto it = index.find(name);
    if (it == index.end()) {
      throw InputError(log.file, 0, "phases." + name,
                       "unknown stage '" + name + "' (expected one of: " +
                           text::join(markov.stages) + ")" + did_you_mean(name, markov.stages));
    }
    if (k < 1 || k > kMaxPhases) {
      bad("phases." + name, "a whole number of phases from 1 to " + std::to_string(kMaxPhases),
          std::to_string(k));
    }
    if (st.absorbing[static_cast<std::size_t>(it->second)] && k != 1) {
      bad("phases." + name, "1 (the stage is absorbing)", std::to_string(k));
    }
  }
  // Entry stage.
  // Default: the non-absorbing stage most customers with a creation time are first seen in (in
  // stage order on ties); without creation times, the first non-absorbing stage.
  std::string entry = o.entry_stage;
  if (entry.empty()) {
    std::vector<std::size_t> first_seen(st.s, 0);
    for (const auto& path : log.customers) {
      if (std::isfinite(path.created)) ++first_seen[static_cast<std::size_t>(index.at(path.observations.front().stage))];
    }
    std::size_t best = 0;
    for (std::size_t a = 0; a < st.s; ++a) {
      if (st.absorbing[a]) continue;
      if (entry.empty() || first_seen[a] > best) {
        entry = markov.stages[a];
        best = first_seen[a];
      }
    }
  }
  const auto entry_it = index.find(entry);
  if (entry_it == index.end() || st.absorbing[static_cast<std::size_t>(entry_it->second)]) {
    throw InputError(log.file, 0, "entry_stage",
                     expected_got("a non-absorbing stage of the snapshots",
                                  "'" + entry + "'") + did_you_mean(entry, markov.stages));
  }
  const int entry_stage = entry_it->second;
  prep.entry = entry;
  prep.entry_stage = entry_stage;

  // Reachability (for customers starting at a creation time in the entry stage).
  std::vector<std::uint8_t> reach(st.s, 0);
  {
    std::vector<int> stack{entry_stage};
    reach[static_cast<std::size_t>(entry_stage)] = 1;
    while (!stack.empty()) {
      const int u = stack.back();
      stack.pop_back();
      for (const int v : st.exits[static_cast<std::size_t>(u)]) {
        if (reach[static_cast<std::size_t>(v)] == 0) {
          reach[static_cast<std::size_t>(v)] = 1;
          stack.push_back(v);
        }
      }
    }
  }

  // ---- data ----
  Data& data = prep.data;
  data.pairs_from.assign(st.s, 0);
  std::map<std::int64_t, int> gap_index;  // in resolutions
  std::vector<std::pair<std::size_t, std::int64_t>> raw;  // (step, resolutions) to index later
  std::size_t unreachable = 0;
  const auto add_step = [&](int from, int to, double dt) {
    auto units = static_cast<std::int64_t>(std::llround(dt / o.resolution_days));
    units = std::max<std::int64_t>(units, 1);
    gap_index.emplace(units, 0);
    raw.emplace_back(data.steps.size(), units);
    data.steps.push_back(Data::Step{to, 0});
    ++data.pairs_from[static_cast<std::size_t>(from)];
  };
  for (const auto& path : log.customers) {
    const auto& obs = path.observations;
    int first = index.at(obs.front().stage);
    const std::size_t begin = data.steps.size();
    int start = first;
    if (std::isfinite(path.created) && obs.front().time > path.created) {
      if (first == entry_stage || reach[static_cast<std::size_t>(first)] != 0) {
        start = entry_stage;
        add_step(entry_stage, first, obs.front().time - path.created);
        ++data.created;
      } else {
        ++unreachable;
      }
    }
    int from = first;
    for (std::size_t k = 1; k < obs.size(); ++k) {
      if (st.absorbing[static_cast<std::size_t>(from)]) break;
      const double dt = obs[k].time - obs[k - 1].time;
      if (!(dt > 0.0)) continue;
      const int to = index.at(obs[k].stage);
      add_step(from, to, dt);
      from = to;
    }
    if (data.steps.size() == begin) continue;
    data.start.push_back(start);
    data.offset.push_back(begin);
  }
  data.offset.push_back(data.steps.size());
  {
    int g = 0;
    for (auto& [units, i] : gap_index) {
      i = g++;
      data.gaps.push_back(static_cast<double>(units) * o.resolution_days);
    }
    for (const auto& [step, units] : raw) data.steps[step].gap = gap_index.at(units);
  }
  if (unreachable > 0) {
    warn(log.created_column,
         std::to_string(unreachable) + " customers are first seen in a stage the allowed "
         "transitions cannot reach from the entry stage '" + entry +
         "': their creation times are not used (they start at their first snapshot)");
  }
  return prep;
}

/// The observed information, intervals and estimates of one fitted model.
struct Summary {
  std::vector<double> covariance;
  bool positive_definite = false;
  std::vector<PhaseDwell> dwells;
  std::vector<EstimateRow> estimates;
  std::vector<std::pair<std::string, std::string>> warnings;  ///< (field, message)
  void warn(const std::string& field, const std::string& message) {
    warnings.emplace_back(field, message);
  }
};

Summary summarise(const Prepared& prep, const Likelihood& lik, const std::vector<double>& theta,
                  const PhaseFitOptions& o) {
  Summary out;
  const MarkovFit& markov = prep.markov;
  const Structure& st = prep.st;
  const Data& data = prep.data;
  const int entry_stage = prep.entry_stage;
  const Layout& l = lik.layout();
  const std::size_t kp = l.parameters;
  const std::vector<bool> bound = held_fixed(st, l, theta);
  std::vector<std::size_t> free;
  for (std::size_t i = 0; i < kp; ++i) {
    if (!bound[i]) free.push_back(i);
  }
  out.covariance.assign(kp * kp, kNaN);
  {
    const auto kf = static_cast<Eigen::Index>(free.size());
    Matrix hessian(kf, kf);
    for (Eigen::Index c = 0; c < kf; ++c) {
      const std::size_t i = free[static_cast<std::size_t>(c)];
      const double h = 1e-4;
      std::vector<double> x = theta;
      std::vector<double> gp;
      std::vector<double> gm;
      x[i] = theta[i] + h;
      (void)lik.value(x, &gp);
      x[i] = theta[i] - h;
      (void)lik.value(x, &gm);
      for (Eigen::Index r = 0; r < kf; ++r) {
        const std::size_t j = free[static_cast<std::size_t>(r)];
        hessian(r, c) = (gp[j] - gm[j]) / (2.0 * h);
      }
    }
    const Matrix information = -0.5 * (hessian + hessian.transpose());
    if (kf > 0 && information.allFinite()) {
      const Eigen::SelfAdjointEigenSolver<Matrix> eigen(information);
      const double min_eig = eigen.eigenvalues().minCoeff();
      const double max_eig = eigen.eigenvalues().maxCoeff();
      if (min_eig > 1e-9 * std::max(max_eig, 1e-300)) {
        out.positive_definite = true;
        const Matrix inverse = eigen.eigenvectors() *
                               eigen.eigenvalues().cwiseInverse().asDiagonal() *
                               eigen.eigenvectors().transpose();
        std::fill(out.covariance.begin(), out.covariance.end(), 0.0);
        for (Eigen::Index r = 0; r < kf; ++r) {
          for (Eigen::Index c = 0; c < kf; ++c) {
            out.covariance[free[static_cast<std::size_t>(r)] * kp + free[static_cast<std::size_t>(c)]] =
                inverse(r, c);
          }
        }
      } else {
        // Which parameters the flat direction moves, in words.
        const Eigen::VectorXd v = eigen.eigenvectors().col(0);
        std::vector<std::string> involved;
        for (std::size_t a = 0; a < st.s; ++a) {
          if (st.absorbing[a]) continue;
          // Stage a's parameters: its rates, exits and next logits, in one run of theta.
          const int lo = l.rate_at[a];
          const int hi = l.next_at[a] + static_cast<int>(st.exits[a].size()) - 1;
          double weight = 0.0;
          for (Eigen::Index r = 0; r < kf; ++r) {
            const auto i = static_cast<int>(free[static_cast<std::size_t>(r)]);
            if (i >= lo && i < hi) weight += v(r) * v(r);
          }
          if (weight > 0.1) involved.push_back(markov.stages[a]);
        }
        out.warn("", "the observed information is not positive definite (smallest eigenvalue " +
                     text::number(min_eig) + "): the data do not identify every parameter" +
                     (involved.empty() ? std::string()
                                       : " (the flat direction moves the dwell or next stages of " +
                                             text::join(involved) + ")") +
                     "; no intervals");
      }
    } else if (kp > 0) {
      out.warn("", "the observed information could not be computed: no intervals");
    }
  }
  const double z =
      boost::math::quantile(boost::math::normal_distribution<double>(), 0.5 + o.level / 2.0);
  const auto variance = [&](const std::vector<double>& g) {
    double v = 0.0;
    for (std::size_t r = 0; r < kp; ++r) {
      if (g[r] == 0.0) continue;
      for (std::size_t c = 0; c < kp; ++c) {
        if (g[c] != 0.0) v += g[r] * g[c] * out.covariance[r * kp + c];
      }
    }
    return v;
  };
  // Estimate of f(theta) with an interval on the log (positive) or logit (probability) scale.
  const auto interval = [&](const std::function<double(const std::vector<double>&)>& f,
                            bool probability) {
    const double value = f(theta);
    std::array<double, 3> r{value, kNaN, kNaN};
    if (!out.positive_definite) return r;
    if (probability && (value <= 1e-12 || value >= 1.0 - 1e-12)) {
      r[1] = r[2] = value;
      return r;
    }
    const auto transformed = [&](const std::vector<double>& x) {
      const double v = f(x);
      return probability ? logit(std::clamp(v, 1e-300, 1.0 - 1e-16)) : std::log(v);
    };
    const double se = std::sqrt(variance(numeric_gradient(transformed, theta, bound)));
    const double t = probability ? logit(value) : std::log(value);
    r[1] = probability ? logistic(t - z * se) : std::exp(t - z * se);
    r[2] = probability ? logistic(t + z * se) : std::exp(t + z * se);
    return r;
  };
  for (std::size_t a = 0; a < st.s; ++a) {
    if (st.absorbing[a]) continue;
    const std::string& name = markov.stages[a];
    const StageParams sp = stage_params(st, l, theta, a);
    PhaseDwell d;
    d.stage = name;
    for (int i = 0; i < l.phases[a]; ++i) {
      d.rates.push_back(sp.r[static_cast<std::size_t>(i)]);
      d.exit.push_back(sp.p[static_cast<std::size_t>(i)]);
    }
    const auto mean = interval(
        [&](const std::vector<double>& x) {
          return coxian_mean(stage_params(st, l, x, a), l.phases[a]);
        },
        false);
    d.mean = mean[0];
    d.ci_low = mean[1];
    d.ci_high = mean[2];
    d.n = data.pairs_from[a];
    out.dwells.push_back(d);
    out.estimates.push_back(EstimateRow{"stages." + name + ".dwell.mean", d.mean, d.ci_low,
                                        d.ci_high, d.n});
    const auto& ex = st.exits[a];
    for (std::size_t j = 0; j < ex.size(); ++j) {
      const std::string parameter = "stages." + name + ".next." + markov.stages[static_cast<std::size_t>(ex[j])];
      if (ex.size() == 1) {
        out.estimates.push_back(EstimateRow{parameter, 1.0, 1.0, 1.0, d.n});
        continue;
      }
      const auto p = interval(
          [&](const std::vector<double>& x) { return stage_params(st, l, x, a).pi[j]; }, true);
      out.estimates.push_back(EstimateRow{parameter, p[0], p[1], p[2], d.n});
    }
  }
  // Where a customer entering at the entry stage ends: the next choice is independent of the
  // phase, so the absorption probabilities are the embedded stage chain's, h = P h with h = 1 at
  // the target and 0 at the other absorbing stages (P(convert) for the won stage).
  for (std::size_t b = 0; b < st.s; ++b) {
    if (!st.absorbing[b]) continue;
    const auto absorption = [&](const std::vector<double>& x) {
      const auto n = static_cast<Eigen::Index>(st.s);
      Matrix a = Matrix::Identity(n, n);
      Eigen::VectorXd rhs = Eigen::VectorXd::Zero(n);
      rhs(static_cast<Eigen::Index>(b)) = 1.0;
      for (std::size_t from = 0; from < st.s; ++from) {
        if (st.absorbing[from]) continue;
        const StageParams sp = stage_params(st, l, x, from);
        const auto& ex = st.exits[from];
        for (std::size_t j = 0; j < ex.size(); ++j) a(static_cast<Eigen::Index>(from), ex[j]) -= sp.pi[j];
      }
      const Eigen::VectorXd h = a.partialPivLu().solve(rhs);
      const double v = h(entry_stage);
      return std::isfinite(v) ? std::clamp(v, 0.0, 1.0) : kNaN;
    };
    const auto eventually = interval(absorption, true);
    out.estimates.push_back(EstimateRow{"absorption." + markov.stages[b], eventually[0], eventually[1],
                                        eventually[2], data.start.size()});
  }
  for (const double day : o.occupancy_days) {
    for (std::size_t b = 0; b < st.s; ++b) {
      const auto occupancy = [&](const std::vector<double>& x) {
        const Matrix p = (generator(st, l, x) * day).exp();
        double v = 0.0;
        const int r0 = l.first[static_cast<std::size_t>(entry_stage)];
        for (int j = 0; j < l.phases[b]; ++j) v += p(r0, l.first[b] + j);
        return std::clamp(v, 0.0, 1.0);
      };
      const auto occ = interval(occupancy, true);
      out.estimates.push_back(EstimateRow{"occupancy." + text::number(day) + "." + markov.stages[b],
                                          occ[0], occ[1], occ[2], data.start.size()});
    }
  }
  return out;
}

}  // namespace

const EstimateRow* PhaseTypeFit::estimate(const std::string& parameter) const {
  return find_estimate(estimates, parameter);
}

double phase_type_loglik(const SnapshotLog& log, const PhaseFitOptions& options,
                         const std::vector<int>& phases, const std::vector<double>& theta,
                         std::vector<double>* gradient) {
  const Prepared prep = prepare(log, options);
  if (phases.size() != prep.st.s) {
    throw std::invalid_argument("phase_type_loglik: expected " + std::to_string(prep.st.s) +
                                " phase counts, got " + std::to_string(phases.size()));
  }
  const Likelihood lik(prep.st, prep.data, phases);
  if (theta.size() != lik.layout().parameters) {
    throw std::invalid_argument("phase_type_loglik: expected " +
                                std::to_string(lik.layout().parameters) + " parameters, got " +
                                std::to_string(theta.size()));
  }
  return lik.value(theta, gradient);
}

PhaseTypeFit fit_phase_type(const SnapshotLog& log, const PhaseFitOptions& o) {
  const Prepared prep = prepare(log, o);
  const MarkovFit& markov = prep.markov;
  const Structure& st = prep.st;
  const Data& data = prep.data;
  const std::map<std::string, int>& index = prep.index;
  PhaseTypeFit fit;
  fit.file = log.file;
  fit.stages = markov.stages;
  fit.absorbing = markov.absorbing;
  fit.level = o.level;
  fit.entry_stage = prep.entry;
  fit.warnings = prep.warnings;
  const auto warn = [&](const std::string& field, const std::string& message) {
    fit.warnings.push_back(Problem{log.file, 0, field, message, true});
  };
  fit.n_customers = data.start.size();
  fit.n_observations = data.steps.size();
  fit.n_created = data.created;
  fit.n_intervals = data.gaps.size();

  // ---- the Markov model ----
  std::vector<int> phases(st.s, 1);
  for (const auto& [name, k] : o.phases) phases[static_cast<std::size_t>(index.at(name))] = k;
  std::vector<double> theta;
  std::vector<double> markov_start;
  {
    const Layout one = make_layout(st, std::vector<int>(st.s, 1));
    theta.assign(one.parameters, 0.0);
    for (std::size_t a = 0; a < st.s; ++a) {
      if (st.absorbing[a]) continue;
      const double total = -markov.generator[a * st.s + a];
      theta[static_cast<std::size_t>(one.rate_at[a])] = std::log(total);
      const auto& ex = st.exits[a];
      const double q0 = std::max(markov.generator[a * st.s + static_cast<std::size_t>(ex[0])], 1e-12);
      for (std::size_t j = 1; j < ex.size(); ++j) {
        const double qj = std::max(markov.generator[a * st.s + static_cast<std::size_t>(ex[j])], 1e-12);
        theta[static_cast<std::size_t>(one.next_at[a]) + j - 1] = std::log(qj / q0);
      }
    }
    markov_start = theta;
    // Stages with fixed phases: their Markov start carried into the fixed layout.
    Layout from = one;
    for (std::size_t a = 0; a < st.s; ++a) {
      if (phases[a] == 1) continue;
      std::vector<int> next = from.phases;
      next[a] = phases[a];
      const Layout to = make_layout(st, next);
      const auto starts = coxian_starts(stage_params(st, from, theta, a), from.phases[a],
                                        phases[a], 1);
      theta = carry_over(st, from, theta, to, a, starts.back().first, starts.back().second);
      from = to;
    }
  }
  const auto aic_of = [](double ll, std::size_t k) { return 2.0 * static_cast<double>(k) - 2.0 * ll; };
  const Likelihood markov_lik(st, data, phases);
  Optimum current = maximise(markov_lik, st, theta, o, fit.n_observations);
  if (!std::isfinite(current.loglik)) {
    throw InputError(log.file, 0, "",
                     "the snapshots have probability 0 under every model the transitions allow");
  }
  {
    PhaseCandidate c;
    c.phases = markov_lik.layout().phases;
    c.loglik = current.loglik;
    c.parameters = markov_lik.layout().parameters;
    c.aic = aic_of(c.loglik, c.parameters);
    c.lr_statistic = kNaN;
    c.lr_p_value = kNaN;
    c.chosen = true;
    c.converged = current.converged;
    fit.candidates.push_back(c);
  }
  bool markov_only = true;
  for (const int k : phases) markov_only = markov_only && k == 1;
  // The Markov model (one phase everywhere) on the same likelihood, for comparison.
  const Likelihood one_phase(st, data, std::vector<int>(st.s, 1));
  const Optimum markov_optimum =
      markov_only ? current : maximise(one_phase, st, markov_start, o, fit.n_observations);
  fit.loglik_markov = markov_optimum.loglik;
  fit.aic_markov = aic_of(markov_optimum.loglik, one_phase.layout().parameters);

  // ---- stage by stage, more phases while AIC falls ----
  const boost::math::chi_squared_distribution<double> chi2(2.0);
  std::vector<int> chosen = markov_lik.layout().phases;
  double current_aic = fit.candidates.front().aic;
  for (std::size_t a = 0; a < st.s; ++a) {
    if (st.absorbing[a] || o.phases.count(markov.stages[a]) > 0) continue;
    if (o.max_phases > 1 && data.pairs_from[a] < o.min_pairs) {
      warn("stages." + markov.stages[a] + ".dwell",
           "only " + std::to_string(data.pairs_from[a]) + " observed pairs from '" +
               markov.stages[a] + "' (fewer than " + std::to_string(o.min_pairs) +
               "): kept exponential");
      continue;
    }
    for (int k = chosen[a] + 1; k <= o.max_phases; ++k) {
      const Layout from = make_layout(st, chosen);
      std::vector<int> next = chosen;
      next[a] = k;
      const Likelihood lik(st, data, next);
      const auto starts = coxian_starts(stage_params(st, from, current.theta, a), chosen[a], k,
                                        o.extra_starts);
      Optimum best;
      for (const auto& [lr, el] : starts) {
        Optimum r = maximise(lik, st, carry_over(st, from, current.theta, lik.layout(), a, lr, el),
                             o, fit.n_observations);
        if (r.loglik > best.loglik) best = std::move(r);
      }
      PhaseCandidate c;
      c.stage = markov.stages[a];
      c.phases = lik.layout().phases;
      c.loglik = best.loglik;
      c.parameters = lik.layout().parameters;
      c.aic = aic_of(c.loglik, c.parameters);
      c.lr_statistic = 2.0 * (best.loglik - current.loglik);
      c.lr_p_value = c.lr_statistic > 0.0 ? boost::math::cdf(boost::math::complement(chi2, c.lr_statistic)) : 1.0;
      c.converged = best.converged;
      c.chosen = std::isfinite(c.aic) && c.aic < current_aic;
      fit.candidates.push_back(c);
      if (!c.chosen) break;
      chosen = next;
      current = std::move(best);
      current_aic = c.aic;
    }
  }

  // ---- the chosen model ----
  const Likelihood lik(st, data, chosen);
  const Layout& l = lik.layout();
  fit.phases = l.phases;
  fit.theta = current.theta;
  fit.loglik = current.loglik;
  fit.parameters = l.parameters;
  fit.aic = current_aic;
  fit.converged = current.converged;
  if (!current.converged) {
    warn("", "the optimiser did not converge (" + current.status + ", max |gradient| " +
                 text::number(current.gradient_max) + "): estimates and intervals are unreliable");
  }
  const Summary summary = summarise(prep, lik, fit.theta, o);
  fit.covariance = summary.covariance;
  fit.information_positive_definite = summary.positive_definite;
  fit.dwells = summary.dwells;
  fit.estimates = summary.estimates;
  for (const auto& [field, message] : summary.warnings) warn(field, message);
  fit.markov_estimates = summarise(prep, one_phase, markov_optimum.theta, o).estimates;
  return fit;
}

std::vector<StageSpec> phase_type_stage_specs(const PhaseTypeFit& fit) {
  std::vector<StageSpec> out;
  std::size_t d = 0;
  for (std::size_t a = 0; a < fit.stages.size(); ++a) {
    StageSpec spec;
    spec.name = fit.stages[a];
    spec.absorbing = fit.absorbing[a];
    if (!spec.absorbing) {
      const PhaseDwell& dwell = fit.dwells[d++];
      DwellSpec ds;
      if (dwell.rates.size() == 1) {
        ds.dist = "exponential";
        ds.params["mean"] = 1.0 / dwell.rates.front();
      } else {
        ds.dist = "coxian";
        ds.rates = dwell.rates;
        ds.exit = dwell.exit;
      }
      spec.dwell = std::move(ds);
      // Next stages by decreasing probability, leaving out those the data do not support.
      std::vector<std::pair<double, std::string>> exits;
      const std::string prefix = "stages." + spec.name + ".next.";
      for (const auto& e : fit.estimates) {
        if (e.parameter.rfind(prefix, 0) != 0 || e.estimate < 1e-9) continue;
        exits.emplace_back(e.estimate, e.parameter.substr(prefix.size()));
      }
      std::stable_sort(exits.begin(), exits.end(),
                       [](const auto& x, const auto& y) { return x.first > y.first; });
      std::vector<double> weights;
      for (const auto& e : exits) weights.push_back(e.first);
      const std::vector<double> p = calibrate_log::exact_probabilities(weights);
      NextSpec next;
      for (std::size_t i = 0; i < exits.size(); ++i) next.probs.emplace_back(exits[i].second, p[i]);
      spec.next = std::move(next);
    }
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace lcsim
