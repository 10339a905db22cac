// weightkit/xnnpack/bench.hpp — measurements the benchmark (tools/bench)
// needs from native code: packer throughput against memcpy of the same
// bytes, and the cost of backing packed weights by a file two ways.
#pragma once

#include <string>

#include "weightkit/status.hpp"
#include "weightkit/xnnpack/packers.hpp"

namespace weightkit::xnnpack {

struct PackerTiming {
  double pack_ns = 0;    // median over reps: pack an [nc, kc] f32 weight
  double memcpy_ns = 0;  // median over reps: memcpy of the same source bytes
  uint64_t source_bytes = 0, packed_bytes = 0;
};
Result<PackerTiming> time_packer(const Packer& p, size_t nc, size_t kc, int reps);

/// How a file range gets its bytes, region by region.
enum class Backing {
  kSparseMapped,     // ftruncate, memcpy into a MAP_SHARED mapping (ExecuTorch's way)
  kFallocateMapped,  // posix_fallocate first, then the same
  kFallocateWrite,   // posix_fallocate first, then pwrite from a reused buffer (weightkit's way)
};

/// Fills `total` bytes of a new file at `path` in regions of `region` bytes
/// the `how` way, then waits until they are on disk; returns milliseconds.
Result<double> time_file_backing(const std::string& path, uint64_t total, uint64_t region, Backing how);

}  // namespace weightkit::xnnpack
