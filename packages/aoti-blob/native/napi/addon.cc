// @weightkit/aoti-blob addon: a thin layer over the AOTI core. It locates and
// validates a model's weights (off the JS thread) and returns plain objects;
// the payload is then mapped by @weightkit/core's FileMapping.
#include <napi.h>

#include <memory>

#include "weightkit/aoti/aoti.hpp"
#include "weightkit/napi_helpers.hpp"

namespace {

using namespace weightkit;
using namespace weightkit::aoti;
namespace wn = weightkit::napi;

Napi::Array int_list(Napi::Env env, const std::vector<int64_t>& v) {
  auto a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(v[i])));
  return a;
}

Napi::Object const_info(Napi::Env env, const ConstInfo& c, uint32_t index) {
  auto o = Napi::Object::New(env);
  o.Set("index", index);
  o.Set("name", c.name);
  o.Set("fqn", c.original_fqn);
  o.Set("dtype", c.dtype);
  o.Set("deviceType", c.device_type);
  o.Set("shape", int_list(env, c.shape));
  o.Set("stride", int_list(env, c.stride));
  o.Set("offset", static_cast<double>(c.offset));
  o.Set("dataSize", static_cast<double>(c.data_size));
  o.Set("layout", c.layout);
  o.Set("fromFolded", c.from_folded);
  o.Set("type", c.type);
  return o;
}

Napi::Object location(Napi::Env env, const ModelLocation& loc) {
  auto o = Napi::Object::New(env);
  o.Set("kind", source_kind_name(loc.kind));
  o.Set("key", loc.key);
  o.Set("model", loc.model);
  auto models = Napi::Array::New(env, loc.models.size());
  for (size_t i = 0; i < loc.models.size(); ++i) models.Set(static_cast<uint32_t>(i), loc.models[i]);
  o.Set("models", models);
  o.Set("payloadPath", loc.payload_path);
  o.Set("payloadOffset", static_cast<double>(loc.payload_offset));
  o.Set("payloadSize", static_cast<double>(loc.layout.payload_size));
  o.Set("padded", loc.layout.padded);
  o.Set("metadataJson", loc.metadata_json);
  auto list = Napi::Array::New(env, loc.layout.constants.size());
  for (size_t i = 0; i < loc.layout.constants.size(); ++i) {
    const PlacedConst& p = loc.layout.constants[i];
    auto c = const_info(env, p.info, static_cast<uint32_t>(i));
    c.Set("payloadOffset", p.info.from_folded ? env.Null() : Napi::Number::New(env, static_cast<double>(p.payload_offset)));
    c.Set("viewOffset", static_cast<double>(p.view_offset));
    c.Set("viewBytes", static_cast<double>(p.view_bytes));
    list.Set(static_cast<uint32_t>(i), c);
  }
  o.Set("constants", list);
  return o;
}

bool parse_open_options(const Napi::CallbackInfo& info, std::string* path, OpenOptions* opts) {
  Napi::Env env = info.Env();
  if (!wn::require(env, info.Length() >= 1 && info[0].IsString(), "path must be a string")) return false;
  *path = info[0].As<Napi::String>().Utf8Value();
  if (info.Length() < 2 || info[1].IsUndefined()) return true;
  if (!wn::require(env, info[1].IsObject(), "options must be an object")) return false;
  auto o = info[1].As<Napi::Object>();
  if (o.Has("model") && !o.Get("model").IsUndefined()) {
    if (!wn::require(env, o.Get("model").IsString(), "model must be a string")) return false;
    opts->model = o.Get("model").As<Napi::String>().Utf8Value();
  }
  for (const char* key : {"appendedSize", "appendedMagic"}) {
    if (!o.Has(key) || o.Get(key).IsUndefined()) continue;
    Napi::Value v = o.Get(key);
    if (!wn::require(env, v.IsBigInt(), std::string(key) + " must be a bigint")) return false;
    bool lossless = false;
    uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!wn::require(env, lossless, std::string(key) + " must fit in 64 bits")) return false;
    (std::string(key) == "appendedSize" ? opts->appended_size : opts->appended_magic) = u;
  }
  return true;
}

Napi::Value locate(const Napi::CallbackInfo& info) {
  auto path = std::make_shared<std::string>();
  auto opts = std::make_shared<OpenOptions>();
  if (!parse_open_options(info, path.get(), opts.get())) return info.Env().Undefined();
  auto result = std::make_shared<std::optional<ModelLocation>>();
  return wn::PromiseWorker::start(
      info.Env(),
      [path, opts, result]() {
        auto r = locate_model(*path, *opts);
        if (!r.is_ok()) return r.status();
        *result = std::move(r).value();
        return Status::ok();
      },
      [result](Napi::Env env) -> Napi::Value { return location(env, **result); });
}

Napi::Value locate_sync(const Napi::CallbackInfo& info) {
  std::string path;
  OpenOptions opts;
  if (!parse_open_options(info, &path, &opts)) return info.Env().Undefined();
  auto r = locate_model(path, opts);
  if (!r.is_ok()) {
    wn::throw_status(info.Env(), r.status());
    return info.Env().Undefined();
  }
  return location(info.Env(), r.value());
}

Napi::Value parse_constants(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!wn::require(env, info.Length() >= 1 && info[0].IsString(), "text must be a string")) return env.Undefined();
  auto r = parse_constants_info(info[0].As<Napi::String>().Utf8Value());
  if (!r.is_ok()) {
    wn::throw_status(env, r.status());
    return env.Undefined();
  }
  auto a = Napi::Array::New(env, r.value().size());
  for (size_t i = 0; i < r.value().size(); ++i) a.Set(static_cast<uint32_t>(i), const_info(env, r.value()[i], static_cast<uint32_t>(i)));
  return a;
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorClass", Napi::Function::New(env, wn::set_error_class));
  exports.Set("locate", Napi::Function::New(env, locate));
  exports.Set("locateSync", Napi::Function::New(env, locate_sync));
  exports.Set("parseConstantsInfo", Napi::Function::New(env, parse_constants));
  return exports;
}

}  // namespace

NODE_API_MODULE(weightkit_aoti, init)
