// Tests of the packed-weights cache core: checksums, packers against their
// reference unpack, the trailer format, the XNNPACK provider flow, reuse
// after reopening, and 8 threads sharing one cache.
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
  static std::string dir = [] {
    char tmpl[] = "/tmp/wk-xnn-test-XXXXXX";
    return std::string(mkdtemp(tmpl));
  }();
  std::string p = dir + "/" + name;
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
  file += xpwc::serialize_trailer(entries, integ, file.size());
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
        EntryKey key{"w" + std::to_string((i * 7 + t) % 50), 1, 1, 1, 0};
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

WEIGHTKIT_TEST_MAIN()
