/**
 * The one way the CLI and the benchmarks run a child that reports in JSON: a
 * Node.js script, a native program, Python or the weightkit CLI itself, whose
 * output is one JSON document (`--json`) or ends with one JSON line. A failure
 * is WK_IO naming the command, how it ended and what it printed on stderr.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { WeightkitError } from '@weightkit/core';

/** Runs `command ...args` and parses what it printed: one JSON document, or the JSON object on its last line. */
export function spawnJson<T>(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env, label = command): T {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, env });
  if (r.status !== 0) {
    throw new WeightkitError('WK_IO', `${label} ${args.join(' ')} failed (${r.error?.message ?? r.signal ?? `exit ${r.status}`}): ${r.stderr.trim()}`);
  }
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    // Not one document: logs, then the report on the last line.
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
