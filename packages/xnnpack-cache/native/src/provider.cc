// The C provider over PackedWeightsCache: XNNPACK keys by pointers to the
// unpacked weights; ExecuTorch resolves those pointers to the names they were
// loaded under and keys entries by weight name + bias name.
#include "weightkit/xnnpack/provider.h"

#include <cstdio>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "weightkit/xnnpack/cache.hpp"

using weightkit::xnnpack::EntryKey;
using weightkit::xnnpack::PackedWeightsCache;

struct weightkit_cache {
  std::shared_ptr<PackedWeightsCache> cache;
  std::mutex mu;
  std::unordered_map<const void*, std::string> names;  // unpacked pointer -> name
};

namespace {

EntryKey key_of(weightkit_cache* c, const weightkit_weights_cache_look_up_key* k) {
  EntryKey key;
  key.seed = k->seed;
  key.packer_id = k->fingerprint_id;
  std::lock_guard<std::mutex> g(c->mu);
  auto w = c->names.find(k->kernel);
  auto b = k->bias ? c->names.find(k->bias) : c->names.end();
  if (w != c->names.end() && (!k->bias || b != c->names.end())) {
    key.name = w->second + (k->bias ? b->second : std::string());
  } else {
    // Unknown pointers: still served (never SIZE_MAX), but never persisted.
    char buf[64];
    std::snprintf(buf, sizeof buf, "\x01ptr:%p:%p", k->kernel, k->bias);
    key.name = buf;
    key.transient = true;
  }
  return key;
}

size_t look_up(void* ctx, const weightkit_weights_cache_look_up_key* k) {
  auto* c = static_cast<weightkit_cache*>(ctx);
  if (!k || !k->kernel) return SIZE_MAX;
  auto v = c->cache->look_up(key_of(c, k));
  return v ? static_cast<size_t>(v->token) : SIZE_MAX;
}

void* reserve_space(void* ctx, size_t n) { return static_cast<weightkit_cache*>(ctx)->cache->reserve_space(n); }

size_t look_up_or_insert(void* ctx, const weightkit_weights_cache_look_up_key* k, void* ptr, size_t size) {
  auto* c = static_cast<weightkit_cache*>(ctx);
  if (!k || !k->kernel) return SIZE_MAX;
  if (!ptr) return look_up(ctx, k);
  auto v = c->cache->look_up_or_insert(key_of(c, k), ptr, size);
  return v.is_ok() ? static_cast<size_t>(v.value().token) : SIZE_MAX;
}

bool is_finalized(void* ctx) { return static_cast<weightkit_cache*>(ctx)->cache->is_finalized(); }

void* offset_to_addr(void* ctx, size_t offset) {
  return const_cast<uint8_t*>(static_cast<weightkit_cache*>(ctx)->cache->offset_to_addr(offset));
}

weightkit_status delete_cache(void*) { return weightkit_status_success; }  // owned by weightkit_cache_close

weightkit_status alias_data(void* ctx, void* alias, void* original) {
  auto* c = static_cast<weightkit_cache*>(ctx);
  std::lock_guard<std::mutex> g(c->mu);
  auto it = c->names.find(original);
  if (it == c->names.end()) return weightkit_status_invalid_parameter;
  c->names[alias] = it->second;
  return weightkit_status_success;
}

}  // namespace

extern "C" {

weightkit_cache* weightkit_cache_open(const char* path, char* error, size_t error_size) {
  return weightkit_cache_open_with(path, 0, error, error_size);
}

weightkit_cache* weightkit_cache_open_with(const char* path, unsigned flags, char* error, size_t error_size) {
  weightkit::xnnpack::CacheOptions o;
  o.path = path ? path : "";
  o.populate = (flags & WEIGHTKIT_CACHE_POPULATE) != 0;
  auto r = PackedWeightsCache::open(o);
  if (!r.is_ok()) {
    if (error && error_size) {
      std::snprintf(error, error_size, "%s: %s", weightkit::code_name(r.status().code()), r.status().message().c_str());
    }
    return nullptr;
  }
  auto* c = new (std::nothrow) weightkit_cache();
  if (c) c->cache = r.value();
  return c;
}

void weightkit_cache_close(weightkit_cache* c) { delete c; }

weightkit_weights_cache_provider weightkit_cache_provider(weightkit_cache* c) {
  return {c, look_up, reserve_space, look_up_or_insert, is_finalized, offset_to_addr, delete_cache, alias_data};
}

void weightkit_cache_register_unpacked(weightkit_cache* c, const char* name, const void* data) {
  if (!c || !name || !data) return;
  std::lock_guard<std::mutex> g(c->mu);
  c->names[data] = name;
}

void weightkit_cache_initialize_for_runtime(weightkit_cache* c) { c->cache->initialize_for_runtime(); }

weightkit_status weightkit_cache_finalize_for_runtime(weightkit_cache* c, void (*on_name)(void*, const char*), void* user) {
  auto names = c->cache->finalize_for_runtime();
  {
    std::lock_guard<std::mutex> g(c->mu);
    c->names.clear();  // the unpacked buffers are freed after finalize
  }
  if (!names.is_ok()) return weightkit_status_invalid_state;
  if (on_name) {
    for (const auto& n : names.value()) on_name(user, n.c_str());
  }
  return weightkit_status_success;
}

void weightkit_cache_delete_packed_data(weightkit_cache* c, const char* const* names, size_t count) {
  std::vector<std::string> list;
  for (size_t i = 0; i < count; ++i) {
    if (names[i]) list.emplace_back(names[i]);
  }
  c->cache->delete_packed_data(list);
}

weightkit_status weightkit_cache_save(weightkit_cache* c) {
  return c->cache->save().is_ok() ? weightkit_status_success : weightkit_status_invalid_state;
}

void weightkit_cache_read_counters(weightkit_cache* c, weightkit_cache_counters* out) {
  if (!c || !out) return;
  const auto s = c->cache->stats();
  *out = weightkit_cache_counters{};
  out->hits = s.hits;
  out->misses = s.misses;
  out->packs = s.packs;
  out->reserves = s.reserves;
  out->entries = s.entries;
  out->mapped_bytes = s.mapped_bytes;
  out->heap_bytes = s.heap_bytes;
  for (uint64_t b : s.fallback_bytes) out->heap_fallback_bytes += b;
  out->corrupt_entries = s.corrupt_entries;
  out->file_backed = s.file_backed;
  out->writer = s.writer;
  out->trusted = s.trusted;
}

}  // extern "C"
