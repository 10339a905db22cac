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
#include <memory>

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

/// What an Int32Array stores for Math.round(x): js_to_int32(js_round(x)),
/// without floor() or fmod() where the result needs no wrapping (a libm call
/// per value on x86-64's baseline instruction set; 3.5x slower measured).
inline int32_t js_round_to_int32(double x) {
  if (x > -2147483648.5 && x < 2147483647.5) {
    int64_t t = static_cast<int64_t>(x);  // toward zero; then floor
    if (static_cast<double>(t) > x) --t;
    return static_cast<int32_t>(x - static_cast<double>(t) >= 0.5 ? t + 1 : t);
  }
  return js_to_int32(js_round(x));
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

/// A little-endian uint16 at any alignment.
inline uint16_t load_u16le(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

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
    std::memcpy(dst + i, t + load_u16le(src + 2 * i), 4);
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
  for (int v = 0; v < 256; ++v) table[v] = js_round_to_int32(static_cast<double>(v) * scale + min);
  for (size_t i = 0; i < n; ++i) dst[i] = table[src[i]];
}

inline void uint16_to_float32(const uint8_t* src, size_t n, double scale, double min, float* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<double>(load_u16le(src + 2 * i)) * scale + min);
}

/// Tensors of 2^17 values and more go through a 65,536-entry table built per
/// tensor (its cost then stays under one arithmetic decode per value);
/// smaller ones decode by the formula.
inline void uint16_to_int32(const uint8_t* src, size_t n, double scale, double min, int32_t* dst) {
  constexpr size_t kTableFrom = size_t{1} << 17;
  if (n < kTableFrom) {
    for (size_t i = 0; i < n; ++i) dst[i] = js_round_to_int32(static_cast<double>(load_u16le(src + 2 * i)) * scale + min);
    return;
  }
  const std::unique_ptr<int32_t[]> table(new int32_t[65536]);
  for (uint32_t v = 0; v < 65536; ++v) table[v] = js_round_to_int32(static_cast<double>(v) * scale + min);
  for (size_t i = 0; i < n; ++i) dst[i] = table[load_u16le(src + 2 * i)];
}

}  // namespace weightkit::dequant
