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
[[nodiscard]] std::string input_file_problem(const std::string& path,
                                             std::uintmax_t max_bytes = std::numeric_limits<std::uintmax_t>::max());

}  // namespace lcsim
