/** Packs MODEL into CACHE under namespace NS<i>/ and saves, forever (killed by the parent). @module */
import { SafetensorsMap } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { need } from './env.js';

const map = SafetensorsMap.openSync(need('MODEL'));
for (let i = 0; ; i++) {
  const c = await PackedWeightsCache.open({ path: need('CACHE'), lockWaitMs: 5000 });
  c.initialize();
  await c.packModel(map, { namespace: `${need('NS')}${i}/` });
  c.finalize();
  await c.save();
  await c.close();
}
