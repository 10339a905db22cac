/**
 * Benchmark of the packed-weights cache on a >= 1 GiB synthetic model, every
 * comparison measured in the same run: cold pack vs warm open (with and
 * without touching every page), dirty vs clean bytes after finalize, file
 * size over 50 load/unload cycles, 4 processes sharing one cache vs 4 heap
 * copies, packer throughput vs memcpy, and pack-into-file cost vs
 * ExecuTorch's sparse-ftruncate way. Writes docs/bench/xnnpack.{json,svg,md}.
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsMap, readFootprintAsync, writeSafetensors } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { runProgram } from '../native-programs.js';
import { synthModel } from '../synth/model.js';
import { runChild } from '../child-json.js';
import { barChart } from './chart.js';
import { machine, mdMachine } from './machine.js';
import { type BenchPage, mdTable } from './page.js';
import { median } from './stats.js';
import { type Targets, checkAll, targetText } from './targets.js';
import { type RealXnnpackOutcome, realXnnpackBars, realXnnpackMarkdown, runRealXnnpack } from './xnnpack-real.js';
import type { BenchRunOptions } from './run-options.js';

interface ChildResult {
  mode: string; ms: number; packMs: number; finalizeMs: number; packed: number; hits: number; packedBytes: number;
  flushMs: number; mappedBytes: number; heapBytes: number; fileBytes: number; cacheRss: number; cacheDirty: number;
  cacheClean: number; peakRssBytes: number;
}

/** `sizeBytes`: the model (default 1 GiB); `runs` of each measurement (default 3). */
export type XnnpackBenchOptions = BenchRunOptions;

/** The targets of this benchmark, declared once (checks and the page's target column). */
export const XNNPACK_TARGETS = {
  warmOverCold: { label: 'warm open + look-up of every entry / cold pack', max: 0.01, unit: 'pct' },
  warmTouchOverCold: { label: 'warm with every packed page touched / cold pack', max: 1 / 3, unit: 'pct' },
  coldPackAndFlushMs: { label: 'packing 1 GiB into the file including the flush', max: 1600, unit: 'ms' },
  dirtyFraction: { label: 'dirty bytes of the cache mapping after finalize / packed bytes', max: 0.01, unit: 'pct' },
  growthBytes: { label: 'file growth over 50 load/unload cycles', max: 0 },
  sharedPssOverOneCopy: { label: '4 processes sharing the cache: weights PSS / one copy', max: 1.1, unit: 'x' },
  f32GemmToMemcpy: { label: 'f32-gemm packer throughput / memcpy of the same bytes', min: 0.5, unit: 'pct' },
  qc8wToMemcpy: { label: 'qc8w packer throughput / memcpy of the same bytes', min: 0.25, unit: 'pct' },
} as const satisfies Targets<string>;
type XnnpackTarget = keyof typeof XNNPACK_TARGETS;

const child = join(dirname(fileURLToPath(import.meta.url)), 'xnnpack-child.js');

/** Starts `count` children in `mode` at once and sums their PSS while all are alive. */
async function sharedPss(count: number, model: string, cachePath: string) {
  const procs = Array.from({ length: count }, () => spawn(process.execPath, [child, 'share', model, cachePath], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const ready = procs.map((p) => new Promise<ChildResult>((resolve) => {
    let out = '';
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!));
    });
  }));
  const results = await Promise.all(ready);
  let pss = 0;
  for (const p of procs) pss += (await readFootprintAsync(p.pid!))!.totals.pss;
  const exits = procs.map((p) => new Promise((r) => p.on('exit', r)));
  for (const p of procs) p.stdin!.end();
  await Promise.all(exits);
  return { pss, results };
}

/** Everything one run measures, before any ratio is taken. */
interface XnnpackSamples {
  modelBytes: number;
  runs: number;
  cold: ChildResult[];
  warm: ChildResult[];
  warmTouch: ChildResult[];
  cycleSizes: number[];
  shared: { pss: number };
  heap: { pss: number };
  packers: Record<'f32-gemm' | 'qc8w', PackerTiming>;
  backing: { sparseFtruncateMs: number[]; fallocateMs: number[]; fallocatePwriteMs: number[] };
  realXnnpack: RealXnnpackOutcome;
}

type PackerTiming = { packNs: number; memcpyNs: number; sourceBytes: number; packedBytes: number };

/** Runs every measurement, each in its own processes where memory is measured. */
export async function measureXnnpack(options: XnnpackBenchOptions = {}): Promise<XnnpackSamples> {
  const size = options.sizeBytes ?? 2 ** 30;
  const runs = options.runs ?? 3;
  const log = options.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const work = options.workDir ?? join(tmpdir(), 'weightkit-bench-xnnpack');
  mkdirSync(work, { recursive: true });
  const model = join(work, `synth-${size}.safetensors`);
  if (!existsSync(model)) {
    log(`writing a ${size}-byte synthetic model...`);
    writeSafetensors(model, synthModel(size, 'float32').entries);
  }
  const cachePath = join(work, 'bench.xpwc');

  // Cold pack vs warm opens, interleaved run by run. One cold run first, not
  // counted: it pays for freeing the previous run's file and for reading the
  // model into the page cache.
  const cold: ChildResult[] = [];
  const warm: ChildResult[] = [];
  const warmTouch: ChildResult[] = [];
  rmSync(cachePath, { force: true });
  runChild<ChildResult>(child, ['cold', model, cachePath]);
  for (let r = 0; r < runs; r++) {
    rmSync(cachePath, { force: true });
    cold.push(runChild<ChildResult>(child, ['cold', model, cachePath]));
    warm.push(runChild<ChildResult>(child, ['warm', model, cachePath]));
    warmTouch.push(runChild<ChildResult>(child, ['warm-touch', model, cachePath]));
    log(`run ${r + 1}/${runs}: cold ${cold.at(-1)!.ms.toFixed(0)} ms, warm ${warm.at(-1)!.ms.toFixed(1)} ms, warm+touch ${warmTouch.at(-1)!.ms.toFixed(0)} ms`);
  }

  log('50 load/unload cycles...');
  const cycleSizes: number[] = [];
  const map = SafetensorsMap.openSync(model);
  for (let i = 0; i < 50; i++) {
    const c = await PackedWeightsCache.open({ path: cachePath });
    c.initialize();
    await c.packModel(map);
    const names = c.finalize();
    await c.save();
    c.release(names);
    await c.close();
    cycleSizes.push(statSync(cachePath).size);
  }
  map.close();

  log('4 processes sharing one cache vs 4 heap copies...');
  const shared = await sharedPss(4, model, cachePath);
  const heap = await sharedPss(4, model, '');

  log('packer throughput and file backing...');
  const packers = {
    'f32-gemm': runProgram<PackerTiming>('xnnpack_bench', ['packer', 'f32-gemm', '4096', '4096', '9', '16']),
    qc8w: runProgram<PackerTiming>('xnnpack_bench', ['packer', 'qc8w', '4096', '4096', '9', '16']),
  };
  const backing = { sparseFtruncateMs: [] as number[], fallocateMs: [] as number[], fallocatePwriteMs: [] as number[] };
  const back = (how: string) => runProgram<{ ms: number }>('xnnpack_bench', ['backing', join(work, 'backing.bin'), String(2 ** 30), String(16 << 20), how]).ms;
  for (let r = 0; r < runs; r++) {
    backing.sparseFtruncateMs.push(back('sparse-mmap'));
    backing.fallocateMs.push(back('fallocate-mmap'));
    backing.fallocatePwriteMs.push(back('fallocate-pwrite'));
  }

  log('the real XNNPACK...');
  const realXnnpack = runRealXnnpack({ work, runs: Math.max(runs, 5), log });
  return { modelBytes: statSync(model).size, runs, cold, warm, warmTouch, cycleSizes, shared, heap, packers, backing, realXnnpack };
}

/** Medians, ratios and the targets' verdicts. */
export function xnnpackResult(m: XnnpackSamples) {
  const med = (xs: ChildResult[], k: keyof ChildResult) => median(xs.map((x) => x[k] as number));
  const packedBytes = m.cold[0]!.packedBytes;
  const coldMs = med(m.cold, 'ms');
  const figures = {
    coldMs, warmMs: med(m.warm, 'ms'), warmTouchMs: med(m.warmTouch, 'ms'),
    coldPackAndFlushMs: median(m.cold.map((c) => c.packMs + c.finalizeMs)),
    flushMs: med(m.cold, 'flushMs'),
    afterFinalize: { dirtyBytes: med(m.cold, 'cacheDirty'), cleanBytes: med(m.cold, 'cacheClean') },
    cycles: { first: m.cycleSizes[0]!, last: m.cycleSizes.at(-1)!, growthBytes: m.cycleSizes.at(-1)! - m.cycleSizes[0]! },
    sharing: { cachedTotalPss: m.shared.pss, heapTotalPss: m.heap.pss },
    packers: Object.fromEntries(Object.entries(m.packers).map(([k, t]) => [k, { ...t, ratioToMemcpy: t.memcpyNs / t.packNs }])) as Record<'f32-gemm' | 'qc8w', PackerTiming & { ratioToMemcpy: number }>,
    fileBacking: {
      sparseFtruncateMs: median(m.backing.sparseFtruncateMs), fallocateMs: median(m.backing.fallocateMs), fallocatePwriteMs: median(m.backing.fallocatePwriteMs),
    },
  };
  const ratios = {
    warmOverCold: figures.warmMs / coldMs,
    warmTouchOverCold: figures.warmTouchMs / coldMs,
    dirtyFraction: figures.afterFinalize.dirtyBytes / packedBytes,
    // Every process's PSS includes Node itself; compare the weights only.
    sharedPssOverOneCopy: (m.shared.pss - (m.heap.pss - 4 * packedBytes)) / packedBytes,
    f32GemmToMemcpy: figures.packers['f32-gemm'].ratioToMemcpy,
    qc8wToMemcpy: figures.packers.qc8w.ratioToMemcpy,
    sparseOverFallocate: figures.fileBacking.sparseFtruncateMs / figures.fileBacking.fallocateMs,
    sparseOverPwrite: figures.fileBacking.sparseFtruncateMs / figures.fileBacking.fallocatePwriteMs,
    // The pack including its flush against only writing the same bytes to disk.
    packOverDiskWrite: figures.coldPackAndFlushMs / (figures.fileBacking.fallocatePwriteMs * (packedBytes / 2 ** 30)),
  };
  const values: Record<XnnpackTarget, number> = {
    warmOverCold: ratios.warmOverCold, warmTouchOverCold: ratios.warmTouchOverCold, coldPackAndFlushMs: figures.coldPackAndFlushMs,
    dirtyFraction: ratios.dirtyFraction, growthBytes: figures.cycles.growthBytes, sharedPssOverOneCopy: ratios.sharedPssOverOneCopy,
    f32GemmToMemcpy: ratios.f32GemmToMemcpy, qc8wToMemcpy: ratios.qc8wToMemcpy,
  };
  return {
    benchmark: 'xnnpack-cache', machine: machine(), modelBytes: m.modelBytes, packedBytes, runs: m.runs, ...figures, ratios,
    checks: checkAll(XNNPACK_TARGETS, values),
    samples: {
      coldMs: m.cold.map((c) => c.ms), coldPackAndFlushMs: m.cold.map((c) => c.packMs + c.finalizeMs), warmMs: m.warm.map((c) => c.ms),
      warmTouchMs: m.warmTouch.map((c) => c.ms), fileBacking: m.backing,
    },
    realXnnpack: m.realXnnpack,
  };
}

export type XnnpackResult = ReturnType<typeof xnnpackResult>;

/** The chart and the results page. */
export function xnnpackReport(r: XnnpackResult): BenchPage {
  const gib = (b: number) => (b / 2 ** 30).toFixed(2);
  const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 3 : 1)}%`;
  const svg = barChart(`Packed-weights cache, ${gib(r.packedBytes)} GiB packed: median ms`, 'ms', [
    { label: 'cold: pack into the file + flush + save', value: r.coldMs, series: 'cold' },
    { label: 'warm: open + look up every entry', value: r.warmMs, series: 'warm' },
    { label: 'warm: ... + touch every page', value: r.warmTouchMs, series: 'warm' },
    { label: "1 GiB via sparse ftruncate (ExecuTorch's)", value: r.fileBacking.sparseFtruncateMs, series: 'backing' },
    { label: '1 GiB via posix_fallocate + mmap', value: r.fileBacking.fallocateMs, series: 'backing' },
    { label: '1 GiB via posix_fallocate + pwrite (the cache)', value: r.fileBacking.fallocatePwriteMs, series: 'backing' },
  ], true);
  const shown: Record<XnnpackTarget, string> = {
    warmOverCold: `${pct(r.ratios.warmOverCold)} (${r.warmMs.toFixed(1)} ms vs ${r.coldMs.toFixed(0)} ms)`,
    warmTouchOverCold: `${pct(r.ratios.warmTouchOverCold)} (${r.warmTouchMs.toFixed(0)} ms)`,
    coldPackAndFlushMs: `${r.coldPackAndFlushMs.toFixed(0)} ms (flush ${r.flushMs.toFixed(0)} ms; runs ${r.samples.coldPackAndFlushMs.map((x) => x.toFixed(0)).join(', ')})`,
    dirtyFraction: `${pct(r.ratios.dirtyFraction)} (${r.afterFinalize.dirtyBytes} dirty, ${r.afterFinalize.cleanBytes} clean)`,
    growthBytes: `${r.cycles.growthBytes} bytes`,
    sharedPssOverOneCopy: `${r.ratios.sharedPssOverOneCopy.toFixed(2)}x (4 heap-packed processes: 4 copies)`,
    f32GemmToMemcpy: pct(r.ratios.f32GemmToMemcpy),
    qc8wToMemcpy: pct(r.ratios.qc8wToMemcpy),
  };
  const row = (k: XnnpackTarget) => [XNNPACK_TARGETS[k].label, `${shown[k]}${r.checks[k].met ? '' : ' — missed'}`, targetText(XNNPACK_TARGETS[k])];
  const markdown = `---
title: "Benchmark: the packed-weights cache"
group: Benchmarks
---

# Packed-weights cache on a ${gib(r.modelBytes)} GiB model

\`npm run bench:xnnpack\` (source: tools/src/bench/xnnpack.ts). A synthetic f32
decoder model (\`weightkit synth\`), every weight of rank >= 2 packed with the
f32-gemm packer (nr 16). Each cold/warm measurement is a fresh process
(${r.runs} runs after one uncounted cold run, medians, interleaved); the page
cache is warm. Packed weights are written to the file with pwrite from a reused
staging buffer and then mapped read-only, so every cold time below includes
writing 1 GiB to this machine's disk, whose speed varies a lot from minute to
minute on a shared host: the same-run baselines (backing rows) say what the
disk allowed.

![chart](xnnpack.svg)

${mdTable(['measure', 'result', 'target'], [
    row('warmOverCold'), row('warmTouchOverCold'), row('coldPackAndFlushMs'),
    ['... / only writing the same bytes to disk (fallocate + pwrite + fdatasync), same run', `${r.ratios.packOverDiskWrite.toFixed(2)}x`, ''],
    ["writing 1 GiB to a new file, to disk: ExecuTorch's sparse ftruncate + mmap / fallocate + mmap / fallocate + pwrite",
      `${r.fileBacking.sparseFtruncateMs.toFixed(0)} / ${r.fileBacking.fallocateMs.toFixed(0)} / ${r.fileBacking.fallocatePwriteMs.toFixed(0)} ms (sparse / pwrite = ${r.ratios.sparseOverPwrite.toFixed(1)}x)`, ''],
    row('dirtyFraction'), row('growthBytes'), row('sharedPssOverOneCopy'), row('f32GemmToMemcpy'), row('qc8wToMemcpy'),
  ])}
How the PSS comparison is computed: the total PSS of the 4 heap-packing
processes minus 4 packed copies is what 4 Node processes cost without
weights; subtracting that from the total PSS of the 4 processes sharing the
cache leaves what their weights cost together (${(r.sharing.cachedTotalPss / 2 ** 20).toFixed(0)} MiB total vs
${(r.sharing.heapTotalPss / 2 ** 20).toFixed(0)} MiB for the heap copies).

${realXnnpackMarkdown(r.realXnnpack)}
${mdMachine(r.machine)}
Raw numbers: [xnnpack.json](xnnpack.json).
`;
  const extraCharts: Record<string, string> = r.realXnnpack.ran
    ? { 'xnnpack-real': barChart(`Real XNNPACK, ${(r.realXnnpack.packedBytes / 2 ** 20).toFixed(0)} MiB packed: operator creation, median ms`, 'ms', realXnnpackBars(r.realXnnpack), true) }
    : {};
  return { name: 'xnnpack', result: r, svg, markdown, extraCharts };
}

export async function runXnnpackBench(options: XnnpackBenchOptions = {}): Promise<XnnpackResult> {
  return xnnpackResult(await measureXnnpack(options));
}
