// The payload layout: the prefix-sum rule of AOTInductor's constants blob.
#include <string>

#include "weightkit/aoti/aoti.hpp"

namespace weightkit::aoti {

uint32_t torch_item_size(int32_t dtype) {
  switch (dtype) {
    case 0: case 1: case 11: case 12: case 13: case 16: case 17: case 18: case 19: case 20: case 21:
    case 23: case 24: case 25: case 26: case 44: case 45:
      return 1;
    case 2: case 5: case 15: case 22: case 27:
      return 2;
    case 3: case 6: case 8: case 14: case 28:
      return 4;
    case 4: case 7: case 9: case 29:
      return 8;
    case 10:
      return 16;
    default:
      // uint1..uint7 and int1..int7 are "shell" dtypes stored one per byte.
      return (dtype >= 30 && dtype <= 43) ? 1 : 0;
  }
}

namespace {
Status bad(const std::string& msg) { return Status(Code::kBadFormat, "AOTI payload: " + msg); }
}  // namespace

Result<PayloadLayout> layout_payload(std::vector<ConstInfo> constants) {
  PayloadLayout out;
  // PyTorch's loader places entries by prefix sum alone, whatever their
  // sizes: padding to 64 bytes is a writer's rule (unless every constant is
  // on CUDA), and the older codegen states no device at all. `padded` only
  // reports what the sizes show.
  out.padded = true;
  uint64_t cursor = 0;
  for (auto& c : constants) {
    const std::string what = "constant '" + c.name + "'";
    uint32_t item = torch_item_size(c.dtype);
    if (item == 0) return Status(Code::kUnsupported, "AOTI payload: " + what + " has unknown dtype code " + std::to_string(c.dtype));
    if (c.layout != 0 && !c.from_folded) {
      return Status(Code::kUnsupported, "AOTI payload: " + what + " has layout " + std::to_string(c.layout) + " (only strided tensors can be viewed)");
    }
    if (c.stride.size() != c.shape.size()) {
      return bad(what + " has " + std::to_string(c.stride.size()) + " strides for " + std::to_string(c.shape.size()) + " dimensions");
    }
    // Elements spanned: 1 + sum (shape[i]-1) * stride[i]; 0 for an empty tensor.
    uint64_t extent = 1;
    bool empty = false;
    for (size_t i = 0; i < c.shape.size(); ++i) {
      if (c.shape[i] == 0) empty = true;
    }
    if (empty) {
      extent = 0;
    } else {
      for (size_t i = 0; i < c.shape.size(); ++i) {
        uint64_t step;
        if (mul_overflows(static_cast<uint64_t>(c.shape[i] - 1), static_cast<uint64_t>(c.stride[i]), &step) ||
            add_overflows(extent, step, &extent)) {
          return bad(what + ": shape x stride overflows 64 bits");
        }
      }
    }
    uint64_t first_byte, view_bytes, end;
    if (mul_overflows(static_cast<uint64_t>(c.offset), item, &first_byte) || mul_overflows(extent, item, &view_bytes) ||
        add_overflows(first_byte, view_bytes, &end)) {
      return bad(what + ": storage offset and size overflow 64 bits");
    }
    PlacedConst placed;
    placed.info = std::move(c);
    if (placed.info.from_folded) {
      placed.payload_offset = UINT64_MAX;
      out.constants.push_back(std::move(placed));
      continue;
    }
    if (extent > 0 && end > placed.info.data_size) {
      return bad(what + " needs bytes [" + std::to_string(first_byte) + ", " + std::to_string(end) +
                 ") of its storage but data_size is " + std::to_string(placed.info.data_size));
    }
    if (placed.info.data_size % 64 != 0) out.padded = false;
    placed.payload_offset = cursor;
    placed.view_offset = cursor + first_byte;
    placed.view_bytes = view_bytes;
    if (add_overflows(cursor, placed.info.data_size, &cursor)) return bad("payload size overflows 64 bits");
    out.constants.push_back(std::move(placed));
  }
  out.payload_size = cursor;
  return out;
}

}  // namespace weightkit::aoti
