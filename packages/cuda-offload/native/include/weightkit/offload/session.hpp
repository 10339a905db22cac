// weightkit/offload/session.hpp — one offload runtime as an application holds
// it: the host memory its weights live in (files mapped and checked against
// the identity the caller opened them with, or owned copies), the device
// (emulated, or the real-CUDA layer loaded on demand) and the runtime, with
// the rule that keeps a caller's thread from ever waiting on a long run:
//
//   * one long operation (run_passes) at a time, on a worker thread;
//   * while it runs, every other call answers at once: report() from the
//     snapshot published after each pass, the rest with WK_BUSY.
//
// No Node-API: the addon is a thin layer over this, and the sanitizers run it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "weightkit/mapped_file.hpp"
#include "weightkit/offload/runtime.hpp"

namespace weightkit::offload {

/// Where one weight's host bytes come from.
struct WeightSource {
  Weight weight;
  std::string path;                      // a file range...
  uint64_t offset = 0, length = 0;
  std::optional<FileIdentity> identity;  // the file as the caller opened it
  std::vector<uint8_t> bytes;            // ...or bytes of our own (decoded tensors)
};

struct SessionSpec {
  std::vector<WeightSource> weights;
  Schedule schedule;
  RuntimeOptions options;
  DeviceConfig device;
  bool cuda = false;          // the real-CUDA device layer instead of the emulator
  std::string cuda_library;   // its shared library (built where nvcc was)
  bool populate = false;      // pre-fault the mapped files
};

/// Checks every number a caller can set (budgets, costs, the emulator's
/// model): finite and within the ranges the planner's arithmetic is exact in.
Status validate_options(const RuntimeOptions& options, const emu::Config& emu);

/// What a caller sees of a runtime: its counters, the plan it runs and the
/// copy rate, with the derived figures computed here, not in the binding.
struct SessionReport {
  RuntimeStats stats;
  uint64_t pinned_weights = 0, pinned_bytes = 0, reserve_bytes = 0;
  bool prefetch_across_passes = true;
  double overlap = 1;          // share of copy time hidden behind compute
  double pinned_copy_gbps = 0; // plain pinned copies on this device (1e9 bytes/s)
  std::string device_kind, device_name;
  std::vector<std::string> hazards;
};


/// How many CUDA devices the real-CUDA layer at `library` sees (0 with the reason).
struct CudaProbeResult {
  int count = 0;
  std::string error;
};
CudaProbeResult probe_cuda_library(const std::string& library);

class OffloadSession {
 public:
  static Result<std::shared_ptr<OffloadSession>> create(SessionSpec spec);
  ~OffloadSession();
  OffloadSession(const OffloadSession&) = delete;
  OffloadSession& operator=(const OffloadSession&) = delete;

  /// Claims the session for a long run; WK_BUSY when one is in flight. The
  /// caller then runs run_passes (on any thread) and calls end_run().
  Status begin_run();
  /// `passes` decode passes, stopping early (WK_BAD_ARGUMENT "aborted") when
  /// `cancelled` returns true; publishes a snapshot after each pass.
  Status run_passes(uint64_t passes, const std::function<bool()>& cancelled);
  void end_run();
  bool busy() const { return busy_.load(); }

  // Immediate operations: WK_BUSY while a run is in flight, never a wait.
  Result<Acquired> acquire(uint64_t probe);
  Result<Acquired> acquire_next(const std::string& name);
  Status release(uint64_t probe);
  Status compute(uint32_t step);
  Result<std::vector<uint8_t>> read_back(uint32_t weight);
  /// Fresh when idle; the snapshot of the last finished pass while busy.
  SessionReport report();
  const std::vector<std::string>& names() const { return names_; }
  size_t probe_count() const { return probes_; }
  size_t step_count() const { return steps_; }

 private:
  OffloadSession() = default;
  Status busy_error() const;
  SessionReport make_report();

  std::mutex mu_;  // the runtime is single-threaded: one operation at a time
  std::atomic<bool> busy_{false};
  std::mutex snapshot_mu_;
  SessionReport snapshot_;
  std::vector<std::string> names_;
  size_t probes_ = 0, steps_ = 0;
  // Host memory first, so it outlives the runtime that copies from it.
  std::vector<std::shared_ptr<MappedFile>> files_;
  std::vector<std::vector<uint8_t>> owned_;
  void* cuda_handle_ = nullptr;
  std::unique_ptr<Runtime> runtime_;
};

}  // namespace weightkit::offload
