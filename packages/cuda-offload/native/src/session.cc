#include "weightkit/offload/session.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <map>

#include "weightkit/offload/limits.hpp"
#include "weightkit/offload/residency.hpp"

namespace weightkit::offload {
namespace {

Status bad(const std::string& message) { return Status(Code::kBadArgument, message); }

// The real-CUDA device layer lives in its own shared library, loaded only
// when asked for, so the addon never needs libcudart or a driver.
using MakeCuda = DeviceLayer* (*)(const DeviceConfig*, Status*);
using CountCuda = int (*)();

void* open_library(const std::string& path, std::string* error) {
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) *error = ::dlerror();
  return h;
}

}  // namespace

Status validate_options(const RuntimeOptions& o, const emu::Config& e) {
  Status st = validate_options(o);
  if (!st.is_ok()) return st;
  for (const Status& s : {check_range(e.h2d_gbps, 1e-3, 1e6, "the emulated H2D rate (GB/s)"),
                          check_range(e.pageable_factor, 1e-3, 1, "the emulated pageable factor"),
                          check_range(e.copy_latency_us, 0, 1e6, "the emulated copy latency (us)"),
                          check_range(e.api_overhead_us, 0, 1e6, "the emulated API overhead (us)")}) {
    if (!s.is_ok()) return s;
  }
  return Status::ok();
}

CudaProbeResult probe_cuda_library(const std::string& library) {
  CudaProbeResult r;
  void* h = open_library(library, &r.error);
  if (!h) return r;
  auto count = reinterpret_cast<CountCuda>(::dlsym(h, "weightkit_offload_cuda_device_count"));
  r.count = count ? count() : 0;
  if (!count) r.error = "'" + library + "' has no weightkit_offload_cuda_device_count";
  ::dlclose(h);
  return r;
}

Result<std::shared_ptr<OffloadSession>> OffloadSession::create(SessionSpec spec) {
  Status st = validate_options(spec.options, spec.device.emu);
  if (!st.is_ok()) return st;
  std::shared_ptr<OffloadSession> s(new OffloadSession());
  std::vector<HostWeight> host;
  std::vector<std::pair<const void*, uint64_t>> regions;
  std::map<std::string, std::shared_ptr<MappedFile>> by_path;
  for (auto& w : spec.weights) {
    s->names_.push_back(w.weight.name);
    if (w.path.empty()) {
      if (w.bytes.size() != w.weight.bytes) return bad("weight '" + w.weight.name + "' has the wrong byte count");
      s->owned_.push_back(std::move(w.bytes));
      host.push_back({w.weight, s->owned_.back().data()});
      regions.emplace_back(s->owned_.back().data(), w.weight.bytes);
      continue;
    }
    auto it = by_path.find(w.path);
    if (it == by_path.end()) {
      MappedFile::Options o;
      o.populate = spec.populate;
      auto f = MappedFile::open_read(w.path, o);
      if (!f.is_ok()) return f.status();
      // Every weight is read in full on each upload: 2 MiB folios make that one
      // fault per 2 MiB when the page cache cannot keep the model (measured on
      // a 16 GiB model, 14 GiB moved per pass: 6.3% of pages faulted, one per
      // 16 pages of fault-around, before; docs/bench/scale.md).
      f.value()->region().advise(Advice::kHugePages);
      it = by_path.emplace(w.path, f.value()).first;
      s->files_.push_back(f.value());
      regions.emplace_back(f.value()->data(), f.value()->size());
    }
    const MappedFile& f = *it->second;
    // The file by that path now must be the one the caller opened: a file
    // replaced or rewritten since would upload other bytes than it read.
    if (w.identity && f.identity() != *w.identity) {
      return bad("'" + w.path + "' changed since the model was opened (replaced or rewritten); reopen the model");
    }
    if (w.offset > f.size() || w.length > f.size() - w.offset || w.length != w.weight.bytes) {
      return bad("weight '" + w.weight.name + "' lies outside '" + w.path + "'");
    }
    host.push_back({w.weight, f.data() + w.offset});
  }
  s->probes_ = spec.schedule.probe_count();
  s->steps_ = spec.schedule.steps.size();
  spec.device.event_count = std::max<size_t>(host.size(), 1);
  std::unique_ptr<DeviceLayer> device;
  if (spec.cuda) {
    std::string error;
    s->cuda_handle_ = open_library(spec.cuda_library, &error);
    if (!s->cuda_handle_) return Status(Code::kDevice, "cannot load the CUDA device layer '" + spec.cuda_library + "': " + error);
    auto make = reinterpret_cast<MakeCuda>(::dlsym(s->cuda_handle_, "weightkit_offload_make_cuda_device"));
    if (!make) return Status(Code::kDevice, "'" + spec.cuda_library + "' has no weightkit_offload_make_cuda_device");
    Status err;
    DeviceLayer* d = make(&spec.device, &err);
    if (!d) return err;
    device.reset(d);
  } else {
    auto d = make_emu_device(spec.device);
    if (!d.is_ok()) return d.status();
    device = std::move(d).value();
  }
  ResidencyChooser choose = residency_chooser(host, spec.schedule, spec.options);
  auto rt = Runtime::create(std::move(host), std::move(spec.schedule), std::move(spec.options), regions, std::move(device), choose);
  if (!rt.is_ok()) return rt.status();
  s->runtime_ = std::move(rt).value();
  s->snapshot_ = s->make_report();
  return s;
}

OffloadSession::~OffloadSession() {
  runtime_.reset();  // before the library its device came from is unloaded
  if (cuda_handle_) ::dlclose(cuda_handle_);
}

Status OffloadSession::busy_error() const {
  return Status(Code::kBusy, "the offload runtime is running passes; await runPasses() first (stats() answers meanwhile)");
}

Status OffloadSession::begin_run() {
  bool expected = false;
  return busy_.compare_exchange_strong(expected, true) ? Status::ok() : busy_error();
}

void OffloadSession::end_run() { busy_.store(false); }

Status OffloadSession::run_passes(uint64_t passes, const std::function<bool()>& cancelled) {
  std::lock_guard<std::mutex> g(mu_);
  for (uint64_t p = 0; p < passes; ++p) {
    if (cancelled && cancelled()) return bad("running passes was aborted");
    Status st = runtime_->run_pass();
    if (!st.is_ok()) return st;
    SessionReport r = make_report();
    std::lock_guard<std::mutex> sg(snapshot_mu_);
    snapshot_ = std::move(r);
  }
  return Status::ok();
}

#define WK_IDLE_OR_BUSY()                 \
  if (busy_.load()) return busy_error(); \
  std::lock_guard<std::mutex> g(mu_)

Result<Acquired> OffloadSession::acquire(uint64_t probe) {
  WK_IDLE_OR_BUSY();
  return runtime_->acquire(probe);
}

Result<Acquired> OffloadSession::acquire_next(const std::string& name) {
  WK_IDLE_OR_BUSY();
  return runtime_->acquire_next(name);
}

Status OffloadSession::release(uint64_t probe) {
  WK_IDLE_OR_BUSY();
  return runtime_->release(probe);
}

Status OffloadSession::compute(uint32_t step) {
  WK_IDLE_OR_BUSY();
  return runtime_->compute_step(step);
}

Result<std::vector<uint8_t>> OffloadSession::read_back(uint32_t weight) {
  WK_IDLE_OR_BUSY();
  return runtime_->read_back(weight);
}

#undef WK_IDLE_OR_BUSY

SessionReport OffloadSession::report() {
  if (busy_.load()) {
    std::lock_guard<std::mutex> sg(snapshot_mu_);
    return snapshot_;
  }
  std::lock_guard<std::mutex> g(mu_);
  return make_report();
}

SessionReport OffloadSession::make_report() {
  SessionReport r;
  r.stats = runtime_->stats();
  auto trim = [](auto& series) {
    if (series.size() > limits::kPassHistory) series.erase(series.begin(), series.end() - limits::kPassHistory);
  };
  trim(r.stats.bytes_per_pass);
  trim(r.stats.us_per_pass);
  trim(r.stats.stall_us_per_pass);
  trim(r.stats.copy_us_per_pass);
  const ResidencyPlan& plan = runtime_->residency();
  r.pinned_weights = plan.pinned.size();
  for (uint32_t w : plan.pinned) r.pinned_bytes += runtime_->weights()[w].weight.bytes;
  r.reserve_bytes = plan.reserve_bytes;
  r.prefetch_across_passes = plan.prefetch_across_passes;
  r.overlap = r.stats.copy_us > 0 ? std::max(0.0, 1.0 - r.stats.stall_us / r.stats.copy_us) : 1.0;
  const CopyCost cost = runtime_->copy_cost();
  r.pinned_copy_gbps = cost.us_per_mib > 0 ? 1048576.0 / cost.us_per_mib / 1e3 : 0;
  r.device_kind = runtime_->device_kind();
  r.device_name = runtime_->device_name();
  r.hazards = runtime_->hazards();
  return r;
}

}  // namespace weightkit::offload
