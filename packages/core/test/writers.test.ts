// Writers never replace what is not theirs, and their temporary files are
// unpredictable, removed on every exit path, and cleaned up after a kill -9
// (issue 23). Real files, real FIFOs, real processes.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsMap, writeSafetensors, writeSafetensorsAsync } from '@weightkit/core';
import { TEMPORARY_MARK, removeStaleTemporaries, temporaryOwner } from '@weightkit/core/internal';
import { tempDir } from './helpers.js';

const dir = tempDir('wk-writers-');
const tensor = (n: number, fill: number) => [{ name: 'w', dtype: 'uint8' as const, shape: [n], data: (c: Uint8Array) => c.fill(fill) }];
const temporaries = (d: string) => readdirSync(d).filter((f) => f.includes(TEMPORARY_MARK));

/** A pid that ran and has exited. */
function deadPid(): number {
  const r = spawnSync('true');
  return r.pid!;
}

describe('writers refuse to replace what is not a regular file', () => {
  it('a FIFO, a symbolic link and a folder given as output are refused with WK_BAD_ARGUMENT and left as they were', async () => {
    const fifo = join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'keep me');
    const link = join(dir, 'link.safetensors');
    symlinkSync(victim, link);
    const folder = join(dir, 'folder.safetensors');
    mkdirSync(folder);
    for (const [path, kind] of [[fifo, 'a FIFO'], [link, 'a symbolic link'], [folder, 'a folder']] as const) {
      expect(() => writeSafetensors(path, tensor(8, 1))).toThrowError(expect.objectContaining({ code: 'WK_BAD_ARGUMENT', message: expect.stringContaining(kind) }));
      await expect(writeSafetensorsAsync(path, tensor(8, 1))).rejects.toMatchObject({ code: 'WK_BAD_ARGUMENT' });
    }
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    expect(lstatSync(folder).isDirectory()).toBe(true);
    expect(temporaries(dir)).toEqual([]);
  });
});

describe('temporary files', () => {
  it('are named <target>.wk-tmp-<pid>-<16 random hex digits>, so pre-created guesses do not stop a write', () => {
    const d = join(dir, 'guess');
    mkdirSync(d);
    const out = join(d, 'm.safetensors');
    // What another user could pre-create from the old scheme, and a plausible new name.
    writeFileSync(`${out}.tmp-${process.pid}`, '');
    writeFileSync(`${out}${TEMPORARY_MARK}${process.pid}-0000000000000000`, '');
    const seen: string[] = [];
    writeSafetensors(out, [{ name: 'w', dtype: 'uint8', shape: [1 << 16], data: (c) => { c.fill(3); seen.push(...temporaries(d)); } }], { chunkBytes: 1 << 14 });
    const mine = [...new Set(seen)].filter((n) => !n.endsWith('-0000000000000000'));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatch(new RegExp(`^m\\.safetensors\\.wk-tmp-${process.pid}-[0-9a-f]{16}$`));
    expect(temporaryOwner(out, mine[0]!)).toBe(process.pid);
    expect(SafetensorsMap.openSync(out).bytes('w')[0]).toBe(3);
    expect(existsSync(join(d, mine[0]!))).toBe(false);
  });

  it('two concurrent writes of one target in one process both succeed; the last rename wins whole', async () => {
    const out = join(dir, 'twice.safetensors');
    await Promise.all([writeSafetensorsAsync(out, tensor(1 << 20, 1), { chunkBytes: 1 << 16 }), writeSafetensorsAsync(out, tensor(1 << 20, 2), { chunkBytes: 1 << 16 })]);
    const m = SafetensorsMap.openSync(out);
    const b = m.bytes('w');
    expect(b.every((x) => x === b[0])).toBe(true);
    m.close();
    expect(temporaries(dir).filter((n) => n.startsWith('twice'))).toEqual([]);
  });

  it('a failed write removes its temporary; one left by a dead writer is removed by the next writer, a live one is not', () => {
    const d = join(dir, 'stale');
    mkdirSync(d);
    const out = join(d, 'm.safetensors');
    expect(() => writeSafetensors(out, [{ name: 'w', dtype: 'uint8', shape: [8], data: () => { throw new Error('filler failed'); } }])).toThrowError('filler failed');
    expect(temporaries(d)).toEqual([]);
    const dead = `m.safetensors${TEMPORARY_MARK}${deadPid()}-0123456789abcdef`;
    const live = `m.safetensors${TEMPORARY_MARK}${process.ppid}-fedcba9876543210`;
    const other = `n.safetensors${TEMPORARY_MARK}${deadPid()}-0123456789abcdef`;
    for (const n of [dead, live, other]) writeFileSync(join(d, n), 'x');
    writeSafetensors(out, tensor(8, 5));
    expect(temporaries(d).sort()).toEqual([live, other].sort());
    expect(removeStaleTemporaries(join(d, 'n.safetensors'))).toBe(1);
  });

  it('a writer killed with SIGKILL mid-write leaves the target whole; the next writer removes its temporary', async () => {
    const d = join(dir, 'killed');
    mkdirSync(d);
    const out = join(d, 'm.safetensors');
    writeSafetensors(out, tensor(4096, 7));
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      import { writeSafetensorsAsync } from '@weightkit/core';
      // Slow after the first 2 MiB, so it is still writing whenever the kill comes.
      const slow = (c, at) => { c.fill(9); if (at > 2 << 20) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); };
      await writeSafetensorsAsync(process.env.OUT, [{ name: 'w', dtype: 'uint8', shape: [1 << 26], data: slow }], { chunkBytes: 1 << 16 });
    `], { env: { ...process.env, OUT: out }, stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    // Wait (however long the machine needs) until its temporary has data.
    while (!temporaries(d).some((n) => lstatSync(join(d, n)).size > 1 << 20)) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await exited;
    expect(temporaries(d)).toHaveLength(1);
    expect(temporaryOwner(out, temporaries(d)[0]!)).toBe(child.pid);
    const m = SafetensorsMap.openSync(out);
    expect(m.bytes('w').every((x) => x === 7)).toBe(true);
    m.close();
    writeSafetensors(out, tensor(16, 8));
    expect(temporaries(d)).toEqual([]);
  });
});
