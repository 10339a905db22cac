// @weightkit/cuda-offload addon: the module's functions over the offload
// core. create() builds a session (maps the weights' files, loads the device)
// on the thread pool; the session object is in session_object.cc.
#include <napi.h>

#include "convert.hpp"
#include "session_object.hpp"
#include "weightkit/napi_helpers.hpp"
#include "weightkit/offload/limits.hpp"

namespace {

using namespace weightkit;
using namespace weightkit::offload;
namespace wn = weightkit::napi;

// plan(weights, schedule?, budgetBytes): the floor, the lower bound and what next-use moves.
// plan(weights, schedule?, budgetBytes?): the schedule's facts, and with a
// budget what it means (plan_budget).
Napi::Value plan_js(const Napi::CallbackInfo& info) {
  wn::Args args(info, "plan(weights, schedule, budgetBytes)");
  const auto weights = js::weights(info.Env(), info[0]);
  const Schedule schedule = js::schedule(info.Env(), info[1], weights.size());
  const bool budgeted = !info[2].IsUndefined();
  const uint64_t budget = budgeted ? args.integer(2, "budgetBytes", 0, wn::kMaxSafeInteger) : 0;
  const BudgetPlan p = wn::value_or_throw(info.Env(), plan_budget(weights, schedule, budget));
  auto o = Napi::Object::New(info.Env());
  wn::set_number(o, "floorBytes", static_cast<double>(p.summary.floor_bytes));
  wn::set_number(o, "totalBytes", static_cast<double>(p.summary.total_bytes));
  wn::set_number(o, "largestWeightBytes", static_cast<double>(p.summary.largest_weight));
  wn::set_number(o, "largestPairBytes", static_cast<double>(p.summary.largest_pair_bytes));
  if (!budgeted) return o;
  wn::set_number(o, "budgetBytes", static_cast<double>(budget));
  wn::set_number(o, "lowerBoundBytesPerPass", static_cast<double>(p.summary.lower_bound_bytes_per_pass));
  o.Set("plannedBytesPerPass", p.planned_bytes_per_pass ? Napi::Number::New(info.Env(), static_cast<double>(*p.planned_bytes_per_pass))
                                                        : info.Env().Null());
  return o;
}

// simulate(weights, schedule?, budgetBytes, policy, passes): bytes each pass loads, no device.
Napi::Value simulate_js(const Napi::CallbackInfo& info) {
  wn::Args args(info, "simulate(weights, schedule, budgetBytes, policy, passes)");
  const auto weights = js::weights(info.Env(), info[0]);
  const Schedule schedule = js::schedule(info.Env(), info[1], weights.size());
  const uint64_t budget = args.integer(2, "budgetBytes", 0, wn::kMaxSafeInteger);
  const std::string policy = args.string(3, "policy");
  if (policy != "next-use" && policy != "lru") wn::throw_bad_argument(info.Env(), "policy must be next-use or lru");
  const int passes = static_cast<int>(args.integer(4, "passes", 1, 1000));
  const auto loaded = wn::value_or_throw(info.Env(), simulate(weights, schedule, budget, policy == "lru" ? Policy::kLru : Policy::kNextUse, {}, passes));
  auto a = Napi::Array::New(info.Env(), loaded.size());
  for (size_t i = 0; i < loaded.size(); ++i) a.Set(static_cast<uint32_t>(i), static_cast<double>(loaded[i]));
  return a;
}

Napi::Value create(const Napi::CallbackInfo& info) {
  auto spec = std::make_shared<SessionSpec>(js::session_spec(info.Env(), info[0]));
  return wn::run_async<std::shared_ptr<OffloadSession>>(
      info.Env(), [spec] { return OffloadSession::create(std::move(*spec)); },
      [](Napi::Env e, std::shared_ptr<OffloadSession>& s) { return js::SessionObject::wrap(e, s); });
}

// cudaDeviceCount(libraryPath): run in a child process by the JS side, so a broken driver cannot take the app down.
Napi::Value cuda_device_count(const Napi::CallbackInfo& info) {
  const CudaProbeResult r = probe_cuda_library(wn::Args(info, "cudaDeviceCount(libraryPath)").path(0, "libraryPath"));
  auto o = Napi::Object::New(info.Env());
  o.Set("count", r.count);
  if (!r.error.empty()) o.Set("error", r.error);
  return o;
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  wn::register_class(env, "Offload", js::SessionObject::define(env));
  exports.Set("setErrorClass", Napi::Function::New(env, wn::set_error_class));
  exports.Set("plan", Napi::Function::New(env, plan_js));
  exports.Set("simulate", Napi::Function::New(env, simulate_js));
  exports.Set("create", Napi::Function::New(env, create));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, cuda_device_count));
  auto bounds = Napi::Object::New(env);
  wn::set_number(bounds, "maxBytes", static_cast<double>(limits::kMaxBytes));
  wn::set_number(bounds, "maxUs", limits::kMaxUs);
  wn::set_number(bounds, "minGBps", limits::kMinGBps);
  wn::set_number(bounds, "maxGBps", limits::kMaxGBps);
  wn::set_number(bounds, "passHistory", static_cast<double>(limits::kPassHistory));
  exports.Set("limits", bounds);
  return exports;
}

}  // namespace

NODE_API_MODULE(weightkit_offload, init)
