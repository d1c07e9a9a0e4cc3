#include "lcsim/io/scenario_changes.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "lcsim/core/error.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/model/compile.hpp"

namespace lcsim {
namespace {

const std::string kBase =
    "name: t  # a comment\n"
    "horizon: 100\n"
    "report_every: 10\n"
    "won: customer\n"
    "stages:\n"
    "  lead:\n"
    "    dwell: {dist: exponential, mean: 7}\n"
    "    next: {customer: 0.5, lost: 0.5}\n"
    "  customer:\n"
    "    dwell: {mean: 300}\n"
    "    next: {lost: 1}\n"
    "  lost: {absorbing: true}\n"
    "segments:\n"
    "  icp: {share: 0.4}\n"
    "  other: {share: 0.6}\n"
    "arrivals:\n"
    "  initial:\n"
    "    - {stage: lead, count: 100}\n"
    "  streams: [{stage: lead, rate_per_day: 5, weekly_profile: [1, 1, 1, 1, 1, 0.5, 0.5]}]\n"
    "touchpoints:\n"
    "  webinar:\n"
    "    stages: [lead]\n"
    "    schedule: {calendar: {every: 7}}\n"
    "    reach: 0.25\n"
    "    effect: {move: {to: customer, probability: 0.2}}\n";

/// The scenario after `changes`, parsed and compiled (a test failure if either throws).
Scenario changed(const std::vector<Change>& changes) {
  const std::string text = apply_changes(kBase, changes, "s.yaml");
  Scenario scenario = parse_scenario(text, "s.yaml (changed)");
  EXPECT_NO_THROW((void)compile(scenario)) << text;
  return scenario;
}

/// The single problem of the InputError that apply_changes throws.
Problem failure(const std::vector<Change>& changes) {
  try {
    (void)apply_changes(kBase, changes, "s.yaml");
  } catch (const InputError& e) {
    EXPECT_EQ(e.problems().size(), 1U);
    return e.problems().front();
  }
  ADD_FAILURE() << "apply_changes did not throw";
  return {};
}

const TouchpointSpec& webinar(const Scenario& s) { return s.touchpoints.at(0); }

TEST(ScenarioChangesTest, NoChangesKeepsTheScenario) {
  const std::string text = apply_changes(kBase, {}, "s.yaml");
  EXPECT_EQ(to_yaml(parse_scenario(text)), to_yaml(parse_scenario(kBase)));
  EXPECT_EQ(text.find("comment"), std::string::npos);  // comments are not kept
  // Keys keep their order and flow mappings stay flow.
  EXPECT_LT(text.find("horizon"), text.find("report_every"));
  EXPECT_LT(text.find("report_every"), text.find("won"));
  EXPECT_NE(text.find("next: {customer: 0.5, lost: 0.5}"), std::string::npos) << text;
}

TEST(ScenarioChangesTest, SetsAScalar) {
  const Scenario s = changed({{"touchpoints.webinar.reach", "0.3"}, {"horizon", "200"}});
  EXPECT_DOUBLE_EQ(webinar(s).reach, 0.3);
  EXPECT_DOUBLE_EQ(s.horizon, 200.0);
  EXPECT_DOUBLE_EQ(s.segments.at(0).share, 0.4);
  const Scenario shares = changed({{"segments.icp.share", "0.5"}, {"segments.other.share", "0.5"}});
  EXPECT_DOUBLE_EQ(shares.segments.at(0).share, 0.5);
}

TEST(ScenarioChangesTest, ReplacesAMapping) {
  const Scenario s = changed({{"stages.lead.next", "{customer: 0.7, lost: 0.3}"}});
  ASSERT_TRUE(s.stages.at(0).next);
  const auto& probs = s.stages.at(0).next->probs;
  ASSERT_EQ(probs.size(), 2U);
  EXPECT_EQ(probs[0].first, "customer");
  EXPECT_DOUBLE_EQ(probs[0].second, 0.7);
  // A leaf inside a mapping, and a later change sees the earlier one.
  const Scenario t = changed({{"stages.lead.next", "{customer: 0.7, lost: 0.3}"},
                              {"stages.lead.next.customer", "0.6"},
                              {"stages.lead.next.lost", "0.4"}});
  EXPECT_DOUBLE_EQ(t.stages.at(0).next->probs[0].second, 0.6);
}

TEST(ScenarioChangesTest, AddsANewLeafUnderAnExistingMapping) {
  const Scenario s = changed({{"touchpoints.webinar.cost", "40"}, {"description", "\"a b: c\""}});
  EXPECT_DOUBLE_EQ(webinar(s).cost, 40.0);
  EXPECT_EQ(s.description, "a b: c");
  const std::string text = apply_changes(kBase, {{"touchpoints.webinar.cost", "40"}}, "s.yaml");
  EXPECT_GT(text.find("cost: 40"), text.find("reach: 0.25"));  // appended after the existing keys
  // A misspelt new leaf is the schema's to catch, with its own did-you-mean.
  const std::string typo = apply_changes(kBase, {{"touchpoints.webinar.reech", "0.3"}}, "s.yaml");
  try {
    (void)parse_scenario(typo, "s.yaml");
    ADD_FAILURE() << "reech accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "touchpoints.webinar.reech");
    EXPECT_NE(std::string(e.what()).find("did you mean 'reach'?"), std::string::npos) << e.what();
  }
}

TEST(ScenarioChangesTest, NullRemovesAField) {
  const Scenario s = changed({{"touchpoints", "~"}, {"segments", "null"}});
  EXPECT_TRUE(s.touchpoints.empty());
  EXPECT_TRUE(s.segments.empty());
  const Scenario t = changed({{"touchpoints.webinar.reach", "null"}});
  EXPECT_DOUBLE_EQ(webinar(t).reach, 1.0);  // back to the default
  // Removing an absent key of an existing mapping does nothing.
  EXPECT_EQ(apply_changes(kBase, {{"touchpoints.webinar.cost", "~"}}, "s.yaml"),
            apply_changes(kBase, {}, "s.yaml"));
  // A quoted ~ is a string, not a removal.
  const std::string text = apply_changes(kBase, {{"description", "'~'"}}, "s.yaml");
  EXPECT_EQ(parse_scenario(text).description, "~");
}

TEST(ScenarioChangesTest, ListItemsByIndex) {
  const Scenario s =
      changed({{"arrivals.initial[0].count", "250"}, {"arrivals.streams.0.rate_per_day", "9"}});
  EXPECT_EQ(s.arrivals.initial.at(0).count, 250);
  EXPECT_DOUBLE_EQ(s.arrivals.streams.at(0).rate_per_day, 9.0);
  const Scenario w = changed({{"arrivals.streams[0].weekly_profile[5]", "1"}});
  EXPECT_DOUBLE_EQ(w.arrivals.streams.at(0).weekly_profile.at(5), 1.0);
  const Scenario list = changed({{"touchpoints.webinar.stages", "[lead, customer]"}});
  EXPECT_EQ(webinar(list).stages, (std::vector<std::string>{"lead", "customer"}));
  const Scenario removed = changed({{"arrivals.initial.0", "~"}});
  EXPECT_TRUE(removed.arrivals.initial.empty());
  EXPECT_EQ(removed.arrivals.streams.size(), 1U);
}

TEST(ScenarioChangesTest, UnknownPathListsCloseMatches) {
  const Problem p = failure({{"touchpoint.webinar.reach", "0.3"}});
  EXPECT_EQ(p.file, "s.yaml");
  EXPECT_EQ(p.field, "touchpoint.webinar.reach");
  EXPECT_EQ(
      p.message.rfind(
          "unknown path 'touchpoint.webinar.reach'; did you mean 'touchpoints.webinar.reach'", 0),
      0U)
      << p.message;
  const Problem q = failure({{"stages.leed.next.customer", "0.3"}});
  EXPECT_NE(q.message.find("'stages.lead.next.customer'"), std::string::npos) << q.message;
  // Nothing close: the message says what is missing.
  const Problem r = failure({{"zzz.qqq", "1"}});
  EXPECT_EQ(r.message, "unknown path 'zzz.qqq' (no key 'zzz' at the top level)");
  // Descending into a scalar.
  const Problem s = failure({{"touchpoints.webinar.reach.value", "1"}});
  EXPECT_NE(s.message.find("'touchpoints.webinar.reach' is a value (0.25)"), std::string::npos)
      << s.message;
  EXPECT_NE(s.message.find("did you mean 'touchpoints.webinar.reach'"), std::string::npos)
      << s.message;
  // At most 5 suggestions.
  const Problem t = failure({{"stages.x.dwell.mean", "1"}});
  EXPECT_NE(t.message.find("did you mean"), std::string::npos) << t.message;
  std::size_t quotes = 0;
  for (const char c : t.message) quotes += c == '\'' ? 1 : 0;
  EXPECT_LE(quotes, 2U * 6U) << t.message;
}

TEST(ScenarioChangesTest, BadIndex) {
  const Problem p = failure({{"arrivals.initial[3].count", "1"}});
  EXPECT_EQ(p.field, "arrivals.initial[3].count");
  EXPECT_NE(p.message.find("'arrivals.initial' has 1 item (indices 0 to 0), no item 3"),
            std::string::npos)
      << p.message;
  EXPECT_NE(p.message.find("did you mean 'arrivals.initial[0].count'"), std::string::npos)
      << p.message;
  const Problem q = failure({{"arrivals.initial.first.count", "1"}});
  EXPECT_NE(q.message.find("is a list; expected an index"), std::string::npos) << q.message;
  const Problem r = failure({{"stages[0].dwell", "1"}});
  EXPECT_NE(r.message.find("'stages' is a mapping, not a list"), std::string::npos) << r.message;
  const Problem s = failure({{"arrivals.initial.1", "~"}});  // removing a missing item
  EXPECT_NE(s.message.find("no item 1"), std::string::npos) << s.message;
}

TEST(ScenarioChangesTest, MalformedPaths) {
  for (const std::string path : {"", "a..b", ".a", "a.", "a[x]", "a[1", "a]", "a.[0]", "a[0]b"}) {
    try {
      (void)apply_changes(kBase, {{path, "1"}}, "s.yaml");
      ADD_FAILURE() << "accepted path '" << path << "'";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(path.empty() ? "empty path" : "malformed path"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(ScenarioChangesTest, ValueThatIsNotYaml) {
  const Problem p = failure({{"stages.lead.next", "{customer: 0.5, lost"}});
  EXPECT_EQ(p.field, "stages.lead.next");
  EXPECT_NE(p.message.find("value '{customer: 0.5, lost' is not valid YAML"), std::string::npos)
      << p.message;
  const Problem q = failure({{"horizon", "1\n---\n2"}});
  EXPECT_NE(q.message.find("not one YAML value"), std::string::npos) << q.message;
}

TEST(ScenarioChangesTest, BaseTextThatIsNotYaml) {
  try {
    (void)apply_changes("a: [1\nb: 2\n", {{"a", "1"}}, "bad.yaml");
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "bad.yaml");
    EXPECT_NE(std::string(e.what()).find("YAML syntax error"), std::string::npos);
  }
  // An empty document becomes a mapping at its first key.
  EXPECT_EQ(apply_changes("", {{"name", "x"}}, "e.yaml"), "name: x\n");
}

TEST(ScenarioChangesTest, QuotedStringsStayStrings) {
  // A quoted "100" is a string, and stays one: the schema still rejects it as a horizon.
  const std::string text = apply_changes(kBase, {{"horizon", "\"100\""}}, "s.yaml");
  EXPECT_THROW((void)parse_scenario(text), InputError);
  const std::string name = apply_changes(kBase, {{"name", "\"yes\""}}, "s.yaml");
  EXPECT_EQ(parse_scenario(name).name, "yes");
}

TEST(ScenarioChangesTest, AliasesAreExpandedNotShared) {
  const std::string base =
      "a: &x {v: 1}\n"
      "b: *x\n";
  const std::string text = apply_changes(base, {{"a.v", "2"}}, "s.yaml");
  EXPECT_NE(text.find("a: {v: 2}"), std::string::npos) << text;
  EXPECT_NE(text.find("b: {v: 1}"), std::string::npos) << text;
}

TEST(ScenarioChangesTest, ScenarioPaths) {
  const std::vector<std::string> paths = scenario_paths("a: {b: 1, c: [x, {d: 2}]}\n");
  EXPECT_EQ(paths, (std::vector<std::string>{"a", "a.b", "a.c", "a.c[0]", "a.c[1]", "a.c[1].d"}));
}

TEST(ScenarioChangesTest, ParseChangesSplitsValues) {
  const ChangeValues a = parse_changes("touchpoints.webinar.reach=0.1,0.2, 0.3");
  EXPECT_EQ(a.path, "touchpoints.webinar.reach");
  EXPECT_EQ(a.values, (std::vector<std::string>{"0.1", "0.2", "0.3"}));
  const ChangeValues b = parse_changes("stages.lead.next={mql: 0.6, lost: 0.4}");
  EXPECT_EQ(b.values, (std::vector<std::string>{"{mql: 0.6, lost: 0.4}"}));
  const ChangeValues c = parse_changes("x=[1,3],[2,4]");
  EXPECT_EQ(c.values, (std::vector<std::string>{"[1,3]", "[2,4]"}));
  const ChangeValues d = parse_changes("name=\"a, b\",'c, d',e=f");
  EXPECT_EQ(d.values, (std::vector<std::string>{"\"a, b\"", "'c, d'", "e=f"}));
  const ChangeValues e = parse_changes(" x.y = {a: [1, 2], b: {c: 3}} , ~ ");
  EXPECT_EQ(e.path, "x.y");
  EXPECT_EQ(e.values, (std::vector<std::string>{"{a: [1, 2], b: {c: 3}}", "~"}));
  EXPECT_THROW((void)parse_changes("no equals sign"), InputError);
  EXPECT_THROW((void)parse_changes("=1"), InputError);
  EXPECT_THROW((void)parse_changes("x="), InputError);
  EXPECT_THROW((void)parse_changes("x=1,,2"), InputError);
  try {
    (void)parse_changes("x=1,");
    ADD_FAILURE();
  } catch (const InputError& err) {
    EXPECT_EQ(err.file(), "--set");
    EXPECT_EQ(err.field(), "x");
  }
}

TEST(ScenarioChangesTest, YamlValuesAsJson) {
  EXPECT_EQ(yaml_value_to_json("0.3"), "0.3");
  EXPECT_EQ(yaml_value_to_json("5000"), "5000");
  EXPECT_EQ(yaml_value_to_json("+007"), "7");
  EXPECT_EQ(yaml_value_to_json("1e3"), "1000.0");
  EXPECT_EQ(yaml_value_to_json(".inf"), "Infinity");
  EXPECT_EQ(yaml_value_to_json("true"), "true");
  EXPECT_EQ(yaml_value_to_json("yes"), "\"yes\"");
  EXPECT_EQ(yaml_value_to_json("~"), "null");
  EXPECT_EQ(yaml_value_to_json("'0.3'"), "\"0.3\"");
  EXPECT_EQ(yaml_value_to_json("customer"), "\"customer\"");
  EXPECT_EQ(yaml_value_to_json("[1, 3]"), "[1, 3]");
  EXPECT_EQ(yaml_value_to_json("{mql: 0.6, lost: 0.4}"), "{\"mql\": 0.6, \"lost\": 0.4}");
  EXPECT_EQ(yaml_value_to_json("\"a\\\"b\\n\""), "\"a\\\"b\\n\"");
  EXPECT_THROW((void)yaml_value_to_json("[1, 2", "x"), InputError);
}

TEST(ScenarioChangesTest, ChangedTextParsesAndCompiles) {
  const std::string text =
      apply_changes(kBase,
                    {{"touchpoints.webinar.reach", "0.5"},
                     {"stages.lead.next", "{customer: 0.25, lead: 0.25, lost: 0.5}"},
                     {"segments.icp.share", "0.3"},
                     {"segments.other.share", "0.7"},
                     {"touchpoints.webinar.effect.window", "14"},
                     {"touchpoints.webinar.effect.hazard_factor", "1.5"}},
                    "s.yaml");
  const Model model = compile(parse_scenario(text, "s.yaml"));
  EXPECT_EQ(model.name, "t");
  // The changed text is a fixed point.
  EXPECT_EQ(apply_changes(text, {}, "s.yaml"), text);
}

// ---- resources and referrals (lcsim sweep --set resources.sales.servers=4,6) --------------------

const std::string kTeam =
    "name: t\n"
    "horizon: 100\n"
    "report_every: 10\n"
    "won: customer\n"
    "stages:\n"
    "  lead:\n"
    "    dwell: {dist: exponential, mean: 7}\n"
    "    next: {sql: 0.5, lost: 0.5}\n"
    "  sql: {next: {customer: 0.4, lead: 0.2, lost: 0.4}}\n"
    "  customer:\n"
    "    dwell: {mean: 300}\n"
    "    next: {lost: 1}\n"
    "  lost: {absorbing: true}\n"
    "arrivals:\n"
    "  initial:\n"
    "    - {stage: lead, count: 100}\n"
    "resources:\n"
    "  sales:\n"
    "    servers: 3\n"
    "    serves: [sql]\n"
    "    handoff: {dist: fixed, days: 2}\n"
    "    service: {dist: exponential, mean: 0.5}\n"
    "    patience: {dist: exponential, mean: 5}\n"
    "    abandon_to: lead\n"
    "referrals:\n"
    "  word_of_mouth: {from: customer, rate_per_day: 0.004, to: lead}\n";

Scenario team_changed(const std::vector<Change>& changes) {
  const std::string text = apply_changes(kTeam, changes, "team.yaml");
  Scenario scenario = parse_scenario(text, "team.yaml (changed)");
  EXPECT_NO_THROW((void)compile(scenario)) << text;
  return scenario;
}

TEST(ScenarioChangesTest, SetsTeamAndReferralParameters) {
  const Scenario s = team_changed({{"resources.sales.servers", "5"},
                                   {"resources.sales.patience.mean", "2.5"},
                                   {"resources.sales.service.mean", "0.25"},
                                   {"resources.sales.handoff.days", "0.1667"},
                                   {"referrals.word_of_mouth.rate_per_day", "0.012"}});
  const ResourceSpec& r = s.resources.at(0);
  EXPECT_EQ(r.servers, 5);
  EXPECT_DOUBLE_EQ(r.patience->params.at("mean"), 2.5);
  EXPECT_DOUBLE_EQ(r.service->params.at("mean"), 0.25);
  EXPECT_DOUBLE_EQ(r.handoff->params.at("days"), 0.1667);
  EXPECT_DOUBLE_EQ(s.referrals.at(0).rate_per_day, 0.012);
  // The sweep's values: each point is its own scenario.
  const ChangeValues sweep = parse_changes("resources.sales.servers=4,6");
  ASSERT_EQ(sweep.values.size(), 2U);
  EXPECT_EQ(team_changed({{sweep.path, sweep.values[0]}}).resources.at(0).servers, 4);
  EXPECT_EQ(team_changed({{sweep.path, sweep.values[1]}}).resources.at(0).servers, 6);
  // New keys under an existing team, and a whole mapping replaced.
  const Scenario t = team_changed({{"resources.sales.discipline", "fifo"},
                                   {"resources.sales.changes", "[{day: 50, servers: 6}]"},
                                   {"resources.sales.handoff", "{dist: gamma, shape: 2, mean: 1}"},
                                   {"resources.sales.patience", "~"},
                                   {"resources.sales.abandon_to", "~"}});
  EXPECT_EQ(t.resources.at(0).changes.at(0).servers, 6);
  EXPECT_EQ(t.resources.at(0).handoff->dist, "gamma");
  EXPECT_FALSE(t.resources.at(0).patience.has_value());
}

TEST(ScenarioChangesTest, UnknownTeamPathListsCloseMatches) {
  try {
    (void)apply_changes(kTeam, {{"resources.sale.servers", "4"}}, "team.yaml");
    ADD_FAILURE() << "resources.sale.servers accepted";
  } catch (const InputError& e) {
    ASSERT_EQ(e.problems().size(), 1U);
    const Problem& p = e.problems().front();
    EXPECT_EQ(p.field, "resources.sale.servers");
    EXPECT_EQ(
        p.message.rfind(
            "unknown path 'resources.sale.servers'; did you mean 'resources.sales.servers'", 0),
        0U)
        << p.message;
  }
  try {
    (void)apply_changes(kTeam, {{"referrals.word_of_mouht.rate_per_day", "1"}}, "team.yaml");
    ADD_FAILURE() << "referrals.word_of_mouht accepted";
  } catch (const InputError& e) {
    EXPECT_NE(e.problems().front().message.find("'referrals.word_of_mouth.rate_per_day'"),
              std::string::npos)
        << e.problems().front().message;
  }
  // A misspelt new key under an existing team is the schema's to catch, with its did-you-mean.
  const std::string typo = apply_changes(kTeam, {{"resources.sales.sever", "4"}}, "team.yaml");
  try {
    (void)parse_scenario(typo, "team.yaml");
    ADD_FAILURE() << "sever accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "resources.sales.sever");
    EXPECT_NE(std::string(e.what()).find("did you mean 'servers'?"), std::string::npos) << e.what();
  }
  // Paths under resources are listed like any other.
  const std::vector<std::string> paths = scenario_paths(kTeam);
  EXPECT_NE(std::find(paths.begin(), paths.end(), "resources.sales.patience.mean"), paths.end());
}

}  // namespace
}  // namespace lcsim
