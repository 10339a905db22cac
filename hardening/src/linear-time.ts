/**
 * Every parser's time against the size of its input, 1 to 64 MiB: inputs a
 * hostile file could hold (many entries, long skipped values, a file full of
 * fake footers) must cost linear time, never quadratic. A parser passes when
 * its cost per byte at 64 MiB is at most 4x its cost per byte at 1 MiB (the
 * slack covers caches and the garbage collector; quadratic work would be 64x).
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensorsHeader, parseTfjsManifest, unpickleStateDict } from '@weightkit/core';
import { parseConstantsInfo } from '@weightkit/aoti-blob';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';

const MiB = 2 ** 20;
const SIZES = [1, 4, 16, 64].map((m) => m * MiB);

interface Parser {
  parser: string;
  /** An input of about `bytes` bytes. */
  make(bytes: number, work: string): unknown;
  parse(input: unknown): Promise<unknown> | unknown;
}

const repeat = (unit: string, bytes: number) => unit.repeat(Math.max(1, Math.floor(bytes / unit.length)));

const PARSERS: Parser[] = [
  {
    parser: 'safetensors header, many tensors',
    make: (bytes) => {
      const n = Math.floor(bytes / 60);
      const parts = Array.from({ length: n }, (_, i) => `"t${i}":{"dtype":"U8","shape":[1],"data_offsets":[${i},${i + 1}]}`);
      return { header: Buffer.from(`{${parts.join(',')}}`), data: n };
    },
    parse: (x) => parseSafetensorsHeader((x as { header: Buffer }).header, (x as { data: number }).data),
  },
  {
    parser: 'safetensors header, one long skipped field',
    make: (bytes) => ({ header: Buffer.from(`{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":[${repeat('[1,"a\\n",{"k":null}],', bytes)}0]}}`), data: 1 }),
    parse: (x) => parseSafetensorsHeader((x as { header: Buffer }).header, (x as { data: number }).data),
  },
  {
    parser: 'TF.js manifest, many weights',
    make: (bytes) => {
      const n = Math.floor(bytes / 70);
      return [{ paths: ['a.bin'], weights: Array.from({ length: n }, (_, i) => ({ name: `w${i}`, shape: [2, 2], dtype: 'float32' })) }];
    },
    parse: (json) => parseTfjsManifest(json, '/m/model.json'),
  },
  {
    parser: 'AOTI constants_info_, many constants',
    make: (bytes) => {
      const one = (i: number) => `constants_info_[${i}].name = "c${i}"; constants_info_[${i}].dtype = cached_torch_dtype_float32; constants_info_[${i}].offset = 0;` +
        ` constants_info_[${i}].data_size = 64; constants_info_[${i}].from_folded = false; constants_info_[${i}].shape = {16}; constants_info_[${i}].stride = {1};\n`;
      const n = Math.floor(bytes / one(500000).length);
      return Array.from({ length: n }, (_, i) => one(i)).join('');
    },
    parse: (text) => parseConstantsInfo(text as string),
  },
  {
    parser: 'PyTorch pickle, a state dict of many tensors sharing memoized storages',
    make: (bytes) => {
      // Tensor i: key, _rebuild_tensor_v2 (memoized: BINGET 1) on storage '0' (BINGET 2), offset i, size (1,), stride (1,).
      const head = Buffer.from('\x80\x02}q\x00(X\x01\x00\x00\x00actorch._utils\n_rebuild_tensor_v2\nq\x01((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuJ\x00\x00\x00\x01tq\x02QK\x00K\x01\x85K\x01\x85\x89}tR', 'latin1');
      const one = (i: number) => Buffer.concat([Buffer.from('X\x08\x00\x00\x00', 'latin1'), Buffer.from(`t${String(i).padStart(7, '0')}`), Buffer.from('h\x01(h\x02Q', 'latin1'),
        Buffer.from([0x4a, i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, 0]), Buffer.from('K\x01\x85K\x01\x85\x89}tR', 'latin1')]);
      const n = Math.floor(bytes / one(0).length);
      return Buffer.concat([head, ...Array.from({ length: n }, (_, i) => one(i)), Buffer.from('u.', 'latin1')]);
    },
    parse: (b) => unpickleStateDict(b as Buffer),
  },
  {
    parser: 'XPWC, a file full of fake footers (backward scan)',
    make: (bytes, work) => {
      const footer = Buffer.alloc(20);
      footer.writeBigUInt64LE(0n, 0);
      footer.writeUInt32LE(1, 8);
      footer.writeUInt32LE(0x58505743, 12);
      footer.writeUInt32LE(2, 16);
      const path = join(work, `fake-footers-${bytes}.xpwc`);
      writeFileSync(path, Buffer.concat(Array.from({ length: Math.floor(bytes / 20) }, () => footer)));
      return path;
    },
    parse: (path) => PackedWeightsCache.inspectFile(path as string).catch(() => undefined),
  },
];

async function timeOf(p: Parser, input: unknown): Promise<number> {
  let best = Infinity;
  for (let k = 0; k < 2; k++) {
    const t0 = performance.now();
    try {
      await p.parse(input);
    } catch {
      /* a refusal is as good as an acceptance here: only the time counts */
    }
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

export async function linearTime(work: string): Promise<{ parser: string; ok: boolean; detail: Record<string, unknown> }[]> {
  const out = [];
  for (const p of PARSERS) {
    const nsPerByte: number[] = [];
    for (const bytes of SIZES) {
      const input = p.make(bytes, work);
      nsPerByte.push(((await timeOf(p, input)) * 1e6) / bytes);
    }
    const growth = nsPerByte.at(-1)! / Math.max(nsPerByte[0]!, 1e-6);
    out.push({ parser: p.parser, ok: growth <= 4, detail: { nsPerByte: nsPerByte.map((x) => Number(x.toFixed(2))), growth64over1: Number(growth.toFixed(2)) } });
  }
  return out;
}
