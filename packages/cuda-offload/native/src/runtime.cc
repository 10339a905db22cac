// The offload runtime. Residency is tracked in software against the budget;
// the device pool's maxSize is the backstop. Eviction is by next use in the
// known cyclic schedule (Belady's MIN), or LRU as a comparison baseline.
#include "weightkit/offload/runtime.hpp"

#include "weightkit/offload/limits.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <set>

namespace weightkit::offload {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

std::string mib(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(b) / kMiB);
  return buf;
}

struct Slot {
  bool resident = false;
  uint64_t dev = 0;
  uint64_t last_use = 0;  // probe counter, for LRU
};

}  // namespace

Status check_range(double v, double lo, double hi, const std::string& what) {
  if (std::isfinite(v) && v >= lo && v <= hi) return Status::ok();
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s must be from %g to %g, got %g", what.c_str(), lo, hi, v);
  return Status(Code::kBadArgument, buf);
}

Status validate_options(const RuntimeOptions& o) {
  // Times in microseconds and sizes in bytes stay far from where doubles
  // lose integers or the planner's sums overflow.
  const double kMaxBytes = static_cast<double>(limits::kMaxBytes);
  const double kMaxUs = limits::kMaxUs;
  for (const Status& st : {check_range(static_cast<double>(o.budget_bytes), 1, kMaxBytes, "the budget (bytes)"),
                           check_range(o.prefetch_bytes == UINT64_MAX ? 0 : static_cast<double>(o.prefetch_bytes), 0, kMaxBytes, "prefetch bytes"),
                           check_range(o.prefetch_us, 0, kMaxUs, "prefetch time (us)"),
                           check_range(o.compute_us_per_step, 0, kMaxUs, "compute us per step"),
                           check_range(o.compute_us_per_mib, 0, kMaxUs, "compute us per MiB")}) {
    if (!st.is_ok()) return st;
  }
  return Status::ok();
}

struct Runtime::Impl {
  RuntimeOptions opts;
  std::unique_ptr<DeviceLayer> device;
  std::vector<std::pair<uint32_t, uint32_t>> probes;  // probe -> (step, weight)
  std::vector<uint64_t> step_first_probe;
  std::unique_ptr<NextUse> next;
  std::vector<Slot> slots;
  std::set<uint32_t> pinned;
  std::multiset<uint32_t> in_use;  // acquired and not yet released
  uint64_t resident_bytes = 0;
  uint64_t lower_bound_bytes_per_pass = 0;
  uint64_t clock = 0;              // uses served, for LRU
  uint64_t cursor = 0;             // strict mode position
  RuntimeStats stats;

  const Weight& w(const std::vector<HostWeight>& ws, uint32_t i) const { return ws[i].weight; }

  double step_cost(const std::vector<HostWeight>& ws, uint32_t step, const Schedule& sched) const {
    uint64_t bytes = 0;
    for (uint32_t x : sched.steps[step]) bytes += ws[x].weight.bytes;
    return opts.compute_us_per_step + opts.compute_us_per_mib * static_cast<double>(bytes) / kMiB;
  }

  bool evictable(uint32_t r, const std::set<uint32_t>& protect) const {
    return slots[r].resident && !pinned.count(r) && !in_use.count(r) && !protect.count(r);
  }

  /// Evicted weights keep their device memory until an allocation needs it:
  /// a free makes the copy stream wait for the weight's last read, so it is
  /// issued only right before the copy that reuses the memory.
  struct PendingFree {
    uint64_t dev, bytes;
    uint32_t weight;
  };
  std::deque<PendingFree> pending_free;
  uint64_t pool_bytes = 0;  // resident + evicted-but-not-yet-freed

  Status evict(const std::vector<HostWeight>& ws, uint32_t r) {
    pending_free.push_back({slots[r].dev, ws[r].weight.bytes, r});
    slots[r].resident = false;
    resident_bytes -= ws[r].weight.bytes;
    stats.evictions++;
    return Status::ok();
  }

  Status free_until_room(uint64_t bytes) {
    while (pool_bytes + bytes > opts.budget_bytes && !pending_free.empty()) {
      const PendingFree f = pending_free.front();
      pending_free.pop_front();
      Status st = device->release(f.dev, f.weight);
      if (!st.is_ok()) return st;
      pool_bytes -= f.bytes;
    }
    return Status::ok();
  }

  /// Frees room for `bytes` by the policy's victims; false when nothing evictable is left.
  Result<bool> make_room(const std::vector<HostWeight>& ws, uint64_t bytes, uint64_t probe, const std::set<uint32_t>& protect) {
    while (resident_bytes + bytes > opts.budget_bytes) {
      int64_t victim = -1;
      uint64_t best = 0;
      for (uint32_t r = 0; r < slots.size(); ++r) {
        if (!evictable(r, protect)) continue;
        const uint64_t dist = next->distance(r, probe);
        const uint64_t score = opts.policy == Policy::kNextUse ? dist : UINT64_MAX - slots[r].last_use;
        if (victim < 0 || score > best) {
          victim = r;
          best = score;
        }
      }
      if (victim < 0) return false;
      Status st = evict(ws, static_cast<uint32_t>(victim));
      if (!st.is_ok()) return st;
    }
    return true;
  }

  /// Allocates and starts the copy of weight `x` on the copy stream. Memory
  /// freed by evictions is reusable at once: they were freed in copy-stream order.
  Status load(const std::vector<HostWeight>& ws, uint32_t x) {
    Status freed = free_until_room(ws[x].weight.bytes);
    if (!freed.is_ok()) return freed;
    auto dev = device->allocate(ws[x].weight.bytes);
    if (!dev.is_ok()) return dev.status();
    Status st = device->copy_in(dev.value(), ws[x].data, ws[x].weight.bytes, x);
    if (!st.is_ok()) return st;
    slots[x].resident = true;
    slots[x].dev = dev.value();
    resident_bytes += ws[x].weight.bytes;
    pool_bytes += ws[x].weight.bytes;
    return Status::ok();
  }

  /// LRU's prefetch: the next uses in order, while they fit without evicting.
  Status prefetch_free(const std::vector<HostWeight>& ws, uint64_t probe) {
    const uint64_t n = probes.size();
    uint64_t ahead = 0;
    for (uint64_t d = 1; d < n; ++d) {
      const uint32_t x = probes[(probe + d) % n].second;
      if (slots[x].resident) continue;
      ahead += ws[x].weight.bytes;
      if (ahead > opts.prefetch_bytes || resident_bytes + ws[x].weight.bytes > opts.budget_bytes) break;
      Status st = load(ws, x);
      if (!st.is_ok()) return st;
      stats.prefetches++;
    }
    return Status::ok();
  }

  // ---- the shadow: next-use (MIN) decisions simulated ahead of execution ----

  //
  // Prefetching must change when bytes move, never which: a prefetcher that
  // evicts whatever is needed last turns MIN into a sliding window that moves
  // every weight every pass. So MIN runs ahead in a shadow of the residency,
  // recording each load and its victims; execution replays those operations
  // in order, early when their victims are not needed before the load's use.

  struct Op {
    uint64_t use = 0;  // absolute use counter at which MIN loads `weight`
    uint32_t weight = 0;
    std::vector<uint32_t> victims;
  };
  std::vector<bool> shadow_resident;
  uint64_t shadow_bytes = 0;
  uint64_t shadow_next = 0;  // next absolute use the shadow will simulate
  std::deque<Op> ops;
  std::vector<std::pair<uint32_t, uint64_t>> deferred;  // planned victims still needed, with the use their eviction serves
  uint64_t shadow_budget = 0;  // the budget less one largest weight: room to load ahead of evicting
  bool prefetch_across_passes = true;
  ResidencyPlan residency;  // as chosen at create
  CopyCost copy_cost;       // measured at create, before any pass
  uint64_t served = 0;       // absolute uses served so far
  bool shadow_valid = false;

  void seed_shadow(uint64_t at) {
    shadow_resident.assign(slots.size(), false);
    shadow_bytes = 0;
    for (uint32_t i = 0; i < slots.size(); ++i) {
      if (slots[i].resident) {
        shadow_resident[i] = true;
        shadow_bytes += w_bytes[i];
      }
    }
    ops.clear();
    deferred.clear();
    shadow_next = at;
    shadow_valid = true;
  }

  /// Simulates MIN through absolute use `until` (exclusive).
  void advance_shadow(uint64_t until) {
    const uint64_t n = probes.size();
    while (shadow_next < until) {
      const uint64_t q = shadow_next++;
      const auto [step, x] = probes[q % n];
      if (shadow_resident[x]) continue;
      Op op{q, x, {}};
      while (shadow_bytes + w_bytes[x] > shadow_budget) {
        int64_t victim = -1;
        uint64_t best = 0;
        for (uint32_t r = 0; r < slots.size(); ++r) {
          if (!shadow_resident[r] || pinned.count(r) || in_flight(step, r)) continue;
          const uint64_t dist = next->distance(r, q);
          if (victim < 0 || dist > best) {
            victim = r;
            best = dist;
          }
        }
        if (victim < 0) break;  // cannot happen above the floor; execution will report it
        shadow_resident[victim] = false;
        shadow_bytes -= w_bytes[victim];
        op.victims.push_back(static_cast<uint32_t>(victim));
      }
      shadow_resident[x] = true;
      shadow_bytes += w_bytes[x];
      ops.push_back(std::move(op));
    }
  }

  /// Runs the planned loads due by use `now`, then as many later ones as the
  /// look-ahead allows. A later load whose victims are still needed goes ahead
  /// anyway when the reserve (budget - shadow budget) has room; its victims
  /// are evicted as soon as their last use before it has passed.
  Status replay(const std::vector<HostWeight>& ws, const Schedule& sched, uint64_t now) {
    const uint64_t n = probes.size();
    const uint32_t current = probes[now % n].second;
    auto still_needed = [&](uint32_t v, uint64_t use) {
      return v == current || in_use.count(v) > 0 || (use > now && next->distance(v, now % n) <= use - now);
    };
    // Victims whose last use has passed go now.
    for (auto it = deferred.begin(); it != deferred.end();) {
      if (still_needed(it->first, it->second)) {
        ++it;
        continue;
      }
      if (slots[it->first].resident) {
        Status st = evict(ws, it->first);
        if (!st.is_ok()) return st;
      }
      it = deferred.erase(it);
    }
    advance_shadow(now + n);
    uint64_t ahead_bytes = 0;
    while (!ops.empty()) {
      const Op& op = ops.front();
      const bool early = op.use > now;
      if (early) {
        if (in_use.count(op.weight)) break;
        ahead_bytes += w_bytes[op.weight];
        if (ahead_bytes > opts.prefetch_bytes) break;
        if (opts.prefetch_us > 0 && cost_between(ws, sched, now, op.use) > opts.prefetch_us) break;
        if (!prefetch_across_passes && op.use / n != now / n) break;
      }
      std::vector<uint32_t> later;
      uint64_t freed = 0;
      for (uint32_t v : op.victims) {
        if (!slots[v].resident) continue;
        if (still_needed(v, op.use)) later.push_back(v);
        else freed += w_bytes[v];
      }
      if (!slots[op.weight].resident && resident_bytes - freed + w_bytes[op.weight] > opts.budget_bytes) {
        if (early) break;  // wait: the reserve is in use
        return Status(Code::kBudget, "the plan needs '" + ws[op.weight].weight.name + "' while its victims are still in use; raise the budget");
      }
      for (uint32_t v : op.victims) {
        if (!slots[v].resident || std::find(later.begin(), later.end(), v) != later.end()) continue;
        Status st = evict(ws, v);
        if (!st.is_ok()) return st;
      }
      for (uint32_t v : later) deferred.emplace_back(v, op.use);
      if (!slots[op.weight].resident) {
        Status st = load(ws, op.weight);
        if (!st.is_ok()) return st;
        if (early) stats.prefetches++;
      }
      ops.pop_front();
    }
    return Status::ok();
  }

  /// Modelled compute time of the steps after use `from` up to use `to`.
  double cost_between(const std::vector<HostWeight>& ws, const Schedule& sched, uint64_t from, uint64_t to) const {
    const uint64_t n = probes.size();
    double us = 0;
    uint32_t last = probes[from % n].first;
    for (uint64_t q = from + 1; q <= to; ++q) {
      const uint32_t step = probes[q % n].first;
      if (step != last) {
        us += step_cost(ws, step, sched);
        last = step;
      }
    }
    return us;
  }

  /// Whether `r` is read by step `step` or by one of the `overlap_steps`
  /// before it, which compute may still be running while `step` loads.
  bool in_flight(uint32_t step, uint32_t r) const {
    const size_t n = step_members.size();
    for (uint32_t back = 0; back <= residency.overlap_steps && back < n; ++back) {
      if (step_members[(step + n - back) % n].count(r)) return true;
    }
    return false;
  }

  std::vector<uint64_t> w_bytes;
  std::vector<std::set<uint32_t>> step_members;
};

Runtime::~Runtime() {
  if (impl_ && impl_->device) (void)impl_->device->synchronize();
}

Result<std::unique_ptr<Runtime>> Runtime::create(std::vector<HostWeight> weights, Schedule schedule, RuntimeOptions options,
                                                 std::vector<std::pair<const void*, uint64_t>> host_regions,
                                                 std::unique_ptr<DeviceLayer> device, const ResidencyChooser& choose) {
  std::vector<Weight> plain;
  for (const auto& hw : weights) plain.push_back(hw.weight);
  Status st = validate(plain, schedule);
  if (!st.is_ok()) return st;
  if (!(st = validate_options(options)).is_ok()) return st;
  for (const auto& hw : weights) {
    if (hw.weight.bytes == 0 || !hw.data) return Status(Code::kBadArgument, "weight '" + hw.weight.name + "' is empty");
  }
  const PlanSummary plan = summarize(plain, schedule, options.budget_bytes);
  uint64_t pinned_bytes = 0;
  for (uint32_t p : options.pinned) {
    if (p >= weights.size()) return Status(Code::kBadArgument, "pinned weight index " + std::to_string(p) + " is out of range");
    pinned_bytes += weights[p].weight.bytes;
  }
  if (options.budget_bytes < plan.floor_bytes + pinned_bytes) {
    return Status(Code::kBudget, "budget " + mib(options.budget_bytes) + " MiB is below the floor of this schedule: it needs at least " +
                                     mib(plan.floor_bytes + pinned_bytes) + " MiB (the largest pair of consecutive steps plus the largest weight" +
                                     (pinned_bytes ? ", plus the pinned weights)" : ")"));
  }
  std::unique_ptr<Runtime> rt(new Runtime());
  rt->impl_ = std::make_unique<Impl>();
  Impl& m = *rt->impl_;
  m.opts = std::move(options);
  m.lower_bound_bytes_per_pass = plan.lower_bound_bytes_per_pass;
  m.device = std::move(device);
  m.probes = schedule.probes();
  m.next = std::make_unique<NextUse>(weights.size(), schedule);
  m.slots.resize(weights.size());
  m.pinned.insert(m.opts.pinned.begin(), m.opts.pinned.end());
  for (const auto& hw : weights) m.w_bytes.push_back(hw.weight.bytes);
  for (const auto& step : schedule.steps) m.step_members.emplace_back(step.begin(), step.end());
  // Host memory is registered first: whether copies are staged changes their cost.
  for (const auto& [base, bytes] : host_regions) {
    st = m.device->register_host(base, bytes);
    if (!st.is_ok()) return st;
  }
  m.copy_cost = m.device->copy_cost();
  // Without prefetch (or when everything fits) the plan is plain MIN over the
  // whole budget. With prefetch, keep a reserve outside the plan so the next
  // loads can start before their victims' last use, and pin what the given
  // residency plan says (or the chooser picks, or the fewest-bytes plan).
  if (m.opts.budget_bytes >= plan.total_bytes || m.opts.prefetch_bytes == 0 || m.opts.policy != Policy::kNextUse) {
    m.shadow_budget = m.opts.budget_bytes;
  } else {
    const ResidencyPlan rp = m.opts.residency ? *m.opts.residency
                           : choose ? choose(m.copy_cost)
                                    : plan_residency(plain, schedule, m.opts.budget_bytes, m.opts.pinned);
    m.shadow_budget = m.opts.budget_bytes - rp.reserve_bytes;
    m.prefetch_across_passes = rp.prefetch_across_passes;
    m.pinned.insert(rp.pinned.begin(), rp.pinned.end());
    m.residency = rp;
  }
  rt->weights_ = std::move(weights);
  rt->schedule_ = std::move(schedule);
  for (uint32_t p : m.pinned) {
    st = m.load(rt->weights_, p);
    if (!st.is_ok()) return st;
  }
  return rt;
}

Result<Acquired> Runtime::acquire(uint64_t probe) {
  Impl& m = *impl_;
  const uint64_t n = m.probes.size();
  if (probe >= n) {
    return Status(Code::kBadArgument, "probe id " + std::to_string(probe) + " is outside the schedule (" + std::to_string(n) + " uses)");
  }
  const auto [step, x] = m.probes[probe];
  Acquired a{x, 0, weights_[x].weight.bytes, m.slots[x].resident};
  // Uses that follow the schedule replay the planned (MIN) loads with
  // prefetch; anything else is served on demand and the plan restarts.
  const bool in_order = m.opts.policy == Policy::kNextUse && m.shadow_valid && probe == m.served % n;
  const uint64_t now = in_order ? m.served : (m.served / n) * n + probe;
  if (m.opts.policy == Policy::kNextUse && !in_order) m.seed_shadow(now);
  if (m.opts.policy == Policy::kNextUse) {
    Status st = m.replay(weights_, schedule_, now);
    if (!st.is_ok()) return st;
  }
  if (!m.slots[x].resident) {
    // LRU, or a plan that could not be followed: make room on demand.
    std::set<uint32_t> protect(schedule_.steps[step].begin(), schedule_.steps[step].end());
    auto room = m.make_room(weights_, weights_[x].weight.bytes, probe, protect);
    if (!room.is_ok()) return room.status();
    if (!room.value()) {
      return Status(Code::kBudget, "no room for '" + weights_[x].weight.name + "' (" + mib(weights_[x].weight.bytes) +
                                       " MiB): everything resident is in use or pinned; release weights or raise the budget");
    }
    Status st = m.load(weights_, x);
    if (!st.is_ok()) return st;
    if (m.opts.policy == Policy::kNextUse) m.shadow_valid = false;
  }
  if (a.hit) m.stats.hits++;
  else m.stats.misses++;
  // The compute stream sees the bytes only after the copy that wrote them.
  Status st = m.device->compute_wait(x);
  if (!st.is_ok()) return st;
  a.device_ptr = m.slots[x].dev;
  m.in_use.insert(x);
  m.slots[x].last_use = ++m.clock;
  m.cursor = probe + 1;
  m.served = now + 1;
  if (m.opts.policy == Policy::kLru) {
    // The baseline prefetches only into free room.
    st = m.prefetch_free(weights_, probe);
    if (!st.is_ok()) return st;
  }
  return a;
}

Result<Acquired> Runtime::acquire_next(const std::string& name) {
  Impl& m = *impl_;
  const uint64_t probe = m.cursor % m.probes.size();
  const std::string& expected = weights_[m.probes[probe].second].weight.name;
  if (name != expected) {
    return Status(Code::kBadArgument, "schedule mismatch at probe " + std::to_string(probe) + ": expected '" + expected + "', got '" + name + "'");
  }
  return acquire(probe);
}

Status Runtime::release(uint64_t probe) {
  Impl& m = *impl_;
  if (probe >= m.probes.size()) return Status(Code::kBadArgument, "probe id " + std::to_string(probe) + " is outside the schedule");
  auto it = m.in_use.find(m.probes[probe].second);
  if (it == m.in_use.end()) return Status(Code::kBadArgument, "probe " + std::to_string(probe) + " was not acquired");
  m.in_use.erase(it);
  return Status::ok();
}

Status Runtime::compute_step(uint32_t step) {
  Impl& m = *impl_;
  if (step >= schedule_.steps.size()) return Status(Code::kBadArgument, "step " + std::to_string(step) + " is outside the schedule");
  std::vector<DeviceRead> reads;
  for (uint32_t x : schedule_.steps[step]) {
    if (!m.slots[x].resident) return Status(Code::kBadArgument, "step " + std::to_string(step) + " reads '" + weights_[x].weight.name + "', which was not acquired");
    reads.push_back({m.slots[x].dev, weights_[x].weight.bytes, x});
  }
  const double cost = m.step_cost(weights_, step, schedule_);
  m.stats.compute_us += cost;
  return m.device->compute(reads, cost);
}

Status Runtime::run_pass() {
  Impl& m = *impl_;
  const DeviceStats d0 = m.device->stats();
  uint64_t probe = 0;
  for (uint32_t s = 0; s < schedule_.steps.size(); ++s) {
    const uint64_t first = probe;
    for (size_t u = 0; u < schedule_.steps[s].size(); ++u) {
      auto a = acquire(probe++);
      if (!a.is_ok()) return a.status();
    }
    Status st = compute_step(s);
    if (!st.is_ok()) return st;
    for (uint64_t p = first; p < probe; ++p) {
      st = release(p);
      if (!st.is_ok()) return st;
    }
  }
  Status st = m.device->synchronize();
  if (!st.is_ok()) return st;
  const DeviceStats d = m.device->stats();
  m.stats.passes++;
  // Bounded history: a long run keeps at least the last limits::kPassHistory
  // passes (amortized O(1): trimmed by that many at twice it); reports carry
  // exactly the last kPassHistory (session.cc).
  auto push = [](auto& series, auto value) {
    if (series.size() >= 2 * limits::kPassHistory) series.erase(series.begin(), series.begin() + limits::kPassHistory);
    series.push_back(value);
  };
  push(m.stats.bytes_per_pass, d.bytes_h2d - d0.bytes_h2d);
  push(m.stats.us_per_pass, d.now_us - d0.now_us);
  push(m.stats.stall_us_per_pass, d.stall_us - d0.stall_us);
  push(m.stats.copy_us_per_pass, d.copy_us - d0.copy_us);
  return Status::ok();
}

Result<std::vector<uint8_t>> Runtime::read_back(uint32_t weight) {
  Impl& m = *impl_;
  if (weight >= weights_.size() || !m.slots[weight].resident) return Status(Code::kBadArgument, "weight is not on the device");
  return m.device->read_back(m.slots[weight].dev, weights_[weight].weight.bytes);
}

RuntimeStats Runtime::stats() {
  Impl& m = *impl_;
  RuntimeStats s = m.stats;
  s.device = m.device->stats();
  s.bytes_h2d = s.device.bytes_h2d;
  s.peak_device_bytes = s.device.peak_pool_bytes;
  s.resident_bytes = m.resident_bytes;
  s.lower_bound_bytes_per_pass = m.lower_bound_bytes_per_pass;
  s.stall_us = s.device.stall_us;
  s.copy_us = s.device.copy_us;
  s.elapsed_us = s.device.now_us;
  return s;
}

const ResidencyPlan& Runtime::residency() const { return impl_->residency; }

const char* Runtime::device_kind() const { return impl_->device->kind(); }

std::string Runtime::device_name() const { return impl_->device->name(); }

CopyCost Runtime::copy_cost() const { return impl_->copy_cost; }

std::vector<std::string> Runtime::hazards() { return impl_->device->hazards(); }

}  // namespace weightkit::offload
