// A device that only keeps time, for the planner's dry runs. It follows the
// same stream-order rules as the device layer (src/device_layer.cc): one copy
// engine working through the copy stream in issue order, a compute stream that
// waits for the copy of what it reads, and a copy stream that waits for the
// last read of memory before reusing it. The host never waits except in
// synchronize(), as with asynchronous CUDA calls.
#include <algorithm>
#include <unordered_map>

#include "weightkit/offload/device.hpp"

namespace weightkit::offload {
namespace {

class TimingDevice final : public DeviceLayer {
 public:
  explicit TimingDevice(const CopyCost& cost) : cost_(cost) {}

  const char* kind() const override { return "timing"; }
  std::string name() override { return "timing model"; }
  Status register_host(const void*, uint64_t) override { return Status::ok(); }

  Result<uint64_t> allocate(uint64_t bytes) override {
    const uint64_t dev = next_address_;
    next_address_ += bytes + 256;
    sizes_[dev] = bytes;
    pool_bytes_ += bytes;
    stats_.peak_pool_bytes = std::max(stats_.peak_pool_bytes, pool_bytes_);
    return dev;
  }

  Status copy_in(uint64_t, const void*, uint64_t bytes, size_t ready_event) override {
    const double cost = cost_.us_per_copy + cost_.us_per_mib * static_cast<double>(bytes) / 1048576.0;
    copy_clock_ += cost;
    stats_.copy_us += cost;
    stats_.bytes_h2d += bytes;
    ready_[ready_event] = copy_clock_;
    return Status::ok();
  }

  Status compute_wait(size_t event) override {
    const double ready = ready_[event];
    if (ready > compute_clock_) {
      stats_.stall_us += ready - compute_clock_;
      compute_clock_ = ready;
    }
    return Status::ok();
  }

  Status compute(const std::vector<DeviceRead>& reads, double cost_us) override {
    compute_clock_ += cost_us;
    for (const auto& r : reads) read_[r.event] = compute_clock_;
    return Status::ok();
  }

  Status release(uint64_t dev, size_t read_event) override {
    copy_clock_ = std::max(copy_clock_, read_[read_event]);
    auto it = sizes_.find(dev);
    if (it == sizes_.end()) return Status(Code::kBadArgument, "release of memory that was not allocated");
    pool_bytes_ -= it->second;
    sizes_.erase(it);
    return Status::ok();
  }

  Status synchronize() override {
    copy_clock_ = compute_clock_ = std::max(copy_clock_, compute_clock_);
    return Status::ok();
  }

  Result<std::vector<uint8_t>> read_back(uint64_t, uint64_t) override {
    return Status(Code::kBadArgument, "the timing device holds no bytes");
  }

  DeviceStats stats() override {
    DeviceStats s = stats_;
    s.now_us = std::max(copy_clock_, compute_clock_);
    return s;
  }

  std::vector<std::string> hazards() override { return {}; }
  CopyCost copy_cost() override { return cost_; }

 private:
  CopyCost cost_;
  double copy_clock_ = 0, compute_clock_ = 0;
  std::unordered_map<size_t, double> ready_, read_;  // event -> when it completes
  std::unordered_map<uint64_t, uint64_t> sizes_;     // allocation -> bytes
  uint64_t next_address_ = 4096, pool_bytes_ = 0;
  DeviceStats stats_;
};

}  // namespace

std::unique_ptr<DeviceLayer> make_timing_device(const CopyCost& cost) { return std::make_unique<TimingDevice>(cost); }

}  // namespace weightkit::offload
