/// @file timestamp.hpp
/// Timestamps of CRM logs: parsing to UTC, civil dates and weekdays. Calibration measures time in
/// days (double) since an *epoch*, the UTC midnight of a date kept as text ("2026-01-05"), so a
/// scenario or a backtest can map simulated days back to calendar dates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lcsim {

/// A point in time in UTC: a civil day and the seconds since that day's midnight.
struct Timestamp {
  std::int64_t day = 0;  ///< days since 1970-01-01 (UTC)
  double seconds = 0.0;  ///< seconds since midnight UTC, in [0, 86400)

  /// Days (with fraction) since the UTC midnight that starts `epoch_day`.
  [[nodiscard]] double days_since(std::int64_t epoch_day) const {
    return static_cast<double>(day - epoch_day) + seconds / 86400.0;
  }
  friend bool operator==(const Timestamp&, const Timestamp&) = default;
};

/// The accepted formats, as messages list them.
inline constexpr const char* kTimestampFormats =
    "YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS[.fff]] or YYYY-MM-DDTHH:MM[:SS[.fff]], optionally followed "
    "by Z or an offset +HH:MM / +HHMM";

/// Parses one of kTimestampFormats (surrounding blanks allowed). A time-zone offset is removed,
/// so the result is UTC (2026-01-01T05:00:00+05:00 is 2026-01-01T00:00:00Z); without Z or an
/// offset the time is taken as UTC. std::nullopt when the text is not a valid timestamp
/// (including impossible dates such as 2026-02-30 and hours past 23).
[[nodiscard]] std::optional<Timestamp> parse_timestamp(std::string_view text);

/// How the date of a timestamp that is not ISO may be written (LogOptions::date_order).
enum class DateOrder {
  kIso,       ///< only the ISO forms of kTimestampFormats
  kDayFirst,  ///< also DD/MM/YYYY (or DD.MM.YYYY, DD-MM-YYYY) [HH:MM[:SS]], as European exports write
  kMonthFirst,  ///< also MM/DD/YYYY [HH:MM[:SS]], as US exports write
};

/// parse_timestamp, also accepting a day-first or month-first date when `order` says so (asked
/// for, never guessed: 03/04/2025 is ambiguous).
[[nodiscard]] std::optional<Timestamp> parse_timestamp(std::string_view text, DateOrder order);

/// True when a timestamp text carries a numeric offset (+HH:MM, -HHMM, ...) that parse_timestamp
/// removes; false for Z and for times without an offset.
[[nodiscard]] bool has_utc_offset(std::string_view text);

/// The time zone a timestamp text names: "" when it names none (read as UTC), "Z" for Z or z, else
/// the offset as "+HH:MM" / "-HH:MM" (+0530 gives "+05:30"). Meaningful for texts that parse.
[[nodiscard]] std::string time_zone_of(std::string_view text);

/// True for a zone that is UTC itself: "Z", "+00:00" or "-00:00".
[[nodiscard]] bool is_utc_zone(std::string_view zone);

/// True when a timestamp text gives a time of day (HH:MM...), false for a date alone
/// ("2025-01-31", "31/01/2025"). Meaningful for texts that parse.
[[nodiscard]] bool has_time_of_day(std::string_view text);

/// Parses a date "YYYY-MM-DD" to days since 1970-01-01; std::nullopt when invalid.
[[nodiscard]] std::optional<std::int64_t> parse_date(std::string_view text);

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day 1-31, not checked).
[[nodiscard]] std::int64_t days_from_civil(std::int64_t year, int month, int day);

/// "YYYY-MM-DD" of a day counted from 1970-01-01.
[[nodiscard]] std::string civil_date(std::int64_t day);

/// Weekday of a day counted from 1970-01-01: 0 = Monday ... 6 = Sunday.
[[nodiscard]] int weekday(std::int64_t day);

}  // namespace lcsim
