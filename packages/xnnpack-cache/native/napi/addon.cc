// @weightkit/xnnpack-cache addon: the module's functions. Each long operation
// (open, inspect, verify, compact) runs on the thread pool; the cache object
// is in cache_object.cc, conversions in convert.cc.
#include <napi.h>

#include "cache_object.hpp"
#include "convert.hpp"
#include "weightkit/napi_helpers.hpp"
#include "weightkit/xnnpack/xpwc.hpp"

namespace {

using namespace weightkit;
using namespace weightkit::xnnpack;
namespace wn = weightkit::napi;

Napi::Value open(const Napi::CallbackInfo& info) {
  const CacheOptions o = js::cache_options(info.Env(), info[0]);
  return wn::run_async<std::shared_ptr<PackedWeightsCache>>(
      info.Env(), [o] { return PackedWeightsCache::open(o); },
      [](Napi::Env e, std::shared_ptr<PackedWeightsCache>& c) { return js::CacheObject::wrap(e, c); });
}

template <typename T, Result<T> (*Fn)(const std::string&)>
Napi::Value file_operation(const Napi::CallbackInfo& info) {
  const std::string path = wn::Args(info, "a file operation(path)").path(0, "path");
  return wn::run_async<T>(info.Env(), [path] { return Fn(path); }, [](Napi::Env e, T& r) { return js::to_js(e, r); });
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  wn::register_class(env, "Cache", js::CacheObject::define(env));
  exports.Set("setErrorClass", Napi::Function::New(env, wn::set_error_class));
  exports.Set("open", Napi::Function::New(env, open));
  exports.Set("inspectFile", Napi::Function::New(env, file_operation<FileInfo, inspect_file>));
  exports.Set("verifyFile", Napi::Function::New(env, file_operation<VerifyReport, verify_file>));
  exports.Set("compactFile", Napi::Function::New(env, file_operation<CompactReport, compact_file>));
  // For the test that the TypeScript magic (src/format.ts) agrees with this one.
  exports.Set("xpwcMagic", Napi::Number::New(env, weightkit::xpwc::kMagic));
  exports.Set("maxLockWaitMs", Napi::Number::New(env, weightkit::xnnpack::kMaxLockWaitMs));
  return exports;
}

}  // namespace

NODE_API_MODULE(weightkit_xnnpack, init)
