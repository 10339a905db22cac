// Test helpers: temporary folders and an independent minimal safetensors
// writer (deliberately not weightkit's own writer, so the reader is checked
// against a second implementation of the format).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openNamedDataMapSync } from '@weightkit/core';

export function tempDir(prefix = 'wk-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface RawTensor {
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

/** Builds safetensors bytes from a header object and data, without any validation. */
export function rawSafetensors(header: Record<string, unknown>, data: Uint8Array, headerText?: string): Buffer {
  const text = Buffer.from(headerText ?? JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(text.length));
  return Buffer.concat([prefix, text, data]);
}

/** A valid safetensors file of `tensors` written to `path`. */
export function writeRawSafetensors(path: string, tensors: Record<string, RawTensor>, metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
    parts.push(t.data);
  }
  writeFileSync(path, rawSafetensors(header, Buffer.concat(parts)));
}

export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Opens `path` as any map and closes it; returns what the open threw (undefined when it opened). */
export function openError(path: string): unknown {
  try {
    openNamedDataMapSync(path).close();
    return undefined;
  } catch (e) {
    return e;
  }
}

/**
 * The warnings `fn` makes the process emit, kept off stderr: a test that
 * causes a warning checks it instead of printing it. Node.js emits warnings on
 * a later tick, so the listener stays until one has passed.
 */
export async function warningsDuring(fn: () => unknown): Promise<string[]> {
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  const warnings: string[] = [];
  const take = (w: Error) => warnings.push(w.message);
  process.on('warning', take);
  try {
    await fn();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', take);
    for (const p of printers) process.on('warning', p);
  }
  return warnings;
}
