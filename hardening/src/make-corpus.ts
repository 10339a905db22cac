/**
 * Writes the seed corpora of every fuzz target into hardening/corpus/
 * (committed): small valid inputs made by weightkit's own writers and by
 * hand, so the fuzzers start from the formats' real structure. Run after
 * `npm run build`: node hardening/dist/make-corpus.js
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsMap, writeSafetensors } from '@weightkit/core';
import { writeAotiFolder, writePt2 } from '@weightkit/aoti-blob';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { corpusDir } from './paths.js';

const out = corpusDir;
const work = mkdtempSync(join(tmpdir(), 'wk-corpus-'));
const put = (target: string, name: string, bytes: Uint8Array) => {
  mkdirSync(join(out, target), { recursive: true });
  writeFileSync(join(out, target, name), bytes);
};

// A small model every writer starts from.
const model = join(work, 'm.safetensors');
writeSafetensors(model, [
  { name: 'layer.weight', dtype: 'float32', shape: [4, 4], data: (c: Uint8Array) => c.fill(1) },
  { name: 'layer.bias', dtype: 'float32', shape: [4], data: (c: Uint8Array) => c.fill(2) },
  { name: 'emb', dtype: 'bfloat16', shape: [3, 2], data: (c: Uint8Array) => c.fill(3) },
]);
const map = SafetensorsMap.openSync(model);

// XPWC: a weightkit cache (with the integrity record) and an ExecuTorch-style one.
const cachePath = join(work, 'c.xpwc');
const cache = await PackedWeightsCache.open({ path: cachePath });
cache.initialize();
await cache.packModel(map, { nr: 4 });
cache.finalize();
await cache.save();
await cache.close();
// Only the tail matters to the parser: keep the file small by cutting packed data.
const full = readFileSync(cachePath);
put('xpwc_trailer', 'weightkit.xpwc', full);
// The region records a writer walks when it repairs a tail: the same file's packed regions.
put('xpwc_regions', 'weightkit.xpwc', full);
const et = Buffer.alloc(64 + 26 + 20); // data | entry (4 + 2 + 8 + 8 + 4) | footer
et.fill(7, 0, 64);
et.writeUInt32LE(2, 64); et.write('ab', 68); et.writeBigUInt64LE(0n, 70); et.writeBigUInt64LE(64n, 78); et.writeUInt32LE(5, 86);
et.writeBigUInt64LE(64n, 90); et.writeUInt32LE(1, 98); et.write('CWPX', 102, 'latin1'); et.writeUInt32LE(2, 106);
put('xpwc_trailer', 'executorch-v2.xpwc', et);

// constants_info_: both codegen forms.
const pt2 = join(work, 'm.pt2');
await writePt2(pt2, map);
const zipBytes = readFileSync(pt2);
put('zip_directory', 'model.pt2', zipBytes);
const wrapper = join(work, 'folder');
await writeAotiFolder(map, wrapper, { codegen: 'current' });
put('constants_info', 'current.cpp', readFileSync(join(wrapper, 'model.wrapper.cpp')));
await writeAotiFolder(map, join(work, 'legacy'), { codegen: 'legacy', device: 'cuda' });
put('constants_info', 'legacy-cuda.cpp', readFileSync(join(work, 'legacy', 'model.wrapper.cpp')));
put('constants_info', 'folded.cpp', Buffer.from(
  'constants_info_[0].name = "f"; constants_info_[0].dtype = cached_torch_dtype_float32; constants_info_[0].offset = 2;\n' +
  'constants_info_[0].data_size = 64; constants_info_[0].from_folded = true; constants_info_[0].shape = {2, 2}; constants_info_[0].stride = {1, 2};\n'));

// ELF: a tiny shared object with the AOTI symbol, and the payload appended after it.
const c = join(work, 'stub.c');
writeFileSync(c, 'const unsigned char _binary_constants_bin_start[16] __attribute__((used)) = {72,0,0,0,0,0,0,0,1,2,3,4,5,6,7,8};\n');
const so = join(work, 'stub.so');
execFileSync('gcc', ['-shared', '-fPIC', '-Os', '-s', '-Wl,--build-id=none', '-o', so, c]);
execFileSync('gcc', ['-shared', '-fPIC', '-Os', '-Wl,--build-id=none', '-o', join(work, 'stub-syms.so'), c]);
put('elf_symbol', 'stub.so', readFileSync(join(work, 'stub-syms.so')));
put('elf_symbol', 'stripped.so', readFileSync(so));

// Offload planner input: sizes, steps, budget, as the fuzz target decodes them.
put('offload_plan', 'eight-weights', Buffer.from([8, 0, 16, 0, 32, 0, 8, 1, 0, 0, 64, 0, 16, 0, 8, 0, 4, 0, 0, 0, 1, 0, 2, 0, 3, 1, 4, 5, 0, 6, 0, 7, 40]));
put('offload_plan', 'equal', Buffer.from([4, 0, 16, 0, 16, 0, 16, 0, 16, 0, 0, 0, 1, 0, 2, 0, 3, 12]));

// JavaScript parsers: a safetensors header and TF.js manifests.
const st = readFileSync(model);
put('safetensors_header', 'three-tensors.json', st.subarray(8, 8 + Number(st.readBigUInt64LE(0))));
put('tfjs_manifest', 'group.json', Buffer.from(JSON.stringify([{ paths: ['a.bin', 'b.bin'], weights: [
  { name: 'k', shape: [3, 3, 2, 4], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.01, min: -1 } },
  { name: 'b', shape: [4], dtype: 'float32' }, { name: 'h', shape: [2], dtype: 'float32', quantization: { dtype: 'float16' } },
  { name: 'i', shape: [], dtype: 'int32' }] }])));
put('tfjs_manifest', 'model.json', Buffer.from(JSON.stringify({ format: 'layers-model', modelTopology: {}, weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'x', shape: [2, 2], dtype: 'float32' }] }] })));

map.close();
rmSync(work, { recursive: true, force: true });
console.log(`seed corpora written to ${out}`);
