/**
 * {@link PyTorchMap}: a PyTorch checkpoint (`pytorch_model.bin`, `*.pt`,
 * `*.pth`; the zip format `torch.save` writes since 1.6) read zero-copy and
 * without running its pickle. Format: docs/formats/pytorch.md.
 *
 * The zip's members are located by core's zip reader (the one .pt2 uses);
 * `<archive>/data.pkl` is read by a restricted unpickler (torch-pickle.ts);
 * every storage `<archive>/data/<key>` is a stored member viewed in place in
 * one read-only mapping of the file (torch aligns them to 64 bytes). A tensor
 * is a view at its storage offset; several may share a storage. A tensor
 * that is not contiguous is described with its `strides` in the catalog and
 * served as a contiguous copy (never in storage order).
 * @module
 */
import { coreAddon, type ZipMember } from './binding.js';
import { type TensorInfo, WeightCatalog } from './catalog.js';
import { type DType, type TypedArray, dtypeInfo, typedView } from './dtype.js';
import { WeightkitError, shown } from './errors.js';
import { readRangeSync } from './files.js';
import { FileMapping, type FileMappingOptions } from './mapping.js';
import { realPathOf } from './model-paths.js';
import { CatalogMap, type FileRange, type NamedDataMap } from './named-data-map.js';
import { type PickleValue, type TorchTensor, unpickleStateDict } from './torch-pickle.js';

/** Largest `data.pkl` read (a state dict of 100,000 tensors pickles to a few MiB). */
export const PYTORCH_MAX_PICKLE_BYTES = 256 * 1024 * 1024;

function bad(path: string, message: string): WeightkitError {
  return new WeightkitError('WK_BAD_FORMAT', `PyTorch checkpoint '${path}': ${message}`);
}

const LEGACY_HINT = 'convert it once with PyTorch: python3 -c "import torch, sys; torch.save(torch.load(sys.argv[1], weights_only=True), sys.argv[2])" old.bin new.bin';

/** The first bytes say a zip; a pickle stream there is the legacy (pre-1.6) format. */
function checkMagic(real: string, path: string): void {
  const head = readRangeSync(real, 0, 4);
  if (head.readUInt32BE(0) === 0x504b0304) return;
  if (head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) {
    throw new WeightkitError('WK_UNSUPPORTED', `'${path}' is a PyTorch checkpoint in the legacy format (torch < 1.6, not a zip), which weightkit does not read; ${LEGACY_HINT}`);
  }
  throw bad(path, 'not a zip archive (torch.save writes a zip since PyTorch 1.6)');
}

/** `name -> tensor` for every tensor in the unpickled object: dict keys joined with '.', list items by index. */
function tensorsOf(root: PickleValue, path: string): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  const todo: [string, PickleValue][] = [['', root]];
  while (todo.length) {
    const [prefix, v] = todo.pop()!;
    const name = (k: string) => (prefix ? `${prefix}.${k}` : k);
    if (v instanceof Map) {
      const entries = [...v.entries()].reverse();
      for (const [k, x] of entries) {
        if (typeof k !== 'string' && typeof k !== 'number') throw bad(path, `a dict key ${shown(k)} is not a string`);
        todo.push([name(String(k)), x]);
      }
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) todo.push([name(String(i)), v[i]!]);
    } else if (typeof v === 'object' && v !== null && (v as TorchTensor).kind === 'tensor') {
      if (out.has(prefix)) throw bad(path, `two tensors are named '${prefix}'`);
      out.set(prefix || 'tensor', v as TorchTensor);
    }
    // Scalars, strings, storages on their own: not weights (an epoch count, a config string).
  }
  return out;
}

function contiguous(t: TorchTensor): boolean {
  let expect = 1;
  for (let d = t.size.length - 1; d >= 0; d--) {
    if (t.size[d] !== 1 && t.stride[d] !== expect) return false;
    expect *= t.size[d]!;
  }
  return true;
}

/** The checkpoint's catalog, read with plain reads (nothing mapped): what a shard index needs at open. */
export function readPyTorchCatalogSync(path: string): { catalog: WeightCatalog; real: string; fileSize: number } {
  const real = realPathOf(path);
  checkMagic(real, path);
  const { members, fileSize } = coreAddon().zipDirectory(real);
  const pkls = members.filter((m) => /^[^/]+\/data\.pkl$/.test(m.name));
  if (pkls.length !== 1) throw bad(path, pkls.length ? 'holds several data.pkl' : 'holds no <archive>/data.pkl (not a torch.save checkpoint)');
  const pkl = pkls[0]!;
  const archive = pkl.name.slice(0, -'/data.pkl'.length);
  if (!pkl.stored) throw bad(path, 'data.pkl is compressed (torch.save stores every member)');
  if (pkl.size > PYTORCH_MAX_PICKLE_BYTES) throw bad(path, `data.pkl is larger than ${PYTORCH_MAX_PICKLE_BYTES} bytes`);
  const pickle = readRangeSync(real, pkl.dataOffset, pkl.size);
  let root: PickleValue;
  try {
    root = unpickleStateDict(pickle);
  } catch (e) {
    if (e instanceof WeightkitError) throw new WeightkitError(e.code, `${e.message} (in '${path}')`);
    throw e;
  }
  const byName = new Map(members.map((m) => [m.name, m]));
  const entries: TensorInfo[] = [];
  for (const [name, t] of tensorsOf(root, path)) entries.push(tensorInfo(name, t, byName, archive, path));
  return { catalog: new WeightCatalog(entries, { bounds: fileSize, allowOverlap: true }), real, fileSize };
}


function tensorInfo(name: string, t: TorchTensor, members: Map<string, ZipMember>, archive: string, path: string): TensorInfo {
  const member = members.get(`${archive}/data/${t.storage.key}`);
  if (!member) throw bad(path, `tensor '${name}' refers to storage '${t.storage.key}', which the archive lacks`);
  if (!member.stored) throw bad(path, `storage '${t.storage.key}' is compressed`);
  const item = dtypeInfo(t.storage.dtype).torchItemSize;
  if (t.storage.numel * item > member.size) throw bad(path, `storage '${t.storage.key}' holds ${member.size} bytes, its ${t.storage.numel} ${t.storage.dtype} elements need ${t.storage.numel * item}`);
  const numel = t.size.reduce((a, b) => a * b, 1);
  const info = { name, dtype: t.storage.dtype as DType, shape: [...t.size] };
  if (numel === 0) return { ...info, byteOffset: member.dataOffset, byteLength: 0 };
  const extent = t.size.reduce((a, s, d) => a + (s - 1) * t.stride[d]!, 0) + 1;
  if (t.offset + extent > t.storage.numel) {
    throw bad(path, `tensor '${name}' reaches element ${t.offset + extent} of storage '${t.storage.key}', which holds ${t.storage.numel}`);
  }
  const byteOffset = member.dataOffset + t.offset * item;
  return contiguous(t)
    ? { ...info, byteOffset, byteLength: numel * item }
    : { ...info, strides: [...t.stride], byteOffset, byteLength: extent * item };
}

/** Options for opening a checkpoint. */
export type PyTorchOpenOptions = Pick<FileMappingOptions, 'populate' | 'advice'>;

/** A PyTorch checkpoint as a zero-copy {@link NamedDataMap}. */
export class PyTorchMap extends CatalogMap {
  readonly format = 'pytorch' as const;
  readonly path: string;
  readonly catalog: WeightCatalog;
  readonly metadata: Readonly<Record<string, string>> = {};
  readonly #mapping: FileMapping;
  readonly #real: string;
  #copied = 0;

  private constructor(path: string, real: string, catalog: WeightCatalog, mapping: FileMapping) {
    super();
    this.path = path;
    this.#real = real;
    this.catalog = catalog;
    this.#mapping = mapping;
  }

  /** Reads the zip directory and the pickle (never executed), then maps the file read-only. */
  static async open(path: string, options: PyTorchOpenOptions = {}): Promise<PyTorchMap> {
    return PyTorchMap.openSync(path, options);
  }

  /** Synchronous {@link PyTorchMap.open}. */
  static openSync(path: string, options: PyTorchOpenOptions = {}): PyTorchMap {
    const { catalog, real, fileSize } = readPyTorchCatalogSync(path);
    const mapping = FileMapping.openSync(real, options);
    if (mapping.size !== fileSize) {
      mapping.close();
      throw new WeightkitError('WK_BAD_FORMAT', `'${path}' changed while it was opened; open it again`);
    }
    return new PyTorchMap(path, real, catalog, mapping);
  }



  bytes(name: string): Uint8Array {
    const v = this.get(name);
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }

  /** The tensor's elements; a strided tensor is gathered into a new contiguous array (counted in {@link PyTorchMap.copiedBytes}). */
  get(name: string): TypedArray {
    const t = this.catalog.get(name);
    if (!t.strides) return this.#mapping.typed(t.dtype, t.byteOffset, t.byteLength);
    const item = dtypeInfo(t.dtype).torchItemSize;
    const src = this.#mapping.bytes(t.byteOffset, t.byteLength);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const out = new Uint8Array(numel * item);
    gather(src, out, t.shape, t.strides, item);
    this.#copied += out.byteLength;
    return typedView(t.dtype, out.buffer, 0, out.byteLength);
  }

  location(name: string): FileRange | undefined {
    const t = this.catalog.get(name);
    if (t.strides) return undefined;
    const fileId = this.#mapping.fileId;
    if (fileId === undefined) throw new WeightkitError('WK_CLOSED', `the PyTorch map of '${this.path}' was closed; reopen it`);
    return { path: this.#real, offset: t.byteOffset, length: t.byteLength, fileId };
  }

  get copiedBytes(): number {
    return this.#copied + this.#mapping.copiedBytes;
  }

  get closed(): boolean {
    return this.#mapping.closed;
  }

  close(): void {
    this.#mapping.close();
  }
}

/** Copies a strided view (`src` starts at its first element) into contiguous `out`, row-major. */
function gather(src: Uint8Array, out: Uint8Array, shape: readonly number[], strides: readonly number[], item: number): void {
  const dims = shape.length;
  const index = new Array<number>(dims).fill(0);
  const lastStride = strides[dims - 1]! * item;
  const lastSize = shape[dims - 1]!;
  let o = 0;
  for (;;) {
    let base = 0;
    for (let d = 0; d < dims - 1; d++) base += index[d]! * strides[d]! * item;
    for (let i = 0; i < lastSize; i++) {
      const from = base + i * lastStride;
      out.set(src.subarray(from, from + item), o);
      o += item;
    }
    let d = dims - 2;
    while (d >= 0 && ++index[d]! === shape[d]) index[d--] = 0;
    if (d < 0) return;
  }
}

