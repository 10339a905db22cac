// weightkit/xnnpack/entry.hpp — what names a cache entry and where its bytes
// are: the two types the cache's API and its entry table share, on their own
// so the table needs nothing else of the public cache header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace weightkit::xnnpack {

/// What a look-up matches an entry by.
struct EntryKey {
  std::string name;            // weight name + bias name
  uint32_t seed = 0;
  uint32_t packer_id = 0;      // the packer's fingerprint (XNNPACK's fingerprint_id); 0: none given
  uint32_t packer_version = 0;
  uint64_t input_hash = 0;     // 0: not checked
  bool transient = false;      // never written to the file (e.g. keyed by raw pointers)
};

/// Where an entry's bytes are; `token` is the opaque offset handed to XNNPACK
/// (an id, never an address).
struct EntryView {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  uint64_t token = 0;
  bool file_backed = false;
  bool loaded = false;         // mapped from a previous save (read-only)
  std::shared_ptr<void> keep;  // owns the bytes: hold it for as long as `data` is read
  const uint8_t* base = nullptr;  // the whole block `keep` owns (a mapping or heap block)
  uint64_t base_size = 0;
};

}  // namespace weightkit::xnnpack
