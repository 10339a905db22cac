/**
 * One measured step of the layouts benchmark, in its own process so its peak
 * RSS is its own:
 *   open-sharded <folder>:  open a sharded snapshot folder and read every catalog entry
 *   touch-pytorch <file>:   open a PyTorch checkpoint and read one byte of every page of every tensor
 *   convert <model> <out>:  convert to safetensors
 *   copy <file> <out>:      a plain copy of the same bytes (read + write, then fsync:
 *                           convert's atomic write is durable, so the copy is too)
 * Prints {ms, peakRssBytes, tensors}.
 * @module
 */
import { closeSync, fsyncSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { convertToSafetensors, openNamedDataMapSync } from '@weightkit/core';
import { peakRssBytes } from './machine.js';

const [mode, path, out] = process.argv.slice(2) as [string, string, string | undefined];

function plainCopy(from: string, to: string): void {
  const src = openSync(from, 'r');
  const dst = openSync(to, 'w');
  const chunk = Buffer.allocUnsafe(4 << 20);
  for (;;) {
    const n = readSync(src, chunk, 0, chunk.length, null);
    if (n === 0) break;
    writeSync(dst, chunk, 0, n);
  }
  fsyncSync(dst);
  closeSync(src);
  closeSync(dst);
}

let tensors = 0;
let sink = 0;
const t0 = performance.now();
if (mode === 'open-sharded') {
  const map = openNamedDataMapSync(path);
  for (const t of map.catalog) {
    sink += t.byteLength;
    tensors++;
  }
  map.close();
} else if (mode === 'touch-pytorch') {
  const map = openNamedDataMapSync(path);
  for (const name of map.keys()) {
    const b = map.bytes(name);
    for (let i = 0; i < b.length; i += 4096) sink += b[i]!;
    tensors++;
  }
  map.close();
} else if (mode === 'convert') {
  const map = openNamedDataMapSync(path);
  tensors = (await convertToSafetensors(map, out!)).tensors;
  map.close();
} else if (mode === 'copy') {
  plainCopy(path, out!);
} else {
  throw new Error(`unknown mode ${mode}`);
}
const ms = performance.now() - t0;
if (out) rmSync(out, { force: true });
process.stdout.write(JSON.stringify({ ms, peakRssBytes: peakRssBytes(), tensors, sink: sink % 7 }) + '\n');
