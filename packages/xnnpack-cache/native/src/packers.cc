// The packing routines. The loop order reads each source row once and writes
// the destination tile in order, so packing runs near memory bandwidth.
#include "weightkit/xnnpack/packers.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

namespace weightkit::xnnpack {
namespace {

size_t round_up(size_t v, size_t q) { return (v + q - 1) / q * q; }

/// Index in K of the element placed at (k block start kb, lane within kr,
/// channel n of the tile) — XNNPACK's sr shuffle; identity when sr == 1.
inline size_t k_index(size_t kb, size_t lane, size_t n, size_t kr, size_t skr) {
  return (kb / skr) * skr + ((kb + lane + n * kr) & (skr - 1));
}

/// Element (n, k) of the source, whichever way it is stored.
inline float at(const float* w, size_t nc, size_t kc, size_t n, size_t k, SourceLayout layout) {
  return layout == SourceLayout::kOutIn ? w[n * kc + k] : w[k * nc + n];
}

template <typename T, typename Convert>
void pack_blocked(const Packer& p, size_t n0, size_t nsize, size_t nc, size_t kc, const float* w, SourceLayout layout,
                  T* out, Convert convert) {
  const size_t skr = size_t{p.sr} * p.kr;
  const size_t kpad = round_up(kc, skr);
  if (p.kr == 1 && p.sr == 1) {
    // The common case, out[k][n] = w(n, k): a transpose, done in blocks of K
    // so the destination block stays in L1 while every source row streams in.
    constexpr size_t kBlock = 64;
    for (size_t k0 = 0; k0 < kc; k0 += kBlock) {
      const size_t kend = std::min(kc, k0 + kBlock);
      if (layout == SourceLayout::kOutIn) {
        for (size_t n = 0; n < nsize; ++n) {
          const float* row = w + (n0 + n) * kc;
          T* dst = out + n;
          for (size_t k = k0; k < kend; ++k) dst[k * p.nr] = convert(row[k], n0 + n);
        }
      } else {
        for (size_t k = k0; k < kend; ++k) {
          const float* row = w + k * nc + n0;
          T* dst = out + k * p.nr;
          for (size_t n = 0; n < nsize; ++n) dst[n] = convert(row[n], n0 + n);
        }
      }
    }
    return;
  }
  for (size_t kb = 0; kb < kpad; kb += p.kr) {
    T* block = out + (kb / p.kr) * p.nr * p.kr;
    for (size_t n = 0; n < nsize; ++n) {
      for (size_t lane = 0; lane < p.kr; ++lane) {
        size_t k = k_index(kb, lane, n, p.kr, skr);
        if (k < kc) block[n * p.kr + lane] = convert(at(w, nc, kc, n0 + n, k, layout), n0 + n);
      }
    }
  }
}

}  // namespace

uint32_t Packer::seed(size_t nc, size_t kc) const {
  uint32_t s = 0x9e3779b9u ^ id();
  for (uint64_t v : {uint64_t(nc), uint64_t(kc), uint64_t(nr), uint64_t(kr), uint64_t(sr), uint64_t(version())}) {
    s ^= static_cast<uint32_t>(v) + 0x9e3779b9u + (s << 6) + (s >> 2);
  }
  return s;
}

Status Packer::validate() const {
  if (nr == 0 || nr > 256 || kr == 0 || kr > 64 || sr == 0 || sr > 64 || (sr & (sr - 1)) != 0 || (kr & (kr - 1)) != 0 || nr < sr) {
    return Status(Code::kBadArgument, "packer parameters must satisfy 1 <= nr <= 256, kr and sr powers of two up to 64, nr >= sr");
  }
  return Status::ok();
}

Result<size_t> Packer::packed_size(size_t nc, size_t kc) const {
  Status st = validate();
  if (!st.is_ok()) return st;
  if (nc == 0 || kc == 0) return Status(Code::kBadArgument, "a packed weight needs nc > 0 and kc > 0");
  const size_t tiles = (nc + nr - 1) / nr;
  const size_t kpad = round_up(kc, size_t{sr} * kr);
  if (kpad > (SIZE_MAX / 8) / nr / tiles) return Status(Code::kBadArgument, "weight is too large to pack");
  if (kind == PackerKind::kF32Gemm) return tiles * nr * (1 + kpad) * sizeof(float);
  return tiles * (nr * sizeof(int32_t) + nr * kpad + nr * 2 * sizeof(float));
}

Result<Packer> packer_from_name(const std::string& name, uint32_t nr, uint32_t kr, uint32_t sr) {
  Packer p;
  if (name == "f32-gemm") p.kind = PackerKind::kF32Gemm;
  else if (name == "qc8w") p.kind = PackerKind::kQc8w;
  else return Status(Code::kBadArgument, "unknown packer '" + name + "' (known: f32-gemm, qc8w)");
  p.nr = nr;
  p.kr = kr;
  p.sr = sr;
  Status st = p.validate();
  if (!st.is_ok()) return st;
  return p;
}

void pack(const Packer& p, size_t nc, size_t kc, const float* weights, const float* bias, void* out, SourceLayout layout) {
  if (p.kind == PackerKind::kF32Gemm) pack_f32_gemm(p, nc, kc, weights, bias, out, layout);
  else pack_qc8w(p, nc, kc, weights, bias, out, layout);
}

namespace {

/// out[k * nr + n] = w[(n0 + n) * kc + k] for a full tile, 4x4 blocks at a time.
bool transpose_tile_sse(const Packer& p, size_t n0, size_t nsize, size_t kc, const float* w, float* out) {
#if defined(__SSE2__)
  if (p.kr != 1 || p.sr != 1 || nsize % 4 != 0 || p.nr % 4 != 0) return false;
  size_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    for (size_t n = 0; n < nsize; n += 4) {
      const float* r = w + (n0 + n) * kc + k;
      __m128 a = _mm_loadu_ps(r), b = _mm_loadu_ps(r + kc), c = _mm_loadu_ps(r + 2 * kc), d = _mm_loadu_ps(r + 3 * kc);
      _MM_TRANSPOSE4_PS(a, b, c, d);
      float* o = out + k * p.nr + n;
      _mm_storeu_ps(o, a);
      _mm_storeu_ps(o + p.nr, b);
      _mm_storeu_ps(o + 2 * p.nr, c);
      _mm_storeu_ps(o + 3 * p.nr, d);
    }
  }
  for (; k < kc; ++k) {
    for (size_t n = 0; n < nsize; ++n) out[k * p.nr + n] = w[(n0 + n) * kc + k];
  }
  return true;
#else
  (void)p; (void)n0; (void)nsize; (void)kc; (void)w; (void)out;
  return false;
#endif
}

#if defined(__SSE2__)
/// Transposes 16 rows of 16 bytes in place (row i becomes column i), by
/// interleaving ever wider lanes: bytes, then pairs, quads and octets.
void transpose16x16(__m128i r[16]) {
  __m128i a[16], b[16], c[16];
  for (int i = 0; i < 8; ++i) {  // a[i]: rows 2i, 2i+1 interleaved, columns 0..7; a[i+8]: columns 8..15
    a[i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
    a[i + 8] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {    // column half
    for (int i = 0; i < 4; ++i) {  // b[8h + 2i + q]: rows 4i..4i+3, columns 8h + 4q .. +3
      b[8 * h + i] = _mm_unpacklo_epi16(a[8 * h + 2 * i], a[8 * h + 2 * i + 1]);
      b[8 * h + i + 4] = _mm_unpackhi_epi16(a[8 * h + 2 * i], a[8 * h + 2 * i + 1]);
    }
  }
  for (int g = 0; g < 4; ++g) {    // column quad g: b[4g + i] holds rows 4i..4i+3
    for (int i = 0; i < 2; ++i) {  // c[4g + 2i]: rows 8i..8i+7, columns 4g, 4g+1; c[4g + 2i + 1]: columns 4g+2, 4g+3
      c[4 * g + 2 * i] = _mm_unpacklo_epi32(b[4 * g + 2 * i], b[4 * g + 2 * i + 1]);
      c[4 * g + 2 * i + 1] = _mm_unpackhi_epi32(b[4 * g + 2 * i], b[4 * g + 2 * i + 1]);
    }
  }
  for (int g = 0; g < 4; ++g) {
    r[4 * g] = _mm_unpacklo_epi64(c[4 * g], c[4 * g + 2]);
    r[4 * g + 1] = _mm_unpackhi_epi64(c[4 * g], c[4 * g + 2]);
    r[4 * g + 2] = _mm_unpacklo_epi64(c[4 * g + 1], c[4 * g + 3]);
    r[4 * g + 3] = _mm_unpackhi_epi64(c[4 * g + 1], c[4 * g + 3]);
  }
}
#endif

/// Quantizes one row of k values with 1/scale `inv` into int8; returns their sum.
int32_t quantize_row(const float* row, size_t k, float inv, int8_t* q) {
  int32_t sum = 0;
  size_t i = 0;
#if defined(__SSE2__)
  const __m128 vinv = _mm_set1_ps(inv);
  __m128i vsum = _mm_setzero_si128();
  for (; i + 16 <= k; i += 16) {
    // cvtps rounds to nearest even; |x| <= 127 so the saturating packs never clip.
    __m128i a = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(row + i), vinv));
    __m128i b = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(row + i + 4), vinv));
    __m128i c = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(row + i + 8), vinv));
    __m128i d = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(row + i + 12), vinv));
    vsum = _mm_add_epi32(vsum, _mm_add_epi32(_mm_add_epi32(a, b), _mm_add_epi32(c, d)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm_packs_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d)));
  }
  alignas(16) int32_t lanes[4];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), vsum);
  sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
#endif
  for (; i < k; ++i) {
    const int32_t x = std::clamp(static_cast<int32_t>(std::lrintf(row[i] * inv)), -127, 127);
    q[i] = static_cast<int8_t>(x);
    sum += x;
  }
  return sum;
}
}  // namespace

void pack_f32_gemm(const Packer& p, size_t nc, size_t kc, const float* weights, const float* bias, void* out, SourceLayout layout) {
  const size_t kpad = round_up(kc, size_t{p.sr} * p.kr);
  auto* dst = static_cast<float*>(out);
  for (size_t n0 = 0; n0 < nc; n0 += p.nr) {
    const size_t nsize = std::min<size_t>(p.nr, nc - n0);
    if (nsize < p.nr || kpad != kc || p.kr != 1 || p.sr != 1) {
      std::memset(dst, 0, sizeof(float) * p.nr * (1 + kpad));  // padding of partial tiles and K blocks
    }
    for (size_t n = 0; n < nsize; ++n) dst[n] = bias ? bias[n0 + n] : 0.0f;
    if (layout != SourceLayout::kOutIn || !transpose_tile_sse(p, n0, nsize, kc, weights, dst + p.nr)) {
      pack_blocked<float>(p, n0, nsize, nc, kc, weights, layout, dst + p.nr, [](float v, size_t) { return v; });
    }
    dst += p.nr * (1 + kpad);
  }
}

void pack_qc8w(const Packer& p, size_t nc, size_t kc, const float* weights, const float* bias, void* out, SourceLayout layout) {
  const size_t kpad = round_up(kc, size_t{p.sr} * p.kr);
  std::vector<float> inv(nc);
  std::vector<float> scale(nc, 0.0f);
  if (layout == SourceLayout::kOutIn) {
    for (size_t n = 0; n < nc; ++n) {
      float m = 0;
      const float* row = weights + n * kc;
      size_t k = 0;
#if defined(__SSE2__)
      const __m128 abs_mask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
      __m128 vm = _mm_setzero_ps();
      for (; k + 4 <= kc; k += 4) vm = _mm_max_ps(vm, _mm_and_ps(_mm_loadu_ps(row + k), abs_mask));
      alignas(16) float lanes[4];
      _mm_store_ps(lanes, vm);
      m = std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
#endif
      for (; k < kc; ++k) m = std::max(m, std::fabs(row[k]));
      scale[n] = m;
    }
  } else {
    for (size_t k = 0; k < kc; ++k) {
      const float* row = weights + k * nc;
      for (size_t n = 0; n < nc; ++n) scale[n] = std::max(scale[n], std::fabs(row[n]));
    }
  }
  for (size_t n = 0; n < nc; ++n) {
    scale[n] = scale[n] > 0 ? scale[n] / 127.0f : 1.0f;
    inv[n] = 1.0f / scale[n];
  }
  auto* dst = static_cast<uint8_t*>(out);
  std::vector<int8_t> row_q(kc), block_q;
  const size_t tile_bytes = p.nr * sizeof(int32_t) + p.nr * kpad + p.nr * 2 * sizeof(float);
  for (size_t n0 = 0; n0 < nc; n0 += p.nr) {
    const size_t nsize = std::min<size_t>(p.nr, nc - n0);
    if (nsize < p.nr || kpad != kc || p.kr != 1 || p.sr != 1) std::memset(dst, 0, tile_bytes);
    auto* q = reinterpret_cast<int8_t*>(dst + p.nr * sizeof(int32_t));
    int32_t ksum[256] = {};
#if defined(__SSE2__)
    if (layout == SourceLayout::kOutIn && p.kr == 1 && p.sr == 1 && p.nr == 16 && nsize == 16) {
      // Quantize 16 rows into a [16, kc] block, then transpose it 16x16 bytes at a time.
      block_q.resize(16 * kc);
      for (size_t n = 0; n < 16; ++n) ksum[n] = quantize_row(weights + (n0 + n) * kc, kc, inv[n0 + n], block_q.data() + n * kc);
      size_t k = 0;
      for (; k + 16 <= kc; k += 16) {
        __m128i r[16];
        for (int n = 0; n < 16; ++n) r[n] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block_q.data() + n * kc + k));
        transpose16x16(r);
        for (int i = 0; i < 16; ++i) _mm_storeu_si128(reinterpret_cast<__m128i*>(q + (k + i) * 16), r[i]);
      }
      for (; k < kc; ++k) {
        for (size_t n = 0; n < 16; ++n) q[k * 16 + n] = block_q[n * kc + k];
      }
    } else
#endif
    if (layout == SourceLayout::kOutIn && p.kr == 1 && p.sr == 1) {
      // Quantize each row (vectorized), then scatter it into the tile.
      for (size_t n = 0; n < nsize; ++n) {
        ksum[n] = quantize_row(weights + (n0 + n) * kc, kc, inv[n0 + n], row_q.data());
        for (size_t k = 0; k < kc; ++k) q[k * p.nr + n] = row_q[k];
      }
    } else {
      pack_blocked<int8_t>(p, n0, nsize, nc, kc, weights, layout, q, [&](float v, size_t n) {
        const int32_t x = std::clamp(static_cast<int32_t>(std::lrintf(v * inv[n])), -127, 127);
        ksum[n - n0] += x;
        return static_cast<int8_t>(x);
      });
    }
    // ksum per channel, for kernels that correct for the input zero point.
    std::memcpy(dst, ksum, nsize * sizeof(int32_t));
    uint8_t* tail = dst + p.nr * sizeof(int32_t) + p.nr * kpad;
    for (size_t n = 0; n < nsize; ++n) {
      float b = bias ? bias[n0 + n] : 0.0f;
      std::memcpy(tail + n * sizeof(float), &scale[n0 + n], sizeof(float));
      std::memcpy(tail + (p.nr + n) * sizeof(float), &b, sizeof(float));
    }
    dst += tile_bytes;
  }
}

void unpack(const Packer& p, size_t nc, size_t kc, const void* packed, float* weights, float* bias) {
  const size_t skr = size_t{p.sr} * p.kr;
  const size_t kpad = round_up(kc, skr);
  const auto* src = static_cast<const uint8_t*>(packed);
  for (size_t n0 = 0; n0 < nc; n0 += p.nr) {
    const size_t nsize = std::min<size_t>(p.nr, nc - n0);
    const uint8_t* wbase;
    float scale[256], b[256];
    size_t elem;
    if (p.kind == PackerKind::kF32Gemm) {
      std::memcpy(b, src, nsize * sizeof(float));
      for (size_t n = 0; n < nsize; ++n) scale[n] = 1.0f;
      wbase = src + p.nr * sizeof(float);
      elem = sizeof(float);
      src += p.nr * (1 + kpad) * sizeof(float);
    } else {
      wbase = src + p.nr * sizeof(int32_t);
      const uint8_t* tail = wbase + p.nr * kpad;
      std::memcpy(scale, tail, nsize * sizeof(float));
      std::memcpy(b, tail + p.nr * sizeof(float), nsize * sizeof(float));
      elem = 1;
      src = tail + p.nr * 2 * sizeof(float);
    }
    for (size_t kb = 0; kb < kpad; kb += p.kr) {
      for (size_t n = 0; n < nsize; ++n) {
        for (size_t lane = 0; lane < p.kr; ++lane) {
          size_t k = k_index(kb, lane, n, p.kr, skr);
          if (k >= kc) continue;
          const uint8_t* at = wbase + ((kb / p.kr) * p.nr * p.kr + n * p.kr + lane) * elem;
          float v;
          if (elem == sizeof(float)) std::memcpy(&v, at, sizeof v);
          else v = static_cast<float>(static_cast<int8_t>(*at)) * scale[n];
          weights[(n0 + n) * kc + k] = v;
        }
      }
    }
    if (bias) std::memcpy(bias + n0, b, nsize * sizeof(float));
  }
}

}  // namespace weightkit::xnnpack
