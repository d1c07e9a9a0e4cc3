// Arrivals, segments, money, cancellation and purity of Engine::simulate.
#include "lcsim/engine/engine.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/random/exponential_distribution.hpp>

#include "lcsim/core/error.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/model/compile.hpp"
#include "lcsim/rng/stream.hpp"
#include "support/builders.hpp"
#include "support/stats.hpp"

namespace lcsim {
namespace {

/// One arrival stream into an absorbing stage.
Model arrivals_model(const std::string& horizon, const std::string& stream) {
  return test::model_from_yaml("name: arrivals\nhorizon: " + horizon + R"(
report_every: 7
won: done
stages:
  new: {absorbing: true}
  done: {absorbing: true}
arrivals:
  streams:
    - )" + stream + "\n");
}

/// arrivals_model(), simulated with its event log (one entry per arrival).
ReplicationResult arrival_events(const std::string& horizon, const std::string& stream, int rep) {
  const Model model = arrivals_model(horizon, stream);
  SimulationControl control;
  control.events = true;
  return Engine(model).simulate(rep, control);
}

TEST(EngineTest, poisson_arrivals_follow_rate_and_weekly_profile) {
  const ReplicationResult res = arrival_events(
      "700", "{stage: new, rate_per_day: 20, weekly_profile: [2, 2, 2, 2, 2, 0.5, 0.5]}", 0);
  // Total: Poisson with mean 20 * 700.
  const double n = res.metrics[kCustomers];
  EXPECT_NEAR(n, 14000.0, 4 * std::sqrt(14000.0));
  std::vector<double> by_day(7, 0.0);
  for (const Event& e : res.events)
    by_day[static_cast<std::size_t>(std::fmod(std::floor(e.time), 7.0))] += 1.0;
  std::vector<double> expected;
  for (double w : {2.0, 2.0, 2.0, 2.0, 2.0, 0.5, 0.5}) expected.push_back(n * w / 11.0);
  EXPECT_GT(test::chi_square_pvalue(by_day, expected), 1e-4);
  // Occupancy at day 350 ~ arrivals before it.
  const auto k = static_cast<std::size_t>(50);
  EXPECT_NEAR(static_cast<double>(res.occupancy[k * 2]), 7000.0, 4 * std::sqrt(7000.0));
}

// The engine thins with an integer test on the uniform's 53 bits and keeps the weekday as days pass;
// both must keep exactly the candidates of the plain test uniform() * max_rate < rate at
// weekday floor(t) % 7 (written out here), for rates that are not round fractions of the peak.
TEST(EngineTest, arrival_thinning_keeps_the_candidates_of_the_floating_point_test) {
  const std::string stream =
      "{stage: new, rate_per_day: 7.3, weekly_profile: [1, 0.3, 0.7, 0.333333333, 0, 1.5, 0.1]}";
  for (int rep : {0, 3}) {
    const ReplicationResult res = arrival_events("400", stream, rep);
    const Model model = arrivals_model("400", stream);
    const ArrivalProcess& p = model.arrivals.at(0);
    Stream rng(model.seed, static_cast<std::uint64_t>(rep), 0, Purpose::kArrival);
    boost::random::exponential_distribution<double> gap(p.max_rate);
    std::vector<double> expected;
    for (double t = 0.0;;) {
      t += gap(rng);
      if (t >= 400.0) break;
      const double rate =
          p.weekday_rate[static_cast<std::size_t>(static_cast<std::uint64_t>(t) % 7U)];
      if (rate >= p.max_rate || rng.uniform() * p.max_rate < rate) expected.push_back(t);
    }
    ASSERT_EQ(res.events.size(), expected.size()) << "replication " << rep;
    for (std::size_t i = 0; i < expected.size(); ++i)
      ASSERT_EQ(res.events[i].time, expected[i]) << i;
  }
}

// The rate is constant within a day: arrival times are uniform within days (the inverse of the
// cumulative rate is linear there), days of rate 0 get none, and none come at or after a
// horizon that ends within a day.
TEST(EngineTest, arrivals_are_uniform_within_days_and_skip_days_of_rate_zero) {
  const ReplicationResult res = arrival_events(
      "350.5", "{stage: new, rate_per_day: 50, weekly_profile: [1, 1, 3, 1, 1, 0, 0]}", 2);
  std::vector<double> by_tenth(10, 0.0);
  std::vector<double> by_day(7, 0.0);
  double last = 0.0;
  for (const Event& e : res.events) {
    by_tenth[static_cast<std::size_t>((e.time - std::floor(e.time)) * 10.0)] += 1.0;
    by_day[static_cast<std::size_t>(std::fmod(std::floor(e.time), 7.0))] += 1.0;
    last = std::max(last, e.time);
  }
  const double n = res.metrics[kCustomers];
  // 50 full weeks of rate 50 * 7 / 7, then day 350 (a Monday, rate 50 * 7 / 7 = 50) to 350.5
  const double expected_n = 50.0 * 350.0 + 0.5 * 50.0;
  EXPECT_NEAR(n, expected_n, 4 * std::sqrt(expected_n));
  EXPECT_LT(last, 350.5);
  EXPECT_EQ(by_day[5], 0.0);
  EXPECT_EQ(by_day[6], 0.0);
  EXPECT_GT(test::chi_square_pvalue(by_tenth, std::vector<double>(10, n / 10.0)), 1e-4);
  // Monday has half a day more; by weekday in proportion to rate x days of it
  std::vector<double> observed(by_day.begin(), by_day.begin() + 5);
  std::vector<double> weight{50.5, 50.0, 150.0, 50.0, 50.0};
  std::vector<double> expected;
  for (double w : weight) expected.push_back(n * w / 350.5);
  EXPECT_GT(test::chi_square_pvalue(observed, expected), 1e-4);
}

TEST(EngineTest, segments_take_their_shares_and_overrides) {
  const Model model = test::model_from_yaml(R"(
name: seg
horizon: 1000
report_every: 100
won: won
stages:
  lead: {dwell: {mean: 1}, next: {lost: 1}}
  won: {absorbing: true}
  lost: {absorbing: true}
segments:
  icp: {share: 0.3, stages: {lead: {next: {won: 1}}}}
  rest: {share: 0.7}
arrivals: {initial: [{stage: lead, count: 20000}, {stage: lead, count: 1000, segment: icp}]}
)");
  const ReplicationResult res = Engine(model).simulate(0);
  const double drawn = res.metrics[kConversions] - 1000.0;
  EXPECT_NEAR(drawn / 20000.0, 0.3, 4 * std::sqrt(0.21 / 20000.0));
}

TEST(EngineTest, money_matches_closed_form) {
  const Model model = test::model_from_yaml(R"(
name: money
horizon: 365.25
report_every: 30
won: customer
stages:
  trial: {dwell: {dist: fixed, days: 100}, next: {customer: 1}}
  customer: {absorbing: true, revenue_per_month: 100}
arrivals: {initial: [{stage: trial, count: 10}]}
money:
  discount_rate: 0.1
  one_off: [{from: trial, to: customer, value: 500}]
)");
  const ReplicationResult res = Engine(model).simulate(0);
  const double rate = 100.0 / kDaysPerMonth;
  const double days = 365.25 - 100.0;
  EXPECT_NEAR(res.metrics[kRevenue], 10 * (rate * days + 500.0), 1e-6);
  const double d = std::log(1.1) / 365.25;
  const double disc = 10 * (rate * (std::exp(-d * 100.0) - std::exp(-d * 365.25)) / d +
                            500.0 * std::exp(-d * 100.0));
  EXPECT_NEAR(res.metrics[kDiscountedRevenue], disc, 1e-6);
  EXPECT_EQ(res.metrics[kConversions], 10.0);
  EXPECT_DOUBLE_EQ(res.metrics[kTimeToConvertMean], 100.0);
  EXPECT_DOUBLE_EQ(res.metrics[kTimeToConvertMedian], 100.0);
  EXPECT_NEAR(res.metrics[kValuePerConversion], disc / 10.0, 1e-6);
  EXPECT_TRUE(std::isnan(res.metrics[kCostPerConversion]) ||
              res.metrics[kCostPerConversion] == 0.0);
}

TEST(EngineTest, is_a_pure_function_of_model_seed_and_replication) {
  const Model model = test::model_from_yaml(R"(
name: pure
horizon: 200
report_every: 10
won: b
stages:
  a: {dwell: {dist: lognormal, median: 5, sigma: 1}, next: {b: 0.3, a: 0.2, lost: 0.5}}
  b: {absorbing: true}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: a, count: 500}]
  streams: [{stage: a, rate_per_day: 3}]
)");
  const Engine engine(model);
  const ReplicationResult r1 = engine.simulate(4);
  const ReplicationResult r2 = engine.simulate(4);
  const ReplicationResult r3 = engine.simulate(5);
  EXPECT_EQ(r1.occupancy, r2.occupancy);
  EXPECT_EQ(r1.transitions, r2.transitions);
  EXPECT_EQ(0,
            std::memcmp(r1.metrics.data(), r2.metrics.data(), r1.metrics.size() * sizeof(double)));
  EXPECT_NE(r1.transitions, r3.transitions);
}

// A replication reuses its thread's buffers from the one before (engine.cpp, Scratch): what ran
// before on the thread, a larger scenario or a replication stopped by an error with arrivals
// waiting for the lanes, must not show in its results; nor must the thread it runs on.
TEST(EngineTest, results_do_not_depend_on_what_ran_before_on_the_thread) {
  Scenario b2b = load_scenario(std::string(LCSIM_SOURCE_DIR) + "/scenarios/b2b_saas/baseline.yaml");
  const Model model = compile(b2b);
  const Engine engine(model);
  const ReplicationResult first = engine.simulate(2);

  b2b.report_every = 1;  // more report rows: larger buffers
  b2b.arrivals.initial[0].count = 40000;
  const Model larger = compile(b2b);
  (void)Engine(larger).simulate(0);
  const Model too_many = test::too_many_arrivals_model();
  EXPECT_THROW((void)Engine(too_many).simulate(0), InputError);

  const ReplicationResult again = engine.simulate(2);
  ReplicationResult elsewhere;
  std::thread([&] { elsewhere = engine.simulate(2); }).join();
  for (const ReplicationResult* r :
       std::initializer_list<const ReplicationResult*>{&again, &elsewhere}) {
    EXPECT_EQ(r->occupancy, first.occupancy);
    EXPECT_EQ(r->transitions, first.transitions);
    EXPECT_EQ(r->reached, first.reached);
    ASSERT_EQ(r->metrics.size(), first.metrics.size());
    EXPECT_EQ(0, std::memcmp(r->metrics.data(), first.metrics.data(),
                             first.metrics.size() * sizeof(double)));
  }
}

// Initial groups take a quick loop unless the event log, outcomes, referrals or a drawn segment
// need the general one: both must give the same replication, bit for bit, for every group kind
// (a segment given, a drawn segment, a single-segment scenario, groups at different stages,
// touchpoints, a lognormal dwell through its tables).
TEST(EngineTest, initial_groups_are_the_same_with_and_without_the_event_log_and_outcomes) {
  const Model segmented = test::model_from_yaml(R"(
name: cohorts
horizon: 120
report_every: 7
won: c
stages:
  a: {dwell: {mean: 4}, next: {b: 0.5, a: 0.1, lost: 0.4}}
  b: {dwell: {dist: weibull, shape: 1.4, mean: 9}, next: {c: 0.3, a: 0.2, lost: 0.5}}
  c: {dwell: {mean: 30}, next: {b: 0.2, lost: 0.8}, revenue_per_month: 100}
  lost: {absorbing: true}
segments:
  big: {share: 0.4, stages: {b: {next: {c: 0.6, lost: 0.4}}}}
  small: {share: 0.6}
arrivals:
  initial: [{stage: a, count: 3000, segment: big}, {stage: b, count: 2000, segment: small}, {stage: a, count: 500}]
touchpoints:
  nudge: {stages: [b], schedule: {after_entry: {days: [2], every: 5}}, reach: 0.5, cost: 1,
          effect: {window: 3, hazard_factor: 1.5}}
)");
  const Model single = test::model_from_yaml(R"(
name: one_segment
horizon: 90
report_every: 10
won: c
stages:
  a: {dwell: {dist: lognormal, median: 3, sigma: 0.9}, next: {b: 0.6, lost: 0.4}}
  b: {dwell: {mean: 6}, next: {c: 0.3, a: 0.3, lost: 0.4}}
  c: {absorbing: true}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: a, count: 4000}, {stage: b, count: 1500}]
touchpoints:
  call: {stages: [a], schedule: {after_entry: {days: [1], every: 4}}, reach: 0.6,
         effect: {window: 2, hazard_factor: 2.0}}
)");
  for (const Model* model : {&segmented, &single}) {
    const Engine engine(*model);
    for (int rep : {0, 3}) {
      const ReplicationResult quick = engine.simulate(rep);
      SimulationControl general;
      general.events = true;
      CustomerOutcomes outcomes;
      general.outcomes = &outcomes;
      const ReplicationResult slow = engine.simulate(rep, general);
      EXPECT_EQ(quick.occupancy, slow.occupancy) << model->name;
      EXPECT_EQ(quick.transitions, slow.transitions) << model->name;
      EXPECT_EQ(quick.reached, slow.reached) << model->name;
      ASSERT_EQ(quick.metrics.size(), slow.metrics.size());
      EXPECT_EQ(0, std::memcmp(quick.metrics.data(), slow.metrics.data(),
                               quick.metrics.size() * sizeof(double)))
          << model->name;
      EXPECT_EQ(outcomes.customer.size(), 5500U) << model->name;
      EXPECT_GT(quick.metrics[kTransitions], 5000.0) << model->name;
    }
  }
}

TEST(EngineTest, cancel_flag_stops_with_cancelled) {
  const Model model = test::model_from_yaml(R"(
name: long
horizon: 100
report_every: 10
won: b
stages:
  a: {dwell: {mean: 5}, next: {b: 1}}
  b: {absorbing: true}
arrivals: {initial: [{stage: a, count: 100000}]}
)");
  std::atomic<bool> cancel{true};
  SimulationControl control;
  control.cancel = &cancel;
  EXPECT_THROW((void)Engine(model).simulate(0, control), Cancelled);
}

TEST(EngineTest, customers_still_in_a_stage_at_the_horizon_are_not_counted_as_moves) {
  const Model model = test::model_from_yaml(R"(
name: horizon
horizon: 10
report_every: 5
won: b
stages:
  a: {dwell: {dist: fixed, days: 20}, next: {b: 1}}
  b: {absorbing: true}
arrivals: {initial: [{stage: a, count: 7}]}
)");
  const ReplicationResult res = Engine(model).simulate(0);
  EXPECT_EQ(res.metrics[kTransitions], 0.0);
  EXPECT_EQ(res.occupancy, (std::vector<std::int64_t>{7, 0, 7, 0, 7, 0}));
  EXPECT_TRUE(std::isnan(res.metrics[kTimeToConvertMean]));
}

}  // namespace
}  // namespace lcsim

namespace lcsim {
namespace {

TEST(EngineTest, customers_arriving_already_converted_are_not_conversions) {
  // 100 start in `loyal` (reachable from won, so already converted) and may move back to
  // `customer`; 50 leads convert. Only the leads count.
  const Model model = test::model_from_yaml(R"(
name: converted
horizon: 1000
report_every: 100
won: customer
stages:
  lead: {dwell: {mean: 1}, next: {customer: 1}}
  customer: {dwell: {mean: 5}, next: {loyal: 1}}
  loyal: {dwell: {mean: 5}, next: {customer: 0.5, churned: 0.5}}
  churned: {absorbing: true}
arrivals: {initial: [{stage: lead, count: 50}, {stage: loyal, count: 100}]}
)");
  const ReplicationResult res = Engine(model).simulate(0);
  EXPECT_EQ(res.metrics[kConversions], 50.0);
  EXPECT_GT(res.transitions[static_cast<std::size_t>(2 * 4 + 1)],
            50);  // loyal -> customer moves happened
}

// ---- one replication in parts (Engine::plan, simulate_part, join) ------------------------------

/// funnel-10's stages with `customers` in awareness and `stream` arrivals a day.
Model funnel10_model(int customers, int stream) {
  return test::model_from_yaml(
      "name: funnel10\n" + test::kFunnel10Stages + R"(
arrivals:
  initial: [{stage: awareness, count: )" +
      std::to_string(customers) +
      "}]\n  streams: [{stage: engaged, rate_per_day: " + std::to_string(stream) + "}]\n");
}

void expect_identical(const ReplicationResult& a, const ReplicationResult& b) {
  EXPECT_EQ(a.occupancy, b.occupancy);
  EXPECT_EQ(a.transitions, b.transitions);
  EXPECT_EQ(a.reached, b.reached);
  ASSERT_EQ(a.metrics.size(), b.metrics.size());
  EXPECT_EQ(0, std::memcmp(a.metrics.data(), b.metrics.data(), a.metrics.size() * sizeof(double)));
}

// Parts of an initial group and of an arrival stream (each starting where the plan left the
// stream), simulated in any order and joined in part order, give the whole replication bit for bit
// when it has no money to sum: counts, occupancy, conversions and their mean time (concatenated in
// customer order), in the vector lanes and in the scalar loop.
TEST(EngineTest, a_replication_in_parts_is_the_whole_replication) {
  const Model model = funnel10_model(20001, 40);
  const Engine engine(model);
  for (const bool lanes : {true, false}) {
    SimulationControl whole;
    whole.vector_lanes = lanes;
    whole.part_customers = 1'000'000;
    ASSERT_EQ(engine.plan(3, whole).parts(), 1);
    const ReplicationResult expected = engine.simulate(3, whole);
    ASSERT_GT(expected.metrics[kCustomers], 20001 + 25000);
    SimulationControl split = whole;
    split.part_customers = 3000;
    const ReplicationPlan plan = engine.plan(3, split);
    EXPECT_EQ(plan.parts(), 7 + 10);  // 20,001 customers in 7 parts, about 29,200 arrivals in 10
    std::vector<ReplicationPart> parts(static_cast<std::size_t>(plan.parts()));
    for (int p = plan.parts() - 1; p >= 0; --p)
      parts[static_cast<std::size_t>(p)] = engine.simulate_part(plan, p, split);
    expect_identical(engine.join(plan, std::move(parts), split), expected);
    expect_identical(engine.simulate(3, split), expected);
  }
}

// What the plan keeps whole: a small replication, and one with referrals or outcomes; and a join
// refuses parts out of order or missing.
TEST(EngineTest, plans_keep_small_replications_whole_and_joins_check_their_parts) {
  const Model model = funnel10_model(5000, 0);
  const Engine engine(model);
  EXPECT_EQ(engine.plan(0).parts(), 1);
  SimulationControl split;
  split.part_customers = 1000;
  const ReplicationPlan plan = engine.plan(0, split);
  ASSERT_EQ(plan.parts(), 5);
  CustomerOutcomes outcomes;
  SimulationControl with_outcomes = split;
  with_outcomes.outcomes = &outcomes;
  EXPECT_EQ(engine.plan(0, with_outcomes).parts(), 1);
  std::vector<ReplicationPart> parts;
  for (int p = 0; p < 5; ++p) parts.push_back(engine.simulate_part(plan, p, split));
  std::swap(parts[1], parts[2]);
  EXPECT_THROW((void)engine.join(plan, std::move(parts), split), InternalError);
  std::vector<ReplicationPart> four;
  for (int p = 0; p < 4; ++p) four.push_back(engine.simulate_part(plan, p, split));
  EXPECT_THROW((void)engine.join(plan, std::move(four), split), InternalError);
  EXPECT_THROW((void)engine.simulate_part(plan, 5, split), InternalError);
  const Model referrals = test::model_from_yaml(R"(
name: referrals
horizon: 100
report_every: 10
won: b
stages:
  a: {dwell: {mean: 5}, next: {b: 0.5, c: 0.5}}
  b: {absorbing: true}
  c: {absorbing: true}
arrivals:
  initial: [{stage: a, count: 5000}]
referrals:
  wom: {from: b, to: a, rate_per_day: 0.001}
)");
  EXPECT_EQ(Engine(referrals).plan(0, split).parts(), 1);
}

}  // namespace
}  // namespace lcsim
