/** `weightkit bench <name>`: runs a benchmark and writes docs/bench/<name>.{json,svg}. @module */
import { WeightkitError } from '@weightkit/core';
import { runAotiBench } from '../../bench/aoti.js';
import { UsageError, parse, parsePositiveInt, parseSize, positionals } from '../cli/args.js';
import type { Command } from '../cli/command.js';
import { formatBytes, printJson, printTable } from '../cli/output.js';

const usage = `usage: weightkit bench aoti [--size <n>GiB] [--runs N] [--work <dir>] [--json]

aoti: open a .pt2 of --size (default 1GiB) until every constant is addressable,
  weightkit vs PyTorch's extract-and-copy way, --runs times each (default 5);
  writes docs/bench/aoti.json and docs/bench/aoti.svg.`;

export const bench: Command = {
  name: 'bench',
  summary: 'run a benchmark (ratios against a baseline in the same run)',
  usage,
  async run(argv) {
    const [name, ...rest] = argv;
    if (name !== 'aoti') throw new UsageError(name ? `unknown benchmark '${name}'` : 'missing benchmark name', usage);
    const { values, positionals: pos } = parse(rest, { size: { type: 'string' }, runs: { type: 'string' }, work: { type: 'string' }, json: { type: 'boolean' } }, usage);
    positionals(pos, 0, usage);
    const sizeBytes = values.size ? parseSize(values.size, '--size') : 2 ** 30;
    if (sizeBytes < 1 << 20) throw new WeightkitError('WK_BAD_ARGUMENT', '--size must be at least 1MiB');
    const { result, files } = await runAotiBench({
      sizeBytes, runs: values.runs ? parsePositiveInt(values.runs, '--runs') : 5, ...(values.work ? { workDir: values.work } : {}),
    });
    if (values.json) return printJson(result);
    printTable(['mode', 'median ms', 'peak RSS', 'bytes copied', 'extra disk'], Object.entries(result.modes).map(([mode, m]) => [
      mode, m.medianMs.toFixed(2), formatBytes(m.medianPeakRssBytes), formatBytes(m.copiedBytes), formatBytes(m.extraDiskBytes),
    ]));
    process.stdout.write(
      `every constant addressable: ${result.ratios.addressableSpeedup.toFixed(0)}x faster than PyTorch's way; ` +
        `every page touched: ${result.ratios.touchedSpeedup.toFixed(1)}x\nwrote ${files.json} and ${files.svg}\n`,
    );
  },
};
