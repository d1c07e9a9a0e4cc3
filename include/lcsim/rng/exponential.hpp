/// @file exponential.hpp
/// Exp(1) draws from a Stream: bit for bit those of boost::random::exponential_distribution<double>
/// (Boost's ziggurat), with its first try inline and without the distribution's division by its
/// rate (lambda = 1: x / 1 = x, and 0 + x = x, exactly), which sat on the critical path of every
/// dwell the engine draws (a double division: about 13 cycles of latency a draw).
#pragma once

#include <boost/random/exponential_distribution.hpp>
#include <cstddef>
#include <cstdint>

#include "lcsim/rng/stream.hpp"

namespace lcsim {

namespace detail {
/// The rest of Boost's ziggurat after its first try was rejected (about one draw in 90): the
/// whole draw again from the stream as it stood before it, out of line.
[[gnu::noinline]] inline double exp1_rejected(Stream& rng, std::uint64_t before) {
  rng = Stream(before);
  return boost::random::exponential_distribution<double>(1.0)(rng);
}
}  // namespace detail

/// Exp(1) from `rng`, the value and the words used exactly as
/// `boost::random::exponential_distribution<double>(1.0)(rng)`: the low 8 bits of a word pick the
/// ziggurat's layer, bits 8..63 (bit 11 cleared) its fraction (generate_int_float_pair<double, 8>);
/// the draw is accepted when it falls inside the layer's rectangle. Divide by a rate for
/// exponential_distribution<double>(rate): the same value too.
/// @param rng the stream, moved past the words the draw used
/// @return a draw of Exp(1), >= 0
inline double exp1(Stream& rng) noexcept {
  const double* const x = boost::random::detail::exponential_table<double>::table_x;
  const std::uint64_t before = rng.state();
  const std::uint64_t w = rng();
  const auto layer = static_cast<std::size_t>(w & 0xffU);
  // (w >> 8 < 2^56: converted as a signed integer, one rounding as Boost's unsigned conversion)
  const double r =
      static_cast<double>(static_cast<std::int64_t>((w & ~(std::uint64_t{1} << 11U)) >> 8U)) *
      0x1.0p-56;
  const double e = r * x[layer];
  if (e < x[layer + 1]) [[likely]]
    return e;
  return detail::exp1_rejected(rng, before);
}

}  // namespace lcsim
