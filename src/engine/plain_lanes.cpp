// Vector lanes for plain initial groups and arrival blocks (plain_lanes.hpp), written once with
// Google Highway and compiled for every target Highway attains on the architecture: on x86-64
// AVX-512 (Highway's AVX3), AVX2, SSE4, SSSE3 and the scalar fallback (HWY_SCALAR, one lane; or
// EMU128 with a GCC >= 12.3); on Arm NEON and the fallback. HWY_DYNAMIC_DISPATCH picks the best
// one this CPU runs the first time advance_lanes() is called. The file is included once per target
// by hwy/foreach_target.h; what the lanes do lane by lane (lane_parts.hpp) is compiled once, for
// the library's baseline, like the scalar engine.
//
// Every target computes the scalar engine's results bit for bit: the kernel uses only operations
// that are exact (integer arithmetic, comparisons, gathers, selects) or correctly rounded the same
// way everywhere (one double add, multiply, divide, floor, and int64 -> double conversions of
// values Highway converts with one rounding on every target), never a fused multiply-add or a
// vector math function (the engine is compiled with -ffp-contract=off). Which customer runs in
// which lane, and how many lanes a vector has, changes nothing: counts are whole numbers, and what
// sums in customer order (conversions, paid contacts) is kept per customer and settled by the
// engine after the block.
//
// Not built: Highway's scalable targets (SVE, SVE2, RVV). Their vectors are sizeless types, which
// cannot be members of the kernel's classes; on those CPUs Highway dispatches NEON (Arm) or the
// fallback.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/plain_lanes.cpp"
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif
#include <hwy/foreach_target.h>  // (before highway.h)

#include <hwy/highway.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "lane_parts.hpp"
#include "plain_lanes.hpp"

HWY_BEFORE_NAMESPACE();
namespace lcsim::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

using lane_parts::Records;
using lane_parts::Tally;

using DU = hn::ScalableTag<std::uint64_t>;
using DI = hn::RebindToSigned<DU>;
using DF = hn::RebindToFloat<DU>;
using VU = hn::Vec<DU>;
using VI = hn::Vec<DI>;
using VF = hn::Vec<DF>;
using MI = hn::Mask<DI>;

/// Lanes of a vector on this target (a constant on every target built here).
constexpr std::size_t kN = hn::MaxLanes(DU());
static_assert(kN >= 1 && kN <= 8,
              "the lanes' bit masks and rank tables are written for 1 to 8 lanes");

constexpr double kInf = std::numeric_limits<double>::infinity();

/// x * C mod 2^64. Without a 64-bit multiply in AVX2 (and SSE, NEON), from three 32 x 32 -> 64-bit
/// multiplies (MulEven), which on AVX-512 also makes a shorter dependency chain than vpmullq.
template <std::uint64_t C>
HWY_INLINE VU mul_const(VU x) {
  const DU du;
#if HWY_TARGET == HWY_SCALAR
  return hn::Mul(x, hn::Set(du, C));
#else
  const hn::Repartition<std::uint32_t, DU> d32;
  const VU lo = hn::Set(du, C & 0xffffffffULL);
  const VU hi = hn::Set(du, C >> 32U);
  const VU cross =
      hn::Add(hn::MulEven(hn::BitCast(d32, hn::ShiftRight<32>(x)), hn::BitCast(d32, lo)),
              hn::MulEven(hn::BitCast(d32, x), hn::BitCast(d32, hi)));
  return hn::Add(hn::MulEven(hn::BitCast(d32, x), hn::BitCast(d32, lo)), hn::ShiftLeft<32>(cross));
#endif
}

/// a * b for a, b < 2^32 (the product is exact in 64 bits).
HWY_INLINE VU mul32(VU a, VU b) {
#if HWY_TARGET == HWY_SCALAR
  return hn::Mul(a, b);
#else
  const hn::Repartition<std::uint32_t, DU> d32;
  return hn::MulEven(hn::BitCast(d32, a), hn::BitCast(d32, b));
#endif
}

/// SplitMix64's finaliser, lane by lane (detail::mix64).
HWY_INLINE VU mix64v(VU x) {
  x = hn::Xor(x, hn::ShiftRight<30>(x));
  x = mul_const<0xbf58476d1ce4e5b9ULL>(x);
  x = hn::Xor(x, hn::ShiftRight<27>(x));
  x = mul_const<0x94d049bb133111ebULL>(x);
  return hn::Xor(x, hn::ShiftRight<31>(x));
}

HWY_INLINE VI as_i(VU v) { return hn::BitCast(DI(), v); }
HWY_INLINE VU as_u(VI v) { return hn::BitCast(DU(), v); }
HWY_INLINE hn::Mask<DF> as_f(MI m) { return hn::RebindMask(DF(), m); }
HWY_INLINE MI as_i(hn::Mask<DF> m) { return hn::RebindMask(DI(), m); }

/// The mask's lanes as bits (lane l: bit l).
HWY_INLINE unsigned bits_of(MI m) {
  std::array<std::uint8_t, 8> b{};
  hn::StoreMaskBits(DI(), m, b.data());
  return b[0];
}

/// rank[m][l]: how many lanes below l are set in m (where the lanes of m take new customers).
struct RankTable {
  std::array<std::array<std::int32_t, kN>, std::size_t{1} << kN> rank{};
  constexpr RankTable() {
    for (std::size_t m = 0; m < rank.size(); ++m) {
      std::int32_t count = 0;
      for (std::size_t l = 0; l < kN; ++l) {
        rank[m][l] = count;
        count += static_cast<std::int32_t>((m >> l) & 1U);
      }
    }
  }
};
constexpr RankTable kRanks{};

/// Appends the lanes of `v` selected by m to r (r has room for a vector more); the others go to
/// the sink cells `sink` where a compress is not one instruction (AVX-512 has vpcompressq; Highway
/// 1.0's Compress elsewhere copies its permutation table to the stack on each call with GCC 12).
HWY_INLINE void append(Records& r, MI m, VI v, VI sink) {
#if HWY_TARGET <= HWY_AVX3
  (void)sink;
  hn::StoreU(hn::Compress(v, m), DI(), r.at.data() + r.n);
  r.n += hn::CountTrue(DI(), m);
#else
  hn::StoreU(hn::IfThenElse(m, v, sink), DI(), r.at.data() + r.n);
  r.n += kN;
#endif
}

#if HWY_TARGET == HWY_AVX2
/// kCompress4[m]: the permutation (of 32-bit halves) that moves the 64-bit lanes set in m to the
/// front, in order, and the others after them (so every lane of the result is one of the input's).
struct CompressTable {
  alignas(32) std::array<std::array<std::uint32_t, 8>, 16> idx{};
  constexpr CompressTable() {
    for (std::size_t m = 0; m < 16; ++m) {
      std::size_t k = 0;
      for (int pass = 0; pass < 2; ++pass) {
        for (std::uint32_t l = 0; l < 4; ++l) {
          if ((((m >> l) & 1U) != 0) == (pass == 0)) {
            idx[m][2 * k] = 2 * l;
            idx[m][2 * k + 1] = 2 * l + 1;
            ++k;
          }
        }
      }
    }
  }
};
constexpr CompressTable kCompress4{};
#endif

/// Stores the lanes of v selected by `bits` (mask bits, `m` as a mask) at p, first to last, and
/// after them other lanes of v (never anything else: a later pass may read them as idle lanes).
HWY_INLINE void compress_store(VI v, MI m, unsigned bits, std::int64_t* p) {
#if HWY_TARGET == HWY_AVX2
  (void)m;
  const __m256i idx =
      _mm256_load_si256(reinterpret_cast<const __m256i*>(kCompress4.idx[bits].data()));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_permutevar8x32_epi32(v.raw, idx));
#else
  (void)bits;
  hn::StoreU(hn::Compress(v, m), DI(), p);
#endif
}

/// Vector-wide scratch for lane-by-lane work: a vector out, lanes changed, back in.
template <class T>
struct alignas(64) LaneArray {
  std::array<T, kN> v{};
};

/// Customers in registers, each about to visit `stage`, entered at t.
struct Lanes {
  VU state;  // path stream counters
  VI stage;
  VI k_from;   // report index of the stay that starts now
  VU visited;  // bit s: stage s visited
  VI offset;   // customer in the block
  VF t;
  VF next_report;  // report_times[k_from], or never
  VU tp_state;     // touchpoint stream counters (where tp_open)
  MI converted;
  MI active;
  MI tp_open;
};

/// One block of one cohort: constants, record buffers and the customers' state. The block is
/// advanced in chunks of kChunk customers, each in passes: a pass gives every customer still
/// moving one visit, a vector of them at a time (visit()), and keeps those that go on. The
/// vectors of a pass do not depend on each other, so the core overlaps them.
class LaneKernel {
 public:
  static constexpr std::uint32_t kChunk = 2048;  // customers of a chunk (its arrays stay in L2)
  static constexpr std::size_t kStride = kChunk + 2 * 8;  // an array's slots: a chunk and a vector
  LaneKernel(const LaneCohort& c, std::uint64_t first_key, std::uint32_t n,
             std::int64_t* transitions, std::int64_t* occupancy_diff, std::int64_t* reached,
             LaneBlock& out)
      : c_(c),
        first_key_(first_key),
        n_(n),
        S_(c.s_count),
        T_(c.t_count),
        reached_(reached),
        out_(out),
        occupancy_(occupancy_diff, static_cast<std::size_t>((c.t_count + 1) * c.s_count),
                   out.occupancy_copies),
        transitions_(transitions),
        move_counts_(lane_parts::zeroed(out.move_counts,
                                        static_cast<std::size_t>(2 * c.s_count * c.s_count))),
        moved_(move_counts_.data(), move_counts_.size(), out.move_copies) {
    static_assert(kLaneMaxStages == 16 && static_cast<int>(LaneKind::kOther) < 8);
    alignas(16) std::array<std::uint8_t, kLaneMaxStages> info{};
    for (int s = 0; s < kLaneMaxStages; ++s) {
      const auto i = static_cast<std::size_t>(s);
      const LaneStage& st = c.stages[i];
      const auto kind = static_cast<std::uint32_t>(s < S_ ? st.kind : LaneKind::kOther);
      info[i] = static_cast<std::uint8_t>(kind | (s < S_ ? st.next_n : 0U) << 3U);
      info_[i] = info[i];
      mean_[i] = s < S_ ? st.mean : 0.0;
      dwell_[i] = s < S_ ? st.dwell : nullptr;
      other_families_ = other_families_ || dwell_[i] != nullptr;
      for (std::size_t j = 0; j < 8; ++j)
        next_[i * 8 + j] = s < S_ ? static_cast<std::int64_t>(st.next[j]) : 0;
    }
    for (std::size_t l = 0; l < kN; ++l) {
      occ_off_.v[l] = occupancy_.lane_offset(l);
      moved_off_.v[l] = moved_.lane_offset(l);
    }
#if HWY_TARGET != HWY_SCALAR
    info_bytes_ = hn::LoadDup128(hn::Repartition<std::uint8_t, DI>(), info.data());
#endif
    iota_ = hn::Iota(DI(), 0);
    {
      const DI di;
      const DU du;
      v_ = Broadcast{hn::Set(di, T_),
                     hn::Set(di, S_),
                     hn::Set(di, S_ * S_),
                     hn::Set(di, c.won),
                     hn::Set(di, c.tp_move_to),
                     hn::Set(di, c.start),
                     hn::Set(di, std::int64_t{1} << c.start),
                     hn::Set(di, c.entry_k),
                     hn::Set(du, first_key),
                     hn::Set(du, c.path_base),
                     hn::Set(du, kGolden * static_cast<std::uint64_t>(c.skip_words)),
                     hn::Set(DF(), c.horizon)};
    }
    // Each lane its own sink cell: records of masked-off lanes do not wait for each other either.
    static_assert(kN <= Tally::kSinks);
    occ_sink_ = hn::Iota(DI(), occupancy_.sink());
    moved_sink_ = hn::Iota(DI(), moved_.sink());
    out.sweep.resize(kFields * kStride);
    for (int s = 0; s < S_; ++s)
      calendar_ =
          calendar_ || c.stages[static_cast<std::size_t>(s)].kind == LaneKind::kCalendarMove;
    sweep_ = out.sweep.data();
    // The report times, then never for k = T and beyond (a gather needs no mask then).
    out.report_times.assign(c.report_times, c.report_times + T_);
    out.report_times.resize(static_cast<std::size_t>(T_) + 2, kInf);
    rt_ = out.report_times.data();
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

  void run() {
    for (std::uint32_t first = 0; first < n_; first += kChunk) {
      const auto m = static_cast<std::uint32_t>(std::min<std::uint32_t>(kChunk, n_ - first));
      // Passes over the customers still moving, one visit each, those that go on compacted to the
      // front of the arrays (in place: a pass writes only where it has read). The first pass
      // takes the chunk's customers as they enter.
      std::size_t live = 0;
      for (std::size_t i = 0; i < m; i += kN) {
        Lanes L = fresh(first, i, m);
        visit(L);
        live += store(L, live);
        flush_if_full();
      }
      while (live > 0) {
        std::size_t w = 0;
        for (std::size_t i = 0; i < live; i += kN) {
          Lanes L = load(i, live);
          visit(L);
          w += store(L, w);
          flush_if_full();
        }
        live = w;
      }
    }
    flush();
    occupancy_.finish();
    moved_.finish();
    lane_parts::sort_paid(out_, n_);
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
  /// The customers' state between passes: one array per field, kStride apart. The small ones
  /// share a word (kPacked): stage (bits 0-7), flags (8-15), offset in the block (16-39) and
  /// report row (40-63): fewer arrays to load, compact and store each pass, and fewer registers.
  enum Field : std::size_t { kState, kPacked, kVisited, kT, kNextReport, kTpState, kFields };
  static constexpr std::int64_t kConverted = 1;  // flags
  static constexpr std::int64_t kTpOpen = 2;
  [[nodiscard]] std::int64_t* field(Field f) const {
    return sweep_ + static_cast<std::size_t>(f) * kStride;
  }

  void flush() {
    occupancy_.add(plus_, 1);
    occupancy_.add(minus_, -1);
    moved_.add(moves_, 1);
  }

  /// Adds the records up when a buffer has no room left for a visit's.
  HWY_INLINE void flush_if_full() {
    if (plus_.n > Records::kCap - 8 * kN || minus_.n > Records::kCap - 4 * kN ||
        moves_.n > Records::kCap - 4 * kN) {
      flush();
    }
  }

  /// Customers first + i .. first + i + kN - 1 of the block as they enter (those at or past
  /// first + m idle lanes, with customer 0's offset): each about to visit the cohort's stage, its
  /// path stream from its key (the segment's word skipped when segments are drawn by shares), its
  /// entry day and report row.
  HWY_INLINE Lanes fresh(std::uint32_t first, std::size_t i, std::uint32_t m) const {
    const DI di;
    const DU du;
    const DF df;
    const MI valid = hn::Lt(iota_, hn::Set(di, static_cast<std::int64_t>(m - i)));
    const VI offset = hn::IfThenElseZero(
        valid, hn::Add(iota_, hn::Set(di, static_cast<std::int64_t>(first + i))));
    const VU key = hn::Add(v_.first_key, as_u(offset));
    const VU state = hn::Add(mix64v(hn::Xor(v_.path_base, key)), v_.skip);
    VI k_from = v_.entry_k;
    VF t = hn::Zero(df);
    if (c_.entry_t != nullptr) {  // arrivals: each its own entry day and report row
      k_from = hn::GatherIndex(di, c_.entry_ks, offset);
      t = hn::GatherIndex(df, c_.entry_t, offset);
    }
    const MI none = hn::FirstN(di, 0);
    return Lanes{state,
                 v_.start,
                 k_from,
                 as_u(v_.start_bit),
                 offset,
                 t,
                 report_time(k_from),
                 hn::Zero(du),
                 c_.converted ? valid : none,
                 valid,
                 none};
  }

  /// The kPacked word of a customer.
  static HWY_INLINE VI pack(VI stage, VI flags, VI offset, VI k_from) {
    return hn::Or(hn::Or(stage, hn::ShiftLeft<8>(flags)),
                  hn::Or(hn::ShiftLeft<16>(offset), hn::ShiftLeft<40>(k_from)));
  }

  /// The customers at i .. i + kN - 1 of the arrays, those before `live` active.
  HWY_INLINE Lanes load(std::size_t i, std::size_t live) const {
    const DI di;
    const DF df;
    const VI packed = hn::LoadU(di, field(kPacked) + i);
    const VI byte = hn::Set(di, 0xff);
    const VI flags = hn::And(hn::ShiftRight<8>(packed), byte);
    return Lanes{as_u(hn::LoadU(di, field(kState) + i)),
                 hn::And(packed, byte),
                 as_i(hn::ShiftRight<40>(as_u(packed))),
                 as_u(hn::LoadU(di, field(kVisited) + i)),
                 hn::And(hn::ShiftRight<16>(packed), hn::Set(di, 0xffffff)),
                 hn::BitCast(df, hn::LoadU(di, field(kT) + i)),
                 hn::BitCast(df, hn::LoadU(di, field(kNextReport) + i)),
                 calendar_ ? as_u(hn::LoadU(di, field(kTpState) + i)) : hn::Zero(DU()),
                 hn::TestBit(flags, hn::Set(di, kConverted)),
                 hn::Lt(iota_, hn::Set(di, static_cast<std::int64_t>(live - i))),
                 hn::TestBit(flags, hn::Set(di, kTpOpen))};
  }

  /// Stores the lanes still active at w, w + 1, ... of the arrays; returns how many.
  HWY_INLINE std::size_t store(const Lanes& L, std::size_t w) {
    const DI di;
    const unsigned bits = bits_of(L.active);
    const MI m = L.active;
    const VI flags = hn::Or(hn::IfThenElseZero(L.converted, hn::Set(di, kConverted)),
                            hn::IfThenElseZero(L.tp_open, hn::Set(di, kTpOpen)));
    compress_store(as_i(L.state), m, bits, field(kState) + w);
    compress_store(pack(L.stage, flags, L.offset, L.k_from), m, bits, field(kPacked) + w);
    compress_store(as_i(L.visited), m, bits, field(kVisited) + w);
    compress_store(hn::BitCast(di, L.t), m, bits, field(kT) + w);
    compress_store(hn::BitCast(di, L.next_report), m, bits, field(kNextReport) + w);
    if (calendar_) compress_store(as_i(L.tp_state), m, bits, field(kTpState) + w);
    return static_cast<std::size_t>(__builtin_popcount(bits));
  }

  /// Every active lane makes one visit; those still moving after it stay active.
  HWY_INLINE void visit(Lanes& L) {
    const DI di;
    const DU du;
    const DF df;
    const VU golden = hn::Set(du, kGolden);
    const VI t_count = v_.t_count;

    const VI info = stage_info(L.stage);
    const VI kd = hn::And(info, hn::Set(di, 7));
    const MI touched = hn::And(
        L.active, hn::Eq(kd, hn::Set(di, static_cast<std::int64_t>(LaneKind::kCalendarMove))));
    const MI by_lane =
        hn::And(L.active, hn::Eq(kd, hn::Set(di, static_cast<std::int64_t>(LaneKind::kTouched))));
    // plain: the lanes that draw a dwell (plain stages and those with touchpoints). No lane is
    // ever at an absorbing stage here: a move into one ends the customer in its step.
    const MI plain = hn::And(
        L.active, hn::Or(hn::Eq(kd, hn::Set(di, static_cast<std::int64_t>(LaneKind::kPlain))),
                         hn::Or(touched, by_lane)));
    const MI other = hn::AndNot(plain, L.active);
    if (!hn::AllFalse(di, other)) [[unlikely]]
      eject(L, other);  // (L by value: see redraw())

    // A visit's two words at once (they do not depend on each other): Exp(1) from the first, the
    // next stage from the second. Exp(1) is Boost's ziggurat, its first try here
    // (generate_int_float_pair<double, 8> of a 64-bit word: the low 8 bits pick the layer, bits
    // 8..63 with bit 11 cleared the fraction, converted with one rounding); a lane it rejects
    // (about 1 draw in 90) finishes the ziggurat in scalar code and takes its second word after
    // the words that used.
    const VU state_before = L.state;
    const VU w = mix64v(hn::Add(L.state, golden));
    const VU two_words = hn::Add(L.state, hn::Add(golden, golden));
    VU w2 = mix64v(two_words);
    L.state = hn::IfThenElse(hn::RebindMask(du, plain), two_words, L.state);
    const VI layer = as_i(hn::And(w, hn::Set(du, 0xff)));
    const VF r = hn::Mul(
        hn::ConvertTo(df,
                      as_i(hn::ShiftRight<8>(hn::AndNot(hn::Set(du, std::uint64_t{1} << 11U), w)))),
        hn::Set(df, 0x1.0p-56));
    const VF x_i = hn::GatherIndex(df, table_x_, layer);
    const VF x_next = hn::GatherIndex(df, table_x_ + 1, layer);
    VF e = hn::Mul(r, x_i);
    const MI rejected = hn::AndNot(as_i(hn::Lt(e, x_next)), plain);
    if (!hn::AllFalse(di, rejected)) [[unlikely]] {
      const Redrawn again = redraw(rejected, state_before, e, L.state, w2);
      e = again.e;
      L.state = again.state;
      w2 = again.w2;
    }
    const VF mean = hn::GatherIndex(df, mean_.data(), L.stage);
    VF exit = hn::Add(L.t, hn::Mul(mean, e));
    if (other_families_) [[unlikely]] {
      const MI other_family = hn::And(hn::AndNot(by_lane, plain), as_i(hn::Eq(mean, hn::Zero(df))));
      if (!hn::AllFalse(di, other_family))
        exit = exits_from_dwells(L.stage, L.t, other_family, e, exit);
    }
    // The stay ends at `exit`, or earlier at a contact that moves the customer (tp_moved, `end`);
    // it reaches the horizon when neither comes before it (`limit`: the earlier of exit and the
    // first contact that did not come before the exit).
    VF end = exit;
    VF limit = exit;
    MI tp_moved = hn::FirstN(di, 0);
    VI move_to = v_.tp_move_to;  // of the lanes tp_moved
    if (!hn::AllFalse(di, touched)) tp_moved = contacts(L, touched, exit, end, limit);
    if (!hn::AllFalse(di, by_lane)) {
      const ByLane b = touched_stays(L.stage, L.t, L.offset, by_lane, e);
      end = hn::IfThenElse(as_f(by_lane), b.end, end);
      limit = hn::IfThenElse(as_f(by_lane), b.limit, limit);
      move_to = hn::IfThenElse(b.moved, b.move_to, move_to);
      tp_moved = hn::Or(tp_moved, b.moved);
    }
    const MI at_horizon = hn::And(hn::AndNot(tp_moved, plain), as_i(hn::Ge(limit, v_.horizon)));
    const MI moving = hn::AndNot(at_horizon, plain);

    // The last stay (still there at the horizon): up at its first report row (the scalar engine
    // also takes one off the row past the last report, which is never read); counted below with
    // the last stays of customers absorbed in this visit.
    const VI row_cell = occupancy_cell(L.k_from, L.stage);

    // A stay that passes a report time: up at its first report row, down at the row after its end.
    const MI crossing = hn::And(moving, as_i(hn::Gt(end, L.next_report)));
    if (!hn::AllFalse(di, crossing)) {
      const VI after = hn::Add(L.k_from, hn::Set(di, 1));
      const MI fits = hn::And(crossing, as_i(hn::Le(end, report_time(after))));
      VI k_to = hn::IfThenElse(fits, after, t_count);
      const MI search = hn::AndNot(fits, crossing);
      if (!hn::AllFalse(di, search)) k_to = search_reports(k_to, end, search);
      append(plus_, crossing, row_cell, occ_sink_);
      append(minus_, hn::And(crossing, hn::Lt(k_to, t_count)), occupancy_cell(k_to, L.stage),
             occ_sink_);
      L.k_from = hn::IfThenElse(crossing, k_to, L.k_from);
      L.next_report = hn::IfThenElse(as_f(crossing), report_time(k_to), L.next_report);
    }

    // The next stage: the alias table's column from the high 32 bits, keep or alias by the low 32.
    const VU nn = hn::ShiftRight<3>(as_u(info));
    const VI column = as_i(hn::ShiftRight<32>(mul32(hn::ShiftRight<32>(w2), nn)));
    // (gathered for every lane: the column is in the table for any stage, and a mask would put
    // the exit's comparison on the lanes' critical path)
    const VI cell = hn::GatherIndex(di, next_.data(), hn::Add(hn::ShiftLeft<3>(L.stage), column));
    const MI kept =
        hn::Lt(as_i(hn::And(w2, hn::Set(du, 0xffffffffULL))), as_i(hn::ShiftRight<32>(as_u(cell))));
    const VI low16 = hn::Set(di, 0xffff);
    VI to = hn::IfThenElse(kept, hn::And(hn::ShiftRight<16>(cell), low16), hn::And(cell, low16));
    if (!hn::AllFalse(di, tp_moved)) {  // moved by the touchpoint: no next-stage word was drawn
      to = hn::IfThenElse(tp_moved, move_to, to);
      L.state = hn::IfThenElse(hn::RebindMask(du, tp_moved), hn::Sub(L.state, golden), L.state);
    }
    // The move, in the second half of the move counts when it is the first visit of `to`.
    const VU to_bit = hn::Shl(hn::Set(du, 1), as_u(to));
    const MI again = hn::And(moving, hn::RebindMask(di, hn::TestBit(L.visited, to_bit)));
    L.visited = hn::IfThenElse(hn::RebindMask(du, moving), hn::Or(L.visited, to_bit), L.visited);
    const VI move_cell = hn::Add(hn::Add(as_i(mul32(as_u(L.stage), as_u(v_.s_count))), to),
                                 hn::Load(di, moved_off_.v.data()));
    append(moves_, moving,
           hn::IfThenElse(hn::AndNot(again, moving), hn::Add(move_cell, v_.pairs), move_cell),
           moved_sink_);
    // A move into an absorbing stage ends the customer here: its last stay, from `end` on.
    const VI to_kind = hn::And(stage_info(to), hn::Set(di, 7));
    const MI absorbed = hn::And(
        moving, hn::Eq(to_kind, hn::Set(di, static_cast<std::int64_t>(LaneKind::kAbsorbing))));
    const MI last = hn::And(hn::Or(absorbed, at_horizon), hn::Lt(L.k_from, t_count));
    append(plus_, last, occupancy_cell(L.k_from, hn::IfThenElse(absorbed, to, L.stage)), occ_sink_);
    const MI converts = hn::And(hn::AndNot(L.converted, moving), hn::Eq(to, v_.won));
    if (!hn::AllFalse(di, converts)) [[unlikely]] {
      convert(L.offset, end, converts);
      L.converted = hn::Or(L.converted, converts);
    }
    L.stage = hn::IfThenElse(moving, to, L.stage);
    L.t = hn::IfThenElse(as_f(moving), end, L.t);

    L.active = hn::AndNot(hn::Or(at_horizon, hn::Or(other, absorbed)), L.active);
  }

  /// Stage s's kind | next_n << 3 (a byte-table lookup where the target has one: no gather).
  HWY_INLINE VI stage_info(VI s) const {
#if HWY_TARGET == HWY_SCALAR
    return hn::GatherIndex(DI(), info_.data(), s);
#else
    const hn::Repartition<std::uint8_t, DI> d8;
    return hn::And(hn::BitCast(DI(), hn::TableLookupBytes(info_bytes_, hn::BitCast(d8, s))),
                   hn::Set(DI(), 0xff));
#endif
  }

  /// report_times[k] (never for k >= T; k <= T + 1).
  HWY_INLINE VF report_time(VI k) const { return hn::GatherIndex(DF(), rt_, k); }

  /// The record of occupancy row k, stage s, in the lane's copy.
  HWY_INLINE VI occupancy_cell(VI k, VI s) const {
    return hn::Add(hn::Add(as_i(mul32(as_u(k), as_u(v_.s_count))), s),
                   hn::Load(DI(), occ_off_.v.data()));
  }

  /// The lanes `which` whose first ziggurat try was rejected: their Exp(1) draws finished in scalar
  /// code from their streams as they stood (state_before), their streams after them and their
  /// next-stage words. (Vectors by value, never the Lanes: a reference to them would keep every
  /// lane's state in memory all through visit().)
  struct Redrawn {
    VF e;
    VU state;
    VU w2;
  };
  [[gnu::noinline]] static Redrawn redraw(MI which, VU state_before, VF e, VU state, VU w2) {
    const DU du;
    LaneArray<std::uint64_t> st;
    LaneArray<double> x;
    hn::Store(state_before, du, st.v.data());
    hn::Store(e, DF(), x.v.data());
    for (unsigned m = bits_of(which); m != 0; m &= m - 1) {
      const auto l = static_cast<std::size_t>(__builtin_ctz(m));
      x.v[l] = lane_parts::exp1_from(st.v[l]);
    }
    const VU after = hn::Add(hn::Load(du, st.v.data()), hn::Set(du, kGolden));
    return Redrawn{hn::Load(DF(), x.v.data()),
                   hn::IfThenElse(hn::RebindMask(du, which), after, state),
                   hn::IfThenElse(hn::RebindMask(du, which), mix64v(after), w2)};
  }

  /// Conversions of lanes `which` at `when`, per customer of the block.
  [[gnu::noinline]] void convert(VI offsets, VF when, MI which) {
    LaneArray<std::int64_t> o;
    LaneArray<double> t;
    hn::Store(offsets, DI(), o.v.data());
    hn::Store(when, DF(), t.v.data());
    for (unsigned m = bits_of(which); m != 0; m &= m - 1) {
      const auto l = static_cast<std::size_t>(__builtin_ctz(m));
      out_.conversion[static_cast<std::size_t>(o.v[l])] = t.v[l];
    }
  }

  /// The calendar touchpoint's first contact day at or after `at` for lanes `which`, and its index
  /// k (day = start + k every): Schedule::next_calendar's arithmetic (the floor of a quotient, then
  /// a step or two).
  HWY_INLINE VF first_contact(VF at, MI which, VF& k) const {
    const DF df;
    const VF start = hn::Set(df, c_.tp_start);
    const VF every = hn::Set(df, c_.tp_every);
    k = hn::Floor(hn::Div(hn::Sub(at, start), every));
    k = hn::IfThenElse(hn::Le(at, start), hn::Zero(df), k);
    const VF t = hn::Add(start, hn::Mul(k, every));
    return step_to<false>(t, k, at, which);
  }

  /// The contact after day c (= start + k every) for lanes `which`: next_calendar(c, strict), which
  /// is start + (k + 1) every (the loop only guards against a step lost to rounding).
  HWY_INLINE VF next_contact(VF c, MI which, VF& k) const {
    const DF df;
    k = hn::IfThenElse(as_f(which), hn::Add(k, hn::Set(df, 1.0)), k);
    const VF t = hn::Add(hn::Set(df, c_.tp_start), hn::Mul(k, hn::Set(df, c_.tp_every)));
    return step_to<true>(t, k, c, which);
  }

  /// Steps lanes `which` whose day t is before `at` (not after it when Strict) along the grid
  /// until it is not.
  template <bool Strict>
  HWY_INLINE VF step_to(VF t, VF& k, VF at, MI which) const {
    const DF df;
    for (;;) {
      const MI behind = hn::And(which, as_i(Strict ? hn::Le(t, at) : hn::Lt(t, at)));
      if (hn::AllFalse(DI(), behind)) return t;
      k = hn::IfThenElse(as_f(behind), hn::Add(k, hn::Set(df, 1.0)), k);
      t = hn::IfThenElse(
          as_f(behind), hn::Add(hn::Set(df, c_.tp_start), hn::Mul(k, hn::Set(df, c_.tp_every))), t);
    }
  }

  /// The contacts of the calendar touchpoint during the stays of lanes `touched` (touched_visit()
  /// with one such touchpoint): each contact before the exit and the horizon draws reach, and a
  /// reached customer the move (the two words are made at once; a customer not reached uses one).
  /// Returns the lanes it moved, with `end` their contact day.
  HWY_INLINE MI contacts(Lanes& L, MI touched, VF exit, VF& end, VF& limit) {
    const DI di;
    const DU du;
    const DF df;
    const VU golden = hn::Set(du, kGolden);
    const VF horizon = v_.horizon;
    const VF two_m53 = hn::Set(df, 0x1.0p-53);
    VF k;
    VF c = first_contact(L.t, touched, k);
    MI pending = hn::And(touched, as_i(hn::And(hn::Lt(c, exit), hn::Lt(c, horizon))));
    MI moved = hn::FirstN(di, 0);
    while (!hn::AllFalse(di, pending)) {
      const MI opening = hn::AndNot(L.tp_open, pending);
      if (!hn::AllFalse(di, opening)) {
        const VU key = hn::Add(v_.first_key, as_u(L.offset));
        L.tp_state = hn::IfThenElse(hn::RebindMask(du, opening),
                                    mix64v(hn::Xor(hn::Set(du, c_.tp_base), key)), L.tp_state);
        L.tp_open = hn::Or(L.tp_open, opening);
      }
      out_.tp_contacts += static_cast<std::int64_t>(hn::CountTrue(di, pending));
      const VU one_word = hn::Add(L.tp_state, golden);
      const VU two_words = hn::Add(one_word, golden);
      const VF u = hn::Mul(hn::ConvertTo(df, as_i(hn::ShiftRight<11>(mix64v(one_word)))), two_m53);
      const VF u2 =
          hn::Mul(hn::ConvertTo(df, as_i(hn::ShiftRight<11>(mix64v(two_words)))), two_m53);
      const MI hit = hn::And(pending, as_i(hn::Lt(u, hn::Set(df, c_.tp_reach))));
      const MI move = hn::And(hit, as_i(hn::Lt(u2, hn::Set(df, c_.tp_move_p))));
      L.tp_state =
          hn::IfThenElse(hn::RebindMask(du, hit), two_words,
                         hn::IfThenElse(hn::RebindMask(du, pending), one_word, L.tp_state));
      out_.tp_reached += static_cast<std::int64_t>(hn::CountTrue(di, hit));
      out_.tp_moves += static_cast<std::int64_t>(hn::CountTrue(di, move));
      moved = hn::Or(moved, move);
      end = hn::IfThenElse(as_f(move), c, end);
      pending = hn::AndNot(move, pending);
      c = next_contact(c, pending, k);
      pending = hn::And(pending, as_i(hn::And(hn::Lt(c, exit), hn::Lt(c, horizon))));
    }
    limit = hn::IfThenElse(as_f(touched), hn::Min(c, exit), limit);
    return moved;
  }

  /// Lanes `which` go back to the scalar engine as they enter their stage.
  [[gnu::noinline]] void eject(Lanes L, MI which) {
    LaneArray<std::uint64_t> state;
    LaneArray<std::int64_t> stage;
    LaneArray<std::int64_t> k_from;
    LaneArray<std::int64_t> offset;
    LaneArray<std::uint64_t> visited;
    LaneArray<double> t;
    LaneArray<std::uint64_t> tp_state;
    hn::Store(L.state, DU(), state.v.data());
    hn::Store(L.stage, DI(), stage.v.data());
    hn::Store(L.k_from, DI(), k_from.v.data());
    hn::Store(L.offset, DI(), offset.v.data());
    hn::Store(L.visited, DU(), visited.v.data());
    hn::Store(L.t, DF(), t.v.data());
    hn::Store(L.tp_state, DU(), tp_state.v.data());
    const unsigned converted = bits_of(L.converted);
    const unsigned tp_open = bits_of(L.tp_open);
    for (unsigned m = bits_of(which); m != 0; m &= m - 1) {
      const auto l = static_cast<std::size_t>(__builtin_ctz(m));
      out_.ejected.push_back(
          LaneEject{static_cast<std::uint32_t>(offset.v[l]), static_cast<std::int32_t>(stage.v[l]),
                    static_cast<std::int32_t>(k_from.v[l]), ((converted >> l) & 1U) != 0, t.v[l],
                    state.v[l], visited.v[l], ((tp_open >> l) & 1U) != 0, tp_state.v[l]});
    }
  }

  /// The exits of lanes `which`, in stages whose dwell is of another family than exponential.
  [[gnu::noinline]] VF exits_from_dwells(VI stages, VF entry, MI which, VF e, VF exit) const {
    LaneArray<std::int64_t> stage;
    LaneArray<double> t;
    LaneArray<double> x;
    LaneArray<double> out;
    hn::Store(stages, DI(), stage.v.data());
    hn::Store(entry, DF(), t.v.data());
    hn::Store(e, DF(), x.v.data());
    hn::Store(exit, DF(), out.v.data());
    for (unsigned m = bits_of(which); m != 0; m &= m - 1) {
      const auto l = static_cast<std::size_t>(__builtin_ctz(m));
      out.v[l] =
          lane_parts::exit_from(*dwell_[static_cast<std::size_t>(stage.v[l])], t.v[l], x.v[l]);
    }
    return hn::Load(DF(), out.v.data());
  }

  /// The kTouched stays of lanes `which` (entered at `entry`, their exits' Exp(1) draws `e`), lane
  /// by lane: where each ends (`end`; `limit` its horizon test, infinity when the horizon came
  /// first) and the lanes a contact moved, to `move_to`.
  struct ByLane {
    VF end;
    VF limit;
    VI move_to;
    MI moved;
  };
  [[gnu::noinline]] ByLane touched_stays(VI stages, VF entry, VI offsets, MI which, VF e) const {
    LaneArray<std::int64_t> stage;
    LaneArray<double> t;
    LaneArray<std::int64_t> offset;
    LaneArray<double> x;
    LaneArray<double> end;
    LaneArray<double> limit;
    LaneArray<std::int64_t> move_to;
    LaneArray<std::int64_t> moved;
    hn::Store(stages, DI(), stage.v.data());
    hn::Store(entry, DF(), t.v.data());
    hn::Store(offsets, DI(), offset.v.data());
    hn::Store(e, DF(), x.v.data());
    for (unsigned m = bits_of(which); m != 0; m &= m - 1) {
      const auto l = static_cast<std::size_t>(__builtin_ctz(m));
      const LaneStage& st = c_.stages[static_cast<std::size_t>(stage.v[l])];
      const auto o = static_cast<std::uint32_t>(offset.v[l]);
      const StayEnd r =
          lane_parts::touched_stay_of(c_, st, o, first_key_ + o, t.v[l], x.v[l], out_);
      end.v[l] = r.when;
      limit.v[l] = r.kind == StayEnd::kHorizon ? kInf : r.when;
      if (r.kind == StayEnd::kMove) {
        moved.v[l] = -1;
        move_to.v[l] = lane_parts::touched_move_to(c_, st);
      }
    }
    const DI di;
    return ByLane{hn::Load(DF(), end.v.data()), hn::Load(DF(), limit.v.data()),
                  hn::Load(di, move_to.v.data()), hn::MaskFromVec(hn::Load(di, moved.v.data()))};
  }

  /// report_index() of the exits of lanes `which` (stays that pass more than one report time).
  [[gnu::noinline]] VI search_reports(VI k_to, VF exit, MI which) const {
    LaneArray<double> x;
    LaneArray<std::int64_t> k;
    hn::Store(exit, DF(), x.v.data());
    hn::Store(k_to, DI(), k.v.data());
    for (unsigned m = bits_of(which); m != 0; m &= m - 1) {
      const auto l = static_cast<std::size_t>(__builtin_ctz(m));
      k.v[l] = lane_parts::report_index_of(c_, x.v[l]);
    }
    return hn::Load(DI(), k.v.data());
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
  std::vector<std::int64_t>&
      move_counts_;  // [2 S^2]: moves to a stage visited before, then first visits
  Tally moved_;
  Records plus_;                // occupancy_diff += 1
  Records minus_;               // occupancy_diff -= 1
  Records moves_;               // transitions += 1
  const double* rt_ = nullptr;  // report times, then never (out_.report_times)
  // Per stage: kind | next_n << 3 (also as a byte table), the exponential mean, the alias table's
  // columns (8 a stage).
  alignas(64) std::array<std::int64_t, kLaneMaxStages> info_{};
#if HWY_TARGET != HWY_SCALAR
  hn::Vec<hn::Repartition<std::uint8_t, DI>> info_bytes_;
#endif
  VI iota_;  // 0, 1, 2, ...
  alignas(64) std::array<double, kLaneMaxStages> mean_{};
  alignas(64) std::array<std::int64_t, kLaneMaxStages * 8> next_{};
  std::array<const Dwell*, kLaneMaxStages> dwell_{};  // stages with another family than exponential
  bool other_families_ = false;                       // any such stage
  LaneArray<std::int64_t> occ_off_;                   // each lane's copy of the occupancy counts
  LaneArray<std::int64_t> moved_off_;                 // and of the move counts
  /// The cohort's values in every lane (loaded as vectors, not broadcast from scalars each visit).
  struct Broadcast {
    VI t_count, s_count, pairs, won, tp_move_to, start, start_bit, entry_k;
    VU first_key, path_base, skip;
    VF horizon;
  } v_;
  VI occ_sink_;                    // each lane's sink cell of the occupancy counts
  VI moved_sink_;                  // and of the move counts
  std::int64_t* sweep_ = nullptr;  // out_.sweep: the customers' state between passes (field())
  bool calendar_ = false;          // the cohort has a calendar touchpoint (kCalendarMove stages)
};

}  // namespace

void AdvanceLanes(const LaneCohort& c, std::uint64_t first_key, std::uint32_t n,
                  std::int64_t* transitions, std::int64_t* occupancy_diff, std::int64_t* reached,
                  LaneBlock& out) {
  LaneKernel kernel(c, first_key, n, transitions, occupancy_diff, reached, out);
  kernel.run();
}

const char* LaneTarget() { return hwy::TargetName(HWY_TARGET); }

std::size_t LaneWidth() { return hn::Lanes(DU()); }

}  // namespace HWY_NAMESPACE
}  // namespace lcsim::detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lcsim::detail {

HWY_EXPORT(AdvanceLanes);
HWY_EXPORT(LaneTarget);
HWY_EXPORT(LaneWidth);

void advance_lanes(const LaneCohort& cohort, std::uint64_t first_key, std::uint32_t n,
                   std::int64_t* transitions, std::int64_t* occupancy_diff, std::int64_t* reached,
                   LaneBlock& out) {
  HWY_DYNAMIC_DISPATCH(AdvanceLanes)
  (cohort, first_key, n, transitions, occupancy_diff, reached, out);
}

const char* lanes_target() noexcept { return HWY_DYNAMIC_DISPATCH(LaneTarget)(); }

std::size_t lanes_width() noexcept { return HWY_DYNAMIC_DISPATCH(LaneWidth)(); }

std::int64_t lanes_compiled_targets() noexcept { return HWY_TARGETS; }

}  // namespace lcsim::detail
#endif
