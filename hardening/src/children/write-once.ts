/** Packs MODEL into CACHE under NS (waiting up to LOCK_WAIT_MS for the writer lock), saves, closes. @module */
import { SafetensorsMap } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { need } from './env.js';

const map = SafetensorsMap.openSync(need('MODEL'));
const c = await PackedWeightsCache.open({ path: need('CACHE'), lockWaitMs: Number(process.env.LOCK_WAIT_MS ?? 30000) });
c.initialize();
await c.packModel(map, { namespace: need('NS') });
c.finalize();
await c.save();
const fallback = c.stats().heapFallbackBytes;
await c.close();
process.stdout.write(JSON.stringify({ heapFallback: Object.values(fallback).reduce((a: number, b) => a + (b as number), 0) }) + '\n');
