// The packed-weights cache: what the file is to this process (its role), how
// entries are loaded, verified, inserted and saved. See cache.hpp for the
// contract; the file, its locks, the entries, staging buffers and the writing
// of regions and trailers live in their own modules.
#include "weightkit/xnnpack/cache.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "cache_file.hpp"
#include "entry_table.hpp"
#include "region_writer.hpp"
#include "staging.hpp"
#include "verified_stamp.hpp"
#include "weightkit/byte_source.hpp"
#include "weightkit/xxhash64.hpp"

namespace weightkit::xnnpack {
namespace {

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

// Every open file-backed cache of this process, by (device, inode). Never
// held while a cache is created or destroyed.
std::mutex g_registry_mu;
std::map<std::pair<uint64_t, uint64_t>, std::weak_ptr<PackedWeightsCache>> g_registry;

}  // namespace

const char* fallback_name(Fallback f) {
  switch (f) {
    case Fallback::kNoSpace: return "noSpace";
    case Fallback::kLocked: return "locked";
    case Fallback::kIoError: return "ioError";
    case Fallback::kUnsupported: return "unsupported";
    case Fallback::kInvalidFile: return "invalidFile";
    case Fallback::kReadOnly: return "readOnly";
    case Fallback::kCount: break;
  }
  return "unknown";
}

struct PackedWeightsCache::Impl {
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

  // ---- what the file is to us ----

  Status refuse(Fallback why, const std::string& message) {
    role = FileRole::kRefused;
    refused_as = why;
    stats.refused = message;
    file.reset();  // never mapped: releases the locks too
    return Status::ok();
  }

  std::optional<Fallback> heap_reason() const {
    switch (role) {
      case FileRole::kRefused: return refused_as;
      case FileRole::kReadOnly: return Fallback::kReadOnly;
      case FileRole::kWriterRefused: return Fallback::kLocked;
      default: return std::nullopt;
    }
  }

  Status open_file() {
    auto f = CacheFile::open(opts.path, opts.lock_wait_ms);
    if (!f.is_ok()) return f.status();
    file = std::move(f).value();
    stats.file_backed = true;
    stats.read_only = file->read_only();
    auto ident = file->identity();
    if (!ident.is_ok()) return ident.status();
    id = {ident.value().dev, ident.value().ino};
    if (file->held_by_another_program()) {
      return refuse(Fallback::kLocked, "another program holds '" + opts.path +
                                           "' for writing (flock LOCK_EX, as ExecuTorch's cache does); packing on the heap");
    }
    return load();
  }

  Status load() {
    auto size = file->size();
    if (!size.is_ok()) return size.status();
    role = file->read_only() ? FileRole::kReadOnly : FileRole::kReader;
    if (size.value() == 0) return Status::ok();  // a new cache: its first pack writes the first trailer
    FdSource src(file->fd(), size.value(), opts.path);
    auto found = xpwc::find_last_trailer(src);
    if (!found.is_ok()) return found.status();
    const xpwc::Found& f = found.value();
    known_size = size.value();
    file_end = page_align(size.value());
    if (!f.trailer) {
      if (f.at_eof == xpwc::Found::AtEof::kUnsupported) {
        return refuse(Fallback::kUnsupported, f.eof_status.message() + "; weightkit leaves the file as it is");
      }
      if (f.at_eof == xpwc::Found::AtEof::kDamaged && f.eof_status.code() == Code::kCorrupt) {
        return refuse(Fallback::kInvalidFile, f.eof_status.message() +
                                                  "; ExecuTorch may still read it, so weightkit leaves it as it is "
                                                  "('weightkit cache compact' rebuilds it)");
      }
      if (f.at_eof == xpwc::Found::AtEof::kNoMagic) {
        return Status(Code::kBadFormat, "'" + opts.path + "' is not an XPWC packed-weights cache: it does not end with an XPWC footer" +
                                            std::string(f.exhausted ? " and no earlier trailer was found within the scan budget"
                                                                    : " and holds no earlier trailer") +
                                            "; weightkit will not overwrite it (choose another path, or delete it if it is a damaged cache)");
      }
      return rebuild(f.eof_status);  // a damaged cache that ExecuTorch would wipe as well
    }
    Status st = adopt_trailer(*f.trailer);
    if (!st.is_ok()) return st;
    if (f.recovered) {
      stats.recovered = true;
      // The process that left the tail is gone if its writer lock is free:
      // repair before anything else, so the footer is at EOF again.
      if (file->take_writer(opts.lock_wait_ms)) {
        role = FileRole::kWriter;
        stats.writer = true;
        st = repair();
        if (!st.is_ok()) return st;
      }
    }
    apply_verify_policy(*f.trailer);
    return Status::ok();
  }

  /// A damaged cache nobody else has open goes aside; a fresh one takes its place.
  Status rebuild(const Status& why) {
    if (file->read_only() || !file->sole_user()) {
      return refuse(Fallback::kInvalidFile, why.message() + "; another process has the file open, so it is left as it is");
    }
    auto aside = file->move_aside_and_recreate();
    if (!aside.is_ok()) return aside.status();
    stats.rebuilt_from = aside.value();
    auto ident = file->identity();
    if (ident.is_ok()) id = {ident.value().dev, ident.value().ino};
    known_size = file_end = trailer_end = 0;
    return load();
  }

  void apply_verify_policy(const xpwc::Trailer& t) {
    if (opts.verify == Verify::kNone) {
      table.for_each([](Entry& e) { e.verified = true; });
      return;
    }
    if (opts.verify == Verify::kFirstUse) {
      auto stamp = read_stamp(opts.path);
      auto ident = file->identity();
      if (stamp && ident.is_ok() && t.index_hash != 0 && stamp->file == ident.value() && stamp->index_hash == t.index_hash) {
        table.for_each([](Entry& e) { e.verified = true; });
        stats.trusted = true;
      }
      return;
    }
    std::vector<std::string> bad;
    table.for_each([&](Entry& e) {
      if (!needs_verification(e)) return;
      if (Xxh64::hash(e.data, e.size) == e.integrity.checksum) {
        e.verified = true;
        stats.verified_bytes += e.size;
      } else {
        bad.push_back(e.name);
      }
    });
    for (const auto& n : bad) drop_corrupt(n);
  }

  /// Adds the entries of `t` this instance does not have yet, mapped read-only.
  Status adopt_trailer(const xpwc::Trailer& t) {
    auto region = MappedRegion::map(file->fd(), opts.path, 0, t.index_start, Access::kReadOnly);
    if (!region.is_ok()) return region.status();
    auto owned = std::make_shared<MappedRegion>(std::move(region).value());
    for (size_t i = 0; i < t.entries.size(); ++i) {
      const auto& ie = t.entries[i];
      if (table.find(ie.name)) continue;
      auto e = std::make_unique<Entry>();
      e->name = ie.name;
      e->data = owned->data() + ie.offset;
      e->size = ie.size;
      e->seed = ie.seed;
      e->seed_known = t.version >= 2;  // v1 stores no seeds: look-ups are seed-blind, as in ExecuTorch v1
      e->kind = Kind::kLoaded;
      e->storage = owned;
      e->region = owned.get();
      e->file_offset = ie.offset;
      e->persistent = true;
      if (t.integrity) {
        e->integrity = (*t.integrity)[i];
        e->has_checksum = true;
      }
      bool superseded;
      table.put(std::move(e), &superseded);
      stats.loaded_entries++;
    }
    version = t.version;
    trailer_end = std::max(trailer_end, t.end);
    return Status::ok();
  }

  /// Keeps the unsaved regions after the last trailer whose records vouch for
  /// them and writes a trailer at EOF covering everything. Writer only.
  Status repair() {
    auto size = file->size();
    if (!size.is_ok()) return size.status();
    FdSource src(file->fd(), size.value(), opts.path);
    uint64_t dropped = 0;
    auto regions = xpwc::scan_regions(src, trailer_end, size.value(), page_size(), &dropped);
    if (!regions.is_ok()) return regions.status();
    if (!regions.value().empty()) {
      const uint64_t first = regions.value().front().data_offset;
      const auto& last = regions.value().back();
      auto region = MappedRegion::map(file->fd(), opts.path, first, last.data_offset + last.record.data_size - first, Access::kReadOnly);
      if (!region.is_ok()) return region.status();
      auto owned = std::make_shared<MappedRegion>(std::move(region).value());
      for (const auto& r : regions.value()) {
        auto e = std::make_unique<Entry>();
        e->name = r.record.name;
        e->data = owned->data() + (r.data_offset - first);
        e->size = r.record.data_size;
        e->seed = r.record.seed;
        e->integrity = r.record.integrity;
        e->has_checksum = e->verified = true;
        e->kind = Kind::kFile;
        e->storage = owned;
        e->region = owned.get();
        e->file_offset = r.data_offset;
        bool superseded;
        table.put(std::move(e), &superseded);
      }
    }
    stats.repaired_entries += regions.value().size();
    stats.repair_dropped_bytes += dropped;
    known_size = size.value();
    file_end = page_align(size.value());
    unsaved = true;
    auto saved = save_locked();
    return saved.is_ok() ? Status::ok() : saved.status();
  }

  /// Takes the writer lock on first use; then adopts what other writers saved
  /// since this process read the file, and repairs a tail a dead one left.
  bool ensure_writer() {
    if (role == FileRole::kWriter) return true;
    if (role != FileRole::kReader || !file->take_writer(opts.lock_wait_ms)) {
      if (role == FileRole::kReader) role = FileRole::kWriterRefused;
      return false;
    }
    role = FileRole::kWriter;
    stats.writer = true;
    auto size = file->size();
    if (size.is_ok() && size.value() != known_size) {
      FdSource src(file->fd(), size.value(), opts.path);
      auto found = xpwc::find_last_trailer(src);
      if (found.is_ok() && found.value().trailer && found.value().trailer->end > trailer_end) {
        (void)adopt_trailer(*found.value().trailer);
      }
      known_size = size.value();
      file_end = std::max(file_end, page_align(size.value()));
      if (found.is_ok() && found.value().recovered) (void)repair();
    }
    return true;
  }

  // ---- verification on first use ----

  bool needs_verification(const Entry& e) const {
    return opts.verify != Verify::kNone && e.has_checksum && !e.verified;
  }

  void drop_corrupt(const std::string& name) {
    table.drop(name);
    stats.corrupt_entries++;
    unsaved = true;  // the next save leaves it out of the index
  }

  /// The entry ready to serve: checksummed first when it was loaded and not
  /// yet verified. The hash runs without the lock; nullopt when it failed (the
  /// entry is dropped and will be packed again).
  std::optional<EntryView> serve(std::unique_lock<std::mutex>& lock, Entry* e) {
    if (!needs_verification(*e)) return view_of(*e);
    EntryView v = view_of(*e);  // keeps the bytes alive while unlocked
    const uint64_t expected = e->integrity.checksum;
    lock.unlock();
    const uint64_t sum = Xxh64::hash(v.data, v.size);
    lock.lock();
    e = table.find_id(v.token);
    if (!e) return std::nullopt;
    if (e->verified) return view_of(*e);
    if (sum != expected) {
      drop_corrupt(e->name);
      return std::nullopt;
    }
    e->verified = true;
    stats.verified_bytes += e->size;
    return view_of(*e);
  }

  // ---- inserting ----

  Result<EntryView> insert(const EntryKey& key, Pending p, size_t n, uint64_t checksum) {
    auto e = std::make_unique<Entry>();
    e->name = key.name;
    e->size = n;
    e->seed = key.seed;
    e->integrity = {checksum, key.packer_id, key.packer_version, key.input_hash};
    e->has_checksum = e->verified = true;
    std::optional<Fallback> why;
    const bool persistable = !key.transient && key.name.size() <= xpwc::kMaxRegionName;
    if (role != FileRole::kHeapOnly && persistable && ensure_writer()) {
      auto placed = append_region(*e, p.buffer.get());
      if (placed.is_ok()) {
        staging.give(std::move(p.buffer), p.capacity);
      } else {
        why = placed.code() == Code::kNoSpace ? Fallback::kNoSpace : Fallback::kIoError;
      }
    } else if (persistable) {
      why = heap_reason();
    }
    if (e->kind == Kind::kHeap) {
      e->data = p.buffer.get();
      e->storage = std::move(p.buffer);
      if (why) stats.fallback_bytes[static_cast<int>(*why)] += n;
    }
    bool superseded;
    Entry* raw = table.put(std::move(e), &superseded);
    if (superseded) stats.superseded++;
    runtime_names.insert(key.name);
    stats.packs++;
    return view_of(*raw);
  }

  /// Writes the entry's region (record + bytes) at the end of the file and
  /// maps its bytes read-only; a new file gets its first trailer before that,
  /// so it is recognisably a cache from its first byte on.
  Status append_region(Entry& e, const uint8_t* data) {
    if (trailer_end == 0) {
      auto first = xpwc::serialize_trailer({}, {}, 0, version);
      auto end = write_trailer_at(file->fd(), opts.path, 0, first.bytes);
      if (!end.is_ok()) return end.status();
      trailer_end = known_size = end.value();
      file_end = page_align(end.value());
    }
    xpwc::RegionRecord record{e.name, e.seed, e.size, e.integrity};
    auto placed = write_region_at(file->fd(), opts.path, file_end, record, data);
    if (!placed.is_ok()) {
      // A failed allocation may still have extended the file: stay past it.
      auto size = file->size();
      if (size.is_ok()) file_end = std::max(file_end, page_align(size.value()));
      return placed.status();
    }
    auto mapped = MappedRegion::map(file->fd(), opts.path, placed.value().data_offset, e.size, Access::kReadOnly);
    if (!mapped.is_ok()) {
      file_end = placed.value().end;  // the range is written but unused: an orphan
      return mapped.status();
    }
    auto owned = std::make_shared<MappedRegion>(std::move(mapped).value());
    // Write-back starts now, so the disk works while the next weights are
    // packed and finalize only waits for what is left.
    platform::start_writeback(file->fd(), file_end, placed.value().end - file_end);
    flusher.add(owned, file_end, placed.value().end - file_end);
    e.kind = Kind::kFile;
    e.file_offset = placed.value().data_offset;
    e.data = owned->data();
    e.region = owned.get();
    e.storage = std::move(owned);
    file_end = known_size = placed.value().end;
    unsaved = true;
    return Status::ok();
  }

  // ---- saving ----

  Result<bool> save_locked() {
    // Only the writer has anything of its own in the file: a reader's packs
    // are on the heap, and the writer saves the file (and any tail) itself.
    if (!unsaved || role != FileRole::kWriter) return false;
    stats.flushed_bytes += flusher.flush(file->fd(), opts.path, opts.async_flush, &stats.flush_ms);
    // The trailer vouches only for bytes that match: entries ExecuTorch wrote
    // get a checksum now, loaded ones nobody checked yet are checked.
    std::vector<std::string> bad;
    std::vector<Entry*> list;
    table.for_each([&](Entry& e) {
      if (!e.in_file()) return;
      if (!e.has_checksum) {
        e.integrity.checksum = Xxh64::hash(e.data, e.size);
        e.has_checksum = e.verified = true;
      } else if (!e.verified) {
        if (Xxh64::hash(e.data, e.size) != e.integrity.checksum) {
          bad.push_back(e.name);
          return;
        }
        e.verified = true;
      }
      list.push_back(&e);
    });
    for (const auto& n : bad) drop_corrupt(n);
    std::sort(list.begin(), list.end(), [](const Entry* a, const Entry* b) { return a->file_offset < b->file_offset; });
    std::vector<xpwc::IndexEntry> index;
    std::vector<xpwc::EntryIntegrity> integrity;
    for (const Entry* e : list) {
      index.push_back({e->name, e->file_offset, e->size, e->seed});
      integrity.push_back(e->integrity);
    }
    const uint64_t start = file_end;
    const auto trailer = xpwc::serialize_trailer(index, integrity, start, version);
    auto end = write_trailer_at(file->fd(), opts.path, start, trailer.bytes);
    if (!end.is_ok()) {
      // Whatever reached the file there is referenced by nothing; stay past it.
      file_end = page_align(start + trailer.bytes.size());
      stats.save_errors++;
      stats.last_save_error = end.status().message();
      return end.status();
    }
    for (Entry* e : list) e->persistent = true;
    trailer_end = known_size = end.value();
    file_end = page_align(end.value());
    unsaved = false;
    stats.saves++;
    // Every entry of the file was written or checked by this process: the
    // next one may trust the file while nobody changes it.
    auto ident = file->identity();
    if (ident.is_ok()) write_stamp(opts.path, {ident.value(), trailer.index_hash});
    return true;
  }

  Stats snapshot() {
    Stats s = stats;
    s.entries = table.size();
    s.mapped_bytes = s.heap_bytes = 0;
    table.for_each([&](Entry& e) { (e.in_file() ? s.mapped_bytes : s.heap_bytes) += e.size; });
    if (file) {
      auto size = file->size();
      s.file_bytes = size.is_ok() ? size.value() : 0;
      uint64_t need = 0, count = 0, names = 0;
      table.for_each([&](Entry& e) {
        if (!e.in_file()) return;
        need += page_align(xpwc::region_header_size(e.name.size()) + e.size);
        names += e.name.size();
        count++;
      });
      need += 64 + count * 48 + names;  // about a trailer
      s.orphan_bytes = s.file_bytes > need ? s.file_bytes - need : 0;
    }
    return s;
  }
};

PackedWeightsCache::PackedWeightsCache() : impl_(std::make_unique<Impl>()) {}

PackedWeightsCache::~PackedWeightsCache() {
  {
    // No tail is left behind by a cache that ends normally.
    std::lock_guard<std::mutex> g(impl_->mu);
    if (impl_->role == FileRole::kWriter && impl_->unsaved) (void)impl_->save_locked();
  }
  if (impl_->stats.file_backed) {
    std::lock_guard<std::mutex> g(g_registry_mu);
    auto it = g_registry.find(impl_->id);
    if (it != g_registry.end() && it->second.expired()) g_registry.erase(it);
  }
}

Result<std::shared_ptr<PackedWeightsCache>> PackedWeightsCache::open(const CacheOptions& options) {
  std::shared_ptr<PackedWeightsCache> cache(new PackedWeightsCache());
  cache->impl_->opts = options;
  if (options.path.empty()) return cache;
  if (options.path.find('\0') != std::string::npos) return Status(Code::kBadArgument, "cache path contains a NUL byte");
  if (options.lock_wait_ms < 0 || options.lock_wait_ms > kMaxLockWaitMs) {
    return Status(Code::kBadArgument, "lockWaitMs must be from 0 to " + std::to_string(kMaxLockWaitMs) + " ms");
  }
  auto existing = path_identity(options.path);
  if (existing.is_ok()) {
    std::lock_guard<std::mutex> g(g_registry_mu);
    auto it = g_registry.find({existing.value().dev, existing.value().ino});
    if (it != g_registry.end()) {
      if (auto live = it->second.lock()) return live;
    }
  }
  // Opened without the registry lock: a cache that fails here is destroyed
  // here, and its destructor takes that lock.
  Status st = cache->impl_->open_file();
  if (!st.is_ok()) return st;
  std::shared_ptr<PackedWeightsCache> winner;
  {
    std::lock_guard<std::mutex> g(g_registry_mu);
    auto& slot = g_registry[cache->impl_->id];
    winner = slot.lock();
    if (!winner) slot = cache;
  }
  return winner ? winner : cache;  // a loser of a race is destroyed after the lock is released
}

const std::string& PackedWeightsCache::path() const { return impl_->opts.path; }

std::optional<EntryView> PackedWeightsCache::look_up(const EntryKey& key) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  Entry* e = impl_->table.find(key.name);
  std::optional<EntryView> v;
  if (e && matches(*e, key)) v = impl_->serve(lock, e);
  if (!v) {
    impl_->stats.misses++;
    return std::nullopt;
  }
  impl_->stats.hits++;
  impl_->runtime_names.insert(key.name);
  return v;
}

void* PackedWeightsCache::reserve_space(size_t n) {
  void* p = reserve_space_for_overwrite(n);
  // Zeroed, as fresh file pages would be: a packer that skips its padding
  // must not copy a previous weight's bytes into the file.
  if (p) std::memset(p, 0, n);
  return p;
}

void* PackedWeightsCache::reserve_space_for_overwrite(size_t n) {
  std::lock_guard<std::mutex> g(impl_->mu);
  Pending p;
  p.buffer = impl_->staging.take(n, &p.capacity);
  if (!p.buffer) return nullptr;
  p.size = n;
  void* ptr = p.buffer.get();
  impl_->pending[ptr] = std::move(p);
  impl_->stats.reserves++;
  return ptr;
}

std::shared_ptr<void> PackedWeightsCache::reservation_owner(void* ptr) {
  std::lock_guard<std::mutex> g(impl_->mu);
  auto it = impl_->pending.find(ptr);
  return it == impl_->pending.end() ? nullptr : it->second.buffer;
}

Result<EntryView> PackedWeightsCache::look_up_or_insert(const EntryKey& key, void* ptr, size_t n) {
  if (ptr == nullptr) {
    auto v = look_up(key);
    if (!v) return Status(Code::kNotFound, "no packed entry '" + key.name + "'");
    return *v;
  }
  // Checksummed while the bytes are hot, and outside the lock.
  const uint64_t checksum = Xxh64::hash(ptr, n);
  std::lock_guard<std::mutex> g(impl_->mu);
  Impl& m = *impl_;
  m.finalized = false;
  auto pit = m.pending.find(ptr);
  Entry* existing = m.table.find(key.name);
  if (existing && matches(*existing, key) && existing->size == n && (!m.needs_verification(*existing) ||
                                                                      existing->integrity.checksum == checksum)) {
    // Another caller committed the same weights first: keep theirs.
    if (pit != m.pending.end()) {
      m.staging.give(std::move(pit->second.buffer), pit->second.capacity);
      m.pending.erase(pit);
    }
    m.runtime_names.insert(key.name);
    return view_of(*existing);
  }
  Pending p;
  if (pit != m.pending.end()) {
    p = std::move(pit->second);
    m.pending.erase(pit);
    if (n > p.size) {
      return Status(Code::kBadArgument, "insert of " + std::to_string(n) + " bytes into a " + std::to_string(p.size) + "-byte reservation");
    }
  } else {
    // Caller-owned memory: copied into a buffer of our own.
    p.buffer = m.staging.take(n, &p.capacity);
    if (!p.buffer) return Status(Code::kBudget, "out of memory copying " + std::to_string(n) + " packed bytes");
    std::memcpy(p.buffer.get(), ptr, n);
    p.size = n;
  }
  return m.insert(key, std::move(p), n, checksum);
}

bool PackedWeightsCache::is_finalized() {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->finalized;
}

const uint8_t* PackedWeightsCache::offset_to_addr(uint64_t token) {
  std::lock_guard<std::mutex> g(impl_->mu);
  Entry* e = impl_->table.find_id(token);
  return e ? e->data : nullptr;
}

void PackedWeightsCache::initialize_for_runtime() {
  std::lock_guard<std::mutex> g(impl_->mu);
  impl_->finalized = false;
  impl_->runtime_names.clear();
}

Result<std::vector<std::string>> PackedWeightsCache::finalize_for_runtime() {
  std::lock_guard<std::mutex> g(impl_->mu);
  Impl& m = *impl_;
  if (m.file) m.stats.flushed_bytes += m.flusher.flush(m.file->fd(), m.opts.path, m.opts.async_flush, &m.stats.flush_ms);
  m.staging.clear();
  std::vector<std::string> names(m.runtime_names.begin(), m.runtime_names.end());
  for (const auto& n : names) {
    if (Entry* e = m.table.find(n)) e->refs++;
  }
  m.runtime_names.clear();
  m.finalized = true;
  // As ExecuTorch's finalize does: the trailer goes to EOF now. A failed save
  // (a full disk) is counted; the entries stay usable and close() retries.
  if (m.role == FileRole::kWriter) (void)m.save_locked();
  return names;
}

void PackedWeightsCache::delete_packed_data(const std::vector<std::string>& names) {
  std::lock_guard<std::mutex> g(impl_->mu);
  for (const auto& n : names) impl_->table.release(n);
}

Result<bool> PackedWeightsCache::save() {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->save_locked();
}

std::optional<EntryView> PackedWeightsCache::find(const std::string& name) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  Entry* e = impl_->table.find(name);
  if (!e) return std::nullopt;
  return impl_->serve(lock, e);
}

std::optional<EntryView> PackedWeightsCache::find_token(uint64_t token) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  Entry* e = impl_->table.find_id(token);
  if (!e) return std::nullopt;
  return impl_->serve(lock, e);
}

std::vector<std::string> PackedWeightsCache::names() {
  std::lock_guard<std::mutex> g(impl_->mu);
  std::vector<std::string> out;
  impl_->table.for_each([&](Entry& e) { out.push_back(e.name); });
  std::sort(out.begin(), out.end());
  return out;
}

Result<VerifyReport> PackedWeightsCache::verify() {
  struct Work {
    EntryView view;  // keeps the bytes alive while hashing outside the lock
    std::string name;
    std::optional<uint64_t> checksum;
  };
  std::vector<Work> work;
  {
    std::lock_guard<std::mutex> g(impl_->mu);
    impl_->table.for_each([&](Entry& e) {
      work.push_back({view_of(e), e.name, e.has_checksum ? std::optional<uint64_t>(e.integrity.checksum) : std::nullopt});
    });
  }
  VerifyReport r;
  for (const auto& w : work) {
    if (!w.checksum) {
      r.unchecked++;
      continue;
    }
    r.checked++;
    if (Xxh64::hash(w.view.data, w.view.size) != *w.checksum) r.bad.push_back(w.name);
  }
  std::sort(r.bad.begin(), r.bad.end());
  return r;
}

Stats PackedWeightsCache::stats() {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->snapshot();
}

}  // namespace weightkit::xnnpack
