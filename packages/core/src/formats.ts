/**
 * The one format registry: every reader of weights registers here (core
 * registers safetensors and TensorFlow.js; `@weightkit/aoti-blob` registers
 * AOTInductor when imported), and {@link openNamedDataMap} and the CLI both
 * open through it, so they never disagree about a file.
 *
 * Detection ranks, it never decides: a format whose cheap look at the first
 * and last bytes (and the name) says "possible" is a candidate, candidates
 * are tried strongest first, and the first reader that validates the file
 * wins. A coincidence of bytes (a safetensors header length that reads as a
 * zip magic) or a file name can therefore never refuse a valid file; when
 * every candidate refuses, the strongest one's error is reported.
 *
 * @module
 */
import { closeSync, lstatSync, readSync, statSync } from 'node:fs';
import { debug } from './debug.js';
import { WeightkitError, fromSystemError } from './errors.js';
import { openRegularSync } from './files.js';
import { type FolderOptions, modelPathIn, nothingToRead, realPathOf } from './model-paths.js';
import type { NamedDataMap } from './named-data-map.js';
import type { BackendOptions } from './options.js';

/** What a format looks at to recognise a file, read once per open. */
export interface FileProbe {
  readonly path: string;
  readonly isDirectory: boolean;
  /** File size in bytes (0 for a folder). */
  readonly size: number;
  /** The first bytes, up to 4 KiB (empty for a folder). */
  readonly head: Uint8Array;
  /** The last bytes, up to 64 (empty for a folder). */
  readonly tail: Uint8Array;
}

/** Options every format's open receives. */
export interface OpenOptions extends FolderOptions {
  /** Options to read (default: core's `WEIGHTKIT_CORE_*` variables). */
  readonly backend?: BackendOptions;
  /** For packages holding several models (a .pt2): which one. */
  readonly model?: string;
}

/**
 * What `weightkit inspect` lists of a file that is not weights to open (an
 * inspect-only format, e.g. a packed-weights cache): its entries as bytes.
 */
export interface FileListing {
  readonly format: string;
  readonly entries: readonly { readonly name: string; readonly byteLength: number }[];
}

/** A reader of one format. */
export interface WeightsFormat {
  /** The name `NamedDataMap.format` reports, e.g. `safetensors`. */
  readonly name: string;
  /**
   * How strongly `probe` suggests this format: 0 not at all; 1 possible
   * (the name, or bytes that do not contradict it); 2 the bytes say so (a
   * magic number, a header that checks out).
   */
  sniff(probe: FileProbe): number;
  open(path: string, options: OpenOptions): Promise<NamedDataMap>;
  openSync(path: string, options: OpenOptions): NamedDataMap;
  /**
   * Only for an inspect-only format, whose files are listed but never opened
   * as weights: its `open` refuses with a message naming what the file is,
   * and this lists it.
   */
  list?(path: string): Promise<FileListing>;
}

const registry: WeightsFormat[] = [];

/** Adds a reader (replacing one of the same name). Registration order breaks ties in ranking. */
export function registerFormat(format: WeightsFormat): void {
  const i = registry.findIndex((f) => f.name === format.name);
  if (i >= 0) registry[i] = format;
  else registry.push(format);
}

/** The registered formats, in registration order. */
export function registeredFormats(): readonly WeightsFormat[] {
  return [...registry];
}

const HEAD_BYTES = 4096;
const TAIL_BYTES = 64;

/**
 * Looks at `path` once (followed through symbolic links, as a path a user
 * names is): a folder, or a regular file's first and last bytes. A FIFO,
 * socket or device is refused without blocking (opened non-blocking, checked
 * before any read). `probe.path` is the path as named (its name counts).
 */
export function probeFile(path: string): FileProbe {
  const real = realPathOf(path);
  let st;
  try {
    st = lstatSync(real);
  } catch (e) {
    throw fromSystemError(e, `cannot open '${path}'`);
  }
  if (st.isDirectory()) return { path, isDirectory: true, size: 0, head: new Uint8Array(0), tail: new Uint8Array(0) };
  const { fd, stat: f } = openRegularSync(real);
  try {
    const head = Buffer.alloc(Math.min(HEAD_BYTES, f.size));
    const n = readSync(fd, head, 0, head.length, 0);
    const tailLength = Math.min(TAIL_BYTES, f.size);
    const tail = Buffer.alloc(tailLength);
    const t = tailLength ? readSync(fd, tail, 0, tailLength, f.size - tailLength) : 0;
    return { path, isDirectory: false, size: f.size, head: head.subarray(0, n), tail: tail.subarray(0, t) };
  } finally {
    closeSync(fd);
  }
}

/** The formats that may read `path`, strongest first; empty when none. */
export function detectFormats(path: string): WeightsFormat[] {
  const probe = probeFile(path);
  return registry
    .map((format, order) => ({ format, order, score: format.sniff(probe) }))
    .filter((c) => c.score > 0)
    .sort((a, b) => b.score - a.score || a.order - b.order)
    .map((c) => c.format);
}

function noFormat(path: string): WeightkitError {
  return new WeightkitError(
    'WK_UNSUPPORTED',
    `'${path}' is not a format weightkit reads here (${registry.map((f) => f.name).join(', ')}; importing @weightkit/aoti-blob adds AOTInductor .pt2, folders, blobs and .so)`,
  );
}

/** Tries each candidate in turn; the first that opens wins, else the strongest one's error. */
function firstThatOpens<T>(path: string, attempt: (f: WeightsFormat) => T, isPromise: false): T;
function firstThatOpens<T>(path: string, attempt: (f: WeightsFormat) => Promise<T>, isPromise: true): Promise<T>;
function firstThatOpens<T>(path: string, attempt: (f: WeightsFormat) => T | Promise<T>, isPromise: boolean): T | Promise<T> {
  const candidates = detectFormats(path);
  if (candidates.length === 0) throw statSync(path).isDirectory() ? nothingToRead(path) : noFormat(path);
  debug('%s: candidate readers %s', path, candidates.map((f) => f.name).join(', '));
  if (!isPromise) {
    let first: unknown;
    for (const f of candidates) {
      try {
        return attempt(f) as T;
      } catch (e) {
        if (!(e instanceof WeightkitError)) throw e;
        first ??= e;
      }
    }
    throw first;
  }
  return (async () => {
    let first: unknown;
    for (const f of candidates) {
      try {
        return await attempt(f);
      } catch (e) {
        if (!(e instanceof WeightkitError)) throw e;
        first ??= e;
      }
    }
    throw first;
  })();
}

function openOptions(options: BackendOptions | OpenOptions | undefined): OpenOptions {
  if (options === undefined) return {};
  return 'get' in options && typeof options.get === 'function' ? { backend: options as BackendOptions } : (options as OpenOptions);
}

/**
 * Opens a model as a {@link NamedDataMap}: any weights file a registered
 * reader reads (safetensors and its sharded index, TensorFlow.js always,
 * AOTInductor once `@weightkit/aoti-blob` is imported), followed through
 * symbolic links; or a folder: a model folder or hub snapshot (the file is
 * chosen as transformers does, see {@link modelPathIn}; `weights` picks
 * another), or a hub repository folder `models--org--name` (the snapshot
 * `refs/main` names; `revision` for another). Options default to core's own
 * `WEIGHTKIT_CORE_*` variables.
 */
export function openNamedDataMap(path: string, options?: BackendOptions | OpenOptions): Promise<NamedDataMap> {
  const o = openOptions(options);
  try {
    const target = modelPathIn(path, o);
    return firstThatOpens(target, (f) => f.open(target, o), true);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Synchronous {@link openNamedDataMap}. */
export function openNamedDataMapSync(path: string, options?: BackendOptions | OpenOptions): NamedDataMap {
  const o = openOptions(options);
  const target = modelPathIn(path, o);
  return firstThatOpens(target, (f) => f.openSync(target, o), false);
}
