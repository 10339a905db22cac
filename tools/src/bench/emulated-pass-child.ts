/**
 * One emulated offload pass over a (sparse) model, in a process of its own so
 * its page faults and anonymous memory are its own: the runtime is created
 * with `budgetMb` on the emulated device (no compute modelled), two passes
 * warm up, then three measured passes take turns with a plain copy of the
 * same number of bytes from the same mapping into one reused buffer (the
 * memcpy baseline); medians of each.
 * Prints an EmulatedPassSample (emulated-pass.ts).
 * @module
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { openNamedDataMap } from '@weightkit/core';
import { OffloadRuntime } from '@weightkit/cuda-offload';

const [folder, budgetText] = process.argv.slice(2) as [string, string];
const budgetMb = Number(budgetText);

/** Resident anonymous memory (not file pages): /proc/self/status RssAnon. */
function anonRssBytes(): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

const map = await openNamedDataMap(folder);
const rt = await OffloadRuntime.create({ weights: map, budgetMb, device: 'emu', computeUsPerStep: 0, computeUsPerMiB: 0 });
// Two passes to warm up: the first reads the model into the page cache, where
// the kernel may still move some of it out again while it settles.
await rt.runPasses(2);
// The runtime's own memory, before the baseline's buffer exists.
const anon = anonRssBytes();
const warm = rt.stats();
const bytesMoved = warm.bytesH2DPerPass.at(-1)!;

// The baseline: the same bytes, weights in catalog order, copied out of the
// mapping into one buffer.
const chunk = new Uint8Array(8 * 2 ** 20);
function copyMoved(): number {
  let left = bytesMoved;
  const t = performance.now();
  for (const name of map.keys()) {
    if (left <= 0) break;
    const v = map.bytes(name);
    for (let at = 0; at < v.byteLength && left > 0; at += chunk.byteLength) {
      const part = v.subarray(at, Math.min(v.byteLength, at + chunk.byteLength, at + left));
      chunk.set(part);
      left -= part.byteLength;
    }
  }
  return performance.now() - t;
}
copyMoved(); // maps the source pages into this process, as the warm-up passes did for the runtime

// Three rounds of one pass and one baseline copy, taking turns so both see the
// page cache alike; medians.
const pass: number[] = [];
const faults: number[] = [];
const memcpy: number[] = [];
for (let r = 0; r < 3; r++) {
  const f0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  await rt.runPasses(1);
  pass.push(performance.now() - t0);
  faults.push(process.resourceUsage().minorPageFault - f0);
  memcpy.push(copyMoved());
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const s = rt.stats();
rt.close();
map.close();
process.stdout.write(JSON.stringify({
  passMs: median(pass), modelledMs: s.copyMsPerPass.at(-1)!, bytesMoved: s.bytesH2DPerPass.at(-1)!, minorFaults: median(faults),
  anonRssBytes: anon, stagingBytes: s.stagingRingBytes, memcpyMs: median(memcpy),
}) + '\n');
