/** `weightkit bench <name>`: runs a benchmark and writes its page, chart and JSON. @module */
import { WeightkitError } from '@weightkit/core';
import { BENCHMARKS } from '../bench/index.js';
import { benchOutDir, writeResults } from '../bench/page.js';
import { UsageError, parse, parsePositiveInt, parseSize, positionals, suggestion } from '../cli/args.js';
import type { Command } from '../cli/command.js';
import { info, printJson } from '../cli/output.js';

const usage = `usage: weightkit bench ${BENCHMARKS.map((b) => b.name).join('|')} [--size <n>GiB] [--runs N] [--work <dir>] [--out <dir>] [--device emu|cuda] [--json]

${BENCHMARKS.map((b) => `${b.name}: ${b.describe}`).join('\n')}
Each writes <name>.json, .svg and .md into --out (default: docs/bench/ inside
the weightkit repository, else ./weightkit-bench/); every comparison is
measured in the same run, so read the ratios, not the absolute times.`;

export const bench: Command = {
  name: 'bench',
  summary: 'run a benchmark (ratios against a baseline in the same run)',
  usage,
  async run(argv) {
    const [name, ...rest] = argv;
    const b = BENCHMARKS.find((x) => x.name === name);
    if (!b) throw new UsageError(name ? `unknown benchmark '${name}'${suggestion(name, BENCHMARKS.map((x) => x.name))}` : 'missing benchmark name', usage);
    const { values, positionals: pos } = parse(rest, {
      size: { type: 'string' }, runs: { type: 'string' }, work: { type: 'string' }, out: { type: 'string' }, device: { type: 'string' }, json: { type: 'boolean' },
    }, usage);
    positionals(pos, 0, usage);
    if (values.device !== undefined && (b.name !== 'offload' || (values.device !== 'emu' && values.device !== 'cuda'))) {
      throw new UsageError("--device takes 'emu' or 'cuda', for the offload benchmark only", usage);
    }
    const sizeBytes = values.size ? parseSize(values.size, '--size') : b.defaultSizeBytes;
    if (sizeBytes < 1 << 20) throw new WeightkitError('WK_BAD_ARGUMENT', '--size must be at least 1MiB');
    b.requires?.();
    const { page, checks } = await b.run({
      sizeBytes, log: info,
      ...(values.runs ? { runs: parsePositiveInt(values.runs, '--runs', 10_000) } : {}),
      ...(values.work ? { workDir: values.work } : {}),
      ...(values.device ? { device: values.device as 'emu' | 'cuda' } : {}),
    });
    const files = writeResults(benchOutDir(values.out), page);
    if (values.json) return printJson({ result: page.result, files });
    process.stdout.write(`${JSON.stringify(checks, null, 2)}\nwrote ${files.json}, ${files.svg} and ${files.md}\n`);
  },
};
