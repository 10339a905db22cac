// ELF64 symbol lookup: enough of the format to find where a data symbol's
// bytes are in the file, with every table bounds-checked first.
#include <string>
#include <vector>

#include "weightkit/aoti/aoti.hpp"

namespace weightkit::aoti {
namespace {

constexpr uint32_t kShtSymtab = 2, kShtStrtab = 3, kShtNobits = 8, kShtDynsym = 11;
constexpr uint64_t kMaxSymbols = 1u << 24;

struct Section {
  uint32_t type;
  uint64_t addr, offset, size;
  uint32_t link;
  uint64_t entsize;
};

Status bad(const ByteSource& src, const std::string& msg) {
  return Status(Code::kBadFormat, "ELF '" + src.name() + "': " + msg);
}

}  // namespace

Result<std::optional<ElfSymbol>> find_elf_symbol(const ByteSource& src, std::string_view name) {
  uint8_t eh[64];
  Status st = src.read(0, eh, sizeof eh);
  if (!st.is_ok()) return bad(src, "file is too small for an ELF header");
  if (eh[0] != 0x7f || eh[1] != 'E' || eh[2] != 'L' || eh[3] != 'F') return bad(src, "not an ELF file");
  if (eh[4] != 2 || eh[5] != 1) return Status(Code::kUnsupported, "ELF '" + src.name() + "': only 64-bit little-endian ELF is supported");
  const uint64_t shoff = load_le64(eh + 0x28);
  const uint16_t shentsize = load_le16(eh + 0x3a), shnum = load_le16(eh + 0x3c);
  if (shnum == 0) return std::optional<ElfSymbol>();
  if (shentsize != 64) return bad(src, "unexpected section header size " + std::to_string(shentsize));
  uint64_t table_end;
  if (add_overflows(shoff, uint64_t{shnum} * 64, &table_end) || table_end > src.size()) {
    return bad(src, "section headers lie outside the file");
  }
  auto raw = src.read_string(shoff, size_t{shnum} * 64);
  if (!raw.is_ok()) return raw.status();
  std::vector<Section> sections(shnum);
  for (size_t i = 0; i < shnum; ++i) {
    const auto* p = reinterpret_cast<const uint8_t*>(raw.value().data()) + i * 64;
    sections[i] = {load_le32(p + 4), load_le64(p + 16), load_le64(p + 24), load_le64(p + 32), load_le32(p + 40), load_le64(p + 56)};
    uint64_t end;
    if (sections[i].type != kShtNobits && (add_overflows(sections[i].offset, sections[i].size, &end) || end > src.size())) {
      return bad(src, "section " + std::to_string(i) + " lies outside the file");
    }
  }
  for (uint32_t want : {kShtSymtab, kShtDynsym}) {
    for (const auto& symtab : sections) {
      if (symtab.type != want) continue;
      if (symtab.entsize != 24) return bad(src, "symbol table entry size is not 24");
      if (symtab.link >= sections.size() || sections[symtab.link].type != kShtStrtab) {
        return bad(src, "symbol table has no string table");
      }
      const Section& strtab = sections[symtab.link];
      const uint64_t count = symtab.size / 24;
      if (count > kMaxSymbols) return bad(src, "too many symbols");
      // Streamed, and each candidate name read on its own: memory never
      // follows a table size a (possibly sparse) file declares.
      ChunkReader syms(src, symtab.offset, symtab.offset + count * 24);
      std::string candidate(name.size() + 1, '\0');
      for (uint64_t k = 0; k < count; ++k) {
        auto entry = syms.take(24);
        if (!entry.is_ok()) return entry.status();
        const uint8_t* s = entry.value();
        const uint32_t st_name = load_le32(s);
        if (st_name >= strtab.size || strtab.size - st_name < name.size() + 1) continue;
        Status rs = src.read(strtab.offset + st_name, candidate.data(), candidate.size());
        if (!rs.is_ok()) return rs;
        if (std::string_view(candidate).substr(0, name.size()) != name || candidate.back() != '\0') continue;
        uint16_t shndx = load_le16(s + 6);
        uint64_t value = load_le64(s + 8), size = load_le64(s + 16);
        if (shndx == 0 || shndx >= sections.size()) return bad(src, "symbol '" + std::string(name) + "' is not in a section");
        const Section& home = sections[shndx];
        uint64_t sym_end, sec_end;
        if (home.type == kShtNobits || value < home.addr || add_overflows(value, size, &sym_end) ||
            add_overflows(home.addr, home.size, &sec_end) || sym_end > sec_end) {
          return bad(src, "symbol '" + std::string(name) + "' lies outside its section");
        }
        return std::optional<ElfSymbol>(ElfSymbol{home.offset + (value - home.addr), size, value});
      }
    }
  }
  return std::optional<ElfSymbol>();
}

Result<AppendedPayload> locate_appended_payload(const ByteSource& so, uint64_t consts_size_plus_magic, uint64_t magic) {
  const uint64_t size = so.size();
  if (consts_size_plus_magic < 8 || consts_size_plus_magic > size) {
    return Status(Code::kBadFormat, "'" + so.name() + "': appended weights of " + std::to_string(consts_size_plus_magic) +
                                        " bytes do not fit in the " + std::to_string(size) + "-byte file (truncated?)");
  }
  const uint64_t start = size - consts_size_plus_magic;
  const uint64_t align = std::max<uint64_t>(16384, page_size());
  if (start % align != 0) {
    return Status(Code::kBadFormat, "'" + so.name() + "': appended weights start at " + std::to_string(start) +
                                        ", not a multiple of " + std::to_string(align));
  }
  uint8_t tail[8];
  Status st = so.read(size - 8, tail, 8);
  if (!st.is_ok()) return st;
  if (load_le64(tail) != magic) {
    return Status(Code::kBadFormat, "'" + so.name() + "': trailing magic does not match (weights data seems corrupt)");
  }
  return AppendedPayload{start, consts_size_plus_magic - 8};
}

}  // namespace weightkit::aoti
