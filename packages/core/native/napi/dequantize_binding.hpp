// The core addon's dequantize binding.
#pragma once

#include <napi.h>

namespace weightkit::core_addon {

Napi::Value dequantize(const Napi::CallbackInfo& info);

}  // namespace weightkit::core_addon
