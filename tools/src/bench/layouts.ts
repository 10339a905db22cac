/**
 * Benchmark: models as they lie on disk (issue 19).
 *   - a 4-shard sparse 12 GiB bf16 safetensors snapshot (header-only shards,
 *     holes for data): open the folder and list the catalog;
 *   - a 1 GiB pytorch_model.bin written by the real torch.save: open + one
 *     byte of every page of every tensor, against torch.load of the same file
 *     in the same run (Debian's python3-torch), and peak RSS of both;
 *   - convert --to safetensors of that file against a plain copy of its bytes.
 * Writes docs/bench/layouts.{json,svg,md}.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeightkitError } from '@weightkit/core';
import { runChild, spawnJson } from '../child-json.js';
import { type SparseTensor, sparseTensorBytes, writeSparseSnapshot } from '../synth/sparse.js';
import { barChart } from './chart.js';
import { machine, mdMachine } from './machine.js';
import { type BenchPage, mdTable } from './page.js';
import { median } from './stats.js';
import type { BenchRunOptions } from './run-options.js';
import { type Targets, checkAll, targetText } from './targets.js';

interface ChildResult {
  ms: number;
  peakRssBytes: number;
  tensors: number;
}

/** `sizeBytes`: the pytorch_model.bin (default 1 GiB); `runs` of each (default 5). */
export type LayoutsBenchOptions = BenchRunOptions;

/** The targets of this benchmark, declared once. */
export const LAYOUTS_TARGETS = {
  shardedOpenMs: { label: 'open a 4-shard 12 GiB snapshot and list its catalog (median ms)', max: 30, unit: 'ms' },
  touchVsTorchLoad: { label: 'PyTorch .bin: open + every page touched, weightkit / torch.load', max: 0.2, unit: 'x' },
  rssVsTorchLoad: { label: 'PyTorch .bin: peak RSS, weightkit / torch.load', max: 1, unit: 'x' },
  convertVsCopy: { label: 'convert --to safetensors throughput / a plain copy of the same bytes (both synced)', min: 0.8, unit: 'x' },
} as const satisfies Targets<string>;

const DEBIAN_PYTHON = '/usr/bin/python3';

/** A llama-7B-shaped bf16 model (32 layers, hidden 4096): 4 shards of headers over holes, and the index. */
function sparseSnapshot(dir: string): { folder: string; bytes: number; tensors: number } {
  const h = 4096, ff = 11008, vocab = 32000;
  const tensors: SparseTensor[] = [['model.embed_tokens.weight', 'BF16', [vocab, h]]];
  for (let l = 0; l < 32; l++) {
    for (const p of ['q', 'k', 'v', 'o']) tensors.push([`model.layers.${l}.self_attn.${p}_proj.weight`, 'BF16', [h, h]]);
    tensors.push([`model.layers.${l}.mlp.gate_proj.weight`, 'BF16', [ff, h]], [`model.layers.${l}.mlp.up_proj.weight`, 'BF16', [ff, h]], [`model.layers.${l}.mlp.down_proj.weight`, 'BF16', [h, ff]]);
    tensors.push([`model.layers.${l}.input_layernorm.weight`, 'BF16', [h]], [`model.layers.${l}.post_attention_layernorm.weight`, 'BF16', [h]]);
  }
  tensors.push(['model.norm.weight', 'BF16', [h]], ['lm_head.weight', 'BF16', [vocab, h]]);
  const sizes = tensors.map(sparseTensorBytes);
  // A quarter of the bytes plus the largest tensor: every shard but the last holds more than a quarter, so 4 shards.
  return writeSparseSnapshot(join(dir, 'sparse-12g'), tensors, Math.ceil(sizes.reduce((a, b) => a + b, 0) / 4) + Math.max(...sizes));
}

/** WK_NOT_FOUND unless Debian's python3-torch, the baseline, is installed. */
export function requireTorch(): void {
  if (spawnSync(DEBIAN_PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) {
    throw new WeightkitError('WK_NOT_FOUND', `bench layouts compares against torch.load: install Debian's PyTorch for ${DEBIAN_PYTHON} ('apt-get install python3-torch')`);
  }
}

/** torch.load of `file`, timed inside Python (import excluded), with its peak RSS. */
function torchLoad(file: string): ChildResult {
  return spawnJson<ChildResult>(DEBIAN_PYTHON, ['-c', `
import json, resource, sys, time, torch
t = time.perf_counter()
sd = torch.load(sys.argv[1])
n = sum(1 for v in sd.values() if isinstance(v, torch.Tensor))
ms = (time.perf_counter() - t) * 1000
print(json.dumps({"ms": ms, "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "tensors": n}))
`, file], process.env, 'torch.load');
}

export async function runLayoutsBench(options: LayoutsBenchOptions = {}) {
  const runs = options.runs ?? 5;
  const size = options.sizeBytes ?? 2 ** 30;
  const log = options.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const work = options.workDir ?? join(tmpdir(), 'weightkit-bench-layouts');
  mkdirSync(work, { recursive: true });
  const child = join(dirname(fileURLToPath(import.meta.url)), 'layouts-child.js');

  log('a 4-shard sparse 12 GiB snapshot...');
  const snap = sparseSnapshot(work);
  const sharded = Array.from({ length: runs * 2 }, () => runChild<ChildResult>(child, ['open-sharded', snap.folder]));

  const hasTorch = spawnSync(DEBIAN_PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  let pytorch: undefined | {
    fileBytes: number; tensors: number;
    weightkit: { medianMs: number; medianPeakRssBytes: number }; torchLoad: { medianMs: number; medianPeakRssBytes: number };
    convertMs: number; copyMs: number;
  };
  if (hasTorch) {
    const bin = join(work, `pytorch_model-${size}.bin`);
    if (!existsSync(bin)) {
      log(`torch.save of a ${size}-byte state dict...`);
      const r = spawnSync(DEBIAN_PYTHON, ['-c', `
import sys, torch
n = int(sys.argv[2]) // (4096 * 4096 * 4)
torch.manual_seed(0)
torch.save({f"layers.{i}.weight": torch.randn(4096, 4096) for i in range(n)}, sys.argv[1])
`, bin, String(size)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`torch.save failed: ${r.stderr}`);
    }
    runChild<ChildResult>(child, ['touch-pytorch', bin]); // the page cache warm for both
    const ours: ChildResult[] = [];
    const theirs: ChildResult[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(runChild<ChildResult>(child, ['touch-pytorch', bin]));
      theirs.push(torchLoad(bin));
      log(`run ${i + 1}/${runs}: weightkit ${ours.at(-1)!.ms.toFixed(1)} ms, torch.load ${theirs.at(-1)!.ms.toFixed(1)} ms`);
    }
    const out = join(work, 'converted.safetensors');
    const convert: number[] = [];
    const copy: number[] = [];
    for (let i = 0; i < Math.max(3, Math.ceil(runs / 2)); i++) {
      convert.push(runChild<ChildResult>(child, ['convert', bin, out]).ms);
      copy.push(runChild<ChildResult>(child, ['copy', bin, out]).ms);
    }
    pytorch = {
      fileBytes: statSync(bin).size, tensors: ours[0]!.tensors,
      weightkit: { medianMs: median(ours.map((x) => x.ms)), medianPeakRssBytes: median(ours.map((x) => x.peakRssBytes)) },
      torchLoad: { medianMs: median(theirs.map((x) => x.ms)), medianPeakRssBytes: median(theirs.map((x) => x.peakRssBytes)) },
      convertMs: median(convert), copyMs: median(copy),
    };
  } else {
    log('python3-torch is not installed: the PyTorch rows are not measured (apt-get install python3-torch)');
  }
  const result = {
    benchmark: 'layouts', machine: machine(), runs,
    sharded: { shards: 4, bytes: snap.bytes, tensors: snap.tensors, medianMs: median(sharded.map((x) => x.ms)), samplesMs: sharded.map((x) => Number(x.ms.toFixed(3))) },
    pytorch: pytorch ?? null,
  };
  const values = {
    shardedOpenMs: result.sharded.medianMs,
    touchVsTorchLoad: pytorch ? pytorch.weightkit.medianMs / pytorch.torchLoad.medianMs : NaN,
    rssVsTorchLoad: pytorch ? pytorch.weightkit.medianPeakRssBytes / pytorch.torchLoad.medianPeakRssBytes : NaN,
    convertVsCopy: pytorch ? pytorch.copyMs / pytorch.convertMs : NaN,
  };
  return { ...result, checks: checkAll(LAYOUTS_TARGETS, values) };
}

export type LayoutsResult = Awaited<ReturnType<typeof runLayoutsBench>>;

/** The chart and the results page. */
export function layoutsReport(result: LayoutsResult): BenchPage {
  const p = result.pytorch;
  const bars = [{ label: 'open 4-shard 12 GiB snapshot + catalog', value: result.sharded.medianMs, series: 'weightkit' }];
  if (p) {
    bars.push(
      { label: 'PyTorch .bin: weightkit open + every page', value: p.weightkit.medianMs, series: 'weightkit' },
      { label: 'PyTorch .bin: torch.load', value: p.torchLoad.medianMs, series: 'pytorch' },
      { label: 'convert --to safetensors', value: p.convertMs, series: 'weightkit' },
      { label: 'plain copy of the same bytes + fsync', value: p.copyMs, series: 'pytorch' },
    );
  }
  const svg = barChart(`Models as they lie on disk: median time (${result.runs} runs)`, 'ms', bars, true);
  const fmt = (k: keyof typeof LAYOUTS_TARGETS) => {
    const v = result.checks[k].value;
    if (Number.isNaN(v)) return 'not measured (no python3-torch)';
    return `${k === 'shardedOpenMs' ? `${v.toFixed(2)} ms` : `${v.toFixed(2)}x`}${result.checks[k].met ? '' : ' — missed'}`;
  };
  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  const markdown = `---
title: "Benchmark: models as they lie on disk"
group: Benchmarks
---

# Hub snapshots, sharded checkpoints and PyTorch .bin files

\`npm run bench:layouts\` (source: tools/src/bench/layouts.ts). Each step runs in
a fresh process; medians of ${result.runs} runs (the sharded open: ${result.sharded.samplesMs.length}).
The sharded snapshot is llama-7B-shaped (${result.sharded.tensors} bf16 tensors,
${(result.sharded.bytes / 2 ** 30).toFixed(1)} GiB) in 4 shards of headers over holes: opening it
reads the index and the 4 headers and maps nothing, so its time is independent of
the data's size. The PyTorch file is ${p ? `${(p.fileBytes / 2 ** 30).toFixed(2)} GiB (${p.tensors} float32 tensors)` : 'not written'},
written by the real \`torch.save\` (Debian's python3-torch); \`torch.load\` of the same
file is timed inside Python (the import excluded), weightkit's open touches one byte of every
page of every tensor; the page cache is warm for both. Convert and the plain copy
(read + write in 4 MiB chunks, then fsync: convert's write is atomic and durable,
so the copy it is compared with is durable too) write about the same number of
bytes to the same folder.

![chart](layouts.svg)

${mdTable(['figure', 'measured', 'target'], (Object.keys(LAYOUTS_TARGETS) as (keyof typeof LAYOUTS_TARGETS)[]).map((k) => [
    LAYOUTS_TARGETS[k].label, fmt(k), targetText(LAYOUTS_TARGETS[k]),
  ]))}
${p ? mdTable(['step', 'median ms', 'peak RSS (MiB)'], [
    ['weightkit: open + every page touched', p.weightkit.medianMs.toFixed(1), mib(p.weightkit.medianPeakRssBytes)],
    ['torch.load', p.torchLoad.medianMs.toFixed(1), mib(p.torchLoad.medianPeakRssBytes)],
    ['weightkit convert --to safetensors', p.convertMs.toFixed(1), ''],
    ['plain copy + fsync', p.copyMs.toFixed(1), ''],
  ]) : ''}
weightkit's peak RSS is mostly the checkpoint's pages as clean, shared page cache
(dropped by the kernel under pressure, shared with every process mapping the
file); torch.load's is private memory holding a copy of every tensor.

${mdMachine(result.machine)}
Raw samples: [layouts.json](layouts.json).
`;
  return { name: 'layouts', result, svg, markdown };
}
