// weightkit/offload/emu_cuda.hpp — an emulation of the part of the CUDA
// runtime API the offload device layer uses, so the SAME device-layer source
// builds and runs on machines without a GPU.
//
// Faithful where it matters for correctness:
//  * stream order: every operation starts after the previous one on its
//    stream, after the events the stream waits on, and after the engine it
//    needs (one copy engine, one compute engine) is free;
//  * a virtual clock: copies take latency + bytes / bandwidth (pageable host
//    memory is slower and blocks the host), compute takes its modelled cost,
//    and the host thread's clock only moves when it blocks;
//  * memory pools with maxSize: an allocation fails when the bytes not yet
//    freed (in stream order) plus the request exceed the cap;
//  * hazard checks that fail the offending call: memory used before its
//    allocation is ordered before the use, data read before the copy that
//    wrote it completed, a free while another stream may still read, use after
//    free. Device memory is real host memory, so bytes can be checked;
//  * one context per emulated device (memory, streams, events, pools, clock,
//    hazards), current per thread as a CUDA context is: any number of
//    runtimes, each with its own device, run side by side without sharing
//    anything. Calls that name a stream or pool use its context; the others
//    (host registration, pinned allocations, device-wide sync) use the
//    thread's current one.
// Names mirror cuda_runtime_api.h inside namespace weightkit::offload::emu.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weightkit/offload/emu_config.hpp"

namespace weightkit::offload::emu {

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorHostMemoryAlreadyRegistered = 712,
  cudaErrorNotSupported = 801,
};

struct EmuStream;
struct EmuEvent;
struct EmuPool;
using cudaStream_t = EmuStream*;
using cudaEvent_t = EmuEvent*;
using cudaMemPool_t = EmuPool*;
using cudaHostFn_t = void (*)(void*);

enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
enum cudaMemPoolAttr {
  cudaMemPoolAttrReleaseThreshold = 4,
  cudaMemPoolAttrReservedMemCurrent = 5,
  cudaMemPoolAttrReservedMemHigh = 6,
  cudaMemPoolAttrUsedMemCurrent = 7,
  cudaMemPoolAttrUsedMemHigh = 8,
};
enum cudaDeviceAttr {
  cudaDevAttrAsyncEngineCount = 40,
  cudaDevAttrHostRegisterSupported = 99,
  cudaDevAttrHostRegisterReadOnlySupported = 113,
};
enum cudaMemAllocationType { cudaMemAllocationTypePinned = 1 };
enum cudaMemAllocationHandleType { cudaMemHandleTypeNone = 0 };
enum cudaMemLocationType { cudaMemLocationTypeDevice = 1 };

struct cudaMemLocation {
  cudaMemLocationType type;
  int id;
};
struct cudaMemPoolProps {
  cudaMemAllocationType allocType;
  cudaMemAllocationHandleType handleTypes;
  cudaMemLocation location;
  void* win32SecurityAttributes;
  size_t maxSize;
  unsigned short usage;
  unsigned char reserved[54];
};

constexpr unsigned int cudaStreamNonBlocking = 0x01;
constexpr unsigned int cudaEventDisableTiming = 0x02;
constexpr unsigned int cudaHostRegisterDefault = 0x00;
constexpr unsigned int cudaHostRegisterReadOnly = 0x08;

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaMemPoolCreate(cudaMemPool_t* pool, const cudaMemPoolProps* props);
cudaError_t cudaMemPoolDestroy(cudaMemPool_t pool);
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value);
cudaError_t cudaMemPoolGetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value);
cudaError_t cudaMallocFromPoolAsync(void** ptr, size_t size, cudaMemPool_t pool, cudaStream_t stream);
cudaError_t cudaFreeAsync(void* ptr, cudaStream_t stream);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind);
cudaError_t cudaHostRegister(void* ptr, size_t size, unsigned int flags);
cudaError_t cudaHostUnregister(void* ptr);
cudaError_t cudaMallocHost(void** ptr, size_t size);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void* user);
cudaError_t cudaDeviceSynchronize();
const char* cudaGetErrorString(cudaError_t error);

// ---- emulation controls (not CUDA API) ----

/// One emulated device: everything the CUDA calls above act on.
struct EmuContext;
std::shared_ptr<EmuContext> create_context(const Config& config);

/// Makes `ctx` the calling thread's current context for the scope (as
/// cuCtxPushCurrent / cuCtxPopCurrent do); scopes nest.
class ContextScope {
 public:
  explicit ContextScope(EmuContext* ctx);
  ~ContextScope();
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  EmuContext* previous_;
};

/// The host thread's virtual time in the current context, microseconds.
double host_now_us();
/// Every hazard the current context detected, in order.
std::vector<std::string> hazards();
/// Total virtual microseconds the compute stream waited on events past the moment it could otherwise have started.
double compute_stall_us();
/// Total virtual microseconds of copy work.
double copy_busy_us();

struct ReadRange {
  const void* ptr;
  size_t bytes;
};
/// The emulated kernel: reads `ranges` on `stream` for `cost_us` of virtual time.
cudaError_t launch_compute(cudaStream_t stream, const ReadRange* ranges, size_t count, double cost_us);

}  // namespace weightkit::offload::emu
