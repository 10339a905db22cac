// TensorFlow.js weights against TensorFlow.js itself: @tensorflow/tfjs-core's
// own loader (io.decodeWeights on the concatenated shards of each group, as
// its model loaders do) is the oracle, bit for bit, on every bundled face-api
// manifest and on edge manifests written here.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

// tfjs-core's "install our node backend" banner is for apps, not for its use as an oracle.
tf.env().set('IS_TEST', true);
import { beforeAll, describe, expect, it } from 'vitest';
import { TfjsMap, WeightkitError } from '@weightkit/core';
import { tempDir } from './helpers.js';

const dir = tempDir('wk-tfjs-ref-');
const faceApi = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'model');

beforeAll(async () => {
  await tf.setBackend('cpu');
});

interface Group {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

/** What TensorFlow.js decodes: each weight's values as bytes, or the error it throws. */
function tfjsDecode(manifestPath: string): Map<string, Uint8Array> | Error {
  const json = JSON.parse(readFileSync(manifestPath, 'utf8')) as Group[] | { weightsManifest: Group[] };
  const groups = Array.isArray(json) ? json : json.weightsManifest;
  const out = new Map<string, Uint8Array>();
  try {
    for (const g of groups) {
      const data = Buffer.concat(g.paths.map((p) => readFileSync(join(dirname(manifestPath), p))));
      const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
      const tensors = tf.io.decodeWeights(buffer, g.weights);
      for (const [name, t] of Object.entries(tensors)) {
        const values = t.dataSync() as Float32Array | Int32Array | Uint8Array;
        out.set(name, new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice());
        t.dispose();
      }
    }
  } catch (e) {
    return e as Error;
  }
  return out;
}

/** What weightkit decodes, the same way. */
function weightkitDecode(manifestPath: string): Map<string, Uint8Array> | WeightkitError {
  let map: TfjsMap;
  try {
    map = TfjsMap.openSync(manifestPath);
  } catch (e) {
    if (e instanceof WeightkitError) return e;
    throw e;
  }
  const out = new Map<string, Uint8Array>();
  for (const name of map.keys()) {
    const v = map.get(name);
    out.set(name, new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice());
  }
  map.close();
  return out;
}

function expectSame(manifestPath: string): number {
  const oracle = tfjsDecode(manifestPath);
  const ours = weightkitDecode(manifestPath);
  if (oracle instanceof Error) {
    expect(ours, `tfjs refused ${manifestPath}: ${oracle.message}`).toBeInstanceOf(WeightkitError);
    return 0;
  }
  expect(ours, `weightkit refused what tfjs decodes: ${(ours as Error).message}`).not.toBeInstanceOf(Error);
  const got = ours as Map<string, Uint8Array>;
  expect([...got.keys()].sort()).toEqual([...oracle.keys()].sort());
  for (const [name, bytes] of oracle) {
    expect(Buffer.from(got.get(name)!).equals(Buffer.from(bytes)), `${manifestPath}: '${name}' differs`).toBe(true);
  }
  return oracle.size;
}

describe('every bundled TF.js model decodes bit for bit as TensorFlow.js decodes it', () => {
  const manifests = readdirSync(faceApi).filter((f) => f.endsWith('-weights_manifest.json'));
  it('finds the bundled manifests', () => expect(manifests.length).toBeGreaterThanOrEqual(7));
  for (const m of manifests) {
    it(m, () => expect(expectSame(join(faceApi, m))).toBeGreaterThan(0));
  }
});

/** Writes a one-group manifest whose weights come from `parts`, split over `shards` files. */
function model(name: string, weights: (tf.io.WeightsManifestEntry & { bytes: Uint8Array })[], shards = 1): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  const data = Buffer.concat(weights.map((w) => w.bytes));
  const paths: string[] = [];
  const per = Math.ceil(data.length / shards);
  for (let i = 0; i < shards; i++) {
    paths.push(`group1-shard${i + 1}of${shards}.bin`);
    writeFileSync(join(folder, paths[i]!), data.subarray(i * per, (i + 1) * per));
  }
  const manifest = join(folder, 'model-weights_manifest.json');
  writeFileSync(manifest, JSON.stringify([{ paths, weights: weights.map(({ bytes: _bytes, ...spec }) => spec) }]));
  return manifest;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('edge manifests: the same values, or the same refusal', () => {
  it('float16: NaN payloads and signs, infinities, subnormals, signed zero, every exponent', () => {
    const halves = new Uint16Array([0x7c01, 0xfc01, 0x7e00, 0x7fff, 0xffff, 0x7c00, 0xfc00, 0x0001, 0x8001, 0x03ff, 0x0400, 0x8000, 0x0000, 0x3c00, 0xc000, 0x7bff,
      ...Array.from({ length: 64 }, (_, i) => (i << 10) | (i * 37 & 0x3ff))]);
    expect(expectSame(model('f16', [{ name: 'h', dtype: 'float32', shape: [halves.length], quantization: { dtype: 'float16' }, bytes: bytesOf(halves) }]))).toBe(1);
  });

  it('every float16 bit pattern, across three shards', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    expect(expectSame(model('f16-all', [{ name: 'all', dtype: 'float32', shape: [256, 256], quantization: { dtype: 'float16' }, bytes: bytesOf(all) }], 3))).toBe(1);
  });

  it('uint8 and uint16 affine quantization of float32 and int32 (rounding halves as Math.round)', () => {
    const u8 = new Uint8Array(256).map((_, i) => i);
    const u16 = new Uint16Array(1024).map((_, i) => i * 64 + 7);
    expect(expectSame(model('affine', [
      { name: 'f_u8', dtype: 'float32', shape: [256], quantization: { dtype: 'uint8', scale: 0.0123, min: -1.5 }, bytes: u8 },
      { name: 'i_u8', dtype: 'int32', shape: [256], quantization: { dtype: 'uint8', scale: 0.5, min: -64.5 }, bytes: u8 },
      { name: 'f_u16', dtype: 'float32', shape: [1024], quantization: { dtype: 'uint16', scale: 1e-4, min: 3 }, bytes: bytesOf(u16) },
      { name: 'i_u16', dtype: 'int32', shape: [32, 32], quantization: { dtype: 'uint16', scale: 0.25, min: -100.5 }, bytes: bytesOf(u16) },
    ], 2))).toBe(4);
  });

  it('int32 weights whose quantized values leave the int32 range wrap as an Int32Array stores them (ToInt32)', () => {
    const u8 = new Uint8Array(256).map((_, i) => i);
    const u16 = new Uint16Array(512).map((_, i) => i * 128 + 3);
    const ranges: [number, number][] = [
      [2 ** 24, -(2 ** 31)], [2 ** 24 + 0.5, 2 ** 31 - 2 ** 27], [-(2 ** 25), 3.5], [1e7, -1e9], [3.3e9, -7e11],
      [1e300, 1e300], [1.7e306, 1.7e308], [-1e308, -1e308], [2 ** 52, 0.5], [123456.789, -(2 ** 40)],
    ];
    const weights = ranges.flatMap(([scale, min], i) => [
      { name: `u8_${i}`, dtype: 'int32' as const, shape: [256], quantization: { dtype: 'uint8' as const, scale, min }, bytes: u8 },
      { name: `u16_${i}`, dtype: 'int32' as const, shape: [512], quantization: { dtype: 'uint16' as const, scale, min }, bytes: bytesOf(u16) },
    ]);
    expect(expectSame(model('int32-wrap', weights))).toBe(2 * ranges.length);
  });

  it('large tensors: the per-tensor uint16 table (2^17 values and more) and prefaulted outputs of 4 MiB and more', () => {
    const u16 = new Uint16Array(3 * 65536).map((_, i) => (i * 40503) & 0xffff);
    const u8 = new Uint8Array(5 * 2 ** 20).map((_, i) => (i * 131) & 0xff);
    const ranges: [number, number][] = [[0.25, -100.5], [2 ** 16 + 0.5, -(2 ** 31)], [1e-3, 7.5], [3.3e9, -7e11]];
    const weights = ranges.flatMap(([scale, min], i) => [
      { name: `i_u16_${i}`, dtype: 'int32' as const, shape: [u16.length], quantization: { dtype: 'uint16' as const, scale, min }, bytes: bytesOf(u16) },
      { name: `f_u16_${i}`, dtype: 'float32' as const, shape: [u16.length], quantization: { dtype: 'uint16' as const, scale, min }, bytes: bytesOf(u16) },
    ]);
    weights.push({ name: 'f_u8', dtype: 'float32', shape: [u8.length], quantization: { dtype: 'uint8', scale: 0.0039, min: -0.5 }, bytes: u8 });
    weights.push({ name: 'f16', dtype: 'float32', shape: [u16.length], quantization: { dtype: 'float16' }, bytes: bytesOf(u16) });
    expect(expectSame(model('large', weights, 4))).toBe(weights.length);
  });

  it('plain float32, int32, bool and complex64, a tensor spanning shards', () => {
    const f = new Float32Array(1000).map((_, i) => Math.sin(i) * 1e3);
    const i32 = new Int32Array(500).map((_, i) => (i * 2654435761) | 0);
    const b = new Uint8Array(37).map((_, i) => i % 2);
    const c = new Float32Array(20).map((_, i) => i - 10);
    expect(expectSame(model('plain', [
      { name: 'f', dtype: 'float32', shape: [10, 100], bytes: bytesOf(f) },
      { name: 'i', dtype: 'int32', shape: [500], bytes: bytesOf(i32) },
      { name: 'b', dtype: 'bool', shape: [37], bytes: b },
      { name: 'c', dtype: 'complex64', shape: [10], bytes: bytesOf(c) },
    ], 4))).toBe(4);
  });

  for (const dtype of ['int8', 'uint8', 'int16', 'uint16', 'float16'] as const) {
    it(`unquantized ${dtype} is refused, as TensorFlow.js refuses it`, () => {
      const path = model(`plain-${dtype}`, [{ name: 'w', dtype: dtype as 'float32', shape: [4], bytes: new Uint8Array(16) }]);
      expect(tfjsDecode(path)).toBeInstanceOf(Error);
      expect(weightkitDecode(path)).toMatchObject({ code: 'WK_UNSUPPORTED', message: expect.stringMatching(/TensorFlow\.js's loader refuses/) });
    });
  }

  it('float16 quantization of an int32 weight is refused, as TensorFlow.js refuses it', () => {
    const path = model('f16-int32', [{ name: 'w', dtype: 'int32', shape: [4], quantization: { dtype: 'float16' }, bytes: new Uint8Array(8) }]);
    expect(tfjsDecode(path)).toBeInstanceOf(Error);
    expect(weightkitDecode(path)).toMatchObject({ code: 'WK_UNSUPPORTED', message: expect.stringMatching(/float16 quantizes float32 only/) });
  });

  it('an unknown quantization dtype is refused by both', () => {
    const path = model('q-int8', [{ name: 'w', dtype: 'float32', shape: [4], quantization: { dtype: 'int8' as 'uint8', scale: 1, min: 0 }, bytes: new Uint8Array(4) }]);
    expect(tfjsDecode(path)).toBeInstanceOf(Error);
    expect(weightkitDecode(path)).toBeInstanceOf(WeightkitError);
  });
});
