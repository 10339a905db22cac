/**
 * The offload benchmark's mixed-size sweep: models whose weights differ in
 * size (the synthetic decoder's sizes are close to each other, which hides
 * what a large weight next to a small one costs). Each model runs a budget
 * sweep from its floor to its total under both planner objectives.
 * @module
 */
import { join } from 'node:path';
import { SafetensorsMap, writeSafetensors } from '@weightkit/core';
import { type OffloadOptions, OffloadRuntime, scheduleFacts } from '@weightkit/cuda-offload';
import { mdTable } from './page.js';
import { median } from './stats.js';

const MiB = 2 ** 20;

/** A mix: per-layer weight sizes in units, repeated over layers. */
interface Mix {
  name: string;
  layer: number[];
  layers: number;
}

const MIXES: Mix[] = [
  { name: '8:1 (2 + 0.25 units)', layer: [2, 0.25], layers: 8 },
  { name: '10:1 (2.5 + 0.25 units)', layer: [2.5, 0.25], layers: 8 },
  { name: 'three sizes (3 + 1 + 0.5 units)', layer: [3, 1, 0.5], layers: 6 },
];

export type Objective = 'fastest' | 'fewest-bytes';

export interface MixRow {
  mix: string;
  objective: Objective;
  budgetMb: number;
  steadyBytesPerPass: number;
  boundBytesPerPass: number;
  /** Over the bound, in units of the model's largest weight. */
  overLargest: number;
  passMs: number;
  copyMs: number;
  computeMs: number;
}

export interface MixModel {
  mix: string;
  totalBytes: number;
  largestBytes: number;
  smallestBytes: number;
  /** The largest bytes two consecutive steps use: what is in flight together. */
  inFlightPairBytes: number;
  floorBytes: number;
}

export interface MixChecks {
  fewestBytesWithinInFlightPair: boolean;
  fewestBytesWithinLargest: number;
  fastestWithinLargest: number;
  fastestPassWithin105: number;
  fastestNeverSlower: boolean;
  runsPerObjective: number;
}

/** Options shared with the main sweep. */
export interface MixSweepOptions {
  work: string;
  unitBytes: number;
  passes: number;
  device: Pick<OffloadOptions, 'device' | 'emu'>;
  /** Compute microseconds per MiB (the compute >= copy regime of the main sweep). */
  computeUsPerMiB: number;
  /** Copy time of `bytes` as the main sweep reports it. */
  copyMs: (stats: ReturnType<OffloadRuntime['stats']>, steadyBytes: number) => number;
  log: (line: string) => void;
}

function sizesOf(mix: Mix, unit: number): number[] {
  return Array.from({ length: mix.layers }, () => mix.layer.map((u) => 4 * Math.round((u * unit) / 4))).flat();
}

function openMix(mix: Mix, options: MixSweepOptions): SafetensorsMap {
  const path = join(options.work, `mix-${mix.layer.join('-')}x${mix.layers}-${options.unitBytes}.safetensors`);
  writeSafetensors(path, sizesOf(mix, options.unitBytes).map((bytes, i) => ({
    name: `layer${Math.floor(i / mix.layer.length)}.w${i % mix.layer.length}`, dtype: 'float32' as const, shape: [bytes / 4],
    data: (chunk: Uint8Array, at: number) => chunk.fill((at + i) & 0xff),
  })));
  return SafetensorsMap.openSync(path);
}

/** Measures: every mix, both objectives, a budget sweep from the floor to the total. */
export async function measureMixes(options: MixSweepOptions): Promise<{ models: MixModel[]; rows: MixRow[]; unitBytes: number }> {
  const models: MixModel[] = [];
  const rows: MixRow[] = [];
  for (const mix of MIXES) {
    const map = openMix(mix, options);
    const sizes = sizesOf(mix, options.unitBytes);
    const base = scheduleFacts(map);
    const model: MixModel = {
      mix: mix.name, totalBytes: base.totalBytes, largestBytes: Math.max(...sizes), smallestBytes: Math.min(...sizes),
      inFlightPairBytes: base.largestPairBytes, floorBytes: base.floorBytes,
    };
    models.push(model);
    const floorMb = Math.ceil(base.floorBytes / MiB);
    const totalMb = Math.ceil(base.totalBytes / MiB);
    const budgets = [...new Set(Array.from({ length: 8 }, (_, i) => Math.round(floorMb + ((totalMb - floorMb) * i) / 7)))];
    for (const objective of ['fastest', 'fewest-bytes'] as const) {
      for (const budgetMb of budgets) {
        const rt = await OffloadRuntime.create({
          weights: map, budgetMb, ...options.device, objective, computeUsPerStep: 5, computeUsPerMiB: options.computeUsPerMiB,
        });
        await rt.runPasses(options.passes);
        const s = rt.stats();
        await rt.close();
        const steady = Math.max(...s.bytesH2DPerPass.slice(2));
        const bound = s.lowerBoundBytesPerPass;
        rows.push({
          mix: mix.name, objective, budgetMb, steadyBytesPerPass: steady, boundBytesPerPass: bound,
          overLargest: (steady - bound) / model.largestBytes,
          passMs: median(s.msPerPass.slice(2)), copyMs: options.copyMs(s, steady), computeMs: s.computeMs / s.passes,
        });
      }
      options.log(`mixed sizes, ${mix.name}, ${objective}: done`);
    }
    map.close();
  }
  return { models, rows, unitBytes: options.unitBytes };
}

/** Pass time over max(copy time of the bytes moved, compute time). */
const passRatio = (r: MixRow) => r.passMs / Math.max(r.copyMs, r.computeMs, 1e-9);

/** The result: the measured models and rows with the checks. */
export function mixResult({ models, rows, unitBytes }: Awaited<ReturnType<typeof measureMixes>>) {
  const modelOf = (r: MixRow) => models.find((m) => m.mix === r.mix)!;
  const of = (objective: Objective) => rows.filter((r) => r.objective === objective);
  const checks: MixChecks = {
    fewestBytesWithinInFlightPair: of('fewest-bytes').every((r) => r.steadyBytesPerPass <= r.boundBytesPerPass + modelOf(r).inFlightPairBytes + modelOf(r).smallestBytes),
    fewestBytesWithinLargest: of('fewest-bytes').filter((r) => r.steadyBytesPerPass <= r.boundBytesPerPass + modelOf(r).largestBytes).length,
    fastestWithinLargest: of('fastest').filter((r) => r.steadyBytesPerPass <= r.boundBytesPerPass + modelOf(r).largestBytes).length,
    fastestPassWithin105: of('fastest').filter((r) => passRatio(r) <= 1.05).length,
    fastestNeverSlower: of('fastest').every((r) => {
      const other = rows.find((o) => o.objective === 'fewest-bytes' && o.mix === r.mix && o.budgetMb === r.budgetMb)!;
      return r.passMs <= other.passMs * 1.02;
    }),
    runsPerObjective: of('fastest').length,
  };
  return { models, rows, checks, unitBytes };
}

export type MixResult = ReturnType<typeof mixResult>;

/** The section of the offload page on mixed sizes. */
export function mixMarkdown({ models, rows, checks, unitBytes: unit }: MixResult): string {
  const f = (x: number) => x.toFixed(2);
  const n = checks.runsPerObjective;
  return `## Models whose weights differ in size

Three models whose layers hold a large and a small weight (unit = ${f(unit / MiB)} MiB), a budget
sweep from each floor to its total, compute >= copy, under both planner objectives
(\`objective: 'fastest'\`, the default, and \`'fewest-bytes'\`; see [the guide](../offload.md#two-objectives)).
"over" is steady bytes per pass minus the lower bound (total - budget), in MiB and in
largest weights; "pass / max" is pass time over max(copy time of the bytes moved, compute).

${mdTable(['model', 'total MiB', 'largest MiB', 'in-flight pair MiB', 'floor MiB'],
    models.map((m) => [m.mix, f(m.totalBytes / MiB), f(m.largestBytes / MiB), f(m.inFlightPairBytes / MiB), f(m.floorBytes / MiB)]))}

| check | result | target |
|---|---|---|
| fewest-bytes: over <= in-flight pair + one smallest weight (whole weights fill the budget), every budget | ${checks.fewestBytesWithinInFlightPair ? 'yes' : 'no'} | yes |
| fewest-bytes: over <= one largest weight | ${checks.fewestBytesWithinLargest} of ${n} | see below |
| fastest: over <= one largest weight | ${checks.fastestWithinLargest} of ${n} | see below |
| fastest: pass <= 1.05 x max(copy, compute) | ${checks.fastestPassWithin105} of ${n} | see below |
| fastest is never slower than fewest-bytes (2% slack) | ${checks.fastestNeverSlower ? 'yes' : 'no'} | yes |

Why not both targets at once: a pass hides a copy behind compute only while the
weight being copied and the one being computed are both on the device. When a
large weight is streamed, the smallest room that lets its copy run is the
largest pair in flight together (a large weight and the small one after it), so
any plan that streams large weights moves at least that pair over total - budget
per pass: more than one largest weight, by the small weight. A plan that also
hides the large copies entirely behind compute must start each large copy while
the previous large weight is computed, so it needs about two large weights of
room. fewest-bytes takes the first (pass time then includes part of each large
copy), fastest the second; the synthetic decoder above meets both targets
because its weights differ less. Where fastest misses the pass-time target (the
lowest budgets of the three-size mix), even that room does not fit: hiding a
large copy entirely needs the large weight being computed, every weight between
it and the next large one, and that next one on the device at once (3 + 1 +
0.5 + 3 = 7.5 units there, more than that model's 7-unit floor), and a few MiB
above it little is left to pin, so the copy engine has no slack.

${mdTable(['model', 'objective', 'budget MiB', 'moved MiB/pass', 'bound MiB/pass', 'over MiB', 'over / largest', 'pass ms', 'copy ms', 'compute ms', 'pass / max'],
    rows.map((r) => [r.mix, r.objective, r.budgetMb, f(r.steadyBytesPerPass / MiB), f(r.boundBytesPerPass / MiB), f((r.steadyBytesPerPass - r.boundBytesPerPass) / MiB),
      f(r.overLargest), f(r.passMs), f(r.copyMs), f(r.computeMs), passRatio(r).toFixed(3)]))}
`;
}
