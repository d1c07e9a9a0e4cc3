/// @file compare.hpp
/// Paired what-if comparisons: a base and variants simulated with common random numbers (the same
/// seed and replication numbers), differences per replication, and who changed outcome.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lcsim/model/model.hpp"
#include "lcsim/run/run.hpp"

namespace lcsim {

struct CompareOptions {
  int replications = 0;  ///< fixed count (0: the base scenario's); with precision, the first batch
  /// > 0: add batches of `batch` replications until, for every precision metric, the 95% CI
  /// half-width is below precision * |base mean| (of the paired delta, or of each arm's mean when
  /// precision_on_delta is false), or max_replications is reached.
  double precision = 0.0;
  std::vector<std::string> precision_metrics = {"conversions"};
  bool precision_on_delta = true;
  int batch = 10;
  int max_replications = 1000;
  std::uint64_t seed = 0;
  bool has_seed = false;            ///< use `seed` instead of the base scenario's
  int threads = 0;                  ///< 0: all cores
  bool measure_independent = true;  ///< also run each variant on independent streams to measure the
                                    ///< variance reduction that pairing buys
  bool who_changed = true;          ///< per-customer outcomes in both arms
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(std::int64_t, int)> on_progress;
};

/// One metric of one variant against the base, over paired replications.
struct DeltaRow {
  std::string metric;
  double base_mean = 0.0;
  double variant_mean = 0.0;
  double delta = 0.0;  ///< mean of variant - base per replication
  double delta_std = 0.0;
  double ci_low = 0.0;  ///< 95% Student t on the paired differences
  double ci_high = 0.0;
  double lift = 0.0;         ///< delta / base mean (relative change)
  double lift_ci_low = 0.0;  ///< delta method on the paired means
  double lift_ci_high = 0.0;
  /// var(variant on independent streams - base) / var(variant - base): what pairing buys;
  /// NaN when not measured, +inf when the paired differences do not vary.
  double variance_reduction = 0.0;
  std::int64_t n = 0;  ///< replications where both arms have a value
};

/// Customers (summed over replications) by segment and by the stage where a changed touchpoint
/// first reached them ("" = never reached), with their outcome in each arm.
struct ChangeRow {
  std::string segment;
  std::string reached_in;
  std::int64_t customers = 0;
  std::int64_t converted_base = 0;
  std::int64_t converted_variant = 0;
  std::int64_t gained = 0;  ///< converted only in the variant
  std::int64_t lost = 0;    ///< converted only in the base
};

struct VariantComparison {
  Run run;
  std::vector<std::string> changed_touchpoints;  ///< added, removed or redefined vs the base
  std::vector<DeltaRow> deltas;                  ///< metrics both arms have, in the base's order
  std::vector<ChangeRow> changes;                ///< empty unless who_changed
  std::string verdict;                           ///< one plain line
};

struct Comparison {
  Run base;
  std::vector<VariantComparison> variants;
  int replications = 0;       ///< per arm
  double precision = 0.0;     ///< the target asked for (0: fixed count)
  bool precision_met = true;  ///< false when max_replications stopped the batches first
  std::vector<std::string> precision_metrics;
};

/// Simulates base and variants with common random numbers and compares each variant with the base.
/// @throws InputError for unknown precision metrics or bad options; Cancelled
[[nodiscard]] Comparison compare(const Model& base, const std::vector<const Model*>& variants,
                                 const CompareOptions& options = {});

/// Paired differences of every metric the two runs share (replications matched by number).
/// @param independent optional: the variant on independent streams, for the variance reduction
[[nodiscard]] std::vector<DeltaRow> paired_deltas(const Run& base, const Run& variant,
                                                  const Run* independent = nullptr);

/// The one-line verdict for a variant, per replication: led by the first of customers won, revenue,
/// touchpoint and staff cost whose 95% CI excludes 0 (with that CI), then the cost, the cost per extra
/// customer won and the discounted net value with its CI.
[[nodiscard]] std::string verdict(const std::string& name, const std::vector<DeltaRow>& deltas);

}  // namespace lcsim
