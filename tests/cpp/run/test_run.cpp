#include "lcsim/run/run.hpp"

#include <gtest/gtest.h>

#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <cstring>
#include <thread>

#include "lcsim/core/error.hpp"
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
    if (x.replication != y.replication || x.occupancy != y.occupancy || x.transitions != y.transitions ||
        x.reached != y.reached || x.metrics.size() != y.metrics.size() ||
        std::memcmp(x.metrics.data(), y.metrics.data(), x.metrics.size() * sizeof(double)) != 0 ||
        std::memcmp(x.touchpoints.data(), y.touchpoints.data(), x.touchpoints.size() * sizeof(TouchpointTally)) != 0) {
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
  const double t = boost::math::quantile(boost::math::complement(boost::math::students_t(5.0), 0.025));
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
  EXPECT_EQ(run.info.cause_names, (std::vector<std::string>{"exit", "arrival", "touchpoint:email", "touchpoint:demo"}));
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
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));  // not a timing claim: a hang guard
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

}  // namespace
}  // namespace lcsim
