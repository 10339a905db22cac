/**
 * One measured run of the packed-weights cache in its own process.
 *   cold <model> <cache>         pack every weight into a new cache file, finalize, save
 *   warm <model> <cache>         open the saved cache and look up every weight
 *   warm-touch <model> <cache>   the same, then read one byte per page of every entry
 *   share <model> <cache|''>     warm-touch (or heap-pack with '') then report footprint and
 *                                wait for stdin to close, so several can be measured at once
 * Prints one JSON line.
 * @module
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SafetensorsMap, fileFootprint, readFootprint } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { peakRssBytes } from './machine.js';

const [mode, model, cachePath] = process.argv.slice(2) as [string, string, string];

function touchAll(cache: PackedWeightsCache): number {
  let sum = 0;
  for (const n of cache.names()) {
    const v = cache.view(n)!;
    for (let i = 0; i < v.length; i += 4096) sum += v[i]!;
  }
  return sum;
}

const t0 = performance.now();
const map = SafetensorsMap.openSync(model);
const cache = await PackedWeightsCache.open({ path: cachePath });
cache.initialize();
const r = await cache.packModel(map);
const tPacked = performance.now();
cache.finalize();
const tFinal = performance.now();
await cache.save();
let sink = 0;
if (mode === 'warm-touch' || mode === 'share') sink = touchAll(cache);
const ms = performance.now() - t0;
// Packed entries are mapped lazily: read them once (untimed) so the footprint
// says whether using them costs clean file pages or dirty memory.
if (mode === 'cold') sink = touchAll(cache);
const s = cache.stats();
const fp = readFootprint();
const file = fp && cachePath ? fileFootprint(fp, resolve(cachePath)) : undefined;
const out = {
  mode, ms, packMs: tPacked - t0, finalizeMs: tFinal - tPacked, packed: r.packed, hits: r.hits, packedBytes: r.packedBytes,
  flushMs: s.flushMs, mappedBytes: s.mappedBytes, heapBytes: s.heapBytes, fileBytes: s.fileBytes,
  cacheRss: file?.rss ?? 0, cacheDirty: (file?.privateDirty ?? 0) + (file?.sharedDirty ?? 0),
  cacheClean: (file?.privateClean ?? 0) + (file?.sharedClean ?? 0), peakRssBytes: peakRssBytes(), sink,
};
console.log(JSON.stringify(out));
if (mode === 'share') await new Promise((r) => process.stdin.on('end', r).resume());
cache.close();
map.close();
