/// Tests of lcsim::Study: round trips of runs, comparisons and sweeps, layout, errors, atomicity
/// (killed writer), concurrent writers.
#include "lcsim/io/study.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "io/hdf5/handle.hpp"
#include "lcsim/core/error.hpp"

namespace lcsim {
namespace {

namespace fs = std::filesystem;

// ---- fixtures and helpers --------------------------------------------------------------------------

/// A fresh directory under the system temp directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = fs::temp_directory_path() / ("lcsim-test-study-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(counter++) + "-" + std::to_string(now));
    fs::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

/// Deterministic pseudo-random numbers (splitmix64).
class Numbers {
 public:
  explicit Numbers(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::int64_t below(std::int64_t n) {
    return static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(n));
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

struct RunSpec {
  int reps = 3;
  int stages = 4;
  int reports = 5;
  int touchpoints = 2;
  bool events = true;
  std::int64_t events_per_rep = 40;
  std::uint64_t seed = 1;
  int resources = 0;  ///< teams: resource_names, queue_length and queue_wait
};

/// A hand-made Run of the given shape with deterministic, varied values: NaN metrics, non-dense
/// replication numbers, UTF-8 and empty strings, dotted metric names.
lcsim::Run make_run(const std::string& name, const RunSpec& spec) {
  Numbers rng(spec.seed);
  lcsim::Run run;
  RunInfo& info = run.info;
  info.name = name;
  info.scenario_name = "scenario " + name;
  info.scenario_text = "name: " + name + "\nstages:\n  - lead   # Ünïcødé ✓\n  - won\n";
  info.scenario_file = "scenarios/" + name + ".yaml";
  info.seed = 0xFEDCBA9876543210ULL ^ spec.seed;
  info.replications = spec.reps;
  info.lcsim_version = "0.1.0";
  info.boost_version = "1.74.0";
  info.created = "2024-05-01T12:34:56Z";
  for (int s = 0; s < spec.stages; ++s) info.stage_names.push_back("stage" + std::to_string(s));
  info.won = spec.stages > 0 ? info.stage_names.back() : "";
  info.segment_names = {"smb", "enterprise", ""};
  for (int k = 0; k < spec.touchpoints; ++k)
    info.touchpoint_names.push_back("tp" + std::to_string(k));
  for (int q = 0; q < spec.resources; ++q)
    info.resource_names.push_back(q == 1 ? "sales-Ünï" : "team" + std::to_string(q));
  info.metric_names = {"customers", "conversions", "conversion_rate", "time_to_convert.mean",
                       "time_to_convert.median"};
  for (const auto& s : info.stage_names) info.metric_names.push_back("dropoff." + s);
  for (const auto& q : info.resource_names) {
    for (const auto& m : resource_metric_names())
      info.metric_names.push_back("resource." + q + "." + m);
  }
  info.cause_names = {"exit", "arrival"};
  for (const auto& t : info.touchpoint_names) info.cause_names.push_back("touchpoint:" + t);
  for (const auto& q : info.resource_names) info.cause_names.push_back("service:" + q);
  for (const auto& q : info.resource_names) info.cause_names.push_back("abandon:" + q);
  for (int t = 0; t < spec.reports; ++t) info.report_times.push_back(7.5 * t);

  const auto S = static_cast<std::size_t>(spec.stages);
  const auto T = static_cast<std::size_t>(spec.reports);
  for (int r = 0; r < spec.reps; ++r) {
    ReplicationResult rep;
    rep.replication = 100 + 3 * r;
    rep.num_stages = spec.stages;
    rep.num_reports = spec.reports;
    for (std::size_t i = 0; i < T * S; ++i) rep.occupancy.push_back(rng.below(1'000'000) - 10);
    for (std::size_t i = 0; i < S * S; ++i) {
      rep.transitions.push_back(static_cast<std::int64_t>(rng.next() >> 3));
    }
    for (std::size_t i = 0; i < S; ++i) rep.reached.push_back(rng.below(1'000'000));
    for (int k = 0; k < spec.touchpoints; ++k) {
      rep.touchpoints.push_back(TouchpointTally{rng.uniform() * 100, rng.uniform() * 50,
                                                rng.uniform() * 10, rng.uniform() * 1e6});
    }
    rep.num_resources = spec.resources;
    for (std::size_t i = 0; i < T * static_cast<std::size_t>(spec.resources); ++i) {
      rep.queue_length.push_back(rng.below(10'000));
      rep.queue_wait.push_back((i + r) % 4 == 0 ? std::numeric_limits<double>::quiet_NaN()
                                                : rng.uniform() * 5);
    }
    for (std::size_t m = 0; m < info.metric_names.size(); ++m) {
      rep.metrics.push_back((m + r) % 3 == 0 ? std::numeric_limits<double>::quiet_NaN()
                                             : rng.uniform() * 1e3 - 100);
    }
    if (spec.events) {
      rep.events.reserve(static_cast<std::size_t>(spec.events_per_rep));
      double time = 0.0;
      for (std::int64_t e = 0; e < spec.events_per_rep; ++e) {
        Event ev;
        ev.replication = rep.replication;
        ev.customer = e / 3 + (std::int64_t{1} << 40);
        time += rng.uniform();
        ev.time = time;
        ev.from = static_cast<std::int16_t>(e % 3 == 0 ? -1 : rng.below(std::max(spec.stages, 1)));
        ev.to = static_cast<std::int16_t>(rng.below(std::max(spec.stages, 1)));
        ev.cause = static_cast<std::int16_t>(e % 3 == 0 ? std::int64_t{kCauseArrival}
                                                        : rng.below(2 + spec.touchpoints));
        rep.events.push_back(ev);
      }
    }
    run.replications.push_back(std::move(rep));
  }
  for (std::size_t m = 0; m < info.metric_names.size(); ++m) {
    SummaryRow row;
    row.metric = info.metric_names[m];
    row.mean = m == 3 ? std::numeric_limits<double>::quiet_NaN() : rng.uniform();
    row.std = rng.uniform();
    row.ci_low = row.mean - 1.0;
    row.ci_high = row.mean + 1.0;
    row.n = static_cast<std::int64_t>(m == 3 ? 0 : spec.reps);
    run.summary.push_back(row);
  }
  run.has_events = spec.events;
  return run;
}

/// Same value: equal bits, or both NaN.
bool same(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b) ||
         (std::isnan(a) && std::isnan(b));
}

bool same(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}

/// Everything in two runs is equal (NaN equals NaN); the message names the first difference.
::testing::AssertionResult same_run(const lcsim::Run& a, const lcsim::Run& b) {
  auto fail = [](const std::string& what) {
    return ::testing::AssertionFailure() << what << " differs";
  };
  const RunInfo& x = a.info;
  const RunInfo& y = b.info;
  if (x.name != y.name) return fail("info.name ('" + x.name + "' vs '" + y.name + "')");
  if (x.scenario_name != y.scenario_name) return fail("info.scenario_name");
  if (x.scenario_text != y.scenario_text) return fail("info.scenario_text");
  if (x.scenario_file != y.scenario_file) return fail("info.scenario_file");
  if (x.seed != y.seed) return fail("info.seed");
  if (x.replications != y.replications) return fail("info.replications");
  if (x.lcsim_version != y.lcsim_version) return fail("info.lcsim_version");
  if (x.boost_version != y.boost_version) return fail("info.boost_version");
  if (x.created != y.created) return fail("info.created");
  if (x.stage_names != y.stage_names) return fail("info.stage_names");
  if (x.segment_names != y.segment_names) return fail("info.segment_names");
  if (x.touchpoint_names != y.touchpoint_names) return fail("info.touchpoint_names");
  if (x.resource_names != y.resource_names) return fail("info.resource_names");
  if (x.metric_names != y.metric_names) return fail("info.metric_names");
  if (x.cause_names != y.cause_names) return fail("info.cause_names");
  if (!same(x.report_times, y.report_times)) return fail("info.report_times");
  if (x.won != y.won) return fail("info.won");
  if (a.has_events != b.has_events) return fail("has_events");
  if (a.replications.size() != b.replications.size()) return fail("number of replications");
  for (std::size_t r = 0; r < a.replications.size(); ++r) {
    const ReplicationResult& p = a.replications[r];
    const ReplicationResult& q = b.replications[r];
    const std::string at = "replication[" + std::to_string(r) + "].";
    if (p.replication != q.replication) return fail(at + "replication");
    if (p.num_stages != q.num_stages) return fail(at + "num_stages");
    if (p.num_reports != q.num_reports) return fail(at + "num_reports");
    if (p.occupancy != q.occupancy) return fail(at + "occupancy");
    if (p.transitions != q.transitions) return fail(at + "transitions");
    if (p.reached != q.reached) return fail(at + "reached");
    if (p.touchpoints.size() != q.touchpoints.size()) return fail(at + "touchpoints.size()");
    for (std::size_t k = 0; k < p.touchpoints.size(); ++k) {
      const TouchpointTally& s = p.touchpoints[k];
      const TouchpointTally& t = q.touchpoints[k];
      if (!same(s.contacts, t.contacts) || !same(s.reached, t.reached) || !same(s.moves, t.moves) ||
          !same(s.cost, t.cost)) {
        return fail(at + "touchpoints[" + std::to_string(k) + "]");
      }
    }
    if (!same(p.metrics, q.metrics)) return fail(at + "metrics");
    if (p.num_resources != q.num_resources) return fail(at + "num_resources");
    if (p.queue_length != q.queue_length) return fail(at + "queue_length");
    if (!same(p.queue_wait, q.queue_wait)) return fail(at + "queue_wait");
    if (p.events.size() != q.events.size()) {
      return fail(at + "events.size() (" + std::to_string(p.events.size()) + " vs " +
                  std::to_string(q.events.size()) + ")");
    }
    for (std::size_t e = 0; e < p.events.size(); ++e) {
      const Event& s = p.events[e];
      const Event& t = q.events[e];
      if (s.replication != t.replication || s.customer != t.customer || !same(s.time, t.time) ||
          s.from != t.from || s.to != t.to || s.cause != t.cause) {
        return fail(at + "events[" + std::to_string(e) + "]");
      }
    }
  }
  if (a.summary.size() != b.summary.size()) return fail("summary.size()");
  for (std::size_t i = 0; i < a.summary.size(); ++i) {
    const SummaryRow& s = a.summary[i];
    const SummaryRow& t = b.summary[i];
    if (s.metric != t.metric || !same(s.mean, t.mean) || !same(s.std, t.std) ||
        !same(s.ci_low, t.ci_low) || !same(s.ci_high, t.ci_high) || s.n != t.n) {
      return fail("summary[" + std::to_string(i) + "]");
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::string> temp_files(const TempDir& dir) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    const std::string name = entry.path().filename().string();
    if (name.find(".tmp-") != std::string::npos) found.push_back(name);
  }
  return found;
}

/// Writes an HDF5 file with the given root attributes (filetype empty: none), as another tool might.
void write_fake_study(const std::string& path, const std::string& filetype,
                      const std::vector<int>& version) {
  hdf5::init();
  hdf5::File file = hdf5::create_file(path);
  if (!filetype.empty()) hdf5::write_string_attr(file, "filetype", filetype);
  if (!version.empty()) hdf5::write_ints_attr(file, "format_version", version);
  hdf5::Group runs = hdf5::create_group(file, "runs");
  runs.close();
  file.close();
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class F>
std::string io_error_message(F&& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("unexpected exception: ") + e.what();
  }
  return "no exception";
}

std::vector<std::string> compound_members(const hdf5::Dataset& dataset) {
  hdf5::Datatype type(H5Dget_type(dataset.id()), dataset.where());
  std::vector<std::string> names;
  const int n = H5Tget_nmembers(type.id());
  for (int i = 0; i < n; ++i) {
    char* name = H5Tget_member_name(type.id(), static_cast<unsigned>(i));
    names.emplace_back(name);
    H5free_memory(name);
  }
  return names;
}

// ---- round trips ---------------------------------------------------------------------------------

TEST(StudyTest, RoundTripWithEvents) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  const lcsim::Run run = make_run("base", {});
  Study::append(path, run, "base");
  EXPECT_EQ(Study::list_runs(path), std::vector<std::string>{"base"});
  EXPECT_TRUE(same_run(Study::read_run(path, "base"), run));
  EXPECT_TRUE(temp_files(dir).empty());
  EXPECT_FALSE(fs::exists(path + ".lock"));  // the writer's lock file goes with its lock
}

TEST(StudyTest, RoundTripWithoutEvents) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.events = false;
  const lcsim::Run run = make_run("plain", spec);
  Study::append(path, run, "plain");
  const lcsim::Run back = Study::read_run(path, "plain");
  EXPECT_FALSE(back.has_events);
  EXPECT_TRUE(same_run(back, run));
}

TEST(StudyTest, RoundTripWithParameterDraws) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.reps = 4;
  lcsim::Run run = make_run("psa", spec);
  lcsim::ParameterDraws draws;
  draws.parameters = {"stages.lead.next.mql", "stages.lead.next.lost",
                      "arrivals.streams[0].rate_per_day"};
  draws.values = {0.25, 0.75, 3.5, 0.25, 0.75, 3.5, 0.5, 0.5, 4.25, 0.5, 0.5, 4.25};
  draws.inner = 2;
  draws.source = "calibration of events.csv";
  draws.note =
      "parameter uncertainty from calibration of events.csv: 2 posterior draws x 2 replication(s)";
  run.parameter_draws = draws;
  Study::append(path, run, "psa");
  const lcsim::Run back = Study::read_run(path, "psa");
  EXPECT_TRUE(same_run(back, run));
  ASSERT_TRUE(back.parameter_draws.has_value());
  EXPECT_EQ(back.parameter_draws->parameters, draws.parameters);
  EXPECT_EQ(back.parameter_draws->values, draws.values);
  EXPECT_EQ(back.parameter_draws->inner, 2);
  EXPECT_EQ(back.parameter_draws->source, draws.source);
  EXPECT_EQ(back.parameter_draws->note, draws.note);
  // A run without draws reads back without them.
  Study::append(path, make_run("plain", spec), "plain");
  EXPECT_FALSE(Study::read_run(path, "plain").parameter_draws.has_value());

  // Inconsistent draws are refused before the file is touched.
  lcsim::Run bad = run;
  bad.parameter_draws->values.pop_back();
  EXPECT_THROW(Study::append(path, bad, "bad"), lcsim::InternalError);
  bad = run;
  bad.parameter_draws->inner = 3;
  EXPECT_THROW(Study::append(path, bad, "bad"), lcsim::InternalError);
  EXPECT_EQ(Study::list_runs(path), (std::vector<std::string>{"plain", "psa"}));
  EXPECT_TRUE(temp_files(dir).empty());
}

TEST(StudyTest, RoundTripLargeCompressedDatasets) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.reps = 24;
  spec.stages = 12;
  spec.reports = 61;  // occupancy 24 * 61 * 12 > 4096: chunked
  spec.touchpoints = 50;
  spec.events_per_rep = 70'000;  // 1.68 M events: several chunks and staging blocks
  spec.seed = 7;
  const lcsim::Run run = make_run("big", spec);
  Study::append(path, run, "big");
  EXPECT_TRUE(same_run(Study::read_run(path, "big"), run));
}

TEST(StudyTest, RunNameComesFromTheStudy) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  const lcsim::Run run = make_run("original", {});
  Study::append(path, run, "renamed");
  const lcsim::Run back = Study::read_run(path, "renamed");
  EXPECT_EQ(back.info.name, "renamed");
  lcsim::Run expected = run;
  expected.info.name = "renamed";
  EXPECT_TRUE(same_run(back, expected));
}

TEST(StudyTest, ZeroTouchpoints) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.touchpoints = 0;
  const lcsim::Run run = make_run("no_tp", spec);
  Study::append(path, run, "no_tp");
  const lcsim::Run back = Study::read_run(path, "no_tp");
  ASSERT_EQ(back.replications.size(), 3u);
  EXPECT_TRUE(back.replications[0].touchpoints.empty());
  EXPECT_TRUE(same_run(back, run));
}

TEST(StudyTest, RunGroupCopiesWithH5Ocopy) {
  // HDF5's object copy (h5py's Group.copy, h5copy): HDF5 before 1.14.4 crashes copying a group
  // whose variable-length string attributes are in dense storage (a run group has about 20
  // attributes, dense from 9 by default), so lcsim keeps them compact. Empty name lists included
  // (no touchpoints, no resources).
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.touchpoints = 0;
  spec.events = false;
  const lcsim::Run run = make_run("empty_lists", spec);
  Study::append(path, run, "empty_lists");
  {
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    EXPECT_GE(H5Ocopy(file, "runs/empty_lists", file, "runs/copied", H5P_DEFAULT, H5P_DEFAULT), 0);
    H5Fclose(file);
  }
  const lcsim::Run back = Study::read_run(path, "copied");
  EXPECT_TRUE(back.info.touchpoint_names.empty());
  EXPECT_TRUE(back.info.resource_names.empty());
  lcsim::Run expected = run;
  expected.info.name = back.info.name;
  EXPECT_TRUE(same_run(back, expected));
}

TEST(StudyTest, EmptyEventLog) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.events_per_rep = 0;
  const lcsim::Run run = make_run("quiet", spec);
  ASSERT_TRUE(run.has_events);
  Study::append(path, run, "quiet");
  const lcsim::Run back = Study::read_run(path, "quiet");
  EXPECT_TRUE(back.has_events);
  EXPECT_TRUE(same_run(back, run));
}

TEST(StudyTest, DegenerateShapes) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec no_reports;
  no_reports.reports = 0;
  RunSpec one;
  one.reps = 1;
  one.stages = 1;
  one.reports = 1;
  one.touchpoints = 1;
  one.events_per_rep = 1;
  RunSpec no_stages;
  no_stages.stages = 0;
  no_stages.events = false;
  const lcsim::Run a = make_run("no_reports", no_reports);
  const lcsim::Run b = make_run("one", one);
  const lcsim::Run c = make_run("no_stages", no_stages);
  Study::append(path, a, "no_reports");
  Study::append(path, b, "one");
  Study::append(path, c, "no_stages");
  EXPECT_TRUE(same_run(Study::read_run(path, "no_reports"), a));
  EXPECT_TRUE(same_run(Study::read_run(path, "one"), b));
  EXPECT_TRUE(same_run(Study::read_run(path, "no_stages"), c));
}

TEST(StudyTest, SecondAppendLeavesFirstRunIdentical) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  const lcsim::Run first = make_run("first", {});
  Study::append(path, first, "first");
  const lcsim::Run before = Study::read_run(path, "first");
  RunSpec spec;
  spec.seed = 99;
  spec.reps = 5;
  const lcsim::Run second = make_run("second", spec);
  Study::append(path, second, "second");
  EXPECT_EQ(Study::list_runs(path), (std::vector<std::string>{"first", "second"}));
  EXPECT_TRUE(same_run(Study::read_run(path, "first"), before));
  EXPECT_TRUE(same_run(Study::read_run(path, "second"), second));
}

TEST(StudyTest, ListRunsIsSorted) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.events = false;
  for (const char* name : {"zeta", "Alpha", "beta-2", "beta_1", "v1.0"}) {
    Study::append(path, make_run(name, spec), name);
  }
  EXPECT_EQ(Study::list_runs(path),
            (std::vector<std::string>{"Alpha", "beta-2", "beta_1", "v1.0", "zeta"}));
}

TEST(StudyTest, RoundTripWithResources) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.resources = 2;
  const lcsim::Run run = make_run("teams", spec);
  Study::append(path, run, "teams");
  const lcsim::Run back = Study::read_run(path, "teams");
  EXPECT_EQ(back.info.resource_names, (std::vector<std::string>{"team0", "sales-Ünï"}));
  ASSERT_EQ(back.replications.size(), 3u);
  EXPECT_EQ(back.replications[0].num_resources, 2);
  EXPECT_TRUE(same_run(back, run));
}

TEST(StudyTest, RoundTripWithResourcesAndNoReportTimes) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.resources = 1;
  spec.reports = 0;
  spec.events = false;
  const lcsim::Run run = make_run("flat", spec);
  Study::append(path, run, "flat");
  EXPECT_TRUE(same_run(Study::read_run(path, "flat"), run));
}

TEST(StudyTest, InconsistentQueuesAreRejectedWithoutTouchingTheStudy) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  Study::append(path, make_run("a", {}), "a");
  const std::string before = read_bytes(path);
  RunSpec spec;
  spec.resources = 2;
  lcsim::Run bad = make_run("bad", spec);
  bad.replications[2].queue_wait.pop_back();
  EXPECT_THROW(Study::append(path, bad, "bad"), InternalError);
  lcsim::Run unnamed = make_run("unnamed", spec);
  unnamed.info.resource_names.pop_back();  // queues for 2 resources, names for 1
  EXPECT_THROW(Study::append(path, unnamed, "unnamed"), InternalError);
  EXPECT_EQ(read_bytes(path), before);
}

/// Turns the study at `path` back into what lcsim wrote at format 1.1: no resource_names
/// attributes and no queue datasets in any run, format_version [1, 1].
void downgrade_to_1_1(const std::string& path) {
  hdf5::init();
  hdf5::File file = hdf5::open_file(path, true);
  hdf5::Group runs = hdf5::open_group(file, "runs");
  for (const std::string& name : hdf5::link_names(runs)) {
    hdf5::Group run = hdf5::open_group(runs, name);
    if (hdf5::has_attr(run, "resource_names")) hdf5::remove_attr(run, "resource_names");
    for (const char* dataset : {"queue_length", "queue_wait"}) {
      if (hdf5::link_exists(run, dataset)) hdf5::remove_link(run, dataset);
    }
  }
  runs.close();
  hdf5::remove_attr(file, "format_version");
  hdf5::write_ints_attr(file, "format_version", std::vector<int>{1, 1});
  file.close();
}

TEST(StudyTest, Format11StudyIsReadWithoutResourcesAndUpgradedOnAppend) {
  TempDir dir;
  const std::string path = dir.file("old.h5");
  RunSpec spec;
  spec.events = false;
  const lcsim::Run old = make_run("old", spec);
  Study::append(path, old, "old");
  downgrade_to_1_1(path);
  {
    hdf5::File file = hdf5::open_file(path, false);
    EXPECT_EQ(hdf5::read_ints_attr(file, "format_version"), (std::vector<int>{1, 1}));
  }
  EXPECT_EQ(Study::list_runs(path), std::vector<std::string>{"old"});
  const lcsim::Run back = Study::read_run(path, "old");
  EXPECT_TRUE(back.info.resource_names.empty());
  EXPECT_TRUE(same_run(back, old));

  spec.resources = 2;
  const lcsim::Run teams = make_run("teams", spec);
  Study::append(path, teams, "teams");
  {
    hdf5::File file = hdf5::open_file(path, false);
    EXPECT_EQ(hdf5::read_ints_attr(file, "format_version"),
              (std::vector<int>{kStudyFormatMajor, kStudyFormatMinor}));
    hdf5::Group run = hdf5::open_group(hdf5::open_group(file, "runs"), "old");
    EXPECT_FALSE(hdf5::has_attr(run, "resource_names"));  // old runs are left as they were
  }
  EXPECT_TRUE(same_run(Study::read_run(path, "old"), old));
  EXPECT_TRUE(same_run(Study::read_run(path, "teams"), teams));
}

TEST(StudyTest, MissingQueueDatasetIsAnIoError) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.resources = 1;
  spec.events = false;
  Study::append(path, make_run("teams", spec), "teams");
  {
    hdf5::init();
    hdf5::File file = hdf5::open_file(path, true);
    hdf5::Group run = hdf5::open_group(hdf5::open_group(file, "runs"), "teams");
    hdf5::remove_link(run, "queue_wait");
    run.close();
    file.close();
  }
  EXPECT_THROW(static_cast<void>(Study::read_run(path, "teams")), IoError);
}

// ---- layout (docs/format.md) ---------------------------------------------------------------------

TEST(StudyTest, LayoutMatchesTheFormatDocument) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.reps = 2;
  spec.stages = 3;
  spec.reports = 4;
  spec.touchpoints = 2;
  spec.events_per_rep = 5;
  const lcsim::Run run = make_run("base", spec);
  Study::append(path, run, "base");

  hdf5::init();
  hdf5::File file = hdf5::open_file(path, false);
  EXPECT_EQ(hdf5::read_string_attr(file, "filetype"), "lcsim-study");
  EXPECT_EQ(hdf5::read_ints_attr(file, "format_version"),
            (std::vector<int>{kStudyFormatMajor, kStudyFormatMinor}));
  hdf5::Group group = hdf5::open_group(hdf5::open_group(file, "runs"), "base");
  EXPECT_EQ(hdf5::read_int_attr(group, "complete"), 1);
  EXPECT_EQ(hdf5::read_int_attr(group, "has_events"), 1);
  EXPECT_EQ(hdf5::read_uint64_attr(group, "seed"), run.info.seed);
  EXPECT_EQ(hdf5::read_int_attr(group, "replications"), 2);
  EXPECT_EQ(hdf5::read_string_attr(group, "scenario"), run.info.scenario_text);
  EXPECT_EQ(hdf5::read_strings_attr(group, "metric_names"), run.info.metric_names);
  for (const char* attr : {"scenario_name", "scenario_file", "lcsim_version", "boost_version",
                           "created", "won", "stage_names", "segment_names", "touchpoint_names",
                           "resource_names", "cause_names", "report_times"}) {
    EXPECT_TRUE(hdf5::has_attr(group, attr)) << attr;
  }
  EXPECT_TRUE(hdf5::read_strings_attr(group, "resource_names").empty());
  EXPECT_FALSE(hdf5::link_exists(group, "queue_length"));  // only when the run has resources
  EXPECT_FALSE(hdf5::link_exists(group, "queue_wait"));
  using Dims = std::vector<hsize_t>;
  EXPECT_EQ(hdf5::dataset_shape(hdf5::open_dataset(group, "occupancy")), (Dims{2, 4, 3}));
  EXPECT_EQ(hdf5::dataset_shape(hdf5::open_dataset(group, "transitions")), (Dims{2, 3, 3}));
  hdf5::Dataset touchpoints = hdf5::open_dataset(group, "touchpoints");
  EXPECT_EQ(hdf5::dataset_shape(touchpoints), (Dims{2, 2, 4}));
  EXPECT_EQ(hdf5::read_strings_attr(touchpoints, "columns"),
            (std::vector<std::string>{"contacts", "reached", "moves", "cost"}));

  hdf5::Dataset metrics = hdf5::open_dataset(group, "metrics");
  EXPECT_EQ(hdf5::dataset_shape(metrics), (Dims{2}));
  std::vector<std::string> expected_fields{"replication"};
  expected_fields.insert(expected_fields.end(), run.info.metric_names.begin(),
                         run.info.metric_names.end());
  EXPECT_EQ(compound_members(metrics), expected_fields);
  EXPECT_EQ(compound_members(hdf5::open_dataset(group, "summary")),
            (std::vector<std::string>{"metric", "mean", "std", "ci_low", "ci_high", "n"}));

  hdf5::Dataset events = hdf5::open_dataset(group, "events");
  EXPECT_EQ(hdf5::dataset_shape(events), (Dims{10}));
  EXPECT_EQ(compound_members(events),
            (std::vector<std::string>{"replication", "customer", "time", "from", "to", "cause"}));
  hdf5::PropList dcpl(H5Dget_create_plist(events.id()), events.where());
  EXPECT_EQ(H5Pget_layout(dcpl.id()), H5D_CHUNKED);
  EXPECT_EQ(H5Pget_nfilters(dcpl.id()), 2);  // shuffle + deflate
}

TEST(StudyTest, QueueLayoutMatchesTheFormatDocument) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.reps = 2;
  spec.stages = 3;
  spec.reports = 4;
  spec.resources = 2;
  spec.events = false;
  const lcsim::Run run = make_run("teams", spec);
  Study::append(path, run, "teams");

  hdf5::init();
  hdf5::File file = hdf5::open_file(path, false);
  EXPECT_EQ(hdf5::read_ints_attr(file, "format_version"), (std::vector<int>{1, 4}));
  hdf5::Group group = hdf5::open_group(hdf5::open_group(file, "runs"), "teams");
  EXPECT_EQ(hdf5::read_strings_attr(group, "resource_names"), run.info.resource_names);
  using Dims = std::vector<hsize_t>;
  hdf5::Dataset length = hdf5::open_dataset(group, "queue_length");
  hdf5::Dataset wait = hdf5::open_dataset(group, "queue_wait");
  EXPECT_EQ(hdf5::dataset_shape(length), (Dims{2, 4, 2}));
  EXPECT_EQ(hdf5::dataset_shape(wait), (Dims{2, 4, 2}));
  hdf5::Datatype length_type(H5Dget_type(length.id()), length.where());
  EXPECT_EQ(H5Tget_class(length_type.id()), H5T_INTEGER);
  EXPECT_EQ(H5Tget_size(length_type.id()), 8u);
  hdf5::Datatype wait_type(H5Dget_type(wait.id()), wait.where());
  EXPECT_EQ(H5Tget_class(wait_type.id()), H5T_FLOAT);
  EXPECT_EQ(H5Tget_size(wait_type.id()), 8u);
  // [R, T, Q], row-major: replication 1, report time 3, resource 1
  const std::vector<std::int64_t> lengths = hdf5::read_int64_array(length);
  EXPECT_EQ(lengths[(1 * 4 + 3) * 2 + 1], run.replications[1].queue_length[3 * 2 + 1]);
  const std::vector<std::string> metrics = hdf5::read_strings_attr(group, "metric_names");
  EXPECT_EQ(metrics.back(), "resource.sales-Ünï.staff_cost");
  const std::vector<std::string> causes = hdf5::read_strings_attr(group, "cause_names");
  EXPECT_EQ(causes.back(), "abandon:sales-Ünï");
}

TEST(StudyTest, LargeDatasetsAreChunkedAndCompressed) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.reps = 10;
  spec.stages = 10;
  spec.reports = 100;  // occupancy 10 000 elements
  spec.events = false;
  Study::append(path, make_run("big", spec), "big");
  hdf5::init();
  hdf5::File file = hdf5::open_file(path, false);
  hdf5::Group group = hdf5::open_group(hdf5::open_group(file, "runs"), "big");
  hdf5::Dataset occupancy = hdf5::open_dataset(group, "occupancy");
  hdf5::PropList big(H5Dget_create_plist(occupancy.id()), occupancy.where());
  EXPECT_EQ(H5Pget_layout(big.id()), H5D_CHUNKED);
  EXPECT_EQ(H5Pget_nfilters(big.id()), 2);
  hdf5::Dataset transitions = hdf5::open_dataset(group, "transitions");  // 1000 elements
  hdf5::PropList small(H5Dget_create_plist(transitions.id()), transitions.where());
  EXPECT_EQ(H5Pget_layout(small.id()), H5D_CONTIGUOUS);
}

TEST(StudyTest, ChunkShapeStaysNearOneMebibyte) {
  const std::vector<hsize_t> small{4, 10, 10};
  EXPECT_TRUE(hdf5::chunk_shape(small, 8).empty());
  const std::vector<hsize_t> big{1000, 365, 20};
  const std::vector<hsize_t> chunk = hdf5::chunk_shape(big, 8);
  ASSERT_EQ(chunk.size(), 3u);
  EXPECT_LE(chunk[0] * chunk[1] * chunk[2] * 8, hsize_t{1} << 20);
  EXPECT_EQ(chunk[1], 365u);
  EXPECT_EQ(chunk[2], 20u);
  const std::vector<hsize_t> wide{2, 1'000'000};
  const std::vector<hsize_t> wide_chunk = hdf5::chunk_shape(wide, 8);
  EXPECT_EQ(wide_chunk[0], 1u);
  EXPECT_LE(wide_chunk[1] * 8, hsize_t{1} << 20);
}

// ---- errors --------------------------------------------------------------------------------------

TEST(StudyTest, DuplicateNameIsAnInputError) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  const lcsim::Run run = make_run("base", {});
  Study::append(path, run, "base");
  const std::string before = read_bytes(path);
  try {
    Study::append(path, run, "base");
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_EQ(e.field(), "name");
    EXPECT_NE(std::string(e.what()).find("run 'base' already exists in " + path), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(temp_files(dir).empty());
}

TEST(StudyTest, BadNameIsAnInputError) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  const lcsim::Run run = make_run("base", {});
  for (const std::string name :
       {"", ".hidden", "a/b", "a b", "caf\xc3\xa9", "x:y", "..", "tab\t"}) {
    try {
      Study::append(path, run, name);
      FAIL() << "no exception for '" << name << "'";
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), path);
      EXPECT_EQ(e.line(), 0);
      EXPECT_EQ(e.field(), "name");
    }
  }
  EXPECT_FALSE(fs::exists(path));
  for (const std::string name : {"a", "A-1", "v1.0", "x_", "-x", "9"}) {
    EXPECT_NO_THROW(Study::append(path, run, name)) << name;
  }
  EXPECT_EQ(Study::list_runs(path).size(), 6u);
}

TEST(StudyTest, UnknownRunIsAnInputErrorNamingTheRuns) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.events = false;
  Study::append(path, make_run("a", spec), "a");
  Study::append(path, make_run("b", spec), "b");
  try {
    static_cast<void>(Study::read_run(path, "c"));
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "name");
    const std::string message = e.what();
    EXPECT_NE(message.find("'c'"), std::string::npos) << message;
    EXPECT_NE(message.find("a, b"), std::string::npos) << message;
  }
  EXPECT_THROW(static_cast<void>(Study::read_run(path, "../a")), InputError);
}

TEST(StudyTest, MissingFileIsAnIoError) {
  TempDir dir;
  const std::string path = dir.file("missing.h5");
  const std::string list = io_error_message([&] { static_cast<void>(Study::list_runs(path)); });
  EXPECT_NE(list.find(path), std::string::npos) << list;
  EXPECT_NE(list.find("no such"), std::string::npos) << list;
  const std::string read = io_error_message([&] { static_cast<void>(Study::read_run(path, "x")); });
  EXPECT_NE(read.find(path), std::string::npos) << read;
  EXPECT_NE(io_error_message([&] {
              static_cast<void>(Study::list_runs(dir.path().string()));
            }).find("directory"),
            std::string::npos);
}

TEST(StudyTest, NonHdf5FileIsAnIoError) {
  TempDir dir;
  const std::string path = dir.file("notes.h5");
  { std::ofstream(path) << "just some text, not HDF5\n"; }
  const std::string message = io_error_message([&] { static_cast<void>(Study::list_runs(path)); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("not an HDF5 file"), std::string::npos) << message;
  const std::string before = read_bytes(path);
  EXPECT_THROW(Study::append(path, make_run("a", {}), "a"), IoError);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(temp_files(dir).empty());
}

TEST(StudyTest, TruncatedStudyIsAnIoError) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.events_per_rep = 20'000;
  Study::append(path, make_run("a", spec), "a");
  fs::resize_file(path, fs::file_size(path) / 2);
  EXPECT_THROW(
      {
        static_cast<void>(Study::list_runs(path));
        static_cast<void>(Study::read_run(path, "a"));
      },
      IoError);
}

TEST(StudyTest, WrongFiletypeIsAnIoError) {
  TempDir dir;
  const std::string other = dir.file("other.h5");
  write_fake_study(other, "something-else", {1, 0});
  std::string message = io_error_message([&] { static_cast<void>(Study::list_runs(other)); });
  EXPECT_NE(message.find("not an lcsim study"), std::string::npos) << message;
  EXPECT_NE(message.find("something-else"), std::string::npos) << message;
  EXPECT_THROW(Study::append(other, make_run("a", {}), "a"), IoError);

  const std::string bare = dir.file("bare.h5");
  write_fake_study(bare, "", {});
  message = io_error_message([&] { static_cast<void>(Study::list_runs(bare)); });
  EXPECT_NE(message.find("not an lcsim study"), std::string::npos) << message;
  EXPECT_THROW(static_cast<void>(Study::read_run(bare, "a")), IoError);
}

TEST(StudyTest, FutureMajorVersionIsAnIoError) {
  TempDir dir;
  const std::string path = dir.file("future.h5");
  write_fake_study(path, "lcsim-study", {kStudyFormatMajor + 1, 3});
  const std::string found = std::to_string(kStudyFormatMajor + 1) + ".3";
  const std::string ours = std::to_string(kStudyFormatMajor) + ".x";
  const std::string message = io_error_message([&] { static_cast<void>(Study::list_runs(path)); });
  EXPECT_NE(message.find(found), std::string::npos) << message;
  EXPECT_NE(message.find(ours), std::string::npos) << message;
  EXPECT_THROW(static_cast<void>(Study::read_run(path, "a")), IoError);
  const std::string before = read_bytes(path);
  EXPECT_THROW(Study::append(path, make_run("a", {}), "a"), IoError);
  EXPECT_EQ(read_bytes(path), before);
}

TEST(StudyTest, NewerMinorVersionIsRead) {
  TempDir dir;
  const std::string path = dir.file("newer.h5");
  write_fake_study(path, "lcsim-study", {kStudyFormatMajor, kStudyFormatMinor + 5});
  EXPECT_TRUE(Study::list_runs(path).empty());
  RunSpec spec;
  spec.events = false;
  const lcsim::Run run = make_run("a", spec);
  Study::append(path, run, "a");
  EXPECT_TRUE(same_run(Study::read_run(path, "a"), run));
  hdf5::File file = hdf5::open_file(path, false);
  EXPECT_EQ(hdf5::read_ints_attr(file, "format_version"),
            (std::vector<int>{kStudyFormatMajor, kStudyFormatMinor + 5}));
}

TEST(StudyTest, IncompleteRunIsInvisibleAndReplaceable) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.events = false;
  const lcsim::Run a = make_run("a", spec);
  Study::append(path, a, "a");
  {
    // What a writer that does not use lcsim's copy-and-rename could leave behind.
    hdf5::init();
    hdf5::File file = hdf5::open_file(path, true);
    hdf5::Group runs = hdf5::open_group(file, "runs");
    hdf5::Group partial = hdf5::create_group(runs, "partial");
    hdf5::write_string_attr(partial, "scenario", "half");
    partial.close();
    runs.close();
    file.close();
  }
  EXPECT_EQ(Study::list_runs(path), std::vector<std::string>{"a"});
  EXPECT_THROW(static_cast<void>(Study::read_run(path, "partial")), InputError);
  const lcsim::Run partial = make_run("partial", spec);
  Study::append(path, partial, "partial");
  EXPECT_EQ(Study::list_runs(path), (std::vector<std::string>{"a", "partial"}));
  EXPECT_TRUE(same_run(Study::read_run(path, "partial"), partial));
  EXPECT_TRUE(same_run(Study::read_run(path, "a"), a));
}

TEST(StudyTest, InconsistentRunIsRejectedWithoutTouchingTheStudy) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  Study::append(path, make_run("a", {}), "a");
  const std::string before = read_bytes(path);
  lcsim::Run bad = make_run("bad", {});
  bad.replications[1].occupancy.pop_back();
  EXPECT_THROW(Study::append(path, bad, "bad"), InternalError);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(temp_files(dir).empty());
  EXPECT_EQ(Study::list_runs(path), std::vector<std::string>{"a"});
}

// ---- comparisons and sweeps ------------------------------------------------------------------------

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

RunSpec small_spec(std::uint64_t seed) {
  RunSpec spec;
  spec.events_per_rep = 30;
  spec.seed = seed;
  return spec;
}

DeltaRow delta_row(const std::string& metric, double x) {
  DeltaRow d;
  d.metric = metric;
  d.base_mean = x;
  d.variant_mean = x + 1.5;
  d.delta = 1.5;
  d.delta_std = 0.25 * x;
  d.ci_low = 1.25;
  d.ci_high = 1.75;
  d.lift = 1.5 / x;
  d.lift_ci_low = 1.25 / x;
  d.lift_ci_high = 1.75 / x;
  d.variance_reduction = 3.0 + x;
  d.n = 3;
  return d;
}

/// A hand-made comparison of a base and two variants (runs named as in no study), with NaN, inf and
/// -0.0 in the deltas, who-changed rows for variant 1 (UTF-8, "" = not reached) and none for variant 2.
Comparison make_comparison(std::uint64_t seed = 1) {
  Comparison c;
  c.base = make_run("base-arm", small_spec(seed));
  c.replications = 3;
  c.precision = 0.05;
  c.precision_met = false;
  c.precision_metrics = {"conversions", "cost.total"};
  for (int k = 0; k < 2; ++k) {
    VariantComparison v;
    v.run = make_run("variant-arm-" + std::to_string(k),
                     small_spec(seed + 10 + static_cast<std::uint64_t>(k)));
    v.changed_touchpoints =
        k == 0 ? std::vector<std::string>{"tp0", "webinar ✓"} : std::vector<std::string>{};
    v.deltas = {delta_row("customers", 100.0 + k), delta_row("conversions", 12.5),
                delta_row("time_to_convert.mean", 3.0)};
    v.deltas[1].variance_reduction = kInf;  // paired differences that do not vary
    v.deltas[2].variance_reduction = kNaN;  // not measured
    v.deltas[2].lift = -kInf;
    v.deltas[2].ci_low = -0.0;
    v.deltas[0].n = std::int64_t{1} << 40;
    if (k == 0) {
      v.changes = {{"smb", "", 1000, 40, 45, 7, 2},
                   {"smb", "lead", 250, 10, 19, 9, 0},
                   {"entreprise é", "mql", std::int64_t{1} << 36, 0, 0, 0, 0}};
    }
    v.verdict = "variant " + std::to_string(k + 1) +
                ": +5.0 conversions per 1,000 customers (95% CI 1.2 to 8.8)";
    c.variants.push_back(std::move(v));
  }
  return c;
}

/// `c` as read_comparison returns it from a comparison stored as `name`: runs carry their stored names.
Comparison stored_comparison(Comparison c, const std::string& name) {
  c.base.info.name = name + ".base";
  for (std::size_t k = 0; k < c.variants.size(); ++k) {
    c.variants[k].run.info.name = name + ".v" + std::to_string(k + 1);
  }
  return c;
}

::testing::AssertionResult same_comparison(const Comparison& a, const Comparison& b) {
  auto fail = [](const std::string& what) {
    return ::testing::AssertionFailure() << what << " differs";
  };
  if (a.replications != b.replications) return fail("replications");
  if (!same(a.precision, b.precision)) return fail("precision");
  if (a.precision_met != b.precision_met) return fail("precision_met");
  if (a.precision_metrics != b.precision_metrics) return fail("precision_metrics");
  if (auto r = same_run(a.base, b.base); !r) return fail(std::string("base: ") + r.message());
  if (a.variants.size() != b.variants.size()) return fail("number of variants");
  for (std::size_t k = 0; k < a.variants.size(); ++k) {
    const VariantComparison& v = a.variants[k];
    const VariantComparison& w = b.variants[k];
    const std::string at = "variants[" + std::to_string(k) + "].";
    if (auto r = same_run(v.run, w.run); !r) return fail(at + "run: " + r.message());
    if (v.changed_touchpoints != w.changed_touchpoints) return fail(at + "changed_touchpoints");
    if (v.verdict != w.verdict) return fail(at + "verdict");
    if (v.deltas.size() != w.deltas.size()) return fail(at + "deltas.size()");
    for (std::size_t i = 0; i < v.deltas.size(); ++i) {
      const DeltaRow& p = v.deltas[i];
      const DeltaRow& q = w.deltas[i];
      if (p.metric != q.metric || !same(p.base_mean, q.base_mean) ||
          !same(p.variant_mean, q.variant_mean) || !same(p.delta, q.delta) ||
          !same(p.delta_std, q.delta_std) || !same(p.ci_low, q.ci_low) ||
          !same(p.ci_high, q.ci_high) || !same(p.lift, q.lift) ||
          !same(p.lift_ci_low, q.lift_ci_low) || !same(p.lift_ci_high, q.lift_ci_high) ||
          !same(p.variance_reduction, q.variance_reduction) || p.n != q.n) {
        return fail(at + "deltas[" + std::to_string(i) + "]");
      }
    }
    if (v.changes.size() != w.changes.size()) return fail(at + "changes.size()");
    for (std::size_t i = 0; i < v.changes.size(); ++i) {
      const ChangeRow& p = v.changes[i];
      const ChangeRow& q = w.changes[i];
      if (p.segment != q.segment || p.reached_in != q.reached_in || p.customers != q.customers ||
          p.converted_base != q.converted_base || p.converted_variant != q.converted_variant ||
          p.gained != q.gained || p.lost != q.lost) {
        return fail(at + "changes[" + std::to_string(i) + "]");
      }
    }
  }
  return ::testing::AssertionSuccess();
}

/// A hand-made sweep: 3 points of 2 parameters, values as JSON text (numbers, lists, UTF-8 strings).
Sweep make_sweep(std::uint64_t seed = 30) {
  Sweep s;
  s.design = "grid";
  s.parameters = {"touchpoints.email.cost", "arrivals.rate"};
  const std::vector<std::vector<std::string>> values = {
      {"0.2", "[1, 3]"}, {"0.5", "\"fast ✓\""}, {"1e-09", "{\"weekday\": [1, 2, 3]}"}};
  for (std::size_t i = 0; i < values.size(); ++i) {
    SweepPoint p;
    p.values = values[i];
    RunSpec spec = small_spec(seed + i);
    spec.events = i != 1;
    p.run = make_run("point" + std::to_string(i), spec);
    s.points.push_back(std::move(p));
  }
  return s;
}

Sweep stored_sweep(Sweep s, const std::string& name) {
  for (std::size_t i = 0; i < s.points.size(); ++i)
    s.points[i].run.info.name = name + ".p" + std::to_string(i);
  return s;
}

::testing::AssertionResult same_sweep(const Sweep& a, const Sweep& b) {
  auto fail = [](const std::string& what) {
    return ::testing::AssertionFailure() << what << " differs";
  };
  if (a.design != b.design) return fail("design");
  if (a.parameters != b.parameters) return fail("parameters");
  if (a.points.size() != b.points.size()) return fail("number of points");
  for (std::size_t i = 0; i < a.points.size(); ++i) {
    const std::string at = "points[" + std::to_string(i) + "].";
    if (a.points[i].values != b.points[i].values) return fail(at + "values");
    if (auto r = same_run(a.points[i].run, b.points[i].run); !r)
      return fail(at + "run: " + r.message());
  }
  return ::testing::AssertionSuccess();
}

/// Runs `f`, which must throw an InputError about field `field`; returns its message.
template <class F>
std::string input_error_message(F&& f, const std::string& field = "name") {
  try {
    f();
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), field);
    EXPECT_EQ(e.line(), 0);
    return e.what();
  } catch (const std::exception& e) {
    return std::string("unexpected exception: ") + e.what();
  }
  return "no exception";
}

TEST(StudyRecordsTest, ComparisonRoundTrip) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  const Comparison c = make_comparison();
  Study::append_comparison(path, c, "email");
  EXPECT_EQ(Study::list_comparisons(path), std::vector<std::string>{"email"});
  EXPECT_TRUE(Study::list_sweeps(path).empty());
  const Comparison back = Study::read_comparison(path, "email");
  EXPECT_TRUE(same_comparison(back, stored_comparison(c, "email")));
  ASSERT_EQ(back.variants.size(), 2u);
  EXPECT_TRUE(back.variants[1].changes.empty());
  EXPECT_TRUE(std::isinf(back.variants[0].deltas[1].variance_reduction));
  EXPECT_TRUE(std::isnan(back.variants[0].deltas[2].variance_reduction));
  EXPECT_TRUE(temp_files(dir).empty());

  // The runs are ordinary runs too.
  EXPECT_EQ(Study::list_runs(path),
            (std::vector<std::string>{"email.base", "email.v1", "email.v2"}));
  lcsim::Run v2 = c.variants[1].run;
  v2.info.name = "email.v2";
  EXPECT_TRUE(same_run(Study::read_run(path, "email.v2"), v2));
}

TEST(StudyRecordsTest, ComparisonWithoutVariants) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  Comparison c = make_comparison();
  c.variants.clear();
  c.precision_metrics.clear();
  c.precision_met = true;
  Study::append_comparison(path, c, "alone");
  EXPECT_EQ(Study::list_runs(path), std::vector<std::string>{"alone.base"});
  EXPECT_TRUE(
      same_comparison(Study::read_comparison(path, "alone"), stored_comparison(c, "alone")));
}

TEST(StudyRecordsTest, ComparisonLayoutMatchesTheFormatDocument) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  const Comparison c = make_comparison();
  Study::append_comparison(path, c, "cmp");

  hdf5::init();
  hdf5::File file = hdf5::open_file(path, false);
  hdf5::Group group = hdf5::open_group(hdf5::open_group(file, "comparisons"), "cmp");
  EXPECT_EQ(hdf5::read_int_attr(group, "complete"), 1);
  EXPECT_EQ(hdf5::read_int_attr(group, "replications"), 3);
  EXPECT_EQ(hdf5::read_double_attr(group, "precision"), 0.05);
  EXPECT_EQ(hdf5::read_int_attr(group, "precision_met"), 0);
  EXPECT_EQ(hdf5::read_strings_attr(group, "precision_metrics"), c.precision_metrics);
  EXPECT_EQ(hdf5::read_string_attr(group, "base_run"), "cmp.base");
  EXPECT_EQ(hdf5::read_strings_attr(group, "variant_runs"),
            (std::vector<std::string>{"cmp.v1", "cmp.v2"}));
  EXPECT_EQ(hdf5::link_names(group), (std::vector<std::string>{"v1", "v2"}));
  hdf5::Group v1 = hdf5::open_group(group, "v1");
  EXPECT_EQ(hdf5::read_string_attr(v1, "run"), "cmp.v1");
  EXPECT_EQ(hdf5::read_string_attr(v1, "verdict"), c.variants[0].verdict);
  EXPECT_EQ(hdf5::read_strings_attr(v1, "changed_touchpoints"), c.variants[0].changed_touchpoints);
  EXPECT_EQ(compound_members(hdf5::open_dataset(v1, "deltas")),
            (std::vector<std::string>{"metric", "base_mean", "variant_mean", "delta", "delta_std",
                                      "ci_low", "ci_high", "lift", "lift_ci_low", "lift_ci_high",
                                      "variance_reduction", "n"}));
  EXPECT_EQ(hdf5::num_rows(hdf5::open_dataset(v1, "deltas")), 3u);
  EXPECT_EQ(compound_members(hdf5::open_dataset(v1, "changes")),
            (std::vector<std::string>{"segment", "reached_in", "customers", "converted_base",
                                      "converted_variant", "gained", "lost"}));
  EXPECT_EQ(hdf5::num_rows(hdf5::open_dataset(v1, "changes")), 3u);
  hdf5::Group v2 = hdf5::open_group(group, "v2");
  EXPECT_TRUE(hdf5::read_strings_attr(v2, "changed_touchpoints").empty());
  EXPECT_EQ(hdf5::num_rows(hdf5::open_dataset(v2, "changes")), 0u);
  EXPECT_FALSE(hdf5::link_exists(file, "sweeps"));
}

TEST(StudyRecordsTest, SweepRoundTripAndLayout) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  const Sweep s = make_sweep();
  Study::append_sweep(path, s, "cost-grid");
  EXPECT_EQ(Study::list_sweeps(path), std::vector<std::string>{"cost-grid"});
  EXPECT_TRUE(Study::list_comparisons(path).empty());
  EXPECT_TRUE(same_sweep(Study::read_sweep(path, "cost-grid"), stored_sweep(s, "cost-grid")));
  EXPECT_EQ(Study::list_runs(path),
            (std::vector<std::string>{"cost-grid.p0", "cost-grid.p1", "cost-grid.p2"}));
  lcsim::Run p1 = s.points[1].run;
  p1.info.name = "cost-grid.p1";
  EXPECT_TRUE(same_run(Study::read_run(path, "cost-grid.p1"), p1));

  hdf5::init();
  hdf5::File file = hdf5::open_file(path, false);
  hdf5::Group group = hdf5::open_group(hdf5::open_group(file, "sweeps"), "cost-grid");
  EXPECT_EQ(hdf5::read_int_attr(group, "complete"), 1);
  EXPECT_EQ(hdf5::read_string_attr(group, "design"), "grid");
  EXPECT_EQ(hdf5::read_strings_attr(group, "parameters"), s.parameters);
  EXPECT_EQ(hdf5::read_strings_attr(group, "runs"),
            (std::vector<std::string>{"cost-grid.p0", "cost-grid.p1", "cost-grid.p2"}));
  hdf5::Dataset points = hdf5::open_dataset(group, "points");
  EXPECT_EQ(compound_members(points),
            (std::vector<std::string>{"point", "touchpoints.email.cost", "arrivals.rate"}));
  EXPECT_EQ(hdf5::num_rows(points), 3u);
  EXPECT_FALSE(hdf5::link_exists(file, "comparisons"));
}

TEST(StudyRecordsTest, EmptySweep) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  Sweep s;
  s.design = "points";
  Study::append_sweep(path, s, "nothing");
  EXPECT_EQ(Study::list_sweeps(path), std::vector<std::string>{"nothing"});
  EXPECT_TRUE(Study::list_runs(path).empty());
  EXPECT_TRUE(same_sweep(Study::read_sweep(path, "nothing"), s));
}

TEST(StudyRecordsTest, ListsAreSortedAndSeparate) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  Comparison c = make_comparison();
  c.variants.resize(1);
  for (const char* name : {"zeta", "Alpha", "mid"}) Study::append_comparison(path, c, name);
  Sweep s = make_sweep();
  s.points.resize(1);
  for (const char* name : {"s2", "s1"}) Study::append_sweep(path, s, name);
  // A comparison and a sweep may share a name: their runs differ (.base/.v1 and .p0).
  Study::append_sweep(path, s, "mid");
  EXPECT_EQ(Study::list_comparisons(path), (std::vector<std::string>{"Alpha", "mid", "zeta"}));
  EXPECT_EQ(Study::list_sweeps(path), (std::vector<std::string>{"mid", "s1", "s2"}));
  EXPECT_EQ(Study::list_runs(path).size(), 3u * 2u + 3u);
}

TEST(StudyRecordsTest, DuplicateNamesAreInputErrorsAndLeaveTheFileAlone) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  const Comparison c = make_comparison();
  const Sweep s = make_sweep();
  Study::append_comparison(path, c, "cmp");
  Study::append_sweep(path, s, "sw");
  const std::string before = read_bytes(path);

  std::string message = input_error_message([&] { Study::append_comparison(path, c, "cmp"); });
  EXPECT_NE(message.find("comparison 'cmp' already exists in " + path), std::string::npos)
      << message;
  message = input_error_message([&] { Study::append_sweep(path, s, "sw"); });
  EXPECT_NE(message.find("sweep 'sw' already exists in " + path), std::string::npos) << message;

  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(temp_files(dir).empty());
}

TEST(StudyRecordsTest, RunNameClashIsAnInputErrorAndLeavesTheFileAlone) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.events = false;
  Study::append(path, make_run("x", spec), "cmp.v2");
  Study::append(path, make_run("y", spec), "sw.p2");
  const std::string before = read_bytes(path);

  std::string message =
      input_error_message([&] { Study::append_comparison(path, make_comparison(), "cmp"); });
  EXPECT_NE(message.find("'cmp.v2'"), std::string::npos) << message;
  EXPECT_NE(message.find("already exists"), std::string::npos) << message;
  message = input_error_message([&] { Study::append_sweep(path, make_sweep(), "sw"); });
  EXPECT_NE(message.find("'sw.p2'"), std::string::npos) << message;
  EXPECT_EQ(read_bytes(path), before);

  // The other way round: a run named like a comparison's run.
  Study::append_comparison(path, make_comparison(), "other");
  const std::string after = read_bytes(path);
  message = input_error_message([&] { Study::append(path, make_run("z", spec), "other.base"); });
  EXPECT_NE(message.find("run 'other.base' already exists"), std::string::npos) << message;
  EXPECT_EQ(read_bytes(path), after);

  EXPECT_TRUE(temp_files(dir).empty());
  EXPECT_EQ(Study::list_comparisons(path), std::vector<std::string>{"other"});
  EXPECT_TRUE(Study::list_sweeps(path).empty());
  // Nothing of the refused appends reached the study.
  EXPECT_EQ(Study::list_runs(path),
            (std::vector<std::string>{"cmp.v2", "other.base", "other.v1", "other.v2", "sw.p2"}));
}

TEST(StudyRecordsTest, SweepNamesAreCheckedBeforeWritingWithAppendsMessages) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  EXPECT_NO_THROW(Study::check_sweep_names(path, "sw", 3));  // no study yet
  EXPECT_NE(
      input_error_message([&] { Study::check_sweep_names(path, ".hidden", 3); }).find("sweep name"),
      std::string::npos);
  RunSpec spec;
  spec.events = false;
  Study::append(path, make_run("y", spec), "other.p2");
  Study::append_sweep(path, make_sweep(), "sw");
  const std::string before = read_bytes(path);
  EXPECT_NE(input_error_message([&] {
              Study::check_sweep_names(path, "sw", 1);
            }).find("sweep 'sw' already exists in " + path),
            std::string::npos);
  EXPECT_NE(input_error_message([&] {
              Study::check_sweep_names(path, "other", 3);
            }).find("needs run 'other.p2'"),
            std::string::npos);
  EXPECT_NO_THROW(Study::check_sweep_names(path, "other", 2));  // other.p0, other.p1 are free
  EXPECT_EQ(read_bytes(path), before);
}

TEST(StudyRecordsTest, BadNamesAreInputErrors) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  const Comparison c = make_comparison();
  const Sweep s = make_sweep();
  for (const std::string name : {"", ".hidden", "a/b", "a b", "caf\xc3\xa9"}) {
    EXPECT_NE(input_error_message([&] {
                Study::append_comparison(path, c, name);
              }).find("comparison name"),
              std::string::npos)
        << name;
    EXPECT_NE(input_error_message([&] { Study::append_sweep(path, s, name); }).find("sweep name"),
              std::string::npos)
        << name;
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(StudyRecordsTest, BadSweepParametersAreInputErrors) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  Study::append(path, make_run("a", {}), "a");
  const std::string before = read_bytes(path);
  Sweep twice = make_sweep();
  twice.parameters[1] = twice.parameters[0];
  EXPECT_NE(input_error_message([&] { Study::append_sweep(path, twice, "s"); }, "parameters")
                .find("twice"),
            std::string::npos);
  Sweep point = make_sweep();
  point.parameters[0] = "point";
  EXPECT_NE(input_error_message([&] { Study::append_sweep(path, point, "s"); }, "parameters"),
            "no exception");
  Sweep ragged = make_sweep();
  ragged.points[2].values.pop_back();
  EXPECT_NE(input_error_message([&] { Study::append_sweep(path, ragged, "s"); }, "points")
                .find("point 2"),
            std::string::npos);
  EXPECT_EQ(read_bytes(path), before);
}

TEST(StudyRecordsTest, InconsistentVariantRunIsRejectedWithoutTouchingTheStudy) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  Study::append(path, make_run("a", {}), "a");
  const std::string before = read_bytes(path);
  Comparison c = make_comparison();
  c.variants[1].run.replications[0].reached.pop_back();
  EXPECT_THROW(Study::append_comparison(path, c, "cmp"), InternalError);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(temp_files(dir).empty());
}

TEST(StudyRecordsTest, UnknownNamesAreInputErrorsNamingTheAvailableOnes) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  Study::append(path, make_run("a", {}), "a");
  std::string message =
      input_error_message([&] { static_cast<void>(Study::read_comparison(path, "c")); });
  EXPECT_NE(message.find("no comparison 'c'"), std::string::npos) << message;
  EXPECT_NE(message.find("available comparisons: (none)"), std::string::npos) << message;
  Study::append_comparison(path, make_comparison(), "c1");
  Study::append_comparison(path, make_comparison(), "c2");
  Study::append_sweep(path, make_sweep(), "s1");
  message = input_error_message([&] { static_cast<void>(Study::read_comparison(path, "c")); });
  EXPECT_NE(message.find("available comparisons: c1, c2"), std::string::npos) << message;
  message = input_error_message([&] { static_cast<void>(Study::read_sweep(path, "c1")); });
  EXPECT_NE(message.find("no sweep 'c1'"), std::string::npos) << message;
  EXPECT_NE(message.find("available sweeps: s1"), std::string::npos) << message;
  // A comparison's run is not a comparison.
  EXPECT_THROW(static_cast<void>(Study::read_comparison(path, "c1.base")), InputError);
  EXPECT_THROW(static_cast<void>(Study::list_comparisons(dir.file("missing.h5"))), IoError);
}

TEST(StudyRecordsTest, RunsComparisonsAndSweepsSurviveLaterAppends) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  const lcsim::Run a = make_run("a", small_spec(50));
  const Comparison c = make_comparison(60);
  const Sweep s = make_sweep(70);
  Study::append(path, a, "a");
  Study::append_comparison(path, c, "cmp");
  Study::append_sweep(path, s, "sw");
  const lcsim::Run b = make_run("b", small_spec(80));
  Study::append(path, b, "b");
  const Comparison c2 = make_comparison(90);
  Study::append_comparison(path, c2, "cmp2");

  EXPECT_EQ(Study::list_runs(path).size(), 2u + 3u + 3u + 3u);
  EXPECT_TRUE(same_run(Study::read_run(path, "a"), a));
  EXPECT_TRUE(same_run(Study::read_run(path, "b"), b));
  EXPECT_EQ(Study::list_comparisons(path), (std::vector<std::string>{"cmp", "cmp2"}));
  EXPECT_TRUE(same_comparison(Study::read_comparison(path, "cmp"), stored_comparison(c, "cmp")));
  EXPECT_TRUE(same_comparison(Study::read_comparison(path, "cmp2"), stored_comparison(c2, "cmp2")));
  EXPECT_EQ(Study::list_sweeps(path), std::vector<std::string>{"sw"});
  EXPECT_TRUE(same_sweep(Study::read_sweep(path, "sw"), stored_sweep(s, "sw")));
}

TEST(StudyRecordsTest, IncompleteComparisonIsInvisibleAndReplaceable) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  Study::append(path, make_run("a", {}), "a");
  {
    // What a writer that does not use lcsim's copy-and-rename could leave behind.
    hdf5::init();
    hdf5::File file = hdf5::open_file(path, true);
    hdf5::Group comparisons = hdf5::create_group(file, "comparisons");
    hdf5::Group partial = hdf5::create_group(comparisons, "cmp");
    hdf5::write_int_attr(partial, "replications", 3);
    partial.close();
    comparisons.close();
    file.close();
  }
  EXPECT_TRUE(Study::list_comparisons(path).empty());
  EXPECT_THROW(static_cast<void>(Study::read_comparison(path, "cmp")), InputError);
  const Comparison c = make_comparison();
  Study::append_comparison(path, c, "cmp");
  EXPECT_TRUE(same_comparison(Study::read_comparison(path, "cmp"), stored_comparison(c, "cmp")));
}

// ---- atomicity and concurrency -------------------------------------------------------------------

/// Forks a child that appends `run` as `name` and exits 0 on success, 1 on failure.
pid_t fork_append(const std::string& path, const lcsim::Run& run, const std::string& name) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 0;
    try {
      Study::append(path, run, name);
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  return pid;
}

TEST(StudyTest, KilledWriterLeavesTheStudyIntact) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec small;
  small.events_per_rep = 1000;
  const lcsim::Run a = make_run("a", small);
  small.seed = 2;
  const lcsim::Run b = make_run("b", small);
  Study::append(path, a, "a");
  Study::append(path, b, "b");

  RunSpec huge;
  huge.reps = 4;
  huge.events_per_rep = 1'500'000;  // 6 M events: writing takes well over 100 ms
  huge.seed = 3;
  const lcsim::Run big = make_run("big", huge);  // built before fork: the child only writes

  const pid_t child = fork_append(path, big, "big");
  ASSERT_GT(child, 0);
  bool seen = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    seen = !temp_files(dir).empty();
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Let it get well into writing the run before killing it.
  if (seen) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(seen) << "the writer's temporary file never appeared";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer finished before it was killed";
  EXPECT_FALSE(temp_files(dir).empty()) << "a killed writer leaves its temporary file";

  EXPECT_EQ(Study::list_runs(path), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(same_run(Study::read_run(path, "a"), a));
  EXPECT_TRUE(same_run(Study::read_run(path, "b"), b));

  // The kernel released the dead writer's lock; its temporary file is cleaned up.
  small.seed = 4;
  const lcsim::Run c = make_run("c", small);
  Study::append(path, c, "c");
  EXPECT_EQ(Study::list_runs(path), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(same_run(Study::read_run(path, "c"), c));
  EXPECT_TRUE(same_run(Study::read_run(path, "a"), a));
  EXPECT_TRUE(temp_files(dir).empty());
}

TEST(StudyRecordsTest, KilledComparisonWriterLeavesTheStudyIntact) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  const lcsim::Run a = make_run("a", small_spec(5));
  const Comparison earlier = make_comparison(6);
  const Sweep sweep = make_sweep(7);
  Study::append(path, a, "a");
  Study::append_comparison(path, earlier, "earlier");
  Study::append_sweep(path, sweep, "sw");
  const std::string before = read_bytes(path);

  Comparison big = make_comparison(8);
  RunSpec huge;
  huge.reps = 4;
  huge.events_per_rep = 1'500'000;  // 6 M events per arm: writing takes well over 100 ms
  huge.seed = 9;
  big.base = make_run("big-base", huge);
  huge.seed = 10;
  big.variants[0].run = make_run("big-v1", huge);  // built before fork: the child only writes

  const pid_t child = ::fork();
  if (child == 0) {
    int code = 0;
    try {
      Study::append_comparison(path, big, "big");
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  ASSERT_GT(child, 0);
  bool seen = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    seen = !temp_files(dir).empty();
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (seen) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(seen) << "the writer's temporary file never appeared";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer finished before it was killed";

  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(Study::list_comparisons(path), std::vector<std::string>{"earlier"});
  EXPECT_TRUE(same_comparison(Study::read_comparison(path, "earlier"),
                              stored_comparison(earlier, "earlier")));
  EXPECT_TRUE(same_sweep(Study::read_sweep(path, "sw"), stored_sweep(sweep, "sw")));
  EXPECT_TRUE(same_run(Study::read_run(path, "a"), a));
  EXPECT_EQ(Study::list_runs(path).size(), 1u + 3u + 3u);

  // The next writer gets the lock, removes the dead writer's temporary file, and lands.
  const Comparison next = make_comparison(11);
  Study::append_comparison(path, next, "big");
  EXPECT_EQ(Study::list_comparisons(path), (std::vector<std::string>{"big", "earlier"}));
  EXPECT_TRUE(same_comparison(Study::read_comparison(path, "big"), stored_comparison(next, "big")));
  EXPECT_TRUE(temp_files(dir).empty());
}

TEST(StudyTest, ConcurrentProcessesBothLand) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.events = false;
  const lcsim::Run base = make_run("base", spec);
  Study::append(path, base, "base");

  RunSpec busy;
  busy.events_per_rep = 200'000;
  busy.seed = 11;
  const lcsim::Run x = make_run("x", busy);
  busy.seed = 12;
  const lcsim::Run y = make_run("y", busy);
  const pid_t px = fork_append(path, x, "x");
  const pid_t py = fork_append(path, y, "y");
  ASSERT_GT(px, 0);
  ASSERT_GT(py, 0);
  int sx = 0;
  int sy = 0;
  ASSERT_EQ(::waitpid(px, &sx, 0), px);
  ASSERT_EQ(::waitpid(py, &sy, 0), py);
  ASSERT_TRUE(WIFEXITED(sx) && WEXITSTATUS(sx) == 0);
  ASSERT_TRUE(WIFEXITED(sy) && WEXITSTATUS(sy) == 0);

  EXPECT_EQ(Study::list_runs(path), (std::vector<std::string>{"base", "x", "y"}));
  EXPECT_TRUE(same_run(Study::read_run(path, "base"), base));
  EXPECT_TRUE(same_run(Study::read_run(path, "x"), x));
  EXPECT_TRUE(same_run(Study::read_run(path, "y"), y));
  EXPECT_TRUE(temp_files(dir).empty());
  EXPECT_FALSE(fs::exists(path + ".lock"));
}

TEST(StudyTest, ConcurrentThreadsAllLand) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  RunSpec spec;
  spec.events_per_rep = 5000;
  std::vector<lcsim::Run> runs;
  for (int i = 0; i < 4; ++i) {
    spec.seed = 20 + static_cast<std::uint64_t>(i);
    std::string name = "t";  // not "t" + ...: GCC 12 gives a false -Wrestrict warning there
    name += std::to_string(i);
    runs.push_back(make_run(name, spec));
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (const lcsim::Run& run : runs) {
    threads.emplace_back([&path, &run, &failures] {
      try {
        Study::append(path, run, run.info.name);
      } catch (...) {
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Study::list_runs(path), (std::vector<std::string>{"t0", "t1", "t2", "t3"}));
  for (const lcsim::Run& run : runs)
    EXPECT_TRUE(same_run(Study::read_run(path, run.info.name), run));
  EXPECT_FALSE(
      fs::exists(path + ".lock"));  // removed by each holder before it unlocked, yet all landed
}

// ---- optimisations ---------------------------------------------------------------------------------

Optimisation make_optimisation() {
  Optimisation o;
  o.settings = R"({"objective": "net_value", "direction": "maximise", "levers": [], "winner": 0})";
  o.levers = {"resources.sales.servers", "touchpoints.first_call.schedule.after_entry.days"};
  o.columns = {"objective", "delta", "conversions>=400@0.9", "feasible"};
  o.trials = {{0, "search", {"4", "[2]"}, {1.5e6, 0.0, 0.9, 1.0}},
              {1, "search", {"9", "[0.1667]"}, {kNaN, kInf, -0.0, 0.0}},
              {2, "final", {"9", "\"fast ✓\""}, {1.6e6, 2.5e4, 0.95, 1.0}}};
  o.chosen = "extends: base.yaml\nchanges:\n  resources.sales.servers: 9\n";
  o.verdict = {"Best plan: resources.sales.servers = 9", "P(conversions >= 400) = 0.95"};
  o.selection = make_comparison(70);
  return o;
}

TEST(StudyRecordsTest, OptimisationRoundTripAndLayout) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  const Optimisation o = make_optimisation();
  Study::append_optimisation(path, o, "plan");
  EXPECT_EQ(Study::list_optimisations(path), std::vector<std::string>{"plan"});
  // The selection step is an ordinary comparison of the same name, with its runs.
  EXPECT_EQ(Study::list_comparisons(path), std::vector<std::string>{"plan"});
  EXPECT_EQ(Study::list_runs(path), (std::vector<std::string>{"plan.base", "plan.v1", "plan.v2"}));

  const Optimisation back = Study::read_optimisation(path, "plan");
  EXPECT_EQ(back.settings, o.settings);
  EXPECT_EQ(back.levers, o.levers);
  EXPECT_EQ(back.columns, o.columns);
  EXPECT_EQ(back.chosen, o.chosen);
  EXPECT_EQ(back.verdict, o.verdict);
  EXPECT_TRUE(same_comparison(back.selection, stored_comparison(o.selection, "plan")));
  ASSERT_EQ(back.trials.size(), o.trials.size());
  for (std::size_t i = 0; i < o.trials.size(); ++i) {
    EXPECT_EQ(back.trials[i].number, o.trials[i].number);
    EXPECT_EQ(back.trials[i].phase, o.trials[i].phase);
    EXPECT_EQ(back.trials[i].values, o.trials[i].values);
    ASSERT_EQ(back.trials[i].numbers.size(), o.trials[i].numbers.size());
    for (std::size_t j = 0; j < o.trials[i].numbers.size(); ++j) {
      EXPECT_TRUE(same(back.trials[i].numbers[j], o.trials[i].numbers[j])) << i << "," << j;
    }
  }

  hdf5::init();
  hdf5::File file = hdf5::open_file(path, false);
  EXPECT_EQ(hdf5::read_ints_attr(file, "format_version"), (std::vector<int>{1, 4}));
  hdf5::Group group = hdf5::open_group(hdf5::open_group(file, "optimisations"), "plan");
  EXPECT_EQ(hdf5::read_int_attr(group, "complete"), 1);
  EXPECT_EQ(hdf5::read_string_attr(group, "comparison"), "plan");
  EXPECT_EQ(hdf5::num_rows(hdf5::open_dataset(group, "trials")), 3u);
  EXPECT_TRUE(temp_files(dir).empty());
}

TEST(StudyRecordsTest, OptimisationNameClashesAndBadTablesAreRefusedWithoutTouchingTheStudy) {
  TempDir dir;
  const std::string path = dir.file("study.h5");
  Study::append_optimisation(path, make_optimisation(), "plan");
  Study::append_comparison(path, make_comparison(), "cmp");
  const std::string before = read_bytes(path);

  std::string message =
      input_error_message([&] { Study::append_optimisation(path, make_optimisation(), "plan"); });
  EXPECT_NE(message.find("optimisation 'plan' already exists in " + path), std::string::npos)
      << message;
  // Its selection would be the comparison 'cmp', which exists.
  message =
      input_error_message([&] { Study::append_optimisation(path, make_optimisation(), "cmp"); });
  EXPECT_NE(message.find("comparison 'cmp' already exists in " + path), std::string::npos)
      << message;
  message =
      input_error_message([&] { Study::append_optimisation(path, make_optimisation(), "../x"); });
  EXPECT_NE(message.find("../x"), std::string::npos) << message;

  Optimisation twice = make_optimisation();
  twice.columns[1] = "objective";
  message =
      input_error_message([&] { Study::append_optimisation(path, twice, "twice"); }, "columns");
  EXPECT_NE(message.find("columns 'objective' appears twice"), std::string::npos) << message;
  Optimisation named_phase = make_optimisation();
  named_phase.levers[0] = "phase";
  message = input_error_message([&] { Study::append_optimisation(path, named_phase, "phase"); },
                                "levers");
  EXPECT_NE(message.find("levers 'phase' appears twice"), std::string::npos) << message;
  Optimisation short_row = make_optimisation();
  short_row.trials[1].numbers.pop_back();
  EXPECT_THROW(Study::append_optimisation(path, short_row, "short"), lcsim::InternalError);

  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(temp_files(dir).empty());
  message = input_error_message([&] { (void)Study::read_optimisation(path, "nope"); });
  EXPECT_NE(message.find("no optimisation 'nope'"), std::string::npos) << message;
  EXPECT_NE(message.find("available optimisations: plan"), std::string::npos) << message;
}

}  // namespace
}  // namespace lcsim
