// weightkit/aoti/aoti.hpp — the AOTInductor weights core: a catalog parsed
// from wrapper.cpp's constants_info_, the payload layout, and the containers
// the payload can live in (external blob, .pt2 zip, the .so itself).
// Plain C++17: no Node-API. Facts about the formats: docs/formats/aoti.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weightkit/byte_source.hpp"
#include "weightkit/status.hpp"
#include "weightkit/zip.hpp"

namespace weightkit::aoti {

/// One entry of constants_info_ (AOTInductor's ConstInfo).
struct ConstInfo {
  std::string name;
  std::string original_fqn;
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;
  int32_t dtype = -1;         // c10::ScalarType code
  int32_t device_type = 0;    // 0 CPU, 1 CUDA, ...
  int64_t offset = 0;         // storage offset, in elements
  uint64_t data_size = 0;     // bytes in the payload (padded)
  int32_t layout = 0;         // 0 strided
  bool from_folded = false;
  int32_t type = 0;           // ConstantType: 0 Unknown, 1 Parameter, 2 Buffer, 3 TensorConstant, 4 FoldedConstant
};

/// Parses every `constants_info_[i].field = value;` of a wrapper.cpp. Fields
/// may come in any order and with any whitespace; indices must start at 0,
/// first appear in increasing order, be dense, and set each field once.
Result<std::vector<ConstInfo>> parse_constants_info(std::string_view text);

/// Bytes per element in a torch storage for a c10 dtype code, 0 if unknown.
uint32_t torch_item_size(int32_t dtype);

/// A constant with its place in the payload.
struct PlacedConst {
  ConstInfo info;
  uint64_t payload_offset = 0;  // first byte of the entry in the payload (UINT64_MAX if folded)
  uint64_t view_offset = 0;     // first byte of the tensor's first element in the payload
  uint64_t view_bytes = 0;      // bytes spanned by the tensor's elements (strided extent)
};

struct PayloadLayout {
  std::vector<PlacedConst> constants;  // every constant, folded ones included
  uint64_t payload_size = 0;           // sum of non-folded data_size
  bool padded = true;                  // every non-folded data_size a multiple of 64 (else the entries are tight)
};

/// Applies the prefix-sum rule and validates every entry against it.
Result<PayloadLayout> layout_payload(std::vector<ConstInfo> constants);

// ---- zip (.pt2): core's reader ----------------------------------------

using weightkit::read_zip_directory;
using weightkit::ZipDirectory;
using weightkit::ZipMember;

// ---- ELF ---------------------------------------------------------------

struct ElfSymbol {
  uint64_t file_offset = 0;
  uint64_t size = 0;
  uint64_t value = 0;
};

/// Finds `name` in .symtab or .dynsym of a 64-bit little-endian ELF file and
/// maps it to a file range; nullopt when absent.
Result<std::optional<ElfSymbol>> find_elf_symbol(const ByteSource& src, std::string_view name);

/// The payload appended to a .so (USE_MMAP_SELF): `[.so][spaces][payload][i64 magic]`.
struct AppendedPayload {
  uint64_t offset = 0;
  uint64_t size = 0;
};

/// Locates an appended payload of `consts_size_plus_magic` (= payload + 8)
/// bytes ending with `magic`; checks the 16 KiB (or page) alignment rule.
Result<AppendedPayload> locate_appended_payload(const ByteSource& so, uint64_t consts_size_plus_magic, uint64_t magic);

// ---- a whole model -----------------------------------------------------

enum class SourceKind { kPt2, kFolder, kBlob, kSharedObject };
const char* source_kind_name(SourceKind k);

struct OpenOptions {
  std::string model;                     // model name inside a .pt2 / package folder ("" = the only one)
  std::optional<uint64_t> appended_size; // USE_MMAP_SELF: payload bytes + 8, when not read from the .so
  std::optional<uint64_t> appended_magic;
};

struct ModelLocation {
  SourceKind kind = SourceKind::kBlob;
  std::string key;                // file-name stem, e.g. "model" in model.wrapper.cpp
  std::string model;              // model name (package layouts), else ""
  std::vector<std::string> models;// every model in the package
  std::string payload_path;       // the file to map
  std::string payload_file_id;    // that file as validated (to_token of its identity): a mapping of another file is refused
  uint64_t payload_offset = 0;    // where the payload starts in it
  PayloadLayout layout;
  std::string metadata_json;      // <key>.wrapper_metadata.json, when present
};

/// Opens a .pt2, a package or model folder, a blob (with its wrapper.cpp
/// beside it) or a .so, and validates everything before returning where the
/// payload is. Nothing is mapped here.
Result<ModelLocation> locate_model(const std::string& path, const OpenOptions& options);

}  // namespace weightkit::aoti
