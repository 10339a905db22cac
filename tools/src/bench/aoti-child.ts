/**
 * One measured load of a .pt2, in its own process so its peak RSS is its own.
 *   weightkit:          AotiWeights.open + a view of every constant
 *   weightkit-touch:    the same, then one byte read per page of every constant
 *   weightkit-populate: open with MAP_POPULATE, then every page touched
 *   pytorch:            PyTorch's loader reproduced: extract the weights blob
 *                       from the zip to a temporary directory (the other members
 *                       are kilobytes), map it and copy every constant's entry
 *                       into its own private allocation
 * Prints {ms, peakRssBytes, copiedBytes, extraDiskBytes}.
 * @module
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FileMapping } from '@weightkit/core';
import { AotiWeights } from '@weightkit/aoti-blob';
import { peakRssBytes } from './machine.js';

const [mode, pt2] = process.argv.slice(2) as [string, string];

function touch(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i]!;
  return sum;
}

/** Copies one zip member's bytes to a file, as an extractor does. */
function extractRange(src: number, offset: number, size: number, out: string): void {
  const fd = openSync(out, 'w');
  const chunk = Buffer.allocUnsafe(8 << 20);
  for (let at = 0; at < size; ) {
    const n = readSync(src, chunk, 0, Math.min(chunk.length, size - at), offset + at);
    writeSync(fd, chunk, 0, n);
    at += n;
  }
  closeSync(fd);
}

async function main(): Promise<void> {
  let copied = 0;
  let extra = 0;
  let sink = 0;
  const t0 = performance.now();
  if (mode === 'pytorch') {
    // The catalog comes from the same validated reader; the work measured is
    // what PyTorch's package loader does with it: extract, then copy.
    const probe = await AotiWeights.open(pt2);
    const { key, offset } = probe.source;
    const constants = probe.constants.filter((c) => !c.fromFolded);
    const size = probe.blobSize;
    probe.close();
    const dir = mkdtempSync(join(tmpdir(), 'wk-bench-extract-'));
    const src = openSync(pt2, 'r');
    const blobPath = join(dir, `${key}.wrapper_weights.blob`);
    extractRange(src, offset, size, blobPath);
    closeSync(src);
    extra = statSync(blobPath).size;
    const blob = FileMapping.openSync(blobPath);
    // UpdateConstantsFromBlob: each constant's whole entry into its own allocation.
    const storages = constants.map((c) => {
      const copy = Buffer.allocUnsafe(c.dataSize);
      copy.set(new Uint8Array(blob.view(c.payloadOffset!, c.dataSize)));
      copied += c.dataSize;
      return copy;
    });
    blob.close();
    sink = storages.length;
    const ms = performance.now() - t0;
    rmSync(dir, { recursive: true, force: true });
    console.log(JSON.stringify({ mode, ms, peakRssBytes: peakRssBytes(), copiedBytes: copied, extraDiskBytes: extra, sink, file: basename(pt2) }));
    return;
  }
  const w = await AotiWeights.open(pt2, { populate: mode === 'weightkit-populate' });
  const views = w.keys().map((n) => w.bytes(n));
  if (mode !== 'weightkit') for (const v of views) sink += touch(v);
  const ms = performance.now() - t0;
  copied = w.copiedBytes;
  console.log(JSON.stringify({ mode, ms, peakRssBytes: peakRssBytes(), copiedBytes: copied, extraDiskBytes: extra, sink, views: views.length }));
  w.close();
}

await main();
