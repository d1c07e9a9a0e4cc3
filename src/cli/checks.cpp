#include "checks.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace lcsim::cli::checks {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// A bound as people write it: 1, 0.5, 65535, 1e-09.
std::string shown(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

/// What the option takes, in words: "a whole number of at least 1", "a number above 0", ...
std::string wanted(bool whole, double min, double max, bool above) {
  std::string out = whole ? "a whole number" : "a number";
  if (!std::isinf(max)) return out + " from " + shown(min) + " to " + shown(max);
  return out + (above ? " above " : " of at least ") + shown(min);
}

/// A check of one value: "" when `input` is a number (a whole one when `whole`) in the range
/// (min, or above min when `above`, up to max), else "expected ..., got INPUT".
CLI::Validator make(std::string name, bool whole, double min, double max, bool above = false) {
  return CLI::Validator(
      [whole, min, max, above](std::string& input) -> std::string {
        double value = 0.0;
        std::size_t used = 0;
        try {
          value = std::stod(input, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        const bool ok = !input.empty() && used == input.size() && std::isfinite(value) &&
                        (!whole || value == std::floor(value)) &&
                        (above ? value > min : value >= min) && value <= max;
        if (ok) return {};
        const bool number = !input.empty() && used == input.size();
        return "expected " + wanted(whole, min, max, above) + ", got " +
               (number ? input : "'" + input + "'");
      },
      std::move(name));
}

}  // namespace

CLI::Validator positive_int() { return make("POSITIVE", true, 1.0, kInf); }

CLI::Validator int_at_least(long long min) {
  return make(min == 0 ? std::string("NONNEGATIVE") : ">=" + std::to_string(min), true,
              static_cast<double>(min), kInf);
}

CLI::Validator int_between(long long min, long long max) {
  return make(std::to_string(min) + "-" + std::to_string(max), true, static_cast<double>(min),
              static_cast<double>(max));
}

CLI::Validator positive() { return make("POSITIVE", false, 0.0, kInf, true); }

CLI::Validator non_negative() { return make("NONNEGATIVE", false, 0.0, kInf); }

CLI::Validator between(double min, double max) {
  return make(shown(min) + "-" + shown(max), false, min, max);
}

}  // namespace lcsim::cli::checks
