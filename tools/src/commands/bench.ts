/** `weightkit bench <name>`: runs a benchmark and writes docs/bench/<name>.{json,svg}. @module */
import { WeightkitError } from '@weightkit/core';
import { runAotiBench } from '../../bench/aoti.js';
import { runOffloadBench } from '../../bench/offload.js';
import { runTfjsBench } from '../../bench/tfjs.js';
import { runXnnpackBench } from '../../bench/xnnpack.js';
import { UsageError, parse, parsePositiveInt, parseSize, positionals } from '../cli/args.js';
import type { Command } from '../cli/command.js';
import { info, printJson } from '../cli/output.js';

const usage = `usage: weightkit bench aoti|xnnpack|offload|tfjs [--size <n>GiB] [--runs N] [--work <dir>] [--device emu|cuda] [--json]

aoti: open a .pt2 of --size (default 1GiB) until every constant is addressable,
  weightkit vs PyTorch's extract-and-copy way, --runs times each (default 5).
xnnpack: the packed-weights cache on a --size model (default 1GiB): cold pack vs
  warm open, dirty vs clean pages, 50 load/unload cycles, 4 processes sharing,
  packer throughput vs memcpy, fallocate vs sparse ftruncate (default 3 runs),
  and, where WEIGHTKIT_XNNPACK_DIR was set at build, operator creation with the
  real XNNPACK: weightkit cold/warm vs its own weights cache.
offload: a budget sweep x policy x prefetch depth for a --size model (default
  256MiB), --runs passes per configuration (default 5), on the emulated CUDA
  runtime or, with --device cuda, on the GPU (writes offload-cuda.*).
tfjs: open + every value decoded, weightkit vs tfjs-core's loader, on the
  bundled face-api models and float16/uint8/float32 test models of --size
  (default 64MiB), --runs loads per process (default 7).
Each writes docs/bench/<name>.json, .svg and .md; every comparison is measured
in the same run.`;

export const bench: Command = {
  name: 'bench',
  summary: 'run a benchmark (ratios against a baseline in the same run)',
  usage,
  async run(argv) {
    const [name, ...rest] = argv;
    if (name !== 'aoti' && name !== 'xnnpack' && name !== 'offload' && name !== 'tfjs') throw new UsageError(name ? `unknown benchmark '${name}'` : 'missing benchmark name', usage);
    const { values, positionals: pos } = parse(rest, {
      size: { type: 'string' }, runs: { type: 'string' }, work: { type: 'string' }, device: { type: 'string' }, json: { type: 'boolean' },
    }, usage);
    positionals(pos, 0, usage);
    if (values.device !== undefined && (name !== 'offload' || (values.device !== 'emu' && values.device !== 'cuda'))) {
      throw new UsageError("--device takes 'emu' or 'cuda', for the offload benchmark only", usage);
    }
    const sizeBytes = values.size ? parseSize(values.size, '--size') : name === 'offload' ? 256 * 2 ** 20 : name === 'tfjs' ? 64 * 2 ** 20 : 2 ** 30;
    if (sizeBytes < 1 << 20) throw new WeightkitError('WK_BAD_ARGUMENT', '--size must be at least 1MiB');
    const common = { sizeBytes, log: info, ...(values.runs ? { runs: parsePositiveInt(values.runs, '--runs') } : {}), ...(values.work ? { workDir: values.work } : {}) };
    const { result, files } = name === 'aoti' ? await runAotiBench(common)
      : name === 'xnnpack' ? await runXnnpackBench(common)
      : name === 'tfjs' ? await runTfjsBench(common)
      : await runOffloadBench({
        sizeBytes, log: info, ...(values.runs ? { passes: parsePositiveInt(values.runs, '--runs') } : {}), ...(values.work ? { workDir: values.work } : {}),
        ...(values.device ? { device: values.device as 'emu' | 'cuda' } : {}),
      });
    if (values.json) return printJson(result);
    process.stdout.write(`${JSON.stringify((result as { ratios: unknown }).ratios, null, 2)}\nwrote ${files.json}, ${files.svg} and ${files.md}\n`);
  },
};
