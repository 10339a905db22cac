// The packed-weights cache. See cache.hpp for the contract and invariants.
#include "weightkit/xnnpack/cache.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "file_lock.hpp"
#include "weightkit/byte_source.hpp"
#include "weightkit/xxhash64.hpp"

namespace weightkit::xnnpack {
namespace {

constexpr size_t kHeapAlign = 64;  // XNN_ALLOCATION_ALIGNMENT on x86-64

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

struct HeapFree {
  void operator()(uint8_t* p) const { std::free(p); }
};
using HeapBuffer = std::unique_ptr<uint8_t, HeapFree>;

HeapBuffer heap_alloc(size_t n) {
  void* p = std::aligned_alloc(kHeapAlign, align_up(std::max<size_t>(n, 1), kHeapAlign));
  return HeapBuffer(static_cast<uint8_t*>(p));
}

enum class Kind { kLoaded, kFile, kHeap };

struct Entry {
  std::string name;
  uint8_t* data = nullptr;
  uint64_t size = 0;
  uint32_t seed = 0, packer_id = 0, packer_version = 0;
  uint64_t input_hash = 0, checksum = 0;
  bool has_checksum = false;
  Kind kind = Kind::kHeap;
  uint64_t file_offset = 0;
  // What owns the bytes (a mapping or a heap block). Views handed out share
  // it, so releasing an entry never frees memory a view still reads.
  std::shared_ptr<void> storage;
  MappedRegion* region = nullptr;        // the mapping holding the bytes (owned by storage); null on the heap
  int refs = 0;
  bool persistent = false;               // loaded from, or saved to, the file: survives ref count 0
};

/// A reservation not yet inserted. A file reservation is a fallocated range of
/// the file plus a staging buffer the packer writes into; insert writes the
/// bytes to the file with pwrite and maps them read-only. Packing straight into
/// a writable mapping of fresh file blocks costs a read (zero-fill) of every
/// page by MAP_POPULATE, a write fault per page and TLB shootdowns when
/// write-back starts under the mapping; a pwrite from a hot buffer costs none.
struct Pending {
  Kind kind = Kind::kHeap;
  std::shared_ptr<void> storage;  // heap: the block; file: the staging buffer
  size_t capacity = 0;            // file: the staging buffer's size
  uint64_t file_offset = 0, file_len = 0;
  size_t size = 0;
};

/// Staging buffers kept for the next reservations (the largest ones); the rest
/// are freed, and finalize frees them all.
constexpr size_t kStagingKept = 2;

std::shared_ptr<void> own_region(MappedRegion r, MappedRegion** raw) {
  auto p = std::make_shared<MappedRegion>(std::move(r));
  *raw = p.get();
  return p;
}

bool matches(const Entry& e, const EntryKey& k) {
  if (e.seed != k.seed) return false;
  if (k.packer_id != 0 && (e.packer_id != k.packer_id || e.packer_version != k.packer_version)) return false;
  if (k.input_hash != 0 && e.input_hash != k.input_hash) return false;
  return true;
}

EntryView view_of(const Entry& e) {
  EntryView v{e.data, e.size, reinterpret_cast<uintptr_t>(e.data), e.kind != Kind::kHeap, e.kind == Kind::kLoaded, e.storage};
  v.base = e.region ? e.region->data() : e.data;
  v.base_size = e.region ? e.region->size() : e.size;
  return v;
}

/// Bytes a compacted file needs: every entry page-aligned, then the trailer
/// on a page boundary, as save() lays them out.
uint64_t compacted_size(const std::vector<xpwc::IndexEntry>& entries) {
  uint64_t end = 0;
  for (const auto& e : entries) end = align_up(end, page_size()) + e.size;
  end = align_up(end, page_size());
  return end + xpwc::serialize_trailer(entries, {}, end).size();
}

// Every open file-backed cache of this process, by (device, inode).
std::mutex g_registry_mu;
std::map<std::pair<dev_t, ino_t>, std::weak_ptr<PackedWeightsCache>> g_registry;

}  // namespace

const char* fallback_name(Fallback f) {
  switch (f) {
    case Fallback::kNoSpace: return "noSpace";
    case Fallback::kLocked: return "locked";
    case Fallback::kIoError: return "ioError";
    case Fallback::kUnsupported: return "unsupported";
    case Fallback::kInvalidFile: return "invalidFile";
    case Fallback::kCount: break;
  }
  return "unknown";
}

struct PackedWeightsCache::Impl {
  std::mutex mu;
  CacheOptions opts;
  bool file_backed = false;
  std::optional<Fallback> file_refused;  // why this instance cannot use the file, if it cannot
  UniqueFd fd;
  std::pair<dev_t, ino_t> id{};
  std::vector<std::shared_ptr<MappedRegion>> loaded;  // read-only mappings of saved data
  uint64_t file_end = 0;                              // where the next region goes (page-aligned)
  enum class Writer { kUnknown, kHeld, kRefused } writer = Writer::kUnknown;
  uint64_t known_size = 0;                            // file size when the trailer was last read
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries;
  std::unordered_map<uintptr_t, Entry*> by_token;
  std::vector<std::unique_ptr<Entry>> retired;        // superseded but still referenced
  std::unordered_map<void*, Pending> pending;
  std::vector<std::pair<MappedRegion*, uint64_t>> unflushed;  // regions written since the last flush, with their file offsets
  bool dirty = false;
  bool finalized = false;
  std::set<std::string> runtime_names;
  std::vector<xpwc::IndexEntry> last_index;           // entries of the trailer in the file
  Stats stats;

  // ---- file state ----

  /// Adds the entries of `t` this instance does not have yet, mapped read-only.
  Status adopt_trailer(const xpwc::Trailer& t) {
    auto region = MappedRegion::map(fd.get(), opts.path, 0, t.index_start, Access::kReadOnly);
    if (!region.is_ok()) return region.status();
    auto owned = std::make_shared<MappedRegion>(std::move(region).value());
    for (size_t i = 0; i < t.entries.size(); ++i) {
      const auto& ie = t.entries[i];
      if (entries.count(ie.name)) continue;
      auto e = std::make_unique<Entry>();
      e->name = ie.name;
      e->data = owned->data() + ie.offset;
      e->size = ie.size;
      e->seed = ie.seed;
      e->kind = Kind::kLoaded;
      e->storage = owned;
      e->region = owned.get();
      e->file_offset = ie.offset;
      e->persistent = true;
      if (t.integrity) {
        const auto& in = (*t.integrity)[i];
        e->checksum = in.checksum;
        e->has_checksum = true;
        e->packer_id = in.packer_id;
        e->packer_version = in.packer_version;
        e->input_hash = in.input_hash;
      }
      if (opts.verify_on_open && e->has_checksum && Xxh64::hash(e->data, e->size) != e->checksum) continue;  // never served
      by_token[reinterpret_cast<uintptr_t>(e->data)] = e.get();
      entries.emplace(e->name, std::move(e));
      stats.loaded_entries++;
    }
    loaded.push_back(std::move(owned));
    last_index = t.entries;
    return Status::ok();
  }

  Result<uint64_t> current_size() {
    auto size = file_size(fd.get(), opts.path);
    if (!size.is_ok()) return size.status();
    return size.value();
  }

  /// Reads the newest trailer. An invalid non-empty file is moved aside and
  /// replaced when nobody else uses it; otherwise this instance keeps to the heap.
  Status load() {
    auto size = current_size();
    if (!size.is_ok()) return size.status();
    FdSource src(fd.get(), size.value(), opts.path);
    auto found = xpwc::find_last_trailer(src);
    if (!found.is_ok()) return found.status();
    known_size = size.value();
    if (found.value().trailer) {
      stats.recovered = found.value().recovered;
      Status st = adopt_trailer(*found.value().trailer);
      if (!st.is_ok()) return st;
    } else if (size.value() > 0) {
      if (lock_byte(fd.get(), LockByte::kWriter, true)) {
        unlock_byte(fd.get(), LockByte::kWriter);
        Status st = rebuild();
        if (!st.is_ok()) return st;
      }
      // else another process is writing its first packs right now; its save
      // will make the file valid, and this process can append after it.
    }
    auto now = current_size();
    if (!now.is_ok()) return now.status();
    file_end = align_up(now.value(), page_size());
    return Status::ok();
  }

  Status rebuild() {
    if (!lock_byte(fd.get(), LockByte::kUsers, true)) {
      file_refused = Fallback::kInvalidFile;  // someone else has it open: leave it alone
      return Status::ok();
    }
    std::string aside = opts.path + ".invalid-" + std::to_string(::getpid()) + "-" + std::to_string(std::time(nullptr));
    if (::rename(opts.path.c_str(), aside.c_str()) != 0) return errno_status(errno, "move aside", opts.path);
    auto fresh = open_regular_file(opts.path, OpenMode::kReadWriteCreate);
    if (!fresh.is_ok()) return fresh.status();
    fd = std::move(fresh).value();
    if (!lock_byte(fd.get(), LockByte::kUsers, false)) return Status(Code::kLocked, "'" + opts.path + "' is being compacted");
    stats.rebuilt_from = aside;
    return Status::ok();
  }

  /// Takes the writer lock once; on success also adopts any trailer another
  /// writer saved since this instance last read the file.
  bool ensure_writer() {
    if (!file_backed || file_refused) return false;
    if (writer == Writer::kHeld) return true;
    if (writer == Writer::kRefused) return false;
    if (!lock_byte(fd.get(), LockByte::kWriter, true, opts.lock_wait_ms)) {
      writer = Writer::kRefused;
      return false;
    }
    writer = Writer::kHeld;
    stats.writer = true;
    auto size = current_size();
    if (size.is_ok() && size.value() != known_size) {
      FdSource src(fd.get(), size.value(), opts.path);
      auto found = xpwc::find_last_trailer(src);
      if (found.is_ok() && found.value().trailer && found.value().trailer->end > known_size) {
        (void)adopt_trailer(*found.value().trailer);
      }
      known_size = size.value();
      file_end = std::max(file_end, align_up(size.value(), page_size()));
    }
    return true;
  }

  // ---- reservations ----

  void* heap_reservation(size_t n, std::optional<Fallback> why) {
    Pending p;
    p.kind = Kind::kHeap;
    HeapBuffer block = heap_alloc(n);
    if (!block) return nullptr;
    void* ptr = block.get();
    p.storage = std::shared_ptr<uint8_t>(block.release(), HeapFree());
    p.size = n;
    if (why) stats.fallback_bytes[static_cast<int>(*why)] += n;
    pending.emplace(ptr, std::move(p));
    return ptr;
  }

  // ---- staging buffers ----

  std::vector<std::pair<std::shared_ptr<void>, size_t>> staging_free;  // (buffer, capacity)

  std::shared_ptr<void> take_staging(size_t n, size_t* capacity) {
    auto best = staging_free.end();
    for (auto it = staging_free.begin(); it != staging_free.end(); ++it) {
      if (it->second >= n && (best == staging_free.end() || it->second < best->second)) best = it;
    }
    if (best != staging_free.end()) {
      auto buf = std::move(best->first);
      *capacity = best->second;
      staging_free.erase(best);
      return buf;
    }
    *capacity = align_up(std::max<size_t>(n, 1), page_size());
    HeapBuffer block = heap_alloc(*capacity);
    if (!block) return nullptr;
    return std::shared_ptr<uint8_t>(block.release(), HeapFree());
  }

  /// Keeps a staging buffer for reuse unless something else (a JavaScript view
  /// of the reservation) still holds it: then it is freed with its last holder.
  void return_staging(std::shared_ptr<void> buf, size_t capacity) {
    if (!buf || buf.use_count() != 1) return;
    staging_free.emplace_back(std::move(buf), capacity);
    std::sort(staging_free.begin(), staging_free.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (staging_free.size() > kStagingKept) staging_free.resize(kStagingKept);
  }

  void drop_pending(std::unordered_map<void*, Pending>::iterator it) {
    if (it->second.kind == Kind::kFile) return_staging(std::move(it->second.storage), it->second.capacity);
    pending.erase(it);
  }

  /// The packed bytes into their file range, then a read-only mapping of it.
  Result<std::shared_ptr<void>> write_to_file(const Pending& p, const uint8_t* src, size_t n, MappedRegion** region) {
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::pwrite(fd.get(), src + done, n - done, static_cast<off_t>(p.file_offset + done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return errno_status(w < 0 ? errno : EIO, "write packed weights to", opts.path);
      done += static_cast<size_t>(w);
    }
    auto mapped = MappedRegion::map(fd.get(), opts.path, p.file_offset, p.file_len, Access::kReadOnly);
    if (!mapped.is_ok()) return mapped.status();
    return own_region(std::move(mapped).value(), region);
  }

  void* reserve(size_t n) {
    if (!file_backed) return heap_reservation(n, std::nullopt);
    if (file_refused) return heap_reservation(n, file_refused);
    if (!ensure_writer()) return heap_reservation(n, Fallback::kLocked);
    const uint64_t off = file_end;
    const uint64_t len = align_up(std::max<size_t>(n, 1), page_size());
    // Blocks first: a full disk is an error here, not a SIGBUS on first touch.
    int err = ::posix_fallocate(fd.get(), static_cast<off_t>(off), static_cast<off_t>(len));
    if (err != 0) {
      Fallback why = (err == ENOSPC || err == EDQUOT) ? Fallback::kNoSpace
                     : (err == EOPNOTSUPP || err == EINVAL) ? Fallback::kUnsupported : Fallback::kIoError;
      // A failed fallocate may still have extended the file: stay past it.
      auto size = current_size();
      if (size.is_ok()) file_end = std::max(file_end, align_up(size.value(), page_size()));
      return heap_reservation(n, why);
    }
    file_end = off + len;
    Pending p;
    p.kind = Kind::kFile;
    p.storage = take_staging(n, &p.capacity);
    if (!p.storage) return nullptr;
    p.file_offset = off;
    p.file_len = len;
    p.size = n;
    void* ptr = p.storage.get();
    pending.emplace(ptr, std::move(p));
    return ptr;
  }

  // ---- entries ----

  void release_entry(std::unique_ptr<Entry> e) {
    by_token.erase(reinterpret_cast<uintptr_t>(e->data));
    if (e->refs > 0) retired.push_back(std::move(e));  // a runtime still reads it
  }

  Result<EntryView> insert(const EntryKey& key, void* ptr, size_t n) {
    auto it = entries.find(key.name);
    auto pit = pending.find(ptr);
    if (it != entries.end() && matches(*it->second, key) && it->second->size == n) {
      // Another caller committed the same weights first: keep theirs.
      if (pit != pending.end()) drop_pending(pit);
      runtime_names.insert(key.name);
      return view_of(*it->second);
    }
    if (pit == pending.end()) {
      // Caller-owned memory: copy it into a reservation of our own.
      void* mine = reserve(n);
      if (!mine) return Status(Code::kBudget, "out of memory reserving " + std::to_string(n) + " bytes");
      std::memcpy(mine, ptr, n);
      pit = pending.find(mine);
    }
    if (key.transient && pit->second.kind == Kind::kFile) {
      // A key that means nothing to another process stays off the file.
      void* heap = heap_reservation(n, std::nullopt);
      if (!heap) return Status(Code::kBudget, "out of memory reserving " + std::to_string(n) + " bytes");
      std::memcpy(heap, ptr, n);
      drop_pending(pit);
      pit = pending.find(heap);
    }
    if (n > pit->second.size) {
      return Status(Code::kBadArgument, "insert of " + std::to_string(n) + " bytes into a " + std::to_string(pit->second.size) + "-byte reservation");
    }
    Pending p = std::move(pit->second);
    pending.erase(pit);
    const uint64_t checksum = Xxh64::hash(static_cast<const uint8_t*>(p.storage.get()), n);  // while the bytes are hot
    MappedRegion* region = nullptr;
    if (p.kind == Kind::kFile) {
      auto written = write_to_file(p, static_cast<const uint8_t*>(p.storage.get()), n, &region);
      if (written.is_ok()) {
        return_staging(std::move(p.storage), p.capacity);
        p.storage = std::move(written).value();
      } else {
        // The range stays an orphan in the file; the bytes stay on the heap.
        p.kind = Kind::kHeap;
        stats.fallback_bytes[static_cast<int>(Fallback::kIoError)] += n;
      }
    }
    auto e = std::make_unique<Entry>();
    e->name = key.name;
    e->size = n;
    e->seed = key.seed;
    e->packer_id = key.packer_id;
    e->packer_version = key.packer_version;
    e->input_hash = key.input_hash;
    e->kind = p.kind;
    e->file_offset = p.file_offset;
    e->data = static_cast<uint8_t*>(p.storage.get());
    if (p.kind == Kind::kFile) {
      e->data = region->data();
      e->region = region;
      unflushed.emplace_back(region, p.file_offset);
      dirty = true;
      // Start writing these pages back now, so the disk works while the next
      // weights are packed and finalize only waits for what is left.
      (void)::sync_file_range(fd.get(), static_cast<off_t>(p.file_offset), static_cast<off_t>(region->size()), SYNC_FILE_RANGE_WRITE);
    }
    e->storage = std::move(p.storage);
    e->checksum = checksum;
    e->has_checksum = true;
    if (it != entries.end()) {
      stats.superseded++;
      release_entry(std::move(it->second));
      entries.erase(it);
    }
    EntryView v = view_of(*e);
    by_token[v.token] = e.get();
    runtime_names.insert(key.name);
    entries.emplace(key.name, std::move(e));
    stats.packs++;
    return v;
  }

  void flush() {
    if (unflushed.empty()) return;
    auto t0 = std::chrono::steady_clock::now();
    for (auto& [r, off] : unflushed) {
      if (opts.async_flush) {
        // Start write-back without waiting (on Linux msync(MS_ASYNC) starts nothing).
        (void)::sync_file_range(fd.get(), static_cast<off_t>(off), static_cast<off_t>(r->size()), SYNC_FILE_RANGE_WRITE);
      } else {
        (void)r->sync(0, r->size(), opts.path);
      }
      stats.flushed_bytes += r->size();
    }
    unflushed.clear();
    stats.flush_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }

  Result<bool> save() {
    if (!dirty) return false;
    if (writer != Writer::kHeld) return Status(Code::kLocked, "'" + opts.path + "' is written by another process");
    flush();
    // Data durable before the trailer that makes it reachable.
    if (::fdatasync(fd.get()) != 0) return errno_status(errno, "fdatasync", opts.path);
    std::vector<Entry*> list;
    for (auto& [name, e] : entries) {
      if (e->kind != Kind::kHeap) list.push_back(e.get());
    }
    std::sort(list.begin(), list.end(), [](Entry* a, Entry* b) { return a->file_offset < b->file_offset; });
    std::vector<xpwc::IndexEntry> index;
    std::vector<xpwc::EntryIntegrity> integrity;
    for (Entry* e : list) {
      index.push_back({e->name, e->file_offset, e->size, e->seed});
      integrity.push_back({e->checksum, e->packer_id, e->packer_version, e->input_hash});
    }
    const uint64_t start = file_end;
    const std::string bytes = xpwc::serialize_trailer(index, integrity, start);
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t w = ::pwrite(fd.get(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(start + done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        // A partial trailer at EOF: the previous trailer stays valid and findable.
        file_end = align_up(start + done + 1, page_size());
        return errno_status(errno, "write trailer of", opts.path);
      }
      done += static_cast<size_t>(w);
    }
    if (::fdatasync(fd.get()) != 0) return errno_status(errno, "fdatasync", opts.path);
    for (Entry* e : list) e->persistent = true;
    file_end = align_up(start + bytes.size(), page_size());
    known_size = start + bytes.size();
    last_index = std::move(index);
    dirty = false;
    stats.saves++;
    return true;
  }
};

PackedWeightsCache::PackedWeightsCache(CacheOptions options) : impl_(std::make_unique<Impl>()), options_(std::move(options)) {
  impl_->opts = options_;
}

PackedWeightsCache::~PackedWeightsCache() {
  if (impl_->fd.valid()) {
    // Unlock explicitly: a mapping holds the open file description (and so its
    // locks) until the last view of it is collected, long after close().
    unlock_byte(impl_->fd.get(), LockByte::kWriter);
    unlock_byte(impl_->fd.get(), LockByte::kUsers);
  }
  if (impl_->file_backed) {
    std::lock_guard<std::mutex> g(g_registry_mu);
    auto it = g_registry.find(impl_->id);
    if (it != g_registry.end() && it->second.expired()) g_registry.erase(it);
  }
}

Result<std::shared_ptr<PackedWeightsCache>> PackedWeightsCache::open(const CacheOptions& options) {
  if (options.path.empty()) return std::shared_ptr<PackedWeightsCache>(new PackedWeightsCache(options));
  if (options.path.find('\0') != std::string::npos) return Status(Code::kBadArgument, "cache path contains a NUL byte");
  std::lock_guard<std::mutex> g(g_registry_mu);
  auto fd = open_regular_file(options.path, OpenMode::kReadWriteCreate);
  if (!fd.is_ok()) return fd.status();
  struct stat st;
  if (::fstat(fd.value().get(), &st) != 0) return errno_status(errno, "stat", options.path);
  if (st.st_uid != ::geteuid()) {
    return Status(Code::kBadArgument, "'" + options.path + "' is owned by another user (uid " + std::to_string(st.st_uid) +
                                          "); weightkit only maps cache files you own");
  }
  auto key = std::make_pair(st.st_dev, st.st_ino);
  auto it = g_registry.find(key);
  if (it != g_registry.end()) {
    if (auto existing = it->second.lock()) return existing;
  }
  auto cache = std::shared_ptr<PackedWeightsCache>(new PackedWeightsCache(options));
  Impl& m = *cache->impl_;
  m.fd = std::move(fd).value();
  m.file_backed = true;
  m.stats.file_backed = true;
  if (!lock_byte(m.fd.get(), LockByte::kUsers, false, std::max(options.lock_wait_ms, 0))) {
    return Status(Code::kLocked, "'" + options.path + "' is being compacted by another process; retry");
  }
  Status st2 = m.load();
  if (!st2.is_ok()) return st2;
  if (::fstat(m.fd.get(), &st) != 0) return errno_status(errno, "stat", options.path);
  m.id = std::make_pair(st.st_dev, st.st_ino);  // a rebuilt file has a new inode
  g_registry[m.id] = cache;
  if (m.id != key) g_registry[key] = cache;
  return cache;
}

std::optional<EntryView> PackedWeightsCache::look_up(const EntryKey& key) {
  std::lock_guard<std::mutex> g(impl_->mu);
  auto it = impl_->entries.find(key.name);
  if (it == impl_->entries.end() || !matches(*it->second, key)) {
    impl_->stats.misses++;
    return std::nullopt;
  }
  impl_->stats.hits++;
  impl_->runtime_names.insert(key.name);
  return view_of(*it->second);
}

void* PackedWeightsCache::reserve_space(size_t n) {
  std::lock_guard<std::mutex> g(impl_->mu);
  void* p = impl_->reserve(n);
  // Zeroed, as fresh file pages would be: a packer that skips its padding
  // must not copy a previous weight's bytes into the file.
  if (p) std::memset(p, 0, n);
  return p;
}

void* PackedWeightsCache::reserve_space_for_overwrite(size_t n) {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->reserve(n);
}

std::shared_ptr<void> PackedWeightsCache::reservation_owner(void* ptr) {
  std::lock_guard<std::mutex> g(impl_->mu);
  auto it = impl_->pending.find(ptr);
  return it == impl_->pending.end() ? nullptr : it->second.storage;
}

Result<EntryView> PackedWeightsCache::look_up_or_insert(const EntryKey& key, void* ptr, size_t n) {
  if (ptr == nullptr) {
    auto v = look_up(key);
    if (!v) return Status(Code::kNotFound, "no packed entry '" + key.name + "'");
    return *v;
  }
  std::lock_guard<std::mutex> g(impl_->mu);
  impl_->finalized = false;
  return impl_->insert(key, ptr, n);
}

bool PackedWeightsCache::is_finalized() {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->finalized;
}

const uint8_t* PackedWeightsCache::offset_to_addr(uint64_t token) {
  std::lock_guard<std::mutex> g(impl_->mu);
  auto it = impl_->by_token.find(static_cast<uintptr_t>(token));
  return it == impl_->by_token.end() ? nullptr : it->second->data;
}

void PackedWeightsCache::initialize_for_runtime() {
  std::lock_guard<std::mutex> g(impl_->mu);
  impl_->finalized = false;
  impl_->runtime_names.clear();
}

Result<std::vector<std::string>> PackedWeightsCache::finalize_for_runtime() {
  std::lock_guard<std::mutex> g(impl_->mu);
  impl_->flush();
  impl_->staging_free.clear();  // packing is over for now: give the memory back
  std::vector<std::string> names(impl_->runtime_names.begin(), impl_->runtime_names.end());
  for (const auto& n : names) {
    auto it = impl_->entries.find(n);
    if (it != impl_->entries.end()) it->second->refs++;
  }
  impl_->runtime_names.clear();
  impl_->finalized = true;
  return names;
}

void PackedWeightsCache::delete_packed_data(const std::vector<std::string>& names) {
  std::lock_guard<std::mutex> g(impl_->mu);
  Impl& m = *impl_;
  for (const auto& n : names) {
    auto it = m.entries.find(n);
    if (it != m.entries.end()) {
      Entry& e = *it->second;
      if (e.refs > 0) e.refs--;
      if (e.refs == 0 && !e.persistent) {
        MappedRegion* r = e.region;
        m.unflushed.erase(std::remove_if(m.unflushed.begin(), m.unflushed.end(), [r](auto& u) { return u.first == r; }), m.unflushed.end());
        m.by_token.erase(reinterpret_cast<uintptr_t>(e.data));
        m.entries.erase(it);
        m.dirty = std::any_of(m.entries.begin(), m.entries.end(),
                              [](auto& kv) { return kv.second->kind == Kind::kFile && !kv.second->persistent; });
      }
      continue;
    }
    // A superseded entry some runtime still held.
    for (auto r = m.retired.begin(); r != m.retired.end(); ++r) {
      if ((*r)->name != n) continue;
      if (--(*r)->refs <= 0) m.retired.erase(r);
      break;
    }
  }
}

Result<bool> PackedWeightsCache::save() {
  std::lock_guard<std::mutex> g(impl_->mu);
  if (!impl_->file_backed) return false;
  return impl_->save();
}

std::optional<EntryView> PackedWeightsCache::find(const std::string& name) {
  std::lock_guard<std::mutex> g(impl_->mu);
  auto it = impl_->entries.find(name);
  if (it == impl_->entries.end()) return std::nullopt;
  return view_of(*it->second);
}

std::optional<EntryView> PackedWeightsCache::find_token(uint64_t token) {
  std::lock_guard<std::mutex> g(impl_->mu);
  auto it = impl_->by_token.find(static_cast<uintptr_t>(token));
  if (it == impl_->by_token.end()) return std::nullopt;
  return view_of(*it->second);
}

std::vector<std::string> PackedWeightsCache::names() {
  std::lock_guard<std::mutex> g(impl_->mu);
  std::vector<std::string> out;
  for (auto& [n, e] : impl_->entries) out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

Result<VerifyReport> PackedWeightsCache::verify() {
  struct Work {
    std::string name;
    EntryView view;  // holds the storage alive while hashing outside the lock
    std::optional<uint64_t> checksum;
  };
  std::vector<Work> work;
  {
    std::lock_guard<std::mutex> g(impl_->mu);
    for (auto& [n, e] : impl_->entries) {
      work.push_back({n, view_of(*e), e->has_checksum ? std::optional<uint64_t>(e->checksum) : std::nullopt});
    }
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
  return r;
}

Stats PackedWeightsCache::stats() {
  std::lock_guard<std::mutex> g(impl_->mu);
  Impl& m = *impl_;
  Stats s = m.stats;
  s.entries = m.entries.size();
  s.mapped_bytes = s.heap_bytes = 0;
  for (auto& [n, e] : m.entries) (e->kind == Kind::kHeap ? s.heap_bytes : s.mapped_bytes) += e->size;
  if (m.file_backed) {
    auto size = m.current_size();
    s.file_bytes = size.is_ok() ? size.value() : 0;
    std::vector<xpwc::IndexEntry> live;
    for (auto& [n, e] : m.entries) {
      if (e->kind != Kind::kHeap) live.push_back({n, e->file_offset, e->size, e->seed});
    }
    uint64_t need = compacted_size(live);
    s.orphan_bytes = s.file_bytes > need ? s.file_bytes - need : 0;
  }
  return s;
}

// ---- whole-file operations ----

Result<FileInfo> inspect_file(const std::string& path) {
  auto src = FileSource::open(path);
  if (!src.is_ok()) return src.status();
  auto found = xpwc::find_last_trailer(src.value());
  if (!found.is_ok()) return found.status();
  if (!found.value().trailer) {
    return Status(Code::kBadFormat, "'" + path + "' has no valid XPWC trailer (not a packed-weights cache, or damaged beyond recovery)");
  }
  const xpwc::Trailer& t = *found.value().trailer;
  FileInfo info;
  info.version = t.version;
  info.file_bytes = src.value().size();
  info.recovered = found.value().recovered;
  info.integrity = t.integrity.has_value();
  info.entries = t.entries;
  uint64_t need = compacted_size(t.entries);
  info.orphan_bytes = info.file_bytes > need ? info.file_bytes - need : 0;
  return info;
}

Result<VerifyReport> verify_file(const std::string& path) {
  auto src = FileSource::open(path);
  if (!src.is_ok()) return src.status();
  auto found = xpwc::find_last_trailer(src.value());
  if (!found.is_ok()) return found.status();
  if (!found.value().trailer) return Status(Code::kBadFormat, "'" + path + "' has no valid XPWC trailer");
  const xpwc::Trailer& t = *found.value().trailer;
  VerifyReport r;
  std::string buf;
  for (size_t i = 0; i < t.entries.size(); ++i) {
    if (!t.integrity) {
      r.unchecked++;
      continue;
    }
    Xxh64 h;
    for (uint64_t at = 0; at < t.entries[i].size;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(8 << 20, t.entries[i].size - at));
      auto chunk = src.value().read_string(t.entries[i].offset + at, n);
      if (!chunk.is_ok()) return chunk.status();
      h.update(chunk.value().data(), n);
      at += n;
    }
    r.checked++;
    if (h.digest() != (*t.integrity)[i].checksum) r.bad.push_back(t.entries[i].name);
  }
  return r;
}

Result<CompactReport> compact_file(const std::string& path) {
  auto fd = open_regular_file(path, OpenMode::kReadWrite);
  if (!fd.is_ok()) return fd.status();
  if (!lock_byte(fd.value().get(), LockByte::kUsers, true) || !lock_byte(fd.value().get(), LockByte::kWriter, true)) {
    return Status(Code::kLocked, "'" + path + "' is in use (a process has it open); close it before compacting");
  }
  auto size = file_size(fd.value().get(), path);
  if (!size.is_ok()) return size.status();
  FdSource src(fd.value().get(), size.value(), path);
  auto found = xpwc::find_last_trailer(src);
  if (!found.is_ok()) return found.status();
  if (!found.value().trailer) return Status(Code::kBadFormat, "'" + path + "' has no valid XPWC trailer; nothing to compact");
  const xpwc::Trailer& t = *found.value().trailer;

  const std::string tmp = path + ".compact-" + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  auto out = open_regular_file(tmp, OpenMode::kReadWriteCreate);
  if (!out.is_ok()) return out.status();
  auto fail = [&](Status st) {
    ::unlink(tmp.c_str());
    return st;
  };
  std::vector<xpwc::IndexEntry> index;
  std::vector<xpwc::EntryIntegrity> integrity;
  uint64_t end = 0;
  std::string buf;
  for (size_t i = 0; i < t.entries.size(); ++i) {
    const auto& e = t.entries[i];
    const uint64_t off = align_up(end, page_size());
    if (e.size > 0) {
      int err = ::posix_fallocate(out.value().get(), static_cast<off_t>(off), static_cast<off_t>(e.size));
      if (err != 0) return fail(errno_status(err, "reserve space in", tmp));
    }
    Xxh64 h;
    for (uint64_t at = 0; at < e.size;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(8 << 20, e.size - at));
      auto chunk = src.read_string(e.offset + at, n);
      if (!chunk.is_ok()) return fail(chunk.status());
      h.update(chunk.value().data(), n);
      if (::pwrite(out.value().get(), chunk.value().data(), n, static_cast<off_t>(off + at)) != static_cast<ssize_t>(n)) {
        return fail(errno_status(errno, "write", tmp));
      }
      at += n;
    }
    xpwc::EntryIntegrity in = t.integrity ? (*t.integrity)[i] : xpwc::EntryIntegrity{};
    if (t.integrity && h.digest() != in.checksum) {
      return fail(Status(Code::kCorrupt, "entry '" + e.name + "' does not match its checksum; run verify, the file is damaged"));
    }
    in.checksum = h.digest();
    index.push_back({e.name, off, e.size, e.seed});
    integrity.push_back(in);
    end = off + e.size;
  }
  end = align_up(end, page_size());
  const std::string trailer = xpwc::serialize_trailer(index, integrity, end);
  if (::pwrite(out.value().get(), trailer.data(), trailer.size(), static_cast<off_t>(end)) != static_cast<ssize_t>(trailer.size())) {
    return fail(errno_status(errno, "write", tmp));
  }
  if (::fsync(out.value().get()) != 0) return fail(errno_status(errno, "fsync", tmp));
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno_status(errno, "replace", path));
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + (path.rfind('/') == 0 ? 1 : 0));
  UniqueFd dfd(::open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.valid()) (void)::fsync(dfd.get());
  return CompactReport{size.value(), end + trailer.size(), index.size()};
}

}  // namespace weightkit::xnnpack
