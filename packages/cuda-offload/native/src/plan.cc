#include "weightkit/offload/plan.hpp"

#include <algorithm>
#include <iterator>
#include <list>
#include <optional>
#include <set>

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
  p.largest_pair_bytes = pair_max;
  p.floor_bytes = std::min(pair_max + p.largest_weight, std::max(p.total_bytes, pair_max));
  p.lower_bound_bytes_per_pass = p.total_bytes > budget_bytes ? p.total_bytes - budget_bytes : 0;
  return p;
}

Result<BudgetPlan> plan_budget(const std::vector<Weight>& weights, const Schedule& schedule, uint64_t budget_bytes) {
  Status st = validate(weights, schedule);
  if (!st.is_ok()) return st;
  BudgetPlan plan{summarize(weights, schedule, budget_bytes), std::nullopt};
  if (budget_bytes >= plan.summary.floor_bytes) {
    auto loaded = simulate(weights, schedule, budget_bytes, Policy::kNextUse, {}, 3);
    if (!loaded.is_ok()) return loaded.status();
    plan.planned_bytes_per_pass = loaded.value().back();
  }
  return plan;
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
                                       Policy policy, const std::vector<uint32_t>& pinned, int passes, bool check_floor,
                                       uint32_t overlap_steps) {
  Status st = validate(weights, schedule);
  if (!st.is_ok()) return st;
  const PlanSummary summary = summarize(weights, schedule, budget);
  if (check_floor && budget < summary.floor_bytes) {
    return Status(Code::kBudget, "budget is below the floor of " + std::to_string(summary.floor_bytes) + " bytes");
  }
  NextUse next(weights.size(), schedule);
  std::set<uint32_t> pin(pinned.begin(), pinned.end());
  // Evictable residents ordered by their score's key: for next-use the probe
  // of the next use (the victim has the largest), for LRU the probe of the
  // last use (the victim has the smallest). Keys are probe ids, unique, and a
  // resident's key changes only when it is used, so the order found by one
  // scan of every resident per eviction (quadratic at thousands of weights:
  // 8,000 took 114 ms) is kept in a tree instead.
  std::set<std::pair<uint64_t, uint32_t>> evictable;
  std::vector<uint64_t> key(weights.size(), 0);
  std::vector<char> resident(weights.size(), 0);
  uint64_t used = 0;
  std::vector<uint64_t> loaded(static_cast<size_t>(std::max(passes, 0)), 0);
  for (uint32_t p : pin) {  // loaded once, before the first pass
    if (p >= weights.size()) return Status(Code::kBadArgument, "pinned weight out of range");
    resident[p] = 1;
    used += weights[p].bytes;
    if (!loaded.empty()) loaded[0] += weights[p].bytes;
  }
  if (used > budget) return Status(Code::kBudget, "the pinned weights alone exceed the budget");
  const auto victim_of = [&](const std::set<uint32_t>& protect) -> int64_t {
    if (policy == Policy::kNextUse) {
      for (auto it = evictable.rbegin(); it != evictable.rend(); ++it) {
        if (!protect.count(it->second)) return it->second;
      }
    } else {
      for (auto it = evictable.begin(); it != evictable.end(); ++it) {
        if (!protect.count(it->second)) return it->second;
      }
    }
    return -1;
  };
  uint64_t probe = 0;
  const size_t nsteps = schedule.steps.size();
  for (int pass = 0; pass < passes; ++pass) {
    for (size_t si = 0; si < nsteps; ++si) {
      const auto& step = schedule.steps[si];
      std::set<uint32_t> protect;
      for (uint32_t back = 0; back <= overlap_steps && back < nsteps; ++back) {
        const auto& s = schedule.steps[(si + nsteps - back) % nsteps];
        protect.insert(s.begin(), s.end());
      }
      for (uint32_t w : step) {
        if (!resident[w]) {
          while (used + weights[w].bytes > budget) {
            // Victim: not needed by this step, not pinned; farthest next use or least recently used.
            const int64_t victim = victim_of(protect);
            if (victim < 0) return Status(Code::kBudget, "pinned weights and the current step leave no room");
            evictable.erase({key[victim], static_cast<uint32_t>(victim)});
            resident[victim] = 0;
            used -= weights[victim].bytes;
          }
          resident[w] = 1;
          used += weights[w].bytes;
          loaded[pass] += weights[w].bytes;
        } else if (!pin.count(w)) {
          evictable.erase({key[w], w});
        }
        if (!pin.count(w)) {
          key[w] = policy == Policy::kNextUse ? probe + next.distance(w, probe) : probe;
          evictable.insert({key[w], w});
        }
        ++probe;
      }
    }
  }
  return loaded;
}

uint64_t in_flight_room(const std::vector<Weight>& weights, const Schedule& schedule, const std::vector<bool>& pinned, uint32_t depth) {
  const size_t n = schedule.steps.size();
  uint64_t most = 0;
  std::vector<uint32_t> seen;
  for (size_t i = 0; i < n; ++i) {
    seen.clear();
    uint64_t bytes = 0;
    for (uint32_t k = 0; k <= depth && k < n; ++k) {
      for (uint32_t w : schedule.steps[(i + k) % n]) {
        if (pinned[w] || std::find(seen.begin(), seen.end(), w) != seen.end()) continue;
        seen.push_back(w);
        bytes += weights[w].bytes;
      }
    }
    most = std::max(most, bytes);
  }
  return most;
}

namespace {

/// `order` (grouped by size) with each group of equal sizes rearranged so
/// that consecutive picks lie far apart in the schedule: the first use
/// positions in bit-reversed rank order (0, 4, 2, 6, 1, 5, 3, 7 for eight).
std::vector<uint32_t> spread_within_sizes(const std::vector<Weight>& weights, const Schedule& schedule, const std::vector<uint32_t>& order) {
  std::vector<size_t> first(weights.size(), SIZE_MAX);
  size_t pos = 0;
  for (const auto& step : schedule.steps) {
    for (uint32_t w : step) first[w] = std::min(first[w], pos);
    ++pos;
  }
  auto bit_reversed = [](size_t i, size_t n) {
    size_t bits = 0;
    while ((size_t{1} << bits) < n) ++bits;
    size_t r = 0;
    for (size_t b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
    return r;
  };
  std::vector<uint32_t> out;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && weights[order[j]].bytes == weights[order[i]].bytes) ++j;
    std::vector<uint32_t> group(order.begin() + static_cast<std::ptrdiff_t>(i), order.begin() + static_cast<std::ptrdiff_t>(j));
    std::sort(group.begin(), group.end(), [&](uint32_t a, uint32_t b) { return first[a] < first[b]; });
    std::vector<std::pair<size_t, uint32_t>> ranked;
    for (size_t k = 0; k < group.size(); ++k) ranked.emplace_back(bit_reversed(k, group.size()), group[k]);
    std::sort(ranked.begin(), ranked.end());
    for (const auto& [rank, w] : ranked) out.push_back(w);
    i = j;
  }
  return out;
}

/// Pins weights in `order` while the pinned bytes plus the in-flight room
/// the rest then needs at look-ahead `depth` fit the budget. Pinning a weight
/// can only shrink that room, so the greedy never has to undo a pin.
std::vector<uint32_t> pin_for_in_flight(const std::vector<Weight>& weights, const Schedule& schedule, uint64_t budget,
                                        const std::set<uint32_t>& user, const std::vector<uint32_t>& order, uint32_t depth) {
  std::vector<bool> pinned(weights.size(), false);
  uint64_t pinned_bytes = 0;
  for (uint32_t p : user) {
    pinned[p] = true;
    pinned_bytes += weights[p].bytes;
  }
  if (pinned_bytes + in_flight_room(weights, schedule, pinned, depth) > budget) return {};
  for (uint32_t x : order) {
    if (pinned[x] || pinned_bytes + weights[x].bytes > budget) continue;
    pinned[x] = true;
    if (pinned_bytes + weights[x].bytes + in_flight_room(weights, schedule, pinned, depth) <= budget) {
      pinned_bytes += weights[x].bytes;
    } else {
      pinned[x] = false;
    }
  }
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < weights.size(); ++i) {
    if (pinned[i]) out.push_back(i);
  }
  return out;
}

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
  auto steady = [&](const std::vector<uint32_t>& pinned, uint64_t reserve, uint32_t overlap) -> std::optional<uint64_t> {
    if (reserve >= budget) return std::nullopt;
    auto r = simulate(weights, schedule, budget - reserve, Policy::kNextUse, pinned, 8, false, overlap);
    if (!r.is_ok()) return std::nullopt;
    return *std::max_element(r.value().begin() + 2, r.value().end());
  };
  std::vector<ResidencyPlan> out;
  auto add = [&](std::vector<uint32_t> pinned, uint64_t reserve, uint32_t overlap = 0) {
    for (const auto& c : out) {
      if (c.reserve_bytes == reserve && c.pinned == pinned && c.overlap_steps == overlap) return;
    }
    if (auto b = steady(pinned, reserve, overlap)) {
      ResidencyPlan plan{std::move(pinned), reserve, *b};
      plan.overlap_steps = overlap;
      out.push_back(std::move(plan));
    }
  };
  add(user_pinned, summary.largest_weight);
  std::set<uint32_t> user(user_pinned.begin(), user_pinned.end());
  uint64_t user_bytes = 0;
  for (uint32_t p : user) user_bytes += weights[p].bytes;
  std::set<uint32_t> used;
  for (const auto& step : schedule.steps) used.insert(step.begin(), step.end());
  // Pin, then stream through exactly the room of the weights in flight. The
  // spread orders pin every other weight of a size (in schedule order), so
  // each streamed weight's copy runs behind the compute of pinned ones.
  std::vector<uint32_t> largest_first(used.begin(), used.end()), smallest_first(used.begin(), used.end());
  std::stable_sort(largest_first.begin(), largest_first.end(), [&](uint32_t a, uint32_t b) { return weights[a].bytes > weights[b].bytes; });
  std::stable_sort(smallest_first.begin(), smallest_first.end(), [&](uint32_t a, uint32_t b) { return weights[a].bytes < weights[b].bytes; });
  const std::vector<uint32_t> spread_small = spread_within_sizes(weights, schedule, smallest_first);
  const std::vector<uint32_t> spread_large = spread_within_sizes(weights, schedule, largest_first);
  const std::vector<uint32_t>* orders[] = {&largest_first, &smallest_first, &spread_small, &spread_large};
  for (uint32_t depth = 1; depth <= 3; ++depth) {
    for (const std::vector<uint32_t>* order : orders) {
      auto pins = pin_for_in_flight(weights, schedule, budget, user, *order, depth);
      if (!pins.empty() || user.empty()) add(std::move(pins), 0, depth);
    }
  }
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
