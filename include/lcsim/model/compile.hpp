/// @file compile.hpp
/// Validation and compilation of a Scenario into a Model.
#pragma once

#include <vector>

#include "lcsim/core/error.hpp"
#include "lcsim/model/model.hpp"
#include "lcsim/model/scenario.hpp"

namespace lcsim {

/// Every problem in a scenario (errors and warnings), each naming file, line and field.
/// Never throws on bad input: it reports.
[[nodiscard]] std::vector<Problem> check(const Scenario& scenario);

/// Validates and compiles.
/// @throws InputError listing every error (warnings are not errors) when the scenario is invalid.
[[nodiscard]] Model compile(const Scenario& scenario);

}  // namespace lcsim
