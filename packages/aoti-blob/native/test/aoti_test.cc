// Tests of the AOTI core: the constants_info_ parser in both codegen forms,
// the payload rules, hostile text, and ELF lookup on this very executable.
#include <unistd.h>

#include <cstring>
#include <string>

#include "weightkit/aoti/aoti.hpp"
#include "weightkit/testing.hpp"

using namespace weightkit;
using namespace weightkit::aoti;

// A data symbol this test finds in its own executable.
extern "C" __attribute__((used)) const unsigned char wk_aoti_test_symbol[16] = {1, 2, 3, 4, 5, 6, 7, 8,
                                                                                 9, 10, 11, 12, 13, 14, 15, 16};

namespace {

const char* kNewForm = R"(
  constants_info_ = std::vector<ConstInfo>(3);
  constants_info_[0].name = "L__self___linear_weight";
  constants_info_[0].dtype = cached_torch_dtype_float32;
  constants_info_[0].device_type = cached_torch_device_type_cpu;
  constants_info_[0].offset = 0;
  constants_info_[0].data_size = 8192;
  constants_info_[0].from_folded = false;
  constants_info_[0].type = static_cast<int32_t>(torch::aot_inductor::ConstantType::Parameter);
  constants_info_[0].shape = {64, 32};
  constants_info_[0].stride = {32, 1};
  constants_info_[0].layout = static_cast<int32_t>(cached_torch_layout_strided);
  constants_info_[0].original_fqn = "linear.weight";
  constants_info_[1].name = "L__self___linear_bias";
  constants_info_[1].dtype = cached_torch_dtype_bfloat16;
  constants_info_[1].device_type = cached_torch_device_type_cpu;
  constants_info_[1].offset = 3;
  constants_info_[1].data_size = 192;
  constants_info_[1].from_folded = false;
  constants_info_[1].type = static_cast<int32_t>(torch::aot_inductor::ConstantType::Buffer);
  constants_info_[1].shape = {64};
  constants_info_[1].stride = {1};
  constants_info_[1].layout = static_cast<int32_t>(cached_torch_layout_strided);
  constants_info_[1].original_fqn = "linear.bias";
  constants_info_[2].name = "folded";
  constants_info_[2].dtype = cached_torch_dtype_float32;
  constants_info_[2].offset = 0;
  constants_info_[2].data_size = 256;
  constants_info_[2].from_folded = true;
  constants_info_[2].shape = {8, 8};
  constants_info_[2].stride = {8, 1};
)";

// Older codegen: static_cast dtype, no device_type or layout, fields reordered, odd spacing.
const char* kOldForm = R"(
constants_info_[0].dtype=static_cast<int32_t>(cached_torch_dtype_int64) ;
constants_info_[0].name   =   "w\"q\\x";
constants_info_[0].shape = { 2 , 3 };
constants_info_[0].stride = {3,1};
constants_info_[0].offset = 0L;
constants_info_[0].data_size = 64;
constants_info_[0].from_folded = false;
)";

}  // namespace

TEST_CASE("parses the newer codegen form") {
  auto r = parse_constants_info(kNewForm);
  CHECK(r.is_ok());
  auto& c = r.value();
  CHECK_EQ(c.size(), size_t{3});
  CHECK_EQ(c[0].name, std::string("L__self___linear_weight"));
  CHECK_EQ(c[0].original_fqn, std::string("linear.weight"));
  CHECK_EQ(c[0].dtype, 6);
  CHECK_EQ(c[0].shape, (std::vector<int64_t>{64, 32}));
  CHECK_EQ(c[0].type, 1);
  CHECK_EQ(c[1].dtype, 15);
  CHECK_EQ(c[1].type, 2);
  CHECK(c[2].from_folded);
  CHECK_EQ(c[2].type, 4);  // defaulted for folded constants
}

TEST_CASE("parses the older codegen form with escapes and any field order") {
  auto r = parse_constants_info(kOldForm);
  CHECK(r.is_ok());
  CHECK_EQ(r.value()[0].name, std::string("w\"q\\x"));
  CHECK_EQ(r.value()[0].original_fqn, r.value()[0].name);
  CHECK_EQ(r.value()[0].dtype, 4);
  CHECK_EQ(r.value()[0].device_type, 0);
}

TEST_CASE("lays out a padded payload by the prefix-sum rule, skipping folded constants") {
  auto l = layout_payload(parse_constants_info(kNewForm).value());
  CHECK(l.is_ok());
  CHECK(l.value().padded);
  CHECK_EQ(l.value().payload_size, uint64_t{8192 + 192});
  CHECK_EQ(l.value().constants[1].payload_offset, uint64_t{8192});
  CHECK_EQ(l.value().constants[1].view_offset, uint64_t{8192 + 3 * 2});  // storage offset 3 bf16 elements
  CHECK_EQ(l.value().constants[1].view_bytes, uint64_t{128});
  CHECK_EQ(l.value().constants[2].payload_offset, UINT64_MAX);
}

TEST_CASE("an all-CUDA payload is tight") {
  std::string text =
      "constants_info_[0].name = \"a\"; constants_info_[0].dtype = cached_torch_dtype_float16;"
      "constants_info_[0].device_type = cached_torch_device_type_cuda; constants_info_[0].offset = 0;"
      "constants_info_[0].data_size = 6; constants_info_[0].from_folded = false; constants_info_[0].shape = {3};"
      "constants_info_[0].stride = {1};"
      "constants_info_[1].name = \"b\"; constants_info_[1].dtype = cached_torch_dtype_uint8;"
      "constants_info_[1].device_type = cached_torch_device_type_cuda; constants_info_[1].offset = 0;"
      "constants_info_[1].data_size = 5; constants_info_[1].from_folded = false; constants_info_[1].shape = {5};"
      "constants_info_[1].stride = {1};";
  auto l = layout_payload(parse_constants_info(text).value());
  CHECK(l.is_ok());
  CHECK(!l.value().padded);
  CHECK_EQ(l.value().constants[1].payload_offset, uint64_t{6});
  CHECK_EQ(l.value().payload_size, uint64_t{11});
}

TEST_CASE("hostile constants_info_ text is refused with coded errors") {
  auto code = [](const std::string& t) { return parse_constants_info(t).status().code(); };
  const std::string ok = "constants_info_[0].name = \"a\"; constants_info_[0].dtype = cached_torch_dtype_float32;"
                         "constants_info_[0].offset = 0; constants_info_[0].data_size = 64; constants_info_[0].from_folded = false;";
  CHECK(code(ok + "constants_info_[0].shape = {4}; constants_info_[0].stride = {1};") == Code::kOk);
  CHECK(code(ok + "constants_info_[0].shape = {-4}; constants_info_[0].stride = {1};") == Code::kBadFormat);
  CHECK(code(ok + "constants_info_[0].shape = {99999999999999999999}; constants_info_[0].stride = {1};") == Code::kBadFormat);
  CHECK(code(ok + "constants_info_[0].shape = {4};") == Code::kBadFormat);                            // missing stride
  CHECK(code(ok + "constants_info_[0].shape = {4}; constants_info_[0].shape = {4}; constants_info_[0].stride = {1};") == Code::kBadFormat);
  CHECK(code("constants_info_[1].name = \"a\";") == Code::kBadFormat);                                  // out of order
  CHECK(code("constants_info_[-1].name = \"a\";") == Code::kBadFormat);
  CHECK(code("constants_info_[0].name = \"unterminated;") == Code::kBadFormat);
  CHECK(code("constants_info_[0].dtype = cached_torch_dtype_float99;") == Code::kUnsupported);
  CHECK(code("constants_info_[0].name = \"a\"") == Code::kBadFormat);                                   // no ';'
  CHECK(code(ok + "constants_info_[0].shape = {1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1};") == Code::kBadFormat);
  CHECK(code("") == Code::kOk);  // no constants at all is a valid (weightless) model
}

TEST_CASE("layout refuses data_size smaller than the view and overflow") {
  auto make = [](const std::string& shape, const std::string& stride, uint64_t data_size, int64_t offset) {
    ConstInfo c;
    c.name = "x";
    c.dtype = 6;
    c.data_size = data_size;
    c.offset = offset;
    auto s = parse_constants_info("constants_info_[0].name=\"x\"; constants_info_[0].dtype=cached_torch_dtype_float32;"
                                  "constants_info_[0].offset=" + std::to_string(offset) + "; constants_info_[0].data_size=" +
                                  std::to_string(data_size) + "; constants_info_[0].from_folded=false; constants_info_[0].shape=" +
                                  shape + "; constants_info_[0].stride=" + stride + ";");
    return layout_payload(s.value()).status().code();
  };
  CHECK(make("{16}", "{1}", 64, 0) == Code::kOk);
  CHECK(make("{16}", "{1}", 64, 1) == Code::kBadFormat);          // offset pushes past data_size
  CHECK(make("{17}", "{1}", 64, 0) == Code::kBadFormat);
  CHECK(make("{15}", "{1}", 60, 0) == Code::kOk);                 // tight: placed by prefix sum alone
  CHECK(make("{4611686018427387904, 4}", "{4, 1}", 64, 0) == Code::kBadFormat);
  CHECK(make("{0, 4}", "{4, 1}", 0, 0) == Code::kOk);
}

TEST_CASE("finds a data symbol in this executable through the ELF symbol table") {
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);  // weightkit refuses symlinks: resolve it
  CHECK(n > 0);
  exe[n > 0 ? n : 0] = '\0';
  auto src = FileSource::open(exe);
  CHECK(src.is_ok());
  if (!src.is_ok()) return;
  auto sym = find_elf_symbol(src.value(), "wk_aoti_test_symbol");
  CHECK(sym.is_ok());
  CHECK(sym.value().has_value());
  if (sym.value()) {
    CHECK_EQ(sym.value()->size, uint64_t{16});
    uint8_t b[16];
    CHECK(src.value().read(sym.value()->file_offset, b, 16).is_ok());
    CHECK(std::memcmp(b, wk_aoti_test_symbol, 16) == 0);
  }
  auto none = find_elf_symbol(src.value(), "no_such_symbol_anywhere");
  CHECK(none.is_ok() && !none.value().has_value());
  const char garbage[] = "\x7f" "ELF not really an elf file at all, and short";
  MemorySource mem(garbage, sizeof garbage);
  CHECK(!find_elf_symbol(mem, "x").is_ok());
}

TEST_CASE("zip reader refuses garbage and truncation") {
  const char junk[] = "PK\x03\x04 this is not a complete zip archive";
  MemorySource mem(junk, sizeof junk);
  CHECK(read_zip_directory(mem).status().code() == Code::kBadFormat);
  MemorySource empty("", 0);
  CHECK(read_zip_directory(empty).status().code() == Code::kBadFormat);
}

WEIGHTKIT_TEST_MAIN()
