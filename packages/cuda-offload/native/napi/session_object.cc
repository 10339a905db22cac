#include "session_object.hpp"

#include <cstring>

#include "convert.hpp"
#include "weightkit/napi_helpers.hpp"

namespace weightkit::offload::js {
namespace wn = weightkit::napi;

Napi::Function SessionObject::define(Napi::Env env) {
  return DefineClass(env, "OffloadRuntime",
                     {InstanceMethod<&SessionObject::acquire>("acquire"), InstanceMethod<&SessionObject::acquire_next>("acquireNext"),
                      InstanceMethod<&SessionObject::release>("release"), InstanceMethod<&SessionObject::compute>("compute"),
                      InstanceMethod<&SessionObject::run_passes>("runPasses"), InstanceMethod<&SessionObject::stats>("stats"),
                      InstanceMethod<&SessionObject::read_back>("readBack"), InstanceMethod<&SessionObject::busy>("busy"),
                      InstanceMethod<&SessionObject::close>("close"), InstanceAccessor<&SessionObject::device>("device")});
}

Napi::Value SessionObject::wrap(Napi::Env env, std::shared_ptr<OffloadSession> session) {
  return wn::new_wrapped(env, "Offload", std::move(session));
}

SessionObject::SessionObject(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<SessionObject>(info), session_(wn::take_wrapped<OffloadSession>(info, "use create() to make an offload runtime")) {}

OffloadSession& SessionObject::live(Napi::Env env) {
  if (!session_) wn::throw_status(env, Status(Code::kClosed, "the offload runtime was closed; create a new one"));
  return *session_;
}

Napi::Value SessionObject::acquire(const Napi::CallbackInfo& info) {
  OffloadSession& s = live(info.Env());
  const uint64_t probe = wn::Args(info, "acquire(probeId)").integer(0, "probeId", 0, static_cast<double>(s.probe_count()) - 1);
  const Acquired a = wn::value_or_throw(info.Env(), s.acquire(probe));
  return to_js(info.Env(), a, s.names()[a.weight]);
}

Napi::Value SessionObject::acquire_next(const Napi::CallbackInfo& info) {
  OffloadSession& s = live(info.Env());
  const Acquired a = wn::value_or_throw(info.Env(), s.acquire_next(wn::Args(info, "acquireNext(name)").string(0, "name")));
  return to_js(info.Env(), a, s.names()[a.weight]);
}

Napi::Value SessionObject::release(const Napi::CallbackInfo& info) {
  OffloadSession& s = live(info.Env());
  wn::ok_or_throw(info.Env(), s.release(wn::Args(info, "release(probeId)").integer(0, "probeId", 0, static_cast<double>(s.probe_count()) - 1)));
  return info.Env().Undefined();
}

Napi::Value SessionObject::compute(const Napi::CallbackInfo& info) {
  OffloadSession& s = live(info.Env());
  const auto step = static_cast<uint32_t>(wn::Args(info, "compute(step)").integer(0, "step", 0, static_cast<double>(s.step_count()) - 1));
  wn::ok_or_throw(info.Env(), s.compute(step));
  return info.Env().Undefined();
}

// runPasses(passes, cancel?): claims the session here, on the JS thread, so a
// second call (or a sync one) sees it busy before the worker even starts.
Napi::Value SessionObject::run_passes(const Napi::CallbackInfo& info) {
  wn::Args args(info, "runPasses(passes)");
  OffloadSession& s = live(info.Env());
  const uint64_t passes = args.integer(0, "passes", 1, 1e9);
  const wn::CancelFlag cancel = wn::CancelFlag::from(info.Env(), info[1]);
  wn::ok_or_throw(info.Env(), s.begin_run());
  auto session = session_;
  auto closing = closing_;
  return wn::run_async<wn::Done>(
      info.Env(),
      [session, closing, passes, cancel]() -> Result<wn::Done> {
        Status st = session->run_passes(passes, [&] { return closing->load() || cancel.requested(); });
        session->end_run();
        // Stopped by close(): say so, as every call on a closed runtime does.
        if (!st.is_ok() && closing->load()) return Status(Code::kClosed, "the offload runtime was closed while passes ran; create a new one");
        if (!st.is_ok()) return st;
        return wn::Done{};
      },
      [](Napi::Env e, wn::Done&) { return e.Undefined(); });
}

Napi::Value SessionObject::stats(const Napi::CallbackInfo& info) { return to_js(info.Env(), live(info.Env()).report()); }

Napi::Value SessionObject::read_back(const Napi::CallbackInfo& info) {
  OffloadSession& s = live(info.Env());
  const auto w = static_cast<uint32_t>(wn::Args(info, "readBack(weight)").integer(0, "weight", 0, static_cast<double>(s.names().size()) - 1));
  const auto bytes = wn::value_or_throw(info.Env(), s.read_back(w));
  auto out = Napi::Uint8Array::New(info.Env(), bytes.size());
  std::memcpy(out.Data(), bytes.data(), bytes.size());
  return out;
}

Napi::Value SessionObject::busy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), session_ && session_->busy()); }

// close(): a run in flight stops after its current pass and the session is
// freed when that run lets go of it; the device memory goes with it.
Napi::Value SessionObject::close(const Napi::CallbackInfo& info) {
  closing_->store(true);
  auto released = wn::release_async(info.Env(), std::move(session_));
  session_.reset();
  return released;
}

Napi::Value SessionObject::device(const Napi::CallbackInfo& info) {
  return session_ ? Napi::String::New(info.Env(), session_->report().device_kind) : info.Env().Undefined();
}

}  // namespace weightkit::offload::js
