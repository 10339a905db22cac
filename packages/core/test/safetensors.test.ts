import { realpathSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  SafetensorsMap, WeightkitError, openNamedDataMap, openNamedDataMapSync, readSafetensorsHeaderSync, writeSafetensors,
} from '@weightkit/core';
import { bytesOf, rawSafetensors, tempDir, writeRawSafetensors } from './helpers.js';

const dir = tempDir();

function expectCode(fn: () => unknown, code: string): WeightkitError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WeightkitError);
    expect((e as WeightkitError).code).toBe(code);
    return e as WeightkitError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

describe('safetensors NamedDataMap', () => {
  const weights = new Float32Array([1.5, -2, 3.25, 4, 5, 6]);
  const ids = new BigInt64Array([1n, -2n, 3n]);
  const half = new Uint16Array([0x3c00, 0xc000]);
  const file = join(dir, 'ok.safetensors');
  writeRawSafetensors(
    file,
    {
      'layer.weight': { dtype: 'F32', shape: [2, 3], data: bytesOf(weights) },
      ids: { dtype: 'I64', shape: [3], data: bytesOf(ids) },
      'h': { dtype: 'F16', shape: [2], data: bytesOf(half) },
      empty: { dtype: 'F32', shape: [0, 4], data: new Uint8Array(0) },
    },
    { format: 'pt', note: 'kept' },
  );

  it('reads every tensor zero-copy with the dtype typed array', async () => {
    const map = await SafetensorsMap.open(file);
    expect(map.keys()).toEqual(['layer.weight', 'ids', 'h', 'empty']);
    expect(map.metadata).toEqual({ format: 'pt', note: 'kept' });
    const w = map.get('layer.weight');
    expect(w).toBeInstanceOf(Float32Array);
    expect([...w]).toEqual([...weights]);
    expect(map.get('ids')).toBeInstanceOf(BigInt64Array);
    expect([...(map.get('ids') as BigInt64Array)]).toEqual([1n, -2n, 3n]);
    // float16 has no JS typed array: raw bytes.
    expect(map.get('h')).toBeInstanceOf(Uint8Array);
    expect([...map.bytes('h')]).toEqual([...bytesOf(half)]);
    expect(map.get('empty').length).toBe(0);
    expect(map.info('layer.weight')).toMatchObject({ dtype: 'float32', shape: [2, 3], byteOffset: 0, byteLength: 24 });
    expect(map.copiedBytes).toBe(0);
    map.close();
  });

  it('detaches views on close and refuses use afterwards', () => {
    const map = SafetensorsMap.openSync(file);
    const w = map.get('layer.weight');
    expect(w.length).toBe(6);
    map.close();
    map.close(); // idempotent
    expect(w.length).toBe(0);
    expect(w.byteLength).toBe(0);
    expectCode(() => map.get('layer.weight'), 'WK_CLOSED');
  });

  it('shares one mapping between two opens, closable independently', () => {
    const a = SafetensorsMap.openSync(file);
    const b = SafetensorsMap.openSync(file);
    const va = a.get('layer.weight');
    a.close();
    expect(va.length).toBe(0);
    expect([...b.get('layer.weight')]).toEqual([...weights]);
    b.close();
  });

  it('reads files written by weightkit writeSafetensors, and detects the format', async () => {
    const path = join(dir, 'written.safetensors');
    const data = new Float32Array(1000).map((_, i) => i * 0.5);
    writeSafetensors(path, [
      { name: 'a', dtype: 'float32', shape: [10, 100], data: bytesOf(data) },
      { name: 'b', dtype: 'bfloat16', shape: [3], data: (chunk) => chunk.fill(7) },
    ], { metadata: { by: 'test' } });
    const map = await openNamedDataMap(path);
    expect(map.format).toBe('safetensors');
    expect([...(map.get('a') as Float32Array)].slice(0, 4)).toEqual([0, 0.5, 1, 1.5]);
    expect([...map.bytes('b')]).toEqual([7, 7, 7, 7, 7, 7]);
    expect(readSafetensorsHeaderSync(path).dataOffset % 8).toBe(0);
    map.close();
  });
});

describe('hostile safetensors files', () => {
  const f32 = (n: number) => new Uint8Array(n * 4);
  const cases: [string, Buffer | (() => Buffer), string][] = [
    ['empty file', Buffer.alloc(0), 'WK_BAD_FORMAT'],
    ['shorter than the length prefix', Buffer.from([1, 2, 3]), 'WK_BAD_FORMAT'],
    ['header length larger than the file', (() => { const b = rawSafetensors({}, new Uint8Array(0)); b.writeBigUInt64LE(1000n); return b; })(), 'WK_BAD_FORMAT'],
    ['header length near 2^64', (() => { const b = rawSafetensors({}, new Uint8Array(0)); b.writeBigUInt64LE(0xffffffffffffffffn); return b; })(), 'WK_BAD_FORMAT'],
    ['non-JSON header', rawSafetensors({}, new Uint8Array(0), '{"a": [1, 2'), 'WK_BAD_FORMAT'],
    ['JSON that is not an object', rawSafetensors({}, new Uint8Array(0), '[1,2,3]'), 'WK_BAD_FORMAT'],
    ['non-UTF-8 header bytes', (() => { const b = rawSafetensors({}, new Uint8Array(0), '{"\u00e9":1}'); b[10] = 0xff; b[11] = 0xfe; return b; })(), 'WK_BAD_FORMAT'],
    ['lone surrogate in a name', rawSafetensors({}, f32(1), '{"\\ud800": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'), 'WK_BAD_FORMAT'],
    ['offsets outside the file', rawSafetensors({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)), 'WK_BAD_FORMAT'],
    ['overlapping offsets', rawSafetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)), 'WK_BAD_FORMAT'],
    ['a gap between tensors', rawSafetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, f32(3)), 'WK_BAD_FORMAT'],
    ['trailing bytes', rawSafetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)), 'WK_BAD_FORMAT'],
    ['end before begin', rawSafetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, f32(1)), 'WK_BAD_FORMAT'],
    ['negative offsets', rawSafetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, f32(1)), 'WK_BAD_FORMAT'],
    ['size disagreeing with shape x dtype', rawSafetensors({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(2)), 'WK_BAD_FORMAT'],
    ['unknown dtype', rawSafetensors({ a: { dtype: 'Q7', shape: [1], data_offsets: [0, 4] } }, f32(1)), 'WK_UNSUPPORTED'],
    ['element count overflowing 64 bits', rawSafetensors({ a: { dtype: 'F32', shape: [4294967296, 4294967296, 2], data_offsets: [0, 4] } }, f32(1)), 'WK_BAD_FORMAT'],
    ['negative dimension', rawSafetensors({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)), 'WK_BAD_FORMAT'],
    ['fractional dimension', rawSafetensors({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, f32(1)), 'WK_BAD_FORMAT'],
    ['metadata that is not strings', rawSafetensors({ __metadata__: { a: 1 } }, new Uint8Array(0)), 'WK_BAD_FORMAT'],
    ['entry without dtype', rawSafetensors({ a: { shape: [1], data_offsets: [0, 4] } }, f32(1)), 'WK_BAD_FORMAT'],
  ];
  for (const [name, bytes, code] of cases) {
    it(`refuses ${name} with ${code}`, async () => {
      const path = join(dir, `hostile-${name.replace(/\W+/g, '-')}.safetensors`);
      writeFileSync(path, typeof bytes === 'function' ? bytes() : bytes);
      expectCode(() => SafetensorsMap.openSync(path), code);
      await expect(SafetensorsMap.open(path)).rejects.toMatchObject({ code });
    });
  }

  it('refuses a file truncated at every byte of a valid one', () => {
    const whole = rawSafetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32(2));
    const path = join(dir, 'truncated.safetensors');
    for (let n = 0; n < whole.length; n++) {
      writeFileSync(path, whole);
      truncateSync(path, n);
      expectCode(() => openNamedDataMapSync(path), 'WK_BAD_FORMAT');
    }
  });

  it('refuses missing files, directories and symlink loops with coded errors; follows a link the user names', () => {
    expectCode(() => SafetensorsMap.openSync(join(dir, 'nope.safetensors')), 'WK_NOT_FOUND');
    expect(expectCode(() => SafetensorsMap.openSync(dir), 'WK_BAD_ARGUMENT').message).toMatch(/not a regular file|not a directory/);
    const real = join(dir, 'real.safetensors');
    writeSafetensors(real, [{ name: 'w', dtype: 'float32', shape: [1], data: bytesOf(new Float32Array([1])) }]);
    symlinkSync(real, join(dir, 'link.safetensors'));
    const linked = SafetensorsMap.openSync(join(dir, 'link.safetensors'));
    expect([...(linked.get('w') as Float32Array)]).toEqual([1]);
    expect(linked.path).toBe(join(dir, 'link.safetensors'));
    expect(linked.location('w').path).toBe(realpathSync(real));
    linked.close();
    symlinkSync(join(dir, 'loop-b.safetensors'), join(dir, 'loop-a.safetensors'));
    symlinkSync(join(dir, 'loop-a.safetensors'), join(dir, 'loop-b.safetensors'));
    const e = expectCode(() => SafetensorsMap.openSync(join(dir, 'loop-a.safetensors')), 'WK_BAD_ARGUMENT');
    expect(e.message).toMatch(/symbolic link \(or a loop of them\)/);
  });
});
