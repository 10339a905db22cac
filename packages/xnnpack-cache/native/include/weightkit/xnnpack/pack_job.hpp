// A batch of weights to look up or pack, prepared on the JS thread and run on
// a worker: sources are file ranges (mapped read-only by the worker itself)
// or bytes copied at submission, so nothing a JS caller closes or transfers
// can disappear under the packer.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weightkit/mapped_file.hpp"
#include "weightkit/xnnpack/cache.hpp"
#include "weightkit/xnnpack/packers.hpp"

namespace weightkit::xnnpack {

enum class SourceDtype { kF32, kF16, kBF16 };

struct TensorSource {
  std::string path;            // a file range...
  uint64_t offset = 0, length = 0;
  std::optional<FileIdentity> identity;  // the file as the caller opened it: a replaced or rewritten file is refused
  std::vector<uint8_t> bytes;  // ...or bytes of our own
  SourceDtype dtype = SourceDtype::kF32;
  bool from_file() const { return !path.empty(); }
};

struct PackItem {
  std::string name;  // entry name: weight name + bias name
  size_t nc = 0, kc = 0;
  SourceLayout layout = SourceLayout::kOutIn;
  TensorSource weight;
  std::optional<TensorSource> bias;
};

struct PackResult {
  uint64_t packed = 0, hits = 0, packed_bytes = 0;
};

/// The cache key of an item (without an input hash).
EntryKey item_key(const Packer& packer, const std::string& name, size_t nc, size_t kc);

/// Looks every item up and packs the misses; the key carries the packer's
/// fingerprint and, with hash_inputs, a content hash of the unpacked bytes.
/// `cancelled` is polled between items.
Result<PackResult> run_pack_job(PackedWeightsCache& cache, const Packer& packer, const std::vector<PackItem>& items, bool hash_inputs,
                                const std::function<bool()>& cancelled = nullptr);

}  // namespace weightkit::xnnpack
