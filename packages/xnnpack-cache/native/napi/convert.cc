#include "convert.hpp"

#include "weightkit/napi_helpers.hpp"

namespace weightkit::xnnpack::js {
namespace wn = weightkit::napi;

namespace {

Napi::Object object_arg(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsObject() || v.IsArray()) wn::throw_bad_argument(env, std::string(what) + " must be an object");
  return v.As<Napi::Object>();
}

TensorSource tensor_source(Napi::Env env, const wn::Fields& item, const char* key, const std::string& what) {
  wn::Fields f(env, item.object(key), what + "." + key);
  TensorSource s;
  const std::string dtype = f.one_of("dtype", {"float32", "float16", "bfloat16"}, "float32");
  s.dtype = dtype == "float32" ? SourceDtype::kF32 : dtype == "float16" ? SourceDtype::kF16 : SourceDtype::kBF16;
  if (f.has("bytes")) {
    Napi::Value b = f.raw("bytes");
    if (!b.IsTypedArray()) wn::throw_bad_argument(env, what + "." + key + ".bytes must be a typed array");
    auto ta = b.As<Napi::TypedArray>();
    const auto* p = wn::typed_bytes(ta);
    s.bytes.assign(p, p + ta.ByteLength());  // ours now: the caller may free or transfer theirs
    return s;
  }
  if (!f.has("path")) wn::throw_bad_argument(env, what + "." + key + " needs a path or bytes");
  s.path = f.path("path");
  s.offset = f.integer("offset", 0);
  s.length = f.integer("length", 0);
  if (f.has("fileId")) {
    FileIdentity id;
    if (!from_token(f.string("fileId"), &id)) wn::throw_bad_argument(env, what + "." + key + ".fileId is not a file identity");
    s.identity = id;
  }
  return s;
}

}  // namespace

CacheOptions cache_options(Napi::Env env, Napi::Value v) {
  CacheOptions o;
  if (v.IsUndefined()) return o;
  wn::Fields f(env, object_arg(env, v, "options"), "options");
  o.path = f.path("path");
  o.async_flush = f.boolean("asyncFlush", false);
  o.populate = f.boolean("populate", false);
  o.lock_wait_ms = static_cast<int>(f.integer("lockWaitMs", 0, 0, kMaxLockWaitMs));
  const std::string verify = f.one_of("verify", {"first-use", "open", "none"}, "first-use");
  o.verify = verify == "open" ? Verify::kOpen : verify == "none" ? Verify::kNone : Verify::kFirstUse;
  return o;
}

EntryKey entry_key(Napi::Env env, Napi::Value v) {
  wn::Fields f(env, object_arg(env, v, "key"), "key");
  EntryKey key;
  key.name = f.required_string("name");
  if (key.name.empty()) wn::throw_bad_argument(env, "key.name must not be empty");
  key.seed = static_cast<uint32_t>(f.integer("seed", 0, 0, 4294967295.0));
  key.packer_id = static_cast<uint32_t>(f.integer("packerId", 0, 0, 4294967295.0));
  key.packer_version = static_cast<uint32_t>(f.integer("packerVersion", 0, 0, 4294967295.0));
  key.input_hash = f.u64("inputHash").value_or(0);
  return key;
}

Packer packer(Napi::Env env, Napi::Value v) {
  wn::Fields f(env, object_arg(env, v, "packer"), "packer");
  const std::string kind = f.one_of("kind", {"f32-gemm", "qc8w"}, "f32-gemm");
  return wn::value_or_throw(env, packer_from_name(kind, static_cast<uint32_t>(f.integer("nr", 16, 1, 256)),
                                                  static_cast<uint32_t>(f.integer("kr", 1, 1, 64)),
                                                  static_cast<uint32_t>(f.integer("sr", 1, 1, 64))));
}

std::vector<PackItem> pack_items(Napi::Env env, Napi::Value v, bool with_sources) {
  if (!v.IsArray()) wn::throw_bad_argument(env, "items must be an array");
  std::vector<PackItem> items;
  wn::for_each_object(env, v.As<Napi::Array>(), "items", [&](const wn::Fields& f, uint32_t i) {
    PackItem item;
    item.name = f.required_string("name");
    item.nc = static_cast<size_t>(f.integer("nc", 0, 1, 1u << 30));
    item.kc = static_cast<size_t>(f.integer("kc", 0, 1, 1u << 30));
    if (with_sources) {
      const std::string what = "items[" + std::to_string(i) + "]";
      item.layout = f.one_of("layout", {"oi", "io"}, "oi") == "oi" ? SourceLayout::kOutIn : SourceLayout::kInOut;
      item.weight = tensor_source(env, f, "weight", what);
      if (f.has("bias")) item.bias = tensor_source(env, f, "bias", what);
    }
    items.push_back(std::move(item));
  });
  return items;
}

Napi::Object to_js(Napi::Env env, const Stats& s) {
  auto o = Napi::Object::New(env);
  for (auto [k, v] : {std::pair<const char*, double>{"hits", s.hits}, {"misses", s.misses}, {"packs", s.packs},
                      {"superseded", s.superseded}, {"reserves", s.reserves}, {"entries", s.entries},
                      {"loadedEntries", s.loaded_entries}, {"mappedBytes", s.mapped_bytes}, {"heapBytes", s.heap_bytes},
                      {"flushMs", s.flush_ms}, {"flushedBytes", s.flushed_bytes}, {"fileBytes", s.file_bytes},
                      {"orphanBytes", s.orphan_bytes}, {"saves", s.saves}, {"saveErrors", s.save_errors},
                      {"verifiedBytes", s.verified_bytes}, {"populatedBytes", s.populated_bytes}, {"corruptEntries", s.corrupt_entries},
                      {"repairedEntries", s.repaired_entries}, {"repairDroppedBytes", s.repair_dropped_bytes}}) {
    wn::set_number(o, k, v);
  }
  auto fb = Napi::Object::New(env);
  for (int i = 0; i < static_cast<int>(Fallback::kCount); ++i) wn::set_number(fb, fallback_name(static_cast<Fallback>(i)), static_cast<double>(s.fallback_bytes[i]));
  o.Set("heapFallbackBytes", fb);
  o.Set("fileBacked", s.file_backed);
  o.Set("writer", s.writer);
  o.Set("recovered", s.recovered);
  o.Set("trusted", s.trusted);
  o.Set("readOnly", s.read_only);
  auto text = [&](const std::string& t) { return t.empty() ? env.Null() : Napi::String::New(env, t); };
  o.Set("rebuiltFrom", text(s.rebuilt_from));
  o.Set("refused", text(s.refused));
  o.Set("lastSaveError", text(s.last_save_error));
  return o;
}

Napi::Object to_js(Napi::Env env, const VerifyReport& r) {
  auto o = Napi::Object::New(env);
  wn::set_number(o, "checked", static_cast<double>(r.checked));
  wn::set_number(o, "unchecked", static_cast<double>(r.unchecked));
  o.Set("bad", wn::to_js(env, r.bad));
  return o;
}

Napi::Object to_js(Napi::Env env, const FileInfo& info) {
  auto o = Napi::Object::New(env);
  o.Set("version", info.version);
  wn::set_number(o, "fileBytes", static_cast<double>(info.file_bytes));
  wn::set_number(o, "orphanBytes", static_cast<double>(info.orphan_bytes));
  wn::set_number(o, "tailBytes", static_cast<double>(info.tail_bytes));
  o.Set("recovered", info.recovered);
  o.Set("footerAtEof", info.footer_at_eof);
  o.Set("integrity", info.integrity);
  auto a = Napi::Array::New(env, info.entries.size());
  for (size_t i = 0; i < info.entries.size(); ++i) {
    auto e = Napi::Object::New(env);
    e.Set("name", info.entries[i].name);
    wn::set_number(e, "offset", static_cast<double>(info.entries[i].offset));
    wn::set_number(e, "size", static_cast<double>(info.entries[i].size));
    e.Set("seed", info.entries[i].seed);
    a.Set(static_cast<uint32_t>(i), e);
  }
  o.Set("entries", a);
  return o;
}

Napi::Object to_js(Napi::Env env, const CompactReport& r) {
  auto o = Napi::Object::New(env);
  wn::set_number(o, "bytesBefore", static_cast<double>(r.bytes_before));
  wn::set_number(o, "bytesAfter", static_cast<double>(r.bytes_after));
  wn::set_number(o, "entries", static_cast<double>(r.entries));
  o.Set("dropped", wn::to_js(env, r.dropped));
  return o;
}

Napi::Object to_js(Napi::Env env, const PackResult& r) {
  auto o = Napi::Object::New(env);
  wn::set_number(o, "packed", static_cast<double>(r.packed));
  wn::set_number(o, "hits", static_cast<double>(r.hits));
  wn::set_number(o, "packedBytes", static_cast<double>(r.packed_bytes));
  return o;
}

}  // namespace weightkit::xnnpack::js
