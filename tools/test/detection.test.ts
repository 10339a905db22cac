// One format-detection path for the CLI and the API: a coincidence of bytes
// or a file name never makes either refuse a valid file, and both always
// agree on what a file is.
import { closeSync, copyFileSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectFormats, openNamedDataMap, writeSafetensors } from '@weightkit/core';
import { writePt2 } from '@weightkit/aoti-blob';
import { modelDir, tempDir, weightkit } from './cli-harness.js';

const dir = tempDir('wk-detect-');

/** The API's view and the CLI's view of one file. */
async function bothViews(path: string) {
  const map = await openNamedDataMap(path);
  const api = { format: map.format, tensors: map.keys().length };
  map.close();
  const r = weightkit('inspect', path, '--json');
  expect(r.code, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout) as { format: string; tensors: unknown[] };
  return { api, cli: { format: doc.format, tensors: doc.tensors.length } };
}

function safetensorsFile(name: string, tail?: number[]): string {
  const path = join(dir, name);
  const data = new Uint8Array(64).map((_, i) => i);
  if (tail) data.set(tail, 64 - tail.length);
  writeSafetensors(path, [{ name: 'w', dtype: 'uint8', shape: [64], data }]);
  return path;
}

/** A valid safetensors file with a header of exactly `n` bytes, padded with leading or trailing spaces. */
function headerOfLength(name: string, n: number, lead = 0): string {
  const json = '{"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}';
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(n));
  writeSync(fd, len);
  writeSync(fd, Buffer.alloc(lead, 0x20));
  writeSync(fd, Buffer.from(json));
  const rest = n - lead - json.length;
  for (let done = 0; done < rest; done += 1 << 24) writeSync(fd, Buffer.alloc(Math.min(1 << 24, rest - done), 0x20));
  writeSync(fd, Buffer.from([1, 2, 3, 4]));
  closeSync(fd);
  return path;
}

describe('coincidences never refuse a valid file', () => {
  it('a safetensors file whose last 8 bytes start with the XPWC footer magic', async () => {
    const path = safetensorsFile('xpwc-tail.safetensors', [0x43, 0x57, 0x50, 0x58, 1, 0, 0, 0]);
    expect(await bothViews(path)).toEqual({ api: { format: 'safetensors', tensors: 1 }, cli: { format: 'safetensors', tensors: 1 } });
  });

  it('a safetensors file whose header length reads as a zip magic (0x04034b50)', async () => {
    const path = headerOfLength('pk.safetensors', 0x04034b50);
    expect(detectFormats(path).map((f) => f.name)).toContain('aoti');
    expect(await bothViews(path)).toEqual({ api: { format: 'safetensors', tensors: 1 }, cli: { format: 'safetensors', tensors: 1 } });
  });

  for (const name of ['model.so', 'model.pt2', 'model.wrapper_weights.blob', 'model.json', 'weights.bin']) {
    it(`a safetensors file named ${name}`, async () => {
      const path = join(dir, name);
      copyFileSync(safetensorsFile(`${name}.src.safetensors`), path);
      expect(await bothViews(path)).toEqual({ api: { format: 'safetensors', tensors: 1 }, cli: { format: 'safetensors', tensors: 1 } });
    });
  }

  it('a safetensors header that starts with whitespace, in a file not named .safetensors', async () => {
    const path = headerOfLength('spaced.weights', 72, 3);
    expect(await bothViews(path)).toEqual({ api: { format: 'safetensors', tensors: 1 }, cli: { format: 'safetensors', tensors: 1 } });
  });

  it('a TF.js manifest named .safetensors, and a .pt2 package, open the same in both', async () => {
    const manifest = join(modelDir, 'tiny_face_detector_model-weights_manifest.json');
    const renamed = join(dir, 'tiny.safetensors');
    copyFileSync(manifest, renamed);
    copyFileSync(join(modelDir, 'tiny_face_detector_model.bin'), join(dir, 'tiny_face_detector_model.bin'));
    expect(await bothViews(renamed)).toEqual({ api: { format: 'tfjs', tensors: 19 }, cli: { format: 'tfjs', tensors: 19 } });
    const source = await openNamedDataMap(manifest);
    const pt2 = join(dir, 'tiny.pt2');
    await writePt2(pt2, source);
    source.close();
    expect(await bothViews(pt2)).toEqual({ api: { format: 'aoti', tensors: 19 }, cli: { format: 'aoti', tensors: 19 } });
  });

  it('a file no reader takes is refused the same way by both, naming the readers', async () => {
    const path = join(dir, 'notes.txt');
    const fd = openSync(path, 'w');
    writeSync(fd, 'hello');
    closeSync(fd);
    await expect(openNamedDataMap(path)).rejects.toMatchObject({ code: 'WK_UNSUPPORTED', message: expect.stringMatching(/safetensors, safetensors-sharded, pytorch, pytorch-sharded, tfjs, aoti/) });
    const r = weightkit('inspect', path);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[WK_UNSUPPORTED\].*safetensors, safetensors-sharded, pytorch, pytorch-sharded, tfjs, aoti/);
  });

  it('a damaged file gets the error of its strongest candidate', async () => {
    const path = join(dir, 'broken.safetensors');
    const fd = openSync(path, 'w');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(20n);
    writeSync(fd, len);
    writeSync(fd, Buffer.from('{"w":{"dtype":"U8",  '));
    closeSync(fd);
    await expect(openNamedDataMap(path)).rejects.toMatchObject({ code: 'WK_BAD_FORMAT', message: expect.stringMatching(/^safetensors: header JSON/) });
  });
});
