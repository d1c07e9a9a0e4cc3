/// @file engine.hpp
/// The simulation engine: one replication of a Model, no I/O and no threads of its own; a large
/// replication splits into parts of its customers (Engine::plan) that run/ puts on threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "lcsim/engine/replication_result.hpp"
#include "lcsim/model/model.hpp"

namespace lcsim {

/// Optional controls of a simulation; all pointers may be null.
struct SimulationControl {
  bool events = false;                            ///< keep the per-customer event log
  bool contacts = false;                          ///< keep the log of landed touchpoint contacts
  const std::atomic<bool>* cancel = nullptr;      ///< polled every few thousand customers
  std::atomic<std::int64_t>* progress = nullptr;  ///< incremented by customers finished
  std::uint64_t seed_override = 0;                ///< used instead of model.seed when has_seed
  bool has_seed = false;
  CustomerOutcomes* outcomes = nullptr;  ///< filled with one entry per customer when set
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
  /// Customers per part when Engine::plan splits a replication (0: Engine::kPartCustomers). Counts,
  /// occupancy, conversions and their times never depend on it; sums of money (revenue, costs) are
  /// added part by part, so they may differ in the last bits between part sizes (never between
  /// thread counts). Tests make it small to split small scenarios.
  std::int64_t part_customers = 0;
};

namespace detail {
struct PlanState;
struct PartState;
}  // namespace detail

/// One replication's customers split into parts (Engine::plan) that can be simulated apart, each
/// on its own thread (Engine::simulate_part), and joined in a fixed order (Engine::join). The split
/// depends only on the model, the seed, the replication and SimulationControl::part_customers,
/// never on the threads, so the joined result is the same at any thread count.
class ReplicationPlan {
 public:
  ReplicationPlan();
  ~ReplicationPlan();
  ReplicationPlan(const ReplicationPlan&);
  ReplicationPlan& operator=(const ReplicationPlan&);
  ReplicationPlan(ReplicationPlan&&) noexcept;
  ReplicationPlan& operator=(ReplicationPlan&&) noexcept;
  /// @return the replication planned
  [[nodiscard]] int replication() const noexcept;
  /// @return how many parts it has (1: simulated whole, as Engine::simulate always did)
  [[nodiscard]] int parts() const noexcept;

 private:
  friend class Engine;
  std::shared_ptr<const detail::PlanState> state_;
};

/// What Engine::simulate_part leaves of one part of a replication, for Engine::join.
class ReplicationPart {
 public:
  ReplicationPart();
  ~ReplicationPart();
  ReplicationPart(ReplicationPart&&) noexcept;
  ReplicationPart& operator=(ReplicationPart&&) noexcept;
  ReplicationPart(const ReplicationPart&) = delete;
  ReplicationPart& operator=(const ReplicationPart&) = delete;

 private:
  friend class Engine;
  std::unique_ptr<detail::PartState> state_;
};

/// Advances each customer on its own through its stages (hazard clock, touchpoints, money) until
/// the horizon or an absorbing stage. A result is a pure function of (model, seed, replication).
class Engine {
 public:
  /// Keeps a reference to `model`, which must outlive the engine.
  explicit Engine(const Model& model) : model_(model) {}
  /// Not from a temporary model: the reference would dangle.
  explicit Engine(Model&&) = delete;

  /// Customers per part of a split replication (SimulationControl::part_customers overrides it).
  static constexpr std::int64_t kPartCustomers = std::int64_t{1} << 17U;

  /// The whole replication on the calling thread: plan(), every part in order, join().
  /// @param replication 0-based replication index (selects the random streams)
  /// @throws Cancelled when control.cancel became true
  [[nodiscard]] ReplicationResult simulate(int replication,
                                           const SimulationControl& control = {}) const;

  /// Splits replication `replication` into parts of about part_customers customers each: ranges
  /// of an initial group's customers and of an arrival stream's (the stream's arrival times are
  /// drawn here, once, to find where each part starts). Customers are independent until they ask a
  /// resource for service: the parts advance them that far, and join() runs the coupled part (the
  /// resources' queue) on the joined state, as one replication always did. A replication with
  /// referrals (customers that make customers), with CustomerOutcomes, with at most part_customers
  /// customers or more than the model's max_customers is one part.
  /// @param control its seed (seed_override) and part_customers are used
  [[nodiscard]] ReplicationPlan plan(int replication, const SimulationControl& control = {}) const;

  /// Simulates part `part` of `plan` (0 <= part < plan.parts()): thread-safe, any thread.
  /// @param control as for simulate(); outcomes are used only by a one-part plan
  /// @throws Cancelled when control.cancel became true
  [[nodiscard]] ReplicationPart simulate_part(const ReplicationPlan& plan, int part,
                                              const SimulationControl& control = {}) const;

  /// The replication from all its parts, given in part order (the order fixes every sum).
  /// @throws InternalError when the parts are not those of `plan`
  /// @throws Cancelled when control.cancel became true (while the resources' queue runs)
  [[nodiscard]] ReplicationResult join(const ReplicationPlan& plan,
                                       std::vector<ReplicationPart> parts,
                                       const SimulationControl& control = {}) const;

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
