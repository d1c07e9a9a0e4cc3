#include "lcsim/model/compile.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "lcsim/core/error.hpp"
#include "lcsim/core/types.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "support/builders.hpp"

namespace lcsim {
namespace {

// A valid scenario; line numbers are referred to by the tests below.
const std::string kBase =
    "name: t\n"                                  //  1
    "horizon: 100\n"                             //  2
    "report_every: 10\n"                         //  3
    "won: customer\n"                            //  4
    "stages:\n"                                  //  5
    "  lead:\n"                                  //  6
    "    dwell: {dist: exponential, mean: 7}\n"  //  7
    "    next: {customer: 0.5, lost: 0.5}\n"     //  8
    "  customer:\n"                              //  9
    "    dwell: {mean: 300}\n"                   // 10
    "    next: {lost: 1}\n"                      // 11
    "  lost: {absorbing: true}\n"                // 12
    "arrivals:\n"                                // 13
    "  initial:\n"                               // 14
    "    - {stage: lead, count: 100}\n";         // 15

/// Appended to kBase from line 16: two segments.
const std::string kSegments =
    "segments:\n"               // 16
    "  icp: {share: 0.4}\n"     // 17
    "  other: {share: 0.6}\n";  // 18

/// kBase with one fragment replaced (the test fails when the fragment is absent).
std::string edit(const std::string& from, const std::string& to, const std::string& base = kBase) {
  std::string text = base;
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "fragment not in the scenario: " << from;
  if (at != std::string::npos) text = text.substr(0, at) + to + text.substr(at + from.size());
  return text;
}

/// A touchpoint named t appended to kBase: lines 16 (touchpoints:), 17 (t:), 18 onwards `body`.
std::string with_touchpoint(const std::string& body, const std::string& base = kBase) {
  return base + "touchpoints:\n  t:\n" + body;
}

std::string dump(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += "  " + p.to_string() + "\n";
  return out;
}

/// The problems of the InputError compile() throws (a test failure when it does not throw).
std::vector<Problem> compile_problems(const std::string& yaml) {
  const Scenario scenario = parse_scenario(yaml, "m.yaml");
  try {
    (void)compile(scenario);
  } catch (const InputError& e) {
    EXPECT_FALSE(e.problems().empty());
    EXPECT_FALSE(e.problems().front().warning);
    return e.problems();
  }
  ADD_FAILURE() << "compile() did not throw InputError for:\n" << yaml;
  return {};
}

/// Expects an error with this field, line and message fragment.
void expect_problem(const std::vector<Problem>& problems, const std::string& field, int line,
                    const std::string& fragment) {
  for (const auto& p : problems) {
    if (p.field == field && p.line == line && p.message.find(fragment) != std::string::npos) {
      EXPECT_EQ(p.file, "m.yaml");
      EXPECT_FALSE(p.warning) << p.to_string();
      return;
    }
  }
  ADD_FAILURE() << "no problem " << field << " at line " << line << " containing '" << fragment
                << "' among:\n"
                << dump(problems);
}

Model compile_yaml(const std::string& yaml) { return compile(parse_scenario(yaml, "m.yaml")); }

// ---- names -------------------------------------------------------------------------------------

TEST(CompileTest, reports_unknown_next_target_with_suggestion) {
  const auto problems = compile_problems(edit("{customer: 0.5, lost", "{custmer: 0.5, lost"));
  expect_problem(problems, "stages.lead.next.custmer", 8,
                 "unknown stage 'custmer'; did you mean 'customer'?");
  EXPECT_NE(problems[0].to_string().find("m.yaml:8: stages.lead.next.custmer: unknown stage"),
            std::string::npos);
}

TEST(CompileTest, reports_unknown_won_stage) {
  expect_problem(compile_problems(edit("won: customer", "won: winner")), "won", 4,
                 "unknown stage 'winner'");
}

TEST(CompileTest, reports_unknown_touchpoint_stage) {
  const auto problems =
      compile_problems(with_touchpoint("    stages: [lead, prospect]\n"             // 18
                                       "    schedule: {calendar: {every: 7}}\n"));  // 19
  expect_problem(problems, "touchpoints.t.stages[1]", 18, "unknown stage 'prospect'");
}

TEST(CompileTest, reports_unknown_effect_targets) {
  const auto problems =
      compile_problems(with_touchpoint("    stages: [lead]\n"                           // 18
                                       "    schedule: {calendar: {every: 7}}\n"         // 19
                                       "    effect:\n"                                  // 20
                                       "      move: {to: nowhere, probability: 0.5}\n"  // 21
                                       "      window: 3\n"                              // 22
                                       "      next: {customer: 0.5, gone: 0.5}\n"));    // 23
  expect_problem(problems, "touchpoints.t.effect.move.to", 21, "unknown stage 'nowhere'");
  expect_problem(problems, "touchpoints.t.effect.next.gone", 23, "unknown stage 'gone'");
}

TEST(CompileTest, reports_unknown_arrival_stages) {
  const std::string yaml = edit("- {stage: lead, count: 100}", "- {stage: led, count: 100}") +
                           "  streams:\n"                              // 16
                           "    - {stage: leads, rate_per_day: 2}\n";  // 17
  const auto problems = compile_problems(yaml);
  expect_problem(problems, "arrivals.initial[0].stage", 15, "unknown stage 'led'");
  expect_problem(problems, "arrivals.streams[0].stage", 17,
                 "unknown stage 'leads'; did you mean 'lead'?");
}

TEST(CompileTest, reports_unknown_one_off_stages) {
  const auto problems = compile_problems(kBase +
                                         "money:\n"                                      // 16
                                         "  one_off:\n"                                  // 17
                                         "    - {from: lede, to: customer, value: 1}\n"  // 18
                                         "    - {to: client, value: 1}\n");              // 19
  expect_problem(problems, "money.one_off[0].from", 18, "unknown stage 'lede'");
  expect_problem(problems, "money.one_off[1].to", 19, "unknown stage 'client'");
}

TEST(CompileTest, reports_unknown_stage_in_segment_override) {
  const auto problems = compile_problems(kBase +
                                         "segments:\n"                       // 16
                                         "  icp:\n"                          // 17
                                         "    share: 1\n"                    // 18
                                         "    stages:\n"                     // 19
                                         "      sql: {next: {lost: 1}}\n");  // 20
  expect_problem(problems, "segments.icp.stages.sql", 20, "unknown stage 'sql'");
}

TEST(CompileTest, reports_unknown_segment_names) {
  const std::string yaml =
      edit("- {stage: lead, count: 100}", "- {stage: lead, count: 100, segment: icq}") +
      "  streams:\n"                                                                  // 16
      "    - {stage: lead, rate_per_day: 1, segment: smb}\n"                          // 17
      "segments:\n"                                                                   // 18
      "  icp: {share: 0.4}\n"                                                         // 19
      "  other: {share: 0.6}\n"                                                       // 20
      "touchpoints:\n"                                                                // 21
      "  t: {stages: [lead], segments: [othr], schedule: {calendar: {every: 7}}}\n";  // 22
  const auto problems = compile_problems(yaml);
  expect_problem(problems, "arrivals.initial[0].segment", 15,
                 "unknown segment 'icq'; did you mean 'icp'?");
  expect_problem(problems, "arrivals.streams[0].segment", 17, "unknown segment 'smb'");
  expect_problem(problems, "touchpoints.t.segments[0]", 22, "unknown segment 'othr'");
}

TEST(CompileTest, reports_segment_name_when_none_are_declared) {
  const auto problems = compile_problems(
      edit("- {stage: lead, count: 100}", "- {stage: lead, count: 100, segment: icp}"));
  expect_problem(problems, "arrivals.initial[0].segment", 15, "declares no segments");
}

// ---- probabilities -----------------------------------------------------------------------------

TEST(CompileTest, reports_probability_outside_unit_interval) {
  const auto problems =
      compile_problems(edit("{customer: 0.5, lost: 0.5}", "{customer: 1.5, lost: -0.5}"));
  expect_problem(problems, "stages.lead.next.customer", 8,
                 "expected a probability in [0, 1], got 1.5");
  expect_problem(problems, "stages.lead.next.lost", 8, "got -0.5");
}

TEST(CompileTest, reports_nan_probability) {
  const auto problems =
      compile_problems(edit("{customer: 0.5, lost: 0.5}", "{customer: .nan, lost: 0.5}"));
  expect_problem(problems, "stages.lead.next.customer", 8, "got nan");
}

TEST(CompileTest, reports_next_not_summing_to_one_without_renormalising) {
  const auto problems =
      compile_problems(edit("{customer: 0.5, lost: 0.5}", "{customer: 0.5, lost: 0.4}"));
  ASSERT_EQ(problems.size(), 1U) << dump(problems);
  expect_problem(problems, "stages.lead.next", 8, "must sum to 1 (tolerance 1e-9), got sum 0.9");
}

TEST(CompileTest, accepts_next_sum_within_tolerance_only) {
  EXPECT_NO_THROW((void)compile_yaml(edit("lost: 0.5}", "lost: 0.5000000005}")));
  const auto problems =
      compile_problems(edit("{customer: 0.5, lost: 0.5}", "{customer: 0.5, lost: 0.500000002}"));
  expect_problem(problems, "stages.lead.next", 8, "got sum 1.000000002");
}

TEST(CompileTest, reports_empty_next) {
  expect_problem(compile_problems(edit("next: {lost: 1}", "next: {}")), "stages.customer.next", 11,
                 "got sum 0");
}

TEST(CompileTest, reports_effect_next_not_summing_to_one) {
  const auto problems =
      compile_problems(with_touchpoint("    stages: [lead]\n"                         // 18
                                       "    schedule: {calendar: {every: 7}}\n"       // 19
                                       "    effect:\n"                                // 20
                                       "      window: 3\n"                            // 21
                                       "      next: {customer: 0.7, lost: 0.7}\n"));  // 22
  expect_problem(problems, "touchpoints.t.effect.next", 22, "got sum 1.4");
}

TEST(CompileTest, reports_reach_and_move_probability_outside_unit_interval) {
  const auto problems =
      compile_problems(with_touchpoint("    stages: [lead]\n"                    // 18
                                       "    schedule: {calendar: {every: 7}}\n"  // 19
                                       "    reach: 1.25\n"                       // 20
                                       "    effect:\n"                           // 21
                                       "      move:\n"                           // 22
                                       "        to: customer\n"                  // 23
                                       "        probability: -0.1\n"));          // 24
  expect_problem(problems, "touchpoints.t.reach", 20, "got 1.25");
  expect_problem(problems, "touchpoints.t.effect.move.probability", 24, "got -0.1");
}

// ---- numbers -----------------------------------------------------------------------------------

TEST(CompileTest, reports_negative_money_and_rates) {
  const std::string yaml =
      edit("- {stage: lead, count: 100}", "- {stage: lead, count: -5}",
           edit("    next: {lost: 1}\n", "    next: {lost: 1}\n    revenue_per_month: -1\n")) +
      "  streams:\n"                                                          // 17
      "    - {stage: lead, rate_per_day: -2}\n"                               // 18
      "    - {stage: lead, rate_per_day: .inf}\n"                             // 19
      "money:\n"                                                              // 20
      "  discount_rate: -0.1\n"                                               // 21
      "  one_off:\n"                                                          // 22
      "    - {to: customer, value: .inf}\n"                                   // 23
      "touchpoints:\n"                                                        // 24
      "  t: {stages: [lead], schedule: {calendar: {every: 7}}, cost: -3}\n";  // 25
  const auto problems = compile_problems(yaml);
  expect_problem(problems, "stages.customer.revenue_per_month", 12,
                 "expected a finite number >= 0");
  expect_problem(problems, "arrivals.initial[0].count", 16, "expected a count >= 0, got -5");
  expect_problem(problems, "arrivals.streams[0].rate_per_day", 18, "got -2");
  expect_problem(problems, "arrivals.streams[1].rate_per_day", 19, "got inf");
  expect_problem(problems, "money.discount_rate", 21, "got -0.1");
  expect_problem(problems, "money.one_off[0].value", 23, "expected a finite number, got inf");
  expect_problem(problems, "touchpoints.t.cost", 25, "got -3");
}

TEST(CompileTest, accepts_negative_one_off_value) {
  const Model m = compile_yaml(kBase + "money: {one_off: [{to: customer, value: -5}]}\n");
  EXPECT_EQ(m.one_off[0 * 3 + 1], -5.0);
}

TEST(CompileTest, reports_infinite_discount_rate) {
  expect_problem(compile_problems(kBase + "money: {discount_rate: .inf}\n"), "money.discount_rate",
                 16, "got inf");
}

TEST(CompileTest, reports_bad_hazard_factor_and_window) {
  const auto problems =
      compile_problems(with_touchpoint("    stages: [lead]\n"                    // 18
                                       "    schedule: {calendar: {every: 7}}\n"  // 19
                                       "    effect:\n"                           // 20
                                       "      window: -1\n"                      // 21
                                       "      hazard_factor: 0\n"));             // 22
  expect_problem(problems, "touchpoints.t.effect.window", 21, "got -1");
  expect_problem(problems, "touchpoints.t.effect.hazard_factor", 22,
                 "expected a finite number > 0, got 0");
  const auto nan =
      compile_problems(with_touchpoint("    stages: [lead]\n"
                                       "    schedule: {calendar: {every: 7}}\n"
                                       "    effect: {window: 2, hazard_factor: .nan}\n"));
  expect_problem(nan, "touchpoints.t.effect.hazard_factor", 20, "got nan");
}

TEST(CompileTest, reports_zero_window_with_hazard_factor_or_next) {
  const auto hazard =
      compile_problems(with_touchpoint("    stages: [lead]\n"                    // 18
                                       "    schedule: {calendar: {every: 7}}\n"  // 19
                                       "    effect: {hazard_factor: 2}\n"));     // 20
  expect_problem(hazard, "touchpoints.t.effect.window", 20,
                 "window must be > 0 when hazard_factor or next is given");
  const auto next =
      compile_problems(with_touchpoint("    stages: [lead]\n"                    // 18
                                       "    schedule: {calendar: {every: 7}}\n"  // 19
                                       "    effect:\n"                           // 20
                                       "      window: 0\n"                       // 21
                                       "      next: {lost: 1}\n"));              // 22
  expect_problem(next, "touchpoints.t.effect.window", 21, "window must be > 0");
}

TEST(CompileTest, reports_horizon_report_every_and_replications) {
  std::string yaml = edit("horizon: 100", "horizon: 0");
  yaml = edit("report_every: 10", "report_every: -1", yaml) + "replications: 0\n";
  const auto problems = compile_problems(yaml);
  expect_problem(problems, "horizon", 2, "expected a finite number > 0, got 0");
  expect_problem(problems, "report_every", 3, "got -1");
  expect_problem(problems, "replications", 16, "expected an integer >= 1, got 0");
}

TEST(CompileTest, reports_report_every_too_small_for_horizon) {
  expect_problem(compile_problems(edit("report_every: 10", "report_every: 1e-9")), "report_every",
                 3, "too small");
}

// Scenarios that would exhaust memory or run for ever are refused by compile(), before the model's
// report times or any replication is allocated (found while hardening, docs/hardening.md).
TEST(CompileTest, refuses_a_report_every_millionth_of_a_day_before_allocating) {
  // 1e7 reports (within the 1e7 reports) of 3 stages: 3e7 occupancy cells per replication.
  const auto cells = compile_problems(
      edit("horizon: 100", "horizon: 10", edit("report_every: 10", "report_every: 1e-6")));
  expect_problem(cells, "report_every", 3,
                 "10000001 reports of 3 stages need more than 2e7 occupancy cells");
  // Over the 1e7 reports.
  expect_problem(compile_problems(edit("report_every: 10", "report_every: 1e-6")), "report_every",
                 3, "reports (at most 1e7)");
  // At the limit of cells it compiles: 6e6 reports of 3 stages.
  EXPECT_NO_THROW((void)compile(
      parse_scenario(edit("report_every: 10", "report_every: 1.6666666666666667e-5"), "m.yaml")));
}

TEST(CompileTest, refuses_more_initial_customers_than_max_customers) {
  expect_problem(
      compile_problems(edit("count: 100", "count: 1e12")), "arrivals.initial[0].count", 15,
      "the initial cohorts hold 1000000000000 customers up to here, more than max_customers (100000000)");
  expect_problem(compile_problems(kBase + "max_customers: 99\n"), "arrivals.initial[0].count", 15,
                 "hold 100 customers up to here, more than max_customers (99)");
  // Two cohorts that pass it only together: the second is named.
  const std::string two = kBase + "    - {stage: customer, count: 9223372036854775807}\n";
  expect_problem(compile_problems(two), "arrivals.initial[1].count", 16,
                 "hold 9223372036854775807 customers up to here");
  EXPECT_NO_THROW((void)compile(parse_scenario(kBase + "max_customers: 100\n", "m.yaml")));
}

TEST(CompileTest, refuses_max_customers_above_1e10) {
  expect_problem(
      compile_problems(kBase + "max_customers: 1e12\n"), "max_customers", 16,
      "expected an integer of at most 1e10 (customers per replication), got 1000000000000");
  EXPECT_NO_THROW((void)compile(parse_scenario(kBase + "max_customers: 1e10\n", "m.yaml")));
}

TEST(CompileTest, refuses_streams_of_1e12_customers) {
  const std::string streams = edit("  initial:\n    - {stage: lead, count: 100}\n",
                                   "  streams:\n    - {stage: lead, rate_per_day: 1e10}\n");
  expect_problem(
      compile_problems(streams), "arrivals.streams", 13,
      "the streams bring 1e+12 customers per replication on average over the horizon of 100 days, "
      "more than the 1e10");
  EXPECT_NO_THROW((void)compile(
      parse_scenario(edit("rate_per_day: 1e10", "rate_per_day: 1e8", streams), "m.yaml")));
}

TEST(CompileTest, reports_segment_shares) {
  const auto bad_share = compile_problems(edit("share: 0.4", "share: 1.4", kBase + kSegments));
  expect_problem(bad_share, "segments.icp.share", 17, "got 1.4");
  const auto sum = compile_problems(edit("share: 0.6", "share: 0.5", kBase + kSegments));
  ASSERT_EQ(sum.size(), 1U) << dump(sum);
  expect_problem(sum, "segments", 16, "shares must sum to 1 (tolerance 1e-9), got sum 0.9");
}

// ---- stage structure ---------------------------------------------------------------------------

TEST(CompileTest, reports_absorbing_stage_with_outgoing_moves) {
  const auto problems = compile_problems(edit("  lost: {absorbing: true}\n",
                                              "  lost: {absorbing: true, next: {lead: 1}}\n"  // 12
                                              "  gone:\n"                                     // 13
                                              "    absorbing: true\n"                         // 14
                                              "    dwell: {mean: 3}\n"));                     // 15
  expect_problem(problems, "stages.lost.next", 12, "absorbing stage cannot have outgoing moves");
  expect_problem(problems, "stages.gone.dwell", 15, "absorbing stage cannot have outgoing moves");
}

TEST(CompileTest, reports_segment_override_of_absorbing_stage) {
  const auto problems = compile_problems(kBase +
                                         "segments:\n"                        // 16
                                         "  icp:\n"                           // 17
                                         "    share: 1\n"                     // 18
                                         "    stages:\n"                      // 19
                                         "      lost: {next: {lead: 1}}\n");  // 20
  expect_problem(problems, "segments.icp.stages.lost.next", 20,
                 "absorbing stage cannot have outgoing moves");
}

TEST(CompileTest, reports_non_absorbing_stage_without_dwell_or_next) {
  const auto no_dwell = compile_problems(edit("    dwell: {mean: 300}\n", ""));
  expect_problem(no_dwell, "stages.customer.dwell", 9, "needs a dwell");
  const auto no_next = compile_problems(edit("    next: {lost: 1}\n", ""));
  expect_problem(no_next, "stages.customer.next", 9, "needs next-probabilities");
}

TEST(CompileTest, reports_touchpoint_targeting_absorbing_stage) {
  const auto problems =
      compile_problems(with_touchpoint("    stages: [lead, lost]\n"                 // 18
                                       "    schedule: {calendar: {every: 7}}\n"));  // 19
  expect_problem(problems, "touchpoints.t.stages[1]", 18, "cannot target absorbing stage 'lost'");
}

TEST(CompileTest, reports_no_arrivals) {
  const auto problems =
      compile_problems(edit("- {stage: lead, count: 100}", "- {stage: lead, count: 0}") +
                       "  streams: [{stage: lead, rate_per_day: 0}]\n");
  ASSERT_EQ(problems.size(), 1U) << dump(problems);
  expect_problem(problems, "arrivals", 13, "no customer arrives");
}

TEST(CompileTest, reports_weekly_profile_problems) {
  const auto problems = compile_problems(
      kBase +
      "  streams:\n"                                                                     // 16
      "    - {stage: lead, rate_per_day: 1, weekly_profile: [1, 1]}\n"                   // 17
      "    - {stage: lead, rate_per_day: 1, weekly_profile: [1, 1, 1, 1, 1, 1, -1]}\n"   // 18
      "    - {stage: lead, rate_per_day: 1, weekly_profile: [0, 0, 0, 0, 0, 0, 0]}\n");  // 19
  expect_problem(problems, "arrivals.streams[0].weekly_profile", 17,
                 "expected 7 weights (Monday first), got 2");
  expect_problem(problems, "arrivals.streams[1].weekly_profile[6]", 18, "got -1");
  expect_problem(problems, "arrivals.streams[2].weekly_profile", 19, "positive sum");
}

// ---- dwell -------------------------------------------------------------------------------------

TEST(CompileTest, reports_dwell_with_wrong_parametrisation) {
  const auto both = compile_problems(
      edit("{dist: exponential, mean: 7}", "{dist: weibull, shape: 2, scale: 3, mean: 4}"));
  expect_problem(both, "stages.lead.dwell", 7,
                 "weibull needs shape with one of scale, mean, median; got mean, scale, shape");
  const auto none = compile_problems(edit("{dist: exponential, mean: 7}", "{dist: exponential}"));
  expect_problem(none, "stages.lead.dwell", 7, "exponential needs mean, rate or median; got no");
  const auto foreign =
      compile_problems(edit("{dist: exponential, mean: 7}", "{dist: gamma, sd: 2, shape: 2}"));
  expect_problem(foreign, "stages.lead.dwell", 7, "gamma needs");
  const auto fixed =
      compile_problems(edit("{dist: exponential, mean: 7}", "{dist: fixed, mean: 2}"));
  expect_problem(fixed, "stages.lead.dwell", 7, "fixed needs days");
}

TEST(CompileTest, reports_dwell_parameters_out_of_domain) {
  const std::string yaml =
      "name: t\n"                                                             // 1
      "horizon: 100\n"                                                        // 2
      "report_every: 10\n"                                                    // 3
      "won: a\n"                                                              // 4
      "stages:\n"                                                             // 5
      "  a: {dwell: {mean: 0}, next: {b: 1}}\n"                               // 6
      "  b: {dwell: {dist: weibull, shape: -1, scale: 2}, next: {c: 1}}\n"    // 7
      "  c: {dwell: {dist: lognormal, mu: -3, sigma: .inf}, next: {d: 1}}\n"  // 8
      "  d: {dwell: {dist: gamma, mean: .nan, sd: 1}, next: {e: 1}}\n"        // 9
      "  e: {dwell: {dist: fixed, days: -1}, next: {f: 1}}\n"                 // 10
      "  f: {dwell: {dist: exponential, rate: 0}, next: {z: 1}}\n"            // 11
      "  z: {absorbing: true}\n"                                              // 12
      "arrivals: {initial: [{stage: a, count: 1}]}\n";                        // 13
  const auto problems = compile_problems(yaml);
  expect_problem(problems, "stages.a.dwell.mean", 6, "expected a finite number > 0, got 0");
  expect_problem(problems, "stages.b.dwell.shape", 7, "got -1");
  expect_problem(problems, "stages.c.dwell.sigma", 8, "got inf");
  expect_problem(problems, "stages.d.dwell.mean", 9, "got nan");
  expect_problem(problems, "stages.e.dwell.days", 10, "expected a finite number >= 0, got -1");
  expect_problem(problems, "stages.f.dwell.rate", 11, "got 0");
  for (const auto& p : problems) EXPECT_NE(p.field, "stages.c.dwell.mu") << p.to_string();
  EXPECT_EQ(problems.size(), 6U) << dump(problems);
}

TEST(CompileTest, accepts_zero_fixed_days_and_negative_mu) {
  const Model m =
      compile_yaml(edit("{dist: exponential, mean: 7}", "{dist: fixed, days: 0}",
                        edit("dwell: {mean: 300}", "dwell: {dist: lognormal, mu: -2, sigma: 1}")));
  EXPECT_EQ(m.rule(0, 0).dwell.family(), DwellFamily::kFixed);
  EXPECT_EQ(m.rule(0, 0).dwell.a(), 0.0);
  EXPECT_EQ(m.rule(0, 1).dwell.a(), -2.0);
}

TEST(CompileTest, reports_converted_dwell_parameters_out_of_domain) {
  // tgamma(1 + 1/shape) overflows: the scale would be 0.
  const auto problems = compile_problems(
      edit("{dist: exponential, mean: 7}", "{dist: weibull, shape: 0.001, mean: 5}"));
  expect_problem(problems, "stages.lead.dwell", 7, "no valid weibull distribution");
}

TEST(CompileTest, reports_unknown_dist_with_suggestion) {
  const auto problems =
      compile_problems(edit("{dist: exponential, mean: 7}", "{dist: exponental, mean: 7}"));
  expect_problem(problems, "stages.lead.dwell.dist", 7,
                 "unknown dist 'exponental' (expected one of: exponential, weibull, lognormal, "
                 "gamma, fixed, empirical, coxian); did you mean 'exponential'?");
}

TEST(CompileTest, reports_empirical_values_problems) {
  const auto one =
      compile_problems(edit("{dist: exponential, mean: 7}", "{dist: empirical, values: [3]}"));
  expect_problem(one, "stages.lead.dwell.values", 7, "expected at least 2 values, got 1");
  const auto negative = compile_problems(
      edit("{dist: exponential, mean: 7}", "{dist: empirical, values: [3, -1, .nan]}"));
  expect_problem(negative, "stages.lead.dwell.values[1]", 7, "got -1");
  expect_problem(negative, "stages.lead.dwell.values[2]", 7, "got nan");
  const auto with_mean = compile_problems(
      edit("{dist: exponential, mean: 7}", "{dist: empirical, values: [1, 2], mean: 3}"));
  expect_problem(with_mean, "stages.lead.dwell", 7, "empirical needs values");
  const auto stray =
      compile_problems(edit("{dist: exponential, mean: 7}", "{mean: 7, values: [1, 2]}"));
  expect_problem(stray, "stages.lead.dwell.values", 7, "only allowed with dist: empirical");
}

TEST(CompileTest, compiles_coxian_dwells_and_reports_their_problems) {
  const Model m = compile_yaml(
      edit("{dist: exponential, mean: 7}", "{dist: coxian, rates: [0.5, 0.1], exit: [0.4, 1]}"));
  const Dwell& d = m.rule(0, 0).dwell;
  ASSERT_EQ(d.family(), DwellFamily::kCoxian);
  EXPECT_EQ(d.a(), 2.0);
  EXPECT_NEAR(d.mean(), 2.0 + 0.6 * 10.0, 1e-12);
  EXPECT_TRUE(d.has_tables());
  const auto coxian = [](const std::string& dwell) {
    return compile_problems(edit("{dist: exponential, mean: 7}", dwell));
  };
  expect_problem(coxian("{dist: coxian, rates: [], exit: []}"), "stages.lead.dwell.rates", 7,
                 "expected 1 to 4 rates (one per phase), got 0");
  expect_problem(coxian("{dist: coxian, rates: [1, 1, 1, 1, 1], exit: [0, 0, 0, 0, 1]}"),
                 "stages.lead.dwell.rates", 7, "got 5");
  expect_problem(coxian("{dist: coxian, rates: [1, -2], exit: [0.5, 1]}"),
                 "stages.lead.dwell.rates[1]", 7, "got -2");
  expect_problem(coxian("{dist: coxian, rates: [1, 2], exit: [1]}"), "stages.lead.dwell.exit", 7,
                 "expected one exit probability per rate (2), got 1");
  expect_problem(coxian("{dist: coxian, rates: [1, 2], exit: [1.5, 1]}"),
                 "stages.lead.dwell.exit[0]", 7, "expected a probability in [0, 1], got 1.5");
  expect_problem(coxian("{dist: coxian, rates: [1, 2], exit: [0.5, 0.9]}"),
                 "stages.lead.dwell.exit[1]", 7,
                 "expected 1 (the last phase always ends the dwell), got 0.9");
  expect_problem(coxian("{dist: coxian, rates: [1, 2], exit: [0.5, 1], mean: 3}"),
                 "stages.lead.dwell", 7, "coxian needs rates and exit");
  expect_problem(coxian("{mean: 7, rates: [1]}"), "stages.lead.dwell.rates", 7,
                 "only allowed with dist: coxian");
}

TEST(CompileTest, checks_dwell_in_segment_override) {
  const auto problems = compile_problems(kBase +
                                         "segments:\n"                                         // 16
                                         "  icp:\n"                                            // 17
                                         "    share: 1\n"                                      // 18
                                         "    stages:\n"                                       // 19
                                         "      lead:\n"                                       // 20
                                         "        dwell: {dist: gamma, shape: 0, scale: 1}\n"  // 21
                                         "        next: {lead: 0.5}\n"                         // 22
                                         "        revenue_per_month: -4\n");                   // 23
  expect_problem(problems, "segments.icp.stages.lead.dwell.shape", 21, "got 0");
  expect_problem(problems, "segments.icp.stages.lead.next", 22, "got sum 0.5");
  expect_problem(problems, "segments.icp.stages.lead.revenue_per_month", 23, "got -4");
}

// ---- schedules ---------------------------------------------------------------------------------

TEST(CompileTest, reports_schedule_without_contacts) {
  const auto problems =
      compile_problems(with_touchpoint("    stages: [lead]\n"   // 18
                                       "    schedule: {}\n"));  // 19
  expect_problem(problems, "touchpoints.t.schedule", 19,
                 "needs after_entry and/or calendar contacts");
}

TEST(CompileTest, reports_schedule_every_and_days_out_of_domain) {
  const auto problems =
      compile_problems(with_touchpoint("    stages: [lead]\n"                            // 18
                                       "    schedule:\n"                                 // 19
                                       "      after_entry: {days: [1, -2], every: 0}\n"  // 20
                                       "      calendar:\n"                               // 21
                                       "        every: -7\n"                             // 22
                                       "        start: -1\n"));                          // 23
  expect_problem(problems, "touchpoints.t.schedule.after_entry.days[1]", 20, "got -2");
  expect_problem(problems, "touchpoints.t.schedule.after_entry.every", 20,
                 "expected a finite number > 0, got 0");
  expect_problem(problems, "touchpoints.t.schedule.calendar.every", 22, "got -7");
  expect_problem(problems, "touchpoints.t.schedule.calendar.start", 23, "got -1");
}

TEST(CompileTest, reports_schedule_start_without_every) {
  const auto problems =
      compile_problems(with_touchpoint("    stages: [lead]\n"                                  // 18
                                       "    schedule: {calendar: {days: [3], start: 4}}\n"));  // 19
  expect_problem(problems, "touchpoints.t.schedule.calendar.start", 19, "start needs every");
}

TEST(CompileTest, reports_touchpoint_without_stages) {
  const auto problems =
      compile_problems(with_touchpoint("    stages: []\n"                           // 18
                                       "    schedule: {calendar: {every: 7}}\n"));  // 19
  expect_problem(problems, "touchpoints.t.stages", 18, "at least one target stage");
}

// ---- several problems, warnings, robustness ----------------------------------------------------

TEST(CompileTest, reports_several_problems_at_once_errors_first) {
  std::string yaml = edit("won: customer", "won: nobody");
  yaml = edit("{customer: 0.5, lost: 0.5}", "{customer: 0.5, lost: 0.2}", yaml);
  yaml = edit("  lost: {absorbing: true}\n",
              "  lost: {absorbing: true}\n  orphan: {absorbing: true}\n", yaml);
  const Scenario scenario = parse_scenario(yaml, "m.yaml");
  const std::vector<Problem> checked = check(scenario);
  try {
    (void)compile(scenario);
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    const auto& problems = e.problems();
    ASSERT_EQ(problems.size(), 3U) << dump(problems);
    EXPECT_EQ(checked.size(), 3U);
    expect_problem(problems, "won", 4, "unknown stage 'nobody'");
    expect_problem(problems, "stages.lead.next", 8, "got sum 0.7");
    EXPECT_FALSE(problems[0].warning);
    EXPECT_FALSE(problems[1].warning);
    EXPECT_TRUE(problems[2].warning);
    EXPECT_EQ(problems[2].field, "stages.orphan");
    EXPECT_EQ(problems[2].line, 13);
  }
}

TEST(CompileTest, warns_about_unreachable_stage_without_throwing) {
  const std::string yaml = edit("  lost: {absorbing: true}\n",
                                "  lost: {absorbing: true}\n"  // 12
                                "  island:\n"                  // 13
                                "    dwell: {mean: 1}\n"       // 14
                                "    next: {lost: 1}\n");      // 15
  const Scenario scenario = parse_scenario(yaml, "m.yaml");
  const auto problems = check(scenario);
  ASSERT_EQ(problems.size(), 1U) << dump(problems);
  EXPECT_TRUE(problems[0].warning);
  EXPECT_EQ(problems[0].field, "stages.island");
  EXPECT_EQ(problems[0].line, 13);
  EXPECT_NE(problems[0].to_string().find("warning: stages.island"), std::string::npos);
  Model m;
  EXPECT_NO_THROW(m = compile(scenario));
  EXPECT_EQ(m.num_stages(), 4);
}

TEST(CompileTest, reachability_follows_positive_next_and_touchpoint_effects) {
  // lead -> customer with probability 0 only: customer is reached only through touchpoints.
  std::string yaml = edit("{customer: 0.5, lost: 0.5}", "{customer: 0, lost: 1}");
  auto problems = check(parse_scenario(yaml));
  ASSERT_EQ(problems.size(), 1U) << dump(problems);
  EXPECT_EQ(problems[0].field, "stages.customer");
  const std::string move = with_touchpoint(
      "    stages: [lead]\n"
      "    schedule: {calendar: {every: 7}}\n"
      "    effect: {move: {to: customer, probability: 0.1}}\n",
      yaml);
  EXPECT_TRUE(check(parse_scenario(move)).empty()) << dump(check(parse_scenario(move)));
  const std::string next = with_touchpoint(
      "    stages: [lead]\n"
      "    schedule: {calendar: {every: 7}}\n"
      "    effect: {window: 1, next: {customer: 1}}\n",
      yaml);
  EXPECT_TRUE(check(parse_scenario(next)).empty());
  const std::string override_next =
      yaml + "segments: {icp: {share: 1, stages: {lead: {next: {customer: 1}}}}}\n";
  EXPECT_TRUE(check(parse_scenario(override_next)).empty());
}

TEST(CompileTest, reports_duplicate_names_of_scenarios_built_in_code) {
  Scenario s = parse_scenario(kBase + kSegments, "m.yaml");
  s.stages.push_back(s.stages[0]);
  s.segments.push_back(s.segments[1]);
  const auto problems = check(s);
  expect_problem(problems, "stages.lead", 6, "duplicate stage name");
  expect_problem(problems, "segments.other", 18, "duplicate segment name");
}

TEST(CompileTest, check_never_throws_on_a_default_scenario) {
  std::vector<Problem> problems;
  EXPECT_NO_THROW(problems = check(Scenario{}));
  EXPECT_FALSE(problems.empty());
  EXPECT_THROW((void)compile(Scenario{}), InputError);
}

// ---- building the model ------------------------------------------------------------------------

TEST(CompileTest, compiles_base_scenario_with_dense_ids_and_all_segment) {
  const Model m = compile_yaml(kBase + "seed: 7\nreplications: 3\ndescription: d\n");
  EXPECT_EQ(m.name, "t");
  EXPECT_EQ(m.stage_names, (std::vector<std::string>{"lead", "customer", "lost"}));
  EXPECT_EQ(m.absorbing, (std::vector<std::uint8_t>{0, 0, 1}));
  EXPECT_EQ(m.won, 1);
  EXPECT_EQ(m.segment_names, (std::vector<std::string>{"all"}));
  EXPECT_EQ(m.segment_share, (std::vector<double>{1.0}));
  EXPECT_EQ(m.segment_choice.size(), 1U);
  ASSERT_EQ(m.rules.size(), 3U);
  EXPECT_EQ(m.rule(0, 0).next_stages, (std::vector<StageId>{1, 2}));
  EXPECT_EQ(m.rule(0, 0).next_probs, (std::vector<double>{0.5, 0.5}));
  EXPECT_EQ(m.rule(0, 0).next.size(), 2U);
  EXPECT_EQ(m.rule(0, 1).next.size(), 1U);
  EXPECT_TRUE(m.rule(0, 2).next.empty());
  EXPECT_TRUE(m.rule(0, 2).next_stages.empty());
  EXPECT_EQ(m.rule(0, 1).dwell.a(), 300.0);
  ASSERT_EQ(m.initial.size(), 1U);
  EXPECT_EQ(m.initial[0].stage, 0);
  EXPECT_EQ(m.initial[0].segment, -1);
  EXPECT_EQ(m.initial[0].count, 100);
  EXPECT_TRUE(m.arrivals.empty());
  EXPECT_EQ(m.discount_per_day, 0.0);
  EXPECT_EQ(m.one_off, std::vector<double>(9, 0.0));
  EXPECT_TRUE(m.touchpoints.empty());
  EXPECT_EQ(m.tp_offsets, std::vector<std::uint32_t>(4, 0));
  EXPECT_TRUE(m.touchpoints_for.empty());
  EXPECT_EQ(m.horizon, 100.0);
  EXPECT_EQ(m.report_every, 10.0);
  EXPECT_EQ(m.seed, 7U);
  EXPECT_EQ(m.replications, 3);
  EXPECT_EQ(m.scenario_file, "m.yaml");
  EXPECT_EQ(m.scenario_text, kBase + "seed: 7\nreplications: 3\ndescription: d\n");
}

TEST(CompileTest, keeps_only_positive_next_entries_in_written_order) {
  const Model m =
      compile_yaml(edit("{customer: 0.5, lost: 0.5}", "{lost: 0.25, lead: 0, customer: 0.75}"));
  EXPECT_EQ(m.rule(0, 0).next_stages, (std::vector<StageId>{2, 1}));
  EXPECT_EQ(m.rule(0, 0).next_probs, (std::vector<double>{0.25, 0.75}));
  EXPECT_EQ(m.rule(0, 0).next.size(), 2U);
}

TEST(CompileTest, applies_segment_override_only_in_its_segment) {
  const std::string yaml = kBase +
                           "segments:\n"
                           "  icp:\n"
                           "    share: 0.25\n"
                           "    stages:\n"
                           "      lead:\n"
                           "        dwell: {mean: 2}\n"
                           "        next: {customer: 0.9, lost: 0.1}\n"
                           "      customer: {revenue_per_month: 30.4375}\n"
                           "  other: {share: 0.75}\n"
                           "  tiny:\n"
                           "    share: 0\n"
                           "    stages: {lead: {next: {lost: 1}}}\n";
  const Model m = compile_yaml(yaml);
  EXPECT_EQ(m.segment_names, (std::vector<std::string>{"icp", "other", "tiny"}));
  EXPECT_EQ(m.segment_share, (std::vector<double>{0.25, 0.75, 0.0}));
  EXPECT_EQ(m.segment_choice.size(), 3U);
  ASSERT_EQ(m.rules.size(), 9U);
  // icp
  EXPECT_EQ(m.rule(0, 0).dwell.a(), 2.0);
  EXPECT_EQ(m.rule(0, 0).next_probs, (std::vector<double>{0.9, 0.1}));
  EXPECT_DOUBLE_EQ(m.rule(0, 1).revenue_per_day, 1.0);
  EXPECT_EQ(m.rule(0, 1).dwell.a(), 300.0);  // only revenue overridden
  // other: the stage defaults
  EXPECT_EQ(m.rule(1, 0).dwell.a(), 7.0);
  EXPECT_EQ(m.rule(1, 0).next_probs, (std::vector<double>{0.5, 0.5}));
  EXPECT_EQ(m.rule(1, 1).revenue_per_day, 0.0);
  // tiny
  EXPECT_EQ(m.rule(2, 0).dwell.a(), 7.0);
  EXPECT_EQ(m.rule(2, 0).next_stages, (std::vector<StageId>{2}));
}

TEST(CompileTest, converts_revenue_per_month_to_per_day) {
  const Model m = compile_yaml(
      edit("    next: {lost: 1}\n", "    next: {lost: 1}\n    revenue_per_month: 100\n"));
  EXPECT_DOUBLE_EQ(m.rule(0, 1).revenue_per_day, 100.0 / kDaysPerMonth);
  EXPECT_EQ(m.rule(0, 0).revenue_per_day, 0.0);
}

/// A chain of stages s0 -> s1 -> ... -> end, one per dwell spec.
std::string dwell_chain(const std::vector<std::string>& dwells) {
  std::ostringstream yaml;
  yaml << "name: d\nhorizon: 10\nreport_every: 1\nwon: end\nstages:\n";
  for (std::size_t i = 0; i < dwells.size(); ++i) {
    yaml << "  s" << i << ": {dwell: " << dwells[i] << ", next: {";
    if (i + 1 < dwells.size()) {
      yaml << "s" << i + 1;
    } else {
      yaml << "end";
    }
    yaml << ": 1}}\n";
  }
  yaml << "  end: {absorbing: true}\narrivals: {initial: [{stage: s0, count: 1}]}\n";
  return yaml.str();
}

void expect_close(double actual, double expected) {
  EXPECT_NEAR(actual, expected, 1e-9 * std::max(1.0, std::fabs(expected)));
}

TEST(CompileTest, converts_dwell_parametrisations) {
  const Model m = compile_yaml(dwell_chain({
      "{mean: 5}",                                  // 0
      "{dist: exponential, rate: 0.25}",            // 1
      "{dist: exponential, median: 3}",             // 2
      "{dist: weibull, shape: 2, scale: 10}",       // 3
      "{dist: weibull, shape: 1.5, mean: 10}",      // 4
      "{dist: weibull, shape: 0.7, median: 8}",     // 5
      "{dist: lognormal, sigma: 0.5, mu: 1}",       // 6
      "{dist: lognormal, sigma: 0.5, median: 20}",  // 7
      "{dist: lognormal, sigma: 0.8, mean: 20}",    // 8
      "{dist: lognormal, mean: 20, sd: 5}",         // 9
      "{dist: gamma, shape: 2, scale: 3}",          // 10
      "{dist: gamma, shape: 4, mean: 12}",          // 11
      "{dist: gamma, mean: 12, sd: 6}",             // 12
      "{dist: fixed, days: 7}",                     // 13
      "{dist: empirical, values: [3, 1, 2]}",       // 14
  }));
  const auto dwell = [&](int s) -> const Dwell& { return m.rule(0, s).dwell; };
  EXPECT_EQ(dwell(0).family(), DwellFamily::kExponential);
  EXPECT_EQ(dwell(0).a(), 5.0);
  EXPECT_EQ(dwell(1).a(), 4.0);
  expect_close(dwell(2).a(), 3.0 / std::log(2.0));
  expect_close(dwell(2).median(), 3.0);

  EXPECT_EQ(dwell(3).family(), DwellFamily::kWeibull);
  EXPECT_EQ(dwell(3).a(), 2.0);
  EXPECT_EQ(dwell(3).b(), 10.0);
  EXPECT_EQ(dwell(4).a(), 1.5);
  expect_close(dwell(4).b(), 10.0 / std::tgamma(1.0 + 1.0 / 1.5));
  expect_close(dwell(4).mean(), 10.0);
  expect_close(dwell(5).b(), 8.0 / std::pow(std::log(2.0), 1.0 / 0.7));
  expect_close(dwell(5).median(), 8.0);

  EXPECT_EQ(dwell(6).family(), DwellFamily::kLognormal);
  EXPECT_EQ(dwell(6).a(), 1.0);
  EXPECT_EQ(dwell(6).b(), 0.5);
  expect_close(dwell(7).a(), std::log(20.0));
  expect_close(dwell(7).median(), 20.0);
  expect_close(dwell(8).a(), std::log(20.0) - 0.32);
  expect_close(dwell(8).mean(), 20.0);
  expect_close(dwell(9).b(), std::sqrt(std::log(1.0 + 25.0 / 400.0)));
  expect_close(dwell(9).mean(), 20.0);

  EXPECT_EQ(dwell(10).family(), DwellFamily::kGamma);
  EXPECT_EQ(dwell(10).a(), 2.0);
  EXPECT_EQ(dwell(10).b(), 3.0);
  EXPECT_EQ(dwell(11).a(), 4.0);
  EXPECT_EQ(dwell(11).b(), 3.0);
  expect_close(dwell(11).mean(), 12.0);
  expect_close(dwell(12).a(), 4.0);
  expect_close(dwell(12).b(), 3.0);
  expect_close(dwell(12).mean(), 12.0);

  EXPECT_EQ(dwell(13).family(), DwellFamily::kFixed);
  EXPECT_EQ(dwell(13).a(), 7.0);
  EXPECT_EQ(dwell(14).family(), DwellFamily::kEmpirical);
  EXPECT_EQ(dwell(14).values(), (std::vector<double>{1, 2, 3}));
}

TEST(CompileTest, builds_arrivals_with_weekday_rates) {
  const std::string arrivals =
      "    - {stage: customer, count: 5, segment: other}\n"
      "  streams:\n"
      "    - stage: lead\n"
      "      rate_per_day: 10\n"
      "      weekly_profile: [2, 2, 2, 2, 2, 0, 4]\n"
      "    - {stage: customer, rate_per_day: 3, segment: icp}\n";
  const Model m = compile_yaml(kBase + arrivals + kSegments + "money: {discount_rate: 0.08}\n");
  ASSERT_EQ(m.initial.size(), 2U);
  EXPECT_EQ(m.initial[1].stage, 1);
  EXPECT_EQ(m.initial[1].segment, 1);
  EXPECT_EQ(m.initial[1].count, 5);
  ASSERT_EQ(m.arrivals.size(), 2U);
  EXPECT_EQ(m.arrivals[0].stage, 0);
  EXPECT_EQ(m.arrivals[0].segment, -1);
  EXPECT_EQ(m.arrivals[0].rate_per_day, 10.0);
  EXPECT_EQ(m.arrivals[0].weekday_rate, (std::vector<double>{10, 10, 10, 10, 10, 0, 20}));
  EXPECT_EQ(m.arrivals[0].max_rate, 20.0);
  EXPECT_EQ(m.arrivals[1].segment, 0);
  EXPECT_EQ(m.arrivals[1].weekday_rate, std::vector<double>(7, 3.0));
  EXPECT_EQ(m.arrivals[1].max_rate, 3.0);
  EXPECT_EQ(m.discount_per_day, std::log1p(0.08) / kDaysPerYear);
}

TEST(CompileTest, builds_one_off_matrix) {
  const Model m = compile_yaml(kBase +
                               "money:\n"
                               "  one_off:\n"
                               "    - {to: customer, value: 2000}\n"
                               "    - {from: lead, to: customer, value: -500}\n"
                               "    - {from: customer, to: lost, value: 7}\n"
                               "    - {from: customer, to: lost, value: 3}\n");
  const auto at = [&](int from, int to) {
    return m.one_off[static_cast<std::size_t>(from * 3 + to)];
  };
  EXPECT_EQ(at(0, 1), 1500.0);
  EXPECT_EQ(at(1, 1), 2000.0);
  EXPECT_EQ(at(2, 1), 2000.0);
  EXPECT_EQ(at(1, 2), 10.0);
  EXPECT_EQ(at(0, 2), 0.0);
  EXPECT_EQ(at(0, 0), 0.0);
}

TEST(CompileTest, builds_touchpoints_and_csr_lists) {
  const std::string yaml = kBase + kSegments +
                           "touchpoints:\n"
                           "  a:\n"
                           "    stages: [lead]\n"
                           "    segments: [icp]\n"
                           "    schedule:\n"
                           "      after_entry: {days: [3, 1], every: 14}\n"
                           "      calendar: {every: 7}\n"
                           "    reach: 0.5\n"
                           "    cost: 2.5\n"
                           "    effect:\n"
                           "      move: {to: customer, probability: 0.2}\n"
                           "      window: 14\n"
                           "      hazard_factor: 1.5\n"
                           "      next: {customer: 0.5, lead: 0, lost: 0.5}\n"
                           "  foobar:\n"
                           "    stages: [lead, customer]\n"
                           "    schedule:\n"
                           "      calendar: {days: [9, 2]}\n"
                           "      after_entry: {every: 5, start: 1}\n"
                           "  \"\":\n"
                           "    stages: [customer]\n"
                           "    segments: [other]\n"
                           "    schedule: {calendar: {every: 30, start: 4}}\n";
  const Model m = compile_yaml(yaml);
  ASSERT_EQ(m.num_touchpoints(), 3);
  EXPECT_EQ(m.touchpoint_names, (std::vector<std::string>{"a", "foobar", ""}));
  const Touchpoint& a = m.touchpoints[0];
  EXPECT_EQ(a.stream_key, 0xe40c292cU);  // FNV-1a 32 test vectors
  EXPECT_EQ(m.touchpoints[1].stream_key, 0xbf9cf968U);
  EXPECT_EQ(m.touchpoints[2].stream_key, 0x811c9dc5U);
  EXPECT_EQ(a.targets_stage, (std::vector<std::uint8_t>{1, 0, 0}));
  EXPECT_EQ(a.targets_segment, (std::vector<std::uint8_t>{1, 0}));
  EXPECT_EQ(a.schedule.after_entry_days, (std::vector<double>{1, 3}));
  EXPECT_EQ(a.schedule.after_entry_every, 14.0);
  EXPECT_EQ(a.schedule.after_entry_start, 14.0);  // defaults to every
  EXPECT_TRUE(a.schedule.calendar_days.empty());
  EXPECT_EQ(a.schedule.calendar_every, 7.0);
  EXPECT_EQ(a.schedule.calendar_start, 0.0);
  EXPECT_EQ(a.reach, 0.5);
  EXPECT_EQ(a.cost, 2.5);
  EXPECT_EQ(a.move_to, 1);
  EXPECT_EQ(a.move_probability, 0.2);
  EXPECT_EQ(a.window, 14.0);
  EXPECT_EQ(a.hazard_factor, 1.5);
  EXPECT_TRUE(a.has_next_override);
  EXPECT_EQ(a.next_override_stages, (std::vector<StageId>{1, 2}));
  EXPECT_EQ(a.next_override.size(), 2U);

  const Touchpoint& f = m.touchpoints[1];
  EXPECT_EQ(f.targets_stage, (std::vector<std::uint8_t>{1, 1, 0}));
  EXPECT_EQ(f.targets_segment, (std::vector<std::uint8_t>{1, 1}));
  EXPECT_EQ(f.schedule.calendar_days, (std::vector<double>{2, 9}));
  EXPECT_EQ(f.schedule.calendar_every, 0.0);
  EXPECT_EQ(f.schedule.after_entry_every, 5.0);
  EXPECT_EQ(f.schedule.after_entry_start, 1.0);
  EXPECT_EQ(f.move_to, -1);
  EXPECT_EQ(f.move_probability, 0.0);
  EXPECT_EQ(f.window, 0.0);
  EXPECT_EQ(f.hazard_factor, 1.0);
  EXPECT_FALSE(f.has_next_override);
  EXPECT_TRUE(f.next_override.empty());
  EXPECT_EQ(m.touchpoints[2].schedule.calendar_start, 4.0);

  // CSR over (segment, stage): icp = 0, other = 1; lead = 0, customer = 1, lost = 2.
  EXPECT_EQ(m.tp_offsets, (std::vector<std::uint32_t>{0, 2, 3, 3, 4, 6, 6}));
  EXPECT_EQ(m.touchpoints_for, (std::vector<TouchpointId>{0, 1, 1, 1, 1, 2}));
}

TEST(CompileTest, builds_report_times) {
  // Every report_every days from 0, and the horizon itself as the last report.
  const Model a = compile_yaml(edit("report_every: 10", "report_every: 30"));
  EXPECT_EQ(a.report_times, (std::vector<double>{0, 30, 60, 90, 100}));
  const Model b = compile_yaml(edit("report_every: 10", "report_every: 25"));
  EXPECT_EQ(b.report_times, (std::vector<double>{0, 25, 50, 75, 100}));
  const Model c = compile_yaml(
      edit("report_every: 10", "report_every: 0.1", edit("horizon: 100", "horizon: 0.3")));
  ASSERT_EQ(c.report_times.size(), 4U);  // 3 * 0.1 is a hair above 0.3: not a second 0.3
  EXPECT_EQ(c.report_times.back(), 0.3);
  const Model d = compile_yaml(edit("report_every: 10", "report_every: 200"));
  EXPECT_EQ(d.report_times, (std::vector<double>{0, 100}));
}

TEST(CompileTest, converted_stages_default_to_won_and_what_it_reaches) {
  // customer -> lost: lost is reachable from won, lead is not.
  const Model m = compile_yaml(kBase);
  EXPECT_EQ(m.converted, (std::vector<std::uint8_t>{0, 1, 1}));
  const Model given =
      compile_yaml(edit("won: customer\n", "won: customer\nconverted_stages: [customer]\n"));
  EXPECT_EQ(given.converted, (std::vector<std::uint8_t>{0, 1, 0}));
}

TEST(CompileTest, reports_converted_stages_problems) {
  const auto unknown = compile_problems(
      edit("won: customer\n", "won: customer\nconverted_stages: [customer, custmer]\n"));
  ASSERT_FALSE(unknown.empty());
  EXPECT_EQ(unknown[0].field, "converted_stages[1]");
  EXPECT_EQ(unknown[0].line, 5);
  EXPECT_NE(unknown[0].message.find("unknown stage 'custmer'"), std::string::npos);
  const auto without_won =
      compile_problems(edit("won: customer\n", "won: customer\nconverted_stages: [lost]\n"));
  ASSERT_FALSE(without_won.empty());
  EXPECT_EQ(without_won[0].field, "converted_stages");
  EXPECT_NE(without_won[0].message.find("must include the won stage"), std::string::npos);
}

TEST(CompileTest, compiles_the_sample_scenarios) {
  const std::filesystem::path root = std::filesystem::path(LCSIM_SOURCE_DIR) / "scenarios";
  std::vector<std::filesystem::path> files;
  if (std::filesystem::exists(root)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      if (entry.is_regular_file() && entry.path().extension() == ".yaml") {
        files.push_back(entry.path());
      }
    }
  }
  if (files.empty()) GTEST_SKIP() << "no scenario files under " << root;
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    try {
      const Scenario scenario = load_scenario(file.string());
      for (const auto& p : check(scenario)) {
        EXPECT_TRUE(p.warning) << p.to_string();
      }
      const Model m = compile(scenario);
      EXPECT_GT(m.num_stages(), 0);
      EXPECT_NO_THROW((void)compile(parse_scenario(to_yaml(scenario))));  // writes back too
    } catch (const InputError& e) {
      ADD_FAILURE() << e.what();
    }
  }
}

// ---- resources and referrals -------------------------------------------------------------------

// A valid scenario with a sales team serving sql and referrals; line numbers are referred to below.
const std::string kTeam =
    "name: t\n"                                                                         //  1
    "horizon: 21\n"                                                                     //  2
    "report_every: 7\n"                                                                 //  3
    "won: customer\n"                                                                   //  4
    "stages:\n"                                                                         //  5
    "  lead:\n"                                                                         //  6
    "    dwell: {dist: exponential, mean: 7}\n"                                         //  7
    "    next: {sql: 0.5, lost: 0.5}\n"                                                 //  8
    "  sql:\n"                                                                          //  9
    "    next: {customer: 0.4, lead: 0.2, lost: 0.4}\n"                                 // 10
    "  customer:\n"                                                                     // 11
    "    dwell: {mean: 300}\n"                                                          // 12
    "    next: {advocate: 0.5, lost: 0.5}\n"                                            // 13
    "  advocate:\n"                                                                     // 14
    "    dwell: {mean: 100}\n"                                                          // 15
    "    next: {lost: 1}\n"                                                             // 16
    "  lost: {absorbing: true}\n"                                                       // 17
    "segments:\n"                                                                       // 18
    "  icp: {share: 0.4}\n"                                                             // 19
    "  smb: {share: 0.6}\n"                                                             // 20
    "arrivals:\n"                                                                       // 21
    "  initial:\n"                                                                      // 22
    "    - {stage: lead, count: 100}\n"                                                 // 23
    "resources:\n"                                                                      // 24
    "  sales:\n"                                                                        // 25
    "    servers: 4\n"                                                                  // 26
    "    changes: [{day: 7, servers: 6}, {day: 14, servers: 2}]\n"                      // 27
    "    serves: [sql]\n"                                                               // 28
    "    handoff: {dist: fixed, days: 0.5}\n"                                           // 29
    "    service: {dist: exponential, mean: 0.25}\n"                                    // 30
    "    discipline: priority\n"                                                        // 31
    "    priority: [smb, icp]\n"                                                        // 32
    "    patience: {dist: exponential, mean: 3}\n"                                      // 33
    "    abandon_to: lead\n"                                                            // 34
    "    outcome:\n"                                                                    // 35
    "      next: {customer: 0.5, lead: 0.2, lost: 0.3}\n"                               // 36
    "      decay: {stage: customer, half_life: 2, to: lost}\n"                          // 37
    "    cost_per_server_day: 400\n"                                                    // 38
    "referrals:\n"                                                                      // 39
    "  word_of_mouth: {from: advocate, rate_per_day: 0.005, to: lead, segment: icp}\n"  // 40
    "  buzz: {from: customer, rate_per_day: 0.001, to: lead}\n"                         // 41
    "  more: {from: advocate, rate_per_day: 0.002, to: lead}\n";                        // 42

/// kTeam with one fragment replaced.
std::string team(const std::string& from, const std::string& to) { return edit(from, to, kTeam); }

/// kTeam with a second team appended at line 43 ("  support:") onwards... placed under resources:
/// the referrals move after it, so it is inserted before line 39.
std::string team_with(const std::string& resource) {
  return team("referrals:\n", resource + "referrals:\n");
}

/// Expects a warning with this field, line and message fragment among check()'s problems.
void expect_warning(const std::string& yaml, const std::string& field, int line,
                    const std::string& fragment) {
  const auto problems = check(parse_scenario(yaml, "m.yaml"));
  for (const auto& p : problems) {
    if (p.field == field && p.line == line && p.message.find(fragment) != std::string::npos) {
      EXPECT_TRUE(p.warning) << p.to_string();
      return;
    }
  }
  ADD_FAILURE() << "no warning " << field << " at line " << line << " containing '" << fragment
                << "' among:\n"
                << dump(problems);
}

/// No errors (warnings allowed).
void expect_valid(const std::string& yaml) {
  for (const auto& p : check(parse_scenario(yaml, "m.yaml"))) {
    EXPECT_TRUE(p.warning) << p.to_string();
  }
}

std::uint32_t fnv1a_32(const std::string& text) {
  std::uint32_t hash = 2166136261U;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619U;
  }
  return hash;
}

TEST(CompileTeamTest, compiles_a_team_and_referrals) {
  // The only remark: sql's own next is not used, the team's outcome replaces it.
  const auto problems = check(parse_scenario(kTeam, "m.yaml"));
  ASSERT_EQ(problems.size(), 1U) << dump(problems);
  EXPECT_TRUE(problems[0].warning);
  EXPECT_EQ(problems[0].field, "stages.sql.next");
  const Model m = compile_yaml(kTeam);
  ASSERT_EQ(m.num_resources(), 1);
  EXPECT_EQ(m.resource_names, (std::vector<std::string>{"sales"}));
  EXPECT_EQ(m.served_by, (std::vector<std::int16_t>{-1, 0, -1, -1, -1}));
  const Resource& r = m.resources[0];
  EXPECT_EQ(r.name, "sales");
  EXPECT_EQ(r.stream_key, fnv1a_32("sales"));
  EXPECT_EQ(r.staffing_times, (std::vector<double>{0, 7, 14}));
  EXPECT_EQ(r.staffing_levels, (std::vector<int>{4, 6, 2}));
  EXPECT_EQ(r.service.family(), DwellFamily::kExponential);
  EXPECT_DOUBLE_EQ(r.service.mean(), 0.25);
  EXPECT_TRUE(r.has_handoff);
  EXPECT_EQ(r.handoff.family(), DwellFamily::kFixed);
  EXPECT_DOUBLE_EQ(r.handoff.a(), 0.5);
  // priority [smb, icp]: smb (segment 1) is served first.
  EXPECT_EQ(r.segment_class, (std::vector<int>{1, 0}));
  EXPECT_EQ(r.num_classes, 2);
  EXPECT_TRUE(r.has_patience);
  EXPECT_DOUBLE_EQ(r.patience.mean(), 3.0);
  EXPECT_EQ(r.abandon_to, 0);
  EXPECT_TRUE(r.has_outcome);
  EXPECT_EQ(r.outcome_stages, (std::vector<StageId>{2, 0, 4}));
  EXPECT_EQ(r.outcome.size(), 3U);
  EXPECT_EQ(r.decay_stage, 2);
  EXPECT_DOUBLE_EQ(r.decay_per_day, std::log(2.0) / 2.0);
  EXPECT_EQ(r.decay_to, 4);
  EXPECT_EQ(r.cost_per_server_day, 400.0);

  EXPECT_EQ(m.referral_names, (std::vector<std::string>{"word_of_mouth", "buzz", "more"}));
  ASSERT_EQ(m.referrals.size(), 3U);
  EXPECT_EQ(m.referrals[0].stream_key, fnv1a_32("word_of_mouth"));
  EXPECT_EQ(m.referrals[0].from, 3);
  EXPECT_EQ(m.referrals[0].to, 0);
  EXPECT_EQ(m.referrals[0].rate_per_day, 0.005);
  EXPECT_EQ(m.referrals[0].segment, 0);
  EXPECT_EQ(m.referrals[1].segment, -1);
  EXPECT_EQ(m.referrals[1].from, 2);
  // Grouped by `from`: customer (2) makes buzz; advocate (3) word_of_mouth and more.
  EXPECT_EQ(m.referral_offsets, (std::vector<std::uint32_t>{0, 0, 0, 1, 3, 3}));
  EXPECT_EQ(m.referrals_for, (std::vector<std::uint32_t>{1, 0, 2}));
  EXPECT_EQ(m.max_customers, 100'000'000);
  EXPECT_EQ(compile_yaml(kTeam + "max_customers: 5000\n").max_customers, 5000);
}

TEST(CompileTeamTest, resources_use_the_touchpoints_stream_key_hash) {
  const Model m = compile_yaml(
      kTeam + "touchpoints:\n  sales: {stages: [lead], schedule: {calendar: {every: 7}}}\n");
  EXPECT_EQ(m.touchpoints.at(0).stream_key, m.resources.at(0).stream_key);
}

TEST(CompileTeamTest, served_stage_rule_is_for_analysis) {
  const Model m = compile_yaml(kTeam);
  for (SegmentId g = 0; g < 2; ++g) {
    const StageRule& rule = m.rule(g, 1);
    EXPECT_EQ(rule.dwell.family(), DwellFamily::kExponential);
    EXPECT_DOUBLE_EQ(rule.dwell.mean(), 0.75);  // hand-off 0.5 + service 0.25
    EXPECT_EQ(rule.next_stages, (std::vector<StageId>{2, 0, 4}));
    EXPECT_EQ(rule.next_probs, (std::vector<double>{0.5, 0.2, 0.3}));
    EXPECT_EQ(rule.next.size(), 3U);
  }
  // Without an outcome the rule keeps the stage's own next (per segment), without a hand-off the
  // dwell mean is the service mean.
  std::string text = team("      next: {customer: 0.5, lead: 0.2, lost: 0.3}\n", "");
  text = edit("    handoff: {dist: fixed, days: 0.5}\n", "", text);
  text = edit("  icp: {share: 0.4}\n",
              "  icp: {share: 0.4, stages: {sql: {next: {customer: 0.6, lost: 0.4}}}}\n", text);
  const Model n = compile_yaml(text);
  EXPECT_FALSE(n.resources[0].has_outcome);
  EXPECT_FALSE(n.resources[0].has_handoff);
  EXPECT_DOUBLE_EQ(n.rule(0, 1).dwell.mean(), 0.25);
  EXPECT_EQ(n.rule(0, 1).next_stages, (std::vector<StageId>{2, 4}));
  EXPECT_EQ(n.rule(1, 1).next_stages, (std::vector<StageId>{2, 0, 4}));
  // A fixed zero-length service and no hand-off: a zero dwell, not an invalid exponential.
  const std::string instant =
      team("service: {dist: exponential, mean: 0.25}", "service: {dist: fixed, days: 0}");
  const Model h = compile_yaml(instant);
  EXPECT_EQ(h.rule(0, 1).dwell.family(), DwellFamily::kExponential);
  EXPECT_DOUBLE_EQ(h.rule(0, 1).dwell.mean(), 0.5);
  const Model z = compile_yaml(edit("    handoff: {dist: fixed, days: 0.5}\n", "", instant));
  EXPECT_EQ(z.rule(0, 1).dwell.family(), DwellFamily::kFixed);
  EXPECT_EQ(z.rule(0, 1).dwell.mean(), 0.0);
}

TEST(CompileTeamTest, staffing_from_servers_and_changes) {
  const Model none =
      compile_yaml(team("    changes: [{day: 7, servers: 6}, {day: 14, servers: 2}]\n", ""));
  EXPECT_EQ(none.resources[0].staffing_times, (std::vector<double>{0}));
  EXPECT_EQ(none.resources[0].staffing_levels, (std::vector<int>{4}));
  // A change on day 0 replaces the initial size; a change to the same size is no change point.
  const Model day0 =
      compile_yaml(team("{day: 7, servers: 6}, {day: 14, servers: 2}",
                        "{day: 0, servers: 5}, {day: 3.5, servers: 5}, {day: 9, servers: 0}"));
  EXPECT_EQ(day0.resources[0].staffing_times, (std::vector<double>{0, 9}));
  EXPECT_EQ(day0.resources[0].staffing_levels, (std::vector<int>{5, 0}));
}

TEST(CompileTeamTest, staffing_from_weekdays_over_the_horizon) {
  const std::string weekdays =
      team("    servers: 4\n    changes: [{day: 7, servers: 6}, {day: 14, servers: 2}]\n",
           "    weekdays: [4, 4, 4, 4, 4, 0, 0]\n");
  const Model m = compile_yaml(weekdays);  // horizon 21: days 0..20
  EXPECT_EQ(m.resources[0].staffing_times, (std::vector<double>{0, 5, 7, 12, 14, 19}));
  EXPECT_EQ(m.resources[0].staffing_levels, (std::vector<int>{4, 0, 4, 0, 4, 0}));
  // Change points only where the level changes, also across the week boundary.
  const Model n = compile_yaml(edit("[4, 4, 4, 4, 4, 0, 0]", "[0, 2, 2, 2, 2, 0, 0]", weekdays));
  EXPECT_EQ(n.resources[0].staffing_times, (std::vector<double>{0, 1, 5, 8, 12, 15, 19}));
  EXPECT_EQ(n.resources[0].staffing_levels, (std::vector<int>{0, 2, 0, 2, 0, 2, 0}));
  // A fractional horizon includes the day it starts in.
  const Model f = compile_yaml(edit("horizon: 21\n", "horizon: 21.5\n", weekdays));
  EXPECT_EQ(f.resources[0].staffing_times, (std::vector<double>{0, 5, 7, 12, 14, 19, 21}));
  EXPECT_EQ(f.resources[0].staffing_levels.back(), 4);
}

TEST(CompileTeamTest, fifo_puts_every_segment_in_one_class) {
  const Model m = compile_yaml(team("    discipline: priority\n    priority: [smb, icp]\n", ""));
  EXPECT_EQ(m.resources[0].segment_class, (std::vector<int>{0, 0}));
  EXPECT_EQ(m.resources[0].num_classes, 1);
  const Model f = compile_yaml(
      team("    discipline: priority\n    priority: [smb, icp]\n", "    discipline: fifo\n"));
  EXPECT_EQ(f.resources[0].num_classes, 1);
}

TEST(CompileTeamTest, patience_and_decay_are_optional) {
  std::string text = team("    patience: {dist: exponential, mean: 3}\n    abandon_to: lead\n", "");
  text = edit("      decay: {stage: customer, half_life: 2, to: lost}\n", "", text);
  const Model m = compile_yaml(text);
  EXPECT_FALSE(m.resources[0].has_patience);
  EXPECT_EQ(m.resources[0].abandon_to, -1);
  EXPECT_EQ(m.resources[0].decay_stage, -1);
  EXPECT_EQ(m.resources[0].decay_to, -1);
  EXPECT_EQ(m.resources[0].decay_per_day, 0.0);
}

TEST(CompileTeamTest, without_resources_or_referrals) {
  const Model m = compile_yaml(kBase);
  EXPECT_EQ(m.num_resources(), 0);
  EXPECT_EQ(m.served_by, (std::vector<std::int16_t>{-1, -1, -1}));
  EXPECT_TRUE(m.referrals.empty());
  EXPECT_EQ(m.referral_offsets, (std::vector<std::uint32_t>{0, 0, 0, 0}));
  EXPECT_TRUE(m.referrals_for.empty());
}

TEST(CompileTeamTest, abandonment_target_counts_as_converted_when_reached_from_won) {
  // won = sql (served), whose outcome is always customer: lead is reached from sql only by
  // abandoning the queue.
  std::string text = team("won: customer\n", "won: sql\n");
  text = edit("{customer: 0.5, lead: 0.2, lost: 0.3}", "{customer: 1}", text);
  EXPECT_EQ(compile_yaml(text).converted, (std::vector<std::uint8_t>{1, 1, 1, 1, 1}));
  text = edit("    patience: {dist: exponential, mean: 3}\n    abandon_to: lead\n", "", text);
  EXPECT_EQ(compile_yaml(text).converted, (std::vector<std::uint8_t>{0, 1, 1, 1, 1}));
}

// -- staffing errors

TEST(CompileTeamTest, reports_negative_servers) {
  expect_problem(compile_problems(team("servers: 4", "servers: -1")), "resources.sales.servers", 26,
                 "expected an integer >= 0, got -1");
}

TEST(CompileTeamTest, reports_weekdays_problems) {
  expect_problem(compile_problems(team("    servers: 4\n",
                                       "    servers: 4\n    weekdays: [1, 1, 1, 1, 1, 1, 1]\n")),
                 "resources.sales.weekdays", 27,
                 "give servers (with optional changes) or weekdays, not both");
  const std::string weekdays =
      team("    servers: 4\n    changes: [{day: 7, servers: 6}, {day: 14, servers: 2}]\n",
           "    weekdays: [4, 4, 4, 4, 4, 0]\n");
  expect_problem(compile_problems(weekdays), "resources.sales.weekdays", 26,
                 "expected 7 integers (reps per weekday, Monday first), got 6");
  expect_problem(compile_problems(edit("[4, 4, 4, 4, 4, 0]", "[4, 4, -4, 4, 4, 0, 0]", weekdays)),
                 "resources.sales.weekdays[2]", 26, "expected an integer >= 0, got -4");
  expect_problem(
      compile_problems(team("    servers: 4\n", "    weekdays: [1, 1, 1, 1, 1, 1, 1]\n")),
      "resources.sales.changes", 27, "changes need servers: they cannot be combined with weekdays");
  expect_problem(compile_problems(edit("horizon: 21\n", "horizon: 1e8\nreport_every: 1e7\n",
                                       edit("report_every: 7\n", "", weekdays))),
                 "resources.sales.weekdays", 26, "horizon of at most 1e7 days");
}

TEST(CompileTeamTest, reports_missing_staffing) {
  expect_problem(
      compile_problems(
          team("    servers: 4\n    changes: [{day: 7, servers: 6}, {day: 14, servers: 2}]\n", "")),
      "resources.sales.servers", 25, "missing staffing: give servers (reps) or weekdays");
}

TEST(CompileTeamTest, reports_changes_problems) {
  const auto problems = compile_problems(team(
      "[{day: 7, servers: 6}, {day: 14, servers: 2}]",
      "[{day: -1, servers: 6}, {day: 14, servers: -2}, {day: 14, servers: 3}, {day: 10, servers: 1}]"));
  expect_problem(problems, "resources.sales.changes[0].day", 27,
                 "expected a finite number >= 0, got -1");
  expect_problem(problems, "resources.sales.changes[1].servers", 27,
                 "expected an integer >= 0, got -2");
  expect_problem(
      problems, "resources.sales.changes[2].day", 27,
      "change days must be strictly increasing: day 14 is not after day 14 of resources.sales.changes[1]");
  expect_problem(problems, "resources.sales.changes[3].day", 27, "day 10 is not after day 14");
}

TEST(CompileTeamTest, warns_about_a_team_without_servers) {
  expect_warning(team("servers: 4\n    changes: [{day: 7, servers: 6}, {day: 14, servers: 2}]\n",
                      "servers: 0\n"),
                 "resources.sales", 26, "the team never has a server");
}

// -- serves

TEST(CompileTeamTest, reports_serves_problems) {
  expect_problem(compile_problems(team("serves: [sql]", "serves: []")), "resources.sales.serves",
                 28, "expected at least one served stage");
  expect_problem(compile_problems(team("serves: [sql]", "serves: [sql, sq]")),
                 "resources.sales.serves[1]", 28, "unknown stage 'sq'; did you mean 'sql'?");
  expect_problem(compile_problems(team("serves: [sql]", "serves: [sql, lost]")),
                 "resources.sales.serves[1]", 28, "a team cannot serve absorbing stage 'lost'");
  expect_problem(compile_problems(team("serves: [sql]", "serves: [sql, sql]")),
                 "resources.sales.serves[1]", 28, "stage 'sql' is listed twice");
}

TEST(CompileTeamTest, reports_a_stage_served_by_two_teams) {
  const auto problems =
      compile_problems(team_with("  support:\n"                   // 39
                                 "    servers: 1\n"               // 40
                                 "    serves: [advocate, sql]\n"  // 41
                                 "    service: {mean: 1}\n"));    // 42
  expect_problem(
      problems, "resources.support.serves[1]", 41,
      "stage sql is already served by resources.sales; a stage can be served by one team only");
  for (const auto& p : problems) EXPECT_NE(p.field, "resources.support.serves[0]") << p.to_string();
}

TEST(CompileTeamTest, reports_a_touchpoint_on_a_served_stage) {
  const auto problems = compile_problems(kTeam +
                                         "touchpoints:\n"                                // 43
                                         "  call:\n"                                     // 44
                                         "    stages: [lead, sql]\n"                     // 45
                                         "    schedule: {after_entry: {days: [2]}}\n");  // 46
  expect_problem(problems, "touchpoints.call.stages[1]", 45,
                 "stage sql is served by resources.sales; touchpoints cannot target it: remove it "
                 "from touchpoints.call.stages");
  EXPECT_EQ(
      std::count_if(problems.begin(), problems.end(), [](const Problem& p) { return !p.warning; }),
      1)
      << dump(problems);
}

// -- served stages' dwell and next

TEST(CompileTeamTest, warns_that_a_served_stage_dwell_is_ignored) {
  const std::string text = team("  sql:\n", "  sql:\n    dwell: {mean: 10}\n");  // dwell on line 10
  expect_warning(text, "stages.sql.dwell", 10,
                 "ignored: stage sql is served by resources.sales, whose hand-off, wait and "
                 "service replace the dwell");
  expect_warning(text, "stages.sql.next", 11, "ignored: resources.sales.outcome.next replaces it");
  EXPECT_NO_THROW((void)compile_yaml(text));
  expect_warning(
      team("  icp: {share: 0.4}", "  icp: {share: 0.4, stages: {sql: {dwell: {mean: 3}}}}"),
      "segments.icp.stages.sql.dwell", 19, "ignored: stage sql is served by resources.sales");
  // A served stage's dwell is still checked.
  expect_problem(compile_problems(team("  sql:\n", "  sql:\n    dwell: {mean: -10}\n")),
                 "stages.sql.dwell.mean", 10, "expected a finite number > 0");
}

TEST(CompileTeamTest, served_stage_needs_next_without_outcome) {
  const std::string bare =
      team("  sql:\n    next: {customer: 0.4, lead: 0.2, lost: 0.4}\n", "  sql: {}\n");
  expect_valid(bare);  // the outcome is given
  EXPECT_TRUE(check(parse_scenario(bare, "m.yaml")).empty());
  // Without outcome.next the decay of `customer` has no row to look in: only the next is reported.
  const std::string neither = edit("      next: {customer: 0.5, lead: 0.2, lost: 0.3}\n", "", bare);
  const auto problems = compile_problems(neither);
  EXPECT_EQ(
      std::count_if(problems.begin(), problems.end(), [](const Problem& p) { return !p.warning; }),
      1)
      << dump(problems);
  expect_problem(problems, "stages.sql.next", 9,
                 "stage sql is served by resources.sales without outcome.next: it needs "
                 "next-probabilities");
  // An unserved stage still needs its dwell.
  expect_problem(compile_problems(team("    dwell: {mean: 300}\n", "")), "stages.customer.dwell",
                 11, "a non-absorbing stage needs a dwell");
}

// -- service, hand-off, patience

TEST(CompileTeamTest, reports_a_missing_service) {
  Scenario s = parse_scenario(kTeam, "m.yaml");
  s.resources[0].service.reset();
  const auto problems = check(s);
  const auto it = std::find_if(problems.begin(), problems.end(), [](const Problem& p) {
    return p.field == "resources.sales.service";
  });
  ASSERT_NE(it, problems.end()) << dump(problems);
  EXPECT_FALSE(it->warning);
  EXPECT_EQ(it->line, 25);
  EXPECT_EQ(it->message, "missing required key 'service'");
}

TEST(CompileTeamTest, reports_bad_dwell_specs_of_a_team) {
  expect_problem(compile_problems(team("service: {dist: exponential, mean: 0.25}",
                                       "service: {dist: exponential, mean: -1}")),
                 "resources.sales.service.mean", 30, "expected a finite number > 0, got -1");
  expect_problem(compile_problems(
                     team("handoff: {dist: fixed, days: 0.5}", "handoff: {dist: fixd, days: 0.5}")),
                 "resources.sales.handoff.dist", 29, "unknown dist 'fixd'");
  expect_problem(compile_problems(team("patience: {dist: exponential, mean: 3}",
                                       "patience: {dist: weibull, mean: 3}")),
                 "resources.sales.patience", 33,
                 "weibull needs shape with one of scale, mean, median");
}

TEST(CompileTeamTest, reports_patience_and_abandon_to_problems) {
  expect_problem(compile_problems(team("    abandon_to: lead\n", "")), "resources.sales.abandon_to",
                 33, "abandon_to is required with patience");
  expect_problem(compile_problems(team("    patience: {dist: exponential, mean: 3}\n", "")),
                 "resources.sales.abandon_to", 33, "abandon_to needs patience");
  expect_problem(compile_problems(team("abandon_to: lead", "abandon_to: led")),
                 "resources.sales.abandon_to", 34, "unknown stage 'led'; did you mean 'lead'?");
}

// -- discipline and priority

TEST(CompileTeamTest, reports_discipline_and_priority_problems) {
  expect_problem(
      compile_problems(team("discipline: priority", "discipline: fif")),
      "resources.sales.discipline", 31,
      "unknown discipline 'fif' (expected one of: fifo, priority); did you mean 'fifo'?");
  expect_problem(compile_problems(team("discipline: priority", "discipline: fifo")),
                 "resources.sales.priority", 32, "priority is only used with discipline: priority");
  expect_problem(
      compile_problems(team("priority: [smb, icp]", "priority: [icp]")), "resources.sales.priority",
      32,
      "discipline priority needs every segment exactly once, highest priority first; missing: smb");
  expect_problem(compile_problems(team("    priority: [smb, icp]\n", "")),
                 "resources.sales.priority", 25, "missing: icp, smb");
  expect_problem(compile_problems(team("priority: [smb, icp]", "priority: [smb, icp, smb]")),
                 "resources.sales.priority[2]", 32, "segment 'smb' is listed twice");
  expect_problem(compile_problems(team("priority: [smb, icp]", "priority: [smb, icq, icp]")),
                 "resources.sales.priority[1]", 32,
                 "unknown segment 'icq' (segments: icp, smb); did you mean 'icp'?");
}

TEST(CompileTeamTest, priority_without_segments_names_the_single_segment_all) {
  std::string text = team("segments:\n  icp: {share: 0.4}\n  smb: {share: 0.6}\n", "");
  text = edit(", segment: icp}", "}", text);
  text = edit("priority: [smb, icp]", "priority: [all]", text);
  const Model m = compile_yaml(text);
  EXPECT_EQ(m.resources[0].segment_class, (std::vector<int>{0}));
  EXPECT_EQ(m.resources[0].num_classes, 1);
  expect_problem(compile_problems(edit("priority: [all]", "priority: [icp]", text)),
                 "resources.sales.priority[0]", 29, "unknown segment 'icp' (segments: all)");
}

// -- outcome and decay

TEST(CompileTeamTest, reports_outcome_problems) {
  expect_problem(compile_problems(team("{customer: 0.5, lead: 0.2, lost: 0.3}",
                                       "{customer: 0.5, lead: 0.2, lost: 0.2}")),
                 "resources.sales.outcome.next", 36,
                 "probabilities must sum to 1 (tolerance 1e-9), got sum 0.8999999999999999");
  expect_problem(compile_problems(team("{customer: 0.5, lead: 0.2, lost: 0.3}",
                                       "{custmer: 0.5, lead: 0.2, lost: 0.3}")),
                 "resources.sales.outcome.next.custmer", 36,
                 "unknown stage 'custmer'; did you mean 'customer'?");
  expect_problem(compile_problems(team("{customer: 0.5, lead: 0.2, lost: 0.3}",
                                       "{customer: 1.5, lead: -0.8, lost: 0.3}")),
                 "resources.sales.outcome.next.lead", 36,
                 "expected a probability in [0, 1], got -0.8");
}

TEST(CompileTeamTest, reports_decay_problems) {
  expect_problem(compile_problems(team("half_life: 2", "half_life: 0")),
                 "resources.sales.outcome.decay.half_life", 37,
                 "expected a finite number > 0, got 0");
  expect_problem(compile_problems(team("to: lost}", "to: lots}")),
                 "resources.sales.outcome.decay.to", 37,
                 "unknown stage 'lots'; did you mean 'lost'?");
  expect_problem(compile_problems(team("to: lost}", "to: customer}")),
                 "resources.sales.outcome.decay.to", 37, "decay.to must differ from decay.stage");
  expect_problem(
      compile_problems(team("decay: {stage: customer", "decay: {stage: advocate")),
      "resources.sales.outcome.decay.stage", 37,
      "stage 'advocate' is not a possible outcome: it is not in resources.sales.outcome.next");
  expect_problem(compile_problems(team("decay: {stage: customer", "decay: {stage: custmer")),
                 "resources.sales.outcome.decay.stage", 37, "unknown stage 'custmer'");
}

TEST(CompileTeamTest, decay_stage_must_be_in_every_segments_next_without_outcome) {
  std::string text = team("      next: {customer: 0.5, lead: 0.2, lost: 0.3}\n", "");
  expect_valid(text);
  text = edit("  smb: {share: 0.6}",
              "  smb: {share: 0.6, stages: {sql: {next: {lead: 0.5, lost: 0.5}}}}", text);
  expect_problem(
      compile_problems(text), "resources.sales.outcome.decay.stage", 36,
      "stage 'customer' is not a possible outcome: it is not in segments.smb.stages.sql.next");
  const auto base_row = compile_problems(edit(
      "    next: {customer: 0.4, lead: 0.2, lost: 0.4}\n", "    next: {lead: 0.6, lost: 0.4}\n",
      team("      next: {customer: 0.5, lead: 0.2, lost: 0.3}\n", "")));
  expect_problem(base_row, "resources.sales.outcome.decay.stage", 36,
                 "stage 'customer' is not a possible outcome: it is not in stages.sql.next");
}

TEST(CompileTeamTest, reports_negative_staffing_cost) {
  expect_problem(compile_problems(team("cost_per_server_day: 400", "cost_per_server_day: -1")),
                 "resources.sales.cost_per_server_day", 38,
                 "expected a finite number >= 0, got -1");
  expect_problem(compile_problems(team("cost_per_server_day: 400", "cost_per_server_day: .inf")),
                 "resources.sales.cost_per_server_day", 38,
                 "expected a finite number >= 0, got inf");
}

// -- referrals and max_customers

TEST(CompileTeamTest, reports_referral_problems) {
  const auto problems =
      compile_problems(team("{from: advocate, rate_per_day: 0.005, to: lead, segment: icp}",
                            "{from: advocat, rate_per_day: -0.005, to: leed, segment: icq}"));
  expect_problem(problems, "referrals.word_of_mouth.from", 40,
                 "unknown stage 'advocat'; did you mean 'advocate'?");
  expect_problem(problems, "referrals.word_of_mouth.rate_per_day", 40,
                 "expected a finite number >= 0, got -0.005");
  expect_problem(problems, "referrals.word_of_mouth.to", 40,
                 "unknown stage 'leed'; did you mean 'lead'?");
  expect_problem(problems, "referrals.word_of_mouth.segment", 40,
                 "unknown segment 'icq'; did you mean 'icp'?");
  expect_problem(compile_problems(team("rate_per_day: 0.001", "rate_per_day: .nan")),
                 "referrals.buzz.rate_per_day", 41, "expected a finite number >= 0, got nan");
}

TEST(CompileTeamTest, reports_max_customers_below_one) {
  expect_problem(compile_problems(kTeam + "max_customers: 0\n"), "max_customers", 43,
                 "expected an integer >= 1, got 0");
}

TEST(CompileTeamTest, referrals_and_teams_make_stages_reachable) {
  // `island` is reached only by referral; `pool` only by abandonment; `cold` only by decay.
  std::string text = team("  lost: {absorbing: true}\n",
                          "  lost: {absorbing: true}\n"
                          "  island: {dwell: {mean: 1}, next: {lost: 1}}\n"
                          "  pool: {dwell: {mean: 1}, next: {lost: 1}}\n"
                          "  cold: {absorbing: true}\n");
  text = edit("to: lead, segment: icp}", "to: island, segment: icp}", text);
  text = edit("abandon_to: lead", "abandon_to: pool", text);
  text = edit("half_life: 2, to: lost}", "half_life: 2, to: cold}", text);
  for (const auto& p : check(parse_scenario(text, "m.yaml"))) {
    EXPECT_EQ(p.field, "stages.sql.next") << p.to_string();  // only the ignored-next remark
  }
  // Without the referral, island is unreachable.
  const auto problems =
      check(parse_scenario(edit("rate_per_day: 0.005", "rate_per_day: 0", text), "m.yaml"));
  EXPECT_TRUE(std::any_of(problems.begin(), problems.end(), [](const Problem& p) {
    return p.warning && p.field == "stages.island" && p.line == 18;
  })) << dump(problems);
}

}  // namespace
}  // namespace lcsim

namespace lcsim {
namespace {

TEST(CompileTest, weibull_lognormal_and_gamma_rules_get_hazard_tables_and_segments_share_them) {
  const Model m = test::model_from_yaml(R"(
name: tables
horizon: 30
report_every: 10
won: z
stages:
  a: {dwell: {dist: lognormal, median: 6, sigma: 0.8}, next: {b: 1.0}}
  b: {dwell: {dist: gamma, shape: 2, mean: 12}, next: {c: 1.0}}
  c: {dwell: {dist: weibull, shape: 1.5, mean: 5}, next: {z: 1.0}}
  z: {absorbing: true}
segments:
  x: {share: 0.5, stages: {b: {dwell: {dist: gamma, shape: 3, mean: 12}}}}
  y: {share: 0.5}
arrivals:
  initial: [{stage: a, count: 1}]
)");
  const int s = m.num_stages();
  EXPECT_TRUE(m.rule(0, 0).dwell.has_tables());
  EXPECT_TRUE(m.rule(0, 1).dwell.has_tables());
  EXPECT_TRUE(m.rule(0, 2).dwell.has_tables());  // Weibull: its H^{-1} by the bits of h
  EXPECT_TRUE(m.rule(1, 1).dwell.has_tables());
  EXPECT_DOUBLE_EQ(m.rule(0, 1).dwell.a(), 3.0);  // segment x's override
  EXPECT_DOUBLE_EQ(m.rule(1, 1).dwell.a(), 2.0);
  EXPECT_EQ(s, 4);
}

}  // namespace
}  // namespace lcsim
