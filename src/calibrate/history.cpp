#include "lcsim/calibrate/history.hpp"

#include <algorithm>
#include <istream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "csv.hpp"
#include "lcsim/calibrate/timestamp.hpp"
#include "log_reader.hpp"
#include "text.hpp"

namespace lcsim {
namespace {

namespace text = calibrate_text;
using calibrate_log::before;

/// One data row that passed the field checks (32 bytes: names are numbers, texts are not kept).
struct Row {
  Timestamp time;
  std::uint32_t customer = 0;  ///< index into the customer ids
  std::int32_t line = 0;
  std::uint16_t stage = 0;    ///< index into LogReader::stage_names_ (after the stage map)
  std::uint16_t zone = 0;     ///< index into LogReader::zone_names_ ("" first)
  std::uint32_t segment = 0;  ///< index into LogReader::segment_names_
};
static_assert(sizeof(Row) == 32, "docs/calibration.md gives a row as 32 bytes");

/// Customer ids numbered in order of first appearance: the ids one after the other in one
/// buffer and an open-addressing table of their numbers, each slot with 32 bits of the id's hash
/// so that a probe compares ids only when those match (about 40 bytes an account, no node per id).
class CustomerIds {
 public:
  /// The number of `id` (a new one when it is new).
  std::uint32_t add(std::string_view id) {
    if (last_ < end_.size() && (*this)[last_] == id) return last_;  // rows grouped by customer
    if (2 * (end_.size() + 1) > slots_.size()) grow();
    const std::size_t mask = slots_.size() - 1;
    const std::uint64_t hash = std::hash<std::string_view>{}(id);
    const std::uint64_t tag = hash >> 32 << 32;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      const std::uint64_t slot = slots_[i];
      if (slot == 0) {
        chars_.append(id);
        end_.push_back(chars_.size());
        slots_[i] = tag | end_.size();
        last_ = static_cast<std::uint32_t>(end_.size() - 1);
        return last_;
      }
      if ((slot >> 32 << 32) == tag && (*this)[(slot & 0xFFFFFFFFU) - 1] == id) {
        last_ = static_cast<std::uint32_t>((slot & 0xFFFFFFFFU) - 1);
        return last_;
      }
    }
  }
  [[nodiscard]] std::size_t size() const { return end_.size(); }
  [[nodiscard]] std::string_view operator[](std::size_t c) const {
    const std::size_t from = c == 0 ? 0 : end_[c - 1];
    return std::string_view(chars_).substr(from, end_[c] - from);
  }
  [[nodiscard]] std::size_t chars() const { return chars_.size(); }

 private:
  void grow() {
    if (end_.size() >= std::numeric_limits<std::uint32_t>::max() - 1) {
      throw InputError("", 0, "", "more than 4,294,967,294 customers: not supported");
    }
    std::vector<std::uint64_t> slots(std::max<std::size_t>(64, 2 * slots_.size()), 0);
    const std::size_t mask = slots.size() - 1;
    for (std::size_t c = 0; c < end_.size(); ++c) {
      const std::uint64_t hash = std::hash<std::string_view>{}((*this)[c]);
      std::size_t i = hash & mask;
      while (slots[i] != 0) i = (i + 1) & mask;
      slots[i] = (hash >> 32 << 32) | (c + 1);
    }
    slots_ = std::move(slots);
  }

  std::string chars_;
  std::vector<std::uint64_t> end_;
  std::vector<std::uint64_t>
      slots_;  ///< high 32 bits: of the hash; low: customer number + 1; 0: empty
  std::uint32_t last_ = std::numeric_limits<std::uint32_t>::max();
};

/// Rows in blocks of 65,536 (no copy of all rows when they grow).
class RowStore {
 public:
  void push_back(const Row& row) {
    if (size_ % kBlock == 0) blocks_.push_back(std::make_unique<Row[]>(kBlock));
    blocks_.back()[size_ % kBlock] = row;
    ++size_;
  }
  [[nodiscard]] Row& operator[](std::size_t i) { return blocks_[i / kBlock][i % kBlock]; }
  [[nodiscard]] const Row& operator[](std::size_t i) const {
    return blocks_[i / kBlock][i % kBlock];
  }
  [[nodiscard]] std::size_t size() const { return size_; }
  void clear() {
    blocks_.clear();
    size_ = 0;
  }

 private:
  static constexpr std::size_t kBlock = 1 << 16;
  std::vector<std::unique_ptr<Row[]>> blocks_;
  std::size_t size_ = 0;
};

/// The number of `name` in `names` (added when new), found through `index`.
template <class Id>
Id intern(std::string_view name, std::map<std::string, Id, std::less<>>& index,
          std::vector<std::string>& names) {
  const auto it = index.find(name);
  if (it != index.end()) return it->second;
  const auto id = static_cast<Id>(names.size());
  names.emplace_back(name);
  index.emplace(std::string(name), id);
  return id;
}

/// Removes blanks (space, tab, CR, LF) at both ends, as calibrate_text::trim, without a copy.
std::string_view trimmed(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  std::size_t a = 0;
  std::size_t b = s.size();
  while (a < b && blank(s[a])) ++a;
  while (b > a && blank(s[b - 1])) --b;
  return s.substr(a, b - a);
}

/// The rows with one class of defect (a CleaningStep in the making).
struct DefectRows {
  std::string defect;
  std::string column;
  std::vector<int> lines;
  std::set<std::string> customers;
  std::vector<Problem> errors;  ///< the first kErrorsPerDefect messages
};

class LogReader {
 public:
  LogReader(std::string file, const LogOptions& options)
      : file_(std::move(file)), o_(options), stage_names_(o_.stages, o_.stage_map, o_.absorbing) {}

  /// Reads the stream record by record (csv::RecordReader): the rows are kept as numbers.
  EventLog read(std::istream& in) {
    csv::RecordReader reader(in, file_, o_.separator);
    if (!reader.next()) {
      throw InputError(file_, 0, "",
                       "empty file: expected a header row naming the columns " + required_names());
    }
    const int header_line = reader.line();
    read_header(csv::Record{
        std::vector<std::string>(reader.fields().begin(), reader.fields().end()), header_line});
    stage_names_.check(problems_);
    problems_.throw_if_errors();
    expected_time_ = expected_time();
    if (!o_.censor_at.empty()) censor_given_ = parse_timestamp(o_.censor_at, o_.date_order);
    while (reader.next()) read_row(reader.fields(), reader.line());
    if (data_rows_ == 0) {
      problems_.error(header_line, "",
                      "no data rows: expected one row per stage change after the header");
    }
    problems_.throw_if_errors();  // only a header without rows: nothing else to look at
    // One pass: every class of defect is looked for before anything is thrown.
    set_censoring();
    if (o_.collect_errors) problems_.throw_if_errors();  // bad options: no picture without them
    if (rows_alive_ == 0) {
      report_defects();
      problems_.add_error(Problem{file_, 0, "",
                                  "no usable rows: every one of the " + std::to_string(data_rows_) +
                                      " data rows has a defect listed above",
                                  false});
      if (!o_.collect_errors) problems_.throw_if_errors();
      EventLog log;
      log.file = file_;
      log.rows = data_rows_;
      log.absorbing = o_.absorbing;
      log.has_segments = segment_col_ >= 0;
      log.cleaning = std::move(cleaning_);
      log.errors = problems_.take_listed_errors();
      log.warnings = problems_.take_warnings();
      return log;
    }
    report_defects();
    EventLog log = build_paths();
    if (o_.collect_errors) {
      log.errors = problems_.take_listed_errors();
    } else {
      problems_.throw_if_errors();
    }
    log.cleaning = std::move(cleaning_);
    finish(log);
    return log;
  }

 private:
  void error(int line, const std::string& field, std::string message) {
    problems_.error(line, field, std::move(message));
  }

  [[nodiscard]] std::string required_names() const {
    std::string out = o_.customer_column + ", " + o_.time_column + ", " + o_.stage_column;
    if (!o_.segment_column.empty()) out += ", " + o_.segment_column;
    return out;
  }

  // ---- header ------------------------------------------------------------------------------------
  void read_header(const csv::Record& record) {
    const calibrate_log::Header header(record);
    columns_ = header.columns();
    customer_col_ = header.find(o_.customer_column, problems_);
    time_col_ = header.find(o_.time_column, problems_);
    stage_col_ = header.find(o_.stage_column, problems_);
    if (!o_.segment_column.empty()) segment_col_ = header.find(o_.segment_column, problems_);
  }

  // ---- rows --------------------------------------------------------------------------------------
  void read_row(const std::vector<std::string_view>& fields, int line) {
    ++data_rows_;
    calibrate_log::Problems check(file_);  // each check's message goes to its class of defect
    if (fields.size() != columns_) {
      check.error(line, "",
                  expected_got(std::to_string(columns_) + " fields (as in the header)",
                               std::to_string(fields.size())));
      defect("wrong number of fields", "", line, "", check);
      return;
    }
    const auto at = [&](int col) { return trimmed(fields[static_cast<std::size_t>(col)]); };
    bool usable = true;
    const auto failed = [&](const char* name, const std::string& column, std::string_view id) {
      defect(name, column, line, std::string(id), check);
      usable = false;
    };
    const std::string_view id = at(customer_col_);
    if (id.empty()) {
      check.error(line, o_.customer_column, expected_got("a customer id", "an empty value"));
      failed("empty customer id", o_.customer_column, "");
    }
    const std::string_view time_text = at(time_col_);
    std::optional<Timestamp> time;
    if (time_text.empty()) {
      check.error(line, o_.time_column, expected_got(expected_time_, "an empty value"));
      failed("missing timestamp", o_.time_column, id);
    } else {
      time = parse_timestamp(time_text, o_.date_order);
      if (!time) {
        check.error(line, o_.time_column,
                    expected_got(expected_time_, "'" + std::string(time_text) + "'"));
        failed("unparseable timestamp", o_.time_column, id);
      }
    }
    const std::string_view raw_stage = at(stage_col_);
    int stage = -1;
    if (raw_stage.empty()) {
      check.error(line, o_.stage_column, expected_got("a stage name", "an empty value"));
      failed("empty stage", o_.stage_column, id);
    } else {
      stage = resolve_stage(raw_stage, line, check);
      if (stage < 0) failed("unknown stage", o_.stage_column, id);
    }
    std::uint32_t segment = 0;
    if (segment_col_ >= 0) {
      const std::string_view name = at(segment_col_);
      if (name.empty()) {
        check.error(line, o_.segment_column, expected_got("a segment name", "an empty value"));
        failed("empty segment", o_.segment_column, id);
      } else {
        segment = intern(name, segment_index_, segment_names_);
      }
    }
    if (!usable) return;
    Row row;
    row.time = *time;
    row.customer = customers_.add(id);
    row.line = line;
    row.stage = static_cast<std::uint16_t>(stage);
    row.zone = intern(std::string_view(time_zone_of(time_text)), zone_index_, zone_names_);
    row.segment = segment;
    if (censor_given_ && before(*censor_given_, row.time)) late_texts_.emplace_back(time_text);
    rows_.push_back(row);
    ++rows_alive_;
  }

  /// The number of the stage a raw value names (after the stage map); -1 after an error in
  /// `check`. Each distinct raw value is resolved once.
  int resolve_stage(std::string_view raw, int line, calibrate_log::Problems& check) {
    auto it = raw_stages_.find(raw);
    if (it == raw_stages_.end()) {
      std::string message;
      const std::optional<std::string> stage = stage_names_.resolve(std::string(raw), message);
      int id = -1;
      if (stage) {
        if (stage_names_list_.size() >= 65535) {
          throw InputError(file_, line, o_.stage_column,
                           "more than 65,535 distinct stages: expected a stage column");
        }
        id = intern(std::string_view(*stage), stage_index_, stage_names_list_);
      }
      it = raw_stages_.emplace(std::string(raw), std::make_pair(id, std::move(message))).first;
    }
    if (it->second.first < 0) check.error(line, o_.stage_column, it->second.second);
    return it->second.first;
  }

  /// "a timestamp (...)", with the day-first or month-first form when asked for.
  [[nodiscard]] std::string expected_time() const {
    std::string what = calibrate_log::timestamp_expected();
    if (o_.date_order == DateOrder::kDayFirst)
      what.insert(what.size() - 1, "; or DD/MM/YYYY [HH:MM[:SS]]");
    if (o_.date_order == DateOrder::kMonthFirst)
      what.insert(what.size() - 1, "; or MM/DD/YYYY [HH:MM[:SS]]");
    return what;
  }

  /// Files the problem(s) `check` holds under a class of defect.
  void defect(const std::string& name, const std::string& column, int line, const std::string& id,
              calibrate_log::Problems& check) {
    auto it = std::find_if(defects_.begin(), defects_.end(),
                           [&](const DefectRows& d) { return d.defect == name; });
    if (it == defects_.end())
      it = defects_.insert(defects_.end(), DefectRows{name, column, {}, {}, {}});
    it->lines.push_back(line);
    if (!id.empty()) it->customers.insert(id);
    for (Problem& p : check.take_errors()) {
      if (it->errors.size() < kErrorsPerDefect) it->errors.push_back(std::move(p));
    }
  }

  /// Every class of defect as a cleaning step and, unless drop_invalid, as errors (each class
  /// capped, the rest in one line), ahead of the repairs build_paths() records.
  void report_defects() {
    std::vector<CleaningStep> steps;
    for (DefectRows& d : defects_) {
      std::sort(d.lines.begin(), d.lines.end());
      if (o_.drop_invalid) {
        steps.push_back(step(d.defect, d.column, d.lines, d.customers.size(), "dropped"));
        continue;
      }
      steps.push_back(step(d.defect, d.column, d.lines, d.customers.size(),
                           "error (drop these rows with " + hint("drop_invalid") + ")"));
      steps.back().error = true;
      for (Problem& p : d.errors) problems_.add_error(std::move(p));
      if (d.lines.size() > kErrorsPerDefect) {
        const std::vector<int> rest(d.lines.begin() + static_cast<std::ptrdiff_t>(kErrorsPerDefect),
                                    d.lines.end());
        problems_.add_error(Problem{file_, rest.front(), d.column,
                                    std::to_string(rest.size()) + " more rows with " + describe(d) +
                                        ": " + text::lines(rest, o_.rows_listed),
                                    false});
      }
    }
    defects_.clear();
    cleaning_.insert(cleaning_.begin(), steps.begin(), steps.end());
    if (o_.drop_invalid && !steps.empty()) {
      std::string what;
      for (const CleaningStep& s : steps) {
        what += (what.empty() ? "" : ", ") + std::to_string(s.rows) + " " + s.defect;
      }
      problems_.warning(steps.front().lines.empty() ? 0 : steps.front().lines.front(), "",
                        "unusable rows dropped (" + hint("drop_invalid") + "): " + what);
    }
  }

  /// An option as the hints of this reader name it (LogOptions::spelling).
  [[nodiscard]] std::string hint(std::string_view key) const {
    return option_hint(key, o_.spelling);
  }

  /// "rows with <this>" in messages.
  [[nodiscard]] static std::string describe(const DefectRows& d) {
    if (d.defect == "wrong number of fields") return "the wrong number of fields";
    if (d.defect == "after censor_at") return "a timestamp after censor_at";
    const bool vowel = std::string("aeiou").find(d.defect.front()) != std::string::npos;
    return (vowel ? "an " : "a ") + d.defect;
  }

  [[nodiscard]] CleaningStep step(const std::string& defect, const std::string& column,
                                  std::vector<int> lines, std::size_t customers,
                                  const std::string& action) const {
    std::sort(lines.begin(), lines.end());
    const std::size_t rows = lines.size();
    return CleaningStep{defect, column, rows, customers, std::move(lines), action, "", false};
  }

  void set_censoring() {
    if (rows_.size() == 0) return;
    Timestamp earliest = rows_[0].time;
    Timestamp latest = rows_[0].time;
    for (std::size_t i = 1; i < rows_.size(); ++i) {
      const Timestamp& t = rows_[i].time;
      if (before(t, earliest)) earliest = t;
      if (before(latest, t)) latest = t;
    }
    censor_ = latest;
    if (!o_.censor_at.empty()) {
      if (!censor_given_) {
        error(0, "censor_at", expected_got(expected_time(), "'" + o_.censor_at + "'"));
        return;
      }
      censor_ = *censor_given_;
      // Rows after censor_at leave the rows (customer kRemoved); read_row kept their texts.
      std::size_t late = 0;
      for (std::size_t i = 0; i < rows_.size(); ++i) {
        Row& row = rows_[i];
        if (!before(censor_, row.time)) continue;
        calibrate_log::Problems check(file_);
        check.error(row.line, o_.time_column,
                    expected_got("a timestamp at or before censor_at (" + o_.censor_at + ")",
                                 "'" + late_texts_[late++] + "'"));
        defect("after censor_at", o_.time_column, row.line, std::string(customers_[row.customer]),
               check);
        row.customer = kRemoved;
        --rows_alive_;
      }
      late_texts_.clear();
      late_texts_.shrink_to_fit();
    }
    if (!o_.epoch.empty()) {
      const auto day = parse_date(o_.epoch);
      if (!day) {
        error(0, "epoch", expected_got("a date YYYY-MM-DD", "'" + o_.epoch + "'"));
        return;
      }
      epoch_day_ = *day;
    } else {
      epoch_day_ = earliest.day;
    }
  }

  // ---- paths -------------------------------------------------------------------------------------
  EventLog build_paths() {
    EventLog log;
    log.file = file_;
    log.epoch_day = epoch_day_;
    log.epoch = civil_date(epoch_day_);
    log.epoch_weekday = weekday(epoch_day_);
    log.censor_at = censor_.days_since(epoch_day_);
    log.absorbing = o_.absorbing;
    log.has_segments = segment_col_ >= 0;
    log.rows = data_rows_;

    // The rows grouped by customer in file order (a counting sort: 4 bytes a row).
    const std::size_t n_customers = customers_.size();
    std::vector<std::uint64_t> first(n_customers + 1, 0);
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      if (rows_[i].customer != kRemoved) ++first[rows_[i].customer + 1];
    }
    for (std::size_t c = 0; c < n_customers; ++c) first[c + 1] += first[c];
    std::vector<std::uint32_t> by_customer(first[n_customers]);
    {
      std::vector<std::uint64_t> next(first.begin(), first.end() - 1);
      for (std::size_t i = 0; i < rows_.size(); ++i) {
        if (rows_[i].customer != kRemoved)
          by_customer[next[rows_[i].customer]++] = static_cast<std::uint32_t>(i);
      }
    }
    std::vector<std::uint8_t> kept(rows_.size(), 0);

    std::vector<std::pair<int, int>> duplicates;  ///< (line, line of the earlier row)
    std::vector<int> out_of_order_lines;
    std::vector<int> after_absorbing_lines;
    std::vector<int> single_row_lines;
    std::vector<int> segment_change_lines;
    // Customers of each repair (the number of a customer is its index).
    std::set<std::size_t> duplicate_customers, out_of_order_customers, after_absorbing_customers,
        segment_change_customers;
    std::vector<std::uint8_t> absorbing(stage_names_list_.size(), 0);
    for (std::size_t s = 0; s < stage_names_list_.size(); ++s) {
      absorbing[s] = std::find(o_.absorbing.begin(), o_.absorbing.end(), stage_names_list_[s]) !=
                             o_.absorbing.end()
                         ? 1
                         : 0;
    }
    log.customers.set_names(stage_names_list_, segment_names_);
    log.customers.reserve(n_customers, rows_alive_, customers_.chars());

    std::vector<std::uint32_t> rows;  // one customer's rows kept so far
    std::map<std::tuple<std::int64_t, double, std::uint16_t>, int> seen;  // for long paths
    for (std::size_t c = 0; c < n_customers; ++c) {
      rows.clear();
      calibrate_log::OrderCheck order;
      const std::size_t count = first[c + 1] - first[c];
      const bool long_path = count > 32;  // else duplicates are looked for among `rows`
      if (long_path) seen.clear();
      for (std::size_t k = first[c]; k < first[c + 1]; ++k) {
        const std::uint32_t i = by_customer[k];
        const Row& row = rows_[i];
        int earlier = 0;  // line of an earlier row with the same (time, stage)
        if (long_path) {
          const auto [it, inserted] =
              seen.emplace(std::make_tuple(row.time.day, row.time.seconds, row.stage), row.line);
          if (!inserted) earlier = it->second;
        } else {
          for (const std::uint32_t j : rows) {
            const Row& other = rows_[j];
            if (other.time.day == row.time.day && other.time.seconds == row.time.seconds &&
                other.stage == row.stage) {
              earlier = other.line;
              break;
            }
          }
        }
        if (earlier != 0) {
          duplicates.emplace_back(row.line, earlier);
          duplicate_customers.insert(c);
          continue;
        }
        if (order.out_of_order(row.time)) {
          out_of_order_lines.push_back(row.line);
          out_of_order_customers.insert(c);
        }
        rows.push_back(i);
      }
      std::stable_sort(rows.begin(), rows.end(), [&](std::uint32_t a, std::uint32_t b) {
        return before(rows_[a].time, rows_[b].time);
      });
      std::size_t entries = 0;
      std::uint16_t last_stage = 0;
      std::uint32_t segment = 0;
      int first_line = 0;
      for (const std::uint32_t i : rows) {
        const Row& row = rows_[i];
        if (entries > 0 && absorbing[last_stage] != 0) {
          after_absorbing_lines.push_back(row.line);
          after_absorbing_customers.insert(c);
          continue;
        }
        if (entries == 0) {
          segment = row.segment;
          first_line = row.line;
          log.customers.begin_customer(customers_[c], segment);
        } else if (row.segment != segment) {
          segment_change_lines.push_back(row.line);
          segment_change_customers.insert(c);
        }
        log.customers.add_entry(row.time.days_since(epoch_day_), row.stage, row.line);
        last_stage = row.stage;
        ++entries;
        kept[i] = 1;
      }
      // No entries: every row after censor_at (an error or dropped).
      if (entries == 1) single_row_lines.push_back(first_line);
    }
    std::vector<std::uint32_t>().swap(by_customer);
    std::vector<std::uint64_t>().swap(first);

    const std::size_t listed = o_.rows_listed;
    if (!duplicates.empty()) {
      std::sort(duplicates.begin(), duplicates.end());
      std::vector<int> duplicate_lines;
      for (const auto& d : duplicates) duplicate_lines.push_back(d.first);
      if (o_.drop_duplicates || o_.drop_invalid) {
        cleaning_.push_back(
            step("duplicate row", "", duplicate_lines, duplicate_customers.size(), "dropped"));
        problems_.warn_lines(duplicate_lines, "",
                             "duplicate rows dropped (same " + o_.customer_column + ", " +
                                 o_.time_column + " and " + o_.stage_column + " as an earlier row)",
                             listed);
      } else {
        error(duplicate_lines.front(), "",
              "duplicate row: same " + o_.customer_column + ", " + o_.time_column + " and " +
                  o_.stage_column + " as line " + std::to_string(duplicates.front().second) + "; " +
                  std::to_string(duplicate_lines.size()) + " duplicate rows in all (" +
                  text::lines(duplicate_lines, listed) + "); drop them with " +
                  hint("drop_duplicates"));
        cleaning_.push_back(step("duplicate row", "", duplicate_lines, duplicate_customers.size(),
                                 "error (drop them with " + hint("drop_duplicates") + ")"));
        cleaning_.back().error = true;
      }
    }
    report_time_zones();
    if (!out_of_order_lines.empty()) {
      cleaning_.push_back(step("out of order", o_.time_column, out_of_order_lines,
                               out_of_order_customers.size(), "sorted by timestamp"));
    }
    report_apart_customers();
    if (!after_absorbing_lines.empty()) {
      cleaning_.push_back(step("after an absorbing stage", o_.stage_column, after_absorbing_lines,
                               after_absorbing_customers.size(), "dropped"));
    }

    // Stages in funnel order (LogOptions::stages, else along the paths) and their counts.
    const std::size_t no_place = stage_names_list_.size();
    std::vector<std::size_t> place(stage_names_list_.size(), no_place);  // stage id -> in_file
    std::vector<std::string> in_file;
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      if (kept[i] == 0) continue;
      ++log.rows_used;
      const std::uint16_t s = rows_[i].stage;
      if (place[s] == no_place) {
        place[s] = in_file.size();
        in_file.push_back(stage_names_list_[s]);
      }
    }
    std::vector<std::uint8_t>().swap(kept);
    rows_.clear();  // everything else comes from log.customers
    if (o_.stages.empty()) {
      std::vector<std::uint32_t> paths;
      paths.reserve(log.customers.entry_count());
      for (const std::uint16_t s : log.customers.stage_ids())
        paths.push_back(static_cast<std::uint32_t>(place[s]));
      log.stages = calibrate_log::path_order(in_file, log.customers.offsets(), paths, o_.absorbing);
    } else {
      for (const auto& stage : o_.stages) {
        if (std::find(in_file.begin(), in_file.end(), stage) != in_file.end()) {
          log.stages.push_back(stage);
        }
      }
    }
    count_stages(log);
    report_rare_stages(log);

    if (!single_row_lines.empty()) {
      cleaning_.push_back(step("customer with one row", o_.customer_column, single_row_lines,
                               single_row_lines.size(), "kept (censored in its first stage)"));
    }
    if (!segment_change_lines.empty()) {
      cleaning_.push_back(step("segment changes", o_.segment_column, segment_change_lines,
                               segment_change_customers.size(), "first segment kept"));
    }
    problems_.warn_lines(out_of_order_lines, o_.time_column,
                         "rows out of order within their customer (earlier than a previous row "
                         "of the same customer; sorted by timestamp)",
                         listed);
    problems_.warn_lines(after_absorbing_lines, o_.stage_column,
                         "rows after the customer entered an absorbing stage (ignored)", listed);
    problems_.warn_lines(single_row_lines, o_.customer_column,
                         "customers with one row (kept: censored in their first stage)", listed);
    problems_.warn_lines(segment_change_lines, o_.segment_column,
                         "rows change their customer's segment (each customer keeps the segment "
                         "of its first row)",
                         listed);

    if (log.has_segments) {
      std::vector<std::uint8_t> listed_segment(segment_names_.size(), 0);
      for (const std::uint32_t g : log.customers.segment_ids()) {
        if (listed_segment[g] != 0) continue;
        listed_segment[g] = 1;
        log.segments.push_back(segment_names_[g]);
      }
    }
    bool first_entry = true;
    for (const double t : log.customers.times()) {
      if (first_entry || t < log.first_time) log.first_time = t;
      if (first_entry || t > log.last_time) log.last_time = t;
      first_entry = false;
    }
    return log;
  }

  /// Time zones: rows that name one (Z included: UTC named is a zone like any other) are one
  /// class with the zones in `detail`, unless every zone is UTC and no row lacks one (nothing
  /// then needed doing); rows without a zone in a file where others have one are another class,
  /// with a warning: the export mixes conventions, and those rows are read as UTC.
  void report_time_zones() {
    std::vector<std::size_t> zone_rows(zone_names_.size(), 0);
    std::vector<int> zoned;
    std::vector<int> plain;
    // Bit 1: the customer has a row with a zone, bit 2: one without.
    std::vector<std::uint8_t> customer_zones(customers_.size(), 0);
    std::size_t zoned_customers = 0;
    std::size_t plain_customers = 0;
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const Row& row = rows_[i];
      if (row.customer == kRemoved) continue;
      std::uint8_t& seen = customer_zones[row.customer];
      if (zone_names_[row.zone].empty()) {
        plain.push_back(row.line);
        if ((seen & 2) == 0) ++plain_customers;
        seen |= 2;
        continue;
      }
      ++zone_rows[row.zone];
      zoned.push_back(row.line);
      if ((seen & 1) == 0) ++zoned_customers;
      seen |= 1;
    }
    std::vector<std::uint8_t>().swap(customer_zones);
    std::map<std::string, std::size_t> zones;
    bool all_utc = true;
    for (std::size_t z = 0; z < zone_names_.size(); ++z) {
      if (zone_rows[z] == 0) continue;
      zones[zone_names_[z]] = zone_rows[z];
      all_utc = all_utc && is_utc_zone(zone_names_[z]);
    }
    if (zoned.empty() || (plain.empty() && all_utc)) return;
    std::vector<std::pair<std::size_t, std::string>> by_count;
    for (const auto& [zone, n] : zones) by_count.emplace_back(n, zone);
    std::stable_sort(by_count.begin(), by_count.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::string detail;
    for (const auto& [n, zone] : by_count) {
      detail += (detail.empty() ? "" : ", ") + zone + ": " + std::to_string(n) +
                (n == 1 ? " row" : " rows");
    }
    cleaning_.push_back(step("timezone offset", o_.time_column, std::move(zoned), zoned_customers,
                             "converted to UTC"));
    cleaning_.back().detail = detail;
    if (plain.empty()) return;
    const std::size_t zoned_rows = cleaning_.back().rows;
    cleaning_.push_back(
        step("no time zone", o_.time_column, plain, plain_customers, "read as UTC"));
    problems_.warn_lines(plain, o_.time_column,
                         "rows give no time zone and are read as UTC, while " +
                             std::to_string(zoned_rows) + " rows name one (" + detail +
                             "): check the export's time zone",
                         o_.rows_listed);
  }

  /// Customers whose rows are apart: in a file otherwise grouped by customer (most customers
  /// with several rows have them one after another), the rows of a customer that come after
  /// another customer's rows. A time-ordered file interleaves customers by nature: nothing then.
  void report_apart_customers() {
    const std::size_t none = customers_.size();
    std::vector<std::uint32_t> blocks(customers_.size(), 0);
    std::vector<std::uint32_t> rows_of(customers_.size(), 0);
    std::size_t last = none;
    std::size_t apart_rows = 0;
    std::size_t apart_customers = 0;
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const Row& row = rows_[i];
      if (row.customer == kRemoved) continue;
      ++rows_of[row.customer];
      if (row.customer != last) {
        ++blocks[row.customer];
        if (blocks[row.customer] == 2) ++apart_customers;
      }
      last = row.customer;
      if (blocks[row.customer] > 1) ++apart_rows;
    }
    std::size_t several = 0;
    std::size_t together = 0;
    for (std::size_t c = 0; c < rows_of.size(); ++c) {
      if (rows_of[c] < 2) continue;
      ++several;
      if (blocks[c] == 1) ++together;
    }
    if (apart_rows == 0 || 2 * together <= several) return;
    // The lines: a second pass, only for a file mostly grouped by customer.
    std::vector<int> apart;
    apart.reserve(apart_rows);
    std::fill(blocks.begin(), blocks.end(), 0);
    last = none;
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const Row& row = rows_[i];
      if (row.customer == kRemoved) continue;
      if (row.customer != last) ++blocks[row.customer];
      last = row.customer;
      if (blocks[row.customer] > 1) apart.push_back(row.line);
    }
    cleaning_.push_back(step("not contiguous", o_.customer_column, apart, apart_customers,
                             "kept (rows gathered by customer)"));
    problems_.warn_lines(apart, o_.customer_column,
                         "rows come after other customers' rows, apart from the earlier rows of "
                         "their customer (" +
                             std::to_string(apart_customers) +
                             " customers), in a file otherwise grouped by customer (" +
                             std::to_string(together) + " of " + std::to_string(several) +
                             " customers with several rows have them together): a second export "
                             "appended, or one id for two customers? (kept: rows gathered by "
                             "customer)",
                         o_.rows_listed);
  }

  /// Position in log.stages of each stage id of log.customers (log.stages.size() when absent).
  static std::vector<std::size_t> stage_positions(const EventLog& log) {
    const std::vector<std::string>& names = log.customers.stage_names();
    std::vector<std::size_t> position(names.size(), log.stages.size());
    for (std::size_t s = 0; s < names.size(); ++s) {
      const auto it = std::find(log.stages.begin(), log.stages.end(), names[s]);
      if (it != log.stages.end()) position[s] = static_cast<std::size_t>(it - log.stages.begin());
    }
    return position;
  }

  /// Rows and customers of each stage of log.stages, from the kept paths.
  static void count_stages(EventLog& log) {
    for (const auto& stage : log.stages) log.stage_counts.push_back(StageCount{stage, 0, 0, false});
    const std::vector<std::size_t> position = stage_positions(log);
    const CustomerPaths& paths = log.customers;
    const auto offsets = paths.offsets();
    const auto stages = paths.stage_ids();
    std::vector<std::size_t> entered_by(log.stages.size(), paths.size());  // last customer
    for (std::size_t c = 0; c < paths.size(); ++c) {
      for (std::size_t k = offsets[c]; k < offsets[c + 1]; ++k) {
        const std::size_t s = position[stages[k]];
        if (s == log.stages.size())
          throw InternalError("count_stages: a stage missing from the log's stages");
        StageCount& count = log.stage_counts[s];
        ++count.rows;
        if (entered_by[s] != c) ++count.customers;
        entered_by[s] = c;
      }
    }
  }

  /// Without a stage list or map every stage name becomes a stage of the model; one seen in very
  /// few rows (LogOptions::rare_stage_share) is more likely a CRM stage nobody mapped.
  void report_rare_stages(EventLog& log) {
    if (!o_.stages.empty() || !o_.stage_map.empty() || !(o_.rare_stage_share > 0.0)) return;
    std::vector<int> lines;
    std::set<std::size_t> customers;
    std::string detail;
    const CustomerPaths& paths = log.customers;
    const auto offsets = paths.offsets();
    const auto stages = paths.stage_ids();
    const auto entry_lines = paths.lines();
    for (StageCount& count : log.stage_counts) {
      if (std::find(o_.absorbing.begin(), o_.absorbing.end(), count.stage) != o_.absorbing.end()) {
        continue;  // named by the caller: known
      }
      const double share = o_.rare_stage_share * static_cast<double>(log.rows_used);
      if (static_cast<double>(count.rows) > share) continue;
      count.rare = true;
      const auto id = static_cast<std::uint16_t>(
          std::find(paths.stage_names().begin(), paths.stage_names().end(), count.stage) -
          paths.stage_names().begin());
      std::vector<int> own;
      for (std::size_t c = 0; c < paths.size(); ++c) {
        for (std::size_t k = offsets[c]; k < offsets[c + 1]; ++k) {
          if (stages[k] != id) continue;
          own.push_back(entry_lines[k]);
          customers.insert(c);
        }
      }
      lines.insert(lines.end(), own.begin(), own.end());
      detail += (detail.empty() ? "'" : ", '") + count.stage + "': " + std::to_string(count.rows) +
                (count.rows == 1 ? " row" : " rows");
      std::sort(own.begin(), own.end());
      problems_.warning(own.front(), o_.stage_column,
                        "stage '" + count.stage + "' is in only " + std::to_string(count.rows) +
                            " of " + std::to_string(log.rows_used) + " rows (" +
                            text::lines(own, o_.rows_listed) +
                            "): possibly a CRM stage missing from a stage map; it is a stage of "
                            "the model unless you name the model's stages with " +
                            hint("stages") +
                            " (other names are then errors) or map CRM names "
                            "with " +
                            hint("stage_map"));
    }
    if (lines.empty()) return;
    cleaning_.push_back(step("rare stage", o_.stage_column, lines, customers.size(),
                             "kept as a stage of the model"));
    cleaning_.back().detail = detail;
  }

  /// Warns about stages that nobody leaves.
  void finish(EventLog& log) {
    const std::vector<std::size_t> position = stage_positions(log);
    const std::size_t n = log.stages.size();
    std::vector<std::size_t> entries(n, 0);
    std::vector<std::size_t> exits(n, 0);
    std::vector<int> first_line(n, 0);
    const CustomerPaths& paths = log.customers;
    const auto offsets = paths.offsets();
    const auto stages = paths.stage_ids();
    const auto lines = paths.lines();
    for (std::size_t c = 0; c < paths.size(); ++c) {
      for (std::size_t k = offsets[c]; k < offsets[c + 1]; ++k) {
        const std::size_t s = position[stages[k]];
        if (s == n) continue;
        if (entries[s] == 0 || lines[k] < first_line[s]) first_line[s] = lines[k];
        ++entries[s];
        if (k + 1 < offsets[c + 1]) ++exits[s];
      }
    }
    for (std::size_t s = 0; s < n; ++s) {
      const std::string& stage = log.stages[s];
      if (log.is_absorbing(stage)) continue;
      if (exits[s] == 0) {
        problems_.warning(
            first_line[s], o_.stage_column,
            "stage '" + stage + "' is never left: its " + std::to_string(entries[s]) +
                " entries are all still open at censor_at, so its dwell and next cannot be "
                "estimated");
      }
    }
    log.warnings = problems_.take_warnings();
  }

  static constexpr std::uint32_t kRemoved = std::numeric_limits<std::uint32_t>::max();

  std::string file_;
  const LogOptions& o_;
  calibrate_log::StageNames stage_names_;
  calibrate_log::Problems problems_{file_};
  std::size_t columns_ = 0;
  int customer_col_ = -1;
  int time_col_ = -1;
  int stage_col_ = -1;
  int segment_col_ = -1;
  std::size_t data_rows_ = 0;
  RowStore rows_;
  std::size_t rows_alive_ = 0;  ///< rows_ not removed (after censor_at)
  CustomerIds customers_;
  std::vector<std::string> stage_names_list_;  ///< stage names (after the map) by number
  std::map<std::string, std::uint16_t, std::less<>> stage_index_;
  /// Raw stage values seen: their stage number, or -1 and the error message.
  std::map<std::string, std::pair<int, std::string>, std::less<>> raw_stages_;
  std::vector<std::string> segment_names_;
  std::map<std::string, std::uint32_t, std::less<>> segment_index_;
  std::vector<std::string> zone_names_{std::string()};  ///< time_zone_of() texts; "" is 0
  std::map<std::string, std::uint16_t, std::less<>> zone_index_{{std::string(), 0}};
  std::optional<Timestamp> censor_given_;  ///< LogOptions::censor_at parsed (when it parses)
  std::vector<std::string> late_texts_;    ///< time texts of the rows after censor_given_
  std::string expected_time_;
  std::vector<DefectRows> defects_;  ///< unusable rows by class, in order of first appearance
  std::vector<CleaningStep> cleaning_;
  Timestamp censor_;
  std::int64_t epoch_day_ = 0;
};

}  // namespace

bool EventLog::is_absorbing(const std::string& stage) const {
  return std::find(absorbing.begin(), absorbing.end(), stage) != absorbing.end();
}

EventLog parse_event_log(std::istream& in, const std::string& file, const LogOptions& options) {
  LogReader reader(file, options);
  return reader.read(in);
}

EventLog read_event_log(const std::string& path, const LogOptions& options) {
  std::ifstream in = calibrate_log::open_input(path);
  return parse_event_log(in, path, options);
}

}  // namespace lcsim
