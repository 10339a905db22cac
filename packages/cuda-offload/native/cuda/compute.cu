// The real-CUDA compute step: reads every byte of the weights a step uses
// (so the data must have arrived) and spins for about the modelled cost.
#include <cuda_runtime_api.h>

#include <vector>

#include "weightkit/offload/device.hpp"

namespace weightkit::offload::cuda {
namespace {

__global__ void read_range(const unsigned int* data, size_t words, unsigned long long* sink) {
  unsigned int acc = 0;
  for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < words; i += size_t{gridDim.x} * blockDim.x) acc ^= data[i];
  if (acc == 0x9e3779b9u) atomicAdd(sink, 1ull);  // keeps the reads from being optimized away
}

__global__ void spin(long long cycles) {
  const long long start = clock64();
  while (clock64() - start < cycles) {
  }
}

unsigned long long* sink_ptr() {
  static unsigned long long* sink = nullptr;
  if (!sink) cudaMalloc(&sink, sizeof(unsigned long long));
  return sink;
}

}  // namespace

cudaError_t launch_read(cudaStream_t s, const std::vector<DeviceRead>& reads, double cost_us) {
  for (const auto& r : reads) {
    const size_t words = static_cast<size_t>(r.bytes / 4);
    if (words == 0) continue;
    read_range<<<128, 256, 0, s>>>(reinterpret_cast<const unsigned int*>(r.ptr), words, sink_ptr());
  }
  if (cost_us > 0) {
    int khz = 0;
    cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0);
    spin<<<1, 1, 0, s>>>(static_cast<long long>(cost_us * (khz > 0 ? khz : 1500000) / 1000.0));
  }
  return cudaGetLastError();
}

}  // namespace weightkit::offload::cuda
