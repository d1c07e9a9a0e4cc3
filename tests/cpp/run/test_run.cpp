#include "lcsim/run/run.hpp"

#include <gtest/gtest.h>

#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>

#include "lcsim/core/error.hpp"
#include "lcsim/engine/engine.hpp"
#include "lcsim/run/run_arrays.hpp"
#include "support/builders.hpp"
#include "support/stats.hpp"

namespace lcsim {
namespace {

const char* kScenario = R"(
name: run_test
horizon: 300
report_every: 10
replications: 6
seed: 5
won: won
stages:
  lead: {dwell: {dist: gamma, shape: 2, mean: 8}, next: {mql: 0.5, lost: 0.5}}
  mql: {dwell: {dist: weibull, shape: 1.4, mean: 12}, next: {won: 0.4, lead: 0.2, lost: 0.4}}
  won: {absorbing: true, revenue_per_month: 50}
  lost: {absorbing: true}
segments:
  a: {share: 0.5, stages: {mql: {next: {won: 0.6, lost: 0.4}}}}
  b: {share: 0.5}
arrivals:
  initial: [{stage: lead, count: 3000}]
  streams: [{stage: lead, rate_per_day: 10, weekly_profile: [1, 1, 1, 1, 1, 0.2, 0.2]}]
touchpoints:
  email:
    stages: [lead]
    schedule: {after_entry: {every: 2}}
    reach: 0.3
    cost: 1
    effect: {window: 2, hazard_factor: 1.5}
  demo:
    stages: [mql]
    segments: [b]
    schedule: {calendar: {every: 7}}
    reach: 0.5
    cost: 20
    effect: {move: {to: won, probability: 0.1}}
)";

bool identical(const lcsim::Run& a, const lcsim::Run& b) {
  if (a.replications.size() != b.replications.size()) return false;
  for (std::size_t r = 0; r < a.replications.size(); ++r) {
    const auto& x = a.replications[r];
    const auto& y = b.replications[r];
    if (x.replication != y.replication || x.occupancy != y.occupancy ||
        x.transitions != y.transitions || x.reached != y.reached ||
        x.metrics.size() != y.metrics.size() ||
        std::memcmp(x.metrics.data(), y.metrics.data(), x.metrics.size() * sizeof(double)) != 0 ||
        std::memcmp(x.touchpoints.data(), y.touchpoints.data(),
                    x.touchpoints.size() * sizeof(TouchpointTally)) != 0) {
      return false;
    }
  }
  for (std::size_t m = 0; m < a.summary.size(); ++m) {
    if (std::memcmp(&a.summary[m].mean, &b.summary[m].mean, sizeof(double) * 4) != 0) return false;
  }
  return true;
}

TEST(RunTest, identical_bit_for_bit_at_one_and_two_threads) {
  const Model model = test::model_from_yaml(kScenario);
  RunOptions one;
  one.threads = 1;
  RunOptions two;
  two.threads = 2;
  const lcsim::Run a = simulate(model, one);
  const lcsim::Run b = simulate(model, two);
  ASSERT_EQ(a.replications.size(), 6U);
  EXPECT_TRUE(identical(a, b));
  for (int r = 0; r < 6; ++r) EXPECT_EQ(a.replications[static_cast<std::size_t>(r)].replication, r);
  // A different seed gives different results: the comparison can fail.
  RunOptions other = two;
  other.has_seed = true;
  other.seed = 6;
  EXPECT_FALSE(identical(a, simulate(model, other)));
}

// One replication split into parts of its customers (Engine::plan) that the threads share: the
// same bytes at 1, 2 and 5 threads, for a scenario with arrivals, segments, money and touchpoints
// (parts of 500 customers: about a dozen a replication) and one with a sales team (the customers
// who reach the served stage queue in the join, in their order).
TEST(RunTest, a_replication_split_into_parts_is_identical_at_one_two_and_five_threads) {
  const std::string team = R"(
name: with_team
horizon: 200
report_every: 7
replications: 2
won: customer
stages:
  lead:     {dwell: {mean: 3}, next: {sql: 0.4, lead: 0.1, lost: 0.5}}
  sql:      {revenue_per_month: 3}
  nurture:  {dwell: {mean: 6}, next: {sql: 0.5, lost: 0.5}}
  customer: {absorbing: true, revenue_per_month: 30}
  lost:     {absorbing: true}
arrivals:
  initial: [{stage: lead, count: 6000}]
  streams: [{stage: lead, rate_per_day: 20}]
resources:
  sales:
    servers: 2
    serves: [sql]
    service: {dist: exponential, mean: 0.05}
    discipline: fifo
    patience: {dist: exponential, mean: 3}
    abandon_to: nurture
    outcome: {next: {customer: 0.4, nurture: 0.3, lost: 0.3}}
)";
  for (const std::string& yaml : {std::string(kScenario), team}) {
    const Model model = test::model_from_yaml(yaml);
    SimulationControl split;
    split.part_customers = 500;
    ASSERT_GE(Engine(model).plan(0, split).parts(), 10) << model.name;
    RunOptions options;
    options.part_customers = 500;
    options.replications = 2;
    options.threads = 1;
    const lcsim::Run one = simulate(model, options);
    for (const int threads : {2, 5}) {
      options.threads = threads;
      const lcsim::Run more = simulate(model, options);
      EXPECT_TRUE(identical(one, more)) << model.name << " at " << threads << " threads";
      for (std::size_t r = 0; r < 2; ++r) {
        EXPECT_EQ(one.replications[r].queue_length, more.replications[r].queue_length);
        EXPECT_EQ(0, std::memcmp(one.replications[r].queue_wait.data(),
                                 more.replications[r].queue_wait.data(),
                                 one.replications[r].queue_wait.size() * sizeof(double)));
      }
    }
    EXPECT_GT(one.replications[0].metrics[kConversions], 0.0);
    // The split changes the sums of money at most in their last bits, nothing else.
    options.part_customers = 1'000'000;
    const lcsim::Run whole = simulate(model, options);
    for (std::size_t r = 0; r < 2; ++r) {
      const ReplicationResult& a = one.replications[r];
      const ReplicationResult& b = whole.replications[r];
      EXPECT_EQ(a.occupancy, b.occupancy);
      EXPECT_EQ(a.transitions, b.transitions);
      EXPECT_EQ(a.reached, b.reached);
      EXPECT_EQ(a.queue_length, b.queue_length);
      for (std::size_t m = 0; m < a.metrics.size(); ++m) {
        if (std::isnan(b.metrics[m])) {
          EXPECT_TRUE(std::isnan(a.metrics[m])) << one.info.metric_names[m];
        } else {
          EXPECT_NEAR(a.metrics[m], b.metrics[m], 1e-9 * std::abs(b.metrics[m]))
              << one.info.metric_names[m];
        }
      }
    }
  }
}

TEST(RunTest, summary_is_mean_sd_and_student_t_interval) {
  const Model model = test::model_from_yaml(kScenario);
  const lcsim::Run run = simulate(model);
  ASSERT_EQ(run.summary.size(), run.info.metric_names.size());
  const SummaryRow& row = run.summary[kConversions];
  EXPECT_EQ(row.metric, "conversions");
  std::vector<double> x;
  for (const auto& rep : run.replications) x.push_back(rep.metrics[kConversions]);
  const test::MeanSe ms = test::mean_se(x);
  EXPECT_DOUBLE_EQ(row.mean, ms.mean);
  EXPECT_NEAR(row.std, ms.se * std::sqrt(6.0), 1e-9 * row.std);
  const double t =
      boost::math::quantile(boost::math::complement(boost::math::students_t(5.0), 0.025));
  EXPECT_NEAR(row.ci_high - row.mean, t * ms.se, 1e-9 * row.mean);
  EXPECT_NEAR(row.mean - row.ci_low, t * ms.se, 1e-9 * row.mean);
  EXPECT_EQ(row.n, 6);
}

TEST(RunTest, summary_skips_nan_and_reports_n) {
  ReplicationResult a;
  a.metrics = {1.0, std::nan("")};
  ReplicationResult b;
  b.metrics = {3.0, std::nan("")};
  ReplicationResult c;
  c.metrics = {5.0, 2.0};
  const auto rows = summarize({"x", "y"}, {a, b, c});
  EXPECT_DOUBLE_EQ(rows[0].mean, 3.0);
  EXPECT_DOUBLE_EQ(rows[0].std, 2.0);
  EXPECT_EQ(rows[1].n, 1);
  EXPECT_DOUBLE_EQ(rows[1].mean, 2.0);
  EXPECT_TRUE(std::isnan(rows[1].std));
  EXPECT_TRUE(std::isnan(rows[1].ci_low));
}

TEST(RunTest, options_override_the_scenario) {
  const Model model = test::model_from_yaml(kScenario);
  RunOptions options;
  options.replications = 3;
  options.has_seed = true;
  options.seed = 77;
  options.name = "custom";
  options.events = true;
  const lcsim::Run run = simulate(model, options);
  EXPECT_EQ(run.info.replications, 3);
  EXPECT_EQ(run.info.seed, 77U);
  EXPECT_EQ(run.info.name, "custom");
  EXPECT_TRUE(run.has_events);
  EXPECT_FALSE(run.replications[2].events.empty());
  EXPECT_EQ(run.info.cause_names,
            (std::vector<std::string>{"exit", "arrival", "touchpoint:email", "touchpoint:demo"}));
  EXPECT_EQ(run.info.won, "won");
  EXPECT_EQ(run.info.report_times.size(), 31U);
}

TEST(RunTest, cancel_stops_a_long_run_promptly_and_returns_nothing) {
  std::string yaml = kScenario;
  yaml.replace(yaml.find("count: 3000"), 11, "count: 50000000");
  const Model model = test::model_from_yaml(yaml);
  std::atomic<bool> cancel{false};
  RunOptions options;
  options.cancel = &cancel;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel = true;
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW((void)simulate(model, options), Cancelled);
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::seconds(5));  // not a timing claim: a hang guard
}

TEST(RunTest, progress_reports_customers_and_replications) {
  const Model model = test::model_from_yaml(kScenario);
  std::int64_t last_customers = 0;
  int last_done = 0;
  RunOptions options;
  options.on_progress = [&](std::int64_t customers, int done) {
    EXPECT_GE(customers, last_customers);
    last_customers = customers;
    last_done = done;
  };
  const lcsim::Run run = simulate(model, options);
  EXPECT_EQ(last_done, 6);
  double customers = 0;
  for (const auto& rep : run.replications) customers += rep.metrics[kCustomers];
  EXPECT_EQ(static_cast<double>(last_customers), customers);
}

// ---- pack / unpack (run_arrays.hpp) --------------------------------------------------------------

/// A hand-made Run: 3 replications, T = 3 report times, S = 2 stages, K = 1 touchpoint and
/// Q = `resources` resources, with NaN queue waits (periods without a service start).
lcsim::Run hand_made_run(int resources) {
  lcsim::Run run;
  RunInfo& info = run.info;
  info.name = "hand";
  info.stage_names = {"lead", "won"};
  info.touchpoint_names = {"call"};
  for (int q = 0; q < resources; ++q) info.resource_names.push_back("team" + std::to_string(q));
  info.metric_names = metric_names(info.stage_names, info.resource_names);
  info.report_times = {0.0, 7.0, 14.0};
  info.won = "won";
  const auto q_count = static_cast<std::size_t>(resources);
  for (int r = 0; r < 3; ++r) {
    ReplicationResult rep;
    rep.replication = 10 + 2 * r;  // not dense: unpack keeps the numbers
    rep.num_stages = 2;
    rep.num_reports = 3;
    rep.num_resources = resources;
    for (int i = 0; i < 6; ++i) rep.occupancy.push_back(100 * r + i);
    for (int i = 0; i < 4; ++i) rep.transitions.push_back(10 * r + i);
    rep.reached = {50 + r, 20 + r};
    rep.touchpoints.push_back(TouchpointTally{1.0 + r, 2.0, 3.0, 4.5});
    for (std::size_t m = 0; m < info.metric_names.size(); ++m)
      rep.metrics.push_back(0.5 * static_cast<double>(m) + r);
    for (std::size_t i = 0; i < 3 * q_count; ++i) {
      rep.queue_length.push_back(static_cast<std::int64_t>(1000 * r + i));
      rep.queue_wait.push_back(i % 3 == 0 ? std::nan("") : 0.25 * static_cast<double>(i) + r);
    }
    run.replications.push_back(std::move(rep));
  }
  run.info.replications = 3;
  run.summary = summarize(run.info.metric_names, run.replications);
  return run;
}

bool same_doubles(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

TEST(RunArraysTest, pack_lays_out_queues_replication_major_and_unpack_inverts_it) {
  const lcsim::Run run = hand_made_run(2);
  const RunArrays a = pack(run);
  EXPECT_EQ(a.resources, 2U);
  EXPECT_EQ(a.reports, 3U);
  ASSERT_EQ(a.queue_length.size(), 3U * 3U * 2U);
  ASSERT_EQ(a.queue_wait.size(), 3U * 3U * 2U);
  // [R, T, Q]: replication 1, report time 2, resource 1
  EXPECT_EQ(a.queue_length[(1 * 3 + 2) * 2 + 1], run.replications[1].queue_length[2 * 2 + 1]);
  EXPECT_TRUE(std::isnan(a.queue_wait[0]));

  const lcsim::Run back = unpack(run.info, a, nullptr);
  EXPECT_EQ(back.info.resource_names, run.info.resource_names);
  ASSERT_EQ(back.replications.size(), 3U);
  for (std::size_t r = 0; r < 3; ++r) {
    const ReplicationResult& x = run.replications[r];
    const ReplicationResult& y = back.replications[r];
    EXPECT_EQ(y.replication, x.replication);
    EXPECT_EQ(y.num_resources, 2);
    EXPECT_EQ(y.queue_length, x.queue_length);
    EXPECT_TRUE(same_doubles(y.queue_wait, x.queue_wait));  // NaN bit patterns kept
    EXPECT_EQ(y.occupancy, x.occupancy);
    EXPECT_EQ(y.transitions, x.transitions);
    EXPECT_EQ(y.reached, x.reached);
    EXPECT_TRUE(same_doubles(y.metrics, x.metrics));
  }
  ASSERT_EQ(back.summary.size(), run.summary.size());
  EXPECT_EQ(back.summary.back().metric, "resource.team1.staff_cost");
  const RunArrays again = pack(back);
  EXPECT_EQ(again.queue_length, a.queue_length);
  EXPECT_TRUE(same_doubles(again.queue_wait, a.queue_wait));
  EXPECT_TRUE(same_doubles(again.metric_values, a.metric_values));
}

TEST(RunArraysTest, runs_without_resources_pack_empty_queues) {
  const lcsim::Run run = hand_made_run(0);
  const RunArrays a = pack(run);
  EXPECT_EQ(a.resources, 0U);
  EXPECT_TRUE(a.queue_length.empty());
  EXPECT_TRUE(a.queue_wait.empty());
  const lcsim::Run back = unpack(run.info, a, nullptr);
  for (const auto& rep : back.replications) {
    EXPECT_EQ(rep.num_resources, 0);
    EXPECT_TRUE(rep.queue_length.empty());
    EXPECT_TRUE(rep.queue_wait.empty());
  }
}

TEST(RunArraysTest, queue_shapes_that_disagree_are_internal_errors) {
  lcsim::Run run = hand_made_run(2);
  run.replications[1].queue_wait.pop_back();
  EXPECT_THROW((void)pack(run), InternalError);
  lcsim::Run fewer = hand_made_run(2);
  fewer.replications[0].num_resources = 1;
  EXPECT_THROW((void)pack(fewer), InternalError);
  const lcsim::Run good = hand_made_run(2);
  RunArrays a = pack(good);
  a.queue_length.pop_back();
  EXPECT_THROW((void)unpack(good.info, a, nullptr), InternalError);
  RunInfo no_resources = good.info;
  no_resources.resource_names.clear();
  EXPECT_THROW((void)unpack(no_resources, pack(good), nullptr), InternalError);
}

}  // namespace
}  // namespace lcsim
