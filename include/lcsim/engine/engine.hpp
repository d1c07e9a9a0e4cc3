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
  /// ones, and those with one touchpoint; docs/contributing.md) as many customers at a time as a
  /// SIMD vector of this CPU has 64-bit lanes (vector_lane_width()). The results are the same
  /// either way, on every SIMD target (the same draws, counts and order of conversions); false
  /// keeps every customer in the scalar loop (tests compare the two).
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

  /// Whether the vector lanes (SimulationControl::vector_lanes) run more than one customer at a
  /// time on this CPU: a SIMD target (AVX-512, AVX2, SSE4, SSSE3, NEON), not Highway's fallback.
  [[nodiscard]] static bool vector_lanes_available() noexcept;
  /// The SIMD target the vector lanes run on this CPU, Highway's name for it: "AVX3" (AVX-512),
  /// "AVX2", "SSE4", "SSSE3", "NEON", or "SCALAR" / "EMU128" (the portable fallback). Chosen at
  /// run time, the best this CPU runs of those the build compiled.
  [[nodiscard]] static const char* vector_lanes_target() noexcept;
  /// Customers the vector lanes advance at once on this CPU (8 with AVX-512, 4 with AVX2, ...).
  [[nodiscard]] static int vector_lane_width() noexcept;
  /// The SIMD targets this build compiled the vector lanes for, as Highway's target bits (HWY_AVX2,
  /// ... in hwy/targets.h): tests force each in turn with hwy::SetSupportedTargetsForTest.
  [[nodiscard]] static std::int64_t vector_lane_targets() noexcept;

 private:
  const Model& model_;
};

}  // namespace lcsim
