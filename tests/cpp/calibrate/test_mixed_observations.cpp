// Panel data mixed with exactly timed observations (phase_fit.hpp): msm's `cav` example with an
// exact death time (deathexact) against msm's printed figures, the reader's entered column and
// exact stages with their errors, and the analytic gradient through exact entries and stays.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "lcsim/calibrate/phase_fit.hpp"
#include "lcsim/calibrate/snapshot_fit.hpp"
#include "lcsim/core/error.hpp"
#include "panel_truth.hpp"

namespace lcsim {
namespace {

/// msm's `cav` data (Sharples et al. 2003, shipped with R's msm 1.7: PTNUM, years, state; 2,846
/// rows, 622 patients), time in years. With `exact_death` the row in state 4 carries its time as
/// the exact entry (what SnapshotOptions::exact_stages does for a file).
SnapshotLog cav(bool exact_death) {
  std::ifstream in(std::string(LCSIM_SOURCE_DIR) + "/tests/data/msm_cav.csv");
  EXPECT_TRUE(in.good());
  SnapshotLog log;
  log.file = "msm_cav.csv";
  log.stages = {"1", "2", "3", "4"};
  log.absorbing = {"4"};
  if (exact_death) log.exact_stages = {"4"};
  std::string line;
  std::getline(in, line);
  int row = 1;
  while (std::getline(in, line)) {
    ++row;
    std::stringstream fields(line);
    std::string id, years, state;
    std::getline(fields, id, ',');
    std::getline(fields, years, ',');
    std::getline(fields, state, ',');
    if (log.customers.empty() || log.customers.back().id != id) {
      log.customers.push_back(SnapshotPath{id, {}, std::numeric_limits<double>::quiet_NaN(), ""});
    }
    auto& obs = log.customers.back().observations;
    if (!obs.empty() && obs.back().stage == "4") continue;
    SnapshotObservation o{std::stod(years), state, row};
    if (exact_death && state == "4") o.entered = o.time;
    obs.push_back(o);
  }
  std::erase_if(log.customers, [](const SnapshotPath& p) { return p.observations.size() < 2; });
  return log;
}

PhaseFitOptions cav_options() {
  PhaseFitOptions o;
  o.transitions = {{"1", "2"}, {"1", "4"}, {"2", "1"}, {"2", "3"},
                   {"2", "4"}, {"3", "2"}, {"3", "4"}};
  o.max_phases = 1;
  o.random_starts = 0;
  o.resolution_days = 1.0 / 365.0;  // times are years of 365 days, from dates: gaps in whole days
  return o;
}

TEST(MixedObservationsTest, msm_cav_with_an_exact_death_time_agrees_with_msm) {
  // msm 1.7 (R 4.2.2), twoway4.q, as printed: -2 log L 3968.79788144 with deathexact = 4,
  // 3986.08707748 without; sojourns and their delta-method intervals with deathexact.
  const PhaseTypeFit exact = fit_phase_type(cav(true), cav_options());
  ASSERT_TRUE(exact.converged);
  EXPECT_NEAR(-2.0 * exact.loglik, 3968.79788144, 2e-3);
  EXPECT_GT(exact.n_exact, 200u);
  struct Sojourn {
    const char* stage;
    double mean, low, high;
  };
  for (const Sojourn& s : {Sojourn{"1", 5.8698915, 5.2560262, 6.5554518},
                           Sojourn{"2", 1.6448222, 1.4107675, 1.9177079},
                           Sojourn{"3", 2.2879495, 1.8087406, 2.8941204}}) {
    const EstimateRow* row = exact.estimate(std::string("stages.") + s.stage + ".dwell.mean");
    ASSERT_NE(row, nullptr) << s.stage;
    EXPECT_NEAR(row->estimate, s.mean, 2e-4 * s.mean) << s.stage;
    EXPECT_NEAR(row->ci_low, s.low, 2e-3 * s.low) << s.stage;
    EXPECT_NEAR(row->ci_high, s.high, 2e-3 * s.high) << s.stage;
  }
  // msm's rates: next-probabilities q_ab / -q_aa.
  const std::map<std::string, double> next = {{"stages.1.next.2", 0.127875852 / 0.170360900},
                                              {"stages.1.next.4", 0.042485049 / 0.170360900},
                                              {"stages.2.next.1", 0.225105883 / 0.607968458},
                                              {"stages.2.next.3", 0.342585221 / 0.607968458},
                                              {"stages.2.next.4", 0.040277354 / 0.607968458},
                                              {"stages.3.next.2", 0.130621732 / 0.437072575},
                                              {"stages.3.next.4", 0.306450843 / 0.437072575}};
  for (const auto& [parameter, p] : next) {
    ASSERT_NE(exact.estimate(parameter), nullptr) << parameter;
    EXPECT_NEAR(exact.estimate(parameter)->estimate, p, 2e-4) << parameter;
  }
  // Without the exact time the same rows are snapshots: msm's panel likelihood.
  const PhaseTypeFit panel = fit_phase_type(cav(false), cav_options());
  EXPECT_NEAR(-2.0 * panel.loglik, 3986.08707748, 2e-3);
  EXPECT_EQ(panel.n_exact, 0u);
}

TEST(MixedObservationsTest, gradient_through_exact_entries_and_stays_matches_differences) {
  // A panel with creation times whose rows also carry the time the customer entered its stage
  // (every third customer) and exact lost dates: every kind of step.
  SnapshotLog log = panel_truth::panel(panel_truth::semi_markov(), 300, 11);
  int k = 0;
  for (SnapshotPath& p : log.customers) {
    ++k;
    for (SnapshotObservation& o : p.observations) {
      if (o.stage == "lost") o.entered = o.time - 3.5;  // lost 3.5 days before the export
      if (k % 3 == 0 && o.stage == "mql") o.entered = o.time - 1.25;
    }
  }
  // Keep the exact times consistent: an entry no earlier than the previous row.
  for (SnapshotPath& p : log.customers) {
    for (std::size_t i = 1; i < p.observations.size(); ++i) {
      auto& o = p.observations[i];
      if (o.entered < p.observations[i - 1].time && o.stage != p.observations[i - 1].stage) {
        o.entered = std::numeric_limits<double>::quiet_NaN();
      }
    }
  }
  const PhaseFitOptions options = panel_truth::known();
  const std::vector<int> phases = {2, 2, 1, 1, 1};
  // lead: 2 rates, 1 exit, 1 next; mql: 2 rates, 1 exit, 2 next; sql: 1 rate, 1 next.
  const std::vector<double> theta = {-3.0, -2.5, 0.3, -0.4, -3.5, -2.0, -0.5, 1.0, -1.0, -3.2, 0.1};
  panel_truth::expect_gradient_matches_differences(log, options, phases, theta);
}

TEST(MixedObservationsTest, the_reader_takes_an_entered_column_and_exact_stages) {
  const std::string csv =
      "customer_id,date,stage,entered\n"
      "c1,2026-01-31,lead,2026-01-20\n"
      "c1,2026-02-28,mql,2026-02-03T10:00:00Z\n"
      "c1,2026-03-31,lost,\n"
      "c2,2026-01-31,lead,\n"
      "c2,2026-02-28,won,2026-02-27\n";
  SnapshotOptions o;
  o.absorbing = {"won", "lost"};
  o.exact_stages = {"lost"};
  std::istringstream in(csv);
  const SnapshotLog log = parse_snapshots(in, "s.csv", o);
  EXPECT_EQ(log.entered_column, "entered");
  ASSERT_EQ(log.customers.size(), 2u);
  // A snapshot date alone is the end of its day (the default), an entry date alone its start.
  const double day_end = 86399.0 / 86400.0;
  const auto& c1 = log.customers[0].observations;
  EXPECT_NEAR(c1[0].time - c1[0].entered, 11.0 + day_end, 1e-9);
  EXPECT_NEAR(c1[1].time - c1[1].entered, 24.0 + 14.0 / 24.0 + day_end, 1e-9);
  EXPECT_EQ(c1[2].entered, c1[2].time);  // an exact stage: its date is the entry
  EXPECT_NEAR(log.customers[1].observations[1].time - log.customers[1].observations[1].entered,
              1.0 + day_end, 1e-9);

  const auto error_of = [](const std::string& text, const SnapshotOptions& options) {
    std::istringstream bad(text);
    try {
      (void)parse_snapshots(bad, "s.csv", options);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // Entered after the snapshot; before the previous snapshot of another stage; an exact stage
  // that is not absorbing.
  EXPECT_NE(
      error_of(
          "customer_id,date,stage,entered\nc1,2026-01-31,lead,2026-02-02\nc1,2026-02-28,mql,\n", o)
          .find(
              "s.csv:2: entered: the customer entered its stage at '2026-02-02', after the row's date"),
      std::string::npos);
  EXPECT_NE(
      error_of(
          "customer_id,date,stage,entered\nc1,2026-01-31,lead,\nc1,2026-02-28,mql,2026-01-15\n", o)
          .find("before its previous snapshot '2026-01-31' (line 2), which shows 'lead'"),
      std::string::npos);
  SnapshotOptions not_absorbing = o;
  not_absorbing.exact_stages = {"mql"};
  EXPECT_NE(error_of(csv, not_absorbing).find("exact_stages: expected absorbing stages"),
            std::string::npos);
}

}  // namespace
}  // namespace lcsim
