/// @file history.hpp
/// CRM history: a stage-change log read from CSV into per-customer paths, cleaned and checked.
///
/// The file has a header row and one row per stage change: a customer id, a timestamp and the stage
/// the customer entered (column names set in LogOptions), optionally a segment. Fields follow
/// RFC 4180 (quoted fields may hold commas, line breaks and doubled quotes). Timestamps take the
/// forms of kTimestampFormats and are normalised to UTC, then counted in days since the log's
/// *epoch*. Problems name the file, the line (the line a record starts on; the header is line 1)
/// and the column.
///
/// Errors (thrown together as one InputError, every class of defect in one pass, at most
/// kErrorsPerDefect rows of a class listed one by one and the rest in one line with a count): an
/// empty file or a header without rows, a missing column, a row with the wrong number of fields, an
/// empty customer id, stage or segment, a missing or unparseable timestamp, an unknown stage (when
/// LogOptions::stages or a stage map is given), duplicate rows (unless drop_duplicates) and rows
/// after censor_at. With LogOptions::drop_invalid the rows with these defects are dropped instead and
/// each class is listed in EventLog::cleaning (file-level problems such as a missing column stay
/// errors). With LogOptions::collect_errors nothing row-level is thrown: the log comes back with
/// the errors in EventLog::errors and the whole picture (every class, every warning) beside them.
/// Warnings (EventLog::warnings, never thrown; each with a count and the first rows): duplicate
/// rows dropped, timestamps with and without a time zone in one file, rows out of order within a
/// customer (sorted), customers whose rows are apart in a file otherwise grouped by customer, rows
/// after an absorbing stage (ignored), stages seen in very few rows without a stage list or map
/// (possibly unmapped CRM stages), customers with one row (kept: censored in their first stage),
/// customers whose segment changes (the first is kept), and stages never left by anyone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "lcsim/calibrate/customer_paths.hpp"
#include "lcsim/calibrate/option_spelling.hpp"
#include "lcsim/calibrate/timestamp.hpp"
#include "lcsim/core/error.hpp"

namespace lcsim {

/// How to read a stage-change log.
struct LogOptions {
  std::string customer_column = "customer_id";
  std::string time_column = "timestamp";
  std::string stage_column = "stage";
  std::string segment_column;  ///< empty: the log has no segments
  /// CRM stage name -> stage name. When given, every value of the stage column must be a key or a
  /// value of the map (or one of `stages`); other values are errors.
  std::map<std::string, std::string> stage_map;
  /// Known stage names (after mapping). When given, any other stage is an error naming the row,
  /// column and value, with a "did you mean" for a close name.
  std::vector<std::string> stages;
  /// Stages that end a path (lost, churned): rows after a customer enters one are ignored.
  std::vector<std::string> absorbing;
  /// End of observation, a timestamp; empty: the last timestamp in the file. Rows after it are
  /// errors. Stays still open at censor_at are right-censored there.
  std::string censor_at;
  /// Day 0 as a date "YYYY-MM-DD" (UTC midnight); empty: the UTC date of the earliest timestamp.
  std::string epoch;
  /// Drop repeated (customer, timestamp, stage) rows with a warning instead of failing.
  bool drop_duplicates = false;
  /// Drop unusable rows (see the file comment) and duplicates instead of failing; each class of
  /// defect is listed in EventLog::cleaning with its rows, customers and lines.
  bool drop_invalid = false;
  /// Return the log with its row-level errors in EventLog::errors instead of throwing them (what a
  /// dry run reports): the paths are then built from the rows without errors, and every class of
  /// defect, error or not, is in EventLog::cleaning. File-level problems (no file, an empty file,
  /// a missing column, bad options) are still thrown.
  bool collect_errors = false;
  /// Without `stages` and `stage_map`: a stage seen in at most this share of the rows kept is
  /// flagged (a warning and a "rare stage" cleaning step) as a possibly unmapped CRM stage.
  /// 0: never.
  double rare_stage_share = 0.001;
  /// How hints in messages name options (the C++ field, the CLI flag or the Python keyword).
  OptionSpelling spelling = OptionSpelling::kCpp;
  /// Field separator; 0: ',' unless the header has ';' and no ',' (a European export).
  char separator = 0;
  /// Also accept day-first or month-first dates (DD/MM/YYYY ...) in the time column and censor_at.
  DateOrder date_order = DateOrder::kIso;
  /// How many row numbers a warning lists before "...".
  std::size_t rows_listed = 5;
};

/// Rows of one class listed one by one in an error before the rest are summarised.
inline constexpr std::size_t kErrorsPerDefect = 10;

/// One class of defect found in a log and what was done about it (EventLog::cleaning).
struct CleaningStep {
  std::string defect;         ///< "missing timestamp", "unknown stage", "duplicate row", ...
  std::string column;         ///< the column concerned; empty for whole rows
  std::size_t rows = 0;       ///< rows with the defect
  std::size_t customers = 0;  ///< distinct customer ids among them (rows without an id add none)
  std::vector<int> lines;     ///< every line with the defect, ascending (`rows` of them)
  std::string action;         ///< "dropped", "sorted by timestamp", "converted to UTC", ...
  std::string detail;         ///< what the rows hold, e.g. "Z 63990, +02:00 10" for time zones
  bool error = false;         ///< the rows stop the fit (EventLog::errors lists them)
};

/// A stage of the log and how often it occurs (EventLog::stage_counts).
struct StageCount {
  std::string stage;          ///< stage name (after the stage map)
  std::size_t rows = 0;       ///< rows kept in the customers' paths
  std::size_t customers = 0;  ///< customers who entered it
  bool rare = false;          ///< flagged as a possibly unmapped CRM stage
                              ///< (LogOptions::rare_stage_share)
};

/// A cleaned stage-change log.
struct EventLog {
  std::string file;
  std::string epoch;                   ///< day 0, "YYYY-MM-DD" (UTC midnight)
  std::int64_t epoch_day = 0;          ///< the epoch in days since 1970-01-01
  int epoch_weekday = 0;               ///< weekday of the epoch, 0 = Monday
  double first_time = 0.0;             ///< earliest timestamp, days since the epoch
  double last_time = 0.0;              ///< latest timestamp (of the rows kept)
  double censor_at = 0.0;              ///< end of observation, days since the epoch
  std::vector<std::string> stages;     ///< stages that occur, in funnel order: that of
                                       ///< LogOptions::stages, else along the customers' paths
                                       ///< (a stage most customers entered before another comes
                                       ///< first, the absorbing stages last; docs/calibration.md)
  std::vector<std::string> absorbing;  ///< LogOptions::absorbing
  std::vector<std::string> segments;   ///< segments in order of first occurrence
  bool has_segments = false;           ///< a segment column was read
  CustomerPaths customers;             ///< in order of first occurrence in the file (flat arrays;
                                       ///< indexing gives views, customer_paths.hpp)
  std::size_t rows = 0;                ///< data rows read
  std::size_t rows_used = 0;           ///< rows kept in customer paths
  /// Every class of defect found and what was done, in reading order (empty for a clean log).
  std::vector<CleaningStep> cleaning;
  /// The stages with their row and customer counts, in the order of `stages`.
  std::vector<StageCount> stage_counts;
  std::vector<Problem> warnings;
  /// With LogOptions::collect_errors: the errors read_event_log would have thrown (else empty).
  std::vector<Problem> errors;

  [[nodiscard]] bool is_absorbing(const std::string& stage) const;
};

/// Reads and checks a stage-change log from a file.
/// @throws IoError when the file cannot be opened; InputError listing every error found.
[[nodiscard]] EventLog read_event_log(const std::string& path, const LogOptions& options = {});

/// Same, from a stream; `file` names the input in messages.
[[nodiscard]] EventLog parse_event_log(std::istream& in, const std::string& file,
                                       const LogOptions& options = {});

}  // namespace lcsim
