/**
 * Benchmark: open a >= 1 GiB .pt2 until every constant is addressable, with
 * weightkit (zero-copy mapping in place) vs PyTorch's way reproduced in the
 * same run (extract to a temporary folder, then copy into private memory).
 * Writes docs/bench/aoti.json and docs/bench/aoti.svg.
 * @module
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSafetensors, SafetensorsMap } from '@weightkit/core';
import { writePt2 } from '@weightkit/aoti-blob';
import { synthModel } from '../synth/model.js';
import { runChild } from '../child-json.js';
import { barChart } from './chart.js';
import { machine, mdMachine } from './machine.js';
import { type BenchPage, mdTable } from './page.js';
import { median } from './stats.js';
import { type Targets, checkAll, targetText } from './targets.js';
import type { BenchRunOptions } from './run-options.js';

interface ChildResult {
  mode: string;
  ms: number;
  peakRssBytes: number;
  copiedBytes: number;
  extraDiskBytes: number;
}

/** `sizeBytes`: the .pt2 (default 1 GiB); `runs` per mode (default 5). */
export type AotiBenchOptions = BenchRunOptions;

const MODES = ['weightkit', 'weightkit-touch', 'weightkit-populate', 'pytorch'] as const;

/** The targets of this benchmark, declared once. */
export const AOTI_TARGETS = {
  addressableSpeedup: { label: "every constant addressable, PyTorch's way / weightkit", min: 100, unit: 'x' },
  touchedSpeedup: { label: "every page touched, PyTorch's way / weightkit (best of touch, MAP_POPULATE + touch)", min: 5, unit: 'x' },
  copiedBytes: { label: 'bytes copied by weightkit', max: 0 },
  extraDiskBytes: { label: 'extra disk bytes written by weightkit', max: 0 },
} as const satisfies Targets<string>;

/** What one run measured: every child's report, by mode. */
interface AotiSamples {
  pt2Bytes: number;
  runs: number;
  samples: Record<(typeof MODES)[number], ChildResult[]>;
}

/** Measures: each mode in a fresh process per run, interleaved. */
export async function measureAoti(options: AotiBenchOptions = {}): Promise<AotiSamples> {
  const size = options.sizeBytes ?? 2 ** 30;
  const runs = options.runs ?? 5;
  const log = options.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const work = options.workDir ?? join(tmpdir(), 'weightkit-bench-aoti');
  mkdirSync(work, { recursive: true });
  const pt2 = join(work, `synth-${size}.pt2`);
  if (!existsSync(pt2)) {
    const st = join(work, 'synth.safetensors');
    log(`writing a ${size}-byte synthetic model...`);
    writeSafetensors(st, synthModel(size, 'float32').entries);
    const map = SafetensorsMap.openSync(st);
    log('converting it to .pt2...');
    await writePt2(pt2, map);
    map.close();
    rmSync(st, { force: true });
  }
  const child = join(dirname(fileURLToPath(import.meta.url)), 'aoti-child.js');
  const samples: Record<string, ChildResult[]> = Object.fromEntries(MODES.map((m) => [m, []]));
  // Warm the page cache once so every mode reads from memory, then interleave
  // the modes so drift on a shared machine hits them alike.
  runChild<ChildResult>(child, ['weightkit-touch', pt2]);
  for (let r = 0; r < runs; r++) {
    for (const mode of MODES) {
      samples[mode]!.push(runChild<ChildResult>(child, [mode, pt2]));
      log(`run ${r + 1}/${runs} ${mode}: ${samples[mode]!.at(-1)!.ms.toFixed(2)} ms`);
    }
  }
  return { pt2Bytes: statSync(pt2).size, runs, samples: samples as AotiSamples['samples'] };
}

/** The result: medians, ratios against PyTorch's way, the targets checked. */
export function aotiResult({ pt2Bytes, runs, samples }: AotiSamples) {
  const summary = Object.fromEntries(MODES.map((m) => {
    const s = samples[m];
    return [m, {
      medianMs: median(s.map((x) => x.ms)),
      medianPeakRssBytes: median(s.map((x) => x.peakRssBytes)),
      copiedBytes: s[0]!.copiedBytes,
      extraDiskBytes: s[0]!.extraDiskBytes,
      samplesMs: s.map((x) => Number(x.ms.toFixed(3))),
    }];
  })) as Record<(typeof MODES)[number], { medianMs: number; medianPeakRssBytes: number; copiedBytes: number; extraDiskBytes: number; samplesMs: number[] }>;
  const base = summary.pytorch.medianMs;
  const touched = Math.min(summary['weightkit-touch'].medianMs, summary['weightkit-populate'].medianMs);
  const result = {
    benchmark: 'aoti-open',
    machine: machine(),
    pt2Bytes,
    runs,
    modes: summary,
    ratios: {
      addressableSpeedup: base / summary.weightkit.medianMs,
      touchedSpeedup: base / touched,
      touchedSpeedupWithoutPopulate: base / summary['weightkit-touch'].medianMs,
    },
  };
  return {
    ...result,
    checks: checkAll(AOTI_TARGETS, {
      addressableSpeedup: result.ratios.addressableSpeedup, touchedSpeedup: result.ratios.touchedSpeedup,
      copiedBytes: summary.weightkit.copiedBytes, extraDiskBytes: summary.weightkit.extraDiskBytes,
    }),
  };
}

export type AotiResult = ReturnType<typeof aotiResult>;

/** Measure, then the result. */
export async function runAotiBench(options: AotiBenchOptions = {}): Promise<AotiResult> {
  return aotiResult(await measureAoti(options));
}

/** The chart and the results page. */
export function aotiReport(result: AotiResult): BenchPage {
  const summary = result.modes;
  const svg = barChart(`Open a ${(result.pt2Bytes / 2 ** 30).toFixed(2)} GiB .pt2: median time (${result.runs} runs)`, 'ms', [
    { label: 'weightkit: every constant addressable', value: summary.weightkit.medianMs, series: 'weightkit' },
    { label: 'weightkit: every page touched', value: summary['weightkit-touch'].medianMs, series: 'weightkit' },
    { label: 'weightkit: MAP_POPULATE + touched', value: summary['weightkit-populate'].medianMs, series: 'weightkit' },
    { label: "PyTorch's way: extract + copy", value: summary.pytorch.medianMs, series: 'pytorch' },
  ], true);
  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  const shown = {
    addressableSpeedup: `${result.ratios.addressableSpeedup.toFixed(0)}x`,
    touchedSpeedup: `${result.ratios.touchedSpeedup.toFixed(1)}x`,
    copiedBytes: String(summary.weightkit.copiedBytes),
    extraDiskBytes: String(summary.weightkit.extraDiskBytes),
  };
  const markdown = `---
title: "Benchmark: opening AOTInductor weights"
group: Benchmarks
---

# Opening a ${(result.pt2Bytes / 2 ** 30).toFixed(2)} GiB .pt2: weightkit vs PyTorch's way

\`npm run bench:aoti\` (source: tools/src/bench/aoti.ts). A synthetic decoder model
(\`weightkit synth\`) converted to a .pt2, then opened in a fresh process per
run, ${result.runs} runs per mode, interleaved; medians. The page cache is warm for
every mode. "PyTorch's way" reproduces its package loader: extract the weights
blob from the zip to a temporary folder, map it, and copy every constant's entry
into its own allocation (\`UpdateConstantsFromBlob\`).

![chart](aoti.svg)

${mdTable(['mode', 'median ms', 'peak RSS (MiB)', 'bytes copied', 'extra disk bytes'], MODES.map((m) => [
    m, summary[m].medianMs.toFixed(2), mib(summary[m].medianPeakRssBytes), summary[m].copiedBytes, summary[m].extraDiskBytes,
  ]))}
${mdTable(['ratio', 'measured', 'target'], (Object.keys(AOTI_TARGETS) as (keyof typeof AOTI_TARGETS)[]).map((k) => [
    AOTI_TARGETS[k].label, `${shown[k]}${result.checks[k].met ? '' : ' — missed'}`, targetText(AOTI_TARGETS[k]),
  ]))}
Peak RSS of the touched weightkit modes is the mapped file's pages: clean page
cache shared with every other process that maps the file, which the kernel can
drop at any time; PyTorch's way holds the same bytes as private anonymous memory
on top of the page cache.

${mdMachine(result.machine)}
Raw samples: [aoti.json](aoti.json).
`;
  return { name: 'aoti', result, svg, markdown };
}
