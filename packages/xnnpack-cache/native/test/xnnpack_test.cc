// Tests of the packed-weights cache core: checksums, packers against their
// reference unpack, the trailer format, the XNNPACK provider flow, reuse
// after reopening, and 8 threads sharing one cache.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "weightkit/testing.hpp"
#include "weightkit/xnnpack/cache.hpp"
#include "weightkit/xnnpack/packers.hpp"
#include "weightkit/xnnpack/provider.h"
#include "weightkit/xnnpack/xpwc.hpp"
#include "weightkit/xxhash64.hpp"

using namespace weightkit;
using namespace weightkit::xnnpack;

namespace {

std::string temp_path(const std::string& name) {
  std::string p = testing::temp_dir() + "/" + name;
  ::unlink(p.c_str());
  return p;
}

std::vector<float> random_floats(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

}  // namespace

TEST_CASE("XXH64 matches the reference test vectors") {
  CHECK_EQ(Xxh64::hash("", 0), 0xEF46DB3751D8E999ULL);
  CHECK_EQ(Xxh64::hash("a", 1), 0xD24EC4F1A98C6E5BULL);
  CHECK_EQ(Xxh64::hash("abc", 3), 0x44BC2CF5AD770999ULL);
  std::string long_text(1000, 'x');
  Xxh64 streamed;
  streamed.update(long_text.data(), 7);
  streamed.update(long_text.data() + 7, 993);
  CHECK_EQ(streamed.digest(), Xxh64::hash(long_text.data(), long_text.size()));
}

TEST_CASE("f32-gemm and qc8w pack and unpack back for several tile shapes") {
  for (auto [nr, kr, sr] : {std::tuple{16u, 1u, 1u}, {8u, 1u, 4u}, {4u, 2u, 2u}, {7u, 4u, 1u}}) {
    for (auto [nc, kc] : {std::pair<size_t, size_t>{1, 1}, {17, 9}, {33, 64}}) {
      auto w = random_floats(nc * kc, static_cast<unsigned>(nc * 31 + kc));
      auto b = random_floats(nc, 7);
      for (PackerKind kind : {PackerKind::kF32Gemm, PackerKind::kQc8w}) {
        Packer p{kind, nr, kr, sr};
        CHECK(p.validate().is_ok());
        auto size = p.packed_size(nc, kc);
        CHECK(size.is_ok());
        std::vector<uint8_t> packed(size.value(), 0xAB);
        if (kind == PackerKind::kF32Gemm) pack_f32_gemm(p, nc, kc, w.data(), b.data(), packed.data());
        else pack_qc8w(p, nc, kc, w.data(), b.data(), packed.data());
        std::vector<float> w2(nc * kc), b2(nc);
        unpack(p, nc, kc, packed.data(), w2.data(), b2.data());
        float max_err = 0;
        for (size_t i = 0; i < w.size(); ++i) max_err = std::max(max_err, std::fabs(w[i] - w2[i]));
        CHECK(kind == PackerKind::kF32Gemm ? max_err == 0 : max_err <= 1.0f / 127.0f + 1e-6f);
        CHECK(std::memcmp(b.data(), b2.data(), nc * sizeof(float)) == 0);
        // The same matrix stored transposed ([kc, nc], TF-style) packs to the same bytes,
        // over a buffer filled differently: the packers write every byte, padding
        // included, which the pack job's reserve_space_for_overwrite relies on.
        std::vector<float> wt(nc * kc);
        for (size_t n = 0; n < nc; ++n) for (size_t k = 0; k < kc; ++k) wt[k * nc + n] = w[n * kc + k];
        std::vector<uint8_t> packed_t(size.value(), 0xCD);
        pack(p, nc, kc, wt.data(), b.data(), packed_t.data(), SourceLayout::kInOut);
        CHECK(packed_t == packed);
      }
    }
  }
  Packer bad{PackerKind::kF32Gemm, 4, 3, 1};
  CHECK(bad.validate().code() == Code::kBadArgument);
}

TEST_CASE("the f32-gemm layout is XNNPACK's: bias first per tile, then k-major rows of nr") {
  Packer p{PackerKind::kF32Gemm, 2, 1, 1};
  const float w[] = {1, 2, 3, 4, 5, 6};  // nc = 3, kc = 2
  const float b[] = {10, 20, 30};
  std::vector<float> out(p.packed_size(3, 2).value() / sizeof(float));
  pack_f32_gemm(p, 3, 2, w, b, out.data());
  const float expected[] = {10, 20, 1, 3, 2, 4, 30, 0, 5, 0, 6, 0};
  CHECK_EQ(out.size(), size_t{12});
  CHECK(std::memcmp(out.data(), expected, sizeof expected) == 0);
}

TEST_CASE("trailers round-trip and hostile footers are refused") {
  std::vector<xpwc::IndexEntry> entries = {{"ab", 0, 100, 7}, {"c", 4096, 5, 9}};
  std::vector<xpwc::EntryIntegrity> integ = {{111, 1, 1, 0}, {222, 2, 1, 99}};
  std::string file(8192, 'x');
  file += xpwc::serialize_trailer(entries, integ, file.size()).bytes;
  MemorySource src(file.data(), file.size());
  auto t = xpwc::parse_trailer_at(src, file.size());
  CHECK(t.is_ok());
  CHECK_EQ(t.value().entries.size(), size_t{2});
  CHECK_EQ(t.value().entries[1].name, std::string("c"));
  CHECK(t.value().integrity.has_value());
  CHECK_EQ((*t.value().integrity)[1].input_hash, uint64_t{99});

  std::string flipped = file;
  flipped[flipped.size() - 40] ^= 1;  // inside the index: the integrity record catches it
  MemorySource fsrc(flipped.data(), flipped.size());
  CHECK(!xpwc::parse_trailer_at(fsrc, flipped.size()).is_ok());

  std::string truncated = file.substr(0, file.size() - 3);
  MemorySource tsrc(truncated.data(), truncated.size());
  CHECK(!xpwc::parse_trailer_at(tsrc, truncated.size()).is_ok());
  auto found = xpwc::find_last_trailer(tsrc);
  CHECK(found.is_ok() && !found.value().trailer);

  std::string appended = file + std::string(5000, '\0');  // a crash left data after the trailer
  MemorySource asrc(appended.data(), appended.size());
  auto rec = xpwc::find_last_trailer(asrc);
  CHECK(rec.is_ok() && rec.value().trailer && rec.value().recovered);
}

namespace {
struct Names {
  std::vector<std::string> list;
  static void add(void* self, const char* n) { static_cast<Names*>(self)->list.emplace_back(n); }
};

// What an XNNPACK operator does with a provider: look up, on a miss reserve, pack, insert.
size_t operator_setup(weightkit_weights_cache_provider& p, const float* w, const float* b, size_t nc, size_t kc, int* packs) {
  Packer packer;
  weightkit_weights_cache_look_up_key key{packer.seed(nc, kc), w, b, packer.id()};
  size_t off = p.look_up(p.context, &key);
  if (off != SIZE_MAX) return off;
  size_t n = packer.packed_size(nc, kc).value();
  void* mem = p.reserve_space(p.context, n);
  std::memset(mem, 0, n);
  pack_f32_gemm(packer, nc, kc, w, b, mem);
  ++*packs;
  return p.look_up_or_insert(p.context, &key, mem, n);
}
}  // namespace

TEST_CASE("the provider serves XNNPACK's protocol and the next process packs nothing") {
  const std::string path = temp_path("provider.xpwc");
  auto w = random_floats(64 * 32, 1);
  auto b = random_floats(64, 2);
  std::vector<uint8_t> expected(Packer().packed_size(64, 32).value());
  pack_f32_gemm(Packer(), 64, 32, w.data(), b.data(), expected.data());
  for (int process = 0; process < 2; ++process) {
    char err[256] = "";
    weightkit_cache* c = weightkit_cache_open(path.c_str(), err, sizeof err);
    CHECK(c != nullptr);
    if (!c) return;
    // Each "process" loads the unpacked weights at new addresses.
    std::vector<float> w_copy = w, b_copy = b;
    weightkit_cache_initialize_for_runtime(c);
    weightkit_cache_register_unpacked(c, "fc.weight", w_copy.data());
    weightkit_cache_register_unpacked(c, "fc.bias", b_copy.data());
    auto p = weightkit_cache_provider(c);
    int packs = 0;
    size_t off = operator_setup(p, w_copy.data(), b_copy.data(), 64, 32, &packs);
    CHECK(off != SIZE_MAX);
    CHECK_EQ(packs, process == 0 ? 1 : 0);
    Names names;
    CHECK(weightkit_cache_finalize_for_runtime(c, Names::add, &names) == weightkit_status_success);
    CHECK(p.is_finalized(p.context));
    CHECK_EQ(names.list.size(), size_t{1});
    CHECK_EQ(names.list[0], std::string("fc.weightfc.bias"));
    CHECK(std::memcmp(p.offset_to_addr(p.context, off), expected.data(), expected.size()) == 0);
    CHECK(p.offset_to_addr(p.context, 12345) == nullptr);
    CHECK(off < 1000);  // tokens are ids, never addresses
    CHECK(weightkit_cache_save(c) == weightkit_status_success);
    const char* n0 = names.list[0].c_str();
    weightkit_cache_delete_packed_data(c, &n0, 1);
    weightkit_cache_close(c);
  }
  // Unknown pointers are still served, and never persisted.
  weightkit_cache* c = weightkit_cache_open(path.c_str(), nullptr, 0);
  auto p = weightkit_cache_provider(c);
  int packs = 0;
  auto w2 = random_floats(16 * 8, 3);
  CHECK(operator_setup(p, w2.data(), nullptr, 16, 8, &packs) != SIZE_MAX);
  weightkit_weights_cache_look_up_key null_key{0, nullptr, nullptr, 0};
  CHECK(p.look_up(p.context, &null_key) == SIZE_MAX);
  weightkit_cache_close(c);
}

TEST_CASE("8 threads share one cache: lookups, inserts and releases") {
  auto opened = PackedWeightsCache::open(CacheOptions{temp_path("threads.xpwc")});
  CHECK(opened.is_ok());
  auto cache = opened.value();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        EntryKey key{"w" + std::to_string((i * 7 + t) % 50), 1, 1, 1, 0, false};
        auto hit = cache->look_up(key);
        if (!hit) {
          size_t n = 256 + (std::hash<std::string>()(key.name) % 1000);
          auto* mem = static_cast<uint8_t*>(cache->reserve_space(n));
          if (!mem) { failures++; continue; }
          std::memset(mem, key.name.back(), n);
          auto v = cache->look_up_or_insert(key, mem, n);
          if (!v.is_ok() || v.value().data[0] != static_cast<uint8_t>(key.name.back())) failures++;
        } else if (hit->data[0] != static_cast<uint8_t>(key.name.back())) {
          failures++;
        }
        if (i % 50 == 0) cache->delete_packed_data({key.name});
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_EQ(failures.load(), 0);
  auto report = cache->verify();
  CHECK(report.is_ok() && report.value().bad.empty());
  CHECK(cache->save().is_ok());
}

namespace {

// An independent writer of ExecuTorch's layout (regions at page-aligned
// offsets, the index, the footer; no weightkit records), for files that
// ExecuTorch writes and weightkit must serve.
struct EtRegion {
  std::string name;
  std::string data;
  uint32_t seed;
};
void put_le(std::string& s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::string executorch_file(const std::vector<EtRegion>& regions, uint32_t version, std::string index_extra = "") {
  std::string f, index;
  for (const auto& r : regions) {
    f.resize((f.size() + 4095) / 4096 * 4096, '\0');
    put_le(index, r.name.size(), 4);
    index += r.name;
    put_le(index, f.size(), 8);
    put_le(index, r.data.size(), 8);
    if (version == 2) put_le(index, r.seed, 4);
    f += r.data;
  }
  f.resize((f.size() + 4095) / 4096 * 4096, '\0');
  const uint64_t index_start = f.size();
  f += index + index_extra;
  put_le(f, index_start, 8);
  put_le(f, regions.size(), 4);
  put_le(f, 0x58505743, 4);
  put_le(f, version, 4);
  return f;
}
void write_file(const std::string& path, const std::string& bytes) {
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0 && ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}
std::string read_file(const std::string& path) {
  auto src = FileSource::open(path);
  if (!src.is_ok()) return "";
  return src.value().read_string(0, src.value().size()).value();
}
// The rule ExecuTorch's loader applies: a valid footer in the last 20 bytes.
bool footer_at_eof(const std::string& path) {
  auto src = FileSource::open(path);
  return src.is_ok() && xpwc::parse_trailer_at(src.value(), src.value().size()).is_ok();
}
EntryKey key_of(const std::string& name, uint32_t seed, uint32_t fingerprint = 0) { return EntryKey{name, seed, fingerprint, 0, 0, false}; }
std::shared_ptr<PackedWeightsCache> open_cache(const std::string& path, int wait = 0) {
  CacheOptions o;
  o.path = path;
  o.lock_wait_ms = wait;
  auto r = PackedWeightsCache::open(o);
  CHECK(r.is_ok());
  return r.is_ok() ? r.value() : nullptr;
}
bool insert_bytes(PackedWeightsCache& c, const EntryKey& k, char fill, size_t n) {
  auto* mem = static_cast<char*>(c.reserve_space(n));
  std::memset(mem, fill, n);
  return c.look_up_or_insert(k, mem, n).is_ok();
}
// A child process that packs `count` entries and dies by SIGKILL before any
// save: what a kill -9 mid-pack leaves behind.
void killed_writer(const std::string& path, int count, bool save_first) {
  pid_t pid = ::fork();
  if (pid == 0) {
    auto c = open_cache(path);
    if (save_first) {
      insert_bytes(*c, key_of("saved", 1), 's', 5000);
      (void)c->finalize_for_runtime();
    }
    for (int i = 0; i < count; ++i) insert_bytes(*c, key_of("unsaved" + std::to_string(i), 1), static_cast<char>('a' + i), 3000 + i);
    ::kill(::getpid(), SIGKILL);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace

TEST_CASE("ExecuTorch's files are served as ExecuTorch reads them: fingerprints, v1 seeds, repeated names, slack") {
  const std::string path = temp_path("et.xpwc");
  write_file(path, executorch_file({{"a.weighta.bias", std::string(5000, 'A'), 11}, {"b", std::string(100, 'B'), 22}, {"b", std::string(64, 'C'), 33}},
                                   2, std::string(7, 'z')));  // unexplained bytes after the index: ExecuTorch does not look
  auto c = open_cache(path);
  // XNNPACK always passes a fingerprint; ExecuTorch stores none: any matches.
  auto hit = c->look_up(key_of("a.weighta.bias", 11, 0x0c208200));
  CHECK(hit.has_value() && hit->size == 5000 && hit->data[0] == 'A');
  CHECK(!c->look_up(key_of("a.weighta.bias", 12, 0x0c208200)));  // v2: the seed must match
  auto b = c->look_up(key_of("b", 33));                            // the last of a repeated name wins
  CHECK(b.has_value() && b->size == 64 && b->data[0] == 'C');
  c.reset();

  const std::string v1 = temp_path("et-v1.xpwc");
  write_file(v1, executorch_file({{"w", std::string(300, 'W'), 0}}, 1));
  c = open_cache(v1);
  CHECK(c->look_up(key_of("w", 0xdeadbeef, 7)).has_value());  // v1 stores no seed: seed-blind, as ExecuTorch v1
  c.reset();

  // A name far over 64 KiB is accepted, as ExecuTorch accepts it.
  const std::string longname = temp_path("long.xpwc");
  std::string name(70000, 'n');
  write_file(longname, executorch_file({{name, "xyz", 1}}, 2));
  c = open_cache(longname);
  CHECK(c->look_up(key_of(name, 1)).has_value());
  CHECK(c->stats().rebuilt_from.empty());
}

TEST_CASE("an entry with a stored fingerprint matches only that fingerprint") {
  const std::string path = temp_path("fp.xpwc");
  {
    auto c = open_cache(path);
    CHECK(insert_bytes(*c, key_of("fc", 5, 0x0c208200), 'f', 1000));
    CHECK(c->finalize_for_runtime().is_ok());
  }
  auto c = open_cache(path);
  CHECK(c->look_up(key_of("fc", 5, 0x0c208200)).has_value());
  CHECK(!c->look_up(key_of("fc", 5, 0x0c208201)));
  CHECK(!c->look_up(key_of("fc", 5, 0)));
}

TEST_CASE("finalize and close leave a footer at EOF that indexes every entry") {
  const std::string path = temp_path("eof.xpwc");
  auto c = open_cache(path);
  CHECK(insert_bytes(*c, key_of("one", 1, 9), '1', 7000));
  CHECK(!footer_at_eof(path));  // mid-pack: regions after the first trailer
  CHECK(c->finalize_for_runtime().is_ok());
  CHECK(footer_at_eof(path));
  CHECK(insert_bytes(*c, key_of("two", 1, 9), '2', 100));
  c.reset();  // closed without save()
  CHECK(footer_at_eof(path));
  auto info = inspect_file(path);
  CHECK(info.is_ok() && info.value().entries.size() == 2 && info.value().footer_at_eof);
}

TEST_CASE("a writer killed mid-pack: the next open repairs the file, keeping whole regions") {
  const std::string path = temp_path("killed.xpwc");
  killed_writer(path, 3, true);
  CHECK(!footer_at_eof(path));
  // Damage the last unsaved region's data: its record no longer vouches for it.
  std::string bytes = read_file(path);
  bytes[bytes.size() - 4096 + 300] ^= 0x55;  // inside the last region's data
  write_file(path, bytes);
  auto c = open_cache(path);
  CHECK(footer_at_eof(path));
  auto s = c->stats();
  CHECK(s.recovered && s.writer);
  CHECK_EQ(s.repaired_entries, uint64_t{2});
  CHECK(c->look_up(key_of("saved", 1)).has_value());
  CHECK(c->look_up(key_of("unsaved0", 1)).has_value());
  CHECK(c->look_up(key_of("unsaved1", 1)).has_value());
  CHECK(!c->look_up(key_of("unsaved2", 1)));
  auto info = inspect_file(path);
  CHECK(info.is_ok() && info.value().entries.size() == 3);

  // A brand-new file whose first pack was killed is still recognisably a cache.
  const std::string fresh = temp_path("killed-fresh.xpwc");
  killed_writer(fresh, 2, false);
  auto f = open_cache(fresh);
  CHECK(f != nullptr && f->stats().repaired_entries == 2 && footer_at_eof(fresh));
}

TEST_CASE("a file that is not a cache is refused and left as it is; a damaged cache is moved aside") {
  const std::string path = temp_path("model.safetensors");
  std::string model = "\x10\0\0\0\0\0\0\0{\"a\":{}}      " + std::string(5000, 'm');
  write_file(path, model);
  CacheOptions o;
  o.path = path;
  auto r = PackedWeightsCache::open(o);
  CHECK(!r.is_ok() && r.status().code() == Code::kBadFormat);
  CHECK(read_file(path) == model);

  const std::string damaged = temp_path("damaged.xpwc");
  std::string et = executorch_file({{"w", "abc", 1}}, 2);
  et[et.size() - 20] = 0x7f;  // index_start past the footer: ExecuTorch rejects (and would wipe) it
  et[et.size() - 13] = 0x7f;
  write_file(damaged, et);
  auto c = open_cache(damaged);
  CHECK(c != nullptr && !c->stats().rebuilt_from.empty() && read_file(c->stats().rebuilt_from) == et);

  // An integrity record that no longer matches the index: ExecuTorch still
  // reads the file, so weightkit leaves it alone and packs on the heap.
  const std::string edited = temp_path("edited.xpwc");
  {
    auto w = open_cache(edited);
    insert_bytes(*w, key_of("x", 1), 'x', 100);
    (void)w->finalize_for_runtime();
  }
  std::string e = read_file(edited);
  e[e.size() - 21] ^= 1;  // the last index byte (the integrity entry's seed)
  write_file(edited, e);
  auto ce = open_cache(edited);
  CHECK(ce != nullptr && !ce->stats().refused.empty() && ce->stats().rebuilt_from.empty());
  CHECK(insert_bytes(*ce, key_of("y", 1), 'y', 100));
  ce.reset();
  CHECK(read_file(edited) == e);

  // A footer of a version weightkit does not know: untouched, on the heap.
  const std::string future = temp_path("v3.xpwc");
  std::string v3 = executorch_file({{"w", "abc", 1}}, 3);
  write_file(future, v3);
  auto cf = open_cache(future);
  CHECK(cf != nullptr && cf->stats().fallback_bytes[0] == 0 && !cf->stats().refused.empty());
  cf.reset();
  CHECK(read_file(future) == v3);
}

TEST_CASE("a failed open never hangs and an open waiting for a compaction lands on the new file") {
  const std::string path = temp_path("compacting.xpwc");
  {
    auto c = open_cache(path);
    insert_bytes(*c, key_of("old", 1), 'o', 100);
    (void)c->finalize_for_runtime();
  }
  // A "compaction" holds the users lock exclusively.
  int held = ::open(path.c_str(), O_RDWR);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 1;
  fl.l_len = 1;
  CHECK(::fcntl(held, F_OFD_SETLK, &fl) == 0);
  for (int i = 0; i < 3; ++i) {
    CacheOptions o;
    o.path = path;
    auto r = PackedWeightsCache::open(o);  // used to deadlock on the registry lock
    CHECK(!r.is_ok() && r.status().code() == Code::kLocked);
  }
  // One waits while the compaction renames a new file over the path.
  std::shared_ptr<PackedWeightsCache> waiter;
  std::thread t([&] { waiter = open_cache(path, 5000); });
  ::usleep(100 * 1000);
  const std::string replacement = temp_path("replacement.xpwc");
  {
    auto c = open_cache(replacement);
    insert_bytes(*c, key_of("new", 1), 'n', 100);
    (void)c->finalize_for_runtime();
  }
  CHECK(::rename(replacement.c_str(), path.c_str()) == 0);
  ::close(held);
  t.join();
  CHECK(waiter != nullptr);
  CHECK(insert_bytes(*waiter, key_of("after", 1), 'a', 100));
  (void)waiter->finalize_for_runtime();
  waiter.reset();
  auto info = inspect_file(path);
  bool found = false;
  for (const auto& e : info.value().entries) found |= e.name == "after";
  CHECK(found);  // saved into the file that is at the path, not into the replaced one
}

TEST_CASE("loaded entries are checksummed on first use unless the file is stamped as verified") {
  const std::string path = temp_path("verify.xpwc");
  {
    auto c = open_cache(path);
    insert_bytes(*c, key_of("good", 1), 'g', 20000);
    insert_bytes(*c, key_of("flip", 1), 'f', 20000);
    (void)c->finalize_for_runtime();
  }
  {
    auto c = open_cache(path);
    CHECK(c->stats().trusted);  // as the writer left it
    CHECK(c->look_up(key_of("flip", 1)).has_value());
  }
  auto info = inspect_file(path).value();
  const xpwc::IndexEntry* flip = nullptr;
  for (const auto& e : info.entries) if (e.name == "flip") flip = &e;
  int fd = ::open(path.c_str(), O_RDWR);
  char x = 'F';
  CHECK(::pwrite(fd, &x, 1, static_cast<off_t>(flip->offset + 777)) == 1);
  ::close(fd);
  // verify_file hashes entries on several threads: the damaged one, and only it, is named.
  const auto report = verify_file(path).value();
  CHECK(report.bad == std::vector<std::string>{"flip"});
  CHECK_EQ(report.checked, uint64_t{2});
  auto c = open_cache(path);
  CHECK(!c->stats().trusted);
  CHECK(c->look_up(key_of("good", 1)).has_value());
  CHECK(!c->look_up(key_of("flip", 1)));  // never served
  CHECK_EQ(c->stats().corrupt_entries, uint64_t{1});
  CHECK(insert_bytes(*c, key_of("flip", 1), 'f', 20000));
  (void)c->finalize_for_runtime();
  c.reset();
  CHECK(verify_file(path).value().bad.empty());
}

TEST_CASE("the backward scan is linear: a file of fake footers costs a bounded read") {
  // 4 MiB of footers, each claiming the whole file before it as its index.
  std::string f(4 << 20, '\0');
  for (size_t at = 20; at + 20 <= f.size(); at += 20) {
    std::string foot;
    put_le(foot, 0, 8);
    put_le(foot, 1, 4);
    put_le(foot, 0x58505743, 4);
    put_le(foot, 2, 4);
    std::memcpy(&f[at], foot.data(), 20);
  }
  f[f.size() - 1] = 9;  // the footer at EOF has version 9... still a candidate-free end
  struct Counting final : ByteSource {
    explicit Counting(const std::string& s) : mem(s.data(), s.size()) {}
    uint64_t size() const override { return mem.size(); }
    const std::string& name() const override { return mem.name(); }
    mutable uint64_t bytes = 0;
    MemorySource mem;
    Status read_unchecked(uint64_t off, void* out, size_t n) const override {
      bytes += n;
      return mem.read(off, out, n);
    }
  } src(f);
  auto found = xpwc::find_last_trailer(src);
  CHECK(found.is_ok());
  CHECK(src.bytes <= 4 * f.size() + (uint64_t{32} << 20));
}

TEST_CASE("a sparse file with a huge index is refused without reading it") {
  const std::string path = temp_path("sparse.xpwc");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  const uint64_t size = uint64_t{2} << 30;
  CHECK(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  std::string foot;
  put_le(foot, 4096, 8);
  put_le(foot, 1, 4);
  put_le(foot, 0x58505743, 4);
  put_le(foot, 2, 4);
  CHECK(::pwrite(fd, foot.data(), 20, static_cast<off_t>(size - 20)) == 20);
  ::close(fd);
  auto info = inspect_file(path);
  CHECK(!info.is_ok() && info.status().code() == Code::kUnsupported);
  auto c = open_cache(path);
  CHECK(c != nullptr && !c->stats().refused.empty());
  ::unlink(path.c_str());
}

WEIGHTKIT_TEST_MAIN()
