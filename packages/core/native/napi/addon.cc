// @weightkit/core addon: read-only file mappings behind the NamedDataMaps.
// A thin layer: arguments checked, the open run off the JS thread, views handed out.
#include <napi.h>

#include <memory>
#include <string>

#include "dequantize_binding.hpp"
#include "weightkit/mapped_file.hpp"
#include "weightkit/napi_helpers.hpp"
#include "weightkit/path_lock.hpp"
#include "weightkit/platform.hpp"
#include "weightkit/zip.hpp"

namespace {

using weightkit::Advice;
using weightkit::Code;
using weightkit::MappedFile;
using weightkit::Status;
namespace wn = weightkit::napi;

MappedFile::Options map_options(const wn::Args& args, std::string* path) {
  *path = args.path(0, "path");
  MappedFile::Options opts;
  if (!args.has(1)) return opts;
  wn::Fields f(args.env(), args.object(1, "options"), "options");
  opts.offset = f.integer("offset", 0);
  if (f.has("length")) opts.length = f.integer("length", 0);
  opts.populate = f.boolean("populate", false);
  return opts;
}

Advice advice_of(const std::string& kind) {
  if (kind == "sequential") return Advice::kSequential;
  if (kind == "random") return Advice::kRandom;
  if (kind == "willneed") return Advice::kWillNeed;
  if (kind == "dontneed") return Advice::kDontNeed;
  return Advice::kNormal;
}

/// JS object owning one MappedFile. close() detaches every view and drops the
/// mapping; a view that escaped then reads as an empty (detached) ArrayBuffer.
class Mapping : public Napi::ObjectWrap<Mapping> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Mapping",
                       {InstanceMethod<&Mapping::view>("view"), InstanceMethod<&Mapping::advise>("advise"),
                        InstanceMethod<&Mapping::share>("share"), InstanceMethod<&Mapping::close>("close"),
                        InstanceAccessor<&Mapping::size>("size"), InstanceAccessor<&Mapping::file_size>("fileSize"),
                        InstanceAccessor<&Mapping::path>("path"), InstanceAccessor<&Mapping::closed>("closed"),
                        InstanceAccessor<&Mapping::file_id>("fileId"),
                        InstanceAccessor<&Mapping::copied_bytes>("copiedBytes")});
  }

  static Napi::Value wrap(Napi::Env env, std::shared_ptr<MappedFile> file) { return wn::new_wrapped(env, "Mapping", std::move(file)); }

  explicit Mapping(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<Mapping>(info), file_(wn::take_wrapped<MappedFile>(info, "Mapping cannot be constructed directly; use openMapping")) {}

 private:
  MappedFile& live(Napi::Env env) {
    if (!file_) wn::throw_status(env, Status(Code::kClosed, "the mapping was closed; reopen the file"));
    return *file_;
  }

  // view(offset, length): zero-copy ArrayBuffer over bytes of the mapping.
  Napi::Value view(const Napi::CallbackInfo& info) {
    wn::Args args(info, "view(offset, length)");
    MappedFile& f = live(info.Env());
    const uint64_t off = args.integer(0, "offset", 0, static_cast<double>(f.size()));
    const uint64_t len = args.integer(1, "length", 0, static_cast<double>(f.size() - off));
    auto r = views_.view(info.Env(), file_, f.data() + off, static_cast<size_t>(len));
    if (r.copied) copied_ += len;
    return r.buffer;
  }

  Napi::Value advise(const Napi::CallbackInfo& info) {
    wn::Args args(info, "advise(kind, offset?, length?)");
    MappedFile& f = live(info.Env());
    const std::string kind = args.string(0, "kind");
    if (kind != "normal" && kind != "sequential" && kind != "random" && kind != "willneed" && kind != "dontneed") {
      wn::throw_bad_argument(info.Env(), "advice must be one of normal, sequential, random, willneed, dontneed; got '" + kind + "'");
    }
    const uint64_t off = args.has(1) ? args.integer(1, "offset", 0, static_cast<double>(f.size())) : 0;
    const uint64_t len = args.has(2) ? args.integer(2, "length", 0, static_cast<double>(f.size())) : f.size();
    f.region().advise(advice_of(kind), static_cast<size_t>(off), static_cast<size_t>(len));
    return info.Env().Undefined();
  }

  // share(): another handle on the same mapping, with its own views, so two
  // owners can close independently.
  Napi::Value share(const Napi::CallbackInfo& info) {
    live(info.Env());
    return wrap(info.Env(), file_);
  }

  Napi::Value close(const Napi::CallbackInfo& info) {
    views_.detach_all();
    file_.reset();
    return info.Env().Undefined();
  }

  Napi::Value size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), file_ ? static_cast<double>(file_->size()) : 0); }
  Napi::Value file_size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), file_ ? static_cast<double>(file_->file_size()) : 0);
  }
  Napi::Value path(const Napi::CallbackInfo& info) { return file_ ? Napi::String::New(info.Env(), file_->path()) : info.Env().Undefined(); }
  Napi::Value closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !file_); }
  // The file as it was mapped, as an opaque token another addon can check a file against.
  Napi::Value file_id(const Napi::CallbackInfo& info) {
    return file_ ? Napi::String::New(info.Env(), weightkit::to_token(file_->identity())) : info.Env().Undefined();
  }
  Napi::Value copied_bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(copied_)); }

  std::shared_ptr<MappedFile> file_;
  wn::ViewRegistry views_;
  uint64_t copied_ = 0;
};

Napi::Value open_mapping(const Napi::CallbackInfo& info) {
  std::string path;
  const MappedFile::Options opts = map_options(wn::Args(info, "openMapping(path, options?)"), &path);
  return wn::run_async<std::shared_ptr<MappedFile>>(
      info.Env(), [path, opts] { return MappedFile::open_read(path, opts); },
      [](Napi::Env env, std::shared_ptr<MappedFile>& f) { return Mapping::wrap(env, f); });
}

Napi::Value open_mapping_sync(const Napi::CallbackInfo& info) {
  std::string path;
  const MappedFile::Options opts = map_options(wn::Args(info, "openMappingSync(path, options?)"), &path);
  return Mapping::wrap(info.Env(), wn::value_or_throw(info.Env(), MappedFile::open_read(path, opts)));
}

/// JS object holding one PathLock until release() (or until it is collected).
class Lock : public Napi::ObjectWrap<Lock> {
 public:
  static Napi::Function define(Napi::Env env) { return DefineClass(env, "Lock", {InstanceMethod<&Lock::release>("release")}); }
  explicit Lock(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<Lock>(info), lock_(wn::take_wrapped<weightkit::PathLock>(info, "use lockPath() to take a lock")) {}

 private:
  Napi::Value release(const Napi::CallbackInfo& info) {
    lock_.reset();
    return info.Env().Undefined();
  }
  std::shared_ptr<weightkit::PathLock> lock_;
};

// lockPath(lockFile, what): an exclusive writer's lock, or WK_LOCKED at once.
Napi::Value lock_path(const Napi::CallbackInfo& info) {
  wn::Args args(info, "lockPath(lockFile, what)");
  const std::string file = args.path(0, "lockFile");
  const std::string what = args.string(1, "what");
  auto lock = wn::value_or_throw(info.Env(), weightkit::PathLock::try_acquire(file, what));
  return wn::new_wrapped(info.Env(), "Lock", std::make_shared<weightkit::PathLock>(std::move(lock)));
}

// exchangePaths(a, b): renameat2(RENAME_EXCHANGE); both names must exist.
Napi::Value exchange_paths(const Napi::CallbackInfo& info) {
  wn::Args args(info, "exchangePaths(a, b)");
  const std::string a = args.path(0, "a");
  const std::string b = args.path(1, "b");
  if (weightkit::platform::exchange_paths(a.c_str(), b.c_str()) != 0) {
    wn::throw_status(info.Env(), weightkit::errno_status(errno, "exchange '" + a + "' with", b));
  }
  return info.Env().Undefined();
}

// zipDirectory(path): where every member of a zip lies (validated, never
// extracted): [{name, dataOffset, size, stored}], and the file's identity.
Napi::Value zip_directory(const Napi::CallbackInfo& info) {
  const std::string path = wn::Args(info, "zipDirectory(path)").path(0, "path");
  auto src = wn::value_or_throw(info.Env(), weightkit::FileSource::open(path));
  auto dir = wn::value_or_throw(info.Env(), weightkit::read_zip_directory(src));
  Napi::Env env = info.Env();
  auto list = Napi::Array::New(env, dir.members.size());
  for (size_t i = 0; i < dir.members.size(); ++i) {
    const weightkit::ZipMember& m = dir.members[i];
    auto o = Napi::Object::New(env);
    o.Set("name", m.name);
    wn::set_number(o, "dataOffset", static_cast<double>(m.data_offset));
    wn::set_number(o, "size", static_cast<double>(m.uncompressed_size));
    o.Set("stored", Napi::Boolean::New(env, m.method == 0 && m.compressed_size == m.uncompressed_size));
    list.Set(static_cast<uint32_t>(i), o);
  }
  auto out = Napi::Object::New(env);
  out.Set("members", list);
  wn::set_number(out, "fileSize", static_cast<double>(src.size()));
  return out;
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  wn::register_class(env, "Mapping", Mapping::define(env));
  wn::register_class(env, "Lock", Lock::define(env));
  exports.Set("lockPath", Napi::Function::New(env, lock_path));
  exports.Set("exchangePaths", Napi::Function::New(env, exchange_paths));
  exports.Set("zipDirectory", Napi::Function::New(env, zip_directory));
  exports.Set("setErrorClass", Napi::Function::New(env, wn::set_error_class));
  exports.Set("openMapping", Napi::Function::New(env, open_mapping));
  exports.Set("openMappingSync", Napi::Function::New(env, open_mapping_sync));
  exports.Set("dequantize", Napi::Function::New(env, weightkit::core_addon::dequantize));
  exports.Set("prefaultForWrite", Napi::Function::New(env, weightkit::core_addon::prefault_for_write));
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(weightkit::page_size())));
  return exports;
}

}  // namespace

NODE_API_MODULE(weightkit_core, init)
