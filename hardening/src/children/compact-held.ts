/** Tries to compact CACHE while another process has it open; prints the outcome. @module */
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { need } from './env.js';

try {
  await PackedWeightsCache.compactFile(need('CACHE'));
  process.stdout.write('compacted\n');
} catch (e) {
  process.stdout.write(`${(e as { code: string }).code}\n`);
}
