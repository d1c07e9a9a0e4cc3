#include "lcsim/calibrate/history.hpp"

#include <algorithm>
#include <istream>
#include <map>
#include <optional>
#include <set>
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

/// One data row that passed the field checks.
struct Row {
  std::size_t customer = 0;  ///< index into the customer list
  Timestamp time;
  std::string time_text;
  std::string stage;
  std::string segment;
  int line = 0;
  std::string zone;  ///< time_zone_of(time_text): "", "Z" or "+HH:MM"
};

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

  EventLog read(const std::string& content) {
    const std::vector<csv::Record> records =
        calibrate_log::read_table(content, file_, required_names(), o_.separator);
    read_header(records.front());
    stage_names_.check(problems_);
    problems_.throw_if_errors();
    calibrate_log::for_each_row(records, problems_, "stage change",
                                [&](const csv::Record& record) { read_row(record); });
    problems_.throw_if_errors();  // only a header without rows: nothing else to look at
    // One pass: every class of defect is looked for before anything is thrown.
    set_censoring();
    if (o_.collect_errors) problems_.throw_if_errors();  // bad options: no picture without them
    if (rows_.empty()) {
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
  void read_row(const csv::Record& record) {
    ++data_rows_;
    const int line = record.line;
    calibrate_log::Problems check(file_);  // each check's message goes to its class of defect
    if (!calibrate_log::check_width(record, columns_, check)) {
      defect("wrong number of fields", "", line, "", check);
      return;
    }
    bool usable = true;
    const auto checked = [&](bool ok, const char* name, const std::string& column, const std::string& id) {
      if (!ok) {
        defect(name, column, line, id, check);
        usable = false;
      }
    };
    bool ok = true;
    const std::string id = calibrate_log::required_field(record, customer_col_, o_.customer_column,
                                                         "a customer id", check, ok);
    checked(ok, "empty customer id", o_.customer_column, "");
    const std::string time_text = calibrate_log::field(record, time_col_);
    ok = true;
    const std::optional<Timestamp> time = calibrate_log::timestamp_field(
        time_text, line, o_.time_column, expected_time(), check, ok, o_.date_order);
    checked(ok, time_text.empty() ? "missing timestamp" : "unparseable timestamp", o_.time_column, id);
    ok = true;
    const bool stage_empty = calibrate_log::field(record, stage_col_).empty();
    const std::optional<std::string> stage =
        stage_names_.field(record, stage_col_, o_.stage_column, check, ok);
    checked(ok, stage_empty ? "empty stage" : "unknown stage", o_.stage_column, id);
    std::string segment;
    if (segment_col_ >= 0) {
      ok = true;
      segment = calibrate_log::required_field(record, segment_col_, o_.segment_column,
                                              "a segment name", check, ok);
      checked(ok, "empty segment", o_.segment_column, id);
    }
    if (!usable) return;
    rows_.push_back(
        Row{customers_.add(id), *time, time_text, *stage, segment, line, time_zone_of(time_text)});
  }

  /// "a timestamp (...)", with the day-first or month-first form when asked for.
  [[nodiscard]] std::string expected_time() const {
    std::string what = calibrate_log::timestamp_expected();
    if (o_.date_order == DateOrder::kDayFirst) what.insert(what.size() - 1, "; or DD/MM/YYYY [HH:MM[:SS]]");
    if (o_.date_order == DateOrder::kMonthFirst) what.insert(what.size() - 1, "; or MM/DD/YYYY [HH:MM[:SS]]");
    return what;
  }

  /// Files the problem(s) `check` holds under a class of defect.
  void defect(const std::string& name, const std::string& column, int line, const std::string& id,
              calibrate_log::Problems& check) {
    auto it = std::find_if(defects_.begin(), defects_.end(),
                           [&](const DefectRows& d) { return d.defect == name; });
    if (it == defects_.end()) it = defects_.insert(defects_.end(), DefectRows{name, column, {}, {}, {}});
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
        problems_.add_error(Problem{
            file_, rest.front(), d.column,
            std::to_string(rest.size()) + " more rows with " + describe(d) + ": " +
                text::lines(rest, o_.rows_listed),
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
    if (rows_.empty()) return;
    // Copies: rows after censor_at are taken out of rows_ below.
    const Timestamp earliest = std::min_element(rows_.begin(), rows_.end(), [](const Row& a, const Row& b) {
                                 return before(a.time, b.time);
                               })->time;
    const Timestamp latest = std::max_element(rows_.begin(), rows_.end(), [](const Row& a, const Row& b) {
                               return before(a.time, b.time);
                             })->time;
    censor_ = latest;
    if (!o_.censor_at.empty()) {
      const auto parsed = parse_timestamp(o_.censor_at, o_.date_order);
      if (!parsed) {
        error(0, "censor_at", expected_got(expected_time(), "'" + o_.censor_at + "'"));
        return;
      }
      censor_ = *parsed;
      std::vector<Row> kept;
      for (Row& row : rows_) {
        if (!before(censor_, row.time)) {
          kept.push_back(std::move(row));
          continue;
        }
        calibrate_log::Problems check(file_);
        check.error(row.line, o_.time_column,
                    expected_got("a timestamp at or before censor_at (" + o_.censor_at + ")",
                                 "'" + row.time_text + "'"));
        defect("after censor_at", o_.time_column, row.line, customers_[row.customer], check);
      }
      rows_ = std::move(kept);
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

    std::vector<std::vector<std::size_t>> by_customer(customers_.size());
    for (std::size_t i = 0; i < rows_.size(); ++i) by_customer[rows_[i].customer].push_back(i);
    std::vector<std::uint8_t> kept(rows_.size(), 0);

    std::vector<std::pair<int, int>> duplicates;  ///< (line, line of the earlier row)
    std::vector<int> out_of_order_lines;
    std::vector<int> after_absorbing_lines;
    std::vector<int> single_row_lines;
    std::vector<int> segment_change_lines;
    // Customers of each repair (the number of a customer is its index).
    std::set<std::size_t> duplicate_customers, out_of_order_customers, after_absorbing_customers,
        segment_change_customers;
    const auto absorbing = [&](const std::string& stage) {
      return std::find(o_.absorbing.begin(), o_.absorbing.end(), stage) != o_.absorbing.end();
    };

    for (std::size_t c = 0; c < by_customer.size(); ++c) {
      std::vector<std::size_t> rows;
      std::map<std::tuple<std::int64_t, double, std::string>, int> seen;
      calibrate_log::OrderCheck order;
      for (const std::size_t i : by_customer[c]) {
        const Row& row = rows_[i];
        const auto [it, inserted] =
            seen.emplace(std::make_tuple(row.time.day, row.time.seconds, row.stage), row.line);
        if (!inserted) {
          duplicates.emplace_back(row.line, it->second);
          duplicate_customers.insert(c);
          continue;
        }
        if (order.out_of_order(row.time)) {
          out_of_order_lines.push_back(row.line);
          out_of_order_customers.insert(c);
        }
        rows.push_back(i);
      }
      std::stable_sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
        return before(rows_[a].time, rows_[b].time);
      });
      CustomerPath path;
      path.id = customers_[c];
      for (const std::size_t i : rows) {
        const Row& row = rows_[i];
        if (!path.entries.empty() && absorbing(path.entries.back().stage)) {
          after_absorbing_lines.push_back(row.line);
          after_absorbing_customers.insert(c);
          continue;
        }
        if (path.entries.empty()) {
          path.segment = row.segment;
        } else if (row.segment != path.segment) {
          segment_change_lines.push_back(row.line);
          segment_change_customers.insert(c);
        }
        path.entries.push_back(StageEntry{row.time.days_since(epoch_day_), row.stage, row.line});
        kept[i] = 1;
      }
      if (path.entries.empty()) continue;  // every row after censor_at (an error or dropped)
      if (path.entries.size() == 1) single_row_lines.push_back(path.entries.front().line);
      log.customers.push_back(std::move(path));
    }

    const std::size_t listed = o_.rows_listed;
    if (!duplicates.empty()) {
      std::sort(duplicates.begin(), duplicates.end());
      std::vector<int> duplicate_lines;
      for (const auto& d : duplicates) duplicate_lines.push_back(d.first);
      if (o_.drop_duplicates || o_.drop_invalid) {
        cleaning_.push_back(step("duplicate row", "", duplicate_lines, duplicate_customers.size(),
                                 "dropped"));
        problems_.warn_lines(duplicate_lines, "",
                             "duplicate rows dropped (same " + o_.customer_column + ", " +
                                 o_.time_column + " and " + o_.stage_column +
                                 " as an earlier row)",
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
    std::vector<std::string> in_file;
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      if (kept[i] == 0) continue;
      ++log.rows_used;
      if (std::find(in_file.begin(), in_file.end(), rows_[i].stage) == in_file.end()) {
        in_file.push_back(rows_[i].stage);
      }
    }
    if (o_.stages.empty()) {
      std::vector<std::vector<std::size_t>> paths;
      paths.reserve(log.customers.size());
      for (const auto& path : log.customers) {
        std::vector<std::size_t> p;
        for (const auto& entry : path.entries) {
          p.push_back(static_cast<std::size_t>(
              std::find(in_file.begin(), in_file.end(), entry.stage) - in_file.begin()));
        }
        paths.push_back(std::move(p));
      }
      log.stages = calibrate_log::path_order(in_file, paths, o_.absorbing);
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
      for (const auto& path : log.customers) {
        if (std::find(log.segments.begin(), log.segments.end(), path.segment) ==
            log.segments.end()) {
          log.segments.push_back(path.segment);
        }
      }
    }
    bool first = true;
    for (const auto& path : log.customers) {
      for (const auto& entry : path.entries) {
        if (first || entry.time < log.first_time) log.first_time = entry.time;
        if (first || entry.time > log.last_time) log.last_time = entry.time;
        first = false;
      }
    }
    return log;
  }

  /// Time zones: rows that name one (Z included: UTC named is a zone like any other) are one
  /// class with the zones in `detail`, unless every zone is UTC and no row lacks one (nothing
  /// then needed doing); rows without a zone in a file where others have one are another class,
  /// with a warning: the export mixes conventions, and those rows are read as UTC.
  void report_time_zones() {
    std::map<std::string, std::size_t> zones;
    std::vector<int> zoned;
    std::vector<int> plain;
    std::set<std::size_t> zoned_customers;
    std::set<std::size_t> plain_customers;
    bool all_utc = true;
    for (const Row& row : rows_) {
      if (row.zone.empty()) {
        plain.push_back(row.line);
        plain_customers.insert(row.customer);
        continue;
      }
      ++zones[row.zone];
      zoned.push_back(row.line);
      zoned_customers.insert(row.customer);
      all_utc = all_utc && is_utc_zone(row.zone);
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
    cleaning_.push_back(step("timezone offset", o_.time_column, zoned, zoned_customers.size(),
                             "converted to UTC"));
    cleaning_.back().detail = detail;
    if (plain.empty()) return;
    cleaning_.push_back(step("no time zone", o_.time_column, plain, plain_customers.size(),
                             "read as UTC"));
    problems_.warn_lines(plain, o_.time_column,
                         "rows give no time zone and are read as UTC, while " +
                             std::to_string(zoned.size()) + " rows name one (" + detail +
                             "): check the export's time zone",
                         o_.rows_listed);
  }

  /// Customers whose rows are apart: in a file otherwise grouped by customer (most customers
  /// with several rows have them one after another), the rows of a customer that come after
  /// another customer's rows. A time-ordered file interleaves customers by nature: nothing then.
  void report_apart_customers() {
    const std::size_t none = customers_.size();
    std::vector<std::size_t> blocks(customers_.size(), 0);
    std::vector<std::size_t> rows_of(customers_.size(), 0);
    std::size_t last = none;
    std::vector<int> apart;
    std::set<std::size_t> apart_customers;
    for (const Row& row : rows_) {
      ++rows_of[row.customer];
      if (row.customer != last) ++blocks[row.customer];
      last = row.customer;
      if (blocks[row.customer] > 1) {
        apart.push_back(row.line);
        apart_customers.insert(row.customer);
      }
    }
    std::size_t several = 0;
    std::size_t together = 0;
    for (std::size_t c = 0; c < rows_of.size(); ++c) {
      if (rows_of[c] < 2) continue;
      ++several;
      if (blocks[c] == 1) ++together;
    }
    if (apart.empty() || 2 * together <= several) return;
    cleaning_.push_back(step("not contiguous", o_.customer_column, apart, apart_customers.size(),
                             "kept (rows gathered by customer)"));
    problems_.warn_lines(apart, o_.customer_column,
                         "rows come after other customers' rows, apart from the earlier rows of "
                         "their customer (" + std::to_string(apart_customers.size()) +
                             " customers), in a file otherwise grouped by customer (" +
                             std::to_string(together) + " of " + std::to_string(several) +
                             " customers with several rows have them together): a second export "
                             "appended, or one id for two customers? (kept: rows gathered by "
                             "customer)",
                         o_.rows_listed);
  }

  /// Rows and customers of each stage of log.stages, from the kept paths.
  static void count_stages(EventLog& log) {
    std::map<std::string, std::size_t> index;
    for (const auto& stage : log.stages) {
      index.emplace(stage, log.stage_counts.size());
      log.stage_counts.push_back(StageCount{stage, 0, 0, false});
    }
    std::set<std::string> entered;
    for (const auto& path : log.customers) {
      entered.clear();
      for (const auto& entry : path.entries) {
        StageCount& count = log.stage_counts[index.at(entry.stage)];
        ++count.rows;
        if (entered.insert(entry.stage).second) ++count.customers;
      }
    }
  }

  /// Without a stage list or map every stage name becomes a stage of the model; one seen in very
  /// few rows (LogOptions::rare_stage_share) is more likely a CRM stage nobody mapped.
  void report_rare_stages(EventLog& log) {
    if (!o_.stages.empty() || !o_.stage_map.empty() || !(o_.rare_stage_share > 0.0)) return;
    std::vector<int> lines;
    std::set<std::string> customers;
    std::string detail;
    for (StageCount& count : log.stage_counts) {
      if (std::find(o_.absorbing.begin(), o_.absorbing.end(), count.stage) != o_.absorbing.end()) {
        continue;  // named by the caller: known
      }
      const double share = o_.rare_stage_share * static_cast<double>(log.rows_used);
      if (static_cast<double>(count.rows) > share) continue;
      count.rare = true;
      std::vector<int> own;
      for (const auto& path : log.customers) {
        for (const auto& entry : path.entries) {
          if (entry.stage != count.stage) continue;
          own.push_back(entry.line);
          customers.insert(path.id);
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
                            hint("stages") + " (other names are then errors) or map CRM names "
                            "with " + hint("stage_map"));
    }
    if (lines.empty()) return;
    cleaning_.push_back(step("rare stage", o_.stage_column, lines, customers.size(),
                             "kept as a stage of the model"));
    cleaning_.back().detail = detail;
  }

  /// Warns about stages that nobody leaves.
  void finish(EventLog& log) {
    for (const auto& stage : log.stages) {
      if (log.is_absorbing(stage)) continue;
      std::size_t entries = 0;
      std::size_t exits = 0;
      int first_line = 0;
      for (const auto& path : log.customers) {
        for (std::size_t i = 0; i < path.entries.size(); ++i) {
          if (path.entries[i].stage != stage) continue;
          if (entries == 0 || path.entries[i].line < first_line) first_line = path.entries[i].line;
          ++entries;
          if (i + 1 < path.entries.size()) ++exits;
        }
      }
      if (exits == 0) {
        problems_.warning(first_line, o_.stage_column,
                "stage '" + stage + "' is never left: its " + std::to_string(entries) +
                    " entries are all still open at censor_at, so its dwell and next cannot be "
                    "estimated");
      }
    }
    log.warnings = problems_.take_warnings();
  }

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
  std::vector<Row> rows_;
  calibrate_log::CustomerIndex customers_;
  std::vector<DefectRows> defects_;   ///< unusable rows by class, in order of first appearance
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
  return reader.read(calibrate_log::read_all(in, file));
}

EventLog read_event_log(const std::string& path, const LogOptions& options) {
  std::ifstream in = calibrate_log::open_input(path);
  return parse_event_log(in, path, options);
}

}  // namespace lcsim
