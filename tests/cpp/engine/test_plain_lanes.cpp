// The engine's vector lanes (src/engine/plain_lanes.hpp, Google Highway) against its scalar loop:
// the same replication, bit for bit, on every SIMD target the build compiled that this CPU runs
// (each forced in turn with hwy::SetSupportedTargetsForTest: on an AVX2 machine AVX2, SSE4, SSSE3
// and Highway's scalar fallback; AVX-512 too where the CPU has it), for every way a customer can
// leave the lanes. Each comparison also checks that the lanes did run
// (SimulationControl::vector_lane_customers) and ran the target forced.
#include <gtest/gtest.h>

#include <hwy/targets.h>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "lcsim/core/error.hpp"
#include "lcsim/engine/engine.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/model/compile.hpp"
#include "support/builders.hpp"

namespace lcsim {
namespace {

/// The lanes' targets this CPU runs, as Highway target bits (best first).
std::vector<std::int64_t> runnable_lane_targets() {
  hwy::SetSupportedTargetsForTest(0);
  const std::int64_t runnable = hwy::SupportedTargets() & Engine::vector_lane_targets();
  std::vector<std::int64_t> targets;
  for (std::int64_t bits = runnable; bits != 0; bits &= bits - 1) targets.push_back(bits & -bits);
  return targets;
}

/// Runs f() once with the lanes restricted to each target this CPU runs, then lifts the restriction.
template <class F>
void for_each_lane_target(const F& f) {
  for (const std::int64_t target : runnable_lane_targets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(std::string("SIMD target ") + hwy::TargetName(target));
    EXPECT_STREQ(Engine::vector_lanes_target(), hwy::TargetName(target));
    f();
  }
  hwy::SetSupportedTargetsForTest(0);
}

/// Expects two replications to be the same bit for bit.
void expect_same_results(const ReplicationResult& a, const ReplicationResult& b,
                         const std::string& what) {
  EXPECT_EQ(a.occupancy, b.occupancy) << what;
  EXPECT_EQ(a.transitions, b.transitions) << what;
  EXPECT_EQ(a.reached, b.reached) << what;
  EXPECT_EQ(a.queue_length, b.queue_length) << what;
  ASSERT_EQ(a.metrics.size(), b.metrics.size()) << what;
  ASSERT_EQ(a.touchpoints.size(), b.touchpoints.size()) << what;
  // Every metric to the bit, the mean time to convert (a sum in customer order) included.
  EXPECT_EQ(0, std::memcmp(a.metrics.data(), b.metrics.data(), a.metrics.size() * sizeof(double)))
      << what;
  for (std::size_t i = 0; i < a.touchpoints.size(); ++i) {
    EXPECT_EQ(0, std::memcmp(&a.touchpoints[i], &b.touchpoints[i], sizeof(TouchpointTally)))
        << what;
  }
}

/// Compares the replication with the lanes, on every target this CPU runs, and without; returns
/// how many customers started in the lanes (none without them; the same on every target).
std::int64_t expect_same_with_and_without_lanes(const Model& model, int rep) {
  const Engine engine(model);
  std::int64_t in_lanes_when_off = 0;
  SimulationControl scalar_only;
  scalar_only.vector_lanes = false;
  scalar_only.vector_lane_customers = &in_lanes_when_off;
  const ReplicationResult scalar = engine.simulate(rep, scalar_only);
  const std::string what = model.name + " replication " + std::to_string(rep);
  EXPECT_EQ(in_lanes_when_off, 0) << what;
  EXPECT_GT(scalar.metrics[kConversions], 0.0) << what;
  std::int64_t in_lanes = -1;
  for_each_lane_target([&] {
    std::int64_t n = 0;
    SimulationControl with_lanes;
    with_lanes.vector_lane_customers = &n;
    expect_same_results(engine.simulate(rep, with_lanes), scalar, what);
    if (in_lanes >= 0) {
      EXPECT_EQ(n, in_lanes) << what;
    }
    in_lanes = n;
  });
  return in_lanes;
}

// Highway compiles the lanes for several targets and this CPU runs at least the fallback; on
// x86-64 the build has AVX-512, AVX2, SSE4, SSSE3 and the fallback, and Engine names the best one
// this CPU runs.
TEST(PlainLanesTest, the_lanes_run_on_each_target_the_cpu_has) {
  const std::vector<std::int64_t> targets = runnable_lane_targets();
  ASSERT_FALSE(targets.empty());
  std::string names;
  for (const std::int64_t t : targets)
    names += std::string(names.empty() ? "" : " ") + hwy::TargetName(t);
  RecordProperty("lane_targets", names);
  EXPECT_STREQ(Engine::vector_lanes_target(), hwy::TargetName(targets.front())) << names;
#if defined(__x86_64__)
  for (const std::int64_t t : {HWY_AVX3, HWY_AVX2, HWY_SSE4}) {
    EXPECT_NE(Engine::vector_lane_targets() & t, 0) << hwy::TargetName(t) << " not compiled";
  }
  EXPECT_GE(targets.size(), 2U) << names;  // a SIMD target and the fallback
  EXPECT_TRUE(Engine::vector_lanes_available());
  EXPECT_GE(Engine::vector_lane_width(), 2);
#endif
  int forced = 0;
  for_each_lane_target([&] { ++forced; });
  EXPECT_EQ(forced, static_cast<int>(targets.size()));
  EXPECT_STREQ(Engine::vector_lanes_target(), hwy::TargetName(targets.front()))
      << "restriction lifted";
}

// funnel-10 (benches/funnel10) at 20,001 customers (two blocks of the lanes, the last lanes
// of the last block empty), reports every 30 days, with and without its webinar: with it, every
// customer entering mql leaves the lanes for the scalar engine (touchpoints) and converts there.
TEST(PlainLanesTest, funnel10_and_its_webinar_are_the_same_in_lanes_and_scalar) {
  const std::string stages = test::kFunnel10Stages + R"(
arrivals:
  initial: [{stage: awareness, count: 20001}, {stage: loyal, count: 37}]
)";
  const Model plain = test::model_from_yaml("name: funnel10\n" + stages);
  const Model webinar = test::model_from_yaml("name: funnel10_webinar\n" + stages + R"(
touchpoints:
  webinar:
    stages: [mql]
    schedule: {calendar: {start: 7, every: 7}}
    reach: 0.25
    effect: {move: {to: sql, probability: 0.2}}
)");
  for (int rep : {0, 5}) {
    EXPECT_EQ(expect_same_with_and_without_lanes(plain, rep), 20001 + 37);
    EXPECT_EQ(expect_same_with_and_without_lanes(webinar, rep), 20001 + 37);
  }
}

// Daily reports (stays that pass several report times: the search), a short horizon (many
// customers still moving at its end), a free calendar touchpoint on two stages and a window
// touchpoint on won (both run in the lanes), and each kind of stage the lanes hand back: revenue
// on a stay (paid, whose touchpoint has a cost), an absorbing stage with revenue, a next table
// wider than the lanes' (customers handed back with their touchpoint streams open: from b and x
// to paid, from won to sink).
TEST(PlainLanesTest,
     stages_the_lanes_do_not_take_finish_in_the_scalar_engine_with_the_same_result) {
  const Model model = test::model_from_yaml(R"(
name: handed_back
horizon: 45
report_every: 1
won: won
stages:
  a:    {dwell: {mean: 2}, next: {b: 0.5, a: 0.1, lost: 0.2, paid: 0.1, slow: 0.1}}
  b:    {dwell: {mean: 9}, next: {won: 0.3, a: 0.3, lost: 0.3, wide: 0.1}}
  paid: {dwell: {mean: 4}, next: {b: 0.5, lost: 0.5}, revenue_per_month: 30}
  slow: {dwell: {dist: lognormal, median: 3, sigma: 0.8}, next: {b: 0.7, lost: 0.3}}
  wide: {dwell: {mean: 1}, next: {a: 0.1, b: 0.1, paid: 0.1, slow: 0.1, lost: 0.1, won: 0.1, sink: 0.2, x: 0.2}}
  x:    {dwell: {mean: 3}, next: {won: 0.5, lost: 0.5}}
  won:  {dwell: {mean: 20}, next: {sink: 1}}
  sink: {absorbing: true, revenue_per_month: 10}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: a, count: 9000}, {stage: b, count: 4099}]
touchpoints:
  demo: {stages: [b, x], schedule: {calendar: {start: 2, every: 3}}, reach: 0.5,
         effect: {move: {to: won, probability: 0.3}}}
  call: {stages: [paid], schedule: {calendar: {every: 5}}, reach: 0.9, cost: 2,
         effect: {move: {to: b, probability: 0.5}}}
  nudge: {stages: [won], schedule: {after_entry: {days: [1], every: 2}}, reach: 0.7,
          effect: {window: 2, hazard_factor: 1.5}}
)");
  for (int rep : {0, 1}) EXPECT_EQ(expect_same_with_and_without_lanes(model, rep), 9000 + 4099);
}

// A sales team: customers of the initial group and of an arrival stream leave the lanes for the
// served stage (requests made after the block, in customer order), queue, abandon to a plain
// stage and are served, all in the scalar engine.
TEST(PlainLanesTest, customers_handed_back_to_a_sales_team_give_the_same_replication) {
  const Model model = test::model_from_yaml(R"(
name: with_team
horizon: 200
report_every: 7
won: customer
stages:
  lead:     {dwell: {mean: 3}, next: {sql: 0.4, lead: 0.1, lost: 0.5}}
  sql:      {}
  nurture:  {dwell: {mean: 6}, next: {sql: 0.5, lost: 0.5}}
  customer: {absorbing: true}
  lost:     {absorbing: true}
arrivals:
  initial: [{stage: lead, count: 30000}]
  streams: [{stage: lead, rate_per_day: 100}]
resources:
  sales:
    servers: 2
    serves: [sql]
    service: {dist: exponential, mean: 0.01}
    discipline: fifo
    patience: {dist: exponential, mean: 3}
    abandon_to: nurture
    outcome: {next: {customer: 0.4, nurture: 0.3, lost: 0.3}}
)");
  for (int rep : {0, 2}) {
    const auto customers =
        static_cast<std::int64_t>(Engine(model).simulate(rep).metrics[kCustomers]);
    EXPECT_GT(customers, 30000 + 15000);  // and about 20,000 arrivals
    EXPECT_EQ(expect_same_with_and_without_lanes(model, rep), customers);
  }
}

// Customers of an arrival stream, with segments drawn by shares, go through the lanes too, in
// blocks (two here): each enters at its own day and report row; a stage whose rule differs
// between segments and one with a one-off value on a move from it are the scalar engine's
// (handed back); conversions in the lanes count from the customer's entry day.
TEST(PlainLanesTest, arrivals_with_drawn_segments_are_the_same_in_lanes_and_scalar) {
  const Model model = test::model_from_yaml(R"(
name: arrivals
horizon: 400
report_every: 1
won: won
stages:
  a:    {dwell: {mean: 2}, next: {b: 0.4, a: 0.1, lost: 0.3, seg: 0.1, fee: 0.1}}
  b:    {dwell: {mean: 5}, next: {won: 0.3, a: 0.2, lost: 0.5}}
  seg:  {dwell: {mean: 3}, next: {b: 0.5, lost: 0.5}}
  fee:  {dwell: {mean: 3}, next: {won: 0.5, lost: 0.5}}
  won:  {dwell: {mean: 30}, next: {lost: 1}}
  lost: {absorbing: true}
segments:
  big:   {share: 0.3, stages: {seg: {next: {won: 0.5, lost: 0.5}}}}
  small: {share: 0.7}
arrivals:
  initial: [{stage: a, count: 5000}]
  streams:
    - {stage: a, rate_per_day: 60, weekly_profile: [1, 1.2, 1.2, 1, 1, 0.3, 0.3]}
money:
  one_off: [{from: fee, to: won, value: 100}]
)");
  for (int rep : {0, 3}) {
    const ReplicationResult r = Engine(model).simulate(rep);
    ASSERT_GT(r.metrics[kCustomers], 5000 + 16384) << "two blocks of arrivals";
    EXPECT_GT(r.metrics[kRevenue], 0.0);
    EXPECT_EQ(expect_same_with_and_without_lanes(model, rep),
              static_cast<std::int64_t>(r.metrics[kCustomers]));
  }
}

// Stages with dwells of the other families (Weibull, lognormal, gamma and coxian through their
// tables, fixed, empirical) stay in the lanes: each lane's exit is the dwell's H^{-1}(E) as in the scalar
// engine, also under the lanes' calendar touchpoint (b). A stage whose dwell differs between the
// (drawn) segments is handed back.
TEST(PlainLanesTest, dwells_of_every_family_are_drawn_in_the_lanes_as_in_the_scalar_engine) {
  const Model model = test::model_from_yaml(R"(
name: families
horizon: 300
report_every: 3
won: won
stages:
  a:     {dwell: {dist: weibull, shape: 1.4, mean: 4}, next: {b: 0.3, c: 0.3, d: 0.1, g: 0.1, lost: 0.2}}
  b:     {dwell: {dist: lognormal, median: 5, sigma: 0.9}, next: {e: 0.4, a: 0.2, lost: 0.4}}
  c:     {dwell: {dist: gamma, shape: 0.7, mean: 6}, next: {e: 0.3, won: 0.3, lost: 0.4}}
  d:     {dwell: {dist: fixed, days: 2.5}, next: {f: 0.5, lost: 0.5}}
  e:     {dwell: {dist: empirical, values: [1, 2, 3, 8, 20]}, next: {won: 0.5, lost: 0.5}}
  f:     {dwell: {dist: weibull, shape: 0.8, mean: 9}, next: {won: 0.5, lost: 0.5}}
  g:     {dwell: {dist: coxian, rates: [0.5, 0.1], exit: [0.3, 1]}, next: {won: 0.5, lost: 0.5}}
  won:   {dwell: {dist: gamma, shape: 3, mean: 40}, next: {lost: 1}}
  lost:  {absorbing: true}
segments:
  x: {share: 0.5, stages: {f: {dwell: {dist: weibull, shape: 0.8, mean: 12}}}}
  y: {share: 0.5}
arrivals:
  initial: [{stage: a, count: 20000}]
touchpoints:
  demo: {stages: [b], schedule: {calendar: {start: 1, every: 4}}, reach: 0.6,
         effect: {move: {to: won, probability: 0.3}}}
)");
  for (int rep : {0, 1}) EXPECT_EQ(expect_same_with_and_without_lanes(model, rep), 20000);
}

// Stages whose one touchpoint the registers do not run (costs, after-entry schedules, effect
// windows that re-aim the hazard clock, moves, the two schedules together) stay in the lanes,
// their stays run lane by lane as in the scalar engine: a group starting in one (b), a stage's
// touchpoint that moves to another such stage (c to d), the lanes' calendar touchpoint beside
// them (a), a stream per customer and touchpoint kept across the customer's stays, and paid
// contacts summed in customer order (discounted: a sum whose order shows). Customers handed back
// at `paid` (revenue) come back to the touched stages in the scalar engine with their streams
// where the lanes left them; `vip` targets one (drawn) segment, so f differs between segments and
// is handed back; `fifth` is the fifth such touchpoint, more than the lanes keep, so g is too.
TEST(PlainLanesTest, stages_with_other_touchpoints_run_lane_by_lane_as_in_the_scalar_engine) {
  const std::string stages = R"(
horizon: 150
report_every: 1
won: won
stages:
  a:    {dwell: {mean: 2}, next: {b: 0.4, c: 0.2, a: 0.1, lost: 0.3}}
  b:    {dwell: {dist: lognormal, median: 4, sigma: 0.8}, next: {c: 0.3, a: 0.2, won: 0.2, lost: 0.2, paid: 0.1}}
  c:    {dwell: {dist: weibull, shape: 1.3, mean: 5}, next: {b: 0.3, won: 0.3, lost: 0.3, f: 0.05, g: 0.05}}
  d:    {dwell: {mean: 3}, next: {won: 0.5, lost: 0.3, b: 0.2}}
  won:  {dwell: {mean: 30}, next: {lost: 1}}
  paid: {dwell: {mean: 4}, next: {b: 0.6, lost: 0.4}, revenue_per_month: 30}
  f:    {dwell: {mean: 2}, next: {b: 0.5, lost: 0.5}}
  g:    {dwell: {mean: 2}, next: {c: 0.5, lost: 0.5}}
  lost: {absorbing: true}
segments:
  x: {share: 0.4}
  y: {share: 0.6}
arrivals:
  initial: [{stage: b, count: 7000}, {stage: a, count: 9000}]
  streams: [{stage: a, rate_per_day: 40}]
money: {discount_rate: 0.08}
touchpoints:
  demo:  {stages: [a], schedule: {calendar: {start: 2, every: 3}}, reach: 0.5, effect: {move: {to: b, probability: 0.3}}}
  email: {stages: [b], schedule: {after_entry: {days: [0.5], every: 3}}, reach: 0.4, cost: 0.3,
          effect: {window: 2, hazard_factor: 1.4}}
  call:  {stages: [c], schedule: {after_entry: {days: [1]}, calendar: {every: 5}}, reach: 0.8, cost: 7.1,
          effect: {move: {to: d, probability: 0.4}}}
  nudge: {stages: [d], schedule: {calendar: {start: 1, every: 2}}, reach: 0.6, cost: 0.2,
          effect: {move: {to: won, probability: 0.3}}}
  check: {stages: [won], schedule: {after_entry: {days: [2, 5]}}, reach: 0.9, cost: 1.3,
          effect: {window: 4, hazard_factor: 0.5}}
  vip:   {stages: [f], segments: [x], schedule: {after_entry: {days: [1]}}, reach: 0.5, cost: 3}
  fifth: {stages: [g], schedule: {after_entry: {days: [1]}}, reach: 0.5, cost: 3}
)";
  const Model model = test::model_from_yaml("name: touched_in_lanes\n" + stages);
  for (int rep : {0, 4}) {
    const ReplicationResult r = Engine(model).simulate(rep);
    ASSERT_GT(r.metrics[kCustomers], 16000 + 5000) << "a block of arrivals";
    for (const TouchpointTally& t : r.touchpoints) EXPECT_GT(t.reached, 0.0);
    EXPECT_GT(r.touchpoints[2].moves, 0.0);  // call moves to d
    EXPECT_GT(r.touchpoints[3].moves, 0.0);  // nudge to won
    EXPECT_EQ(expect_same_with_and_without_lanes(model, rep),
              static_cast<std::int64_t>(r.metrics[kCustomers]));
    // Handed back: only at paid, f and g (each customer once, so at most one per customer there).
    std::int64_t handed_back = 0;
    SimulationControl c;
    c.vector_lane_handed_back = &handed_back;
    (void)Engine(model).simulate(rep, c);
    std::int64_t entered_paid_f_g = 0;
    const int S = r.num_stages;
    for (int from = 0; from < S; ++from) {
      for (const int to : {5, 6, 7})
        entered_paid_f_g += r.transitions[static_cast<std::size_t>(from * S + to)];
    }
    EXPECT_GT(handed_back, 100);
    EXPECT_LE(handed_back, entered_paid_f_g);
  }
  // Without the stages the lanes hand back, nobody is handed back.
  std::string no_exits = stages;
  for (const std::string from : {"paid: 0.1}", "f: 0.05, g: 0.05}"})
    no_exits.replace(no_exits.find(from), from.size(), "d: 0.1}");
  const Model inside = test::model_from_yaml("name: touched_only\n" + no_exits);
  std::int64_t handed_back = 0;
  SimulationControl c;
  c.vector_lane_handed_back = &handed_back;
  const ReplicationResult r = Engine(inside).simulate(1, c);
  EXPECT_EQ(handed_back, 0);
  EXPECT_GT(r.touchpoints[1].contacts, 1000.0);
  EXPECT_EQ(expect_same_with_and_without_lanes(inside, 1),
            static_cast<std::int64_t>(r.metrics[kCustomers]));
}

// An arrival stream that passes max_customers stops the run with the scalar engine's error, at
// the same customer, with the lanes as without them.
TEST(PlainLanesTest, arrivals_past_max_customers_stop_the_run_as_without_lanes) {
  const Model model = test::too_many_arrivals_model();
  auto message = [&](bool lanes) {
    SimulationControl c;
    c.vector_lanes = lanes;
    try {
      (void)Engine(model).simulate(0, c);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string with_lanes = message(true);
  EXPECT_NE(with_lanes.find("more than 3000 customers"), std::string::npos) << with_lanes;
  EXPECT_EQ(with_lanes, message(false));
}

// The bundled scenarios, and how many of their customers the lanes take: the B2B ones' awareness
// group and arrivals (not their customer and loyal groups: revenue), none of sales_team's (it has
// referrals), funnel-10 +webinar and +email whole.
TEST(PlainLanesTest, bundled_scenarios_are_the_same_in_lanes_and_scalar) {
  constexpr std::int64_t kNone = -1;
  // file, customers not started in the lanes (kNone: no customer is)
  const std::pair<const char*, std::int64_t> files[] = {
      {"scenarios/b2b_saas/baseline.yaml", 150 + 60},
      {"scenarios/b2b_saas/webinar_for_mqls.yaml", 150 + 60},
      {"scenarios/sales_team/baseline.yaml", kNone},
      {"benches/funnel10/funnel10_webinar.yaml", 0},
      {"benches/funnel10/funnel10_email.yaml", 0}};
  for (const auto& [file, outside] : files) {
    Scenario scenario = load_scenario(std::string(LCSIM_SOURCE_DIR) + "/" + file);
    for (auto& group : scenario.arrivals.initial)
      group.count = std::min<std::int64_t>(group.count, 20000);
    const Model model = compile(scenario);
    const auto customers = static_cast<std::int64_t>(Engine(model).simulate(1).metrics[kCustomers]);
    EXPECT_EQ(expect_same_with_and_without_lanes(model, 1),
              outside == kNone ? 0 : customers - outside)
        << file;
  }
}

// Every bundled scenario (scenarios/**/*.yaml, variants included) and funnel-10 with its webinar
// and its email (benches/funnel10), initial groups capped at 20,000 customers: each SIMD target
// this CPU runs gives the scalar engine's replication bit for bit.
TEST(PlainLanesTest, every_bundled_scenario_is_the_same_on_every_target_and_scalar) {
  std::vector<std::filesystem::path> files;
  for (const char* dir : {"scenarios", "benches/funnel10"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(
             std::filesystem::path(LCSIM_SOURCE_DIR) / dir)) {
      if (entry.is_regular_file() && entry.path().extension() == ".yaml")
        files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 12U);
  int with_lanes = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    Scenario scenario = load_scenario(file.string());
    for (auto& group : scenario.arrivals.initial)
      group.count = std::min<std::int64_t>(group.count, 20000);
    const Model model = compile(scenario);
    const Engine engine(model);
    SimulationControl scalar_only;
    scalar_only.vector_lanes = false;
    const ReplicationResult scalar = engine.simulate(2, scalar_only);
    std::int64_t in_lanes = 0;
    for_each_lane_target([&] {
      SimulationControl c;
      c.vector_lane_customers = &in_lanes;
      expect_same_results(engine.simulate(2, c), scalar, file.filename().string());
    });
    with_lanes += in_lanes > 0 ? 1 : 0;
  }
  EXPECT_GE(with_lanes, 8) << "scenarios whose customers ran in the lanes";
}

}  // namespace
}  // namespace lcsim
