import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AotiWeights, parseConstantsInfo } from '@weightkit/aoti-blob';
import { handWrapper, tempDir, writeHandModel } from './fixtures.js';

const dir = tempDir();

describe('constants_info_ catalog', () => {
  it('parses both codegen forms to the same catalog', () => {
    const consts = [
      { name: 'L__self___w', fqn: 'lin.weight', dtype: 'float32', shape: [4, 2], stride: [2, 1], dataSize: 64 },
      { name: 'L__self___b', dtype: 'int64', shape: [3], stride: [1], dataSize: 64, type: 'Buffer' },
    ];
    const current = parseConstantsInfo(handWrapper(consts));
    const legacy = parseConstantsInfo(handWrapper(consts, true));
    expect(legacy).toEqual(current);
    expect(current[0]).toMatchObject({ name: 'L__self___w', fqn: 'lin.weight', dtype: 'float32', dtypeCode: 6, shape: [4, 2], stride: [2, 1], type: 'Parameter', device: 'cpu' });
    expect(current[1]).toMatchObject({ fqn: 'L__self___b', dtype: 'int64', type: 'Buffer' });
  });

  it('places padded entries by the prefix-sum rule, skips folded constants and honours storage offsets', async () => {
    // a: 3 floats at storage offset 2 inside a 64-byte entry; f: folded (no bytes); b: 5 int8 in the next 64 bytes.
    const blob = new Uint8Array(128);
    const a = new Float32Array([1.5, 2.5, 3.5]);
    blob.set(new Uint8Array(a.buffer), 8);
    blob.set([1, 2, 3, 4, 5], 64);
    const path = writeHandModel(join(dir, 'padded'), handWrapper([
      { name: 'a', dtype: 'float32', shape: [3], stride: [1], offset: 2, dataSize: 64 },
      { name: 'f', dtype: 'float32', shape: [2, 2], stride: [2, 1], dataSize: 64, folded: true },
      { name: 'b', dtype: 'int8', shape: [5], stride: [1], dataSize: 64 },
    ]), blob);
    const w = await AotiWeights.open(path);
    expect(w.padded).toBe(true);
    expect(w.blobSize).toBe(128);
    expect(w.keys()).toEqual(['a', 'b']);
    expect(w.constant('a')).toMatchObject({ payloadOffset: 0, viewOffset: 8, viewBytes: 12 });
    expect(w.constant('f')).toMatchObject({ fromFolded: true, payloadOffset: null, type: 'FoldedConstant' });
    expect(w.constant('b').payloadOffset).toBe(64);
    expect([...w.get('a')]).toEqual([1.5, 2.5, 3.5]);
    expect([...w.get('b')]).toEqual([1, 2, 3, 4, 5]);
    expect(() => w.get('f')).toThrowError(/folded/);
    expect(w.constantsFromBlob().size).toBe(2);
    w.close();
  });

  it('packs an all-CUDA payload tight', async () => {
    const blob = new Uint8Array([1, 0, 2, 0, 3, 0, 9, 8, 7]);
    const path = writeHandModel(join(dir, 'tight'), handWrapper([
      { name: 'h', dtype: 'int16', device: 'cuda', shape: [3], stride: [1], dataSize: 6 },
      { name: 'u', dtype: 'uint8', device: 'cuda', shape: [3], stride: [1], dataSize: 3 },
    ]), blob);
    const w = AotiWeights.openSync(path);
    expect(w.padded).toBe(false);
    expect(w.constant('u').payloadOffset).toBe(6);
    expect([...w.get('h')]).toEqual([1, 2, 3]);
    expect([...w.get('u')]).toEqual([9, 8, 7]);
    w.close();
  });

  it('reads a tight payload of the older codegen (no device_type lines) by prefix sum, as PyTorch does', async () => {
    // An all-CUDA model from a codegen that states no device: sizes not multiples of 64.
    const blob = new Uint8Array([1, 0, 2, 0, 3, 0, 9, 8, 7, 6, 5]);
    const path = writeHandModel(join(dir, 'legacy-tight'), handWrapper([
      { name: 'h', dtype: 'int16', shape: [3], stride: [1], dataSize: 6 },
      { name: 'u', dtype: 'uint8', shape: [5], stride: [1], dataSize: 5 },
    ], true), blob);
    const w = AotiWeights.openSync(path);
    expect(w.padded).toBe(false);
    expect(w.constant('u').payloadOffset).toBe(6);
    expect([...w.get('h')]).toEqual([1, 2, 3]);
    expect([...w.get('u')]).toEqual([9, 8, 7, 6, 5]);
    w.close();
  });

  it('views a transposed (strided) constant by its extent and sub-byte dtypes by torch item size', async () => {
    const blob = new Uint8Array(128);
    blob.set(new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5]).buffer), 0);
    blob.set([0x21, 0x43], 64);
    const path = writeHandModel(join(dir, 'strided'), handWrapper([
      { name: 't', dtype: 'float32', shape: [3, 2], stride: [1, 3], dataSize: 64 }, // transpose of a [2, 3]
      { name: 'q', dtype: 'uint4', shape: [2], stride: [1], dataSize: 64 },
    ]), blob);
    const w = await AotiWeights.open(path);
    expect(w.info('t')).toMatchObject({ shape: [3, 2], strides: [1, 3], byteLength: 24 });
    expect([...w.get('t')]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(w.constant('q')).toMatchObject({ dtype: 'uint4', viewBytes: 2 });
    expect([...w.bytes('q')]).toEqual([0x21, 0x43]);
    w.close();
  });
});
