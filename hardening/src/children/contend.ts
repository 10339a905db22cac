/**
 * One of several writers hammering one cache: ITER times open, pack MODEL
 * under NS<i>/, save, close, each waiting for the writer lock. Prints
 * "saved <namespace> <heap fallback bytes>" after every save that returned,
 * so the parent can check that every save it was told about is in the file.
 * @module
 */
import { SafetensorsMap } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { need } from './env.js';

const map = SafetensorsMap.openSync(need('MODEL'));
for (let i = 0; i < Number(need('ITER')); i++) {
  const ns = `${need('NS')}${i}`;
  const c = await PackedWeightsCache.open({ path: need('CACHE'), lockWaitMs: 60000 });
  c.initialize();
  await c.packModel(map, { namespace: `${ns}/` });
  c.finalize();
  await c.save();
  const fallback = Object.values(c.stats().heapFallbackBytes).reduce((a: number, b) => a + (b as number), 0);
  await c.close();
  process.stdout.write(`saved ${ns} ${fallback}\n`);
  // A pause now and then leaves the file unused for a moment, so compactions run between saves.
  await new Promise((r) => setTimeout(r, (i * 37) % 100));
}
