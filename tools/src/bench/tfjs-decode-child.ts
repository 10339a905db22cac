/**
 * The cost of one decoded value, split into its parts, in a process of its
 * own: for each quantization kind, 2^24 values (64 MiB of output, past
 * glibc's largest mmap threshold, so every fresh array is fresh memory):
 *   decode      into an array already written once (no page faults): the decoder alone
 *   lazy        into a new zeroed Float32Array, as tfjs does: faults + decode
 *   weightkit   dequantize()'s own output (prefaulted, not zeroed first)
 *   write       Float32Array.fill of the warm array: memory bandwidth, the floor
 *   fresh write new Float32Array(n).fill(): the first-touch cost alone
 * and, for weightkit's output, the share of it the kernel backed with 2 MiB
 * pages (AnonHugePages of smaps_rollup while one is held).
 * Prints {values, kinds: [{kind, decodeNs, lazyNs, weightkitNs, hugeShare}], writeNs, freshWriteNs} (ns per value, medians).
 * @module
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { dequantize, type Quantization } from '@weightkit/core';
import { median } from './stats.js';

const runs = Number(process.argv[2] ?? 7);
const n = 2 ** 24;

function time(fn: () => unknown): number {
  const ns: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    fn();
    ns.push(((performance.now() - t0) * 1e6) / n);
  }
  return median(ns);
}

const kinds: { kind: string; q: Quantization; dtype: 'float32' | 'int32' }[] = [
  { kind: 'uint8 -> float32', q: { storedDtype: 'uint8', scale: 0.0039, min: -0.5 }, dtype: 'float32' },
  { kind: 'uint8 -> int32', q: { storedDtype: 'uint8', scale: 0.5, min: -64.5 }, dtype: 'int32' },
  { kind: 'uint16 -> float32', q: { storedDtype: 'uint16', scale: 1e-4, min: 3 }, dtype: 'float32' },
  { kind: 'uint16 -> int32', q: { storedDtype: 'uint16', scale: 0.25, min: -100.5 }, dtype: 'int32' },
  { kind: 'float16 -> float32', q: { storedDtype: 'float16' }, dtype: 'float32' },
];
const raw = new Uint8Array(2 * n);
// Finite float16 values (exponent below 31), every byte value for the affine kinds.
for (let i = 0; i < raw.length; i += 2) {
  raw[i] = (i * 2654435761) >>> 24;
  raw[i + 1] = ((i * 40503) >>> 9) & 0x7b;
}

let keep: unknown;

/** Anonymous memory on 2 MiB pages, bytes. */
function anonHugeBytes(): number {
  const m = /AnonHugePages:\s+(\d+) kB/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
const rows = kinds.map(({ kind, q, dtype }) => {
  const src = raw.subarray(0, q.storedDtype === 'uint8' ? n : 2 * n);
  const warm = dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  dequantize(src, q, dtype, warm);
  const decodeNs = time(() => dequantize(src, q, dtype, warm));
  const lazyNs = time(() => (keep = dequantize(src, q, dtype, dtype === 'int32' ? new Int32Array(n) : new Float32Array(n))));
  const weightkitNs = time(() => (keep = dequantize(src, q, dtype)));
  keep = undefined;
  const before = anonHugeBytes();
  keep = dequantize(src, q, dtype);
  const hugeShare = Math.min(1, Math.max(0, anonHugeBytes() - before) / (4 * n));
  return { kind, decodeNs, lazyNs, weightkitNs, hugeShare };
});
const warm = new Float32Array(n);
warm.fill(1);
const writeNs = time(() => warm.fill(2));
const freshWriteNs = time(() => (keep = new Float32Array(n).fill(2)));
void keep;
process.stdout.write(JSON.stringify({ values: n, kinds: rows, writeNs, freshWriteNs }) + '\n');
