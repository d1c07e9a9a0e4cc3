/// @file types.hpp
/// Basic vocabulary types shared by every module.
#pragma once

#include <cstdint>

namespace lcsim {

/// Simulation clock: days since the start of the scenario.
using Time = double;

/// Dense index of a stage in a compiled Model.
using StageId = std::int32_t;
/// Dense index of a segment in a compiled Model.
using SegmentId = std::int32_t;
/// Dense index of a touchpoint in a compiled Model.
using TouchpointId = std::int32_t;
/// Index of a synthetic customer within one replication (initial cohort first, then arrivals).
using CustomerId = std::uint64_t;

/// Days per month used for revenue_per_month (365.25 / 12).
inline constexpr double kDaysPerMonth = 365.25 / 12.0;
/// Days per year used for the annual discount rate.
inline constexpr double kDaysPerYear = 365.25;

}  // namespace lcsim
