// Conversions between JavaScript values and the offload core's types; every
// reader checks types and ranges (WK_BAD_ARGUMENT naming the field).
#pragma once

#include <napi.h>

#include <vector>

#include "weightkit/offload/session.hpp"

namespace weightkit::offload::js {

std::vector<Weight> weights(Napi::Env env, Napi::Value v);
Schedule schedule(Napi::Env env, Napi::Value v, size_t weights);
/// create()'s options object, everything but the device choice's probing.
SessionSpec session_spec(Napi::Env env, Napi::Value v);

Napi::Object to_js(Napi::Env env, const SessionReport& r);
Napi::Object to_js(Napi::Env env, const Acquired& a, const std::string& name);

}  // namespace weightkit::offload::js
