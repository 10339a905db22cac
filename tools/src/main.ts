/** Command dispatch and the exit-code contract of the CLI. @module */
import { isWeightkitError } from '@weightkit/core';
import { UsageError } from './cli/args.js';
import type { Command } from './cli/command.js';
import { aoti } from './commands/aoti.js';
import { bench } from './commands/bench.js';
import { cache } from './commands/cache.js';
import { demo } from './commands/demo.js';
import { inspect } from './commands/inspect.js';
import { offload } from './commands/offload.js';
import { synth } from './commands/synth.js';

/** Every command, in help order. */
export const COMMANDS: readonly Command[] = [inspect, synth, cache, aoti, offload, bench, demo];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: weightkit <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'weightkit <command> --help' for a command's options.",
  ].join('\n');
}

/** Runs the CLI on `argv` and returns the exit code. Never throws. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help() + '\n');
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`unknown command '${name}'\n\n${help()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage + '\n');
    return 0;
  }
  try {
    return (await command.run(rest)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n\n${e.usage}\n`);
      return 2;
    }
    if (isWeightkitError(e)) {
      process.stderr.write(`error[${e.code}]: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`error[WK_IO]: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}
