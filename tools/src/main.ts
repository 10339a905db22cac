/** Command dispatch and the exit-code contract of the CLI. @module */
import { createRequire } from 'node:module';
import { isWeightkitError } from '@weightkit/core';
import { UsageError, suggestion } from './cli/args.js';
import type { Command } from './cli/command.js';
import { Interrupted } from './cli/interrupt.js';
import { printJson, printable, setQuiet } from './cli/output.js';
import { aoti } from './commands/aoti.js';
import { bench } from './commands/bench.js';
import { cache } from './commands/cache.js';
import { convert } from './commands/convert.js';
import { demo } from './commands/demo.js';
import { inspect } from './commands/inspect.js';
import { offload } from './commands/offload.js';
import { synth } from './commands/synth.js';

/** Every command, in help order. */
export const COMMANDS: readonly Command[] = [inspect, convert, synth, cache, aoti, offload, bench, demo];

/** The version of @weightkit/tools (what `weightkit --version` prints). */
export const VERSION: string = (createRequire(import.meta.url)('@weightkit/tools/package.json') as { version: string }).version;

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: weightkit <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'options:',
    '  --json         (every command but demo) one JSON object on stdout; failures too: {"error":{"code","message"}}',
    '  --quiet, -q    no progress or informational lines on stderr',
    '  --help, -h     the command\'s options',
    '  --version, -V  the version',
    '',
    "Run 'weightkit help <command>' for a command's options.",
  ].join('\n');
}

/** A failure: one line on stderr, and with --json the same as an object on stdout. */
function fail(code: string, message: string, json: boolean, exit: number, detail = ''): number {
  const line = printable(message);
  process.stderr.write(`${exit === 2 ? line : `error[${code}]: ${line}`}\n${detail}`);
  if (json) printJson({ error: { code, message } });
  return exit;
}

/** Runs the CLI on `argv` and returns the exit code. Never throws. */
export async function main(argv: string[]): Promise<number> {
  const quiet = argv.includes('--quiet') || argv.includes('-q');
  setQuiet(quiet);
  if (quiet) process.removeAllListeners('warning');
  // Global flags count anywhere on the line: `weightkit --json inspect m` is `weightkit inspect m --json`.
  const json = argv.includes('--json');
  const words = argv.filter((a) => a !== '--quiet' && a !== '-q' && a !== '--json');
  const [name, ...others] = words;
  const rest = json ? [...others, '--json'] : others;
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(json ? JSON.stringify({ version: VERSION }) + '\n' : `weightkit ${VERSION}\n`);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    process.stdout.write(help() + '\n');
    return 0;
  }
  const wanted = name === 'help' ? rest[0]! : name;
  const command = COMMANDS.find((c) => c.name === wanted);
  if (!command) {
    const hint = suggestion(wanted, COMMANDS.map((c) => c.name));
    return fail('WK_BAD_ARGUMENT', `unknown command '${wanted}'${hint}`, json, 2, `\n${help()}\n`);
  }
  if (name === 'help' || rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage + '\n');
    return 0;
  }
  try {
    return (await command.run(rest)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) return fail('WK_BAD_ARGUMENT', e.message, json, 2, `\n${e.usage}\n`);
    if (e instanceof Interrupted) return fail('WK_INTERRUPTED', e.message, json, e.exitCode);
    if (isWeightkitError(e)) return fail(e.code, e.message, json, 1);
    // Not a refusal weightkit knows: one line that says so, the stack below it as it was (never folded onto the line).
    const err = e as Error;
    return fail('WK_IO', `${err?.name ?? 'Error'}: ${err?.message ?? String(e)} (unexpected: please report it with the lines below)`, json, 1,
      `${(err?.stack ?? '').split('\n').slice(1).join('\n')}\n`);
  }
}
