import { constants as bufferConstants } from 'node:buffer';
import { closeSync, openSync, ftruncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileMapping, openNamedDataMap } from '@weightkit/core';
import { tempDir } from './helpers.js';

const dir = tempDir();

describe('FileMapping', () => {
  it('maps a 5 GiB file; a view larger than this runtime\'s ArrayBuffer limit is refused, smaller ones served through windows', () => {
    // A sparse 5 GiB file: no blocks are used, but the mapping is real.
    const path = join(dir, 'sparse-5g.bin');
    const fd = openSync(path, 'w');
    ftruncateSync(fd, 5 * 2 ** 30);
    writeSync(fd, Buffer.from([1, 2, 3, 4]), 0, 4, 4 * 2 ** 30 - 2);
    closeSync(fd);
    const m = FileMapping.openSync(path);
    expect(m.size).toBe(5 * 2 ** 30);
    // The limit is the runtime's (4 GiB on Node.js 20, 2^53 - 1 from Node.js 22 on).
    if (m.size > bufferConstants.MAX_LENGTH) {
      expect(() => m.view(0, m.size)).toThrow(expect.objectContaining({ code: 'WK_UNSUPPORTED', message: expect.stringMatching(/larger than this JavaScript runtime allows/) }));
    } else {
      const whole = m.view(0, m.size);
      expect(whole.byteLength).toBe(m.size);
      expect([...new Uint8Array(whole, 4 * 2 ** 30 - 2, 4)]).toEqual([1, 2, 3, 4]);
    }
    // Straddles the 4 GiB window boundary: served by a buffer of its own.
    expect([...m.bytes(4 * 2 ** 30 - 2, 4)]).toEqual([1, 2, 3, 4]);
    // Inside one window.
    expect([...m.bytes(4 * 2 ** 30 - 2, 2)]).toEqual([1, 2]);
    expect([...m.bytes(4 * 2 ** 30, 2)]).toEqual([3, 4]);
    const tail = m.bytes(5 * 2 ** 30 - 8, 8);
    m.close();
    expect(tail.length).toBe(0);
  });

  it('types misaligned ranges through a buffer of their own', () => {
    const path = join(dir, 'floats.bin');
    const fd = openSync(path, 'w');
    const f = new Float32Array([1.5, 2.5, 3.5]);
    writeSync(fd, Buffer.concat([Buffer.from([9]), Buffer.from(f.buffer)]));
    closeSync(fd);
    const m = FileMapping.openSync(path);
    const v = m.typed('float32', 1, 12);
    expect(v).toBeInstanceOf(Float32Array);
    expect([...v]).toEqual([1.5, 2.5, 3.5]);
    expect(m.typed('bfloat16', 1, 4)).toBeInstanceOf(Uint8Array);
    expect(() => m.bytes(2, 100)).toThrowError(/outside the mapping/);
    expect(() => m.bytes(-1, 1)).toThrowError(/outside the mapping/);
    m.close();
    expect(v.length).toBe(0);
    expect(() => m.bytes(0, 1)).toThrowError(/closed/);
  });
});

describe('a path through a file', () => {
  it('is WK_BAD_ARGUMENT with the same hint whichever side opens it (native mapping, TypeScript probe)', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    const hint = /a part of the path before its end is a file, not a folder/;
    expect(() => FileMapping.openSync(join(file, 'model.safetensors'))).toThrowError(expect.objectContaining({ code: 'WK_BAD_ARGUMENT', message: expect.stringMatching(hint) }));
    await expect(openNamedDataMap(join(file, 'model.safetensors'))).rejects.toMatchObject({ code: 'WK_BAD_ARGUMENT', message: expect.stringMatching(hint) });
  });
});

describe('native Mapping objects', () => {
  it('cannot be constructed from JavaScript: only openMapping makes them', async () => {
    // The built binding, the same module instance '@weightkit/core' loads.
    const { coreAddon } = await import('../dist/binding.js');
    const path = join(dir, 'ctor.bin');
    writeFileSync(path, 'abcd');
    const native = coreAddon().openMappingSync(path, {});
    const Ctor = native.constructor as new (...args: unknown[]) => unknown;
    for (const args of [[], [{}], [native]]) {
      expect(() => new Ctor(...args)).toThrow(expect.objectContaining({ code: 'WK_BAD_ARGUMENT' }));
    }
    expect(native.size).toBe(4);
    native.close();
  });
});
