/**
 * Memory footprint from `/proc/<pid>/smaps`: per-mapping and total Rss, Pss,
 * clean/dirty and anonymous bytes, to show where weights really live (clean
 * file pages the kernel can drop vs dirty heap it cannot).
 *
 * @module
 */
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { WeightkitError } from './errors.js';

/** Byte counts of one mapping or of a sum of mappings. */
export interface FootprintCounts {
  size: number;
  rss: number;
  pss: number;
  sharedClean: number;
  sharedDirty: number;
  privateClean: number;
  privateDirty: number;
  anonymous: number;
  swap: number;
}

/** One line of `/proc/<pid>/maps` with its smaps counters. */
export interface MappingFootprint extends FootprintCounts {
  start: bigint;
  end: bigint;
  perms: string;
  /** The mapped file, `[heap]`-style pseudo name, or `null` for anonymous memory. */
  path: string | null;
}

/** A process's footprint. */
export interface Footprint {
  pid: number | 'self';
  totals: FootprintCounts;
  mappings: MappingFootprint[];
}

const FIELDS: Record<string, keyof FootprintCounts> = {
  Size: 'size', Rss: 'rss', Pss: 'pss', Shared_Clean: 'sharedClean', Shared_Dirty: 'sharedDirty',
  Private_Clean: 'privateClean', Private_Dirty: 'privateDirty', Anonymous: 'anonymous', Swap: 'swap',
};

function zero(): FootprintCounts {
  return { size: 0, rss: 0, pss: 0, sharedClean: 0, sharedDirty: 0, privateClean: 0, privateDirty: 0, anonymous: 0, swap: 0 };
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+\S+\s+\S+\s+\d+\s*(.*)$/;

/** Parses the text of an smaps file. */
export function parseSmaps(text: string, pid: number | 'self' = 'self'): Footprint {
  const mappings: MappingFootprint[] = [];
  const totals = zero();
  let cur: MappingFootprint | undefined;
  for (const line of text.split('\n')) {
    const h = HEADER.exec(line);
    if (h) {
      const path = h[4]!.trim();
      cur = { ...zero(), start: BigInt('0x' + h[1]), end: BigInt('0x' + h[2]), perms: h[3]!, path: path === '' ? null : path };
      mappings.push(cur);
      continue;
    }
    const colon = line.indexOf(':');
    if (!cur || colon < 0) continue;
    const field = FIELDS[line.slice(0, colon)];
    if (!field) continue;
    const kb = parseInt(line.slice(colon + 1), 10);
    if (Number.isFinite(kb)) {
      cur[field] = kb * 1024;
      totals[field] += kb * 1024;
    }
  }
  return { pid, totals, mappings };
}

function smapsPath(pid: number | 'self'): string {
  if (pid !== 'self' && (!Number.isInteger(pid) || pid <= 0)) {
    throw new WeightkitError('WK_BAD_ARGUMENT', `pid must be a positive integer or 'self', got ${String(pid)}`);
  }
  return `/proc/${pid}/smaps`;
}

function noSuchProcess(pid: number | 'self', e: unknown): WeightkitError {
  return new WeightkitError('WK_NOT_FOUND', `cannot read the memory map of process ${pid}: ${(e as Error).message}`);
}

/**
 * The footprint of `pid` (default: this process), or `null` on platforms
 * without `/proc/self/smaps` (macOS, Windows). A missing process is WK_NOT_FOUND.
 */
export function readFootprint(pid: number | 'self' = 'self'): Footprint | null {
  if (!existsSync('/proc/self/smaps')) return null;
  try {
    return parseSmaps(readFileSync(smapsPath(pid), 'utf8'), pid);
  } catch (e) {
    if (e instanceof WeightkitError) throw e;
    throw noSuchProcess(pid, e);
  }
}

/** Async {@link readFootprint}. */
export async function readFootprintAsync(pid: number | 'self' = 'self'): Promise<Footprint | null> {
  if (!existsSync('/proc/self/smaps')) return null;
  const path = smapsPath(pid);
  try {
    return parseSmaps(await fsp.readFile(path, 'utf8'), pid);
  } catch (e) {
    throw noSuchProcess(pid, e);
  }
}

/** Sums the counters of every mapping of `file` (an absolute path) in `fp`. */
export function fileFootprint(fp: Footprint, file: string): FootprintCounts {
  const sum = zero();
  for (const m of fp.mappings) {
    if (m.path !== file) continue;
    for (const k of Object.keys(sum) as (keyof FootprintCounts)[]) sum[k] += m[k];
  }
  return sum;
}
