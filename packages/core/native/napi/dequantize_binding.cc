// dequantize(kind, src, dst, scale, min): TensorFlow.js quantized weights
// decoded into a caller's array by weightkit/dequantize.hpp. Synchronous: the
// work is one pass over memory the caller already holds, like tfjs's own.
// prefaultForWrite(array): a fresh output's pages faulted in before decoding
// (platform::prefault_for_write).
#include "dequantize_binding.hpp"

#include "weightkit/dequantize.hpp"
#include "weightkit/napi_helpers.hpp"
#include "weightkit/platform.hpp"

namespace wn = weightkit::napi;
namespace dq = weightkit::dequant;

namespace weightkit::core_addon {

Napi::Value dequantize(const Napi::CallbackInfo& info) {
  wn::Args args(info, "dequantize(kind, src, dst, scale, min)");
  const std::string kind = args.string(0, "kind");
  const Napi::TypedArray src = args.typed_array(1, "src");
  const Napi::TypedArray dst = args.typed_array(2, "dst");
  const double scale = args.number(3, "scale", -1.7976931348623157e308, 1.7976931348623157e308);
  const double min = args.number(4, "min", -1.7976931348623157e308, 1.7976931348623157e308);
  const size_t item = kind == "uint8" ? 1 : (kind == "uint16" || kind == "float16") ? 2 : 0;
  if (item == 0) wn::throw_bad_argument(info.Env(), "dequantize: kind must be uint8, uint16 or float16, got '" + kind + "'");
  if (src.TypedArrayType() != napi_uint8_array) wn::throw_bad_argument(info.Env(), "dequantize: src must be a Uint8Array");
  const bool to_int = dst.TypedArrayType() == napi_int32_array;
  if (!to_int && dst.TypedArrayType() != napi_float32_array) wn::throw_bad_argument(info.Env(), "dequantize: dst must be a Float32Array or an Int32Array");
  if (to_int && kind == "float16") wn::throw_bad_argument(info.Env(), "dequantize: float16 decodes to float32 only");
  const size_t n = dst.ElementLength();
  if (src.ByteLength() != n * item) {
    wn::throw_bad_argument(info.Env(), "dequantize: src holds " + std::to_string(src.ByteLength()) + " bytes, " + std::to_string(n) + " " +
                                           kind + " values need " + std::to_string(n * item));
  }
  const auto* in = wn::typed_bytes(src);
  uint8_t* out = wn::typed_bytes(dst);
  if (kind == "float16") dq::float16_to_float32(in, n, reinterpret_cast<float*>(out));
  else if (kind == "uint8" && to_int) dq::uint8_to_int32(in, n, scale, min, reinterpret_cast<int32_t*>(out));
  else if (kind == "uint8") dq::uint8_to_float32(in, n, scale, min, reinterpret_cast<float*>(out));
  else if (to_int) dq::uint16_to_int32(in, n, scale, min, reinterpret_cast<int32_t*>(out));
  else dq::uint16_to_float32(in, n, scale, min, reinterpret_cast<float*>(out));
  return info.Env().Undefined();
}

Napi::Value prefault_for_write(const Napi::CallbackInfo& info) {
  wn::Args args(info, "prefaultForWrite(array)");
  const Napi::TypedArray array = args.typed_array(0, "array");
  // Best effort by design: what took effect is seen in smaps (bench tfjs), not needed here.
  (void)platform::prefault_for_write(wn::typed_bytes(array), array.ByteLength());
  return info.Env().Undefined();
}

}  // namespace weightkit::core_addon
