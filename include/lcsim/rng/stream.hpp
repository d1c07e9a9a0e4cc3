/// @file stream.hpp
/// Counter-based random streams keyed by (seed, replication, customer, purpose): seeding is O(1)
/// (two words of key, four of counter), so every customer gets independent streams for free and a
/// change to one touchpoint cannot shift any other draw (common random numbers).
#pragma once

#include <Random123/philox.h>

#include <cstdint>
#include <limits>

namespace lcsim {

/// What a stream is used for; with the customer it selects an independent stream.
enum class Purpose : std::uint32_t {
  /// The customer's own path: its segment (when drawn by shares), then for each stage visit
  /// E ~ Exp(1) (the hazard clock) and the next-stage choice, in that order. One stream, so a
  /// customer's first visits usually cost a single Philox block.
  kPath = 1,
  kArrival = 4,     ///< arrival times of one arrival stream
  kTouchpoint = 5,  ///< one touchpoint's reach and move draws (sub = hash of its name)
  kResource = 6,    ///< one request for a resource: hand-off, patience, service, outcome (sub = hash)
  kReferral = 7,    ///< one referral's arrival times from one customer (sub = hash of its name)
};

/// A UniformRandomBitGenerator of 64-bit words: Philox4x64-10 over the counter
/// {customer, purpose << 32 | sub, block, epoch} with key {seed, replication}. A customer's epoch
/// counts the resource services and abandonments it went through: after each, its path and
/// touchpoint streams start afresh, so its draws never depend on how long it waited.
class Stream {
 public:
  using result_type = std::uint64_t;

  Stream() = default;
  /// @param sub further selects within a purpose (a touchpoint's name hash)
  /// @param epoch further selects within a customer's purpose (see above)
  Stream(std::uint64_t seed, std::uint64_t replication, std::uint64_t customer, Purpose purpose,
         std::uint32_t sub = 0, std::uint64_t epoch = 0) noexcept
      : ctr_{{customer, (static_cast<std::uint64_t>(purpose) << 32U) | sub, 0, epoch}},
        key_{{seed, replication}} {}

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

  result_type operator()() noexcept {
    if (used_ == 4) refill();
    return block_.v[used_++];
  }

  /// Uniform double in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>((*this)() >> 11U) * 0x1.0p-53; }

 private:
  void refill() noexcept {
    block_ = r123::Philox4x64()(ctr_, key_);
    ++ctr_.v[2];
    used_ = 0;
  }

  r123::Philox4x64::ctr_type ctr_{{0, 0, 0, 0}};
  r123::Philox4x64::key_type key_{{0, 0}};
  r123::Philox4x64::ctr_type block_{{0, 0, 0, 0}};
  unsigned used_ = 4;
};

}  // namespace lcsim
