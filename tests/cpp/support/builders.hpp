/// @file builders.hpp
/// Small model builders for tests (header-only; link lcsim_yaml).
#pragma once

#include <string>

#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/model/compile.hpp"

namespace lcsim::test {

/// Compiles a scenario written inline in a test.
inline Model model_from_yaml(const std::string& yaml) {
  return compile(parse_scenario(yaml, "<test>"));
}

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

/// funnel-10's horizon, report times and stages (benches/funnel10/funnel10.yaml), without a name or
/// arrivals: tests add their own.
inline const std::string kFunnel10Stages = R"(
horizon: 730
report_every: 30
won: customer
stages:
  awareness: {dwell: {dist: exponential, mean: 3},   next: {engaged: 0.30, lost: 0.70}}
  engaged:   {dwell: {dist: exponential, mean: 5},   next: {lead: 0.40, awareness: 0.10, lost: 0.50}}
  lead:      {dwell: {dist: exponential, mean: 7},   next: {mql: 0.45, engaged: 0.15, lost: 0.40}}
  mql:       {dwell: {dist: exponential, mean: 10},  next: {sql: 0.35, lead: 0.20, lost: 0.45}}
  sql:       {dwell: {dist: exponential, mean: 14},  next: {customer: 0.30, mql: 0.25, lost: 0.45}}
  customer:  {dwell: {dist: exponential, mean: 90},  next: {loyal: 0.60, churned: 0.40}}
  loyal:     {dwell: {dist: exponential, mean: 180}, next: {advocate: 0.20, customer: 0.10, churned: 0.70}}
  advocate:  {dwell: {dist: exponential, mean: 365}, next: {loyal: 0.50, churned: 0.50}}
  lost:      {absorbing: true}
  churned:   {absorbing: true}
)";

}  // namespace lcsim::test
