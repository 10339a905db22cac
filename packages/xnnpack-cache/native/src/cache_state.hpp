// The state of one packed-weights cache, shared by its facade (cache.cc), its
// loader (cache_loader.cc) and its writer (cache_writer.cc). Private to the
// package's core.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "cache_file.hpp"
#include "entry_table.hpp"
#include "region_writer.hpp"
#include "staging.hpp"
#include "weightkit/xnnpack/cache.hpp"

namespace weightkit::xnnpack {

/// What the file is to this process. A cache moves only forward along
/// kReader -> kWriter | kWriterRefused; every other role is fixed at open.
enum class FileRole {
  kHeapOnly,       // no path: every pack on the heap
  kRefused,        // a file it must not use (see refused_as); packs on the heap
  kReadOnly,       // serves what the file holds; packs on the heap
  kReader,         // serves; becomes the writer at its first pack
  kWriter,         // holds the writer lock: appends and saves
  kWriterRefused,  // another process writes: packs on the heap
};

/// A reservation not yet inserted.
struct Pending {
  std::shared_ptr<uint8_t> buffer;
  size_t capacity = 0;
  size_t size = 0;
};

/// Everything a cache knows, guarded by `mu` (the facade takes it).
struct CacheState {
  std::mutex mu;
  CacheOptions opts;
  FileRole role = FileRole::kHeapOnly;
  Fallback refused_as = Fallback::kInvalidFile;
  std::unique_ptr<CacheFile> file;
  std::pair<uint64_t, uint64_t> id{};
  EntryTable table;
  StagingPool staging;
  std::unordered_map<void*, Pending> pending;
  Flusher flusher;
  uint32_t version = xpwc::kVersion;  // the file's trailer version, kept when appending
  uint64_t trailer_end = 0;           // end of the newest trailer read or written (0: none yet)
  uint64_t file_end = 0;              // where the next region goes (page-aligned)
  uint64_t known_size = 0;            // the file size this process last accounted for
  bool unsaved = false;               // the trailer does not describe the entries (new regions, dropped entries)
  bool finalized = false;
  std::set<std::string> runtime_names;
  Stats stats;

  /// The file is not used (why goes to the stats); every pack on the heap.
  Status refuse(Fallback why, const std::string& message) {
    role = FileRole::kRefused;
    refused_as = why;
    stats.refused = message;
    file.reset();  // never mapped: releases the locks too
    return Status::ok();
  }

  /// Why a pack goes to the heap in this role, or none when it may go to the file.
  std::optional<Fallback> heap_reason() const {
    switch (role) {
      case FileRole::kRefused: return refused_as;
      case FileRole::kReadOnly: return Fallback::kReadOnly;
      case FileRole::kWriterRefused: return Fallback::kLocked;
      default: return std::nullopt;
    }
  }

  bool needs_verification(const Entry& e) const {
    return opts.verify != Verify::kNone && e.has_checksum && !e.verified;
  }

  void drop_corrupt(const std::string& name) {
    table.drop(name);
    stats.corrupt_entries++;
    unsaved = true;  // the next save leaves it out of the index
  }
};

}  // namespace weightkit::xnnpack
