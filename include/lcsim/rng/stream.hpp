/// @file stream.hpp
/// Counter-based random streams keyed by (seed, replication, customer, purpose): seeding is O(1)
/// (one 64-bit mix of the customer on top of per-purpose constants), so every customer gets
/// independent streams for free and a change to one touchpoint cannot shift any other draw
/// (common random numbers).
#pragma once

#include <cstdint>
#include <limits>

namespace lcsim {

/// What a stream is used for; with the customer it selects an independent stream.
enum class Purpose : std::uint32_t {
  /// The customer's own path: its segment (when drawn by shares), then for each stage visit
  /// E ~ Exp(1) (the hazard clock) and the next-stage choice, in that order.
  kPath = 1,
  kArrival = 4,     ///< arrival times of one arrival stream
  kTouchpoint = 5,  ///< one touchpoint's reach and move draws (sub = hash of its name)
  kResource = 6,  ///< one request for a resource: hand-off, patience, service, outcome (sub = hash)
  kReferral = 7,  ///< one referral's arrival times from one customer (sub = hash of its name)
};

namespace detail {
/// SplitMix64's finaliser (Stafford's "Mix13"): a bijective 64-bit mix with full avalanche.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x = (x ^ (x >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27U)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31U);
}
constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;  ///< SplitMix64's Weyl increment
}  // namespace detail

/// The streams of one (seed, replication): the part of every stream key that is the same for all
/// customers of a replication, mixed once.
class StreamFamily {
 public:
  StreamFamily() = default;
  StreamFamily(std::uint64_t seed, std::uint64_t replication) noexcept
      : prefix_(detail::mix64(detail::mix64(seed ^ 0x6c63736d2d726e67ULL) ^
                              (replication * detail::kGolden))),
        path_(tag_base(Purpose::kPath, 0)) {}
  /// The 64-bit key of the stream (customer, purpose, sub, epoch) of this family:
  /// mix64(base(purpose, sub) ^ customer ^ mix64(epoch * golden)), where base = mix64(prefix ^ tag)
  /// does not depend on the customer and mix64(0) = 0, so a customer's first path stream costs one
  /// mix on top of constants (the customer's key is on the critical path of its whole advance).
  [[nodiscard]] std::uint64_t key(std::uint64_t customer, Purpose purpose, std::uint32_t sub,
                                  std::uint64_t epoch) const noexcept {
    return detail::mix64(base(purpose, sub) ^ customer ^ detail::mix64(epoch * detail::kGolden));
  }
  /// The customer-independent part of key(): key(c, purpose, sub, 0) = mix64(base(purpose, sub) ^ c).
  [[nodiscard]] std::uint64_t base(Purpose purpose, std::uint32_t sub) const noexcept {
    return purpose == Purpose::kPath && sub == 0 ? path_ : tag_base(purpose, sub);
  }
  /// key(customer, Purpose::kPath, 0, 0), the stream every customer opens first.
  [[nodiscard]] std::uint64_t path_key(std::uint64_t customer) const noexcept {
    return detail::mix64(path_ ^ customer);
  }

 private:
  [[nodiscard]] std::uint64_t tag_base(Purpose purpose, std::uint32_t sub) const noexcept {
    return detail::mix64(prefix_ ^ ((static_cast<std::uint64_t>(purpose) << 32U) | sub));
  }
  std::uint64_t prefix_ = 0;
  std::uint64_t path_ = 0;  // tag_base(kPath, 0)
};

/// A UniformRandomBitGenerator of 64-bit words, counter-based: word i (i = 1, 2, ...) of the
/// stream with key k is mix64(k + i * golden), i.e. SplitMix64 started at the stream's key. The
/// key is a hash of (seed, replication, customer, purpose << 32 | sub, epoch). A customer's epoch
/// counts the resource services and abandonments it went through: after each, its path and
/// touchpoint streams start afresh, so its draws never depend on how long it waited.
///
/// Why SplitMix64 and not Random123's Philox4x64-10 (used until lcsim 0.1): a customer makes
/// about 1.6 moves and draws 4-6 words, so seeding and the first words are most of the cost of
/// the random numbers; SplitMix64 words cost 2 multiplications each, about 3x less than
/// Philox's, and pass BigCrush. Distinct streams are distinct 64-bit starting points of one
/// 2^64-periodic sequence: two streams of L words among N overlap with probability about
/// N^2 L / 2^64 (1e-5 for 10^7 customers of 100 words), and tests/cpp/rng checks uniformity,
/// independence of neighbouring customers' streams and of purposes (docs/contributing.md).
class Stream {
 public:
  using result_type = std::uint64_t;

  Stream() = default;
  /// @param key a stream key from StreamFamily::key
  explicit Stream(std::uint64_t key) noexcept : state_(key) {}
  /// @param sub further selects within a purpose (a touchpoint's name hash)
  /// @param epoch further selects within a customer's purpose (see above)
  Stream(std::uint64_t seed, std::uint64_t replication, std::uint64_t customer, Purpose purpose,
         std::uint32_t sub = 0, std::uint64_t epoch = 0) noexcept
      : state_(StreamFamily(seed, replication).key(customer, purpose, sub, epoch)) {}
  Stream(const StreamFamily& family, std::uint64_t customer, Purpose purpose, std::uint32_t sub = 0,
         std::uint64_t epoch = 0) noexcept
      : state_(family.key(customer, purpose, sub, epoch)) {}

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

  result_type operator()() noexcept {
    state_ += detail::kGolden;
    return detail::mix64(state_);
  }

  /// The counter: Stream(state()) continues this stream where it stands (the engine's vector
  /// lanes hand a customer's stream back and forth with it).
  [[nodiscard]] std::uint64_t state() const noexcept { return state_; }

  /// Uniform double in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>((*this)() >> 11U) * 0x1.0p-53; }

 private:
  std::uint64_t state_ = 0;
};

}  // namespace lcsim
