// Parser of constants_info_ assignments in an AOTInductor wrapper.cpp.
// The text is untrusted: every token is bounded, every number range-checked.
#include <cctype>
#include <cstring>
#include <map>
#include <string>
#include <utility>

#include "weightkit/aoti/aoti.hpp"

namespace weightkit::aoti {
namespace {

constexpr size_t kMaxConstants = 1u << 22;
constexpr size_t kMaxRank = 64;
constexpr size_t kMaxString = 1u << 16;
constexpr std::string_view kPrefix = "constants_info_[";

Status bad(const std::string& msg) { return Status(Code::kBadFormat, "wrapper.cpp constants_info_: " + msg); }

struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool eof() const { return i >= s.size(); }
  char peek() const { return eof() ? '\0' : s[i]; }
  void skip_ws() {
    while (!eof() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    skip_ws();
    if (peek() != c) return false;
    ++i;
    return true;
  }
  bool eat(std::string_view w) {
    skip_ws();
    if (s.substr(i, w.size()) != w) return false;
    i += w.size();
    return true;
  }
  std::string_view ident() {
    skip_ws();
    size_t b = i;
    while (!eof() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == ':')) ++i;
    return s.substr(b, i - b);
  }
};

Result<int64_t> parse_int(Cursor& c, const std::string& what) {
  c.skip_ws();
  bool neg = c.eat('-');
  c.skip_ws();
  if (!std::isdigit(static_cast<unsigned char>(c.peek()))) return bad(what + ": expected an integer");
  uint64_t v = 0;
  while (std::isdigit(static_cast<unsigned char>(c.peek()))) {
    uint64_t d = static_cast<uint64_t>(c.peek() - '0');
    if (v > (static_cast<uint64_t>(INT64_MAX) - d) / 10) return bad(what + ": integer out of range");
    v = v * 10 + d;
    ++c.i;
  }
  while (c.peek() == 'L' || c.peek() == 'l' || c.peek() == 'U' || c.peek() == 'u') ++c.i;  // 1L, 2LL, 3UL
  return neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

Result<std::string> parse_string(Cursor& c, const std::string& what) {
  if (!c.eat('"')) return bad(what + ": expected a string literal");
  std::string out;
  while (true) {
    if (c.eof()) return bad(what + ": unterminated string");
    char ch = c.s[c.i++];
    if (ch == '"') break;
    if (ch == '\n') return bad(what + ": newline in string");
    if (ch == '\\') {
      if (c.eof()) return bad(what + ": unterminated escape");
      char e = c.s[c.i++];
      switch (e) {
        case 'n': ch = '\n'; break;
        case 't': ch = '\t'; break;
        case 'r': ch = '\r'; break;
        case '0': ch = '\0'; break;
        case '\\': case '"': case '\'': case '?': ch = e; break;
        case 'x': {
          int v = 0, n = 0;
          while (n < 2 && std::isxdigit(static_cast<unsigned char>(c.peek()))) {
            char h = c.s[c.i++];
            v = v * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
            ++n;
          }
          if (n == 0) return bad(what + ": bad \\x escape");
          ch = static_cast<char>(v);
          break;
        }
        default: return bad(what + ": unsupported escape \\" + std::string(1, e));
      }
    }
    out.push_back(ch);
    if (out.size() > kMaxString) return bad(what + ": string longer than 64 KiB");
  }
  return out;
}

Result<std::vector<int64_t>> parse_list(Cursor& c, const std::string& what) {
  if (!c.eat('{')) return bad(what + ": expected {...}");
  std::vector<int64_t> out;
  if (c.eat('}')) return out;
  while (true) {
    auto v = parse_int(c, what);
    if (!v.is_ok()) return v.status();
    out.push_back(v.value());
    if (out.size() > kMaxRank) return bad(what + ": more than 64 dimensions");
    if (c.eat('}')) return out;
    if (!c.eat(',')) return bad(what + ": expected ',' or '}'");
  }
}

// A symbolic value: `cached_torch_dtype_float32`, `static_cast<int32_t>(X)`,
// `torch::aot_inductor::ConstantType::Parameter`, or an integer literal.
// Returns the last identifier component (after the prefix) or the number.
struct Symbol {
  std::string ident;
  std::optional<int64_t> number;
};

Result<Symbol> parse_symbol(Cursor& c, const std::string& what) {
  c.skip_ws();
  bool cast = false;
  if (c.eat("static_cast")) {
    if (!c.eat('<')) return bad(what + ": malformed static_cast");
    while (!c.eof() && c.peek() != '>' && c.peek() != ';') ++c.i;
    if (!c.eat('>') || !c.eat('(')) return bad(what + ": malformed static_cast");
    cast = true;
  }
  Symbol sym;
  c.skip_ws();
  if (std::isdigit(static_cast<unsigned char>(c.peek())) || c.peek() == '-') {
    auto v = parse_int(c, what);
    if (!v.is_ok()) return v.status();
    sym.number = v.value();
  } else {
    std::string_view id = c.ident();
    if (id.empty()) return bad(what + ": expected a value");
    if (c.eat('(')) {  // aoti_torch_dtype_float32() style
      if (!c.eat(')')) return bad(what + ": malformed call");
    }
    size_t colon = id.rfind("::");
    sym.ident = std::string(colon == std::string_view::npos ? id : id.substr(colon + 2));
  }
  if (cast && !c.eat(')')) return bad(what + ": malformed static_cast");
  return sym;
}

Result<int32_t> dtype_code(const Symbol& s, const std::string& what) {
  if (s.number) {
    if (*s.number < 0 || *s.number > 1000) return bad(what + ": dtype code out of range");
    return static_cast<int32_t>(*s.number);
  }
  static const std::map<std::string, int32_t> kNames = {
      {"uint8", 0}, {"int8", 1}, {"int16", 2}, {"int32", 3}, {"int64", 4}, {"float16", 5}, {"float32", 6},
      {"float64", 7}, {"complex32", 8}, {"complex64", 9}, {"complex128", 10}, {"bool", 11}, {"qint8", 12},
      {"quint8", 13}, {"qint32", 14}, {"bfloat16", 15}, {"quint4x2", 16}, {"quint2x4", 17}, {"bits1x8", 18},
      {"bits2x4", 19}, {"bits4x2", 20}, {"bits8", 21}, {"bits16", 22}, {"float8_e5m2", 23}, {"float8_e4m3fn", 24},
      {"float8_e5m2fnuz", 25}, {"float8_e4m3fnuz", 26}, {"uint16", 27}, {"uint32", 28}, {"uint64", 29},
      {"uint1", 30}, {"uint2", 31}, {"uint3", 32}, {"uint4", 33}, {"uint5", 34}, {"uint6", 35}, {"uint7", 36},
      {"int1", 37}, {"int2", 38}, {"int3", 39}, {"int4", 40}, {"int5", 41}, {"int6", 42}, {"int7", 43},
      {"float8_e8m0fnu", 44}, {"float4_e2m1fn_x2", 45}};
  for (const char* prefix : {"cached_torch_dtype_", "aoti_torch_dtype_", "k"}) {
    size_t n = std::strlen(prefix);
    if (s.ident.compare(0, n, prefix) == 0) {
      auto it = kNames.find(s.ident.substr(n));
      if (it != kNames.end()) return it->second;
    }
  }
  return Status(Code::kUnsupported, "wrapper.cpp constants_info_: " + what + ": unknown dtype '" + s.ident + "'");
}

Result<int32_t> named_code(const Symbol& s, const std::string& what, const char* prefix,
                           std::initializer_list<std::pair<const char*, int32_t>> names) {
  if (s.number) {
    if (*s.number < 0 || *s.number > 1000) return bad(what + ": code out of range");
    return static_cast<int32_t>(*s.number);
  }
  std::string id = s.ident;
  size_t n = std::strlen(prefix);
  if (id.compare(0, n, prefix) == 0) id = id.substr(n);
  for (auto& [name, code] : names) {
    if (id == name) return code;
  }
  return bad(what + ": unknown value '" + s.ident + "'");
}

enum Field : unsigned {
  kName = 1, kDtype = 2, kOffset = 4, kDataSize = 8, kFromFolded = 16, kShape = 32, kStride = 64,
  kType = 128, kFqn = 256, kDevice = 512, kLayout = 1024, kOpaque = 2048,
};
constexpr unsigned kRequired = kName | kDtype | kOffset | kDataSize | kFromFolded | kShape | kStride;

Status parse_field(Cursor& c, std::string_view field, ConstInfo& ci, unsigned* bit, const std::string& what) {
  if (field == "name" || field == "original_fqn") {
    *bit = field == "name" ? kName : kFqn;
    auto s = parse_string(c, what);
    if (!s.is_ok()) return s.status();
    (field == "name" ? ci.name : ci.original_fqn) = std::move(s).value();
  } else if (field == "dtype") {
    *bit = kDtype;
    auto sym = parse_symbol(c, what);
    if (!sym.is_ok()) return sym.status();
    auto d = dtype_code(sym.value(), what);
    if (!d.is_ok()) return d.status();
    ci.dtype = d.value();
  } else if (field == "device_type") {
    *bit = kDevice;
    auto sym = parse_symbol(c, what);
    if (!sym.is_ok()) return sym.status();
    auto d = named_code(sym.value(), what, "cached_torch_device_type_",
                        {{"cpu", 0}, {"cuda", 1}, {"mkldnn", 2}, {"opengl", 3}, {"opencl", 4}, {"ideep", 5},
                         {"hip", 6}, {"fpga", 7}, {"maia", 8}, {"xla", 9}, {"vulkan", 10}, {"metal", 11},
                         {"xpu", 12}, {"mps", 13}, {"meta", 14}, {"hpu", 15}, {"privateuse1", 20}});
    if (!d.is_ok()) return d.status();
    ci.device_type = d.value();
  } else if (field == "layout") {
    *bit = kLayout;
    auto sym = parse_symbol(c, what);
    if (!sym.is_ok()) return sym.status();
    auto d = named_code(sym.value(), what, "cached_torch_layout_",
                        {{"strided", 0}, {"sparse", 1}, {"sparse_csr", 2}, {"_mkldnn", 3}, {"mkldnn", 3}});
    if (!d.is_ok()) return d.status();
    ci.layout = d.value();
  } else if (field == "type") {
    *bit = kType;
    auto sym = parse_symbol(c, what);
    if (!sym.is_ok()) return sym.status();
    auto d = named_code(sym.value(), what, "",
                        {{"Unknown", 0}, {"Parameter", 1}, {"Buffer", 2}, {"TensorConstant", 3}, {"FoldedConstant", 4}});
    if (!d.is_ok()) return d.status();
    ci.type = d.value();
  } else if (field == "offset") {
    *bit = kOffset;
    auto v = parse_int(c, what);
    if (!v.is_ok()) return v.status();
    if (v.value() < 0) return bad(what + ": negative offset");
    ci.offset = v.value();
  } else if (field == "data_size") {
    *bit = kDataSize;
    auto v = parse_int(c, what);
    if (!v.is_ok()) return v.status();
    if (v.value() < 0) return bad(what + ": negative data_size");
    ci.data_size = static_cast<uint64_t>(v.value());
  } else if (field == "from_folded") {
    *bit = kFromFolded;
    std::string_view b = c.ident();
    if (b == "true") ci.from_folded = true;
    else if (b == "false") ci.from_folded = false;
    else return bad(what + ": expected true or false");
  } else if (field == "shape" || field == "stride") {
    *bit = field == "shape" ? kShape : kStride;
    auto l = parse_list(c, what);
    if (!l.is_ok()) return l.status();
    for (int64_t d : l.value()) {
      if (d < 0) return bad(what + ": negative value " + std::to_string(d));
    }
    (field == "shape" ? ci.shape : ci.stride) = std::move(l).value();
  } else if (field == "opaque_metadata") {
    *bit = kOpaque;
    auto s = parse_string(c, what);  // mkldnn only; weightkit does not interpret it
    if (!s.is_ok()) return s.status();
  } else {
    *bit = 0;  // a field of a newer PyTorch: skip its value
    while (!c.eof() && c.peek() != ';') ++c.i;
  }
  if (!c.eat(';')) return bad(what + ": expected ';'");
  return Status::ok();
}

}  // namespace

Result<std::vector<ConstInfo>> parse_constants_info(std::string_view text) {
  std::vector<ConstInfo> out;
  std::vector<unsigned> seen;
  size_t pos = 0;
  while ((pos = text.find(kPrefix, pos)) != std::string_view::npos) {
    // `constants_info_[` must start an identifier, not end a longer one.
    if (pos > 0 && (std::isalnum(static_cast<unsigned char>(text[pos - 1])) || text[pos - 1] == '_')) {
      pos += kPrefix.size();
      continue;
    }
    Cursor c{text, pos + kPrefix.size()};
    auto idx = parse_int(c, "index");
    if (!idx.is_ok()) return idx.status();
    if (idx.value() < 0 || static_cast<uint64_t>(idx.value()) >= kMaxConstants) {
      return bad("index " + std::to_string(idx.value()) + " is out of range");
    }
    size_t i = static_cast<size_t>(idx.value());
    std::string what = "constants_info_[" + std::to_string(i) + "]";
    if (!c.eat(']') || !c.eat('.')) return bad(what + ": expected '].field'");
    std::string_view field = c.ident();
    if (field.empty()) return bad(what + ": missing field name");
    what += "." + std::string(field);
    if (!c.eat('=')) return bad(what + ": expected '='");
    if (i == out.size()) {
      out.emplace_back();
      seen.push_back(0);
    } else if (i > out.size()) {
      return bad(what + ": index " + std::to_string(i) + " appears before index " + std::to_string(out.size()) +
                 " (indices must be dense and in order)");
    }
    unsigned bit = 0;
    Status st = parse_field(c, field, out[i], &bit, what);
    if (!st.is_ok()) return st;
    if (bit && (seen[i] & bit)) return bad(what + " is set twice");
    seen[i] |= bit;
    pos = c.i;
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if ((seen[i] & kRequired) != kRequired) {
      static const std::pair<unsigned, const char*> kNames[] = {
          {kName, "name"}, {kDtype, "dtype"}, {kOffset, "offset"}, {kDataSize, "data_size"},
          {kFromFolded, "from_folded"}, {kShape, "shape"}, {kStride, "stride"}};
      std::string missing;
      for (auto& [b, n] : kNames) {
        if (!(seen[i] & b)) missing += std::string(missing.empty() ? "" : ", ") + n;
      }
      return bad("constants_info_[" + std::to_string(i) + "] is missing " + missing);
    }
    if (out[i].original_fqn.empty()) out[i].original_fqn = out[i].name;
    if (!(seen[i] & kType)) out[i].type = out[i].from_folded ? 4 : 1;
  }
  return out;
}

}  // namespace weightkit::aoti
