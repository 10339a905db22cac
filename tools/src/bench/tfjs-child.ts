/**
 * One measured load of a TensorFlow.js model, in its own process so its peak
 * RSS is its own. Both loaders end holding every weight's values as typed
 * arrays:
 *   weightkit: openNamedDataMap + map.get() of every weight
 *   tfjs:      what tfjs-core's loaders do: read the manifest and every
 *              shard, concatenate each group, io.decodeWeights, dataSync()
 * Each load keeps its values until the next one starts (then releases them).
 * Repeats the load `runs` times (times of each) and prints {ms[], openMs[],
 * peakRssBytes, values}; openMs is weightkit's open alone (empty for tfjs,
 * whose read and decode are one step).
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openNamedDataMap } from '@weightkit/core';
import { peakRssBytes } from './machine.js';

const [mode, manifest, runsText] = process.argv.slice(2) as [string, string, string];
const runs = Number(runsText);

interface Group {
  paths: string[];
  weights: { name: string; dtype: 'float32'; shape: number[] }[];
}

let held: { release(): void } | undefined;

async function tfjsLoader(): Promise<() => number> {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  tf.env().set('IS_TEST', true); // no "install our node backend" banner in the report
  await tf.setBackend('cpu');
  return () => {
    held?.release();
    const json = JSON.parse(readFileSync(manifest, 'utf8')) as Group[] | { weightsManifest: Group[] };
    const groups = Array.isArray(json) ? json : json.weightsManifest;
    let values = 0;
    const all: { dispose(): void }[] = [];
    for (const g of groups) {
      const data = Buffer.concat(g.paths.map((p) => readFileSync(join(dirname(manifest), p))));
      const tensors = tf.io.decodeWeights(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength), g.weights);
      for (const t of Object.values(tensors)) {
        values += t.dataSync().length;
        all.push(t);
      }
    }
    held = { release: () => all.forEach((t) => t.dispose()) };
    return values;
  };
}

const openMs: number[] = [];

function weightkitLoader(): () => Promise<number> {
  return async () => {
    held?.release();
    const t0 = performance.now();
    const map = await openNamedDataMap(manifest);
    openMs.push(performance.now() - t0);
    const arrays = map.keys().map((name) => map.get(name));
    held = { release: () => map.close() };
    return arrays.reduce((a, v) => a + v.length, 0);
  };
}

const load = mode === 'tfjs' ? await tfjsLoader() : weightkitLoader();
const ms: number[] = [];
let values = 0;
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  values = await load();
  ms.push(performance.now() - t0);
}
process.stdout.write(JSON.stringify({ ms, openMs, peakRssBytes: peakRssBytes(), values }) + '\n');
