// weightkit/offload/plan.hpp — the device-independent half of weight
// offloading: the catalog, the schedule, the planner and the eviction
// policies. No CUDA types anywhere in this header.
//
// A schedule is the ordered weight uses of one forward pass, repeated
// cyclically (decode). Uses are addressed by probe id: the position of the use
// in the flattened schedule. A step groups the uses one operator makes at once.
#pragma once

#include <cstdint>
#include <string>
#include <optional>
#include <vector>

#include "weightkit/status.hpp"

namespace weightkit::offload {

struct Weight {
  std::string name;
  uint64_t bytes = 0;
};

struct Schedule {
  std::vector<std::vector<uint32_t>> steps;  // weight indices used by each step
  /// Probe id -> (step, weight), in order.
  std::vector<std::pair<uint32_t, uint32_t>> probes() const;
  size_t probe_count() const;
};

/// One use per weight per pass, in catalog order (the default schedule).
Schedule catalog_order(size_t weights);

/// Checks indices and that every step uses at least one weight.
Status validate(const std::vector<Weight>& weights, const Schedule& schedule);

struct PlanSummary {
  uint64_t total_bytes = 0;                  // every weight the schedule uses, once
  uint64_t floor_bytes = 0;                  // smallest budget that can run the schedule
  uint64_t largest_weight = 0;
  uint64_t largest_pair_bytes = 0;           // the most two consecutive steps (cyclically) hold at once
  uint64_t lower_bound_bytes_per_pass = 0;   // no policy can move fewer (steady state)
};

/// floor = the largest set of weights two consecutive steps (cyclically) use,
/// plus the largest weight (room for the next copy while both are held).
PlanSummary summarize(const std::vector<Weight>& weights, const Schedule& schedule, uint64_t budget_bytes);

/// What a budget means for a schedule, without a device: the summary and, at
/// or above the floor, the bytes next-use eviction moves per pass once it has
/// settled (its third pass; unequal sizes can take two to settle).
struct BudgetPlan {
  PlanSummary summary;
  std::optional<uint64_t> planned_bytes_per_pass;  // none below the floor
};
Result<BudgetPlan> plan_budget(const std::vector<Weight>& weights, const Schedule& schedule, uint64_t budget_bytes);

enum class Policy { kNextUse, kLru };

/// Simulates the eviction policy (no device, no prefetch) over `passes` cycles
/// and returns the bytes loaded in each pass. Pinned weights are loaded once
/// and never evicted; neither are the weights of the `overlap_steps` steps
/// before the current one. Used by the planner and as the reference in tests.
Result<std::vector<uint64_t>> simulate(const std::vector<Weight>& weights, const Schedule& schedule, uint64_t budget_bytes,
                                       Policy policy, const std::vector<uint32_t>& pinned, int passes, bool check_floor = true,
                                       uint32_t overlap_steps = 0);

/// The streaming room an overlapped schedule needs: the most bytes of
/// weights outside `pinned` that `depth` + 1 consecutive steps read (the
/// step being computed and the ones whose copies run meanwhile), cyclically.
uint64_t in_flight_room(const std::vector<Weight>& weights, const Schedule& schedule, const std::vector<bool>& pinned, uint32_t depth);

/// How the runtime spends a budget when it prefetches: a set kept resident
/// for good, and a reserve left outside the eviction plan so the next copies
/// can start before their victims' last use.
struct ResidencyPlan {
  std::vector<uint32_t> pinned;
  uint64_t reserve_bytes = 0;
  uint64_t predicted_bytes_per_pass = 0;  // next-use without prefetch, steady state
  /// Whether copies for the next pass may start before this one ends. Off, the
  /// next pass starts with free memory for its first copies instead of a
  /// reserve already full of them (which helps when copies dominate).
  bool prefetch_across_passes = true;
  /// Steps before the current one whose weights the next-use plan keeps while
  /// it loads: compute still reads them, so a load may start that many steps
  /// early without any reserve. The streaming room is then exactly the weights
  /// in flight together, whatever their sizes.
  uint32_t overlap_steps = 0;
};

/// Modelled times, in microseconds. A copy costs us_per_copy plus
/// copy_us_per_mib per MiB; a step costs compute_us_per_step plus
/// compute_us_per_mib per MiB of weights it reads.
struct CostModel {
  double copy_us_per_mib = 0, copy_us_per_copy = 0;
  double compute_us_per_step = 0, compute_us_per_mib = 0;
  bool has_compute() const { return compute_us_per_step > 0 || compute_us_per_mib > 0; }
};

/// The plans worth comparing for a budget: next-use over the whole schedule
/// with a reserve of the largest weight; "pin, then stream the rest through a
/// room of exactly the weights in flight together" for look-ahead depths 1-3
/// (no reserve: the plan keeps the weights compute still reads while the
/// next load runs, whatever their sizes); and for each weight size m
/// (largest first) and k = 1..4, "pin every weight larger than m, pin more of
/// the others into budget - (k+1)m, stream the rest through a reserve of km".
/// Three ways to choose the extra pins: largest first (fewest bytes); paced,
/// so the streamed bytes follow the modelled compute time through the pass
/// (the copy engine never has a stretch with nothing to overlap); and paced
/// among the weights of more than m/2 only (no bursts of small copies). A deeper
/// reserve moves about m more bytes per pass but lets copies run further ahead.
/// With unequal sizes (an embedding much larger than the layers) pinning the
/// big weights keeps the streamed ones small, which MIN by itself does not do.
std::vector<ResidencyPlan> residency_candidates(const std::vector<Weight>& weights, const Schedule& schedule, uint64_t budget_bytes,
                                                const std::vector<uint32_t>& user_pinned, const CostModel& cost);

/// The candidate with the fewest predicted bytes per pass (no time model).
ResidencyPlan plan_residency(const std::vector<Weight>& weights, const Schedule& schedule, uint64_t budget_bytes,
                             const std::vector<uint32_t>& user_pinned);

/// Position (probe id) of the next use of `weight` strictly after `probe` in
/// the cyclic schedule, as a distance in probes (1..n); n+1 when unused.
class NextUse {
 public:
  NextUse(size_t weight_count, const Schedule& schedule);
  uint64_t distance(uint32_t weight, uint64_t probe) const;

 private:
  std::vector<std::vector<uint64_t>> positions_;  // per weight, sorted probe ids
  uint64_t n_;
};

}  // namespace weightkit::offload
