import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsMap, openNamedDataMap, writeSafetensors, type DType } from '@weightkit/core';
import { AotiWeights, writeAotiFolder, writePt2 } from '@weightkit/aoti-blob';
import { tempDir } from './fixtures.js';

const dir = tempDir();

// Every dtype safetensors can hold that AOTInductor has a c10 code for.
const DTYPES: DType[] = [
  'float32', 'float16', 'bfloat16', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32',
  'uint64', 'bool', 'float8_e4m3fn', 'float8_e5m2', 'float8_e8m0fnu', 'complex64',
];

function sourceModel(): string {
  const path = join(dir, 'all-dtypes.safetensors');
  writeSafetensors(path, DTYPES.map((dtype, i) => ({
    name: `layers.${i}.${dtype}`,
    dtype,
    shape: [3, 5],
    // Distinct bytes per tensor: position and tensor index mixed.
    data: (chunk: Uint8Array, at: number) => chunk.forEach((_, j) => (chunk[j] = (at + j) * 7 + i * 13)),
  })));
  return path;
}

function python(code: string, ...args: string[]): string {
  const r = spawnSync('python3', ['-c', code, ...args], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('writer -> loader round trip', () => {
  const src = SafetensorsMap.openSync(sourceModel());

  for (const form of ['pt2', 'folder', 'blob', 'pt2-zip64', 'pt2-cuda', 'folder-legacy'] as const) {
    it(`keeps every dtype's bytes exactly (${form})`, async () => {
      const target = join(dir, `rt-${form}${form.startsWith('pt2') ? '.pt2' : ''}`);
      if (form.startsWith('pt2')) await writePt2(target, src, { forceZip64: form === 'pt2-zip64', device: form === 'pt2-cuda' ? 'cuda' : 'cpu' });
      else await writeAotiFolder(src, target, { codegen: form === 'folder-legacy' ? 'legacy' : 'current' });
      const w = await AotiWeights.open(form === 'blob' ? join(target, 'model.wrapper_weights.blob') : target);
      expect(w.source.kind).toBe(form.startsWith('pt2') ? 'pt2' : form === 'blob' ? 'blob' : 'folder');
      expect(w.padded).toBe(form !== 'pt2-cuda');
      expect(w.constants.map((c) => c.fqn)).toEqual(src.keys());
      for (const name of src.keys()) {
        const c = w.constant(name);
        expect(c.dtype).toBe(src.info(name).dtype);
        expect(c.shape).toEqual([3, 5]);
        expect(Buffer.from(w.bytes(name)).equals(Buffer.from(src.bytes(name)))).toBe(true);
        if (w.padded) expect(c.payloadOffset! % 64).toBe(0);
      }
      expect(w.copiedBytes).toBe(0);
      w.close();
    });
  }

  it('writes a .pt2 Python zipfile reads, with 64-byte aligned stored members', async () => {
    const pt2 = join(dir, 'py.pt2');
    await writePt2(pt2, src);
    const out = JSON.parse(python(`
import json, struct, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
raw = open(sys.argv[1], 'rb').read()
members = []
for i in z.infolist():
    n, e = struct.unpack('<HH', raw[i.header_offset + 26:i.header_offset + 30])
    members.append({"name": i.filename, "method": i.compress_type, "size": i.file_size, "data": i.header_offset + 30 + n + e})
blob = z.read('py/data/aotinductor/model/model.wrapper_weights.blob')
print(json.dumps({"bad": bad, "members": members, "blobLen": len(blob), "blobHead": list(blob[:16])}))
`, pt2)) as { bad: null; members: { name: string; method: number; size: number; data: number }[]; blobLen: number; blobHead: number[] };
    expect(out.bad).toBeNull();
    expect(out.members.map((m) => m.name)).toEqual([
      'py/archive_format', 'py/archive_version', 'py/byteorder', 'py/.data/version',
      'py/data/aotinductor/model/model.wrapper.cpp', 'py/data/aotinductor/model/model.wrapper_metadata.json',
      'py/data/aotinductor/model/model.wrapper_weights.blob',
    ]);
    for (const m of out.members) {
      expect(m.method).toBe(0);
      expect(m.data % 64).toBe(0);
    }
    const w = await AotiWeights.open(pt2);
    expect(out.blobLen).toBe(w.blobSize);
    expect(out.blobHead).toEqual([...w.payload().subarray(0, 16)]);
    expect(w.source.offset).toBe(out.members[6]!.data);
    w.close();
  });

  it('reads a .pt2 with several models, chosen by name', async () => {
    const tf = await openNamedDataMap(join(dir, 'all-dtypes.safetensors'));
    const pt2 = join(dir, 'multi.pt2');
    await writePt2(pt2, [{ name: 'encoder', map: src }, { name: 'decoder', map: tf }]);
    const enc = await AotiWeights.open(pt2, { model: 'encoder' });
    expect(enc.source.models).toEqual(['decoder', 'encoder']);
    expect(enc.source.model).toBe('encoder');
    const dec = await AotiWeights.open(pt2, { model: 'decoder' });
    expect(dec.source.offset).toBeGreaterThan(enc.source.offset);
    expect(Buffer.from(dec.payload()).equals(Buffer.from(enc.payload()))).toBe(true);
    await expect(AotiWeights.open(pt2)).rejects.toMatchObject({ code: 'WK_BAD_ARGUMENT', message: expect.stringMatching(/several models \(decoder, encoder\)/) });
    await expect(AotiWeights.open(pt2, { model: 'nope' })).rejects.toMatchObject({ code: 'WK_NOT_FOUND' });
    enc.close();
    dec.close();
    tf.close();
  });

  it('converts the quantized face-api model, dequantizing into float32 constants', async () => {
    const modelDir = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'model');
    const tf = await openNamedDataMap(join(modelDir, 'face_landmark_68_tiny_model-weights_manifest.json'));
    const pt2 = join(dir, 'landmarks.pt2');
    await writePt2(pt2, tf);
    const w = await AotiWeights.open(pt2);
    for (const name of tf.keys()) expect([...w.get(name)]).toEqual([...tf.get(name)]);
    expect(readFileSync(pt2).length).toBeGreaterThan(w.blobSize);
    w.close();
    tf.close();
  });

  it('an aborted write rejects with the signal\'s reason and leaves nothing behind', async () => {
    const modelDir = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'model');
    using tf = await openNamedDataMap(join(modelDir, 'face_recognition_model-weights_manifest.json'));
    const ac = new AbortController();
    const reason = new Error('stop');
    const pt2 = join(dir, 'aborted.pt2');
    // Aborted from the progress callback, in the middle of the payload.
    const onProgress = (done: number, total: number) => { if (done > total / 2) ac.abort(reason); };
    await expect(writePt2(pt2, tf, { signal: ac.signal, onProgress })).rejects.toBe(reason);
    await expect(writeAotiFolder(tf, join(dir, 'aborted-folder'), { signal: ac.signal })).rejects.toBe(reason);
    expect(readdirSync(dir).filter((f) => f.startsWith('aborted'))).toEqual([]);
  });
});
