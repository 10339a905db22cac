/** `weightkit offload plan|run`. @module */
import { WeightkitError } from '@weightkit/core';
import { OffloadRuntime, offloadLimits, plan } from '@weightkit/cuda-offload';
import { parse, parseNumber, parsePositiveInt, parseSize, positionals } from '../cli/args.js';
import { type Command, withSubcommands } from '../cli/command.js';
import { Progress, formatBytes, printJson, printTable } from '../cli/output.js';
import { MODEL_OPTIONS, MODEL_USAGE, openWeights } from '../open-weights.js';

const usage = `usage: weightkit offload plan <model> (--budget <size> | --budget-mb N) [--json]
       weightkit offload run <model> (--budget <size> | --budget-mb N) --passes P [--device auto|cuda|emu]
                             [--policy next-use|lru] [--objective fastest|fewest-bytes]
                             [--prefetch-mb N] [--compute-us N] [--compute-us-per-mib N] [--h2d-gbps N] [--json]

--budget takes units (16GiB, 512MiB, 1.5GB); --budget-mb a number of MiB (2^20 bytes).

plan: {budgetBytes, floorBytes, totalBytes, lowerBoundBytesPerPass, plannedBytesPerPass}
run:  a decode-style loop (acquire each weight in schedule order, a compute step of
      the modelled cost, release) for P passes; prints {device, passes,
      bytesH2DPerPass, peakDeviceBytes, budgetBytes, lowerBoundBytesPerPass, stallMs}.
      The default compute model is 20 us per step + 40 us per MiB of weights it reads.
A budget below the floor is error[WK_BUDGET] (the message says how many MiB are needed).
${MODEL_USAGE}`;

const MiB = 2 ** 20;
const MAX_PASSES = 1e9;

/** The ranges of the numeric flags: the runtime's own limits (offloadLimits(), from its native core). */
function ranges() {
  const l = offloadLimits();
  return {
    budgetMb: { min: 0, max: l.maxBytes / MiB, above: true },
    us: { min: 0, max: l.maxUs },
    mib: { min: 0, max: l.maxBytes / MiB },
    gbps: { min: l.minGBps, max: l.maxGBps },
  };
}

/** The budget in MiB, from --budget (a size with units) or --budget-mb (MiB), exactly one of them. */
function budget(values: { budget?: string | undefined; 'budget-mb'?: string | undefined }): number {
  if (values.budget !== undefined && values['budget-mb'] !== undefined) throw new WeightkitError('WK_BAD_ARGUMENT', 'give --budget or --budget-mb, not both');
  if (values.budget !== undefined) return parseSize(values.budget, '--budget') / MiB;
  if (values['budget-mb'] === undefined) throw new WeightkitError('WK_BAD_ARGUMENT', '--budget (e.g. 16GiB) or --budget-mb is required');
  return parseNumber(values['budget-mb'], '--budget-mb', ranges().budgetMb);
}

const BUDGET_OPTIONS = { budget: { type: 'string' }, 'budget-mb': { type: 'string' } } as const;

async function planCommand(argv: string[]): Promise<void> {
  const { values, positionals: pos } = parse(argv, { ...BUDGET_OPTIONS, json: { type: 'boolean' }, ...MODEL_OPTIONS }, usage);
  const [model] = positionals(pos, 1, usage);
  const mb = budget(values);
  const map = await openWeights(model!, values);
  try {
    const p = plan(map, undefined, mb);
    if (p.plannedBytesPerPass === null) {
      throw new WeightkitError('WK_BUDGET', `budget ${mb} MiB is below the floor of this model: it needs at least ${(p.floorBytes / MiB).toFixed(2)} MiB`);
    }
    if (values.json) return printJson(p);
    printTable(['budget', 'floor', 'weights', 'lower bound / pass', 'planned / pass'], [[
      formatBytes(p.budgetBytes), formatBytes(p.floorBytes), formatBytes(p.totalBytes), formatBytes(p.lowerBoundBytesPerPass), formatBytes(p.plannedBytesPerPass),
    ]]);
  } finally {
    map.close();
  }
}

/** The `--json` document of `weightkit offload run` (public interface). */
export interface OffloadRunJson {
  device: 'cuda' | 'emu';
  passes: number;
  bytesH2DPerPass: number[];
  peakDeviceBytes: number;
  budgetBytes: number;
  lowerBoundBytesPerPass: number;
  stallMs: number;
}

async function runCommand(argv: string[]): Promise<void> {
  const { values, positionals: pos } = parse(argv, {
    ...BUDGET_OPTIONS, passes: { type: 'string' }, device: { type: 'string', default: 'auto' },
    policy: { type: 'string', default: 'next-use' }, objective: { type: 'string' }, 'prefetch-mb': { type: 'string' }, 'compute-us': { type: 'string' },
    'compute-us-per-mib': { type: 'string' }, 'h2d-gbps': { type: 'string' }, json: { type: 'boolean' }, ...MODEL_OPTIONS,
  }, usage);
  const [model] = positionals(pos, 1, usage);
  const mb = budget(values);
  if (!values.passes) throw new WeightkitError('WK_BAD_ARGUMENT', '--passes is required');
  const passes = parsePositiveInt(values.passes, '--passes', MAX_PASSES);
  const device = values.device as string;
  if (!['auto', 'cuda', 'emu'].includes(device)) throw new WeightkitError('WK_BAD_ARGUMENT', `--device must be auto, cuda or emu, got '${device}'`);
  const policy = values.policy as string;
  if (policy !== 'next-use' && policy !== 'lru') throw new WeightkitError('WK_BAD_ARGUMENT', `--policy must be next-use or lru, got '${policy}'`);
  const objective = values.objective;
  if (objective !== undefined && objective !== 'fastest' && objective !== 'fewest-bytes') {
    throw new WeightkitError('WK_BAD_ARGUMENT', `--objective must be fastest or fewest-bytes, got '${objective}'`);
  }
  const map = await openWeights(model!, values);
  try {
    const rt = await OffloadRuntime.create({
      weights: map, budgetMb: mb, device: device as 'auto' | 'cuda' | 'emu', policy, ...(objective !== undefined ? { objective } : {}),
      computeUsPerStep: parseNumber(values['compute-us'], '--compute-us', ranges().us, 20),
      computeUsPerMiB: parseNumber(values['compute-us-per-mib'], '--compute-us-per-mib', ranges().us, 40),
      ...(values['prefetch-mb'] !== undefined ? { prefetchMb: parseNumber(values['prefetch-mb'], '--prefetch-mb', ranges().mib) } : {}),
      ...(values['h2d-gbps'] !== undefined ? { emu: { h2dGBps: parseNumber(values['h2d-gbps'], '--h2d-gbps', ranges().gbps) } } : {}),
    });
    try {
      const progress = new Progress('passes');
      for (let p = 0; p < passes; p++) {
        await rt.runPass();
        progress.update(p + 1, passes, 'items');
      }
      progress.done();
      const s = rt.stats();
      const doc: OffloadRunJson = {
        device: rt.device, passes, bytesH2DPerPass: s.bytesH2DPerPass, peakDeviceBytes: s.peakDeviceBytes,
        budgetBytes: s.budgetBytes, lowerBoundBytesPerPass: s.lowerBoundBytesPerPass, stallMs: Number(s.stallMs.toFixed(6)),
      };
      if (values.json) return printJson(doc);
      process.stdout.write(`device: ${rt.device} (${rt.deviceReason})\n`);
      printTable(['pass', 'moved', 'ms'], s.bytesH2DPerPass.map((b, i) => [String(i + 1), formatBytes(b), s.msPerPass[i]!.toFixed(3)]));
      process.stdout.write(
        `lower bound ${formatBytes(s.lowerBoundBytesPerPass)} / pass; peak device ${formatBytes(s.peakDeviceBytes)} of ${formatBytes(s.budgetBytes)}; ` +
          `stall ${s.stallMs.toFixed(3)} ms; copies hidden ${(s.overlap * 100).toFixed(0)}%\n`,
      );
    } finally {
      rt.close();
    }
  } finally {
    map.close();
  }
}

export const offload: Command = withSubcommands('offload', 'plan or run a model under a GPU memory budget (CUDA, or the emulator)', usage, {
  plan: planCommand,
  run: runCommand,
});
