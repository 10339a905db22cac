// The writer half of a packed-weights cache: inserting an entry (in the file
// when this process may write it, else on the heap, counted by reason),
// appending its region, and saving the trailer. The one owner of saving:
// pack, finalize, close and repair all save through save().
#pragma once

#include "cache_state.hpp"

namespace weightkit::xnnpack {

class CacheLoader;

class CacheWriter {
 public:
  CacheWriter(CacheState& s, CacheLoader& loader) : s_(s), loader_(loader) {}

  /// Inserts a packed entry the caller reserved (or copied): file-backed when
  /// this process holds the writer role, else on the heap.
  Result<EntryView> insert(const EntryKey& key, Pending p, size_t n, uint64_t checksum);
  /// Writes the trailer that describes every entry in the file; false when
  /// nothing changed since the last save. Only the writer role saves.
  Result<bool> save();

 private:
  /// Writes the entry's region (record + bytes) at the end of the file and
  /// maps its bytes read-only; a new file gets its first trailer before that,
  /// so it is recognisably a cache from its first byte on.
  Status append_region(Entry& e, const uint8_t* data);

  CacheState& s_;
  CacheLoader& loader_;
};

}  // namespace weightkit::xnnpack
