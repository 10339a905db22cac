// @weightkit/core addon: read-only file mappings behind the NamedDataMaps.
// A thin layer: argument checks, a worker for the open, and views handed to JS.
#include <napi.h>

#include <memory>
#include <string>

#include "weightkit/mapped_file.hpp"
#include "weightkit/napi_helpers.hpp"

namespace {

using weightkit::Advice;
using weightkit::Code;
using weightkit::MappedFile;
using weightkit::Status;
namespace wn = weightkit::napi;

bool read_u64(Napi::Env env, Napi::Object opts, const char* key, uint64_t* out) {
  if (!opts.Has(key)) return true;
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined()) return true;
  if (!wn::require(env, v.IsNumber(), std::string(key) + " must be a number")) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!wn::require(env, d >= 0 && d <= 9007199254740991.0 && d == static_cast<double>(static_cast<uint64_t>(d)),
                   std::string(key) + " must be a non-negative integer")) {
    return false;
  }
  *out = static_cast<uint64_t>(d);
  return true;
}

bool parse_options(const Napi::CallbackInfo& info, std::string* path, MappedFile::Options* opts) {
  Napi::Env env = info.Env();
  if (!wn::require(env, info.Length() >= 1 && info[0].IsString(), "path must be a string")) return false;
  *path = info[0].As<Napi::String>().Utf8Value();
  if (info.Length() < 2 || info[1].IsUndefined()) return true;
  if (!wn::require(env, info[1].IsObject(), "options must be an object")) return false;
  auto o = info[1].As<Napi::Object>();
  if (!read_u64(env, o, "offset", &opts->offset) || !read_u64(env, o, "length", &opts->length)) return false;
  if (o.Has("populate")) opts->populate = o.Get("populate").ToBoolean();
  return true;
}

/// JS object owning one MappedFile. close() detaches every view and drops the
/// mapping; a view that escaped then reads as an empty (detached) ArrayBuffer.
class Mapping : public Napi::ObjectWrap<Mapping> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Mapping",
                       {InstanceMethod<&Mapping::view>("view"), InstanceMethod<&Mapping::advise>("advise"),
                        InstanceMethod<&Mapping::share>("share"),
                        InstanceMethod<&Mapping::close>("close"), InstanceAccessor<&Mapping::size>("size"),
                        InstanceAccessor<&Mapping::file_size>("fileSize"), InstanceAccessor<&Mapping::path>("path"),
                        InstanceAccessor<&Mapping::closed>("closed"),
                        InstanceAccessor<&Mapping::copied_bytes>("copiedBytes")});
  }

  static Napi::Value wrap(Napi::Env env, std::shared_ptr<MappedFile> file) {
    return wn::new_wrapped(env, "Mapping", std::move(file));
  }

  explicit Mapping(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<Mapping>(info),
        file_(wn::take_wrapped<MappedFile>(info, "Mapping cannot be constructed directly; use openMapping")) {}

 private:
  bool check_open(Napi::Env env) {
    if (file_) return true;
    wn::throw_status(env, Status(Code::kClosed, "the mapping was closed; reopen the file"));
    return false;
  }

  // view(offset, length): zero-copy ArrayBuffer over bytes of the mapping.
  Napi::Value view(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!check_open(env)) return env.Undefined();
    if (!wn::require(env, info.Length() >= 2 && info[0].IsNumber() && info[1].IsNumber(),
                     "view(offset, length) expects two numbers")) {
      return env.Undefined();
    }
    double off = info[0].As<Napi::Number>().DoubleValue();
    double len = info[1].As<Napi::Number>().DoubleValue();
    const double size = static_cast<double>(file_->size());
    if (!wn::require(env, off >= 0 && len >= 0 && off == static_cast<double>(static_cast<uint64_t>(off)) &&
                              len == static_cast<double>(static_cast<uint64_t>(len)) && off <= size && len <= size - off,
                     "view [" + std::to_string(off) + ", +" + std::to_string(len) + ") is outside the mapping of " +
                         std::to_string(file_->size()) + " bytes")) {
      return env.Undefined();
    }
    auto r = wn::external_view(env, file_, file_->data() + static_cast<size_t>(off), static_cast<size_t>(len));
    if (env.IsExceptionPending()) return env.Undefined();
    if (r.copied) copied_ += static_cast<uint64_t>(len);
    else views_.add(r.buffer);
    return r.buffer;
  }

  Napi::Value advise(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!check_open(env)) return env.Undefined();
    if (!wn::require(env, info.Length() >= 1 && info[0].IsString(), "advise(kind, offset?, length?) expects a kind")) {
      return env.Undefined();
    }
    std::string kind = info[0].As<Napi::String>().Utf8Value();
    Advice a;
    if (kind == "normal") a = Advice::kNormal;
    else if (kind == "sequential") a = Advice::kSequential;
    else if (kind == "random") a = Advice::kRandom;
    else if (kind == "willneed") a = Advice::kWillNeed;
    else if (kind == "dontneed") a = Advice::kDontNeed;
    else {
      wn::require(env, false, "advice must be one of normal, sequential, random, willneed, dontneed; got '" + kind + "'");
      return env.Undefined();
    }
    size_t off = info.Length() > 1 && info[1].IsNumber() ? static_cast<size_t>(info[1].As<Napi::Number>().Int64Value()) : 0;
    size_t len = info.Length() > 2 && info[2].IsNumber() ? static_cast<size_t>(info[2].As<Napi::Number>().Int64Value()) : SIZE_MAX;
    file_->region().advise(a, off, len);
    return env.Undefined();
  }

  // share(): another handle on the same mapping, with its own views, so two
  // owners can close independently.
  Napi::Value share(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!check_open(env)) return env.Undefined();
    return wrap(env, file_);
  }

  Napi::Value close(const Napi::CallbackInfo& info) {
    views_.detach_all();
    file_.reset();
    return info.Env().Undefined();
  }

  Napi::Value size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), file_ ? static_cast<double>(file_->size()) : 0);
  }
  Napi::Value file_size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), file_ ? static_cast<double>(file_->file_size()) : 0);
  }
  Napi::Value path(const Napi::CallbackInfo& info) {
    return file_ ? Napi::String::New(info.Env(), file_->path()) : info.Env().Undefined();
  }
  Napi::Value closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !file_); }
  Napi::Value copied_bytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(copied_));
  }

  std::shared_ptr<MappedFile> file_;
  wn::ViewRegistry views_;
  uint64_t copied_ = 0;
};

Napi::Value open_mapping(const Napi::CallbackInfo& info) {
  std::string path;
  MappedFile::Options opts;
  if (!parse_options(info, &path, &opts)) return info.Env().Undefined();
  auto result = std::make_shared<std::shared_ptr<MappedFile>>();
  return wn::PromiseWorker::start(
      info.Env(),
      [path, opts, result]() {
        auto r = MappedFile::open_read(path, opts);
        if (!r.is_ok()) return r.status();
        *result = r.value();
        return Status::ok();
      },
      [result](Napi::Env env) { return Mapping::wrap(env, *result); });
}

Napi::Value open_mapping_sync(const Napi::CallbackInfo& info) {
  std::string path;
  MappedFile::Options opts;
  if (!parse_options(info, &path, &opts)) return info.Env().Undefined();
  auto r = MappedFile::open_read(path, opts);
  if (!r.is_ok()) {
    wn::throw_status(info.Env(), r.status());
    return info.Env().Undefined();
  }
  return Mapping::wrap(info.Env(), r.value());
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  wn::addon_data(env).classes["Mapping"] = Napi::Persistent(Mapping::define(env));
  exports.Set("setErrorClass", Napi::Function::New(env, wn::set_error_class));
  exports.Set("openMapping", Napi::Function::New(env, open_mapping));
  exports.Set("openMappingSync", Napi::Function::New(env, open_mapping_sync));
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(weightkit::page_size())));
  return exports;
}

}  // namespace

NODE_API_MODULE(weightkit_core, init)
