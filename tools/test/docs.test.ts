// The docs state what the code does: every error code in the table, every
// CLI command on the CLI page, every benchmark with its npm script.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@weightkit/core';
import { COMMANDS } from '@weightkit/tools';
import { BENCHMARKS } from '../src/bench/index.js';

const root = join(import.meta.dirname, '..', '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

describe('docs agree with the code', () => {
  it('docs/index.md lists exactly the error codes weightkit throws', () => {
    const table = [...read('docs/index.md').matchAll(/^\| `(WK_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(table.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('docs/cli.md has a section for every command', () => {
    const cli = read('docs/cli.md');
    for (const c of COMMANDS) expect(cli, c.name).toMatch(new RegExp(`^## ${c.name}\\b`, 'm'));
  });

  it('every benchmark has an npm script and a page', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    for (const { name } of BENCHMARKS) {
      expect(scripts[`bench:${name}`], name).toContain(`bench ${name}`);
      expect(read(`docs/bench/${name}.md`)).toContain(`npm run bench:${name}`);
    }
  });
});
