// Private to lcsim_calibrate: what the CSV log readers (stage changes, snapshots, contacts) share:
// the problem collector, header lookup, the row loop, field checks and stage-name resolution.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <istream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "csv.hpp"
#include "lcsim/calibrate/timestamp.hpp"
#include "lcsim/core/error.hpp"

namespace lcsim::calibrate_log {

/// Errors (at most 50 listed, then a count) and warnings of one file.
class Problems {
 public:
  explicit Problems(const std::string& file) : file_(file) {}

  void error(int line, const std::string& field, std::string message);
  void warning(int line, const std::string& field, std::string message);
  /// Adds an error whatever the count so far (callers that cap by class of defect).
  void add_error(Problem problem) { errors_.push_back(std::move(problem)); }
  /// The errors so far, removed (a scratch collector of one check).
  [[nodiscard]] std::vector<Problem> take_errors() {
    errors_not_listed_ = 0;
    return std::move(errors_);
  }
  [[nodiscard]] bool has_errors() const { return !errors_.empty(); }
  /// Throws InputError with the errors so far (and "N more errors not listed"), if any.
  void throw_if_errors();
  /// The errors throw_if_errors() would throw (with "N more errors not listed"), removed.
  [[nodiscard]] std::vector<Problem> take_listed_errors();
  /// Sorts `lines` and, when there are any, warns "<count> <what>: lines ..." at the first.
  void warn_lines(std::vector<int>& lines, const std::string& field, const std::string& what,
                  std::size_t listed);
  [[nodiscard]] std::vector<Problem> take_warnings() { return std::move(warnings_); }

 private:
  const std::string& file_;
  std::vector<Problem> errors_;
  std::size_t errors_not_listed_ = 0;
  std::vector<Problem> warnings_;
};

/// The whole stream; IoError "cannot read <file>" when reading fails.
std::string read_all(std::istream& in, const std::string& file);
/// The file opened for binary reading; IoError "cannot open <path> for reading" when it cannot be.
std::ifstream open_input(const std::string& path);

/// The records of `content`; throws "empty file: expected a header row naming the columns
/// <columns>" when there are none.
std::vector<csv::Record> read_table(const std::string& content, const std::string& file,
                                    const std::string& columns, char separator = ',');

/// The data rows (all records after the header) in order; an error "no data rows: expected one
/// row per <unit> after the header" when there are none.
void for_each_row(const std::vector<csv::Record>& records, Problems& problems,
                  const std::string& unit, const std::function<void(const csv::Record&)>& read_row);

/// The header's (trimmed) column names.
class Header {
 public:
  explicit Header(const csv::Record& header);
  [[nodiscard]] std::size_t columns() const { return names_.size(); }
  /// The 0-based index of column `name`; -1, after an error, when it is missing or appears twice
  /// (then the first index).
  int find(const std::string& name, Problems& problems) const;
  /// Same for a column that may be absent: -1 without an error when it is.
  int find_optional(const std::string& name, Problems& problems) const;

 private:
  std::vector<std::string> names_;
  int line_ = 0;
};

/// False, after an error, when `record` does not have `columns` fields.
bool check_width(const csv::Record& record, std::size_t columns, Problems& problems);

/// The trimmed field in column `col`.
std::string field(const csv::Record& record, int col);

/// The trimmed field in column `col`; when empty an error "expected <what>, got an empty value"
/// for `column`, and `ok` set to false.
std::string required_field(const csv::Record& record, int col, const std::string& column,
                           const std::string& what, Problems& problems, bool& ok);

/// "a timestamp (<formats>)".
std::string timestamp_expected();

/// The timestamp in `text` (already trimmed); when empty or not a timestamp an error
/// "expected <what>, got ..." for `column`, and `ok` set to false.
std::optional<Timestamp> timestamp_field(const std::string& text, int line,
                                         const std::string& column, const std::string& what,
                                         Problems& problems, bool& ok,
                                         DateOrder order = DateOrder::kIso);

inline bool before(const Timestamp& a, const Timestamp& b) {
  return std::tie(a.day, a.seconds) < std::tie(b.day, b.seconds);
}

/// Notices rows of one customer that come earlier than a previous row.
class OrderCheck {
 public:
  /// True when `t` is earlier than the latest time seen before.
  bool out_of_order(const Timestamp& t) {
    const bool earlier = any_ && before(t, latest_);
    if (!any_ || before(latest_, t)) latest_ = t;
    any_ = true;
    return earlier;
  }

 private:
  Timestamp latest_{};
  bool any_ = false;
};

/// Stage names of a log: the declared stages, the CRM-to-stage map and the absorbing stages.
class StageNames {
 public:
  StageNames(const std::vector<std::string>& stages,
             const std::map<std::string, std::string>& stage_map,
             const std::vector<std::string>& absorbing)
      : stages_(stages), stage_map_(stage_map), absorbing_(absorbing) {}

  /// Errors for map targets and absorbing stages not among the declared stages (fields
  /// "stage_map.<crm>" and "absorbing"); prepares resolve().
  void check(Problems& problems);
  /// The stage name of a raw value, or nullopt with an error message in `message`.
  std::optional<std::string> resolve(const std::string& raw, std::string& message) const;
  /// The stage named in column `col` (trimmed, resolved); nullopt, after an error for `column`
  /// and with `ok` set to false, when it is empty or unknown.
  std::optional<std::string> field(const csv::Record& record, int col, const std::string& column,
                                   Problems& problems, bool& ok) const;

 private:
  [[nodiscard]] bool known(const std::string& name) const;

  const std::vector<std::string>& stages_;
  const std::map<std::string, std::string>& stage_map_;
  const std::vector<std::string>& absorbing_;
  std::vector<std::string> accepted_;  ///< sorted raw stage values allowed with a stage map
};

/// Customer ids numbered in order of first appearance.
class CustomerIndex {
 public:
  /// The number of `id` (a new one when it is new).
  std::size_t add(const std::string& id) {
    const auto [it, inserted] = index_.emplace(id, ids_.size());
    if (inserted) ids_.push_back(id);
    return it->second;
  }
  [[nodiscard]] std::size_t size() const { return ids_.size(); }
  [[nodiscard]] const std::string& operator[](std::size_t i) const { return ids_[i]; }

 private:
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<std::string> ids_;
};

/// The stages in funnel order, read off the customers' paths. `names` are the stages in order of
/// first appearance; `paths` holds each customer's stages (indices into `names`) in time order.
/// Stage a comes before stage b when more customers entered a for the first time before their
/// first entry into b than the other way round. The order is a topological one of that relation
/// (robust to loops, skips and customers first seen mid-funnel): next comes a stage no remaining
/// stage comes before (in a loop, the one fewest do), the `absorbing` ones (the ways out) after
/// all the others; ties go to the stage that comes before more stages than after, then to the
/// first seen.
std::vector<std::string> path_order(const std::vector<std::string>& names,
                                    const std::vector<std::vector<std::size_t>>& paths,
                                    const std::vector<std::string>& absorbing);
/// Same, with the paths in flat arrays: path c is stages[offsets[c], offsets[c + 1]) (an empty
/// `offsets` for no paths).
std::vector<std::string> path_order(const std::vector<std::string>& names,
                                    std::span<const std::uint64_t> offsets,
                                    std::span<const std::uint32_t> stages,
                                    const std::vector<std::string>& absorbing);

/// Probabilities proportional to `weights` that add up to exactly 1 when summed in order, as
/// compile() sums them. The weights come sorted by decreasing size, so the last entry is the
/// smallest and the sum before it is >= 1/2, where 1 - sum is exact (Sterbenz); in the rare case
/// rounding (or unsorted weights) still leaves the sum off 1, the last entry is nudged.
std::vector<double> exact_probabilities(const std::vector<double>& weights);

}  // namespace lcsim::calibrate_log
