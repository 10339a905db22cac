// Choosing a residency plan by dry runs on a timing device (residency.hpp).
#include "weightkit/offload/residency.hpp"

#include <algorithm>
#include <utility>

namespace weightkit::offload {

ResidencyPlan choose_residency(const std::vector<HostWeight>& weights, const Schedule& schedule, const RuntimeOptions& opts,
                               const CopyCost& copy) {
  std::vector<Weight> plain;
  for (const auto& hw : weights) plain.push_back(hw.weight);
  const CostModel cost{copy.us_per_mib, copy.us_per_copy, opts.compute_us_per_step, opts.compute_us_per_mib};
  if (!cost.has_compute() || copy.us_per_mib <= 0) return plan_residency(plain, schedule, opts.budget_bytes, opts.pinned);
  constexpr int kWarm = 2, kJudged = 6;
  struct Trial {
    ResidencyPlan plan;
    uint64_t bytes;
    double us;
  };
  std::vector<Trial> trials;
  for (const auto& candidate : residency_candidates(plain, schedule, opts.budget_bytes, opts.pinned, cost)) {
    for (bool across : {true, false}) {
      RuntimeOptions o = opts;
      o.residency = candidate;
      o.residency->prefetch_across_passes = across;
      auto rt = Runtime::create(weights, schedule, o, {}, make_timing_device(copy));
      if (!rt.is_ok()) continue;
      bool ok = true;
      for (int p = 0; p < kWarm + kJudged && ok; ++p) ok = rt.value()->run_pass().is_ok();
      if (!ok) continue;
      const RuntimeStats s = rt.value()->stats();
      Trial t{*o.residency, 0, 0};
      for (int p = kWarm; p < kWarm + kJudged; ++p) {
        t.bytes = std::max(t.bytes, s.bytes_per_pass[p]);
        t.us = std::max(t.us, s.us_per_pass[p]);
      }
      trials.push_back(std::move(t));
    }
  }
  if (trials.empty()) return plan_residency(plain, schedule, opts.budget_bytes, opts.pinned);
  const bool fewest_bytes = opts.objective == Objective::kFewestBytes;
  double fastest = 1e300;
  for (const auto& t : trials) fastest = std::min(fastest, t.us);
  // Fastest: plans within 2% of the fastest pass count as fast (the dry run
  // is a model); of those, the fewest bytes.
  auto eligible = [&](const Trial& t) { return fewest_bytes || t.us <= fastest * 1.02; };
  auto better = [&](const Trial& a, const Trial& b) { return a.bytes < b.bytes || (a.bytes == b.bytes && a.us < b.us); };
  const Trial* best = nullptr;
  for (const auto& t : trials) {
    if (eligible(t) && (!best || better(t, *best))) best = &t;
  }
  return best->plan;
}

ResidencyChooser residency_chooser(std::vector<HostWeight> weights, Schedule schedule, RuntimeOptions opts) {
  return [weights = std::move(weights), schedule = std::move(schedule), opts = std::move(opts)](const CopyCost& copy) {
    return choose_residency(weights, schedule, opts, copy);
  };
}

}  // namespace weightkit::offload
