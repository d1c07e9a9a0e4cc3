/// @file replication_result.hpp
/// What one replication of a Model produces.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lcsim/core/types.hpp"

namespace lcsim {

/// Why a customer moved. Values >= kCauseTouchpoint mean touchpoint (cause - kCauseTouchpoint).
enum Cause : std::int16_t { kCauseExit = 0, kCauseArrival = 1, kCauseTouchpoint = 2 };

/// One row of the optional event log. `from` is -1 for an arrival.
struct Event {
  std::int32_t replication = 0;
  std::int64_t customer = 0;
  double time = 0.0;
  std::int16_t from = -1;
  std::int16_t to = 0;
  std::int16_t cause = kCauseExit;
};

/// Per-touchpoint tallies of one replication.
struct TouchpointTally {
  double contacts = 0.0;  ///< scheduled contacts made (each costs `cost`)
  double reached = 0.0;   ///< contacts that landed (reach)
  double moves = 0.0;     ///< immediate moves triggered
  double cost = 0.0;      ///< contacts * cost, undiscounted
};

/// Names of the scalar metrics, in the order of ReplicationResult::metrics, followed by one
/// "dropoff.<stage>" per stage: customers who left that stage for an absorbing stage other than won.
/// @param stage_names the model's stages
[[nodiscard]] std::vector<std::string> metric_names(const std::vector<std::string>& stage_names);

/// Indices of the fixed metrics in ReplicationResult::metrics.
enum Metric : int {
  kCustomers = 0,        ///< customers simulated (initial cohort + arrivals before the horizon)
  kConversions,          ///< customers who entered the won stage before the horizon
  kConversionRate,       ///< conversions / customers
  kTimeToConvertMean,    ///< days from first appearance to first entry into won (NaN if none)
  kTimeToConvertMedian,
  kRevenue,              ///< undiscounted: stage revenue over time + one-off values
  kTouchpointCost,       ///< undiscounted
  kDiscountedRevenue,
  kDiscountedCost,
  kNetValue,             ///< discounted revenue - discounted cost
  kValuePerConversion,   ///< net value / conversions (NaN if none)
  kCostPerConversion,    ///< touchpoint cost / conversions (NaN if none)
  kTransitions,          ///< stage moves (arrivals not counted)
  kNumFixedMetrics
};

/// Per-customer outcomes of one replication, in the engine's customer order (increasing customer
/// key), asked for by paired comparisons to find who changed outcome between two arms.
struct CustomerOutcomes {
  int touchpoints = 0;                     ///< K
  std::vector<std::uint64_t> customer;     ///< customer keys
  std::vector<std::int32_t> segment;
  std::vector<std::uint8_t> converted;     ///< entered won during the horizon (not already converted)
  std::vector<std::int16_t> first_reach;   ///< [n * K] stage where touchpoint k first reached them; -1 never
};

struct ReplicationResult {
  int replication = 0;
  int num_stages = 0;
  int num_reports = 0;
  std::vector<std::int64_t> occupancy;    ///< [T * S] customers per stage at each report time
  std::vector<std::int64_t> transitions;  ///< [S * S] from-major
  std::vector<std::int64_t> reached;      ///< [S] customers who were in the stage at least once
  std::vector<TouchpointTally> touchpoints;  ///< [K]
  std::vector<double> metrics;            ///< [kNumFixedMetrics + S], see metric_names()
  std::vector<Event> events;              ///< empty unless the event log was asked for
};

}  // namespace lcsim
