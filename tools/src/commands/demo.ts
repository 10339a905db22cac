/**
 * `weightkit demo`: the main job on the bundled default model. Each backend
 * adds a step: the model's tensors, every face-api manifest opened zero-copy,
 * the packed-weights cache cold and warm, real XNNPACK operators through that
 * cache (where XNNPACK was built in), a .pt2 round trip, and an offloaded run.
 * @module
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openNamedDataMap, writeSafetensorsAsync } from '@weightkit/core';
import { AotiWeights, writePt2 } from '@weightkit/aoti-blob';
import { OffloadRuntime, scheduleFacts } from '@weightkit/cuda-offload';
import { parse, positionals } from '../cli/args.js';
import type { Command } from '../cli/command.js';
import { formatBytes, printTable } from '../cli/output.js';
import { INSTALL_DEFAULT_MODEL, defaultManifests, defaultModel, hasDefaultModel } from '../default-model.js';
import { synthModel } from '../synth/model.js';
import { nativePrograms, runProgram } from '../native-programs.js';
import type { CachePackJson } from './cache.js';
import { describeMap, printInspect } from './inspect.js';
import { spawnJson } from '../child-json.js';

const usage = `usage: weightkit demo [--model <file>]

Runs weightkit's main job on a model and prints what it did. The default is
face-api's face_recognition model from the npm package @vladmandic/face-api
(an optional peer: where it is not installed, a synthetic model stands in).`;

/** A small synthetic transformer (weightkit synth) for when face-api is not installed. */
async function syntheticModel(work: string): Promise<string> {
  const path = join(work, 'synthetic.safetensors');
  await writeSafetensorsAsync(path, synthModel(4 << 20, 'float32').entries);
  process.stdout.write(
    `The default model (@vladmandic/face-api, an optional peer) is not installed, so a synthetic 4 MiB\n` +
      `transformer stands in (${INSTALL_DEFAULT_MODEL} to run on real weights).\n\n`,
  );
  return path;
}

async function inspectStep(model: string): Promise<void> {
  const map = await openNamedDataMap(model);
  try {
    printInspect(describeMap(map), model);
  } finally {
    map.close();
  }
}

async function allManifestsStep(): Promise<void> {
  const rows: string[][] = [];
  let total = 0;
  for (const manifest of defaultManifests()) {
    const t0 = performance.now();
    const map = await openNamedDataMap(manifest);
    const ms = performance.now() - t0;
    total += map.catalog.totalBytes;
    rows.push([basename(manifest), String(map.catalog.size), formatBytes(map.catalog.totalBytes), ms.toFixed(2), String(map.copiedBytes)]);
    map.close();
  }
  process.stdout.write('\nEvery model of the bundled package, opened zero-copy:\n');
  printTable(['manifest', 'tensors', 'stored', 'open ms', 'bytes copied'], rows);
  process.stdout.write(`total ${formatBytes(total)}\n`);
}

/** Packs the model into a fresh cache in one process, then reuses it from another. */
function cacheStep(model: string, work: string): void {
  const bin = fileURLToPath(new URL('../bin/weightkit.js', import.meta.url));
  const cacheFile = join(work, 'default-model.xpwc');
  const run = () => spawnJson<CachePackJson>(process.execPath, [bin, 'cache', 'pack', model, '--cache', cacheFile, '--json', '--footprint'], process.env, 'weightkit');
  const cold = run();
  const warm = run();
  const row = (label: string, d: CachePackJson) => [
    label, d.millis.toFixed(1), String(d.packed), String(d.hits), formatBytes(d.fileBytes),
    formatBytes(d.footprint?.privateDirty ?? 0), formatBytes((d.footprint?.privateClean ?? 0) + (d.footprint?.sharedClean ?? 0)),
  ];
  process.stdout.write('\nPacked-weights cache (XPWC), each run a fresh process:\n');
  printTable(['run', 'ms', 'packed', 'hits', 'cache file', 'dirty', 'clean'], [row('cold (packs)', cold), row('warm (maps)', warm)]);
  process.stdout.write(`  warm start: ${(cold.millis / Math.max(warm.millis, 1e-3)).toFixed(1)}x faster, packed pages clean after finalize\n`);
}

/** Converts the model to a .pt2 and opens it back zero-copy. */
async function aotiStep(model: string, work: string): Promise<void> {
  const source = await openNamedDataMap(model);
  const pt2 = join(work, 'default-model.pt2');
  try {
    const written = await writePt2(pt2, source);
    const t0 = performance.now();
    const w = await AotiWeights.open(pt2);
    const openMs = performance.now() - t0;
    let mismatched = 0;
    for (const name of source.keys()) {
      const a = source.get(name);
      const b = w.get(name);
      if (a.length !== b.length || a.some((v, i) => v !== b[i])) mismatched++;
    }
    process.stdout.write(
      `\nAOTInductor (.pt2): converted ${written.constants} constants to ${pt2} (payload ${formatBytes(written.payloadBytes)})\n` +
        `  opened zero-copy in ${openMs.toFixed(2)} ms, bytes copied: ${w.copiedBytes}, constants differing from the source: ${mismatched}\n`,
    );
    w.close();
  } finally {
    source.close();
  }
}

interface InteropRun {
  operators: number;
  createMs: number;
  hits: number;
  inserts: number;
  outputHash: string;
  privateDirtyCreated: number;
}

/**
 * Creates real XNNPACK fully-connected operators from the model's filters
 * (each [kh, kw, cin, cout] filter as a [kh*kw*cin, cout] matrix, with its
 * bias) three ways: XNNPACK's own weights cache, then weightkit's cache cold
 * and warm, each in a fresh process. Needs the interop program, built where
 * WEIGHTKIT_XNNPACK_DIR names a prebuilt XNNPACK.
 */
async function xnnpackStep(model: string, work: string): Promise<void> {
  if (!nativePrograms('interop').some((p) => p.name === 'xnnpack_interop' && p.built && existsSync(p.path))) {
    process.stdout.write('\nReal XNNPACK: not built here (build with WEIGHTKIT_XNNPACK_DIR set to a prebuilt XNNPACK to add this step)\n');
    return;
  }
  const map = await openNamedDataMap(model);
  const chunks: Uint8Array[] = [];
  const spec: string[] = [];
  let offset = 0;
  const put = (name: string) => {
    const f = Float32Array.from(map.get(name) as Float32Array);
    chunks.push(new Uint8Array(f.buffer));
    offset += f.byteLength;
    return offset - f.byteLength;
  };
  try {
    const names = new Set(map.keys());
    for (const name of names) {
      const info = map.info(name);
      const bias = name.replace(/filters$/, 'bias');
      if (!name.endsWith('/filters') || info.dtype !== 'float32' || info.shape.length !== 4 || !names.has(bias)) continue;
      const [kh, kw, cin, cout] = info.shape as [number, number, number, number];
      const w = put(name);
      const b = put(bias);
      spec.push(`${name.replace(/\s/g, '_')} ${cout} ${kh * kw * cin} ${w} ${b} 1`);
    }
  } finally {
    map.close();
  }
  if (spec.length === 0) {
    process.stdout.write('\nReal XNNPACK: the model has no float32 [kh, kw, cin, cout] filters with biases to make operators of\n');
    return;
  }
  const weights = join(work, 'xnnpack-chain.bin');
  const specFile = join(work, 'xnnpack-chain.spec');
  writeFileSync(weights, Buffer.concat(chunks));
  writeFileSync(specFile, spec.join('\n') + '\n');
  const cache = join(work, 'xnnpack-chain.xpwc');
  const run = (provider: string) => runProgram<InteropRun>('xnnpack_interop', ['run', '--provider', provider, '--cache', provider === 'weightkit' ? cache : '', '--weights', weights, '--spec', specFile]);
  const runs: [string, InteropRun][] = [['XNNPACK\'s own cache', run('xnnpack')], ['weightkit, cold (packs)', run('weightkit')], ['weightkit, warm (maps)', run('weightkit')]];
  process.stdout.write(`\nReal XNNPACK: ${runs[0]![1].operators} fully-connected operators from the model's filters, each run a fresh process:\n`);
  printTable(['run', 'create ms', 'packed', 'hits', 'dirty after create'], runs.map(([label, r]) => [label, r.createMs.toFixed(2), String(r.inserts), String(r.hits), formatBytes(Math.max(0, r.privateDirtyCreated))]));
  const same = new Set(runs.map(([, r]) => r.outputHash)).size === 1;
  process.stdout.write(`  outputs ${same ? 'bit-identical across all three' : 'DIFFER'}\n`);
}

/** Runs the model under a device budget of about a quarter of its weights. */
async function offloadStep(model: string): Promise<void> {
  const map = await openNamedDataMap(model);
  try {
    const { totalBytes: total, floorBytes } = scheduleFacts(map);
    const budgetMb = Math.max(Math.ceil(total / 4 / 2 ** 20), Math.ceil(floorBytes / 2 ** 20));
    const rt = await OffloadRuntime.create({ weights: map, budgetMb, computeUsPerStep: 20, computeUsPerMiB: 40 });
    try {
      await rt.runPasses(4);
      const s = rt.stats();
      process.stdout.write(
        `\nCUDA weight offload (${rt.device}: ${rt.deviceReason}): ${formatBytes(total)} of weights under a ${budgetMb} MiB budget\n`,
      );
      printTable(['pass', 'moved', 'lower bound', 'ms'], s.bytesH2DPerPass.map((b, i) => [String(i + 1), formatBytes(b), formatBytes(s.lowerBoundBytesPerPass), s.msPerPass[i]!.toFixed(3)]));
      process.stdout.write(`  peak device ${formatBytes(s.peakDeviceBytes)}, stall ${s.stallMs.toFixed(3)} ms, copies hidden behind compute ${(s.overlap * 100).toFixed(0)}%\n`);
    } finally {
      rt.close();
    }
  } finally {
    map.close();
  }
}

export const demo: Command = {
  name: 'demo',
  summary: 'run the main job on the bundled default model',
  usage,
  async run(argv) {
    const { values, positionals: pos } = parse(argv, { model: { type: 'string' } }, usage);
    positionals(pos, 0, usage);
    process.stdout.write('== weightkit demo ==\n\n');
    const work = mkdtempSync(join(tmpdir(), 'weightkit-demo-'));
    try {
      const bundled = !values.model && hasDefaultModel();
      const model = values.model ?? (bundled ? defaultModel() : await syntheticModel(work));
      await inspectStep(model);
      if (bundled) await allManifestsStep();
      cacheStep(model, work);
      await xnnpackStep(model, work);
      await aotiStep(model, work);
      await offloadStep(model);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};
