// Tests of the offload core on the emulated device: the planner, eviction
// against the textbook counts, the emulator's hazard checks, and bytes on the
// device equal to the host bytes.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "weightkit/offload/device.hpp"
#include "weightkit/offload/emu_cuda.hpp"
#include "weightkit/offload/residency.hpp"
#include "weightkit/offload/runtime.hpp"
#include "weightkit/testing.hpp"

using namespace weightkit;
using namespace weightkit::offload;

namespace {

struct Model {
  std::vector<std::vector<uint8_t>> host;
  std::vector<HostWeight> weights;
};

Model make_model(const std::vector<uint64_t>& sizes) {
  Model m;
  m.host.resize(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    m.host[i].resize(sizes[i]);
    for (size_t b = 0; b < sizes[i]; ++b) m.host[i][b] = static_cast<uint8_t>(b * 7 + i * 13);
    m.weights.push_back({Weight{"w" + std::to_string(i), sizes[i]}, m.host[i].data()});
  }
  return m;
}

Result<std::unique_ptr<Runtime>> make_runtime(Model& m, uint64_t budget, RuntimeOptions o = {}, emu::Config ec = {}) {
  DeviceConfig dc;
  dc.budget_bytes = budget;
  dc.event_count = m.weights.size();
  dc.emu = ec;
  auto dev = make_emu_device(dc);
  if (!dev.is_ok()) return dev.status();
  o.budget_bytes = budget;
  std::vector<std::pair<const void*, uint64_t>> regions;
  for (auto& h : m.host) regions.emplace_back(h.data(), h.size());
  return Runtime::create(m.weights, catalog_order(m.weights.size()), o, regions, std::move(dev).value(),
                         residency_chooser(m.weights, catalog_order(m.weights.size()), o));
}

}  // namespace

TEST_CASE("the floor is the largest consecutive pair plus the largest weight, and below it is WK_BUDGET") {
  std::vector<Weight> w = {{"a", 10}, {"b", 40}, {"c", 30}, {"d", 5}, {"e", 20}, {"f", 25}};
  auto p = summarize(w, catalog_order(6), 60);
  CHECK_EQ(p.total_bytes, uint64_t{130});
  CHECK_EQ(p.floor_bytes, uint64_t{70 + 40});  // b+c, plus b
  CHECK_EQ(p.lower_bound_bytes_per_pass, uint64_t{70});
  // A model that fits whole never needs more than its total.
  CHECK_EQ(summarize({{"a", 10}, {"b", 40}}, catalog_order(2), 0).floor_bytes, uint64_t{50});
  Model m = make_model({1000, 4000, 3000, 500, 2000, 2500});
  auto r = make_runtime(m, 10999);
  CHECK(r.status().code() == Code::kBudget);
  CHECK(r.status().message().find("needs at least 0.01 MiB") != std::string::npos);
  CHECK(make_runtime(m, 11000).is_ok());
}

namespace {
// Textbook MIN on the flattened cyclic sequence, written independently of
// simulate(): on a miss with a full cache, evict the cached item whose next
// use is farthest in the future.
std::vector<uint64_t> textbook_min(const std::vector<uint64_t>& sizes, uint64_t budget, int passes) {
  std::vector<uint32_t> seq;
  for (int p = 0; p < passes + 1; ++p) {
    for (uint32_t i = 0; i < sizes.size(); ++i) seq.push_back(i);
  }
  std::vector<uint32_t> cache;
  uint64_t used = 0;
  std::vector<uint64_t> per_pass(passes, 0);
  for (size_t t = 0; t < sizes.size() * passes; ++t) {
    uint32_t x = seq[t];
    if (std::find(cache.begin(), cache.end(), x) != cache.end()) continue;
    while (used + sizes[x] > budget) {
      size_t far = 0, victim = 0;
      for (size_t c = 0; c < cache.size(); ++c) {
        size_t next = t + 1;
        while (next < seq.size() && seq[next] != cache[c]) ++next;
        if (next >= far) { far = next; victim = c; }
      }
      used -= sizes[cache[victim]];
      cache.erase(cache.begin() + static_cast<long>(victim));
    }
    cache.push_back(x);
    used += sizes[x];
    per_pass[t / sizes.size()] += sizes[x];
  }
  return per_pass;
}
}  // namespace

TEST_CASE("next-use eviction matches a textbook MIN on cyclic schedules; LRU misses everything") {
  for (auto sizes : {std::vector<uint64_t>(10, 100), std::vector<uint64_t>{100, 300, 50, 200, 400, 100, 250, 150, 300, 50}}) {
    std::vector<Weight> w;
    for (uint64_t s : sizes) w.push_back({"w", s});
    const uint64_t floor = summarize(w, catalog_order(w.size()), 0).floor_bytes;
    for (uint64_t budget : {floor, floor + 150, floor + 400}) {
      auto mine = simulate(w, catalog_order(w.size()), budget, Policy::kNextUse, {}, 6);
      CHECK(mine.is_ok());
      CHECK(mine.value() == textbook_min(sizes, budget, 6));
      auto lru = simulate(w, catalog_order(w.size()), budget, Policy::kLru, {}, 6);
      uint64_t total = 0;
      for (uint64_t s : sizes) total += s;
      if (budget < total) CHECK_EQ(lru.value()[5], total);
    }
  }
  // Equal sizes, room for C of N: MIN misses (N - C) / (N - 1) of the uses.
  std::vector<Weight> eq(10, Weight{"w", 100});
  auto nine = simulate(eq, catalog_order(10), 300, Policy::kNextUse, {}, 10);
  CHECK_EQ(std::accumulate(nine.value().begin() + 1, nine.value().end(), uint64_t{0}), uint64_t{(10 - 3) * 10 * 100});
}

TEST_CASE("the runtime moves what the next-use simulation predicts, never exceeds the budget, and serves exact bytes") {
  Model m = make_model({4096, 8192, 2048, 12288, 4096, 6144, 8192, 1024});
  const uint64_t budget = 30000;
  RuntimeOptions o;
  o.prefetch_bytes = 0;  // no prefetch: loads happen exactly at misses
  auto rt = make_runtime(m, budget, o);
  CHECK(rt.is_ok());
  if (!rt.is_ok()) return;
  std::vector<Weight> plain;
  for (auto& hw : m.weights) plain.push_back(hw.weight);
  auto expected = simulate(plain, catalog_order(plain.size()), budget, Policy::kNextUse, {}, 5);
  for (int pass = 0; pass < 5; ++pass) {
    for (uint32_t s = 0; s < m.weights.size(); ++s) {
      auto a = rt.value()->acquire(s);
      CHECK(a.is_ok());
      auto back = rt.value()->read_back(a.value().weight);
      CHECK(back.is_ok() && back.value() == m.host[a.value().weight]);
      CHECK(rt.value()->compute_step(s).is_ok());
      CHECK(rt.value()->release(s).is_ok());
    }
  }
  auto st = rt.value()->stats();
  CHECK_EQ(st.bytes_h2d, std::accumulate(expected.value().begin(), expected.value().end(), uint64_t{0}));
  CHECK(st.peak_device_bytes <= budget);
  CHECK(rt.value()->hazards().empty());
}

TEST_CASE("prefetch hides copies behind compute and never breaks the budget") {
  Model m = make_model(std::vector<uint64_t>(16, 1u << 20));
  RuntimeOptions o;
  o.compute_us_per_step = 100;  // compute 100 us per step; copying 1 MiB at 25 GB/s takes ~47 us
  emu::Config ec;
  auto rt = make_runtime(m, 6u << 20, o, ec);
  CHECK(rt.is_ok());
  if (!rt.is_ok()) return;
  for (int i = 0; i < 6; ++i) CHECK(rt.value()->run_pass().is_ok());
  auto st = rt.value()->stats();
  CHECK(st.peak_device_bytes <= (6u << 20));
  const double pass_us = st.us_per_pass.back();
  CHECK(pass_us <= 1.05 * 16 * 100 + 50);  // compute-bound, copies hidden
  CHECK(st.stall_us <= 0.05 * st.compute_us + 100);
  CHECK(rt.value()->hazards().empty());
}

TEST_CASE("through the pinned staging ring when host memory cannot be registered") {
  Model m = make_model({300000, 700000, 500000});
  emu::Config ec;
  ec.host_register_supported = false;
  auto rt = make_runtime(m, 2200000, {}, ec);
  CHECK(rt.is_ok());
  if (!rt.is_ok()) return;
  for (uint32_t s = 0; s < 3; ++s) {
    auto a = rt.value()->acquire(s);
    CHECK(a.is_ok() && rt.value()->read_back(a.value().weight).value() == m.host[a.value().weight]);
    CHECK(rt.value()->compute_step(s).is_ok() && rt.value()->release(s).is_ok());
  }
  CHECK(rt.value()->stats().device.staged_bytes >= 1500000);
  CHECK(!rt.value()->stats().device.host_registered);
}

TEST_CASE("strict cursor mode names the expected and the actual weight") {
  Model m = make_model({100, 100, 100});
  auto rt = make_runtime(m, 1000);
  CHECK(rt.value()->acquire_next("w0").is_ok());
  auto bad = rt.value()->acquire_next("w2");
  CHECK(bad.status().code() == Code::kBadArgument);
  CHECK(bad.status().message().find("expected 'w1', got 'w2'") != std::string::npos);
}

namespace emu_api = weightkit::offload::emu;

TEST_CASE("the emulator catches a read before the copy completes, a free while in use, and the pool cap") {
  using namespace emu_api;
  auto ctx = create_context(Config{});
  ContextScope scope(ctx.get());
  cudaStream_t copy, compute;
  cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking);
  cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking);
  cudaMemPoolProps props{};
  props.maxSize = 1 << 20;
  cudaMemPool_t pool;
  cudaMemPoolCreate(&pool, &props);
  std::vector<uint8_t> host(512 * 1024, 3);
  // Registered, so the copy is asynchronous (a pageable copy would block the host until done).
  CHECK(cudaHostRegister(host.data(), host.size(), cudaHostRegisterReadOnly) == cudaSuccess);
  void* dev = nullptr;
  CHECK(cudaMallocFromPoolAsync(&dev, host.size(), pool, copy) == cudaSuccess);
  CHECK(cudaMemcpyAsync(dev, host.data(), host.size(), cudaMemcpyHostToDevice, copy) == cudaSuccess);
  // Planted misuse 1: the compute stream reads without waiting for the copy's event.
  ReadRange r{dev, host.size()};
  CHECK(launch_compute(compute, &r, 1, 10) == cudaErrorIllegalAddress);
  // Done right: wait on an event recorded after the copy.
  cudaEvent_t ready;
  cudaEventCreateWithFlags(&ready, cudaEventDisableTiming);
  cudaEventRecord(ready, copy);
  cudaStreamWaitEvent(compute, ready, 0);
  CHECK(launch_compute(compute, &r, 1, 1000) == cudaSuccess);
  // Planted misuse 2: free on the copy stream while the compute stream still reads.
  CHECK(cudaFreeAsync(dev, copy) == cudaErrorIllegalAddress);
  // Planted misuse 3: over the cap.
  void* big = nullptr;
  CHECK(cudaMallocFromPoolAsync(&big, 600 * 1024, pool, copy) == cudaErrorMemoryAllocation);
  CHECK(hazards().size() == 2);
  // Freed in the right order, the memory is reusable once the copy stream follows the free.
  CHECK(cudaFreeAsync(dev, compute) == cudaSuccess);
  cudaEvent_t freed;
  cudaEventCreateWithFlags(&freed, cudaEventDisableTiming);
  cudaEventRecord(freed, compute);
  cudaStreamWaitEvent(copy, freed, 0);
  CHECK(cudaMallocFromPoolAsync(&big, 600 * 1024, pool, copy) == cudaSuccess);
  // Use after free is caught too.
  CHECK(launch_compute(compute, &r, 1, 1) == cudaErrorIllegalAddress);
  uint64_t high = 0;
  cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &high);
  CHECK(high <= (1u << 20));
  cudaMemPoolDestroy(pool);
  cudaHostUnregister(host.data());
  cudaEventDestroy(ready);
  cudaEventDestroy(freed);
  cudaStreamDestroy(copy);
  cudaStreamDestroy(compute);
}

namespace {

/// A decoder-shaped model, a quarter of the benchmark's: an embedding, then
/// layers of a norm, four attention projections, a norm and three MLP weights.
std::vector<uint64_t> decoder_sizes(int layers) {
  std::vector<uint64_t> sizes{4240000};
  for (int l = 0; l < layers; ++l) {
    for (uint64_t b : {4096u, 530000u, 530000u, 530000u, 530000u, 4096u, 1415000u, 1415000u, 1415000u}) sizes.push_back(b);
  }
  return sizes;
}

/// Copy-bound but close: compute costs a quarter of the copy time of every
/// byte at 25 GB/s plus 5 us a step, so with a quarter of the model streamed
/// copy and compute take about as long.
RuntimeOptions copy_about_compute() {
  RuntimeOptions o;
  o.compute_us_per_step = 5;
  o.compute_us_per_mib = 0.25 * 1048576.0 / 25e3;
  return o;
}

uint64_t total_of(const std::vector<uint64_t>& sizes) { return std::accumulate(sizes.begin(), sizes.end(), uint64_t{0}); }

}  // namespace

TEST_CASE("the emulated pool keeps freed memory up to its release threshold and reuses it, as cudaMemPool does") {
  using namespace emu_api;
  auto ctx = create_context(Config{});
  ContextScope scope(ctx.get());
  cudaStream_t s;
  cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  cudaMemPoolProps props{};
  props.maxSize = 8 << 20;
  cudaMemPool_t pool;
  cudaMemPoolCreate(&pool, &props);
  uint64_t threshold = 4 << 20, reserved = 0;
  cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
  void* a = nullptr;
  void* b = nullptr;
  CHECK(cudaMallocFromPoolAsync(&a, 3 << 20, pool, s) == cudaSuccess);
  CHECK(cudaMallocFromPoolAsync(&b, 3 << 20, pool, s) == cudaSuccess);
  CHECK(cudaFreeAsync(a, s) == cudaSuccess);
  CHECK(cudaFreeAsync(b, s) == cudaSuccess);
  // One 3 MiB block fits under the 4 MiB threshold and stays reserved; the second is returned.
  cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved);
  CHECK_EQ(reserved, uint64_t{3} << 20);
  void* c = nullptr;
  CHECK(cudaMallocFromPoolAsync(&c, 3 << 20, pool, s) == cudaSuccess);
  CHECK(c != a);  // a new device address: a stale pointer is still caught
  cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved);
  CHECK_EQ(reserved, uint64_t{3} << 20);  // in use now, none kept
  CHECK(cudaFreeAsync(c, s) == cudaSuccess);
  threshold = 0;
  cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
  cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved);
  CHECK_EQ(reserved, uint64_t{0});
  cudaMemPoolDestroy(pool);
  cudaStreamDestroy(s);
}

TEST_CASE("the copy cost is measured the same way on both runtimes: the emulator's configuration comes back") {
  for (bool can_register : {true, false}) {
    DeviceConfig dc;
    dc.budget_bytes = 64u << 20;
    dc.event_count = 4;
    dc.emu.h2d_gbps = 10;
    dc.emu.copy_latency_us = 7;
    dc.emu.host_register_supported = can_register;
    auto dev = make_emu_device(dc);
    CHECK(dev.is_ok());
    if (!dev.is_ok()) continue;
    std::vector<uint8_t> host(1 << 20);
    CHECK(dev.value()->register_host(host.data(), host.size()).is_ok());
    const CopyCost c = dev.value()->copy_cost();
    CHECK(std::abs(c.us_per_copy - 7) < 0.05);
    const double expected = 1048576.0 / 10e3;  // us per MiB at 10 GB/s
    if (can_register) CHECK(std::abs(c.us_per_mib - expected) < 0.01 * expected);
    else CHECK(c.us_per_mib > expected * 1.002);  // staged: a fixed cost per slot on top
    CHECK(dev.value()->hazards().empty());
  }
}

TEST_CASE("the timing device predicts the emulator's pass time and bytes for the same plan") {
  const auto sizes = decoder_sizes(10);
  const uint64_t budget = total_of(sizes) * 3 / 4;
  Model m = make_model(sizes);
  RuntimeOptions o = copy_about_compute();
  std::vector<Weight> plain;
  for (const auto& w : m.weights) plain.push_back(w.weight);
  o.residency = plan_residency(plain, catalog_order(sizes.size()), budget, {});
  auto emu_rt = make_runtime(m, budget, o);
  CHECK(emu_rt.is_ok());
  if (!emu_rt.is_ok()) return;
  const CopyCost cost = {1048576.0 / 25e3, 5.0};
  o.budget_bytes = budget;
  auto timing_rt = Runtime::create(m.weights, catalog_order(sizes.size()), o, {}, make_timing_device(cost));
  CHECK(timing_rt.is_ok());
  if (!timing_rt.is_ok()) return;
  for (int p = 0; p < 4; ++p) {
    CHECK(emu_rt.value()->run_pass().is_ok());
    CHECK(timing_rt.value()->run_pass().is_ok());
  }
  const RuntimeStats e = emu_rt.value()->stats(), t = timing_rt.value()->stats();
  CHECK(e.bytes_per_pass == t.bytes_per_pass);
  for (int p = 1; p < 4; ++p) CHECK(std::abs(e.us_per_pass[p] - t.us_per_pass[p]) <= 0.01 * e.us_per_pass[p]);
  CHECK(emu_rt.value()->hazards().empty());
}

TEST_CASE("with a compute model the runtime trades at most one largest weight of bytes for a faster pass") {
  const auto sizes = decoder_sizes(10);
  const uint64_t total = total_of(sizes);
  std::vector<Weight> plain;
  for (uint64_t b : sizes) plain.push_back({"", b});
  // The emulator is one per process: the two runtimes run one after the other.
  auto four_passes = [&](uint64_t budget, const RuntimeOptions& o) -> std::optional<RuntimeStats> {
    Model m = make_model(sizes);
    auto rt = make_runtime(m, budget, o);
    if (!rt.is_ok()) return std::nullopt;
    for (int p = 0; p < 4; ++p) {
      if (!rt.value()->run_pass().is_ok()) return std::nullopt;
    }
    if (!rt.value()->hazards().empty()) return std::nullopt;
    return rt.value()->stats();
  };
  for (uint64_t budget : {total * 3 / 4, total * 7 / 8}) {
    RuntimeOptions bytes_only = copy_about_compute();
    bytes_only.residency = plan_residency(plain, catalog_order(sizes.size()), budget, {});
    const auto a = four_passes(budget, bytes_only), b = four_passes(budget, copy_about_compute());
    CHECK(a && b);
    if (!a || !b) return;
    const RuntimeStats &sa = *a, &sb = *b;
    const uint64_t bound = total - budget, largest = *std::max_element(sizes.begin(), sizes.end());
    CHECK(sb.bytes_per_pass[3] <= std::max(sa.bytes_per_pass[3], bound + largest));
    CHECK(sb.us_per_pass[3] < 0.97 * sa.us_per_pass[3]);
    CHECK(sb.peak_device_bytes <= budget);
    std::printf("  budget %.1f MiB: bytes-only %.0f us/pass %.2f MiB, time-aware %.0f us/pass %.2f MiB\n", budget / 1048576.0,
                sa.us_per_pass[3], sa.bytes_per_pass[3] / 1048576.0, sb.us_per_pass[3], sb.bytes_per_pass[3] / 1048576.0);
  }
}

TEST_CASE("the chosen look-ahead across passes is the faster one on the timing device") {
  const auto sizes = decoder_sizes(10);
  Model m = make_model(sizes);
  const CopyCost cost{1048576.0 / 25e3, 5.0};
  auto four_passes_us = [&](RuntimeOptions o) -> double {
    auto rt = Runtime::create(m.weights, catalog_order(sizes.size()), o, {}, make_timing_device(cost));
    if (!rt.is_ok()) return -1;
    for (int p = 0; p < 4; ++p) {
      if (!rt.value()->run_pass().is_ok()) return -1;
    }
    return rt.value()->stats().us_per_pass[3];
  };
  int without = 0;
  for (uint64_t eighths : {4, 5, 6, 7}) {
    RuntimeOptions o = copy_about_compute();
    o.budget_bytes = total_of(sizes) * eighths / 8;
    auto rt = Runtime::create(m.weights, catalog_order(sizes.size()), o, {}, make_timing_device(cost),
                              residency_chooser(m.weights, catalog_order(sizes.size()), o));
    CHECK(rt.is_ok());
    if (!rt.is_ok()) return;
    ResidencyPlan chosen = rt.value()->residency();
    const double chosen_us = four_passes_us([&] { o.residency = chosen; return o; }());
    chosen.prefetch_across_passes = !chosen.prefetch_across_passes;
    const double flipped_us = four_passes_us([&] { o.residency = chosen; return o; }());
    CHECK(chosen_us > 0 && flipped_us > 0);
    CHECK(chosen_us <= flipped_us);
    if (!rt.value()->residency().prefetch_across_passes) ++without;
    std::printf("  %d/8 of the model: %s look-ahead across passes, %.0f us vs %.0f us flipped\n", static_cast<int>(eighths),
                rt.value()->residency().prefetch_across_passes ? "with" : "without", chosen_us, flipped_us);
  }
  CHECK(without > 0);  // copy-bound budgets do better without it
}

TEST_CASE("runtimes never share an emulated device: 2 and 8 runtimes, interleaved and on 8 threads") {
  for (size_t count : {size_t{2}, size_t{8}}) {
    std::vector<Model> models;
    for (size_t r = 0; r < count; ++r) models.push_back(make_model({300000 + r * 1000, 200000, 500000, 100000, 400000}));
    std::vector<std::unique_ptr<Runtime>> rts;
    for (auto& m : models) {
      RuntimeOptions o;
      o.compute_us_per_step = 20;
      auto rt = make_runtime(m, 1300000, o);
      CHECK(rt.is_ok());
      if (rt.is_ok()) rts.push_back(std::move(rt).value());
    }
    // Interleaved on one thread: a pass of each in turn, each pass seeing only its own device.
    for (int round = 0; round < 3; ++round) {
      for (auto& rt : rts) CHECK(rt->run_pass().is_ok());
    }
    // Concurrently: one thread per runtime.
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (auto& rt : rts) {
      threads.emplace_back([&rt, &failures] {
        for (int p = 0; p < 5; ++p) {
          if (!rt->run_pass().is_ok()) failures++;
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK_EQ(failures.load(), 0);
    for (size_t r = 0; r < rts.size(); ++r) {
      CHECK(rts[r]->hazards().empty());
      // Each device holds its own model's bytes.
      auto back = rts[r]->read_back(2);
      if (back.is_ok()) CHECK(back.value() == models[r].host[2]);
      const auto s = rts[r]->stats();
      CHECK_EQ(s.passes, uint64_t{8});
      CHECK(s.peak_device_bytes <= 1300000);
    }
  }
}

WEIGHTKIT_TEST_MAIN()
