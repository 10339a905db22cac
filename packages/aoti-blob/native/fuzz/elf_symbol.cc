// libFuzzer target: ELF symbol lookup and the appended-payload rules (.so files).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "weightkit/aoti/aoti.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weightkit::MemorySource src(data, size);
  auto sym = weightkit::aoti::find_elf_symbol(src, "_binary_constants_bin_start");
  if (sym.is_ok() && sym.value()) {
    const auto& s = *sym.value();
    if (s.file_offset > size || s.size > size - s.file_offset) __builtin_trap();
    if (s.size >= 16) {
      uint8_t b[16];
      if (src.read(s.file_offset, b, 16).is_ok()) {
        auto app = weightkit::aoti::locate_appended_payload(src, weightkit::load_le64(b), weightkit::load_le64(b + 8));
        if (app.is_ok() && (app.value().offset > size || app.value().size > size - app.value().offset)) __builtin_trap();
      }
    }
  }
  return 0;
}
