/**
 * The packed-weights benchmark's section with the real XNNPACK: operator
 * creation for a chain of fully-connected layers (>= 256 MiB of f32 weights)
 * in fresh processes, through weightkit's provider (cold: packs into the
 * file; warm: maps it) against XNNPACK's own in-memory weights cache, which
 * every process pays, and against no cache at all; and the first inference
 * after it, where a mapped cache's pages are first read (warm, and warm with
 * `populate`, against a process whose packed weights sit in its heap). Runs the xnnpack_interop
 * program, built only where WEIGHTKIT_XNNPACK_DIR names a prebuilt XNNPACK.
 * @module
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { nativePrograms, runProgram } from '../native-programs.js';
import { type Bar } from './chart.js';
import { mdTable } from './page.js';
import { median } from './stats.js';

interface InteropRun {
  createMs: number;
  firstInferenceMs: number;
  /** Every inference of the process, the first included. */
  inferenceMs: number[];
  privateDirtyCreated: number;
  hits: number;
  reserves: number;
  outputHash: string;
  packed: { size: number }[];
  cache: { hits: number; packs: number; mappedBytes: number };
}

export interface RealXnnpackOptions {
  work: string;
  runs: number;
  log: (line: string) => void;
  /** Layers of [width, width] f32 weights (default 16 x 2048: 256 MiB). */
  layers?: number;
  width?: number;
}

export interface RealXnnpackResult {
  ran: true;
  layers: number;
  width: number;
  weightBytes: number;
  packedBytes: number;
  runs: number;
  createMs: { none: number; xnnpackCache: number; weightkitCold: number; weightkitWarm: number; weightkitWarmPopulated: number };
  privateDirtyBytes: { none: number; xnnpackCache: number; weightkitCold: number; weightkitWarm: number };
  /** The first inference after creation, where packed pages are first read. */
  firstInferenceMs: { none: number; xnnpackCache: number; weightkitWarm: number; weightkitWarmPopulated: number };
  /** The inferences after it (steady state): what in the first is one-time. */
  laterInferenceMs: { none: number; xnnpackCache: number; weightkitWarm: number; weightkitWarmPopulated: number };
  warmHitRate: number;
  warmReserves: number;
  outputsIdentical: boolean;
  ratios: {
    warmOverXnnpackCache: number; warmDirtyOverPacked: number;
    /** Warm creation + first inference over the faster first inference of the two processes whose packed weights sit in their heap. */
    warmReadyFirstOverHeapFirst: number; populatedReadyFirstOverHeapFirst: number;
  };
  targets: { warmOverXnnpackCache: number; warmDirtyOverPacked: number; readyFirstOverHeapFirst: number };
  samples: Record<string, number[]>;
}

export type RealXnnpackOutcome = RealXnnpackResult | { ran: false; reason: string };

export function runRealXnnpack(options: RealXnnpackOptions): RealXnnpackOutcome {
  const program = nativePrograms('interop').find((p) => p.name === 'xnnpack_interop');
  if (!program?.built) {
    return { ran: false, reason: 'xnnpack_interop is not built: set WEIGHTKIT_XNNPACK_DIR to a prebuilt XNNPACK (see ../shared/xnnpack) and rebuild' };
  }
  const layers = options.layers ?? 16;
  const width = options.width ?? 2048;
  const cache = join(options.work, 'real-xnnpack.xpwc');
  const run = (provider: string, cachePath = '', populate = false) =>
    runProgram<InteropRun>('xnnpack_interop', [
      'run', '--provider', provider, '--cache', cachePath, '--api', 'operator', '--layers', String(layers), '--width', String(width), '--populate', populate ? '1' : '0',
      '--runs', '3',
    ]);
  const fresh = () => {
    rmSync(cache, { force: true });
    rmSync(`${cache}.verified`, { force: true });
  };
  const samples = {
    none: [] as InteropRun[], xnnpackCache: [] as InteropRun[], weightkitCold: [] as InteropRun[], weightkitWarm: [] as InteropRun[],
    weightkitWarmPopulated: [] as InteropRun[],
  };
  // One uncounted round: the page cache and the binary warm up.
  fresh();
  run('weightkit', cache);
  for (let r = 0; r < options.runs; r++) {
    samples.none.push(run('none'));
    samples.xnnpackCache.push(run('xnnpack'));
    fresh();
    samples.weightkitCold.push(run('weightkit', cache));
    samples.weightkitWarm.push(run('weightkit', cache));
    samples.weightkitWarmPopulated.push(run('weightkit', cache, true));
    options.log(`real XNNPACK run ${r + 1}/${options.runs}: own cache ${samples.xnnpackCache.at(-1)!.createMs.toFixed(0)} ms, ` +
      `weightkit cold ${samples.weightkitCold.at(-1)!.createMs.toFixed(0)} ms, warm ${samples.weightkitWarm.at(-1)!.createMs.toFixed(2)} ms`);
  }
  fresh();
  const med = (k: keyof typeof samples, f: (r: InteropRun) => number) => median(samples[k].map(f));
  const createMs = {
    none: med('none', (r) => r.createMs), xnnpackCache: med('xnnpackCache', (r) => r.createMs),
    weightkitCold: med('weightkitCold', (r) => r.createMs), weightkitWarm: med('weightkitWarm', (r) => r.createMs),
    weightkitWarmPopulated: med('weightkitWarmPopulated', (r) => r.createMs),
  };
  const dirty = (r: InteropRun) => Math.max(0, r.privateDirtyCreated);
  const privateDirtyBytes = {
    none: med('none', dirty), xnnpackCache: med('xnnpackCache', dirty),
    weightkitCold: med('weightkitCold', dirty), weightkitWarm: med('weightkitWarm', dirty),
  };
  const first = (k: keyof typeof samples) => med(k, (r) => r.firstInferenceMs);
  const firstInferenceMs = {
    none: first('none'), xnnpackCache: first('xnnpackCache'), weightkitWarm: first('weightkitWarm'), weightkitWarmPopulated: first('weightkitWarmPopulated'),
  };
  const later = (k: keyof typeof samples) => med(k, (r) => median(r.inferenceMs.slice(1)));
  const laterInferenceMs = {
    none: later('none'), xnnpackCache: later('xnnpackCache'), weightkitWarm: later('weightkitWarm'), weightkitWarmPopulated: later('weightkitWarmPopulated'),
  };
  const readyFirst = (k: 'weightkitWarm' | 'weightkitWarmPopulated') => med(k, (r) => r.createMs + r.firstInferenceMs);
  // The stricter of the two heap processes: packed into each operator (none) or into XNNPACK's own cache.
  const heapFirst = Math.min(firstInferenceMs.none, firstInferenceMs.xnnpackCache);
  const packedBytes = samples.xnnpackCache[0]!.packed.reduce((a, e) => a + e.size, 0);
  const warm = samples.weightkitWarm;
  const hashes = new Set(Object.values(samples).flat().map((r) => r.outputHash));
  return {
    ran: true, layers, width, weightBytes: layers * width * width * 4, packedBytes, runs: options.runs, createMs, privateDirtyBytes, firstInferenceMs, laterInferenceMs,
    warmHitRate: Math.min(...warm.map((r) => r.hits / Math.max(1, r.hits + r.cache.packs))),
    warmReserves: Math.max(...warm.map((r) => r.reserves)),
    outputsIdentical: hashes.size === 1,
    ratios: {
      warmOverXnnpackCache: createMs.weightkitWarm / createMs.xnnpackCache, warmDirtyOverPacked: privateDirtyBytes.weightkitWarm / packedBytes,
      warmReadyFirstOverHeapFirst: readyFirst('weightkitWarm') / heapFirst,
      populatedReadyFirstOverHeapFirst: readyFirst('weightkitWarmPopulated') / heapFirst,
    },
    targets: { warmOverXnnpackCache: 0.02, warmDirtyOverPacked: 0.01, readyFirstOverHeapFirst: 1.5 },
    samples: Object.fromEntries(Object.entries(samples).flatMap(([k, rs]) => [
      [`${k}CreateMs`, rs.map((r) => r.createMs)], [`${k}FirstInferenceMs`, rs.map((r) => r.firstInferenceMs)], [`${k}PrivateDirty`, rs.map(dirty)],
    ])),
  };
}

/** The chart's bars (median creation ms). */
export function realXnnpackBars(r: RealXnnpackResult): Bar[] {
  return [
    { label: 'no weights cache (each operator packs)', value: r.createMs.none, series: 'xnnpack' },
    { label: "XNNPACK's own in-memory cache", value: r.createMs.xnnpackCache, series: 'xnnpack' },
    { label: 'weightkit cold (packs into the file)', value: r.createMs.weightkitCold, series: 'weightkit' },
    { label: 'weightkit warm (maps the file)', value: r.createMs.weightkitWarm, series: 'weightkit' },
  ];
}

export function realXnnpackMarkdown(outcome: RealXnnpackOutcome): string {
  if (!outcome.ran) {
    return `## With the real XNNPACK

Not run on this machine: ${outcome.reason}.
`;
  }
  const r = outcome;
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 3 : 1)}%`;
  return `## With the real XNNPACK

A chain of ${r.layers} fully-connected layers of [${r.width}, ${r.width}] f32 weights with biases
(${mib(r.weightBytes)} MiB of weights, ${mib(r.packedBytes)} MiB packed), created with
\`xnn_create_fully_connected_nc_f32\` by the prebuilt XNNPACK in ../shared/xnnpack
(program: packages/xnnpack-cache/native/interop/xnnpack_interop.cc). Every figure is a
fresh process; ${r.runs} rounds after one uncounted one, medians. "Creation" is from
opening the cache to finalizing it with every operator created; private dirty bytes
are what creation added to the process (/proc/self/smaps_rollup).

![chart](xnnpack-real.svg)

${mdTable(['measure', 'result', 'target'], [
    ['operator creation, warm (weightkit maps the file) / XNNPACK\'s own in-memory cache', `${pct(r.ratios.warmOverXnnpackCache)} (${r.createMs.weightkitWarm.toFixed(2)} ms vs ${r.createMs.xnnpackCache.toFixed(0)} ms)`, '<= 2%'],
    ['private dirty bytes after creation, warm / packed bytes', `${pct(r.ratios.warmDirtyOverPacked)} (${(r.privateDirtyBytes.weightkitWarm / 1024).toFixed(0)} KiB)`, '<= 1%'],
    ['warm: look-ups that hit / reserve calls', `${pct(r.warmHitRate)} / ${r.warmReserves}`, '100% / 0'],
    ['warm creation + first inference / the faster first inference of a process with its packed weights in its heap', `${r.ratios.warmReadyFirstOverHeapFirst.toFixed(3)}x${r.ratios.warmReadyFirstOverHeapFirst <= r.targets.readyFirstOverHeapFirst ? '' : ' — missed'}`, '<= 1.5x'],
    ['... with populate (pages read in at open, counted in creation)', `${r.ratios.populatedReadyFirstOverHeapFirst.toFixed(3)}x${r.ratios.populatedReadyFirstOverHeapFirst <= r.targets.readyFirstOverHeapFirst ? '' : ' — missed'}`, '<= 1.5x'],
    ['outputs of every process, every provider', r.outputsIdentical ? 'bit-identical' : 'DIFFER', 'bit-identical'],
  ])}

The first inference is where a mapped cache's pages are first read. \`populate\`
(\`PackedWeightsCache.open({ populate: true })\`, \`xnnpack.populate\`, or
\`weightkit_cache_open_with(path, WEIGHTKIT_CACHE_POPULATE, ...)\` in C) reads them in
while opening instead, off the JavaScript thread:

${mdTable(['process', 'creation ms', 'first inference ms', 'together ms', 'later inferences ms'], [
    ['none (packs into each operator)', r.createMs.none.toFixed(1), r.firstInferenceMs.none.toFixed(1), (r.createMs.none + r.firstInferenceMs.none).toFixed(1), r.laterInferenceMs.none.toFixed(1)],
    ["XNNPACK's own cache (packed weights in the heap)", r.createMs.xnnpackCache.toFixed(1), r.firstInferenceMs.xnnpackCache.toFixed(1), (r.createMs.xnnpackCache + r.firstInferenceMs.xnnpackCache).toFixed(1), r.laterInferenceMs.xnnpackCache.toFixed(1)],
    ['weightkit, warm (maps the file)', r.createMs.weightkitWarm.toFixed(2), r.firstInferenceMs.weightkitWarm.toFixed(1), (r.createMs.weightkitWarm + r.firstInferenceMs.weightkitWarm).toFixed(1), r.laterInferenceMs.weightkitWarm.toFixed(1)],
    ['weightkit, warm with populate (reads the pages in while opening)', r.createMs.weightkitWarmPopulated.toFixed(1), r.firstInferenceMs.weightkitWarmPopulated.toFixed(1), (r.createMs.weightkitWarmPopulated + r.firstInferenceMs.weightkitWarmPopulated).toFixed(1), r.laterInferenceMs.weightkitWarmPopulated.toFixed(1)],
  ])}
Later inferences (the second and third of each process) cost the same from the
mapped cache as from the heap: what the first one pays on top is one-time. It
is not page faults (with populate there are none: the process's mapping of the
file is resident, \`stats().populatedBytes\`) but the first access of each
page-table entry: on this virtual machine reading one byte of every 4 KiB page
of a 256 MiB file mapping, already populated, took 107-124 ms when the page
cache held the file in 4 KiB folios, 15-17 ms when it held 87% of it in 2 MiB
folios (what the writer got when regions started at any page), and 2.8 ms with
every region in 2 MiB folios mapped by one entry each (\`FilePmdMapped\` in
smaps). So the writer starts each region of 2 MiB and more on a 2 MiB boundary
of the file (the gap is a hole; packages/xnnpack-cache/native/src/region_writer.hpp):
the page cache it leaves holds the packed weights in 2 MiB folios, and a warm
process maps them 2 MiB at a time. With that, warm creation + first inference is
${r.ratios.warmReadyFirstOverHeapFirst.toFixed(3)}x the heap process's first inference${r.ratios.warmReadyFirstOverHeapFirst <= r.targets.readyFirstOverHeapFirst ? '' : ` (target ${r.targets.readyFirstOverHeapFirst}x missed)`}; the warm first inference
is still ${(r.firstInferenceMs.weightkitWarm - r.laterInferenceMs.weightkitWarm).toFixed(1)} ms over its later ones, with populate too, so it is neither faults nor
page-table entries; what it is has not been measured further (this virtual
machine exposes no hardware counters to \`perf\`).

${mdTable(['provider', 'creation ms (median)', 'private dirty after creation'], [
    ['none (each operator packs into its own memory)', r.createMs.none.toFixed(1), `${mib(r.privateDirtyBytes.none)} MiB`],
    ["XNNPACK's own weights cache (every process packs)", r.createMs.xnnpackCache.toFixed(1), `${mib(r.privateDirtyBytes.xnnpackCache)} MiB`],
    ['weightkit, cold (packs into the file, then maps it)', r.createMs.weightkitCold.toFixed(1), `${mib(r.privateDirtyBytes.weightkitCold)} MiB`],
    ['weightkit, warm (maps the file)', r.createMs.weightkitWarm.toFixed(2), `${mib(r.privateDirtyBytes.weightkitWarm)} MiB`],
  ])}
XNNPACK's own cache costs more than no cache in a single process because it
also hashes every packed buffer to deduplicate; its benefit is sharing within one
process, and every new process pays it again.
`;
}
