// The JavaScript object over one PackedWeightsCache: the XNNPACK protocol,
// whole-model packing off the JS thread, and zero-copy views of entries that
// close() detaches.
#pragma once

#include <napi.h>

#include <memory>
#include <unordered_map>

#include "weightkit/napi_helpers.hpp"
#include "weightkit/xnnpack/cache.hpp"

namespace weightkit::xnnpack::js {

class CacheObject : public Napi::ObjectWrap<CacheObject> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Value wrap(Napi::Env env, std::shared_ptr<PackedWeightsCache> cache);
  explicit CacheObject(const Napi::CallbackInfo& info);

 private:
  PackedWeightsCache& live(Napi::Env env);
  Napi::Value view_of(Napi::Env env, const EntryView& v);

  Napi::Value look_up(const Napi::CallbackInfo& info);
  Napi::Value reserve(const Napi::CallbackInfo& info);
  Napi::Value insert(const Napi::CallbackInfo& info);
  Napi::Value offset_to_addr(const Napi::CallbackInfo& info);
  Napi::Value entry_view(const Napi::CallbackInfo& info);
  Napi::Value initialize(const Napi::CallbackInfo& info);
  Napi::Value finalize(const Napi::CallbackInfo& info);
  Napi::Value release(const Napi::CallbackInfo& info);
  Napi::Value is_finalized(const Napi::CallbackInfo& info);
  Napi::Value save(const Napi::CallbackInfo& info);
  Napi::Value verify(const Napi::CallbackInfo& info);
  Napi::Value stats(const Napi::CallbackInfo& info);
  Napi::Value names(const Napi::CallbackInfo& info);
  Napi::Value probe(const Napi::CallbackInfo& info);
  Napi::Value pack(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);

  std::shared_ptr<PackedWeightsCache> cache_;
  napi::ViewRegistry views_;
  // One shared ArrayBuffer per storage block, so views of a loaded file do
  // not each cost V8 an external buffer.
  std::unordered_map<const uint8_t*, Napi::Reference<Napi::ArrayBuffer>> windows_;
};

}  // namespace weightkit::xnnpack::js
