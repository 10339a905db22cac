/** Compacts CACHE over and over, printing each success (a refusal while others use it is expected); killed by the parent. @module */
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { need } from './env.js';

for (;;) {
  try {
    await PackedWeightsCache.compactFile(need('CACHE'));
    process.stdout.write('compacted\n');
  } catch {
    /* WK_LOCKED while a writer or reader has it open: try again */
  }
  await new Promise((r) => setTimeout(r, 20));
}
