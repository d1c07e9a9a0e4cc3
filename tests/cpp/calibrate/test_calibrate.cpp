// Calibration from stage-change logs: an independent simulator (std::mt19937_64 and the <random>
// distributions, nothing from lcsim) writes CRM logs with known parameters; the tests read them
// back through read_event_log / parse_event_log and check what calibrate_logs recovers.
#include "lcsim/calibrate/calibrate.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <boost/math/special_functions/beta.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lcsim/calibrate/dwell_fit.hpp"
#include "lcsim/calibrate/history.hpp"
#include "lcsim/calibrate/option_spelling.hpp"
#include "lcsim/calibrate/timestamp.hpp"
#include "lcsim/calibrate/transition_fit.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/model/compile.hpp"

namespace lcsim {
namespace {

// ---- an independent generator of CRM logs ------------------------------------------------------

/// A stage of the true chain.
struct TrueStage {
  std::string name;
  std::string dist;  ///< exponential (a = mean), weibull, lognormal, gamma (a, b as in Dwell)
  double a = 0.0;
  double b = 0.0;
  std::vector<std::pair<std::string, double>> next;  ///< empty: absorbing
};

struct TrueChain {
  std::vector<TrueStage> stages;
  std::string entry;                                   ///< stage arrivals enter
  double rate = 0.0;                                   ///< arrivals per day (mean over a week)
  std::array<double, 7> profile{1, 1, 1, 1, 1, 1, 1};  ///< by day index mod 7 (day 0 a Monday)
  double observe_days = 0.0;                           ///< the log ends at this day (integer)
  /// Segments (name, share, override of the entry stage's next); empty: no segment column.
  std::vector<std::pair<std::string, double>> segments;
  std::vector<std::vector<std::pair<std::string, double>>> segment_entry_next;
};

struct LogRow {
  std::string customer;
  double time = 0.0;  ///< days since 2026-01-05 (a Monday)
  std::string stage;
  std::string segment;
};

const TrueStage& find_stage(const TrueChain& chain, const std::string& name) {
  for (const auto& s : chain.stages) {
    if (s.name == name) return s;
  }
  throw std::runtime_error("no stage " + name);
}

double draw_dwell(const TrueStage& s, std::mt19937_64& rng) {
  if (s.dist == "exponential") return std::exponential_distribution<double>(1.0 / s.a)(rng);
  if (s.dist == "weibull") return std::weibull_distribution<double>(s.a, s.b)(rng);
  if (s.dist == "lognormal") return std::lognormal_distribution<double>(s.a, s.b)(rng);
  if (s.dist == "gamma") return std::gamma_distribution<double>(s.a, s.b)(rng);
  throw std::runtime_error("unknown dist " + s.dist);
}

std::string draw_next(const std::vector<std::pair<std::string, double>>& next,
                      std::mt19937_64& rng) {
  std::vector<double> w;
  for (const auto& e : next) w.push_back(e.second);
  std::discrete_distribution<std::size_t> pick(w.begin(), w.end());
  return next[pick(rng)].first;
}

/// Poisson arrivals (thinned by the weekly profile) walked through the chain until absorption or
/// the end of observation; rows after the end are never written (right-censoring).
std::vector<LogRow> simulate(const TrueChain& chain, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const double mean_profile =
      (chain.profile[0] + chain.profile[1] + chain.profile[2] + chain.profile[3] +
       chain.profile[4] + chain.profile[5] + chain.profile[6]) /
      7.0;
  const double max_rate =
      chain.rate * *std::max_element(chain.profile.begin(), chain.profile.end()) / mean_profile;
  std::exponential_distribution<double> gap(max_rate);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<LogRow> rows;
  double t = 0.0;
  int id = 0;
  for (;;) {
    t += gap(rng);
    if (t >= chain.observe_days) break;
    const auto day = static_cast<std::size_t>(std::floor(t)) % 7;
    if (unit(rng) * max_rate > chain.rate * chain.profile[day] / mean_profile) continue;
    const std::string customer = "cust, " + std::to_string(id++);  // a comma: quoted in CSV
    std::string segment;
    std::size_t segment_index = 0;
    if (!chain.segments.empty()) {
      std::vector<double> w;
      for (const auto& s : chain.segments) w.push_back(s.second);
      segment_index = std::discrete_distribution<std::size_t>(w.begin(), w.end())(rng);
      segment = chain.segments[segment_index].first;
    }
    std::string stage = chain.entry;
    double now = t;
    for (;;) {
      rows.push_back(LogRow{customer, now, stage, segment});
      const TrueStage& s = find_stage(chain, stage);
      if (s.next.empty()) break;
      now += draw_dwell(s, rng);
      if (now > chain.observe_days) break;
      const auto& next = !chain.segments.empty() && stage == chain.entry
                             ? chain.segment_entry_next[segment_index]
                             : s.next;
      stage = draw_next(next, rng);
    }
  }
  // A CRM export is ordered by time, not by customer.
  std::stable_sort(rows.begin(), rows.end(),
                   [](const LogRow& a, const LogRow& b) { return a.time < b.time; });
  return rows;
}

/// "YYYY-MM-DD" of a day counted from 1970-01-01 (written here, not taken from lcsim).
std::string date_of(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  char buffer[80];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02lld-%02lld",
                static_cast<long long>(yoe + era * 400 + (m <= 2 ? 1 : 0)),
                static_cast<long long>(m), static_cast<long long>(d));
  return buffer;
}

constexpr std::int64_t kEpochDay = 20458;  // 2026-01-05, a Monday

/// A timestamp text for `days` after the epoch, in one of several accepted styles.
std::string timestamp_text(double days, int style) {
  const auto day = static_cast<std::int64_t>(std::floor(days));
  auto ms = static_cast<std::int64_t>(std::llround((days - static_cast<double>(day)) * 86400e3));
  std::int64_t d = kEpochDay + day;
  if (ms >= 86400000) {
    ms -= 86400000;
    ++d;
  }
  const auto h = ms / 3600000;
  const auto mi = ms / 60000 % 60;
  const auto s = ms / 1000 % 60;
  const auto f = ms % 1000;
  char buffer[64];
  if (style == 0) {
    std::snprintf(buffer, sizeof buffer, "%s %02lld:%02lld:%02lld.%03lld", date_of(d).c_str(),
                  static_cast<long long>(h), static_cast<long long>(mi), static_cast<long long>(s),
                  static_cast<long long>(f));
  } else if (style == 1) {
    std::snprintf(buffer, sizeof buffer, "%sT%02lld:%02lld:%02lld.%03lldZ", date_of(d).c_str(),
                  static_cast<long long>(h), static_cast<long long>(mi), static_cast<long long>(s),
                  static_cast<long long>(f));
  } else {
    // The same instant at UTC+02:00 (local time two hours later, maybe the next day).
    std::int64_t local = ms + 2 * 3600000;
    std::int64_t ld = d;
    if (local >= 86400000) {
      local -= 86400000;
      ++ld;
    }
    std::snprintf(buffer, sizeof buffer, "%sT%02lld:%02lld:%02lld.%03lld+02:00",
                  date_of(ld).c_str(), static_cast<long long>(local / 3600000),
                  static_cast<long long>(local / 60000 % 60),
                  static_cast<long long>(local / 1000 % 60), static_cast<long long>(local % 1000));
  }
  return buffer;
}

/// CSV text of rows; customer ids are quoted (they hold a comma).
std::string to_csv(const std::vector<LogRow>& rows, bool with_segment) {
  std::string out =
      with_segment ? "customer_id,timestamp,stage,segment\n" : "customer_id,timestamp,stage\n";
  int i = 0;
  for (const LogRow& r : rows) {
    out += "\"" + r.customer + "\"," + timestamp_text(r.time, i++ % 3) + "," + r.stage;
    if (with_segment) out += "," + r.segment;
    out += "\n";
  }
  return out;
}

/// Writes text to a fresh file in the temporary directory and returns its path.
std::string write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("lcsim_calibrate_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream out(path, std::ios::binary);
  out << text;
  return path.string();
}

LogOptions options_for(const TrueChain& chain) {
  LogOptions o;
  for (const auto& s : chain.stages) {
    if (s.next.empty()) o.absorbing.push_back(s.name);
  }
  o.censor_at = date_of(kEpochDay + static_cast<std::int64_t>(chain.observe_days));
  if (!chain.segments.empty()) o.segment_column = "segment";
  return o;
}

DwellFamily family_of(const std::string& dist) {
  if (dist == "weibull") return DwellFamily::kWeibull;
  if (dist == "lognormal") return DwellFamily::kLognormal;
  if (dist == "gamma") return DwellFamily::kGamma;
  return DwellFamily::kExponential;
}

/// True parameter values by scenario name.
std::vector<std::pair<std::string, double>> true_params(const TrueStage& s) {
  if (s.dist == "exponential") return {{"mean", s.a}};
  if (s.dist == "lognormal") return {{"mu", s.a}, {"sigma", s.b}};
  return {{"shape", s.a}, {"scale", s.b}};
}

std::string dump(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += "  " + p.to_string() + "\n";
  return out;
}

/// The sum of a scenario's next-probabilities as compile() forms it (in order).
double sequential_sum(const NextSpec& next) {
  double sum = 0.0;
  for (const auto& e : next.probs) sum += e.second;
  return sum;
}

/// The funnel of the recovery test: one stage per dwell family.
TrueChain funnel() {
  TrueChain c;
  c.stages = {
      {"lead", "exponential", 4.0, 0.0, {{"mql", 0.55}, {"lost", 0.45}}},
      {"mql", "weibull", 2.0, 10.0, {{"sql", 0.5}, {"lead", 0.2}, {"lost", 0.3}}},
      {"sql", "lognormal", 1.5, 0.5, {{"won", 0.4}, {"mql", 0.2}, {"lost", 0.4}}},
      {"won", "gamma", 3.0, 20.0, {{"churned", 1.0}}},
      {"lost", "", 0, 0, {}},
      {"churned", "", 0, 0, {}},
  };
  c.entry = "lead";
  c.rate = 40.0;
  c.profile = {1.2, 1.2, 1.1, 1.0, 0.9, 0.3, 0.3};
  c.observe_days = 120.0;
  return c;
}

// ---- recovery ----------------------------------------------------------------------------------

class Recovery : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    chain_ = new TrueChain(funnel());
    const std::string path = write_temp("funnel.csv", to_csv(simulate(*chain_, 20260105), false));
    log_ = new EventLog(read_event_log(path, options_for(*chain_)));
    std::filesystem::remove(path);
    calibration_ = new Calibration(calibrate_logs(*log_));
  }
  static void TearDownTestSuite() {
    delete calibration_;
    delete log_;
    delete chain_;
  }
  static TrueChain* chain_;
  static EventLog* log_;
  static Calibration* calibration_;
};
TrueChain* Recovery::chain_ = nullptr;
EventLog* Recovery::log_ = nullptr;
Calibration* Recovery::calibration_ = nullptr;

TEST_F(Recovery, reads_the_log_with_a_monday_epoch_and_censoring_at_the_given_end) {
  EXPECT_EQ(log_->epoch, "2026-01-05");
  EXPECT_EQ(log_->epoch_weekday, 0);
  EXPECT_DOUBLE_EQ(log_->censor_at, 120.0);
  EXPECT_GT(log_->customers.size(), 4000U);
  EXPECT_EQ(log_->customers.front().id, "cust, 0");
  EXPECT_EQ(log_->rows, log_->rows_used);
}

TEST_F(Recovery, next_probabilities_lie_in_their_95_percent_intervals) {
  const Calibration& cal = *calibration_;
  for (const auto& s : chain_->stages) {
    for (const auto& [to, p] : s.next) {
      const std::string path = "stages." + s.name + ".next." + to;
      const EstimateRow* row = cal.estimate(path);
      ASSERT_NE(row, nullptr) << path;
      EXPECT_LE(row->ci_low, p) << path << " estimate " << row->estimate;
      EXPECT_GE(row->ci_high, p) << path << " estimate " << row->estimate;
      EXPECT_GT(row->n, 100U) << path;
    }
  }
}

TEST_F(Recovery, dwell_parameters_of_the_true_family_lie_in_their_95_percent_intervals) {
  for (const auto& s : chain_->stages) {
    if (s.next.empty()) continue;
    const StageFit* f = calibration_->stage(s.name);
    ASSERT_NE(f, nullptr) << s.name;
    const DwellFit* fit = f->dwell.fit(family_of(s.dist));
    ASSERT_NE(fit, nullptr);
    ASSERT_TRUE(fit->fitted) << s.name << ": " << fit->reason;
    for (const auto& [name, value] : true_params(s)) {
      const DwellParameter* p = fit->param(name);
      ASSERT_NE(p, nullptr) << s.name << "." << name;
      EXPECT_LE(p->ci_low, value) << s.name << "." << name << " = " << p->estimate;
      EXPECT_GE(p->ci_high, value) << s.name << "." << name << " = " << p->estimate;
    }
  }
}

TEST_F(Recovery, aic_picks_weibull_and_lognormal_where_they_are_true) {
  EXPECT_EQ(calibration_->stage("mql")->dwell.best()->family, DwellFamily::kWeibull);
  EXPECT_EQ(calibration_->stage("sql")->dwell.best()->family, DwellFamily::kLognormal);
  // The family table has one row per family and stage, one chosen per stage.
  int chosen_mql = 0;
  for (const auto& row : calibration_->families) {
    if (row.stage == "mql" && row.segment.empty()) chosen_mql += row.chosen ? 1 : 0;
  }
  EXPECT_EQ(chosen_mql, 1);
  EXPECT_EQ(calibration_->families.size(), 4U * 5U);  // 4 stages x 5 families (with the Coxian)
  // The chosen family's parameters are the estimate rows.
  const EstimateRow* shape = calibration_->estimate("stages.mql.dwell.shape");
  ASSERT_NE(shape, nullptr);
  EXPECT_NEAR(shape->estimate, 2.0, 0.15);
}

TEST_F(Recovery, stays_still_open_at_the_end_are_censored) {
  const StageFit* won = calibration_->stage("won");
  ASSERT_NE(won, nullptr);
  const auto open = std::count(won->censored.begin(), won->censored.end(), true);
  EXPECT_GT(open, 100);  // gamma(3, 20) stays (mean 60 days) in a 120-day window
  EXPECT_EQ(won->dwell.fit(DwellFamily::kGamma)->n_censored, static_cast<std::size_t>(open));
}

TEST_F(Recovery, arrival_rate_and_weekly_profile) {
  const EstimateRow* rate = calibration_->estimate("arrivals.rate_per_day");
  ASSERT_NE(rate, nullptr);
  EXPECT_LE(rate->ci_low, 40.0);
  EXPECT_GE(rate->ci_high, 40.0);
  ASSERT_EQ(calibration_->arrivals.size(), 1U);
  EXPECT_EQ(calibration_->arrivals[0].stage, "lead");
  EXPECT_TRUE(calibration_->initial.empty());  // everyone enters through lead
  ASSERT_EQ(calibration_->weekly_profile.size(), 7U);
  const double mean = 6.0 / 7.0;
  for (std::size_t w = 0; w < 7; ++w) {
    EXPECT_NEAR(calibration_->weekly_profile[w], chain_->profile[w] / mean, 0.15)
        << "weekday " << w;
  }
}

TEST_F(Recovery, the_scenario_compiles_with_probabilities_summing_to_exactly_one) {
  const Scenario& sc = calibration_->scenario;
  EXPECT_NO_THROW({
    const Model m = compile(sc);
    (void)m;
  }) << dump(check(sc));
  EXPECT_EQ(sc.won, "won");
  ASSERT_EQ(sc.stages.size(), 6U);
  for (const auto& st : sc.stages) {
    const bool absorbing = st.name == "lost" || st.name == "churned";
    EXPECT_EQ(st.absorbing, absorbing) << st.name;
    if (absorbing) continue;
    ASSERT_TRUE(st.next.has_value());
    EXPECT_EQ(sequential_sum(*st.next), 1.0) << st.name;
  }
  const StageSpec& mql = sc.stages[1];
  EXPECT_EQ(mql.name, "mql");
  EXPECT_EQ(mql.dwell->dist, "weibull");
  EXPECT_EQ(mql.dwell->params.count("shape"), 1U);
  EXPECT_EQ(mql.dwell->params.count("scale"), 1U);
  ASSERT_EQ(sc.arrivals.streams.size(), 1U);
  // The default epoch is a Monday, so the scenario's profile is the estimated one.
  EXPECT_EQ(sc.arrivals.streams[0].weekly_profile, calibration_->weekly_profile);
  EXPECT_DOUBLE_EQ(sc.horizon, 120.0);
}

TEST_F(Recovery, a_later_epoch_rotates_the_scenario_profile_to_real_weekdays) {
  LogOptions o = options_for(*chain_);
  o.epoch = "2026-01-07";  // a Wednesday
  std::istringstream in(to_csv(simulate(*chain_, 20260105), false));
  const Calibration cal = calibrate_logs(parse_event_log(in, "funnel.csv", o));
  EXPECT_EQ(cal.epoch_weekday, 2);
  EXPECT_DOUBLE_EQ(cal.window_end, 118.0);
  ASSERT_EQ(cal.weekly_profile.size(), 7U);
  const auto& scenario_profile = cal.scenario.arrivals.streams.at(0).weekly_profile;
  ASSERT_EQ(scenario_profile.size(), 7U);
  for (std::size_t w = 0; w < 7; ++w) {
    // Real weekdays do not depend on the epoch.
    EXPECT_NEAR(cal.weekly_profile[w], calibration_->weekly_profile[w], 1e-12);
    // Scenario day j (a "Monday" when j = 0) is the real weekday of 2026-01-07 + j.
    EXPECT_DOUBLE_EQ(scenario_profile[w], cal.weekly_profile[(w + 2) % 7]);
  }
  EXPECT_NO_THROW({
    const Model m = compile(cal.scenario);
    (void)m;
  });
}

TEST(Calibrate, bad_options_name_the_option) {
  std::istringstream in("customer_id,timestamp,stage\nc1,2026-01-01,lead\nc1,2026-01-02,won\n");
  const EventLog log = parse_event_log(in, "events.csv");
  CalibrateOptions o;
  o.report_every = 0.0;
  o.replications = 0;
  try {
    (void)calibrate_logs(log, o);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    ASSERT_EQ(e.problems().size(), 2U) << e.what();
    EXPECT_EQ(e.problems()[0].field, "report_every");
    EXPECT_EQ(e.problems()[0].message, "expected a number > 0, got 0");
    EXPECT_EQ(e.problems()[1].field, "replications");
  }
}

// ---- segments ----------------------------------------------------------------------------------

TEST(CalibrateSegments, segments_with_enough_moves_get_overrides_and_small_ones_are_pooled) {
  TrueChain c;
  c.stages = {
      {"lead", "exponential", 5.0, 0.0, {{"mql", 0.4}, {"lost", 0.6}}},
      {"mql", "exponential", 8.0, 0.0, {{"won", 0.5}, {"lost", 0.5}}},
      {"won", "", 0, 0, {}},
      {"lost", "", 0, 0, {}},
  };
  c.entry = "lead";
  c.rate = 20.0;
  c.observe_days = 60.0;
  c.segments = {{"icp", 0.3}, {"other", 0.69}, {"tiny", 0.01}};
  c.segment_entry_next = {
      {{"mql", 0.8}, {"lost", 0.2}}, {{"mql", 0.4}, {"lost", 0.6}}, {{"mql", 0.4}, {"lost", 0.6}}};
  std::istringstream in(to_csv(simulate(c, 7), true));
  const EventLog log = parse_event_log(in, "segments.csv", options_for(c));
  ASSERT_EQ(log.segments.size(), 3U);
  CalibrateOptions options;
  options.dwell.families = {DwellFamily::kExponential, DwellFamily::kWeibull};
  const Calibration cal = calibrate_logs(log, options);

  const EstimateRow* icp = cal.estimate("segments.icp.stages.lead.next.mql");
  ASSERT_NE(icp, nullptr);
  EXPECT_LE(icp->ci_low, 0.8);
  EXPECT_GE(icp->ci_high, 0.8);
  EXPECT_NE(cal.estimate("segments.icp.stages.lead.dwell.mean"), nullptr);
  const EstimateRow* share = cal.estimate("segments.icp.share");
  ASSERT_NE(share, nullptr);
  EXPECT_LE(share->ci_low, 0.3);
  EXPECT_GE(share->ci_high, 0.3);

  // "tiny" has ~12 customers: fewer than 30 moves out of lead, pooled with a warning.
  EXPECT_EQ(cal.estimate("segments.tiny.stages.lead.next.mql"), nullptr);
  const StageFit* tiny = cal.stage("lead", "tiny");
  ASSERT_NE(tiny, nullptr);
  EXPECT_TRUE(tiny->pooled);
  bool warned = false;
  for (const auto& p : cal.warnings) {
    if (p.field == "segments.tiny.stages.lead") {
      warned = true;
      EXPECT_TRUE(p.warning);
      EXPECT_NE(p.message.find("fewer than min_segment_observations = 30"), std::string::npos)
          << p.message;
      EXPECT_NE(p.message.find("pooled with the all-segment fit"), std::string::npos);
    }
  }
  EXPECT_TRUE(warned) << dump(cal.warnings);

  const Scenario& sc = cal.scenario;
  ASSERT_EQ(sc.segments.size(), 3U);
  double shares = 0.0;
  for (const auto& s : sc.segments) shares += s.share;
  EXPECT_NEAR(shares, 1.0, 1e-12);
  EXPECT_FALSE(sc.segments[0].stages.empty());  // icp overrides lead (and mql)
  EXPECT_EQ(sc.segments[0].stages[0].stage, "lead");
  EXPECT_TRUE(sc.segments[2].stages.empty());  // tiny: all pooled
  EXPECT_NO_THROW({
    const Model m = compile(sc);
    (void)m;
  }) << dump(check(sc));
}

// ---- threads -----------------------------------------------------------------------------------

/// Every number of two calibrations compared exactly (bit for bit), the first difference named.
std::string first_difference(const Calibration& a, const Calibration& b) {
  const auto same = [](double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; };
  if (a.families.size() != b.families.size()) return "families: sizes";
  for (std::size_t i = 0; i < a.families.size(); ++i) {
    const FamilyRow& x = a.families[i];
    const FamilyRow& y = b.families[i];
    const std::string where = x.stage + "/" + x.segment + "/" + x.family;
    if (x.stage != y.stage || x.segment != y.segment || x.family != y.family ||
        x.fitted != y.fitted || x.chosen != y.chosen || x.note != y.note ||
        x.n_events != y.n_events || x.n_censored != y.n_censored ||
        x.params.size() != y.params.size()) {
      return where + ": the rows differ";
    }
    if (!same(x.loglik, y.loglik) || !same(x.aic, y.aic)) return where + ": loglik or aic";
    for (std::size_t k = 0; k < x.params.size(); ++k) {
      if (x.params[k].first != y.params[k].first || !same(x.params[k].second, y.params[k].second)) {
        return where + ": " + x.params[k].first;
      }
    }
  }
  if (a.estimates.size() != b.estimates.size()) return "estimates: sizes";
  for (std::size_t i = 0; i < a.estimates.size(); ++i) {
    const EstimateRow& x = a.estimates[i];
    const EstimateRow& y = b.estimates[i];
    if (x.parameter != y.parameter || x.n != y.n || !same(x.estimate, y.estimate) ||
        !same(x.ci_low, y.ci_low) || !same(x.ci_high, y.ci_high)) {
      return "estimate " + x.parameter;
    }
  }
  return "";
}

TEST(CalibrateThreads, the_dwell_fits_on_1_2_and_5_threads_give_identical_calibrations) {
  TrueChain c;
  c.stages = {
      {"lead", "weibull", 1.5, 5.0, {{"mql", 0.4}, {"lost", 0.6}}},
      {"mql", "lognormal", 1.0, 0.8, {{"won", 0.5}, {"lost", 0.5}}},
      {"won", "", 0, 0, {}},
      {"lost", "", 0, 0, {}},
  };
  c.entry = "lead";
  c.rate = 40.0;
  c.observe_days = 60.0;
  c.segments = {{"icp", 0.3}, {"other", 0.7}};
  c.segment_entry_next = {{{"mql", 0.8}, {"lost", 0.2}}, {{"mql", 0.4}, {"lost", 0.6}}};
  std::istringstream in(to_csv(simulate(c, 11), true));
  const EventLog log = parse_event_log(in, "threads.csv", options_for(c));
  CalibrateOptions options;  // every family, the coxian included
  options.threads = 1;
  const Calibration one = calibrate_logs(log, options);
  ASSERT_GE(one.families.size(), 6U * 5U);  // 2 stages x (all + 2 segments) x 5 families
  for (const int threads : {2, 5, 0}) {
    options.threads = threads;
    EXPECT_EQ(first_difference(calibrate_logs(log, options), one), "") << threads << " threads";
  }
  // A number that differs is found (the comparison can fail).
  Calibration other = one;
  other.families[3].aic = std::nextafter(other.families[3].aic, 0.0);
  EXPECT_NE(first_difference(other, one), "");

  // fit_dwell_all_sets is fit_dwell_all of each set, bit for bit.
  const StageFit* lead = one.stage("lead", "");
  const StageFit* mql = one.stage("mql", "icp");
  ASSERT_NE(lead, nullptr);
  ASSERT_NE(mql, nullptr);
  const std::vector<DwellComparison> sets = fit_dwell_all_sets(
      {{&lead->durations, &lead->censored}, {&mql->durations, &mql->censored}}, {}, 2);
  ASSERT_EQ(sets.size(), 2U);
  const StageFit* fits[] = {lead, mql};
  for (std::size_t i = 0; i < 2; ++i) {
    const DwellComparison want = fit_dwell_all(fits[i]->durations, fits[i]->censored);
    EXPECT_EQ(sets[i].chosen, want.chosen);
    ASSERT_EQ(sets[i].fits.size(), want.fits.size());
    for (std::size_t f = 0; f < want.fits.size(); ++f) {
      const DwellFit& got = sets[i].fits[f];
      EXPECT_EQ(got.family, want.fits[f].family);
      EXPECT_EQ(got.fitted, want.fits[f].fitted);
      EXPECT_EQ(std::memcmp(&got.loglik, &want.fits[f].loglik, sizeof(double)), 0);
      ASSERT_EQ(got.params.size(), want.fits[f].params.size());
      for (std::size_t k = 0; k < got.params.size(); ++k) {
        EXPECT_EQ(got.params[k].estimate, want.fits[f].params[k].estimate);
        EXPECT_EQ(got.params[k].se, want.fits[f].params[k].se);
      }
    }
  }
}

TEST(CalibrateThreads, a_negative_thread_count_is_refused) {
  TrueChain c;
  c.stages = {{"lead", "exponential", 5.0, 0.0, {{"won", 0.5}, {"lost", 0.5}}},
              {"won", "", 0, 0, {}},
              {"lost", "", 0, 0, {}}};
  c.entry = "lead";
  c.rate = 5.0;
  c.observe_days = 30.0;
  std::istringstream in(to_csv(simulate(c, 3), true));
  const EventLog log = parse_event_log(in, "threads.csv", options_for(c));
  CalibrateOptions options;
  options.threads = -1;
  try {
    (void)calibrate_logs(log, options);
    FAIL() << "no error";
  } catch (const InputError& e) {
    ASSERT_EQ(e.problems().size(), 1U) << e.what();
    EXPECT_EQ(e.problems()[0].field, "threads");
  }
}

// ---- coverage ----------------------------------------------------------------------------------

TEST(CalibrateCoverage, intervals_cover_the_truth_in_90_to_99_percent_of_200_seeds) {
  TrueChain c;
  c.stages = {
      {"lead", "weibull", 1.5, 5.0, {{"mql", 0.3}, {"lost", 0.7}}},
      {"mql", "exponential", 10.0, 0.0, {{"won", 0.5}, {"lost", 0.5}}},
      {"won", "", 0, 0, {}},
      {"lost", "", 0, 0, {}},
  };
  c.entry = "lead";
  c.rate = 4.0;
  c.observe_days = 40.0;
  CalibrateOptions options;
  options.dwell.families = {DwellFamily::kExponential, DwellFamily::kWeibull};
  const LogOptions log_options = options_for(c);
  int cover_p = 0;
  int cover_shape = 0;
  int cover_mean = 0;
  const int seeds = 200;
  for (int seed = 1; seed <= seeds; ++seed) {
    std::istringstream in(to_csv(simulate(c, static_cast<std::uint64_t>(seed)), false));
    const Calibration cal =
        calibrate_logs(parse_event_log(in, "coverage.csv", log_options), options);
    const EstimateRow* p = cal.estimate("stages.lead.next.mql");
    ASSERT_NE(p, nullptr);
    cover_p += p->ci_low <= 0.3 && 0.3 <= p->ci_high ? 1 : 0;
    const DwellParameter* shape =
        cal.stage("lead")->dwell.fit(DwellFamily::kWeibull)->param("shape");
    ASSERT_NE(shape, nullptr);
    cover_shape += shape->ci_low <= 1.5 && 1.5 <= shape->ci_high ? 1 : 0;
    const DwellParameter* mean =
        cal.stage("mql")->dwell.fit(DwellFamily::kExponential)->param("mean");
    ASSERT_NE(mean, nullptr);
    cover_mean += mean->ci_low <= 10.0 && 10.0 <= mean->ci_high ? 1 : 0;
  }
  for (const auto& [what, covered] : {std::pair<const char*, int>{"lead->mql", cover_p},
                                      {"lead shape", cover_shape},
                                      {"mql mean (censored)", cover_mean}}) {
    EXPECT_GE(covered, 180) << what << ": " << covered << "/" << seeds;
    EXPECT_LE(covered, 198) << what << ": " << covered << "/" << seeds;
  }
}

// ---- censoring ---------------------------------------------------------------------------------

TEST(CalibrateCensoring, censored_mle_is_unbiased_where_naive_fits_are_far_off) {
  TrueChain c;
  c.stages = {
      {"lead", "exponential", 30.0, 0.0, {{"mql", 0.5}, {"lost", 0.5}}},
      {"mql", "", 0, 0, {}},
      {"lost", "", 0, 0, {}},
  };
  c.entry = "lead";
  c.rate = 100.0;
  c.observe_days = 20.0;  // short against a 30-day mean: most stays are still open
  std::istringstream in(to_csv(simulate(c, 99), false));
  CalibrateOptions options;
  options.won = "mql";
  const Calibration cal =
      calibrate_logs(parse_event_log(in, "censoring.csv", options_for(c)), options);
  const StageFit* lead = cal.stage("lead");
  ASSERT_NE(lead, nullptr);
  const auto open = std::count(lead->censored.begin(), lead->censored.end(), true);
  EXPECT_GT(open, static_cast<long>(lead->censored.size() / 2));

  const EstimateRow* mean = cal.estimate("stages.lead.dwell.mean");
  ASSERT_NE(mean, nullptr) << "exponential should win (it is true and nested)";
  const DwellParameter* fitted = lead->dwell.fit(DwellFamily::kExponential)->param("mean");
  EXPECT_LE(fitted->ci_low, 30.0);
  EXPECT_GE(fitted->ci_high, 30.0);

  // Naive 1: open stays treated as ended.
  const std::vector<bool> none(lead->durations.size(), false);
  const DwellFit as_ended = fit_dwell(DwellFamily::kExponential, lead->durations, none);
  // Naive 2: open stays dropped.
  std::vector<double> ended;
  for (std::size_t i = 0; i < lead->durations.size(); ++i) {
    if (!lead->censored[i]) ended.push_back(lead->durations[i]);
  }
  const DwellFit dropped =
      fit_dwell(DwellFamily::kExponential, ended, std::vector<bool>(ended.size(), false));
  for (const DwellFit* naive : {&as_ended, &dropped}) {
    const DwellParameter& p = naive->params[0];
    EXPECT_GT(std::fabs(p.estimate - 30.0), 4.0 * p.se) << p.estimate << " se " << p.se;
    EXPECT_LT(p.ci_high, 30.0);
  }
}

// ---- dwell fits --------------------------------------------------------------------------------

TEST(DwellFit, aic_picks_weibull_over_exponential_for_shape_2) {
  std::mt19937_64 rng(11);
  std::weibull_distribution<double> weibull(2.0, 10.0);
  std::vector<double> d;
  std::vector<bool> open;
  for (int i = 0; i < 2000; ++i) {
    const double x = weibull(rng);
    d.push_back(std::min(x, 15.0));  // censored at 15 days
    open.push_back(x > 15.0);
  }
  const DwellComparison all = fit_dwell_all(d, open);
  ASSERT_TRUE(all.fitted());
  EXPECT_EQ(all.best()->family, DwellFamily::kWeibull);
  const DwellFit* exp = all.fit(DwellFamily::kExponential);
  EXPECT_GT(exp->aic - all.best()->aic, 100.0);
  const DwellParameter* shape = all.best()->param("shape");
  EXPECT_LE(shape->ci_low, 2.0);
  EXPECT_GE(shape->ci_high, 2.0);
  EXPECT_NEAR(shape->se,
              shape->estimate * (std::log(shape->ci_high) - std::log(shape->ci_low)) /
                  (2 * 1.959963984540054),
              1e-9);
}

TEST(DwellFit, the_optimum_is_a_maximum_of_the_likelihood) {
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> lognormal(1.0, 0.8);
  std::vector<double> d;
  std::vector<bool> open;
  for (int i = 0; i < 500; ++i) {
    const double x = lognormal(rng);
    d.push_back(std::min(x, 6.0));
    open.push_back(x > 6.0);
  }
  for (const DwellFamily family :
       {DwellFamily::kWeibull, DwellFamily::kLognormal, DwellFamily::kGamma}) {
    const DwellFit fit = fit_dwell(family, d, open);
    ASSERT_TRUE(fit.fitted) << to_string(family) << ": " << fit.reason;
    const double a = fit.params[0].estimate;
    const double b = fit.params[1].estimate;
    const double ll = dwell_log_likelihood(family, a, b, d, open);
    EXPECT_NEAR(ll, fit.loglik, 1e-9);
    EXPECT_DOUBLE_EQ(fit.aic, 4.0 - 2.0 * fit.loglik);
    for (const double step : {-1e-3, 1e-3}) {
      EXPECT_LT(dwell_log_likelihood(family, a * (1 + step), b, d, open), ll) << to_string(family);
      EXPECT_LT(dwell_log_likelihood(family, a, b * (1 + step), d, open), ll) << to_string(family);
    }
  }
  EXPECT_EQ(fit_dwell_all(d, open).best()->family, DwellFamily::kLognormal);
}

TEST(DwellFit, exponential_is_closed_form) {
  const std::vector<double> d = {1.0, 2.0, 3.0, 10.0};
  const std::vector<bool> open = {false, false, false, true};
  const DwellFit fit = fit_dwell(DwellFamily::kExponential, d, open);
  ASSERT_TRUE(fit.fitted);
  EXPECT_DOUBLE_EQ(fit.params[0].estimate, 16.0 / 3.0);
  EXPECT_NEAR(fit.params[0].se, 16.0 / 3.0 / std::sqrt(3.0), 1e-12);
  EXPECT_NEAR(fit.loglik, -3.0 * std::log(16.0 / 3.0) - 3.0, 1e-12);
  EXPECT_EQ(fit.n_events, 3U);
  EXPECT_EQ(fit.n_censored, 1U);
  EXPECT_EQ(fit.spec().dist, "exponential");
  EXPECT_DOUBLE_EQ(fit.spec().params.at("mean"), 16.0 / 3.0);
}

TEST(DwellFit, refuses_without_ended_stays) {
  const DwellComparison all = fit_dwell_all({1.0, 2.0}, {true, true});
  EXPECT_FALSE(all.fitted());
  EXPECT_EQ(all.best(), nullptr);
  EXPECT_NE(all.reason.find("no ended stays (2 censored)"), std::string::npos) << all.reason;
  const DwellFit one = fit_dwell(DwellFamily::kWeibull, {3.0, 4.0}, {false, true});
  EXPECT_FALSE(one.fitted);
  EXPECT_NE(one.reason.find("fewer than two distinct ended stays"), std::string::npos);
  EXPECT_THROW((void)fit_dwell(DwellFamily::kFixed, {1.0}, {false}), std::invalid_argument);
  EXPECT_THROW((void)fit_dwell(DwellFamily::kWeibull, {1.0}, {false, true}), std::invalid_argument);
  EXPECT_THROW((void)fit_dwell(DwellFamily::kWeibull, {-1.0}, {false}), std::invalid_argument);
}

TEST(DwellFit, log_survival_is_finite_far_in_the_tail) {
  // Gamma shape 2: Q(2, x) = exp(-x) (1 + x), far below the smallest double at x = 2000.
  EXPECT_NEAR(dwell_log_likelihood(DwellFamily::kGamma, 2.0, 1.0, {2000.0}, {true}),
              -2000.0 + std::log(2001.0), 1e-8);
  EXPECT_NEAR(dwell_log_likelihood(DwellFamily::kGamma, 2.0, 1.0, {5.0}, {true}),
              -5.0 + std::log(6.0), 1e-12);
  // Lognormal: continuous where the tail switches to the asymptotic series (z = 25).
  const double below =
      dwell_log_likelihood(DwellFamily::kLognormal, 0.0, 1.0, {std::exp(25.0 - 1e-7)}, {true});
  const double above =
      dwell_log_likelihood(DwellFamily::kLognormal, 0.0, 1.0, {std::exp(25.0 + 1e-7)}, {true});
  EXPECT_TRUE(std::isfinite(below));
  EXPECT_NEAR(below, above, 1e-4);
  EXPECT_TRUE(
      std::isfinite(dwell_log_likelihood(DwellFamily::kLognormal, 0.0, 0.01, {1e6}, {true})));
  // Weibull: exact.
  EXPECT_DOUBLE_EQ(dwell_log_likelihood(DwellFamily::kWeibull, 2.0, 1.0, {30.0}, {true}), -900.0);
}

// ---- transitions -------------------------------------------------------------------------------

TEST(TransitionFit, mle_and_dirichlet_intervals) {
  const TransitionFit fit = fit_transitions({{"mql", 30}, {"lost", 70}});
  EXPECT_EQ(fit.n, 100U);
  ASSERT_EQ(fit.targets.size(), 2U);
  EXPECT_DOUBLE_EQ(fit.targets[0].probability, 0.3);
  // Two targets with prior 1/2: the Jeffreys interval, Beta(30.5, 70.5) quantiles.
  EXPECT_NEAR(fit.targets[0].ci_low, boost::math::ibeta_inv(30.5, 70.5, 0.025), 1e-12);
  EXPECT_NEAR(fit.targets[0].ci_high, boost::math::ibeta_inv(30.5, 70.5, 0.975), 1e-12);
  // Three targets: the marginal of p_j is Beta(n_j + 1/2, n - n_j + 1).
  const TransitionFit three = fit_transitions({{"a", 5}, {"b", 3}, {"c", 2}});
  EXPECT_NEAR(three.target("b")->ci_high, boost::math::ibeta_inv(3.5, 8.0, 0.975), 1e-12);
  const TransitionFit one = fit_transitions({{"lost", 12}});
  EXPECT_DOUBLE_EQ(one.targets[0].probability, 1.0);
  EXPECT_DOUBLE_EQ(one.targets[0].ci_low, 1.0);
  EXPECT_THROW((void)fit_transitions({{"a", 1}, {"a", 2}}), std::invalid_argument);
  EXPECT_THROW((void)fit_transitions({{"a", 1}}, 0.0), std::invalid_argument);
}

// ---- timestamps --------------------------------------------------------------------------------

TEST(Timestamp, formats_and_time_zones) {
  const auto z = parse_timestamp("2026-01-01T00:00:00Z");
  ASSERT_TRUE(z.has_value());
  EXPECT_EQ(parse_timestamp("2026-01-01T05:00:00+05:00"), z);
  EXPECT_EQ(parse_timestamp("2026-01-01 05:00+0500"), z);
  EXPECT_EQ(parse_timestamp("2025-12-31T19:00:00.000-05:00"), z);
  EXPECT_EQ(parse_timestamp("2026-01-01"), z);
  EXPECT_EQ(parse_timestamp(" 2026-01-01 00:00:00 "), z);
  const auto t = parse_timestamp("2026-01-02 12:00:00.5");
  ASSERT_TRUE(t.has_value());
  EXPECT_DOUBLE_EQ(t->days_since(z->day), 1.5 + 0.5 / 86400.0);
  for (const char* bad :
       {"2026-02-30", "2026-13-01", "2026-01-01 24:00", "2026-1-01", "01/02/2026", "2026-01-01T10",
        "2026-01-01 10:00:00+5", "2026-01-01Z", "2026-01-01 10:00:00.", "yesterday", ""}) {
    EXPECT_FALSE(parse_timestamp(bad).has_value()) << bad;
  }
  EXPECT_TRUE(parse_timestamp("2024-02-29").has_value());
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(2026, 1, 5), kEpochDay);
  EXPECT_EQ(civil_date(kEpochDay), "2026-01-05");
  EXPECT_EQ(weekday(kEpochDay), 0);      // Monday
  EXPECT_EQ(weekday(kEpochDay + 6), 6);  // Sunday
  EXPECT_EQ(weekday(0), 3);              // 1970-01-01 was a Thursday
}

// ---- bad input ---------------------------------------------------------------------------------

/// The InputError parsing `csv` throws (a test failure when none).
InputError parse_error(const std::string& csv, const LogOptions& options = {}) {
  std::istringstream in(csv);
  try {
    (void)parse_event_log(in, "events.csv", options);
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "no InputError for:\n" << csv;
  return InputError("", 0, "", "none");
}

EventLog parse(const std::string& csv, const LogOptions& options = {}) {
  std::istringstream in(csv);
  return parse_event_log(in, "events.csv", options);
}

/// The warning whose message contains `text`; a test failure when none.
Problem warning_with(const EventLog& log, const std::string& text) {
  for (const auto& p : log.warnings) {
    if (p.message.find(text) != std::string::npos) return p;
  }
  ADD_FAILURE() << "no warning with '" << text << "' in\n" << dump(log.warnings);
  return Problem{};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(EventLogErrors, missing_timestamp) {
  const InputError e = parse_error(
      "customer_id,timestamp,stage\n"
      "c1,2026-01-01,lead\n"
      "c1,,mql\n");
  EXPECT_EQ(e.file(), "events.csv");
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.field(), "timestamp");
  EXPECT_TRUE(contains(e.problems()[0].message, "expected a timestamp (YYYY-MM-DD, ")) << e.what();
  EXPECT_TRUE(contains(e.problems()[0].message, "got an empty value")) << e.what();
  EXPECT_TRUE(contains(e.what(), "events.csv:3: timestamp: expected a timestamp")) << e.what();
}

TEST(EventLogErrors, unparseable_timestamps_are_all_listed) {
  const InputError e = parse_error(
      "customer_id,timestamp,stage\n"
      "c1,2026-13-01,lead\n"
      "c2,2026-01-01,lead\n"
      "c2,01/02/2026 10:00,mql\n");
  ASSERT_EQ(e.problems().size(), 2U) << e.what();
  EXPECT_EQ(e.problems()[0].line, 2);
  EXPECT_EQ(e.problems()[0].field, "timestamp");
  EXPECT_TRUE(contains(e.problems()[0].message, "got '2026-13-01'")) << e.what();
  EXPECT_TRUE(contains(e.problems()[0].message, "YYYY-MM-DD HH:MM[:SS[.fff]]")) << e.what();
  EXPECT_TRUE(contains(e.problems()[0].message, "+HH:MM")) << e.what();
  EXPECT_EQ(e.problems()[1].line, 4);
  EXPECT_TRUE(contains(e.problems()[1].message, "got '01/02/2026 10:00'")) << e.what();
}

TEST(EventLog, time_zone_offsets_are_normalised_to_utc) {
  const EventLog log = parse(
      "customer_id,timestamp,stage\n"
      "a,2026-01-01T05:00:00+05:00,lead\n"
      "b,2026-01-01T00:00:00Z,lead\n"
      "c,2026-01-01 03:00:00+0300,lead\n");
  ASSERT_EQ(log.customers.size(), 3U);
  const double t = log.customers[1].entries[0].time;
  EXPECT_EQ(log.customers[0].entries[0].time, t);
  EXPECT_EQ(log.customers[2].entries[0].time, t);
  EXPECT_EQ(log.epoch, "2026-01-01");  // the date of the first row
  EXPECT_EQ(log.epoch_weekday, 3);     // a Thursday
  EXPECT_EQ(t, 0.0);
  LogOptions o;
  o.epoch = "2025-12-29";
  o.drop_duplicates = true;
  const EventLog shifted = parse(
      "customer_id,timestamp,stage\n"
      "a,2026-01-01T05:00:00.250+05:00,lead\n"
      "a,2026-01-01T00:00:00.250Z,lead\n",  // the same instant: a duplicate
      o);
  EXPECT_EQ(shifted.customers[0].entries.size(), 1U);
  EXPECT_DOUBLE_EQ(shifted.customers[0].entries[0].time, 3.0 + 0.25 / 86400.0);
}

TEST(EventLogErrors, unknown_stage_without_a_stage_map) {
  LogOptions o;
  o.stages = {"lead", "mql", "lost"};
  const InputError e = parse_error(
      "customer_id,timestamp,stage\n"
      "c1,2026-01-01,lead\n"
      "c1,2026-01-02,leed\n",
      o);
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.field(), "stage");
  EXPECT_EQ(e.problems()[0].message,
            "unknown stage 'leed' (expected one of: lead, mql, lost); did you mean 'lead'?");
}

TEST(EventLogErrors, unknown_stage_with_a_stage_map) {
  LogOptions o;
  o.stage_map = {{"Lead", "lead"}, {"Marketing Qualified", "mql"}, {"Closed Lost", "lost"}};
  o.absorbing = {"lost"};
  const std::string good =
      "customer_id,timestamp,stage\n"
      "c1,2026-01-01,Lead\n"
      "c1,2026-01-02,Marketing Qualified\n"
      "c1,2026-01-03,Closed Lost\n";
  const EventLog log = parse(good, o);
  EXPECT_EQ(log.stages, (std::vector<std::string>{"lead", "mql", "lost"}));
  const InputError e = parse_error(good + "c2,2026-01-03,Leed\n", o);
  EXPECT_EQ(e.line(), 5);
  EXPECT_EQ(e.field(), "stage");
  EXPECT_TRUE(contains(e.problems()[0].message, "unknown stage 'Leed': not in the stage map"))
      << e.what();
  EXPECT_TRUE(contains(e.problems()[0].message, "did you mean 'Lead'?")) << e.what();
  // A map onto a stage outside the known list is an error in the options.
  o.stages = {"lead", "mql", "lost"};
  o.stage_map["SQL"] = "sqll";
  const InputError bad_map = parse_error(good, o);
  EXPECT_EQ(bad_map.field(), "stage_map.SQL");
  EXPECT_TRUE(contains(bad_map.what(), "maps to unknown stage 'sqll'")) << bad_map.what();
}

TEST(EventLogErrors, duplicate_rows_are_errors_unless_dropped) {
  const std::string csv =
      "customer_id,timestamp,stage\n"
      "c1,2026-01-01 10:00,lead\n"
      "c1,2026-01-02 10:00,mql\n"
      "c1,2026-01-01T10:00:00Z,lead\n";  // the same instant as line 2, written differently
  const InputError e = parse_error(csv);
  EXPECT_EQ(e.line(), 4);
  EXPECT_EQ(e.field(), "");
  EXPECT_TRUE(contains(e.problems()[0].message,
                       "duplicate row: same customer_id, timestamp and stage as line 2"))
      << e.what();
  EXPECT_TRUE(
      contains(e.problems()[0].message, "drop them with LogOptions::drop_duplicates = true"))
      << e.what();

  LogOptions o;
  o.drop_duplicates = true;
  const EventLog log = parse(csv, o);
  ASSERT_EQ(log.customers.size(), 1U);
  EXPECT_EQ(log.customers[0].entries.size(), 2U);
  const Problem w = warning_with(log, "duplicate rows dropped");
  EXPECT_TRUE(w.warning);
  EXPECT_EQ(w.line, 4);
  EXPECT_EQ(w.message,
            "1 duplicate rows dropped (same customer_id, timestamp and stage as an earlier row): "
            "line 4");
}

TEST(EventLog, rows_out_of_order_are_sorted_and_reported) {
  const EventLog log = parse(
      "customer_id,timestamp,stage\n"
      "c1,2026-01-03,sql\n"
      "c1,2026-01-01,lead\n"
      "c2,2026-01-01,lead\n"
      "c1,2026-01-02,mql\n");
  const Problem w = warning_with(log, "out of order");
  EXPECT_EQ(w.line, 3);
  EXPECT_EQ(w.field, "timestamp");
  EXPECT_TRUE(contains(w.message, "2 rows out of order within their customer")) << w.message;
  EXPECT_TRUE(contains(w.message, "lines 3, 5")) << w.message;
  const auto& entries = log.customers[0].entries;
  ASSERT_EQ(entries.size(), 3U);
  EXPECT_EQ(entries[0].stage, "lead");
  EXPECT_EQ(entries[1].stage, "mql");
  EXPECT_EQ(entries[2].stage, "sql");
  EXPECT_EQ(entries[2].line, 2);
}

TEST(EventLog, rows_after_an_absorbing_stage_are_ignored_and_reported) {
  LogOptions o;
  o.absorbing = {"lost"};
  const EventLog log = parse(
      "customer_id,timestamp,stage\n"
      "c1,2026-01-01,lead\n"
      "c1,2026-01-02,lost\n"
      "c1,2026-01-05,mql\n"
      "c2,2026-01-01,lead\n"
      "c2,2026-01-03,mql\n",
      o);
  const Problem w = warning_with(log, "absorbing");
  EXPECT_EQ(w.line, 4);
  EXPECT_EQ(w.field, "stage");
  EXPECT_EQ(w.message, "1 rows after the customer entered an absorbing stage (ignored): line 4");
  EXPECT_EQ(log.customers[0].entries.size(), 2U);
  EXPECT_EQ(log.rows, 5U);
  EXPECT_EQ(log.rows_used, 4U);
}

TEST(EventLogErrors, empty_file_and_header_only) {
  const InputError empty = parse_error("");
  EXPECT_EQ(empty.line(), 0);
  EXPECT_EQ(empty.problems()[0].message,
            "empty file: expected a header row naming the columns customer_id, timestamp, stage");
  const InputError header = parse_error("customer_id,timestamp,stage\n\n");
  EXPECT_EQ(header.line(), 1);
  EXPECT_TRUE(contains(header.problems()[0].message, "no data rows")) << header.what();
}

TEST(EventLogErrors, missing_column) {
  const InputError e = parse_error(
      "customer_id,time,stage\n"
      "c1,2026-01-01,lead\n");
  EXPECT_EQ(e.line(), 1);
  EXPECT_EQ(e.field(), "timestamp");
  EXPECT_EQ(e.problems()[0].message,
            "expected a column named 'timestamp', got columns customer_id, time, stage");
  LogOptions o;
  o.segment_column = "segment";
  const InputError seg =
      parse_error("customer_id,timestamp,stage,segmnt\nc1,2026-01-01,lead,a\n", o);
  EXPECT_EQ(seg.field(), "segment");
  EXPECT_TRUE(contains(seg.what(), "did you mean 'segmnt'?")) << seg.what();
}

TEST(EventLogErrors, empty_id_empty_stage_and_wrong_field_count) {
  const InputError e = parse_error(
      "customer_id,timestamp,stage\n"
      " ,2026-01-01,lead\n"
      "c1,2026-01-01,\n"
      "c1,2026-01-01,lead,extra\n");
  ASSERT_EQ(e.problems().size(), 4U) << e.what();
  EXPECT_EQ(e.problems()[3].message,
            "no usable rows: every one of the 3 data rows has a defect listed above");
  EXPECT_EQ(e.problems()[0].line, 2);
  EXPECT_EQ(e.problems()[0].field, "customer_id");
  EXPECT_EQ(e.problems()[0].message, "expected a customer id, got an empty value");
  EXPECT_EQ(e.problems()[1].line, 3);
  EXPECT_EQ(e.problems()[1].field, "stage");
  EXPECT_EQ(e.problems()[1].message, "expected a stage name, got an empty value");
  EXPECT_EQ(e.problems()[2].line, 4);
  EXPECT_EQ(e.problems()[2].message, "expected 3 fields (as in the header), got 4");
}

// ---- messy exports: every defect in one pass, or dropped with a cleaning report ---------------

/// A log with one or more rows of each defect class, at known lines (the header is line 1).
const std::string kMessy =
    "customer_id,timestamp,stage\n"        // 1
    "c1,2026-01-01,lead\n"                 // 2
    "c1,,mql\n"                            // 3  missing timestamp
    "c1,2026-01-09,mql\n"                  // 4
    "c2,2026-01-02T10:00:00+02:00,lead\n"  // 5  offset -> UTC
    "c2,someday,mql\n"                     // 6  unparseable timestamp
    "c2,2026-01-03,Leed\n"                 // 7  unknown stage
    "c3,2026-01-04,lead\n"                 // 8
    "c3,2026-01-04,lead\n"                 // 9  duplicate of 8
    "c3,2026-01-20,won\n"                  // 10
    "c3,2026-01-25,mql\n"                  // 11 after an absorbing stage
    "c4,2026-01-12,mql\n"                  // 12
    "c4,2026-01-06,lead\n"                 // 13 out of order
    ",2026-01-07,lead\n"                   // 14 empty customer id
    "c5,2026-01-08,lead,extra\n"           // 15 wrong number of fields
    "c5,,\n";                              // 16 missing timestamp and empty stage

LogOptions messy_options() {
  LogOptions o;
  o.stages = {"lead", "mql", "won"};
  o.absorbing = {"won"};
  return o;
}

const CleaningStep* step_of(const EventLog& log, const std::string& defect) {
  for (const auto& s : log.cleaning) {
    if (s.defect == defect) return &s;
  }
  ADD_FAILURE() << "no cleaning step '" << defect << "'";
  return nullptr;
}

TEST(MessyLog, every_class_of_defect_is_reported_in_one_pass) {
  const InputError e = parse_error(kMessy, messy_options());
  std::vector<std::pair<int, std::string>> found;
  for (const auto& p : e.problems()) found.emplace_back(p.line, p.field);
  // Row defects grouped by class in order of first appearance, then the duplicate (found on the
  // usable rows in the same pass).
  const std::vector<std::pair<int, std::string>> expected{
      {3, "timestamp"},    {16, "timestamp"}, {6, "timestamp"}, {7, "stage"},
      {14, "customer_id"}, {15, ""},          {16, "stage"},    {9, ""}};
  EXPECT_EQ(found, expected) << e.what();
}

TEST(MessyLog, each_class_lists_ten_rows_and_counts_the_rest) {
  std::string csv = "customer_id,timestamp,stage\nc0,2026-01-01,lead\n";
  for (int i = 0; i < 25; ++i) csv += "c" + std::to_string(i) + ",,lead\n";  // lines 3..27
  for (int i = 0; i < 12; ++i) csv += "d" + std::to_string(i) + ",2026-01-02,nowhere\n";  // 28..39
  const InputError e = parse_error(csv, messy_options());
  ASSERT_EQ(e.problems().size(), 10U + 1U + 10U + 1U) << e.what();
  EXPECT_EQ(e.problems()[10].line, 13);
  EXPECT_EQ(e.problems()[10].message,
            "15 more rows with a missing timestamp: lines 13, 14, 15, 16, 17, ...");
  EXPECT_EQ(e.problems()[11].field, "stage");
  EXPECT_EQ(e.problems()[21].message, "2 more rows with an unknown stage: lines 38, 39");
}

TEST(MessyLog, drop_invalid_drops_and_lists_every_class) {
  LogOptions o = messy_options();
  o.drop_invalid = true;
  const EventLog log = parse(kMessy, o);
  std::vector<std::string> defects;
  for (const auto& s : log.cleaning) defects.push_back(s.defect + ": " + s.action);
  const std::vector<std::string> expected{
      "missing timestamp: dropped",
      "unparseable timestamp: dropped",
      "unknown stage: dropped",
      "empty customer id: dropped",
      "wrong number of fields: dropped",
      "empty stage: dropped",
      "duplicate row: dropped",
      "timezone offset: converted to UTC",
      "no time zone: read as UTC",
      "out of order: sorted by timestamp",
      "after an absorbing stage: dropped",
      "customer with one row: kept (censored in its first stage)"};
  EXPECT_EQ(defects, expected);
  const CleaningStep* missing = step_of(log, "missing timestamp");
  ASSERT_NE(missing, nullptr);
  EXPECT_EQ(missing->rows, 2U);
  EXPECT_EQ(missing->customers, 2U);  // c1 and c5
  EXPECT_EQ(missing->lines, (std::vector<int>{3, 16}));
  EXPECT_EQ(missing->column, "timestamp");
  EXPECT_EQ(step_of(log, "empty customer id")->customers, 0U);
  EXPECT_EQ(step_of(log, "duplicate row")->lines, std::vector<int>{9});
  EXPECT_EQ(step_of(log, "out of order")->lines, std::vector<int>{13});
  EXPECT_EQ(step_of(log, "after an absorbing stage")->lines, std::vector<int>{11});
  EXPECT_EQ(step_of(log, "timezone offset")->lines, std::vector<int>{5});
  // What is left: c1 lead -> mql, c2 lead (08:00 UTC), c3 lead -> won, c4 lead -> mql (sorted).
  ASSERT_EQ(log.customers.size(), 4U);
  EXPECT_EQ(log.rows, 15U);
  EXPECT_EQ(log.rows_used, 7U);
  EXPECT_DOUBLE_EQ(log.customers[1].entries[0].time, 1.0 + 8.0 / 24.0);
  EXPECT_EQ(log.customers[3].entries[0].stage, "lead");
  const Problem w = warning_with(log, "unusable rows dropped");
  EXPECT_EQ(w.line, 3);
  EXPECT_TRUE(contains(w.message, "2 missing timestamp, 1 unparseable timestamp")) << w.message;
}

TEST(MessyLog, a_log_with_no_usable_row_is_an_error_even_when_dropping) {
  LogOptions o = messy_options();
  o.drop_invalid = true;
  const InputError e = parse_error("customer_id,timestamp,stage\nc1,,lead\nc2,x,lead\n", o);
  EXPECT_EQ(e.problems().back().message,
            "no usable rows: every one of the 2 data rows has a defect listed above");
}

TEST(MessyLog, semicolons_are_detected_or_named) {
  const EventLog log = parse(
      "\xEF\xBB\xBF"
      "customer_id;timestamp;stage\nc1;2026-01-01;lead\nc1;2026-01-02;won\n");
  ASSERT_EQ(log.customers.size(), 1U);
  EXPECT_EQ(log.customers[0].entries.size(), 2U);
  LogOptions o;
  o.separator = ',';  // named: the header is then one column
  EXPECT_EQ(parse_error("customer_id;timestamp;stage\nc1;2026-01-01;lead\n", o).field(),
            "customer_id");
  EXPECT_EQ(parse_timestamp("31/12/2025 14:30", DateOrder::kDayFirst),
            parse_timestamp("2025-12-31T14:30:00Z"));
  EXPECT_EQ(parse_timestamp("1.2.2026", DateOrder::kDayFirst), parse_timestamp("2026-02-01"));
  EXPECT_EQ(parse_timestamp("12/31/2025", DateOrder::kMonthFirst), parse_timestamp("2025-12-31"));
  EXPECT_FALSE(parse_timestamp("12/31/2025", DateOrder::kDayFirst).has_value());  // no month 31
  EXPECT_FALSE(parse_timestamp("31/12/2025", DateOrder::kIso).has_value());       // never guessed
  EXPECT_FALSE(parse_timestamp("31/12-2025", DateOrder::kDayFirst).has_value());
  LogOptions dmy;
  dmy.date_order = DateOrder::kDayFirst;
  const EventLog eu =
      parse("customer_id;timestamp;stage\nc1;05/01/2026 10:00;lead\nc1;2026-01-07;won\n", dmy);
  EXPECT_EQ(eu.epoch, "2026-01-05");
  const InputError us = parse_error("customer_id,timestamp,stage\nc1,13/01/2026,lead\n");
  EXPECT_TRUE(contains(us.what(), "got '13/01/2026'")) << us.what();
  EXPECT_TRUE(has_utc_offset("2026-01-01T00:00:00+05:30"));
  EXPECT_TRUE(has_utc_offset("2026-01-01 00:00-0800"));
  EXPECT_FALSE(has_utc_offset("2026-01-01T00:00:00Z"));
  EXPECT_FALSE(has_utc_offset("2026-01-01"));
}

// ---- the analyst's front door: the whole picture, errors included ----------------------------

TEST(MessyLog, collect_errors_returns_every_class_every_warning_and_the_errors) {
  LogOptions o = messy_options();
  o.collect_errors = true;
  const EventLog log = parse(kMessy, o);
  // The errors are those the plain read throws, in the same order.
  const InputError thrown = parse_error(kMessy, messy_options());
  ASSERT_EQ(log.errors.size(), thrown.problems().size());
  for (std::size_t i = 0; i < log.errors.size(); ++i) {
    EXPECT_EQ(log.errors[i].to_string(), thrown.problems()[i].to_string());
  }
  // Every class, the ones that stop the fit flagged, each with every line.
  std::vector<std::string> defects;
  for (const auto& s : log.cleaning) defects.push_back(s.defect + (s.error ? " (error)" : ""));
  const std::vector<std::string> expected{"missing timestamp (error)",
                                          "unparseable timestamp (error)",
                                          "unknown stage (error)",
                                          "empty customer id (error)",
                                          "wrong number of fields (error)",
                                          "empty stage (error)",
                                          "duplicate row (error)",
                                          "timezone offset",
                                          "no time zone",
                                          "out of order",
                                          "after an absorbing stage",
                                          "customer with one row"};
  EXPECT_EQ(defects, expected);
  EXPECT_EQ(step_of(log, "missing timestamp")->action,
            "error (drop these rows with LogOptions::drop_invalid = true)");
  EXPECT_EQ(step_of(log, "duplicate row")->action,
            "error (drop them with LogOptions::drop_duplicates = true)");
  EXPECT_EQ(step_of(log, "missing timestamp")->lines, (std::vector<int>{3, 16}));
  EXPECT_EQ(step_of(log, "timezone offset")->lines, std::vector<int>{5});
  EXPECT_EQ(step_of(log, "timezone offset")->detail, "+02:00: 1 row");
  EXPECT_EQ(step_of(log, "no time zone")->lines, (std::vector<int>{2, 4, 8, 9, 10, 11, 12, 13}));
  EXPECT_EQ(step_of(log, "out of order")->lines, std::vector<int>{13});
  EXPECT_EQ(step_of(log, "after an absorbing stage")->lines, std::vector<int>{11});
  // The warnings are there too, and the paths are built from the rows without errors.
  (void)warning_with(log, "out of order");
  (void)warning_with(log, "after the customer entered an absorbing stage");
  (void)warning_with(log, "give no time zone");
  EXPECT_EQ(log.rows_used, 7U);
  // The same picture with the CLI's spelling names the flags.
  o.spelling = OptionSpelling::kCli;
  const EventLog cli = parse(kMessy, o);
  EXPECT_EQ(step_of(cli, "missing timestamp")->action,
            "error (drop these rows with --drop-invalid)");
  EXPECT_TRUE(contains(cli.errors.back().message, "drop them with --drop-duplicates"))
      << cli.errors.back().message;
  // Bad options are still thrown: there is no picture without them.
  o.censor_at = "soon";
  EXPECT_EQ(parse_error(kMessy, o).field(), "censor_at");
  // No usable row: the errors come back, with nothing else to show.
  LogOptions none;
  none.collect_errors = true;
  const EventLog empty = parse("customer_id,timestamp,stage\nc1,,lead\nc2,x,lead\n", none);
  EXPECT_TRUE(empty.customers.empty());
  ASSERT_EQ(empty.errors.size(), 3U);
  EXPECT_TRUE(contains(empty.errors.back().message, "no usable rows"))
      << empty.errors.back().message;
  EXPECT_EQ(empty.cleaning.size(), 2U);
}

TEST(MessyLog, a_cleaning_step_lists_every_line) {
  std::string csv = "customer_id,timestamp,stage\nc0,2026-01-01,lead\n";
  std::vector<int> expected;
  for (int i = 0; i < 25; ++i) {
    csv += "c" + std::to_string(i) + ",,lead\n";  // lines 3..27
    expected.push_back(3 + i);
  }
  LogOptions o = messy_options();
  o.drop_invalid = true;
  const EventLog log = parse(csv, o);
  EXPECT_EQ(step_of(log, "missing timestamp")->rows, 25U);
  EXPECT_EQ(step_of(log, "missing timestamp")->lines, expected);
}

TEST(EventLog, utc_named_with_z_counts_with_the_other_offsets) {
  const auto zones = [](const std::string& rows) {
    const EventLog log = parse("customer_id,timestamp,stage\n" + rows);
    std::string out;
    for (const auto& s : log.cleaning) {
      if (s.defect == "timezone offset" || s.defect == "no time zone") {
        out += s.defect + " " + std::to_string(s.rows) +
               (s.detail.empty() ? "" : " [" + s.detail + "]") + "; ";
      }
    }
    return out;
  };
  // Z, +00:00, +02:00 and no zone in one file: Z is counted with the offsets.
  EXPECT_EQ(zones("a,2026-01-01T00:00:00Z,lead\n"
                  "a,2026-01-02T00:00:00Z,mql\n"
                  "b,2026-01-01T02:00:00+02:00,lead\n"
                  "b,2026-01-03 00:00:00+00:00,mql\n"
                  "c,2026-01-01 09:00,lead\n"),
            "timezone offset 4 [Z: 2 rows, +00:00: 1 row, +02:00: 1 row]; no time zone 1; ");
  // Every row in UTC, however written, or every row without a zone: nothing needed doing.
  EXPECT_EQ(zones("a,2026-01-01T00:00:00Z,lead\nb,2026-01-01 00:00+00:00,lead\n"), "");
  EXPECT_EQ(zones("a,2026-01-01 10:00,lead\nb,2026-01-01,lead\n"), "");
  // One zone other than UTC throughout: converted, no rows without one.
  EXPECT_EQ(zones("a,2026-01-01T10:00:00-05:00,lead\nb,2026-01-01T10:00:00-0500,lead\n"),
            "timezone offset 2 [-05:00: 2 rows]; ");
  const EventLog mixed =
      parse("customer_id,timestamp,stage\na,2026-01-01T00:00:00Z,lead\nb,2026-01-01 09:00,lead\n");
  const Problem w = warning_with(mixed, "give no time zone");
  EXPECT_EQ(w.line, 3);
  EXPECT_EQ(w.message,
            "1 rows give no time zone and are read as UTC, while 1 rows name one (Z: 1 row): check "
            "the export's time zone: line 3");
}

TEST(EventLog, customers_apart_in_a_file_grouped_by_customer_are_counted) {
  // Grouped by customer, except d's last row and b's second block (a second export appended).
  const EventLog log = parse(
      "customer_id,timestamp,stage\n"  // 1
      "a,2026-01-01,lead\n"            // 2
      "a,2026-01-02,mql\n"             // 3
      "b,2026-01-01,lead\n"            // 4
      "b,2026-01-03,mql\n"             // 5
      "c,2026-01-01,lead\n"            // 6
      "c,2026-01-04,mql\n"             // 7
      "d,2026-01-02,lead\n"            // 8
      "e,2026-01-02,lead\n"            // 9
      "e,2026-01-05,mql\n"             // 10
      "d,2026-01-06,mql\n"             // 11 apart from line 8
      "b,2026-01-07,sql\n"             // 12 apart from lines 4-5
      "b,2026-01-08,won\n");           // 13 (the same block as 12, apart from 4-5)
  const CleaningStep* apart = step_of(log, "not contiguous");
  ASSERT_NE(apart, nullptr);
  EXPECT_EQ(apart->lines, (std::vector<int>{11, 12, 13}));
  EXPECT_EQ(apart->customers, 2U);
  EXPECT_EQ(apart->column, "customer_id");
  EXPECT_EQ(apart->action, "kept (rows gathered by customer)");
  const Problem w = warning_with(log, "apart from the earlier rows of their customer");
  EXPECT_EQ(w.line, 11);
  EXPECT_TRUE(contains(w.message, "(3 of 5 customers with several rows have them together)"))
      << w.message;
  ASSERT_EQ(log.customers[1].entries.size(), 4U);  // b, gathered
  // A file in time order interleaves customers by nature: nothing to say.
  const EventLog by_time = parse(
      "customer_id,timestamp,stage\n"
      "a,2026-01-01,lead\nb,2026-01-01,lead\nc,2026-01-01,lead\n"
      "a,2026-01-02,mql\nb,2026-01-03,mql\nc,2026-01-04,mql\n");
  for (const auto& s : by_time.cleaning) EXPECT_NE(s.defect, "not contiguous");
}

/// A log of `customers` paths lead -> mql -> sql -> won|lost, each row on its own day, plus
/// `extra` rows appended (customer id, stage).
std::string funnel_log(int customers,
                       const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  std::string csv = "customer_id,timestamp,stage\n";
  for (int c = 0; c < customers; ++c) {
    const std::string id = "c" + std::to_string(c);
    const int day = 1 + c % 20;
    csv += id + ",2026-01-" + (day < 10 ? "0" : "") + std::to_string(day) + ",lead\n";
    csv += id + ",2026-02-01,mql\n";
    csv += id + ",2026-02-10,sql\n";
    csv += id + ",2026-03-01," + std::string(c % 3 == 0 ? "won" : "lost") + "\n";
  }
  for (const auto& [id, stage] : extra) csv += id + ",2026-03-05," + stage + "\n";
  return csv;
}

TEST(EventLog, a_stage_name_in_a_handful_of_rows_is_flagged_as_possibly_unmapped) {
  // 1,200 rows plus 'Demo Booked' in one: at most 0.1% of the rows kept.
  const std::string csv = funnel_log(300, {{"c0", "Demo Booked"}});
  LogOptions o;
  o.absorbing = {"lost"};  // 'won' is not absorbing here, so c0 can still move on
  const EventLog log = parse(csv, o);
  const CleaningStep* rare = step_of(log, "rare stage");
  ASSERT_NE(rare, nullptr);
  EXPECT_EQ(rare->lines, std::vector<int>{1202});
  EXPECT_EQ(rare->detail, "'Demo Booked': 1 row");
  EXPECT_EQ(rare->action, "kept as a stage of the model");
  const Problem w = warning_with(log, "Demo Booked");
  EXPECT_EQ(w.line, 1202);
  EXPECT_EQ(w.field, "stage");
  EXPECT_TRUE(contains(w.message,
                       "stage 'Demo Booked' is in only 1 of 1201 rows (line 1202): possibly "
                       "a CRM stage missing from a stage map"))
      << w.message;
  EXPECT_TRUE(contains(w.message, "LogOptions::stages")) << w.message;
  const auto count = std::find_if(log.stage_counts.begin(), log.stage_counts.end(),
                                  [](const StageCount& c) { return c.stage == "Demo Booked"; });
  ASSERT_NE(count, log.stage_counts.end());
  EXPECT_TRUE(count->rare);
  EXPECT_EQ(count->rows, 1U);
  for (const auto& c : log.stage_counts) EXPECT_EQ(c.rare, c.stage == "Demo Booked") << c.stage;
  // The CLI's and Python's spellings name their own options.
  o.spelling = OptionSpelling::kCli;
  EXPECT_TRUE(contains(warning_with(parse(csv, o), "Demo Booked").message,
                       "with --stages a,b,... (other names are then errors) or map CRM names with "
                       "--stage-map map.yaml"));
  o.spelling = OptionSpelling::kPython;
  EXPECT_TRUE(contains(warning_with(parse(csv, o), "Demo Booked").message, "stages=[...]"));
  // With the stages named it is an error instead, with the closest name.
  o.stages = {"lead", "mql", "sql", "won", "lost"};
  EXPECT_EQ(parse_error(csv, o).line(), 1202);
  // Without the rare name nothing is flagged; a share of 0 turns the check off.
  const EventLog clean = parse(funnel_log(300));
  EXPECT_TRUE(std::none_of(clean.stage_counts.begin(), clean.stage_counts.end(),
                           [](const StageCount& c) { return c.rare; }));
  LogOptions off;
  off.rare_stage_share = 0.0;
  for (const auto& s : parse(csv, off).cleaning) EXPECT_NE(s.defect, "rare stage");
}

TEST(EventLog, stages_come_in_funnel_order_along_the_paths) {
  // First seen: sql (a customer already mid-funnel), then lost, won, mql, lead.
  const EventLog log = parse(
      "customer_id,timestamp,stage\n"
      "x,2026-01-01,sql\n"
      "x,2026-01-05,lost\n"
      "y,2026-01-02,sql\n"
      "y,2026-01-04,won\n"
      "a,2026-01-02,mql\n"
      "a,2026-01-03,sql\n"
      "b,2026-01-02,lead\n"
      "b,2026-01-03,mql\n"
      "b,2026-01-06,lead\n"  // a move back: lead still comes first
      "b,2026-01-08,mql\n"
      "c,2026-01-02,lead\n"
      "c,2026-01-09,sql\n");  // a skip
  EXPECT_EQ(log.stages, (std::vector<std::string>{"lead", "mql", "sql", "lost", "won"}));
  LogOptions o;
  o.absorbing = {"won", "lost"};
  const EventLog absorbing = parse(
      "customer_id,timestamp,stage\n"
      "x,2026-01-01,lost\n"  // seen first, but a way out: last
      "a,2026-01-02,lead\n"
      "a,2026-01-03,won\n"
      "b,2026-01-02,lead\n"
      "b,2026-01-04,mql\n"
      "b,2026-01-06,lost\n",
      o);
  EXPECT_EQ(absorbing.stages, (std::vector<std::string>{"lead", "mql", "won", "lost"}));
  ASSERT_EQ(absorbing.stage_counts.size(), 4U);
  EXPECT_EQ(absorbing.stage_counts[0].stage, "lead");
  EXPECT_EQ(absorbing.stage_counts[0].rows, 2U);
  EXPECT_EQ(absorbing.stage_counts[3].stage, "lost");
  EXPECT_EQ(absorbing.stage_counts[3].customers, 2U);
  // Given stages keep their order; the scenario lists the stages in the log's order.
  o.stages = {"lead", "mql", "sql", "lost", "won"};
  const EventLog given = parse(funnel_log(40), o);
  EXPECT_EQ(given.stages, o.stages);
  const Calibration cal = calibrate_logs(given);
  std::vector<std::string> names;
  for (const auto& st : cal.scenario.stages) names.push_back(st.name);
  EXPECT_EQ(names, o.stages);
}

TEST(OptionSpelling, hints_name_the_option_where_the_reader_sets_it) {
  EXPECT_EQ(option_hint("drop_duplicates", OptionSpelling::kCli), "--drop-duplicates");
  EXPECT_EQ(option_hint("drop_duplicates", OptionSpelling::kPython), "drop_duplicates=True");
  EXPECT_EQ(option_hint("drop_duplicates", OptionSpelling::kCpp),
            "LogOptions::drop_duplicates = true");
  EXPECT_EQ(option_hint("drop_invalid", OptionSpelling::kPython), "on_invalid=\"drop\"");
  EXPECT_EQ(option_hint("date_means=end-of-day", OptionSpelling::kCli), "--date-means end-of-day");
  EXPECT_EQ(option_hint("won", OptionSpelling::kCli), "--won STAGE");
  EXPECT_THROW((void)option_hint("no_such_option", OptionSpelling::kCli), std::invalid_argument);
  EXPECT_EQ(time_zone_of("2026-01-01T00:00:00Z"), "Z");
  EXPECT_EQ(time_zone_of("2026-01-01 10:00+0530"), "+05:30");
  EXPECT_EQ(time_zone_of("2026-01-01T10:00:00-05:00"), "-05:00");
  EXPECT_EQ(time_zone_of("2026-01-01 10:00"), "");
  EXPECT_EQ(time_zone_of("2026-01-01"), "");
  EXPECT_TRUE(is_utc_zone("+00:00"));
  EXPECT_FALSE(is_utc_zone("+01:00"));
  EXPECT_FALSE(has_time_of_day("2026-01-31"));
  EXPECT_FALSE(has_time_of_day(" 31/01/2026 "));
  EXPECT_TRUE(has_time_of_day("2026-01-31 23:59"));
}

TEST(EventLogErrors, rows_after_censor_at) {
  LogOptions o;
  o.censor_at = "2026-01-02";
  const InputError e = parse_error(
      "customer_id,timestamp,stage\n"
      "c1,2026-01-01,lead\n"
      "c1,2026-01-03 08:00,mql\n",
      o);
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.field(), "timestamp");
  EXPECT_EQ(e.problems()[0].message,
            "expected a timestamp at or before censor_at (2026-01-02), got '2026-01-03 08:00'");
  o.censor_at = "soon";
  const InputError bad = parse_error("customer_id,timestamp,stage\nc1,2026-01-01,lead\n", o);
  EXPECT_EQ(bad.field(), "censor_at");
}

TEST(EventLog, quoted_fields_with_commas_quotes_and_line_breaks) {
  const EventLog log = parse(
      "\xEF\xBB\xBF"
      "customer_id,timestamp,stage\r\n"
      "\"Smith, J.\",2026-01-01,lead\r\n"
      "\"say \"\"hi\"\"\nthere\",2026-01-01,lead\r\n"
      "\"Smith, J.\",2026-01-02,\"mql\"\r\n");
  ASSERT_EQ(log.customers.size(), 2U);
  EXPECT_EQ(log.customers[0].id, "Smith, J.");
  EXPECT_EQ(log.customers[1].id, "say \"hi\"\nthere");
  ASSERT_EQ(log.customers[0].entries.size(), 2U);
  EXPECT_EQ(log.customers[0].entries[1].line, 5);  // the quoted line break counts as a line
  const InputError e = parse_error("customer_id,timestamp,stage\n\"open,2026-01-01,lead\n");
  EXPECT_EQ(e.line(), 2);
  EXPECT_TRUE(contains(e.what(), "unterminated quoted field")) << e.what();
}

TEST(EventLog, customers_with_one_row_are_kept_and_censored) {
  const EventLog log = parse(
      "customer_id,timestamp,stage\n"
      "c1,2026-01-01,lead\n"
      "c1,2026-01-03,mql\n"
      "c2,2026-01-02,lead\n"
      "c1,2026-01-05,won\n");
  const Problem w = warning_with(log, "one row");
  EXPECT_EQ(w.line, 4);
  EXPECT_EQ(w.field, "customer_id");
  EXPECT_EQ(w.message, "1 customers with one row (kept: censored in their first stage): line 4");
  ASSERT_EQ(log.customers.size(), 2U);
  EXPECT_EQ(log.customers[1].entries.size(), 1U);
  const Calibration cal = calibrate_logs(log);
  const StageFit* lead = cal.stage("lead");
  ASSERT_NE(lead, nullptr);
  ASSERT_EQ(lead->durations.size(), 2U);
  EXPECT_FALSE(lead->censored[0]);
  EXPECT_TRUE(lead->censored[1]);
  EXPECT_DOUBLE_EQ(lead->durations[0], 2.0);
  EXPECT_DOUBLE_EQ(lead->durations[1], 3.0);  // 2026-01-02 to censor_at, the last row (01-05)
}

TEST(EventLog, a_stage_never_left_is_reported_and_becomes_absorbing) {
  LogOptions o;
  o.absorbing = {"lost"};
  const EventLog log = parse(
      "customer_id,timestamp,stage\n"
      "c1,2026-01-01,lead\n"
      "c1,2026-01-03,sql\n"
      "c2,2026-01-02,lead\n"
      "c2,2026-01-04,lost\n",
      o);
  const Problem w = warning_with(log, "never left");
  EXPECT_EQ(w.line, 3);
  EXPECT_EQ(w.field, "stage");
  EXPECT_TRUE(contains(w.message, "stage 'sql' is never left: its 1 entries")) << w.message;
  CalibrateOptions co;
  co.won = "sql";
  const Calibration cal = calibrate_logs(log, co);
  ASSERT_EQ(cal.scenario.stages.size(), 3U);
  EXPECT_TRUE(cal.scenario.stages[1].absorbing);
  EXPECT_NO_THROW({
    const Model m = compile(cal.scenario);
    (void)m;
  }) << dump(check(cal.scenario));
}

TEST(Calibrate, won_stage_must_be_named) {
  const EventLog log = parse(
      "customer_id,timestamp,stage\n"
      "c1,2026-01-01,lead\n"
      "c1,2026-01-03,customer\n");
  try {
    (void)calibrate_logs(log);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "won");
    EXPECT_TRUE(contains(e.what(),
                         "the log has no stage named 'won': name the stage that counts as a "
                         "conversion with CalibrateOptions::won"))
        << e.what();
  }
  CalibrateOptions o;
  o.won = "custmer";
  try {
    (void)calibrate_logs(log, o);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_TRUE(contains(e.what(), "did you mean 'customer'?")) << e.what();
  }
}

TEST(EventLog, a_missing_file_is_an_io_error) {
  EXPECT_THROW((void)read_event_log("/nonexistent/events.csv"), IoError);
}

// /dev/zero was read until memory ran out, a FIFO blocked for ever: only regular files are read.
TEST(HistoryTest, DevicesAndFifosAreIoErrorsNamingWhy) {
  const auto message = [](const std::string& path) -> std::string {
    try {
      (void)read_event_log(path);
    } catch (const IoError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no IoError for " << path;
    return "";
  };
  EXPECT_EQ(message("/dev/zero"),
            "cannot open /dev/zero for reading: not a regular file (a device)");
  const std::string fifo = (std::filesystem::temp_directory_path() /
                            ("lcsim_fifo_" + std::to_string(::getpid()) + ".csv"))
                               .string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(message(fifo), "cannot open " + fifo + " for reading: not a regular file (a FIFO)");
  std::filesystem::remove(fifo);
}

}  // namespace
}  // namespace lcsim
