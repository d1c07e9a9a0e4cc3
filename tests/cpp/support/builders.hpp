/// @file builders.hpp
/// Small model builders for tests (header-only; link lcsim_yaml).
#pragma once

#include <string>

#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/model/compile.hpp"

namespace lcsim::test {

/// Compiles a scenario written inline in a test.
inline Model model_from_yaml(const std::string& yaml) { return compile(parse_scenario(yaml, "<test>")); }

/// An arrival stream of about 5,000 customers into a scenario with max_customers 3000: every
/// replication stops with the max_customers error, its arrivals partly advanced.
inline Model too_many_arrivals_model() {
  return model_from_yaml(R"(
name: too_many
horizon: 100
report_every: 7
won: lost
max_customers: 3000
stages:
  a:    {dwell: {mean: 2}, next: {a: 0.2, lost: 0.8}}
  lost: {absorbing: true}
arrivals:
  streams: [{stage: a, rate_per_day: 50}]
)");
}

}  // namespace lcsim::test
