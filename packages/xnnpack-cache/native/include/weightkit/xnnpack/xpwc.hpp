// weightkit/xnnpack/xpwc.hpp — the XPWC cache-file format (ExecuTorch's
// packed-weights cache), byte-compatible, plus weightkit's integrity
// extension stored where an ExecuTorch reader ignores it.
//
//   [packed regions, each at a page-aligned offset]
//   [integrity record]            (weightkit only; referenced by a reserved entry)
//   [index entries] x entry_count v2: name_len u32 | name | offset u64 | size u64 | seed u32
//   [footer, 20 bytes]            index_start u64 | entry_count u32 | magic u32 | version u32
//
// Full specification: docs/formats/xpwc.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weightkit/byte_source.hpp"
#include "weightkit/status.hpp"

namespace weightkit::xpwc {

constexpr uint32_t kMagic = 0x58505743;  // bytes 43 57 50 58
constexpr uint32_t kVersion = 2;
constexpr size_t kFooterSize = 20;
/// The reserved entry naming the integrity record. ExecuTorch loads it as an
/// entry no weight+bias name can ever look up.
constexpr const char* kIntegrityEntryName = "__weightkit_integrity_v1__";
constexpr uint32_t kIntegrityMagic = 0x31494b57;  // "WKI1"

/// One entry of the index.
struct IndexEntry {
  std::string name;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t seed = 0;
};

/// What weightkit records per entry beyond ExecuTorch's fields.
struct EntryIntegrity {
  uint64_t checksum = 0;       // XXH64 of the packed bytes
  uint32_t packer_id = 0;      // which packing routine (0 = unknown)
  uint32_t packer_version = 0;
  uint64_t input_hash = 0;     // content hash of the unpacked inputs (0 = not recorded)
};

/// A validated trailer.
struct Trailer {
  uint32_t version = kVersion;
  uint64_t index_start = 0;
  uint64_t end = 0;                          // byte after the footer
  std::vector<IndexEntry> entries;           // the integrity entry removed
  std::optional<std::vector<EntryIntegrity>> integrity;  // parallel to `entries` when present
  uint64_t integrity_offset = 0, integrity_size = 0;
};

/// Parses the trailer whose footer ends at `end`, with ExecuTorch's checks
/// (magic, version, index inside the file, every entry before the index) plus
/// weightkit's: index fully consumed, names unique, integrity record valid.
Result<Trailer> parse_trailer_at(const ByteSource& src, uint64_t end);

/// The newest valid trailer: the one ending at EOF, else (after a crash left
/// partial data behind it) the last one found scanning backwards.
struct Found {
  std::optional<Trailer> trailer;
  bool recovered = false;   // the trailer was not at EOF
};
Result<Found> find_last_trailer(const ByteSource& src);

/// Serializes [integrity][index][footer] for writing at `start`.
std::string serialize_trailer(const std::vector<IndexEntry>& entries, const std::vector<EntryIntegrity>& integrity,
                              uint64_t start);

}  // namespace weightkit::xpwc
