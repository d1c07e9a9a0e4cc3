/// @file option_spelling.hpp
/// How a calibration message names an option it suggests. The same reader runs behind the C++
/// API, the `lcsim calibrate` command and lcsim.calibrate in Python, and a hint is only useful
/// when it names the option where the reader of the message can set it: "--drop-duplicates" on
/// the command line, "drop_duplicates=True" in Python, "LogOptions::drop_duplicates" in C++.
#pragma once

#include <string>
#include <string_view>

namespace lcsim {

/// The spelling of option names in hints (LogOptions::spelling, SnapshotOptions::spelling,
/// CalibrateOptions::spelling).
enum class OptionSpelling {
  kCpp,     ///< the C++ option field, e.g. LogOptions::drop_duplicates
  kCli,     ///< the `lcsim calibrate` flag, e.g. --drop-duplicates
  kPython,  ///< the lcsim.calibrate keyword, e.g. drop_duplicates=True
};

/// The option `key` as a hint names it in `spelling`, with the value it suggests where it has
/// one. Keys: "drop_duplicates", "drop_invalid", "stages", "stage_map", "won", "censor_at",
/// "date_means=end-of-day", "date_means=start-of-day" and "columns".
/// @param key one of the keys above
/// @param spelling how to spell it
/// @return e.g. "--drop-invalid" (kCli), "on_invalid=\"drop\"" (kPython),
///         "LogOptions::drop_invalid = true" (kCpp)
/// @throws std::invalid_argument for an unknown key (a bug, not bad input)
[[nodiscard]] std::string option_hint(std::string_view key, OptionSpelling spelling);

}  // namespace lcsim
