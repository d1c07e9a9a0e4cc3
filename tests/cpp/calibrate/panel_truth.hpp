// Shared by the snapshot-fit tests: semi-Markov truths (Weibull, lognormal, exponential and
// Coxian dwells, the test's own samplers), monthly panels drawn from them, their occupancy by
// simulation, and how far a fit's estimates land from the truth in standard errors.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "lcsim/calibrate/phase_fit.hpp"
#include "lcsim/calibrate/snapshot_fit.hpp"

namespace lcsim::panel_truth {

inline double uniform01(std::mt19937_64& rng) {
  return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
}

/// A semi-Markov truth: each stage's dwell sampler, mean and next-stage probabilities.
struct TrueStage {
  std::string name;
  std::function<double(std::mt19937_64&)> dwell;  ///< empty: absorbing
  double mean = 0.0;
  std::vector<std::pair<int, double>> next;
};

inline std::function<double(std::mt19937_64&)> weibull(double shape, double mean) {
  const double scale = mean / std::tgamma(1.0 + 1.0 / shape);
  return [=](std::mt19937_64& rng) {
    return scale * std::pow(-std::log(uniform01(rng)), 1.0 / shape);
  };
}

inline std::function<double(std::mt19937_64&)> lognormal(double mean, double sigma) {
  const double mu = std::log(mean) - sigma * sigma / 2.0;
  return [=](std::mt19937_64& rng) {
    // Box-Muller: the test's own normal draws.
    const double u = uniform01(rng);
    const double v = uniform01(rng);
    return std::exp(mu + sigma * std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * v));
  };
}

inline std::function<double(std::mt19937_64&)> exponential(double mean) {
  return [=](std::mt19937_64& rng) { return -mean * std::log(uniform01(rng)); };
}

inline std::function<double(std::mt19937_64&)> coxian2(double r1, double r2, double p1) {
  return [=](std::mt19937_64& rng) {
    double d = -std::log(uniform01(rng)) / r1;
    if (uniform01(rng) >= p1) d += -std::log(uniform01(rng)) / r2;
    return d;
  };
}

/// lead (Weibull 1.8) -> mql, lost; mql (Weibull 0.7) -> sql, lead, lost; sql (lognormal) ->
/// won, lost.
inline std::vector<TrueStage> semi_markov() {
  return {{"lead", weibull(1.8, 20.0), 20.0, {{1, 0.6}, {4, 0.4}}},
          {"mql", weibull(0.7, 30.0), 30.0, {{2, 0.5}, {0, 0.1}, {4, 0.4}}},
          {"sql", lognormal(25.0, 0.8), 25.0, {{3, 0.5}, {4, 0.5}}},
          {"won", {}, 0.0, {}},
          {"lost", {}, 0.0, {}}};
}

inline std::vector<TrueStage> markov_truth() {
  return {{"lead", exponential(20.0), 20.0, {{1, 0.6}, {4, 0.4}}},
          {"mql", exponential(30.0), 30.0, {{2, 0.5}, {0, 0.1}, {4, 0.4}}},
          {"sql", exponential(25.0), 25.0, {{3, 0.5}, {4, 0.5}}},
          {"won", {}, 0.0, {}},
          {"lost", {}, 0.0, {}}};
}

/// The stage at each of `times` of a customer entering stage 0 at time `start`.
inline std::vector<int> path_at(const std::vector<TrueStage>& truth, double start,
                                const std::vector<double>& times, std::mt19937_64& rng) {
  std::vector<int> out;
  int stage = 0;
  double t = start;
  double leave = t + truth[0].dwell(rng);
  for (const double when : times) {
    while (truth[static_cast<std::size_t>(stage)].dwell && leave <= when) {
      double u = uniform01(rng);
      int to = truth[static_cast<std::size_t>(stage)].next.back().first;
      for (const auto& [b, p] : truth[static_cast<std::size_t>(stage)].next) {
        if (u < p) {
          to = b;
          break;
        }
        u -= p;
      }
      stage = to;
      t = leave;
      if (truth[static_cast<std::size_t>(stage)].dwell)
        leave = t + truth[static_cast<std::size_t>(stage)].dwell(rng);
    }
    out.push_back(stage);
  }
  return out;
}

/// Customers created at whole days in [0, days), seen every 30 days from day 0 to `days`
/// (monthly exports), observation stopping at the first absorbing stage.
inline SnapshotLog panel(const std::vector<TrueStage>& truth, int customers, std::uint64_t seed,
                         int days = 720, bool with_created = true) {
  std::mt19937_64 rng(seed);
  SnapshotLog log;
  log.file = "<panel>";
  log.epoch = "2025-01-06";
  for (const auto& s : truth) {
    log.stages.push_back(s.name);
    if (!s.dwell) log.absorbing.push_back(s.name);
  }
  log.created_column = with_created ? "created" : "";
  for (int c = 0; c < customers; ++c) {
    const double created = std::floor(uniform01(rng) * (days - 30));
    std::vector<double> times;
    for (double t = std::ceil(created / 30.0) * 30.0; t <= days; t += 30.0) times.push_back(t);
    if (times.empty()) continue;
    const std::vector<int> at = path_at(truth, created, times, rng);
    SnapshotPath p;
    p.id = "c" + std::to_string(c);
    if (with_created) p.created = created;
    for (std::size_t k = 0; k < times.size(); ++k) {
      p.observations.push_back(SnapshotObservation{
          times[k], truth[static_cast<std::size_t>(at[k])].name, static_cast<int>(k + 2)});
      if (!truth[static_cast<std::size_t>(at[k])].dwell) break;
    }
    if (p.observations.size() >= 2 || (with_created && p.observations.front().time > created)) {
      log.customers.push_back(std::move(p));
    }
  }
  return log;
}

/// P(in each stage at `day`) of a customer entering stage 0 at day 0, by simulation.
inline std::vector<double> true_occupancy(const std::vector<TrueStage>& truth, double day, int n) {
  std::mt19937_64 rng(999);
  std::vector<double> out(truth.size(), 0.0);
  for (int i = 0; i < n; ++i)
    out[static_cast<std::size_t>(path_at(truth, 0.0, {day}, rng)[0])] += 1.0 / n;
  return out;
}

/// The truth's transitions (semi_markov() and markov_truth() share them).
inline PhaseFitOptions known() {
  PhaseFitOptions o;
  o.transitions = {{"lead", "mql"}, {"lead", "lost"}, {"mql", "sql"}, {"mql", "lead"},
                   {"mql", "lost"}, {"sql", "won"},   {"sql", "lost"}};
  return o;
}

inline double se_of(const EstimateRow& row) {
  return (row.ci_high - row.ci_low) / (2.0 * 1.959964);
}

/// P(a customer entering at stage 0 ends in each stage) of the truth's stage chain (0 for the
/// non-absorbing ones), by iterating h = P h from the indicator of the target.
inline std::vector<double> true_absorption(const std::vector<TrueStage>& truth) {
  std::vector<double> out(truth.size(), 0.0);
  for (std::size_t target = 0; target < truth.size(); ++target) {
    if (truth[target].dwell) continue;
    std::vector<double> h(truth.size(), 0.0);
    h[target] = 1.0;
    for (int iteration = 0; iteration < 100000; ++iteration) {
      double change = 0.0;
      for (std::size_t a = 0; a < truth.size(); ++a) {
        if (!truth[a].dwell) continue;
        double v = 0.0;
        for (const auto& [b, p] : truth[a].next) v += p * h[static_cast<std::size_t>(b)];
        change = std::max(change, std::abs(v - h[a]));
        h[a] = v;
      }
      if (change < 1e-15) break;
    }
    out[target] = h[0];
  }
  return out;
}

/// |estimate - truth| / se of every checked quantity: mean dwells, next-probabilities, absorption
/// probabilities from the entry stage (P(convert) for won), occupancy
/// (of stages holding at least `min_occupancy`: a Coxian's exponential tail underestimates nearly
/// empty stages under Weibull 0.7 / lognormal truths, docs/calibration.md).
inline std::vector<std::pair<std::string, double>> misses(const PhaseTypeFit& fit,
                                                          const std::vector<TrueStage>& truth,
                                                          const std::vector<double>& occupancy,
                                                          double min_occupancy = 0.0) {
  std::vector<std::pair<std::string, double>> out;
  const auto check = [&](const std::string& parameter, double value) {
    const EstimateRow* row = fit.estimate(parameter);
    EXPECT_NE(row, nullptr) << parameter;
    if (row == nullptr) return;
    out.emplace_back(parameter, std::abs(row->estimate - value) / se_of(*row));
  };
  for (const auto& s : truth) {
    if (!s.dwell) continue;
    check("stages." + s.name + ".dwell.mean", s.mean);
    if (s.next.size() < 2) continue;
    for (const auto& [b, p] : s.next)
      check("stages." + s.name + ".next." + truth[static_cast<std::size_t>(b)].name, p);
  }
  const std::vector<double> absorption = true_absorption(truth);
  for (std::size_t b = 0; b < truth.size(); ++b) {
    if (!truth[b].dwell) check("absorption." + truth[b].name, absorption[b]);
    if (occupancy[b] >= min_occupancy) check("occupancy.365." + truth[b].name, occupancy[b]);
  }
  return out;
}

inline double worst(const std::vector<std::pair<std::string, double>>& m,
                    std::string* which = nullptr) {
  double w = 0.0;
  for (const auto& [name, z] : m) {
    if (z > w) {
      w = z;
      if (which != nullptr) *which = name;
    }
  }
  return w;
}

/// The analytic gradient of phase_type_loglik at theta against central differences (1e-5
/// relative).
inline void expect_gradient_matches_differences(const SnapshotLog& log,
                                                const PhaseFitOptions& options,
                                                const std::vector<int>& phases,
                                                const std::vector<double>& theta) {
  std::vector<double> gradient;
  const double ll = phase_type_loglik(log, options, phases, theta, &gradient);
  ASSERT_TRUE(std::isfinite(ll));
  ASSERT_EQ(gradient.size(), theta.size());
  for (std::size_t i = 0; i < theta.size(); ++i) {
    std::vector<double> x = theta;
    const double h = 1e-5;
    x[i] += h;
    const double up = phase_type_loglik(log, options, phases, x);
    x[i] -= 2.0 * h;
    const double down = phase_type_loglik(log, options, phases, x);
    const double numeric = (up - down) / (2.0 * h);
    EXPECT_NEAR(gradient[i], numeric, 1e-5 * std::max(1.0, std::abs(numeric))) << "theta " << i;
  }
}

}  // namespace lcsim::panel_truth
