// weightkit/offload/device.hpp — what the offload runtime needs from a device,
// with no CUDA types: the same device-layer source (src/device_layer.cc)
// implements it against the real CUDA runtime or the emulated one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weightkit/offload/emu_config.hpp"
#include "weightkit/status.hpp"

namespace weightkit::offload {

struct DeviceConfig {
  uint64_t budget_bytes = 0;      // the pool's hard cap (maxSize) and release threshold
  uint64_t staging_bytes = 8u << 20;  // pinned staging ring, used when host memory cannot be registered
  int staging_slots = 4;
  size_t event_count = 0;         // pre-allocated events (0: one per weight + slack)
  emu::Config emu;                // the emulated device's model (ignored on CUDA)
};

struct DeviceStats {
  uint64_t bytes_h2d = 0;
  uint64_t peak_pool_bytes = 0;   // the pool's used-memory watermark
  uint64_t staged_bytes = 0;      // bytes that went through the staging ring
  uint64_t staging_ring_bytes = 0;  // pinned host memory the ring holds (0 until first needed)
  double stall_us = 0;            // compute waiting for copies
  double copy_us = 0;             // time spent copying
  double now_us = 0;              // device timeline (virtual on the emulator, wall clock on CUDA)
  uint64_t alloc_retries = 0;     // synchronize-and-retry after the pool refused
  bool host_registered = false;   // host weights registered in place (else staged)
};

/// What one host-to-device copy costs: us_per_copy plus us_per_mib per MiB.
struct CopyCost {
  double us_per_mib = 0;
  double us_per_copy = 0;
};

/// Device memory ranges a compute step reads; `event` names the read event
/// recorded after the step (one per weight).
struct DeviceRead {
  uint64_t ptr;
  uint64_t bytes;
  size_t event;
};

class DeviceLayer {
 public:
  virtual ~DeviceLayer() = default;
  virtual const char* kind() const = 0;  // "cuda" or "emu"
  /// The device's name (the GPU's, on CUDA).
  virtual std::string name() = 0;
  /// Registers host memory the weights live in (read-only where supported); false: it will be staged.
  virtual Status register_host(const void* base, uint64_t bytes) = 0;
  /// Allocates on the copy stream from the capped pool; one synchronize-and-retry when refused.
  virtual Result<uint64_t> allocate(uint64_t bytes) = 0;
  /// Copies host bytes in on the copy stream and records `ready_event` after the copy.
  virtual Status copy_in(uint64_t dev, const void* host, uint64_t bytes, size_t ready_event) = 0;
  /// Makes the compute stream wait for `event`.
  virtual Status compute_wait(size_t event) = 0;
  /// A compute step reading `reads` for about `cost_us`; records each read's event after it.
  virtual Status compute(const std::vector<DeviceRead>& reads, double cost_us) = 0;
  /// Frees `dev` in the copy stream's order once the last compute that read it
  /// (its read event) is done: the copy stream waits on compute only here,
  /// when it is about to reuse memory, and only for that weight's last read.
  virtual Status release(uint64_t dev, size_t read_event) = 0;
  virtual Status synchronize() = 0;
  /// Reads device bytes back (verification).
  virtual Result<std::vector<uint8_t>> read_back(uint64_t dev, uint64_t bytes) = 0;
  virtual DeviceStats stats() = 0;
  /// Hazards the emulator found (always empty on CUDA).
  virtual std::vector<std::string> hazards() = 0;
  /// The copy engine's cost model: the emulator's configuration, or measured
  /// once on CUDA. The planner uses it to compare plans by modelled time.
  virtual CopyCost copy_cost() = 0;
};

/// The emulated device (always available).
Result<std::unique_ptr<DeviceLayer>> make_emu_device(const DeviceConfig& config);

/// A device that only keeps time: a copy engine and a compute stream on a
/// virtual clock, with the stream-order rules of the device layer (a copy
/// waits for the last read of the memory it reuses; compute waits for the
/// copy it reads) and no bytes. The planner dry-runs candidate plans on it.
std::unique_ptr<DeviceLayer> make_timing_device(const CopyCost& cost);

}  // namespace weightkit::offload
