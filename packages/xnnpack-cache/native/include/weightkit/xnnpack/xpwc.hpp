// weightkit/xnnpack/xpwc.hpp — the XPWC cache-file format (ExecuTorch's
// packed-weights cache), byte-compatible, plus two weightkit extensions stored
// where an ExecuTorch reader never looks:
//
//   [region]*                     at page-aligned offsets; weightkit's start with a
//                                 region record (name, sizes, checksum) before the data
//   [integrity record]            weightkit only; referenced by a reserved entry
//   [index entries] x entry_count v2: name_len u32 | name | offset u64 | size u64 | seed u32
//                                 v1: the same without the seed
//   [footer, 20 bytes]            index_start u64 | entry_count u32 | magic u32 | version u32
//
// The reader accepts every file ExecuTorch's loader accepts (it reads only the
// last 20 bytes: the footer must be at EOF) and applies ExecuTorch's checks;
// where weightkit is stricter it says so (kMaxIndexBytes). Full specification:
// docs/formats/xpwc.md.
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
constexpr uint32_t kRegionMagic = 0x31524b57;     // "WKR1"
/// weightkit's one limit beyond ExecuTorch's rules: an index larger than this
/// (millions of entries; the largest model reported has 1,184) is not read,
/// so a sparse file cannot make the reader hold gigabytes. Such a file is
/// WK_UNSUPPORTED: left as it is, never moved aside.
constexpr uint64_t kMaxIndexBytes = uint64_t{256} << 20;

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
  uint32_t packer_id = 0;      // the packer's fingerprint (XNNPACK's fingerprint_id); 0 = none recorded
  uint32_t packer_version = 0;
  uint64_t input_hash = 0;     // content hash of the unpacked inputs (0 = not recorded)
};

/// The 20 bytes at the end of a trailer, checked as ExecuTorch checks them.
struct Footer {
  uint64_t index_start = 0;
  uint32_t entry_count = 0;
  uint32_t version = 0;
};

/// Parses the footer ending at `end` with ExecuTorch's rules: magic, version 1
/// or 2 (WK_UNSUPPORTED otherwise), index_start before the footer.
Result<Footer> parse_footer(const uint8_t footer[kFooterSize], uint64_t end, const std::string& name);

/// A validated trailer.
struct Trailer {
  uint32_t version = kVersion;
  uint64_t index_start = 0;
  uint64_t end = 0;                          // byte after the footer
  std::vector<IndexEntry> entries;           // names unique (the last of a repeated name wins, as in ExecuTorch); integrity entry removed
  std::optional<std::vector<EntryIntegrity>> integrity;  // parallel to `entries` when present
  uint64_t index_hash = 0;                   // XXH64 of the index region (0 without an integrity record)
};

/// Parses the trailer whose footer ends at `end`: ExecuTorch's checks (every
/// entry header inside the index, every entry's data before the index), then
/// weightkit's integrity record when present (WK_CORRUPT when it does not
/// check out). Memory is bounded by the index's real size, never by a count
/// or length the file declares.
Result<Trailer> parse_trailer_at(const ByteSource& src, uint64_t end);

/// The newest valid trailer: the one ending at EOF, else (a crash left packed
/// regions behind it) the last one found scanning backwards. The scan reads at
/// most a few times the file's size whatever the file holds, so a file full of
/// fake footers costs linear time; `exhausted` says it stopped early.
struct Found {
  std::optional<Trailer> trailer;
  bool recovered = false;   // the trailer is not at EOF
  bool exhausted = false;   // the backward scan hit its read budget
  /// What is at EOF when it is not a usable trailer: a footer of an unknown
  /// version, a damaged trailer, or no footer magic at all.
  enum class AtEof { kTrailer, kNoMagic, kUnsupported, kDamaged } at_eof = AtEof::kTrailer;
  Status eof_status;        // why the trailer at EOF was not used
};
Result<Found> find_last_trailer(const ByteSource& src);

/// [integrity][index][footer] for writing at `start`, and the hash of its index.
struct SerializedTrailer {
  std::string bytes;
  uint64_t index_hash = 0;
};
SerializedTrailer serialize_trailer(const std::vector<IndexEntry>& entries, const std::vector<EntryIntegrity>& integrity,
                                    uint64_t start, uint32_t version = kVersion);

// ---- region records --------------------------------------------------------
//
// Each region weightkit writes starts with a record that vouches for the data
// after it, so a writer that finds regions after the last trailer (a process
// killed before it saved) can keep the ones that are whole:
//   magic u32 "WKR1" | header_len u32 | name_len u32 | seed u32 | data_size u64 |
//   checksum u64 | packer_id u32 | packer_version u32 | input_hash u64 | reserved u64 |
//   name | zero padding | header_hash u64          (header_len: a multiple of 64)
// The data follows at region start + header_len (64-byte aligned, as XNNPACK
// requires); the index entry points there.

/// Entries with longer names stay on the heap: a region record never needs
/// more than this for its name, so the recovery walk never allocates more.
constexpr uint64_t kMaxRegionName = uint64_t{1} << 20;

struct RegionRecord {
  std::string name;
  uint32_t seed = 0;
  uint64_t data_size = 0;
  EntryIntegrity integrity;
};

/// Bytes of the record for a name of `name_len` bytes (a multiple of 64).
uint64_t region_header_size(uint64_t name_len);
std::string serialize_region_header(const RegionRecord& r);

/// A region found after the last trailer whose record and data check out.
struct RecoveredRegion {
  RegionRecord record;
  uint64_t data_offset = 0;
};

/// Walks [from, to) page by page for region records; keeps each region whose
/// header hash and data checksum match. Linear: every byte is read at most
/// twice. `dropped_bytes` counts what was not vouched for.
Result<std::vector<RecoveredRegion>> scan_regions(const ByteSource& src, uint64_t from, uint64_t to, uint64_t page,
                                                  uint64_t* dropped_bytes);

/// XXH64 of [offset, offset+length) of a source, read in bounded chunks.
Result<uint64_t> hash_range(const ByteSource& src, uint64_t offset, uint64_t length);

}  // namespace weightkit::xpwc
