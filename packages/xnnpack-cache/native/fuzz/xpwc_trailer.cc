// libFuzzer target: XPWC trailers, the index and weightkit's integrity
// record, as the cache reads them from an untrusted file.
#include <cstddef>
#include <cstdint>

#include "weightkit/byte_source.hpp"
#include "weightkit/xnnpack/xpwc.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weightkit::MemorySource src(data, size);
  auto found = weightkit::xpwc::find_last_trailer(src);
  if (found.is_ok() && found.value().trailer) {
    const auto& t = *found.value().trailer;
    // Every entry the parser accepts must lie inside what it validated.
    for (const auto& e : t.entries) {
      if (e.offset > t.index_start || e.size > t.index_start - e.offset) __builtin_trap();
    }
    if (t.integrity && t.integrity->size() != t.entries.size()) __builtin_trap();
  }
  (void)weightkit::xpwc::parse_trailer_at(src, size);
  return 0;
}
