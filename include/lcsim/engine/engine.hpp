/// @file engine.hpp
/// The simulation engine: one replication of a Model, single-threaded, no I/O.
#pragma once

#include <atomic>
#include <cstdint>

#include "lcsim/engine/replication_result.hpp"
#include "lcsim/model/model.hpp"

namespace lcsim {

/// Optional controls of a simulation; all pointers may be null.
struct SimulationControl {
  bool events = false;                             ///< keep the per-customer event log
  bool contacts = false;                           ///< keep the log of landed touchpoint contacts
  const std::atomic<bool>* cancel = nullptr;       ///< polled every few thousand customers
  std::atomic<std::int64_t>* progress = nullptr;   ///< incremented by customers finished
  std::uint64_t seed_override = 0;                 ///< used instead of model.seed when has_seed
  bool has_seed = false;
  CustomerOutcomes* outcomes = nullptr;            ///< filled with one entry per customer when set
  /// Advance initial groups and arrival streams through the stages the vector lanes take (plain
  /// ones, and those with one touchpoint; docs/contributing.md) eight customers at a time in
  /// AVX-512 registers where the CPU has them. The results are the same either way (the same draws, counts and
  /// order of conversions); false keeps every customer in the scalar loop (tests compare the two).
  bool vector_lanes = true;
  /// When set, increased by the customers that started in the vector lanes (benches and tests
  /// check with it that the lanes ran).
  std::int64_t* vector_lane_customers = nullptr;
  /// When set, increased by the customers the lanes handed back to the scalar loop as they
  /// entered a stage the lanes do not take (tests check with it which stages the lanes ran).
  std::int64_t* vector_lane_handed_back = nullptr;
};

/// Advances each customer on its own through its stages (hazard clock, touchpoints, money) until
/// the horizon or an absorbing stage. A result is a pure function of (model, seed, replication).
class Engine {
 public:
  /// Keeps a reference to `model`, which must outlive the engine.
  explicit Engine(const Model& model) : model_(model) {}
  /// Not from a temporary model: the reference would dangle.
  explicit Engine(Model&&) = delete;

  /// @param replication 0-based replication index (selects the random streams)
  /// @throws Cancelled when control.cancel became true
  [[nodiscard]] ReplicationResult simulate(int replication, const SimulationControl& control = {}) const;

  /// Whether this CPU runs the vector lanes (SimulationControl::vector_lanes): x86-64 with AVX-512.
  [[nodiscard]] static bool vector_lanes_available() noexcept;

 private:
  const Model& model_;
};

}  // namespace lcsim
