#include "lcsim/calibrate/phase_fit.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <Eigen/Dense>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>
#include <unsupported/Eigen/MatrixFunctions>

#include "lcsim/core/format.hpp"
#include "log_reader.hpp"
#include "phase_model.hpp"
#include "profile.hpp"
#include "text.hpp"

namespace lcsim {
namespace {

namespace text = calibrate_text;
namespace prof = calibrate_profile;
using phase_model::coxian_mean;
using phase_model::Data;
using phase_model::Layout;
using phase_model::Likelihood;
using phase_model::logistic;
using phase_model::logit;
using phase_model::make_layout;
using phase_model::Matrix;
using phase_model::stage_params;
using phase_model::StageParams;
using phase_model::StepKind;
using phase_model::Structure;
constexpr int kMaxPhases = phase_model::kMaxPhases;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Parameters the information matrix leaves out: on a bound, or an exit or next-stage
/// probability so close to 0 or 1 (|logit| >= 10, resp. 15) that the likelihood is flat in its
/// logit (a phase the data do not use): held fixed, like a rate on a bound.
std::vector<bool> held_fixed(const Structure& st, const Layout& l,
                             const std::vector<double>& theta) {
  const std::vector<double> lo = phase_model::lower_bounds(st, l);
  const std::vector<double> hi = phase_model::upper_bounds(st, l);
  std::vector<bool> out(theta.size());
  for (std::size_t i = 0; i < theta.size(); ++i) {
    out[i] = theta[i] <= lo[i] + 1e-6 || theta[i] >= hi[i] - 1e-6;
  }
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

/// The maximisation problem of one likelihood.
prof::Problem problem_of(const Likelihood& lik, const PhaseFitOptions& o,
                         std::size_t observations) {
  prof::Problem p;
  p.loglik = [&lik](const std::vector<double>& x, std::vector<double>* g) {
    return lik.value(x, g);
  };
  p.lower = phase_model::lower_bounds(lik.structure(), lik.layout());
  p.upper = phase_model::upper_bounds(lik.structure(), lik.layout());
  p.max_evaluations = o.max_evaluations;
  p.relative_tolerance = o.relative_tolerance;
  p.gradient_tolerance = 1e-3 * std::max(1.0, std::sqrt(static_cast<double>(observations)));
  return p;
}

/// Next-stage logits of stage a from probabilities (per allowed exit, any positive scale).
void set_next(const Structure& st, const Layout& l, std::vector<double>& theta, std::size_t a,
              const std::vector<double>& probs) {
  const double ref = std::max(probs[0], 1e-300);
  for (std::size_t j = 1; j < st.exits[a].size(); ++j) {
    theta[static_cast<std::size_t>(l.next_at[a]) + j - 1] =
        std::log(std::max(probs[j], 1e-300) / ref);
  }
}

/// theta with every next-stage probability below `floor` lifted to it (the others scaled down).
std::vector<double> floored(const Structure& st, const Layout& l, std::vector<double> theta,
                            double floor) {
  for (std::size_t a = 0; a < st.s; ++a) {
    if (st.absorbing[a] || st.exits[a].size() < 2) continue;
    std::vector<double> pi = stage_params(st, l, theta, a).pi;
    const double f = std::min(floor, 0.5 / static_cast<double>(pi.size()));
    double lifted = 0.0;
    double rest = 0.0;
    for (const double p : pi) (p < f ? lifted : rest) += p < f ? f - p : p;
    if (lifted == 0.0) continue;
    for (double& p : pi) p = p < f ? f : p * (1.0 - lifted / rest);
    set_next(st, l, theta, a, pi);
  }
  return theta;
}

/// Maximises from `start`; then opens every next-stage exit left at (numerically) 0 whose score
/// is positive (the likelihood would rise if it opened, so the point is not a maximum over the
/// closed simplex: the Karush-Kuhn-Tucker condition fails, which L-BFGS cannot see in the logits,
/// whose gradient vanishes there) and maximises again, at most three times.
prof::Point maximise_open(const Likelihood& lik, const prof::Problem& problem,
                          const std::vector<double>& start) {
  constexpr double kClosed = 1e-6;    // an exit below this probability counts as closed
  constexpr double kOpenScore = 1.0;  // d loglik / d probability that makes it worth opening
  constexpr double kOpenAt = 0.02;    // the probability an opened exit restarts from
  const Structure& st = lik.structure();
  const Layout& l = lik.layout();
  prof::Point best = prof::maximise(problem, start);
  for (int round = 0; round < 3 && std::isfinite(best.loglik); ++round) {
    phase_model::ExitScores scores;
    (void)lik.value(best.theta, nullptr, &scores);
    std::vector<double> theta = best.theta;
    bool opened = false;
    for (std::size_t a = 0; a < st.s; ++a) {
      if (st.absorbing[a] || st.exits[a].size() < 2) continue;
      std::vector<double> pi = stage_params(st, l, theta, a).pi;
      double open = 0.0;
      for (std::size_t j = 0; j < pi.size(); ++j) {
        if (pi[j] < kClosed && scores[a][j] > kOpenScore) open += kOpenAt;
      }
      if (open == 0.0) continue;
      double rest = 0.0;
      for (std::size_t j = 0; j < pi.size(); ++j) {
        if (!(pi[j] < kClosed && scores[a][j] > kOpenScore)) rest += pi[j];
      }
      for (std::size_t j = 0; j < pi.size(); ++j) {
        pi[j] =
            pi[j] < kClosed && scores[a][j] > kOpenScore ? kOpenAt : pi[j] * (1.0 - open) / rest;
      }
      set_next(st, l, theta, a, pi);
      opened = true;
    }
    if (!opened) break;
    prof::Point p = prof::maximise(problem, theta);
    if (!(p.loglik > best.loglik + 1e-9)) break;
    best = std::move(p);
  }
  return best;
}

/// Theta of `to` (a layout with stage `a` at a new number of phases) from theta of `from`: every
/// other stage's parameters copied; stage a's Coxian from (log rates, exit logits).
std::vector<double> carry_over(const Structure& st, const Layout& from,
                               const std::vector<double>& theta, const Layout& to, std::size_t a,
                               const std::vector<double>& log_rates,
                               const std::vector<double>& exit_logits) {
  std::vector<double> out(to.parameters, 0.0);
  for (std::size_t b = 0; b < st.s; ++b) {
    if (st.absorbing[b]) continue;
    for (std::size_t j = 1; j < st.exits[b].size(); ++j) {
      out[static_cast<std::size_t>(to.next_at[b]) + j - 1] =
          theta[static_cast<std::size_t>(from.next_at[b]) + j - 1];
    }
    for (int i = 0; i < to.phases[b]; ++i) {
      out[static_cast<std::size_t>(to.rate_at[b] + i)] =
          b == a ? log_rates[static_cast<std::size_t>(i)]
                 : theta[static_cast<std::size_t>(from.rate_at[b] + i)];
    }
    for (int i = 0; i + 1 < to.phases[b]; ++i) {
      out[static_cast<std::size_t>(to.exit_at[b] + i)] =
          b == a ? exit_logits[static_cast<std::size_t>(i)]
                 : theta[static_cast<std::size_t>(from.exit_at[b] + i)];
    }
  }
  return out;
}

using CoxianStart = std::pair<std::vector<double>, std::vector<double>>;  // log rates, exit logits

/// Starts for stage a at k phases from a fit with k - 1: the old Coxian with one more phase
/// behind it (the old last phase now leaving with probability 0.8), a hypoexponential-like
/// start (k phases at k / mean, each leaving with 0.1) and a hyperexponential-like one (a fast
/// first phase leaving with 0.6, then slow ones).
std::vector<CoxianStart> coxian_starts(const StageParams& old, int k_old, int k, int extra) {
  std::vector<CoxianStart> out;
  const double mean = coxian_mean(old, k_old);
  {
    std::vector<double> lr;
    std::vector<double> el;
    for (int i = 0; i < k_old; ++i) lr.push_back(std::log(old.r[static_cast<std::size_t>(i)]));
    for (int i = 0; i + 1 < k_old; ++i) {
      el.push_back(logit(std::clamp(old.p[static_cast<std::size_t>(i)], 1e-6, 1 - 1e-6)));
    }
    while (static_cast<int>(lr.size()) < k) {
      lr.push_back(lr.back() + std::log(1.5));  // not equal: r_k = r_k+1 is a stationary point
      el.push_back(logit(0.8));
    }
    out.emplace_back(lr, el);
  }
  if (extra >= 1) {
    // Rates near k / mean but not equal: equal rates are a stationary point (swapping two
    // phases' rates changes little), from which the gradient cannot leave.
    std::vector<double> lr;
    for (int i = 0; i < k; ++i) lr.push_back(std::log(k / mean) + 0.3 * (i % 2 == 0 ? 1.0 : -1.0));
    out.emplace_back(lr, std::vector<double>(static_cast<std::size_t>(k - 1), logit(0.1)));
  }
  if (extra >= 2) {
    std::vector<double> lr{std::log(3.0 / mean)};
    while (static_cast<int>(lr.size()) < k) lr.push_back(std::log(0.4 / mean));
    out.emplace_back(lr, std::vector<double>(static_cast<std::size_t>(k - 1), logit(0.6)));
  }
  return out;
}

/// The Coxian of stage a with its last phase removed (the phase before it now always exits).
CoxianStart drop_phase(const StageParams& sp, int k) {
  CoxianStart out;
  for (int i = 0; i + 1 < k; ++i) out.first.push_back(std::log(sp.r[static_cast<std::size_t>(i)]));
  for (int i = 0; i + 2 < k; ++i) {
    out.second.push_back(logit(std::clamp(sp.p[static_cast<std::size_t>(i)], 1e-6, 1 - 1e-6)));
  }
  return out;
}

/// What every model of one fit shares: the Markov fit (the transitions checked, a start), the
/// structure, the entry stage and the data as steps.
struct Prepared {
  MarkovFit markov;
  Structure st;
  std::map<std::string, int> index;
  std::string entry;
  int entry_stage = 0;
  int won = -1;
  Data data;
  std::vector<std::vector<double>> pairs;  ///< S x S: observed steps from -> to (snapshot, exact)
  std::vector<double> time_from;           ///< per stage: days of the steps from it
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
  if (o.random_starts < 0) bad("random_starts", "a count >= 0", std::to_string(o.random_starts));
  if (!(o.start_floor >= 0.0 && o.start_floor < 0.5)) {
    bad("start_floor", "a probability in [0, 0.5)", text::number(o.start_floor));
  }
  if (o.criterion != "lr" && o.criterion != "bic" && o.criterion != "aic") {
    bad("criterion", "'lr', 'bic' or 'aic'", "'" + o.criterion + "'");
  }
  if (!(o.phase_level > 0.0 && o.phase_level < 1.0)) {
    bad("phase_level", "a test level in (0, 1)", text::number(o.phase_level));
  }

  // The Markov fit checks the transitions and gives the structure and a start.
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
  for (auto& ex : st.exits) std::sort(ex.begin(), ex.end());
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
  if (!o.won.empty()) {
    const auto it = index.find(o.won);
    if (it == index.end()) {
      throw InputError(log.file, 0, "won",
                       expected_got("a stage of the snapshots", "'" + o.won + "'") +
                           did_you_mean(o.won, markov.stages));
    }
    prep.won = it->second;
  }
  // Entry stage. Default: the non-absorbing stage most customers with a creation time are first
  // seen in (in stage order on ties); without creation times, the first non-absorbing stage.
  std::string entry = o.entry_stage;
  if (entry.empty()) {
    std::vector<std::size_t> first_seen(st.s, 0);
    for (const auto& path : log.customers) {
      if (std::isfinite(path.created))
        ++first_seen[static_cast<std::size_t>(index.at(path.observations.front().stage))];
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
                     expected_got("a non-absorbing stage of the snapshots", "'" + entry + "'") +
                         did_you_mean(entry, markov.stages));
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
  data.unit = o.resolution_days;
  data.pairs_from.assign(st.s, 0);
  prep.pairs.assign(st.s, std::vector<double>(st.s, 0.0));
  prep.time_from.assign(st.s, 0.0);
  std::map<std::int64_t, int> gap_index;  // in resolutions
  std::map<std::int64_t, int> stay_index;
  std::vector<std::int64_t> node_units;  // per node of data.nodes, to index later
  // One customer's steps as (stage, kind, units) triples after its start stage, then its path in
  // the tree of shared prefixes: a node per (parent, stage, kind, units).
  std::vector<std::int64_t> key;
  std::map<std::tuple<int, int, int, std::int64_t>, int> child_of;  // parent -1: the roots
  std::size_t unreachable = 0;
  const auto units_of = [&](double dt) {
    return static_cast<std::int64_t>(std::llround(dt / o.resolution_days));
  };
  const auto add_step = [&](int from, int to, double dt, StepKind kind) {
    std::int64_t units = units_of(dt);
    if (kind == StepKind::kStay) {
      if (units < 1) return;  // no time passed: staying has probability 1
      stay_index.emplace(units, 0);
    } else {
      units = std::max<std::int64_t>(units, 1);
      gap_index.emplace(units, 0);
      ++data.pairs_from[static_cast<std::size_t>(from)];
      prep.pairs[static_cast<std::size_t>(from)][static_cast<std::size_t>(to)] += 1.0;
      prep.time_from[static_cast<std::size_t>(from)] += dt;
      if (kind == StepKind::kEntry) ++data.exact;
    }
    key.insert(key.end(), {to, static_cast<std::int64_t>(kind), units});
  };
  for (const auto& path : log.customers) {
    const auto& obs = path.observations;
    const int first = index.at(obs.front().stage);
    key.clear();
    int start = first;
    int from = first;
    double t = obs.front().time;
    std::size_t k0 = 1;  // the first observation used as a step
    if (std::isfinite(path.created) && obs.front().time > path.created) {
      if (first == entry_stage || reach[static_cast<std::size_t>(first)] != 0) {
        start = entry_stage;
        from = entry_stage;
        t = path.created;
        k0 = 0;
        ++data.created;
      } else {
        ++unreachable;
      }
    }
    if (k0 == 1 && obs.front().entered < obs.front().time) {
      // Entered its first stage at a known time: it starts there, then stays.
      t = obs.front().entered;
      add_step(first, first, obs.front().time - t, StepKind::kStay);
      t = obs.front().time;
    }
    for (std::size_t k = k0; k < obs.size(); ++k) {
      if (st.absorbing[static_cast<std::size_t>(from)]) break;
      const int to = index.at(obs[k].stage);
      const double entered = obs[k].entered;
      if (!(obs[k].time > t)) continue;
      if (std::isfinite(entered) && (entered > t || to != from)) {
        add_step(from, to, std::max(entered - t, 0.0), StepKind::kEntry);
        if (!st.absorbing[static_cast<std::size_t>(to)])
          add_step(to, to, obs[k].time - entered, StepKind::kStay);
      } else if (std::isfinite(entered)) {
        add_step(to, to, obs[k].time - t, StepKind::kStay);  // still the stay seen before
      } else {
        add_step(from, to, obs[k].time - t, StepKind::kPanel);
      }
      t = obs[k].time;
      from = to;
    }
    if (key.empty()) continue;
    ++data.customers;
    data.observations += key.size() / 3;
    const auto node_for = [&](int parent, int stage, int kind, std::int64_t units) {
      const auto [it, added] = child_of.emplace(std::make_tuple(parent, stage, kind, units),
                                                static_cast<int>(data.nodes.size()));
      if (added) {
        data.nodes.push_back(Data::Node{parent, stage, 0, static_cast<StepKind>(kind), 0.0, 0.0});
        node_units.push_back(units);
      }
      return it->second;
    };
    int at = node_for(-1, start, 0, 0);
    data.nodes[static_cast<std::size_t>(at)].through += 1.0;
    for (std::size_t i = 0; i + 2 < key.size(); i += 3) {
      at = node_for(at, static_cast<int>(key[i]), static_cast<int>(key[i + 1]), key[i + 2]);
      data.nodes[static_cast<std::size_t>(at)].through += 1.0;
    }
    data.nodes[static_cast<std::size_t>(at)].ends += 1.0;
  }
  {
    int g = 0;
    for (auto& [units, i] : gap_index) {
      i = g++;
      data.gaps.push_back(units);
    }
    g = 0;
    for (auto& [units, i] : stay_index) {
      i = g++;
      data.stay_gaps.push_back(units);
    }
    for (std::size_t i = 0; i < data.nodes.size(); ++i) {
      Data::Node& node = data.nodes[i];
      if (node.parent < 0) continue;
      node.gap =
          node.kind == StepKind::kStay ? stay_index.at(node_units[i]) : gap_index.at(node_units[i]);
    }
  }
  if (unreachable > 0) {
    warn(log.created_column,
         std::to_string(unreachable) +
             " customers are first seen in a stage the allowed "
             "transitions cannot reach from the entry stage '" +
             entry + "': their creation times are not used (they start at their first snapshot)");
  }
  // Each stage's reference exit (the logit 0 of its next-stage choice): the exit with the most
  // observed pairs, so that no reference sits near 0.
  for (std::size_t a = 0; a < st.s; ++a) {
    auto& ex = st.exits[a];
    if (ex.size() < 2) continue;
    const auto best = std::max_element(ex.begin(), ex.end(), [&](int x, int y) {
      return prep.pairs[a][static_cast<std::size_t>(x)] <
             prep.pairs[a][static_cast<std::size_t>(y)];
    });
    std::rotate(ex.begin(), best, best + 1);
  }
  return prep;
}

/// A fitted model: its likelihood (which holds its structure) and maximum.
struct Fitted {
  std::vector<int> phases;
  prof::Point point;
};

/// The Markov model's starts: the Markov fit, the floored Markov fit, crude estimates from the
/// observed pairs, random ones.
std::vector<std::pair<std::string, std::vector<double>>> markov_starts(const Prepared& prep,
                                                                       const Layout& one,
                                                                       const PhaseFitOptions& o) {
  const Structure& st = prep.st;
  const MarkovFit& markov = prep.markov;
  std::vector<std::pair<std::string, std::vector<double>>> out;
  std::vector<double> theta(one.parameters, 0.0);
  for (std::size_t a = 0; a < st.s; ++a) {
    if (st.absorbing[a]) continue;
    theta[static_cast<std::size_t>(one.rate_at[a])] = std::log(-markov.generator[a * st.s + a]);
    std::vector<double> q;
    for (const int b : st.exits[a])
      q.push_back(markov.generator[a * st.s + static_cast<std::size_t>(b)]);
    set_next(st, one, theta, a, q);
  }
  out.emplace_back("markov fit", theta);
  if (o.start_floor > 0.0) out.emplace_back("floored", floored(st, one, theta, o.start_floor));
  // Crude: pairs leaving a stage per day spent there, next stages as the observed pairs (+ 1/2).
  std::vector<double> crude(one.parameters, 0.0);
  std::vector<double> crude_rate(st.s, 0.05);
  for (std::size_t a = 0; a < st.s; ++a) {
    if (st.absorbing[a]) continue;
    double leaving = 0.0;
    for (std::size_t b = 0; b < st.s; ++b) leaving += b == a ? 0.0 : prep.pairs[a][b];
    if (prep.time_from[a] > 0.0)
      crude_rate[a] = std::clamp((leaving + 0.5) / prep.time_from[a], 1e-5, 1e2);
    crude[static_cast<std::size_t>(one.rate_at[a])] = std::log(crude_rate[a]);
    std::vector<double> probs;
    for (const int b : st.exits[a])
      probs.push_back(prep.pairs[a][static_cast<std::size_t>(b)] + 0.5);
    set_next(st, one, crude, a, probs);
  }
  out.emplace_back("crude", crude);
  // Random: rates around the crude ones, next-stage probabilities uniform on the simplex. The
  // generator and transforms are written out so that the starts are the same on every platform.
  std::mt19937_64 rng(20261207);
  const auto uniform = [&rng]() { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; };
  for (int r = 0; r < o.random_starts; ++r) {
    std::vector<double> x(one.parameters, 0.0);
    for (std::size_t a = 0; a < st.s; ++a) {
      if (st.absorbing[a]) continue;
      const double normal =
          std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * M_PI * uniform());
      x[static_cast<std::size_t>(one.rate_at[a])] = std::log(crude_rate[a]) + 0.7 * normal;
      std::vector<double> probs;
      for (std::size_t j = 0; j < st.exits[a].size(); ++j) probs.push_back(-std::log(uniform()));
      set_next(st, one, x, a, probs);
    }
    out.emplace_back("random " + std::to_string(r + 1), x);
  }
  return out;
}

/// The observed information, intervals and estimates of one fitted model.
struct Summary {
  std::vector<double> covariance;
  bool positive_definite = false;
  std::vector<PhaseDwell> dwells;
  std::vector<EstimateRow> estimates;
  std::vector<std::string> not_identified;
  std::vector<std::pair<std::string, std::string>> warnings;  ///< (field, message)
  /// A profile or boundary refit found a higher likelihood: the maximum to start again from.
  std::optional<prof::Point> better;
  void warn(const std::string& field, const std::string& message) {
    warnings.emplace_back(field, message);
  }
};

/// The profile log-likelihood of stage a's exit j held at probability v: the maximum over the other
/// parameters (the exit's logit follows from v and the other logits), from `start` (a full theta).
prof::Point fixed_exit(const Likelihood& lik, const prof::Problem& problem,
                       const std::vector<double>& start, std::size_t a, std::size_t j, double v) {
  const Structure& st = lik.structure();
  const Layout& l = lik.layout();
  const std::size_t kj =
      static_cast<std::size_t>(l.next_at[a]) + j - 1;  // j >= 1: not the reference
  const std::size_t first = static_cast<std::size_t>(l.next_at[a]);
  const std::size_t m = st.exits[a].size();
  const double target = logit(v);
  const auto expand = [&](const std::vector<double>& x, std::vector<double>* weights) {
    std::vector<double> theta(x.size() + 1);
    for (std::size_t i = 0, k = 0; i < theta.size(); ++i) {
      if (i != kj) theta[i] = x[k++];
    }
    // eta_j = logit(v) + log sum_{c != j} exp(eta_c), with the reference's eta 0.
    double total = 1.0;
    for (std::size_t c = 1; c < m; ++c) {
      if (c != j) total += std::exp(theta[first + c - 1]);
    }
    theta[kj] = target + std::log(total);
    if (weights != nullptr) {
      weights->assign(m, 0.0);
      for (std::size_t c = 1; c < m; ++c) {
        if (c != j) (*weights)[c] = std::exp(theta[first + c - 1]) / total;
      }
    }
    return theta;
  };
  prof::Problem reduced = problem;
  reduced.lower.erase(reduced.lower.begin() + static_cast<std::ptrdiff_t>(kj));
  reduced.upper.erase(reduced.upper.begin() + static_cast<std::ptrdiff_t>(kj));
  reduced.loglik = [&](const std::vector<double>& x, std::vector<double>* g) {
    std::vector<double> weights;
    const std::vector<double> theta = expand(x, &weights);
    std::vector<double> full;
    const double ll = lik.value(theta, g != nullptr ? &full : nullptr);
    if (g != nullptr && std::isfinite(ll)) {
      g->assign(x.size(), 0.0);
      for (std::size_t i = 0, k = 0; i < theta.size(); ++i) {
        if (i == kj) continue;
        double d = full[i];
        if (i >= first && i < first + m - 1) d += full[kj] * weights[i - first + 1];
        (*g)[k++] = d;
      }
    }
    return ll;
  };
  std::vector<double> x;
  for (std::size_t i = 0; i < start.size(); ++i) {
    if (i != kj) x.push_back(start[i]);
  }
  prof::Point p = prof::maximise(reduced, x);
  p.theta = expand(p.theta, nullptr);
  return p;
}

/// One end of the profile-likelihood interval of stage a's exit j (on the logit scale): the
/// probability where 2 (best - profile loglik) reaches `critical`, by regula falsi on the logit
/// with each profile point a warm-started fit (fixed_exit). `variance` is the Wald variance of
/// the logit (for the first step). Open when the range end (1e-9 or 1 - 1e-9) is reached first.
prof::Bound exit_bound(const Likelihood& lik, const prof::Problem& problem, const prof::Point& best,
                       std::size_t a, std::size_t j, double direction, double critical,
                       double variance, double first = std::numeric_limits<double>::quiet_NaN()) {
  struct Trace {
    double t;
    double drop;
    std::vector<double> theta;
  };
  const double h0 = logit(stage_params(lik.structure(), lik.layout(), best.theta, a).pi[j]);
  const double end = direction < 0.0 ? logit(1e-9) : logit(1.0 - 1e-9);
  Trace inside{h0, 0.0, best.theta};
  std::optional<Trace> outside;
  prof::Bound out;
  double step = std::isfinite(variance) && variance > 0.0 ? std::sqrt(critical * variance) : 1.0;
  double t = std::isfinite(first) ? first : h0 + direction * std::max(step, 0.05);
  for (int iteration = 0; iteration < 16; ++iteration) {
    if (direction * (t - end) >= 0.0) t = end;
    prof::Point p = fixed_exit(lik, problem, inside.theta, a, j, logistic(t));
    ++out.solves;
    if (p.loglik > best.loglik + 1e-6 && (!out.higher || p.loglik > out.better.loglik)) {
      out.higher = true;
      out.better = p;
    }
    const double drop = std::isfinite(p.loglik) ? 2.0 * (best.loglik - p.loglik) : 4.0 * critical;
    if (drop < critical) {
      inside = Trace{t, drop, std::move(p.theta)};
      if (t == end) {
        out.open = true;
        out.value = end;
        out.inside_value = t;
        out.inside_loglik = best.loglik - drop / 2.0;
        return out;
      }
    } else {
      outside = Trace{t, drop, std::move(p.theta)};
    }
    if (!outside) {
      t = inside.t + direction * 2.0 * std::max(std::abs(inside.t - h0), 0.05);
      continue;
    }
    // Regula falsi on sqrt(drop), which is close to linear in the logit.
    const double a0 = std::sqrt(std::max(inside.drop, 0.0));
    const double b0 = std::sqrt(outside->drop);
    const double c0 = std::sqrt(critical);
    const double next = inside.t + (outside->t - inside.t) * (c0 - a0) / std::max(b0 - a0, 1e-12);
    if (std::abs(outside->t - inside.t) <= 0.02 || std::abs(next - t) <= 0.005) {
      t = next;
      break;
    }
    t = next;
  }
  out.inside_value = inside.t;
  out.inside_loglik = best.loglik - inside.drop / 2.0;
  out.value = outside ? t : inside.t;
  out.open = !outside;
  return out;
}

/// The structure without exit j of stage a, and theta carried over (the other exits keep their
/// probabilities, renormalised).
std::pair<Structure, std::vector<double>> without_exit(const Structure& st, const Layout& l,
                                                       const std::vector<double>& theta,
                                                       std::size_t a, std::size_t j) {
  Structure out = st;
  const std::vector<double> pi = stage_params(st, l, theta, a).pi;
  out.exits[a].erase(out.exits[a].begin() + static_cast<std::ptrdiff_t>(j));
  std::vector<double> rest = pi;
  rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(j));
  // Keep the largest remaining exit as the reference.
  const auto best = std::max_element(rest.begin(), rest.end()) - rest.begin();
  std::rotate(out.exits[a].begin(), out.exits[a].begin() + best, out.exits[a].begin() + best + 1);
  std::rotate(rest.begin(), rest.begin() + best, rest.begin() + best + 1);
  const Layout lo = make_layout(out, l.phases);
  std::vector<double> x(lo.parameters, 0.0);
  for (std::size_t b = 0; b < st.s; ++b) {
    if (st.absorbing[b]) continue;
    for (int i = 0; i < l.phases[b]; ++i) {
      x[static_cast<std::size_t>(lo.rate_at[b] + i)] =
          theta[static_cast<std::size_t>(l.rate_at[b] + i)];
    }
    for (int i = 0; i + 1 < l.phases[b]; ++i) {
      x[static_cast<std::size_t>(lo.exit_at[b] + i)] =
          theta[static_cast<std::size_t>(l.exit_at[b] + i)];
    }
    if (b == a) {
      set_next(out, lo, x, b, rest);
    } else {
      for (std::size_t m = 1; m < st.exits[b].size(); ++m) {
        x[static_cast<std::size_t>(lo.next_at[b]) + m - 1] =
            theta[static_cast<std::size_t>(l.next_at[b]) + m - 1];
      }
    }
  }
  return {std::move(out), std::move(x)};
}

/// `quick`: Wald intervals and the second-order bound of exits at 0 only (no refits): rows that
/// would need a profile get NaN intervals. For the models beside the chosen one.
Summary summarise(const Prepared& prep, const Likelihood& lik, const prof::Point& mle,
                  const PhaseFitOptions& o, bool quick = false) {
  Summary out;
  const MarkovFit& markov = prep.markov;
  const Structure& st = prep.st;
  const Data& data = prep.data;
  const int entry_stage = prep.entry_stage;
  const Layout& l = lik.layout();
  const std::vector<double>& theta = mle.theta;
  const std::size_t kp = l.parameters;
  const std::size_t observations = data.observations;
  // Profile points need their drop to about 1e-4 (the critical values are 2.7 and 3.8), not
  // the maximum's precision: a looser stop saves most of each warm-started solve.
  prof::Problem problem = problem_of(lik, o, observations);
  problem.relative_tolerance =
      std::max(o.relative_tolerance, 1e-4 / std::max(1.0, std::abs(mle.loglik)));
  const std::vector<bool> fixed = held_fixed(st, l, theta);
  std::vector<double> gradient0;
  phase_model::ExitScores scores0;
  if (!std::isfinite(lik.value(theta, &gradient0, &scores0))) {
    throw std::logic_error("summarise: the fitted parameters have probability 0");
  }
  std::vector<std::size_t> free;
  for (std::size_t i = 0; i < kp; ++i) {
    if (!fixed[i]) free.push_back(i);
  }
  const auto kf = static_cast<Eigen::Index>(free.size());
  // The stages holding more than a tenth of `weights` (one per free parameter), by name.
  const auto stages_of = [&](const Eigen::VectorXd& weights) {
    std::vector<std::string> names;
    const double total = weights.sum();
    for (std::size_t a = 0; a < st.s; ++a) {
      if (st.absorbing[a]) continue;
      const int first = l.rate_at[a];
      const int last = l.next_at[a] + static_cast<int>(st.exits[a].size()) - 1;
      double w = 0.0;
      for (Eigen::Index i = 0; i < kf; ++i) {
        const auto p = static_cast<int>(free[static_cast<std::size_t>(i)]);
        if (p >= first && p < last) w += weights(i);
      }
      if (w > 0.1 * total) names.push_back(markov.stages[a]);
    }
    return names;
  };

  // ---- the observed information of the free parameters ----
  out.covariance.assign(kp * kp, kNaN);
  Matrix pseudo = Matrix::Zero(kf, kf);  // the inverse on the identified subspace
  Matrix null;                           // free-parameter directions the data do not identify
  bool information = false;
  {
    Matrix hessian(kf, kf);
    for (Eigen::Index c = 0; c < kf; ++c) {
      const std::size_t i = free[static_cast<std::size_t>(c)];
      const double h = 1e-4;
      std::vector<double> x = theta;
      std::vector<double> gp;
      std::vector<double> gm;
      x[i] = theta[i] + h;
      if (!std::isfinite(lik.value(x, &gp))) gp.assign(kp, kNaN);
      x[i] = theta[i] - h;
      if (!std::isfinite(lik.value(x, &gm))) gm.assign(kp, kNaN);
      for (Eigen::Index r = 0; r < kf; ++r) {
        const std::size_t j = free[static_cast<std::size_t>(r)];
        hessian(r, c) = (gp[j] - gm[j]) / (2.0 * h);
      }
    }
    const Matrix info = -0.5 * (hessian + hessian.transpose());
    if (kf > 0 && info.allFinite()) {
      information = true;
      const Eigen::SelfAdjointEigenSolver<Matrix> eigen(info);
      const Eigen::VectorXd values = eigen.eigenvalues();
      const double max_eig = std::max(values.maxCoeff(), 1e-300);
      const double tol = 1e-9 * max_eig;
      std::vector<Eigen::Index> flat;
      for (Eigen::Index i = 0; i < kf; ++i) {
        if (values(i) > tol) {
          pseudo +=
              eigen.eigenvectors().col(i) * eigen.eigenvectors().col(i).transpose() / values(i);
        } else {
          flat.push_back(i);
        }
      }
      out.positive_definite = flat.empty();
      null.resize(kf, static_cast<Eigen::Index>(flat.size()));
      for (std::size_t i = 0; i < flat.size(); ++i)
        null.col(static_cast<Eigen::Index>(i)) = eigen.eigenvectors().col(flat[i]);
      if (out.positive_definite) {
        std::fill(out.covariance.begin(), out.covariance.end(), 0.0);
        for (Eigen::Index r = 0; r < kf; ++r) {
          for (Eigen::Index c = 0; c < kf; ++c) {
            out.covariance[free[static_cast<std::size_t>(r)] * kp +
                           free[static_cast<std::size_t>(c)]] = pseudo(r, c);
          }
        }
      } else {
        // Which stages the flat directions move, in words.
        const std::vector<std::string> involved = stages_of(null.rowwise().squaredNorm());
        out.warn("",
                 "the observed information is singular in " + std::to_string(flat.size()) +
                     " direction(s) (smallest eigenvalue " + text::number(values.minCoeff()) +
                     "): the data do not identify every parameter" +
                     (involved.empty() ? std::string()
                                       : " (the flat directions move the dwell or next stages of " +
                                             text::join(involved) + ")") +
                     "; quantities that depend on them get profile-likelihood intervals");
      }
    } else if (kp > 0) {
      out.warn("",
               "the observed information could not be computed: profile-likelihood intervals only");
    }
  }
  const boost::math::normal_distribution<double> normal;
  const double z = boost::math::quantile(normal, 0.5 + o.level / 2.0);
  const boost::math::chi_squared_distribution<double> chi1(1.0);
  const double two_sided = boost::math::quantile(chi1, o.level);              // 3.84 at 95%
  const double one_sided = boost::math::quantile(chi1, 2.0 * o.level - 1.0);  // 2.71 at 95%

  enum class Scale { kLog, kLogit };
  const auto back = [](Scale s, double v) { return s == Scale::kLog ? std::exp(v) : logistic(v); };
  // The Wald variance of h (on its scale) and whether h is identified (its gradient has no part
  // in the flat directions).
  struct Local {
    double variance = kNaN;
    bool identified = false;
    std::string moves;  ///< stages whose parameters the flat part of the gradient moves
  };
  const auto local = [&](const prof::Quantity& h) {
    Local r;
    if (!information) return r;
    const std::vector<double> g_all = prof::gradient(h, theta);
    Eigen::VectorXd g(kf);
    for (Eigen::Index i = 0; i < kf; ++i) g(i) = g_all[free[static_cast<std::size_t>(i)]];
    const double norm = g.norm();
    r.variance = g.dot(pseudo * g);
    r.identified = true;
    if (null.cols() > 0 && norm > 0.0) {
      const Eigen::VectorXd flat = null.transpose() * g;
      if (flat.norm() > 1e-3 * norm) {
        r.identified = false;
        const std::vector<std::string> stages = stages_of((null * flat).array().square().matrix());
        r.moves = text::join(stages);
      }
    }
    return r;
  };
  const auto note_better = [&](const prof::Bound& b) {
    if (b.higher && (!out.better || b.better.loglik > out.better->loglik)) out.better = b.better;
  };
  // A two-sided profile interval of h (on its scale) at `critical`: the two ends and whether each
  // ran to the end of h's range (open).
  struct Interval {
    std::array<double, 2> end{};
    std::array<bool, 2> open{};
    double low_inside = kNaN;         ///< h at the lower search's farthest point inside
    double low_inside_loglik = kNaN;  ///< the profile log-likelihood there
  };
  const auto profile_interval = [&](const prof::Quantity& h, Scale scale, double variance,
                                    double critical) {
    const double lambda0 =
        std::isfinite(variance) && variance > 0.0 ? std::sqrt(critical / variance) : 1.0;
    const double lim = scale == Scale::kLog ? 25.0 : 23.0;
    Interval r;
    for (int side = 0; side < 2; ++side) {
      const double direction = side == 0 ? -1.0 : 1.0;
      const prof::Bound b = prof::profile_bound(problem, mle, h, direction, critical, lambda0,
                                                h(theta) + direction * lim);
      note_better(b);
      r.end[static_cast<std::size_t>(side)] = back(scale, b.value);
      r.open[static_cast<std::size_t>(side)] = b.open;
      if (side == 0) {
        r.low_inside = b.inside_value;
        r.low_inside_loglik = b.inside_loglik;
      }
    }
    return r;
  };
  const auto not_bounded = [&](EstimateRow& row, const std::string& what, const std::string& why) {
    row.note = "not identified " + what + (why.empty() ? std::string() : ": " + why);
    out.not_identified.push_back(row.parameter + " (" + row.note + ")");
  };
  // A positive quantity (mean dwell): Wald on the log scale where identified, else profile.
  const auto positive = [&](EstimateRow& row, const prof::Quantity& h) {
    const Local loc = local(h);
    if (loc.identified && std::isfinite(loc.variance)) {
      const double t = h(theta);
      const double se = std::sqrt(std::max(loc.variance, 0.0));
      row.ci_low = std::exp(t - z * se);
      row.ci_high = std::exp(t + z * se);
      row.method = "wald";
      return;
    }
    if (quick) return;
    const Interval r = profile_interval(h, Scale::kLog, loc.variance, two_sided);
    row.method = "profile";
    row.ci_low = r.open[0] ? 0.0 : r.end[0];
    row.ci_high = r.open[1] ? std::numeric_limits<double>::infinity() : r.end[1];
    const std::string why =
        loc.moves.empty() ? std::string() : "the likelihood is flat in parameters of " + loc.moves;
    if (r.open[0] || r.open[1])
      not_bounded(row,
                  r.open[0] && r.open[1] ? "on either side"
                  : r.open[0]            ? "below"
                                         : "above",
                  why);
  };
  // A probability: Wald on the logit scale where identified and not near 0 or 1, else profile.
  // `without` (when given) refits with the probability at 0: the likelihood-ratio test of 0, and
  // when 0 is not rejected the boundary answer [0, one-sided profile upper bound]. `ends` (when
  // given) finds one end of the profile interval (direction, critical value) instead of tilting.
  using Ends = std::function<prof::Bound(double, double)>;
  const auto probability = [&](EstimateRow& row, const prof::Quantity& h,
                               const std::function<double()>& without, const Ends& ends) {
    const Local loc = local(h);
    const double p = row.estimate;
    const double se_p = p * (1.0 - p) * std::sqrt(std::max(loc.variance, 0.0));
    const bool near_low = !loc.identified || !std::isfinite(loc.variance) || p - z * se_p <= 0.0;
    const bool near_high = !loc.identified || !std::isfinite(loc.variance) || p + z * se_p >= 1.0;
    const std::string why =
        loc.moves.empty() ? std::string() : "the likelihood is flat in parameters of " + loc.moves;
    if (!near_low && !near_high) {
      const double t = h(theta);
      const double se = std::sqrt(std::max(loc.variance, 0.0));
      row.ci_low = logistic(t - z * se);
      row.ci_high = logistic(t + z * se);
      row.method = "wald";
      return;
    }
    const auto test_zero = [&](double ll0) {
      const double lr = std::isfinite(ll0) ? std::max(2.0 * (mle.loglik - ll0), 0.0)
                                           : std::numeric_limits<double>::infinity();
      // The chi-bar-squared mixture: half a point mass at 0, half a chi-square(1).
      row.p_zero = !std::isfinite(lr) ? 0.0
                   : lr <= 1e-9       ? 1.0
                                      : 0.5 * boost::math::cdf(boost::math::complement(chi1, lr));
    };
    const auto bound = [&](double direction, double critical) {
      if (ends) return ends(direction, critical);
      const double lambda0 = std::isfinite(loc.variance) && loc.variance > 0.0
                                 ? std::sqrt(critical / loc.variance)
                                 : 1.0;
      return prof::profile_bound(problem, mle, h, direction, critical, lambda0,
                                 h(theta) + direction * 23.0);
    };
    const auto boundary = [&]() {
      const prof::Bound b = bound(1.0, one_sided);
      note_better(b);
      row.ci_low = 0.0;
      row.ci_high = b.open ? 1.0 : logistic(b.value);
      row.method = "boundary";
      if (b.open) not_bounded(row, "above", why);
    };
    if (quick) return;
    double ll0 = kNaN;  // the profile log-likelihood at 0
    if (near_low && without) {
      ll0 = without();
      test_zero(ll0);
      if (row.p_zero >= 1.0 - o.level) {
        boundary();
        return;
      }
    }
    Interval r;
    for (int side = 0; side < 2; ++side) {
      const prof::Bound b = bound(side == 0 ? -1.0 : 1.0, two_sided);
      note_better(b);
      r.end[static_cast<std::size_t>(side)] = logistic(b.value);
      r.open[static_cast<std::size_t>(side)] = b.open;
      if (side == 0) {
        r.low_inside = b.inside_value;
        r.low_inside_loglik = b.inside_loglik;
      }
    }
    if (without && r.low_inside < logit(1e-8) && !(r.low_inside_loglik <= ll0)) {
      // The profile came down to 0 (to 1e-8) higher than the refit at 0, which stopped at a
      // lower maximum: the profile's own value at 0 decides.
      ll0 = r.low_inside_loglik;
      test_zero(ll0);
      if (row.p_zero >= 1.0 - o.level) {
        boundary();
        return;
      }
    }
    // 0 inside the interval: the drop at 0 is below the critical value.
    const bool zero_inside = r.open[0] || r.end[0] < 1e-9 ||
                             (std::isfinite(ll0) && 2.0 * (mle.loglik - ll0) <= two_sided);
    row.method = "profile";
    row.ci_low = zero_inside ? 0.0 : r.end[0];
    row.ci_high = r.open[1] ? 1.0 : r.end[1];
    if (r.open[0] && r.open[1]) not_bounded(row, "on either side", why);
  };

  // An exit at 0 (the maximum lies on the boundary: LR statistic 0): the upper bound from the
  // profile likelihood's second-order expansion at 0 in eps (probability moved to the exit from
  // the others): loglik_p(eps) = loglik - |s| eps - I eps^2 / 2, with s the exit's score and I
  // the profile (Schur complement) information of eps, by differences of the analytic gradient.
  const auto at_zero = [&](std::size_t a, std::size_t j, EstimateRow& row) {
    constexpr double h = 1e-4;
    std::vector<double> pi = stage_params(st, l, theta, a).pi;
    const double p0 = pi[j];
    for (double& p : pi) p *= 1.0 - h;
    pi[j] += h;
    std::vector<double> moved = theta;
    set_next(st, l, moved, a, pi);
    std::vector<double> gradient_h;
    phase_model::ExitScores scores_h;
    if (!std::isfinite(lik.value(moved, &gradient_h, &scores_h))) {
      row.ci_low = 0.0;
      row.ci_high = kNaN;
      row.method = "boundary";
      return;
    }
    const double s = scores0[a][j];
    double info = -(scores_h[a][j] - s) / h;
    if (information && kf > 0) {
      Eigen::VectorXd cross(kf);
      for (Eigen::Index i = 0; i < kf; ++i) {
        const std::size_t k = free[static_cast<std::size_t>(i)];
        cross(i) = -(gradient_h[k] - gradient0[k]) / h;
      }
      info -= cross.dot(pseudo * cross);
    }
    double eps = 1.0;
    bool open = false;
    if (info > 0.0) {
      eps = (s + std::sqrt(s * s + info * one_sided)) / info;
    } else if (s < 0.0) {
      eps = one_sided / (-2.0 * s);
    } else {
      open = true;
    }
    const double lr = s > 0.0 && info > 0.0 ? s * s / info : 0.0;
    row.p_zero = lr <= 0.0 ? 1.0 : 0.5 * boost::math::cdf(boost::math::complement(chi1, lr));
    row.ci_low = 0.0;
    row.ci_high = open ? 1.0 : std::min(1.0, p0 + eps * (1.0 - p0));
    row.method = "boundary";
    if (!open && !quick && !prep.markov.transitions_inferred && row.ci_high < 0.5) {
      // A transition the analyst listed: the exact profile bound, from the expansion's guess.
      const prof::Bound b =
          exit_bound(lik, problem, mle, a, j, 1.0, one_sided, kNaN, logit(row.ci_high));
      note_better(b);
      if (!b.open) row.ci_high = logistic(b.value);
    }
    if (open) {
      row.note = "not identified above: the likelihood does not fall as the exit opens";
      out.not_identified.push_back(row.parameter + " (" + row.note + ")");
    }
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
    d.n = data.pairs_from[a];
    EstimateRow mean{"stages." + name + ".dwell.mean", coxian_mean(sp, l.phases[a]), kNaN, kNaN,
                     d.n};
    positive(mean, [&, a](const std::vector<double>& x) {
      return std::log(coxian_mean(stage_params(st, l, x, a), l.phases[a]));
    });
    d.mean = mean.estimate;
    d.ci_low = mean.ci_low;
    d.ci_high = mean.ci_high;
    out.dwells.push_back(d);
    out.estimates.push_back(mean);
    // Next stages in stage order.
    const auto& ex = st.exits[a];
    std::vector<std::size_t> order(ex.size());
    for (std::size_t j = 0; j < ex.size(); ++j) order[j] = j;
    std::sort(order.begin(), order.end(),
              [&](std::size_t x, std::size_t y) { return ex[x] < ex[y]; });
    for (const std::size_t j : order) {
      const std::string parameter =
          "stages." + name + ".next." + markov.stages[static_cast<std::size_t>(ex[j])];
      EstimateRow row{parameter, sp.pi[j], kNaN, kNaN, d.n};
      if (ex.size() == 1) {
        row.ci_low = row.ci_high = 1.0;
        row.method = "fixed";
        out.estimates.push_back(row);
        continue;
      }
      if (sp.pi[j] < 1e-6) {
        at_zero(a, j, row);
        out.estimates.push_back(row);
        continue;
      }
      const auto h = [&, a, j](const std::vector<double>& x) {
        return logit(std::clamp(stage_params(st, l, x, a).pi[j], 1e-300, 1.0 - 1e-16));
      };
      const auto refit_without = [&, a, j]() {
        const auto [reduced, start] = without_exit(st, l, theta, a, j);
        const Likelihood lik0(reduced, data, l.phases);
        return prof::maximise(problem_of(lik0, o, observations), start).loglik;
      };
      const Ends ends = [&, a, j](double direction, double critical) {
        const Local loc = local(h);
        return exit_bound(lik, problem, mle, a, j, direction, critical, loc.variance);
      };
      probability(row, h, refit_without, j == 0 ? Ends() : ends);
      out.estimates.push_back(row);
    }
  }
  // Where a customer entering at the entry stage ends, and whether it reaches the conversion
  // stage: the next choice is independent of the phase, so these are the embedded stage chain's
  // absorption probabilities, h = P h with h = 1 at the target and 0 at the other absorbing
  // stages (the conversion stage made absorbing for P(reaching it)).
  const auto absorption = [&](std::size_t target, const std::vector<double>& x) {
    const auto n = static_cast<Eigen::Index>(st.s);
    Matrix m = Matrix::Identity(n, n);
    Eigen::VectorXd rhs = Eigen::VectorXd::Zero(n);
    rhs(static_cast<Eigen::Index>(target)) = 1.0;
    for (std::size_t from = 0; from < st.s; ++from) {
      if (st.absorbing[from] || from == target) continue;
      const StageParams sp = stage_params(st, l, x, from);
      const auto& ex = st.exits[from];
      for (std::size_t j = 0; j < ex.size(); ++j)
        m(static_cast<Eigen::Index>(from), ex[j]) -= sp.pi[j];
    }
    const Eigen::VectorXd h = m.partialPivLu().solve(rhs);
    const double v = h(entry_stage);
    return std::isfinite(v) ? std::clamp(v, 0.0, 1.0) : kNaN;
  };
  std::vector<std::pair<std::string, std::size_t>> targets;
  for (std::size_t b = 0; b < st.s; ++b) {
    if (st.absorbing[b]) targets.emplace_back("absorption." + markov.stages[b], b);
  }
  if (prep.won >= 0)
    targets.emplace_back("conversion." + markov.stages[static_cast<std::size_t>(prep.won)],
                         static_cast<std::size_t>(prep.won));
  for (const auto& [parameter, b] : targets) {
    EstimateRow row{parameter, absorption(b, theta), kNaN, kNaN, data.customers};
    probability(row,
                [&, b = b](const std::vector<double>& x) {
                  return logit(std::clamp(absorption(b, x), 1e-300, 1.0 - 1e-16));
                },
                {}, {});
    out.estimates.push_back(row);
  }
  for (const double day : o.occupancy_days) {
    for (std::size_t b = 0; b < st.s; ++b) {
      const auto occupancy = [&, b, day](const std::vector<double>& x) {
        const Matrix p = (phase_model::generator(st, l, x) * day).exp();
        double v = 0.0;
        const int r0 = l.first[static_cast<std::size_t>(entry_stage)];
        for (int j = 0; j < l.phases[b]; ++j) v += p(r0, l.first[b] + j);
        return std::clamp(v, 0.0, 1.0);
      };
      EstimateRow row{"occupancy." + text::number(day) + "." + markov.stages[b], occupancy(theta),
                      kNaN, kNaN, data.customers};
      probability(row,
                  [&, occupancy](const std::vector<double>& x) {
                    return logit(std::clamp(occupancy(x), 1e-300, 1.0 - 1e-16));
                  },
                  {}, {});
      out.estimates.push_back(row);
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
  fit.criterion = o.criterion;
  fit.warnings = prep.warnings;
  const auto warn = [&](const std::string& field, const std::string& message) {
    fit.warnings.push_back(Problem{log.file, 0, field, message, true});
  };
  fit.n_customers = data.customers;
  fit.n_observations = 0;
  for (const std::size_t n : data.pairs_from) fit.n_observations += n;
  fit.n_created = data.created;
  fit.n_intervals = data.gaps.size() + data.stay_gaps.size();
  fit.n_exact = data.exact;
  const std::size_t observations = data.observations;
  const double log_n = std::log(static_cast<double>(std::max<std::size_t>(fit.n_observations, 2)));
  const auto aic_of = [](double ll, std::size_t k) {
    return 2.0 * static_cast<double>(k) - 2.0 * ll;
  };
  const auto bic_of = [&](double ll, std::size_t k) {
    return log_n * static_cast<double>(k) - 2.0 * ll;
  };
  const auto score = [&](double ll, std::size_t k) {
    return o.criterion == "bic" ? bic_of(ll, k) : aic_of(ll, k);
  };

  // ---- the Markov model, from several starts ----
  const Layout one = make_layout(st, std::vector<int>(st.s, 1));
  const Likelihood one_phase(st, data, std::vector<int>(st.s, 1));
  const prof::Problem one_problem = problem_of(one_phase, o, observations);
  prof::Point markov_optimum;
  for (const auto& [name, start] : markov_starts(prep, one, o)) {
    prof::Point p = maximise_open(one_phase, one_problem, start);
    fit.starts.push_back(PhaseStart{name, p.loglik, p.converged, false});
    if (p.loglik > markov_optimum.loglik + 1e-9) markov_optimum = std::move(p);
  }
  if (!std::isfinite(markov_optimum.loglik)) {
    throw InputError(log.file, 0, "",
                     "the snapshots have probability 0 under every model the transitions allow");
  }
  for (auto& s : fit.starts) s.best = std::abs(s.loglik - markov_optimum.loglik) <= 1e-9;
  if (!fit.starts.empty() && markov_optimum.loglik - fit.starts.front().loglik > 0.5) {
    std::string best;
    for (const auto& s : fit.starts) {
      if (s.best) best = s.start;
    }
    warn("", "the continuous-time Markov fit's maximum (log-likelihood " +
                 text::number(fit.starts.front().loglik) + ") is not the highest: the " + best +
                 " start reached " + text::number(markov_optimum.loglik) +
                 " (every start's log-likelihood is in the starts table)");
  }
  fit.loglik_markov = markov_optimum.loglik;
  fit.aic_markov = aic_of(markov_optimum.loglik, one.parameters);
  fit.bic_markov = bic_of(markov_optimum.loglik, one.parameters);

  // Stages with phases fixed by the options: the Markov optimum carried into that layout, fitted.
  std::vector<int> phases(st.s, 1);
  for (const auto& [name, k] : o.phases) phases[static_cast<std::size_t>(index.at(name))] = k;
  Fitted current{std::vector<int>(st.s, 1), markov_optimum};
  {
    std::vector<double> theta = markov_optimum.theta;
    Layout from = one;
    for (std::size_t a = 0; a < st.s; ++a) {
      if (phases[a] == 1) continue;
      std::vector<int> next = from.phases;
      next[a] = phases[a];
      const Layout to = make_layout(st, next);
      const auto starts =
          coxian_starts(stage_params(st, from, theta, a), from.phases[a], phases[a], 1);
      theta = carry_over(st, from, theta, to, a, starts.back().first, starts.back().second);
      from = to;
    }
    if (from.phases != current.phases) {
      const Likelihood lik(st, data, from.phases);
      const prof::Problem problem = problem_of(lik, o, observations);
      current = Fitted{from.phases, maximise_open(lik, problem, theta)};
    }
  }
  {
    PhaseCandidate c;
    c.phases = make_layout(st, current.phases).phases;
    c.loglik = current.point.loglik;
    c.parameters = make_layout(st, current.phases).parameters;
    c.aic = aic_of(c.loglik, c.parameters);
    c.bic = bic_of(c.loglik, c.parameters);
    c.lr_statistic = kNaN;
    c.lr_p_value = kNaN;
    c.step = "markov";
    c.chosen = true;
    c.converged = current.point.converged;
    fit.candidates.push_back(c);
  }
  double current_score = score(current.point.loglik, make_layout(st, current.phases).parameters);

  const boost::math::chi_squared_distribution<double> chi2(2.0);
  // Fits `next` (one stage's phases changed from `current`) from the given Coxian starts of
  // stage a.
  // `local`: only stage a's own parameters move (the others stay at the current fit), which is
  // enough to rank the stages by how much one more phase helps, at a fraction of the cost.
  const auto fit_model = [&](std::size_t a, const std::vector<int>& next,
                             const std::vector<CoxianStart>& starts, bool local) {
    const Layout from = make_layout(st, current.phases);
    const Likelihood lik(st, data, next);
    prof::Problem problem = problem_of(lik, o, observations);
    const Layout& to = lik.layout();
    const auto own = static_cast<std::size_t>(to.rate_at[a]);
    const std::size_t own_end = static_cast<std::size_t>(to.next_at[a]) + st.exits[a].size() - 1;
    prof::Point best;
    for (const auto& [lr, el] : starts) {
      const std::vector<double> start = carry_over(st, from, current.point.theta, to, a, lr, el);
      if (local) {
        for (std::size_t i = 0; i < start.size(); ++i) {
          if (i < own || i >= own_end) problem.lower[i] = problem.upper[i] = start[i];
        }
      }
      prof::Point p = local ? prof::maximise(problem, start) : maximise_open(lik, problem, start);
      if (p.loglik > best.loglik) best = std::move(p);
    }
    return best;
  };
  // Whether stage a's Coxian in a fit is at the hypoexponential edge of its family (an Erlang:
  // no phase but the last exits, equal rates): the most regular dwell k phases can show. The fit
  // pushes against the family's limit, so the next phase can only help; it is kept whatever the
  // test says (the model with one phase fewer is misspecified, and its intervals with it).
  const auto at_edge = [&](const std::vector<int>& ph, const std::vector<double>& x,
                           std::size_t a) {
    const int k = ph[a];
    if (k < 2) return false;
    const StageParams sp = stage_params(st, make_layout(st, ph), x, a);
    double low = sp.r[0];
    double high = sp.r[0];
    for (int i = 0; i < k; ++i) {
      if (i + 1 < k && sp.p[static_cast<std::size_t>(i)] > 1e-3) return false;
      low = std::min(low, sp.r[static_cast<std::size_t>(i)]);
      high = std::max(high, sp.r[static_cast<std::size_t>(i)]);
    }
    return high <= 1.01 * low;
  };
  // Records the candidate `next` (fitted at `best`) and keeps it when the criterion says so.
  const auto consider = [&](std::size_t a, const std::vector<int>& next, prof::Point best,
                            const std::string& step) {
    PhaseCandidate c;
    c.stage = markov.stages[a];
    c.step = step;
    c.phases = make_layout(st, next).phases;
    c.loglik = best.loglik;
    c.parameters = make_layout(st, next).parameters;
    c.aic = aic_of(c.loglik, c.parameters);
    c.bic = bic_of(c.loglik, c.parameters);
    const bool removal = step == "remove";
    c.lr_statistic =
        2.0 * (removal ? current.point.loglik - best.loglik : best.loglik - current.point.loglik);
    c.lr_p_value = c.lr_statistic > 0.0
                       ? boost::math::cdf(boost::math::complement(chi2, c.lr_statistic))
                       : 1.0;
    c.converged = best.converged;
    if (std::isfinite(c.loglik) && step != "screen") {
      if (step == "add" && at_edge(current.phases, current.point.theta, a) &&
          c.loglik >= current.point.loglik - 1e-6) {
        c.chosen = true;
        c.edge = true;
      } else if (o.criterion == "lr") {
        c.chosen = removal ? !(c.lr_p_value < o.phase_level) : c.lr_p_value < o.phase_level;
      } else {
        c.chosen = score(c.loglik, c.parameters) < current_score;
      }
    }
    fit.candidates.push_back(c);
    if (c.chosen) {
      current = Fitted{next, std::move(best)};
      current_score = score(current.point.loglik, c.parameters);
    }
    return c.chosen;
  };
  const auto grow_starts = [&](std::size_t a, int k) {
    const Layout from = make_layout(st, current.phases);
    return coxian_starts(stage_params(st, from, current.point.theta, a), current.phases[a], k,
                         o.extra_starts);
  };

  // ---- screening: one more phase for each stage alone, to order the stages by evidence ----
  std::vector<std::size_t> eligible;
  for (std::size_t a = 0; a < st.s; ++a) {
    if (st.absorbing[a] || o.phases.count(markov.stages[a]) > 0 || o.max_phases < 2) continue;
    if (data.pairs_from[a] < o.min_pairs) {
      warn("stages." + markov.stages[a] + ".dwell",
           "only " + std::to_string(data.pairs_from[a]) + " observed pairs from '" +
               markov.stages[a] + "' (fewer than " + std::to_string(o.min_pairs) +
               "): kept exponential");
      continue;
    }
    eligible.push_back(a);
  }
  std::vector<std::pair<double, std::size_t>> order;
  std::map<std::size_t, CoxianStart> screened;
  for (const std::size_t a : eligible) {
    std::vector<int> next = current.phases;
    next[a] += 1;
    prof::Point p = fit_model(a, next, grow_starts(a, next[a]), true);
    (void)consider(a, next, p, "screen");
    order.emplace_back(-(p.loglik - current.point.loglik), a);
    // Its Coxian starts the full fit of the same model in the forward pass.
    const StageParams sp = stage_params(st, make_layout(st, next), p.theta, a);
    CoxianStart start;
    for (int i = 0; i < next[a]; ++i)
      start.first.push_back(std::log(sp.r[static_cast<std::size_t>(i)]));
    for (int i = 0; i + 1 < next[a]; ++i) {
      start.second.push_back(
          logit(std::clamp(sp.p[static_cast<std::size_t>(i)], 1e-9, 1.0 - 1e-9)));
    }
    screened.emplace(a, std::move(start));
  }
  std::stable_sort(order.begin(), order.end());
  // ---- forward: in that order, more phases while the criterion keeps them ----
  const std::vector<int> base = current.phases;
  for (const auto& [gain, a] : order) {
    for (int k = current.phases[a] + 1; k <= o.max_phases; ++k) {
      std::vector<int> next = current.phases;
      next[a] = k;
      const bool first = k == base[a] + 1;
      const std::vector<CoxianStart> starts =
          first ? std::vector<CoxianStart>{screened.at(a)} : grow_starts(a, k);
      if (!consider(a, next, fit_model(a, next, starts, false), "add")) break;
    }
  }
  // ---- backward: a phase fewer wherever the criterion prefers it, given the others ----
  for (const auto& [gain, a] : order) {
    if (current.phases[a] <= base[a]) continue;
    std::vector<int> fewer = current.phases;
    fewer[a] -= 1;
    if (fewer[a] >= 2 && at_edge(current.phases, current.point.theta, a))
      continue;  // still needs them
    const Layout from = make_layout(st, current.phases);
    std::vector<int> next = current.phases;
    next[a] -= 1;
    (void)consider(
        a, next,
        fit_model(a, next,
                  {drop_phase(stage_params(st, from, current.point.theta, a), current.phases[a])},
                  false),
        "remove");
  }

  // ---- edges: a stage whose Coxian ended at the edge of its family gets its next phase ----
  for (const auto& [gain, a] : order) {
    while (current.phases[a] < o.max_phases && at_edge(current.phases, current.point.theta, a)) {
      std::vector<int> next = current.phases;
      next[a] += 1;
      if (!consider(a, next, fit_model(a, next, grow_starts(a, next[a]), false), "add")) break;
    }
  }
  for (const std::size_t a : eligible) {
    if (current.phases[a] == o.max_phases && at_edge(current.phases, current.point.theta, a)) {
      warn("stages." + markov.stages[a] + ".dwell",
           "'" + markov.stages[a] + "' is at the edge of " + std::to_string(o.max_phases) +
               "-phase Coxians (equal rates, no early exit: an Erlang): its dwell is more "
               "regular than " +
               std::to_string(o.max_phases) +
               " phases can show; more phases "
               "(--max-phases " +
               std::to_string(std::min(o.max_phases + 1, kMaxPhases)) + ") may fit it better");
    }
  }
  // ---- the chosen model ----
  Likelihood lik(st, data, current.phases);
  Summary summary;
  for (int attempt = 0; attempt < 3; ++attempt) {
    summary = summarise(prep, lik, current.point, o);
    if (!summary.better) break;
    // A profile found a higher likelihood: the optimiser had stopped at a local maximum.
    warn("", "a profile-likelihood search found a higher log-likelihood (" +
                 text::number(summary.better->loglik) + " > " + text::number(current.point.loglik) +
                 "): the fit continues from there");
    current.point = maximise_open(lik, problem_of(lik, o, observations), summary.better->theta);
  }
  const Layout& l = lik.layout();
  fit.phases = l.phases;
  fit.theta = current.point.theta;
  fit.loglik = current.point.loglik;
  fit.parameters = l.parameters;
  fit.aic = aic_of(fit.loglik, fit.parameters);
  fit.bic = bic_of(fit.loglik, fit.parameters);
  fit.converged = current.point.converged;
  if (!current.point.converged) {
    warn("", "the optimiser did not converge (" + current.point.status + ", max |gradient| " +
                 text::number(current.point.gradient_max) +
                 "): estimates and intervals are unreliable");
  }
  fit.covariance = summary.covariance;
  fit.information_positive_definite = summary.positive_definite;
  fit.dwells = summary.dwells;
  fit.estimates = summary.estimates;
  fit.not_identified = summary.not_identified;
  for (const auto& [field, message] : summary.warnings) warn(field, message);
  if (!fit.not_identified.empty()) {
    warn("", "the data do not bound: " + text::join(fit.not_identified));
  }
  // ---- the models the data cannot tell from the chosen one ----
  // One more phase for a stage is often not rejected by the test, yet moves quantities that
  // depend on how short that stage's stays can be (a skip around it against a quick passage
  // through it): the intervals widen to cover every such model (Wald intervals of each).
  const boost::math::chi_squared_distribution<double> chi2_alt(2.0);
  const double plausible = boost::math::quantile(chi2_alt, o.level);
  for (const std::size_t a : eligible) {
    if (current.phases[a] >= o.max_phases) continue;
    std::vector<int> next = current.phases;
    next[a] += 1;
    const prof::Point p = fit_model(a, next, grow_starts(a, next[a]), false);
    const double lr = 2.0 * (p.loglik - current.point.loglik);
    if (!(std::isfinite(lr) && lr < plausible)) continue;
    PhaseCandidate c;
    c.stage = markov.stages[a];
    c.step = "alternative";
    c.phases = make_layout(st, next).phases;
    c.loglik = p.loglik;
    c.parameters = make_layout(st, next).parameters;
    c.aic = aic_of(c.loglik, c.parameters);
    c.bic = bic_of(c.loglik, c.parameters);
    c.lr_statistic = lr;
    c.lr_p_value = lr > 0.0 ? boost::math::cdf(boost::math::complement(chi2_alt, lr)) : 1.0;
    c.converged = p.converged;
    fit.candidates.push_back(c);
    const Likelihood alt_lik(st, data, next);
    const Summary alt = summarise(prep, alt_lik, p, o, true);
    for (EstimateRow& row : fit.estimates) {
      const EstimateRow* other = find_estimate(alt.estimates, row.parameter);
      if (other == nullptr || !std::isfinite(other->ci_low) || !std::isfinite(other->ci_high))
        continue;
      if (!(other->ci_low < row.ci_low || other->ci_high > row.ci_high)) continue;
      row.ci_low = std::min(row.ci_low, other->ci_low);
      row.ci_high = std::max(row.ci_high, other->ci_high);
      row.note += (row.note.empty() ? "" : "; ") +
                  std::string("widened to cover the fit with one more phase for ") +
                  markov.stages[a] + " (LR test p = " + text::number(c.lr_p_value) + ")";
    }
  }
  for (std::size_t d = 0; d < fit.dwells.size(); ++d) {
    const EstimateRow* row =
        find_estimate(fit.estimates, "stages." + fit.dwells[d].stage + ".dwell.mean");
    if (row != nullptr) {
      fit.dwells[d].ci_low = row->ci_low;
      fit.dwells[d].ci_high = row->ci_high;
    }
  }

  const bool one_everywhere =
      std::all_of(l.phases.begin(), l.phases.end(), [](int k) { return k == 1; });
  fit.markov_estimates =
      one_everywhere ? summary.estimates : summarise(prep, one_phase, markov_optimum, o).estimates;
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
