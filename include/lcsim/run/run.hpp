/// @file run.hpp
/// A run: R replications of a Model in parallel threads, with a summary over replications.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lcsim/engine/replication_result.hpp"
#include "lcsim/model/model.hpp"
#include "lcsim/run/parameter_draws.hpp"

namespace lcsim {

/// Mean, standard deviation and 95% CI (Student t over replications) of one metric.
/// NaN replications (e.g. time to convert with no conversion) are left out; n counts the others.
struct SummaryRow {
  std::string metric;
  double mean = 0.0;
  double std = 0.0;
  double ci_low = 0.0;
  double ci_high = 0.0;
  std::int64_t n = 0;
};

/// Provenance and labels of a run.
struct RunInfo {
  std::string name;
  std::string scenario_name;
  std::string scenario_text;
  std::string scenario_file;
  std::vector<std::string>
      scenario_extends;           ///< a variant's bases, nearest first (empty: one file)
  std::string scenario_own_text;  ///< a variant's own text (scenario_text is resolved)
  std::uint64_t seed = 0;
  int replications = 0;
  std::string lcsim_version;
  std::string boost_version;
  std::string created;  ///< UTC, ISO 8601
  std::vector<std::string> stage_names;
  std::vector<std::string> segment_names;
  std::vector<std::string> touchpoint_names;
  std::vector<std::string>
      resource_names;  ///< teams with limited capacity (queue arrays' last axis)
  std::vector<std::string> metric_names;
  std::vector<std::string> cause_names;  ///< "exit", "arrival", "touchpoint:<name>", ...
  std::vector<double> report_times;
  std::string won;
};

struct Run {
  RunInfo info;
  std::vector<ReplicationResult> replications;  ///< in replication order
  std::vector<SummaryRow> summary;              ///< one row per metric, in metric order
  bool has_events = false;
  /// Runs with parameter uncertainty: the parameter draw of each replication (the replications
  /// then simulate different parameter values of the scenario in info.scenario_text).
  std::optional<ParameterDraws> parameter_draws;
};

struct RunOptions {
  int replications = 0;       ///< 0: the scenario's
  int first_replication = 0;  ///< replication numbers first_replication, +1, ... (for batches)
  std::uint64_t seed = 0;
  bool has_seed = false;  ///< use `seed` instead of the scenario's
  int threads = 0;        ///< 0: all cores
  /// Customers per part of a replication split over threads (SimulationControl::part_customers;
  /// 0: Engine::kPartCustomers). The threads never change the result; this may, in the last bits
  /// of money sums (tests set it to split small scenarios).
  std::int64_t part_customers = 0;
  bool events = false;
  bool contacts =
      false;         ///< keep landed touchpoint contacts (ReplicationResult::contacts; not stored)
  std::string name;  ///< run name; empty: the scenario's name
  const std::atomic<bool>* cancel = nullptr;
  /// Called from the calling thread about 10 times a second with (customers done, replications done).
  std::function<void(std::int64_t, int)> on_progress;
};

/// Runs the replications on threads, a large replication split into parts of its customers that
/// the threads share (Engine::plan), each replication joined in part order and the replications
/// reduced in replication order: the result is the same bit for bit at any thread count.
/// @throws Cancelled if options.cancel became true; no partial Run is returned
[[nodiscard]] Run simulate(const Model& model, const RunOptions& options = {});

/// A Run of `model` from replication results already simulated (with `seed`), with its summary.
/// @param name run name; empty: the model's name
[[nodiscard]] Run assemble_run(const Model& model, const std::string& name, std::uint64_t seed,
                               std::vector<ReplicationResult> replications, bool has_events);

/// Joins replication batches of one model and seed (e.g. simulated on several machines) into one
/// Run, replications in replication-number order, summary recomputed; equal to simulating them
/// together. @throws InternalError if the batches disagree on model, seed or event logging
[[nodiscard]] Run join_batches(std::vector<Run> batches);

/// The Student-t factor of a 95% confidence interval of a mean of n values (the 0.975 quantile of
/// t with n - 1 degrees of freedom, Boost.Math); NaN when n < 2. Half-width = factor * sd / sqrt(n).
[[nodiscard]] double t95_factor(std::int64_t n);

/// Summary rows over replications (mean, sd, 95% t interval), in metric order.
[[nodiscard]] std::vector<SummaryRow> summarize(const std::vector<std::string>& metric_names,
                                                const std::vector<ReplicationResult>& reps);

}  // namespace lcsim
