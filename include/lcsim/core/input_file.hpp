/// @file input_file.hpp
/// Which paths lcsim reads as input files: regular files only (a device such as /dev/zero never
/// ends, a FIFO can block for ever), and scenarios of at most kMaxScenarioBytes.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace lcsim {

/// Largest scenario file (YAML) read; a scenario is a few kilobytes.
inline constexpr std::uintmax_t kMaxScenarioBytes = 64u << 20;

/// Why `path` is not read as an input file, or "" when it is: it does not exist, is a directory,
/// a device, a FIFO or socket ("not a regular file: ..."), or is larger than `max_bytes`.
[[nodiscard]] std::string input_file_problem(
    const std::string& path, std::uintmax_t max_bytes = std::numeric_limits<std::uintmax_t>::max());

/// The whole of `path` (bytes as they are) when input_file_problem() finds nothing and the read
/// succeeds: then `ok` is true. Otherwise `ok` is false and `why` says why, or is empty when the
/// open or the read itself failed.
[[nodiscard]] std::string read_input_file(const std::string& path, std::uintmax_t max_bytes,
                                          bool& ok, std::string& why);

}  // namespace lcsim
