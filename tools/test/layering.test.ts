// The house's layering, checked on the sources: no import cycles in any
// workspace, benchmarks never import the CLI layer, and tools/ knows no file
// format's magic numbers (each package registers its own formats).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const WORKSPACES = ['packages/core/src', 'packages/xnnpack-cache/src', 'packages/aoti-blob/src', 'packages/cuda-offload/src', 'tools/src', 'hardening/src'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Value imports (not `import type`) of relative modules. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(import|export)\s(?!type\s)[^;]*?from\s+'(\.{1,2}\/[^']+)'/gm)].map((m) => resolve(dirname(file), m[2]!.replace(/\.js$/, '.ts')));
}

describe('layering', () => {
  for (const ws of WORKSPACES) {
    it(`${ws}: no import cycles`, () => {
      const files = sources(join(root, ws));
      const graph = new Map(files.map((f) => [f, imports(f).filter((d) => files.includes(d))]));
      const cycles: string[] = [];
      const state = new Map<string, 'open' | 'done'>();
      const path: string[] = [];
      const visit = (f: string) => {
        state.set(f, 'open');
        path.push(f);
        for (const d of graph.get(f)!) {
          if (state.get(d) === 'open') cycles.push(path.slice(path.indexOf(d)).concat(d).map((x) => relative(root, x)).join(' -> '));
          else if (!state.has(d)) visit(d);
        }
        path.pop();
        state.set(f, 'done');
      };
      files.forEach((f) => state.has(f) || visit(f));
      expect(cycles).toEqual([]);
    });
  }

  it('benchmarks never import the CLI layer', () => {
    const bench = join(root, 'tools', 'src', 'bench');
    const offending = sources(bench).flatMap((f) => imports(f).filter((d) => /tools\/src\/(cli|commands)\//.test(d)).map((d) => `${relative(root, f)} -> ${relative(root, d)}`));
    expect(offending).toEqual([]);
  });

  it('tools/ knows no file magic: formats register themselves in their packages', () => {
    const magic = /0x58505743|0x04034b50|PK\\x03\\x04|\\x7fELF|0x7f454c46/;
    const offending = sources(join(root, 'tools', 'src')).filter((f) => magic.test(readFileSync(f, 'utf8'))).map((f) => relative(root, f));
    expect(offending).toEqual([]);
  });
});
