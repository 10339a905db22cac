import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TfjsMap, WeightkitError, decodeFloat16, dequantize, halfToFloat, openNamedDataMap } from '@weightkit/core';
import { bytesOf, tempDir } from './helpers.js';

const modelDir = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'model');
const MANIFESTS = [
  'age_gender_model', 'face_expression_model', 'face_landmark_68_model', 'face_landmark_68_tiny_model',
  'face_recognition_model', 'ssd_mobilenetv1_model', 'tiny_face_detector_model',
].map((m) => join(modelDir, `${m}-weights_manifest.json`));

interface ManifestWeight { name: string; shape: number[]; dtype: string; quantization?: { dtype: string; scale: number; min: number } }
const dir = tempDir();

describe('TF.js manifests of the bundled face-api model', () => {
  for (const manifest of MANIFESTS) {
    it(`opens ${manifest.split('/').pop()} with the manifest's names and shapes`, async () => {
      const groups = JSON.parse(readFileSync(manifest, 'utf8')) as { paths: string[]; weights: ManifestWeight[] }[];
      const expected = groups.flatMap((g) => g.weights);
      const map = await openNamedDataMap(manifest);
      expect(map.format).toBe('tfjs');
      expect(map.keys()).toEqual(expected.map((w) => w.name));
      for (const w of expected) {
        expect(map.info(w.name).shape).toEqual(w.shape);
        expect(map.info(w.name).dtype).toBe(w.dtype);
        expect(map.get(w.name).length).toBe(w.shape.reduce((a, b) => a * b, 1));
      }
      map.close();
    });
  }

  it('face_recognition has 117 tensors and dequantizes uint8 by scale and min', () => {
    const manifest = MANIFESTS[4]!;
    const groups = JSON.parse(readFileSync(manifest, 'utf8')) as { paths: string[]; weights: ManifestWeight[] }[];
    const bin = readFileSync(join(modelDir, groups[0]!.paths[0]!));
    const map = TfjsMap.openSync(manifest);
    expect(map.keys()).toHaveLength(117);
    // Walk the shard by hand: each weight takes numel bytes (uint8) or numel*4 (float32).
    let offset = 0;
    let checked = 0;
    for (const w of groups[0]!.weights) {
      const numel = w.shape.reduce((a, b) => a * b, 1);
      const got = map.get(w.name) as Float32Array;
      if (w.quantization) {
        for (const i of [0, Math.floor(numel / 2), numel - 1]) {
          const byHand = bin[offset + i]! * w.quantization.scale + w.quantization.min;
          expect(got[i]).toBe(Math.fround(byHand));
          checked++;
        }
        offset += numel;
      } else {
        expect(got[0]).toBe(bin.readFloatLE(offset));
        offset += numel * 4;
      }
    }
    expect(offset).toBe(bin.length);
    expect(checked).toBeGreaterThan(300);
    map.close();
  });

  it('decodes int32 weights stored quantized (ssd_mobilenetv1)', () => {
    const map = TfjsMap.openSync(MANIFESTS[5]!);
    // scale 1, min 3 over a stored 0 -> 3; dtype int32.
    const v = map.get('Prediction/BoxPredictor_0/stack_1/2');
    expect(v).toBeInstanceOf(Int32Array);
    expect(map.info('Prediction/BoxPredictor_0/stack_1/2').dtype).toBe('int32');
    map.close();
  });
});

function writeModel(name: string, groups: unknown, shards: Record<string, Uint8Array>, wrap = false): string {
  const sub = join(dir, name);
  mkdirSync(sub, { recursive: true });
  for (const [p, bytes] of Object.entries(shards)) writeFileSync(join(sub, p), bytes);
  const path = join(sub, wrap ? 'model.json' : 'm-weights_manifest.json');
  writeFileSync(path, JSON.stringify(wrap ? { format: 'layers-model', modelTopology: {}, weightsManifest: groups } : groups));
  return path;
}

describe('TF.js layout and quantization', () => {
  it('joins a tensor spanning two shards and views one inside a shard zero-copy', async () => {
    const a = new Float32Array([1, 2, 3, 4, 5]);
    const b = new Float32Array([6, 7, 8]);
    const all = bytesOf(new Float32Array([...a, ...b]));
    const path = writeModel('span', [{
      paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'],
      weights: [{ name: 'first', shape: [2], dtype: 'float32' }, { name: 'spans', shape: [6], dtype: 'float32' }],
    }], { 'group1-shard1of2.bin': all.slice(0, 16), 'group1-shard2of2.bin': all.slice(16) }, true);
    const map = await TfjsMap.open(path);
    expect([...map.get('first')]).toEqual([1, 2]);
    expect(map.copiedBytes).toBe(0);
    expect([...map.get('spans')]).toEqual([3, 4, 5, 6, 7, 8]);
    expect(map.copiedBytes).toBe(24);
    map.close();
  });

  it('dequantizes uint16 affine and float16', () => {
    const u16 = new Uint16Array([0, 1000, 65535]);
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x3555, 0x7c00]);
    const path = writeModel('quant', [{
      paths: ['w.bin'],
      weights: [
        { name: 'u', shape: [3], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.5, min: -10 } },
        { name: 'h', shape: [4], dtype: 'float32', quantization: { dtype: 'float16' } },
      ],
    }], { 'w.bin': new Uint8Array([...bytesOf(u16), ...bytesOf(f16)]) });
    const map = TfjsMap.openSync(path);
    expect([...map.get('u')]).toEqual([-10, 490, 65535 * 0.5 - 10]);
    const h = map.get('h') as Float32Array;
    expect(h[0]).toBe(1);
    expect(h[1]).toBe(-2);
    expect(h[2]).toBeCloseTo(0.33325, 5);
    expect(h[3]).toBe(Infinity);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(map.info('u').byteLength).toBe(6);
    map.close();
  });

  const hostile: [string, unknown, Record<string, Uint8Array>, string][] = [
    ['a missing shard', [{ paths: ['gone.bin'], weights: [{ name: 'a', shape: [1], dtype: 'float32' }] }], {}, 'WK_NOT_FOUND'],
    ['a truncated shard', [{ paths: ['s.bin'], weights: [{ name: 'a', shape: [4], dtype: 'float32' }] }], { 's.bin': new Uint8Array(15) }, 'WK_BAD_FORMAT'],
    ['a shard path leaving the folder', [{ paths: ['../../etc/passwd'], weights: [] }], {}, 'WK_BAD_FORMAT'],
    ['an absolute shard path', [{ paths: ['/etc/passwd'], weights: [] }], {}, 'WK_BAD_FORMAT'],
    ['a string tensor', [{ paths: ['s.bin'], weights: [{ name: 'a', shape: [1], dtype: 'string' }] }], { 's.bin': new Uint8Array(8) }, 'WK_UNSUPPORTED'],
    ['an unknown dtype', [{ paths: ['s.bin'], weights: [{ name: 'a', shape: [1], dtype: 'float99' }] }], { 's.bin': new Uint8Array(8) }, 'WK_UNSUPPORTED'],
    ['an overflowing shape', [{ paths: ['s.bin'], weights: [{ name: 'a', shape: [2 ** 40, 2 ** 40], dtype: 'float32' }] }], { 's.bin': new Uint8Array(8) }, 'WK_BAD_FORMAT'],
    ['quantization without scale', [{ paths: ['s.bin'], weights: [{ name: 'a', shape: [1], dtype: 'float32', quantization: { dtype: 'uint8' } }] }], { 's.bin': new Uint8Array(8) }, 'WK_BAD_FORMAT'],
    ['a duplicate name', [{ paths: ['s.bin'], weights: [{ name: 'a', shape: [1], dtype: 'float32' }, { name: 'a', shape: [1], dtype: 'float32' }] }], { 's.bin': new Uint8Array(8) }, 'WK_BAD_FORMAT'],
    ['groups that are not an array', { weightsManifest: 3 }, {}, 'WK_BAD_FORMAT'],
    ['a group without paths', [{ weights: [] }], {}, 'WK_BAD_FORMAT'],
  ];
  for (const [what, groups, shards, code] of hostile) {
    it(`refuses ${what} with ${code}`, async () => {
      const path = writeModel(`hostile-${what.replace(/\W+/g, '-')}`, groups, shards);
      expect(() => TfjsMap.openSync(path)).toThrow(WeightkitError);
      await expect(TfjsMap.open(path)).rejects.toMatchObject({ code });
    });
  }

  it('refuses a manifest that is not JSON', async () => {
    const path = join(dir, 'broken-weights_manifest.json');
    writeFileSync(path, '[{"paths": [');
    await expect(openNamedDataMap(path)).rejects.toMatchObject({ code: 'WK_BAD_FORMAT' });
  });
});

describe('hostile manifests are refused in linear time with bounded messages (issue 23)', () => {
  const folder = join(dir, 'hostile');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'w.bin'), Buffer.alloc(16));
  const open = (text: string) => {
    const path = join(folder, 'model-weights_manifest.json');
    writeFileSync(path, text);
    try {
      TfjsMap.openSync(path).close();
      return undefined;
    } catch (e) {
      return e as Error;
    }
  };

  it('one shard listed many times (200,000 times, as in the 1M-path report): WK_BAD_FORMAT at the second listing', () => {
    const e = open(JSON.stringify([{ paths: Array(200_000).fill('w.bin'), weights: [{ name: 'w', shape: [4], dtype: 'float32' }] }]));
    expect(e).toMatchObject({ code: 'WK_BAD_FORMAT', message: expect.stringContaining('"w.bin" is listed more than once') });
    // The same shard in two groups, or under two spellings, is the same shard.
    expect(open(JSON.stringify([{ paths: ['w.bin'], weights: [] }, { paths: ['./w.bin'], weights: [] }]))).toMatchObject({ code: 'WK_BAD_FORMAT' });
  });

  it('a 5,000-deep quantization dtype, shape, dimension or shard path: a coded error, not a RangeError', () => {
    const deep = '['.repeat(5000) + '1' + ']'.repeat(5000);
    const w = (over: string) => `[{"paths": ["w.bin"], "weights": [${over}]}]`;
    for (const text of [
      w(`{"name": "w", "shape": [4], "dtype": "float32", "quantization": {"dtype": ${deep}, "scale": 1, "min": 0}}`),
      w(`{"name": "w", "shape": [${deep}], "dtype": "float32"}`),
      w(`{"name": "w", "shape": ${deep}, "dtype": "float32"}`),
      `[{"paths": [${deep}], "weights": []}]`,
    ]) {
      const e = open(text);
      expect(e).toBeInstanceOf(WeightkitError);
      expect(e!.message.length).toBeLessThan(400);
    }
  });
});

describe('the folder of a manifest named through links or ".." (issue 21: resolved without a second realpath)', () => {
  it('opens it as realpath would resolve it: the same tensors, the same bytes', async () => {
    const real = join(dir, 'paths-real');
    mkdirSync(join(real, 'sub'), { recursive: true });
    for (const f of ['tiny_face_detector_model-weights_manifest.json', 'tiny_face_detector_model.bin']) copyFileSync(join(modelDir, f), join(real, f));
    symlinkSync(real, join(dir, 'paths-link'));
    const name = 'tiny_face_detector_model-weights_manifest.json';
    const reference = await openNamedDataMap(join(real, name));
    const first = reference.keys()[0]!;
    for (const path of [join(dir, 'paths-link', name), join(real, 'sub', '..', name), join(dir, 'paths-link', 'sub', '..', name)]) {
      const map = await openNamedDataMap(path);
      expect(map.keys(), path).toEqual(reference.keys());
      expect(Buffer.from(map.bytes(first)).equals(Buffer.from(reference.bytes(first))), path).toBe(true);
      map.close();
    }
    reference.close();
  });
});

describe('dequantize into a new array or into the caller\'s (issue 21)', () => {
  const raw = new Uint8Array(5 * 2 ** 20).map((_, i) => (i * 131) & 0xff);
  const q = { storedDtype: 'uint8' as const, scale: 0.0039, min: -0.5 };

  it('gives the same values either way, into memory of 4 MiB and more that was never zeroed', () => {
    const fresh = dequantize(raw, q, 'float32');
    const into = new Float32Array(raw.length).fill(7);
    expect(dequantize(raw, q, 'float32', into)).toBe(into);
    expect(Buffer.from(fresh.buffer).equals(Buffer.from(into.buffer))).toBe(true);
    expect(fresh[1]).toBe(Math.fround(131 * 0.0039 - 0.5));
    const ints = dequantize(raw.subarray(0, 256), { storedDtype: 'uint8', scale: 0.5, min: -64.5 }, 'int32', new Int32Array(256));
    expect(ints).toBeInstanceOf(Int32Array);
  });

  it('refuses an output of the wrong type or length', () => {
    for (const bad of [new Float32Array(raw.length - 1), new Int32Array(raw.length), new Uint8Array(raw.length * 4)]) {
      expect(() => dequantize(raw, q, 'float32', bad as Float32Array)).toThrow(expect.objectContaining({ code: 'WK_BAD_ARGUMENT', message: expect.stringMatching(/out must be a Float32Array of 5242880 values/) }));
    }
  });
});

describe('float16 helpers take what they promise (issue 23)', () => {
  it('halfToFloat refuses what is not a float16 bit pattern', () => {
    for (const bad of [-1, 65536, NaN, 0.5, Infinity]) {
      expect(() => halfToFloat(bad)).toThrowError(expect.objectContaining({ code: 'WK_BAD_ARGUMENT', message: expect.stringMatching(/0 to 65535/) }));
    }
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xffff)).toBeNaN();
  });

  it('decodeFloat16 reads a view of a SharedArrayBuffer (it was a bare "Invalid argument")', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(4));
    shared.set([0x00, 0x3c, 0x00, 0xc0]);
    expect([...decodeFloat16(shared)]).toEqual([1, -2]);
  });
});
