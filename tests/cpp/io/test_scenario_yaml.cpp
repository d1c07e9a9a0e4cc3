#include "lcsim/io/scenario_yaml.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "lcsim/core/error.hpp"
#include "lcsim/core/input_file.hpp"
#include "lcsim/io/scenario_changes.hpp"
#include "lcsim/model/compile.hpp"

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

/// kBase with one fragment replaced (the test fails when the fragment is absent).
std::string edit(const std::string& from, const std::string& to) {
  std::string text = kBase;
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "fragment not in kBase: " << from;
  if (at != std::string::npos) text = text.substr(0, at) + to + text.substr(at + from.size());
  return text;
}

/// The problems of an InputError thrown by parse_scenario (a test failure when none is thrown).
std::vector<Problem> parse_problems(const std::string& yaml) {
  try {
    (void)parse_scenario(yaml, "s.yaml");
  } catch (const InputError& e) {
    return e.problems();
  }
  ADD_FAILURE() << "parse_scenario did not throw InputError for:\n" << yaml;
  return {};
}

std::string dump(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += "  " + p.to_string() + "\n";
  return out;
}

/// Expects a problem with this field, line and message fragment.
void expect_problem(const std::vector<Problem>& problems, const std::string& field, int line,
                    const std::string& fragment) {
  for (const auto& p : problems) {
    if (p.field == field && p.line == line && p.message.find(fragment) != std::string::npos) {
      EXPECT_EQ(p.file, "s.yaml");
      EXPECT_FALSE(p.warning);
      return;
    }
  }
  ADD_FAILURE() << "no problem " << field << " at line " << line << " containing '" << fragment
                << "' among:\n"
                << dump(problems);
}

// ---- valid input -------------------------------------------------------------------------------

TEST(ScenarioYamlTest, parses_the_base_scenario_with_defaults) {
  const Scenario s = parse_scenario(kBase, "s.yaml");
  EXPECT_EQ(s.file, "s.yaml");
  EXPECT_EQ(s.source, kBase);
  EXPECT_EQ(s.name, "t");
  EXPECT_EQ(s.description, "");
  EXPECT_EQ(s.horizon, 100.0);
  EXPECT_EQ(s.report_every, 10.0);
  EXPECT_EQ(s.seed, 1U);
  EXPECT_EQ(s.replications, 10);
  EXPECT_EQ(s.won, "customer");
  ASSERT_EQ(s.stages.size(), 3U);
  EXPECT_EQ(s.stages[0].name, "lead");
  EXPECT_EQ(s.stages[1].name, "customer");
  EXPECT_EQ(s.stages[2].name, "lost");
  EXPECT_TRUE(s.stages[2].absorbing);
  EXPECT_FALSE(s.stages[2].dwell.has_value());
  ASSERT_TRUE(s.stages[1].dwell.has_value());
  EXPECT_EQ(s.stages[1].dwell->dist, "exponential");
  EXPECT_EQ(s.stages[1].dwell->params.at("mean"), 300.0);
  ASSERT_TRUE(s.stages[0].next.has_value());
  ASSERT_EQ(s.stages[0].next->probs.size(), 2U);
  EXPECT_EQ(s.stages[0].next->probs[0].first, "customer");
  EXPECT_EQ(s.stages[0].next->probs[1].second, 0.5);
  EXPECT_TRUE(s.segments.empty());
  ASSERT_EQ(s.arrivals.initial.size(), 1U);
  EXPECT_EQ(s.arrivals.initial[0].stage, "lead");
  EXPECT_EQ(s.arrivals.initial[0].count, 100);
  EXPECT_EQ(s.arrivals.initial[0].segment, "");
  EXPECT_EQ(s.money.discount_rate, 0.0);
  EXPECT_TRUE(s.touchpoints.empty());
}

TEST(ScenarioYamlTest, keeps_written_order_of_stages_next_and_touchpoints) {
  const std::string yaml = kBase +
                           "touchpoints:\n"
                           "  zeta: {stages: [lead], schedule: {calendar: {days: [1]}}}\n"
                           "  alpha: {stages: [lead], schedule: {calendar: {days: [2]}}}\n"
                           "  mid: {stages: [lead], schedule: {calendar: {days: [3]}}}\n";
  const std::string reordered =
      edit("    next: {customer: 0.5, lost: 0.5}", "    next: {lost: 0.5, customer: 0.5}");
  const Scenario s = parse_scenario(yaml);
  ASSERT_EQ(s.touchpoints.size(), 3U);
  EXPECT_EQ(s.touchpoints[0].name, "zeta");
  EXPECT_EQ(s.touchpoints[1].name, "alpha");
  EXPECT_EQ(s.touchpoints[2].name, "mid");
  const Scenario r = parse_scenario(reordered);
  EXPECT_EQ(r.stages[0].next->probs[0].first, "lost");
  EXPECT_EQ(r.stages[0].next->probs[1].first, "customer");
}

TEST(ScenarioYamlTest, records_lines_of_mappings_and_keys) {
  const std::string yaml = kBase +
                           "touchpoints:\n"                                  // 16
                           "  call:\n"                                       // 17
                           "    stages: [lead]\n"                            // 18
                           "    schedule:\n"                                 // 19
                           "      after_entry: {days: [1, 3], every: 14}\n"  // 20
                           "      calendar:\n"                               // 21
                           "        every: 7\n"                              // 22
                           "    effect:\n"                                   // 23
                           "      move:\n"                                   // 24
                           "        to: customer\n"                          // 25
                           "        probability: 0.2\n"                      // 26
                           "      window: 3\n";                              // 27
  const Scenario s = parse_scenario(yaml);
  EXPECT_EQ(s.where.line, 1);
  EXPECT_EQ(s.where.of("won"), 4);
  EXPECT_EQ(s.where.of("arrivals"), 13);
  EXPECT_EQ(s.where.of("segments"), 1);  // absent: the mapping's own line
  EXPECT_EQ(s.stages[0].where.line, 6);
  EXPECT_EQ(s.stages[0].where.of("next"), 8);
  EXPECT_EQ(s.stages[0].dwell->where.line, 7);
  EXPECT_EQ(s.stages[0].dwell->where.of("mean"), 7);
  EXPECT_EQ(s.stages[0].next->where.of("lost"), 8);
  EXPECT_EQ(s.stages[2].where.of("absorbing"), 12);
  EXPECT_EQ(s.arrivals.where.line, 13);
  EXPECT_EQ(s.arrivals.initial[0].where.line, 15);
  EXPECT_EQ(s.arrivals.initial[0].where.of("count"), 15);
  const TouchpointSpec& tp = s.touchpoints[0];
  EXPECT_EQ(tp.where.line, 17);
  EXPECT_EQ(tp.where.of("stages"), 18);
  EXPECT_EQ(tp.schedule.where.line, 19);
  EXPECT_EQ(tp.schedule.after_entry_where.line, 20);
  EXPECT_EQ(tp.schedule.calendar_where.line, 21);
  EXPECT_EQ(tp.schedule.calendar_where.of("every"), 22);
  EXPECT_EQ(tp.effect.where.line, 23);
  EXPECT_EQ(tp.effect.where.of("move"), 24);
  EXPECT_EQ(tp.effect.where.of("move.to"), 25);
  EXPECT_EQ(tp.effect.where.of("move.probability"), 26);
  EXPECT_EQ(tp.effect.where.of("window"), 27);
}

TEST(ScenarioYamlTest, parses_every_section) {
  const std::string yaml =
      "name: full\n"
      "description: \"a: quoted # text\"\n"
      "horizon: 730.5\n"
      "report_every: 7\n"
      "seed: 18446744073709551615\n"
      "replications: 3\n"
      "won: customer\n"
      "stages:\n"
      "  lead:\n"
      "    dwell: {dist: weibull, shape: 1.5, mean: 10}\n"
      "    next: {customer: 0.25, lost: 0.75}\n"
      "  customer:\n"
      "    dwell: {dist: empirical, values: [1, 2.5, 4]}\n"
      "    next: {lost: 1}\n"
      "    revenue_per_month: 99.5\n"
      "  lost: {absorbing: yes}\n"
      "segments:\n"
      "  icp:\n"
      "    share: 0.4\n"
      "    stages:\n"
      "      lead: {next: {customer: 0.5, lost: 0.5}, revenue_per_month: 3}\n"
      "      customer: {dwell: {dist: fixed, days: 30}}\n"
      "  other: {share: 0.6}\n"
      "arrivals:\n"
      "  initial:\n"
      "    - {stage: lead, count: 1e3, segment: icp}\n"
      "  streams:\n"
      "    - stage: lead\n"
      "      rate_per_day: 4.5\n"
      "      weekly_profile: [1, 1, 1, 1, 1, 0.5, 0.5]\n"
      "      segment: other\n"
      "money:\n"
      "  discount_rate: 0.08\n"
      "  one_off:\n"
      "    - {to: customer, value: 2000}\n"
      "    - {from: lead, to: customer, value: -500}\n"
      "touchpoints:\n"
      "  webinar:\n"
      "    stages: [lead, customer]\n"
      "    segments: [icp]\n"
      "    schedule:\n"
      "      after_entry: {days: [3, 1], every: 14, start: 2}\n"
      "      calendar: {days: [10], every: 7, start: 7}\n"
      "    reach: 0.25\n"
      "    cost: 40\n"
      "    effect:\n"
      "      move: {to: customer}\n"
      "      window: 14\n"
      "      hazard_factor: 1.5\n"
      "      next: {customer: 0.5, lost: 0.5}\n";
  const Scenario s = parse_scenario(yaml);
  EXPECT_EQ(s.description, "a: quoted # text");
  EXPECT_EQ(s.horizon, 730.5);
  EXPECT_EQ(s.seed, 18446744073709551615ULL);
  EXPECT_EQ(s.replications, 3);
  EXPECT_EQ(s.stages[0].dwell->dist, "weibull");
  EXPECT_EQ(s.stages[0].dwell->params.size(), 2U);
  EXPECT_EQ(s.stages[1].dwell->values, (std::vector<double>{1, 2.5, 4}));
  EXPECT_EQ(s.stages[1].revenue_per_month, 99.5);
  EXPECT_TRUE(s.stages[2].absorbing);
  ASSERT_EQ(s.segments.size(), 2U);
  EXPECT_EQ(s.segments[0].name, "icp");
  EXPECT_EQ(s.segments[0].share, 0.4);
  ASSERT_EQ(s.segments[0].stages.size(), 2U);
  EXPECT_EQ(s.segments[0].stages[0].stage, "lead");
  EXPECT_TRUE(s.segments[0].stages[0].next.has_value());
  EXPECT_FALSE(s.segments[0].stages[0].dwell.has_value());
  EXPECT_EQ(s.segments[0].stages[0].revenue_per_month, 3.0);
  EXPECT_FALSE(s.segments[0].stages[1].revenue_per_month.has_value());
  EXPECT_EQ(s.segments[0].stages[1].dwell->params.at("days"), 30.0);
  EXPECT_EQ(s.segments[1].name, "other");
  EXPECT_TRUE(s.segments[1].stages.empty());
  EXPECT_EQ(s.arrivals.initial[0].count, 1000);
  EXPECT_EQ(s.arrivals.initial[0].segment, "icp");
  ASSERT_EQ(s.arrivals.streams.size(), 1U);
  EXPECT_EQ(s.arrivals.streams[0].rate_per_day, 4.5);
  EXPECT_EQ(s.arrivals.streams[0].weekly_profile.size(), 7U);
  EXPECT_EQ(s.arrivals.streams[0].segment, "other");
  EXPECT_EQ(s.money.discount_rate, 0.08);
  ASSERT_EQ(s.money.one_off.size(), 2U);
  EXPECT_EQ(s.money.one_off[0].from, "");
  EXPECT_EQ(s.money.one_off[1].from, "lead");
  EXPECT_EQ(s.money.one_off[1].value, -500.0);
  const TouchpointSpec& tp = s.touchpoints.at(0);
  EXPECT_EQ(tp.stages, (std::vector<std::string>{"lead", "customer"}));
  EXPECT_EQ(tp.segments, (std::vector<std::string>{"icp"}));
  EXPECT_EQ(tp.schedule.after_entry_days, (std::vector<double>{3, 1}));  // sorted by compile()
  EXPECT_EQ(tp.schedule.after_entry_every, 14.0);
  EXPECT_EQ(tp.schedule.after_entry_start, 2.0);
  EXPECT_EQ(tp.schedule.calendar_days, (std::vector<double>{10}));
  EXPECT_EQ(tp.schedule.calendar_every, 7.0);
  EXPECT_EQ(tp.schedule.calendar_start, 7.0);
  EXPECT_EQ(tp.reach, 0.25);
  EXPECT_EQ(tp.cost, 40.0);
  EXPECT_EQ(tp.effect.move_to, "customer");
  EXPECT_EQ(tp.effect.move_probability, 1.0);  // default when a move is given
  EXPECT_EQ(tp.effect.window, 14.0);
  EXPECT_EQ(tp.effect.hazard_factor, 1.5);
  ASSERT_TRUE(tp.effect.next.has_value());
  EXPECT_EQ(tp.effect.next->probs.size(), 2U);
  EXPECT_NO_THROW((void)compile(s));
}

TEST(ScenarioYamlTest, touchpoint_defaults) {
  const Scenario s = parse_scenario(
      kBase + "touchpoints:\n  mail: {stages: [lead], schedule: {calendar: {every: 7}}}\n");
  const TouchpointSpec& tp = s.touchpoints.at(0);
  EXPECT_EQ(tp.reach, 1.0);
  EXPECT_EQ(tp.cost, 0.0);
  EXPECT_TRUE(tp.segments.empty());
  EXPECT_EQ(tp.effect.move_to, "");
  EXPECT_EQ(tp.effect.move_probability, 0.0);
  EXPECT_EQ(tp.effect.window, 0.0);
  EXPECT_EQ(tp.effect.hazard_factor, 1.0);
  EXPECT_FALSE(tp.effect.next.has_value());
  EXPECT_FALSE(tp.schedule.calendar_start.has_value());
  EXPECT_FALSE(tp.schedule.after_entry_every.has_value());
}

TEST(ScenarioYamlTest, reads_yaml_special_numbers) {
  const Scenario s = parse_scenario(edit("horizon: 100", "horizon: .inf"));
  EXPECT_TRUE(std::isinf(s.horizon));
  const Scenario n = parse_scenario(edit("horizon: 100", "horizon: .nan"));
  EXPECT_TRUE(std::isnan(n.horizon));
  const Scenario e = parse_scenario(edit("horizon: 100", "horizon: +1.5e2"));
  EXPECT_EQ(e.horizon, 150.0);
}

// ---- structural problems -----------------------------------------------------------------------

TEST(ScenarioYamlTest, reports_yaml_syntax_error_with_line) {
  const auto problems = parse_problems(edit("    next: {lost: 1}\n", "    next: {lost: 1\n"));
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_NE(problems[0].message.find("YAML syntax error"), std::string::npos);
  EXPECT_GE(problems[0].line, 11);
  EXPECT_EQ(problems[0].file, "s.yaml");
  EXPECT_NE(problems[0].to_string().find("s.yaml:"), std::string::npos);
}

TEST(ScenarioYamlTest, reports_bad_indentation_as_syntax_error) {
  const auto problems = parse_problems("name: t\nhorizon: 1\n  report_every: 2\n");
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_NE(problems[0].message.find("YAML syntax error"), std::string::npos);
}

TEST(ScenarioYamlTest, reports_unknown_key_with_line) {
  const auto problems = parse_problems(
      edit("    dwell: {dist: exponential, mean: 7}", "    dwel: {dist: exponential, mean: 7}"));
  expect_problem(problems, "stages.lead.dwel", 7,
                 "unknown key 'dwel' (expected one of: absorbing, dwell, next, revenue_per_month)");
  expect_problem(problems, "stages.lead.dwel", 7, "did you mean 'dwell'?");
  EXPECT_NE(problems[0].to_string().find("s.yaml:7: stages.lead.dwel: unknown key 'dwel'"),
            std::string::npos)
      << problems[0].to_string();
}

TEST(ScenarioYamlTest, unknown_key_without_close_match_has_no_suggestion) {
  const auto problems = parse_problems(kBase + "colour: blue\n");
  ASSERT_EQ(problems.size(), 1U);
  expect_problem(problems, "colour", 16, "unknown key 'colour'");
  EXPECT_EQ(problems[0].message.find("did you mean"), std::string::npos);
}

TEST(ScenarioYamlTest, a_misspelt_top_level_key_lists_and_suggests_changes_and_extends) {
  // A variant's changes: and extends: are taken off before the parser sees a file, but a misspelt
  // one reaches it: the message lists them and suggests them like any other top-level key.
  auto problems = parse_problems(kBase + "chnages: {horizon: 3}\n");
  ASSERT_EQ(problems.size(), 1U);
  expect_problem(problems, "chnages", 16,
                 "unknown key 'chnages' (expected one of: arrivals, changes, ");
  EXPECT_NE(problems[0].message.find(", extends, horizon, "), std::string::npos)
      << problems[0].message;
  EXPECT_NE(problems[0].message.find("; did you mean 'changes'?"), std::string::npos)
      << problems[0].message;
  problems = parse_problems(kBase + "extnds: base.yaml\n");
  expect_problem(problems, "extnds", 16, "did you mean 'extends'?");
  problems = parse_problems(kBase + "replicatons: 3\n");
  expect_problem(problems, "replicatons", 16, "did you mean 'replications'?");
}

TEST(ScenarioYamlTest, reports_unknown_keys_in_nested_mappings) {
  const std::string yaml = kBase +
                           "touchpoints:\n"                                        // 16
                           "  webinar:\n"                                          // 17
                           "    stages: [lead]\n"                                  // 18
                           "    schedule:\n"                                       // 19
                           "      calendar: {evry: 7}\n"                           // 20
                           "    effect: {windw: 3, move: {to: lead, prob: 1}}\n";  // 21
  const auto problems = parse_problems(yaml);
  expect_problem(problems, "touchpoints.webinar.schedule.calendar.evry", 20,
                 "did you mean 'every'?");
  expect_problem(problems, "touchpoints.webinar.effect.windw", 21, "did you mean 'window'?");
  expect_problem(problems, "touchpoints.webinar.effect.move.prob", 21, "unknown key 'prob'");
}

TEST(ScenarioYamlTest, reports_unknown_dwell_parameter) {
  const auto problems = parse_problems(edit("dwell: {mean: 300}", "dwell: {maen: 300}"));
  expect_problem(problems, "stages.customer.dwell.maen", 10, "did you mean 'mean'?");
}

TEST(ScenarioYamlTest, reports_wrong_type_number) {
  const auto problems = parse_problems(edit("horizon: 100", "horizon: abc"));
  ASSERT_EQ(problems.size(), 1U);
  expect_problem(problems, "horizon", 2, "expected a number, got \"abc\"");
}

TEST(ScenarioYamlTest, reports_wrong_type_probability) {
  const auto problems = parse_problems(edit("next: {lost: 1}", "next: {lost: high}"));
  expect_problem(problems, "stages.customer.next.lost", 11, "expected a number, got \"high\"");
}

TEST(ScenarioYamlTest, reports_quoted_number_as_wrong_type) {
  const auto problems = parse_problems(edit("horizon: 100", "horizon: \"100\""));
  expect_problem(problems, "horizon", 2, "expected a number, got \"100\"");
}

TEST(ScenarioYamlTest, reports_wrong_type_mapping_and_sequence) {
  const auto problems = parse_problems(edit("    next: {lost: 1}", "    next: [lost]")
                                           .append("touchpoints:\n"
                                                   "  t: {stages: lead, schedule: 3}\n"));
  expect_problem(problems, "stages.customer.next", 11, "expected a mapping, got a sequence");
  expect_problem(problems, "touchpoints.t.stages", 17, "expected a sequence, got \"lead\"");
  expect_problem(problems, "touchpoints.t.schedule", 17, "expected a mapping, got \"3\"");
}

TEST(ScenarioYamlTest, reports_wrong_type_bool_and_integers) {
  const std::string yaml = edit("lost: {absorbing: true}", "lost: {absorbing: maybe}")
                               .append("seed: -3\nreplications: 2.5\n");
  const auto problems = parse_problems(
      edit("- {stage: lead, count: 100}", "- {stage: lead, count: 12.5}") + "seed: x\n");
  expect_problem(problems, "arrivals.initial[0].count", 15, "expected an integer, got \"12.5\"");
  expect_problem(problems, "seed", 16, "expected a non-negative integer, got \"x\"");
  const auto more = parse_problems(yaml);
  expect_problem(more, "stages.lost.absorbing", 12, "expected true or false, got \"maybe\"");
  expect_problem(more, "seed", 16, "expected a non-negative integer, got \"-3\"");
  expect_problem(more, "replications", 17, "expected an integer, got \"2.5\"");
}

TEST(ScenarioYamlTest, reports_null_value_as_wrong_type) {
  const auto problems = parse_problems(edit("won: customer", "won:"));
  expect_problem(problems, "won", 4, "expected a string, got nothing");
}

TEST(ScenarioYamlTest, reports_wrong_type_in_list_items) {
  const auto problems = parse_problems(
      kBase + "touchpoints:\n  t: {stages: [lead], schedule: {after_entry: {days: [1, x]}}}\n");
  expect_problem(problems, "touchpoints.t.schedule.after_entry.days[1]", 17,
                 "expected a number, got \"x\"");
}

TEST(ScenarioYamlTest, reports_missing_required_top_level_keys) {
  const auto problems = parse_problems("description: nothing else\n");
  for (const char* key : {"name", "horizon", "report_every", "won", "stages", "arrivals"}) {
    expect_problem(problems, key, 1, std::string("missing required key '") + key + "'");
  }
  EXPECT_EQ(problems.size(), 6U) << dump(problems);
}

TEST(ScenarioYamlTest, reports_missing_required_nested_keys) {
  const std::string yaml = kBase +
                           "  streams:\n"                             // 16
                           "    - {stage: lead}\n"                    // 17
                           "segments:\n"                              // 18
                           "  icp: {stages: {}}\n"                    // 19
                           "money:\n"                                 // 20
                           "  one_off:\n"                             // 21
                           "    - {from: lead}\n"                     // 22
                           "touchpoints:\n"                           // 23
                           "  t:\n"                                   // 24
                           "    effect: {move: {probability: 1}}\n";  // 25
  const auto problems = parse_problems(yaml);
  expect_problem(problems, "arrivals.streams[0].rate_per_day", 17, "missing required key");
  expect_problem(problems, "segments.icp.share", 19, "missing required key 'share'");
  expect_problem(problems, "money.one_off[0].to", 22, "missing required key 'to'");
  expect_problem(problems, "money.one_off[0].value", 22, "missing required key 'value'");
  expect_problem(problems, "touchpoints.t.stages", 24, "missing required key 'stages'");
  expect_problem(problems, "touchpoints.t.schedule", 24, "missing required key 'schedule'");
  expect_problem(problems, "touchpoints.t.effect.move.to", 25, "missing required key 'to'");
  const auto cohort = parse_problems(edit("- {stage: lead, count: 100}", "- {count: 100}"));
  expect_problem(cohort, "arrivals.initial[0].stage", 15, "missing required key 'stage'");
}

TEST(ScenarioYamlTest, reports_missing_values_of_empirical_dwell) {
  const auto problems = parse_problems(edit("dwell: {mean: 300}", "dwell: {dist: empirical}"));
  ASSERT_EQ(problems.size(), 1U) << dump(problems);
  expect_problem(problems, "stages.customer.dwell.values", 10, "missing required key 'values'");
}

TEST(ScenarioYamlTest, reports_duplicate_key) {
  const auto problems = parse_problems(kBase + "horizon: 5\n");
  expect_problem(problems, "horizon", 16, "duplicate key 'horizon' (first given on line 2)");
}

TEST(ScenarioYamlTest, reports_several_problems_at_once) {
  std::string yaml = edit("horizon: 100", "horizon: abc");
  const auto at = yaml.find("    dwell: {dist: exponential");
  yaml = yaml.substr(0, at) + "    dwel" + yaml.substr(at + 9) + "extra: 1\n";
  const auto problems = parse_problems(yaml);
  EXPECT_EQ(problems.size(), 3U) << dump(problems);
  expect_problem(problems, "horizon", 2, "expected a number");
  expect_problem(problems, "stages.lead.dwel", 7, "unknown key 'dwel'");
  expect_problem(problems, "extra", 16, "unknown key 'extra'");
  try {
    (void)parse_scenario(yaml, "s.yaml");
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("s.yaml:2: horizon: expected a number, got \"abc\""), std::string::npos)
        << what;
    EXPECT_NE(what.find("s.yaml:7: stages.lead.dwel"), std::string::npos) << what;
  }
}

TEST(ScenarioYamlTest, reports_top_level_that_is_not_a_mapping) {
  expect_problem(parse_problems("- a\n- b\n"), "", 1, "expected a mapping, got a sequence");
  const auto empty = parse_problems("");
  ASSERT_EQ(empty.size(), 1U);
  EXPECT_NE(empty[0].message.find("expected a mapping, got nothing"), std::string::npos);
}

TEST(ScenarioYamlTest, reports_several_documents) {
  const auto problems = parse_problems(kBase + "---\nname: other\n");
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_NE(problems[0].message.find("one YAML document"), std::string::npos);
}

// ---- hostile input (found by fuzzing, docs/hardening.md) --------------------------------------

/// The one problem of a YAML syntax error parse_scenario reports for `yaml`.
Problem syntax_problem(const std::string& yaml) {
  const auto problems = parse_problems(yaml);
  EXPECT_EQ(problems.size(), 1U) << dump(problems);
  if (problems.empty()) return {};
  EXPECT_EQ(problems[0].file, "s.yaml");
  EXPECT_NE(problems[0].message.find("YAML syntax error: "), std::string::npos)
      << problems[0].to_string();
  return problems[0];
}

TEST(ScenarioYamlHostileTest, stray_comma_is_a_syntax_error_not_a_hang) {
  // yaml-cpp 0.7's LoadAll returned empty documents for ever (and grew memory) on each of these.
  EXPECT_EQ(syntax_problem(",").line, 1);
  EXPECT_EQ(syntax_problem(kBase + ",\n").line, 16);
  EXPECT_EQ(syntax_problem("- a\n,").line, 2);
  EXPECT_EQ(syntax_problem("---\n, name: t\n").line, 2);
  EXPECT_EQ(syntax_problem("# comment\n\n, x").line, 3);
  const Problem p = syntax_problem(",name: t\n");
  EXPECT_EQ(p.line, 1);
  EXPECT_NE(p.message.find("unexpected ','"), std::string::npos) << p.to_string();
  // Also a value of a change (lcsim sweep --set horizon=..., Scenario.with_changes) and a scenario
  // text given to apply_changes: both read through yaml_tree::load.
  for (const auto& [text, value] :
       std::vector<std::pair<std::string, std::string>>{{kBase, ", 5"}, {",\n", "5"}}) {
    try {
      (void)apply_changes(text, {{"horizon", value}}, "s.yaml");
      ADD_FAILURE() << "no InputError for '" << text << "' with horizon=" << value;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("unexpected ','"), std::string::npos) << e.what();
    }
  }
}

TEST(ScenarioYamlHostileTest, alias_bomb_is_refused_before_it_is_expanded) {
  // Ten levels of ten aliases each: 1e10 nodes expanded, a few hundred bytes of text.
  std::string bomb = kBase + "description: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 10; ++i) {
    const std::string level = std::to_string(i);
    bomb += "d";
    bomb += level;
    bomb += ": &a";
    bomb += level;
    bomb += " [";
    for (int k = 0; k < 10; ++k) {
      bomb += k ? ", *a" : "*a";
      bomb += std::to_string(i - 1);
    }
    bomb += "]\n";
  }
  const Problem p = syntax_problem(bomb);
  EXPECT_NE(p.message.find("more than 1000000 nodes with its aliases expanded"), std::string::npos)
      << p.to_string();
  EXPECT_GE(p.line, 16);
  // Aliases that stay small are fine (the unknown keys are reported, not expanded for ever).
  const auto small = parse_problems(kBase + "x: &a [1, 2]\ny: *a\n");
  expect_problem(small, "x", 16, "unknown key");
}

TEST(ScenarioYamlHostileTest, alias_inside_its_own_anchor_is_a_cycle_and_refused) {
  // yaml-cpp links *c to the node being built: a cyclic tree (found by fuzz_scenario as an
  // out-of-memory: its copy went 500 levels deep, a thousand nodes a level, ten times over).
  for (const std::string cycle : {"d: &c [1, *c]\n", "d: &m {k: [*m]}\n", "d: &o [[[*o]]]\n"}) {
    const Problem p = syntax_problem(kBase + cycle);
    EXPECT_NE(p.message.find("an alias refers to a node that contains it"), std::string::npos)
        << p.to_string();
    EXPECT_EQ(p.line, 16) << cycle;
  }
  // An alias to a finished node of the same name, defined again later, is fine.
  expect_problem(parse_problems(kBase + "x: &c [1]\ny: [*c, &c [2], *c]\n"), "x", 16,
                 "unknown key");
}

TEST(ScenarioYamlHostileTest, deep_nesting_is_a_syntax_error_naming_the_depth) {
  const Problem flow = syntax_problem("name: " + std::string(100000, '['));
  EXPECT_NE(flow.message.find("nested too deeply"), std::string::npos) << flow.to_string();
  std::string block = "name: t\n";
  for (int i = 0; i < 2000; ++i) block += std::string(static_cast<std::size_t>(i), ' ') + "a:\n";
  const Problem nested = syntax_problem(block);
  EXPECT_NE(nested.message.find("nested too deeply"), std::string::npos) << nested.to_string();
  EXPECT_GT(nested.line, 1);
}

TEST(ScenarioYamlHostileTest, many_documents_are_refused) {
  const Problem p = syntax_problem(kBase + [] {
    std::string docs;
    for (int i = 0; i < 2000; ++i) docs += "---\n";
    return docs;
  }());
  EXPECT_NE(p.message.find("more than 1000 YAML documents"), std::string::npos) << p.to_string();
}

TEST(ScenarioYamlHostileTest, bom_and_crlf_read_as_plain_text) {
  std::string crlf;
  for (const char c : kBase) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  const Scenario plain = parse_scenario(kBase, "s.yaml");
  for (const std::string& text : {"\xEF\xBB\xBF" + kBase, crlf, "\xEF\xBB\xBF" + crlf}) {
    const Scenario s = parse_scenario(text, "s.yaml");
    EXPECT_EQ(s.name, plain.name);
    EXPECT_EQ(s.horizon, plain.horizon);
    ASSERT_EQ(s.stages.size(), plain.stages.size());
    EXPECT_EQ(s.stages[0].name, "lead");
    EXPECT_EQ(s.where.of("arrivals"), plain.where.of("arrivals"));
    EXPECT_NO_THROW((void)compile(s));
  }
}

TEST(ScenarioYamlHostileTest, nan_and_inf_parameters_are_refused_with_their_field) {
  for (const char* value : {".nan", ".inf", "-.inf", "1e400", "-0"}) {
    try {
      (void)compile(
          parse_scenario(edit("dwell: {dist: exponential, mean: 7}",
                              std::string("dwell: {dist: exponential, mean: ") + value + "}"),
                         "s.yaml"));
      ADD_FAILURE() << "compile accepted mean " << value;
    } catch (const InputError& e) {
      EXPECT_EQ(e.problems().front().field, "stages.lead.dwell.mean") << e.what();
      EXPECT_EQ(e.problems().front().line, 7) << e.what();
    }
  }
}

// ---- files -------------------------------------------------------------------------------------

/// A file in a fresh temporary directory, removed with the fixture.
class ScenarioFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lcsim_yaml_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }
  std::filesystem::path dir_;
};

TEST_F(ScenarioFileTest, load_scenario_reads_file) {
  const std::string path = write("base.yaml", kBase);
  const Scenario s = load_scenario(path);
  EXPECT_EQ(s.file, path);
  EXPECT_EQ(s.source, kBase);
  EXPECT_EQ(s.stages.size(), 3U);
}

TEST_F(ScenarioFileTest, load_scenario_reports_missing_file) {
  const std::string path = (dir_ / "missing.yaml").string();
  try {
    (void)load_scenario(path);
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_NE(std::string(e.what()).find("cannot read file"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
  EXPECT_THROW((void)load_scenario(dir_.string()), InputError);
}

// /dev/zero was read until memory ran out ("internal error: std::bad_alloc"), a FIFO blocked for
// ever: only regular files of at most kMaxScenarioBytes are read, as scenarios and as bases.
TEST_F(ScenarioFileTest, load_scenario_refuses_devices_fifos_and_huge_files) {
  const auto message = [](const std::string& path) -> std::string {
    try {
      (void)load_scenario(path);
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), path);
      EXPECT_EQ(e.line(), 0);
      return e.problems().front().message;
    }
    ADD_FAILURE() << "no InputError for " << path;
    return "";
  };
  EXPECT_EQ(message("/dev/zero"), "cannot read file: not a regular file (a device)");
  const std::string fifo = (dir_ / "fifo.yaml").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(message(fifo), "cannot read file: not a regular file (a FIFO)");
  EXPECT_EQ(message(dir_.string()), "cannot read file: a directory, not a file");
  const std::string huge = (dir_ / "huge.yaml").string();
  std::ofstream(huge, std::ios::binary) << kBase;
  std::filesystem::resize_file(huge, kMaxScenarioBytes + 1);  // sparse: no disk used
  EXPECT_EQ(message(huge).rfind("cannot read file: larger than 64 MiB", 0), 0U) << message(huge);
  const auto problems = validate_file("/dev/zero");
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].message, "cannot read file: not a regular file (a device)");
  // A variant whose base is one of them.
  for (const std::string& base : {std::string("/dev/zero"), fifo}) {
    const std::string variant = write("v.yaml", "extends: " + base + "\nchanges: {horizon: 5}\n");
    try {
      (void)load_scenario(variant);
      ADD_FAILURE() << "no InputError for a base " << base;
    } catch (const InputError& e) {
      EXPECT_EQ(e.field(), "extends") << e.what();
      EXPECT_NE(std::string(e.what()).find("cannot read the base scenario"), std::string::npos)
          << e.what();
    }
  }
}

TEST_F(ScenarioFileTest, load_scenario_names_the_file_in_problems) {
  const std::string path = write("bad.yaml", edit("horizon: 100", "horizon: abc"));
  try {
    (void)load_scenario(path);
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.problems().at(0).file, path);
    EXPECT_EQ(e.problems().at(0).line, 2);
  }
}

TEST_F(ScenarioFileTest, validate_file_reports_unreadable_file) {
  const auto problems = validate_file((dir_ / "nope.yaml").string());
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_NE(problems[0].to_string().find("nope.yaml"), std::string::npos);
  EXPECT_NE(problems[0].message.find("cannot read file"), std::string::npos);
}

TEST_F(ScenarioFileTest, validate_file_reports_parse_then_check_problems) {
  const auto parse = validate_file(write("p.yaml", kBase + "oops: 1\n"));
  ASSERT_EQ(parse.size(), 1U);
  EXPECT_EQ(parse[0].field, "oops");
  EXPECT_EQ(parse[0].line, 16);

  const auto semantic = validate_file(write("c.yaml", edit("won: customer", "won: custmer")));
  ASSERT_EQ(semantic.size(), 1U);
  EXPECT_EQ(semantic[0].field, "won");
  EXPECT_EQ(semantic[0].line, 4);
  EXPECT_NE(semantic[0].message.find("did you mean 'customer'?"), std::string::npos);

  const auto warning = validate_file(write("w.yaml", edit("  lost: {absorbing: true}\n",
                                                          "  lost: {absorbing: true}\n"
                                                          "  orphan: {absorbing: true}\n")));
  ASSERT_EQ(warning.size(), 1U);
  EXPECT_TRUE(warning[0].warning);
  EXPECT_EQ(warning[0].field, "stages.orphan");

  EXPECT_TRUE(validate_file(write("ok.yaml", kBase)).empty());
}

// ---- writing -----------------------------------------------------------------------------------

void expect_same_where_free(const NextSpec& a, const NextSpec& b) { EXPECT_EQ(a.probs, b.probs); }

void expect_same(const std::optional<NextSpec>& a, const std::optional<NextSpec>& b) {
  ASSERT_EQ(a.has_value(), b.has_value());
  if (a) expect_same_where_free(*a, *b);
}

void expect_same(const std::optional<DwellSpec>& a, const std::optional<DwellSpec>& b) {
  ASSERT_EQ(a.has_value(), b.has_value());
  if (!a) return;
  EXPECT_EQ(a->dist, b->dist);
  EXPECT_EQ(a->params, b->params);
  EXPECT_EQ(a->values, b->values);
}

/// Field-by-field equality, ignoring Where, source and file.
void expect_same(const Scenario& a, const Scenario& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.horizon, b.horizon);
  EXPECT_EQ(a.report_every, b.report_every);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.replications, b.replications);
  EXPECT_EQ(a.won, b.won);
  EXPECT_EQ(a.converted_stages, b.converted_stages);
  ASSERT_EQ(a.stages.size(), b.stages.size());
  for (std::size_t i = 0; i < a.stages.size(); ++i) {
    SCOPED_TRACE("stage " + a.stages[i].name);
    EXPECT_EQ(a.stages[i].name, b.stages[i].name);
    EXPECT_EQ(a.stages[i].absorbing, b.stages[i].absorbing);
    expect_same(a.stages[i].dwell, b.stages[i].dwell);
    expect_same(a.stages[i].next, b.stages[i].next);
    EXPECT_EQ(a.stages[i].revenue_per_month, b.stages[i].revenue_per_month);
  }
  ASSERT_EQ(a.segments.size(), b.segments.size());
  for (std::size_t i = 0; i < a.segments.size(); ++i) {
    SCOPED_TRACE("segment " + a.segments[i].name);
    EXPECT_EQ(a.segments[i].name, b.segments[i].name);
    EXPECT_EQ(a.segments[i].share, b.segments[i].share);
    ASSERT_EQ(a.segments[i].stages.size(), b.segments[i].stages.size());
    for (std::size_t j = 0; j < a.segments[i].stages.size(); ++j) {
      const StageOverride& x = a.segments[i].stages[j];
      const StageOverride& y = b.segments[i].stages[j];
      EXPECT_EQ(x.stage, y.stage);
      expect_same(x.dwell, y.dwell);
      expect_same(x.next, y.next);
      EXPECT_EQ(x.revenue_per_month, y.revenue_per_month);
    }
  }
  ASSERT_EQ(a.arrivals.initial.size(), b.arrivals.initial.size());
  for (std::size_t i = 0; i < a.arrivals.initial.size(); ++i) {
    EXPECT_EQ(a.arrivals.initial[i].stage, b.arrivals.initial[i].stage);
    EXPECT_EQ(a.arrivals.initial[i].segment, b.arrivals.initial[i].segment);
    EXPECT_EQ(a.arrivals.initial[i].count, b.arrivals.initial[i].count);
  }
  ASSERT_EQ(a.arrivals.streams.size(), b.arrivals.streams.size());
  for (std::size_t i = 0; i < a.arrivals.streams.size(); ++i) {
    EXPECT_EQ(a.arrivals.streams[i].rate_per_day, b.arrivals.streams[i].rate_per_day);
    EXPECT_EQ(a.arrivals.streams[i].stage, b.arrivals.streams[i].stage);
    EXPECT_EQ(a.arrivals.streams[i].segment, b.arrivals.streams[i].segment);
    EXPECT_EQ(a.arrivals.streams[i].weekly_profile, b.arrivals.streams[i].weekly_profile);
  }
  EXPECT_EQ(a.money.discount_rate, b.money.discount_rate);
  ASSERT_EQ(a.money.one_off.size(), b.money.one_off.size());
  for (std::size_t i = 0; i < a.money.one_off.size(); ++i) {
    EXPECT_EQ(a.money.one_off[i].from, b.money.one_off[i].from);
    EXPECT_EQ(a.money.one_off[i].to, b.money.one_off[i].to);
    EXPECT_EQ(a.money.one_off[i].value, b.money.one_off[i].value);
  }
  ASSERT_EQ(a.touchpoints.size(), b.touchpoints.size());
  for (std::size_t i = 0; i < a.touchpoints.size(); ++i) {
    const TouchpointSpec& x = a.touchpoints[i];
    const TouchpointSpec& y = b.touchpoints[i];
    SCOPED_TRACE("touchpoint " + x.name);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.stages, y.stages);
    EXPECT_EQ(x.segments, y.segments);
    EXPECT_EQ(x.schedule.after_entry_days, y.schedule.after_entry_days);
    EXPECT_EQ(x.schedule.after_entry_every, y.schedule.after_entry_every);
    EXPECT_EQ(x.schedule.after_entry_start, y.schedule.after_entry_start);
    EXPECT_EQ(x.schedule.calendar_days, y.schedule.calendar_days);
    EXPECT_EQ(x.schedule.calendar_every, y.schedule.calendar_every);
    EXPECT_EQ(x.schedule.calendar_start, y.schedule.calendar_start);
    EXPECT_EQ(x.reach, y.reach);
    EXPECT_EQ(x.cost, y.cost);
    EXPECT_EQ(x.effect.move_to, y.effect.move_to);
    EXPECT_EQ(x.effect.move_probability, y.effect.move_probability);
    EXPECT_EQ(x.effect.window, y.effect.window);
    EXPECT_EQ(x.effect.hazard_factor, y.effect.hazard_factor);
    expect_same(x.effect.next, y.effect.next);
  }
  ASSERT_EQ(a.resources.size(), b.resources.size());
  for (std::size_t i = 0; i < a.resources.size(); ++i) {
    const ResourceSpec& x = a.resources[i];
    const ResourceSpec& y = b.resources[i];
    SCOPED_TRACE("resource " + x.name);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.servers, y.servers);
    EXPECT_EQ(x.weekdays, y.weekdays);
    ASSERT_EQ(x.changes.size(), y.changes.size());
    for (std::size_t k = 0; k < x.changes.size(); ++k) {
      EXPECT_EQ(x.changes[k].day, y.changes[k].day);
      EXPECT_EQ(x.changes[k].servers, y.changes[k].servers);
    }
    EXPECT_EQ(x.serves, y.serves);
    expect_same(x.service, y.service);
    expect_same(x.handoff, y.handoff);
    EXPECT_EQ(x.discipline, y.discipline);
    EXPECT_EQ(x.priority, y.priority);
    expect_same(x.patience, y.patience);
    EXPECT_EQ(x.abandon_to, y.abandon_to);
    expect_same(x.outcome, y.outcome);
    ASSERT_EQ(x.decay.has_value(), y.decay.has_value());
    if (x.decay) {
      EXPECT_EQ(x.decay->stage, y.decay->stage);
      EXPECT_EQ(x.decay->half_life, y.decay->half_life);
      EXPECT_EQ(x.decay->to, y.decay->to);
    }
    EXPECT_EQ(x.cost_per_server_day, y.cost_per_server_day);
  }
  ASSERT_EQ(a.referrals.size(), b.referrals.size());
  for (std::size_t i = 0; i < a.referrals.size(); ++i) {
    SCOPED_TRACE("referral " + a.referrals[i].name);
    EXPECT_EQ(a.referrals[i].name, b.referrals[i].name);
    EXPECT_EQ(a.referrals[i].from, b.referrals[i].from);
    EXPECT_EQ(a.referrals[i].rate_per_day, b.referrals[i].rate_per_day);
    EXPECT_EQ(a.referrals[i].to, b.referrals[i].to);
    EXPECT_EQ(a.referrals[i].segment, b.referrals[i].segment);
  }
  EXPECT_EQ(a.max_customers, b.max_customers);
}

const std::string kRich =
    "name: \"rich: 'quoted' \\\"name\\\"\"\n"
    "description: \"line one\\nline two \\u00e9 # not a comment\"\n"
    "horizon: 730.25\n"
    "report_every: 7\n"
    "seed: 42\n"
    "replications: 20\n"
    "won: customer\n"
    "converted_stages: [customer]\n"
    "stages:\n"
    "  awareness:\n"
    "    dwell: {dist: lognormal, mean: 12.3, sd: 4.56}\n"
    "    next: {lead: 0.1, awareness: 0.2, lost: 0.7}\n"
    "  lead:\n"
    "    dwell: {dist: weibull, shape: 1.7, median: 9.1}\n"
    "    next: {\"123\": 0.3333333333333333, customer: 0.3333333333333333, lost: "
    "0.3333333333333334}\n"
    "  \"123\":\n"
    "    dwell: {dist: gamma, shape: 2, scale: 0.1}\n"
    "    next: {customer: 0.1, lost: 0.9}\n"
    "  customer:\n"
    "    dwell: {dist: empirical, values: [30, 60.5, 90, 1e-300]}\n"
    "    next: {churned: 1, lead: 0}\n"
    "    revenue_per_month: 123.456789\n"
    "  churned: {absorbing: true}\n"
    "  lost: {absorbing: true, revenue_per_month: 0.1}\n"
    "segments:\n"
    "  icp:\n"
    "    share: 0.4\n"
    "    stages:\n"
    "      lead: {next: {customer: 0.5, lost: 0.5}, revenue_per_month: 0}\n"
    "      customer: {dwell: {dist: fixed, days: 365.25}, revenue_per_month: 1000}\n"
    "      \"123\": {}\n"
    "  \"true\": {share: 0.6}\n"
    "arrivals:\n"
    "  initial:\n"
    "    - {stage: awareness, count: 5000}\n"
    "    - {stage: customer, count: 100, segment: icp}\n"
    "  streams:\n"
    "    - stage: awareness\n"
    "      rate_per_day: 40.1\n"
    "      weekly_profile: [1.2, 1.2, 1.1, 1.0, 0.9, 0.3, 0.3]\n"
    "      segment: \"true\"\n"
    "    - {stage: lead, rate_per_day: 0.7}\n"
    "money:\n"
    "  discount_rate: 0.08\n"
    "  one_off:\n"
    "    - {to: customer, value: 2000}\n"
    "    - {from: lead, to: customer, value: -500.25}\n"
    "touchpoints:\n"
    "  webinar:\n"
    "    stages: [lead, \"123\"]\n"
    "    segments: [icp]\n"
    "    schedule:\n"
    "      after_entry: {days: [1, 3], every: 14, start: 14}\n"
    "      calendar: {days: [10, 40.5], every: 7, start: 7}\n"
    "    reach: 0.25\n"
    "    cost: 40\n"
    "    effect:\n"
    "      move: {to: customer, probability: 0.2}\n"
    "      window: 14\n"
    "      hazard_factor: 1.5\n"
    "      next: {customer: 0.5, lead: 0.1, lost: 0.4}\n"
    "  mail:\n"
    "    stages: [awareness]\n"
    "    schedule: {calendar: {every: 30}}\n";

TEST(ScenarioYamlTest, to_yaml_round_trips_a_rich_scenario) {
  const Scenario a = parse_scenario(kRich, "rich.yaml");
  EXPECT_EQ(a.stages[2].name, "123");
  EXPECT_EQ(a.segments[1].name, "true");
  EXPECT_EQ(a.converted_stages, (std::vector<std::string>{"customer"}));
  const std::string text = to_yaml(a);
  SCOPED_TRACE(text);
  const Scenario b = parse_scenario(text, "again.yaml");
  expect_same(a, b);
  EXPECT_EQ(to_yaml(b), text);  // a fixed point
  EXPECT_NO_THROW((void)compile(b));
}

TEST(ScenarioYamlTest, to_yaml_round_trips_numbers_exactly) {
  Scenario a = parse_scenario(kBase);
  a.horizon = 1.0 / 3.0;
  a.report_every = 1e-300;
  a.money.discount_rate = 0.1 + 0.2;
  a.stages[0].revenue_per_month = 123456789.123456789;
  a.stages[0].dwell->params["mean"] = 4.9406564584124654e-324;  // smallest subnormal
  a.stages[1].dwell->params["mean"] = std::numeric_limits<double>::max();
  a.arrivals.initial[0].count = -9007199254740993LL;
  a.seed = 18446744073709551615ULL;
  a.replications = -2;
  const Scenario b = parse_scenario(to_yaml(a));
  expect_same(a, b);
  Scenario c = a;
  c.horizon = std::numeric_limits<double>::infinity();
  c.report_every = -std::numeric_limits<double>::infinity();
  const Scenario d = parse_scenario(to_yaml(c));
  EXPECT_EQ(d.horizon, c.horizon);
  EXPECT_EQ(d.report_every, c.report_every);
}

TEST(ScenarioYamlTest, to_yaml_round_trips_awkward_names) {
  Scenario a = parse_scenario(kBase);
  a.name = "null";
  a.description = "tab\there, colon: dash - hash # quote \" backslash \\ bell \x07 ~";
  a.won = "- not: a list";
  a.stages[1].name = a.won;
  a.stages[0].next->probs[0].first = a.won;
  a.stages[2].name = "{lost}";
  a.stages[0].next->probs[1].first = "{lost}";
  a.stages[1].next->probs[0].first = "{lost}";
  const Scenario b = parse_scenario(to_yaml(a));
  expect_same(a, b);
  EXPECT_NO_THROW((void)compile(b));
}

// ---- resources and referrals -------------------------------------------------------------------

// kBase (lines 1-15) plus a served sql stage, two teams and referrals.
const std::string kTeam =
    "name: t\n"                                                                         //  1
    "horizon: 100\n"                                                                    //  2
    "report_every: 10\n"                                                                //  3
    "won: customer\n"                                                                   //  4
    "max_customers: 5000\n"                                                             //  5
    "stages:\n"                                                                         //  6
    "  lead:\n"                                                                         //  7
    "    dwell: {dist: exponential, mean: 7}\n"                                         //  8
    "    next: {sql: 0.5, lost: 0.5}\n"                                                 //  9
    "  sql:\n"                                                                          // 10
    "    next: {customer: 0.4, lead: 0.2, lost: 0.4}\n"                                 // 11
    "  customer:\n"                                                                     // 12
    "    dwell: {mean: 300}\n"                                                          // 13
    "    next: {advocate: 0.2, lost: 0.8}\n"                                            // 14
    "  advocate:\n"                                                                     // 15
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
    "    changes:\n"                                                                    // 27
    "      - {day: 30, servers: 6}\n"                                                   // 28
    "      - day: 60.5\n"                                                               // 29
    "        servers: 2\n"                                                              // 30
    "    serves: [sql]\n"                                                               // 31
    "    handoff: {dist: fixed, days: 0.5}\n"                                           // 32
    "    service: {dist: exponential, mean: 0.25}\n"                                    // 33
    "    discipline: priority\n"                                                        // 34
    "    priority: [icp, smb]\n"                                                        // 35
    "    patience: {dist: gamma, shape: 2, mean: 3}\n"                                  // 36
    "    abandon_to: lead\n"                                                            // 37
    "    outcome:\n"                                                                    // 38
    "      next: {customer: 0.5, lead: 0.2, lost: 0.3}\n"                               // 39
    "      decay:\n"                                                                    // 40
    "        stage: customer\n"                                                         // 41
    "        half_life: 2\n"                                                            // 42
    "        to: lost\n"                                                                // 43
    "    cost_per_server_day: 400\n"                                                    // 44
    "  success:\n"                                                                      // 45
    "    weekdays: [1, 1, 1, 1, 2, 0, 0]\n"                                             // 46
    "    serves: [advocate]\n"                                                          // 47
    "    service: {mean: 1}\n"                                                          // 48
    "referrals:\n"                                                                      // 49
    "  word_of_mouth: {from: advocate, rate_per_day: 0.005, to: lead, segment: icp}\n"  // 50
    "  buzz:\n"                                                                         // 51
    "    from: customer\n"                                                              // 52
    "    rate_per_day: 0.001\n"                                                         // 53
    "    to: lead\n";                                                                   // 54

std::string team(const std::string& from, const std::string& to) {
  std::string text = kTeam;
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "fragment not in kTeam: " << from;
  if (at != std::string::npos) text = text.substr(0, at) + to + text.substr(at + from.size());
  return text;
}

TEST(ScenarioYamlTeamTest, parses_resources_and_referrals) {
  const Scenario s = parse_scenario(kTeam, "s.yaml");
  EXPECT_EQ(s.max_customers, 5000);
  EXPECT_FALSE(s.stages[1].dwell.has_value());
  ASSERT_EQ(s.resources.size(), 2U);
  const ResourceSpec& r = s.resources[0];
  EXPECT_EQ(r.name, "sales");
  EXPECT_EQ(r.servers, 4);
  EXPECT_TRUE(r.weekdays.empty());
  ASSERT_EQ(r.changes.size(), 2U);
  EXPECT_EQ(r.changes[0].day, 30.0);
  EXPECT_EQ(r.changes[0].servers, 6);
  EXPECT_EQ(r.changes[1].day, 60.5);
  EXPECT_EQ(r.changes[1].servers, 2);
  EXPECT_EQ(r.serves, (std::vector<std::string>{"sql"}));
  ASSERT_TRUE(r.handoff.has_value());
  EXPECT_EQ(r.handoff->dist, "fixed");
  EXPECT_EQ(r.handoff->params.at("days"), 0.5);
  ASSERT_TRUE(r.service.has_value());
  EXPECT_EQ(r.service->params.at("mean"), 0.25);
  EXPECT_EQ(r.discipline, "priority");
  EXPECT_EQ(r.priority, (std::vector<std::string>{"icp", "smb"}));
  ASSERT_TRUE(r.patience.has_value());
  EXPECT_EQ(r.patience->dist, "gamma");
  EXPECT_EQ(r.abandon_to, "lead");
  ASSERT_TRUE(r.outcome.has_value());
  ASSERT_EQ(r.outcome->probs.size(), 3U);
  EXPECT_EQ(r.outcome->probs[1], (std::pair<std::string, double>{"lead", 0.2}));
  ASSERT_TRUE(r.decay.has_value());
  EXPECT_EQ(r.decay->stage, "customer");
  EXPECT_EQ(r.decay->half_life, 2.0);
  EXPECT_EQ(r.decay->to, "lost");
  EXPECT_EQ(r.cost_per_server_day, 400.0);
  // Defaults.
  const ResourceSpec& d = s.resources[1];
  EXPECT_FALSE(d.servers.has_value());
  EXPECT_EQ(d.weekdays, (std::vector<int>{1, 1, 1, 1, 2, 0, 0}));
  EXPECT_TRUE(d.changes.empty());
  EXPECT_FALSE(d.handoff.has_value());
  EXPECT_EQ(d.discipline, "fifo");
  EXPECT_TRUE(d.priority.empty());
  EXPECT_FALSE(d.patience.has_value());
  EXPECT_EQ(d.abandon_to, "");
  EXPECT_FALSE(d.outcome.has_value());
  EXPECT_FALSE(d.decay.has_value());
  EXPECT_EQ(d.cost_per_server_day, 0.0);
  ASSERT_EQ(s.referrals.size(), 2U);
  EXPECT_EQ(s.referrals[0].name, "word_of_mouth");
  EXPECT_EQ(s.referrals[0].from, "advocate");
  EXPECT_EQ(s.referrals[0].rate_per_day, 0.005);
  EXPECT_EQ(s.referrals[0].to, "lead");
  EXPECT_EQ(s.referrals[0].segment, "icp");
  EXPECT_EQ(s.referrals[1].name, "buzz");
  EXPECT_EQ(s.referrals[1].segment, "");
  // Without the keys: no teams, no referrals, the default guard.
  const Scenario base = parse_scenario(kBase);
  EXPECT_TRUE(base.resources.empty());
  EXPECT_TRUE(base.referrals.empty());
  EXPECT_EQ(base.max_customers, 100'000'000);
}

TEST(ScenarioYamlTeamTest, records_lines_of_resources_and_referrals) {
  const Scenario s = parse_scenario(kTeam, "s.yaml");
  EXPECT_EQ(s.where.of("max_customers"), 5);
  EXPECT_EQ(s.where.of("resources"), 24);
  EXPECT_EQ(s.where.of("referrals"), 49);
  const ResourceSpec& r = s.resources[0];
  EXPECT_EQ(r.where.line, 25);
  EXPECT_EQ(r.where.of("servers"), 26);
  EXPECT_EQ(r.where.of("changes"), 27);
  EXPECT_EQ(r.changes[0].where.line, 28);
  EXPECT_EQ(r.changes[1].where.line, 29);
  EXPECT_EQ(r.changes[1].where.of("servers"), 30);
  EXPECT_EQ(r.where.of("serves"), 31);
  EXPECT_EQ(r.handoff->where.line, 32);
  EXPECT_EQ(r.service->where.of("mean"), 33);
  EXPECT_EQ(r.where.of("discipline"), 34);
  EXPECT_EQ(r.where.of("priority"), 35);
  EXPECT_EQ(r.patience->where.line, 36);
  EXPECT_EQ(r.where.of("abandon_to"), 37);
  EXPECT_EQ(r.where.of("outcome"), 38);
  EXPECT_EQ(r.outcome_where.line, 38);
  EXPECT_EQ(r.outcome_where.of("next"), 39);
  EXPECT_EQ(r.outcome->where.of("lost"), 39);
  EXPECT_EQ(r.outcome_where.of("decay"), 40);
  EXPECT_EQ(r.decay->where.line, 40);
  EXPECT_EQ(r.decay->where.of("half_life"), 42);
  EXPECT_EQ(r.decay->where.of("to"), 43);
  EXPECT_EQ(r.where.of("cost_per_server_day"), 44);
  EXPECT_EQ(s.resources[1].where.of("weekdays"), 46);
  EXPECT_EQ(s.referrals[0].where.line, 50);
  EXPECT_EQ(s.referrals[0].where.of("segment"), 50);
  EXPECT_EQ(s.referrals[1].where.line, 51);
  EXPECT_EQ(s.referrals[1].where.of("to"), 54);
}

TEST(ScenarioYamlTeamTest, to_yaml_round_trips_resources_and_referrals) {
  const Scenario a = parse_scenario(kTeam, "team.yaml");
  const std::string text = to_yaml(a);
  SCOPED_TRACE(text);
  EXPECT_NE(text.find("resources:\n  \"sales\":\n    servers: 4\n"), std::string::npos);
  EXPECT_NE(text.find("max_customers: 5000\n"), std::string::npos);
  const Scenario b = parse_scenario(text, "again.yaml");
  expect_same(a, b);
  EXPECT_EQ(to_yaml(b), text);  // a fixed point
  EXPECT_NO_THROW((void)compile(b));
  // Awkward values survive too; the default max_customers is not written.
  Scenario c = a;
  c.max_customers = 100'000'000;
  c.resources[0].cost_per_server_day = 0.1 + 0.2;
  c.resources[0].changes[0].day = 1.0 / 3.0;
  c.resources[0].name = "sales: \"east\"";
  c.referrals[1].rate_per_day = 4.9406564584124654e-324;
  c.referrals[1].segment = "smb";
  c.resources[1].outcome.reset();
  c.resources[1].decay = DecaySpec{"lost", 0.5, "customer", {}};
  const std::string c_text = to_yaml(c);
  EXPECT_EQ(c_text.find("max_customers"), std::string::npos);
  const Scenario d = parse_scenario(c_text);
  expect_same(c, d);
  EXPECT_EQ(to_yaml(d), c_text);
}

TEST(ScenarioYamlTeamTest, reports_unknown_keys_with_suggestions) {
  const auto top = parse_problems(team("max_customers: 5000", "max_customer: 5000"));
  expect_problem(top, "max_customer", 5, "did you mean 'max_customers'?");
  const auto resource = parse_problems(team("    servers: 4\n", "    sevrers: 4\n"));
  expect_problem(
      resource, "resources.sales.sevrers", 26,
      "unknown key 'sevrers' (expected one of: abandon_to, changes, cost_per_server_day, "
      "discipline, handoff, outcome, patience, priority, servers, serves, service, "
      "weekdays); did you mean 'servers'?");
  expect_problem(
      parse_problems(team("      - {day: 30, servers: 6}", "      - {days: 30, servers: 6}")),
      "resources.sales.changes[0].days", 28, "did you mean 'day'?");
  expect_problem(parse_problems(team("      next: {customer", "      nxt: {customer")),
                 "resources.sales.outcome.nxt", 39, "did you mean 'next'?");
  expect_problem(parse_problems(team("        half_life: 2", "        halflife: 2")),
                 "resources.sales.outcome.decay.halflife", 42, "did you mean 'half_life'?");
  expect_problem(parse_problems(team("    rate_per_day: 0.001", "    rate_per_dy: 0.001")),
                 "referrals.buzz.rate_per_dy", 53, "did you mean 'rate_per_day'?");
  expect_problem(parse_problems(team("    service: {mean: 1}", "    service: {mean: 1, sahpe: 2}")),
                 "resources.success.service.sahpe", 48, "did you mean 'shape'?");
}

TEST(ScenarioYamlTeamTest, reports_missing_required_keys) {
  const auto resource =
      parse_problems(team("    serves: [advocate]\n    service: {mean: 1}\n", ""));
  expect_problem(resource, "resources.success.serves", 45, "missing required key 'serves'");
  expect_problem(resource, "resources.success.service", 45, "missing required key 'service'");
  const auto change = parse_problems(team("      - {day: 30, servers: 6}", "      - {}"));
  expect_problem(change, "resources.sales.changes[0].day", 28, "missing required key 'day'");
  expect_problem(change, "resources.sales.changes[0].servers", 28,
                 "missing required key 'servers'");
  const auto decay = parse_problems(
      team("        stage: customer\n        half_life: 2\n        to: lost\n", "        {}\n"));
  expect_problem(decay, "resources.sales.outcome.decay.stage", 40, "missing required key 'stage'");
  expect_problem(decay, "resources.sales.outcome.decay.to", 40, "missing required key 'to'");
  const auto decay_keys = parse_problems(team("        half_life: 2\n", ""));
  expect_problem(decay_keys, "resources.sales.outcome.decay.half_life", 40,
                 "missing required key 'half_life'");
  const auto referral = parse_problems(
      team("{from: advocate, rate_per_day: 0.005, to: lead, segment: icp}", "{segment: icp}"));
  expect_problem(referral, "referrals.word_of_mouth.from", 50, "missing required key 'from'");
  expect_problem(referral, "referrals.word_of_mouth.rate_per_day", 50,
                 "missing required key 'rate_per_day'");
  expect_problem(referral, "referrals.word_of_mouth.to", 50, "missing required key 'to'");
}

TEST(ScenarioYamlTeamTest, reports_wrong_types) {
  expect_problem(parse_problems(team("servers: 4", "servers: 2.5")), "resources.sales.servers", 26,
                 "expected an integer, got \"2.5\"");
  expect_problem(parse_problems(team("[1, 1, 1, 1, 2, 0, 0]", "[1, 1, x, 1, 2, 0, 0]")),
                 "resources.success.weekdays[2]", 46, "expected an integer, got \"x\"");
  expect_problem(parse_problems(team("[1, 1, 1, 1, 2, 0, 0]", "5")), "resources.success.weekdays",
                 46, "expected a sequence, got \"5\"");
  expect_problem(
      parse_problems(team("    changes:\n      - {day: 30, servers: 6}\n      - day: 60.5\n"
                          "        servers: 2\n",
                          "    changes: {day: 1}\n")),
      "resources.sales.changes", 27, "expected a sequence, got a mapping");
  expect_problem(parse_problems(team("serves: [sql]", "serves: sql")), "resources.sales.serves", 31,
                 "expected a sequence, got \"sql\"");
  expect_problem(parse_problems(team("discipline: priority", "discipline: [priority]")),
                 "resources.sales.discipline", 34, "expected a string, got a sequence");
  expect_problem(parse_problems(team("half_life: 2", "half_life: two")),
                 "resources.sales.outcome.decay.half_life", 42, "expected a number, got \"two\"");
  expect_problem(parse_problems(team("    outcome:\n", "    outcome: 3\n    unused:\n")),
                 "resources.sales.outcome", 38, "expected a mapping, got \"3\"");
  expect_problem(parse_problems(team("max_customers: 5000", "max_customers: lots")),
                 "max_customers", 5, "expected an integer, got \"lots\"");
  expect_problem(parse_problems(team("resources:\n", "resources: []\nx:\n")), "resources", 24,
                 "expected a mapping, got a sequence");
  expect_problem(parse_problems(team("rate_per_day: 0.005", "rate_per_day: \"0.005\"")),
                 "referrals.word_of_mouth.rate_per_day", 50, "expected a number, got \"0.005\"");
}

}  // namespace
}  // namespace lcsim
