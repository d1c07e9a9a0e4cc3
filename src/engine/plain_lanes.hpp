/// @file plain_lanes.hpp
/// Vector lanes for the engine's commonest case: customers of an initial group or an arrival
/// stream moving through plain stages (a dwell, a small next-stage table, no money or referrals;
/// exponential dwells in the registers, other families through their H^{-1} per lane), stages
/// whose one touchpoint is a free calendar contact that can only move the customer (a webinar), and
/// stages with one touchpoint of another kind (costs, after-entry schedules, effect windows),
/// whose stays run lane by lane in scalar code, the scalar engine's touched_stay().
/// As many customers as a SIMD vector has 64-bit lanes advance at once (Google Highway, the best
/// target of this CPU chosen at run time: 8 with AVX-512, 4 with AVX2, 2 with SSE4 or NEON, 1 in
/// the scalar fallback), each with its own stream and exactly the draws the scalar engine makes
/// (Boost's ziggurat for Exp(1), the same alias choice), so the counts are the scalar engine's, bit
/// for bit, on every target. A customer that enters any other kind of stage is handed back
/// (LaneEject) to finish in the scalar engine. Internal to the engine.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lcsim {
class Dwell;
struct Touchpoint;
}  // namespace lcsim

namespace lcsim::detail {

/// The lanes keep a stage's attributes in small tables (and a stage set in a 64-bit word): at most
/// 16 stages.
constexpr int kLaneMaxStages = 16;
/// Report times the lanes take at most (a customer's report row is kept in 24 bits).
constexpr int kLaneMaxReports = 1 << 22;
/// Customers per call of advance_lanes (its conversion array is per customer of the block).
constexpr std::uint32_t kLaneBlock = 16384;
/// Touchpoints a cohort's kTouched stages may have between them (each has a stream per customer).
constexpr int kLaneTouchpoints = 4;

enum class LaneKind : std::uint8_t {
  kPlain,      ///< a dwell, next stage from an inlined table, nothing else on the stay
  kAbsorbing,  ///< absorbing, nothing on the stay
  /// kPlain with the cohort's calendar touchpoint (LaneCohort::tp_*) contacting the customer there
  kCalendarMove,
  /// kPlain (any dwell family) with one other touchpoint (LaneCohort::touched[LaneStage::touched]):
  /// the stay runs lane by lane in scalar code, touched_stay() as in the scalar engine
  kTouched,
  kOther,  ///< anything else: the customer goes back to the scalar engine on entering it
};

struct LaneStage {
  LaneKind kind = LaneKind::kOther;
  double mean = 0.0;  ///< the exponential mean (kPlain); 0: another family, `dwell`
  /// A dwell of another family: the lanes draw E ~ Exp(1) and call its inverse_cumulative_hazard(E)
  /// for each lane in scalar code, as the scalar engine does.
  const Dwell* dwell = nullptr;
  int touched = -1;          ///< kTouched: the stage's touchpoint, an index of LaneCohort::touched
  std::uint32_t next_n = 0;  ///< columns of the alias table (kPlain: 1..8)
  /// Column i: keep_below << 32 | keep << 16 | alias (StageHot::next_stage's table, packed).
  std::array<std::uint64_t, 8> next{};
};

/// A touchpoint of kTouched stages: its id in the model's touchpoints and its stream key's
/// customer-independent part (the customer's stream: mix64(base ^ key)).
struct LaneTouchpoint {
  std::int32_t id = -1;
  std::uint64_t base = 0;
};

/// What the lanes count of a touchpoint (whole numbers: added to the tallies at once).
struct LaneTouchpointCounts {
  std::int64_t contacts = 0;
  std::int64_t reached = 0;
  std::int64_t moves = 0;
};

/// A contact with a cost, made in the lanes: paid by the engine in customer order.
struct LanePaid {
  std::uint32_t offset = 0;  ///< the customer, in the block
  std::int32_t touched = 0;  ///< LaneCohort::touched index
  double when = 0.0;
};

/// A group of customers as the lanes see it (an initial group, or a block of one arrival
/// stream's customers); customer i of a block has key first_key + i.
struct LaneCohort {
  std::array<LaneStage, kLaneMaxStages> stages{};
  int s_count = 0;
  int start = 0;                ///< the group's stage (kPlain)
  int won = -1;                 ///< a first move into it is a conversion (-1: none)
  bool converted = false;       ///< the group starts converted (no conversion to record)
  std::uint64_t path_base = 0;  ///< the customer's path stream key: mix64(path_base ^ key)
  /// Words of the path stream drawn before the first visit (1: the segment, drawn by shares; the
  /// stages the lanes take are then the same in every segment).
  int skip_words = 0;
  double horizon = 0.0;
  const double* report_times = nullptr;
  int t_count = 0;
  double inv_report_every = 0.0;  ///< 1 / Model::report_every
  int entry_k = 0;                ///< report index of day 0
  /// Per customer of the block (arrivals): its entry day and that day's report index. Null: every
  /// customer enters at day 0, report index entry_k.
  const double* entry_t = nullptr;
  const std::int64_t* entry_ks = nullptr;
  // The calendar touchpoint of kCalendarMove stages: contacts on days tp_start + k tp_every
  // (k >= 0), each reaching the customer with probability tp_reach, a reached customer moving to
  // tp_move_to with probability tp_move_p; no cost, no window. Its stream: mix64(tp_base ^ key).
  double tp_start = 0.0;
  double tp_every = 0.0;
  double tp_reach = 0.0;
  double tp_move_p = 0.0;
  int tp_move_to = -1;
  std::uint64_t tp_base = 0;
  // The touchpoints of kTouched stages (none of them the calendar touchpoint above).
  std::array<LaneTouchpoint, kLaneTouchpoints> touched{};
  int touched_count = 0;
  const std::vector<Touchpoint>* touchpoints =
      nullptr;  ///< the model's (kTouched stays look them up)
};

/// A customer handed back to the scalar engine as it enters stage `stage` at time `t`.
struct LaneEject {
  std::uint32_t offset = 0;  ///< in the block
  std::int32_t stage = 0;
  std::int32_t k_from = 0;  ///< report index of the stay that starts now
  bool converted = false;
  double t = 0.0;
  std::uint64_t state = 0;    ///< its path stream's counter (Stream(state) continues it)
  std::uint64_t visited = 0;  ///< bit s: stage s visited (already counted in `reached`)
  bool tp_open = false;       ///< its touchpoint stream was opened (tp_state is where it stands)
  std::uint64_t tp_state = 0;
};

/// What a block leaves besides the counts, and the block's scratch arrays: one LaneBlock serves
/// block after block (and the engine keeps one per thread), so their memory is allocated once.
struct LaneBlock {
  std::vector<double> conversion;   ///< per customer of the block: its conversion time, NaN if none
  std::vector<LaneEject> ejected;   ///< in no particular order
  std::vector<std::uint64_t> keys;  ///< scratch: the block's path stream keys
  std::vector<std::int64_t> occupancy_copies;  ///< scratch: the occupancy counts' copies (Tally)
  std::vector<std::int64_t> move_counts;       ///< scratch: the block's moves, 2 S^2
  std::vector<std::int64_t> move_copies;       ///< scratch: their copies
  std::int64_t tp_contacts = 0;  ///< the calendar touchpoint's contacts, reached and moves
  std::int64_t tp_reached = 0;
  std::int64_t tp_moves = 0;
  // The touchpoints of kTouched stages: their counts, each customer's streams (touched_state[offset
  // * kLaneTouchpoints + j], where bit j of touched_open[offset] says stream j was opened) and the
  // contacts with a cost, sorted by customer (each customer's in time order).
  std::array<LaneTouchpointCounts, kLaneTouchpoints> touched_counts{};
  std::vector<std::uint64_t> touched_state;
  std::vector<std::uint8_t> touched_open;
  std::vector<LanePaid> paid;
  std::vector<LanePaid> paid_scratch;  ///< scratch: paid in the lanes' order
  std::vector<std::uint32_t> paid_at;  ///< scratch: the sort's counts
  std::vector<double> report_times;    ///< scratch: the report times, then never (twice)
  std::vector<std::int64_t> sweep;     ///< scratch: the customers' state between the lanes' passes
};

/// The Highway target the lanes run on this CPU (hwy::TargetName: "AVX3" for AVX-512, "AVX2",
/// "SSE4", "SSSE3", "NEON", "SCALAR" or "EMU128" for the fallback), chosen at the first call; tests
/// may restrict the choice with hwy::SetSupportedTargetsForTest.
[[nodiscard]] const char* lanes_target() noexcept;
/// Customers the lanes advance at once on that target (64-bit lanes of a vector).
[[nodiscard]] std::size_t lanes_width() noexcept;
/// The Highway targets this build compiled the lanes for (a mask of HWY_* target bits).
[[nodiscard]] std::int64_t lanes_compiled_targets() noexcept;

/// Advances customers first_key .. first_key + n - 1 (n <= kLaneBlock) of the cohort from its
/// start stage at their entry day (day 0 unless entry_t), adding to transitions (s_count^2, from * s_count + to), occupancy_diff
/// ((t_count + 1) * s_count, the engine's difference rows) and reached (s_count).
void advance_lanes(const LaneCohort& cohort, std::uint64_t first_key, std::uint32_t n,
                   std::int64_t* transitions, std::int64_t* occupancy_diff, std::int64_t* reached,
                   LaneBlock& out);

}  // namespace lcsim::detail
