/**
 * Opens MODEL (any format weightkit reads), reads every tensor's first
 * element and closes it, CYCLES times in synchronous loops (the event loop
 * never goes idle inside one), and prints as JSON the growth of the
 * mappings of the model's files and of RSS. A map's close() must release
 * every mapping it made at once.
 *
 * RSS is compared between two equal halves: V8 queues the finalizers of the
 * garbage a synchronous loop makes for the event loop, so the first half
 * sets a peak that glibc keeps mapped; a leak grows it again in the second.
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openNamedDataMapSync } from '@weightkit/core';
import '@weightkit/aoti-blob'; // registers .pt2 and AOTI folders with openNamedDataMap
import { need } from './env.js';

const model = need('MODEL');
const cycles = Number(need('CYCLES'));
const folder = dirname(model) + '/';
const mappings = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes(folder)).length;
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** RSS once the event loop has run the queued finalizers and a full collection has run. */
const settledRss = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  gc();
  return process.memoryUsage().rss;
};
const cycle = () => {
  const m = openNamedDataMapSync(model);
  for (const name of m.keys()) void m.get(name)[0];
  m.close();
};
const half = () => {
  for (let i = 0; i < cycles / 2; i++) cycle();
};

const before = mappings();
const t0 = performance.now();
half();
const peakAfterFirstHalf = mappings();
const rss1 = await settledRss();
half();
const seconds = (performance.now() - t0) / 1000;
const rss2 = await settledRss();
process.stdout.write(JSON.stringify({
  cycles, seconds: Math.round(seconds * 10) / 10,
  mappingsBefore: before, mappingsAfterHalf: peakAfterFirstHalf, mappingsAtEnd: mappings(),
  rssGrowthSecondHalfMiB: Math.round((rss2 - rss1) / 2 ** 20),
}) + '\n');
