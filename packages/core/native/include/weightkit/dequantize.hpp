// weightkit/dequantize.hpp — TensorFlow.js's weight quantizations decoded
// exactly as tfjs-core's loader decodes them, at native speed:
//   uint8 / uint16 affine: float32(double(q) * scale + min), int32 by
//     JavaScript's Math.round (halves toward +infinity) then ToInt32 (what an
//     Int32Array stores: wrapped modulo 2^32, NaN and infinities 0);
//   float16: the half-to-float table tfjs-core builds (fox-toolkit), NaN
//     sign and payload kept.
// The double arithmetic must not be contracted into a fused multiply-add
// (the result would round differently): built with -ffp-contract=off.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace weightkit::dequant {

/// Math.round of a double, as JavaScript defines it.
inline double js_round(double x) {
  const double r = std::floor(x);
  return x - r >= 0.5 ? r + 1 : r;
}

/// What storing a double into an Int32Array gives (ECMAScript ToInt32): NaN
/// and infinities are 0, everything else is truncated and wrapped modulo 2^32.
/// (A plain static_cast is undefined behaviour outside the int32 range.)
inline int32_t js_to_int32(double x) {
  if (!std::isfinite(x)) return 0;
  double m = std::fmod(std::trunc(x), 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return static_cast<int32_t>(static_cast<uint32_t>(m));
}

/// float32 bits of a float16 bit pattern (tfjs-core's table, computed per value).
inline uint32_t half_bits(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0) return sign;
    uint32_t m = mant << 13;
    uint32_t e = 0x38800000u;
    while ((m & 0x00800000u) == 0) {
      e -= 0x00800000u;
      m <<= 1;
    }
    return sign + ((m & ~0x00800000u) + e);
  }
  if (exp == 0x1f) return sign + 0x7f800000u + (mant << 13);
  return sign + (((exp + 112u) << 23) + (mant << 13));
}

/// float32 bits of every float16 bit pattern, built once.
inline const uint32_t* half_table() {
  static const uint32_t* table = [] {
    static uint32_t t[65536];
    for (uint32_t h = 0; h < 65536; ++h) t[h] = half_bits(static_cast<uint16_t>(h));
    return t;
  }();
  return table;
}

/// `n` little-endian float16 values at `src` (any alignment) to float32.
inline void float16_to_float32(const uint8_t* src, size_t n, float* dst) {
  const uint32_t* t = half_table();
  for (size_t i = 0; i < n; ++i) {
    const uint16_t h = static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8));
    std::memcpy(dst + i, t + h, 4);
  }
}

/// uint8 affine to float32: a 256-entry table per tensor, the same values as the formula.
inline void uint8_to_float32(const uint8_t* src, size_t n, double scale, double min, float* dst) {
  float table[256];
  for (int v = 0; v < 256; ++v) table[v] = static_cast<float>(static_cast<double>(v) * scale + min);
  for (size_t i = 0; i < n; ++i) dst[i] = table[src[i]];
}

inline void uint8_to_int32(const uint8_t* src, size_t n, double scale, double min, int32_t* dst) {
  int32_t table[256];
  for (int v = 0; v < 256; ++v) table[v] = js_to_int32(js_round(static_cast<double>(v) * scale + min));
  for (size_t i = 0; i < n; ++i) dst[i] = table[src[i]];
}

inline void uint16_to_float32(const uint8_t* src, size_t n, double scale, double min, float* dst) {
  for (size_t i = 0; i < n; ++i) {
    const uint16_t q = static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8));
    dst[i] = static_cast<float>(static_cast<double>(q) * scale + min);
  }
}

inline void uint16_to_int32(const uint8_t* src, size_t n, double scale, double min, int32_t* dst) {
  for (size_t i = 0; i < n; ++i) {
    const uint16_t q = static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8));
    dst[i] = js_to_int32(js_round(static_cast<double>(q) * scale + min));
  }
}

}  // namespace weightkit::dequant
