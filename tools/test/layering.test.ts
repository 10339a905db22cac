// The house's layering, checked on the sources: no import cycles in any
// workspace, benchmarks never import the CLI layer, tools/ knows no file
// format's magic numbers (each package registers its own formats), and the
// C++ includes go downward only: programs -> addon -> core library, a package
// -> @weightkit/core, never the other way, never Node-API in a core.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const WORKSPACES = ['packages/core/src', 'packages/xnnpack-cache/src', 'packages/aoti-blob/src', 'packages/cuda-offload/src', 'tools/src', 'hardening/src'];

function sources(dir: string, ext = /\.ts$/): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p, ext) : ext.test(p) && !p.endsWith('.d.ts') ? [p] : [];
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

  describe('C++ includes', () => {
    const PACKAGES = ['core', 'xnnpack-cache', 'aoti-blob', 'cuda-offload'];
    /** Rank of a native folder: a file may include only files of its rank or lower. */
    const RANK: Record<string, number> = { include: 0, src: 0, cuda: 0, napi: 1, test: 2, fuzz: 2, bench: 2, interop: 2 };
    const nativeDir = (pkg: string) => join(root, 'packages', pkg, 'native');
    const files = PACKAGES.flatMap((pkg) => sources(nativeDir(pkg), /\.(cc|cu|hpp|h)$/).map((path) => ({ pkg, path, folder: relative(nativeDir(pkg), path).split('/')[0]! })));
    /** Where `#include "x"` resolves: beside the file, the package's src/, any package's include/. */
    const resolveInclude = (from: (typeof files)[number], name: string) =>
      [dirname(from.path), join(nativeDir(from.pkg), 'src'), ...PACKAGES.map((pkg) => join(nativeDir(pkg), 'include'))]
        .map((d) => resolve(d, name)).find((p) => existsSync(p));
    const edges = files.flatMap((f) => [...readFileSync(f.path, 'utf8').matchAll(/^\s*#\s*include\s*([<"])([^>"]+)[>"]/gm)].map((m) => {
      const to = m[1] === '"' ? resolveInclude(f, m[2]!) : undefined;
      return { from: f, name: m[2]!, to: to ? files.find((g) => g.path === to) : undefined };
    }));
    const show = (e: (typeof edges)[number]) => `${relative(root, e.from.path)} includes ${e.name}`;

    it('every quoted include resolves to a file of the workspace', () => {
      expect(edges.filter((e) => e.name.match(/^weightkit\//) && !e.to).map(show)).toEqual([]);
    });

    it('downward only: a core library never includes its addon or programs, an addon never its programs', () => {
      expect(edges.filter((e) => e.to && e.to.pkg === e.from.pkg && RANK[e.to.folder]! > RANK[e.from.folder]!).map(show)).toEqual([]);
    });

    it('a package includes only itself and @weightkit/core, and core no other package', () => {
      expect(edges.filter((e) => e.to && e.to.pkg !== e.from.pkg && e.to.pkg !== 'core').map(show)).toEqual([]);
    });

    it('no Node-API in a core library (src/, include/, cuda/; the addon helpers header aside)', () => {
      const napi = /^(napi\.h|node_api\.h|js_native_api\.h|weightkit\/napi_helpers\.hpp)$/;
      expect(edges.filter((e) => RANK[e.from.folder] === 0 && !e.from.path.endsWith('napi_helpers.hpp') && napi.test(e.name)).map(show)).toEqual([]);
    });

    it('no two headers of a package share a name (an include must not depend on the search order)', () => {
      const clashes = PACKAGES.flatMap((pkg) => {
        const names = files.filter((f) => f.pkg === pkg && /\.(hpp|h)$/.test(f.path)).map((f) => f.path.split('/').pop()!);
        return [...new Set(names.filter((n, i) => names.indexOf(n) !== i))].map((n) => `${pkg}: ${n}`);
      });
      expect(clashes).toEqual([]);
    });
  });
});
