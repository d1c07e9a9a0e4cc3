#include "lcsim/run/compare.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "lcsim/core/error.hpp"
#include "support/builders.hpp"
#include "support/stats.hpp"

namespace lcsim {
namespace {

const char* kBase = R"(
name: base
horizon: 200
report_every: 10
replications: 8
seed: 11
won: customer
stages:
  lead: {dwell: {mean: 6}, next: {mql: 0.5, lost: 0.5}}
  mql: {dwell: {dist: gamma, shape: 2, mean: 10}, next: {sql: 0.3, lead: 0.2, lost: 0.5}}
  sql: {dwell: {mean: 8}, next: {customer: 0.4, lost: 0.6}}
  customer: {absorbing: true, revenue_per_month: 100}
  lost: {absorbing: true}
segments:
  icp: {share: 0.4}
  smb: {share: 0.6}
arrivals:
  initial: [{stage: lead, count: 4000}]
  streams: [{stage: lead, rate_per_day: 20}]
)";

const char* kWebinar = R"(
touchpoints:
  webinar:
    stages: [mql]
    schedule: {calendar: {every: 7, start: 3}}
    reach: 0.3
    cost: 15
    effect: {move: {to: sql, probability: 0.3}}
)";

Model base_model() { return test::model_from_yaml(kBase); }
Model webinar_model() { return test::model_from_yaml(std::string(kBase) + kWebinar); }

const DeltaRow& row(const VariantComparison& v, const std::string& metric) {
  for (const auto& r : v.deltas) {
    if (r.metric == metric) return r;
  }
  throw std::runtime_error("no metric " + metric);
}

TEST(CompareTest, identical_variant_gives_exact_zero_deltas_with_zero_width_cis) {
  const Model base = base_model();
  const Model same = base_model();
  const Comparison c = compare(base, {&same});
  ASSERT_EQ(c.variants.size(), 1U);
  EXPECT_EQ(c.replications, 8);
  for (const DeltaRow& r : c.variants[0].deltas) {
    if (r.n == 0) continue;
    EXPECT_EQ(r.delta, 0.0) << r.metric;
    EXPECT_EQ(r.ci_low, 0.0) << r.metric;
    EXPECT_EQ(r.ci_high, 0.0) << r.metric;
  }
  EXPECT_TRUE(c.variants[0].changed_touchpoints.empty());
  for (const ChangeRow& ch : c.variants[0].changes) {
    EXPECT_EQ(ch.gained, 0);
    EXPECT_EQ(ch.lost, 0);
  }
}

TEST(CompareTest, common_random_numbers_reduce_variance_by_a_measured_factor) {
  const Model base = base_model();
  const Model webinar = webinar_model();
  CompareOptions options;
  options.replications = 30;
  const Comparison c = compare(base, {&webinar}, options);
  const VariantComparison& v = c.variants[0];
  EXPECT_EQ(v.changed_touchpoints, (std::vector<std::string>{"webinar"}));
  const DeltaRow& conv = row(v, "conversions");
  EXPECT_GT(conv.delta, 0.0);
  EXPECT_GT(conv.ci_low, 0.0);  // the webinar clearly helps
  EXPECT_GT(conv.variance_reduction, 3.0) << "pairing should cut the variance of the difference";
  // The lift and its interval bracket delta / base mean.
  EXPECT_DOUBLE_EQ(conv.lift, conv.delta / conv.base_mean);
  EXPECT_LT(conv.lift_ci_low, conv.lift);
  EXPECT_GT(conv.lift_ci_high, conv.lift);
  EXPECT_EQ(v.verdict.substr(v.verdict.find(": ") + 2, 1), "+")
      << "led by customers won: " << v.verdict;
  EXPECT_NE(v.verdict.find(" customers won (95% CI +"), std::string::npos) << v.verdict;
  EXPECT_NE(v.verdict.find("cost per extra customer won $"), std::string::npos) << v.verdict;
  EXPECT_NE(v.verdict.find("net value (discounted) "), std::string::npos) << v.verdict;
}

namespace {
DeltaRow delta_row(const std::string& metric, double delta, double low, double high) {
  DeltaRow r;
  r.metric = metric;
  r.n = 10;
  r.delta = delta;
  r.ci_low = low;
  r.ci_high = high;
  return r;
}
}  // namespace

TEST(CompareTest, verdict_is_led_by_the_metric_whose_interval_excludes_zero) {
  // Customers won did not move, revenue did: the verdict opens with revenue, not "+0.0 customers".
  const std::vector<DeltaRow> money_only = {delta_row("conversions", 0.02, -0.3, 0.34),
                                            delta_row("revenue", 1140000.0, 1000000.0, 1280000.0),
                                            delta_row("touchpoint_cost", 87017.0, 86000.0, 88000.0),
                                            delta_row("net_value", 856613.0, 700000.0, 1010000.0)};
  EXPECT_EQ(
      verdict("loyalty", money_only),
      "loyalty: no clear change in customers won; revenue +$1,140,000 (95% CI +$1,000,000 to +$1,280,000); "
      "touchpoint and staff cost +$87,017; net value (discounted) +$856,613 (95% CI +$700,000 to "
      "+$1,010,000); per replication");
  // Only the cost moved: it leads, with its interval, and is not said twice.
  const std::vector<DeltaRow> cost_only = {delta_row("conversions", 0.5, -1.0, 2.0),
                                           delta_row("revenue", 100.0, -50.0, 250.0),
                                           delta_row("touchpoint_cost", -85.0, -90.0, -80.0),
                                           delta_row("net_value", 150.0, -20.0, 320.0)};
  EXPECT_EQ(
      verdict("cheaper", cost_only),
      "cheaper: no clear change in customers won or revenue; touchpoint and staff cost -$85 (95% CI -$90 "
      "to -$80); net value (discounted) +$150 (95% CI -$20 to +$320); per replication");
  // Nothing moved.
  const std::vector<DeltaRow> none = {delta_row("conversions", 0.0, 0.0, 0.0),
                                      delta_row("net_value", 0.0, 0.0, 0.0)};
  EXPECT_EQ(
      verdict("same", none),
      "same: no clear change in customers won, revenue or cost; net value (discounted) +$0 (95% CI +$0 to "
      "+$0); per replication");
}

TEST(CompareTest, customers_never_reached_by_the_changed_touchpoint_never_change_outcome) {
  const Model base = base_model();
  const Model webinar = webinar_model();
  const Comparison c = compare(base, {&webinar});
  const VariantComparison& v = c.variants[0];
  std::int64_t gained = 0;
  std::int64_t lost = 0;
  std::int64_t reached = 0;
  for (const ChangeRow& ch : v.changes) {
    if (ch.reached_in.empty()) {
      EXPECT_EQ(ch.gained, 0) << ch.segment;
      EXPECT_EQ(ch.lost, 0) << ch.segment;
      EXPECT_EQ(ch.converted_base, ch.converted_variant);
    } else {
      EXPECT_EQ(ch.reached_in, "mql");
      reached += ch.customers;
    }
    gained += ch.gained;
    lost += ch.lost;
  }
  EXPECT_GT(reached, 0);
  EXPECT_GT(gained, lost);
  // Net change in conversions over all replications equals gained - lost.
  double delta_total = 0.0;
  for (std::size_t r = 0; r < c.base.replications.size(); ++r) {
    delta_total +=
        v.run.replications[r].metrics[kConversions] - c.base.replications[r].metrics[kConversions];
  }
  EXPECT_EQ(static_cast<double>(gained - lost), delta_total);
}

TEST(CompareTest, precision_target_adds_batches_until_the_half_width_is_small) {
  const Model base = base_model();
  const Model webinar = webinar_model();
  CompareOptions options;
  options.replications = 4;
  options.batch = 4;
  options.precision = 0.03;
  options.precision_metrics = {"conversions"};
  options.precision_on_delta = false;
  options.measure_independent = false;
  const Comparison c = compare(base, {&webinar}, options);
  EXPECT_TRUE(c.precision_met);
  EXPECT_GT(c.replications, 4);
  EXPECT_EQ(c.replications % 4, 0);
  const SummaryRow& s = c.base.summary[kConversions];
  EXPECT_LE((s.ci_high - s.ci_low) / 2.0, 0.03 * s.mean);

  options.precision = 1e-6;
  options.max_replications = 12;
  const Comparison capped = compare(base, {&webinar}, options);
  EXPECT_FALSE(capped.precision_met);
  EXPECT_EQ(capped.replications, 12);
}

TEST(CompareTest, results_do_not_depend_on_threads) {
  const Model base = base_model();
  const Model webinar = webinar_model();
  CompareOptions one;
  one.threads = 1;
  CompareOptions two;
  two.threads = 2;
  const Comparison a = compare(base, {&webinar}, one);
  const Comparison b = compare(base, {&webinar}, two);
  ASSERT_EQ(a.variants[0].deltas.size(), b.variants[0].deltas.size());
  for (std::size_t i = 0; i < a.variants[0].deltas.size(); ++i) {
    EXPECT_EQ(0, std::memcmp(&a.variants[0].deltas[i].delta, &b.variants[0].deltas[i].delta,
                             sizeof(double)));
  }
  EXPECT_EQ(a.variants[0].verdict, b.variants[0].verdict);
}

TEST(CompareTest, paired_deltas_match_hand_computation) {
  lcsim::Run base;
  lcsim::Run variant;
  base.info.metric_names = {"x"};
  variant.info.metric_names = {"x"};
  const double b[] = {10, 12, 11, 13};
  const double v[] = {12, 15, 12, 16};
  for (int i = 0; i < 4; ++i) {
    ReplicationResult rb;
    rb.metrics = {b[i]};
    base.replications.push_back(rb);
    ReplicationResult rv;
    rv.metrics = {v[i]};
    variant.replications.push_back(rv);
  }
  const auto rows = paired_deltas(base, variant);
  ASSERT_EQ(rows.size(), 1U);
  const std::vector<double> d = {2, 3, 1, 3};
  const test::MeanSe ms = test::mean_se(d);
  EXPECT_DOUBLE_EQ(rows[0].delta, 2.25);
  EXPECT_NEAR(rows[0].ci_high - rows[0].delta, 3.182446305284263 * ms.se, 1e-9);
  EXPECT_DOUBLE_EQ(rows[0].lift, 2.25 / 11.5);
  EXPECT_TRUE(std::isnan(rows[0].variance_reduction));
}

TEST(CompareTest, rejects_unknown_precision_metric) {
  const Model base = base_model();
  CompareOptions options;
  options.precision = 0.02;
  options.precision_metrics = {"conversoins"};
  EXPECT_THROW((void)compare(base, {&base}, options), InputError);
}

}  // namespace
}  // namespace lcsim
