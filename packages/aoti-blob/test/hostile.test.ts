// Hostile inputs: each must end in a typed WeightkitError, never a crash.
import { spawnSync } from 'node:child_process';
import { symlinkSync, truncateSync, writeFileSync, readFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SafetensorsMap, writeSafetensors } from '@weightkit/core';
import { AotiWeights, writePt2 } from '@weightkit/aoti-blob';
import { handWrapper, tempDir, writeHandModel, type HandConst } from './fixtures.js';

const dir = tempDir();
const ok: HandConst = { name: 'w', dtype: 'float32', shape: [4], stride: [1], dataSize: 64 };

async function code(path: string, options = {}): Promise<string> {
  try {
    (await AotiWeights.open(path, options)).close();
    return 'opened';
  } catch (e) {
    return (e as { code?: string }).code ?? `untyped: ${String(e)}`;
  }
}

describe('hostile wrapper.cpp and blobs', () => {
  const cases: [string, string, number, string][] = [
    ['a huge shape', handWrapper([{ ...ok, shape: [2 ** 62, 64], stride: [64, 1] }]), 64, 'WK_BAD_FORMAT'],
    ['a negative shape', handWrapper([{ ...ok, shape: [-4], stride: [1] }]), 64, 'WK_BAD_FORMAT'],
    ['a missing field', handWrapper([ok]).replace(/.*\.stride = .*\n/, ''), 64, 'WK_BAD_FORMAT'],
    ['a duplicate field', handWrapper([ok]) + 'constants_info_[0].offset = 0;\n', 64, 'WK_BAD_FORMAT'],
    ['out-of-order indices', handWrapper([ok, ok]).replaceAll('constants_info_[0]', 'constants_info_[9]'), 128, 'WK_BAD_FORMAT'],
    ['an unknown dtype', handWrapper([{ ...ok, dtype: 'float128' }]), 64, 'WK_UNSUPPORTED'],
    ['data_size smaller than the tensor', handWrapper([{ ...ok, shape: [32] }]), 64, 'WK_BAD_FORMAT'],
    ['a blob larger than the catalog', handWrapper([ok]), 128, 'WK_BAD_FORMAT'],
    ['a truncated blob', handWrapper([ok, ok]), 100, 'WK_BAD_FORMAT'],
    ['an empty blob', handWrapper([ok]), 0, 'WK_BAD_FORMAT'],
    ['an unterminated string', 'constants_info_[0].name = "w;\n', 64, 'WK_BAD_FORMAT'],
    ['an index past 2^22', 'constants_info_[99999999].name = "w";\n', 64, 'WK_BAD_FORMAT'],
  ];
  for (const [what, wrapper, blobBytes, expected] of cases) {
    it(`refuses ${what} with ${expected}`, async () => {
      const blob = writeHandModel(join(dir, what.replace(/\W+/g, '-')), wrapper, new Uint8Array(blobBytes));
      expect(await code(blob)).toBe(expected);
    });
  }

  it('refuses a symlink, a missing path and a non-AOTI file', async () => {
    const blob = writeHandModel(join(dir, 'fine'), handWrapper([ok]), new Uint8Array(64));
    expect(await code(blob)).toBe('opened');
    symlinkSync(blob, join(dir, 'link.wrapper_weights.blob'));
    expect(await code(join(dir, 'link.wrapper_weights.blob'))).toBe('WK_BAD_ARGUMENT');
    expect(await code(join(dir, 'missing.pt2'))).toBe('WK_NOT_FOUND');
    writeFileSync(join(dir, 'random.pt2'), Buffer.from('definitely not a zip'));
    expect(await code(join(dir, 'random.pt2'))).toBe('WK_UNSUPPORTED');
  });
});

/** A minimal zip, written by hand, that each test can tamper with. */
function handZip(members: { name: string; data: Buffer; method?: number }[], tamper: { cdOffsetDelta?: number; duplicateFirst?: boolean } = {}): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(m.name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(m.method ?? 0, 8);
    lh.writeUInt32LE(crc32(m.data), 14);
    lh.writeUInt32LE(m.data.length, 18);
    lh.writeUInt32LE(m.data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(m.method ?? 0, 10);
    ch.writeUInt32LE(crc32(m.data), 16);
    ch.writeUInt32LE(m.data.length, 20);
    ch.writeUInt32LE(m.data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, m.data);
    central.push(Buffer.concat([ch, name]));
    offset += 30 + name.length + m.data.length;
  }
  if (tamper.duplicateFirst) central.push(central[0]!);
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(central.length, 8);
  eocd.writeUInt16LE(central.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset + (tamper.cdOffsetDelta ?? 0), 16);
  return Buffer.concat([...locals, cd, eocd]);
}

describe('hostile .pt2 packages', () => {
  const wrapper = Buffer.from(handWrapper([ok]));
  const members = (blobMethod = 0) => [
    { name: 'a/data/aotinductor/model/model.wrapper.cpp', data: wrapper },
    { name: 'a/data/aotinductor/model/model.wrapper_weights.blob', data: Buffer.alloc(64, 1), method: blobMethod },
  ];
  const write = (name: string, bytes: Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };

  it('reads the untampered hand-made zip', async () => {
    expect(await code(write('good.pt2', handZip(members())))).toBe('opened');
  });

  it('refuses a compressed blob member (it cannot be mapped in place)', async () => {
    expect(await code(write('deflated.pt2', handZip(members(8))))).toBe('WK_UNSUPPORTED');
  });

  it('refuses a central directory pointing outside the file', async () => {
    expect(await code(write('cd-outside.pt2', handZip(members(), { cdOffsetDelta: 1 << 20 })))).toBe('WK_BAD_FORMAT');
    expect(await code(write('cd-shifted.pt2', handZip(members(), { cdOffsetDelta: 3 })))).toBe('WK_BAD_FORMAT');
  });

  it('refuses members that overlap', async () => {
    expect(await code(write('overlap.pt2', handZip(members(), { duplicateFirst: true })))).toBe('WK_BAD_FORMAT');
  });

  it('refuses a .pt2 truncated at every 97th byte, and a truncated real package', async () => {
    const whole = handZip(members());
    for (let n = 0; n < whole.length; n += 97) {
      expect(await code(write('cut.pt2', whole.subarray(0, n)))).toMatch(/^WK_(BAD_FORMAT|UNSUPPORTED)$/);
    }
    const src = join(dir, 'src.safetensors');
    writeSafetensors(src, [{ name: 'x', dtype: 'float32', shape: [1024], data: (c) => c.fill(3) }]);
    const map = SafetensorsMap.openSync(src);
    const pt2 = join(dir, 'real.pt2');
    await writePt2(pt2, map);
    map.close();
    const size = readFileSync(pt2).length;
    for (const cut of [size - 1, size - 22, Math.floor(size / 2), 100]) {
      copyFileSync(pt2, join(dir, 'real-cut.pt2'));
      truncateSync(join(dir, 'real-cut.pt2'), cut);
      expect(await code(join(dir, 'real-cut.pt2'))).toBe('WK_BAD_FORMAT');
    }
  });

  it('refuses members Python zipfile wrote deflated', async () => {
    const p = join(dir, 'py-deflated.pt2');
    const r = spawnSync('python3', ['-c', `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('a/data/aotinductor/model/model.wrapper.cpp', open(sys.argv[2]).read())
    z.writestr('a/data/aotinductor/model/model.wrapper_weights.blob', bytes(64))
`, p, writeHandModel(join(dir, 'for-py'), handWrapper([ok]), new Uint8Array(64)).replace('wrapper_weights.blob', 'wrapper.cpp')]);
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(await code(p)).toBe('WK_UNSUPPORTED');
  });

  it('survives random garbage after a zip signature', async () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 50; i++) {
      const junk = Buffer.from([0x50, 0x4b, 3, 4, ...Array.from({ length: 40 + i * 13 }, rnd)]);
      expect(await code(write('junk.pt2', junk))).toMatch(/^WK_/);
    }
  });
});
