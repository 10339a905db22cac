// weightkit/offload/runtime.hpp — the offload runtime: which weights are on
// the device, what to evict, what to prefetch; device work goes through a
// DeviceLayer. No CUDA types.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weightkit/offload/device.hpp"
#include "weightkit/offload/plan.hpp"

namespace weightkit::offload {

struct HostWeight {
  Weight weight;
  const uint8_t* data = nullptr;  // host bytes (mapped file or owned buffer)
};

/// What the planner optimises when a compute cost is modelled. Streaming a
/// large weight without stalls needs room for it and the next large one at
/// once, so on models of mixed sizes the fastest plan can move more bytes
/// than the one that moves the fewest (docs/offload.md, "Two objectives").
enum class Objective {
  kFastest,      // the fastest pass; among plans within 5% of it, the fewest bytes
  kFewestBytes,  // the fewest bytes per pass; among those, the fastest
};

struct RuntimeOptions {
  uint64_t budget_bytes = 0;
  Policy policy = Policy::kNextUse;
  Objective objective = Objective::kFastest;
  std::vector<uint32_t> pinned;       // resident for the runtime's lifetime
  uint64_t prefetch_bytes = UINT64_MAX;  // look-ahead: at most this many bytes in flight ahead of compute
  double prefetch_us = 0;             // look-ahead: at most this much modelled compute ahead (0: unlimited)
  double compute_us_per_step = 0;     // modelled cost of a step: fixed part...
  double compute_us_per_mib = 0;      // ...plus this per MiB of weights it reads
  /// Use this residency plan. Unset (the default), create asks its chooser
  /// (residency.hpp's choose_residency, as OffloadSession does), or without one
  /// takes the plan that moves the fewest bytes.
  std::optional<ResidencyPlan> residency;
};

/// Picks a residency plan once the device's copy cost is known (it depends on
/// whether host memory could be registered). The runtime executes what it gets.
using ResidencyChooser = std::function<ResidencyPlan(const CopyCost&)>;

/// WK_BAD_ARGUMENT naming `what` and the range unless `v` is finite and in [lo, hi].
Status check_range(double v, double lo, double hi, const std::string& what);

/// Every number in `options` finite and in range (limits.hpp: budgets and
/// sizes up to 8 TiB, times up to 1e12 us), so the planner's arithmetic stays exact.
Status validate_options(const RuntimeOptions& options);

struct Acquired {
  uint32_t weight = 0;
  uint64_t device_ptr = 0;
  uint64_t bytes = 0;
  bool hit = false;
};

struct RuntimeStats {
  uint64_t bytes_h2d = 0, hits = 0, misses = 0, evictions = 0, prefetches = 0, passes = 0;
  uint64_t peak_device_bytes = 0, resident_bytes = 0;
  uint64_t lower_bound_bytes_per_pass = 0;  // total - budget: what no policy beats in steady state
  double stall_us = 0, copy_us = 0, compute_us = 0, elapsed_us = 0;
  std::vector<uint64_t> bytes_per_pass;
  std::vector<double> us_per_pass;
  std::vector<double> stall_us_per_pass;  // compute waiting for copies, per pass
  std::vector<double> copy_us_per_pass;   // copy engine busy time, per pass
  DeviceStats device;
};

class Runtime {
 public:
  /// Validates the budget against the plan's floor (WK_BUDGET names the MiB
  /// needed), registers host memory, and loads the pinned set.
  static Result<std::unique_ptr<Runtime>> create(std::vector<HostWeight> weights, Schedule schedule, RuntimeOptions options,
                                                 std::vector<std::pair<const void*, uint64_t>> host_regions,
                                                 std::unique_ptr<DeviceLayer> device, const ResidencyChooser& choose = {});
  ~Runtime();

  /// The device pointer for the use at `probe`, once the compute stream will
  /// see its bytes; then prefetches what comes next.
  Result<Acquired> acquire(uint64_t probe);
  /// Strict cursor mode: the next use must be `name` (WK_BAD_ARGUMENT names both otherwise).
  Result<Acquired> acquire_next(const std::string& name);
  Status release(uint64_t probe);
  /// A compute step of the modelled cost reading every weight of `step`.
  Status compute_step(uint32_t step);
  /// One decode pass: every step acquired, computed and released in order.
  Status run_pass();
  /// The device's copy of a weight, read back (it must be resident).
  Result<std::vector<uint8_t>> read_back(uint32_t weight);
  RuntimeStats stats();
  const char* device_kind() const;
  std::string device_name() const;
  /// Plain pinned host-to-device copies on this device, measured at create.
  CopyCost copy_cost() const;
  const std::vector<HostWeight>& weights() const { return weights_; }
  const Schedule& schedule() const { return schedule_; }
  /// The residency plan in use: pinned set, reserve and look-ahead across
  /// passes (everything pinned-free and a zero reserve when no plan was needed).
  const ResidencyPlan& residency() const;
  std::vector<std::string> hazards();

  struct Impl;

 private:
  Runtime() = default;
  std::unique_ptr<Impl> impl_;
  std::vector<HostWeight> weights_;
  Schedule schedule_;
};

}  // namespace weightkit::offload
