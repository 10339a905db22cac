// @weightkit/cuda-offload addon: a thin layer over the offload core. It maps
// the weights' files itself (so nothing JavaScript closes can vanish under the
// device), creates the emulated or (via dlopen) the real-CUDA device, and
// runs passes off the JS thread.
#include <dlfcn.h>
#include <napi.h>

#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

#include "weightkit/mapped_file.hpp"
#include "weightkit/napi_helpers.hpp"
#include "weightkit/offload/runtime.hpp"

namespace {

using namespace weightkit;
using namespace weightkit::offload;
namespace wn = weightkit::napi;

bool require(Napi::Env env, bool ok, const std::string& message) {
  if (!ok) wn::throw_bad_argument(env, message);
  return true;
}

bool num(Napi::Env env, Napi::Object o, const char* key, double* out, bool required = false) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() && !required) return true;
  if (!require(env, v.IsNumber() && std::isfinite(v.As<Napi::Number>().DoubleValue()) && v.As<Napi::Number>().DoubleValue() >= 0,
                   std::string(key) + " must be a non-negative number")) {
    return false;
  }
  *out = v.As<Napi::Number>().DoubleValue();
  return true;
}

bool read_weights(Napi::Env env, Napi::Value v, std::vector<Weight>* out) {
  if (!require(env, v.IsArray(), "weights must be an array")) return false;
  auto a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    if (!require(env, a.Get(i).IsObject(), "each weight must be an object")) return false;
    auto o = a.Get(i).As<Napi::Object>();
    double bytes = 0;
    if (!require(env, o.Get("name").IsString(), "weight name must be a string") || !num(env, o, "bytes", &bytes, true)) return false;
    out->push_back({o.Get("name").As<Napi::String>().Utf8Value(), static_cast<uint64_t>(bytes)});
  }
  return true;
}

bool read_schedule(Napi::Env env, Napi::Value v, size_t weights, Schedule* out) {
  if (v.IsUndefined() || v.IsNull()) {
    *out = catalog_order(weights);
    return true;
  }
  if (!require(env, v.IsArray(), "schedule must be an array of steps")) return false;
  auto steps = v.As<Napi::Array>();
  for (uint32_t s = 0; s < steps.Length(); ++s) {
    if (!require(env, steps.Get(s).IsArray(), "each schedule step must be an array of weight indices")) return false;
    auto step = steps.Get(s).As<Napi::Array>();
    std::vector<uint32_t> ws;
    for (uint32_t k = 0; k < step.Length(); ++k) {
      if (!require(env, step.Get(k).IsNumber(), "schedule entries must be weight indices")) return false;
      ws.push_back(step.Get(k).As<Napi::Number>().Uint32Value());
    }
    out->steps.push_back(std::move(ws));
  }
  return true;
}

Napi::Value plan_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Weight> weights;
  Schedule schedule;
  if (!read_weights(env, info[0], &weights) || !read_schedule(env, info[1], weights.size(), &schedule)) return env.Undefined();
  if (!require(env, info[2].IsNumber(), "budget must be a number of bytes")) return env.Undefined();
  const auto budget = static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue());
  Status st = validate(weights, schedule);
  if (!st.is_ok()) {
    wn::throw_status(env, st);
    return env.Undefined();
  }
  const PlanSummary p = summarize(weights, schedule, budget);
  auto o = Napi::Object::New(env);
  o.Set("budgetBytes", static_cast<double>(budget));
  o.Set("floorBytes", static_cast<double>(p.floor_bytes));
  o.Set("totalBytes", static_cast<double>(p.total_bytes));
  o.Set("largestWeightBytes", static_cast<double>(p.largest_weight));
  o.Set("lowerBoundBytesPerPass", static_cast<double>(p.lower_bound_bytes_per_pass));
  if (budget >= p.floor_bytes) {
    auto sim = simulate(weights, schedule, budget, Policy::kNextUse, {}, 3);
    o.Set("plannedBytesPerPass", sim.is_ok() ? Napi::Number::New(env, static_cast<double>(sim.value().back())) : env.Null());
  } else {
    o.Set("plannedBytesPerPass", env.Null());
  }
  return o;
}

Napi::Value simulate_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Weight> weights;
  Schedule schedule;
  if (!read_weights(env, info[0], &weights) || !read_schedule(env, info[1], weights.size(), &schedule)) return env.Undefined();
  if (!require(env, info[2].IsNumber() && info[3].IsString() && info[4].IsNumber(), "simulate(weights, schedule, budget, policy, passes)")) {
    return env.Undefined();
  }
  const std::string policy = info[3].As<Napi::String>().Utf8Value();
  auto r = simulate(weights, schedule, static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue()),
                    policy == "lru" ? Policy::kLru : Policy::kNextUse, {}, info[4].As<Napi::Number>().Int32Value());
  if (!r.is_ok()) {
    wn::throw_status(env, r.status());
    return env.Undefined();
  }
  auto a = Napi::Array::New(env, r.value().size());
  for (size_t i = 0; i < r.value().size(); ++i) a.Set(static_cast<uint32_t>(i), static_cast<double>(r.value()[i]));
  return a;
}

// ---- the real-CUDA device, loaded on demand ----

using MakeCuda = DeviceLayer* (*)(const DeviceConfig*, Status*);
using CountCuda = int (*)();

void* open_cuda_library(const std::string& path, std::string* error) {
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) *error = ::dlerror();
  return h;
}

Napi::Value cuda_device_count(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!require(env, info.Length() >= 1 && info[0].IsString(), "cudaDeviceCount(libraryPath)")) return env.Undefined();
  std::string error;
  void* h = open_cuda_library(info[0].As<Napi::String>().Utf8Value(), &error);
  auto o = Napi::Object::New(env);
  if (!h) {
    o.Set("count", 0);
    o.Set("error", error);
    return o;
  }
  auto count = reinterpret_cast<CountCuda>(::dlsym(h, "weightkit_offload_cuda_device_count"));
  o.Set("count", count ? count() : 0);
  return o;
}

// ---- host memory: mapped files and owned copies ----

struct HostMemory {
  std::map<std::string, std::shared_ptr<MappedFile>> files;
  std::vector<std::vector<uint8_t>> owned;
};

struct CreateArgs {
  std::vector<Weight> weights;
  std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>> file_sources;  // per weight: path, (offset, length) or "" for owned
  std::vector<std::vector<uint8_t>> byte_sources;                                  // per weight (owned copies)
  Schedule schedule;
  RuntimeOptions options;
  DeviceConfig device;
  std::string device_kind = "emu";
  std::string cuda_library;
  bool populate = false;
};

class OffloadObject : public Napi::ObjectWrap<OffloadObject> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "OffloadRuntime", {
        InstanceMethod<&OffloadObject::acquire>("acquire"), InstanceMethod<&OffloadObject::acquire_next>("acquireNext"),
        InstanceMethod<&OffloadObject::release>("release"), InstanceMethod<&OffloadObject::compute>("compute"),
        InstanceMethod<&OffloadObject::run_passes>("runPasses"), InstanceMethod<&OffloadObject::stats>("stats"),
        InstanceMethod<&OffloadObject::read_back>("readBack"), InstanceMethod<&OffloadObject::hazards>("hazards"),
        InstanceMethod<&OffloadObject::close>("close"), InstanceAccessor<&OffloadObject::device>("device")});
  }

  struct Owned {
    std::mutex mu;  // one operation at a time: the runtime is single-threaded
    HostMemory host;
    std::unique_ptr<Runtime> runtime;
    void* cuda_handle = nullptr;
    ~Owned() {
      runtime.reset();
      if (cuda_handle) ::dlclose(cuda_handle);
    }
  };

  static Napi::Value wrap(Napi::Env env, std::shared_ptr<Owned> o) {
    return wn::new_wrapped(env, "Offload", std::move(o));
  }

  explicit OffloadObject(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<OffloadObject>(info), owned_(wn::take_wrapped<Owned>(info, "use create() to make an offload runtime")) {}

 private:
  Runtime* live(Napi::Env env) {
    if (owned_ && owned_->runtime) return owned_->runtime.get();
    wn::throw_status(env, Status(Code::kClosed, "the offload runtime was closed; create a new one"));
    return nullptr;
  }

  Napi::Value acquired(Napi::Env env, Result<Acquired> a) {
    if (!a.is_ok()) {
      wn::throw_status(env, a.status());
      return env.Undefined();
    }
    auto o = Napi::Object::New(env);
    o.Set("weight", a.value().weight);
    o.Set("name", owned_->runtime->weights()[a.value().weight].weight.name);
    o.Set("devicePtr", Napi::BigInt::New(env, static_cast<uint64_t>(a.value().device_ptr)));
    o.Set("bytes", static_cast<double>(a.value().bytes));
    o.Set("hit", a.value().hit);
    return o;
  }

  Napi::Value acquire(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Runtime* rt = live(env);
    if (!rt || !require(env, info.Length() >= 1 && info[0].IsNumber(), "acquire(probeId) expects a number")) return env.Undefined();
    std::lock_guard<std::mutex> g(owned_->mu);
    return acquired(env, rt->acquire(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value())));
  }

  Napi::Value acquire_next(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Runtime* rt = live(env);
    if (!rt || !require(env, info.Length() >= 1 && info[0].IsString(), "acquireNext(name) expects a string")) return env.Undefined();
    std::lock_guard<std::mutex> g(owned_->mu);
    return acquired(env, rt->acquire_next(info[0].As<Napi::String>().Utf8Value()));
  }

  Napi::Value release(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Runtime* rt = live(env);
    if (!rt || !require(env, info.Length() >= 1 && info[0].IsNumber(), "release(probeId) expects a number")) return env.Undefined();
    std::lock_guard<std::mutex> g(owned_->mu);
    Status st = rt->release(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
    if (!st.is_ok()) wn::throw_status(env, st);
    return env.Undefined();
  }

  Napi::Value compute(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Runtime* rt = live(env);
    if (!rt || !require(env, info.Length() >= 1 && info[0].IsNumber(), "compute(step) expects a number")) return env.Undefined();
    std::lock_guard<std::mutex> g(owned_->mu);
    Status st = rt->compute_step(info[0].As<Napi::Number>().Uint32Value());
    if (!st.is_ok()) wn::throw_status(env, st);
    return env.Undefined();
  }

  Napi::Value run_passes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live(env)) return env.Undefined();
    const int passes = info.Length() >= 1 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
    if (!require(env, passes >= 1 && passes <= 1000000, "passes must be from 1 to 1000000")) return env.Undefined();
    auto owned = owned_;
    return wn::run_async<wn::Done>(
        env,
        [owned, passes]() -> Result<wn::Done> {
          std::lock_guard<std::mutex> g(owned->mu);
          for (int p = 0; p < passes; ++p) {
            Status st = owned->runtime->run_pass();
            if (!st.is_ok()) return st;
          }
          return wn::Done{};
        },
        [](Napi::Env e, wn::Done&) { return e.Undefined(); });
  }

  Napi::Value stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Runtime* rt = live(env);
    if (!rt) return env.Undefined();
    std::lock_guard<std::mutex> g(owned_->mu);
    const RuntimeStats s = rt->stats();
    auto o = Napi::Object::New(env);
    auto n = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
    n("bytesH2D", s.bytes_h2d);
    n("hits", s.hits);
    n("misses", s.misses);
    n("evictions", s.evictions);
    n("prefetches", s.prefetches);
    n("passes", s.passes);
    n("stallMs", s.stall_us / 1000);
    n("copyMs", s.copy_us / 1000);
    n("computeMs", s.compute_us / 1000);
    n("peakDeviceBytes", s.peak_device_bytes);
    n("residentBytes", s.resident_bytes);
    n("stagedBytes", s.device.staged_bytes);
    n("allocRetries", s.device.alloc_retries);
    o.Set("hostRegistered", s.device.host_registered);
    // Share of copy time hidden behind compute.
    n("overlap", s.copy_us > 0 ? std::max(0.0, 1.0 - s.stall_us / s.copy_us) : 1.0);
    auto per_pass = [&](const char* key, auto values, double scale) {
      auto a = Napi::Array::New(env, values.size());
      for (size_t i = 0; i < values.size(); ++i) a.Set(static_cast<uint32_t>(i), static_cast<double>(values[i]) * scale);
      o.Set(key, a);
    };
    per_pass("bytesH2DPerPass", s.bytes_per_pass, 1.0);
    per_pass("msPerPass", s.us_per_pass, 1e-3);
    per_pass("stallMsPerPass", s.stall_us_per_pass, 1e-3);
    per_pass("copyMsPerPass", s.copy_us_per_pass, 1e-3);
    const ResidencyPlan& plan = rt->residency();
    uint64_t pinned_bytes = 0;
    for (uint32_t w : plan.pinned) pinned_bytes += rt->weights()[w].weight.bytes;
    auto r = Napi::Object::New(env);
    r.Set("pinnedWeights", Napi::Number::New(env, static_cast<double>(plan.pinned.size())));
    r.Set("pinnedBytes", Napi::Number::New(env, static_cast<double>(pinned_bytes)));
    r.Set("reserveBytes", Napi::Number::New(env, static_cast<double>(plan.reserve_bytes)));
    r.Set("prefetchAcrossPasses", Napi::Boolean::New(env, plan.prefetch_across_passes));
    o.Set("residency", r);
    const CopyCost cost = rt->copy_cost();
    n("pinnedCopyGBps", cost.us_per_mib > 0 ? 1048576.0 / cost.us_per_mib / 1e3 : 0);
    o.Set("deviceName", Napi::String::New(env, rt->device_name()));
    return o;
  }

  Napi::Value read_back(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Runtime* rt = live(env);
    if (!rt || !require(env, info.Length() >= 1 && info[0].IsNumber(), "readBack(weight) expects a number")) return env.Undefined();
    std::lock_guard<std::mutex> g(owned_->mu);
    auto r = rt->read_back(info[0].As<Napi::Number>().Uint32Value());
    if (!r.is_ok()) {
      wn::throw_status(env, r.status());
      return env.Undefined();
    }
    auto buf = Napi::Uint8Array::New(env, r.value().size());
    std::memcpy(buf.Data(), r.value().data(), r.value().size());
    return buf;
  }

  Napi::Value hazards(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Runtime* rt = live(env);
    if (!rt) return env.Undefined();
    auto list = rt->hazards();
    auto a = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) a.Set(static_cast<uint32_t>(i), list[i]);
    return a;
  }

  Napi::Value close(const Napi::CallbackInfo& info) {
    if (owned_) {
      std::lock_guard<std::mutex> g(owned_->mu);
      owned_->runtime.reset();
    }
    owned_.reset();
    return info.Env().Undefined();
  }

  Napi::Value device(const Napi::CallbackInfo& info) {
    return owned_ && owned_->runtime ? Napi::String::New(info.Env(), owned_->runtime->device_kind()) : info.Env().Undefined();
  }

  std::shared_ptr<Owned> owned_;
};

Status build(CreateArgs& args, OffloadObject::Owned& out) {
  std::vector<HostWeight> hw;
  std::vector<std::pair<const void*, uint64_t>> regions;
  for (size_t i = 0; i < args.weights.size(); ++i) {
    const auto& [path, range] = args.file_sources[i];
    const uint8_t* data = nullptr;
    if (!path.empty()) {
      auto it = out.host.files.find(path);
      if (it == out.host.files.end()) {
        MappedFile::Options o;
        o.populate = args.populate;
        auto f = MappedFile::open_read(path, o);
        if (!f.is_ok()) return f.status();
        it = out.host.files.emplace(path, f.value()).first;
        regions.emplace_back(f.value()->data(), f.value()->size());
      }
      if (range.first > it->second->size() || range.second > it->second->size() - range.first || range.second != args.weights[i].bytes) {
        return Status(Code::kBadArgument, "weight '" + args.weights[i].name + "' lies outside '" + path + "'");
      }
      data = it->second->data() + range.first;
    } else {
      if (args.byte_sources[i].size() != args.weights[i].bytes) return Status(Code::kBadArgument, "weight '" + args.weights[i].name + "' has the wrong byte count");
      out.host.owned.push_back(std::move(args.byte_sources[i]));
      data = out.host.owned.back().data();
      regions.emplace_back(data, args.weights[i].bytes);
    }
    hw.push_back({args.weights[i], data});
  }
  args.device.event_count = std::max<size_t>(args.weights.size(), 1);
  std::unique_ptr<DeviceLayer> device;
  if (args.device_kind == "cuda") {
    std::string error;
    out.cuda_handle = open_cuda_library(args.cuda_library, &error);
    if (!out.cuda_handle) return Status(Code::kDevice, "cannot load the CUDA device layer '" + args.cuda_library + "': " + error);
    auto make = reinterpret_cast<MakeCuda>(::dlsym(out.cuda_handle, "weightkit_offload_make_cuda_device"));
    if (!make) return Status(Code::kDevice, "'" + args.cuda_library + "' has no weightkit_offload_make_cuda_device");
    Status err;
    DeviceLayer* d = make(&args.device, &err);
    if (!d) return err;
    device.reset(d);
  } else {
    auto d = make_emu_device(args.device);
    if (!d.is_ok()) return d.status();
    device = std::move(d).value();
  }
  auto rt = Runtime::create(std::move(hw), std::move(args.schedule), args.options, regions, std::move(device));
  if (!rt.is_ok()) return rt.status();
  out.runtime = std::move(rt).value();
  return Status::ok();
}

// create({weights: [{name, bytes, path?, offset?, length?, data?}], schedule?, budgetBytes, policy?, pinned?,
//         prefetchBytes?, prefetchUs?, computeUsPerStep?, computeUsPerMiB?, device?, cudaLibrary?, populate?, emu?})
Napi::Value create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!require(env, info.Length() >= 1 && info[0].IsObject(), "create(options) expects an object")) return env.Undefined();
  auto o = info[0].As<Napi::Object>();
  auto args = std::make_shared<CreateArgs>();
  if (!read_weights(env, o.Get("weights"), &args->weights)) return env.Undefined();
  auto wa = o.Get("weights").As<Napi::Array>();
  for (uint32_t i = 0; i < wa.Length(); ++i) {
    auto w = wa.Get(i).As<Napi::Object>();
    if (w.Get("data").IsTypedArray()) {
      auto ta = w.Get("data").As<Napi::TypedArray>();
      auto* p = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      args->file_sources.push_back({"", {0, 0}});
      args->byte_sources.emplace_back(p, p + ta.ByteLength());  // ours now
    } else {
      double off = 0, len = 0;
      if (!require(env, w.Get("path").IsString(), "weight '" + args->weights[i].name + "' needs a path or data") ||
          !num(env, w, "offset", &off, true) || !num(env, w, "length", &len, true)) {
        return env.Undefined();
      }
      args->file_sources.push_back({w.Get("path").As<Napi::String>().Utf8Value(), {static_cast<uint64_t>(off), static_cast<uint64_t>(len)}});
      args->byte_sources.emplace_back();
    }
  }
  if (!read_schedule(env, o.Get("schedule"), args->weights.size(), &args->schedule)) return env.Undefined();
  double budget = 0, prefetch_bytes = -1, prefetch_us = 0, per_step = 0, per_mib = 0;
  if (!num(env, o, "budgetBytes", &budget, true) || !num(env, o, "prefetchUs", &prefetch_us) || !num(env, o, "computeUsPerStep", &per_step) ||
      !num(env, o, "computeUsPerMiB", &per_mib)) {
    return env.Undefined();
  }
  if (!o.Get("prefetchBytes").IsUndefined() && !num(env, o, "prefetchBytes", &prefetch_bytes)) return env.Undefined();
  args->options.budget_bytes = static_cast<uint64_t>(budget);
  args->options.prefetch_bytes = prefetch_bytes < 0 ? UINT64_MAX : static_cast<uint64_t>(prefetch_bytes);
  args->options.prefetch_us = prefetch_us;
  args->options.compute_us_per_step = per_step;
  args->options.compute_us_per_mib = per_mib;
  if (o.Get("policy").IsString()) {
    std::string p = o.Get("policy").As<Napi::String>().Utf8Value();
    if (!require(env, p == "next-use" || p == "lru", "policy must be next-use or lru")) return env.Undefined();
    args->options.policy = p == "lru" ? Policy::kLru : Policy::kNextUse;
  }
  if (o.Get("pinned").IsArray()) {
    auto pa = o.Get("pinned").As<Napi::Array>();
    for (uint32_t i = 0; i < pa.Length(); ++i) args->options.pinned.push_back(pa.Get(i).As<Napi::Number>().Uint32Value());
  }
  args->device.budget_bytes = args->options.budget_bytes;
  if (o.Get("device").IsString()) args->device_kind = o.Get("device").As<Napi::String>().Utf8Value();
  if (o.Get("cudaLibrary").IsString()) args->cuda_library = o.Get("cudaLibrary").As<Napi::String>().Utf8Value();
  args->populate = o.Get("populate").ToBoolean();
  if (o.Get("emu").IsObject()) {
    auto e = o.Get("emu").As<Napi::Object>();
    if (!num(env, e, "h2dGBps", &args->device.emu.h2d_gbps) || !num(env, e, "copyLatencyUs", &args->device.emu.copy_latency_us) ||
        !num(env, e, "pageableFactor", &args->device.emu.pageable_factor)) {
      return env.Undefined();
    }
    if (!require(env, args->device.emu.h2d_gbps > 0, "emu.h2dGBps must be positive")) return env.Undefined();
    if (e.Has("hostRegister")) args->device.emu.host_register_supported = e.Get("hostRegister").ToBoolean();
  }
  auto owned = std::make_shared<OffloadObject::Owned>();
  return wn::run_async<wn::Done>(
      env, [args, owned]() -> Result<wn::Done> {
        Status st = build(*args, *owned);
        if (!st.is_ok()) return st;
        return wn::Done{};
      },
      [owned](Napi::Env e, wn::Done&) { return OffloadObject::wrap(e, owned); });
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  wn::register_class(env, "Offload", OffloadObject::define(env));
  exports.Set("setErrorClass", Napi::Function::New(env, wn::set_error_class));
  exports.Set("plan", Napi::Function::New(env, plan_js));
  exports.Set("simulate", Napi::Function::New(env, simulate_js));
  exports.Set("create", Napi::Function::New(env, create));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, cuda_device_count));
  return exports;
}

}  // namespace

NODE_API_MODULE(weightkit_offload, init)
