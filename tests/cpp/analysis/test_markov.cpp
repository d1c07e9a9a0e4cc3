// The closed form of the Markov part (analysis/markov.hpp) against a hand-solved chain, against the
// fundamental matrix of the test support, against central finite differences of itself (the
// analytic elasticities) and against the simulation engine within 4 standard errors.
#include "lcsim/analysis/markov.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "lcsim/core/error.hpp"
#include "lcsim/engine/engine.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "support/builders.hpp"
#include "support/stats.hpp"

namespace lcsim {
namespace {

std::size_t at(int i) { return static_cast<std::size_t>(i); }

StageId stage_of(const Model& model, const std::string& name) {
  for (int s = 0; s < model.num_stages(); ++s) {
    if (model.stage_names[at(s)] == name) return s;
  }
  ADD_FAILURE() << "no stage " << name;
  return -1;
}

// a -> b or lost; b -> won, back to a, or lost. Solved by hand below.
const char* kHand = R"(
name: hand
horizon: 1000
report_every: 100
won: won
stages:
  a: {dwell: {mean: 2}, next: {b: 0.6, lost: 0.4}}
  b: {dwell: {mean: 5}, next: {won: 0.5, a: 0.25, lost: 0.25}}
  won: {absorbing: true}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: a, count: 10}]
)";

TEST(MarkovAnalysisTest, hand_solved_three_stage_chain) {
  // h_b = 0.5 + 0.25 h_a, h_a = 0.6 h_b  =>  h_b = 10/17, h_a = 6/17.
  // g = E[T 1{convert}]: g_a = 0.6 g_b + 2 h_a, g_b = 0.25 g_a + 5 h_b  =>  g_a = 840/289.
  // N = (I - Q)^-1 = [[1, 0.6], [0.25, 1]] / 0.85: visits from a are 20/17 and 12/17.
  const Model model = test::model_from_yaml(kHand);
  const MarkovAnalysis r = analyze(model, 0, stage_of(model, "a"));
  EXPECT_NEAR(r.conversion_probability, 6.0 / 17.0, 1e-14);
  EXPECT_NEAR(r.time_to_convert, (840.0 / 289.0) / (6.0 / 17.0), 1e-12);
  EXPECT_NEAR(r.time_to_convert, 140.0 / 17.0, 1e-12);
  EXPECT_NEAR(r.time_to_absorption, 2.0 * 20.0 / 17.0 + 5.0 * 12.0 / 17.0, 1e-12);
  const std::vector<double> reach{1.0, 0.6, 6.0 / 17.0, 11.0 / 17.0};
  const std::vector<double> visits{20.0 / 17.0, 12.0 / 17.0, 6.0 / 17.0, 11.0 / 17.0};
  for (int s = 0; s < 4; ++s) {
    EXPECT_NEAR(r.reach_probability[at(s)], reach[at(s)], 1e-14) << model.stage_names[at(s)];
    EXPECT_NEAR(r.expected_visits[at(s)], visits[at(s)], 1e-14) << model.stage_names[at(s)];
  }
  EXPECT_NEAR(r.expected_days[0], 40.0 / 17.0, 1e-12);
  EXPECT_NEAR(r.expected_days[1], 60.0 / 17.0, 1e-12);
  EXPECT_TRUE(std::isnan(r.expected_days[2]));  // absorbing: no dwell
  ASSERT_EQ(r.starts.size(), 1U);
  EXPECT_EQ(r.starts[0].weight, 1.0);
  EXPECT_TRUE(std::isnan(r.customers));
  // From b: h_b = 10/17 and g_b = 1060/289.
  const MarkovAnalysis rb = analyze(model, 0, stage_of(model, "b"));
  EXPECT_NEAR(rb.conversion_probability, 10.0 / 17.0, 1e-14);
  EXPECT_NEAR(rb.time_to_convert, (1060.0 / 289.0) / (10.0 / 17.0), 1e-12);
  EXPECT_NEAR(rb.reach_probability[0], 0.25, 1e-15);  // a is entered only straight from b
  // Elasticity of P(convert) w.r.t. the dwell means is zero; w.r.t. p(b -> won), analytically:
  // dh_a/dp = N_ab (1 - h_b) / (1 - p) with the row rescaled, times p / h_a.
  // Likewise p(a -> b): N_aa (h_b - h_a) / (1 - 0.6) * 0.6 / h_a = 20/17, the largest.
  for (const Sensitivity& s : r.sensitivity) {
    if (s.kind == ParameterKind::kDwellMean) {
      EXPECT_EQ(s.elasticity_conversion, 0.0) << s.parameter;
    } else if (s.parameter == "stages.b.next.won") {
      EXPECT_NEAR(s.elasticity_conversion,
                  (12.0 / 17.0) * (1.0 - 10.0 / 17.0) / 0.5 * 0.5 / (6.0 / 17.0), 1e-12);
      EXPECT_EQ(s.rank, 2);
    } else if (s.parameter == "stages.a.next.b") {
      EXPECT_NEAR(s.elasticity_conversion, 20.0 / 17.0, 1e-12);
      EXPECT_EQ(s.rank, 1);
    }
  }
}

/// A random chain: n_transient stages t0.. with dense random next rows (self-loops and backward
/// moves included), won non-absorbing (it moves on to t0 or churned), lost and churned absorbing.
std::string random_chain_yaml(std::uint64_t seed, int n_transient) {
  std::mt19937_64 rng(seed);
  const auto uniform = [&rng] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  std::vector<std::string> targets;
  for (int i = 0; i < n_transient; ++i) {
    std::string name = "t";
    name += std::to_string(i);  // (not "t" + ...: GCC 12 warns falsely, -Wrestrict)
    targets.push_back(name);
  }
  targets.push_back("won");
  targets.push_back("lost");
  std::ostringstream y;
  y.precision(17);
  y << "name: random\nhorizon: 1000\nreport_every: 100\nwon: won\nstages:\n";
  for (int i = 0; i < n_transient; ++i) {
    std::vector<double> w;
    double sum = 0.0;
    for (std::size_t k = 0; k < targets.size(); ++k) {
      w.push_back(uniform() < 0.3 ? 0.0 : uniform() + 0.05);
      sum += w.back();
    }
    w.back() += 0.2;  // every stage can drop off
    sum += 0.2;
    y << "  t" << i << ": {dwell: {mean: " << 1.0 + 20.0 * uniform() << "}, next: {";
    double acc = 0.0;
    for (std::size_t k = 0; k < targets.size(); ++k) {
      const double p = k + 1 == targets.size() ? 1.0 - acc : w[k] / sum;
      acc += p;
      y << (k > 0 ? ", " : "") << targets[k] << ": " << p;
    }
    y << "}}\n";
  }
  y << "  won: {dwell: {mean: 30}, next: {t0: 0.3, churned: 0.7}}\n";
  y << "  lost: {absorbing: true}\n  churned: {absorbing: true}\n";
  y << "converted_stages: [won, churned]\n";
  y << "arrivals:\n  initial: [{stage: t0, count: 1}]\n";
  return y.str();
}

TEST(MarkovAnalysisTest, matches_fundamental_matrix_of_a_random_chain) {
  for (std::uint64_t seed : {1U, 2U, 3U}) {
    const Model model = test::model_from_yaml(random_chain_yaml(seed, 6));
    const int s = model.num_stages();
    Eigen::MatrixXd jump = Eigen::MatrixXd::Zero(s, s);
    Eigen::VectorXd mean = Eigen::VectorXd::Zero(s);
    std::vector<bool> absorbing(at(s));
    for (int i = 0; i < s; ++i) {
      absorbing[at(i)] = model.absorbing[at(i)] != 0;
      if (absorbing[at(i)]) continue;
      const StageRule& rule = model.rule(0, i);
      mean(i) = rule.dwell.mean();
      for (std::size_t k = 0; k < rule.next_stages.size(); ++k)
        jump(i, rule.next_stages[k]) = rule.next_probs[k];
    }
    // Full chain (won transient): visits and time to absorption.
    const test::AbsorbingChain full = test::solve_absorbing(jump, mean, absorbing);
    // Conversion chain (won absorbing): P(absorbed in won).
    std::vector<bool> conv_absorbing = absorbing;
    conv_absorbing[at(model.won)] = true;
    const test::AbsorbingChain conv = test::solve_absorbing(jump, mean, conv_absorbing);
    // Transient indices: t0..t5 are 0..5 and won is 6 in the full chain; t0..t5 in the conversion chain.
    // Absorbing columns of the conversion chain: won, lost, churned in stage order.
    for (int start = 0; start < 6; ++start) {
      const MarkovAnalysis r = analyze(model, 0, start);
      EXPECT_NEAR(r.conversion_probability, conv.absorption(start, 0), 1e-12) << "seed " << seed;
      EXPECT_NEAR(r.time_to_absorption, full.time_to_absorb(start),
                  1e-9 * full.time_to_absorb(start));
      for (int k = 0; k < 7; ++k) {
        EXPECT_NEAR(r.expected_visits[at(k)], full.visits(start, k), 1e-12);
        EXPECT_NEAR(r.expected_days[at(k)], full.visits(start, k) * mean(k), 1e-10);
        // P(enter k) = N(start, k) / N(k, k) for k != start.
        const double p = k == start ? 1.0 : full.visits(start, k) / full.visits(k, k);
        EXPECT_NEAR(r.reach_probability[at(k)], p, 1e-12) << "start " << start << " stage " << k;
      }
      EXPECT_NEAR(r.reach_probability[at(stage_of(model, "lost"))], full.absorption(start, 0),
                  1e-12);
      EXPECT_NEAR(r.reach_probability[at(stage_of(model, "churned"))], full.absorption(start, 1),
                  1e-12);
    }
    // won is converted: starting there never converts.
    const MarkovAnalysis w = analyze(model, 0, model.won);
    EXPECT_EQ(w.conversion_probability, 0.0);
    EXPECT_TRUE(std::isnan(w.time_to_convert));
  }
}

// Two segments, backward moves, a self-loop, a Weibull dwell and a stage after won.
const char* kSmall = R"(
name: small
horizon: 1.0e9
report_every: 1.0e8
won: won
stages:
  lead: {dwell: {mean: 3}, next: {mql: 0.5, lead: 0.1, lost: 0.4}}
  mql: {dwell: {dist: weibull, shape: 1.5, mean: 7}, next: {sql: 0.4, lead: 0.25, lost: 0.35}}
  sql: {dwell: {mean: 4}, next: {won: 0.45, mql: 0.3, lost: 0.25}}
  won: {dwell: {mean: 100}, next: {loyal: 0.5, churned: 0.5}}
  loyal: {dwell: {mean: 200}, next: {won: 0.2, churned: 0.8}}
  lost: {absorbing: true}
  churned: {absorbing: true}
segments:
  icp: {share: 0.3, stages: {sql: {next: {won: 0.6, mql: 0.2, lost: 0.2}}}}
  other: {share: 0.7}
arrivals:
  initial: [{stage: lead, count: 150000}, {stage: mql, count: 50000}]
)";

/// The model with one parameter moved by `delta` (next-probabilities: the rest of the row rescaled).
Model perturbed(const Model& model, const Sensitivity& s, double delta) {
  Model out = model;
  StageRule& rule = out.rules[at(s.segment * model.num_stages() + s.stage)];
  if (s.kind == ParameterKind::kNext) {
    double p = 0.0;
    for (std::size_t k = 0; k < rule.next_stages.size(); ++k) {
      if (rule.next_stages[k] == s.target) p = rule.next_probs[k];
    }
    for (std::size_t k = 0; k < rule.next_stages.size(); ++k) {
      if (rule.next_stages[k] == s.target) {
        rule.next_probs[k] = p + delta;
      } else {
        rule.next_probs[k] *= (1.0 - p - delta) / (1.0 - p);
      }
    }
  } else {
    const Dwell& d = rule.dwell;
    const double factor = (d.mean() + delta) / d.mean();
    rule.dwell = d.family() == DwellFamily::kWeibull ? Dwell::weibull(d.a(), d.b() * factor)
                                                     : Dwell::exponential(d.mean() + delta);
  }
  return out;
}

TEST(MarkovAnalysisTest, elasticities_match_central_finite_differences) {
  const Model model = test::model_from_yaml(kSmall);
  double max_rel = 0.0;
  int checked = 0;
  const auto check = [&](const std::vector<StartWeight>& mix) {
    const MarkovAnalysis base = analyze_mix(model, mix);
    ASSERT_FALSE(base.sensitivity.empty());
    for (const Sensitivity& s : base.sensitivity) {
      const double delta = 1e-5 * s.value;
      const MarkovAnalysis up = analyze_mix(perturbed(model, s, delta), mix);
      const MarkovAnalysis down = analyze_mix(perturbed(model, s, -delta), mix);
      const double fd_conv = (up.conversion_probability - down.conversion_probability) /
                             (2 * delta) * s.value / base.conversion_probability;
      const double fd_time = (up.time_to_convert - down.time_to_convert) / (2 * delta) * s.value /
                             base.time_to_convert;
      for (const auto& [analytic, fd] :
           {std::pair{s.elasticity_conversion, fd_conv}, std::pair{s.elasticity_time, fd_time}}) {
        const double err = std::fabs(analytic - fd);
        if (std::fabs(analytic) > 1e-6) {
          max_rel = std::max(max_rel, err / std::fabs(analytic));
          EXPECT_LT(err, 1e-6 * std::fabs(analytic))
              << s.parameter << " analytic " << analytic << " fd " << fd;
        } else {
          EXPECT_LT(err, 1e-9) << s.parameter << " analytic " << analytic << " fd " << fd;
        }
        ++checked;
      }
    }
  };
  check({StartWeight{0, 0, 1.0}});  // icp from lead
  check({StartWeight{1, 1, 1.0}});  // other from mql
  check(population_mix(model));     // both segments, two starts
  std::printf("[          ] %d elasticities checked, max relative error vs central FD: %.3g\n",
              checked, max_rel);
  EXPECT_GT(checked, 60);
}

TEST(MarkovAnalysisTest, agrees_with_simulation_within_four_standard_errors) {
  const Model model = test::model_from_yaml(kSmall);
  const MarkovAnalysis exact = analyze_population(model);
  EXPECT_EQ(exact.customers, 200000.0);
  SimulationControl control;
  control.events = true;
  const ReplicationResult res = Engine(model).simulate(0, control);
  const double n = res.metrics[kCustomers];
  ASSERT_EQ(n, 200000.0);
  const int s_count = model.num_stages();

  // P(convert): binomial standard error (each customer draws its segment by share).
  const double p = exact.conversion_probability;
  const double se_p = std::sqrt(p * (1 - p) / n);
  EXPECT_NEAR(res.metrics[kConversionRate], p, 4 * se_p);

  // Time to convert and visits per stage, per customer from the event log.
  std::map<std::int64_t, std::vector<double>> visits;
  std::map<std::int64_t, double> arrived;
  std::vector<double> to_convert;
  std::vector<double> to_absorb;
  std::map<std::int64_t, bool> converted;
  for (const Event& e : res.events) {
    auto& v = visits[e.customer];
    v.resize(at(s_count), 0.0);
    v[at(e.to)] += 1.0;
    if (e.from < 0) arrived[e.customer] = e.time;
    if (e.to == model.won && !converted[e.customer]) {
      converted[e.customer] = true;
      to_convert.push_back(e.time - arrived[e.customer]);
    }
    if (e.from >= 0 && model.absorbing[at(e.to)] != 0)
      to_absorb.push_back(e.time - arrived[e.customer]);
  }
  ASSERT_EQ(visits.size(), 200000U);
  ASSERT_EQ(to_absorb.size(), 200000U);  // the horizon is long enough for everyone to finish
  const test::MeanSe t = test::mean_se(to_convert);
  EXPECT_NEAR(t.mean, exact.time_to_convert, 4 * t.se);
  EXPECT_NEAR(res.metrics[kTimeToConvertMean], t.mean, 1e-9 * t.mean);
  const test::MeanSe a = test::mean_se(to_absorb);
  EXPECT_NEAR(a.mean, exact.time_to_absorption, 4 * a.se);
  std::printf(
      "[          ] P(convert) closed %.5f sim %.5f (%.2f SE); time to convert closed %.3f sim %.3f (%.2f SE);"
      " time to absorption closed %.2f sim %.2f (%.2f SE)\n",
      p, res.metrics[kConversionRate], (res.metrics[kConversionRate] - p) / se_p,
      exact.time_to_convert, t.mean, (t.mean - exact.time_to_convert) / t.se,
      exact.time_to_absorption, a.mean, (a.mean - exact.time_to_absorption) / a.se);
  for (int k = 0; k < s_count; ++k) {
    std::vector<double> per_customer;
    per_customer.reserve(visits.size());
    for (const auto& [id, v] : visits) per_customer.push_back(v[at(k)]);
    const test::MeanSe m = test::mean_se(per_customer);
    EXPECT_NEAR(m.mean, exact.expected_visits[at(k)], 4 * m.se + 1e-12) << model.stage_names[at(k)];
    const double reached = static_cast<double>(res.reached[at(k)]) / n;
    const double q = exact.reach_probability[at(k)];
    EXPECT_NEAR(reached, q, 4 * std::sqrt(q * (1 - q) / n) + 1e-12) << model.stage_names[at(k)];
    std::printf("[          ] %-8s visits closed %.4f sim %.4f (%+.2f SE)\n",
                model.stage_names[at(k)].c_str(), exact.expected_visits[at(k)], m.mean,
                m.se > 0 ? (m.mean - exact.expected_visits[at(k)]) / m.se : 0.0);
  }
}

TEST(MarkovAnalysisTest, population_summary_is_the_weighted_mix_of_its_starts) {
  const Model model = test::model_from_yaml(R"(
name: mix
horizon: 100
report_every: 10
won: won
stages:
  a: {dwell: {mean: 3}, next: {b: 0.5, lost: 0.5}}
  b: {dwell: {dist: gamma, shape: 2, mean: 6}, next: {won: 0.4, a: 0.2, lost: 0.4}}
  won: {dwell: {mean: 50}, next: {churned: 1.0}}
  lost: {absorbing: true}
  churned: {absorbing: true}
segments:
  x: {share: 0.25, stages: {b: {next: {won: 0.7, lost: 0.3}}}}
  y: {share: 0.75}
arrivals:
  initial: [{stage: a, count: 1000}, {stage: b, count: 200, segment: y}, {stage: won, count: 100, segment: x}]
  streams: [{stage: a, rate_per_day: 4}]
)");
  const std::vector<StartWeight> mix = population_mix(model);
  // (x, a): 0.25 (1000 + 400); (x, won): 100; (y, a): 0.75 (1000 + 400); (y, b): 200.
  ASSERT_EQ(mix.size(), 4U);
  EXPECT_EQ(mix[0].segment, 0);
  EXPECT_EQ(mix[0].start, 0);
  EXPECT_DOUBLE_EQ(mix[0].weight, 350.0);
  EXPECT_EQ(mix[1].start, 2);
  EXPECT_DOUBLE_EQ(mix[1].weight, 100.0);
  EXPECT_DOUBLE_EQ(mix[2].weight, 1050.0);
  EXPECT_EQ(mix[3].start, 1);
  EXPECT_DOUBLE_EQ(mix[3].weight, 200.0);

  const MarkovAnalysis pop = analyze_population(model);
  EXPECT_DOUBLE_EQ(pop.customers, 1700.0);
  double p = 0.0;
  double g = 0.0;
  double absorb = 0.0;
  std::vector<double> visits(5, 0.0);
  std::vector<double> reach(5, 0.0);
  for (const StartWeight& sw : mix) {
    const MarkovAnalysis one = analyze(model, sw.segment, sw.start);
    const double w = sw.weight / 1700.0;
    p += w * one.conversion_probability;
    if (one.conversion_probability > 0) g += w * one.conversion_probability * one.time_to_convert;
    absorb += w * one.time_to_absorption;
    for (int k = 0; k < 5; ++k) {
      visits[at(k)] += w * one.expected_visits[at(k)];
      reach[at(k)] += w * one.reach_probability[at(k)];
    }
  }
  EXPECT_NEAR(pop.conversion_probability, p, 1e-14);
  EXPECT_NEAR(pop.time_to_convert, g / p, 1e-12);
  EXPECT_NEAR(pop.time_to_absorption, absorb, 1e-10);
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR(pop.expected_visits[at(k)], visits[at(k)], 1e-14);
    EXPECT_NEAR(pop.reach_probability[at(k)], reach[at(k)], 1e-14);
  }
  // Starting in won (converted) never converts; the note says so.
  EXPECT_EQ(pop.starts[1].conversion_probability, 0.0);
  EXPECT_TRUE(std::isnan(pop.starts[1].time_to_convert));
  bool noted = false;
  for (const auto& note : pop.notes)
    noted = noted || note.find("converted stage (won)") != std::string::npos;
  EXPECT_TRUE(noted);

  // By names: segment only = that segment's arrivals; start only = segments by share.
  const MarkovAnalysis seg = analyze(model, "x", "");
  EXPECT_DOUBLE_EQ(seg.customers, 450.0);
  ASSERT_EQ(seg.starts.size(), 2U);
  const MarkovAnalysis start = analyze(model, "", "a");
  ASSERT_EQ(start.starts.size(), 2U);
  EXPECT_DOUBLE_EQ(start.starts[0].weight, 0.25);
  EXPECT_NEAR(start.conversion_probability,
              0.25 * analyze(model, 0, 0).conversion_probability +
                  0.75 * analyze(model, 1, 0).conversion_probability,
              1e-15);
  EXPECT_EQ(analyze(model, "y", "b").starts.size(), 1U);
  // Only parameters of segments in the mix are listed.
  for (const Sensitivity& s : analyze(model, 1, 0).sensitivity) EXPECT_EQ(s.segment, 1);
  EXPECT_EQ(analyze(model, 1, 0).sensitivity.front().parameter.rfind("segments.y.stages.", 0), 0U);
}

TEST(MarkovAnalysisTest, bad_names_and_ranges_are_input_errors) {
  const Model model = test::model_from_yaml(kHand);
  try {
    (void)analyze(model, "", "leed");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "start");
    EXPECT_NE(std::string(e.what()).find("leed"), std::string::npos);
    EXPECT_NE(e.problems().front().message.find("a, b, won, lost"), std::string::npos);
  }
  try {
    (void)analyze(model, "icp", "");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "segment");
  }
  EXPECT_THROW((void)analyze(model, 0, 9), InputError);
  EXPECT_THROW((void)analyze(model, 1, 0), InputError);
  EXPECT_THROW((void)analyze_mix(model, {}), InputError);
  EXPECT_THROW((void)analyze_mix(model, {StartWeight{0, 0, 0.0}}), InputError);
  EXPECT_THROW((void)analyze_mix(model, {StartWeight{0, 0, -1.0}}), InputError);
}

TEST(MarkovAnalysisTest, unreachable_won_gives_nan_and_cycles_without_exit_give_infinity) {
  const Model model = test::model_from_yaml(R"(
name: odd
horizon: 100
report_every: 10
won: won
stages:
  a: {dwell: {mean: 2}, next: {b: 0.5, c: 0.3, lost: 0.2}}
  b: {dwell: {mean: 3}, next: {won: 1.0}}
  c: {dwell: {mean: 4}, next: {d: 1.0}}
  d: {dwell: {mean: 5}, next: {c: 1.0}}
  e: {dwell: {mean: 1}, next: {lost: 1.0}}
  won: {absorbing: true}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: a, count: 10}, {stage: e, count: 10}]
)");
  const MarkovAnalysis from_a = analyze(model, 0, 0);
  EXPECT_NEAR(from_a.conversion_probability, 0.5, 1e-15);
  EXPECT_NEAR(from_a.time_to_convert, 5.0, 1e-12);
  EXPECT_NEAR(from_a.reach_probability[2], 0.3, 1e-15);
  EXPECT_TRUE(std::isinf(from_a.expected_visits[2]));  // c <-> d forever
  EXPECT_TRUE(std::isinf(from_a.expected_visits[3]));
  EXPECT_TRUE(std::isinf(from_a.time_to_absorption));
  EXPECT_NEAR(from_a.expected_visits[1], 0.5, 1e-15);
  bool noted = false;
  for (const auto& note : from_a.notes)
    noted = noted || note.find("no absorbing stage can be reached from c, d") != std::string::npos;
  EXPECT_TRUE(noted);
  for (const Sensitivity& s : from_a.sensitivity)
    EXPECT_TRUE(std::isfinite(s.elasticity_conversion)) << s.parameter;

  const MarkovAnalysis from_e = analyze(model, 0, 4);  // won cannot be reached: NaN, no throw
  EXPECT_EQ(from_e.conversion_probability, 0.0);
  EXPECT_TRUE(std::isnan(from_e.time_to_convert));
  EXPECT_NEAR(from_e.time_to_absorption, 1.0, 1e-15);
  for (const Sensitivity& s : from_e.sensitivity) {
    EXPECT_TRUE(std::isnan(s.elasticity_conversion));
    EXPECT_TRUE(std::isnan(s.elasticity_time));
  }
  // Rows with a single next entry of 1 have no next-probability elasticity.
  for (const Sensitivity& s : from_a.sensitivity)
    EXPECT_FALSE(s.kind == ParameterKind::kNext && s.value == 1.0);
}

TEST(MarkovAnalysisTest, bundled_baseline_analyses_and_its_ranking_is_sorted) {
  const std::string path =
      (std::filesystem::path(LCSIM_SOURCE_DIR) / "scenarios/b2b_saas/baseline.yaml").string();
  const Model model = compile(load_scenario(path));
  const MarkovAnalysis r = analyze_population(model);
  EXPECT_DOUBLE_EQ(r.customers, 2000.0 + 150.0 + 60.0 + 60.0 * 730.0);
  EXPECT_GT(r.conversion_probability, 0.0);
  EXPECT_LT(r.conversion_probability, 1.0);
  EXPECT_GT(r.time_to_convert, 0.0);
  EXPECT_TRUE(std::isfinite(r.time_to_absorption));
  ASSERT_FALSE(r.sensitivity.empty());
  for (std::size_t i = 0; i < r.sensitivity.size(); ++i) {
    EXPECT_EQ(r.sensitivity[i].rank, static_cast<int>(i) + 1);
    if (i > 0) {
      EXPECT_GE(std::fabs(r.sensitivity[i - 1].elasticity_conversion),
                std::fabs(r.sensitivity[i].elasticity_conversion));
    }
  }
  // The top entries move conversion; the notes name what is left out.
  EXPECT_GT(std::fabs(r.sensitivity.front().elasticity_conversion), 0.1);
  std::string notes;
  for (const auto& n : r.notes) notes += n + "\n";
  EXPECT_NE(notes.find("nurture_email, first_call"), std::string::npos);
  EXPECT_NE(notes.find("engaged (weibull)"), std::string::npos);
  EXPECT_NE(notes.find("infinite horizon"), std::string::npos);
  EXPECT_NE(notes.find("customer, loyal"), std::string::npos);  // the initial cohort of customers
  // Per (segment, start) and by name.
  EXPECT_NO_THROW((void)analyze(model, "icp", "sql"));
  EXPECT_GT(analyze(model, "icp", "sql").conversion_probability,
            analyze(model, "smb", "sql").conversion_probability);
}

TEST(MarkovAnalysisTest, without_touchpoints_keeps_the_stage_rules) {
  const std::string path =
      (std::filesystem::path(LCSIM_SOURCE_DIR) / "scenarios/b2b_saas/baseline.yaml").string();
  const Model model = compile(load_scenario(path));
  const Model bare = without_touchpoints(model);
  EXPECT_EQ(bare.num_touchpoints(), 0);
  EXPECT_TRUE(bare.touchpoint_names.empty());
  EXPECT_EQ(bare.tp_offsets.size(),
            static_cast<std::size_t>(model.num_segments() * model.num_stages() + 1));
  EXPECT_EQ(bare.rules.size(), model.rules.size());
  const ReplicationResult res = Engine(bare).simulate(0);
  EXPECT_TRUE(res.touchpoints.empty());
  EXPECT_GT(res.metrics[kConversions], 0.0);
  EXPECT_EQ(analyze_population(bare).conversion_probability,
            analyze_population(model).conversion_probability);
}

}  // namespace
}  // namespace lcsim
