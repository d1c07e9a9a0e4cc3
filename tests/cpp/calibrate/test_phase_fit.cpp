// The phase-type (Coxian) panel fit: its likelihood and gradient, its agreement with the Markov
// fit at one phase, recovery of a semi-Markov truth (Weibull and lognormal dwells) that the Markov
// fit gets wrong, the choice by AIC on an exponential truth, the coverage of its intervals, the
// creation-time column, the scenario it writes, and every bad option.
#include "lcsim/calibrate/phase_fit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lcsim/core/error.hpp"
#include "lcsim/model/compile.hpp"
#include "lcsim/model/coxian.hpp"
#include "lcsim/model/scenario.hpp"
#include "panel_truth.hpp"

namespace lcsim {
namespace {

using namespace panel_truth;

TEST(PhaseFitTest, analytic_gradient_matches_finite_differences) {
  const SnapshotLog log = panel(semi_markov(), 400, 3);
  const PhaseFitOptions options = known();
  const std::vector<int> phases = {2, 3, 1, 1, 1};
  // lead: 2 rates, 1 exit, 1 next; mql: 3 rates, 2 exits, 2 next; sql: 1 rate, 1 next.
  std::vector<double> theta = {-3.0, -2.5, 0.3,  0.4, -3.5, -2.0, -3.0,
                               -0.5, 1.0,  -1.0, 0.2, -3.2, 0.1};
  expect_gradient_matches_differences(log, options, phases, theta);
  EXPECT_THROW((void)phase_type_loglik(log, options, {2, 3, 1}, theta), std::invalid_argument);
  EXPECT_THROW((void)phase_type_loglik(log, options, phases, {1.0}), std::invalid_argument);
}

TEST(PhaseFitTest, one_phase_everywhere_is_the_markov_fit) {
  // Without creation times the one-phase likelihood is the Markov panel likelihood.
  const SnapshotLog log = panel(semi_markov(), 1500, 5, 720, false);
  PhaseFitOptions options = known();
  options.max_phases = 1;
  const PhaseTypeFit fit = fit_phase_type(log, options);
  MarkovFitOptions mo;
  mo.transitions = options.transitions;
  const MarkovFit markov = fit_snapshots(log, mo);
  EXPECT_NEAR(fit.loglik, markov.loglik, 1e-6 * std::abs(markov.loglik));
  EXPECT_NEAR(fit.loglik_markov, fit.loglik, 1e-9);
  ASSERT_EQ(fit.candidates.size(), 1U);
  for (const auto& s : {"lead", "mql", "sql"}) {
    const std::string p = std::string("stages.") + s + ".dwell.mean";
    EXPECT_NEAR(fit.estimate(p)->estimate, markov.estimate(p)->estimate,
                1e-4 * markov.estimate(p)->estimate)
        << p;
    EXPECT_NEAR(fit.estimate(p)->ci_low, markov.estimate(p)->ci_low,
                2e-3 * markov.estimate(p)->estimate)
        << p;
  }
  EXPECT_NEAR(fit.estimate("stages.mql.next.sql")->estimate,
              markov.estimate("stages.mql.next.sql")->estimate, 1e-4);
  for (const int k : fit.phases) EXPECT_EQ(k, 1);
}

TEST(PhaseFitTest, recovers_a_semi_markov_truth_that_the_markov_fit_misses) {
  const std::vector<TrueStage> truth = semi_markov();
  const SnapshotLog log = panel(truth, 5000, 11);
  const std::vector<double> occupancy = true_occupancy(truth, 365.0, 400000);
  const PhaseTypeFit fit = fit_phase_type(log, known());
  PhaseFitOptions markov_only = known();
  markov_only.max_phases = 1;
  const PhaseTypeFit markov = fit_phase_type(log, markov_only);

  EXPECT_TRUE(fit.converged);
  EXPECT_TRUE(fit.information_positive_definite);
  EXPECT_GT(fit.phases[0], 1) << "lead's Weibull 1.8 is not exponential";
  EXPECT_GT(fit.phases[1], 1) << "mql's Weibull 0.7 is not exponential";
  EXPECT_LT(fit.aic, markov.aic);
  EXPECT_NEAR(fit.loglik_markov, markov.loglik, 1e-6 * std::abs(markov.loglik));
  std::size_t created_before = 0;
  for (const auto& c : log.customers)
    created_before += c.created < c.observations.front().time ? 1 : 0;
  EXPECT_EQ(fit.n_created, created_before);
  for (const auto& w : fit.warnings) ADD_FAILURE() << w.to_string();
  // The fit's own Markov rows are the one-phase model on the same likelihood.
  for (const std::string p :
       {"stages.lead.dwell.mean", "stages.mql.next.sql", "occupancy.365.mql"}) {
    const EstimateRow* own = find_estimate(fit.markov_estimates, p);
    ASSERT_NE(own, nullptr) << p;
    EXPECT_NEAR(own->estimate, markov.estimate(p)->estimate, 1e-4 * markov.estimate(p)->estimate)
        << p;
  }
  std::string which;
  const double phase_worst = worst(misses(fit, truth, occupancy), &which);
  EXPECT_LT(phase_worst, 4.0) << which;
  const double markov_worst = worst(misses(markov, truth, occupancy), &which);
  EXPECT_GT(markov_worst, 4.0) << "the Markov fit's worst: " << which;
  std::cout << "worst |estimate - truth| / se: phase-type " << phase_worst << ", Markov "
            << markov_worst << " (" << which << ")\n";

  // The scenario it writes compiles, with coxian dwells where chosen and their exact means.
  Scenario sc;
  sc.name = "fitted";
  sc.horizon = 365;
  sc.report_every = 30;
  sc.won = "won";
  sc.stages = phase_type_stage_specs(fit);
  InitialCohort cohort;
  cohort.stage = "lead";
  cohort.count = 10;
  sc.arrivals.initial.push_back(cohort);
  EXPECT_NO_THROW((void)compile(sc));
  ASSERT_TRUE(sc.stages[0].dwell.has_value());
  EXPECT_EQ(sc.stages[0].dwell->dist, "coxian");
  const Coxian lead(sc.stages[0].dwell->rates, sc.stages[0].dwell->exit);
  EXPECT_NEAR(lead.mean(), fit.estimate("stages.lead.dwell.mean")->estimate, 1e-9 * lead.mean());
  double total = 0.0;
  for (const auto& [to, p] : sc.stages[1].next->probs) total += p;
  EXPECT_EQ(total, 1.0);
}

TEST(PhaseFitTest, aic_keeps_one_phase_on_an_exponential_truth_in_most_seeds) {
  int kept = 0;
  const int seeds = 8;
  for (int seed = 0; seed < seeds; ++seed) {
    const PhaseTypeFit fit = fit_phase_type(panel(markov_truth(), 1500, 100 + seed), known());
    bool one = true;
    for (const int k : fit.phases) one = one && k == 1;
    kept += one ? 1 : 0;
    // Every step tried is reported with its likelihood-ratio test.
    EXPECT_GE(fit.candidates.size(), 4U);
    for (std::size_t i = 1; i < fit.candidates.size(); ++i) {
      EXPECT_GE(fit.candidates[i].lr_p_value, 0.0);
      EXPECT_LE(fit.candidates[i].lr_p_value, 1.0);
    }
  }
  EXPECT_GE(kept, 6) << kept << " of " << seeds;
  std::cout << "one phase everywhere kept in " << kept << " of " << seeds << " seeds\n";
}

/// 1 when `row` (asserted to exist) has `truth` inside its interval.
int covers(const EstimateRow* row, double truth) {
  EXPECT_NE(row, nullptr);
  return row != nullptr && row->ci_low <= truth && truth <= row->ci_high ? 1 : 0;
}

TEST(PhaseFitTest, intervals_cover_the_truth_about_95_percent_of_the_time) {
  // A Coxian-2 truth fitted with its own number of phases (no choice): 100 seeds.
  const std::vector<TrueStage> truth = {{"a", coxian2(0.2, 0.03, 0.4), 0.0, {{1, 0.7}, {2, 0.3}}},
                                        {"won", {}, 0.0, {}},
                                        {"lost", {}, 0.0, {}}};
  const double mean = 1.0 / 0.2 + 0.6 / 0.03;
  PhaseFitOptions options;
  options.phases = {{"a", 2}};
  options.occupancy_days = {60.0};
  int covered_mean = 0;
  int covered_next = 0;
  const int seeds = 100;
  for (int seed = 0; seed < seeds; ++seed) {
    const PhaseTypeFit fit = fit_phase_type(panel(truth, 400, 7000 + seed, 360), options);
    covered_mean += covers(fit.estimate("stages.a.dwell.mean"), mean);
    covered_next += covers(fit.estimate("stages.a.next.won"), 0.7);
  }
  std::cout << "coverage of 95% intervals over " << seeds << " seeds: mean dwell " << covered_mean
            << ", next-probability " << covered_next << "\n";
  EXPECT_GE(covered_mean, 90);
  EXPECT_LE(covered_mean, 99);
  EXPECT_GE(covered_next, 90);
  EXPECT_LE(covered_next, 99);
}

TEST(PhaseFitTest, conversion_probability_intervals_cover_through_a_loop) {
  // P(convert) = absorption.won from the entry stage, a function of next-probabilities on a chain
  // with a backward move (b -> a): h_a = 0.6 h_b, h_b = 0.5 + 0.2 h_a, so h_a = 0.3 / 0.88.
  const std::vector<TrueStage> truth = {
      {"a", weibull(1.6, 15.0), 15.0, {{1, 0.6}, {3, 0.4}}},
      {"b", exponential(20.0), 20.0, {{2, 0.5}, {0, 0.2}, {3, 0.3}}},
      {"won", {}, 0.0, {}},
      {"lost", {}, 0.0, {}}};
  const double convert = 0.3 / 0.88;
  ASSERT_NEAR(true_absorption(truth)[2], convert, 1e-12);
  PhaseFitOptions options;
  options.phases = {{"a", 2}, {"b", 1}};
  int covered = 0;
  const int seeds = 100;
  for (int seed = 0; seed < seeds; ++seed) {
    const PhaseTypeFit fit = fit_phase_type(panel(truth, 400, 9100 + seed, 360), options);
    const EstimateRow* won = fit.estimate("absorption.won");
    const EstimateRow* lost = fit.estimate("absorption.lost");
    ASSERT_NE(lost, nullptr);
    covered += covers(won, convert);
    if (won != nullptr)
      EXPECT_NEAR(won->estimate + lost->estimate, 1.0, 1e-9);  // every customer ends somewhere
  }
  std::cout << "coverage of 95% intervals for P(convert) over " << seeds << " seeds: " << covered
            << "\n";
  EXPECT_GE(covered, 90);
  EXPECT_LE(covered, 99);
}

TEST(PhaseFitTest, reads_creation_times_and_refuses_inconsistent_ones) {
  const std::string good =
      "customer_id,date,stage,created\n"
      "c1,2025-02-01,lead,2025-01-20\n"
      "c1,2025-03-01,won,2025-01-20\n"
      "c2,2025-02-01,lead,\n"
      "c2,2025-03-01,lost,\n";
  std::istringstream in(good);
  SnapshotOptions so;
  so.absorbing = {"won", "lost"};
  const SnapshotLog log = parse_snapshots(in, "snap.csv", so);
  EXPECT_EQ(log.created_column, "created");
  ASSERT_EQ(log.customers.size(), 2U);
  // The snapshot date alone means the end of its day, the creation date the start of its day.
  EXPECT_DOUBLE_EQ(log.customers[0].observations[0].time - log.customers[0].created,
                   12.0 + 86399.0 / 86400.0);
  EXPECT_TRUE(std::isnan(log.customers[1].created));

  const auto error_of = [&](const std::string& text) {
    std::istringstream bad(text);
    try {
      (void)parse_snapshots(bad, "snap.csv", so);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string two = error_of(
      "customer_id,date,stage,created\nc1,2025-02-01,lead,2025-01-20\nc1,2025-03-01,won,2025-01-21\n");
  EXPECT_NE(two.find("snap.csv:3"), std::string::npos) << two;
  EXPECT_NE(two.find("two creation times"), std::string::npos) << two;
  const std::string late = error_of(
      "customer_id,date,stage,created\nc1,2025-02-01,lead,2025-02-20\nc1,2025-03-01,won,2025-02-20\n");
  EXPECT_NE(late.find("after its first snapshot"), std::string::npos) << late;
  const std::string unparseable = error_of(
      "customer_id,date,stage,created\nc1,2025-02-01,lead,yesterday\nc1,2025-03-01,won,\n");
  EXPECT_NE(unparseable.find("created"), std::string::npos) << unparseable;
}

TEST(PhaseFitTest, bad_options_are_input_errors_naming_the_field) {
  const SnapshotLog log = panel(semi_markov(), 200, 1);
  const auto field_of = [&](const PhaseFitOptions& o) {
    try {
      (void)fit_phase_type(log, o);
    } catch (const InputError& e) {
      return e.problems().front().field;
    }
    return std::string("no error");
  };
  PhaseFitOptions o;
  o.max_phases = 0;
  EXPECT_EQ(field_of(o), "max_phases");
  o = {};
  o.max_phases = 5;
  EXPECT_EQ(field_of(o), "max_phases");
  o = {};
  o.resolution_days = 0.0;
  EXPECT_EQ(field_of(o), "resolution_days");
  o = {};
  o.occupancy_days = {-1.0};
  EXPECT_EQ(field_of(o), "occupancy_days");
  o = {};
  o.phases = {{"leed", 2}};
  EXPECT_EQ(field_of(o), "phases.leed");
  o = {};
  o.phases = {{"won", 2}};
  EXPECT_EQ(field_of(o), "phases.won");
  o = {};
  o.entry_stage = "lost";
  EXPECT_EQ(field_of(o), "entry_stage");
  o = {};
  o.level = 1.5;
  EXPECT_EQ(field_of(o), "level");
}

}  // namespace
}  // namespace lcsim
