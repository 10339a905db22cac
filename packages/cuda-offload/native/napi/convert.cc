#include "convert.hpp"

#include "weightkit/napi_helpers.hpp"
#include "weightkit/offload/limits.hpp"

namespace weightkit::offload::js {
namespace wn = weightkit::napi;

namespace {


template <typename Series>
Napi::Array numbers(Napi::Env env, const Series& values, double scale) {
  auto a = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) a.Set(static_cast<uint32_t>(i), static_cast<double>(values[i]) * scale);
  return a;
}

}  // namespace

std::vector<Weight> weights(Napi::Env env, Napi::Value v) {
  if (!v.IsArray()) wn::throw_bad_argument(env, "weights must be an array");
  std::vector<Weight> out;
  wn::for_each_object(env, v.As<Napi::Array>(), "weights", [&](const wn::Fields& f, uint32_t) {
    out.push_back({f.required_string("name"), f.integer("bytes", 0, 1, wn::kMaxSafeInteger)});
  });
  return out;
}

Schedule schedule(Napi::Env env, Napi::Value v, size_t weights) {
  if (v.IsUndefined() || v.IsNull()) return catalog_order(weights);
  if (!v.IsArray()) wn::throw_bad_argument(env, "schedule must be an array of steps");
  Schedule s;
  auto steps = v.As<Napi::Array>();
  for (uint32_t i = 0; i < steps.Length(); ++i) {
    Napi::Value step = steps.Get(i);
    if (!step.IsArray()) wn::throw_bad_argument(env, "schedule[" + std::to_string(i) + "] must be an array of weight indices");
    std::vector<uint32_t> uses;
    auto a = step.As<Napi::Array>();
    for (uint32_t k = 0; k < a.Length(); ++k) {
      uses.push_back(static_cast<uint32_t>(wn::checked_number(env, a.Get(k), "schedule[" + std::to_string(i) + "][" + std::to_string(k) + "]", 0,
                                                                        4294967295.0, true)));
    }
    s.steps.push_back(std::move(uses));
  }
  return s;
}

SessionSpec session_spec(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) wn::throw_bad_argument(env, "create(options) expects an object");
  wn::Fields f(env, v.As<Napi::Object>(), "options");
  SessionSpec spec;
  const auto ws = weights(env, f.raw("weights"));
  wn::for_each_object(env, f.array("weights"), "weights", [&](const wn::Fields& w, uint32_t i) {
    WeightSource src;
    src.weight = ws[i];
    if (w.has("data")) {
      Napi::Value d = w.raw("data");
      if (!d.IsTypedArray()) wn::throw_bad_argument(env, "weights[" + std::to_string(i) + "].data must be a typed array");
      auto ta = d.As<Napi::TypedArray>();
      const auto* p = wn::typed_bytes(ta);
      src.bytes.assign(p, p + ta.ByteLength());  // ours now
    } else {
      if (!w.has("path")) wn::throw_bad_argument(env, "weight '" + src.weight.name + "' needs a path or data");
      src.path = w.path("path");
      src.offset = w.integer("offset", 0);
      src.length = w.integer("length", 0);
      if (w.has("fileId")) {
        FileIdentity id;
        if (!from_token(w.string("fileId"), &id)) wn::throw_bad_argument(env, "weights[" + std::to_string(i) + "].fileId is not a file identity");
        src.identity = id;
      }
    }
    spec.weights.push_back(std::move(src));
  });
  spec.schedule = schedule(env, f.raw("schedule"), ws.size());
  RuntimeOptions& o = spec.options;
  o.budget_bytes = f.integer("budgetBytes", 0, 1, static_cast<double>(limits::kMaxBytes));
  if (!f.has("budgetBytes")) wn::throw_bad_argument(env, "options.budgetBytes is required");
  o.prefetch_bytes = f.has("prefetchBytes") ? f.integer("prefetchBytes", 0) : UINT64_MAX;
  o.prefetch_us = f.number("prefetchUs", 0, 0, limits::kMaxUs);
  o.compute_us_per_step = f.number("computeUsPerStep", 0, 0, limits::kMaxUs);
  o.compute_us_per_mib = f.number("computeUsPerMiB", 0, 0, limits::kMaxUs);
  o.policy = f.one_of("policy", {"next-use", "lru"}, "next-use") == "lru" ? Policy::kLru : Policy::kNextUse;
  o.objective = f.one_of("objective", {"fastest", "fewest-bytes"}, "fastest") == "fewest-bytes" ? Objective::kFewestBytes : Objective::kFastest;
  if (f.has("pinned")) {
    auto pa = f.array("pinned");
    for (uint32_t i = 0; i < pa.Length(); ++i) {
      o.pinned.push_back(static_cast<uint32_t>(wn::checked_number(env, pa.Get(i), "pinned[" + std::to_string(i) + "]", 0,
                                                                          static_cast<double>(ws.size()) - 1, true)));
    }
  }
  spec.device.budget_bytes = o.budget_bytes;
  spec.cuda = f.one_of("device", {"emu", "cuda"}, "emu") == "cuda";
  spec.cuda_library = f.path("cudaLibrary");
  spec.populate = f.boolean("populate", false);
  if (f.has("emu")) {
    wn::Fields e(env, f.object("emu"), "options.emu");
    emu::Config& c = spec.device.emu;
    c.h2d_gbps = e.number("h2dGBps", c.h2d_gbps, limits::kMinGBps, limits::kMaxGBps);
    c.copy_latency_us = e.number("copyLatencyUs", c.copy_latency_us, 0, 1e6);
    c.pageable_factor = e.number("pageableFactor", c.pageable_factor, 1e-3, 1);
    c.host_register_supported = e.boolean("hostRegister", c.host_register_supported);
  }
  return spec;
}

Napi::Object to_js(Napi::Env env, const SessionReport& r) {
  const RuntimeStats& s = r.stats;
  auto o = Napi::Object::New(env);
  for (auto [k, v] : {std::pair<const char*, double>{"bytesH2D", s.bytes_h2d}, {"hits", s.hits}, {"misses", s.misses},
                      {"evictions", s.evictions}, {"prefetches", s.prefetches}, {"passes", s.passes},
                      {"stallMs", s.stall_us / 1000}, {"copyMs", s.copy_us / 1000}, {"computeMs", s.compute_us / 1000},
                      {"peakDeviceBytes", s.peak_device_bytes}, {"residentBytes", s.resident_bytes},
                      {"lowerBoundBytesPerPass", s.lower_bound_bytes_per_pass},
                      {"stagedBytes", s.device.staged_bytes}, {"stagingRingBytes", s.device.staging_ring_bytes}, {"allocRetries", s.device.alloc_retries}, {"overlap", r.overlap},
                      {"pinnedCopyGBps", r.pinned_copy_gbps}}) {
    wn::set_number(o, k, v);
  }
  o.Set("hostRegistered", s.device.host_registered);
  o.Set("bytesH2DPerPass", numbers(env, s.bytes_per_pass, 1.0));
  o.Set("msPerPass", numbers(env, s.us_per_pass, 1e-3));
  o.Set("stallMsPerPass", numbers(env, s.stall_us_per_pass, 1e-3));
  o.Set("copyMsPerPass", numbers(env, s.copy_us_per_pass, 1e-3));
  auto plan = Napi::Object::New(env);
  wn::set_number(plan, "pinnedWeights", static_cast<double>(r.pinned_weights));
  wn::set_number(plan, "pinnedBytes", static_cast<double>(r.pinned_bytes));
  wn::set_number(plan, "reserveBytes", static_cast<double>(r.reserve_bytes));
  plan.Set("prefetchAcrossPasses", r.prefetch_across_passes);
  o.Set("residency", plan);
  o.Set("deviceName", r.device_name);
  o.Set("hazards", wn::to_js(env, r.hazards));
  return o;
}

Napi::Object to_js(Napi::Env env, const Acquired& a, const std::string& name) {
  auto o = Napi::Object::New(env);
  o.Set("weight", a.weight);
  o.Set("name", name);
  o.Set("devicePtr", Napi::BigInt::New(env, static_cast<uint64_t>(a.device_ptr)));
  wn::set_number(o, "bytes", static_cast<double>(a.bytes));
  o.Set("hit", a.hit);
  return o;
}

}  // namespace weightkit::offload::js
