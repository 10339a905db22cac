/**
 * One of several writers hammering one cache: ITER times open, pack MODEL
 * under NS<i>/, save, close, each waiting for the writer lock. Prints
 * {saves, heapFallbackBytes}: a save whose packs fell back to the heap would
 * be a lost save.
 * @module
 */
import { SafetensorsMap } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { need } from './env.js';

const map = SafetensorsMap.openSync(need('MODEL'));
let saves = 0;
let heapFallbackBytes = 0;
for (let i = 0; i < Number(need('ITER')); i++) {
  const c = await PackedWeightsCache.open({ path: need('CACHE'), lockWaitMs: 60000 });
  c.initialize();
  await c.packModel(map, { namespace: `${need('NS')}${i}/` });
  c.finalize();
  await c.save();
  heapFallbackBytes += Object.values(c.stats().heapFallbackBytes).reduce((a: number, b) => a + (b as number), 0);
  await c.close();
  saves++;
}
process.stdout.write(JSON.stringify({ saves, heapFallbackBytes }) + '\n');
