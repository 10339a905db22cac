/**
 * The one way the CLI and the benchmarks run a child that reports in JSON: a
 * Node.js script, a native program or Python, whose last line of output is
 * one JSON object. A failure is WK_IO naming the command, how it ended and
 * what it printed on stderr.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { WeightkitError } from '@weightkit/core';

/** Runs `command ...args` and parses the JSON object it prints last. */
export function spawnJson<T>(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env, label = command): T {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, env });
  if (r.status !== 0) {
    throw new WeightkitError('WK_IO', `${label} ${args.join(' ')} failed (${r.error?.message ?? r.signal ?? `exit ${r.status}`}): ${r.stderr.trim()}`);
  }
  const lines = r.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1]!) as T;
  } catch {
    throw new WeightkitError('WK_IO', `${label} ${args.join(' ')} printed no JSON on its last line: ${lines[lines.length - 1]?.slice(0, 200)}`);
  }
}

/** Runs `node <script> ...args` (with --expose-gc) and parses the JSON object it prints last. */
export function runChild<T>(script: string, args: readonly string[]): T {
  return spawnJson<T>(process.execPath, ['--expose-gc', script, ...args], process.env, script);
}
