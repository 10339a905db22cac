/**
 * Maps the safetensors file P, lets another program cut it in place, then
 * reopens it (prints the answer) and reads a page past the new end: the
 * parent checks how this process ended.
 * @module
 */
import { truncateSync } from 'node:fs';
import { SafetensorsMap } from '@weightkit/core';
import { need } from './env.js';

const path = need('P');
const m = SafetensorsMap.openSync(path);
const v = m.bytes('l1.weight');
truncateSync(path, 4096);
let reopen = 'opened';
try {
  SafetensorsMap.openSync(path);
} catch (e) {
  reopen = (e as { code: string }).code;
}
process.stdout.write(`${reopen}\n`);
process.stdout.write(`${v[v.length - 1]}\n`);
