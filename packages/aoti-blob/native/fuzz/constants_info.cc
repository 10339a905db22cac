// libFuzzer target: constants_info_ text from an untrusted wrapper.cpp, and
// the payload layout computed from whatever it accepts.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "weightkit/aoti/aoti.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto constants = weightkit::aoti::parse_constants_info(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!constants.is_ok()) return 0;
  auto layout = weightkit::aoti::layout_payload(std::move(constants).value());
  if (layout.is_ok()) {
    for (const auto& c : layout.value().constants) {
      if (c.info.from_folded) continue;
      // A view must lie inside its entry, and the entry inside the payload.
      if (c.view_bytes && (c.view_offset < c.payload_offset || c.view_offset + c.view_bytes > c.payload_offset + c.info.data_size)) __builtin_trap();
      if (c.payload_offset + c.info.data_size > layout.value().payload_size) __builtin_trap();
    }
  }
  return 0;
}
