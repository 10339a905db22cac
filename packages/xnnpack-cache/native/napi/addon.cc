// @weightkit/xnnpack-cache addon: a thin layer over the cache core. Argument
// checks and conversions here; every long operation (open, pack, save,
// verify, compact, benchmarks) runs on a worker thread.
#include <napi.h>

#include <chrono>
#include <cstring>
#include <unordered_map>

#include "../src/pack_job.hpp"
#include "weightkit/napi_helpers.hpp"
#include "weightkit/xnnpack/bench.hpp"
#include "weightkit/xnnpack/cache.hpp"
#include "weightkit/xnnpack/packers.hpp"

namespace {

using namespace weightkit;
using namespace weightkit::xnnpack;
namespace wn = weightkit::napi;

// ---- conversions ----

bool get_string(Napi::Env env, Napi::Object o, const char* key, std::string* out, bool required) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() && !required) return true;
  if (!wn::require(env, v.IsString(), std::string(key) + " must be a string")) return false;
  *out = v.As<Napi::String>().Utf8Value();
  return true;
}

bool get_u64(Napi::Env env, Napi::Object o, const char* key, uint64_t* out) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return true;
  if (v.IsBigInt()) {
    bool lossless;
    *out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    return wn::require(env, lossless, std::string(key) + " must fit in 64 bits");
  }
  if (!wn::require(env, v.IsNumber(), std::string(key) + " must be a number")) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!wn::require(env, d >= 0 && d <= 9007199254740991.0 && d == static_cast<double>(static_cast<uint64_t>(d)),
                   std::string(key) + " must be a non-negative integer")) {
    return false;
  }
  *out = static_cast<uint64_t>(d);
  return true;
}

bool to_key(Napi::Env env, Napi::Value v, EntryKey* key) {
  if (!wn::require(env, v.IsObject(), "key must be an object")) return false;
  auto o = v.As<Napi::Object>();
  uint64_t seed = 0, pid = 0, pver = 0;
  if (!get_string(env, o, "name", &key->name, true) || !get_u64(env, o, "seed", &seed) || !get_u64(env, o, "packerId", &pid) ||
      !get_u64(env, o, "packerVersion", &pver) || !get_u64(env, o, "inputHash", &key->input_hash)) {
    return false;
  }
  if (!wn::require(env, !key->name.empty(), "key name must not be empty")) return false;
  key->seed = static_cast<uint32_t>(seed);
  key->packer_id = static_cast<uint32_t>(pid);
  key->packer_version = static_cast<uint32_t>(pver);
  return true;
}

Napi::Object stats_object(Napi::Env env, const Stats& s) {
  auto o = Napi::Object::New(env);
  auto n = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
  n("hits", s.hits);
  n("misses", s.misses);
  n("packs", s.packs);
  n("superseded", s.superseded);
  n("entries", s.entries);
  n("loadedEntries", s.loaded_entries);
  n("mappedBytes", s.mapped_bytes);
  n("heapBytes", s.heap_bytes);
  auto fb = Napi::Object::New(env);
  for (int i = 0; i < static_cast<int>(Fallback::kCount); ++i) {
    fb.Set(fallback_name(static_cast<Fallback>(i)), Napi::Number::New(env, static_cast<double>(s.fallback_bytes[i])));
  }
  o.Set("heapFallbackBytes", fb);
  n("flushMs", s.flush_ms);
  n("flushedBytes", s.flushed_bytes);
  n("fileBytes", s.file_bytes);
  n("orphanBytes", s.orphan_bytes);
  n("saves", s.saves);
  o.Set("fileBacked", s.file_backed);
  o.Set("writer", s.writer);
  o.Set("recovered", s.recovered);
  o.Set("rebuiltFrom", s.rebuilt_from.empty() ? env.Null() : Napi::String::New(env, s.rebuilt_from));
  return o;
}

Napi::Object verify_object(Napi::Env env, const VerifyReport& r) {
  auto o = Napi::Object::New(env);
  o.Set("checked", static_cast<double>(r.checked));
  o.Set("unchecked", static_cast<double>(r.unchecked));
  auto bad = Napi::Array::New(env, r.bad.size());
  for (size_t i = 0; i < r.bad.size(); ++i) bad.Set(static_cast<uint32_t>(i), r.bad[i]);
  o.Set("bad", bad);
  return o;
}

bool to_source(Napi::Env env, Napi::Value v, TensorSource* s, const std::string& what) {
  if (!wn::require(env, v.IsObject(), what + " must be an object")) return false;
  auto o = v.As<Napi::Object>();
  std::string dtype = "float32";
  if (!get_string(env, o, "dtype", &dtype, false)) return false;
  if (dtype == "float32") s->dtype = SourceDtype::kF32;
  else if (dtype == "float16") s->dtype = SourceDtype::kF16;
  else if (dtype == "bfloat16") s->dtype = SourceDtype::kBF16;
  else return wn::require(env, false, what + " dtype must be float32, float16 or bfloat16, got '" + dtype + "'");
  Napi::Value bytes = o.Get("bytes");
  if (bytes.IsTypedArray()) {
    auto ta = bytes.As<Napi::TypedArray>();
    auto* p = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    s->bytes.assign(p, p + ta.ByteLength());  // ours now: the caller may free or transfer theirs
    return true;
  }
  return get_string(env, o, "path", &s->path, true) && get_u64(env, o, "offset", &s->offset) && get_u64(env, o, "length", &s->length);
}

Result<Packer> to_packer(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) return Status(Code::kBadArgument, "packer must be an object");
  auto o = v.As<Napi::Object>();
  std::string name = "f32-gemm";
  uint64_t nr = 16, kr = 1, sr = 1;
  if (!get_string(env, o, "kind", &name, false) || !get_u64(env, o, "nr", &nr) || !get_u64(env, o, "kr", &kr) || !get_u64(env, o, "sr", &sr)) {
    return Status(Code::kBadArgument, "invalid packer");
  }
  if (nr > 256 || kr > 64 || sr > 64) return Status(Code::kBadArgument, "packer parameters out of range (nr <= 256, kr, sr <= 64)");
  return packer_from_name(name, static_cast<uint32_t>(nr), static_cast<uint32_t>(kr), static_cast<uint32_t>(sr));
}

// ---- the cache object ----

class Cache : public Napi::ObjectWrap<Cache> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "PackedWeightsCache", {
        InstanceMethod<&Cache::look_up>("lookUp"), InstanceMethod<&Cache::reserve>("reserve"),
        InstanceMethod<&Cache::insert>("insert"), InstanceMethod<&Cache::offset_to_addr>("offsetToAddr"),
        InstanceMethod<&Cache::entry_view>("view"), InstanceMethod<&Cache::initialize>("initialize"),
        InstanceMethod<&Cache::finalize>("finalize"), InstanceMethod<&Cache::release>("release"),
        InstanceMethod<&Cache::is_finalized>("isFinalized"), InstanceMethod<&Cache::save>("save"),
        InstanceMethod<&Cache::verify>("verify"), InstanceMethod<&Cache::stats>("stats"),
        InstanceMethod<&Cache::names>("names"), InstanceMethod<&Cache::pack>("pack"),
        InstanceMethod<&Cache::probe>("probe"),
        InstanceMethod<&Cache::close>("close")});
  }

  static Napi::Value wrap(Napi::Env env, std::shared_ptr<PackedWeightsCache> c) {
    return wn::new_wrapped(env, "Cache", std::move(c));
  }

  explicit Cache(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<Cache>(info), cache_(wn::take_wrapped<PackedWeightsCache>(info, "use open() to create a cache")) {}

 private:
  bool live(Napi::Env env) {
    if (cache_) return true;
    wn::throw_status(env, Status(Code::kClosed, "the packed-weights cache was closed; reopen it"));
    return false;
  }

  /// A Uint8Array over an entry: a window of a shared buffer per storage block,
  /// so views of a loaded file do not each cost V8 an external buffer.
  Napi::Value view_of(Napi::Env env, const EntryView& v) {
    if (v.size == 0) return Napi::Uint8Array::New(env, 0);
    const bool shareable = v.base_size <= wn::addon_data(env).max_view_bytes;
    const uint8_t* base = shareable ? v.base : v.data;
    const size_t len = shareable ? v.base_size : v.size;
    Napi::ArrayBuffer buffer;
    auto it = windows_.find(base);
    if (it != windows_.end() && !it->second.IsEmpty() && !it->second.Value().IsEmpty()) {
      buffer = it->second.Value();
    } else {
      auto r = wn::external_view(env, v.keep, base, len);
      if (env.IsExceptionPending()) return env.Undefined();
      buffer = r.buffer;
      if (!r.copied) {
        views_.add(buffer);
        windows_[base] = Napi::Weak(buffer);
      }
    }
    return Napi::Uint8Array::New(env, v.size, buffer, static_cast<size_t>(v.data - base));
  }

  Napi::Value look_up(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    EntryKey key;
    if (!live(env) || !to_key(env, info[0], &key)) return env.Undefined();
    auto v = cache_->look_up(key);
    return v ? Napi::Number::New(env, static_cast<double>(v->token)) : env.Undefined();
  }

  Napi::Value reserve(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live(env)) return env.Undefined();
    if (!wn::require(env, info.Length() >= 1 && info[0].IsNumber(), "reserve(size) expects a number")) return env.Undefined();
    double n = info[0].As<Napi::Number>().DoubleValue();
    if (!wn::require(env, n >= 1 && n <= 9007199254740991.0 && n == static_cast<double>(static_cast<uint64_t>(n)), "size must be a positive integer")) {
      return env.Undefined();
    }
    void* p = cache_->reserve_space(static_cast<size_t>(n));
    if (!p) return env.Undefined();
    // The view keeps the reservation's own memory alive, not just the cache.
    std::shared_ptr<const void> owner = cache_->reservation_owner(p);
    if (!owner) owner = cache_;
    auto r = wn::external_view(env, std::move(owner), static_cast<uint8_t*>(p), static_cast<size_t>(n));
    if (env.IsExceptionPending()) return env.Undefined();
    if (r.copied) {
      // Without external buffers a reservation cannot be written in place.
      wn::throw_status(env, Status(Code::kUnsupported, "this runtime forbids external buffers; use pack() instead of reserve()"));
      return env.Undefined();
    }
    views_.add(r.buffer);
    return Napi::Uint8Array::New(env, static_cast<size_t>(n), r.buffer, 0);
  }

  Napi::Value insert(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    EntryKey key;
    if (!live(env) || !to_key(env, info[0], &key)) return env.Undefined();
    if (info.Length() < 2 || info[1].IsUndefined() || info[1].IsNull()) {
      auto v = cache_->look_up(key);
      return v ? Napi::Number::New(env, static_cast<double>(v->token)) : env.Undefined();
    }
    if (!wn::require(env, info[1].IsTypedArray(), "data must be a typed array")) return env.Undefined();
    auto ta = info[1].As<Napi::TypedArray>();
    if (!wn::require(env, ta.ByteLength() > 0, "data must not be empty")) return env.Undefined();
    void* ptr = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    auto v = cache_->look_up_or_insert(key, ptr, ta.ByteLength());
    if (!v.is_ok()) {
      wn::throw_status(env, v.status());
      return env.Undefined();
    }
    return Napi::Number::New(env, static_cast<double>(v.value().token));
  }

  Napi::Value offset_to_addr(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live(env)) return env.Undefined();
    if (!wn::require(env, info.Length() >= 1 && info[0].IsNumber(), "offsetToAddr(offset) expects a number")) return env.Undefined();
    auto v = cache_->find_token(static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue()));
    if (!v) {
      wn::throw_status(env, Status(Code::kNotFound, "unknown offset (not returned by lookUp or lookUpOrInsert of this cache)"));
      return env.Undefined();
    }
    return view_of(env, *v);
  }

  Napi::Value entry_view(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live(env)) return env.Undefined();
    if (!wn::require(env, info.Length() >= 1 && info[0].IsString(), "view(name) expects a string")) return env.Undefined();
    auto v = cache_->find(info[0].As<Napi::String>().Utf8Value());
    return v ? view_of(env, *v) : env.Undefined();
  }

  Napi::Value initialize(const Napi::CallbackInfo& info) {
    if (live(info.Env())) cache_->initialize_for_runtime();
    return info.Env().Undefined();
  }

  Napi::Value finalize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live(env)) return env.Undefined();
    auto names = cache_->finalize_for_runtime();
    if (!names.is_ok()) {
      wn::throw_status(env, names.status());
      return env.Undefined();
    }
    auto a = Napi::Array::New(env, names.value().size());
    for (size_t i = 0; i < names.value().size(); ++i) a.Set(static_cast<uint32_t>(i), names.value()[i]);
    return a;
  }

  Napi::Value release(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live(env)) return env.Undefined();
    if (!wn::require(env, info.Length() >= 1 && info[0].IsArray(), "release(names) expects an array")) return env.Undefined();
    auto a = info[0].As<Napi::Array>();
    std::vector<std::string> names;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (a.Get(i).IsString()) names.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    }
    cache_->delete_packed_data(names);
    return env.Undefined();
  }

  Napi::Value is_finalized(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), cache_ && cache_->is_finalized());
  }

  Napi::Value save(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live(env)) return env.Undefined();
    auto c = cache_;
    auto saved = std::make_shared<bool>(false);
    return wn::PromiseWorker::start(
        env,
        [c, saved]() {
          auto r = c->save();
          if (!r.is_ok()) return r.status();
          *saved = r.value();
          return Status::ok();
        },
        [saved](Napi::Env e) { return Napi::Boolean::New(e, *saved); });
  }

  Napi::Value verify(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live(env)) return env.Undefined();
    auto c = cache_;
    auto report = std::make_shared<VerifyReport>();
    return wn::PromiseWorker::start(
        env,
        [c, report]() {
          auto r = c->verify();
          if (!r.is_ok()) return r.status();
          *report = r.value();
          return Status::ok();
        },
        [report](Napi::Env e) { return verify_object(e, *report); });
  }

  Napi::Value stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live(env)) return env.Undefined();
    return stats_object(env, cache_->stats());
  }

  Napi::Value names(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live(env)) return env.Undefined();
    auto list = cache_->names();
    auto a = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) a.Set(static_cast<uint32_t>(i), list[i]);
    return a;
  }

  // probe(items, packer): which items [{name, nc, kc}] are already packed (by name, seed and packer).
  Napi::Value probe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live(env)) return env.Undefined();
    if (!wn::require(env, info.Length() >= 2 && info[0].IsArray(), "probe(items, packer) expects an array")) return env.Undefined();
    auto packer = to_packer(env, info[1]);
    if (!packer.is_ok()) {
      wn::throw_status(env, packer.status());
      return env.Undefined();
    }
    auto a = info[0].As<Napi::Array>();
    auto out = Napi::Array::New(env, a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!wn::require(env, a.Get(i).IsObject(), "probe items must be objects")) return env.Undefined();
      auto o = a.Get(i).As<Napi::Object>();
      std::string name;
      uint64_t nc = 0, kc = 0;
      if (!get_string(env, o, "name", &name, true) || !get_u64(env, o, "nc", &nc) || !get_u64(env, o, "kc", &kc)) return env.Undefined();
      out.Set(i, Napi::Boolean::New(env, cache_->look_up(item_key(packer.value(), name, nc, kc)).has_value()));
    }
    return out;
  }

  // pack(items, packer, hashInputs): items [{name, nc, kc, layout, weight, bias?}]
  Napi::Value pack(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!live(env)) return env.Undefined();
    if (!wn::require(env, info.Length() >= 2 && info[0].IsArray(), "pack(items, packer, hashInputs?) expects an array")) return env.Undefined();
    auto packer = to_packer(env, info[1]);
    if (!packer.is_ok()) {
      wn::throw_status(env, packer.status());
      return env.Undefined();
    }
    auto items = std::make_shared<std::vector<PackItem>>();
    auto a = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!wn::require(env, a.Get(i).IsObject(), "pack items must be objects")) return env.Undefined();
      auto o = a.Get(i).As<Napi::Object>();
      PackItem item;
      uint64_t nc = 0, kc = 0;
      std::string layout = "oi";
      if (!get_string(env, o, "name", &item.name, true) || !get_u64(env, o, "nc", &nc) || !get_u64(env, o, "kc", &kc) ||
          !get_string(env, o, "layout", &layout, false) || !to_source(env, o.Get("weight"), &item.weight, item.name + " weight")) {
        return env.Undefined();
      }
      if (!wn::require(env, layout == "oi" || layout == "io", "layout must be 'oi' or 'io'")) return env.Undefined();
      item.layout = layout == "oi" ? SourceLayout::kOutIn : SourceLayout::kInOut;
      item.nc = static_cast<size_t>(nc);
      item.kc = static_cast<size_t>(kc);
      if (o.Has("bias") && !o.Get("bias").IsUndefined()) {
        TensorSource b;
        if (!to_source(env, o.Get("bias"), &b, item.name + " bias")) return env.Undefined();
        item.bias = std::move(b);
      }
      items->push_back(std::move(item));
    }
    const bool hash_inputs = info.Length() > 2 && info[2].ToBoolean();
    auto c = cache_;
    auto p = packer.value();
    auto result = std::make_shared<PackResult>();
    return wn::PromiseWorker::start(
        env,
        [c, p, items, hash_inputs, result]() {
          auto r = run_pack_job(*c, p, *items, hash_inputs);
          if (!r.is_ok()) return r.status();
          *result = r.value();
          return Status::ok();
        },
        [result](Napi::Env e) {
          auto o = Napi::Object::New(e);
          o.Set("packed", static_cast<double>(result->packed));
          o.Set("hits", static_cast<double>(result->hits));
          o.Set("packedBytes", static_cast<double>(result->packed_bytes));
          return o;
        });
  }

  Napi::Value close(const Napi::CallbackInfo& info) {
    views_.detach_all();
    windows_.clear();
    cache_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<PackedWeightsCache> cache_;
  wn::ViewRegistry views_;
  std::unordered_map<const uint8_t*, Napi::Reference<Napi::ArrayBuffer>> windows_;
};

// ---- module functions ----

Napi::Value open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CacheOptions o;
  if (info.Length() >= 1 && info[0].IsObject()) {
    auto obj = info[0].As<Napi::Object>();
    uint64_t wait = 0;
    if (!get_string(env, obj, "path", &o.path, false) || !get_u64(env, obj, "lockWaitMs", &wait)) return env.Undefined();
    o.async_flush = obj.Get("asyncFlush").ToBoolean();
    o.verify_on_open = obj.Get("verifyOnOpen").ToBoolean();
    o.lock_wait_ms = static_cast<int>(std::min<uint64_t>(wait, 600000));
  }
  auto result = std::make_shared<std::shared_ptr<PackedWeightsCache>>();
  return wn::PromiseWorker::start(
      env,
      [o, result]() {
        auto r = PackedWeightsCache::open(o);
        if (!r.is_ok()) return r.status();
        *result = r.value();
        return Status::ok();
      },
      [result](Napi::Env e) { return Cache::wrap(e, *result); });
}

std::string path_arg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    wn::throw_status(info.Env(), Status(Code::kBadArgument, "path must be a string"));
    return "";
  }
  return info[0].As<Napi::String>().Utf8Value();
}

Napi::Value inspect_file_js(const Napi::CallbackInfo& info) {
  std::string path = path_arg(info);
  if (info.Env().IsExceptionPending()) return info.Env().Undefined();
  auto out = std::make_shared<FileInfo>();
  return wn::PromiseWorker::start(
      info.Env(),
      [path, out]() {
        auto r = inspect_file(path);
        if (!r.is_ok()) return r.status();
        *out = r.value();
        return Status::ok();
      },
      [out](Napi::Env e) {
        auto o = Napi::Object::New(e);
        o.Set("version", out->version);
        o.Set("fileBytes", static_cast<double>(out->file_bytes));
        o.Set("orphanBytes", static_cast<double>(out->orphan_bytes));
        o.Set("recovered", out->recovered);
        o.Set("integrity", out->integrity);
        auto a = Napi::Array::New(e, out->entries.size());
        for (size_t i = 0; i < out->entries.size(); ++i) {
          auto en = Napi::Object::New(e);
          en.Set("name", out->entries[i].name);
          en.Set("offset", static_cast<double>(out->entries[i].offset));
          en.Set("size", static_cast<double>(out->entries[i].size));
          en.Set("seed", out->entries[i].seed);
          a.Set(static_cast<uint32_t>(i), en);
        }
        o.Set("entries", a);
        return o;
      });
}

Napi::Value verify_file_js(const Napi::CallbackInfo& info) {
  std::string path = path_arg(info);
  if (info.Env().IsExceptionPending()) return info.Env().Undefined();
  auto out = std::make_shared<VerifyReport>();
  return wn::PromiseWorker::start(
      info.Env(),
      [path, out]() {
        auto r = verify_file(path);
        if (!r.is_ok()) return r.status();
        *out = r.value();
        return Status::ok();
      },
      [out](Napi::Env e) { return verify_object(e, *out); });
}

Napi::Value compact_file_js(const Napi::CallbackInfo& info) {
  std::string path = path_arg(info);
  if (info.Env().IsExceptionPending()) return info.Env().Undefined();
  auto out = std::make_shared<CompactReport>();
  return wn::PromiseWorker::start(
      info.Env(),
      [path, out]() {
        auto r = compact_file(path);
        if (!r.is_ok()) return r.status();
        *out = r.value();
        return Status::ok();
      },
      [out](Napi::Env e) {
        auto o = Napi::Object::New(e);
        o.Set("bytesBefore", static_cast<double>(out->bytes_before));
        o.Set("bytesAfter", static_cast<double>(out->bytes_after));
        o.Set("entries", static_cast<double>(out->entries));
        return o;
      });
}

// benchPacker(packer, nc, kc, reps) -> Promise<{packNs, memcpyNs, sourceBytes, packedBytes}>
Napi::Value bench_packer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto packer = to_packer(env, info[0]);
  if (!packer.is_ok()) {
    wn::throw_status(env, packer.status());
    return env.Undefined();
  }
  if (!wn::require(env, info.Length() >= 4 && info[1].IsNumber() && info[2].IsNumber() && info[3].IsNumber(), "benchPacker(packer, nc, kc, reps)")) {
    return env.Undefined();
  }
  const size_t nc = info[1].As<Napi::Number>().Uint32Value(), kc = info[2].As<Napi::Number>().Uint32Value();
  const int reps = static_cast<int>(info[3].As<Napi::Number>().Int32Value());
  if (!wn::require(env, nc > 0 && kc > 0 && nc * kc <= (size_t{1} << 28) && reps > 0 && reps <= 1000, "benchPacker: sizes out of range")) {
    return env.Undefined();
  }
  auto out = std::make_shared<PackerTiming>();
  auto p = packer.value();
  return wn::PromiseWorker::start(
      env,
      [p, nc, kc, reps, out]() {
        auto r = time_packer(p, nc, kc, reps);
        if (!r.is_ok()) return r.status();
        *out = r.value();
        return Status::ok();
      },
      [out](Napi::Env e) {
        auto o = Napi::Object::New(e);
        o.Set("packNs", out->pack_ns);
        o.Set("memcpyNs", out->memcpy_ns);
        o.Set("sourceBytes", static_cast<double>(out->source_bytes));
        o.Set("packedBytes", static_cast<double>(out->packed_bytes));
        return o;
      });
}

// benchFileBacking(path, totalBytes, regionBytes, sparse) -> Promise<ms>
Napi::Value bench_file_backing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = path_arg(info);
  if (env.IsExceptionPending()) return env.Undefined();
  if (!wn::require(env, info.Length() >= 4 && info[1].IsNumber() && info[2].IsNumber() && info[3].IsString(), "benchFileBacking(path, total, region, how)")) {
    return env.Undefined();
  }
  const uint64_t total = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
  const uint64_t region = static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value());
  if (!wn::require(env, region >= page_size() && region % page_size() == 0 && total >= region && total % region == 0 && region <= (1ull << 31),
                   "benchFileBacking: region must be a page multiple dividing total")) {
    return env.Undefined();
  }
  const std::string mode = info[3].As<Napi::String>().Utf8Value();
  const Backing how = mode == "sparse-mmap" ? Backing::kSparseMapped : mode == "fallocate-mmap" ? Backing::kFallocateMapped : Backing::kFallocateWrite;
  if (!wn::require(env, mode == "sparse-mmap" || mode == "fallocate-mmap" || mode == "fallocate-pwrite",
                   "benchFileBacking: how must be 'sparse-mmap', 'fallocate-mmap' or 'fallocate-pwrite'")) {
    return env.Undefined();
  }
  auto ms = std::make_shared<double>(0);
  return wn::PromiseWorker::start(
      env,
      [path, total, region, how, ms]() {
        auto r = time_file_backing(path, total, region, how);
        if (!r.is_ok()) return r.status();
        *ms = r.value();
        return Status::ok();
      },
      [ms](Napi::Env e) { return Napi::Number::New(e, *ms); });
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("benchPacker", Napi::Function::New(env, bench_packer));
  exports.Set("benchFileBacking", Napi::Function::New(env, bench_file_backing));
  wn::addon_data(env).classes["Cache"] = Napi::Persistent(Cache::define(env));
  exports.Set("setErrorClass", Napi::Function::New(env, wn::set_error_class));
  exports.Set("open", Napi::Function::New(env, open));
  exports.Set("inspectFile", Napi::Function::New(env, inspect_file_js));
  exports.Set("verifyFile", Napi::Function::New(env, verify_file_js));
  exports.Set("compactFile", Napi::Function::New(env, compact_file_js));
  return exports;
}

}  // namespace

NODE_API_MODULE(weightkit_xnnpack, init)
