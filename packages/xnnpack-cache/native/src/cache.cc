// The packed-weights cache: a facade over its loader (cache_loader.cc: the
// file's role, load, rebuild, adopt, repair) and its writer (cache_writer.cc:
// insert, append, save), with the process registry, look-ups and first-use
// verification here. See cache.hpp for the contract; the file, its locks, the
// entries, staging buffers and the writing of regions and trailers live in
// their own modules.
#include "weightkit/xnnpack/cache.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "cache_file.hpp"
#include "cache_loader.hpp"
#include "cache_state.hpp"
#include "cache_writer.hpp"
#include "entry_table.hpp"
#include "region_writer.hpp"
#include "staging.hpp"
#include "verified_stamp.hpp"
#include "weightkit/byte_source.hpp"
#include "weightkit/xxhash64.hpp"

namespace weightkit::xnnpack {
namespace {

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

/// The facade's state and its two halves: the loader decides what the file is
/// to this process and brings its entries in; the writer appends and saves.
struct PackedWeightsCache::Impl : CacheState {
  CacheLoader loader{*this, writer};
  CacheWriter writer{*this, loader};

  // ---- serving ----

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
    if (impl_->role == FileRole::kWriter && impl_->unsaved) (void)impl_->writer.save();
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
  Status st = cache->impl_->loader.open_file();
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
  return m.writer.insert(key, std::move(p), n, checksum);
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
  if (m.role == FileRole::kWriter) (void)m.writer.save();
  return names;
}

void PackedWeightsCache::delete_packed_data(const std::vector<std::string>& names) {
  std::lock_guard<std::mutex> g(impl_->mu);
  for (const auto& n : names) impl_->table.release(n);
}

Result<bool> PackedWeightsCache::save() {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->writer.save();
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
