// Snapshot calibration per segment (snapshot_calibration.hpp): the segment column of the reader,
// each segment's phase-type fit recovering its own semi-Markov truth where the all-customer fit
// describes neither, the exactness of fitting a segment on its own, the scenario's segment shares,
// overrides and per-segment arrivals, and pooling of segments and stages with too few pairs.
#include "lcsim/calibrate/snapshot_calibration.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "lcsim/core/error.hpp"
#include "lcsim/model/compile.hpp"
#include "panel_truth.hpp"

namespace lcsim {
namespace {

using namespace panel_truth;

/// semi_markov() with slower leads that go on to mql more often: an enterprise segment.
std::vector<TrueStage> enterprise() {
  std::vector<TrueStage> t = semi_markov();
  t[0].dwell = weibull(1.8, 45.0);
  t[0].mean = 45.0;
  t[0].next = {{1, 0.85}, {4, 0.15}};
  t[2].dwell = lognormal(50.0, 0.8);
  t[2].mean = 50.0;
  return t;
}

/// Customers of several segments in one log (each segment's panel drawn from its own truth).
SnapshotLog segmented(const std::vector<std::pair<std::string, SnapshotLog>>& parts) {
  SnapshotLog log = parts.front().second;
  log.customers.clear();
  log.segment_column = "segment";
  for (const auto& [name, part] : parts) {
    log.segments.push_back(name);
    for (SnapshotPath p : part.customers) {
      p.id = name + "-" + p.id;
      p.segment = name;
      log.customers.push_back(std::move(p));
    }
  }
  return log;
}

SnapshotCalibrationOptions options() {
  SnapshotCalibrationOptions o;
  const PhaseFitOptions k = known();
  o.markov.transitions = k.transitions;
  o.phase = k;
  o.phase.entry_stage = "lead";
  o.won = "won";
  return o;
}

const SegmentSnapshotFit* segment(const SnapshotCalibration& c, const std::string& name) {
  for (const auto& g : c.segments) {
    if (g.segment == name) return &g;
  }
  return nullptr;
}

TEST(SnapshotSegmentsTest, each_segment_recovers_its_own_truth) {
  const std::vector<TrueStage> smb = semi_markov();
  const std::vector<TrueStage> ent = enterprise();
  const SnapshotLog log = segmented({{"smb", panel(smb, 3000, 21)}, {"ent", panel(ent, 2000, 22)}});
  const SnapshotCalibration c = calibrate_snapshots(log, options());
  ASSERT_TRUE(c.phase.has_value());
  ASSERT_EQ(c.segments.size(), 2u);
  for (const auto& w : c.warnings) {
    if (w.field.rfind("arrivals", 0) != 0) ADD_FAILURE() << w.to_string();
  }
  const SegmentSnapshotFit* s = segment(c, "smb");
  const SegmentSnapshotFit* e = segment(c, "ent");
  ASSERT_TRUE(s != nullptr && e != nullptr && s->phase && e->phase);
  EXPECT_EQ(s->customers + e->customers, log.customers.size());
  const std::vector<std::string> fitted = {"lead", "mql", "sql"};
  EXPECT_EQ(s->own_stages, fitted);
  EXPECT_EQ(e->own_stages, fitted);

  // Within 4 SE of its own truth: mean dwells, next-probabilities, 365-day occupancy (>= 1%).
  const std::vector<double> occ_smb = true_occupancy(smb, 365.0, 200000);
  const std::vector<double> occ_ent = true_occupancy(ent, 365.0, 200000);
  std::string which;
  const double worst_smb = worst(misses(*s->phase, smb, occ_smb, 0.01), &which);
  EXPECT_LT(worst_smb, 4.0) << "smb: " << which;
  const double worst_ent = worst(misses(*e->phase, ent, occ_ent, 0.01), &which);
  EXPECT_LT(worst_ent, 4.0) << "ent: " << which;
  // The all-customer fit describes neither segment.
  const double pooled_vs_ent = worst(misses(*c.phase, ent, occ_ent, 0.01), &which);
  EXPECT_GT(pooled_vs_ent, 4.0) << "the all-customer fit against ent's truth: " << which;
  std::cout << "worst |estimate - truth| / se: smb " << worst_smb << ", ent " << worst_ent
            << "; all-customer fit against ent " << pooled_vs_ent << " (" << which << ")\n";

  // A segment's fit is exactly the fit of its customers alone with the same stage model.
  PhaseFitOptions alone = options().phase;
  alone.entry_stage = c.phase->entry_stage;
  const PhaseTypeFit direct = fit_phase_type(segment_of(log, "ent"), alone);
  EXPECT_EQ(direct.phases, e->phase->phases);
  EXPECT_NEAR(direct.loglik, e->phase->loglik, 1e-9 * std::abs(direct.loglik));

  // The scenario: shares, per-segment overrides with the segment's dwells, arrivals by segment.
  ASSERT_TRUE(c.has_scenario);
  const Scenario& sc = c.scenario;
  ASSERT_EQ(sc.segments.size(), 2u);
  EXPECT_EQ(sc.segments[0].name, "smb");
  EXPECT_NEAR(sc.segments[0].share, static_cast<double>(s->customers) / log.customers.size(),
              1e-12);
  EXPECT_EQ(sc.segments[0].share + sc.segments[1].share, 1.0);
  ASSERT_EQ(sc.segments[1].stages.size(), 3u);
  const StageOverride& lead = sc.segments[1].stages[0];
  EXPECT_EQ(lead.stage, "lead");
  ASSERT_TRUE(lead.dwell.has_value());
  EXPECT_EQ(lead.dwell->dist, e->phase->phases[0] > 1 ? "coxian" : "exponential");
  double p_mql = 0.0;
  for (const auto& [to, p] : lead.next->probs) p_mql += to == "mql" ? p : 0.0;
  EXPECT_NEAR(p_mql, e->phase->estimate("stages.lead.next.mql")->estimate, 1e-12);
  ASSERT_FALSE(sc.arrivals.streams.empty());
  for (const auto& stream : sc.arrivals.streams) EXPECT_FALSE(stream.segment.empty());
  EXPECT_NE(c.scenario_estimates.end(),
            std::find_if(c.scenario_estimates.begin(), c.scenario_estimates.end(),
                         [](const EstimateRow& r) { return r.parameter == "segments.ent.share"; }));
  EXPECT_NO_THROW((void)compile(sc));
  // The Markov scenario has the same segments with exponential overrides.
  ASSERT_EQ(c.markov_scenario.segments.size(), 2u);
  ASSERT_EQ(c.markov_scenario.segments[1].stages.size(), 3u);
  EXPECT_EQ(c.markov_scenario.segments[1].stages[0].dwell->dist, "exponential");
  EXPECT_NO_THROW((void)compile(c.markov_scenario));
}

TEST(SnapshotSegmentsTest, segments_with_too_few_pairs_are_pooled_with_a_warning) {
  SnapshotLog tiny = panel(semi_markov(), 4, 31);
  const SnapshotLog log = segmented({{"smb", panel(semi_markov(), 600, 32)}, {"tiny", tiny}});
  SnapshotCalibrationOptions o = options();
  o.phase.max_phases = 1;  // the Markov fits are enough here
  const SnapshotCalibration c = calibrate_snapshots(log, o);
  ASSERT_EQ(c.segments.size(), 1u) << "tiny is not fitted";
  bool said = false;
  for (const auto& w : c.warnings) said = said || (w.field == "segments.tiny.stages" && w.warning);
  EXPECT_TRUE(said);
  ASSERT_EQ(c.scenario.segments.size(), 2u);
  EXPECT_TRUE(c.scenario.segments[1].stages.empty()) << "tiny keeps the all-customer stages";
  EXPECT_NO_THROW((void)compile(c.scenario));

  // A stage with fewer pairs than min_segment_pairs is pooled; the others are the segment's own.
  o.min_segment_pairs = 400;
  const SnapshotCalibration few = calibrate_snapshots(log, o);
  ASSERT_EQ(few.segments.size(), 1u);
  const SegmentSnapshotFit& smb = few.segments[0];
  EXPECT_FALSE(smb.pooled_stages.empty());
  for (const std::string& stage : smb.pooled_stages) {
    const auto a = std::find(log.stages.begin(), log.stages.end(), stage) - log.stages.begin();
    EXPECT_LT(smb.pairs[static_cast<std::size_t>(a)], 400u) << stage;
  }
  EXPECT_EQ(few.scenario.segments[0].stages.size(), smb.own_stages.size());

  o.min_segment_pairs = 0;
  EXPECT_THROW((void)calibrate_snapshots(log, o), InputError);
}

TEST(SnapshotSegmentsTest, the_reader_takes_a_segment_column_and_names_its_problems) {
  SnapshotOptions so;
  so.segment_column = "segment";
  so.absorbing = {"won", "lost"};
  std::istringstream good(
      "customer_id,date,stage,segment\n"
      "a,2025-01-01,lead,smb\n"
      "a,2025-02-01,mql,ent\n"
      "b,2025-01-01,lead,ent\n"
      "b,2025-02-01,won,ent\n");
  const SnapshotLog log = parse_snapshots(good, "s.csv", so);
  EXPECT_EQ(log.segment_column, "segment");
  EXPECT_EQ(log.segments, (std::vector<std::string>{"smb", "ent"}));
  EXPECT_EQ(log.customers[0].segment, "smb") << "the first row's segment is kept";
  bool warned = false;
  for (const auto& w : log.warnings) warned = warned || (w.field == "segment" && w.line == 3);
  EXPECT_TRUE(warned);
  EXPECT_EQ(segment_of(log, "ent").customers.size(), 1u);
  EXPECT_THROW((void)segment_of(log, "mid"), std::invalid_argument);

  std::istringstream missing("customer_id,date,stage\na,2025-01-01,lead\na,2025-02-01,mql\n");
  try {
    (void)parse_snapshots(missing, "s.csv", so);
    ADD_FAILURE() << "no segment column accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("segment"), std::string::npos) << e.what();
  }
  std::istringstream empty(
      "customer_id,date,stage,segment\na,2025-01-01,lead,\na,2025-02-01,mql,smb\n");
  try {
    (void)parse_snapshots(empty, "s.csv", so);
    ADD_FAILURE() << "an empty segment accepted";
  } catch (const InputError& e) {
    ASSERT_FALSE(e.problems().empty());
    EXPECT_EQ(e.problems().front().line, 2);
    EXPECT_EQ(e.problems().front().field, "segment");
  }
}

}  // namespace
}  // namespace lcsim
