// weightkit/xnnpack/packers.hpp — real packing routines the cache serves, in
// XNNPACK's blocked GEMM layout, each with a reference unpack for tests.
//
// A weight of shape [out, rest...] is packed as an [nc = out, kc = prod(rest)]
// matrix. Output channels are grouped in tiles of nr; each tile starts with
// its per-channel bias slots, followed by the weights in blocks of kr along K
// (shuffled by sr), zero-padded to full tiles. See docs/formats/xpwc.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "weightkit/status.hpp"

namespace weightkit::xnnpack {

enum class PackerKind : uint32_t { kF32Gemm = 1, kQc8w = 2 };

/// A packing routine and its parameters; (id, version) is its fingerprint.
struct Packer {
  PackerKind kind = PackerKind::kF32Gemm;
  uint32_t nr = 16, kr = 1, sr = 1;

  uint32_t id() const { return static_cast<uint32_t>(kind); }
  /// Bumped whenever the bytes a packer produces change.
  uint32_t version() const { return 1; }
  /// XNNPACK-style seed: mixes the shape and tile parameters.
  uint32_t seed(size_t nc, size_t kc) const;
  const char* name() const { return kind == PackerKind::kF32Gemm ? "f32-gemm" : "qc8w"; }
  /// Bytes of the packed form of an [nc, kc] weight.
  Result<size_t> packed_size(size_t nc, size_t kc) const;
  /// Checks nr/kr/sr (sr a power of two, nr >= sr, all in range).
  Status validate() const;
};

Result<Packer> packer_from_name(const std::string& name, uint32_t nr, uint32_t kr, uint32_t sr);

/// How the source matrix is laid out: [nc, kc] ("goi", PyTorch Linear/Conv
/// weights) or [kc, nc] ("gio", TensorFlow/TF.js kernels with outputs last).
enum class SourceLayout { kOutIn, kInOut };

/// Packs f32 weights and an optional bias [nc] into `out` (packed_size bytes).
void pack_f32_gemm(const Packer& p, size_t nc, size_t kc, const float* weights, const float* bias, void* out,
                   SourceLayout layout = SourceLayout::kOutIn);

/// Per-channel symmetric int8: scale[n] = max|w[n,:]| / 127, q = round(w / scale).
/// Tile layout: int32 ksum[nr] | int8 weights | f32 scale[nr] | f32 bias[nr].
void pack_qc8w(const Packer& p, size_t nc, size_t kc, const float* weights, const float* bias, void* out,
               SourceLayout layout = SourceLayout::kOutIn);

/// Dispatches on p.kind.
void pack(const Packer& p, size_t nc, size_t kc, const float* weights, const float* bias, void* out, SourceLayout layout);

/// Reference unpack of either layout back to [nc, kc] weights and [nc] bias
/// (qc8w: dequantized). Used by tests to prove the layout.
void unpack(const Packer& p, size_t nc, size_t kc, const void* packed, float* weights, float* bias);

}  // namespace weightkit::xnnpack
