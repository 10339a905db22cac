/* weightkit/xnnpack/provider.h — a packed-weights cache a native runtime can
 * hand to XNNPACK. The provider struct has the shape and semantics of
 * XNNPACK's xnn_weights_cache_provider; every function is thread-safe.
 *
 * Typical use (mirrors ExecuTorch's XNNWeightsCache):
 *   weightkit_cache* c = weightkit_cache_open("/data/model.xpwc", err, sizeof err);
 *   weightkit_cache_initialize_for_runtime(c);
 *   weightkit_cache_register_unpacked(c, "linear.weight", w_ptr);   // for each weight loaded
 *   weightkit_cache_register_unpacked(c, "linear.bias", b_ptr);
 *   struct weightkit_weights_cache_provider p = weightkit_cache_provider(c);
 *   ... create operators; XNNPACK calls look_up / reserve_space / look_up_or_insert ...
 *   weightkit_cache_finalize_for_runtime(c, on_name, ctx);  // flush, ref counts, names used, trailer at EOF
 *   ... weightkit_cache_delete_packed_data(c, names, n) when the runtime goes away
 *   weightkit_cache_close(c);
 */
#ifndef WEIGHTKIT_XNNPACK_PROVIDER_H_
#define WEIGHTKIT_XNNPACK_PROVIDER_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values match enum xnn_status. */
enum weightkit_status {
  weightkit_status_success = 0,
  weightkit_status_invalid_parameter = 2,
  weightkit_status_invalid_state = 3,
  weightkit_status_out_of_memory = 6,
};

struct weightkit_weights_cache_look_up_key {
  uint32_t seed;          /* packing seed of the micro-kernel */
  const void* kernel;     /* the ORIGINAL (unpacked) weights */
  const void* bias;       /* the original bias, may be NULL */
  uint32_t fingerprint_id;/* id of the packing routine (0: any) */
};

struct weightkit_weights_cache_provider {
  void* context;
  /* Offset token of the packed entry, or SIZE_MAX on a miss. */
  size_t (*look_up)(void* context, const struct weightkit_weights_cache_look_up_key* key);
  /* Writable memory for n bytes (file-backed when possible); NULL only when out of memory. */
  void* (*reserve_space)(void* context, size_t n);
  /* Commits ptr (a reservation or any buffer) and returns its token; never SIZE_MAX for a valid
   * insert. ptr == NULL behaves as look_up. */
  size_t (*look_up_or_insert)(void* context, const struct weightkit_weights_cache_look_up_key* key, void* ptr, size_t size);
  bool (*is_finalized)(void* context);
  /* The bytes for a token; NULL for an unknown token. */
  void* (*offset_to_addr)(void* context, size_t offset);
  enum weightkit_status (*delete_cache)(void* context);
  /* Declares that `alias` points at the same unpacked data as `original`. */
  enum weightkit_status (*alias_data)(void* context, void* alias, void* original);
};

typedef struct weightkit_cache weightkit_cache;

/* path NULL or "": heap only. On failure returns NULL and writes a message "WK_CODE: text". */
weightkit_cache* weightkit_cache_open(const char* path, char* error, size_t error_size);
/* Flags of weightkit_cache_open_with. POPULATE: read every packed page of the file in while
 * opening, so the first inference after a warm open takes no page faults. */
#define WEIGHTKIT_CACHE_POPULATE 1u
/* weightkit_cache_open with flags (0: the same). */
weightkit_cache* weightkit_cache_open_with(const char* path, unsigned flags, char* error, size_t error_size);
void weightkit_cache_close(weightkit_cache* cache);
struct weightkit_weights_cache_provider weightkit_cache_provider(weightkit_cache* cache);
/* Records the name of unpacked data at `data` (a weight or bias loaded from a named data map). */
void weightkit_cache_register_unpacked(weightkit_cache* cache, const char* name, const void* data);
void weightkit_cache_initialize_for_runtime(weightkit_cache* cache);
/* Flushes new file pages, bumps ref counts, forgets registered unpacked pointers, and calls
 * on_name for every entry this runtime used. */
enum weightkit_status weightkit_cache_finalize_for_runtime(weightkit_cache* cache,
                                                           void (*on_name)(void* user, const char* name), void* user);
void weightkit_cache_delete_packed_data(weightkit_cache* cache, const char* const* names, size_t count);
enum weightkit_status weightkit_cache_save(weightkit_cache* cache);

/* What the cache did so far (for logs and tests). */
struct weightkit_cache_counters {
  uint64_t hits, misses, packs, reserves;
  uint64_t entries, mapped_bytes, heap_bytes;
  uint64_t heap_fallback_bytes; /* packed on the heap although a file was configured */
  uint64_t corrupt_entries;     /* loaded entries whose checksum failed (packed again) */
  bool file_backed, writer, trusted;
};
void weightkit_cache_read_counters(weightkit_cache* cache, struct weightkit_cache_counters* out);

#ifdef __cplusplus
}
#endif

#endif /* WEIGHTKIT_XNNPACK_PROVIDER_H_ */
