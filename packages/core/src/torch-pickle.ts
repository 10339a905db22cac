/**
 * A restricted unpickler for what `torch.save` of a state dict emits, and
 * nothing else. It never executes anything: GLOBAL and REDUCE are looked up
 * in a fixed list (OrderedDict, `torch._utils._rebuild_tensor_v2`,
 * `_rebuild_parameter`, the typed `*Storage` classes), persistent ids must be
 * torch's `('storage', <Storage>, key, location, numel)` tuples, BUILD is
 * accepted only on an OrderedDict (a state dict's `_metadata`), and anything
 * else (`os.system`, `builtins.eval`, `getattr`, NEWOBJ, unknown opcodes) is
 * WK_BAD_FORMAT naming the offending name. Every length is checked against
 * the bytes present before anything is allocated; the machine is a loop over
 * the input with a stack (no recursion), so any pickle is refused or read in
 * time linear in its size.
 * @module
 */
import { type DType } from './dtype.js';
import { WeightkitError, shown } from './errors.js';

/** The dtype of each storage class torch pickles (`torch.<Name>Storage`). */
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, DType>> = Object.freeze({
  FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16', DoubleStorage: 'float64',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool', ComplexFloatStorage: 'complex64', ComplexDoubleStorage: 'complex128',
  UInt16Storage: 'uint16', UInt32Storage: 'uint32', UInt64Storage: 'uint64',
  Float8_e4m3fnStorage: 'float8_e4m3fn', Float8_e5m2Storage: 'float8_e5m2',
  Float8_e4m3fnuzStorage: 'float8_e4m3fnuz', Float8_e5m2fnuzStorage: 'float8_e5m2fnuz', Float8_e8m0fnuStorage: 'float8_e8m0fnu',
});

/** A storage a tensor refers to: the zip member `data/<key>`. */
export interface TorchStorage {
  readonly kind: 'storage';
  readonly key: string;
  readonly dtype: DType;
  /** Elements the pickle says it holds. */
  readonly numel: number;
}

/** A tensor: a view of a storage. Offsets and strides are in elements. */
export interface TorchTensor {
  readonly kind: 'tensor';
  readonly storage: TorchStorage;
  readonly offset: number;
  readonly size: readonly number[];
  readonly stride: readonly number[];
}

/** What the unpickler builds: tensors, storages, dicts (Maps), tuples and lists (arrays), scalars. */
export type PickleValue = TorchTensor | TorchStorage | Map<PickleValue, PickleValue> | PickleValue[] | string | number | bigint | boolean | null | Uint8Array | TorchGlobal;

/** A global the pickle loaded (one of the few allowed): `module name`. */
export interface TorchGlobal {
  readonly kind: 'global';
  readonly name: string;
}


/** The names GLOBAL may load: what a state dict's pickle needs. */
const ORDERED_DICT = 'collections OrderedDict';
const REBUILD_TENSOR = 'torch._utils _rebuild_tensor_v2';
const REBUILD_PARAMETER = 'torch._utils _rebuild_parameter';

function allowedGlobal(name: string): boolean {
  if (name === ORDERED_DICT || name === REBUILD_TENSOR || name === REBUILD_PARAMETER) return true;
  return name.startsWith('torch ') && Object.hasOwn(TORCH_STORAGE_DTYPES, name.slice(6));
}

const MARK = Symbol('mark');
type Slot = PickleValue | typeof MARK;

function refuse(message: string): WeightkitError {
  return new WeightkitError('WK_BAD_FORMAT', `PyTorch checkpoint: ${message}`);
}

function isGlobal(v: unknown, name: string): boolean {
  return typeof v === 'object' && v !== null && (v as TorchGlobal).kind === 'global' && (v as TorchGlobal).name === name;
}

function isSafeCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every(isSafeCount)) throw refuse(`${what} is not a tuple of non-negative integers`);
  return v as number[];
}

/** `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`. */
function rebuildTensor(args: PickleValue[]): TorchTensor {
  if (args.length < 4 || args.length > 7) throw refuse(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
  const [storage, offset, size, stride] = args;
  if (typeof storage !== 'object' || storage === null || (storage as TorchStorage).kind !== 'storage') throw refuse('_rebuild_tensor_v2 needs a storage');
  if (!isSafeCount(offset)) throw refuse(`storage_offset ${shown(offset)} is not a non-negative integer`);
  const s = intList(size, 'a tensor size');
  const st = intList(stride, 'a tensor stride');
  if (s.length !== st.length) throw refuse(`a tensor has ${s.length} sizes and ${st.length} strides`);
  return { kind: 'tensor', storage: storage as TorchStorage, offset, size: s, stride: st };
}

/** A storage from a persistent id: `('storage', torch.<X>Storage, key, location, numel)`. */
function persistentStorage(pid: PickleValue): TorchStorage {
  if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') throw refuse(`persistent id ${shown(pid)} is not a storage reference`);
  const [, type, key, , numel] = pid;
  const name = typeof type === 'object' && type !== null && (type as TorchGlobal).kind === 'global' ? (type as TorchGlobal).name : '';
  const dtype = TORCH_STORAGE_DTYPES[name.slice(6)];
  if (!name.startsWith('torch ') || !dtype) throw refuse(`a storage of type ${shown(name || type)} is not one weightkit reads`);
  if (typeof key !== 'string' || !/^[A-Za-z0-9_]+$/.test(key)) throw refuse(`storage key ${shown(key)} is not a member name`);
  if (!isSafeCount(numel)) throw refuse(`storage '${key}' has element count ${shown(numel)}`);
  return { kind: 'storage', key, dtype, numel };
}

/** Reads one pickle (protocols 2 to 5, as torch.save writes them) with the rules above. */
export function unpickleStateDict(bytes: Uint8Array): PickleValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  const stack: Slot[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  // Values built by REDUCE on OrderedDict: the only objects BUILD may touch.
  const ordered = new WeakSet<object>();
  let p = 0;

  const need = (n: number, what: string) => {
    if (n > bytes.length - p) throw refuse(`${what} at byte ${p} needs ${n} bytes, ${bytes.length - p} remain`);
  };
  const u8 = () => (need(1, 'an argument'), bytes[p++]!);
  const u32 = () => (need(4, 'an argument'), (p += 4), view.getUint32(p - 4, true));
  const u64 = () => {
    need(8, 'an argument');
    const v = view.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(bytes.length)) throw refuse(`a length of ${v} bytes is larger than the pickle`);
    return Number(v);
  };
  const take = (n: number, what: string) => {
    need(n, what);
    p += n;
    return bytes.subarray(p - n, p);
  };
  const str = (n: number) => {
    try {
      return text.decode(take(n, 'a string'));
    } catch (e) {
      if (e instanceof WeightkitError) throw e;
      throw refuse(`a string at byte ${p - n} is not valid UTF-8`);
    }
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) throw refuse(`the stack is empty at byte ${p - 1}`);
    return v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw refuse(`the stack is empty at byte ${p - 1}`);
    return v;
  };
  const popMark = (): PickleValue[] => {
    const at = marks.pop();
    if (at === undefined) throw refuse(`no MARK before byte ${p - 1}`);
    const items = stack.splice(at) as Slot[];
    items.shift(); // the MARK itself
    return items as PickleValue[];
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, p);
    if (end < 0) throw refuse('a GLOBAL name runs past the end');
    const s = str(end - p);
    p++;
    return s;
  };
  const global = (name: string): TorchGlobal => {
    if (!allowedGlobal(name)) throw refuse(`refused to load global '${name.replace(' ', '.')}': a weights file needs only tensors and dicts (it may run code in torch.load)`);
    return { kind: 'global', name };
  };
  const setItems = (target: PickleValue, items: PickleValue[]) => {
    if (!(target instanceof Map)) throw refuse(`SETITEM on something that is not a dict at byte ${p - 1}`);
    if (items.length % 2) throw refuse('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) target.set(items[i]!, items[i + 1]!);
  };
  const append = (target: PickleValue, items: PickleValue[]) => {
    if (!Array.isArray(target) || Object.isFrozen(target)) throw refuse(`APPEND on something that is not a list at byte ${p - 1}`);
    for (const x of items) target.push(x);
  };

  for (;;) {
    if (p >= bytes.length) throw refuse('the pickle ends without STOP');
    const op = bytes[p++]!;
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: a hint only
      case 0x2e: { // STOP
        const result = pop();
        if (stack.length !== 0) throw refuse('values are left on the stack at STOP');
        return result;
      }
      case 0x28: marks.push(stack.length); stack.push(MARK); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x4a: need(4, 'BININT'); stack.push(view.getInt32(p, true)); p += 4; break;
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: need(2, 'BININT2'); stack.push(view.getUint16(p, true)); p += 2; break;
      case 0x8a: { // LONG1
        const n = u8();
        if (n > 8) throw refuse(`an integer of ${n} bytes is larger than any size or offset`);
        const b = take(n, 'LONG1');
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x47: need(8, 'BINFLOAT'); stack.push(view.getFloat64(p, false)); p += 8; break;
      case 0x58: stack.push(str(u32())); break; // BINUNICODE
      case 0x8c: stack.push(str(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(str(u64())); break; // BINUNICODE8
      case 0x54: stack.push(str(u32())); break; // BINSTRING (py2 str)
      case 0x55: stack.push(str(u8())); break; // SHORT_BINSTRING
      case 0x42: stack.push(take(u32(), 'BINBYTES').slice()); break;
      case 0x43: stack.push(take(u8(), 'SHORT_BINBYTES').slice()); break;
      case 0x29: stack.push(Object.freeze([] as PickleValue[]) as PickleValue[]); break; // EMPTY_TUPLE
      case 0x74: stack.push(Object.freeze(popMark()) as PickleValue[]); break; // TUPLE
      case 0x85: stack.push(Object.freeze([pop()]) as PickleValue[]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(Object.freeze([a, b]) as PickleValue[]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(Object.freeze([a, b, c]) as PickleValue[]); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x61: { const x = pop(); append(top(), [x]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x63: { const module = line(); stack.push(global(`${module} ${line()}`)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof name !== 'string' || typeof module !== 'string') throw refuse('STACK_GLOBAL needs two strings');
        stack.push(global(`${module} ${name}`));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        if (!Array.isArray(args)) throw refuse('REDUCE arguments are not a tuple');
        if (isGlobal(fn, ORDERED_DICT)) {
          if (args.length !== 0) throw refuse('OrderedDict is rebuilt with arguments');
          const m = new Map<PickleValue, PickleValue>();
          ordered.add(m);
          stack.push(m);
        } else if (isGlobal(fn, REBUILD_TENSOR)) {
          stack.push(rebuildTensor(args));
        } else if (isGlobal(fn, REBUILD_PARAMETER)) {
          const t = args[0];
          if (typeof t !== 'object' || t === null || (t as TorchTensor).kind !== 'tensor') throw refuse('_rebuild_parameter needs a tensor');
          stack.push(t);
        } else {
          throw refuse(`refused to call ${typeof fn === 'object' && fn !== null && 'kind' in fn && fn.kind === 'global' ? `'${fn.name.replace(' ', '.')}'` : shown(fn)} (REDUCE)`);
        }
        break;
      }
      case 0x62: { // BUILD
        pop();
        const target = top();
        if (typeof target !== 'object' || target === null || !ordered.has(target)) throw refuse(`BUILD on ${shown(target)}, which is not a state dict`);
        break; // an OrderedDict's attributes (_metadata): not weights
      }
      case 0x51: stack.push(persistentStorage(pop())); break; // BINPERSID
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) throw refuse(`memo ${i} was never stored (byte ${p})`);
        stack.push(memo.get(i)!);
        break;
      }
      default:
        throw refuse(`opcode 0x${op.toString(16).padStart(2, '0')} at byte ${p - 1} is not part of a state dict's pickle`);
    }
  }
}
