#include "weightkit/offload/plan.hpp"

#include <algorithm>
#include <list>
#include <optional>
#include <set>
#include <unordered_map>

namespace weightkit::offload {

std::vector<std::pair<uint32_t, uint32_t>> Schedule::probes() const {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (uint32_t s = 0; s < steps.size(); ++s) {
    for (uint32_t w : steps[s]) out.emplace_back(s, w);
  }
  return out;
}

size_t Schedule::probe_count() const {
  size_t n = 0;
  for (const auto& s : steps) n += s.size();
  return n;
}

Schedule catalog_order(size_t weights) {
  Schedule s;
  for (uint32_t i = 0; i < weights; ++i) s.steps.push_back({i});
  return s;
}

Status validate(const std::vector<Weight>& weights, const Schedule& schedule) {
  if (weights.empty()) return Status(Code::kBadArgument, "the model has no weights to offload");
  if (schedule.steps.empty()) return Status(Code::kBadArgument, "the schedule is empty");
  for (size_t s = 0; s < schedule.steps.size(); ++s) {
    if (schedule.steps[s].empty()) return Status(Code::kBadArgument, "schedule step " + std::to_string(s) + " uses no weight");
    for (uint32_t w : schedule.steps[s]) {
      if (w >= weights.size()) {
        return Status(Code::kBadArgument, "schedule step " + std::to_string(s) + " names weight " + std::to_string(w) +
                                              " of " + std::to_string(weights.size()));
      }
    }
  }
  return Status::ok();
}

PlanSummary summarize(const std::vector<Weight>& weights, const Schedule& schedule, uint64_t budget_bytes) {
  PlanSummary p;
  std::set<uint32_t> used;
  for (const auto& step : schedule.steps) used.insert(step.begin(), step.end());
  for (uint32_t w : used) {
    p.total_bytes += weights[w].bytes;
    p.largest_weight = std::max(p.largest_weight, weights[w].bytes);
  }
  uint64_t pair_max = 0;
  const size_t n = schedule.steps.size();
  for (size_t s = 0; s < n; ++s) {
    std::set<uint32_t> both(schedule.steps[s].begin(), schedule.steps[s].end());
    const auto& next = schedule.steps[(s + 1) % n];
    both.insert(next.begin(), next.end());
    uint64_t bytes = 0;
    for (uint32_t w : both) bytes += weights[w].bytes;
    pair_max = std::max(pair_max, bytes);
  }
  p.floor_bytes = std::min(pair_max + p.largest_weight, std::max(p.total_bytes, pair_max));
  p.lower_bound_bytes_per_pass = p.total_bytes > budget_bytes ? p.total_bytes - budget_bytes : 0;
  return p;
}

NextUse::NextUse(size_t weight_count, const Schedule& schedule) : positions_(weight_count), n_(schedule.probe_count()) {
  uint64_t probe = 0;
  for (const auto& step : schedule.steps) {
    for (uint32_t w : step) positions_[w].push_back(probe++);
  }
}

uint64_t NextUse::distance(uint32_t weight, uint64_t probe) const {
  const auto& pos = positions_[weight];
  if (pos.empty()) return n_ + 1;
  const uint64_t p = probe % n_;
  auto it = std::upper_bound(pos.begin(), pos.end(), p);
  return it != pos.end() ? *it - p : pos.front() + n_ - p;
}

Result<std::vector<uint64_t>> simulate(const std::vector<Weight>& weights, const Schedule& schedule, uint64_t budget,
                                       Policy policy, const std::vector<uint32_t>& pinned, int passes, bool check_floor) {
  Status st = validate(weights, schedule);
  if (!st.is_ok()) return st;
  const PlanSummary summary = summarize(weights, schedule, budget);
  if (check_floor && budget < summary.floor_bytes) {
    return Status(Code::kBudget, "budget is below the floor of " + std::to_string(summary.floor_bytes) + " bytes");
  }
  NextUse next(weights.size(), schedule);
  std::set<uint32_t> pin(pinned.begin(), pinned.end());
  std::unordered_map<uint32_t, uint64_t> last_use;  // weight -> probe (for LRU)
  std::set<uint32_t> resident;
  uint64_t used = 0;
  std::vector<uint64_t> loaded(static_cast<size_t>(std::max(passes, 0)), 0);
  for (uint32_t p : pin) {  // loaded once, before the first pass
    if (p >= weights.size()) return Status(Code::kBadArgument, "pinned weight out of range");
    resident.insert(p);
    used += weights[p].bytes;
    if (!loaded.empty()) loaded[0] += weights[p].bytes;
  }
  if (used > budget) return Status(Code::kBudget, "the pinned weights alone exceed the budget");
  uint64_t probe = 0;
  for (int pass = 0; pass < passes; ++pass) {
    for (const auto& step : schedule.steps) {
      std::set<uint32_t> protect(step.begin(), step.end());
      for (uint32_t w : step) {
        if (!resident.count(w)) {
          while (used + weights[w].bytes > budget) {
            // Victim: not needed by this step, not pinned; farthest next use or least recently used.
            int64_t victim = -1;
            uint64_t best = 0;
            for (uint32_t r : resident) {
              if (protect.count(r) || pin.count(r)) continue;
              uint64_t score = policy == Policy::kNextUse ? next.distance(r, probe) : UINT64_MAX - last_use[r];
              if (victim < 0 || score > best) {
                victim = r;
                best = score;
              }
            }
            if (victim < 0) return Status(Code::kBudget, "pinned weights and the current step leave no room");
            resident.erase(static_cast<uint32_t>(victim));
            used -= weights[victim].bytes;
          }
          resident.insert(w);
          used += weights[w].bytes;
          loaded[pass] += weights[w].bytes;
        }
        last_use[w] = probe++;
      }
    }
  }
  return loaded;
}

ResidencyPlan plan_residency(const std::vector<Weight>& weights, const Schedule& schedule, uint64_t budget,
                             const std::vector<uint32_t>& user_pinned) {
  const PlanSummary summary = summarize(weights, schedule, budget);
  auto steady = [&](const std::vector<uint32_t>& pinned, uint64_t reserve) -> std::optional<uint64_t> {
    if (reserve >= budget) return std::nullopt;
    auto r = simulate(weights, schedule, budget - reserve, Policy::kNextUse, pinned, 4, false);
    if (!r.is_ok()) return std::nullopt;
    return std::max(r.value()[2], r.value()[3]);
  };
  ResidencyPlan best{user_pinned, summary.largest_weight, UINT64_MAX};
  if (auto b = steady(user_pinned, summary.largest_weight)) best.predicted_bytes_per_pass = *b;
  std::set<uint64_t> sizes;
  for (const auto& w : weights) sizes.insert(w.bytes);
  int tried = 0;
  for (auto it = sizes.rbegin(); it != sizes.rend() && tried < 24; ++it, ++tried) {
    const uint64_t m = *it;
    if (2 * m >= budget) continue;
    const uint64_t room = budget - 2 * m;
    std::set<uint32_t> pin(user_pinned.begin(), user_pinned.end());
    uint64_t pinned_bytes = 0;
    for (uint32_t p : pin) pinned_bytes += weights[p].bytes;
    bool fits = true;
    for (uint32_t i = 0; i < weights.size() && fits; ++i) {
      if (weights[i].bytes > m && !pin.count(i)) {
        pin.insert(i);
        pinned_bytes += weights[i].bytes;
        fits = pinned_bytes <= room;
      }
    }
    if (!fits) continue;
    std::vector<uint32_t> order;
    for (uint32_t i = 0; i < weights.size(); ++i) {
      if (!pin.count(i)) order.push_back(i);
    }
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return weights[a].bytes > weights[b].bytes; });
    for (uint32_t i : order) {
      if (pinned_bytes + weights[i].bytes <= room) {
        pin.insert(i);
        pinned_bytes += weights[i].bytes;
      }
    }
    std::vector<uint32_t> list(pin.begin(), pin.end());
    if (auto b = steady(list, m); b && *b < best.predicted_bytes_per_pass) best = {list, m, *b};
  }
  return best;
}

}  // namespace weightkit::offload
