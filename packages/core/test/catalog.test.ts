import { describe, expect, it } from 'vitest';
import {
  DTYPES, WeightCatalog, dtypeFromC10, dtypeFromSafetensors, dtypeFromTfjs, dtypeInfo, numelOf, storageBytes, typedView,
} from '@weightkit/core';

describe('dtypes', () => {
  it('maps c10 codes, safetensors and TF.js names', () => {
    expect(dtypeFromC10(6)).toMatchObject({ name: 'float32', bits: 32, torchItemSize: 4 });
    expect(dtypeFromC10(15).name).toBe('bfloat16');
    expect(dtypeFromC10(45)).toMatchObject({ name: 'float4_e2m1fn_x2', bits: 8 });
    expect(dtypeFromC10(33)).toMatchObject({ name: 'uint4', bits: 4, torchItemSize: 1 });
    expect(dtypeFromSafetensors('BF16').name).toBe('bfloat16');
    expect(dtypeFromSafetensors('F8_E4M3').name).toBe('float8_e4m3fn');
    expect(dtypeFromSafetensors('F4')).toMatchObject({ bits: 4, c10: null });
    expect(dtypeFromTfjs('int32').name).toBe('int32');
    expect(() => dtypeFromC10(99)).toThrowError(/unknown c10/);
    expect(() => dtypeInfo('float7')).toThrowError(/unknown dtype/);
    expect(DTYPES.filter((d) => d.c10 !== null)).toHaveLength(46);
  });

  it('computes packed bytes for sub-byte types and views typed arrays', () => {
    expect(storageBytes('uint4', 3n)).toBe(2n);
    expect(storageBytes('int1', 9n)).toBe(2n);
    expect(storageBytes('float32', 5n)).toBe(20n);
    const buf = new Float32Array([1, 2, 3]).buffer;
    expect(typedView('float32', buf)).toBeInstanceOf(Float32Array);
    expect(typedView('bfloat16', buf)).toBeInstanceOf(Uint8Array);
    expect(typedView('float32', buf, 2, 8)).toBeInstanceOf(Uint8Array); // unaligned: raw bytes
  });
});

describe('WeightCatalog', () => {
  const t = (name: string, byteOffset: number, byteLength: number, shape = [byteLength / 4]) => ({ name, dtype: 'float32' as const, shape, byteOffset, byteLength });

  it('accepts a consistent catalog and totals it', () => {
    const c = new WeightCatalog([t('a', 0, 16), t('b', 16, 8)], { bounds: 24 });
    expect(c.size).toBe(2);
    expect(c.totalBytes).toBe(24);
    expect(c.names()).toEqual(['a', 'b']);
    expect(c.get('b').byteOffset).toBe(16);
    expect(() => c.get('zz')).toThrowError(/no tensor named 'zz'/);
  });

  it('refuses inconsistent sizes, overflow, bounds, overlap and duplicates with WK_BAD_FORMAT', () => {
    const bad = (entries: Parameters<typeof t>[] | object[], opts = {}) => {
      try {
        new WeightCatalog(entries.map((e) => (Array.isArray(e) ? t(...(e as Parameters<typeof t>)) : e)) as never, opts);
      } catch (e) {
        return (e as { code: string }).code;
      }
      return 'accepted';
    };
    expect(bad([['a', 0, 12, [4]]])).toBe('WK_BAD_FORMAT');
    expect(bad([['a', 0, 4, [2 ** 53, 2 ** 53]]])).toBe('WK_BAD_FORMAT');
    expect(numelOf([2 ** 32, 2 ** 32 - 1])).toBe(2n ** 64n - 2n ** 32n);
    expect(() => numelOf([2 ** 32, 2 ** 32])).toThrowError(/overflows 64 bits/);
    expect(bad([['a', 8, 16]], { bounds: 20 })).toBe('WK_BAD_FORMAT');
    expect(bad([['a', 0, 16], ['b', 12, 8]])).toBe('WK_BAD_FORMAT');
    expect(bad([['a', 0, 16], ['b', 12, 8]], { allowOverlap: true })).toBe('accepted');
    expect(bad([['a', 0, 4], ['a', 4, 4]])).toBe('WK_BAD_FORMAT');
    expect(bad([['a', -4, 4]])).toBe('WK_BAD_FORMAT');
    expect(bad([{ name: 'q', dtype: 'float99', shape: [1], byteOffset: 0, byteLength: 4 }])).toBe('WK_UNSUPPORTED');
  });

  it('checks strided views by their extent', () => {
    // a [2, 3] view with strides [1, 2] spans (1*1 + 2*2) + 1 = 6 elements
    const view = { name: 'v', dtype: 'float32' as const, shape: [2, 3], strides: [1, 2], byteOffset: 0, byteLength: 24 };
    expect(new WeightCatalog([view]).size).toBe(1);
    expect(() => new WeightCatalog([{ ...view, byteLength: 20 }])).toThrowError(/needs 24 bytes/);
    expect(() => new WeightCatalog([{ ...view, strides: [1] }])).toThrowError(/strides/);
  });
});
