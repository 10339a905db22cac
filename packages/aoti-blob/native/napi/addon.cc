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
  o.Set("models", wn::to_js(env, loc.models));
  o.Set("payloadPath", loc.payload_path);
  o.Set("payloadFileId", loc.payload_file_id);
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

OpenOptions open_options(const wn::Args& args, std::string* path) {
  *path = args.path(0, "path");
  OpenOptions opts;
  if (!args.has(1)) return opts;
  wn::Fields f(args.env(), args.object(1, "options"), "options");
  opts.model = f.string("model");
  if (f.has("appendedSize")) opts.appended_size = f.u64("appendedSize");
  if (f.has("appendedMagic")) opts.appended_magic = f.u64("appendedMagic");
  return opts;
}

Napi::Value locate(const Napi::CallbackInfo& info) {
  std::string path;
  const OpenOptions opts = open_options(wn::Args(info, "locate(path, options?)"), &path);
  return wn::run_async<ModelLocation>(info.Env(), [path, opts] { return locate_model(path, opts); },
                                      [](Napi::Env env, ModelLocation& loc) -> Napi::Value { return location(env, loc); });
}

Napi::Value locate_sync(const Napi::CallbackInfo& info) {
  std::string path;
  const OpenOptions opts = open_options(wn::Args(info, "locateSync(path, options?)"), &path);
  return location(info.Env(), wn::value_or_throw(info.Env(), locate_model(path, opts)));
}

Napi::Value parse_constants(const Napi::CallbackInfo& info) {
  const std::string text = wn::Args(info, "parseConstantsInfo(text)").string(0, "text");
  const auto list = wn::value_or_throw(info.Env(), parse_constants_info(text));
  auto a = Napi::Array::New(info.Env(), list.size());
  for (size_t i = 0; i < list.size(); ++i) a.Set(static_cast<uint32_t>(i), const_info(info.Env(), list[i], static_cast<uint32_t>(i)));
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
