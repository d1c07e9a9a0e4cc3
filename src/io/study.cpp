#include "lcsim/io/study.hpp"

#include "lcsim/run/run_arrays.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>

#include "hdf5/handle.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/core/version.hpp"
#include "lcsim/run/run_arrays.hpp"

namespace lcsim {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFiletype = "lcsim-study";
/// Rows per chunk of the events table (26 bytes a row: about 1.7 MB before compression).
constexpr hsize_t kEventChunkRows = 65536;
/// Rows staged in memory per H5Dwrite/H5Dread of the events table: whole chunks at a time.
constexpr hsize_t kEventBlockRows = 16 * kEventChunkRows;
/// Columns of the touchpoints dataset, in order.
const std::vector<std::string> kTouchpointColumns = {"contacts", "reached", "moves", "cost"};

// ---- names and messages ----------------------------------------------------------------------------

/// What a study keeps under one top-level group, one member per name: runs, comparisons, sweeps.
struct Kind {
  const char* group;  ///< the top-level group, also the plural in messages: "runs"
  const char* noun;   ///< "run"
};
constexpr Kind kRuns{"runs", "run"};
constexpr Kind kComparisons{"comparisons", "comparison"};
constexpr Kind kSweeps{"sweeps", "sweep"};
constexpr Kind kOptimisations{"optimisations", "optimisation"};

/// Runs, comparisons and sweeps share one naming rule: [A-Za-z0-9_.-]+, not starting with '.'.
bool valid_name(const std::string& name) {
  if (name.empty() || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

void require_valid_name(const std::string& path, const Kind& kind, const std::string& name) {
  if (!valid_name(name)) {
    throw InputError(path, 0, "name",
                     expected_got(std::string("a ") + kind.noun +
                                      " name of letters, digits, '_', '.' and '-' not starting "
                                      "with '.'",
                                  "'" + name + "'"));
  }
}

/// Names of the runs a comparison is stored with: <name>.base, then <name>.v1, <name>.v2, ...
std::string comparison_base_run(const std::string& name) { return name + ".base"; }
std::string comparison_variant_run(const std::string& name, std::size_t k) {
  return name + ".v" + std::to_string(k + 1);
}
/// Subgroup of /comparisons/<name> for variant k: v1, v2, ...
std::string variant_group(std::size_t k) {
  std::string group = "v";  // not "v" + ...: GCC 12 gives a false -Wrestrict warning there
  group += std::to_string(k + 1);
  return group;
}
/// Name of the run of point i of a sweep: <name>.p0, <name>.p1, ...
std::string sweep_point_run(const std::string& name, std::size_t i) {
  return name + ".p" + std::to_string(i);
}

std::string errno_text(int err) { return std::strerror(err); }

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

std::string shape_text(const std::vector<hsize_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

// ---- files, locks, durability --------------------------------------------------------------------

/// Exclusive flock on a lock file beside the study, held for the object's life. The file is kept:
/// removing it would let two writers lock two different inodes. The kernel releases the lock when the
/// process dies, so a killed writer leaves no stale lock.
/// An exclusive flock on `<study>.lock` for the duration of an append, removed again when released,
/// so nothing is left beside the study. Removing a lock file is safe only this way: the holder
/// unlinks it *before* it unlocks, and a writer that was waiting on the old file (now unlinked)
/// sees, once it has the lock, that the path no longer names the file it locked, and starts over
/// on the path's current file. So at any time at most one writer holds a lock on the file the path
/// names, which is the only lock that counts.
class LockFile {
 public:
  explicit LockFile(std::string path) : path_(std::move(path)) {
    for (;;) {
      fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
      if (fd_ < 0) throw IoError(path_ + ": cannot open lock file: " + errno_text(errno));
      while (::flock(fd_, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd_);
        throw IoError(path_ + ": cannot lock: " + errno_text(err));
      }
      struct stat held {};
      if (::fstat(fd_, &held) != 0) {
        const int err = errno;
        ::close(fd_);
        throw IoError(path_ + ": cannot look at the lock file: " + errno_text(err));
      }
      struct stat now {};
      if (::stat(path_.c_str(), &now) == 0 && now.st_dev == held.st_dev &&
          now.st_ino == held.st_ino)
        return;
      ::close(fd_);  // the previous holder removed it: lock the path's current file instead
    }
  }
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;
  ~LockFile() {
    ::unlink(path_.c_str());  // while still locked: see the class comment
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  std::string path_;
  int fd_ = -1;
};

/// A temporary file name beside the study; the file (if any) is removed unless committed.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (!committed_) {
      std::error_code ec;
      fs::remove(path_, ec);
    }
  }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// Atomically replaces `target` with this file.
  void commit_to(const std::string& target) {
    if (::rename(path_.c_str(), target.c_str()) != 0) {
      throw IoError(target + ": cannot rename " + path_ + " over it: " + errno_text(errno));
    }
    committed_ = true;
  }

 private:
  std::string path_;
  bool committed_ = false;
};

std::string temp_prefix(const std::string& target) { return target + ".tmp-"; }

std::string temp_name(const std::string& target) {
  std::random_device device;
  const std::uint64_t r = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  std::array<char, 17> hex{};
  std::snprintf(hex.data(), hex.size(), "%016llx", static_cast<unsigned long long>(r));
  return temp_prefix(target) + std::to_string(::getpid()) + "-" + hex.data();
}

std::string parent_dir(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

/// Removes temporary files of writers that died. Only called under the lock: every writer creates its
/// temporary file while holding it, so any temporary file seen then is stale.
void remove_stale_temps(const std::string& target) {
  const std::string prefix = fs::path(temp_prefix(target)).filename().string();
  std::error_code ec;
  for (fs::directory_iterator it(parent_dir(target), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string file = it->path().filename().string();
    if (file.compare(0, prefix.size(), prefix) == 0) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
}

void fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) throw IoError(path + ": cannot open for fsync: " + errno_text(errno));
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    // Some filesystems cannot fsync a directory; the rename is still atomic there.
    if (directory && (err == EINVAL || err == ENOTSUP)) return;
    throw IoError(path + ": fsync failed: " + errno_text(err));
  }
  ::close(fd);
}

/// The file a write goes to: a symlinked study is replaced at its target, not the link.
std::string resolve_target(const std::string& path) {
  std::error_code ec;
  if (fs::is_symlink(path, ec)) {
    const fs::path real = fs::canonical(path, ec);
    if (!ec) return real.string();
  }
  return path;
}

// ---- opening and checking a study ----------------------------------------------------------------

struct FormatVersion {
  int major = 0;
  int minor = 0;
};

FormatVersion check_study(const hdf5::File& file, const std::string& path) {
  const std::string not_study = path + ": not an lcsim study";
  if (!hdf5::has_attr(file, "filetype"))
    throw IoError(not_study + " (no root attribute 'filetype')");
  std::string filetype;
  try {
    filetype = hdf5::read_string_attr(file, "filetype");
  } catch (const IoError&) {
    throw IoError(not_study + " (root attribute 'filetype' is not a string)");
  }
  if (filetype != kFiletype) {
    throw IoError(not_study + " (filetype is '" + filetype + "', expected '" + kFiletype + "')");
  }
  if (!hdf5::has_attr(file, "format_version")) {
    throw IoError(path + ": lcsim study without a format_version attribute");
  }
  const std::vector<int> version = hdf5::read_ints_attr(file, "format_version");
  if (version.empty()) throw IoError(path + ": empty format_version attribute");
  const FormatVersion found{version[0], version.size() > 1 ? version[1] : 0};
  if (found.major != kStudyFormatMajor) {
    throw IoError(path + ": study format version " + std::to_string(found.major) + "." +
                  std::to_string(found.minor) + " is not supported; this lcsim (" + kVersion +
                  ") reads study format version " + std::to_string(kStudyFormatMajor) + ".x");
  }
  return found;
}

/// Opens an existing study read-only (or read-write) and checks that it is one this lcsim reads.
hdf5::File open_study(const std::string& path, const std::string& shown, bool writable,
                      FormatVersion* version = nullptr) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw IoError(shown + ": no such study file");
  if (fs::is_directory(status)) throw IoError(shown + ": is a directory, not a study file");
  if (::access(path.c_str(), R_OK) != 0)
    throw IoError(shown + ": cannot read: " + errno_text(errno));
  hdf5::File file;
  try {
    file = hdf5::open_file(path, writable);
  } catch (const IoError&) {
    if (!hdf5::has_hdf5_signature(path))
      throw IoError(shown + ": not an HDF5 file, so not an lcsim study");
    throw;
  }
  const FormatVersion found = check_study(file, shown);
  if (version != nullptr) *version = found;
  return file;
}

/// Opens the study at `path` read-only for one of the reading entry points, and checks it.
hdf5::File open_for_reading(const std::string& path) {
  hdf5::init();
  return open_study(path, path, false);
}

/// True if parent/<name> is a group whose `complete` attribute is 1.
bool is_complete(const hdf5::Object& parent, const std::string& name) {
  if (!hdf5::is_group(parent, name)) return false;
  hdf5::Group group = hdf5::open_group(parent, name);
  if (!hdf5::has_attr(group, "complete")) return false;
  try {
    return hdf5::read_int_attr(group, "complete") == 1;
  } catch (const IoError&) {
    return false;
  }
}

/// Names of the complete members of the `kind` group, sorted (none when the group is missing).
std::vector<std::string> complete_names(const hdf5::File& file, const Kind& kind) {
  std::vector<std::string> names;
  if (!hdf5::is_group(file, kind.group)) return names;
  hdf5::Group group = hdf5::open_group(file, kind.group);
  for (auto& name : hdf5::link_names(group)) {
    if (is_complete(group, name)) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// Opens the complete member `name` of the `kind` group. @throws InputError naming the available ones
hdf5::Group open_complete(const hdf5::File& file, const std::string& path, const Kind& kind,
                          const std::string& name) {
  const bool found = valid_name(name) && hdf5::is_group(file, kind.group) &&
                     is_complete(hdf5::open_group(file, kind.group), name);
  if (!found) {
    const std::vector<std::string> names = complete_names(file, kind);
    throw InputError(path, 0, "name",
                     std::string("no ") + kind.noun + " '" + name + "' in " + path +
                         "; available " + kind.group + ": " +
                         (names.empty() ? std::string("(none)") : join(names)));
  }
  return hdf5::open_group(hdf5::open_group(file, kind.group), name);
}

/// The run a comparison or sweep refers to. A missing one is an IoError: the study is damaged, since
/// lcsim writes a comparison or sweep and its runs in one atomic append.
hdf5::Group open_referenced_run(const hdf5::File& file, const hdf5::Group& owner,
                                const std::string& run) {
  if (!valid_name(run) || !hdf5::is_group(file, kRuns.group) ||
      !is_complete(hdf5::open_group(file, kRuns.group), run)) {
    throw IoError(owner.where() + ": refers to run '" + run + "', which the study does not have");
  }
  return hdf5::open_group(hdf5::open_group(file, kRuns.group), run);
}

/// The top-level group of `kind`, created if the study has none yet.
hdf5::Group require_group(const hdf5::File& file, const Kind& kind) {
  return hdf5::link_exists(file, kind.group) ? hdf5::open_group(file, kind.group)
                                             : hdf5::create_group(file, kind.group);
}

/// Makes `name` free in `parent` for a new member: a complete member of that name is an InputError
/// with message `taken`; an incomplete one (left by a tool other than lcsim) is removed, to be
/// written anew.
void claim(const hdf5::Group& parent, const std::string& name, const std::string& path,
           const std::string& taken) {
  if (!hdf5::link_exists(parent, name)) return;
  if (is_complete(parent, name)) throw InputError(path, 0, "name", taken);
  hdf5::remove_link(parent, name);
}

// ---- writing a run -------------------------------------------------------------------------------

/// Dimensions of a run: R replications, T report times, S stages, K touchpoints, M metrics,
/// Q resources.
struct Shape {
  std::size_t reps = 0;
  std::size_t reports = 0;
  std::size_t stages = 0;
  std::size_t touchpoints = 0;
  std::size_t metrics = 0;
  std::size_t resources = 0;
};

/// Checks that the arrays of `run` agree in shape. @param context starts the InternalError message
/// ("Study::append", "Study::append_sweep: run 's.p3'")
Shape run_shape(const Run& run, const std::string& context) {
  Shape shape;
  shape.reps = run.replications.size();
  shape.metrics = run.info.metric_names.size();
  shape.resources = run.info.resource_names.size();
  if (run.replications.empty()) {
    shape.reports = run.info.report_times.size();
    shape.stages = run.info.stage_names.size();
    shape.touchpoints = run.info.touchpoint_names.size();
    return shape;
  }
  const ReplicationResult& first = run.replications.front();
  if (first.num_stages < 0 || first.num_reports < 0) {
    throw InternalError(context + ": negative num_stages or num_reports");
  }
  shape.stages = static_cast<std::size_t>(first.num_stages);
  shape.reports = static_cast<std::size_t>(first.num_reports);
  shape.touchpoints = first.touchpoints.size();
  for (std::size_t r = 0; r < run.replications.size(); ++r) {
    const ReplicationResult& rep = run.replications[r];
    const auto bad = [&](const std::string& what) {
      return InternalError(context + ": replication " + std::to_string(r) + ": " + what);
    };
    if (static_cast<std::size_t>(rep.num_stages) != shape.stages ||
        static_cast<std::size_t>(rep.num_reports) != shape.reports) {
      throw bad("num_stages/num_reports differ from replication 0");
    }
    if (rep.occupancy.size() != shape.reports * shape.stages) throw bad("occupancy is not [T * S]");
    if (rep.transitions.size() != shape.stages * shape.stages)
      throw bad("transitions is not [S * S]");
    if (rep.reached.size() != shape.stages) throw bad("reached is not [S]");
    if (rep.touchpoints.size() != shape.touchpoints) throw bad("touchpoint count differs");
    if (rep.metrics.size() != shape.metrics) throw bad("metrics do not match metric_names");
    if (static_cast<std::size_t>(rep.num_resources) != shape.resources) {
      throw bad("num_resources does not match resource_names");
    }
    if (rep.queue_length.size() != shape.reports * shape.resources)
      throw bad("queue_length is not [T * Q]");
    if (rep.queue_wait.size() != shape.reports * shape.resources)
      throw bad("queue_wait is not [T * Q]");
    for (const Event& e : rep.events) {
      if (e.replication != rep.replication) throw bad("an event belongs to another replication");
    }
  }
  if (run.parameter_draws) {
    const ParameterDraws& d = *run.parameter_draws;
    if (d.values.size() != shape.reps * d.parameters.size()) {
      throw InternalError(context + ": parameter_draws.values is not [R * parameters]");
    }
    if (d.inner < 1 || shape.reps % static_cast<std::size_t>(d.inner) != 0) {
      throw InternalError(context + ": parameter_draws.inner does not divide the replications");
    }
  }
  return shape;
}

template <class T>
void put(std::byte* row, std::size_t offset, const T& value) {
  std::memcpy(row + offset, &value, sizeof(T));
}

template <class T>
T get(const std::byte* row, std::size_t offset) {
  T value;
  std::memcpy(&value, row + offset, sizeof(T));
  return value;
}

hdf5::CompoundLayout metrics_layout(const std::vector<std::string>& metric_names) {
  hdf5::CompoundLayout layout;
  layout.add("replication", hdf5::FieldType::kInt32);
  for (const auto& name : metric_names) layout.add(name, hdf5::FieldType::kFloat64);
  return layout;
}

hdf5::CompoundLayout summary_layout() {
  hdf5::CompoundLayout layout;
  layout.add("metric", hdf5::FieldType::kString);
  layout.add("mean", hdf5::FieldType::kFloat64);
  layout.add("std", hdf5::FieldType::kFloat64);
  layout.add("ci_low", hdf5::FieldType::kFloat64);
  layout.add("ci_high", hdf5::FieldType::kFloat64);
  layout.add("n", hdf5::FieldType::kInt64);
  return layout;
}

/// Event rows: replication int32, customer int64, time float64, from/to/cause int16 (26 bytes).
struct EventLayout {
  hdf5::CompoundLayout layout;
  std::size_t replication, customer, time, from, to, cause;

  EventLayout()
      : replication(layout.add("replication", hdf5::FieldType::kInt32)),
        customer(layout.add("customer", hdf5::FieldType::kInt64)),
        time(layout.add("time", hdf5::FieldType::kFloat64)),
        from(layout.add("from", hdf5::FieldType::kInt16)),
        to(layout.add("to", hdf5::FieldType::kInt16)),
        cause(layout.add("cause", hdf5::FieldType::kInt16)) {}
};

void write_events(const hdf5::Group& group, const Run& run) {
  const EventLayout ev;
  const std::size_t row_size = ev.layout.row_size();
  hsize_t total = 0;
  for (const auto& rep : run.replications) total += rep.events.size();
  const hsize_t chunk_rows = std::clamp<hsize_t>(total, 1, kEventChunkRows);
  hdf5::Dataset table = hdf5::create_table(group, "events", ev.layout, total, chunk_rows, true);
  if (total == 0) return;

  std::vector<std::byte> block(static_cast<std::size_t>(std::min(total, kEventBlockRows)) *
                               row_size);
  hsize_t filled = 0;
  hsize_t written = 0;
  for (const auto& rep : run.replications) {
    for (const Event& e : rep.events) {
      std::byte* row = block.data() + filled * row_size;
      put(row, ev.replication, e.replication);
      put(row, ev.customer, e.customer);
      put(row, ev.time, e.time);
      put(row, ev.from, e.from);
      put(row, ev.to, e.to);
      put(row, ev.cause, e.cause);
      if (++filled == kEventBlockRows) {
        hdf5::write_rows(table, ev.layout, written, filled, block.data());
        written += filled;
        filled = 0;
      }
    }
  }
  hdf5::write_rows(table, ev.layout, written, filled, block.data());
}

void write_run(const hdf5::Object& runs, const std::string& name, const Run& run,
               const Shape& shape) {
  const RunInfo& info = run.info;
  hdf5::Group group = hdf5::create_group(runs, name);

  hdf5::write_string_attr(group, "scenario", info.scenario_text);
  hdf5::write_string_attr(group, "scenario_name", info.scenario_name);
  hdf5::write_string_attr(group, "scenario_file", info.scenario_file);
  if (!info.scenario_extends.empty()) {  // a variant (`extends:`): its bases and its own text
    hdf5::write_strings_attr(group, "scenario_extends", info.scenario_extends);
    hdf5::write_string_attr(group, "scenario_own_text", info.scenario_own_text);
  }
  hdf5::write_uint64_attr(group, "seed", info.seed);
  hdf5::write_int_attr(group, "replications", info.replications);
  hdf5::write_string_attr(group, "lcsim_version", info.lcsim_version);
  hdf5::write_string_attr(group, "boost_version", info.boost_version);
  hdf5::write_string_attr(group, "created", info.created);
  hdf5::write_string_attr(group, "won", info.won);
  hdf5::write_strings_attr(group, "stage_names", info.stage_names);
  hdf5::write_strings_attr(group, "segment_names", info.segment_names);
  hdf5::write_strings_attr(group, "touchpoint_names", info.touchpoint_names);
  hdf5::write_strings_attr(group, "resource_names", info.resource_names);  // format 1.2
  hdf5::write_strings_attr(group, "metric_names", info.metric_names);
  hdf5::write_strings_attr(group, "cause_names", info.cause_names);
  hdf5::write_doubles_attr(group, "report_times", info.report_times);
  hdf5::write_int_attr(group, "has_events", run.has_events ? 1 : 0);

  const hsize_t R = shape.reps, T = shape.reports, S = shape.stages, K = shape.touchpoints;
  const RunArrays arrays = pack(run);
  hdf5::write_array(group, "occupancy", std::span<const std::int64_t>(arrays.occupancy),
                    std::array<hsize_t, 3>{R, T, S});
  hdf5::write_array(group, "transitions", std::span<const std::int64_t>(arrays.transitions),
                    std::array<hsize_t, 3>{R, S, S});
  hdf5::write_array(group, "reached", std::span<const std::int64_t>(arrays.reached),
                    std::array<hsize_t, 2>{R, S});
  const hdf5::Dataset touchpoints =
      hdf5::write_array(group, "touchpoints", std::span<const double>(arrays.touchpoint_tallies),
                        std::array<hsize_t, 3>{R, K, 4});
  hdf5::write_strings_attr(touchpoints, "columns", kTouchpointColumns);
  if (shape.resources > 0) {  // format 1.2; a run without resources has neither dataset
    const hsize_t Q = shape.resources;
    hdf5::write_array(group, "queue_length", std::span<const std::int64_t>(arrays.queue_length),
                      std::array<hsize_t, 3>{R, T, Q});
    hdf5::write_array(group, "queue_wait", std::span<const double>(arrays.queue_wait),
                      std::array<hsize_t, 3>{R, T, Q});
  }
  {
    const hdf5::CompoundLayout layout = metrics_layout(info.metric_names);
    const std::size_t row_size = layout.row_size();
    std::vector<std::byte> rows(R * row_size);
    for (std::size_t r = 0; r < R; ++r) {
      const ReplicationResult& rep = run.replications[r];
      std::byte* row = rows.data() + r * row_size;
      put(row, layout.offset(0), static_cast<std::int32_t>(rep.replication));
      for (std::size_t m = 0; m < shape.metrics; ++m)
        put(row, layout.offset(1 + m), rep.metrics[m]);
    }
    hdf5::write_table(group, "metrics", layout, R, rows.data());
  }
  {
    const hdf5::CompoundLayout layout = summary_layout();
    const std::size_t row_size = layout.row_size();
    std::vector<std::byte> rows(run.summary.size() * row_size);
    for (std::size_t i = 0; i < run.summary.size(); ++i) {
      const SummaryRow& s = run.summary[i];
      std::byte* row = rows.data() + i * row_size;
      put(row, layout.offset(0), s.metric.c_str());
      put(row, layout.offset(1), s.mean);
      put(row, layout.offset(2), s.std);
      put(row, layout.offset(3), s.ci_low);
      put(row, layout.offset(4), s.ci_high);
      put(row, layout.offset(5), s.n);
    }
    hdf5::write_table(group, "summary", layout, run.summary.size(), rows.data());
  }
  if (run.has_events) write_events(group, run);
  if (run.parameter_draws) {  // format 1.3: a run with parameter uncertainty
    const ParameterDraws& d = *run.parameter_draws;
    const hdf5::Dataset draws =
        hdf5::write_array(group, "parameter_draws", std::span<const double>(d.values),
                          std::array<hsize_t, 2>{R, static_cast<hsize_t>(d.parameters.size())});
    hdf5::write_strings_attr(draws, "parameters", d.parameters);
    hdf5::write_int_attr(group, "uncertainty_inner", d.inner);
    hdf5::write_string_attr(group, "uncertainty_source", d.source);
    hdf5::write_string_attr(group, "uncertainty", d.note);
  }

  // Last: a reader takes a run as complete only once this is set.
  hdf5::write_int_attr(group, "complete", 1);
}

void write_root(const hdf5::File& file) {
  hdf5::write_string_attr(file, "filetype", kFiletype);
  const std::array<int, 2> version{kStudyFormatMajor, kStudyFormatMinor};
  hdf5::write_ints_attr(file, "format_version", version);
}

// ---- reading a run -------------------------------------------------------------------------------

hdf5::Dataset open_shaped(const hdf5::Group& group, const std::string& name,
                          const std::vector<hsize_t>& expected) {
  hdf5::Dataset dataset = hdf5::open_dataset(group, name);
  const std::vector<hsize_t> dims = hdf5::dataset_shape(dataset);
  if (dims != expected) {
    throw IoError(dataset.where() + ": expected shape " + shape_text(expected) + ", got " +
                  shape_text(dims));
  }
  return dataset;
}

void read_events(const hdf5::Group& group, Run& run) {
  const EventLayout ev;
  const std::size_t row_size = ev.layout.row_size();
  hdf5::Dataset table = hdf5::open_dataset(group, "events");
  const hsize_t total = hdf5::num_rows(table);

  std::unordered_map<std::int32_t, std::size_t> index;
  for (std::size_t r = 0; r < run.replications.size(); ++r) {
    if (!index.emplace(run.replications[r].replication, r).second) {
      throw IoError(table.where() + ": replication " +
                    std::to_string(run.replications[r].replication) + " appears twice in metrics");
    }
  }
  std::vector<std::byte> block(static_cast<std::size_t>(std::min(total, kEventBlockRows)) *
                               row_size);
  std::int32_t last_id = 0;
  std::vector<Event>* last = nullptr;
  for (hsize_t first = 0; first < total; first += kEventBlockRows) {
    const hsize_t count = std::min(kEventBlockRows, total - first);
    hdf5::read_rows(table, ev.layout, first, count, block.data());
    for (hsize_t i = 0; i < count; ++i) {
      const std::byte* row = block.data() + i * row_size;
      Event e;
      e.replication = get<std::int32_t>(row, ev.replication);
      e.customer = get<std::int64_t>(row, ev.customer);
      e.time = get<double>(row, ev.time);
      e.from = get<std::int16_t>(row, ev.from);
      e.to = get<std::int16_t>(row, ev.to);
      e.cause = get<std::int16_t>(row, ev.cause);
      if (last == nullptr || e.replication != last_id) {
        const auto it = index.find(e.replication);
        if (it == index.end()) {
          throw IoError(table.where() + ": row " + std::to_string(first + i) +
                        " names replication " + std::to_string(e.replication) +
                        ", which the run does not have");
        }
        last_id = e.replication;
        last = &run.replications[it->second].events;
      }
      last->push_back(e);
    }
  }
}

Run read_run_group(const hdf5::Group& group, const std::string& name) {
  Run run;
  RunInfo& info = run.info;
  info.name = name;
  info.scenario_text = hdf5::read_string_attr(group, "scenario");
  info.scenario_name = hdf5::read_string_attr(group, "scenario_name");
  info.scenario_file = hdf5::read_string_attr(group, "scenario_file");
  if (hdf5::has_attr(group, "scenario_extends")) {
    info.scenario_extends = hdf5::read_strings_attr(group, "scenario_extends");
    info.scenario_own_text = hdf5::read_string_attr(group, "scenario_own_text");
  }
  info.seed = hdf5::read_uint64_attr(group, "seed");
  info.replications = hdf5::read_int_attr(group, "replications");
  info.lcsim_version = hdf5::read_string_attr(group, "lcsim_version");
  info.boost_version = hdf5::read_string_attr(group, "boost_version");
  info.created = hdf5::read_string_attr(group, "created");
  info.won = hdf5::read_string_attr(group, "won");
  info.stage_names = hdf5::read_strings_attr(group, "stage_names");
  info.segment_names = hdf5::read_strings_attr(group, "segment_names");
  info.touchpoint_names = hdf5::read_strings_attr(group, "touchpoint_names");
  // Format 1.2; a run written before has no resources.
  if (hdf5::has_attr(group, "resource_names")) {
    info.resource_names = hdf5::read_strings_attr(group, "resource_names");
  }
  info.metric_names = hdf5::read_strings_attr(group, "metric_names");
  info.cause_names = hdf5::read_strings_attr(group, "cause_names");
  info.report_times = hdf5::read_doubles_attr(group, "report_times");
  run.has_events = hdf5::read_int_attr(group, "has_events") != 0;

  hdf5::Dataset occupancy_set = hdf5::open_dataset(group, "occupancy");
  const std::vector<hsize_t> occupancy_dims = hdf5::dataset_shape(occupancy_set);
  if (occupancy_dims.size() != 3) {
    throw IoError(occupancy_set.where() + ": expected shape [R, T, S], got " +
                  shape_text(occupancy_dims));
  }
  const hsize_t R = occupancy_dims[0], T = occupancy_dims[1], S = occupancy_dims[2];
  hdf5::Dataset transitions_set = open_shaped(group, "transitions", {R, S, S});
  hdf5::Dataset reached_set = open_shaped(group, "reached", {R, S});
  hdf5::Dataset touchpoints_set = hdf5::open_dataset(group, "touchpoints");
  const std::vector<hsize_t> touchpoint_dims = hdf5::dataset_shape(touchpoints_set);
  if (touchpoint_dims.size() != 3 || touchpoint_dims[0] != R || touchpoint_dims[2] != 4) {
    throw IoError(touchpoints_set.where() + ": expected shape [" + std::to_string(R) +
                  ", K, 4], got " + shape_text(touchpoint_dims));
  }
  const hsize_t K = touchpoint_dims[1];
  const std::size_t M = info.metric_names.size();

  const std::vector<std::int64_t> occupancy = hdf5::read_int64_array(occupancy_set);
  const std::vector<std::int64_t> transitions = hdf5::read_int64_array(transitions_set);
  const std::vector<std::int64_t> reached = hdf5::read_int64_array(reached_set);
  const std::vector<double> touchpoints = hdf5::read_double_array(touchpoints_set);
  const hsize_t Q = info.resource_names.size();
  std::vector<std::int64_t> queue_length;
  std::vector<double> queue_wait;
  if (Q > 0) {
    queue_length = hdf5::read_int64_array(open_shaped(group, "queue_length", {R, T, Q}));
    queue_wait = hdf5::read_double_array(open_shaped(group, "queue_wait", {R, T, Q}));
  }

  const hdf5::CompoundLayout layout = metrics_layout(info.metric_names);
  hdf5::Dataset metrics_set = hdf5::open_dataset(group, "metrics");
  if (hdf5::num_rows(metrics_set) != R) {
    throw IoError(metrics_set.where() + ": expected " + std::to_string(R) + " rows, got " +
                  std::to_string(hdf5::num_rows(metrics_set)));
  }
  std::vector<std::byte> metric_rows(R * layout.row_size());
  hdf5::read_rows(metrics_set, layout, 0, R, metric_rows.data());

  run.replications.resize(R);
  for (std::size_t r = 0; r < R; ++r) {
    ReplicationResult& rep = run.replications[r];
    const std::byte* row = metric_rows.data() + r * layout.row_size();
    rep.replication = get<std::int32_t>(row, layout.offset(0));
    rep.num_stages = static_cast<int>(S);
    rep.num_reports = static_cast<int>(T);
    rep.occupancy.assign(occupancy.begin() + static_cast<std::ptrdiff_t>(r * T * S),
                         occupancy.begin() + static_cast<std::ptrdiff_t>((r + 1) * T * S));
    rep.transitions.assign(transitions.begin() + static_cast<std::ptrdiff_t>(r * S * S),
                           transitions.begin() + static_cast<std::ptrdiff_t>((r + 1) * S * S));
    rep.reached.assign(reached.begin() + static_cast<std::ptrdiff_t>(r * S),
                       reached.begin() + static_cast<std::ptrdiff_t>((r + 1) * S));
    rep.touchpoints.resize(K);
    for (std::size_t k = 0; k < K; ++k) {
      const double* t = touchpoints.data() + (r * K + k) * 4;
      rep.touchpoints[k] = TouchpointTally{t[0], t[1], t[2], t[3]};
    }
    rep.metrics.resize(M);
    for (std::size_t m = 0; m < M; ++m) rep.metrics[m] = get<double>(row, layout.offset(1 + m));
    rep.num_resources = static_cast<int>(Q);
    rep.queue_length.assign(queue_length.begin() + static_cast<std::ptrdiff_t>(r * T * Q),
                            queue_length.begin() + static_cast<std::ptrdiff_t>((r + 1) * T * Q));
    rep.queue_wait.assign(queue_wait.begin() + static_cast<std::ptrdiff_t>(r * T * Q),
                          queue_wait.begin() + static_cast<std::ptrdiff_t>((r + 1) * T * Q));
  }

  {
    const hdf5::TableRows rows(hdf5::open_dataset(group, "summary"), summary_layout());
    run.summary.resize(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      SummaryRow& s = run.summary[i];
      s.metric = rows.string(i, 0);
      s.mean = rows.get<double>(i, 1);
      s.std = rows.get<double>(i, 2);
      s.ci_low = rows.get<double>(i, 3);
      s.ci_high = rows.get<double>(i, 4);
      s.n = rows.get<std::int64_t>(i, 5);
    }
  }

  if (run.has_events) read_events(group, run);
  if (hdf5::link_exists(group, "parameter_draws")) {
    ParameterDraws d;
    hdf5::Dataset draws = hdf5::open_dataset(group, "parameter_draws");
    d.parameters = hdf5::read_strings_attr(draws, "parameters");
    const std::vector<hsize_t> dims = hdf5::dataset_shape(draws);
    const std::vector<hsize_t> expected{R, static_cast<hsize_t>(d.parameters.size())};
    if (dims != expected) {
      throw IoError(draws.where() + ": expected shape " + shape_text(expected) + ", got " +
                    shape_text(dims));
    }
    d.values = hdf5::read_double_array(draws);
    d.inner = hdf5::read_int_attr(group, "uncertainty_inner");
    d.source = hdf5::read_string_attr(group, "uncertainty_source");
    d.note = hdf5::read_string_attr(group, "uncertainty");
    if (d.inner < 1 || R % static_cast<hsize_t>(d.inner) != 0) {
      throw IoError(draws.where() + ": uncertainty_inner " + std::to_string(d.inner) +
                    " does not divide the " + std::to_string(R) + " replications");
    }
    run.parameter_draws = std::move(d);
  }
  return run;
}

// ---- comparisons ---------------------------------------------------------------------------------

hdf5::CompoundLayout deltas_layout() {
  hdf5::CompoundLayout layout;
  layout.add("metric", hdf5::FieldType::kString);
  for (const char* field : {"base_mean", "variant_mean", "delta", "delta_std", "ci_low", "ci_high",
                            "lift", "lift_ci_low", "lift_ci_high", "variance_reduction"}) {
    layout.add(field, hdf5::FieldType::kFloat64);
  }
  layout.add("n", hdf5::FieldType::kInt64);
  return layout;
}

hdf5::CompoundLayout changes_layout() {
  hdf5::CompoundLayout layout;
  layout.add("segment", hdf5::FieldType::kString);
  layout.add("reached_in", hdf5::FieldType::kString);
  for (const char* field : {"customers", "converted_base", "converted_variant", "gained", "lost"}) {
    layout.add(field, hdf5::FieldType::kInt64);
  }
  return layout;
}

void write_deltas(const hdf5::Group& group, const std::vector<DeltaRow>& deltas) {
  const hdf5::CompoundLayout layout = deltas_layout();
  const std::size_t row_size = layout.row_size();
  std::vector<std::byte> rows(deltas.size() * row_size);
  for (std::size_t i = 0; i < deltas.size(); ++i) {
    const DeltaRow& d = deltas[i];
    std::byte* row = rows.data() + i * row_size;
    put(row, layout.offset(0), d.metric.c_str());
    const std::array<double, 10> values{d.base_mean,    d.variant_mean,      d.delta, d.delta_std,
                                        d.ci_low,       d.ci_high,           d.lift,  d.lift_ci_low,
                                        d.lift_ci_high, d.variance_reduction};
    for (std::size_t f = 0; f < values.size(); ++f) put(row, layout.offset(1 + f), values[f]);
    put(row, layout.offset(11), d.n);
  }
  hdf5::write_table(group, "deltas", layout, deltas.size(), rows.data());
}

std::vector<DeltaRow> read_deltas(const hdf5::Group& group) {
  const hdf5::TableRows rows(hdf5::open_dataset(group, "deltas"), deltas_layout());
  std::vector<DeltaRow> deltas(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    DeltaRow& d = deltas[i];
    d.metric = rows.string(i, 0);
    d.base_mean = rows.get<double>(i, 1);
    d.variant_mean = rows.get<double>(i, 2);
    d.delta = rows.get<double>(i, 3);
    d.delta_std = rows.get<double>(i, 4);
    d.ci_low = rows.get<double>(i, 5);
    d.ci_high = rows.get<double>(i, 6);
    d.lift = rows.get<double>(i, 7);
    d.lift_ci_low = rows.get<double>(i, 8);
    d.lift_ci_high = rows.get<double>(i, 9);
    d.variance_reduction = rows.get<double>(i, 10);
    d.n = rows.get<std::int64_t>(i, 11);
  }
  return deltas;
}

void write_changes(const hdf5::Group& group, const std::vector<ChangeRow>& changes) {
  const hdf5::CompoundLayout layout = changes_layout();
  const std::size_t row_size = layout.row_size();
  std::vector<std::byte> rows(changes.size() * row_size);
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const ChangeRow& c = changes[i];
    std::byte* row = rows.data() + i * row_size;
    put(row, layout.offset(0), c.segment.c_str());
    put(row, layout.offset(1), c.reached_in.c_str());
    const std::array<std::int64_t, 5> counts{c.customers, c.converted_base, c.converted_variant,
                                             c.gained, c.lost};
    for (std::size_t f = 0; f < counts.size(); ++f) put(row, layout.offset(2 + f), counts[f]);
  }
  hdf5::write_table(group, "changes", layout, changes.size(), rows.data());
}

std::vector<ChangeRow> read_changes(const hdf5::Group& group) {
  const hdf5::TableRows rows(hdf5::open_dataset(group, "changes"), changes_layout());
  std::vector<ChangeRow> changes(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ChangeRow& c = changes[i];
    c.segment = rows.string(i, 0);
    c.reached_in = rows.string(i, 1);
    c.customers = rows.get<std::int64_t>(i, 2);
    c.converted_base = rows.get<std::int64_t>(i, 3);
    c.converted_variant = rows.get<std::int64_t>(i, 4);
    c.gained = rows.get<std::int64_t>(i, 5);
    c.lost = rows.get<std::int64_t>(i, 6);
  }
  return changes;
}

/// Writes the runs of a comparison and /comparisons/<name> into an open study, after checking that
/// none of those names is taken. `shapes` are the runs' shapes: base first, then the variants.
void write_comparison(const hdf5::File& file, const std::string& path, const std::string& name,
                      const Comparison& comparison, const std::vector<Shape>& shapes) {
  hdf5::Group comparisons = require_group(file, kComparisons);
  claim(comparisons, name, path, "comparison '" + name + "' already exists in " + path);
  const std::string base_run = comparison_base_run(name);
  std::vector<std::string> variant_runs;
  for (std::size_t k = 0; k < comparison.variants.size(); ++k) {
    variant_runs.push_back(comparison_variant_run(name, k));
  }
  hdf5::Group runs = require_group(file, kRuns);
  const auto claim_run = [&](const std::string& run) {
    claim(runs, run, path,
          "comparison '" + name + "' needs run '" + run + "', which already exists in " + path);
  };
  claim_run(base_run);
  for (const std::string& run : variant_runs) claim_run(run);

  write_run(runs, base_run, comparison.base, shapes.at(0));
  for (std::size_t k = 0; k < comparison.variants.size(); ++k) {
    write_run(runs, variant_runs[k], comparison.variants[k].run, shapes.at(k + 1));
  }

  hdf5::Group group = hdf5::create_group(comparisons, name);
  hdf5::write_int_attr(group, "replications", comparison.replications);
  hdf5::write_double_attr(group, "precision", comparison.precision);
  hdf5::write_int_attr(group, "precision_met", comparison.precision_met ? 1 : 0);
  hdf5::write_strings_attr(group, "precision_metrics", comparison.precision_metrics);
  hdf5::write_string_attr(group, "base_run", base_run);
  hdf5::write_strings_attr(group, "variant_runs", variant_runs);
  for (std::size_t k = 0; k < comparison.variants.size(); ++k) {
    const VariantComparison& variant = comparison.variants[k];
    hdf5::Group sub = hdf5::create_group(group, variant_group(k));
    hdf5::write_string_attr(sub, "run", variant_runs[k]);
    hdf5::write_string_attr(sub, "verdict", variant.verdict);
    hdf5::write_strings_attr(sub, "changed_touchpoints", variant.changed_touchpoints);
    write_deltas(sub, variant.deltas);
    write_changes(sub, variant.changes);
  }
  // Last: a reader takes a comparison as complete only once this is set.
  hdf5::write_int_attr(group, "complete", 1);
}

Comparison read_comparison_group(const hdf5::File& file, const hdf5::Group& group) {
  Comparison comparison;
  comparison.replications = hdf5::read_int_attr(group, "replications");
  comparison.precision = hdf5::read_double_attr(group, "precision");
  comparison.precision_met = hdf5::read_int_attr(group, "precision_met") != 0;
  comparison.precision_metrics = hdf5::read_strings_attr(group, "precision_metrics");
  const std::string base_run = hdf5::read_string_attr(group, "base_run");
  comparison.base = read_run_group(open_referenced_run(file, group, base_run), base_run);
  const std::vector<std::string> variant_runs = hdf5::read_strings_attr(group, "variant_runs");
  comparison.variants.resize(variant_runs.size());
  for (std::size_t k = 0; k < variant_runs.size(); ++k) {
    VariantComparison& variant = comparison.variants[k];
    const hdf5::Group sub = hdf5::open_group(group, variant_group(k));
    const std::string run = hdf5::read_string_attr(sub, "run");
    if (run != variant_runs[k]) {
      throw IoError(sub.where() + ": run '" + run + "' differs from variant_runs[" +
                    std::to_string(k) + "] '" + variant_runs[k] + "'");
    }
    variant.run = read_run_group(open_referenced_run(file, sub, run), run);
    variant.verdict = hdf5::read_string_attr(sub, "verdict");
    variant.changed_touchpoints = hdf5::read_strings_attr(sub, "changed_touchpoints");
    variant.deltas = read_deltas(sub);
    variant.changes = read_changes(sub);
  }
  return comparison;
}

// ---- sweeps --------------------------------------------------------------------------------------

/// The `points` table: the point number, then one string field (the value's JSON text) per parameter.
hdf5::CompoundLayout points_layout(const std::vector<std::string>& parameters) {
  hdf5::CompoundLayout layout;
  layout.add("point", hdf5::FieldType::kInt32);
  for (const auto& parameter : parameters) layout.add(parameter, hdf5::FieldType::kString);
  return layout;
}

/// Parameters become field names of `points`: they must be non-empty, distinct and not "point".
void check_sweep(const std::string& path, const Sweep& sweep) {
  for (std::size_t j = 0; j < sweep.parameters.size(); ++j) {
    const std::string& parameter = sweep.parameters[j];
    const auto bad = [&](const std::string& why) {
      return InputError(path, 0, "parameters",
                        "sweep parameter " + std::to_string(j) + " ('" + parameter + "') " + why);
    };
    if (parameter.empty()) throw bad("is empty");
    if (parameter == "point") throw bad("is named like the point-number field 'point'");
    if (std::find(sweep.parameters.begin(),
                  sweep.parameters.begin() + static_cast<std::ptrdiff_t>(j),
                  parameter) != sweep.parameters.begin() + static_cast<std::ptrdiff_t>(j)) {
      throw bad("appears twice");
    }
  }
  if (sweep.points.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw InputError(path, 0, "points", "a sweep has at most 2^31 - 1 points");
  }
  for (std::size_t i = 0; i < sweep.points.size(); ++i) {
    if (sweep.points[i].values.size() != sweep.parameters.size()) {
      throw InputError(path, 0, "points",
                       "point " + std::to_string(i) + " has " +
                           std::to_string(sweep.points[i].values.size()) + " values for " +
                           std::to_string(sweep.parameters.size()) + " parameters");
    }
  }
}

/// Writes the runs of a sweep and /sweeps/<name> into an open study, after checking that none of
/// those names is taken. `shapes` are the points' run shapes.
std::string sweep_taken(const std::string& path, const std::string& name) {
  return "sweep '" + name + "' already exists in " + path;
}

std::string sweep_run_taken(const std::string& path, const std::string& name,
                            const std::string& run) {
  return "sweep '" + name + "' needs run '" + run + "', which already exists in " + path;
}

void write_sweep(const hdf5::File& file, const std::string& path, const std::string& name,
                 const Sweep& sweep, const std::vector<Shape>& shapes) {
  hdf5::Group sweeps = require_group(file, kSweeps);
  claim(sweeps, name, path, sweep_taken(path, name));
  std::vector<std::string> point_runs;
  for (std::size_t i = 0; i < sweep.points.size(); ++i)
    point_runs.push_back(sweep_point_run(name, i));
  hdf5::Group runs = require_group(file, kRuns);
  for (const std::string& run : point_runs)
    claim(runs, run, path, sweep_run_taken(path, name, run));

  for (std::size_t i = 0; i < sweep.points.size(); ++i) {
    write_run(runs, point_runs[i], sweep.points[i].run, shapes.at(i));
  }

  hdf5::Group group = hdf5::create_group(sweeps, name);
  hdf5::write_string_attr(group, "design", sweep.design);
  hdf5::write_strings_attr(group, "parameters", sweep.parameters);
  hdf5::write_strings_attr(group, "runs", point_runs);
  {
    const hdf5::CompoundLayout layout = points_layout(sweep.parameters);
    const std::size_t row_size = layout.row_size();
    std::vector<std::byte> rows(sweep.points.size() * row_size);
    for (std::size_t i = 0; i < sweep.points.size(); ++i) {
      std::byte* row = rows.data() + i * row_size;
      put(row, layout.offset(0), static_cast<std::int32_t>(i));
      const std::vector<std::string>& values = sweep.points[i].values;
      for (std::size_t j = 0; j < values.size(); ++j)
        put(row, layout.offset(1 + j), values[j].c_str());
    }
    hdf5::write_table(group, "points", layout, sweep.points.size(), rows.data());
  }
  // Last: a reader takes a sweep as complete only once this is set.
  hdf5::write_int_attr(group, "complete", 1);
}

Sweep read_sweep_group(const hdf5::File& file, const hdf5::Group& group) {
  Sweep sweep;
  sweep.design = hdf5::read_string_attr(group, "design");
  sweep.parameters = hdf5::read_strings_attr(group, "parameters");
  const std::vector<std::string> point_runs = hdf5::read_strings_attr(group, "runs");
  const hdf5::TableRows rows(hdf5::open_dataset(group, "points"), points_layout(sweep.parameters));
  if (rows.size() != point_runs.size()) {
    throw IoError(group.where() + ": " + std::to_string(point_runs.size()) + " runs but " +
                  std::to_string(rows.size()) + " rows in points");
  }
  sweep.points.resize(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto point = rows.get<std::int32_t>(i, 0);
    if (point != static_cast<std::int32_t>(i)) {
      throw IoError(group.where() + "/points: row " + std::to_string(i) + " is point " +
                    std::to_string(point));
    }
    SweepPoint& p = sweep.points[i];
    p.values.reserve(sweep.parameters.size());
    for (std::size_t j = 0; j < sweep.parameters.size(); ++j)
      p.values.push_back(rows.string(i, 1 + j));
    p.run = read_run_group(open_referenced_run(file, group, point_runs[i]), point_runs[i]);
  }
  return sweep;
}

// ---- optimisations ---------------------------------------------------------------------------------

/// The `trials` table: trial number, phase, one string field (JSON text) per lever, one float64 per
/// column.
hdf5::CompoundLayout trials_layout(const Optimisation& o) {
  hdf5::CompoundLayout layout;
  layout.add("trial", hdf5::FieldType::kInt32);
  layout.add("phase", hdf5::FieldType::kString);
  for (const auto& lever : o.levers) layout.add(lever, hdf5::FieldType::kString);
  for (const auto& column : o.columns) layout.add(column, hdf5::FieldType::kFloat64);
  return layout;
}

/// Levers and columns become field names of `trials`: non-empty, distinct, not "trial" or "phase";
/// every trial has one value per lever and one number per column.
void check_optimisation(const std::string& path, const Optimisation& o) {
  std::vector<std::string> names{"trial", "phase"};
  const auto check_name = [&](const std::string& what, const std::string& field) {
    if (field.empty())
      throw InputError(path, 0, what, "optimisation " + what + " has an empty name");
    if (std::find(names.begin(), names.end(), field) != names.end()) {
      throw InputError(path, 0, what,
                       "optimisation " + what + " '" + field +
                           "' appears twice (levers, columns, 'trial' and 'phase' "
                           "share one table)");
    }
    names.push_back(field);
  };
  for (const auto& lever : o.levers) check_name("levers", lever);
  for (const auto& column : o.columns) check_name("columns", column);
  for (std::size_t i = 0; i < o.trials.size(); ++i) {
    const OptimisationTrial& t = o.trials[i];
    if (t.values.size() != o.levers.size() || t.numbers.size() != o.columns.size()) {
      throw InternalError("Study::append_optimisation: trial " + std::to_string(i) + " has " +
                          std::to_string(t.values.size()) + " values and " +
                          std::to_string(t.numbers.size()) + " numbers for " +
                          std::to_string(o.levers.size()) + " levers and " +
                          std::to_string(o.columns.size()) + " columns");
    }
  }
}

void write_optimisation(const hdf5::File& file, const std::string& path, const std::string& name,
                        const Optimisation& o, const std::vector<Shape>& shapes) {
  hdf5::Group optimisations = require_group(file, kOptimisations);
  claim(optimisations, name, path, "optimisation '" + name + "' already exists in " + path);
  write_comparison(file, path, name, o.selection, shapes);

  hdf5::Group group = hdf5::create_group(optimisations, name);
  hdf5::write_string_attr(group, "settings", o.settings);
  hdf5::write_strings_attr(group, "levers", o.levers);
  hdf5::write_strings_attr(group, "columns", o.columns);
  hdf5::write_string_attr(group, "chosen", o.chosen);
  hdf5::write_strings_attr(group, "verdict", o.verdict);
  hdf5::write_string_attr(group, "comparison", name);
  {
    const hdf5::CompoundLayout layout = trials_layout(o);
    const std::size_t row_size = layout.row_size();
    std::vector<std::byte> rows(o.trials.size() * row_size);
    for (std::size_t i = 0; i < o.trials.size(); ++i) {
      const OptimisationTrial& t = o.trials[i];
      std::byte* row = rows.data() + i * row_size;
      std::size_t field = 0;
      put(row, layout.offset(field++), t.number);
      put(row, layout.offset(field++), t.phase.c_str());
      for (const auto& v : t.values) put(row, layout.offset(field++), v.c_str());
      for (const double x : t.numbers) put(row, layout.offset(field++), x);
    }
    hdf5::write_table(group, "trials", layout, o.trials.size(), rows.data());
  }
  // Last: a reader takes an optimisation as complete only once this is set.
  hdf5::write_int_attr(group, "complete", 1);
}

Optimisation read_optimisation_group(const hdf5::File& file, const std::string& path,
                                     const hdf5::Group& group) {
  Optimisation o;
  o.settings = hdf5::read_string_attr(group, "settings");
  o.levers = hdf5::read_strings_attr(group, "levers");
  o.columns = hdf5::read_strings_attr(group, "columns");
  o.chosen = hdf5::read_string_attr(group, "chosen");
  o.verdict = hdf5::read_strings_attr(group, "verdict");
  const std::string comparison = hdf5::read_string_attr(group, "comparison");
  if (!valid_name(comparison) || !hdf5::is_group(file, kComparisons.group) ||
      !is_complete(hdf5::open_group(file, kComparisons.group), comparison)) {
    throw IoError(group.where() + ": refers to comparison '" + comparison +
                  "', which the study does not have");
  }
  o.selection = read_comparison_group(file, open_complete(file, path, kComparisons, comparison));
  const hdf5::TableRows rows(hdf5::open_dataset(group, "trials"), trials_layout(o));
  o.trials.resize(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    OptimisationTrial& t = o.trials[i];
    std::size_t field = 0;
    t.number = rows.get<std::int32_t>(i, field++);
    t.phase = rows.string(i, field++);
    for (std::size_t j = 0; j < o.levers.size(); ++j) t.values.push_back(rows.string(i, field++));
    for (std::size_t j = 0; j < o.columns.size(); ++j)
      t.numbers.push_back(rows.get<double>(i, field++));
  }
  return o;
}

// ---- the append transaction ------------------------------------------------------------------------

/// Adds to the study at `path` in one atomic step; the only code that writes a study (docs/format.md,
/// "Atomicity and concurrency"). Checks `name`, takes the lock, removes stale temporary files, copies
/// the study to a temporary file beside it (or creates a new study there), opens and checks the copy,
/// calls `write` on it, then closes, fsyncs and renames the copy over the study and fsyncs the
/// directory. `write` first checks that the names it needs are free (InputError) and then writes;
/// whatever it throws, the temporary file is removed and the study is left as it was. IoErrors and
/// filesystem errors come out as "cannot append <kind> '<name>' to <path>: ...".
void append_atomically(const std::string& path, const Kind& kind, const std::string& name,
                       const std::function<void(const hdf5::File&)>& write) {
  require_valid_name(path, kind, name);
  hdf5::init();
  const std::string target = resolve_target(path);
  LockFile lock(target + ".lock");
  remove_stale_temps(target);

  std::error_code ec;
  const bool exists = fs::exists(target, ec);
  if (ec) throw IoError(path + ": cannot look at the study file: " + ec.message());

  const auto wrapped = [&](const char* what) {
    return IoError(std::string("cannot append ") + kind.noun + " '" + name + "' to " + path + ": " +
                   what);
  };
  try {
    TempFile temp(temp_name(target));
    {
      // The study itself is never opened here: it is copied and the copy is checked and extended,
      // so a reader holding the study open (h5py, another lcsim) is never in the way.
      hdf5::File file;
      if (exists) {
        fs::copy_file(target, temp.path());
        FormatVersion version;
        file = open_study(temp.path(), path, true, &version);
        if (version.minor < kStudyFormatMinor) {
          hdf5::remove_attr(file, "format_version");
          const std::array<int, 2> ours{kStudyFormatMajor, kStudyFormatMinor};
          hdf5::write_ints_attr(file, "format_version", ours);
        }
      } else {
        file = hdf5::create_file(temp.path());
        write_root(file);
      }
      write(file);
      file.close();
    }
    fsync_path(temp.path(), false);
    temp.commit_to(target);
    fsync_path(parent_dir(target), true);
  } catch (const fs::filesystem_error& e) {
    throw wrapped(e.what());
  } catch (const IoError& e) {
    throw wrapped(e.what());
  }
}

}  // namespace

// ---- Study -------------------------------------------------------------------------------------------

void Study::append(const std::string& path, const Run& run, const std::string& name) {
  const Shape shape = run_shape(run, "Study::append");  // before touching any file
  append_atomically(path, kRuns, name, [&](const hdf5::File& file) {
    const hdf5::Group runs = require_group(file, kRuns);
    claim(runs, name, path, "run '" + name + "' already exists in " + path);
    write_run(runs, name, run, shape);
  });
}

std::vector<std::string> Study::list_runs(const std::string& path) {
  const hdf5::File file = open_for_reading(path);
  return complete_names(file, kRuns);
}

Run Study::read_run(const std::string& path, const std::string& name) {
  const hdf5::File file = open_for_reading(path);
  return read_run_group(open_complete(file, path, kRuns, name), name);
}

void Study::append_comparison(const std::string& path, const Comparison& comparison,
                              const std::string& name) {
  std::vector<Shape> shapes{run_shape(comparison.base, "Study::append_comparison: base run")};
  for (std::size_t k = 0; k < comparison.variants.size(); ++k) {
    shapes.push_back(run_shape(comparison.variants[k].run, "Study::append_comparison: variant " +
                                                               std::to_string(k + 1) + " run"));
  }
  append_atomically(path, kComparisons, name, [&](const hdf5::File& file) {
    write_comparison(file, path, name, comparison, shapes);
  });
}

std::vector<std::string> Study::list_comparisons(const std::string& path) {
  const hdf5::File file = open_for_reading(path);
  return complete_names(file, kComparisons);
}

Comparison Study::read_comparison(const std::string& path, const std::string& name) {
  const hdf5::File file = open_for_reading(path);
  return read_comparison_group(file, open_complete(file, path, kComparisons, name));
}

void Study::append_sweep(const std::string& path, const Sweep& sweep, const std::string& name) {
  check_sweep(path, sweep);
  std::vector<Shape> shapes;
  for (std::size_t i = 0; i < sweep.points.size(); ++i) {
    shapes.push_back(
        run_shape(sweep.points[i].run, "Study::append_sweep: point " + std::to_string(i) + " run"));
  }
  append_atomically(path, kSweeps, name,
                    [&](const hdf5::File& file) { write_sweep(file, path, name, sweep, shapes); });
}

std::vector<std::string> Study::list_sweeps(const std::string& path) {
  const hdf5::File file = open_for_reading(path);
  return complete_names(file, kSweeps);
}

void Study::check_sweep_names(const std::string& path, const std::string& name,
                              std::size_t points) {
  require_valid_name(path, kSweeps, name);
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  hdf5::init();
  const hdf5::File file = open_for_reading(path);
  auto complete_in = [&](const Kind& kind, const std::string& member) {
    if (!hdf5::is_group(file, kind.group)) return false;
    const hdf5::Group group = hdf5::open_group(file, kind.group);
    return hdf5::link_exists(group, member) && is_complete(group, member);
  };
  if (complete_in(kSweeps, name)) throw InputError(path, 0, "name", sweep_taken(path, name));
  for (std::size_t i = 0; i < points; ++i) {
    const std::string run = sweep_point_run(name, i);
    if (complete_in(kRuns, run))
      throw InputError(path, 0, "name", sweep_run_taken(path, name, run));
  }
}

Sweep Study::read_sweep(const std::string& path, const std::string& name) {
  const hdf5::File file = open_for_reading(path);
  return read_sweep_group(file, open_complete(file, path, kSweeps, name));
}

void Study::append_optimisation(const std::string& path, const Optimisation& optimisation,
                                const std::string& name) {
  check_optimisation(path, optimisation);
  const Comparison& c = optimisation.selection;
  std::vector<Shape> shapes{run_shape(c.base, "Study::append_optimisation: base run")};
  for (std::size_t k = 0; k < c.variants.size(); ++k) {
    shapes.push_back(run_shape(c.variants[k].run, "Study::append_optimisation: finalist " +
                                                      std::to_string(k + 1) + " run"));
  }
  append_atomically(path, kOptimisations, name, [&](const hdf5::File& file) {
    write_optimisation(file, path, name, optimisation, shapes);
  });
}

std::vector<std::string> Study::list_optimisations(const std::string& path) {
  const hdf5::File file = open_for_reading(path);
  return complete_names(file, kOptimisations);
}

Optimisation Study::read_optimisation(const std::string& path, const std::string& name) {
  const hdf5::File file = open_for_reading(path);
  return read_optimisation_group(file, path, open_complete(file, path, kOptimisations, name));
}

std::string Study::hdf5_version() {
  unsigned major = 0;
  unsigned minor = 0;
  unsigned release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

}  // namespace lcsim
