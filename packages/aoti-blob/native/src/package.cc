// Finding a model's weights: which file holds the payload, where in it, and
// the validated catalog that describes it. Reads headers and small members
// only; the payload itself is mapped later by the caller.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "weightkit/aoti/aoti.hpp"

namespace weightkit::aoti {
namespace fs = std::filesystem;
namespace {

constexpr uint64_t kMaxWrapperBytes = 512ull << 20;
constexpr uint64_t kMaxMetadataBytes = 16ull << 20;
constexpr std::string_view kAotiDir = "data/aotinductor/";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

/// One file of a model: a whole file in a folder, or a member of a .pt2.
struct FileRef {
  std::string path;     // file on disk
  uint64_t offset = 0;  // where the bytes start in it
  uint64_t size = 0;
  bool stored = true;   // false for a compressed zip member
  std::string display;  // for messages
};

using ModelFiles = std::map<std::string, FileRef>;  // file name in the model dir -> where

Result<std::string> read_file(const FileRef& f, uint64_t max) {
  if (!f.stored) {
    return Status(Code::kUnsupported, "'" + f.display + "' is compressed in the archive; weightkit reads stored (uncompressed) members only");
  }
  if (f.size > max) return Status(Code::kBadFormat, "'" + f.display + "' is larger than " + std::to_string(max) + " bytes");
  auto src = FileSource::open(f.path);
  if (!src.is_ok()) return src.status();
  return src.value().read_string(f.offset, static_cast<size_t>(f.size));
}

Result<ModelFiles> list_folder(const fs::path& dir) {
  ModelFiles files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec) || e.is_symlink(ec)) continue;
    FileRef f{e.path().string(), 0, static_cast<uint64_t>(e.file_size(ec)), true, e.path().string()};
    if (ec) return errno_status(ec.value(), "stat", e.path().string());
    files[e.path().filename().string()] = f;
  }
  if (ec) return errno_status(ec.value(), "list", dir.string());
  return files;
}

/// Picks the model's key from the names present: `<key>.wrapper.cpp`, else
/// the older `<key>.cpp` (kernel sources excluded).
Result<std::string> choose_key(const ModelFiles& files, const std::string& where, const std::string& preferred) {
  std::vector<std::string> keys;
  for (const auto& [name, f] : files) {
    if (ends_with(name, ".wrapper.cpp")) keys.push_back(name.substr(0, name.size() - 12));
  }
  if (keys.empty()) {
    for (const auto& [name, f] : files) {
      if (ends_with(name, ".cpp") && !ends_with(name, ".kernel.cpp")) keys.push_back(name.substr(0, name.size() - 4));
    }
  }
  if (!preferred.empty()) {
    if (std::find(keys.begin(), keys.end(), preferred) != keys.end()) return preferred;
    return Status(Code::kNotFound, "no " + preferred + ".wrapper.cpp next to the weights in " + where +
                                       " (its constants_info_ is the catalog weightkit needs)");
  }
  if (keys.empty()) return Status(Code::kNotFound, "no <key>.wrapper.cpp in " + where + " (is this an AOTInductor model?)");
  if (keys.size() > 1) {
    std::string list;
    for (auto& k : keys) list += (list.empty() ? "" : ", ") + k;
    return Status(Code::kBadFormat, where + " holds several wrapper sources (" + list + "); pass one of their files directly");
  }
  return keys.front();
}

const FileRef* find(const ModelFiles& files, std::initializer_list<std::string> names) {
  for (const auto& n : names) {
    auto it = files.find(n);
    if (it != files.end()) return &it->second;
  }
  return nullptr;
}

Status check_blob_size_against_so(const FileRef& so, uint64_t blob_size) {
  auto src = FileSource::open(so.path);
  if (!src.is_ok()) return src.status();
  SliceSource slice(src.value(), so.offset, so.size, so.display);
  auto sym = find_elf_symbol(slice, "_binary_constants_bin_start");
  if (!sym.is_ok()) return sym.status();
  if (!sym.value() || sym.value()->size < 8) return Status::ok();  // nothing to compare against
  uint8_t b[8];
  Status st = slice.read(sym.value()->file_offset, b, 8);
  if (!st.is_ok()) return st;
  if (load_le64(b) != blob_size) {
    return Status(Code::kBadFormat, "'" + so.display + "' expects a " + std::to_string(load_le64(b)) + "-byte weights blob, found " +
                                        std::to_string(blob_size) + " bytes");
  }
  return Status::ok();
}

/// Where the payload is when it lives in the .so (appended or embedded).
Status locate_in_so(const FileRef& so, const OpenOptions& opts, ModelLocation& loc) {
  auto src = FileSource::open(so.path);
  if (!src.is_ok()) return src.status();
  SliceSource slice(src.value(), so.offset, so.size, so.display);
  uint64_t plus_magic = 0, magic = 0;
  if (opts.appended_size && opts.appended_magic) {
    plus_magic = *opts.appended_size;
    magic = *opts.appended_magic;
  } else {
    auto start = find_elf_symbol(slice, "_binary_constants_bin_start");
    if (!start.is_ok()) return start.status();
    if (!start.value()) {
      return Status(Code::kNotFound, "'" + so.display + "' has no _binary_constants_bin_start symbol; pass the appended size and magic");
    }
    auto end = find_elf_symbol(slice, "_binary_constants_bin_end");
    if (!end.is_ok()) return end.status();
    uint64_t size = start.value()->size;
    if (end.value() && end.value()->value >= start.value()->value) size = end.value()->value - start.value()->value;
    if (size == 8) {
      return Status(Code::kNotFound, "'" + so.display + "' expects its weights in an external <key>.wrapper_weights.blob, which is missing");
    }
    if (size != 16) {
      // Embedded: the payload is the symbol's bytes.
      if (start.value()->file_offset > so.size || size > so.size - start.value()->file_offset) {
        return Status(Code::kBadFormat, "'" + so.display + "' embedded weights lie outside the file");
      }
      if (size < loc.layout.payload_size) {
        return Status(Code::kBadFormat, "'" + so.display + "' embeds " + std::to_string(size) + " bytes of weights but the catalog needs " +
                                            std::to_string(loc.layout.payload_size));
      }
      loc.payload_path = so.path;
      loc.payload_offset = so.offset + start.value()->file_offset;
      return Status::ok();
    }
    uint8_t b[16];
    Status st = slice.read(start.value()->file_offset, b, 16);
    if (!st.is_ok()) return st;
    plus_magic = load_le64(b);
    magic = load_le64(b + 8);
  }
  auto app = locate_appended_payload(slice, plus_magic, magic);
  if (!app.is_ok()) return app.status();
  if (app.value().size != loc.layout.payload_size) {
    return Status(Code::kBadFormat, "'" + so.display + "' appends " + std::to_string(app.value().size) +
                                        " bytes of weights but the catalog needs " + std::to_string(loc.layout.payload_size));
  }
  loc.payload_path = so.path;
  loc.payload_offset = so.offset + app.value().offset;
  return Status::ok();
}

Result<ModelLocation> locate_in_files(const ModelFiles& files, const std::string& where, const std::string& preferred_key,
                                      const OpenOptions& opts, SourceKind kind) {
  auto key = choose_key(files, where, preferred_key);
  if (!key.is_ok()) return key.status();
  const std::string& k = key.value();
  const FileRef* wrapper = find(files, {k + ".wrapper.cpp", k + ".cpp"});
  auto text = read_file(*wrapper, kMaxWrapperBytes);
  if (!text.is_ok()) return text.status();
  auto constants = parse_constants_info(text.value());
  if (!constants.is_ok()) {
    return Status(constants.status().code(), wrapper->display + ": " + constants.status().message());
  }
  auto layout = layout_payload(std::move(constants).value());
  if (!layout.is_ok()) return Status(layout.status().code(), wrapper->display + ": " + layout.status().message());

  ModelLocation loc;
  loc.kind = kind;
  loc.key = k;
  loc.layout = std::move(layout).value();
  if (const FileRef* meta = find(files, {k + ".wrapper_metadata.json", k + "_metadata.json"})) {
    auto m = read_file(*meta, kMaxMetadataBytes);
    if (!m.is_ok()) return m.status();
    loc.metadata_json = std::move(m).value();
  }
  const FileRef* so = find(files, {k + ".wrapper.so", k + ".so"});
  if (const FileRef* blob = find(files, {k + ".wrapper_weights.blob"})) {
    if (!blob->stored) {
      return Status(Code::kUnsupported, "'" + blob->display + "' is compressed in the archive and cannot be mapped in place; repackage it stored");
    }
    if (blob->size != loc.layout.payload_size) {
      return Status(Code::kBadFormat, "'" + blob->display + "' is " + std::to_string(blob->size) + " bytes but its catalog describes " +
                                          std::to_string(loc.layout.payload_size) + (blob->size < loc.layout.payload_size ? " (truncated?)" : ""));
    }
    if (so && so->stored) {
      Status st = check_blob_size_against_so(*so, blob->size);
      if (!st.is_ok()) return st;
    }
    loc.payload_path = blob->path;
    loc.payload_offset = blob->offset;
    return loc;
  }
  if (so) {
    if (!so->stored) return Status(Code::kUnsupported, "'" + so->display + "' is compressed in the archive");
    Status st = locate_in_so(*so, opts, loc);
    if (!st.is_ok()) return st;
    return loc;
  }
  if (loc.layout.payload_size == 0) return loc;  // every constant folded: nothing to map
  if (find(files, {"weights_config.json"})) {
    return Status(Code::kUnsupported, where + " stores weights in the pickle format (weights_config.json); export with the binary_blob format");
  }
  return Status(Code::kNotFound, "no weights next to " + wrapper->display + " (expected " + k + ".wrapper_weights.blob or " + k + ".wrapper.so)");
}

Result<std::string> choose_model(const std::set<std::string>& models, const std::string& wanted, const std::string& where) {
  std::string list;
  for (auto& m : models) list += (list.empty() ? "" : ", ") + m;
  if (!wanted.empty()) {
    if (models.count(wanted)) return wanted;
    return Status(Code::kNotFound, "no model '" + wanted + "' in " + where + " (models: " + (list.empty() ? "none" : list) + ")");
  }
  if (models.size() == 1) return *models.begin();
  if (models.empty()) return Status(Code::kNotFound, "no AOTInductor model in " + where + " (no data/aotinductor/<model>/)");
  return Status(Code::kBadArgument, where + " holds several models (" + list + "); choose one with the model option");
}

Result<ModelLocation> locate_in_pt2(const std::string& path, const FileSource& src, const OpenOptions& opts) {
  auto dir = read_zip_directory(src);
  if (!dir.is_ok()) return dir.status();
  // <root>/data/aotinductor/<model>/<file>
  std::set<std::string> models;
  for (const auto& m : dir.value().members) {
    size_t slash = m.name.find('/');
    if (slash == std::string::npos) continue;
    std::string_view rest = std::string_view(m.name).substr(slash + 1);
    if (rest.substr(0, kAotiDir.size()) != kAotiDir) continue;
    rest = rest.substr(kAotiDir.size());
    size_t s2 = rest.find('/');
    if (s2 != std::string_view::npos && s2 > 0) models.insert(std::string(rest.substr(0, s2)));
  }
  auto model = choose_model(models, opts.model, "'" + path + "'");
  if (!model.is_ok()) return model.status();
  ModelFiles files;
  for (const auto& m : dir.value().members) {
    size_t slash = m.name.find('/');
    if (slash == std::string::npos) continue;
    std::string prefix = m.name.substr(0, slash + 1) + std::string(kAotiDir) + model.value() + "/";
    if (m.name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string file = m.name.substr(prefix.size());
    if (file.empty() || file.find('/') != std::string::npos) continue;
    files[file] = FileRef{path, m.data_offset, m.compressed_size, m.method == 0, path + ":" + m.name};
  }
  auto loc = locate_in_files(files, "'" + path + "' model '" + model.value() + "'", "", opts, SourceKind::kPt2);
  if (!loc.is_ok()) return loc.status();
  loc.value().model = model.value();
  loc.value().models.assign(models.begin(), models.end());
  return loc;
}

/// The real path of `p`, which must lie inside the real `dir`: a symlinked
/// `data/` (or any folder on the way) cannot lead the reader out of the folder.
Result<fs::path> confined(const fs::path& dir, const fs::path& p) {
  std::error_code ec;
  const fs::path real_dir = fs::canonical(dir, ec);
  if (ec) return errno_status(ec.value(), "resolve", dir.string());
  const fs::path real = fs::canonical(p, ec);
  if (ec) return errno_status(ec.value(), "resolve", p.string());
  const std::string prefix = real_dir.string() + "/";
  if (real.string().compare(0, prefix.size(), prefix) != 0) {
    return Status(Code::kBadFormat, "'" + p.string() + "' resolves to '" + real.string() + "', outside the model folder '" +
                                        real_dir.string() + "' (a symlinked folder on the way)");
  }
  return real;
}

Result<ModelLocation> locate_in_folder(const fs::path& dir, const OpenOptions& opts) {
  std::error_code ec;
  fs::path root = dir;
  // An extracted package keeps its root folder: accept <dir>/<root>/data/aotinductor too.
  if (!fs::is_directory(root / "data" / "aotinductor", ec)) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.is_directory(ec) && !e.is_symlink(ec) && fs::is_directory(e.path() / "data" / "aotinductor", ec)) {
        root = e.path();
        break;
      }
    }
  }
  fs::path aoti = root / "data" / "aotinductor";
  if (fs::is_directory(aoti, ec)) {
    std::set<std::string> models;
    for (const auto& e : fs::directory_iterator(aoti, ec)) {
      if (e.is_directory(ec) && !e.is_symlink(ec)) models.insert(e.path().filename().string());
    }
    auto model = choose_model(models, opts.model, "'" + dir.string() + "'");
    if (!model.is_ok()) return model.status();
    auto real = confined(dir, aoti / model.value());
    if (!real.is_ok()) return real.status();
    auto files = list_folder(real.value());
    if (!files.is_ok()) return files.status();
    auto loc = locate_in_files(files.value(), "'" + (aoti / model.value()).string() + "'", "", opts, SourceKind::kFolder);
    if (!loc.is_ok()) return loc.status();
    loc.value().model = model.value();
    loc.value().models.assign(models.begin(), models.end());
    return loc;
  }
  auto files = list_folder(dir);
  if (!files.is_ok()) return files.status();
  return locate_in_files(files.value(), "'" + dir.string() + "'", "", opts, SourceKind::kFolder);
}

}  // namespace

const char* source_kind_name(SourceKind k) {
  switch (k) {
    case SourceKind::kPt2: return "pt2";
    case SourceKind::kFolder: return "folder";
    case SourceKind::kBlob: return "blob";
    case SourceKind::kSharedObject: return "so";
  }
  return "blob";
}

namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

/// The location with the descriptor's path replaced by the folder's own.
Result<ModelLocation> finish_open_folder(ModelLocation out, const std::string& via, const std::string& path) {
  if (out.payload_path.compare(0, via.size(), via) == 0) {
    // Mapped later by name: keep the name, and the file it named now.
    auto id = path_identity(out.payload_path);
    if (!id.is_ok()) return id.status();
    out.payload_file_id = to_token(id.value());
    out.payload_path = path + out.payload_path.substr(via.size());
  }
  return out;
}

/// True when `path` no longer names the folder open at `fd` (a writer swapped
/// a new one in, and may be deleting the old one's files under the reader).
bool folder_replaced(int fd, const std::string& path) {
  struct stat open_st, now;
  if (::fstat(fd, &open_st) != 0 || ::stat(path.c_str(), &now) != 0) return true;
  return open_st.st_dev != now.st_dev || open_st.st_ino != now.st_ino;
}

/// A folder's writer swaps it at most this many times during one read before the read gives up.
constexpr int kMaxFolderReads = 5;

/// A folder read through one open descriptor (/proc/self/fd/N), so that a
/// writer swapping the folder mid-read cannot make the reader mix two models:
/// every file comes from the folder as it was when it was opened. A read that
/// failed because the folder was swapped (its old files deleted) starts over.
Result<ModelLocation> locate_in_open_folder(const std::string& path, const OpenOptions& opts) {
  for (int attempt = 1;; ++attempt) {
    int fd;
    do {
      fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return errno_status(errno, "open", path);
    UniqueFd dir(fd);
    const std::string via = "/proc/self/fd/" + std::to_string(fd);
    struct stat probe;
    if (::stat(via.c_str(), &probe) != 0) return locate_in_folder(path, opts);  // no /proc: read by path
    auto loc = locate_in_folder(via, opts);
    Result<ModelLocation> done = loc.is_ok() ? finish_open_folder(std::move(loc).value(), via, path) : Result<ModelLocation>(loc.status());
    if (done.is_ok()) return done;
    if (folder_replaced(fd, path)) {
      if (attempt < kMaxFolderReads) continue;
      return Status(Code::kLocked, "'" + path + "' was replaced by a writer " + std::to_string(attempt) +
                                       " times while it was being opened; retry when the writing is done");
    }
    return Status(done.status().code(), replace_all(done.status().message(), via, path));
  }
}

}  // namespace

Result<ModelLocation> locate_model(const std::string& path, const OpenOptions& opts) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return errno_status(errno, "open", path);
  if (S_ISLNK(st.st_mode)) return Status(Code::kBadArgument, "'" + path + "' is a symbolic link; pass the real path");
  if (S_ISDIR(st.st_mode)) return locate_in_open_folder(path, opts);
  auto src = FileSource::open(path);
  if (!src.is_ok()) return src.status();
  uint8_t magic[4] = {0, 0, 0, 0};
  if (src.value().size() >= 4) {
    Status rs = src.value().read(0, magic, 4);
    if (!rs.is_ok()) return rs;
  }
  if (magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4) return locate_in_pt2(path, src.value(), opts);

  fs::path p(path);
  std::string file = p.filename().string();
  std::string key;
  SourceKind kind = SourceKind::kBlob;
  if (magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F') {
    kind = SourceKind::kSharedObject;
    key = ends_with(file, ".wrapper.so") ? file.substr(0, file.size() - 11) : ends_with(file, ".so") ? file.substr(0, file.size() - 3) : file;
  } else if (ends_with(file, ".wrapper_weights.blob")) {
    key = file.substr(0, file.size() - 21);
  } else if (ends_with(file, ".wrapper.cpp")) {
    key = file.substr(0, file.size() - 12);
    kind = SourceKind::kFolder;
  } else {
    return Status(Code::kUnsupported, "'" + path + "' is not an AOTInductor .pt2, model folder, <key>.wrapper_weights.blob or .so");
  }
  auto files = list_folder(p.has_parent_path() ? p.parent_path() : fs::path("."));
  if (!files.is_ok()) return files.status();
  if (kind == SourceKind::kSharedObject) {
    // The .so named is the one to read, whatever its sibling files are called.
    files.value()[key + ".wrapper.so"] = FileRef{path, 0, src.value().size(), true, path};
  }
  return locate_in_files(files.value(), "'" + (p.has_parent_path() ? p.parent_path().string() : ".") + "'", key, opts, kind);
}

}  // namespace weightkit::aoti
