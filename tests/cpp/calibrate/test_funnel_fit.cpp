// Calibration from aggregate funnel counts: the expected entries against closed forms, recovery of
// known parameters from counts made by an independent customer-level generator, what counts cannot
// identify, and the message of each kind of bad input.
#include "lcsim/calibrate/funnel_fit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lcsim/core/error.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/model/compile.hpp"

namespace lcsim {
namespace {

// ---- the truth ------------------------------------------------------------------------------------
// lead -> mql | lost; mql -> sql | lost; sql -> won | lost; 25 leads a day.
struct Stage {
  std::string name;
  double mean;
  std::vector<std::pair<std::string, double>> next;
};
const std::vector<Stage> kTruth = {{"lead", 8.0, {{"mql", 0.5}, {"lost", 0.5}}},
                                   {"mql", 20.0, {{"sql", 0.4}, {"lost", 0.6}}},
                                   {"sql", 15.0, {{"won", 0.6}, {"lost", 0.4}}}};
constexpr double kRate = 25.0;

std::vector<std::pair<std::string, std::vector<std::string>>> transitions() {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& s : kTruth) {
    std::vector<std::string> targets;
    for (const auto& [t, p] : s.next) targets.push_back(t);
    out.emplace_back(s.name, targets);
  }
  return out;
}

double uniform01(std::mt19937_64& rng) {
  return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
}

/// An independent generator: customers arrive into lead as a Poisson stream from day 0 (an empty
/// funnel); each stays an exponential time and moves on by the true probabilities. Returns the
/// CSV text of entries per integer period of `days` days and stage (lost is not reported).
std::string generate_counts(std::uint64_t seed, int periods, double days) {
  std::mt19937_64 rng(seed);
  const double end = periods * days;
  std::map<std::string, std::vector<long>> counts;
  for (const char* s : {"lead", "mql", "sql", "won"})
    counts[s].assign(static_cast<std::size_t>(periods), 0);
  const auto count = [&](const std::string& stage, double t) {
    if (t < end && counts.count(stage) > 0) ++counts[stage][static_cast<std::size_t>(t / days)];
  };
  double t = 0.0;
  while (true) {
    t += -std::log(uniform01(rng)) / kRate;
    if (t >= end) break;
    std::string stage = "lead";
    double at = t;
    count(stage, at);
    while (true) {
      const auto it = std::find_if(kTruth.begin(), kTruth.end(),
                                   [&](const Stage& s) { return s.name == stage; });
      if (it == kTruth.end()) break;  // absorbing
      at += -std::log(uniform01(rng)) * it->mean;
      if (at >= end) break;
      double u = uniform01(rng);
      for (const auto& [target, p] : it->next) {
        stage = target;
        if (u < p) break;
        u -= p;
      }
      count(stage, at);
    }
  }
  std::ostringstream csv;
  csv << "period,stage,entries\n";
  for (int k = 0; k < periods; ++k) {
    for (const char* s : {"lead", "mql", "sql", "won"})
      csv << k << ',' << s << ',' << counts[s][static_cast<std::size_t>(k)] << '\n';
  }
  return csv.str();
}

FunnelCounts parse(const std::string& text, const std::string& file = "counts.csv") {
  std::istringstream in(text);
  return parse_funnel_counts(in, file);
}

FunnelFitOptions options(FunnelStart start = FunnelStart::empty) {
  FunnelFitOptions o;
  o.transitions = transitions();
  o.start = start;
  o.period_days = 30.0;
  return o;
}

const EstimateRow& row(const FunnelFit& fit, const std::string& parameter) {
  const EstimateRow* r = fit.estimate(parameter);
  if (r == nullptr) throw std::runtime_error("no estimate " + parameter);
  return *r;
}

// ---- the model ------------------------------------------------------------------------------------

TEST(FunnelModel, ExpectedEntriesMatchClosedForms) {
  // One stage a -> b with mean m, arrivals at rate r from an empty start: by time L the entries
  // into b are r (L - m (1 - e^{-L/m})); the occupancy then is r m (1 - e^{-L/m}).
  const std::vector<std::string> stages = {"a", "b"};
  const std::vector<FunnelStageParameters> params = {{"a", {"b"}, 0}};
  const double m = 12.0, r = 3.0, l1 = 30.0, l2 = 31.0;
  const std::vector<double> theta = {std::log(m)};
  const std::vector<double> e = funnel_expected_entries(stages, params, theta, {r * l1, r * l2},
                                                        {l1, l2}, FunnelStart::empty);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_DOUBLE_EQ(e[0], r * l1);  // entries of a: its arrivals
  const double first = r * (l1 - m * (1 - std::exp(-l1 / m)));
  EXPECT_NEAR(e[1], first, 1e-10 * first);
  const double second = r * (l1 + l2 - m * (1 - std::exp(-(l1 + l2) / m))) - first;
  EXPECT_NEAR(e[3], second, 1e-10 * second);
  // From the steady state, a constant inflow gives r L p per period whatever the means.
  const std::vector<FunnelStageParameters> two = {{"a", {"b", "c"}, 0}};
  const double p = 0.3;
  const std::vector<double> steady =
      funnel_expected_entries({"a", "b", "c"}, two, {std::log(50.0), std::log((1 - p) / p)},
                              {r * l1, r * l2}, {l1, l2}, FunnelStart::steady);
  EXPECT_NEAR(steady[1], r * l1 * p, 1e-9);
  EXPECT_NEAR(steady[2], r * l1 * (1 - p), 1e-9);
  EXPECT_NEAR(steady[4], r * l2 * p, 1e-9);
  EXPECT_THROW(
      (void)funnel_expected_entries(stages, params, {1.0, 2.0}, {1, 1}, {1, 1}, FunnelStart::empty),
      std::invalid_argument);
}

// ---- recovery -------------------------------------------------------------------------------------

TEST(FunnelFit, RecoversKnownParametersFromIndependentCounts) {
  int covered = 0, total = 0;
  for (const std::uint64_t seed : {11u, 12u, 13u}) {
    const FunnelFit fit = fit_funnel(parse(generate_counts(seed, 12, 30.0)), options());
    ASSERT_TRUE(fit.converged) << seed;
    EXPECT_TRUE(fit.warnings.empty()) << fit.warnings.front().to_string();
    EXPECT_EQ(fit.n_cells, 12u * 3u);
    EXPECT_EQ(fit.n_parameters, 6u);
    // Poisson counts from the true model: the deviance is about its degrees of freedom (30).
    EXPECT_LT(fit.deviance, 2.5 * 30.0) << seed;
    for (const auto& s : kTruth) {
      const EstimateRow& mean = row(fit, "stages." + s.name + ".dwell.mean");
      covered += mean.ci_low <= s.mean && s.mean <= mean.ci_high;
      ++total;
      // The ramp-up identifies the means, if loosely (a few-fold interval; sql's is the widest).
      EXPECT_LT(mean.ci_high / mean.ci_low, 6.0) << s.name;
      for (const auto& [target, p] : s.next) {
        const EstimateRow& next = row(fit, "stages." + s.name + ".next." + target);
        covered += next.ci_low <= p && p <= next.ci_high;
        ++total;
        EXPECT_NEAR(next.estimate, p, 0.05) << s.name << " -> " << target;
      }
      EXPECT_NEAR(mean.estimate, s.mean, 0.6 * s.mean) << s.name;
    }
    const EstimateRow& rate = row(fit, "arrivals.streams[0].rate_per_day");
    EXPECT_NEAR(rate.estimate, kRate, 0.05 * kRate);
    EXPECT_EQ(fit.epoch, "");
    EXPECT_EQ(fit.periods.front(), "0");
    EXPECT_DOUBLE_EQ(fit.period_starts.back(), 360.0);
  }
  // 3 seeds x 9 parameters at 95%: expect about 26 covered; fewer than 22 would be a broken interval.
  EXPECT_GE(covered, 22) << covered << " of " << total;
  std::printf("funnel recovery: %d of %d intervals cover the truth\n", covered, total);
}

TEST(FunnelFit, TheScenarioCompilesAndCarriesTheEstimates) {
  FunnelFitOptions o = options(FunnelStart::steady);
  o.name = "from_counts";
  o.seed = 7;
  const FunnelFit fit = fit_funnel(parse(generate_counts(5, 12, 30.0)), o);
  const Scenario& sc = fit.scenario;
  EXPECT_EQ(sc.name, "from_counts");
  EXPECT_EQ(sc.won, "won");
  EXPECT_EQ(sc.seed, 7u);
  EXPECT_DOUBLE_EQ(sc.horizon, 360.0);
  EXPECT_DOUBLE_EQ(sc.report_every, 30.0);
  ASSERT_EQ(sc.stages.size(), 5u);
  EXPECT_EQ(sc.stages[3].name, "lost");  // absorbing targets sorted by name
  EXPECT_TRUE(sc.stages[4].absorbing);
  EXPECT_DOUBLE_EQ(sc.stages[1].dwell->params.at("mean"),
                   row(fit, "stages.mql.dwell.mean").estimate);
  double sum = 0.0;
  for (const auto& [t, p] : sc.stages[2].next->probs) sum += p;
  EXPECT_EQ(sum, 1.0);
  ASSERT_EQ(sc.arrivals.streams.size(), 1u);
  EXPECT_EQ(sc.arrivals.streams[0].stage, "lead");
  EXPECT_FALSE(sc.arrivals.initial.empty());  // a steady start fills the funnel at day 0
  // Written as YAML and read back, it compiles.
  const Scenario back = parse_scenario(to_yaml(sc), "calibrated.yaml");
  EXPECT_NO_THROW((void)compile(back));
}

TEST(FunnelFit, SteadyInflowDoesNotIdentifyTheMeans) {
  // A full funnel (steady start) and a constant inflow: the expected counts do not depend on the
  // means; the probabilities are still identified.
  // Months of 2025 with 25 leads a day and about the true share of them downstream, +- a few.
  const int days[] = {31, 28, 31, 30, 31, 30, 31, 31};
  std::ostringstream csv;
  csv << "period,stage,entries\n";
  for (int k = 0; k < 8; ++k) {
    const std::string month = "2025-0" + std::to_string(k + 1);
    const int d = days[k];
    csv << month << ",lead," << 25 * d << "\n";
    csv << month << ",mql," << std::lround(12.5 * d) + (k % 2 ? 9 : -9) << "\n";
    csv << month << ",sql," << 5 * d + (k % 3 ? 5 : -7) << "\n";
    csv << month << ",won," << 3 * d + (k % 2 ? -4 : 4) << "\n";
  }
  FunnelFitOptions o = options(FunnelStart::steady);
  o.period_days = 0.0;
  const FunnelFit fit = fit_funnel(parse(csv.str()), o);
  EXPECT_EQ(fit.epoch, "2025-01-01");
  EXPECT_EQ(fit.periods[1], "2025-02-01");
  EXPECT_DOUBLE_EQ(fit.period_starts[1], 31.0);
  EXPECT_DOUBLE_EQ(fit.period_starts.back(), 243.0);  // Jan..Aug 2025, the last month's 31 days
  for (const char* s : {"lead", "mql", "sql"}) {
    const std::string path = std::string("stages.") + s + ".dwell.mean";
    EXPECT_NE(std::find(fit.unidentified.begin(), fit.unidentified.end(), path),
              fit.unidentified.end())
        << path;
    EXPECT_GT(row(fit, path).ci_high, 50 * row(fit, path).ci_low);
  }
  const EstimateRow& p = row(fit, "stages.mql.next.sql");
  EXPECT_NEAR(p.estimate, 0.4, 0.02);
  EXPECT_LT(p.ci_high - p.ci_low, 0.15);
  EXPECT_EQ(std::find(fit.unidentified.begin(), fit.unidentified.end(), "stages.mql.next.sql"),
            fit.unidentified.end());
  bool warned = false;
  for (const auto& w : fit.warnings)
    warned = warned || w.message.find("not identified by the counts") != std::string::npos;
  EXPECT_TRUE(warned);
}

// ---- bad input ------------------------------------------------------------------------------------

struct Bad {
  std::string text;
  int line;
  std::string field;
  std::string message;
};

Problem first_problem(const std::string& text) {
  try {
    (void)fit_funnel(parse(text), options());
  } catch (const InputError& e) {
    return e.problems().front();
  }
  ADD_FAILURE() << "no InputError for:\n" << text;
  return {};
}

TEST(FunnelFit, BadInputNamesFileRowAndColumn) {
  const std::string good = "period,stage,entries\n0,lead,100\n0,mql,40\n1,lead,90\n1,mql,45\n";
  const std::vector<Bad> cases = {
      {"", 0, "", "empty file: expected a header row naming the columns period, stage, entries"},
      {"period,stage,entries\n", 1, "", "no data rows"},
      {"period,stage\n0,lead\n", 1, "entries", "missing column 'entries'"},
      {"period,stage,entries\n0,lead,100\n0,mql,many\n", 3, "entries",
       "expected a count (an integer >= 0), got 'many'"},
      {"period,stage,entries\n0,lead,100\n0,mql,-4\n", 3, "entries", "got '-4'"},
      {"period,stage,entries\n0,lead,100\n0,mql,2.5\n", 3, "entries", "got '2.5'"},
      {"period,stage,entries\n0,lead,100\n0,mq1,40\n", 3, "stage", "unknown stage 'mq1'"},
      {"period,stage,entries\n0,lead,100\n0,mql,40\n1,lead,90\n1,mql,45\n0,mql,41\n", 6, "stage",
       "a second row for stage 'mql' in period 0"},
      {"period,stage,entries\n0,lead,100\n0,mql,40\n1,lead,90\n", 0, "period",
       "no row for stage 'mql' in period 1 (give 0 entries)"},
      {"period,stage,entries\n2025-01,lead,100\n2025-13,lead,40\n", 3, "period",
       "expected a date (YYYY-MM or YYYY-MM-DD) or an integer, got '2025-13'"},
      {"period,stage,entries\n0,lead,100\n0,mql,40\n2,lead,9\n2,mql,4\n", 0, "period",
       "consecutive integer periods"},
      {"period,stage,entries\n0,lead,100,7\n", 2, "",
       "expected 3 fields (as in the header), got 4"},
      {"period,stage,entries\n0,mql,40\n", 0, "stage", "entry stage 'lead' has no counts"},
      {"period,stage,entries\n0,lead,40\n", 0, "stage", "nothing to fit"},
  };
  ASSERT_NO_THROW((void)fit_funnel(parse(good), options()));
  for (const Bad& c : cases) {
    const Problem p = first_problem(c.text);
    EXPECT_EQ(p.file, "counts.csv") << c.text;
    EXPECT_EQ(p.line, c.line) << c.text << p.to_string();
    EXPECT_EQ(p.field, c.field) << c.text << p.to_string();
    EXPECT_NE(p.message.find(c.message), std::string::npos) << c.text << p.to_string();
  }
  // A typo gets a suggestion.
  EXPECT_NE(first_problem("period,stage,entries\n0,lead,100\n0,sqll,40\n")
                .message.find("did you mean 'sql'?"),
            std::string::npos);
}

TEST(FunnelFit, BadStructureAndOptions) {
  const FunnelCounts counts = parse("period,stage,entries\n0,lead,100\n0,mql,40\n");
  const auto message = [&](const FunnelFitOptions& o) {
    try {
      (void)fit_funnel(counts, o);
    } catch (const InputError& e) {
      return e.problems().front().field + ": " + e.problems().front().message;
    }
    return std::string("no error");
  };
  FunnelFitOptions cycle;
  cycle.transitions = {{"lead", {"mql"}}, {"mql", {"lead", "won"}}};
  EXPECT_NE(message(cycle).find("transitions: no entry stage"), std::string::npos);
  FunnelFitOptions self;
  self.transitions = {{"lead", {"lead", "mql"}}};
  EXPECT_NE(message(self).find("transitions.lead: expected distinct targets other than 'lead'"),
            std::string::npos);
  FunnelFitOptions none;
  EXPECT_NE(message(none).find("transitions: expected at least one stage"), std::string::npos);
  FunnelFitOptions no_won;
  no_won.transitions = {{"lead", {"mql", "lost"}}, {"mql", {"sql", "lost"}}};
  EXPECT_NE(message(no_won).find("won: expected a stage of the model"), std::string::npos);
  FunnelFitOptions level = options();
  level.level = 1.5;
  EXPECT_NE(message(level).find("level: expected a number in (0, 1)"), std::string::npos);
}

TEST(FunnelFit, ReadsAFileAndSaysWhenItCannot) {
  EXPECT_THROW((void)read_funnel_counts("/nonexistent/counts.csv"), IoError);
  EXPECT_EQ(parse_funnel_start("steady"), FunnelStart::steady);
  EXPECT_EQ(parse_funnel_start("empty"), FunnelStart::empty);
  EXPECT_FALSE(parse_funnel_start("full").has_value());
}

}  // namespace
}  // namespace lcsim
