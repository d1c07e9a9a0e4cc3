// Touchpoint effects through the hazard clock, immediate moves, next overrides, and common random
// numbers.
#include <gtest/gtest.h>

#include <boost/math/distributions/weibull.hpp>
#include <map>

#include "lcsim/engine/engine.hpp"
#include "lcsim/rng/stream.hpp"
#include "support/builders.hpp"
#include "support/stats.hpp"

namespace lcsim {
namespace {

/// One stage `a` with the given dwell, left for `out`; a touchpoint on entry with factor k for
/// `window` days. Returns each customer's dwell in a.
std::vector<double> dwells_with_factor(const std::string& dwell, double k, double window,
                                       int n = 20000) {
  const std::string yaml = R"(
name: hf
horizon: 1.0e7
report_every: 1.0e6
won: out
stages:
  a: {dwell: )" + dwell + R"(, next: {out: 1}}
  out: {absorbing: true}
arrivals: {initial: [{stage: a, count: )" +
                           std::to_string(n) + R"(}]}
touchpoints:
  boost:
    stages: [a]
    schedule: {after_entry: {days: [0]}}
    effect: {window: )" + std::to_string(window) +
                           ", hazard_factor: " + std::to_string(k) + R"(}
)";
  const Model model = test::model_from_yaml(yaml);
  SimulationControl control;
  control.events = true;
  const ReplicationResult res = Engine(model).simulate(0, control);
  std::vector<double> out;
  for (const Event& e : res.events) {
    if (e.from == 0) out.push_back(e.time);
  }
  return out;
}

TEST(HazardFactorTest, divides_exponential_mean_by_k) {
  const auto d = dwells_with_factor("{mean: 10}", 2.5, 1.0e8);
  const test::MeanSe m = test::mean_se(d);
  EXPECT_NEAR(m.mean, 10.0 / 2.5, 4 * m.se);
  EXPECT_GT(test::ks_pvalue(d, [](double x) { return 1.0 - std::exp(-x * 2.5 / 10.0); }), 1e-3);
}

TEST(HazardFactorTest, weibull_follows_proportional_hazards) {
  // S(d) = exp(-k (d / scale)^shape): a Weibull with scale * k^(-1/shape).
  const double shape = 1.8;
  const double scale = 20.0;
  const double k = 3.0;
  const auto d = dwells_with_factor("{dist: weibull, shape: 1.8, scale: 20}", k, 1.0e8);
  const boost::math::weibull_distribution<> ref(shape, scale * std::pow(k, -1.0 / shape));
  EXPECT_GT(test::ks_pvalue(d, [&](double x) { return boost::math::cdf(ref, x); }), 1e-3);
  // ... and not the unmodified Weibull: the test can fail.
  const boost::math::weibull_distribution<> plain(shape, scale);
  EXPECT_LT(test::ks_pvalue(d, [&](double x) { return boost::math::cdf(plain, x); }), 1e-6);
}

TEST(HazardFactorTest, window_ends_and_hazard_returns_to_baseline) {
  // Exponential mean 10 with factor 4 during the first 3 days: piecewise cumulative hazard.
  const auto d = dwells_with_factor("{mean: 10}", 4.0, 3.0);
  auto cdf = [](double x) {
    const double h = x < 3.0 ? 4.0 * x / 10.0 : (4.0 * 3.0 + (x - 3.0)) / 10.0;
    return 1.0 - std::exp(-h);
  };
  EXPECT_GT(test::ks_pvalue(d, cdf), 1e-3);
}

TEST(HazardFactorTest, lognormal_and_gamma_follow_the_hazard_clock) {
  // With factor k from entry, S_k(d) = S(d)^k for any family.
  for (const std::string dwell :
       {"{dist: lognormal, mu: 2, sigma: 0.6}", "{dist: gamma, shape: 2, scale: 4}"}) {
    const auto d = dwells_with_factor(dwell, 2.0, 1.0e8, 10000);
    const Dwell ref = dwell.find("lognormal") != std::string::npos ? Dwell::lognormal(2, 0.6)
                                                                   : Dwell::gamma(2, 4);
    EXPECT_GT(test::ks_pvalue(
                  d, [&](double x) { return 1.0 - std::exp(-2.0 * ref.cumulative_hazard(x)); }),
              1e-3)
        << dwell;
  }
}

TEST(HazardFactorTest, coxian_follows_the_hazard_clock_with_factor_and_window) {
  // Factor 2 for the first 5 days of a 2-phase Coxian: H_k(d) = 2 H(min(d, 5)) + H(d) - H(min(d, 5)).
  const Dwell ref = Dwell::coxian({0.4, 0.08}, {0.35, 1.0});
  const auto d =
      dwells_with_factor("{dist: coxian, rates: [0.4, 0.08], exit: [0.35, 1]}", 2.0, 5.0, 20000);
  const auto h = [&](double x) {
    const double w = std::min(x, 5.0);
    return 2.0 * ref.cumulative_hazard(w) + ref.cumulative_hazard(x) - ref.cumulative_hazard(w);
  };
  EXPECT_GT(test::ks_pvalue(d, [&](double x) { return -std::expm1(-h(x)); }), 1e-3);
  // ... and not the unmodified Coxian, nor the factor for the whole stay: the test can fail.
  EXPECT_LT(test::ks_pvalue(d, [&](double x) { return ref.cdf(x); }), 1e-6);
  EXPECT_LT(
      test::ks_pvalue(d, [&](double x) { return -std::expm1(-2.0 * ref.cumulative_hazard(x)); }),
      1e-6);
  // Without a touchpoint the sampled mean is the exact mean.
  const auto plain =
      dwells_with_factor("{dist: coxian, rates: [0.4, 0.08], exit: [0.35, 1]}", 1.0, 5.0, 20000);
  const test::MeanSe m = test::mean_se(plain);
  EXPECT_NEAR(m.mean, ref.mean(), 4 * m.se);
}

const char* kWebinar = R"(
name: webinar
horizon: 400
report_every: 7
won: sql
stages:
  mql: {dwell: {mean: 30}, next: {lost: 1.0}}
  sql: {absorbing: true}
  other: {dwell: {mean: 5}, next: {lost: 1}}
  lost: {absorbing: true}
segments:
  icp: {share: 0.5}
  rest: {share: 0.5}
arrivals: {initial: [{stage: mql, count: 40000}, {stage: other, count: 100}]}
touchpoints:
  webinar:
    stages: [mql]
    schedule: {calendar: {every: 7, start: 7}}
    reach: REACH
    cost: 10
    effect: {move: {to: sql, probability: 0.2}}
)";

Model webinar_model(const std::string& reach, const std::string& extra = "") {
  std::string yaml = kWebinar;
  yaml.replace(yaml.find("REACH"), 5, reach);
  return test::model_from_yaml(yaml + extra);
}

TEST(TouchpointTest, reach_and_move_rates_match_their_probabilities) {
  const Model model = webinar_model("0.25");
  const ReplicationResult res = Engine(model).simulate(0);
  const TouchpointTally& t = res.touchpoints[0];
  ASSERT_GT(t.contacts, 10000);
  const double p_reach = t.reached / t.contacts;
  EXPECT_NEAR(p_reach, 0.25, 4 * std::sqrt(0.25 * 0.75 / t.contacts));
  EXPECT_NEAR(t.moves / t.reached, 0.2, 4 * std::sqrt(0.2 * 0.8 / t.reached));
  EXPECT_DOUBLE_EQ(t.cost, 10.0 * t.contacts);
  EXPECT_DOUBLE_EQ(res.metrics[kTouchpointCost], t.cost);
  EXPECT_EQ(res.metrics[kConversions], t.moves);  // the only way into sql
  // Nobody outside mql is contacted: contacts per mql customer-week, not more.
  EXPECT_LE(t.contacts, 40000.0 * 57);
}

TEST(TouchpointTest, next_override_applies_during_the_window) {
  const Model model = test::model_from_yaml(R"(
name: override
horizon: 1000
report_every: 100
won: b
stages:
  a: {dwell: {mean: 2}, next: {lost: 1}}
  b: {absorbing: true}
  lost: {absorbing: true}
arrivals: {initial: [{stage: a, count: 10000}]}
touchpoints:
  call:
    stages: [a]
    schedule: {after_entry: {days: [0]}}
    reach: 0.5
    effect: {window: 1.0e6, next: {b: 1.0}}
)");
  const ReplicationResult res = Engine(model).simulate(0);
  // Reached customers all go to b, the others to lost.
  EXPECT_EQ(static_cast<double>(res.transitions[1]), res.touchpoints[0].reached);
  EXPECT_EQ(res.transitions[1] + res.transitions[2], 10000);
  EXPECT_NEAR(res.touchpoints[0].reached / 10000.0, 0.5, 4 * std::sqrt(0.25 / 10000.0));
}

/// Customer -> its event sequence.
std::map<std::int64_t, std::vector<Event>> paths_of(const ReplicationResult& res) {
  std::map<std::int64_t, std::vector<Event>> out;
  for (const Event& e : res.events) out[e.customer].push_back(e);
  return out;
}

bool same_path(const std::vector<Event>& a, const std::vector<Event>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].time != b[i].time || a[i].from != b[i].from || a[i].to != b[i].to ||
        a[i].cause != b[i].cause)
      return false;
  }
  return true;
}

bool touched(const std::vector<Event>& path) {
  for (const Event& e : path) {
    if (e.cause >= kCauseTouchpoint) return true;
  }
  return false;
}

TEST(CommonRandomNumbersTest, customers_a_changed_touchpoint_never_moves_keep_their_paths) {
  SimulationControl control;
  control.events = true;
  const Model base_model = webinar_model("0.25");
  const Model variant_model = webinar_model("0.40");
  const auto base = paths_of(Engine(base_model).simulate(2, control));
  const auto variant = paths_of(Engine(variant_model).simulate(2, control));
  ASSERT_EQ(base.size(), variant.size());
  std::size_t untouched = 0;
  std::size_t changed = 0;
  for (const auto& [id, path] : base) {
    const auto& other = variant.at(id);
    if (!touched(path) && !touched(other)) {
      ++untouched;
      EXPECT_TRUE(same_path(path, other)) << "customer " << id;
    } else if (!same_path(path, other)) {
      ++changed;
    }
  }
  EXPECT_GT(untouched, 10000U);
  EXPECT_GT(changed, 100U);  // the variant does change something
}

TEST(CommonRandomNumbersTest,
     adding_a_touchpoint_for_one_segment_leaves_the_other_segment_unchanged) {
  SimulationControl control;
  control.events = true;
  const std::string extra = R"(
  nurture:
    stages: [mql]
    segments: [icp]
    schedule: {after_entry: {every: 3}}
    reach: 0.6
    effect: {window: 5, hazard_factor: 2.0}
)";
  const Model base_model = webinar_model("0.25");
  const Model variant_model = webinar_model("0.25", extra);
  const ReplicationResult base = Engine(base_model).simulate(1, control);
  const ReplicationResult variant = Engine(variant_model).simulate(1, control);
  // The segment of each customer, drawn the way the engine does: the first word of its path stream.
  const auto bp = paths_of(base);
  const auto vp = paths_of(variant);
  std::size_t rest = 0;
  std::size_t icp_changed = 0;
  for (const auto& [id, path] : bp) {
    const auto key = static_cast<std::uint64_t>(id);
    const auto segment =
        base_model.segment_choice.sample(Stream(base_model.seed, 1, key, Purpose::kPath)());
    if (segment == 1) {
      ++rest;
      EXPECT_TRUE(same_path(path, vp.at(id))) << "customer " << id << " of segment rest changed";
    } else if (!same_path(path, vp.at(id))) {
      ++icp_changed;
    }
  }
  EXPECT_GT(rest, 19000U);
  EXPECT_GT(icp_changed, 1000U);
  // Independent streams (another seed) make almost every path differ: the test has teeth.
  SimulationControl other = control;
  other.has_seed = true;
  other.seed_override = 99;
  const auto ip = paths_of(Engine(base_model).simulate(1, other));
  std::size_t same_independent = 0;
  for (const auto& [id, path] : bp) same_independent += same_path(path, ip.at(id)) ? 1U : 0U;
  // (a few coincide: moved by the webinar at the same calendar day in both)
  EXPECT_LT(same_independent, bp.size() / 100);
}

}  // namespace
}  // namespace lcsim

namespace lcsim {
namespace {

TEST(ContactLogTest, logs_every_landed_contact_with_its_stage) {
  const Model model = test::model_from_yaml(R"(
name: contacts
horizon: 60
report_every: 10
won: out
stages:
  a: {dwell: {mean: 10}, next: {b: 1}}
  b: {dwell: {mean: 10}, next: {out: 1}}
  out: {absorbing: true}
arrivals: {initial: [{stage: a, count: 500}]}
touchpoints:
  mail:
    stages: [b]
    schedule: {after_entry: {days: [1], every: 3}}
    reach: 0.4
)");
  SimulationControl control;
  control.contacts = true;
  control.events = true;
  const ReplicationResult res = Engine(model).simulate(0, control);
  ASSERT_GT(res.contacts.size(), 100U);
  EXPECT_EQ(static_cast<double>(res.contacts.size()), res.touchpoints[0].reached);
  std::map<std::int64_t, double> entered_b;
  for (const Event& e : res.events) {
    if (e.to == 1) entered_b[e.customer] = e.time;
  }
  for (const Contact& c : res.contacts) {
    EXPECT_EQ(c.stage, 1);
    EXPECT_EQ(c.touchpoint, 0);
    const double since = c.time - entered_b.at(c.customer);
    const double r = std::fmod(since, 3.0);  // day 1, then every 3 days from day 3, after entry
    EXPECT_TRUE(std::fabs(since - 1.0) < 1e-9 || r < 1e-9 || r > 3.0 - 1e-9) << since;
  }
  SimulationControl off;
  EXPECT_TRUE(Engine(model).simulate(0, off).contacts.empty());
}

}  // namespace
}  // namespace lcsim
