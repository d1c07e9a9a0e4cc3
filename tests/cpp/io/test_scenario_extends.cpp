#include "lcsim/io/scenario_extends.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "lcsim/core/error.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/model/compile.hpp"

namespace lcsim {
namespace {

// Line numbers matter below: line 8 is lead's next, line 16 the webinar's reach.
const std::string kBase =
    "name: base\n"                                             // 1
    "horizon: 100\n"                                           // 2
    "report_every: 10\n"                                       // 3
    "won: customer\n"                                          // 4
    "stages:\n"                                                // 5
    "  lead:\n"                                                // 6
    "    dwell: {dist: weibull, shape: 1.5, scale: 9}\n"       // 7
    "    next: {customer: 0.5, lost: 0.5}\n"                   // 8
    "  customer: {dwell: {mean: 300}, next: {lost: 1}}\n"      // 9
    "  lost: {absorbing: true}\n"                              // 10
    "arrivals:\n"                                              // 11
    "  initial: [{stage: lead, count: 100}]\n"                 // 12
    "touchpoints:\n"                                           // 13
    "  webinar:\n"                                             // 14
    "    stages: [lead]\n"                                     // 15
    "    reach: 0.25\n"                                        // 16
    "    schedule: {calendar: {every: 7}}\n"                   // 17
    "    effect: {move: {to: customer, probability: 0.2}}\n";  // 18

/// Files in a fresh temporary directory, removed with the fixture.
class ExtendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() /
        ("lcsim_extends_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    base_ = write("baseline.yaml", kBase);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }
  /// Every problem of a file (parse errors, else compile's errors and warnings).
  std::vector<Problem> problems(const std::string& name, const std::string& text) {
    return validate_file(write(name, text));
  }
  /// The single error of a file.
  Problem error(const std::string& name, const std::string& text) {
    std::vector<Problem> found;
    for (const Problem& p : problems(name, text)) {
      if (!p.warning) found.push_back(p);
    }
    EXPECT_EQ(found.size(), 1U);
    return found.empty() ? Problem{} : found.front();
  }
  std::filesystem::path dir_;
  std::string base_;
};

TEST_F(ExtendsTest, a_variant_by_changes_equals_the_full_file_it_replaces) {
  const std::string variant = write("faster.yaml",
                                    "# the baseline with a wider webinar\n"
                                    "extends: baseline.yaml\n"
                                    "name: faster\n"
                                    "changes:\n"
                                    "  touchpoints.webinar.reach: 0.5\n"
                                    "  stages.lead.next: {customer: 0.6, lost: 0.4}\n");
  std::string full = kBase;
  full.replace(full.find("name: base"), 10, "name: faster");
  full.replace(full.find("reach: 0.25"), 11, "reach: 0.5");
  full.replace(full.find("{customer: 0.5, lost: 0.5}"), 26, "{customer: 0.6, lost: 0.4}");
  const Scenario resolved = load_scenario(variant);
  const Scenario written = parse_scenario(full, write("full.yaml", full));
  EXPECT_EQ(to_yaml(resolved), to_yaml(written));
  EXPECT_NO_THROW((void)compile(resolved));
  // Provenance: the variant first, then its base; the stored text is the resolved one.
  ASSERT_EQ(resolved.sources.files.size(), 2U);
  EXPECT_EQ(resolved.sources.files[0], variant);
  EXPECT_EQ(resolved.sources.files[1], base_);
  EXPECT_NE(resolved.sources.own_text.find("extends: baseline.yaml"), std::string::npos);
  EXPECT_EQ(resolved.source.find("extends"), std::string::npos);
  EXPECT_EQ(to_yaml(parse_scenario(resolved.source)), to_yaml(written));
  const Model model = compile(resolved);
  EXPECT_EQ(model.scenario_extends, std::vector<std::string>{base_});
  EXPECT_EQ(model.scenario_own_text, resolved.sources.own_text);
}

TEST_F(ExtendsTest, ordinary_keys_merge_mappings_and_replace_lists_and_scalars) {
  const Scenario s =
      load_scenario(write("v.yaml",
                          "extends: baseline.yaml\n"
                          "horizon: 200\n"
                          "stages:\n"
                          "  lead: {dwell: {scale: 12}}\n"  // merged: weibull kept
                          "touchpoints:\n"
                          "  webinar: {stages: [lead, customer]}\n"
                          "  email: {stages: [lead], schedule: {after_entry: {days: [1]}},"
                          " reach: 1, effect: {hazard_factor: 2, window: 3}}\n"));
  EXPECT_EQ(s.horizon, 200.0);
  EXPECT_EQ(s.name, "base");
  ASSERT_EQ(s.stages.size(), 3U);
  ASSERT_TRUE(s.stages[0].dwell.has_value());
  EXPECT_EQ(s.stages[0].dwell->dist, "weibull");
  EXPECT_EQ(s.stages[0].dwell->params.at("shape"), 1.5);
  EXPECT_EQ(s.stages[0].dwell->params.at("scale"), 12.0);
  ASSERT_EQ(s.touchpoints.size(), 2U);
  EXPECT_EQ(s.touchpoints[0].stages, (std::vector<std::string>{"lead", "customer"}));
  EXPECT_EQ(s.touchpoints[0].reach, 0.25);
  EXPECT_EQ(s.touchpoints[1].name, "email");
}

TEST_F(ExtendsTest, a_null_removes_a_field_in_either_form) {
  const Scenario merged =
      load_scenario(write("a.yaml", "extends: baseline.yaml\ntouchpoints: ~\n"));
  EXPECT_TRUE(merged.touchpoints.empty());
  const Scenario changed =
      load_scenario(write("b.yaml", "extends: baseline.yaml\nchanges: {touchpoints.webinar: ~}\n"));
  EXPECT_TRUE(changed.touchpoints.empty());
}

TEST_F(ExtendsTest, chains_resolve_nearest_last) {
  write("mid/wider.yaml",
        "extends: ../baseline.yaml\nname: wider\nchanges: {touchpoints.webinar.reach: 0.5}\n");
  const std::string top =
      write("top.yaml", "extends: mid/wider.yaml\nchanges: {touchpoints.webinar.cost: 3}\n");
  const Scenario s = load_scenario(top);
  EXPECT_EQ(s.name, "wider");
  ASSERT_EQ(s.touchpoints.size(), 1U);
  EXPECT_EQ(s.touchpoints[0].reach, 0.5);
  EXPECT_EQ(s.touchpoints[0].cost, 3.0);
  ASSERT_EQ(s.sources.files.size(), 3U);
  EXPECT_EQ(s.sources.files[1], (dir_ / "mid/wider.yaml").string());
  EXPECT_EQ(s.sources.files[2], base_);
}

TEST_F(ExtendsTest, a_cycle_is_an_error_naming_both_files) {
  const std::string a = write("a.yaml", "extends: b.yaml\nname: a\n");
  const std::string b = write("b.yaml", "# b\nextends: a.yaml\n");
  const Problem p = error("a.yaml", "extends: b.yaml\nname: a\n");
  EXPECT_EQ(p.file, b);
  EXPECT_EQ(p.line, 2);
  EXPECT_EQ(p.field, "extends");
  EXPECT_NE(p.message.find("extends cycle: " + a + " extends " + b + " extends " + a),
            std::string::npos)
      << p.message;
  const Problem self = error("self.yaml", "extends: self.yaml\n");
  EXPECT_NE(self.message.find("extends cycle"), std::string::npos);
}

TEST_F(ExtendsTest, a_missing_base_is_an_error_at_the_extends_line) {
  const Problem p = error("v.yaml", "# variant\n\nextends: nowhere.yaml\n");
  EXPECT_EQ(p.file, (dir_ / "v.yaml").string());
  EXPECT_EQ(p.line, 3);
  EXPECT_EQ(p.field, "extends");
  EXPECT_NE(p.message.find("cannot read the base scenario 'nowhere.yaml' (looked for " +
                           (dir_ / "nowhere.yaml").string() + ")"),
            std::string::npos)
      << p.message;
  EXPECT_EQ(error("w.yaml", "extends: [a, b]\n").field, "extends");
  EXPECT_THROW((void)load_scenario(write("x.yaml", "extends: nowhere.yaml\n")), InputError);
}

TEST_F(ExtendsTest, a_bad_value_in_the_variant_points_at_the_variant_line) {
  // compile()'s check, through a change...
  Problem p =
      error("v.yaml", "extends: baseline.yaml\nchanges:\n  touchpoints.webinar.reach: 1.4\n");
  EXPECT_EQ(p.file, (dir_ / "v.yaml").string());
  EXPECT_EQ(p.line, 3);
  EXPECT_EQ(p.field, "touchpoints.webinar.reach");
  // ... and through a merged key.
  p = error("w.yaml", "extends: baseline.yaml\n\ntouchpoints:\n  webinar:\n    reach: 1.4\n");
  EXPECT_EQ(p.file, (dir_ / "w.yaml").string());
  EXPECT_EQ(p.line, 5);
  // The parser's type check, and an unknown key.
  p = error("x.yaml", "extends: baseline.yaml\nhorizon: soon\n");
  EXPECT_EQ(p.file, (dir_ / "x.yaml").string());
  EXPECT_EQ(p.line, 2);
  EXPECT_EQ(p.field, "horizon");
  p = error("y.yaml", "extends: baseline.yaml\nstages:\n  lead: {dwel: {mean: 3}}\n");
  EXPECT_EQ(p.line, 3);
  EXPECT_EQ(p.field, "stages.lead.dwel");
  EXPECT_NE(p.message.find("did you mean 'dwell'"), std::string::npos) << p.message;
}

TEST_F(ExtendsTest, a_bad_value_inherited_from_the_base_points_at_the_base_line) {
  std::string bad = kBase;
  bad.replace(bad.find("{customer: 0.5, lost: 0.5}"), 26, "{customer: 0.5, lost: 0.6}");
  const std::string base = write("bad_base.yaml", bad);
  Problem p = error("v.yaml", "extends: bad_base.yaml\nname: v\n");
  EXPECT_EQ(p.file, base);
  EXPECT_EQ(p.line, 8);
  EXPECT_EQ(p.field, "stages.lead.next");
  // A sum broken by a change to one entry is reported at the base's line and names the change.
  p = error("w.yaml", "extends: baseline.yaml\nchanges:\n  stages.lead.next.lost: 0.7\n");
  EXPECT_EQ(p.file, base_);
  EXPECT_EQ(p.line, 8);
  EXPECT_NE(p.message.find("(changed in " + (dir_ / "w.yaml").string() +
                           " line 3: stages.lead.next.lost)"),
            std::string::npos)
      << p.message;
}

TEST_F(ExtendsTest, bad_changes_are_errors_at_their_line) {
  Problem p =
      error("v.yaml", "extends: baseline.yaml\nchanges:\n  touchpoint.webinar.reach: 0.3\n");
  EXPECT_EQ(p.file, (dir_ / "v.yaml").string());
  EXPECT_EQ(p.line, 3);
  EXPECT_EQ(p.field, "changes.touchpoint.webinar.reach");
  EXPECT_NE(p.message.find("did you mean 'touchpoints.webinar.reach'"), std::string::npos)
      << p.message;
  p = error("w.yaml", "extends: baseline.yaml\nchanges: [reach]\n");
  EXPECT_EQ(p.line, 2);
  EXPECT_EQ(p.field, "changes");
  p = error("x.yaml", "name: x\nchanges: {horizon: 3}\n");
  EXPECT_EQ(p.line, 2);
  EXPECT_NE(p.message.find("has no 'extends:'"), std::string::npos) << p.message;
  // ... and where its extends: is misspelt, that key is named on its own line.
  p = error("z.yaml", "name: z\nextnds: baseline.yaml\nchanges: {horizon: 3}\n");
  EXPECT_EQ(p.line, 2);
  EXPECT_EQ(p.field, "extnds");
  EXPECT_NE(
      p.message.find("unknown key 'extnds' in a file with 'changes:'; did you mean 'extends'?"),
      std::string::npos)
      << p.message;
}

TEST_F(ExtendsTest, syntax_errors_name_the_file_they_are_in) {
  const std::string base = write("broken.yaml", "name: [unclosed\nhorizon: 3\n");
  const Problem p = error("v.yaml", "extends: broken.yaml\n");
  EXPECT_EQ(p.file, base);
  EXPECT_GT(p.line, 0);
  EXPECT_NE(p.message.find("YAML syntax error"), std::string::npos);
}

TEST_F(ExtendsTest, a_text_without_extends_resolves_to_itself) {
  const ResolvedScenario r = resolve_extends(kBase, "s.yaml");
  EXPECT_TRUE(r.sources.empty());
  EXPECT_EQ(to_yaml(parse_scenario(r.text)), to_yaml(parse_scenario(kBase)));
}

}  // namespace
}  // namespace lcsim
