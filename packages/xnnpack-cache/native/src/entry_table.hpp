// The cache's entries: by name (ExecuTorch's key) and by token (the opaque id
// XNNPACK keeps and hands back to offset_to_addr), with the reference counts
// of the runtimes that use them. Not thread-safe: the cache's mutex guards it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "weightkit/mapped_file.hpp"
#include "weightkit/xnnpack/entry.hpp"
#include "weightkit/xnnpack/xpwc.hpp"

namespace weightkit::xnnpack {

enum class Kind { kLoaded, kFile, kHeap };

struct Entry {
  std::string name;
  uint64_t id = 0;                 // the token: never an address
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  uint32_t seed = 0;
  bool seed_known = true;          // false for entries of a v1 file, which stores no seeds
  xpwc::EntryIntegrity integrity;  // checksum, fingerprint, input hash
  bool has_checksum = false;
  bool verified = false;           // checksummed (or written) by this process, or trusted by the stamp
  Kind kind = Kind::kHeap;
  uint64_t file_offset = 0;
  // What owns the bytes (a mapping or a heap block). Views handed out share
  // it, so releasing an entry never frees memory a view still reads.
  std::shared_ptr<void> storage;
  const MappedRegion* region = nullptr;  // the mapping holding the bytes (owned by storage); null on the heap
  int refs = 0;
  bool persistent = false;         // loaded from, or saved to, the file: survives ref count 0

  bool in_file() const { return kind != Kind::kHeap; }
};

/// ExecuTorch's matching rules, with weightkit's extra fields: the seed when
/// the entry knows its seed; the fingerprint when the entry records one (an
/// entry without one, ExecuTorch's, matches any); the input hash when the
/// caller gives one.
bool matches(const Entry& e, const EntryKey& k);

EntryView view_of(const Entry& e);

class EntryTable {
 public:
  Entry* find(const std::string& name);
  Entry* find_id(uint64_t id);
  /// Adds `e` (giving it a fresh id); an entry of the same name is superseded:
  /// kept alive while a runtime still holds it. Returns the new entry.
  Entry* put(std::unique_ptr<Entry> e, bool* superseded);
  /// Drops the entry `name` (a failed checksum, a released heap entry).
  void drop(const std::string& name);
  /// Drops a reference a runtime held on `name`, superseded entries included;
  /// heap entries at zero references are freed.
  void release(const std::string& name);

  size_t size() const { return by_name_.size(); }
  template <typename F>
  void for_each(F f) {
    for (auto& [n, e] : by_name_) f(*e);
  }

 private:
  std::unordered_map<std::string, std::unique_ptr<Entry>> by_name_;
  std::unordered_map<uint64_t, Entry*> by_id_;
  std::vector<std::unique_ptr<Entry>> retired_;  // superseded or dropped but still referenced
  uint64_t next_id_ = 1;
};

}  // namespace weightkit::xnnpack
