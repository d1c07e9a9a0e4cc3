/// @file replication_result.hpp
/// What one replication of a Model produces.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lcsim/core/types.hpp"

namespace lcsim {

/// Why a customer moved. Values from kCauseTouchpoint on are numbered by CauseIds: K touchpoints,
/// then Q resource services, Q resource abandonments, then the referrals (arrivals they made).
enum Cause : std::int16_t { kCauseExit = 0, kCauseArrival = 1, kCauseTouchpoint = 2 };

/// The cause numbers of a model with K touchpoints, Q resources and J referrals.
struct CauseIds {
  int touchpoints = 0;
  int resources = 0;
  int referrals = 0;
  [[nodiscard]] std::int16_t touchpoint(int k) const {
    return static_cast<std::int16_t>(kCauseTouchpoint + k);
  }
  [[nodiscard]] std::int16_t service(int r) const {
    return static_cast<std::int16_t>(kCauseTouchpoint + touchpoints + r);
  }
  [[nodiscard]] std::int16_t abandon(int r) const {
    return static_cast<std::int16_t>(kCauseTouchpoint + touchpoints + resources + r);
  }
  [[nodiscard]] std::int16_t referral(int j) const {
    return static_cast<std::int16_t>(kCauseTouchpoint + touchpoints + 2 * resources + j);
  }
};

/// Names of every cause in cause-number order: "exit", "arrival", "touchpoint:<name>"...,
/// "service:<resource>"..., "abandon:<resource>"..., "referral:<name>"...
[[nodiscard]] std::vector<std::string> cause_names(const std::vector<std::string>& touchpoint_names,
                                                   const std::vector<std::string>& resource_names,
                                                   const std::vector<std::string>& referral_names);

/// One row of the optional event log. `from` is -1 for an arrival.
struct Event {
  std::int32_t replication = 0;
  std::int64_t customer = 0;
  double time = 0.0;
  std::int16_t from = -1;
  std::int16_t to = 0;
  std::int16_t cause = kCauseExit;
};

/// One landed touchpoint contact (reach succeeded), logged on request: what a CRM's activity log
/// records, used to write synthetic histories (calibration of touchpoint lift).
struct Contact {
  std::int32_t replication = 0;
  std::int64_t customer = 0;
  double time = 0.0;
  std::int16_t touchpoint = 0;
  std::int16_t stage = 0;  ///< the stage the customer was in
};

/// Per-touchpoint tallies of one replication.
struct TouchpointTally {
  double contacts = 0.0;  ///< scheduled contacts made (each costs `cost`)
  double reached = 0.0;   ///< contacts that landed (reach)
  double moves = 0.0;     ///< immediate moves triggered
  double cost = 0.0;      ///< contacts * cost, undiscounted
};

/// Names of the scalar metrics, in the order of ReplicationResult::metrics: the fixed metrics, one
/// "dropoff.<stage>" per stage (customers who left that stage for an absorbing stage other than
/// won), then "resource.<name>.<metric>" for each resource and each ResourceMetric.
/// @param stage_names the model's stages @param resource_names the model's resources
[[nodiscard]] std::vector<std::string> metric_names(
    const std::vector<std::string>& stage_names,
    const std::vector<std::string>& resource_names = {});

/// Per-resource metrics, in this order after the dropoffs (see resource_metric_names()).
enum ResourceMetric : int {
  kJoined = 0,     ///< customers who joined the queue before the horizon
  kServed,         ///< customers whose service started before the horizon
  kAbandoned,      ///< customers who gave up waiting before the horizon
  kWaited,         ///< fraction of joiners who found every server busy (Erlang C's P(wait))
  kWaitMean,       ///< mean wait (join to service start) of the served, days
  kWaitP95,        ///< 95th percentile of those waits
  kQueueTimeMean,  ///< mean time in queue of all who left it (served or gave up), days
  kQueueMean,      ///< time-averaged number waiting over [0, horizon]
  kUtilisation,    ///< busy server-days / staffed server-days over [0, horizon]
  kStaffCost,      ///< cost_per_server_day * staffed server-days (undiscounted)
  kNumResourceMetrics
};

/// "joined", "served", ... in ResourceMetric order.
[[nodiscard]] const std::vector<std::string>& resource_metric_names();

/// Indices of the fixed metrics in ReplicationResult::metrics.
enum Metric : int {
  kCustomers = 0,      ///< customers simulated (initial cohort + arrivals before the horizon)
  kConversions,        ///< customers who entered the won stage before the horizon
  kConversionRate,     ///< conversions / customers
  kTimeToConvertMean,  ///< days from first appearance to first entry into won (NaN if none)
  kTimeToConvertMedian,
  kRevenue,         ///< undiscounted: stage revenue over time + one-off values
  kTouchpointCost,  ///< undiscounted; includes resources' staffing cost
  kDiscountedRevenue,
  kDiscountedCost,
  kNetValue,            ///< discounted revenue - discounted cost
  kValuePerConversion,  ///< net value / conversions (NaN if none)
  kCostPerConversion,   ///< touchpoint cost / conversions (NaN if none)
  kTransitions,         ///< stage moves (arrivals not counted)
  kReferrals,           ///< customers brought in by referrals before the horizon
  kNumFixedMetrics
};

/// Per-customer outcomes of one replication, in the engine's customer order (increasing customer
/// key), asked for by paired comparisons to find who changed outcome between two arms.
struct CustomerOutcomes {
  int touchpoints = 0;                  ///< K
  std::vector<std::uint64_t> customer;  ///< customer keys
  std::vector<std::int32_t> segment;
  std::vector<std::uint8_t> converted;  ///< entered won during the horizon (not already converted)
  std::vector<std::int16_t>
      first_reach;  ///< [n * K] stage where touchpoint k first reached them; -1 never
};

struct ReplicationResult {
  int replication = 0;
  int num_stages = 0;
  int num_reports = 0;
  std::vector<std::int64_t> occupancy;       ///< [T * S] customers per stage at each report time
  std::vector<std::int64_t> transitions;     ///< [S * S] from-major
  std::vector<std::int64_t> reached;         ///< [S] customers who were in the stage at least once
  std::vector<TouchpointTally> touchpoints;  ///< [K]
  std::vector<double> metrics;               ///< [kNumFixedMetrics + S + Q * kNumResourceMetrics]
  int num_resources = 0;
  std::vector<std::int64_t> queue_length;  ///< [T * Q] customers waiting at each report time
  /// [T * Q] mean wait of the services started in (report_times[k-1], report_times[k]]; NaN: none
  std::vector<double> queue_wait;
  std::vector<Event> events;      ///< empty unless the event log was asked for
  std::vector<Contact> contacts;  ///< empty unless the contact log was asked for
};

}  // namespace lcsim
