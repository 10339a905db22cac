// A model folder is written all-or-nothing (issue 23): a writer of B over A,
// aborted or concurrent with another writer, never leaves a folder that mixes
// A's wrapper and metadata with B's payload, and a reader opening the folder
// while writers swap it sees A or B whole. Real processes, real renames.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsMap, writeSafetensors } from '@weightkit/core';
import { AotiWeights, writeAotiFolder } from '@weightkit/aoti-blob';
import { tempDir } from './fixtures.js';

const dir = tempDir();
const FILL = { a: 0xaa, b: 0xbb } as const;

/** Model `name`: 50 tensors whose every byte is FILL[name]; the folder's metadata names its source file. */
function source(name: 'a' | 'b'): string {
  const path = join(dir, `${name}.safetensors`);
  writeSafetensors(path, Array.from({ length: 50 }, (_, i) => ({
    name: `layers.${i}.weight`, dtype: 'float32' as const, shape: [64, 64], data: (c: Uint8Array) => c.fill(FILL[name]),
  })));
  return path;
}
const sources = { a: source('a'), b: source('b') };

/**
 * Which model the folder holds, read whole; 'mixed' when its parts disagree;
 * 'busy' when writers replaced it on every one of the reader's tries (WK_LOCKED).
 */
function whichModel(folder: string): 'a' | 'b' | 'mixed' | 'busy' {
  let opened: AotiWeights;
  try {
    opened = AotiWeights.openSync(folder);
  } catch (e) {
    if ((e as { code?: string }).code === 'WK_LOCKED') return 'busy';
    throw e;
  }
  using w = opened;
  const named = w.wrapperMetadata.WEIGHTKIT_SOURCE === 'a.safetensors' ? 'a' : 'b';
  const bytes = w.payload();
  const all = (v: number) => w.keys().every((k) => w.bytes(k).every((x) => x === v));
  return bytes.length > 0 && all(FILL[named]) ? named : 'mixed';
}

describe('writeAotiFolder replaces a folder as a whole', () => {
  it('B aborted over A, at 20 points of its payload: the folder still holds A whole, and no temporary is left', async () => {
    const folder = join(dir, 'aborted');
    using a = SafetensorsMap.openSync(sources.a);
    using b = SafetensorsMap.openSync(sources.b);
    await writeAotiFolder(a, folder);
    writeFileSync(join(folder, 'README.txt'), 'a file of the user');
    for (let k = 1; k <= 20; k++) {
      const ac = new AbortController();
      const onProgress = (done: number, total: number) => { if (done >= (total * k) / 21) ac.abort(new Error('stop')); };
      await expect(writeAotiFolder(b, folder, { signal: ac.signal, onProgress })).rejects.toThrowError('stop');
      expect(whichModel(folder)).toBe('a');
    }
    await writeAotiFolder(b, folder);
    expect(whichModel(folder)).toBe('b');
    expect(readdirSync(folder).sort()).toEqual(['README.txt', 'model.wrapper.cpp', 'model.wrapper_metadata.json', 'model.wrapper_weights.blob']);
    expect(readdirSync(dir).filter((n) => n.includes('.wk-tmp-'))).toEqual([]);
  });

  it('a second writer of the same folder fails at once with WK_LOCKED while the first one writes; the first completes', async () => {
    const folder = join(dir, 'locked');
    using a = SafetensorsMap.openSync(sources.a);
    using b = SafetensorsMap.openSync(sources.b);
    let second: Promise<unknown> | undefined;
    const first = writeAotiFolder(a, folder, { onProgress: () => { second ??= writeAotiFolder(b, folder).then(() => 'written', (e: unknown) => e); } });
    await first;
    expect(await second).toMatchObject({ code: 'WK_LOCKED', message: expect.stringContaining(folder) });
    expect(whichModel(folder)).toBe('a');
  });

  it('a folder that is a file, or a folder holding a sub-folder, is refused and left as it was', async () => {
    using a = SafetensorsMap.openSync(sources.a);
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    await expect(writeAotiFolder(a, file)).rejects.toMatchObject({ code: 'WK_BAD_ARGUMENT' });
    const nested = join(dir, 'nested');
    await writeAotiFolder(a, nested);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(nested, 'sub'));
    await expect(writeAotiFolder(a, nested)).rejects.toMatchObject({ code: 'WK_BAD_ARGUMENT', message: expect.stringContaining('sub') });
    expect(existsSync(join(nested, 'sub'))).toBe(true);
    expect(whichModel(nested)).toBe('a');
  });

  it('readers opening the folder while two writer processes rewrite it (some aborted, some killed) see A or B, never a mix', async () => {
    const folder = join(dir, 'contended');
    using a = SafetensorsMap.openSync(sources.a);
    await writeAotiFolder(a, folder);
    const writer = (seed: number) => {
      const p = spawn(process.execPath, ['--input-type=module', '-e', `
        import { SafetensorsMap } from '@weightkit/core';
        import { writeAotiFolder } from '@weightkit/aoti-blob';
        const maps = [SafetensorsMap.openSync(process.env.A), SafetensorsMap.openSync(process.env.B)];
        let rng = ${seed};
        const rand = (n) => ((rng = (rng * 1103515245 + 12345) >>> 0) >>> 8) % n;
        let done = 0;
        for (let i = 0; i < 60; i++) {
          const ac = new AbortController();
          const abortAt = rand(3) === 0 ? Math.random() : 2;
          try {
            await writeAotiFolder(maps[rand(2)], process.env.DIR, { signal: ac.signal, onProgress: (d, t) => { if (d >= t * abortAt) ac.abort(new Error('stop')); } });
            done++;
          } catch (e) {
            if (e.code !== 'WK_LOCKED' && e.message !== 'stop') throw e;
          }
        }
        console.log(done);
      `], { env: { ...process.env, A: sources.a, B: sources.b, DIR: folder }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      return { p, exit: new Promise<{ code: number | null; out: string }>((r) => p.on('exit', (code) => r({ code, out }))) };
    };
    const w1 = writer(1);
    const w2 = writer(2);
    const victim = writer(3);
    let running = 3;
    const ends = [w1.exit, w2.exit, victim.exit].map((e) => e.then((r) => { running--; return r; }));
    const seen = { a: 0, b: 0, mixed: 0, busy: 0 };
    let killed = false;
    while (running > 0) {
      seen[whichModel(folder)]++;
      if (!killed && seen.a + seen.b > 20) {
        victim.p.kill('SIGKILL');
        killed = true;
      }
      await new Promise((r) => setImmediate(r));
    }
    const [r1, r2] = await Promise.all(ends);
    expect(r1!.code, r1!.out).toBe(0);
    expect(r2!.code, r2!.out).toBe(0);
    expect(seen.mixed).toBe(0);
    expect(seen.a + seen.b).toBeGreaterThan(0);
    expect(['a', 'b']).toContain(whichModel(folder));
    // The killed writer's temporary, if it left one, goes with the next write.
    await writeAotiFolder(a, folder);
    expect(readdirSync(dir).filter((n) => n.startsWith('contended.wk-tmp-'))).toEqual([]);
  });
});
