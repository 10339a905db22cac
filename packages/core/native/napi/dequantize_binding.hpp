// The core addon's dequantize bindings.
#pragma once

#include <napi.h>

namespace weightkit::core_addon {

Napi::Value dequantize(const Napi::CallbackInfo& info);
Napi::Value prefault_for_write(const Napi::CallbackInfo& info);

}  // namespace weightkit::core_addon
