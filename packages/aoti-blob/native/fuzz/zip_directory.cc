// libFuzzer target: zip central directories and local headers (.pt2 packages).
#include <cstddef>
#include <cstdint>

#include "weightkit/aoti/aoti.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weightkit::MemorySource src(data, size);
  auto dir = weightkit::aoti::read_zip_directory(src);
  if (dir.is_ok()) {
    for (const auto& m : dir.value().members) {
      if (m.data_offset > size || m.compressed_size > size - m.data_offset) __builtin_trap();
    }
  }
  return 0;
}
