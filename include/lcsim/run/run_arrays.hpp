/// @file run_arrays.hpp
/// A run's per-replication results packed into contiguous, replication-major arrays: the shape in
/// which they are stored (HDF5) and handed to numpy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lcsim/run/run.hpp"

namespace lcsim {

/// Arrays with replication as the leading axis; R = replications, T = report times, S = stages,
/// K = touchpoints, M = metrics, Q = resources (teams with limited capacity; may be 0).
struct RunArrays {
  std::size_t replications = 0;
  std::size_t reports = 0;
  std::size_t stages = 0;
  std::size_t touchpoints = 0;
  std::size_t metrics = 0;
  std::size_t resources = 0;
  std::vector<std::int32_t> replication;   ///< [R] replication numbers
  std::vector<std::int64_t> occupancy;     ///< [R, T, S]
  std::vector<std::int64_t> transitions;   ///< [R, S, S]
  std::vector<std::int64_t> reached;       ///< [R, S]
  std::vector<double> touchpoint_tallies;  ///< [R, K, 4]: contacts, reached, moves, cost
  std::vector<double> metric_values;       ///< [R, M]
  std::vector<std::int64_t> queue_length;  ///< [R, T, Q] customers waiting at each report time
  std::vector<double>
      queue_wait;  ///< [R, T, Q] mean wait of services started in the period; NaN none
};

/// The event log as columns, in replication order.
struct EventColumns {
  std::vector<std::int32_t> replication;
  std::vector<std::int64_t> customer;
  std::vector<double> time;
  std::vector<std::int16_t> from;
  std::vector<std::int16_t> to;
  std::vector<std::int16_t> cause;
};

/// Packs the replications of `run`. @throws InternalError if replications disagree in shape
[[nodiscard]] RunArrays pack(const Run& run);

/// Packs the event logs of every replication.
[[nodiscard]] EventColumns event_columns(const Run& run);

/// The inverse of pack() and event_columns(): a Run with `info`, its replications rebuilt from the
/// arrays (events distributed by their replication number) and the summary recomputed. Used to join
/// replication batches simulated elsewhere (Dask workers) into one Run.
/// @throws InternalError if the arrays do not match the sizes in `arrays` and `info`
[[nodiscard]] Run unpack(RunInfo info, const RunArrays& arrays, const EventColumns* events);

}  // namespace lcsim
