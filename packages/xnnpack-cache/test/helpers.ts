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
export { warningsDuring } from '../../core/test/helpers.js';

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
export function writeExecutorchFile(path: string, regions: { name: string; data: Uint8Array; seed?: number }[], version = 2, indexSlack = Buffer.alloc(0)): RawEntry[] {
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
  parts.push(indexSlack); // bytes after the last entry, which ExecuTorch does not read
  const footer = Buffer.alloc(20);
  footer.writeBigUInt64LE(BigInt(indexStart), 0);
  footer.writeUInt32LE(entries.length, 8);
  footer.write('CWPX', 12, 'latin1');
  footer.writeUInt32LE(version, 16);
  parts.push(footer);
  writeFileSync(path, Buffer.concat(parts));
  return entries;
}

/**
 * An independent reader that applies ExecuTorch's loader rules: only the last
 * 20 bytes are read for the footer; entries are read while 4 bytes of index
 * remain; an entry that runs past the index or whose data is not before the
 * index rejects the whole file; a repeated name replaces the earlier one.
 */
export function readExecutorchIndex(path: string): { version: number; indexStart: number; entries: RawEntry[] } {
  const f = readFileSync(path);
  if (f.length < 20) throw new Error('no XPWC footer at EOF');
  const foot = f.subarray(f.length - 20);
  if (foot.toString('latin1', 12, 16) !== 'CWPX') throw new Error('no XPWC footer at EOF');
  const version = foot.readUInt32LE(16);
  if (version !== 1 && version !== 2) throw new Error(`version ${version}`);
  const indexStart = Number(foot.readBigUInt64LE(0));
  if (indexStart >= f.length - 20) throw new Error('index_start is at or past the footer');
  const count = foot.readUInt32LE(8);
  const end = f.length - 20;
  const byName = new Map<string, RawEntry>();
  let p = indexStart;
  const fields = version === 2 ? 20 : 16;
  for (let i = 0; i < count && p + 4 <= end; i++) {
    const n = f.readUInt32LE(p);
    if (p + 4 + n + fields > end) throw new Error(`entry ${i} runs past the index`);
    const name = f.toString('utf8', p + 4, p + 4 + n);
    const offset = Number(f.readBigUInt64LE(p + 4 + n));
    const size = Number(f.readBigUInt64LE(p + 12 + n));
    const seed = version === 2 ? f.readUInt32LE(p + 20 + n) : 0;
    p += 4 + n + fields;
    if (!(offset < indexStart && size <= indexStart - offset)) throw new Error(`entry ${name} overlaps the index`);
    byName.set(name, { name, offset, size, seed });
  }
  return { version, indexStart, entries: [...byName.values()] };
}
