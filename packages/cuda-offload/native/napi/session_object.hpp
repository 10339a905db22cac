// The JavaScript object over one OffloadSession. runPasses runs on the thread
// pool; while it runs, stats() answers from the last finished pass and every
// other call throws WK_BUSY at once: the event loop never waits.
#pragma once

#include <napi.h>

#include <memory>

#include "weightkit/offload/session.hpp"

namespace weightkit::offload::js {

class SessionObject : public Napi::ObjectWrap<SessionObject> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Value wrap(Napi::Env env, std::shared_ptr<OffloadSession> session);
  explicit SessionObject(const Napi::CallbackInfo& info);

 private:
  OffloadSession& live(Napi::Env env);

  Napi::Value acquire(const Napi::CallbackInfo& info);
  Napi::Value acquire_next(const Napi::CallbackInfo& info);
  Napi::Value release(const Napi::CallbackInfo& info);
  Napi::Value compute(const Napi::CallbackInfo& info);
  Napi::Value run_passes(const Napi::CallbackInfo& info);
  Napi::Value stats(const Napi::CallbackInfo& info);
  Napi::Value read_back(const Napi::CallbackInfo& info);
  Napi::Value busy(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);
  Napi::Value device(const Napi::CallbackInfo& info);

  std::shared_ptr<OffloadSession> session_;
  // Set by close() while a run is in flight: the run stops after its pass.
  std::shared_ptr<std::atomic<bool>> closing_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace weightkit::offload::js
