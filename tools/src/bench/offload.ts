/**
 * Benchmark of the offload runtime on the emulated CUDA runtime: a budget
 * sweep from the floor to 100% of the weights x policy (next-use vs LRU) x
 * prefetch depth, in two compute regimes. Reports bytes per pass against the
 * lower bound, pass time against max(copy, compute), stall, and whether
 * bytes per pass fall monotonically as the budget grows.
 * Writes docs/bench/offload.{json,svg,md}.
 * @module
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsMap, writeSafetensors } from '@weightkit/core';
import { OffloadRuntime, chooseDevice, scheduleFacts } from '@weightkit/cuda-offload';
import { synthModel } from '../synth/model.js';
import { barChart } from './chart.js';
import { machine, mdMachine } from './machine.js';
import { type BenchPage, mdTable } from './page.js';
import { median } from './stats.js';
import { type Targets, meets, targetText } from './targets.js';
import { EMULATED_PASS_TARGETS, type EmulatedPass, measureEmulatedPass } from './emulated-pass.js';
import { measureMixes, mixMarkdown, mixResult } from './offload-mixes.js';

const MiB = 2 ** 20;

export interface OffloadBenchOptions {
  sizeBytes?: number;
  passes?: number;
  workDir?: string;
  /** Bandwidth of the emulated device (ignored on CUDA). */
  h2dGBps?: number;
  /** `emu` (default; writes docs/bench/offload.*) or `cuda` (a real GPU; writes docs/bench/offload-cuda.*). */
  device?: 'emu' | 'cuda';
  log?: (line: string) => void;
}

interface Row {
  regime: string;
  policy: 'next-use' | 'lru';
  prefetch: string;
  budgetMb: number;
  steadyBytesPerPass: number;
  boundBytesPerPass: number;
  passMs: number;
  copyMs: number;
  computeMs: number;
  stallMs: number;
  peakDeviceBytes: number;
}

/** Runs the budget sweep and the mixed-size sweep (every figure from this run). */
export async function measureOffload(options: OffloadBenchOptions = {}) {
  const size = options.sizeBytes ?? 256 * MiB;
  const passes = options.passes ?? 5;
  const device = options.device ?? 'emu';
  // Before any work or output: without a GPU, --device cuda fails at once (WK_DEVICE says why).
  if (device === 'cuda') chooseDevice('cuda');
  const log = options.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const work = options.workDir ?? join(tmpdir(), 'weightkit-bench-offload');
  mkdirSync(work, { recursive: true });
  const path = join(work, `synth-${size}.safetensors`);
  if (!existsSync(path)) writeSafetensors(path, synthModel(size, 'float32').entries);
  const map = SafetensorsMap.openSync(path);
  const base = scheduleFacts(map);
  const total = base.totalBytes;
  const largest = Math.max(...[...map.catalog].map((t) => t.byteLength));
  const floorMb = Math.ceil(base.floorBytes / MiB);
  const totalMb = Math.ceil(total / MiB);
  const budgets = [...new Set(Array.from({ length: 8 }, (_, i) => Math.round(floorMb + ((totalMb - floorMb) * i) / 7)))];
  const deviceOptions = device === 'emu' ? { device, emu: { h2dGBps: options.h2dGBps ?? 25 } } : { device };

  // The runtime's own copy rate, against plain pinned copies measured by the
  // same device layer in the same process: every weight streamed at the
  // floor, nothing to compute.
  log('host-to-device copy rate...');
  const copyOnly = await OffloadRuntime.create({ weights: map, budgetMb: floorMb, ...deviceOptions, computeUsPerStep: 0, computeUsPerMiB: 0 });
  await copyOnly.runPasses(passes);
  const cs = copyOnly.stats();
  const h2dRate = {
    deviceName: cs.deviceName,
    pinnedCopyGBps: cs.pinnedCopyGBps,
    runtimeGBps: median(cs.bytesH2DPerPass.slice(2).map((b, i) => b / (cs.msPerPass[i + 2]! * 1e6))),
  };
  copyOnly.close();
  // Compute is modelled against the measured copy rate, so each regime means
  // the same on any device.
  const h2d = h2dRate.pinnedCopyGBps;
  const regimes = [
    { name: 'compute >= copy', computeUsPerMiB: (1e6 / (h2d * 1e9)) * MiB * 1.5, computeUsPerStep: 5 },
    { name: 'copy-bound', computeUsPerMiB: (1e6 / (h2d * 1e9)) * MiB * 0.25, computeUsPerStep: 5 },
  ];
  const prefetches: [string, number | undefined][] = [['none', 0], ['2 weights', (2 * largest) / MiB], ['unlimited', undefined]];
  const rows: Row[] = [];
  // The emulator times its copy engine; on CUDA, the bytes at the pinned rate.
  const copyMs = (s: ReturnType<OffloadRuntime['stats']>, steadyBytes: number) =>
    device === 'emu' ? median(s.copyMsPerPass.slice(2)) : (steadyBytes / (h2d * 1e9)) * 1e3;
  for (const regime of regimes) {
    for (const policy of ['next-use', 'lru'] as const) {
      for (const [prefetch, prefetchMb] of prefetches) {
        for (const budgetMb of budgets) {
          const rt = await OffloadRuntime.create({
            weights: map, budgetMb, ...deviceOptions, policy,
            computeUsPerStep: regime.computeUsPerStep, computeUsPerMiB: regime.computeUsPerMiB,
            ...(prefetchMb !== undefined ? { prefetchMb } : {}),
          });
          await rt.runPasses(passes);
          const s = rt.stats();
          const steady = s.bytesH2DPerPass.slice(2);
          const passMs = median(s.msPerPass.slice(2));
          // Steady state: passes 3 and later (the first passes also fill the device).
          rows.push({
            regime: regime.name, policy, prefetch, budgetMb,
            steadyBytesPerPass: Math.max(...steady),
            boundBytesPerPass: Math.max(0, total - budgetMb * MiB),
            passMs,
            copyMs: copyMs(s, Math.max(...steady)),
            computeMs: s.computeMs / s.passes,
            stallMs: median(s.stallMsPerPass.slice(2)),
            peakDeviceBytes: s.peakDeviceBytes,
          });
          rt.close();
        }
        log(`${regime.name}, ${policy}, prefetch ${prefetch}: done`);
      }
    }
  }
  map.close();
  // The emulator's own cost (issue 21): one pass at the floor, in a child of its own.
  const emulatedPass = device === 'emu' ? measureEmulatedPass(path, floorMb) : undefined;
  const mixes = await measureMixes({
    work, unitBytes: Math.max(MiB / 4, 4 * Math.round(size / 64 / 4)), passes, device: deviceOptions,
    computeUsPerMiB: regimes[0]!.computeUsPerMiB, copyMs, log,
  });

  return { device, passes, total, largest, floorBytes: base.floorBytes, budgets, h2d, h2dRate, rows, mixes, emuGBps: options.h2dGBps ?? 25, emulatedPass };
}

type OffloadSamples = Awaited<ReturnType<typeof measureOffload>>;

/** The targets of the decoder sweep (next-use, unlimited prefetch), declared once. */
export const OFFLOAD_TARGETS = {
  withinBoundPlusLargest: { label: 'steady bytes per pass <= lower bound + largest weight, every budget', min: 1, max: 1 },
  passWithin105OfMaxCopyCompute: { label: 'pass time <= 1.05 x max(copy time of bytes moved, compute)', min: 1, max: 1 },
  stallUnder5PctWhenComputeBound: { label: 'stall <= 5% of pass time when compute >= copy', min: 1, max: 1 },
  monotonicNextUse: { label: 'bytes per pass never increase as the budget grows (next-use, every prefetch depth)', min: 1, max: 1 },
  peakWithinBudget: { label: 'peak device bytes <= budget, every run', min: 1, max: 1 },
} as const satisfies Targets<string>;

/** The emulator's own cost at the floor: its three targets and what they measured. */
function emulatedPassMarkdown(p: EmulatedPass): string {
  const f = (x: number, d = 2) => x.toFixed(d);
  const row = (k: keyof typeof EMULATED_PASS_TARGETS, shown: string) =>
    [EMULATED_PASS_TARGETS[k].label, `${meets(EMULATED_PASS_TARGETS[k], p[k]) ? 'yes' : 'no'} (${shown})`, targetText(EMULATED_PASS_TARGETS[k])];
  return `## The emulated device's own cost

Passes at the floor (${p.budgetMb} MiB) in a child process of its own
(tools/src/bench/emulated-pass-child.ts): two to warm up, then three taking
turns with a memcpy baseline that copies the same bytes out of the same mapping
in the same child; medians.
Models from 1 GiB to 64 GiB: [bench scale](scale.md).

${mdTable(['measure', 'result', 'target'], [
    row('passVsBound', `${f(p.passMs)} ms vs modelled ${f(p.modelledMs)} ms, memcpy ${f(p.memcpyMs)} ms: ${f(p.passVsBound)}x`),
    row('faultsPerPage', `${p.minorFaults} faults, ${(p.bytesMoved / 4096).toFixed(0)} pages moved: ${f(p.faultsPerPage * 100, 3)}%`),
    row('anonOverBudget', `${f(p.anonRssBytes / MiB, 1)} MiB of ${f(p.boundBytes / MiB, 1)} MiB: ${f(p.anonOverBudget)}x`),
  ])}
`;
}

/** Verdicts, the worst pass ratio and the result document. */
export function offloadResult(m: OffloadSamples) {
  const { rows, total, largest, budgets, h2d, h2dRate, device, passes } = m;
  const configs = [...new Set(rows.map((r) => `${r.regime}|${r.policy}|${r.prefetch}`))];
  const monotonic = Object.fromEntries(configs.map((c) => {
    const series = rows.filter((r) => `${r.regime}|${r.policy}|${r.prefetch}` === c).sort((a, b) => a.budgetMb - b.budgetMb);
    return [c, series.every((r, i) => i === 0 || r.steadyBytesPerPass <= series[i - 1]!.steadyBytesPerPass)];
  }));
  const nextUseFull = rows.filter((r) => r.policy === 'next-use' && r.prefetch === 'unlimited');
  const verdicts: Record<keyof typeof OFFLOAD_TARGETS, boolean> = {
    withinBoundPlusLargest: nextUseFull.every((r) => r.steadyBytesPerPass <= r.boundBytesPerPass + largest),
    passWithin105OfMaxCopyCompute: nextUseFull.every((r) => r.passMs <= 1.05 * Math.max(r.copyMs, r.computeMs) + 0.01),
    stallUnder5PctWhenComputeBound: nextUseFull.filter((r) => r.regime === 'compute >= copy').every((r) => r.stallMs <= 0.05 * r.passMs),
    monotonicNextUse: configs.filter((c) => c.includes('|next-use|')).every((c) => monotonic[c]),
    peakWithinBudget: rows.every((r) => r.peakDeviceBytes <= r.budgetMb * MiB),
  };
  const checks = Object.fromEntries(Object.entries(verdicts).map(([k, ok]) => [k, meets(OFFLOAD_TARGETS[k as keyof typeof OFFLOAD_TARGETS], ok ? 1 : 0)])) as typeof verdicts;
  const worst = nextUseFull.reduce((w, r) => {
    const ratio = r.passMs / Math.max(r.copyMs, r.computeMs, 1e-9);
    return ratio > w.ratio ? { ratio, budgetMb: r.budgetMb, regime: r.regime } : w;
  }, { ratio: 0, budgetMb: 0, regime: '' });
  const result = {
    benchmark: 'cuda-offload', machine: machine(), device, deviceName: h2dRate.deviceName, h2dGBps: h2d, emulatedGBps: m.emuGBps, h2dRate,
    runtimeOverPinnedCopy: h2dRate.runtimeGBps / h2dRate.pinnedCopyGBps, modelBytes: total, largestWeightBytes: largest,
    floorBytes: m.floorBytes, passes, budgetsMb: budgets, rows, monotonic, checks, ratios: checks, worstPassOverMaxCopyCompute: worst,
    ...(m.emulatedPass ? {
      emulatedPass: m.emulatedPass,
      emulatedPassChecks: Object.fromEntries((Object.keys(EMULATED_PASS_TARGETS) as (keyof typeof EMULATED_PASS_TARGETS)[])
        .map((k) => [k, { value: m.emulatedPass![k], met: meets(EMULATED_PASS_TARGETS[k], m.emulatedPass![k]) }])),
    } : {}),
    mixedSizes: mixResult(m.mixes),
  };
  return { result };
}

export type OffloadResult = ReturnType<typeof offloadResult>;

/** The chart and the results page (offload.* on the emulator, offload-cuda.* on a GPU). */
export function offloadReport({ result }: OffloadResult): BenchPage {
  const { rows, budgetsMb: budgets, checks, device, h2dRate, passes, largestWeightBytes: largest, modelBytes: total } = result;
  const worst = result.worstPassOverMaxCopyCompute;
  const computeBound = rows.filter((r) => r.regime === 'compute >= copy' && r.prefetch === 'unlimited');
  const svg = barChart(`Bytes moved per pass (MiB), ${(total / MiB).toFixed(0)} MiB of weights, compute >= copy`, 'MiB', budgets.flatMap((b) => [
    { label: `${b} MiB: lower bound`, value: Math.max(0, total - b * MiB) / MiB, series: 'bound' },
    { label: `${b} MiB: next-use`, value: computeBound.find((r) => r.budgetMb === b && r.policy === 'next-use')!.steadyBytesPerPass / MiB, series: 'next-use' },
    { label: `${b} MiB: LRU`, value: computeBound.find((r) => r.budgetMb === b && r.policy === 'lru')!.steadyBytesPerPass / MiB, series: 'lru' },
  ]));
  const f = (x: number) => x.toFixed(2);
  const name = device === 'cuda' ? 'offload-cuda' : 'offload';
  const onDevice = device === 'cuda'
    ? `on ${h2dRate.deviceName} (real CUDA; times are wall clock, "copy ms" is the bytes moved at the
pinned copy rate measured in the same run)`
    : `on the emulated device: ${result.emulatedGBps} GB/s host-to-device, one copy engine, 5 us per copy ("copy ms" is the
copy engine's busy time per pass, latency included). No GPU was lent to this project's sessions, so
no real-CUDA figures exist yet: on a machine with one, \`weightkit bench offload --device cuda\`
writes the same page as docs/bench/offload-cuda.md; the real-CUDA device layer is built and
linked in every CI run where nvcc is present`;
  const md = `---
title: "Benchmark: CUDA weight offload (${device === 'cuda' ? h2dRate.deviceName : 'emulated'})"
group: Benchmarks
---

# Weight offload: a budget sweep ${device === 'cuda' ? `on ${h2dRate.deviceName}` : 'on the emulated CUDA runtime'}

\`${device === 'cuda' ? 'weightkit bench offload --device cuda' : 'npm run bench:offload'}\` (source: tools/src/bench/offload.ts). A ${(total / MiB).toFixed(0)} MiB synthetic
decoder model (largest weight ${(largest / MiB).toFixed(1)} MiB, floor ${(result.floorBytes / MiB).toFixed(1)} MiB),
one use per weight per pass in catalog order, ${passes} passes per configuration (steady state = passes 3+),
${onDevice}. Two compute models, set from the measured copy rate:
compute >= copy (1.5x the copy time of every byte) and copy-bound (0.25x).

![chart](${name}.svg)

## Host-to-device copy rate

| measure | result | target |
|---|---|---|
| plain pinned copies (best of 3 x 8 MiB, the device layer's own measurement) | ${h2dRate.pinnedCopyGBps.toFixed(2)} GB/s | |
| the runtime streaming every weight at the floor, nothing to compute | ${h2dRate.runtimeGBps.toFixed(2)} GB/s = ${(100 * h2dRate.runtimeGBps / h2dRate.pinnedCopyGBps).toFixed(1)}% | >= 90% on a GPU |

## Checks (next-use, unlimited prefetch)

${mdTable(['check', 'result', 'target'], (Object.keys(OFFLOAD_TARGETS) as (keyof typeof OFFLOAD_TARGETS)[]).map((k) => [
    OFFLOAD_TARGETS[k].label,
    `${checks[k] ? 'yes' : 'no'}${k === 'passWithin105OfMaxCopyCompute' ? ` (worst ${worst.ratio.toFixed(3)}x: ${worst.regime}, ${worst.budgetMb} MiB)` : ''}`,
    'yes',
  ]))}
The runtime chooses its residency plan by dry-running the planner's candidates on a
timing device with the device's measured copy cost and the compute model (see
[the guide](../offload.md)), each plan tried with and without look-ahead into the next
pass; with the default objective it takes the fastest modelled pass and, among plans
within 2% of it, the one that moves the fewest bytes.

${result.emulatedPass ? emulatedPassMarkdown(result.emulatedPass) : ''}${mixMarkdown(result.mixedSizes)}
## Every configuration of the decoder sweep

${mdTable(['regime', 'policy', 'prefetch', 'budget MiB', 'moved MiB/pass', 'bound MiB/pass', 'pass ms', 'copy ms', 'compute ms', 'stall ms'],
    rows.map((r) => [r.regime, r.policy, r.prefetch, r.budgetMb, f(r.steadyBytesPerPass / MiB), f(r.boundBytesPerPass / MiB), f(r.passMs), f(r.copyMs), f(r.computeMs), f(r.stallMs)]))}
"bound" is total - budget: no policy can move less per pass in steady state.
LRU on a cyclic schedule larger than its budget misses every weight every pass,
so extra budget buys it nothing; next-use eviction keeps what is needed soonest.

${mdMachine(result.machine)}
Raw numbers: [${name}.json](${name}.json).
`;
  return { name, result, svg, markdown: md };
}

export async function runOffloadBench(options: OffloadBenchOptions = {}): Promise<OffloadResult> {
  return offloadResult(await measureOffload(options));
}
