// libFuzzer target: the walk a writer makes over unsaved regions after the
// last trailer when it repairs a file (region records, then data checksums).
#include <cstddef>
#include <cstdint>

#include "weightkit/byte_source.hpp"
#include "weightkit/xnnpack/xpwc.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weightkit::MemorySource src(data, size);
  uint64_t dropped = 0;
  // Small pages so short inputs hold several regions.
  auto regions = weightkit::xpwc::scan_regions(src, 0, size, 64, &dropped);
  if (regions.is_ok()) {
    for (const auto& r : regions.value()) {
      // Every region the walk keeps lies inside what it validated.
      if (r.data_offset > size || r.record.data_size > size - r.data_offset) __builtin_trap();
    }
    if (dropped > size) __builtin_trap();
  }
  return 0;
}
