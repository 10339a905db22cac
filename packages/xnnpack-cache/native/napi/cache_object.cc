#include "cache_object.hpp"

#include "convert.hpp"
#include "weightkit/xnnpack/pack_job.hpp"

namespace weightkit::xnnpack::js {
namespace wn = weightkit::napi;

Napi::Function CacheObject::define(Napi::Env env) {
  return DefineClass(env, "PackedWeightsCache",
                     {InstanceMethod<&CacheObject::look_up>("lookUp"), InstanceMethod<&CacheObject::reserve>("reserve"),
                      InstanceMethod<&CacheObject::insert>("insert"), InstanceMethod<&CacheObject::offset_to_addr>("offsetToAddr"),
                      InstanceMethod<&CacheObject::entry_view>("view"), InstanceMethod<&CacheObject::initialize>("initialize"),
                      InstanceMethod<&CacheObject::finalize>("finalize"), InstanceMethod<&CacheObject::release>("release"),
                      InstanceMethod<&CacheObject::is_finalized>("isFinalized"), InstanceMethod<&CacheObject::save>("save"),
                      InstanceMethod<&CacheObject::verify>("verify"), InstanceMethod<&CacheObject::stats>("stats"),
                      InstanceMethod<&CacheObject::names>("names"), InstanceMethod<&CacheObject::pack>("pack"),
                      InstanceMethod<&CacheObject::probe>("probe"), InstanceMethod<&CacheObject::close>("close")});
}

Napi::Value CacheObject::wrap(Napi::Env env, std::shared_ptr<PackedWeightsCache> cache) {
  return wn::new_wrapped(env, "Cache", std::move(cache));
}

CacheObject::CacheObject(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<CacheObject>(info), cache_(wn::take_wrapped<PackedWeightsCache>(info, "use open() to create a cache")) {}

PackedWeightsCache& CacheObject::live(Napi::Env env) {
  if (!cache_) wn::throw_status(env, Status(Code::kClosed, "the packed-weights cache was closed; reopen it"));
  return *cache_;
}

Napi::Value CacheObject::view_of(Napi::Env env, const EntryView& v) {
  if (v.size == 0) return Napi::Uint8Array::New(env, 0);
  const bool shareable = v.base_size <= wn::addon_data(env).max_view_bytes;
  const uint8_t* base = shareable ? v.base : v.data;
  const size_t len = shareable ? v.base_size : v.size;
  Napi::ArrayBuffer buffer;
  auto it = windows_.find(base);
  if (it != windows_.end() && !it->second.IsEmpty() && !it->second.Value().IsEmpty()) {
    buffer = it->second.Value();
  } else {
    auto r = views_.view(env, v.keep, base, len);
    buffer = r.buffer;
    if (!r.copied) windows_[base] = Napi::Weak(buffer);
  }
  return Napi::Uint8Array::New(env, v.size, buffer, static_cast<size_t>(v.data - base));
}

Napi::Value CacheObject::look_up(const Napi::CallbackInfo& info) {
  auto v = live(info.Env()).look_up(entry_key(info.Env(), info[0]));
  return v ? Napi::Number::New(info.Env(), static_cast<double>(v->token)) : info.Env().Undefined();
}

Napi::Value CacheObject::reserve(const Napi::CallbackInfo& info) {
  wn::Args args(info, "reserveSpace(size)");
  PackedWeightsCache& c = live(info.Env());
  const size_t n = static_cast<size_t>(args.integer(0, "size", 1, static_cast<double>(wn::addon_data(info.Env()).max_view_bytes)));
  void* p = c.reserve_space(n);
  if (!p) return info.Env().Undefined();
  // The view keeps the reservation's own memory alive, not just the cache.
  std::shared_ptr<const void> owner = c.reservation_owner(p);
  if (!owner) owner = cache_;
  auto r = views_.view(info.Env(), std::move(owner), static_cast<uint8_t*>(p), n);
  if (r.copied) {
    wn::throw_status(info.Env(), Status(Code::kUnsupported, "this runtime forbids external buffers; use packModel() instead of reserveSpace()"));
  }
  return Napi::Uint8Array::New(info.Env(), n, r.buffer, 0);
}

Napi::Value CacheObject::insert(const Napi::CallbackInfo& info) {
  wn::Args args(info, "lookUpOrInsert(key, data)");
  PackedWeightsCache& c = live(info.Env());
  const EntryKey key = entry_key(info.Env(), info[0]);
  if (!args.has(1) || info[1].IsNull()) {
    auto v = c.look_up(key);
    return v ? Napi::Number::New(info.Env(), static_cast<double>(v->token)) : info.Env().Undefined();
  }
  auto ta = args.typed_array(1, "data");
  if (ta.ByteLength() == 0) wn::throw_bad_argument(info.Env(), "lookUpOrInsert(key, data): data must not be empty");
  void* ptr = wn::typed_bytes(ta);
  auto v = wn::value_or_throw(info.Env(), c.look_up_or_insert(key, ptr, ta.ByteLength()));
  return Napi::Number::New(info.Env(), static_cast<double>(v.token));
}

Napi::Value CacheObject::offset_to_addr(const Napi::CallbackInfo& info) {
  wn::Args args(info, "offsetToAddr(offset)");
  auto v = live(info.Env()).find_token(args.integer(0, "offset"));
  if (!v) wn::throw_status(info.Env(), Status(Code::kNotFound, "unknown offset (not returned by lookUp or lookUpOrInsert of this cache)"));
  return view_of(info.Env(), *v);
}

Napi::Value CacheObject::entry_view(const Napi::CallbackInfo& info) {
  wn::Args args(info, "view(name)");
  auto v = live(info.Env()).find(args.string(0, "name"));
  return v ? view_of(info.Env(), *v) : info.Env().Undefined();
}

Napi::Value CacheObject::initialize(const Napi::CallbackInfo& info) {
  live(info.Env()).initialize_for_runtime();
  return info.Env().Undefined();
}

Napi::Value CacheObject::finalize(const Napi::CallbackInfo& info) {
  return wn::to_js(info.Env(), wn::value_or_throw(info.Env(), live(info.Env()).finalize_for_runtime()));
}

Napi::Value CacheObject::release(const Napi::CallbackInfo& info) {
  wn::Args args(info, "release(names)");
  live(info.Env()).delete_packed_data(wn::string_list(info.Env(), args.array(0, "names"), "names"));
  return info.Env().Undefined();
}

Napi::Value CacheObject::is_finalized(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), live(info.Env()).is_finalized()); }

Napi::Value CacheObject::save(const Napi::CallbackInfo& info) {
  live(info.Env());
  auto c = cache_;
  return wn::run_async<bool>(info.Env(), [c] { return c->save(); }, [](Napi::Env e, bool& saved) { return Napi::Boolean::New(e, saved); });
}

Napi::Value CacheObject::verify(const Napi::CallbackInfo& info) {
  live(info.Env());
  auto c = cache_;
  return wn::run_async<VerifyReport>(info.Env(), [c] { return c->verify(); }, [](Napi::Env e, VerifyReport& r) { return to_js(e, r); });
}

Napi::Value CacheObject::stats(const Napi::CallbackInfo& info) { return to_js(info.Env(), live(info.Env()).stats()); }

Napi::Value CacheObject::names(const Napi::CallbackInfo& info) { return wn::to_js(info.Env(), live(info.Env()).names()); }

// probe(items, packer): which items [{name, nc, kc}] are already packed (by name, seed and packer).
Napi::Value CacheObject::probe(const Napi::CallbackInfo& info) {
  PackedWeightsCache& c = live(info.Env());
  const Packer p = packer(info.Env(), info[1]);
  const auto items = pack_items(info.Env(), info[0], false);
  auto out = Napi::Array::New(info.Env(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    out.Set(static_cast<uint32_t>(i), Napi::Boolean::New(info.Env(), c.look_up(item_key(p, items[i].name, items[i].nc, items[i].kc)).has_value()));
  }
  return out;
}

// pack(items, packer, hashInputs, cancelFlag?): packs the misses off the JS thread.
Napi::Value CacheObject::pack(const Napi::CallbackInfo& info) {
  wn::Args args(info, "pack(items, packer, hashInputs, cancel?)");
  live(info.Env());
  auto items = std::make_shared<std::vector<PackItem>>(pack_items(info.Env(), info[0], true));
  const Packer p = packer(info.Env(), info[1]);
  const bool hash_inputs = args.boolean(2, "hashInputs");
  const wn::CancelFlag cancel = wn::CancelFlag::from(info.Env(), info[3]);
  auto c = cache_;
  return wn::run_async<PackResult>(
      info.Env(), [c, p, items, hash_inputs, cancel] { return run_pack_job(*c, p, *items, hash_inputs, [&] { return cancel.requested(); }); },
      [](Napi::Env e, PackResult& r) { return to_js(e, r); });
}

// close(): detaches every view now; the cache itself (and its final save) is
// released on the thread pool, and the Promise settles when it is gone.
Napi::Value CacheObject::close(const Napi::CallbackInfo& info) {
  views_.detach_all();
  windows_.clear();
  auto released = wn::release_async(info.Env(), std::move(cache_));
  cache_.reset();
  return released;
}

}  // namespace weightkit::xnnpack::js
