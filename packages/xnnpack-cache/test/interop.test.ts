// weightkit's provider under the real XNNPACK (../shared/xnnpack, found
// through WEIGHTKIT_XNNPACK_DIR, which .ci/run sets): real fully-connected
// operators, through the operator API and the subgraph runtime, pack through
// the provider in one process and find everything in the next.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readExecutorchIndex, tempDir, writeExecutorchFile } from './helpers.js';

const xnnpackDir = process.env.WEIGHTKIT_XNNPACK_DIR;
const build = join(process.cwd(), 'packages', 'xnnpack-cache', 'build', 'Release');
if (!xnnpackDir) {
  console.warn('NOT RUN: the real-XNNPACK interop tests need WEIGHTKIT_XNNPACK_DIR (a prebuilt XNNPACK; .ci/run sets it)');
}

interface Run {
  operators: number; createMs: number; lookUps: number; hits: number; reserves: number; inserts: number; outputHash: string;
  cache: { hits: number; packs: number; entries: number; trusted: boolean };
  packed: { name: string; seed: number; fingerprint: number; inserted: boolean; size: number; hash: string }[];
}

function run(args: string[]): Run {
  const program = join(build, 'xnnpack_interop');
  expect(existsSync(program), `${program} is built when WEIGHTKIT_XNNPACK_DIR is set at build time; run 'npm run build'`).toBe(true);
  const r = spawnSync(program, ['run', ...args], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Run;
}

describe.skipIf(!xnnpackDir)('real XNNPACK through weightkit\'s provider (needs WEIGHTKIT_XNNPACK_DIR)', () => {
  const dir = tempDir();
  const chain = ['--layers', '6', '--width', '192'];

  for (const [label, extra] of [['f32, operator API', []], ['f32, subgraph runtime (xnn_create_runtime_v4)', ['--api', 'subgraph']], ['qc8w, operator API', ['--kind', 'qc8w']]] as const) {
    it(`${label}: process A packs, process B finds every weight, outputs and packed bytes identical to XNNPACK's own`, () => {
      const cache = join(dir, `${label.replace(/\W+/g, '-')}.xpwc`);
      const none = run([...chain, ...extra, '--provider', 'none']);
      const own = run([...chain, ...extra, '--provider', 'xnnpack']);
      const a = run([...chain, ...extra, '--provider', 'weightkit', '--cache', cache]);
      const b = run([...chain, ...extra, '--provider', 'weightkit', '--cache', cache]);
      expect(a).toMatchObject({ operators: 6, hits: 0, reserves: 6, inserts: 6 });
      expect(b).toMatchObject({ operators: 6, lookUps: 6, hits: 6, reserves: 0, inserts: 0 });
      expect(b.cache).toMatchObject({ packs: 0, entries: 6 });
      for (const r of [own, a, b]) expect(r.outputHash).toBe(none.outputHash);
      // The bytes XNNPACK packed into weightkit's reservations are the bytes it packs for its own cache.
      expect(a.packed.map((p) => [p.name, p.seed, p.fingerprint, p.size, p.hash])).toEqual(own.packed.map((p) => [p.name, p.seed, p.fingerprint, p.size, p.hash]));
      expect(a.packed.every((p) => p.fingerprint !== 0)).toBe(true); // XNNPACK passes a fingerprint on every insert
      // What ExecuTorch's loader would read: a footer at EOF indexing every entry.
      const index = readExecutorchIndex(cache);
      expect(index.entries.filter((e) => !e.name.startsWith('__weightkit')).map((e) => e.name).sort()).toEqual(a.packed.map((p) => p.name).sort());
    });
  }

  it('serves a cache laid out as ExecuTorch writes it (no fingerprints, no records) to real XNNPACK: every weight hits', () => {
    const dump = join(dir, 'xnnpack-packed.bin');
    const own = run([...chain, '--provider', 'xnnpack', '--dump', dump]);
    // Read XNNPACK's own packed bytes back and write them the way ExecuTorch does.
    const raw = readFileSync(dump);
    const regions: { name: string; data: Uint8Array; seed: number }[] = [];
    for (let at = 0; at < raw.length;) {
      const n = raw.readUInt32LE(at);
      const name = raw.toString('utf8', at + 4, at + 4 + n);
      const seed = raw.readUInt32LE(at + 4 + n);
      const size = Number(raw.readBigUInt64LE(at + 12 + n));
      regions.push({ name, seed, data: raw.subarray(at + 20 + n, at + 20 + n + size) });
      at += 20 + n + size;
    }
    expect(regions).toHaveLength(6);
    const cache = join(dir, 'executorch-layout.xpwc');
    writeExecutorchFile(cache, regions, 2);
    const served = run([...chain, '--provider', 'weightkit', '--cache', cache]);
    expect(served).toMatchObject({ hits: 6, reserves: 0, inserts: 0 });
    expect(served.outputHash).toBe(own.outputHash);
  });
});
