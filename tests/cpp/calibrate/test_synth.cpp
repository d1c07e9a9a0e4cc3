// Synthetic CRM history: one replication written as stage-change, snapshot and contact logs. The
// tests read the files back through the calibration readers, cross-check the three outputs with
// each other and with the engine's own logs, and close the loop synth -> calibrate on a known
// chain.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "lcsim/calibrate/calibrate.hpp"
#include "lcsim/calibrate/history.hpp"
#include "lcsim/calibrate/snapshot_fit.hpp"
#include "lcsim/calibrate/synth.hpp"
#include "lcsim/calibrate/timestamp.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/run/run.hpp"
#include "support/builders.hpp"

namespace lcsim {
namespace {

namespace fs = std::filesystem;

// Two segments, a Weibull and an exponential stage, a back move, an initial cohort in mql and a
// weekly webinar for mqls that lands half of the time.
const char* const kSegmented = R"(
name: synth_segments
horizon: 200
report_every: 10
seed: 11
replications: 1
won: won
stages:
  lead: {dwell: {dist: weibull, shape: 1.5, mean: 12}, next: {mql: 0.5, lost: 0.5}}
  mql: {dwell: {dist: exponential, mean: 20}, next: {won: 0.4, lead: 0.2, lost: 0.4}}
  won: {absorbing: true}
  lost: {absorbing: true}
segments:
  icp: {share: 0.3, stages: {lead: {next: {mql: 0.8, lost: 0.2}}}}
  smb: {share: 0.7}
arrivals:
  initial: [{stage: mql, count: 50}]
  streams: [{stage: lead, rate_per_day: 8}]
touchpoints:
  webinar:
    stages: [mql]
    schedule: {calendar: {every: 7, start: 2}}
    reach: 0.5
    effect: {window: 5, hazard_factor: 2.0}
)";

// A chain with exponential dwells and about 5,500 arrivals over a year.
const char* const kChain = R"(
name: synth_chain
horizon: 365
report_every: 30
seed: 20250106
replications: 1
won: won
stages:
  lead: {dwell: {dist: exponential, mean: 10}, next: {mql: 0.6, lost: 0.4}}
  mql: {dwell: {dist: exponential, mean: 20}, next: {sql: 0.5, lead: 0.2, lost: 0.3}}
  sql: {dwell: {dist: exponential, mean: 15}, next: {won: 0.7, lost: 0.3}}
  won: {absorbing: true}
  lost: {absorbing: true}
arrivals:
  streams: [{stage: lead, rate_per_day: 15}]
)";

/// A fresh directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("lcsim_synth_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Per customer, its stage changes (second, stage) in file order.
std::map<std::string, std::vector<std::pair<std::int64_t, std::string>>> paths_of(
    const SynthHistory& h) {
  std::map<std::string, std::vector<std::pair<std::int64_t, std::string>>> paths;
  for (const auto& e : h.events) paths[e.customer_id].emplace_back(e.second, e.stage);
  return paths;
}

TEST(SynthTest, written_csv_reads_back_through_the_calibration_readers) {
  const Model model = test::model_from_yaml(kSegmented);
  SynthOptions o;
  o.snapshot_every = SnapshotEvery::parse("monthly");
  const SynthHistory h = synthesize(model, o);
  ASSERT_TRUE(h.with_segments);  // two segments: the column is on by default
  ASSERT_GT(h.customers, 1000U);
  EXPECT_EQ(h.start_date, "2025-01-06");
  EXPECT_EQ(h.censor_at, "2025-07-25T00:00:00Z");                 // day 200
  EXPECT_EQ(h.events.front().timestamp, "2025-01-06T00:00:00Z");  // the initial cohort
  EXPECT_EQ(h.events.front().customer_id, "C000001");

  TempDir dir;
  write_events_csv(h, dir.file("events.csv"));
  write_snapshots_csv(h, dir.file("snapshots.csv"));
  write_touchpoints_csv(h, dir.file("touchpoints.csv"));
  EXPECT_EQ(read_all(dir.file("events.csv")).substr(0, 59),
            "customer_id,timestamp,stage,segment\nC000001,2025-01-06T00:0");
  // Only the three files: no temporary file is left beside them.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 3);

  LogOptions lo;
  lo.segment_column = "segment";
  lo.stages = model.stage_names;
  lo.absorbing = {"won", "lost"};
  lo.censor_at = h.censor_at;
  const EventLog log = read_event_log(dir.file("events.csv"), lo);
  EXPECT_EQ(log.rows, h.events.size());
  EXPECT_EQ(log.rows_used, h.events.size());
  EXPECT_EQ(log.customers.size(), h.customers);
  EXPECT_EQ(log.epoch, "2025-01-06");
  EXPECT_DOUBLE_EQ(log.censor_at, 200.0);
  EXPECT_EQ(std::set<std::string>(log.segments.begin(), log.segments.end()),
            (std::set<std::string>{"icp", "smb"}));
  for (const Problem& w : log.warnings) {
    // Out-of-order rows, duplicates or rows after an absorbing stage would be synth bugs.
    EXPECT_EQ(w.message.find("out of order"), std::string::npos) << w.to_string();
    EXPECT_EQ(w.message.find("duplicate"), std::string::npos) << w.to_string();
    EXPECT_EQ(w.message.find("after"), std::string::npos) << w.to_string();
  }
  // Each customer's path read back is the synthetic one, timestamps exact to the second.
  const auto paths = paths_of(h);
  for (const CustomerPath& p : log.customers) {
    const auto& want = paths.at(std::string(p.id));
    ASSERT_EQ(p.entries.size(), want.size()) << p.id;
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(p.entries[i].stage, want[i].second);
      EXPECT_NEAR(p.entries[i].time * 86400.0, static_cast<double>(want[i].first), 1e-4);
    }
  }

  SnapshotOptions so;
  so.stages = model.stage_names;
  so.absorbing = {"won", "lost"};
  so.epoch = "2025-01-06";
  const SnapshotLog snaps = read_snapshots(dir.file("snapshots.csv"), so);
  EXPECT_EQ(snaps.rows, h.snapshots.size());
  EXPECT_GT(snaps.customers.size(), 500U);

  // The contact log: a header and one row per landed contact (read back by the lift reader in
  // tests/python/test_cli_calibrate.py, which runs `lcsim calibrate --touchpoints`).
  ASSERT_FALSE(h.touchpoints.empty());
  const std::string tps = read_all(dir.file("touchpoints.csv"));
  EXPECT_EQ(tps.substr(0, tps.find('\n')), "customer_id,timestamp,touchpoint");
  EXPECT_EQ(static_cast<std::size_t>(std::count(tps.begin(), tps.end(), '\n')),
            h.touchpoints.size() + 1);
}

TEST(SynthTest, the_same_options_give_the_same_history_and_replications_differ) {
  const Model model = test::model_from_yaml(kSegmented);
  SynthOptions o;
  o.snapshot_every = SnapshotEvery::parse("30");
  const SynthHistory a = synthesize(model, o);
  const SynthHistory b = synthesize(model, o);
  ASSERT_EQ(a.events.size(), b.events.size());
  for (std::size_t i = 0; i < a.events.size(); ++i) {
    EXPECT_EQ(a.events[i].customer_id, b.events[i].customer_id);
    EXPECT_EQ(a.events[i].timestamp, b.events[i].timestamp);
    EXPECT_EQ(a.events[i].stage, b.events[i].stage);
  }
  EXPECT_EQ(a.snapshots.size(), b.snapshots.size());
  EXPECT_EQ(a.snapshot_dates,
            (std::vector<std::string>{"2025-01-06", "2025-02-05", "2025-03-07", "2025-04-06",
                                      "2025-05-06", "2025-06-05", "2025-07-05"}));
  o.replication = 1;
  const SynthHistory c = synthesize(model, o);
  EXPECT_NE(a.events.size(), c.events.size());
  o.replication = 0;
  o.seed = 99;
  const SynthHistory d = synthesize(model, o);
  EXPECT_EQ(d.seed, 99U);
  EXPECT_NE(a.events.size(), d.events.size());
  o.with_segments = false;
  const SynthHistory e = synthesize(model, o);
  EXPECT_TRUE(e.events.front().segment.empty());
  EXPECT_EQ(e.events.size(), d.events.size());
}

TEST(SynthTest, round_trip_recovers_next_probabilities_and_dwell_means_within_their_intervals) {
  const Model model = test::model_from_yaml(kChain);
  const SynthHistory h = synthesize(model, {});
  EXPECT_FALSE(h.with_segments);
  EXPECT_GT(h.customers, 5000U);
  TempDir dir;
  write_events_csv(h, dir.file("events.csv"));
  LogOptions lo;
  lo.absorbing = h.absorbing;
  lo.censor_at = h.censor_at;
  const EventLog log = read_event_log(dir.file("events.csv"), lo);
  const Calibration cal = calibrate_logs(log, {});
  EXPECT_EQ(cal.epoch, "2025-01-06");
  EXPECT_DOUBLE_EQ(cal.window_end, 365.0);

  // Every true value against its 95% interval, and within 4 standard errors (a half-width is
  // 1.96 se): a miss by 4 se is a bug; a true value outside its interval is a 1-in-20 event, so
  // of 10 intervals at most 2 may miss (3 or more: 1.2% for honest 95% intervals; 9 of 10 cover
  // at this seed). Coverage itself is measured over many seeds in test_calibrate.cpp.
  struct Truth {
    std::string parameter;
    double value;
  };
  const std::vector<Truth> next = {{"stages.lead.next.mql", 0.6}, {"stages.lead.next.lost", 0.4},
                                   {"stages.mql.next.sql", 0.5},  {"stages.mql.next.lead", 0.2},
                                   {"stages.mql.next.lost", 0.3}, {"stages.sql.next.won", 0.7},
                                   {"stages.sql.next.lost", 0.3}};
  int covered = 0;
  int checked = 0;
  for (const Truth& t : next) {
    const EstimateRow* row = cal.estimate(t.parameter);
    ASSERT_NE(row, nullptr) << t.parameter;
    EXPECT_GT(row->n, 300U) << t.parameter;
    const double half = (row->ci_high - row->ci_low) / 2.0;
    EXPECT_LT(std::fabs(row->estimate - t.value), 4.0 / 1.96 * half) << t.parameter;
    covered += row->ci_low <= t.value && t.value <= row->ci_high ? 1 : 0;
    ++checked;
  }
  const std::vector<Truth> means = {{"lead", 10.0}, {"mql", 20.0}, {"sql", 15.0}};
  for (const Truth& t : means) {
    const StageFit* f = cal.stage(t.parameter);
    ASSERT_NE(f, nullptr) << t.parameter;
    const DwellFit* exp_fit = f->dwell.fit(DwellFamily::kExponential);
    ASSERT_NE(exp_fit, nullptr);
    ASSERT_TRUE(exp_fit->fitted);
    const DwellParameter* mean = exp_fit->param("mean");
    ASSERT_NE(mean, nullptr);
    EXPECT_LT(std::fabs(mean->estimate - t.value), 4.0 * mean->se) << t.parameter;
    covered += mean->ci_low <= t.value && t.value <= mean->ci_high ? 1 : 0;
    ++checked;
    // Rounding to the second changes each stay by < 1 s: no zero stays with means of days.
    EXPECT_GT(exp_fit->n_censored, 0U);  // customers still in the stage at the end
  }
  EXPECT_GE(covered, checked - 2);
  const EstimateRow* rate = cal.estimate("arrivals.rate_per_day");
  ASSERT_NE(rate, nullptr);
  EXPECT_LE(rate->ci_low, 15.0);
  EXPECT_GE(rate->ci_high, 15.0);
}

/// The arrival warnings of a calibration (field "arrivals").
std::vector<std::string> arrival_warnings(const Calibration& cal) {
  std::vector<std::string> out;
  for (const Problem& p : cal.warnings) {
    if (p.field == "arrivals") out.push_back(p.message);
  }
  return out;
}

TEST(SynthTest, customers_already_in_the_entry_stage_at_day_0_are_not_counted_as_arrivals) {
  // kChain with 600 customers in lead (the entry stage) at day 0: the log cannot mark them, but
  // the first week has far more first appearances in lead than 15 a day explains.
  std::string yaml = kChain;
  const std::string streams = "  streams: [{stage: lead, rate_per_day: 15}]";
  yaml.replace(yaml.find(streams), streams.size(),
               "  initial: [{stage: lead, count: 600}]\n" + streams);
  const Model model = test::model_from_yaml(yaml);
  const SynthHistory h = synthesize(model, {});
  TempDir dir;
  write_events_csv(h, dir.file("events.csv"));
  LogOptions lo;
  lo.absorbing = h.absorbing;
  lo.censor_at = h.censor_at;
  const Calibration cal = calibrate_logs(read_event_log(dir.file("events.csv"), lo), {});

  ASSERT_EQ(cal.initial.size(), 1U);
  EXPECT_EQ(cal.initial[0].stage, "lead");
  // The excess over the Poisson expectation of the first week: off by about sqrt(15 * 7) = 10.
  EXPECT_NEAR(static_cast<double>(cal.initial[0].count), 600.0, 40.0);
  const EstimateRow* rate = cal.estimate("arrivals.rate_per_day");
  ASSERT_NE(rate, nullptr);
  EXPECT_LE(rate->ci_low, 15.0);
  EXPECT_GE(rate->ci_high, 15.0);
  // Teeth: counting the cohort as arrivals (what the log alone suggests) misses the interval.
  const double naive = rate->estimate + static_cast<double>(cal.initial[0].count) / cal.window_end;
  EXPECT_GT(naive, rate->ci_high);
  const auto warnings = arrival_warnings(cal);
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("entry stage 'lead'"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("already there at day 0"), std::string::npos) << warnings[0];

  // Without the cohort, the same first week is no excess: every customer is an arrival.
  const SynthHistory plain = synthesize(test::model_from_yaml(kChain), {});
  write_events_csv(plain, dir.file("plain.csv"));
  LogOptions plain_lo;
  plain_lo.absorbing = plain.absorbing;
  plain_lo.censor_at = plain.censor_at;
  const Calibration plain_cal = calibrate_logs(read_event_log(dir.file("plain.csv"), plain_lo), {});
  EXPECT_TRUE(plain_cal.initial.empty());
  EXPECT_TRUE(arrival_warnings(plain_cal).empty());
}

TEST(SynthTest, censoring_keeps_the_changes_up_to_observe_until_only) {
  const Model model = test::model_from_yaml(kSegmented);
  const SynthHistory full = synthesize(model, {});
  SynthOptions o;
  o.observe_until = 100.5;
  const SynthHistory cut = synthesize(model, o);
  const std::int64_t until = 100 * 86400 + 43200;
  EXPECT_EQ(cut.censor_at, "2025-04-16T12:00:00Z");
  EXPECT_EQ(cut.events.back().second <= until, true);
  EXPECT_LT(cut.customers, full.customers);
  EXPECT_GT(cut.customers_unobserved, 0U);
  EXPECT_GT(cut.events_unobserved, 0U);
  EXPECT_EQ(cut.events.size() + cut.events_unobserved, full.events.size() + full.events_unobserved);

  // Ids number customers by first appearance, so the first `cut.customers` ids are the same
  // customers; each keeps exactly its changes up to observe_until.
  const auto full_paths = paths_of(full);
  const auto cut_paths = paths_of(cut);
  ASSERT_EQ(cut_paths.size(), cut.customers);
  std::size_t open = 0;
  std::size_t still_moving = 0;  // open at observe_until and moving on later
  for (const auto& [id, path] : cut_paths) {
    const auto& whole = full_paths.at(id);
    std::vector<std::pair<std::int64_t, std::string>> head;
    for (const auto& change : whole) {
      if (change.first <= until) head.push_back(change);
    }
    EXPECT_EQ(path, head) << id;
    const bool absorbed = path.back().second == "won" || path.back().second == "lost";
    if (!absorbed) {
      ++open;
      if (whole.size() > path.size()) ++still_moving;
    }
  }
  EXPECT_EQ(open, cut.customers_open);
  EXPECT_GT(still_moving, 50U);

  // Read back with censor_at, the open customers' last stays are the censored ones.
  TempDir dir;
  write_events_csv(cut, dir.file("events.csv"));
  LogOptions lo;
  lo.segment_column = "segment";
  lo.absorbing = cut.absorbing;
  lo.censor_at = cut.censor_at;
  const EventLog log = read_event_log(dir.file("events.csv"), lo);
  EXPECT_DOUBLE_EQ(log.censor_at, 100.5);
  const Calibration cal = calibrate_logs(log, {});
  std::size_t censored = 0;
  for (const StageFit& f : cal.stages) {
    if (!f.segment.empty()) continue;
    censored += static_cast<std::size_t>(std::count(f.censored.begin(), f.censored.end(), true));
  }
  EXPECT_EQ(censored, cut.customers_open);
}

TEST(SynthTest, monthly_snapshots_give_the_stage_the_event_log_implies) {
  const Model model = test::model_from_yaml(kSegmented);
  SynthOptions o;
  o.snapshot_every = SnapshotEvery::parse("monthly");
  o.observe_until = 151.0;  // 2025-06-06 is day 151
  const SynthHistory h = synthesize(model, o);
  EXPECT_EQ(h.snapshot_dates, (std::vector<std::string>{"2025-01-06", "2025-02-06", "2025-03-06",
                                                        "2025-04-06", "2025-05-06", "2025-06-06"}));
  // From the event log alone: per customer, the stage of its last change at or before each
  // date's midnight; customers not arrived yet are not listed, absorbed ones are.
  const auto paths = paths_of(h);
  std::map<std::pair<std::string, std::string>, std::string> expected;
  const std::int64_t start = *parse_date(h.start_date);
  for (const std::string& date : h.snapshot_dates) {
    const std::int64_t at = (*parse_date(date) - start) * 86400;
    for (const auto& [id, path] : paths) {
      std::string stage;
      for (const auto& change : path) {
        if (change.first <= at) stage = change.second;
      }
      if (!stage.empty()) expected[{id, date}] = stage;
    }
  }
  ASSERT_EQ(h.snapshots.size(), expected.size());
  std::size_t absorbed = 0;
  for (const SynthSnapshotRow& r : h.snapshots) {
    const auto it = expected.find({r.customer_id, r.date});
    ASSERT_NE(it, expected.end()) << r.customer_id << " " << r.date;
    EXPECT_EQ(r.stage, it->second) << r.customer_id << " " << r.date;
    EXPECT_EQ(r.day, *parse_date(r.date) - start);
    absorbed += r.stage == "won" || r.stage == "lost" ? 1 : 0;
  }
  EXPECT_GT(absorbed, 0U);
  // The first export, at day 0, lists the initial cohort only.
  EXPECT_EQ(std::count_if(h.snapshots.begin(), h.snapshots.end(),
                          [](const SynthSnapshotRow& r) { return r.day == 0; }),
            50);

  // The day of the month is clamped to each month's length, then comes back.
  o.start_date = "2025-01-31";
  o.observe_until = 95.0;
  EXPECT_EQ(synthesize(model, o).snapshot_dates,
            (std::vector<std::string>{"2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30"}));
  o.snapshot_every = SnapshotEvery::parse("none");
  EXPECT_TRUE(synthesize(model, o).snapshots.empty());
}

TEST(SynthTest, touchpoint_rows_match_the_contact_log) {
  const Model model = test::model_from_yaml(kSegmented);
  SynthOptions o;
  o.replication = 2;
  o.observe_until = 120.0;
  const SynthHistory h = synthesize(model, o);
  ASSERT_GT(h.touchpoints.size(), 100U);

  // The same replication through simulate(), with its own id numbering by first appearance.
  RunOptions ro;
  ro.replications = 1;
  ro.first_replication = 2;
  ro.threads = 1;
  ro.events = true;
  ro.contacts = true;
  const lcsim::Run run = simulate(model, ro);
  const ReplicationResult& rep = run.replications.at(0);
  std::map<std::int64_t, double> first_seen;
  for (const Event& e : rep.events) {
    if (e.from < 0) first_seen.emplace(e.customer, e.time);
  }
  std::vector<std::pair<double, std::uint64_t>> order;
  for (const auto& [key, t] : first_seen) order.emplace_back(t, static_cast<std::uint64_t>(key));
  std::sort(order.begin(), order.end());
  std::map<std::int64_t, std::string> id;
  for (std::size_t i = 0; i < order.size(); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "C%06zu", i + 1);
    id[static_cast<std::int64_t>(order[i].second)] = buf;
  }
  const std::int64_t until = 120 * 86400;
  std::multiset<std::tuple<std::int64_t, std::string, std::string, std::string>> want;
  for (const Contact& c : rep.contacts) {
    const auto second = static_cast<std::int64_t>(std::llround(c.time * 86400.0));
    if (second > until) continue;
    want.emplace(second, id.at(c.customer),
                 model.touchpoint_names[static_cast<std::size_t>(c.touchpoint)],
                 model.stage_names[static_cast<std::size_t>(c.stage)]);
  }
  std::multiset<std::tuple<std::int64_t, std::string, std::string, std::string>> got;
  for (const SynthTouchpointRow& r : h.touchpoints) {
    got.emplace(r.second, r.customer_id, r.touchpoint, r.stage);
    EXPECT_EQ(r.timestamp, iso_timestamp(h.start_day, r.second));
    EXPECT_EQ(r.stage, "mql");  // the webinar targets mqls only
  }
  EXPECT_EQ(got, want);
  // Contacts happen during the stay in mql the event log shows.
  const auto paths = paths_of(h);
  for (const SynthTouchpointRow& r : h.touchpoints) {
    std::string stage;
    for (const auto& change : paths.at(r.customer_id)) {
      if (change.first <= r.second) stage = change.second;
    }
    EXPECT_EQ(stage, "mql") << r.customer_id << " " << r.timestamp;
  }
  // Without touchpoints asked for, there are none.
  o.with_touchpoints = false;
  EXPECT_TRUE(synthesize(model, o).touchpoints.empty());
}

TEST(SynthTest, bad_options_name_the_field) {
  const Model model = test::model_from_yaml(kSegmented);
  const auto field_of = [&](const SynthOptions& o) {
    try {
      (void)synthesize(model, o);
    } catch (const InputError& e) {
      return e.file() + ": " + e.field() + ": " + e.problems().front().message;
    }
    return std::string("no error");
  };
  SynthOptions o;
  o.start_date = "2025-02-30";
  EXPECT_EQ(field_of(o), "<synth options>: start_date: expected a date YYYY-MM-DD, got 2025-02-30");
  o = {};
  o.observe_until = 250.0;
  EXPECT_EQ(field_of(o),
            "<synth options>: observe_until: expected days in (0, 200] (the horizon), got 250");
  o.observe_until = 0.0;
  EXPECT_NE(field_of(o).find("observe_until"), std::string::npos);
  o = {};
  o.replication = -1;
  EXPECT_NE(field_of(o).find("replication: expected an integer >= 0, got -1"), std::string::npos);
  for (const char* text : {"weekly", "0", "1.5", ""}) {
    try {
      (void)SnapshotEvery::parse(text);
      ADD_FAILURE() << text;
    } catch (const InputError& e) {
      EXPECT_EQ(e.field(), "every");
    }
  }
  EXPECT_EQ(SnapshotEvery::parse("14").days, 14);
  EXPECT_EQ(SnapshotEvery::parse("monthly").kind, SnapshotEvery::Kind::kMonthly);
}

TEST(SynthTest, csv_fields_are_quoted_as_rfc_4180_requires_and_writes_are_atomic) {
  EXPECT_EQ(csv_field("lead"), "lead");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(iso_timestamp(*parse_date("2025-01-06"), 86399), "2025-01-06T23:59:59Z");
  EXPECT_EQ(iso_timestamp(*parse_date("2025-01-06"), 86400 * 31 + 3661), "2025-02-06T01:01:01Z");

  TempDir dir;
  const std::string path = dir.file("out.txt");
  write_file_atomically(path, "old");
  write_file_atomically(path, "new text");
  EXPECT_EQ(read_all(path), "new text");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
  EXPECT_THROW(write_file_atomically(dir.file("missing/dir/out.txt"), "x"), IoError);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

}  // namespace
}  // namespace lcsim
