/// @file synth.hpp
/// Synthetic CRM history: one replication of a scenario written as the files an analyst gets from
/// a CRM (a stage-change log, stage snapshots, a touchpoint contact log), so that calibration can
/// be checked against a known truth (synth -> calibrate -> compare with the scenario).
///
/// **Time.** Scenario day 0 is the UTC midnight of SynthOptions::start_date (a Monday by default,
/// because scenarios treat day 0 as a Monday for weekly profiles). Simulated times are rounded to
/// the second (timestamps `YYYY-MM-DDTHH:MM:SSZ`), so a duration read back differs from the
/// simulated one by less than a second; everything below (censoring, snapshots) uses the rounded
/// times, so the three files agree with each other exactly.
///
/// **Customers.** Every customer the replication simulates (initial cohort, arrivals, referrals)
/// is numbered by first appearance (time, then the engine's customer key) and named "C000001",
/// "C000002", ...: the ids are a pure function of (scenario, seed, replication).
///
/// **Censoring.** Nothing after observe_until is recorded: customers arriving later do not
/// appear, and a customer still in a stage then appears with the stage changes up to then (its
/// last stay is open: right-censored when calibrating with `censor_at` = SynthHistory::censor_at).
///
/// **Snapshots** are CRM exports taken at the start (00:00:00Z) of each snapshot date: every
/// customer who has appeared by then, with the stage of its last change at or before that instant,
/// including customers in absorbing stages (an export lists every record). Dates run from
/// start_date (included) every `days`, or monthly on start_date's day of the month (clamped to the
/// month's length: Jan 31 -> Feb 28 -> Mar 31), up to observe_until. Each row also carries the
/// customer's creation time (its first appearance), as CRM exports do. The files' date column
/// gives the export's instant, "YYYY-MM-DDT00:00:00Z", not the date alone: a date alone means the
/// end of its day to read_snapshots by default (SnapshotOptions::date_means).
///
/// **Touchpoints.** The contact log lists landed contacts (reach succeeded), as a CRM activity log
/// does; contacts that did not land are not recorded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lcsim/model/model.hpp"

namespace lcsim {

/// When snapshots are taken.
struct SnapshotEvery {
  enum class Kind { kNone, kMonthly, kDays };
  Kind kind = Kind::kNone;
  int days = 0;  ///< with kDays, >= 1

  /// Parses "none", "monthly" or a whole number of days >= 1.
  /// @throws InputError (file "<synth options>", field "every") for anything else
  [[nodiscard]] static SnapshotEvery parse(std::string_view text);
};

struct SynthOptions {
  int replication = 0;                    ///< which replication (selects the random streams), >= 0
  std::optional<std::uint64_t> seed;      ///< instead of the scenario's seed
  std::string start_date = "2025-01-06";  ///< scenario day 0, "YYYY-MM-DD" (UTC midnight)
  std::optional<double> observe_until;    ///< days in (0, horizon]; none: the horizon
  SnapshotEvery snapshot_every;           ///< none: no snapshot rows
  std::optional<bool> with_segments;      ///< segment column; none: when the model has > 1 segment
  bool with_touchpoints = true;           ///< keep the contact log
};

/// One stage change (or the first appearance) of a customer.
struct SynthEventRow {
  std::string customer_id;
  std::string timestamp;    ///< "YYYY-MM-DDTHH:MM:SSZ"
  std::string stage;        ///< the stage entered
  std::string segment;      ///< empty without segments
  std::int64_t second = 0;  ///< seconds since start_date's midnight (the rounded time)
};

/// One customer's stage at a snapshot date.
struct SynthSnapshotRow {
  std::string customer_id;
  std::string date;  ///< "YYYY-MM-DD"
  std::string stage;
  std::string segment;   ///< empty without segments
  std::int64_t day = 0;  ///< days since start_date
  std::string created;   ///< "YYYY-MM-DDTHH:MM:SSZ": when the customer first appeared

  /// The instant of the export, "YYYY-MM-DDT00:00:00Z": the date column of the written files.
  [[nodiscard]] std::string taken_at() const { return date + "T00:00:00Z"; }
};

/// One landed touchpoint contact.
struct SynthTouchpointRow {
  std::string customer_id;
  std::string timestamp;  ///< "YYYY-MM-DDTHH:MM:SSZ"
  std::string touchpoint;
  std::string stage;        ///< the stage the customer was in (not written to the CSV)
  std::int64_t second = 0;  ///< seconds since start_date's midnight
};

/// A synthetic history of one replication.
struct SynthHistory {
  std::string scenario;  ///< the model's name
  int replication = 0;
  std::uint64_t seed = 0;      ///< the seed used
  std::string start_date;      ///< day 0
  std::int64_t start_day = 0;  ///< day 0 in days since 1970-01-01
  double observe_until = 0.0;  ///< days since day 0
  std::string censor_at;       ///< observe_until as a timestamp (for `--censor-at`)
  bool with_segments = false;
  std::vector<std::string> absorbing;  ///< the model's absorbing stages
  std::string won;                     ///< the model's won stage
  std::size_t customers = 0;           ///< customers that appear (arrived by observe_until)
  std::size_t customers_open = 0;      ///< of which still in a non-absorbing stage at observe_until
  std::size_t customers_unobserved = 0;     ///< simulated customers arriving after observe_until
  std::size_t events_unobserved = 0;        ///< stage changes after observe_until (not recorded)
  std::vector<SynthEventRow> events;        ///< by time, then customer
  std::vector<std::string> snapshot_dates;  ///< "YYYY-MM-DD", increasing
  std::vector<SynthSnapshotRow> snapshots;  ///< by date, then customer
  std::vector<SynthTouchpointRow> touchpoints;  ///< by time, then customer

  /// The first and last event timestamps ("" without events).
  [[nodiscard]] std::string first_timestamp() const;
  [[nodiscard]] std::string last_timestamp() const;
};

/// Simulates one replication of `model` with the event (and contact) log and writes it as rows.
/// @throws InputError (file "<synth options>", field start_date / observe_until / replication) for
///         a bad option; whatever the engine throws (Cancelled never: no cancel flag is polled)
[[nodiscard]] SynthHistory synthesize(const Model& model, const SynthOptions& options = {});

/// Writes `customer_id,timestamp,stage[,segment]` rows (RFC 4180: fields with a comma, a quote or
/// a line break are quoted, quotes doubled). The file is written beside `path` under a temporary
/// name and renamed over it, so a partial file is never left.
/// @throws IoError when the file cannot be written
void write_events_csv(const SynthHistory& history, const std::string& path);

/// Writes `customer_id,date,stage[,segment],created` rows, atomically as above (date: the export's
/// instant, SynthSnapshotRow::taken_at(); created: the customer's first appearance, the creation
/// time a CRM record carries).
void write_snapshots_csv(const SynthHistory& history, const std::string& path);

/// Writes `customer_id,timestamp,touchpoint` rows, atomically as above.
void write_touchpoints_csv(const SynthHistory& history, const std::string& path);

/// A field quoted as RFC 4180 requires (unchanged when it holds no comma, quote, CR or LF).
[[nodiscard]] std::string csv_field(std::string_view text);

/// Writes `text` to a temporary file beside `path`, flushes it and renames it over `path`: readers
/// see the old file or the whole new one, never a part. The temporary file is removed on failure.
/// @throws IoError naming the path
void write_file_atomically(const std::string& path, std::string_view text);

/// "YYYY-MM-DDTHH:MM:SSZ" of `second` seconds after the UTC midnight of day `start_day`
/// (days since 1970-01-01).
[[nodiscard]] std::string iso_timestamp(std::int64_t start_day, std::int64_t second);

}  // namespace lcsim
