/** Says "go", compacts CACHE, prints how long it took (ms); the parent may kill it midway. @module */
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { need } from './env.js';

const t0 = performance.now();
process.stdout.write('go\n');
await PackedWeightsCache.compactFile(need('CACHE'));
process.stdout.write(`${performance.now() - t0}\n`);
