/**
 * {@link FileMapping}: a read-only, zero-copy mapping of a file (or a validated
 * range of it), shared per process.
 *
 * Opening the same byte range of the same file twice in one process maps it
 * once; each FileMapping is an independent handle with its own views, so one
 * owner's close() never disturbs another's.
 *
 * @module
 */
import { lstatSync, promises as fsp, type Stats } from 'node:fs';
import { type Advice, type MapOptions, type NativeMapping, coreAddon } from './binding.js';
import { type DType, type TypedArray, dtypeInfo, typedView } from './dtype.js';
import { WeightkitError, fromSystemError } from './errors.js';
import { MAX_VIEW_BYTES } from './native-loader.js';

export type { Advice } from './binding.js';

/** Options for {@link FileMapping.open}. */
export interface FileMappingOptions {
  /** First byte of the file to map (default 0). */
  offset?: number;
  /** Bytes to map (default: to the end of the file). Validated against the file size first. */
  length?: number;
  /** Pre-fault every page while opening (`MAP_POPULATE`). */
  populate?: boolean;
  /** Kernel access-pattern hint applied after mapping. */
  advice?: Advice;
}

interface PoolEntry {
  primary: NativeMapping;
  refs: number;
}

const pool = new Map<string, PoolEntry>();

/**
 * Views are windows of a few large external ArrayBuffers rather than one
 * buffer per tensor: V8 counts every external buffer as memory pressure and
 * runs a full GC for each few hundred MiB created, which made opening a 1 GiB
 * model spend most of its time collecting garbage. Mappings larger than one
 * ArrayBuffer can be are covered by windows of this size.
 */
const WINDOW_BYTES = 2 ** 30;

function poolKey(st: Stats, o: FileMappingOptions): string | undefined {
  if (!st.isFile()) return undefined; // symlinks and others: the native open refuses them
  return [st.dev, st.ino, st.size, st.mtimeMs, o.offset ?? 0, o.length ?? -1, o.populate ? 1 : 0].join(':');
}

function release(key: string | undefined): void {
  if (key === undefined) return;
  const entry = pool.get(key);
  if (!entry || --entry.refs > 0) return;
  entry.primary.close();
  pool.delete(key);
}

// Handles dropped without close(): their native half is collected on its own;
// only the pool's count needs fixing.
const collected = new FinalizationRegistry<string>((key) => release(key));

function nativeOptions(o: FileMappingOptions): MapOptions {
  const out: MapOptions = {};
  if (o.offset !== undefined) out.offset = o.offset;
  if (o.length !== undefined) out.length = o.length;
  if (o.populate) out.populate = true;
  return out;
}

function adopt(key: string | undefined, opened: NativeMapping): NativeMapping {
  if (key === undefined) return opened;
  const existing = pool.get(key);
  if (existing) {
    if (existing.primary !== opened) opened.close();
    existing.refs++;
    return existing.primary.share();
  }
  pool.set(key, { primary: opened, refs: 1 });
  return opened.share();
}

export class FileMapping {
  #native: NativeMapping | undefined;
  readonly #windows = new Map<number, ArrayBuffer>();
  readonly #key: string | undefined;
  readonly #token = {};

  private constructor(native: NativeMapping, key: string | undefined, advice: Advice | undefined) {
    this.#native = native;
    this.#key = key;
    if (advice && advice !== 'normal') native.advise(advice);
    collected.register(this, key ?? '', this.#token);
  }

  /**
   * Maps `path` read-only; rejects with a coded WeightkitError. With
   * `populate` (every page read in while opening) the work runs off the JS
   * thread; without it, mapping is a handful of system calls, done at once:
   * two hops through the thread pool cost more than the work (measured:
   * 0.6-1.2 ms against 0.25 ms for a one-shard model).
   */
  static async open(path: string, options: FileMappingOptions = {}): Promise<FileMapping> {
    if (!options.populate) return FileMapping.openSync(path, options);
    let key: string | undefined;
    try {
      key = poolKey(await fsp.lstat(path), options);
    } catch (e) {
      throw fromSystemError(e, `cannot open '${path}'`);
    }
    const existing = key !== undefined ? pool.get(key) : undefined;
    const opened = existing ? existing.primary : await coreAddon().openMapping(path, nativeOptions(options));
    return new FileMapping(adopt(key, opened), key, options.advice);
  }

  /** Synchronous {@link FileMapping.open} (with `populate`, the JS thread waits for every page). */
  static openSync(path: string, options: FileMappingOptions = {}): FileMapping {
    let key: string | undefined;
    try {
      key = poolKey(lstatSync(path), options);
    } catch (e) {
      throw fromSystemError(e, `cannot open '${path}'`);
    }
    const existing = key !== undefined ? pool.get(key) : undefined;
    const opened = existing ? existing.primary : coreAddon().openMappingSync(path, nativeOptions(options));
    return new FileMapping(adopt(key, opened), key, options.advice);
  }

  /** Number of files currently mapped by the pool (for tests and diagnostics). */
  static get pooledMappings(): number {
    return pool.size;
  }

  #live(): NativeMapping {
    if (!this.#native) throw new WeightkitError('WK_CLOSED', 'the file mapping was closed; reopen the file');
    return this.#native;
  }

  /** Bytes mapped. */
  get size(): number {
    return this.#native?.size ?? 0;
  }

  /**
   * The file as it was mapped, as an opaque token (device, inode, size and
   * times): native code that opens the file again by path checks it against
   * this, so a file replaced or rewritten since is refused, not read.
   */
  get fileId(): string | undefined {
    return this.#native?.fileId;
  }

  /** Size of the whole file when it was opened. */
  get fileSize(): number {
    return this.#native?.fileSize ?? 0;
  }

  get closed(): boolean {
    return this.#native === undefined;
  }

  /** Bytes copied because external buffers are forbidden here (0 on Node.js). */
  get copiedBytes(): number {
    return this.#native?.copiedBytes ?? 0;
  }

  /**
   * A zero-copy ArrayBuffer of its own over exactly `[offset, offset + length)`.
   * Prefer {@link FileMapping.bytes} and {@link FileMapping.typed}, which share
   * a few buffers per mapping. After {@link FileMapping.close} every view is
   * detached (length 0), so a stale view can never reach unmapped memory.
   */
  view(offset: number, length: number): ArrayBuffer {
    return this.#live().view(offset, length);
  }

  #checkRange(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new WeightkitError('WK_BAD_ARGUMENT', `view [${offset}, +${length}) is outside the mapping of ${this.size} bytes`);
    }
  }

  /** The shared window holding the range, or undefined when it straddles two. */
  #window(native: NativeMapping, offset: number, length: number): { buffer: ArrayBuffer; base: number } | undefined {
    const whole = native.size <= MAX_VIEW_BYTES;
    const index = whole ? 0 : Math.floor(offset / WINDOW_BYTES);
    const base = index * WINDOW_BYTES;
    const size = whole ? native.size : Math.min(WINDOW_BYTES, native.size - base);
    if (offset + length > base + size) return undefined;
    let buffer = this.#windows.get(index);
    if (!buffer) {
      buffer = native.view(base, size);
      this.#windows.set(index, buffer);
    }
    return { buffer, base };
  }

  /** Zero-copy bytes `[offset, offset + length)` of the mapping (default: all of it). */
  bytes(offset = 0, length = this.size - offset): Uint8Array {
    const native = this.#live();
    this.#checkRange(offset, length);
    const w = this.#window(native, offset, length);
    return w ? new Uint8Array(w.buffer, offset - w.base, length) : new Uint8Array(native.view(offset, length));
  }

  /**
   * The range as a typed array of `dtype` (Uint8Array where JavaScript has no
   * such array), zero-copy. An element-misaligned range gets an ArrayBuffer
   * of its own so it can still be typed.
   */
  typed(dtype: DType, offset: number, length: number): TypedArray {
    const b = this.bytes(offset, length);
    const item = dtypeInfo(dtype).bits / 8;
    if (!Number.isInteger(item) || length % item !== 0 || b.byteOffset % item === 0) return typedView(dtype, b.buffer, b.byteOffset, length);
    return typedView(dtype, this.#live().view(offset, length));
  }

  /** A kernel hint for a range (default: the whole mapping). */
  advise(kind: Advice, offset?: number, length?: number): void {
    this.#live().advise(kind, offset, length);
  }

  /** Detaches this handle's views and releases the mapping. Idempotent. */
  close(): void {
    const native = this.#native;
    if (!native) return;
    this.#native = undefined;
    this.#windows.clear();
    collected.unregister(this.#token);
    native.close();
    release(this.#key);
  }
  /** `using`: closes at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

}
