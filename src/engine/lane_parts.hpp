/// @file lane_parts.hpp
/// The scalar parts of the vector lanes (plain_lanes.cpp): what the lanes do lane by lane (a
/// rejected ziggurat draw, the exit of a dwell of another family, a stay with a touchpoint, a
/// report search) and their record buffers. Included by plain_lanes.cpp before Highway's
/// per-target sections, so these functions are compiled once, for the library's baseline, like the
/// scalar engine: every SIMD target calls the very same code for them. Internal to the engine.
#pragma once

#include <array>
#include <boost/random/exponential_distribution.hpp>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "lcsim/model/dwell.hpp"
#include "lcsim/rng/stream.hpp"
#include "plain_lanes.hpp"
#include "report_index.hpp"
#include "touched_stay.hpp"

namespace lcsim::detail::lane_parts {

/// Exp(1) the scalar engine's way (Boost's ziggurat) from a stream standing at `state`; moves
/// `state` past the words it used.
[[gnu::noinline]] inline double exp1_from(std::uint64_t& state) {
  Stream s(state);
  const double x = boost::random::exponential_distribution<double>(1.0)(s);
  state = s.state();
  return x;
}

/// A stay's end from entry t and Exp(1) draw e under a dwell of another family, the scalar engine's
/// way (plain_visit: entry + H^{-1}(e)).
[[gnu::noinline]] inline double exit_from(const Dwell& dwell, double t, double e) {
  return t + dwell.inverse_cumulative_hazard(e);
}

/// What the lanes count and keep of a kTouched stay's contacts (the engine's TouchedHooks, less
/// what the lanes never have: contact logs and outcomes). The customer's stream of the touchpoint
/// is opened on its first draw and kept in the block's arrays between the customer's stays.
struct LaneHooks {
  LaneBlock& out;
  std::uint32_t offset;
  int j;  // LaneCohort::touched index
  Stream& rng;
  bool& opened;
  void contact(const Slot&, const Touchpoint& tp, double when) {
    ++out.touched_counts[static_cast<std::size_t>(j)].contacts;
    if (tp.cost != 0.0) out.paid_scratch.push_back(LanePaid{offset, j, when});
  }
  Stream& stream(TouchpointId) {
    opened = true;
    return rng;
  }
  void reached(const Slot&, const Touchpoint&, double) {
    ++out.touched_counts[static_cast<std::size_t>(j)].reached;
  }
  void moved(const Slot&, const Touchpoint&) {
    ++out.touched_counts[static_cast<std::size_t>(j)].moves;
  }
};

/// The stay of customer `offset` (key `key`) of the block in kTouched stage `st` from `entry`, its
/// exit's Exp(1) draw `target`: the scalar engine's touched_visit() up to the next stage's choice.
[[gnu::noinline]] inline StayEnd touched_stay_of(const LaneCohort& c, const LaneStage& st,
                                                 std::uint32_t offset, std::uint64_t key,
                                                 double entry, double target, LaneBlock& out) {
  const auto j = static_cast<std::size_t>(st.touched);
  const LaneTouchpoint& lt = c.touched[j];
  const Touchpoint& tp = (*c.touchpoints)[static_cast<std::size_t>(lt.id)];
  std::uint8_t& open_bits = out.touched_open[offset];
  std::uint64_t& state = out.touched_state[static_cast<std::size_t>(offset) * kLaneTouchpoints + j];
  const auto bit = static_cast<std::uint8_t>(1U << j);
  bool opened = (open_bits & bit) != 0;
  Stream rng(opened ? state : mix64(lt.base ^ key));
  Slot slot = open_slot(lt.id, tp, entry);
  LaneHooks hooks{out, offset, st.touched, rng, opened};
  std::uint64_t windows = 0;  // window_order: one slot, so only its own windows to order
  const StayEnd end =
      touched_stay(*st.dwell, &slot, 1, *c.touchpoints, entry, target, c.horizon, windows, hooks);
  if (opened) {
    open_bits = static_cast<std::uint8_t>(open_bits | bit);
    state = rng.state();
  }
  return end;
}

/// The touchpoint a kTouched stay's contact moves customers to.
inline StageId touched_move_to(const LaneCohort& c, const LaneStage& st) {
  return (*c.touchpoints)[static_cast<std::size_t>(
                              c.touched[static_cast<std::size_t>(st.touched)].id)]
      .move_to;
}

/// Sorts the block's paid contacts (out.paid_scratch) by customer into out.paid, each customer's
/// in the order they were made (a counting sort: n + contacts steps).
inline void sort_paid(LaneBlock& out, std::uint32_t n) {
  out.paid.resize(out.paid_scratch.size());
  if (out.paid_scratch.empty()) return;
  out.paid_at.assign(static_cast<std::size_t>(n) + 1, 0);
  for (const LanePaid& p : out.paid_scratch) ++out.paid_at[p.offset + 1];
  for (std::uint32_t o = 0; o < n; ++o) out.paid_at[o + 1] += out.paid_at[o];
  for (const LanePaid& p : out.paid_scratch) out.paid[out.paid_at[p.offset]++] = p;
}

/// The report index of a stay ending at t: the first report time at or after t.
inline int report_index_of(const LaneCohort& c, double t) {
  return report_index(c.report_times, c.t_count, c.inv_report_every, t);
}

/// Counts of records (indices into a count array), kept apart from the lanes so that no two lanes
/// ever write one counter at once; added up when full and at the end of the block. Room for a
/// whole vector past kCap: a compressing store may write every lane.
struct Records {
  static constexpr std::size_t kCap = 1024;
  alignas(64) std::array<std::int64_t, kCap + 64> at{};
  std::size_t n = 0;
};

/// v as n zeros (its capacity kept).
inline std::vector<std::int64_t>& zeroed(std::vector<std::int64_t>& v, std::size_t n) {
  v.assign(n, 0);
  return v;
}

/// A count array in copies while a block adds records to it: lane l's records go to copy l %
/// kCopies (the record's index includes the copy's offset, lane_offset()), so records with the
/// same cell (most are) rarely wait for each other through memory; an array too large for 8 copies
/// (many report rows) has one. Past the copies are kSinks cells that records of masked-off lanes go
/// to (sink()), where the target has no cheap way to leave them out; they are never read. The
/// storage is a LaneBlock's, reused from block to block.
class Tally {
 public:
  static constexpr std::size_t kCopies = 8;
  static constexpr std::size_t kSinks = 8;
  Tally(std::int64_t* counts, std::size_t size, std::vector<std::int64_t>& storage)
      : counts_(counts),
        size_(size),
        copies_(size * kCopies <= 32768 ? kCopies : 1),
        storage_(storage) {
    storage_.assign(size * copies_ + kSinks, 0);
  }
  Tally(const Tally&) = delete;
  Tally& operator=(const Tally&) = delete;
  /// Adds the copies into the counts (once, at the end).
  void finish() {
    for (std::size_t c = 0; c < copies_; ++c) {
      for (std::size_t j = 0; j < size_; ++j) counts_[j] += storage_[c * size_ + j];
    }
  }
  /// The offset of lane l's copy.
  [[nodiscard]] std::int64_t lane_offset(std::size_t l) const noexcept {
    return static_cast<std::int64_t>((l % copies_) * size_);
  }
  /// The first of the kSinks cells.
  [[nodiscard]] std::int64_t sink() const noexcept {
    return static_cast<std::int64_t>(size_ * copies_);
  }
  void add(Records& r, std::int64_t delta) {
    std::int64_t* const base = storage_.data();
    const std::size_t n = r.n;  // (a local: the counts' stores cannot change it)
    for (std::size_t i = 0; i < n; ++i) base[r.at[i]] += delta;
    r.n = 0;
  }

 private:
  std::int64_t* counts_;
  std::size_t size_;
  std::size_t copies_;
  std::vector<std::int64_t>& storage_;
};

}  // namespace lcsim::detail::lane_parts
