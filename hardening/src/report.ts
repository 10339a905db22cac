/**
 * Results of a hardening suite: one line per check as it finishes, a closing
 * "N passed, N failed" line (what CI tallies), and the JSON figures, written
 * where --json says and into docs/reliability/ only with --write-docs.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SuiteArgs } from './args.js';
import { repoRoot } from './paths.js';

export interface Check {
  name: string;
  ok: boolean;
  [detail: string]: unknown;
}

export class Report {
  readonly checks: Check[] = [];
  readonly #suite: string;
  readonly #extra: Record<string, unknown>;

  constructor(suite: string, extra: Record<string, unknown> = {}) {
    this.#suite = suite;
    this.#extra = extra;
  }

  /** Records one check and prints it; `output` is shown only when it failed. */
  record(name: string, ok: boolean, detail: Record<string, unknown> = {}, output = ''): void {
    this.checks.push({ name, ok, ...detail });
    const summary = typeof detail.summary === 'string' ? `: ${detail.summary}` : Object.keys(detail).length ? `: ${JSON.stringify(detail)}` : '';
    process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${name}${summary}${ok || !output ? '' : `\n${output}`}\n`);
  }

  get failed(): number {
    return this.checks.filter((c) => !c.ok).length;
  }

  /** Writes the figures, prints the closing line and returns the exit code. */
  finish(args: SuiteArgs): number {
    const doc = JSON.stringify({ date: new Date().toISOString(), ...this.#extra, results: this.checks }, null, 2) + '\n';
    const targets = [args.json, args.writeDocs ? join(repoRoot, 'docs', 'reliability', `${this.#suite}.json`) : undefined];
    for (const path of targets) {
      if (!path) continue;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, doc);
    }
    process.stdout.write(`${this.checks.length - this.failed} passed, ${this.failed} failed\n`);
    return this.failed ? 1 : 0;
  }
}
