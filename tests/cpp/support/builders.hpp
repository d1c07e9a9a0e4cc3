/// @file builders.hpp
/// Small model builders for tests (header-only; link lcsim_yaml).
#pragma once

#include <string>

#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/model/compile.hpp"

namespace lcsim::test {

/// Compiles a scenario written inline in a test.
inline Model model_from_yaml(const std::string& yaml) { return compile(parse_scenario(yaml, "<test>")); }

}  // namespace lcsim::test
