// The device layer on the CUDA runtime API. This one source is compiled twice:
// against the emulated runtime (WEIGHTKIT_OFFLOAD_EMU, namespace emu) and,
// where nvcc is present, against the real one (namespace cuda).
//
//   copy stream:    non-blocking; cudaMallocFromPoolAsync + cudaMemcpyAsync + event
//   compute stream: waits on each weight's ready event; frees in its own order
//   pool:           maxSize = budget (hard backstop), release threshold = budget
#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "weightkit/offload/device.hpp"

#if defined(WEIGHTKIT_OFFLOAD_EMU)
#include "weightkit/offload/emu_cuda.hpp"
#define WK_DEVICE_NS emu
#define WK_DEVICE_KIND "emu"
#else
#include <cuda_runtime_api.h>
#define WK_DEVICE_NS cuda
#define WK_DEVICE_KIND "cuda"
#endif

namespace weightkit::offload::WK_DEVICE_NS {

#if defined(WEIGHTKIT_OFFLOAD_EMU)
using namespace weightkit::offload::emu;
inline cudaError_t launch_read(cudaStream_t s, const std::vector<DeviceRead>& reads, double cost_us) {
  std::vector<ReadRange> r;
  for (const auto& d : reads) r.push_back({reinterpret_cast<const void*>(d.ptr), static_cast<size_t>(d.bytes)});
  return emu::launch_compute(s, r.data(), r.size(), cost_us);
}
// Each device owns an emulated context; every call runs with it current.
using DeviceContext = std::shared_ptr<emu::EmuContext>;
inline DeviceContext make_context(const DeviceConfig& c) { return emu::create_context(c.emu); }
#define WK_DEVICE_SCOPE() emu::ContextScope wk_scope(context_.get())
inline double device_now_us() { return emu::host_now_us(); }
inline double device_stall_us() { return emu::compute_stall_us(); }
inline double device_copy_us() { return emu::copy_busy_us(); }
inline std::vector<std::string> device_hazards() { return emu::hazards(); }
inline std::string device_name() { return "emulated CUDA runtime"; }
#else
// Implemented in compute.cu: a kernel that reads every range and runs for about cost_us.
cudaError_t launch_read(cudaStream_t s, const std::vector<DeviceRead>& reads, double cost_us);
// The process's primary context serves every runtime; each keeps its own streams and pool.
struct DeviceContext {};
inline DeviceContext make_context(const DeviceConfig&) { return {}; }
#define WK_DEVICE_SCOPE() (void)context_
inline double device_now_us() {
  using namespace std::chrono;
  return duration<double, std::micro>(steady_clock::now().time_since_epoch()).count();
}
inline double device_stall_us() { return 0; }
inline double device_copy_us() { return 0; }
inline std::vector<std::string> device_hazards() { return {}; }
inline std::string device_name() {
  cudaDeviceProp p;
  return cudaGetDeviceProperties(&p, 0) == cudaSuccess ? std::string(p.name) : std::string("CUDA device 0");
}
#endif

namespace {

Status check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::ok();
  return Status(Code::kDevice, std::string(what) + " failed: " + cudaGetErrorString(e));
}

class Device final : public DeviceLayer {
 public:
  ~Device() override {
    WK_DEVICE_SCOPE();
    if (copy_) cudaStreamSynchronize(copy_);
    if (compute_) cudaStreamSynchronize(compute_);
    for (void* p : registered_) cudaHostUnregister(p);
    for (void* s : staging_) cudaFreeHost(s);
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
    for (cudaEvent_t e : read_events_) cudaEventDestroy(e);
    for (cudaEvent_t e : slot_events_) cudaEventDestroy(e);
    if (pool_) cudaMemPoolDestroy(pool_);
    if (copy_) cudaStreamDestroy(copy_);
    if (compute_) cudaStreamDestroy(compute_);
  }

  Status init(const DeviceConfig& c) {
    config_ = c;
    context_ = make_context(c);
    WK_DEVICE_SCOPE();
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) return Status(Code::kDevice, "no CUDA device is present");
    Status st = check(cudaSetDevice(0), "cudaSetDevice");
    if (!st.is_ok()) return st;
    int reg = 0, ro = 0, engines = 0;
    cudaDeviceGetAttribute(&reg, cudaDevAttrHostRegisterSupported, 0);
    cudaDeviceGetAttribute(&ro, cudaDevAttrHostRegisterReadOnlySupported, 0);
    cudaDeviceGetAttribute(&engines, cudaDevAttrAsyncEngineCount, 0);
    can_register_ = reg != 0;
    can_register_ro_ = ro != 0;
    if (!(st = check(cudaStreamCreateWithFlags(&copy_, cudaStreamNonBlocking), "cudaStreamCreate(copy)")).is_ok()) return st;
    if (!(st = check(cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking), "cudaStreamCreate(compute)")).is_ok()) return st;
    cudaMemPoolProps props;
    std::memset(&props, 0, sizeof props);
    props.allocType = cudaMemAllocationTypePinned;
    props.handleTypes = cudaMemHandleTypeNone;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = 0;
    props.maxSize = static_cast<size_t>(c.budget_bytes);  // the hard backstop under the software accounting
    if (!(st = check(cudaMemPoolCreate(&pool_, &props), "cudaMemPoolCreate")).is_ok()) return st;
    uint64_t threshold = c.budget_bytes;
    cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &threshold);
    // Events are created once; a miss never creates one.
    events_.resize(std::max<size_t>(c.event_count, 1));
    read_events_.resize(events_.size());
    for (auto* list : {&events_, &read_events_}) {
      for (auto& e : *list) {
        if (!(st = check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate")).is_ok()) return st;
      }
    }
    return Status::ok();
  }

  const char* kind() const override { return WK_DEVICE_KIND; }
  std::string name() override {
    WK_DEVICE_SCOPE();
    return device_name();
  }

  Status register_host(const void* base, uint64_t bytes) override {
    WK_DEVICE_SCOPE();
    if (bytes == 0) return Status::ok();
    if (can_register_) {
      unsigned flags = can_register_ro_ ? cudaHostRegisterReadOnly : cudaHostRegisterDefault;
      cudaError_t e = cudaHostRegister(const_cast<void*>(base), static_cast<size_t>(bytes), flags);
      if (e == cudaSuccess) {
        registered_.push_back(const_cast<void*>(base));
        stats_.host_registered = true;
        ranges_.push_back({reinterpret_cast<uintptr_t>(base), bytes});
        return Status::ok();
      }
    }
    return ensure_staging();
  }

  Result<uint64_t> allocate(uint64_t bytes) override {
    WK_DEVICE_SCOPE();
    void* p = nullptr;
    cudaError_t e = cudaMallocFromPoolAsync(&p, static_cast<size_t>(bytes), pool_, copy_);
    if (e == cudaErrorMemoryAllocation) {
      // Frees may still be pending in this runtime's streams: wait for them once, then retry.
      stats_.alloc_retries++;
      cudaStreamSynchronize(compute_);
      cudaStreamSynchronize(copy_);
      e = cudaMallocFromPoolAsync(&p, static_cast<size_t>(bytes), pool_, copy_);
    }
    if (e == cudaErrorMemoryAllocation) {
      return Status(Code::kBudget, "the device pool (cap " + std::to_string(config_.budget_bytes) + " bytes) cannot hold " + std::to_string(bytes) + " more bytes");
    }
    Status st = check(e, "cudaMallocFromPoolAsync");
    if (!st.is_ok()) return st;
    return reinterpret_cast<uint64_t>(p);
  }

  Status copy_in(uint64_t dev, const void* host, uint64_t bytes, size_t ready_event) override {
    WK_DEVICE_SCOPE();
    if (ready_event >= events_.size()) return Status(Code::kBadArgument, "event index out of range");
    Status st;
    if (is_registered(host, bytes) || staging_.empty()) {
      st = check(cudaMemcpyAsync(reinterpret_cast<void*>(dev), host, static_cast<size_t>(bytes), cudaMemcpyHostToDevice, copy_), "cudaMemcpyAsync");
    } else {
      st = copy_staged(dev, static_cast<const uint8_t*>(host), bytes);
    }
    if (!st.is_ok()) return st;
    stats_.bytes_h2d += bytes;
    return check(cudaEventRecord(events_[ready_event], copy_), "cudaEventRecord");
  }

  Status compute_wait(size_t event) override {
    WK_DEVICE_SCOPE();
    if (event >= events_.size()) return Status(Code::kBadArgument, "event index out of range");
    return check(cudaStreamWaitEvent(compute_, events_[event], 0), "cudaStreamWaitEvent");
  }

  Status compute(const std::vector<DeviceRead>& reads, double cost_us) override {
    WK_DEVICE_SCOPE();
    Status st = check(launch_read(compute_, reads, cost_us), "compute");
    for (const auto& r : reads) {
      if (!st.is_ok()) break;
      if (r.event >= read_events_.size()) return Status(Code::kBadArgument, "event index out of range");
      st = check(cudaEventRecord(read_events_[r.event], compute_), "cudaEventRecord");
    }
    return st;
  }

  Status release(uint64_t dev, size_t read_event) override {
    WK_DEVICE_SCOPE();
    if (read_event >= read_events_.size()) return Status(Code::kBadArgument, "event index out of range");
    Status st = check(cudaStreamWaitEvent(copy_, read_events_[read_event], 0), "cudaStreamWaitEvent");
    if (!st.is_ok()) return st;
    return check(cudaFreeAsync(reinterpret_cast<void*>(dev), copy_), "cudaFreeAsync");
  }

  // This runtime's streams only: other runtimes on the same device are not waited for.
  Status synchronize() override {
    WK_DEVICE_SCOPE();
    Status st = check(cudaStreamSynchronize(copy_), "cudaStreamSynchronize(copy)");
    if (!st.is_ok()) return st;
    return check(cudaStreamSynchronize(compute_), "cudaStreamSynchronize(compute)");
  }

  Result<std::vector<uint8_t>> read_back(uint64_t dev, uint64_t bytes) override {
    WK_DEVICE_SCOPE();
    std::vector<uint8_t> out(static_cast<size_t>(bytes));
    Status st = check(cudaStreamSynchronize(copy_), "cudaStreamSynchronize");
    if (!st.is_ok()) return st;
    st = check(cudaMemcpy(out.data(), reinterpret_cast<const void*>(dev), out.size(), cudaMemcpyDeviceToHost), "cudaMemcpy(D2H)");
    if (!st.is_ok()) return st;
    return out;
  }

  DeviceStats stats() override {
    WK_DEVICE_SCOPE();
    DeviceStats s = stats_;
    uint64_t high = 0;
    cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrUsedMemHigh, &high);
    s.peak_pool_bytes = high;
    s.stall_us = device_stall_us();
    s.copy_us = device_copy_us();
    s.now_us = device_now_us();
    return s;
  }

  std::vector<std::string> hazards() override {
    WK_DEVICE_SCOPE();
    return device_hazards();
  }

  /// Measured once, the same way on both runtimes: the best of three timed
  /// copies of a small and a large block from pinned memory; the difference
  /// gives the bandwidth, the small one the fixed cost. Staged weights pay the
  /// fixed cost once per staging slot.
  CopyCost copy_cost() override {
    WK_DEVICE_SCOPE();
    if (copy_cost_.us_per_mib == 0) measure_copy_cost();
    CopyCost c = copy_cost_;
    if (!staging_.empty() && ranges_.empty()) c.us_per_mib += c.us_per_copy * 1048576.0 / static_cast<double>(slot_bytes_);
    return c;
  }

 private:
  void measure_copy_cost() {
    const size_t big = static_cast<size_t>(std::min<uint64_t>(8u << 20, config_.budget_bytes / 2)) & ~size_t{4095};
    const size_t small = std::min<size_t>(64u << 10, big / 2);
    if (big == 0 || small == 0) return;
    void* host = nullptr;
    void* dev = nullptr;
    if (cudaMallocHost(&host, big) != cudaSuccess) return;
    std::memset(host, 0, big);
    if (cudaMallocFromPoolAsync(&dev, big, pool_, copy_) == cudaSuccess) {
      auto best_of_three = [&](size_t bytes) {
        double best = 1e300;
        for (int i = 0; i < 3; ++i) {
          cudaStreamSynchronize(copy_);
          const double t0 = device_now_us();
          cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, copy_);
          cudaStreamSynchronize(copy_);
          best = std::min(best, device_now_us() - t0);
        }
        return best;
      };
      const double t_small = best_of_three(small), t_big = best_of_three(big);
      const double per_byte = std::max(t_big - t_small, 1e-9) / static_cast<double>(big - small);
      copy_cost_.us_per_mib = per_byte * 1048576.0;
      copy_cost_.us_per_copy = std::max(t_small - per_byte * static_cast<double>(small), 0.0);
      cudaFreeAsync(dev, copy_);
      cudaStreamSynchronize(copy_);
    }
    cudaFreeHost(host);
  }

  bool is_registered(const void* host, uint64_t bytes) const {
    auto a = reinterpret_cast<uintptr_t>(host);
    for (const auto& [base, len] : ranges_) {
      if (a >= base && a + bytes <= base + len) return true;
    }
    return false;
  }

  Status ensure_staging() {
    if (!staging_.empty()) return Status::ok();
    const uint64_t slot = std::max<uint64_t>(config_.staging_bytes / std::max(config_.staging_slots, 1), 4096);
    for (int i = 0; i < std::max(config_.staging_slots, 1); ++i) {
      void* p = nullptr;
      Status st = check(cudaMallocHost(&p, static_cast<size_t>(slot)), "cudaMallocHost(staging)");
      if (!st.is_ok()) return st;
      staging_.push_back(p);
    }
    slot_bytes_ = slot;
    stats_.staging_ring_bytes = slot * staging_.size();
    slot_ready_.assign(staging_.size(), nullptr);
    return Status::ok();
  }

  /// Through the pinned ring: before a slot is refilled, the host waits for the
  /// copy that last read it. Only pinned memory gives asynchronous copies.
  Status copy_staged(uint64_t dev, const uint8_t* host, uint64_t bytes) {
    for (uint64_t at = 0; at < bytes; at += slot_bytes_) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(slot_bytes_, bytes - at));
      const size_t slot = next_slot_++ % staging_.size();
      if (slot_ready_[slot]) cudaEventSynchronize(slot_ready_[slot]);
      std::memcpy(staging_[slot], host + at, n);
      Status st = check(cudaMemcpyAsync(reinterpret_cast<void*>(dev + at), staging_[slot], n, cudaMemcpyHostToDevice, copy_), "cudaMemcpyAsync(staged)");
      if (!st.is_ok()) return st;
      if (slot_events_.size() < staging_.size()) {
        cudaEvent_t e;
        if (!(st = check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate")).is_ok()) return st;
        slot_events_.push_back(e);
      }
      cudaEventRecord(slot_events_[slot], copy_);
      slot_ready_[slot] = slot_events_[slot];
      stats_.staged_bytes += n;
    }
    return Status::ok();
  }

  DeviceConfig config_;
  DeviceContext context_;  // destroyed after the destructor has released every handle of it
  cudaStream_t copy_ = nullptr, compute_ = nullptr;
  cudaMemPool_t pool_ = nullptr;
  std::vector<cudaEvent_t> events_;       // per weight: its copy completed
  std::vector<cudaEvent_t> read_events_;  // per weight: the last compute that read it completed
  bool can_register_ = false, can_register_ro_ = false;
  std::vector<void*> registered_;
  std::vector<std::pair<uintptr_t, uint64_t>> ranges_;
  std::vector<void*> staging_;
  std::vector<cudaEvent_t> slot_events_, slot_ready_;
  uint64_t slot_bytes_ = 0;
  size_t next_slot_ = 0;
  DeviceStats stats_;
  CopyCost copy_cost_;
};

}  // namespace

Result<std::unique_ptr<DeviceLayer>> make_device(const DeviceConfig& config) {
  auto d = std::make_unique<Device>();
  Status st = d->init(config);
  if (!st.is_ok()) return st;
  return std::unique_ptr<DeviceLayer>(std::move(d));
}

}  // namespace weightkit::offload::WK_DEVICE_NS

#if defined(WEIGHTKIT_OFFLOAD_EMU)
namespace weightkit::offload {
Result<std::unique_ptr<DeviceLayer>> make_emu_device(const DeviceConfig& config) { return emu::make_device(config); }
}  // namespace weightkit::offload
#else
// The real-CUDA variant lives in its own shared library, loaded on demand, so
// the addon itself never needs libcudart or a driver.
extern "C" __attribute__((visibility("default"))) int weightkit_offload_cuda_device_count() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}
extern "C" __attribute__((visibility("default"))) weightkit::offload::DeviceLayer* weightkit_offload_make_cuda_device(
    const weightkit::offload::DeviceConfig* config, weightkit::Status* error) {
  auto r = weightkit::offload::cuda::make_device(*config);
  if (!r.is_ok()) {
    *error = r.status();
    return nullptr;
  }
  return std::move(r).value().release();
}
#endif
