// The emulated CUDA runtime. Operations execute eagerly at the call (device
// memory is host memory), but each is placed on a virtual timeline by stream
// order, event waits and engine availability; hazards are judged on that
// timeline, exactly as a real device would race. All state belongs to one
// EmuContext: streams and pools carry theirs, other calls use the thread's
// current one.
#include "weightkit/offload/emu_cuda.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>

namespace weightkit::offload::emu {

struct EmuStream {
  EmuContext* ctx = nullptr;
  double tail = 0;          // when the last operation enqueued here ends
  double pending_wait = 0;  // the latest event this stream must wait for
};
struct EmuEvent {
  EmuContext* ctx = nullptr;  // of the stream it was last recorded on
  double time = 0;
  bool recorded = false;
};

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Access {
  double start, end;
  EmuStream* stream;
};

struct Alloc {
  uintptr_t va = 0;           // the device address handed out (never reused)
  uint8_t* data = nullptr;    // the host memory standing in for it
  size_t size = 0;
  size_t capacity = 0;        // bytes of `data` (size rounded up; a reused block may be larger)
  EmuPool* pool = nullptr;
  double ready_at = 0;       // the allocation in its stream's order
  double data_ready_at = 0;  // end of the last copy that wrote it
  double free_at = kInf;
  std::vector<Access> reads;
  std::vector<Access> writes;
};

}  // namespace

struct EmuContext {
  std::mutex mu;
  Config config;
  double host_now = 0;
  double copy_engine_free = 0;
  double compute_engine_free = 0;
  double stall_us = 0;
  double copy_busy_us = 0;
  std::map<uintptr_t, Alloc> live;     // device allocations by device address
  uintptr_t next_va = uintptr_t{1} << 40;  // device addresses grow and are never reused, so a stale pointer is always caught
  std::deque<Alloc> freed;             // recently freed, for use-after-free reports
  std::map<uintptr_t, size_t> host_registered;
  std::map<uintptr_t, size_t> host_pinned;
  std::vector<std::string> hazards;
  std::set<EmuStream*> streams;

  ~EmuContext() {
    for (auto& [base, a] : live) std::free(a.data);
    for (auto& [p, n] : host_pinned) std::free(reinterpret_cast<void*>(p));
  }
};

namespace {


thread_local EmuContext* t_current = nullptr;

/// The thread's current context (null outside a ContextScope).
EmuContext* current() { return t_current; }

std::string hex(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

cudaError_t hazard(EmuContext& st, const std::string& what) {
  st.hazards.push_back(what);
  return cudaErrorIllegalAddress;
}

void overhead(EmuContext& st) { st.host_now += st.config.api_overhead_us; }

/// Places an operation of `duration` on `s` (and on `engine` when given).
double place(EmuContext& st, EmuStream* s, double duration, double* engine, bool count_stall, double* start_out) {
  const double natural = std::max({s->tail, st.host_now, engine ? *engine : 0.0});
  const double start = std::max(natural, s->pending_wait);
  if (count_stall) st.stall_us += start - natural;
  const double end = start + duration;
  s->tail = end;
  if (engine) *engine = end;
  *start_out = start;
  return end;
}

/// The live allocation holding [p, p+n), or nullptr.
Alloc* find(EmuContext& st, const void* p, size_t n) {
  auto a = reinterpret_cast<uintptr_t>(p);
  auto it = st.live.upper_bound(a);
  if (it == st.live.begin()) return nullptr;
  --it;
  if (a < it->first || a + n > it->first + it->second.size) return nullptr;
  return &it->second;
}

bool was_freed(EmuContext& st, const void* p) {
  auto a = reinterpret_cast<uintptr_t>(p);
  for (const auto& f : st.freed) {
    if (a >= f.va && a < f.va + f.size) return true;
  }
  return false;
}

/// Host memory behind a device address inside allocation `a`.
uint8_t* host_of(Alloc* a, const void* p) { return a->data + (reinterpret_cast<uintptr_t>(p) - a->va); }

cudaError_t missing(EmuContext& st, const void* p, const char* op) {
  return hazard(st, std::string(op) + ": " + hex(p) + (was_freed(st, p) ? " was freed (use after free)" : " is not device memory"));
}

bool in_ranges(const std::map<uintptr_t, size_t>& m, const void* p, size_t n) {
  auto a = reinterpret_cast<uintptr_t>(p);
  auto it = m.upper_bound(a);
  if (it == m.begin()) return false;
  --it;
  return a >= it->first && a + n <= it->first + it->second;
}

uint64_t used_at(EmuContext& st, EmuPool* pool, double t);

}  // namespace

struct EmuPool {
  EmuContext* ctx = nullptr;
  size_t max_size = 0;
  uint64_t release_threshold = 0;
  uint64_t used_high = 0;
  // Freed blocks the pool keeps for reuse, up to release_threshold bytes, as a
  // real cudaMemPool keeps its reserved memory: the host pages standing in for
  // device memory stay mapped, so a weight brought in again lands on pages
  // that are already there instead of faulting in fresh ones (a fresh 4 KiB
  // page costs ~10 us; every pass used to fault in the bytes it moved).
  std::multimap<size_t, uint8_t*> reserve;  // capacity -> block
  uint64_t reserved_bytes = 0;

  ~EmuPool() {
    for (auto& [cap, p] : reserve) std::free(p);
  }

  /// A block of at least `capacity` bytes: a kept one of that size (or up to twice it), else a new one.
  uint8_t* take(size_t capacity, size_t* got) {
    auto it = reserve.lower_bound(capacity);
    if (it != reserve.end() && it->first <= 2 * capacity) {
      uint8_t* p = it->second;
      *got = it->first;
      reserved_bytes -= it->first;
      reserve.erase(it);
      return p;
    }
    *got = capacity;
    return static_cast<uint8_t*>(std::aligned_alloc(256, capacity));
  }

  /// Keeps a freed block while the reserve stays within the release threshold, else returns it to the system.
  void give(uint8_t* p, size_t capacity) {
    if (reserved_bytes + capacity <= release_threshold) {
      reserve.emplace(capacity, p);
      reserved_bytes += capacity;
    } else {
      std::free(p);
    }
  }

  /// Returns kept blocks until the reserve is within `bytes`.
  void trim(uint64_t bytes) {
    while (reserved_bytes > bytes && !reserve.empty()) {
      auto it = std::prev(reserve.end());
      reserved_bytes -= it->first;
      std::free(it->second);
      reserve.erase(it);
    }
  }
};

namespace {
uint64_t used_at(EmuContext& st, EmuPool* pool, double t) {
  uint64_t used = 0;
  for (auto& [base, a] : st.live) {
    if (a.pool == pool && a.free_at > t) used += a.size;
  }
  return used;
}
}  // namespace

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return cudaErrorInvalidValue;
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidValue; }

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (!current()) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *current();
  std::lock_guard<std::mutex> g(st.mu);
  if (!value || device != 0) return cudaErrorInvalidValue;
  switch (attr) {
    case cudaDevAttrAsyncEngineCount: *value = st.config.async_engine_count; break;
    case cudaDevAttrHostRegisterSupported: *value = st.config.host_register_supported ? 1 : 0; break;
    case cudaDevAttrHostRegisterReadOnlySupported: *value = st.config.host_register_readonly_supported ? 1 : 0; break;
    default: return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int) {
  if (!current()) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *current();
  std::lock_guard<std::mutex> g(st.mu);
  if (!stream) return cudaErrorInvalidValue;
  *stream = new EmuStream();
  (*stream)->ctx = &st;
  (*stream)->tail = st.host_now;
  st.streams.insert(*stream);
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (!stream) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *stream->ctx;
  std::lock_guard<std::mutex> g(st.mu);
  if (!st.streams.erase(stream)) return cudaErrorInvalidResourceHandle;
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (!stream) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *stream->ctx;
  std::lock_guard<std::mutex> g(st.mu);
  if (!st.streams.count(stream)) return cudaErrorInvalidResourceHandle;
  st.host_now = std::max(st.host_now, stream->tail);
  return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int) {
  if (!stream) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *stream->ctx;
  std::lock_guard<std::mutex> g(st.mu);
  if (!st.streams.count(stream) || !event) return cudaErrorInvalidResourceHandle;
  overhead(st);
  if (event->recorded) stream->pending_wait = std::max(stream->pending_wait, event->time);
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int) {
  if (!event) return cudaErrorInvalidValue;
  *event = new EmuEvent();
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!stream) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *stream->ctx;
  std::lock_guard<std::mutex> g(st.mu);
  if (!event || !st.streams.count(stream)) return cudaErrorInvalidResourceHandle;
  overhead(st);
  event->ctx = &st;
  event->time = std::max(stream->tail, st.host_now);
  event->recorded = true;
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (!event) return cudaErrorInvalidResourceHandle;
  if (!event->recorded) return cudaSuccess;
  EmuContext& st = *event->ctx;
  std::lock_guard<std::mutex> g(st.mu);
  st.host_now = std::max(st.host_now, event->time);
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  if (!event) return cudaErrorInvalidResourceHandle;
  if (!event->recorded) return cudaSuccess;
  EmuContext& st = *event->ctx;
  std::lock_guard<std::mutex> g(st.mu);
  return event->time <= st.host_now ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaMemPoolCreate(cudaMemPool_t* pool, const cudaMemPoolProps* props) {
  if (!pool || !props) return cudaErrorInvalidValue;
  if (!current()) return cudaErrorInvalidResourceHandle;
  *pool = new EmuPool();
  (*pool)->ctx = current();
  (*pool)->max_size = props->maxSize;
  return cudaSuccess;
}

cudaError_t cudaMemPoolDestroy(cudaMemPool_t pool) {
  if (!pool) return cudaErrorInvalidValue;
  EmuContext& st = *pool->ctx;
  std::lock_guard<std::mutex> g(st.mu);
  for (auto it = st.live.begin(); it != st.live.end();) {
    if (it->second.pool == pool) {
      std::free(it->second.data);
      it = st.live.erase(it);
    } else {
      ++it;
    }
  }
  delete pool;
  return cudaSuccess;
}

cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value) {
  if (!pool || !value) return cudaErrorInvalidValue;
  if (attr == cudaMemPoolAttrReleaseThreshold) {
    std::lock_guard<std::mutex> g(pool->ctx->mu);
    pool->release_threshold = *static_cast<uint64_t*>(value);
    pool->trim(pool->release_threshold);
  }
  else if (attr == cudaMemPoolAttrUsedMemHigh || attr == cudaMemPoolAttrReservedMemHigh) pool->used_high = 0;  // reset watermark
  else return cudaErrorInvalidValue;
  return cudaSuccess;
}

cudaError_t cudaMemPoolGetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value) {
  if (!pool || !value) return cudaErrorInvalidValue;
  EmuContext& st = *pool->ctx;
  std::lock_guard<std::mutex> g(st.mu);
  auto* out = static_cast<uint64_t*>(value);
  switch (attr) {
    case cudaMemPoolAttrReleaseThreshold: *out = pool->release_threshold; break;
    case cudaMemPoolAttrUsedMemHigh:
    case cudaMemPoolAttrReservedMemHigh: *out = pool->used_high; break;
    case cudaMemPoolAttrUsedMemCurrent: *out = used_at(st, pool, st.host_now); break;
    case cudaMemPoolAttrReservedMemCurrent: *out = used_at(st, pool, st.host_now) + pool->reserved_bytes; break;
    default: return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

cudaError_t cudaMallocFromPoolAsync(void** ptr, size_t size, cudaMemPool_t pool, cudaStream_t stream) {
  if (!stream) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *stream->ctx;
  std::lock_guard<std::mutex> g(st.mu);
  if (!ptr || !pool || size == 0) return cudaErrorInvalidValue;
  if (!st.streams.count(stream) || pool->ctx != &st) return cudaErrorInvalidResourceHandle;
  overhead(st);
  const double t = std::max({stream->tail, st.host_now, stream->pending_wait});
  // Every allocation not freed (in stream order) by t may still coexist with this one.
  const uint64_t used = used_at(st, pool, t);
  if (pool->max_size && used + size > pool->max_size) return cudaErrorMemoryAllocation;
  Alloc a;
  a.data = pool->take((size + 255) / 256 * 256, &a.capacity);
  if (!a.data) return cudaErrorMemoryAllocation;
  a.va = st.next_va;
  st.next_va += (size + 4095) / 4096 * 4096 + 4096;  // a guard gap between allocations
  a.size = size;
  a.pool = pool;
  a.ready_at = t;
  a.data_ready_at = t;
  stream->tail = t;
  pool->used_high = std::max<uint64_t>(pool->used_high, used + size);
  *ptr = reinterpret_cast<void*>(a.va);
  st.live.emplace(a.va, std::move(a));
  return cudaSuccess;
}

cudaError_t cudaFreeAsync(void* ptr, cudaStream_t stream) {
  if (!stream) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *stream->ctx;
  std::lock_guard<std::mutex> g(st.mu);
  if (!st.streams.count(stream)) return cudaErrorInvalidResourceHandle;
  auto it = st.live.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == st.live.end()) return missing(st, ptr, "cudaFreeAsync");
  overhead(st);
  Alloc& a = it->second;
  const double t = std::max({stream->tail, st.host_now, stream->pending_wait});
  for (const auto& r : a.reads) {
    if (r.stream != stream && r.end > t) {
      return hazard(st, "cudaFreeAsync: " + hex(ptr) + " freed at t=" + std::to_string(t) + "us while another stream reads it until t=" +
                            std::to_string(r.end) + "us (free while in use: wait on an event after the last read)");
    }
  }
  for (const auto& w : a.writes) {
    if (w.stream != stream && w.end > t) return hazard(st, "cudaFreeAsync: " + hex(ptr) + " freed while a copy into it is in flight");
  }
  stream->tail = t;
  a.free_at = t;
  // Executed eagerly: nothing enqueued later can touch it without a lookup
  // (device addresses are never reused; the host block behind it may be).
  a.pool->give(a.data, a.capacity);
  a.data = nullptr;
  st.freed.push_back(std::move(a));
  if (st.freed.size() > 4096) st.freed.pop_front();
  st.live.erase(it);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
  if (!stream) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *stream->ctx;
  std::lock_guard<std::mutex> g(st.mu);
  if (!st.streams.count(stream)) return cudaErrorInvalidResourceHandle;
  if (count == 0) return cudaSuccess;
  overhead(st);
  if (kind == cudaMemcpyHostToDevice) {
    Alloc* a = find(st, dst, count);
    if (!a) return missing(st, dst, "cudaMemcpyAsync(H2D) destination");
    const bool pinned = in_ranges(st.host_registered, src, count) || in_ranges(st.host_pinned, src, count);
    const double bw = st.config.h2d_gbps * 1e3 * (pinned ? 1.0 : st.config.pageable_factor);  // bytes per us
    double start;
    const double end = place(st, stream, st.config.copy_latency_us + static_cast<double>(count) / bw, &st.copy_engine_free, false, &start);
    st.copy_busy_us += end - start;
    if (start < a->ready_at) {
      return hazard(st, "cudaMemcpyAsync: destination " + hex(dst) + " used at t=" + std::to_string(start) +
                            "us before its allocation at t=" + std::to_string(a->ready_at) + "us in stream order");
    }
    for (const auto& r : a->reads) {
      if (r.end > start && r.stream != stream) return hazard(st, "cudaMemcpyAsync: " + hex(dst) + " overwritten while another stream reads it");
    }
    std::memcpy(host_of(a, dst), src, count);
    a->data_ready_at = std::max(a->data_ready_at, end);
    a->writes.push_back({start, end, stream});
    if (!pinned) st.host_now = std::max(st.host_now, end);  // pageable copies block the host
    return cudaSuccess;
  }
  if (kind == cudaMemcpyDeviceToHost) {
    Alloc* a = find(st, src, count);
    if (!a) return missing(st, src, "cudaMemcpyAsync(D2H) source");
    double start;
    const double end = place(st, stream, st.config.copy_latency_us + static_cast<double>(count) / (st.config.h2d_gbps * 1e3), &st.copy_engine_free, false, &start);
    if (start < a->data_ready_at) return hazard(st, "cudaMemcpyAsync(D2H): " + hex(src) + " read before the copy that wrote it completed");
    std::memcpy(dst, host_of(a, src), count);
    a->reads.push_back({start, end, stream});
    return cudaSuccess;
  }
  return cudaErrorInvalidValue;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  // A synchronous copy on its own stream, after everything already enqueued (legacy default-stream semantics).
  cudaStream_t s;
  cudaError_t created = cudaStreamCreateWithFlags(&s, 0);
  if (created != cudaSuccess) return created;
  {
    EmuContext& st = *s->ctx;
    std::lock_guard<std::mutex> g(st.mu);
    for (EmuStream* o : st.streams) s->pending_wait = std::max(s->pending_wait, o->tail);
  }
  cudaError_t e = cudaMemcpyAsync(dst, src, count, kind, s);
  if (e == cudaSuccess) e = cudaStreamSynchronize(s);
  cudaStreamDestroy(s);
  return e;
}

cudaError_t cudaHostRegister(void* ptr, size_t size, unsigned int flags) {
  if (!current()) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *current();
  std::lock_guard<std::mutex> g(st.mu);
  if (!ptr || size == 0) return cudaErrorInvalidValue;
  if (!st.config.host_register_supported) return cudaErrorNotSupported;
  if ((flags & cudaHostRegisterReadOnly) && !st.config.host_register_readonly_supported) return cudaErrorNotSupported;
  if (in_ranges(st.host_registered, ptr, 1)) return cudaErrorHostMemoryAlreadyRegistered;
  st.host_registered[reinterpret_cast<uintptr_t>(ptr)] = size;
  return cudaSuccess;
}

cudaError_t cudaHostUnregister(void* ptr) {
  if (!current()) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *current();
  std::lock_guard<std::mutex> g(st.mu);
  return st.host_registered.erase(reinterpret_cast<uintptr_t>(ptr)) ? cudaSuccess : cudaErrorInvalidValue;
}

cudaError_t cudaMallocHost(void** ptr, size_t size) {
  if (!current()) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *current();
  std::lock_guard<std::mutex> g(st.mu);
  if (!ptr || size == 0) return cudaErrorInvalidValue;
  *ptr = std::aligned_alloc(4096, (size + 4095) / 4096 * 4096);
  if (!*ptr) return cudaErrorMemoryAllocation;
  st.host_pinned[reinterpret_cast<uintptr_t>(*ptr)] = size;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  if (!current()) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *current();
  std::lock_guard<std::mutex> g(st.mu);
  if (!st.host_pinned.erase(reinterpret_cast<uintptr_t>(ptr))) return cudaErrorInvalidValue;
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void* user) {
  if (!stream || !fn) return cudaErrorInvalidValue;
  fn(user);  // executed eagerly, like every other operation here
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  if (!current()) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *current();
  std::lock_guard<std::mutex> g(st.mu);
  for (EmuStream* s : st.streams) st.host_now = std::max(st.host_now, s->tail);
  return cudaSuccess;
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered (emulator hazard)";
    case cudaErrorHostMemoryAlreadyRegistered: return "part or all of the requested memory range is already mapped";
    case cudaErrorNotSupported: return "operation not supported";
  }
  return "unknown error";
}

std::shared_ptr<EmuContext> create_context(const Config& config) {
  auto ctx = std::make_shared<EmuContext>();
  ctx->config = config;
  return ctx;
}

ContextScope::ContextScope(EmuContext* ctx) : previous_(t_current) { t_current = ctx; }
ContextScope::~ContextScope() { t_current = previous_; }

namespace {
template <typename F>
auto read_current(F f) -> decltype(f(std::declval<EmuContext&>())) {
  EmuContext* st = current();
  if (!st) return {};
  std::lock_guard<std::mutex> g(st->mu);
  return f(*st);
}
}  // namespace

double host_now_us() { return read_current([](EmuContext& st) { return st.host_now; }); }
std::vector<std::string> hazards() { return read_current([](EmuContext& st) { return st.hazards; }); }
double compute_stall_us() { return read_current([](EmuContext& st) { return st.stall_us; }); }
double copy_busy_us() { return read_current([](EmuContext& st) { return st.copy_busy_us; }); }

cudaError_t launch_compute(cudaStream_t stream, const ReadRange* ranges, size_t count, double cost_us) {
  if (!stream) return cudaErrorInvalidResourceHandle;
  EmuContext& st = *stream->ctx;
  std::lock_guard<std::mutex> g(st.mu);
  if (!st.streams.count(stream) || cost_us < 0) return cudaErrorInvalidValue;
  overhead(st);
  double start;
  const double end = place(st, stream, cost_us, &st.compute_engine_free, true, &start);
  for (size_t i = 0; i < count; ++i) {
    Alloc* a = find(st, ranges[i].ptr, ranges[i].bytes);
    if (!a) return missing(st, ranges[i].ptr, "kernel read");
    if (start < a->ready_at) return hazard(st, "kernel read of " + hex(ranges[i].ptr) + " before its allocation in stream order");
    if (start < a->data_ready_at) {
      return hazard(st, "kernel read of " + hex(ranges[i].ptr) + " at t=" + std::to_string(start) + "us before the copy into it completed at t=" +
                            std::to_string(a->data_ready_at) + "us (wait on its ready event)");
    }
    // Reads that ended before the host's now can never race with anything enqueued later.
    a->reads.erase(std::remove_if(a->reads.begin(), a->reads.end(), [&](const Access& r) { return r.end <= st.host_now; }), a->reads.end());
    a->reads.push_back({start, end, stream});
  }
  return cudaSuccess;
}

}  // namespace weightkit::offload::emu
