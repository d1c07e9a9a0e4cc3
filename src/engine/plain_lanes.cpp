// Vector lanes for plain initial groups (plain_lanes.hpp). Built for baseline x86-64 like the rest
// of the library: only the kernel (LaneKernel's members and advance_lanes_avx512(), marked
// LCSIM_AVX512) is compiled for AVX-512, and the engine calls it only when lanes_available() says
// the CPU runs it. The file (like the whole engine) is compiled with
// -ffp-contract=off, so t + mean * x is a multiply and an add here as in the scalar engine.
#include "plain_lanes.hpp"
#include "report_index.hpp"
#include "touched_stay.hpp"

#include <algorithm>
#include <boost/random/exponential_distribution.hpp>
#include <cmath>
#include <limits>

#include "lcsim/model/dwell.hpp"
#include "lcsim/rng/stream.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12's AVX-512 headers start many intrinsics from _mm512_undefined_*() (`__Y = __Y`), which
// -Wmaybe-uninitialized reports at every use once inlined (a known false positive of GCC 12).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define LCSIM_LANES_X86 1
#endif

namespace lcsim::detail {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// Exp(1) the scalar engine's way (Boost's ziggurat) from a stream standing at `state`; moves
/// `state` past the words it used. Compiled for baseline x86-64 (no FMA), as in the engine.
[[gnu::noinline]] double exp1_from(std::uint64_t& state) {
  Stream s(state);
  const double x = boost::random::exponential_distribution<double>(1.0)(s);
  state = s.state();
  return x;
}

/// A stay's end from entry t and Exp(1) draw e under a dwell of another family, the scalar engine's
/// way (plain_visit: entry + H^{-1}(e)). Compiled for baseline x86-64 like the engine.
[[gnu::noinline]] double exit_from(const Dwell& dwell, double t, double e) {
  return t + dwell.inverse_cumulative_hazard(e);
}

/// What the lanes count and keep of a kTouched stay's contacts (the engine's TouchedHooks, less
/// what the lanes never have: contact logs and outcomes). The customer's stream of the touchpoint
/// is opened on its first draw and kept in the block's arrays between the customer's stays.
struct LaneHooks {
  LaneBlock& out;
  std::uint32_t offset;
  int j;                  // LaneCohort::touched index
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
  void reached(const Slot&, const Touchpoint&, double) { ++out.touched_counts[static_cast<std::size_t>(j)].reached; }
  void moved(const Slot&, const Touchpoint&) { ++out.touched_counts[static_cast<std::size_t>(j)].moves; }
};

/// The stay of customer `offset` (key `key`) of the block in kTouched stage `st` from `entry`, its
/// exit's Exp(1) draw `target`: the scalar engine's touched_visit() up to the next stage's choice.
/// Compiled for baseline x86-64 like the engine.
[[gnu::noinline]] StayEnd touched_stay_of(const LaneCohort& c, const LaneStage& st, std::uint32_t offset,
                                          std::uint64_t key, double entry, double target, LaneBlock& out) {
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
  const StayEnd end = touched_stay(*st.dwell, &slot, 1, *c.touchpoints, entry, target, c.horizon, windows, hooks);
  if (opened) {
    open_bits = static_cast<std::uint8_t>(open_bits | bit);
    state = rng.state();
  }
  return end;
}

/// Sorts the block's paid contacts (out.paid_scratch) by customer into out.paid, each customer's
/// in the order they were made (a counting sort: n + contacts steps).
void sort_paid(LaneBlock& out, std::uint32_t n) {
  out.paid.resize(out.paid_scratch.size());
  if (out.paid_scratch.empty()) return;
  out.paid_at.assign(static_cast<std::size_t>(n) + 1, 0);
  for (const LanePaid& p : out.paid_scratch) ++out.paid_at[p.offset + 1];
  for (std::uint32_t o = 0; o < n; ++o) out.paid_at[o + 1] += out.paid_at[o];
  for (const LanePaid& p : out.paid_scratch) out.paid[out.paid_at[p.offset]++] = p;
}

/// The report index of a stay ending at t: the first report time at or after t.
int report_index(const LaneCohort& c, double t) {
  return detail::report_index(c.report_times, c.t_count, c.inv_report_every, t);
}

/// Counts of records (indices into a count array), kept apart from the lanes so that no two lanes
/// ever write one counter at once; added up when full and at the end of the block.
struct Records {
  static constexpr std::size_t kCap = 1024;
  alignas(64) std::array<std::int64_t, kCap + 8> at{};
  std::size_t n = 0;
};

/// v as n zeros (its capacity kept).
inline std::vector<std::int64_t>& zeroed(std::vector<std::int64_t>& v, std::size_t n) {
  v.assign(n, 0);
  return v;
}

/// A count array in kCopies copies while a block adds records to it: lane l's records go to copy
/// l % kCopies (the record's index includes the copy's offset, lane_offset()), so records with the
/// same cell (most are) rarely wait for each other through memory. Large arrays (many report rows)
/// are counted in place. The copies live in `storage` (a LaneBlock's, reused from block to block).
class Tally {
 public:
  static constexpr std::size_t kCopies = 8;
  Tally(std::int64_t* counts, std::size_t size, std::vector<std::int64_t>& storage)
      : counts_(counts), size_(size), copies_(storage) {
    copies_.assign(size * kCopies <= 32768 ? size * kCopies : 0, 0);
    base_ = copies_.empty() ? counts : copies_.data();
  }
  Tally(const Tally&) = delete;
  Tally& operator=(const Tally&) = delete;
  /// Adds the copies into the counts (once, at the end).
  void finish() {
    for (std::size_t c = 0; c < kCopies && !copies_.empty(); ++c) {
      for (std::size_t j = 0; j < size_; ++j) counts_[j] += copies_[c * size_ + j];
    }
  }
  /// The offset of lane l's copy.
  [[nodiscard]] std::int64_t lane_offset(std::size_t l) const noexcept {
    return copies_.empty() ? 0 : static_cast<std::int64_t>((l % kCopies) * size_);
  }
  void add(Records& r, std::int64_t delta) {
    for (std::size_t i = 0; i < r.n; ++i) base_[r.at[i]] += delta;
    r.n = 0;
  }

 private:
  std::int64_t* counts_;
  std::size_t size_;
  std::vector<std::int64_t>& copies_;
  std::int64_t* base_ = nullptr;
};

}  // namespace

#ifdef LCSIM_LANES_X86

#define LCSIM_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx512cd,popcnt,bmi,bmi2")))
#define LCSIM_AVX512_INLINE LCSIM_AVX512 __attribute__((always_inline)) inline

namespace {

/// x * c mod 2^64 from three 32 x 32 -> 64-bit multiplies: a shorter dependency chain than
/// AVX-512DQ's vpmullq (about 9 cycles against 15 on Intel cores).
template <std::uint64_t C>
LCSIM_AVX512_INLINE __m512i mul64v(__m512i x) {
  const __m512i lo = _mm512_set1_epi64(static_cast<long long>(C & 0xffffffffULL));
  const __m512i hi = _mm512_set1_epi64(static_cast<long long>(C >> 32U));
  const __m512i cross = _mm512_add_epi64(_mm512_mul_epu32(_mm512_srli_epi64(x, 32), lo), _mm512_mul_epu32(x, hi));
  return _mm512_add_epi64(_mm512_mul_epu32(x, lo), _mm512_slli_epi64(cross, 32));
}

LCSIM_AVX512_INLINE __m512i mix64v(__m512i x) {
  x = _mm512_xor_si512(x, _mm512_srli_epi64(x, 30));
  x = mul64v<0xbf58476d1ce4e5b9ULL>(x);
  x = _mm512_xor_si512(x, _mm512_srli_epi64(x, 27));
  x = mul64v<0x94d049bb133111ebULL>(x);
  return _mm512_xor_si512(x, _mm512_srli_epi64(x, 31));
}

/// Appends the lanes of `v` selected by m to r (r has room for 8 more).
LCSIM_AVX512_INLINE void append(Records& r, __mmask8 m, __m512i v) {
  _mm512_storeu_si512(r.at.data() + r.n, _mm512_maskz_compress_epi64(m, v));
  r.n += static_cast<std::size_t>(__builtin_popcount(m));
}

/// v with lane l set to x. The lane-by-lane paths (scalar calls for a few lanes) put their results
/// in registers this way, not through memory: eight scalar stores read back as one vector wait
/// until the stores have left the core (a failed store-to-load forward, some 20 cycles).
LCSIM_AVX512_INLINE __m512d with_lane(__m512d v, unsigned l, double x) {
  return _mm512_mask_broadcastsd_pd(v, static_cast<__mmask8>(1U << l), _mm_set_sd(x));
}
LCSIM_AVX512_INLINE __m512i with_lane(__m512i v, unsigned l, std::int64_t x) {
  return _mm512_mask_set1_epi64(v, static_cast<__mmask8>(1U << l), static_cast<long long>(x));
}

/// Eight customers in registers, each about to visit `stage`, entered at t.
struct Lanes {
  __m512i state;        // path stream counters
  __m512i stage;
  __m512i k_from;       // report index of the stay that starts now
  __m512i visited;      // bit s: stage s visited
  __m512i offset;       // customer in the block
  __m512d t;
  __m512d next_report;  // report_times[k_from], or never
  __m512i tp_state;     // touchpoint stream counters (where tp_open)
  __mmask8 converted;
  __mmask8 active;
  __mmask8 tp_open;
};

/// One block of one cohort: constants, record buffers and the customers not yet in lanes.
/// Two groups of lanes advance in turn (step()): their dependency chains (a mix, a gather, a
/// compare per visit) are independent, so the core overlaps them.
class LaneKernel {
 public:
  LCSIM_AVX512 LaneKernel(const LaneCohort& c, std::uint64_t first_key, std::uint32_t n, std::int64_t* transitions,
                          std::int64_t* occupancy_diff, std::int64_t* reached, LaneBlock& out)
      : c_(c), first_key_(first_key), n_(n), S_(c.s_count), T_(c.t_count), reached_(reached), out_(out),
        occupancy_(occupancy_diff, static_cast<std::size_t>((c.t_count + 1) * c.s_count), out.occupancy_copies),
        transitions_(transitions), move_counts_(zeroed(out.move_counts, static_cast<std::size_t>(2 * c.s_count * c.s_count))),
        moved_(move_counts_.data(), move_counts_.size(), out.move_copies) {
    alignas(64) std::array<double, 16> mean{};
    alignas(64) std::array<std::int64_t, 16> kind{};
    alignas(64) std::array<std::int64_t, 16> next_n{};
    for (int s = 0; s < 16; ++s) {
      const auto i = static_cast<std::size_t>(s);
      const LaneStage& st = c.stages[i];
      kind[i] = static_cast<std::int64_t>(s < S_ ? st.kind : LaneKind::kOther);
      mean[i] = s < S_ ? st.mean : 0.0;
      next_n[i] = s < S_ ? st.next_n : 0;
      dwell_[i] = s < S_ ? st.dwell : nullptr;
      other_families_ = other_families_ || dwell_[i] != nullptr;
      for (std::size_t j = 0; j < 8; ++j) next_[i * 8 + j] = s < S_ ? st.next[j] : 0;
    }
    mean_lo_ = _mm512_load_pd(mean.data());
    mean_hi_ = _mm512_load_pd(mean.data() + 8);
    kind_lo_ = _mm512_load_si512(kind.data());
    kind_hi_ = _mm512_load_si512(kind.data() + 8);
    nn_lo_ = _mm512_load_si512(next_n.data());
    nn_hi_ = _mm512_load_si512(next_n.data() + 8);
    alignas(64) std::array<std::int64_t, 8> occ_off{};
    alignas(64) std::array<std::int64_t, 8> moved_off{};
    for (std::size_t l = 0; l < 8; ++l) {
      occ_off[l] = occupancy_.lane_offset(l);
      moved_off[l] = moved_.lane_offset(l);
    }
    occ_lane_ = _mm512_load_si512(occ_off.data());
    moved_lane_ = _mm512_load_si512(moved_off.data());
    alignas(64) std::array<double, 16> rt{};
    for (int k = 0; k < 16; ++k) rt[static_cast<std::size_t>(k)] = k < T_ ? c.report_times[k] : kInf;
    rt_lo_ = _mm512_load_pd(rt.data());
    rt_hi_ = _mm512_load_pd(rt.data() + 8);
    few_reports_ = T_ < 16;
    entry_nrt_ = _mm512_set1_pd(c.entry_k < T_ ? c.report_times[c.entry_k] : kInf);

    // Every customer's path stream key, eight at a time, off the lanes' dependency chains.
    const __m512i base = _mm512_set1_epi64(static_cast<long long>(c.path_base));
    const __m512i iota = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    out.keys.resize(n + 8);
    keys_ = out.keys.data();
    const __m512i skip = _mm512_set1_epi64(static_cast<long long>(kGolden * static_cast<std::uint64_t>(c.skip_words)));
    for (std::uint32_t i = 0; i < n; i += 8) {
      const __m512i key = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(first_key + i)), iota);
      _mm512_storeu_si512(keys_ + i, _mm512_add_epi64(mix64v(_mm512_xor_si512(base, key)), skip));
    }
    out.conversion.assign(n, std::numeric_limits<double>::quiet_NaN());
    out.ejected.clear();
    out.tp_contacts = out.tp_reached = out.tp_moves = 0;
    out.touched_counts = {};
    out.paid_scratch.clear();
    out.paid.clear();
    if (c.touched_count > 0) {
      out.touched_open.assign(n, 0);
      out.touched_state.resize(static_cast<std::size_t>(n) * kLaneTouchpoints);
    }
  }

  LCSIM_AVX512 void run() {
    Lanes a = empty();
    Lanes b = empty();
    for (;;) {
      step(a);
      step(b);
      if (a.active == 0 && b.active == 0 && next_offset_ >= n_) break;
      if (plus_.n > Records::kCap - 80 || minus_.n > Records::kCap - 32 || moves_.n > Records::kCap - 32) flush();
    }
    flush();
    occupancy_.finish();
    moved_.finish();
    sort_paid(out_, n_);
    // Moves, by whether they were the customer's first visit of the stage moved to (the second
    // half): every customer visits the cohort's stage first, then reached counts first visits.
    const std::size_t pairs = static_cast<std::size_t>(S_) * static_cast<std::size_t>(S_);
    reached_[c_.start] += n_;
    for (std::size_t ft = 0; ft < pairs; ++ft) {
      transitions_[ft] += move_counts_[ft] + move_counts_[pairs + ft];
      reached_[ft % static_cast<std::size_t>(S_)] += move_counts_[pairs + ft];
    }
  }

 private:
  LCSIM_AVX512_INLINE Lanes empty() const {
    const __m512i zero = _mm512_setzero_si512();
    return Lanes{zero, zero, zero, zero, zero, _mm512_setzero_pd(), _mm512_setzero_pd(), zero, 0, 0, 0};
  }

  LCSIM_AVX512_INLINE void flush() {
    occupancy_.add(plus_, 1);
    occupancy_.add(minus_, -1);
    moved_.add(moves_, 1);
  }

  /// Free lanes take the next customers; then every lane makes one visit.
  LCSIM_AVX512_INLINE void step(Lanes& L) {
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i golden = _mm512_set1_epi64(static_cast<long long>(kGolden));
    const __m512i s_count = _mm512_set1_epi64(S_);
    const __m512i t_count = _mm512_set1_epi64(T_);

    __mmask8 free = static_cast<__mmask8>(~L.active);
    if (free != 0 && next_offset_ < n_) {
      const std::uint32_t left = n_ - next_offset_;
      if (left < 8) free = static_cast<__mmask8>(_pdep_u32((1U << left) - 1U, free));  // the lowest `left` of them
      const __m512i iota = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
      L.offset = _mm512_mask_expand_epi64(L.offset, free, _mm512_add_epi64(_mm512_set1_epi64(next_offset_), iota));
      L.state = _mm512_mask_expandloadu_epi64(L.state, free, keys_ + next_offset_);
      L.stage = _mm512_mask_mov_epi64(L.stage, free, _mm512_set1_epi64(c_.start));
      L.visited = _mm512_mask_mov_epi64(L.visited, free, _mm512_set1_epi64(1LL << c_.start));
      if (c_.entry_t == nullptr) {
        L.k_from = _mm512_mask_mov_epi64(L.k_from, free, _mm512_set1_epi64(c_.entry_k));
        L.t = _mm512_mask_mov_pd(L.t, free, _mm512_setzero_pd());
        L.next_report = _mm512_mask_mov_pd(L.next_report, free, entry_nrt_);
      } else {  // arrivals: each its own entry day and report row
        L.k_from = _mm512_mask_expandloadu_epi64(L.k_from, free, c_.entry_ks + next_offset_);
        L.t = _mm512_mask_expandloadu_pd(L.t, free, c_.entry_t + next_offset_);
        L.next_report = _mm512_mask_mov_pd(L.next_report, free, report_time(L.k_from, free));
      }
      L.converted = static_cast<__mmask8>(c_.converted ? (L.converted | free) : (L.converted & ~free));
      L.active = static_cast<__mmask8>(L.active | free);
      L.tp_open = static_cast<__mmask8>(L.tp_open & ~free);
      next_offset_ += static_cast<std::uint32_t>(__builtin_popcount(free));
    }
    if (L.active == 0) return;

    const __m512i kd = _mm512_permutex2var_epi64(kind_lo_, L.stage, kind_hi_);
    const __mmask8 touched =
        _mm512_mask_cmpeq_epi64_mask(L.active, kd, _mm512_set1_epi64(static_cast<long long>(LaneKind::kCalendarMove)));
    const __mmask8 by_lane =
        _mm512_mask_cmpeq_epi64_mask(L.active, kd, _mm512_set1_epi64(static_cast<long long>(LaneKind::kTouched)));
    // plain: the lanes that draw a dwell (plain stages and those with touchpoints). No lane is
    // ever at an absorbing stage here: a move into one ends the customer in its step.
    const auto plain = static_cast<__mmask8>(
        _mm512_mask_cmpeq_epi64_mask(L.active, kd, _mm512_set1_epi64(static_cast<long long>(LaneKind::kPlain))) |
        touched | by_lane);
    const auto other = static_cast<__mmask8>(L.active & ~plain);
    if (other != 0) [[unlikely]] eject(L, other);

    // A visit's two words at once (they do not depend on each other): Exp(1) from the first, the
    // next stage from the second. Exp(1) is Boost's ziggurat, its first try here
    // (generate_int_float_pair<double, 8> of a 64-bit word: the low 8 bits pick the layer, bits
    // 8..63 with bit 11 cleared the fraction); a lane it rejects (about 1 draw in 90) finishes
    // the ziggurat in scalar code and takes its second word after the words that used.
    const __m512i state_before = L.state;
    const __m512i w = mix64v(_mm512_add_epi64(L.state, golden));
    const __m512i two_words = _mm512_add_epi64(L.state, _mm512_add_epi64(golden, golden));
    __m512i w2 = mix64v(two_words);
    L.state = _mm512_mask_mov_epi64(L.state, plain, two_words);
    const __m512i layer = _mm512_and_si512(w, _mm512_set1_epi64(0xff));
    const __m512d r = _mm512_mul_pd(
        _mm512_cvtepi64_pd(_mm512_srli_epi64(_mm512_andnot_si512(_mm512_set1_epi64(1LL << 11), w), 8)),
        _mm512_set1_pd(0x1.0p-56));
    const __m512d x_i = _mm512_i64gather_pd(layer, table_x_, 8);
    const __m512d x_next = _mm512_i64gather_pd(layer, table_x_ + 1, 8);
    __m512d e = _mm512_mul_pd(r, x_i);
    const __mmask8 rejected = _mm512_mask_cmp_pd_mask(plain, e, x_next, _CMP_NLT_UQ);
    if (rejected != 0) {
      alignas(64) std::array<std::uint64_t, 8> st{};
      _mm512_store_si512(st.data(), state_before);
      __m512i after = state_before;
      for (unsigned m = rejected; m != 0; m &= m - 1) {
        const auto l = static_cast<unsigned>(__builtin_ctz(m));
        std::uint64_t state = st[l];
        e = with_lane(e, l, exp1_from(state));
        after = with_lane(after, l, static_cast<std::int64_t>(state));
      }
      after = _mm512_add_epi64(after, golden);
      L.state = _mm512_mask_mov_epi64(L.state, rejected, after);
      w2 = _mm512_mask_mov_epi64(w2, rejected, mix64v(after));
    }
    const __m512d mean = _mm512_permutex2var_pd(mean_lo_, L.stage, mean_hi_);
    __m512d exit = _mm512_add_pd(L.t, _mm512_mul_pd(mean, e));
    if (other_families_) [[unlikely]] {
      const __mmask8 other_family =
          _mm512_mask_cmpeq_pd_mask(static_cast<__mmask8>(plain & ~by_lane), mean, _mm512_setzero_pd());
      if (other_family != 0) exit = exits_from_dwells(L.stage, L.t, other_family, e, exit);
    }
    // The stay ends at `exit`, or earlier at a contact that moves the customer (tp_moved, `end`);
    // it reaches the horizon when neither comes before it (`limit`: the earlier of exit and the
    // first contact that did not come before the exit).
    __m512d end = exit;
    __m512d limit = exit;
    __mmask8 tp_moved = 0;
    __m512i move_to = _mm512_set1_epi64(c_.tp_move_to);  // of the lanes tp_moved
    if (touched != 0) tp_moved = contacts(L, touched, exit, end, limit);
    if (by_lane != 0) {
      const ByLane b = touched_stays(L.stage, L.t, L.offset, by_lane, e);
      end = _mm512_mask_mov_pd(end, by_lane, b.end);
      limit = _mm512_mask_mov_pd(limit, by_lane, b.limit);
      move_to = _mm512_mask_mov_epi64(move_to, b.moved, b.move_to);
      tp_moved = static_cast<__mmask8>(tp_moved | b.moved);
    }
    const __mmask8 at_horizon = _mm512_mask_cmp_pd_mask(static_cast<__mmask8>(plain & ~tp_moved), limit,
                                                        _mm512_set1_pd(c_.horizon), _CMP_GE_OQ);
    const auto moving = static_cast<__mmask8>(plain & ~at_horizon);

    // The last stay (still there at the horizon): up at its first report row (the scalar engine
    // also takes one off the row past the last report, which is never read).
    const __m512i row_cell = occupancy_cell(L.k_from, L.stage);
    append(plus_, _mm512_mask_cmplt_epi64_mask(at_horizon, L.k_from, t_count), row_cell);

    // A stay that passes a report time: up at its first report row, down at the row after its end.
    const __mmask8 crossing = _mm512_mask_cmp_pd_mask(moving, end, L.next_report, _CMP_GT_OQ);
    if (crossing != 0) {
      const __m512i after = _mm512_add_epi64(L.k_from, one);
      const __m512d t_after = report_time(after, crossing);
      const __mmask8 fits = _mm512_mask_cmp_pd_mask(crossing, end, t_after, _CMP_LE_OQ);
      __m512i k_to = _mm512_mask_mov_epi64(t_count, fits, after);
      const auto search = static_cast<__mmask8>(crossing & ~fits);
      if (search != 0) k_to = search_reports(k_to, end, search);
      append(plus_, crossing, row_cell);
      const __mmask8 reported = _mm512_mask_cmplt_epi64_mask(crossing, k_to, t_count);
      append(minus_, reported, occupancy_cell(k_to, L.stage));
      L.k_from = _mm512_mask_mov_epi64(L.k_from, crossing, k_to);
      L.next_report = _mm512_mask_mov_pd(L.next_report, crossing, report_time(k_to, crossing));
    }

    // The next stage: the alias table's column from the high 32 bits, keep or alias by the low 32.
    const __m512i nn = _mm512_permutex2var_epi64(nn_lo_, L.stage, nn_hi_);
    const __m512i column = _mm512_srli_epi64(_mm512_mul_epu32(_mm512_srli_epi64(w2, 32), nn), 32);
    // (gathered for every lane: the column is in the table for any stage, and the mask would put
    // the exit's comparison on the lanes' critical path)
    const __m512i cell = _mm512_i64gather_epi64(_mm512_add_epi64(_mm512_slli_epi64(L.stage, 3), column), next_.data(), 8);
    const __mmask8 kept =
        _mm512_cmplt_epu64_mask(_mm512_and_si512(w2, _mm512_set1_epi64(0xffffffffLL)), _mm512_srli_epi64(cell, 32));
    const __m512i low16 = _mm512_set1_epi64(0xffff);
    __m512i to =
        _mm512_mask_mov_epi64(_mm512_and_si512(cell, low16), kept, _mm512_and_si512(_mm512_srli_epi64(cell, 16), low16));
    if (tp_moved != 0) {  // moved by the touchpoint: no next-stage word was drawn
      to = _mm512_mask_mov_epi64(to, tp_moved, move_to);
      L.state = _mm512_mask_sub_epi64(L.state, tp_moved, L.state, golden);
    }
    // The move, in the second half of the move counts when it is the first visit of `to`.
    const __m512i to_bit = _mm512_sllv_epi64(one, to);
    const __mmask8 again = _mm512_mask_test_epi64_mask(moving, L.visited, to_bit);
    L.visited = _mm512_mask_or_epi64(L.visited, moving, L.visited, to_bit);
    const __m512i move_cell = _mm512_add_epi64(_mm512_add_epi64(_mm512_mul_epu32(L.stage, s_count), to), moved_lane_);
    append(moves_, moving,
           _mm512_mask_add_epi64(move_cell, static_cast<__mmask8>(moving & ~again), move_cell, _mm512_set1_epi64(S_ * S_)));
    // A move into an absorbing stage ends the customer here: its last stay, from `end` on.
    const __mmask8 absorbed = _mm512_mask_cmpeq_epi64_mask(
        moving, _mm512_permutex2var_epi64(kind_lo_, to, kind_hi_),
        _mm512_set1_epi64(static_cast<long long>(LaneKind::kAbsorbing)));
    append(plus_, _mm512_mask_cmplt_epi64_mask(absorbed, L.k_from, t_count), occupancy_cell(L.k_from, to));
    const __mmask8 converts = _mm512_mask_cmpeq_epi64_mask(static_cast<__mmask8>(moving & ~L.converted), to,
                                                           _mm512_set1_epi64(c_.won));
    if (converts != 0) {
      _mm512_mask_i64scatter_pd(out_.conversion.data(), converts, L.offset, end, 8);
      L.converted = static_cast<__mmask8>(L.converted | converts);
    }
    L.stage = _mm512_mask_mov_epi64(L.stage, moving, to);
    L.t = _mm512_mask_mov_pd(L.t, moving, end);

    L.active = static_cast<__mmask8>(L.active & ~(at_horizon | other | absorbed));
  }

  /// report_times[k] for lanes `which` (infinity past the last report).
  LCSIM_AVX512_INLINE __m512d report_time(__m512i k, __mmask8 which) const {
    const __m512d inf = _mm512_set1_pd(kInf);
    if (few_reports_) return _mm512_permutex2var_pd(rt_lo_, k, rt_hi_);  // rt_ is inf past T
    return _mm512_mask_i64gather_pd(inf, _mm512_mask_cmplt_epi64_mask(which, k, _mm512_set1_epi64(T_)), k,
                                    c_.report_times, 8);
  }

  /// The record of occupancy row k, stage s, in the lane's copy.
  LCSIM_AVX512_INLINE __m512i occupancy_cell(__m512i k, __m512i s) const {
    return _mm512_add_epi64(_mm512_add_epi64(_mm512_mul_epu32(k, _mm512_set1_epi64(S_)), s), occ_lane_);
  }

  /// The calendar touchpoint's first contact day at or after `at` for lanes `which`, and its index
  /// k (day = start + k every): Schedule::next_calendar's arithmetic (the floor of a quotient, then
  /// a step or two).
  LCSIM_AVX512_INLINE __m512d first_contact(__m512d at, __mmask8 which, __m512d& k) const {
    const __m512d start = _mm512_set1_pd(c_.tp_start);
    const __m512d every = _mm512_set1_pd(c_.tp_every);
    k = _mm512_roundscale_pd(_mm512_div_pd(_mm512_sub_pd(at, start), every), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    k = _mm512_mask_mov_pd(k, _mm512_cmp_pd_mask(at, start, _CMP_LE_OQ), _mm512_setzero_pd());
    __m512d t = _mm512_add_pd(start, _mm512_mul_pd(k, every));
    return step_to<false>(t, k, at, which);
  }

  /// The contact after day c (= start + k every) for lanes `which`: next_calendar(c, strict), which
  /// is start + (k + 1) every (the loop only guards against a step lost to rounding).
  LCSIM_AVX512_INLINE __m512d next_contact(__m512d c, __mmask8 which, __m512d& k) const {
    k = _mm512_mask_add_pd(k, which, k, _mm512_set1_pd(1.0));
    const __m512d t = _mm512_add_pd(_mm512_set1_pd(c_.tp_start), _mm512_mul_pd(k, _mm512_set1_pd(c_.tp_every)));
    return step_to<true>(t, k, c, which);
  }

  /// Steps lanes `which` whose day t is before `at` (not after it when Strict) along the grid
  /// until it is not.
  template <bool Strict>
  LCSIM_AVX512_INLINE __m512d step_to(__m512d t, __m512d& k, __m512d at, __mmask8 which) const {
    for (;;) {
      const __mmask8 behind = _mm512_mask_cmp_pd_mask(which, t, at, Strict ? _CMP_LE_OQ : _CMP_LT_OQ);
      if (behind == 0) return t;
      k = _mm512_mask_add_pd(k, behind, k, _mm512_set1_pd(1.0));
      t = _mm512_mask_mov_pd(t, behind, _mm512_add_pd(_mm512_set1_pd(c_.tp_start),
                                                       _mm512_mul_pd(k, _mm512_set1_pd(c_.tp_every))));
    }
  }

  /// The contacts of the calendar touchpoint during the stays of lanes `touched` (touched_visit()
  /// with one such touchpoint): each contact before the exit and the horizon draws reach, and a
  /// reached customer the move (the two words are made at once; a customer not reached uses one).
  /// Returns the lanes it moved, with `end` their contact day.
  LCSIM_AVX512_INLINE __mmask8 contacts(Lanes& L, __mmask8 touched, __m512d exit, __m512d& end, __m512d& limit) {
    const __m512i golden = _mm512_set1_epi64(static_cast<long long>(kGolden));
    const __m512d horizon = _mm512_set1_pd(c_.horizon);
    const __m512d two_m53 = _mm512_set1_pd(0x1.0p-53);
    __m512d k;
    __m512d c = first_contact(L.t, touched, k);
    __mmask8 pending = _mm512_mask_cmp_pd_mask(_mm512_mask_cmp_pd_mask(touched, c, exit, _CMP_LT_OQ), c, horizon,
                                               _CMP_LT_OQ);
    __mmask8 moved = 0;
    while (pending != 0) {
      const auto opening = static_cast<__mmask8>(pending & ~L.tp_open);
      if (opening != 0) {
        const __m512i key = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(first_key_)), L.offset);
        L.tp_state = _mm512_mask_mov_epi64(
            L.tp_state, opening, mix64v(_mm512_xor_si512(_mm512_set1_epi64(static_cast<long long>(c_.tp_base)), key)));
        L.tp_open = static_cast<__mmask8>(L.tp_open | opening);
      }
      out_.tp_contacts += __builtin_popcount(pending);
      const __m512i one_word = _mm512_add_epi64(L.tp_state, golden);
      const __m512i two_words = _mm512_add_epi64(one_word, golden);
      const __m512d u = _mm512_mul_pd(_mm512_cvtepi64_pd(_mm512_srli_epi64(mix64v(one_word), 11)), two_m53);
      const __m512d u2 = _mm512_mul_pd(_mm512_cvtepi64_pd(_mm512_srli_epi64(mix64v(two_words), 11)), two_m53);
      const __mmask8 hit = _mm512_mask_cmp_pd_mask(pending, u, _mm512_set1_pd(c_.tp_reach), _CMP_LT_OQ);
      const __mmask8 move = _mm512_mask_cmp_pd_mask(hit, u2, _mm512_set1_pd(c_.tp_move_p), _CMP_LT_OQ);
      L.tp_state = _mm512_mask_mov_epi64(_mm512_mask_mov_epi64(L.tp_state, pending, one_word), hit, two_words);
      out_.tp_reached += __builtin_popcount(hit);
      out_.tp_moves += __builtin_popcount(move);
      moved = static_cast<__mmask8>(moved | move);
      end = _mm512_mask_mov_pd(end, move, c);
      pending = static_cast<__mmask8>(pending & ~move);
      c = next_contact(c, pending, k);
      pending = _mm512_mask_cmp_pd_mask(_mm512_mask_cmp_pd_mask(pending, c, exit, _CMP_LT_OQ), c, horizon, _CMP_LT_OQ);
    }
    limit = _mm512_mask_mov_pd(limit, touched, _mm512_min_pd(c, exit));
    return moved;
  }

  /// Lanes `which` go back to the scalar engine as they enter their stage.
  LCSIM_AVX512_INLINE void eject(const Lanes& L, __mmask8 which) {
    alignas(64) std::array<std::uint64_t, 8> state{};
    alignas(64) std::array<std::int64_t, 8> stage{};
    alignas(64) std::array<std::int64_t, 8> k_from{};
    alignas(64) std::array<std::int64_t, 8> offset{};
    alignas(64) std::array<std::uint64_t, 8> visited{};
    alignas(64) std::array<double, 8> t{};
    _mm512_store_si512(state.data(), L.state);
    _mm512_store_si512(stage.data(), L.stage);
    _mm512_store_si512(k_from.data(), L.k_from);
    _mm512_store_si512(offset.data(), L.offset);
    _mm512_store_si512(visited.data(), L.visited);
    alignas(64) std::array<std::uint64_t, 8> tp_state{};
    _mm512_store_pd(t.data(), L.t);
    _mm512_store_si512(tp_state.data(), L.tp_state);
    for (unsigned m = which; m != 0; m &= m - 1) {
      const auto l = static_cast<std::size_t>(__builtin_ctz(m));
      out_.ejected.push_back(LaneEject{static_cast<std::uint32_t>(offset[l]), static_cast<std::int32_t>(stage[l]),
                                       static_cast<std::int32_t>(k_from[l]), ((L.converted >> l) & 1U) != 0, t[l],
                                       state[l], visited[l], ((L.tp_open >> l) & 1U) != 0, tp_state[l]});
    }
  }

  /// The exits of lanes `which`, in stages whose dwell is of another family than exponential.
  /// (The lanes' registers by value: a reference to them would keep them in memory.)
  [[gnu::noinline]] LCSIM_AVX512 __m512d exits_from_dwells(__m512i stages, __m512d entry, __mmask8 which, __m512d e,
                                                           __m512d exit) const {
    alignas(64) std::array<std::int64_t, 8> stage{};
    alignas(64) std::array<double, 8> t{};
    alignas(64) std::array<double, 8> x{};
    _mm512_store_si512(stage.data(), stages);
    _mm512_store_pd(t.data(), entry);
    _mm512_store_pd(x.data(), e);
    for (unsigned m = which; m != 0; m &= m - 1) {
      const auto l = static_cast<unsigned>(__builtin_ctz(m));
      exit = with_lane(exit, l, exit_from(*dwell_[static_cast<std::size_t>(stage[l])], t[l], x[l]));
    }
    return exit;
  }

  /// The kTouched stays of lanes `which` (entered at `entry`, their exits' Exp(1) draws `e`), lane
  /// by lane: where each ends (`end`; `limit` its horizon test, infinity when the horizon came
  /// first) and the lanes a contact moved, to `move_to`.
  struct ByLane {
    __m512d end;
    __m512d limit;
    __m512i move_to;
    __mmask8 moved;
  };
  [[gnu::noinline]] LCSIM_AVX512 ByLane touched_stays(__m512i stages, __m512d entry, __m512i offsets, __mmask8 which,
                                                     __m512d e) const {
    alignas(64) std::array<std::int64_t, 8> stage{};
    alignas(64) std::array<double, 8> t{};
    alignas(64) std::array<std::int64_t, 8> offset{};
    alignas(64) std::array<double, 8> x{};
    _mm512_store_si512(stage.data(), stages);
    _mm512_store_pd(t.data(), entry);
    _mm512_store_si512(offset.data(), offsets);
    _mm512_store_pd(x.data(), e);
    ByLane result{_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_si512(), 0};
    for (unsigned m = which; m != 0; m &= m - 1) {
      const auto l = static_cast<unsigned>(__builtin_ctz(m));
      const LaneStage& st = c_.stages[static_cast<std::size_t>(stage[l])];
      const auto o = static_cast<std::uint32_t>(offset[l]);
      const StayEnd r = touched_stay_of(c_, st, o, first_key_ + o, t[l], x[l], out_);
      result.end = with_lane(result.end, l, r.when);
      result.limit = with_lane(result.limit, l, r.kind == StayEnd::kHorizon ? kInf : r.when);
      if (r.kind == StayEnd::kMove) {
        result.moved = static_cast<__mmask8>(result.moved | (1U << l));
        result.move_to = with_lane(
            result.move_to, l,
            (*c_.touchpoints)[static_cast<std::size_t>(c_.touched[static_cast<std::size_t>(st.touched)].id)].move_to);
      }
    }
    return result;
  }

  /// report_index() of the exits of lanes `which` (stays that pass more than one report time).
  [[gnu::noinline]] LCSIM_AVX512 __m512i search_reports(__m512i k_to, __m512d exit, __mmask8 which) const {
    alignas(64) std::array<double, 8> x{};
    _mm512_store_pd(x.data(), exit);
    for (unsigned m = which; m != 0; m &= m - 1) {
      const auto l = static_cast<unsigned>(__builtin_ctz(m));
      k_to = with_lane(k_to, l, report_index(c_, x[l]));
    }
    return k_to;
  }

  const LaneCohort& c_;
  std::uint64_t first_key_;
  const double* const table_x_ = boost::random::detail::exponential_table<double>::table_x;
  std::uint32_t n_;
  int S_;
  int T_;
  std::int64_t* reached_;
  LaneBlock& out_;
  Tally occupancy_;
  std::int64_t* transitions_;
  std::vector<std::int64_t>& move_counts_;  // [2 S^2]: moves to a stage visited before, then first visits
  Tally moved_;
  Records plus_;   // occupancy_diff += 1
  Records minus_;  // occupancy_diff -= 1
  Records moves_;  // transitions += 1
  std::uint64_t* keys_ = nullptr;  // out_.keys: every customer's path stream key
  alignas(64) std::array<std::uint64_t, 16 * 8> next_{};
  std::array<const Dwell*, 16> dwell_{};  // stages with another family than exponential
  bool other_families_ = false;            // any such stage
  __m512d mean_lo_, mean_hi_, rt_lo_, rt_hi_, entry_nrt_;
  __m512i kind_lo_, kind_hi_, nn_lo_, nn_hi_, occ_lane_, moved_lane_;
  bool few_reports_ = false;
  std::uint32_t next_offset_ = 0;
};

}  // namespace

LCSIM_AVX512 static void advance_lanes_avx512(const LaneCohort& c, std::uint64_t first_key, std::uint32_t n,
                                              std::int64_t* transitions, std::int64_t* occupancy_diff,
                                              std::int64_t* reached, LaneBlock& out) {
  LaneKernel kernel(c, first_key, n, transitions, occupancy_diff, reached, out);
  kernel.run();
}

bool lanes_available() noexcept {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512cd");
  return ok;
}

void advance_lanes(const LaneCohort& cohort, std::uint64_t first_key, std::uint32_t n, std::int64_t* transitions,
                   std::int64_t* occupancy_diff, std::int64_t* reached, LaneBlock& out) {
  advance_lanes_avx512(cohort, first_key, n, transitions, occupancy_diff, reached, out);
}

#else  // not x86-64 with GCC/Clang: no lanes, the engine stays scalar

bool lanes_available() noexcept { return false; }

void advance_lanes(const LaneCohort&, std::uint64_t, std::uint32_t, std::int64_t*, std::int64_t*, std::int64_t*,
                   LaneBlock&) {}

#endif

}  // namespace lcsim::detail
