// weightkit/xnnpack/cache.hpp — the packed-weights cache core (C++17, no
// Node-API). ExecuTorch XNNWeightsCache semantics on an XPWC file:
//
//  * entries keyed by name (weight name + bias name), seed, packer fingerprint
//    and optionally a content hash of the unpacked inputs; an entry that
//    records no fingerprint (ExecuTorch's) matches any, one from a v1 file
//    any seed;
//  * reserve_space -> pack -> look_up_or_insert, as XNNPACK does: the packer
//    writes into a reused staging buffer; insert writes a region record and the
//    bytes into the file and maps them read-only, so the reserved pointer is
//    valid until insert and the entry is reached through its token afterwards;
//    a full disk leaves the entry on the heap (counted), never a SIGBUS;
//  * initialize_for_runtime / finalize_for_runtime (flush what is new, bump
//    ref counts, return the names used, and save: the trailer is at EOF after
//    every finalize) / delete_packed_data;
//  * a file that ends in regions nobody saved (a writer was killed) is
//    repaired by the next writer before anything else: regions whose record
//    vouches for them are kept, the trailer is re-written at EOF;
//  * every loaded entry is checksummed on first use unless the file is,
//    byte for byte, as weightkit last verified it;
//  * one instance per file per process, shared by every model; all methods
//    are thread-safe.
//
// Invariants: an entry's bytes never move while the cache lives; nothing is
// ever written inside a region a saved trailer references; the file is never
// truncated (compaction writes a new file and renames it into place).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weightkit/status.hpp"
#include "weightkit/xnnpack/entry.hpp"
#include "weightkit/xnnpack/xpwc.hpp"

namespace weightkit::xnnpack {

/// When the bytes of entries loaded from the file are checksummed.
enum class Verify {
  kFirstUse,  // the first time this process serves each entry (default), unless the file is stamped as verified
  kOpen,      // every entry while opening
  kNone,      // never (trust the file)
};

/// The longest wait for another writer's lock: ten minutes. Owned here; the
/// addon exports it and the TypeScript API checks `lockWaitMs` against it.
constexpr int kMaxLockWaitMs = 600000;

struct CacheOptions {
  std::string path;            // "" keeps every packed weight on the heap (opt-out)
  bool async_flush = false;    // finalize starts write-back without waiting for it
  int lock_wait_ms = 0;        // how long to wait for another writer (0: fall back to heap at once; at most kMaxLockWaitMs)
  Verify verify = Verify::kFirstUse;
  /// Read every page the file's entries occupy in while opening (MAP_POPULATE
  /// on their mapping, off the JS thread), so the first inference after a
  /// warm open takes no page faults on the packed weights. Costs the reads at
  /// open instead; clean page cache either way.
  bool populate = false;
};

enum class Fallback { kNoSpace = 0, kLocked, kIoError, kUnsupported, kInvalidFile, kReadOnly, kCount };
const char* fallback_name(Fallback f);

struct Stats {
  uint64_t hits = 0, misses = 0, packs = 0, superseded = 0, reserves = 0;
  uint64_t entries = 0, loaded_entries = 0;
  uint64_t mapped_bytes = 0;   // entries in file pages (loaded or packed into the file)
  uint64_t heap_bytes = 0;     // entries on the heap
  uint64_t fallback_bytes[static_cast<int>(Fallback::kCount)] = {};
  double flush_ms = 0;
  uint64_t flushed_bytes = 0;
  uint64_t file_bytes = 0, orphan_bytes = 0;
  uint64_t saves = 0, save_errors = 0;
  uint64_t verified_bytes = 0;     // loaded bytes checksummed by this process
  uint64_t populated_bytes = 0;    // file bytes read in at open (CacheOptions::populate)
  uint64_t corrupt_entries = 0;    // loaded entries whose checksum failed (dropped, packed again)
  uint64_t repaired_entries = 0;   // unsaved regions a repair kept
  uint64_t repair_dropped_bytes = 0;
  bool file_backed = false, writer = false, recovered = false, trusted = false, read_only = false;
  std::string rebuilt_from;    // where a damaged file was moved aside, if it was
  std::string refused;         // why the file is not used, when it is not
  std::string last_save_error;
};

struct VerifyReport {
  uint64_t checked = 0, unchecked = 0;
  std::vector<std::string> bad;  // entries whose bytes do not match their checksum
};

class PackedWeightsCache {
 public:
  /// Opens (or creates, 0600) the cache at options.path; the same file opened
  /// twice in one process returns the same instance. A non-empty file that is
  /// not a cache (no XPWC footer, no earlier trailer) is refused with
  /// WK_BAD_FORMAT and left as it is.
  static Result<std::shared_ptr<PackedWeightsCache>> open(const CacheOptions& options);
  /// Saves what is unsaved (no tail is left behind) and releases the file.
  ~PackedWeightsCache();
  PackedWeightsCache(const PackedWeightsCache&) = delete;
  PackedWeightsCache& operator=(const PackedWeightsCache&) = delete;

  // -- the XNNPACK protocol --
  std::optional<EntryView> look_up(const EntryKey& key);
  /// Writable, zeroed memory for n packed bytes, valid until look_up_or_insert.
  /// nullptr only when out of memory.
  void* reserve_space(size_t n);
  /// The same without zeroing, for packers that write every byte they insert.
  void* reserve_space_for_overwrite(size_t n);
  /// What keeps a pending reservation's memory alive (for a JavaScript view of
  /// it, so a late write lands in a buffer nobody reuses); null when not pending.
  std::shared_ptr<void> reservation_owner(void* ptr);
  /// Commits `ptr` (a reservation, or any buffer, then copied). ptr == nullptr behaves as look_up.
  Result<EntryView> look_up_or_insert(const EntryKey& key, void* ptr, size_t n);
  bool is_finalized();
  /// The bytes for a token returned by look_up/insert, or nullptr for an unknown token.
  const uint8_t* offset_to_addr(uint64_t token);

  // -- the ExecuTorch lifecycle --
  void initialize_for_runtime();
  /// Flushes, bumps ref counts, returns the names used and saves (a failed
  /// save is counted in stats and retried at close; the entries stay usable).
  Result<std::vector<std::string>> finalize_for_runtime();
  void delete_packed_data(const std::vector<std::string>& names);

  /// Writes a trailer covering every file-backed entry; a no-op (bytes and
  /// mtime unchanged) when nothing changed since the last save.
  Result<bool> save();
  Result<VerifyReport> verify();
  Stats stats();
  const std::string& path() const;
  /// A view of a committed entry by name (no key checks), for JS views.
  std::optional<EntryView> find(const std::string& name);
  /// The entry a token refers to.
  std::optional<EntryView> find_token(uint64_t token);
  std::vector<std::string> names();

  struct Impl;

 private:
  PackedWeightsCache();
  std::unique_ptr<Impl> impl_;
};

/// Read-only facts about a cache file (CLI `cache inspect`).
struct FileInfo {
  uint32_t version = 0;
  uint64_t file_bytes = 0, orphan_bytes = 0, tail_bytes = 0;
  bool recovered = false, integrity = false;
  /// True when the last 20 bytes are a footer ExecuTorch's loader accepts.
  bool footer_at_eof = false;
  std::vector<xpwc::IndexEntry> entries;
};
Result<FileInfo> inspect_file(const std::string& path);
/// Checks every entry's checksum (read-only; works while others use the file).
Result<VerifyReport> verify_file(const std::string& path);

struct CompactReport {
  uint64_t bytes_before = 0, bytes_after = 0, entries = 0;
  std::vector<std::string> dropped;  // damaged entries left out (they are packed again on next use)
};
/// Rewrites the file without orphans or damaged entries (private temp file +
/// rename); WK_LOCKED while any process, this one included, has it open.
Result<CompactReport> compact_file(const std::string& path);

}  // namespace weightkit::xnnpack
