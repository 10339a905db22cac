// xnnpack_interop: real XNNPACK operators fed through weightkit's provider.
// Built only where a prebuilt XNNPACK is given (WEIGHTKIT_XNNPACK_DIR); the
// interop tests, the benchmark and the demo run it as a child process and
// read the one JSON object it prints.
//
//   xnnpack_interop run [options]
//     --provider weightkit|xnnpack|none   whose weights cache the operators use
//     --cache PATH                         weightkit's cache file ('' keeps it on the heap)
//     --api operator|subgraph              xnn_create_fully_connected_* or xnn_create_runtime_v4
//     --kind f32|qc8w                      f32, or per-channel int8 weights (operator API)
//     --layers N --width W                 a generated chain of N [W, W] layers with biases
//     --weights FILE --spec FILE           or a chain read from a model: spec lines
//                                          "name nc kc weight_offset bias_offset transposed"
//     --dump FILE                          every packed entry, for building other cache files
//     --runs R                             inferences after creation (default 1)
//     --populate 0|1                       weightkit: read the cache's pages in at open (default 0)
//
// Every look-up, reservation and insert goes through a recording provider
// that wraps the real one, so the counts and the packed bytes are XNNPACK's
// own calls, not weightkit's bookkeeping.
#include <xnnpack.h>

#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "weightkit/xnnpack/provider.h"
#include "weightkit/xxhash64.hpp"

namespace {

static_assert(sizeof(weightkit_weights_cache_provider) == sizeof(xnn_weights_cache_provider),
              "weightkit's provider has XNNPACK's layout");
static_assert(sizeof(weightkit_weights_cache_look_up_key) == sizeof(xnn_weights_cache_look_up_key),
              "weightkit's look-up key has XNNPACK's layout");

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "xnnpack_interop: %s\n", message.c_str());
  std::exit(1);
}

void check(xnn_status s, const char* what) {
  if (s != xnn_status_success) die(std::string(what) + " failed with xnn_status " + std::to_string(static_cast<int>(s)));
}

double now_ms() { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

/// This process's private dirty bytes (anonymous and written file pages).
uint64_t private_dirty_bytes() {
  std::ifstream f("/proc/self/smaps_rollup");
  std::string line;
  uint64_t total = 0;
  while (std::getline(f, line)) {
    if (line.rfind("Private_Dirty:", 0) == 0) total += std::strtoull(line.c_str() + 14, nullptr, 10) * 1024;
  }
  return total;
}

// ---- the model: a chain of fully-connected layers ----

struct Layer {
  std::string name;
  size_t nc = 0, kc = 0;
  bool transposed = false;   // weights stored [kc, nc] (TensorFlow layout)
  std::vector<float> w, b;   // f32
  std::vector<int8_t> q;     // qc8w weights
  std::vector<float> scale;  // qc8w per-channel scales
  std::vector<int32_t> qb;   // qc8w bias
  bool has_bias = true;
};

float det_value(uint64_t a, uint64_t b) {
  uint64_t x = (a * 0x9E3779B97F4A7C15ULL) ^ (b + 0x632BE59BD9B4E019ULL);
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 29;
  return static_cast<float>(static_cast<int64_t>(x % 2001) - 1000) / 1000.0f;
}

std::vector<Layer> generated_chain(int layers, size_t width, bool qc8w) {
  std::vector<Layer> out(static_cast<size_t>(layers));
  for (size_t l = 0; l < out.size(); ++l) {
    Layer& L = out[l];
    L.name = "layers." + std::to_string(l);
    L.nc = L.kc = width;
    const float s = 1.0f / std::sqrt(static_cast<float>(width));
    if (qc8w) {
      L.q.resize(width * width);
      for (size_t i = 0; i < L.q.size(); ++i) L.q[i] = static_cast<int8_t>(std::lround(det_value(l, i) * 127));
      L.scale.assign(width, s / 127.0f);
      L.qb.resize(width);
      for (size_t i = 0; i < width; ++i) L.qb[i] = static_cast<int32_t>(det_value(l + 1000, i) * 100);
    } else {
      L.w.resize(width * width);
      for (size_t i = 0; i < L.w.size(); ++i) L.w[i] = det_value(l, i) * s;
      L.b.resize(width);
      for (size_t i = 0; i < width; ++i) L.b[i] = det_value(l + 1000, i) * 0.1f;
    }
  }
  return out;
}

std::vector<Layer> model_chain(const std::string& weights, const std::string& spec) {
  std::ifstream wf(weights, std::ios::binary);
  if (!wf) die("cannot read " + weights);
  std::string raw((std::istreambuf_iterator<char>(wf)), std::istreambuf_iterator<char>());
  std::ifstream sf(spec);
  if (!sf) die("cannot read " + spec);
  std::vector<Layer> out;
  std::string line;
  while (std::getline(sf, line)) {
    if (line.empty()) continue;
    std::istringstream in(line);
    Layer L;
    long long w_off, b_off;
    int transposed;
    if (!(in >> L.name >> L.nc >> L.kc >> w_off >> b_off >> transposed)) die("bad spec line: " + line);
    L.transposed = transposed != 0;
    const size_t wbytes = L.nc * L.kc * 4;
    if (w_off < 0 || static_cast<size_t>(w_off) + wbytes > raw.size()) die("weights of " + L.name + " lie outside " + weights);
    L.w.resize(L.nc * L.kc);
    std::memcpy(L.w.data(), raw.data() + w_off, wbytes);
    L.has_bias = b_off >= 0;
    L.b.assign(L.nc, 0.0f);
    if (L.has_bias) {
      if (static_cast<size_t>(b_off) + L.nc * 4 > raw.size()) die("bias of " + L.name + " lies outside " + weights);
      std::memcpy(L.b.data(), raw.data() + b_off, L.nc * 4);
    }
    out.push_back(std::move(L));
  }
  return out;
}

// ---- a provider that records what XNNPACK asks of the real one ----

struct PackedEntry {
  std::string name;
  uint32_t seed = 0, fingerprint = 0;
  bool inserted = false;  // packed by this process (else a hit)
  uint64_t size = 0;      // inserted entries only: XNNPACK passes no size with a hit
  uint64_t hash = 0;      // XXH64 of the packed bytes, inserted entries only
  std::string bytes;      // kept only when dumping
};

struct Recorder {
  xnn_weights_cache_provider inner{};
  std::unordered_map<const void*, std::string> names;
  uint64_t look_ups = 0, hits = 0, reserves = 0, inserts = 0;
  bool keep_bytes = false;
  std::vector<PackedEntry> entries;  // one per operator, in creation order

  std::string name_of(const xnn_weights_cache_look_up_key* k) const {
    auto w = names.find(k->kernel);
    std::string n = w == names.end() ? "?" : w->second;
    if (k->bias) {
      auto b = names.find(k->bias);
      if (b != names.end()) n += b->second;
    }
    return n;
  }

  static Recorder* self(void* ctx) { return static_cast<Recorder*>(ctx); }
  static size_t look_up(void* ctx, const xnn_weights_cache_look_up_key* k) {
    Recorder* r = self(ctx);
    r->look_ups++;
    const size_t off = r->inner.look_up(r->inner.context, k);
    if (off != SIZE_MAX) {
      r->hits++;
      r->entries.push_back({r->name_of(k), k->seed, k->fingerprint_id, false, 0, 0, {}});
    }
    return off;
  }
  static void* reserve_space(void* ctx, size_t n) {
    self(ctx)->reserves++;
    return self(ctx)->inner.reserve_space(self(ctx)->inner.context, n);
  }
  static size_t look_up_or_insert(void* ctx, const xnn_weights_cache_look_up_key* k, void* ptr, size_t size) {
    Recorder* r = self(ctx);
    if (ptr) {
      r->inserts++;
      PackedEntry e{r->name_of(k), k->seed, k->fingerprint_id, true, size, weightkit::Xxh64::hash(ptr, size), {}};
      if (r->keep_bytes) e.bytes.assign(static_cast<const char*>(ptr), size);
      r->entries.push_back(std::move(e));
    }
    return r->inner.look_up_or_insert(r->inner.context, k, ptr, size);
  }
  static bool is_finalized(void* ctx) { return self(ctx)->inner.is_finalized(self(ctx)->inner.context); }
  static void* offset_to_addr(void* ctx, size_t off) { return self(ctx)->inner.offset_to_addr(self(ctx)->inner.context, off); }
  static xnn_status delete_cache(void* ctx) { return self(ctx)->inner.delete_cache(self(ctx)->inner.context); }
  static xnn_status alias_data(void* ctx, void* alias, void* original) {
    Recorder* r = self(ctx);
    auto it = r->names.find(original);
    if (it != r->names.end()) r->names[alias] = it->second;
    return r->inner.alias_data ? r->inner.alias_data(r->inner.context, alias, original) : xnn_status_success;
  }

  xnn_weights_cache_provider wrap() {
    return {this, look_up, reserve_space, look_up_or_insert, is_finalized, offset_to_addr, delete_cache,
            inner.alias_data ? alias_data : nullptr};
  }
};

struct Options {
  std::string provider = "weightkit", cache, api = "operator", kind = "f32", weights, spec, dump;
  int layers = 4, runs = 1;
  size_t width = 256;
  bool populate = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 2; i < argc; i += 2) {
    const std::string k = argv[i];
    if (i + 1 >= argc) die("option " + k + " needs a value");
    const std::string v = argv[i + 1];
    if (k == "--provider") o.provider = v;
    else if (k == "--cache") o.cache = v;
    else if (k == "--api") o.api = v;
    else if (k == "--kind") o.kind = v;
    else if (k == "--layers") o.layers = std::atoi(v.c_str());
    else if (k == "--width") o.width = static_cast<size_t>(std::strtoull(v.c_str(), nullptr, 10));
    else if (k == "--weights") o.weights = v;
    else if (k == "--spec") o.spec = v;
    else if (k == "--dump") o.dump = v;
    else if (k == "--runs") o.runs = std::atoi(v.c_str());
    else if (k == "--populate") o.populate = v == "1";
    else die("unknown option " + k);
  }
  if (o.provider != "weightkit" && o.provider != "xnnpack" && o.provider != "none") die("--provider must be weightkit, xnnpack or none");
  if (o.api != "operator" && o.api != "subgraph") die("--api must be operator or subgraph");
  if (o.kind != "f32" && o.kind != "qc8w") die("--kind must be f32 or qc8w");
  if (o.kind == "qc8w" && o.api != "operator") die("qc8w runs through the operator API");
  return o;
}

// ---- running the chain ----

struct Chain {
  std::vector<Layer> layers;
  std::vector<xnn_operator_t> ops;
  xnn_runtime_t runtime = nullptr;
  uint32_t input_id = 0, output_id = 0;
};

bool chained(const Chain& c, size_t l) { return l > 0 && c.layers[l].kc == c.layers[l - 1].nc; }

void create_operators(Chain& c, bool qc8w, xnn_weights_cache_t cache) {
  for (auto& L : c.layers) {
    xnn_operator_t op = nullptr;
    if (qc8w) {
      check(xnn_create_fully_connected_nc_qs8_qc8w(L.kc, L.nc, L.kc, L.nc, 0, 0.05f, L.scale.data(), L.q.data(), L.qb.data(), 0, 0.2f,
                                                   -128, 127, 0, cache, &op),
            "xnn_create_fully_connected_nc_qs8_qc8w");
    } else {
      check(xnn_create_fully_connected_nc_f32(L.kc, L.nc, L.kc, L.nc, L.w.data(), L.has_bias ? L.b.data() : nullptr, -INFINITY, INFINITY,
                                              L.transposed ? XNN_FLAG_TRANSPOSE_WEIGHTS : 0, cache, &op),
            "xnn_create_fully_connected_nc_f32");
    }
    c.ops.push_back(op);
  }
}

void create_runtime(Chain& c, xnn_weights_cache_t cache) {
  xnn_subgraph_t g = nullptr;
  check(xnn_create_subgraph(2, 0, &g), "xnn_create_subgraph");
  uint32_t prev = XNN_INVALID_VALUE_ID;
  for (size_t l = 0; l < c.layers.size(); ++l) {
    Layer& L = c.layers[l];
    uint32_t in = prev;
    if (!chained(c, l)) {
      const size_t dims[2] = {1, L.kc};
      const uint32_t ext = l == 0 ? 0 : XNN_INVALID_VALUE_ID;
      check(xnn_define_tensor_value(g, xnn_datatype_fp32, 2, dims, nullptr, ext, l == 0 ? XNN_VALUE_FLAG_EXTERNAL_INPUT : 0, &in),
            "xnn_define_tensor_value(input)");
      if (l == 0) c.input_id = in;
    }
    const size_t wdims[2] = {L.transposed ? L.kc : L.nc, L.transposed ? L.nc : L.kc};
    const size_t bdims[1] = {L.nc};
    const size_t odims[2] = {1, L.nc};
    uint32_t w = 0, b = XNN_INVALID_VALUE_ID, out = 0;
    const bool last = l + 1 == c.layers.size();
    check(xnn_define_tensor_value(g, xnn_datatype_fp32, 2, wdims, L.w.data(), XNN_INVALID_VALUE_ID, 0, &w), "xnn_define_tensor_value(weights)");
    if (L.has_bias) check(xnn_define_tensor_value(g, xnn_datatype_fp32, 1, bdims, L.b.data(), XNN_INVALID_VALUE_ID, 0, &b), "xnn_define_tensor_value(bias)");
    check(xnn_define_tensor_value(g, xnn_datatype_fp32, 2, odims, nullptr, last ? 1 : XNN_INVALID_VALUE_ID,
                                  last ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : 0, &out),
          "xnn_define_tensor_value(output)");
    if (last) c.output_id = out;
    check(xnn_define_fully_connected(g, -INFINITY, INFINITY, in, w, b, out, L.transposed ? XNN_FLAG_TRANSPOSE_WEIGHTS : 0),
          "xnn_define_fully_connected");
    prev = out;
  }
  check(xnn_create_runtime_v4(g, cache, nullptr, nullptr, 0, &c.runtime), "xnn_create_runtime_v4");
  check(xnn_delete_subgraph(g), "xnn_delete_subgraph");
}

/// One inference over the chain; returns the XXH64 of every layer's output, chained.
uint64_t infer(Chain& c, bool qc8w, const std::string& api) {
  weightkit::Xxh64 h;
  if (api == "subgraph") {
    // One subgraph from the input to the last layer's output.
    std::vector<float> input(c.layers.front().kc), output(c.layers.back().nc);
    for (size_t i = 0; i < input.size(); ++i) input[i] = det_value(7, i);
    const xnn_external_value io[2] = {{c.input_id, input.data()}, {c.output_id, output.data()}};
    check(xnn_reshape_runtime(c.runtime), "xnn_reshape_runtime");
    check(xnn_setup_runtime_v2(c.runtime, 2, io), "xnn_setup_runtime_v2");
    check(xnn_invoke_runtime(c.runtime), "xnn_invoke_runtime");
    h.update(output.data(), output.size() * 4);
    return h.digest();
  }
  std::vector<float> x, y;
  std::vector<int8_t> qx, qy;
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const Layer& L = c.layers[l];
    if (qc8w) {
      if (!chained(c, l)) {
        qx.resize(L.kc);
        for (size_t i = 0; i < L.kc; ++i) qx[i] = static_cast<int8_t>(det_value(7 + l, i) * 100);
      }
      qy.assign(L.nc, 0);
      check(xnn_reshape_fully_connected_nc_qs8_qc8w(c.ops[l], 1, nullptr), "xnn_reshape_fully_connected_nc_qs8_qc8w");
      check(xnn_setup_fully_connected_nc_qs8_qc8w(c.ops[l], qx.data(), qy.data()), "xnn_setup_fully_connected_nc_qs8_qc8w");
      check(xnn_run_operator(c.ops[l], nullptr), "xnn_run_operator");
      h.update(qy.data(), qy.size());
      qx.swap(qy);
    } else {
      if (!chained(c, l)) {
        x.resize(L.kc);
        for (size_t i = 0; i < L.kc; ++i) x[i] = det_value(7 + l, i);
      }
      y.assign(L.nc, 0.0f);
      check(xnn_reshape_fully_connected_nc_f32(c.ops[l], 1, nullptr), "xnn_reshape_fully_connected_nc_f32");
      check(xnn_setup_fully_connected_nc_f32(c.ops[l], x.data(), y.data()), "xnn_setup_fully_connected_nc_f32");
      check(xnn_run_operator(c.ops[l], nullptr), "xnn_run_operator");
      h.update(y.data(), y.size() * 4);
      x.swap(y);
    }
  }
  return h.digest();
}

void write_dump(const std::string& path, const Recorder& r) {
  std::ofstream f(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
  auto u64 = [&](uint64_t v) { f.write(reinterpret_cast<const char*>(&v), 8); };
  for (const auto& e : r.entries) {
    if (e.bytes.empty()) continue;
    u32(static_cast<uint32_t>(e.name.size()));
    f.write(e.name.data(), static_cast<std::streamsize>(e.name.size()));
    u32(e.seed);
    u32(e.fingerprint);
    u64(e.bytes.size());
    f.write(e.bytes.data(), static_cast<std::streamsize>(e.bytes.size()));
  }
  if (!f) die("cannot write " + path);
}

int run(const Options& o) {
  check(xnn_initialize(nullptr), "xnn_initialize");
  Chain c;
  const bool qc8w = o.kind == "qc8w";
  c.layers = o.weights.empty() ? generated_chain(o.layers, o.width, qc8w) : model_chain(o.weights, o.spec);
  uint64_t model_bytes = 0;
  for (const auto& L : c.layers) model_bytes += qc8w ? L.q.size() : L.w.size() * 4;

  Recorder rec;
  rec.keep_bytes = !o.dump.empty();
  for (const auto& L : c.layers) {
    rec.names[qc8w ? static_cast<const void*>(L.q.data()) : L.w.data()] = L.name + ".weight";
    if (L.has_bias) rec.names[qc8w ? static_cast<const void*>(L.qb.data()) : L.b.data()] = L.name + ".bias";
  }
  const uint64_t dirty_before = private_dirty_bytes();
  const double t0 = now_ms();
  weightkit_cache* wk = nullptr;
  xnn_weights_cache_t own = nullptr;
  xnn_weights_cache_provider wrapped{};
  if (o.provider == "weightkit") {
    char err[512] = "";
    wk = weightkit_cache_open_with(o.cache.c_str(), o.populate ? WEIGHTKIT_CACHE_POPULATE : 0, err, sizeof err);
    if (!wk) die(std::string("weightkit_cache_open: ") + err);
    weightkit_cache_initialize_for_runtime(wk);
    for (const auto& [ptr, name] : rec.names) weightkit_cache_register_unpacked(wk, name.c_str(), ptr);
    weightkit_weights_cache_provider p = weightkit_cache_provider(wk);
    std::memcpy(&rec.inner, &p, sizeof p);
  } else if (o.provider == "xnnpack") {
    check(xnn_create_weights_cache(&own), "xnn_create_weights_cache");
    rec.inner = *own;
  }
  xnn_weights_cache_t cache = nullptr;
  if (o.provider != "none") {
    wrapped = rec.wrap();
    cache = &wrapped;
  }
  if (o.api == "subgraph") create_runtime(c, cache);
  else create_operators(c, qc8w, cache);
  if (wk) {
    if (weightkit_cache_finalize_for_runtime(wk, nullptr, nullptr) != weightkit_status_success) die("weightkit_cache_finalize_for_runtime failed");
  } else if (own) {
    check(xnn_finalize_weights_cache(own, xnn_weights_cache_finalization_kind_hard), "xnn_finalize_weights_cache");
  }
  const double create_ms = now_ms() - t0;
  const uint64_t dirty_created = private_dirty_bytes();
  uint64_t output = 0;
  double first_inference_ms = 0;  // where the packed pages are first read: page faults on a mapped cache
  std::vector<double> inference_ms;  // every run: the later ones say what is one-time in the first
  for (int r = 0; r < std::max(o.runs, 1); ++r) {
    const double t = now_ms();
    output = infer(c, qc8w, o.api);
    inference_ms.push_back(now_ms() - t);
    if (r == 0) first_inference_ms = inference_ms.back();
  }
  const uint64_t dirty_ran = private_dirty_bytes();

  weightkit_cache_counters counters{};
  if (wk) weightkit_cache_read_counters(wk, &counters);
  if (!o.dump.empty()) write_dump(o.dump, rec);

  std::printf("{\"provider\":\"%s\",\"api\":\"%s\",\"kind\":\"%s\",\"operators\":%zu,\"modelBytes\":%" PRIu64 ",", o.provider.c_str(),
              o.api.c_str(), o.kind.c_str(), c.layers.size(), model_bytes);
  std::printf("\"firstInferenceMs\":%.3f,\"inferenceMs\":[", first_inference_ms);
  for (size_t i = 0; i < inference_ms.size(); ++i) std::printf("%s%.3f", i ? "," : "", inference_ms[i]);
  std::printf("],");
  std::printf("\"createMs\":%.3f,\"lookUps\":%" PRIu64 ",\"hits\":%" PRIu64 ",\"reserves\":%" PRIu64 ",\"inserts\":%" PRIu64 ",", create_ms,
              rec.look_ups, rec.hits, rec.reserves, rec.inserts);
  std::printf("\"outputHash\":\"%016" PRIx64 "\",\"privateDirtyCreated\":%" PRId64 ",\"privateDirtyRan\":%" PRId64 ",", output,
              static_cast<int64_t>(dirty_created) - static_cast<int64_t>(dirty_before),
              static_cast<int64_t>(dirty_ran) - static_cast<int64_t>(dirty_before));
  std::printf("\"cache\":{\"hits\":%" PRIu64 ",\"packs\":%" PRIu64 ",\"entries\":%" PRIu64 ",\"mappedBytes\":%" PRIu64 ",\"heapBytes\":%" PRIu64
              ",\"heapFallbackBytes\":%" PRIu64 ",\"trusted\":%s,\"writer\":%s},",
              counters.hits, counters.packs, counters.entries, counters.mapped_bytes, counters.heap_bytes, counters.heap_fallback_bytes,
              counters.trusted ? "true" : "false", counters.writer ? "true" : "false");
  std::printf("\"packed\":[");
  for (size_t i = 0; i < rec.entries.size(); ++i) {
    const auto& e = rec.entries[i];
    std::printf("%s{\"name\":\"%s\",\"seed\":%u,\"fingerprint\":%u,\"inserted\":%s,\"size\":%" PRIu64 ",\"hash\":\"%016" PRIx64 "\"}",
                i ? "," : "", e.name.c_str(), e.seed, e.fingerprint, e.inserted ? "true" : "false", e.size, e.hash);
  }
  std::printf("]}\n");

  for (auto* op : c.ops) xnn_delete_operator(op);
  if (c.runtime) xnn_delete_runtime(c.runtime);
  if (wk) weightkit_cache_close(wk);
  if (own) xnn_delete_weights_cache(own);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "run") die("usage: xnnpack_interop run [--provider weightkit|xnnpack|none] [--cache PATH] ...");
  return run(parse(argc, argv));
}
