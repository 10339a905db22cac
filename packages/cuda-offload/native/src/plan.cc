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

namespace {

/// Pins, among `free_weights`, up to `room` bytes so that the bytes left to
/// stream are spread over the pass like the modelled compute time: a weight is
/// streamed while the streamed bytes so far stay within their share of the
/// compute done by the end of its first step.
void pin_paced(const std::vector<Weight>& weights, const Schedule& schedule, const CostModel& cost, uint64_t room,
               std::set<uint32_t>& pin, uint64_t& pinned_bytes) {
  const double per_step = cost.has_compute() ? cost.compute_us_per_step : 0;
  const double per_mib = cost.has_compute() ? cost.compute_us_per_mib : 1;
  std::vector<double> done_by;  // per weight: compute done by the end of its first step
  done_by.assign(weights.size(), -1);
  double total = 0;
  for (const auto& step : schedule.steps) {
    uint64_t bytes = 0;
    for (uint32_t w : step) bytes += weights[w].bytes;
    total += per_step + per_mib * static_cast<double>(bytes) / (1024.0 * 1024.0);
    for (uint32_t w : step) {
      if (done_by[w] < 0) done_by[w] = total;
    }
  }
  uint64_t free_bytes = 0;
  for (uint32_t i = 0; i < weights.size(); ++i) {
    if (!pin.count(i) && done_by[i] >= 0) free_bytes += weights[i].bytes;
  }
  if (total <= 0 || pinned_bytes >= room) return;
  const double to_stream = static_cast<double>(free_bytes) - static_cast<double>(room - pinned_bytes);
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < weights.size(); ++i) {
    if (!pin.count(i) && done_by[i] >= 0) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return done_by[a] < done_by[b]; });
  double streamed = 0;
  for (uint32_t i : order) {
    const auto b = static_cast<double>(weights[i].bytes);
    if (streamed + b <= to_stream * done_by[i] / total || pinned_bytes + weights[i].bytes > room) {
      streamed += b;
    } else {
      pin.insert(i);
      pinned_bytes += weights[i].bytes;
    }
  }
}

void pin_largest(const std::vector<Weight>& weights, const std::set<uint32_t>& used, uint64_t room, std::set<uint32_t>& pin,
                 uint64_t& pinned_bytes) {
  std::vector<uint32_t> order;
  for (uint32_t i : used) {
    if (!pin.count(i)) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return weights[a].bytes > weights[b].bytes; });
  for (uint32_t i : order) {
    if (pinned_bytes + weights[i].bytes <= room) {
      pin.insert(i);
      pinned_bytes += weights[i].bytes;
    }
  }
}

/// Pins every weight of at most `limit` bytes, while they fit.
void pin_below(const std::vector<Weight>& weights, const std::set<uint32_t>& used, uint64_t limit, uint64_t room,
               std::set<uint32_t>& pin, uint64_t& pinned_bytes) {
  for (uint32_t i : used) {
    if (weights[i].bytes <= limit && pinned_bytes + weights[i].bytes <= room && pin.insert(i).second) pinned_bytes += weights[i].bytes;
  }
}

/// How the pins beyond "every weight larger than m" are chosen.
enum class Fill {
  kLargest,         // largest first: the fewest bytes
  kPaced,           // streamed bytes spread like the compute time
  kPacedWholeSize,  // the same, streaming only weights of more than m/2, so
                    // small ones never come in bursts between long computes
};

}  // namespace

std::vector<ResidencyPlan> residency_candidates(const std::vector<Weight>& weights, const Schedule& schedule, uint64_t budget,
                                                const std::vector<uint32_t>& user_pinned, const CostModel& cost) {
  const PlanSummary summary = summarize(weights, schedule, budget);
  auto steady = [&](const std::vector<uint32_t>& pinned, uint64_t reserve) -> std::optional<uint64_t> {
    if (reserve >= budget) return std::nullopt;
    auto r = simulate(weights, schedule, budget - reserve, Policy::kNextUse, pinned, 4, false);
    if (!r.is_ok()) return std::nullopt;
    return std::max(r.value()[2], r.value()[3]);
  };
  std::vector<ResidencyPlan> out;
  auto add = [&](std::vector<uint32_t> pinned, uint64_t reserve) {
    for (const auto& c : out) {
      if (c.reserve_bytes == reserve && c.pinned == pinned) return;
    }
    if (auto b = steady(pinned, reserve)) out.push_back({std::move(pinned), reserve, *b});
  };
  add(user_pinned, summary.largest_weight);
  std::set<uint32_t> user(user_pinned.begin(), user_pinned.end());
  uint64_t user_bytes = 0;
  for (uint32_t p : user) user_bytes += weights[p].bytes;
  std::set<uint32_t> used;
  for (const auto& step : schedule.steps) used.insert(step.begin(), step.end());
  std::set<uint64_t> sizes;
  for (uint32_t i : used) sizes.insert(weights[i].bytes);
  int tried = 0;
  for (auto it = sizes.rbegin(); it != sizes.rend() && tried < 24; ++it, ++tried) {
    const uint64_t m = *it;
    for (uint64_t k = 1; k <= 4; ++k) {
      if ((k + 1) * m >= budget) break;
      const uint64_t room = budget - (k + 1) * m;
      std::set<uint32_t> big = user;
      uint64_t big_bytes = user_bytes;
      for (uint32_t i : used) {
        if (weights[i].bytes > m && big.insert(i).second) big_bytes += weights[i].bytes;
      }
      if (big_bytes > room) break;
      for (Fill fill : {Fill::kLargest, Fill::kPaced, Fill::kPacedWholeSize}) {
        std::set<uint32_t> pin = big;
        uint64_t pinned_bytes = big_bytes;
        if (fill == Fill::kLargest) {
          pin_largest(weights, used, room, pin, pinned_bytes);
        } else {
          if (fill == Fill::kPacedWholeSize) pin_below(weights, used, m / 2, room, pin, pinned_bytes);
          pin_paced(weights, schedule, cost, room, pin, pinned_bytes);
        }
        add(std::vector<uint32_t>(pin.begin(), pin.end()), k * m);
      }
    }
  }
  return out;
}

ResidencyPlan plan_residency(const std::vector<Weight>& weights, const Schedule& schedule, uint64_t budget,
                             const std::vector<uint32_t>& user_pinned) {
  ResidencyPlan best{user_pinned, summarize(weights, schedule, budget).largest_weight, UINT64_MAX};
  for (auto& c : residency_candidates(weights, schedule, budget, user_pinned, CostModel{})) {
    if (c.predicted_bytes_per_pass < best.predicted_bytes_per_pass) best = std::move(c);
  }
  return best;
}

}  // namespace weightkit::offload
