// libFuzzer target: the offload planner's input (weight sizes, a schedule and
// a budget, as they arrive from a caller), through validation, the plan, the
// eviction simulation and the residency planner.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "weightkit/offload/plan.hpp"

using namespace weightkit::offload;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const size_t n = 1 + data[0] % 32;  // weights
  size_t pos = 1;
  std::vector<Weight> weights;
  for (size_t i = 0; i < n && pos + 1 < size; ++i, pos += 2) weights.push_back({"w", 1 + (uint64_t{data[pos]} << 8 | data[pos + 1])});
  Schedule schedule;
  while (pos + 1 < size && schedule.steps.size() < 64) {
    const size_t k = 1 + data[pos++] % 3;
    std::vector<uint32_t> step;
    for (size_t j = 0; j < k && pos < size; ++j) step.push_back(data[pos++] % 40);  // may name missing weights
    schedule.steps.push_back(step);
  }
  const uint64_t budget = pos < size ? uint64_t{data[pos]} << 12 : 0;
  if (!validate(weights, schedule).is_ok()) return 0;
  const PlanSummary p = summarize(weights, schedule, budget);
  auto sim = simulate(weights, schedule, budget, Policy::kNextUse, {}, 2);
  if (sim.is_ok() && budget < p.floor_bytes) __builtin_trap();  // below the floor must be refused
  auto lru = simulate(weights, schedule, budget, Policy::kLru, {0}, 2);
  (void)lru;
  if (budget >= p.floor_bytes && budget < p.total_bytes) {
    (void)plan_residency(weights, schedule, budget, {});
    // The paced fills, with a compute model: every candidate must fit the budget.
    const CostModel cost{40, 5, static_cast<double>(size % 7), static_cast<double>(size % 11)};
    for (const auto& c : residency_candidates(weights, schedule, budget, {}, cost)) {
      uint64_t pinned = 0;
      for (uint32_t w : c.pinned) pinned += weights[w].bytes;
      if (pinned + c.reserve_bytes > budget) __builtin_trap();
    }
  }
  return 0;
}
