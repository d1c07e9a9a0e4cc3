/// @file scenario_yaml.hpp
/// Reading and writing scenarios as YAML (yaml-cpp). Schema: docs/scenario.md.
#pragma once

#include <string>
#include <vector>

#include "lcsim/core/error.hpp"
#include "lcsim/model/scenario.hpp"

namespace lcsim {

/// Parses YAML text. Structural problems (YAML syntax, unknown keys, wrong types, missing required
/// keys) are all collected and thrown together; semantic checks are compile()'s job.
/// @param file name used in messages
/// @throws InputError naming file, line and field of each problem
[[nodiscard]] Scenario parse_scenario(const std::string& text,
                                      const std::string& file = "<string>");

/// Reads and parses a file. @throws InputError (also when the file cannot be read)
[[nodiscard]] Scenario load_scenario(const std::string& path);

/// YAML text that parses back to an equal Scenario (comments are not kept).
[[nodiscard]] std::string to_yaml(const Scenario& scenario);

/// Every problem of a scenario file: parse errors, or else compile()'s errors and warnings.
/// Never throws for bad input.
[[nodiscard]] std::vector<Problem> validate_file(const std::string& path);

}  // namespace lcsim
