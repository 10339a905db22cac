// weightkit/offload/limits.hpp — every limit on what the offload runtime is
// asked, owned here: the core checks against them (validate_options), the
// addon exports them (`limits`), and the TypeScript API and the CLI read them
// from there, so a range is written once.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weightkit::offload::limits {

/// Budgets, look-ahead and weights: 8 TiB, far beyond any device, and every
/// sum the planner makes stays exact in a double.
constexpr uint64_t kMaxBytes = uint64_t{8} << 40;
/// Times (the compute model, look-ahead): 1e12 us, about 11.6 days.
constexpr double kMaxUs = 1e12;
/// The emulated device's host-to-device bandwidth, GB/s.
constexpr double kMinGBps = 1e-3;
constexpr double kMaxGBps = 1e6;
/// Per-pass series a report carries: the most recent passes only, so a report
/// costs the same after a million passes as after ten.
constexpr size_t kPassHistory = 1000;

}  // namespace weightkit::offload::limits
