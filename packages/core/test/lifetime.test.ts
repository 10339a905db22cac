// A view must never outlive its mapping: close() detaches views, and a map
// that is garbage-collected without close() keeps its mapping alive for as
// long as a view still refers to it. Both run in real child processes so a
// segfault would show up as a signal, not as a passing test.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesOf, tempDir, writeRawSafetensors } from './helpers.js';

const dir = tempDir();
const file = join(dir, 'life.safetensors');
writeRawSafetensors(file, { w: { dtype: 'F32', shape: [1 << 16], data: bytesOf(new Float32Array(1 << 16).fill(2.5)) } });

function runChild(script: string, env: Record<string, string> = {}): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, FILE: file, ...env },
    cwd: process.cwd(),
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('view lifetime', () => {
  it('touching a view after close() reads an empty, detached array — no crash', () => {
    const r = runChild(`
      import { SafetensorsMap } from '@weightkit/core';
      const map = SafetensorsMap.openSync(process.env.FILE);
      const v = map.get('w');
      const before = v[100];
      map.close();
      let sum = 0; for (let i = 0; i < 1000; i++) sum += v[i] ?? 0;
      console.log(JSON.stringify({ before, length: v.length, sum, at100: v[100] ?? null }));
    `);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ before: 2.5, length: 0, sum: 0, at100: null });
  });

  it('a view outlives a collected, unclosed map and still reads the file', () => {
    const r = runChild(`
      import { SafetensorsMap, FileMapping } from '@weightkit/core';
      let map = SafetensorsMap.openSync(process.env.FILE);
      const v = map.get('w');
      map = null;
      for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
      let sum = 0; for (let i = 0; i < v.length; i++) sum += v[i];
      console.log(JSON.stringify({ length: v.length, sum, pooled: FileMapping.pooledMappings }));
    `);
    expect(r.signal).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { length: number; sum: number; pooled: number };
    expect(out.length).toBe(1 << 16);
    expect(out.sum).toBe(2.5 * (1 << 16));
    expect(out.pooled).toBe(0);
  });
});

describe('close() releases every mapping it made, synchronously', () => {
  // Issue 23: a TF.js map kept one mapping per open/close cycle alive until
  // the event loop went idle (the views' finalizers held it), so a server
  // reloading models in a loop reached vm.max_map_count and died.
  const tfjs = join(dir, 'leak-manifest.json');
  writeFileSync(join(dir, 'leak.bin'), Buffer.alloc(4096 * 3, 7));
  writeFileSync(tfjs, JSON.stringify([{ paths: ['leak.bin'], weights: [
    { name: 'a', shape: [1024], dtype: 'float32' },
    { name: 'b', shape: [1024], dtype: 'float32' },
    { name: 'c', shape: [2, 4, 128], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
  ] }]));
  for (const [format, path] of [['tfjs', tfjs], ['safetensors', file]] as const) {
    it(`${format}: 2,000 open/read/close cycles in one synchronous loop leave the mapping count flat`, () => {
      const r = runChild(`
        import { readFileSync } from 'node:fs';
        import { openNamedDataMapSync } from '@weightkit/core';
        // Mappings of the model's own files only: V8's heap maps and unmaps pages of its own as it likes.
        const maps = () => readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.includes(process.env.DIR)).length;
        const cycle = () => { const m = openNamedDataMapSync(process.env.MODEL); for (const n of m.keys()) m.get(n)[0]; m.close(); };
        for (let i = 0; i < 50; i++) cycle();
        const before = maps();
        for (let i = 0; i < 2000; i++) cycle();
        globalThis.gc();
        console.log(JSON.stringify({ grew: maps() - before }));
      `, { MODEL: path, DIR: dir });
      expect(r.signal).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).grew).toBe(0);
    });
  }
});
