// The packing routines. The loop order reads each source row once and writes
// the destination tile in order, so packing runs near memory bandwidth.
#include "weightkit/xnnpack/packers.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

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
    // The common case: out[k][n] = w(n, k). Walk the source in storage order.
    if (layout == SourceLayout::kOutIn) {
      for (size_t n = 0; n < nsize; ++n) {
        const float* row = w + (n0 + n) * kc;
        T* dst = out + n;
        for (size_t k = 0; k < kc; ++k) dst[k * p.nr] = convert(row[k], n0 + n);
      }
    } else {
      for (size_t k = 0; k < kc; ++k) {
        const float* row = w + k * nc + n0;
        T* dst = out + k * p.nr;
        for (size_t n = 0; n < nsize; ++n) dst[n] = convert(row[n], n0 + n);
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

void pack_f32_gemm(const Packer& p, size_t nc, size_t kc, const float* weights, const float* bias, void* out, SourceLayout layout) {
  const size_t kpad = round_up(kc, size_t{p.sr} * p.kr);
  auto* dst = static_cast<float*>(out);
  for (size_t n0 = 0; n0 < nc; n0 += p.nr) {
    const size_t nsize = std::min<size_t>(p.nr, nc - n0);
    std::memset(dst, 0, sizeof(float) * p.nr * (1 + kpad));  // zero padding of partial tiles and K
    for (size_t n = 0; n < nsize; ++n) dst[n] = bias ? bias[n0 + n] : 0.0f;
    pack_blocked<float>(p, n0, nsize, nc, kc, weights, layout, dst + p.nr, [](float v, size_t) { return v; });
    dst += p.nr * (1 + kpad);
  }
}

void pack_qc8w(const Packer& p, size_t nc, size_t kc, const float* weights, const float* bias, void* out, SourceLayout layout) {
  const size_t kpad = round_up(kc, size_t{p.sr} * p.kr);
  std::vector<float> inv(nc);
  std::vector<float> scale(nc, 0.0f);
  for (size_t i = 0; i < nc * kc; ++i) {
    const size_t n = layout == SourceLayout::kOutIn ? i / kc : i % nc;
    scale[n] = std::max(scale[n], std::fabs(weights[i]));
  }
  for (size_t n = 0; n < nc; ++n) {
    scale[n] = scale[n] > 0 ? scale[n] / 127.0f : 1.0f;
    inv[n] = 1.0f / scale[n];
  }
  auto* dst = static_cast<uint8_t*>(out);
  const size_t tile_bytes = p.nr * sizeof(int32_t) + p.nr * kpad + p.nr * 2 * sizeof(float);
  for (size_t n0 = 0; n0 < nc; n0 += p.nr) {
    const size_t nsize = std::min<size_t>(p.nr, nc - n0);
    std::memset(dst, 0, tile_bytes);
    auto* q = reinterpret_cast<int8_t*>(dst + p.nr * sizeof(int32_t));
    pack_blocked<int8_t>(p, n0, nsize, nc, kc, weights, layout, q, [&](float v, size_t n) {
      return static_cast<int8_t>(std::clamp(std::lround(v * inv[n]), -127L, 127L));
    });
    // ksum per channel, for kernels that correct for the input zero point.
    for (size_t n = 0; n < nsize; ++n) {
      int32_t sum = 0;
      for (size_t kb = 0; kb < kpad; kb += p.kr) {
        for (size_t lane = 0; lane < p.kr; ++lane) sum += q[(kb / p.kr) * p.nr * p.kr + n * p.kr + lane];
      }
      std::memcpy(dst + n * sizeof(int32_t), &sum, sizeof sum);
    }
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
