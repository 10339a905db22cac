// weightkit/napi_helpers.hpp — what every weightkit addon shares at the
// Node-API boundary. Only the thin napi/ layers include this; cores never do.
//
//  * typed errors: JavaScript hands its WeightkitError class to the addon once
//    (setErrorClass); every failed Status becomes an instance of it, thrown as
//    a C++ exception that node-addon-api turns into a JavaScript one;
//  * arguments: Args and Fields read positional arguments and option objects
//    with their types and ranges checked, so a misuse is always WK_BAD_ARGUMENT
//    naming the argument, never a plain TypeError;
//  * long work off the JS thread: run_async(env, work, done) runs `work` on the
//    libuv pool (it never touches JS values there) and settles a Promise with
//    `done`'s value, or rejects with the WeightkitError of its Status;
//  * cancellation: a CancelFlag reads the Int32Array JavaScript sets when an
//    AbortSignal fires, from any thread;
//  * zero-copy views: external ArrayBuffers that keep their owner alive, with a
//    copy fallback where the runtime forbids external buffers (V8 sandbox);
//    a ViewRegistry detaches every view on close.
#pragma once

#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "weightkit/status.hpp"

namespace weightkit::napi {

/// Per-addon, per-environment state.
struct AddonData {
  Napi::FunctionReference error_class;
  // The largest ArrayBuffer this runtime can create (read from JS at load).
  uint64_t max_view_bytes = uint64_t{1} << 32;
  std::unordered_map<std::string, Napi::FunctionReference> classes;  // ObjectWrap constructors
};

inline AddonData& addon_data(Napi::Env env) {
  auto* d = env.GetInstanceData<AddonData>();
  if (!d) {
    d = new AddonData();
    env.SetInstanceData(d);
  }
  return *d;
}

/// Builds the JS error for a failed Status: `new WeightkitError(code, message)`.
inline Napi::Value make_error(Napi::Env env, const Status& s) {
  auto& cls = addon_data(env).error_class;
  if (!cls.IsEmpty()) {
    return cls.New({Napi::String::New(env, code_name(s.code())), Napi::String::New(env, s.message())});
  }
  auto err = Napi::Error::New(env, s.message());
  err.Set("code", Napi::String::New(env, code_name(s.code())));
  return err.Value();
}

/// Throws the WeightkitError for `s` (a C++ exception node-addon-api rethrows in JS).
[[noreturn]] inline void throw_status(Napi::Env env, const Status& s) { throw Napi::Error(env, make_error(env, s)); }

[[noreturn]] inline void throw_bad_argument(Napi::Env env, const std::string& message) {
  throw_status(env, Status(Code::kBadArgument, message));
}

/// The value of a Result, or its Status thrown.
template <typename T>
T value_or_throw(Napi::Env env, Result<T> r) {
  if (!r.is_ok()) throw_status(env, r.status());
  return std::move(r).value();
}

inline void ok_or_throw(Napi::Env env, const Status& s) {
  if (!s.is_ok()) throw_status(env, s);
}

/// setErrorClass(WeightkitError, maxViewBytes): called once at load.
inline Napi::Value set_error_class(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "setErrorClass expects a constructor");
  auto& data = addon_data(info.Env());
  data.error_class = Napi::Persistent(info[0].As<Napi::Function>());
  if (info.Length() > 1 && info[1].IsNumber()) {
    double limit = info[1].As<Napi::Number>().DoubleValue();
    if (limit >= 1) data.max_view_bytes = static_cast<uint64_t>(limit);
  }
  return info.Env().Undefined();
}

// ---- reading arguments ----

constexpr double kMaxSafeInteger = 9007199254740991.0;

namespace detail {

inline std::string describe_range(double min, double max) {
  auto fmt = [](double v) {
    if (v == kMaxSafeInteger) return std::string("2^53-1");
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.15g", v);
    return std::string(buf);
  };
  return "from " + fmt(min) + " to " + fmt(max);
}

}  // namespace detail

/// A number (an integer with `integer`) in [min, max]; WK_BAD_ARGUMENT naming `what` otherwise.
inline double checked_number(Napi::Env env, Napi::Value v, const std::string& what, double min, double max, bool integer) {
  if (!v.IsNumber()) throw_bad_argument(env, what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < min || d > max || (integer && d != std::floor(d))) {
    throw_bad_argument(env, what + " must be " + std::string(integer ? "an integer " : "a number ") + detail::describe_range(min, max) +
                                ", got " + v.ToString().Utf8Value());
  }
  return d;
}

/// Positional arguments of one call, each checked for type and range.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, std::string call) : info_(info), call_(std::move(call)) {}

  Napi::Env env() const { return info_.Env(); }
  /// True when argument i was given (and is not undefined).
  bool has(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined(); }
  Napi::Value raw(size_t i) const { return info_[i]; }

  std::string string(size_t i, const char* what) const {
    if (!info_[i].IsString()) fail(what, "a string");
    return info_[i].As<Napi::String>().Utf8Value();
  }
  /// A file path: a string without NUL characters (which no path can hold).
  std::string path(size_t i, const char* what) const {
    std::string s = string(i, what);
    if (s.find('\0') != std::string::npos) fail(what, "a path without NUL characters");
    return s;
  }
  double number(size_t i, const char* what, double min, double max) const {
    return checked_number(env(), info_[i], name(what), min, max, false);
  }
  uint64_t integer(size_t i, const char* what, double min = 0, double max = kMaxSafeInteger) const {
    return static_cast<uint64_t>(checked_number(env(), info_[i], name(what), min, max, true));
  }
  bool boolean(size_t i, const char* what) const {
    if (!info_[i].IsBoolean()) fail(what, "true or false");
    return info_[i].As<Napi::Boolean>().Value();
  }
  Napi::Object object(size_t i, const char* what) const {
    if (!info_[i].IsObject() || info_[i].IsArray() || info_[i].IsFunction()) fail(what, "an object");
    return info_[i].As<Napi::Object>();
  }
  Napi::Array array(size_t i, const char* what) const {
    if (!info_[i].IsArray()) fail(what, "an array");
    return info_[i].As<Napi::Array>();
  }
  Napi::TypedArray typed_array(size_t i, const char* what) const {
    if (!info_[i].IsTypedArray()) fail(what, "a typed array");
    return info_[i].As<Napi::TypedArray>();
  }

 private:
  std::string name(const char* what) const { return call_ + ": " + what; }
  [[noreturn]] void fail(const char* what, const char* expected) const { throw_bad_argument(env(), name(what) + " must be " + expected); }

  const Napi::CallbackInfo& info_;
  std::string call_;
};

/// The members of an options object, each checked for type and range; a
/// member that is absent (or undefined) takes the default.
class Fields {
 public:
  Fields(Napi::Env env, Napi::Object obj, std::string what) : env_(env), obj_(obj), what_(std::move(what)) {}

  bool has(const char* key) const { return obj_.Has(key) && !obj_.Get(key).IsUndefined(); }
  Napi::Value raw(const char* key) const { return obj_.Get(key); }

  std::string string(const char* key, const std::string& dflt = "") const {
    if (!has(key)) return dflt;
    Napi::Value v = obj_.Get(key);
    if (!v.IsString()) fail(key, "a string");
    return v.As<Napi::String>().Utf8Value();
  }
  /// A file path: a string without NUL characters (which no path can hold).
  std::string path(const char* key, const std::string& dflt = "") const {
    std::string s = string(key, dflt);
    if (s.find('\0') != std::string::npos) fail(key, "a path without NUL characters");
    return s;
  }
  std::string required_string(const char* key) const {
    if (!has(key)) throw_bad_argument(env_, name(key) + " is required");
    return string(key);
  }
  double number(const char* key, double dflt, double min, double max) const {
    if (!has(key)) return dflt;
    return checked_number(env_, obj_.Get(key), name(key), min, max, false);
  }
  uint64_t integer(const char* key, uint64_t dflt, double min = 0, double max = kMaxSafeInteger) const {
    if (!has(key)) return dflt;
    return static_cast<uint64_t>(checked_number(env_, obj_.Get(key), name(key), min, max, true));
  }
  /// A number or a bigint that fits in 64 bits.
  std::optional<uint64_t> u64(const char* key) const {
    if (!has(key)) return std::nullopt;
    Napi::Value v = obj_.Get(key);
    if (v.IsBigInt()) {
      bool lossless = false;
      uint64_t out = v.As<Napi::BigInt>().Uint64Value(&lossless);
      if (!lossless) fail(key, "a bigint from 0 to 2^64-1");
      return out;
    }
    return static_cast<uint64_t>(checked_number(env_, v, name(key), 0, kMaxSafeInteger, true));
  }
  bool boolean(const char* key, bool dflt) const {
    if (!has(key)) return dflt;
    Napi::Value v = obj_.Get(key);
    if (!v.IsBoolean()) fail(key, "true or false");
    return v.As<Napi::Boolean>().Value();
  }
  std::string one_of(const char* key, std::initializer_list<const char*> values, const char* dflt) const {
    std::string s = string(key, dflt);
    for (const char* v : values) {
      if (s == v) return s;
    }
    std::string list;
    for (const char* v : values) list += (list.empty() ? "" : ", ") + std::string(v);
    throw_bad_argument(env_, name(key) + " must be one of " + list + ", got '" + s + "'");
  }
  Napi::Object object(const char* key) const {
    Napi::Value v = obj_.Get(key);
    if (!v.IsObject() || v.IsArray()) fail(key, "an object");
    return v.As<Napi::Object>();
  }
  Napi::Array array(const char* key) const {
    Napi::Value v = obj_.Get(key);
    if (!v.IsArray()) fail(key, "an array");
    return v.As<Napi::Array>();
  }

 private:
  std::string name(const char* key) const { return what_ + "." + key; }
  [[noreturn]] void fail(const char* key, const char* expected) const { throw_bad_argument(env_, name(key) + " must be " + expected); }

  Napi::Env env_;
  Napi::Object obj_;
  std::string what_;
};

/// The elements of a JS array of objects, each read through Fields.
template <typename F>
void for_each_object(Napi::Env env, Napi::Array a, const std::string& what, F f) {
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value v = a.Get(i);
    if (!v.IsObject() || v.IsArray()) throw_bad_argument(env, what + "[" + std::to_string(i) + "] must be an object");
    f(Fields(env, v.As<Napi::Object>(), what + "[" + std::to_string(i) + "]"), i);
  }
}

/// Strings of a JS array; WK_BAD_ARGUMENT naming the first element that is not one.
inline std::vector<std::string> string_list(Napi::Env env, Napi::Array a, const std::string& what) {
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value v = a.Get(i);
    if (!v.IsString()) throw_bad_argument(env, what + "[" + std::to_string(i) + "] must be a string");
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

inline Napi::Array to_js(Napi::Env env, const std::vector<std::string>& list) {
  auto a = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); ++i) a.Set(static_cast<uint32_t>(i), list[i]);
  return a;
}

// ---- cancellation ----

/// The Int32Array (on a SharedArrayBuffer) that core's `cancelFlag(signal)`
/// sets to 1 when the AbortSignal fires; readable from a worker thread. The
/// buffer is kept alive by a reference created (and dropped) on the JS thread.
class CancelFlag {
 public:
  CancelFlag() = default;
  /// From an optional argument: undefined means "never cancelled".
  static CancelFlag from(Napi::Env env, Napi::Value v) {
    CancelFlag f;
    if (v.IsUndefined() || v.IsNull()) return f;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        v.As<Napi::TypedArray>().ElementLength() < 1) {
      throw_bad_argument(env, "the cancel flag must be an Int32Array from cancelFlag()");
    }
    auto ta = v.As<Napi::Int32Array>();
    f.word_ = ta.Data();
    f.keep_ = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(v));
    return f;
  }
  bool requested() const { return word_ && __atomic_load_n(word_, __ATOMIC_RELAXED) != 0; }
  /// The Status a cancelled operation returns; JavaScript replaces it with the signal's reason.
  static Status cancelled() { return Status(Code::kBadArgument, "the operation was aborted"); }

 private:
  const int32_t* word_ = nullptr;
  std::shared_ptr<Napi::Reference<Napi::Value>> keep_;  // released on the JS thread, by the worker's owner
};

// ---- long work off the JS thread ----

/// Runs `work` (returning Result<T>) on the libuv thread pool, then settles a
/// Promise with done(env, T&) on the JS thread, or rejects with the
/// WeightkitError for its Status. `work` must not touch JS values.
template <typename T>
class ResultWorker final : public Napi::AsyncWorker {
 public:
  using Work = std::function<Result<T>()>;
  using Done = std::function<Napi::Value(Napi::Env, T&)>;

  ResultWorker(Napi::Env env, Work work, Done done)
      : Napi::AsyncWorker(env, "weightkit"), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
        done_(std::move(done)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      auto r = work_();
      if (r.is_ok()) value_.emplace(std::move(r).value());
      else status_ = r.status();
    } catch (const std::bad_alloc&) {
      status_ = Status(Code::kBudget, "out of host memory");
    } catch (const std::exception& e) {
      status_ = Status(Code::kIo, std::string("internal error: ") + e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    work_ = nullptr;  // drops captured references (cancel flags) on the JS thread
    if (!value_) {
      deferred_.Reject(make_error(env, status_));
      return;
    }
    try {
      deferred_.Resolve(done_(env, *value_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  std::optional<T> value_;
  Status status_;
};

/// A value-less result for work that only succeeds or fails.
struct Done {};

template <typename T, typename W, typename D>
Napi::Promise run_async(Napi::Env env, W&& work, D&& done) {
  auto* w = new ResultWorker<T>(env, std::forward<W>(work), std::forward<D>(done));
  auto promise = w->promise();
  w->Queue();
  return promise;
}

/// Drops `owner` on the thread pool (its destructor may write to disk) and
/// resolves once it is gone. The JS thread never waits for a final save.
template <typename T>
Napi::Promise release_async(Napi::Env env, std::shared_ptr<T> owner) {
  auto holder = std::make_shared<std::shared_ptr<T>>(std::move(owner));
  return run_async<Done>(
      env, [holder]() -> Result<Done> { holder->reset(); return Done{}; },
      [](Napi::Env e, Done&) -> Napi::Value { return e.Undefined(); });
}

// ---- wrapped native objects ----

/// Creates an instance of the registered ObjectWrap class `cls` that owns
/// `object`. These classes accept nothing else, so JavaScript cannot construct
/// them directly.
template <typename T>
Napi::Value new_wrapped(Napi::Env env, const char* cls, std::shared_ptr<T> object) {
  auto* holder = new std::shared_ptr<T>(std::move(object));
  auto ext = Napi::External<std::shared_ptr<T>>::New(env, holder, [](Napi::Env, std::shared_ptr<T>* p) { delete p; });
  return addon_data(env).classes[cls].New({ext});
}

/// In an ObjectWrap constructor: the object new_wrapped passed; WK_BAD_ARGUMENT
/// naming `how_to_create` (the factory to call instead) otherwise.
template <typename T>
std::shared_ptr<T> take_wrapped(const Napi::CallbackInfo& info, const char* how_to_create) {
  if (info.Length() != 1 || !info[0].IsExternal()) throw_bad_argument(info.Env(), how_to_create);
  // Take the reference out of the External: it would otherwise live until GC.
  return std::move(*info[0].As<Napi::External<std::shared_ptr<T>>>().Data());
}

inline void register_class(Napi::Env env, const char* name, Napi::Function ctor) {
  addon_data(env).classes[name] = Napi::Persistent(ctor);
}

/// The first byte of a typed array's elements, whatever holds them: an
/// ArrayBuffer or a SharedArrayBuffer (ta.ArrayBuffer().Data() throws a bare
/// "Invalid argument" for the latter).
inline uint8_t* typed_bytes(const Napi::TypedArray& ta) {
  void* data = nullptr;
  if (napi_get_typedarray_info(ta.Env(), ta, nullptr, nullptr, &data, nullptr, nullptr) != napi_ok) {
    throw_bad_argument(ta.Env(), "cannot read the typed array's memory");
  }
  return static_cast<uint8_t*>(data);
}

// ---- zero-copy views ----

/// Whether the view had to be a copy (external buffers forbidden).
struct ViewResult {
  Napi::ArrayBuffer buffer;
  bool copied = false;
};

/// Zero-copy views of memory some `owner` keeps alive (a mapping, a cache),
/// and the rule that frees it: a view holds its owner only until the registry
/// detaches it (close) or V8 collects it, whichever comes first. V8 runs an
/// external buffer's finalizer only when the event loop goes idle, so an owner
/// held by the finalizer alone would outlive close() (one leaked mapping per
/// open/close cycle in a busy loop, until vm.max_map_count is reached).
class ViewRegistry {
 public:
  ViewRegistry() = default;
  ViewRegistry(const ViewRegistry&) = delete;
  ViewRegistry& operator=(const ViewRegistry&) = delete;

  /// A zero-copy ArrayBuffer over [data, data+len), registered for
  /// detach_all(); a copy where external buffers are not allowed. Throws
  /// WK_UNSUPPORTED past the runtime's size limit.
  ViewResult view(Napi::Env env, std::shared_ptr<const void> owner, const uint8_t* data, size_t len) {
    if (len == 0) return {Napi::ArrayBuffer::New(env, 0), false};
    if (len > addon_data(env).max_view_bytes) {
      throw_status(env, Status(Code::kUnsupported, "a view of " + std::to_string(len) + " bytes is larger than this JavaScript runtime allows (" +
                                                        std::to_string(addon_data(env).max_view_bytes) + "); use smaller tensors"));
    }
    auto hold = std::make_shared<Hold>(Hold{std::move(owner)});
    // The finalizer's copy of `hold` keeps the cell, not (after detach) the owner.
    auto* fin = new std::shared_ptr<Hold>(hold);
    napi_value value;
    napi_status st = napi_create_external_arraybuffer(
        env, const_cast<uint8_t*>(data), len, [](napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<Hold>*>(hint); }, fin,
        &value);
    if (st != napi_ok) {
      delete fin;
      // napi_no_external_buffers_allowed (Electron's memory cage) or any other refusal: copy.
      auto copy = Napi::ArrayBuffer::New(env, len);
      std::memcpy(copy.Data(), data, len);
      return {copy, true};
    }
    Napi::ArrayBuffer ab(env, value);
    if (entries_.size() >= prune_at_) prune();
    entries_.push_back({Napi::Weak(ab), std::move(hold)});
    return {ab, false};
  }

  /// Detaches every view still alive (JS then sees zero-length arrays instead
  /// of memory that is about to be unmapped) and drops every view's hold on
  /// its owner now, not when V8 gets round to the finalizers.
  void detach_all() {
    for (auto& e : entries_) {
      if (!e.ref.IsEmpty()) {
        Napi::ArrayBuffer ab = e.ref.Value();
        if (!ab.IsEmpty() && !ab.IsDetached()) ab.Detach();
      }
      e.hold->owner.reset();
    }
    entries_.clear();
  }

 private:
  struct Hold {
    std::shared_ptr<const void> owner;
  };
  struct Entry {
    Napi::Reference<Napi::ArrayBuffer> ref;
    std::shared_ptr<Hold> hold;
  };

  void prune() {
    std::vector<Entry> live;
    for (auto& e : entries_) {
      if (!e.ref.IsEmpty() && !e.ref.Value().IsEmpty()) live.push_back(std::move(e));
      else e.hold->owner.reset();  // collected: no JavaScript can reach its memory
    }
    entries_ = std::move(live);
    prune_at_ = std::max<size_t>(64, entries_.size() * 2);
  }
  std::vector<Entry> entries_;
  size_t prune_at_ = 64;
};

/// Plain data objects for JavaScript: o.Set for numbers without casts at every call.
inline void set_number(Napi::Object o, const char* key, double v) { o.Set(key, Napi::Number::New(o.Env(), v)); }

}  // namespace weightkit::napi
