// weightkit/napi_helpers.hpp — what every weightkit addon shares at the
// Node-API boundary. Only the thin napi/ layers include this; cores never do.
//
//  * typed errors: JavaScript hands its WeightkitError class to the addon once
//    (setErrorClass); every failed Status becomes an instance of it;
//  * zero-copy views: external ArrayBuffers that keep their owner alive, with a
//    copy fallback where the runtime forbids external buffers (V8 sandbox);
//  * views never outlive a close(): a ViewRegistry detaches every live view;
//  * long work off the JS thread: PromiseWorker runs a job on the libuv pool
//    and never touches JS values there.
#pragma once

#include <napi.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "weightkit/status.hpp"

namespace weightkit::napi {

/// Per-addon, per-environment state.
struct AddonData {
  Napi::FunctionReference error_class;
  // The largest ArrayBuffer this runtime can create (Node 20: 4 GiB; larger
  // external buffers crash V8 instead of failing), set from JS at load.
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

/// Stores the JS error class and the runtime's view limit; called once at load
/// as setErrorClass(WeightkitError, maxViewBytes).
inline Napi::Value set_error_class(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(info.Env(), "setErrorClass expects a constructor").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto& data = addon_data(info.Env());
  data.error_class = Napi::Persistent(info[0].As<Napi::Function>());
  if (info.Length() > 1 && info[1].IsNumber()) {
    double limit = info[1].As<Napi::Number>().DoubleValue();
    if (limit >= 1) data.max_view_bytes = static_cast<uint64_t>(limit);
  }
  return info.Env().Undefined();
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

inline void throw_status(Napi::Env env, const Status& s) {
  Napi::Error(env, make_error(env, s)).ThrowAsJavaScriptException();
}

/// Creates an instance of the registered ObjectWrap class `cls` that owns
/// `object`. These classes accept nothing else, so JavaScript cannot construct
/// them directly.
template <typename T>
Napi::Value new_wrapped(Napi::Env env, const char* cls, std::shared_ptr<T> object) {
  auto* holder = new std::shared_ptr<T>(std::move(object));
  auto ext = Napi::External<std::shared_ptr<T>>::New(env, holder, [](Napi::Env, std::shared_ptr<T>* p) { delete p; });
  return addon_data(env).classes[cls].New({ext});
}

/// In an ObjectWrap constructor: the object new_wrapped passed, or null after
/// throwing WK_BAD_ARGUMENT with `how_to_create` (the factory to call instead).
template <typename T>
std::shared_ptr<T> take_wrapped(const Napi::CallbackInfo& info, const char* how_to_create) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw_status(info.Env(), Status(Code::kBadArgument, how_to_create));
    return nullptr;
  }
  // Take the reference out of the External: it would otherwise live until GC.
  return std::move(*info[0].As<Napi::External<std::shared_ptr<T>>>().Data());
}

/// Throws WK_BAD_ARGUMENT and returns false when `ok` is false.
inline bool require(Napi::Env env, bool ok, const std::string& message) {
  if (!ok) throw_status(env, Status(Code::kBadArgument, message));
  return ok;
}

/// Weak references to every view handed out, so close() can detach them.
class ViewRegistry {
 public:
  void add(Napi::ArrayBuffer ab) {
    if (refs_.size() >= prune_at_) prune();
    refs_.push_back(Napi::Weak(ab));
  }
  /// Detaches every view still alive: JS then sees zero-length arrays instead
  /// of memory that is about to be unmapped.
  void detach_all() {
    for (auto& r : refs_) {
      if (r.IsEmpty()) continue;
      Napi::ArrayBuffer ab = r.Value();
      if (!ab.IsEmpty() && !ab.IsDetached()) ab.Detach();
    }
    refs_.clear();
  }
  size_t size() const { return refs_.size(); }

 private:
  void prune() {
    std::vector<Napi::Reference<Napi::ArrayBuffer>> live;
    for (auto& r : refs_) {
      if (!r.IsEmpty() && !r.Value().IsEmpty()) live.push_back(std::move(r));
    }
    refs_ = std::move(live);
    prune_at_ = std::max<size_t>(64, refs_.size() * 2);
  }
  std::vector<Napi::Reference<Napi::ArrayBuffer>> refs_;
  size_t prune_at_ = 64;
};

/// Whether the last view creation had to copy (external buffers forbidden).
struct ViewResult {
  Napi::ArrayBuffer buffer;
  bool copied = false;
};

/// A zero-copy ArrayBuffer over [data, data+len) that keeps `owner` alive until
/// V8 releases it; a copy where external buffers are not allowed. Throws
/// WK_UNSUPPORTED (and returns an empty buffer) past the runtime's size limit.
inline ViewResult external_view(Napi::Env env, std::shared_ptr<const void> owner, const uint8_t* data, size_t len) {
  if (len == 0) return {Napi::ArrayBuffer::New(env, 0), false};
  if (len > addon_data(env).max_view_bytes) {
    throw_status(env, Status(Code::kUnsupported, "a view of " + std::to_string(len) + " bytes is larger than this JavaScript runtime allows (" +
                                                      std::to_string(addon_data(env).max_view_bytes) + "); use Node.js >= 22 or smaller tensors"));
    return {Napi::ArrayBuffer::New(env, 0), false};
  }
  auto* keep = new std::shared_ptr<const void>(std::move(owner));
  napi_value value;
  napi_status st = napi_create_external_arraybuffer(
      env, const_cast<uint8_t*>(data), len,
      [](napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<const void>*>(hint); }, keep, &value);
  if (st == napi_ok) return {Napi::ArrayBuffer(env, value), false};
  delete keep;
  // napi_no_external_buffers_allowed (Electron's memory cage) or any other refusal: copy.
  auto copy = Napi::ArrayBuffer::New(env, len);
  std::memcpy(copy.Data(), data, len);
  return {copy, true};
}

/// Runs `work` on the libuv thread pool and settles a Promise with `done()`'s
/// value, or rejects with the WeightkitError for the Status `work` returned.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<Status()>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  static Napi::Promise start(Napi::Env env, Work work, Done done) {
    auto* w = new PromiseWorker(env, std::move(work), std::move(done));
    auto promise = w->deferred_.Promise();
    w->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      status_ = work_();
    } catch (const std::bad_alloc&) {
      status_ = Status(Code::kBudget, "out of host memory");
    } catch (const std::exception& e) {
      status_ = Status(Code::kIo, std::string("internal error: ") + e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.is_ok()) {
      deferred_.Reject(make_error(env, status_));
      return;
    }
    Napi::Value v = done_ ? done_(env) : env.Undefined();
    if (env.IsExceptionPending()) {
      deferred_.Reject(env.GetAndClearPendingException().Value());
    } else {
      deferred_.Resolve(v);
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  PromiseWorker(Napi::Env env, Work work, Done done)
      : Napi::AsyncWorker(env, "weightkit"), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), done_(std::move(done)) {}

  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  Status status_;
};

}  // namespace weightkit::napi
