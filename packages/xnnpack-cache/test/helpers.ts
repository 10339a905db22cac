// Test helpers: temp folders, small models, child processes that use the
// cache, and an independent minimal XPWC writer and reader (a second
// implementation of ExecuTorch's format, so compatibility is checked against
// something other than weightkit's own code).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { writeSafetensors } from '@weightkit/core';

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wk-xnn-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A small model: `layers` linear layers [out, in] with biases, deterministic values. */
export function smallModel(path: string, layers = 4, out = 48, inp = 40, scale = 1): string {
  const entries = [];
  for (let l = 0; l < layers; l++) {
    const fill = (seed: number) => (chunk: Uint8Array, at: number) => {
      const f = new Float32Array(chunk.buffer, chunk.byteOffset, chunk.byteLength / 4);
      for (let i = 0; i < f.length; i++) f[i] = Math.sin(seed * 1000 + at / 4 + i) * scale;
    };
    entries.push({ name: `layers.${l}.weight`, dtype: 'float32' as const, shape: [out, inp], data: fill(l + 1) });
    entries.push({ name: `layers.${l}.bias`, dtype: 'float32' as const, shape: [out], data: fill(l + 101) });
  }
  entries.push({ name: 'norm.weight', dtype: 'float32' as const, shape: [out], data: (c: Uint8Array) => c.fill(0) });
  writeSafetensors(path, entries);
  return path;
}

/** Runs an ES module snippet in a fresh node process from the repository root. */
export function node(script: string, env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8', cwd: process.cwd(), env: { ...process.env, ...env }, timeout: 60_000,
  });
}

export function lastJson<T>(r: SpawnSyncReturns<string>): T {
  if (r.status !== 0) throw new Error(`child failed (${r.status ?? r.signal}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

export interface RawEntry {
  name: string;
  offset: number;
  size: number;
  seed?: number;
}

/** An ExecuTorch-style file: regions at page-aligned offsets, then index and footer. */
export function writeExecutorchFile(path: string, regions: { name: string; data: Uint8Array; seed?: number }[], version = 2): RawEntry[] {
  const page = 4096;
  const parts: Buffer[] = [];
  const entries: RawEntry[] = [];
  let at = 0;
  for (const r of regions) {
    const offset = Math.ceil(at / page) * page;
    parts.push(Buffer.alloc(offset - at));
    parts.push(Buffer.from(r.data));
    entries.push({ name: r.name, offset, size: r.data.byteLength, seed: r.seed ?? 0 });
    at = offset + r.data.byteLength;
  }
  const indexStart = Math.ceil(at / page) * page;
  parts.push(Buffer.alloc(indexStart - at));
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const rec = Buffer.alloc(4 + name.length + 16 + (version === 2 ? 4 : 0));
    rec.writeUInt32LE(name.length, 0);
    name.copy(rec, 4);
    rec.writeBigUInt64LE(BigInt(e.offset), 4 + name.length);
    rec.writeBigUInt64LE(BigInt(e.size), 12 + name.length);
    if (version === 2) rec.writeUInt32LE(e.seed ?? 0, 20 + name.length);
    parts.push(rec);
  }
  const footer = Buffer.alloc(20);
  footer.writeBigUInt64LE(BigInt(indexStart), 0);
  footer.writeUInt32LE(entries.length, 8);
  footer.write('CWPX', 12, 'latin1');
  footer.writeUInt32LE(version, 16);
  parts.push(footer);
  writeFileSync(path, Buffer.concat(parts));
  return entries;
}

/** An independent reader of the footer at EOF and the v2 index, as ExecuTorch's loader reads it. */
export function readExecutorchIndex(path: string): { version: number; indexStart: number; entries: RawEntry[] } {
  const f = readFileSync(path);
  const foot = f.subarray(f.length - 20);
  if (foot.toString('latin1', 12, 16) !== 'CWPX') throw new Error('no XPWC footer at EOF');
  const version = foot.readUInt32LE(16);
  const indexStart = Number(foot.readBigUInt64LE(0));
  const count = foot.readUInt32LE(8);
  const entries: RawEntry[] = [];
  let p = indexStart;
  for (let i = 0; i < count; i++) {
    const n = f.readUInt32LE(p);
    const name = f.toString('utf8', p + 4, p + 4 + n);
    const offset = Number(f.readBigUInt64LE(p + 4 + n));
    const size = Number(f.readBigUInt64LE(p + 12 + n));
    const seed = version === 2 ? f.readUInt32LE(p + 20 + n) : 0;
    p += 4 + n + 16 + (version === 2 ? 4 : 0);
    if (!(offset < indexStart && size <= indexStart - offset)) throw new Error(`entry ${name} overlaps the index`);
    entries.push({ name, offset, size, seed });
  }
  if (p !== f.length - 20) throw new Error('index does not end at the footer');
  return { version, indexStart, entries };
}
