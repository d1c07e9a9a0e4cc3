// The engine against closed forms of absorbing continuous-time Markov chains (exponential dwells).
#include <gtest/gtest.h>

#include <map>

#include "lcsim/engine/engine.hpp"
#include "support/builders.hpp"
#include "support/stats.hpp"

namespace lcsim {
namespace {

// Stages 0..4 transient with backward moves and skips; 5 lost, 6 won (both absorbing).
const char* kChain = R"(
name: chain
horizon: 1.0e9
report_every: 1.0e8
won: won
stages:
  a: {dwell: {mean: 3}, next: {b: 0.5, lost: 0.4, c: 0.1}}
  b: {dwell: {mean: 5}, next: {c: 0.45, a: 0.15, lost: 0.4}}
  c: {dwell: {mean: 7}, next: {d: 0.35, b: 0.2, lost: 0.45}}
  d: {dwell: {mean: 10}, next: {won: 0.3, c: 0.25, lost: 0.45}}
  e: {dwell: {mean: 2}, next: {a: 1.0}}
  lost: {absorbing: true}
  won: {absorbing: true}
arrivals:
  initial: [{stage: a, count: 200000}]
)";

TEST(MarkovTest, absorption_probabilities_and_times_match_fundamental_matrix) {
  const Model model = test::model_from_yaml(kChain);
  const int s = model.num_stages();
  Eigen::MatrixXd jump = Eigen::MatrixXd::Zero(s, s);
  Eigen::VectorXd mean(s);
  std::vector<bool> absorbing(static_cast<std::size_t>(s));
  for (int i = 0; i < s; ++i) {
    absorbing[static_cast<std::size_t>(i)] = model.absorbing[static_cast<std::size_t>(i)] != 0;
    if (absorbing[static_cast<std::size_t>(i)]) continue;
    const StageRule& r = model.rule(0, i);
    mean(i) = r.dwell.mean();
    for (std::size_t k = 0; k < r.next_stages.size(); ++k)
      jump(i, r.next_stages[k]) = r.next_probs[k];
  }
  const test::AbsorbingChain exact = test::solve_absorbing(jump, mean, absorbing);

  SimulationControl control;
  control.events = true;
  const ReplicationResult res = Engine(model).simulate(0, control);
  const double n = 200000.0;

  // Absorption probabilities from state a (transient row 0): lost is column 0, won column 1.
  const auto last = static_cast<std::size_t>((res.num_reports - 1) * s);
  for (int j = 0; j < 2; ++j) {
    const double p = exact.absorption(0, j);
    const double observed =
        static_cast<double>(res.occupancy[last + static_cast<std::size_t>(5 + j)]) / n;
    const double se = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(observed, p, 4 * se) << "absorbing column " << j;
  }
  // Expected visits to each transient stage: the fundamental matrix row of a.
  std::map<std::int64_t, std::vector<double>> visits;
  for (const Event& e : res.events) {
    auto& v = visits[e.customer];
    v.resize(static_cast<std::size_t>(s), 0.0);
    v[static_cast<std::size_t>(e.to)] += 1.0;
  }
  ASSERT_EQ(visits.size(), 200000U);
  for (int i = 0; i < 4; ++i) {
    std::vector<double> per_customer;
    per_customer.reserve(visits.size());
    for (const auto& [id, v] : visits) per_customer.push_back(v[static_cast<std::size_t>(i)]);
    const test::MeanSe m = test::mean_se(per_customer);
    EXPECT_NEAR(m.mean, exact.visits(0, i), 4 * m.se) << "stage " << i;
  }
  // Mean time to absorption from the event log.
  std::vector<double> times;
  times.reserve(200000);
  for (const Event& e : res.events) {
    if (e.from >= 0 && model.absorbing[static_cast<std::size_t>(e.to)] != 0)
      times.push_back(e.time);
  }
  ASSERT_EQ(times.size(), 200000U);
  const test::MeanSe t = test::mean_se(times);
  EXPECT_NEAR(t.mean, exact.time_to_absorb(0), 4 * t.se);
  // Stage e is unreachable: nobody ever enters it.
  for (int f = 0; f < s; ++f) EXPECT_EQ(res.transitions[static_cast<std::size_t>(f * s + 4)], 0);
}

TEST(MarkovTest, conversion_metrics_match_closed_form) {
  const Model model = test::model_from_yaml(kChain);
  const ReplicationResult res = Engine(model).simulate(3);
  const double n = 200000.0;
  EXPECT_EQ(res.metrics[kCustomers], n);
  EXPECT_EQ(res.metrics[kConversions],
            static_cast<double>(res.transitions[static_cast<std::size_t>(3 * 7 + 6)]));
  EXPECT_DOUBLE_EQ(res.metrics[kConversionRate], res.metrics[kConversions] / n);
  // Drop-off per stage = moves into lost.
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(res.metrics[static_cast<std::size_t>(kNumFixedMetrics + i)],
              static_cast<double>(res.transitions[static_cast<std::size_t>(i * 7 + 5)]));
  }
  double moves = 0;
  for (auto c : res.transitions) moves += static_cast<double>(c);
  EXPECT_EQ(res.metrics[kTransitions], moves);
}

TEST(MarkovTest, occupancy_conserves_customers_and_matches_event_log) {
  const Model model = test::model_from_yaml(R"(
name: occ
horizon: 60
report_every: 5
won: won
stages:
  a: {dwell: {mean: 4}, next: {b: 0.7, lost: 0.3}}
  b: {dwell: {dist: weibull, shape: 1.5, mean: 9}, next: {won: 0.5, a: 0.5}}
  lost: {absorbing: true}
  won: {absorbing: true}
arrivals:
  initial: [{stage: a, count: 5000}]
)");
  SimulationControl control;
  control.events = true;
  const ReplicationResult res = Engine(model).simulate(0, control);
  const int s = model.num_stages();
  ASSERT_EQ(res.num_reports, 13);
  // Rebuild the stage of every customer at every report time from the event log.
  std::map<std::int64_t, std::vector<std::pair<double, int>>> paths;
  for (const Event& e : res.events) paths[e.customer].emplace_back(e.time, e.to);
  for (int k = 0; k < res.num_reports; ++k) {
    const double t = model.report_times[static_cast<std::size_t>(k)];
    std::vector<std::int64_t> counts(static_cast<std::size_t>(s), 0);
    for (const auto& [id, path] : paths) {
      int stage = -1;
      for (const auto& [time, to] : path) {
        if (time <= t) stage = to;
      }
      if (stage >= 0) ++counts[static_cast<std::size_t>(stage)];
    }
    std::int64_t total = 0;
    for (int j = 0; j < s; ++j) {
      EXPECT_EQ(res.occupancy[static_cast<std::size_t>(k * s + j)],
                counts[static_cast<std::size_t>(j)])
          << "t=" << t << " stage " << j;
      total += res.occupancy[static_cast<std::size_t>(k * s + j)];
    }
    EXPECT_EQ(total, 5000);
  }
}

}  // namespace
}  // namespace lcsim
