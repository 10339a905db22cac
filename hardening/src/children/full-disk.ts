/**
 * Runs inside a private mount namespace with an 8 MiB tmpfs at MNT: packs,
 * saves, compacts, converts and writes until the disk is full, and prints
 * what each step answered as one JSON object.
 * @module
 */
import { existsSync } from 'node:fs';
import { SafetensorsMap, writeSafetensors } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { writePt2 } from '@weightkit/aoti-blob';
import { need } from './env.js';

const dir = need('MNT');
const map = SafetensorsMap.openSync(need('MODEL'));
const out: Record<string, unknown> = {};
const code = async (f: () => Promise<unknown> | unknown) => {
  try {
    await f();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
};
// 1. packing into the cache until the disk is full: falls back to the heap
let fallbackNoSpace = 0;
for (let i = 0; i < 4; i++) {
  const c = await PackedWeightsCache.open({ path: `${dir}/c.xpwc` });
  c.initialize();
  await c.packModel(map, { namespace: `p${i}/` });
  c.finalize();
  out[`save${i}`] = await code(() => c.save());
  fallbackNoSpace += c.stats().heapFallbackBytes.noSpace;
  await c.close();
}
out.fallbackNoSpace = fallbackNoSpace;
const c = await PackedWeightsCache.open({ path: `${dir}/c.xpwc`, verify: 'open' });
out.entriesAfter = c.names().length;
out.bad = (await c.verify()).bad.length;
await c.close();
// 2. compaction needs a second copy: refused with a typed error, the cache intact
out.compact = await code(() => PackedWeightsCache.compactFile(`${dir}/c.xpwc`));
out.entriesAfterCompact = (await PackedWeightsCache.inspectFile(`${dir}/c.xpwc`)).entries.length;
// 3. converting to .pt2 and writing safetensors: typed errors, no partial files
out.pt2 = await code(() => writePt2(`${dir}/m.pt2`, map));
out.pt2Exists = existsSync(`${dir}/m.pt2`);
out.safetensors = await code(() =>
  writeSafetensors(`${dir}/copy.safetensors`, [...map.catalog].map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape], data: map.bytes(t.name) }))));
out.safetensorsExists = existsSync(`${dir}/copy.safetensors`);
process.stdout.write(JSON.stringify(out) + '\n');
