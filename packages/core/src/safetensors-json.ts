/**
 * The safetensors header's JSON, read with the rules of the reference
 * implementation (the `safetensors` crate, which deserializes with serde_json
 * into `{ "__metadata__"?: {string: string} | null, <name>: TensorInfo }`),
 * not JSON.parse's: integers only where it wants integers (`2.0`, `2e0`,
 * negative numbers and values above 2^64 - 1 are refused, and values above
 * 2^53 are kept exact), a duplicate field of a tensor or a second
 * `__metadata__` is refused, a repeated tensor name keeps the last entry,
 * fields a tensor does not know are skipped, and nothing but JSON whitespace
 * may surround the object (no byte-order mark). One pass over the text,
 * memory proportional to the entries.
 *
 * @module
 */
import { WeightkitError, shown } from './errors.js';

/** One tensor entry as the header states it, before any validation against the file. */
export interface RawTensorEntry {
  readonly name: string;
  /** The safetensors dtype string, e.g. `F32`. */
  readonly dtype: string;
  /** Dimensions; a bigint where a dimension exceeds 2^53 - 1. */
  readonly shape: readonly (number | bigint)[];
  readonly begin: number | bigint;
  readonly end: number | bigint;
}

export interface RawHeader {
  /** In header order, repeated names included (the reader keeps the last one, as serde's HashMap does). */
  readonly tensors: RawTensorEntry[];
  /** `__metadata__`; null when absent or `null`. */
  readonly metadata: Record<string, string> | null;
}

/**
 * serde_json's recursion limit: it counts every object or array opened, the
 * header's and the tensor's included, and refuses the 128th. A skipped field
 * of a tensor may therefore nest 125 deep.
 */
const MAX_DEPTH = 128;
/** 2^64 - 1 has 20 digits: a longer run of digits is refused without being converted (which is quadratic). */
const U64_DIGITS = 20;
const U64_MAX = 2n ** 64n - 1n;

/**
 * What a message names: its text, or a function that builds it. Labels name
 * tensors (escaped for display), and a header holds thousands: only a failure
 * builds its text.
 */
type Label = string | (() => string);
const text = (l: Label): string => (typeof l === 'string' ? l : l());

class Parser {
  pos = 0;
  constructor(readonly text: string) {}

  fail(what: string): never {
    throw new WeightkitError('WK_BAD_FORMAT', `safetensors: header JSON: ${what} at character ${this.pos}`);
  }

  ws(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  peek(): number {
    return this.text.charCodeAt(this.pos);
  }

  expect(c: number, what: Label, before = ''): void {
    this.ws();
    if (this.text.charCodeAt(this.pos) !== c) this.fail(`expected ${before}${text(what)}`);
    this.pos++;
  }

  string(): string {
    const t = this.text;
    if (t.charCodeAt(this.pos) !== 0x22) this.fail('expected a string');
    let p = this.pos + 1;
    let out = '';
    let start = p;
    for (;;) {
      const c = t.charCodeAt(p);
      if (Number.isNaN(c)) {
        this.pos = p;
        this.fail('unterminated string');
      }
      if (c === 0x22) {
        out += t.slice(start, p);
        this.pos = p + 1;
        return out;
      }
      if (c < 0x20) {
        this.pos = p;
        this.fail('control character in a string');
      }
      if (c !== 0x5c) {
        p++;
        continue;
      }
      out += t.slice(start, p);
      const e = t.charCodeAt(p + 1);
      p += 2;
      switch (e) {
        case 0x22: out += '"'; break;
        case 0x5c: out += '\\'; break;
        case 0x2f: out += '/'; break;
        case 0x62: out += '\b'; break;
        case 0x66: out += '\f'; break;
        case 0x6e: out += '\n'; break;
        case 0x72: out += '\r'; break;
        case 0x74: out += '\t'; break;
        case 0x75: {
          const hi = this.hex4(p);
          p += 4;
          if (hi >= 0xd800 && hi <= 0xdbff) {
            // A leading surrogate must be followed by an escaped trailing one.
            const lo = t.charCodeAt(p) === 0x5c && t.charCodeAt(p + 1) === 0x75 ? this.hex4(p + 2) : -1;
            if (lo < 0xdc00 || lo > 0xdfff) {
              this.pos = p;
              this.fail('lone leading surrogate in a \\u escape');
            }
            p += 6;
            out += String.fromCharCode(hi, lo);
          } else if (hi >= 0xdc00 && hi <= 0xdfff) {
            this.pos = p;
            this.fail('lone trailing surrogate in a \\u escape');
          } else {
            out += String.fromCharCode(hi);
          }
          break;
        }
        default:
          this.pos = p - 1;
          this.fail('invalid escape');
      }
      start = p;
    }
  }

  hex4(at: number): number {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.text.charCodeAt(at + i);
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) {
        this.pos = at + i;
        this.fail('invalid \\u escape');
      }
      v = v * 16 + d;
    }
    return v;
  }

  /**
   * An unsigned integer where serde wants `usize`: digits only (a sign,
   * fraction or exponent makes it another type, refused), no leading zero,
   * at most 2^64 - 1. A number when it fits 2^53 - 1, else a bigint.
   */
  unsigned(what: Label): number | bigint {
    this.ws();
    const t = this.text;
    const start = this.pos;
    let p = start;
    while (t.charCodeAt(p) >= 0x30 && t.charCodeAt(p) <= 0x39) p++;
    const c = t.charCodeAt(p);
    if (p === start) {
      if (c === 0x2d) this.fail(`${text(what)} must be a non-negative integer, not a negative number`);
      this.fail(`${text(what)} must be a non-negative integer`);
    }
    if (c === 0x2e || c === 0x65 || c === 0x45) this.fail(`${text(what)} must be an integer, not a floating-point number (the reference reader refuses 2.0 and 2e0)`);
    if (p - start > 1 && t.charCodeAt(start) === 0x30) this.fail(`${text(what)} has a leading zero`);
    this.pos = p;
    if (p - start <= 15) return Number(t.slice(start, p));
    if (p - start > U64_DIGITS) {
      this.pos = start;
      this.fail(`${text(what)} has ${p - start} digits and does not fit 64 bits`);
    }
    const big = BigInt(t.slice(start, p));
    if (big > U64_MAX) this.fail(`${text(what)} ${big} does not fit 64 bits`);
    return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }

  /**
   * Any JSON value, checked and discarded (a field the reader does not know);
   * `open` objects and arrays enclose it.
   */
  skipValue(open: number): void {
    this.ws();
    const t = this.text;
    const c = this.peek();
    if (c === 0x22) {
      this.string();
    } else if (c === 0x7b || c === 0x5b) {
      if (open + 1 >= MAX_DEPTH) this.fail(`nesting of ${MAX_DEPTH} objects and arrays (the reference reader's recursion limit)`);
      const close = c === 0x7b ? 0x7d : 0x5d;
      this.pos++;
      this.ws();
      if (this.peek() === close) {
        this.pos++;
        return;
      }
      for (;;) {
        if (c === 0x7b) {
          this.ws();
          this.string();
          this.expect(0x3a, "':'");
        }
        this.skipValue(open + 1);
        this.ws();
        const n = this.peek();
        this.pos++;
        if (n === close) return;
        if (n !== 0x2c) {
          this.pos--;
          this.fail(`expected ',' or '${String.fromCharCode(close)}'`);
        }
      }
    } else if (t.startsWith('true', this.pos)) {
      this.pos += 4;
    } else if (t.startsWith('false', this.pos)) {
      this.pos += 5;
    } else if (t.startsWith('null', this.pos)) {
      this.pos += 4;
    } else {
      const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
      m.lastIndex = this.pos;
      if (!m.exec(t)) this.fail('expected a JSON value');
      // serde_json reads a number too large for a u64 or an i64 as an f64, and refuses it when that overflows.
      if (!Number.isFinite(Number(t.slice(this.pos, m.lastIndex)))) this.fail('number out of range');
      this.pos = m.lastIndex;
    }
  }

  /** `[...]` of items read by `item`, exactly `count` of them when given. */
  array<T>(what: Label, item: () => T, count?: number): T[] {
    this.expect(0x5b, what, "'[' for ");
    const out: T[] = [];
    this.ws();
    if (this.peek() === 0x5d) {
      this.pos++;
    } else {
      for (;;) {
        out.push(item());
        this.ws();
        const n = this.peek();
        this.pos++;
        if (n === 0x5d) break;
        if (n !== 0x2c) {
          this.pos--;
          this.fail(`expected ',' or ']' in ${text(what)}`);
        }
      }
    }
    if (count !== undefined && out.length !== count) this.fail(`${text(what)} must have exactly ${count} elements, has ${out.length}`);
    return out;
  }

  /** Members of an object, `member` called with each key and positioned at its value. */
  object(what: Label, member: (key: string) => void): void {
    this.expect(0x7b, what, "'{' for ");
    this.ws();
    if (this.peek() === 0x7d) {
      this.pos++;
      return;
    }
    for (;;) {
      this.ws();
      const key = this.string();
      this.expect(0x3a, "':'");
      member(key);
      this.ws();
      const n = this.peek();
      this.pos++;
      if (n === 0x7d) return;
      if (n !== 0x2c) {
        this.pos--;
        this.fail(`expected ',' or '}' in ${text(what)}`);
      }
    }
  }

  tensor(name: string): RawTensorEntry {
    this.ws();
    const what = (): string => `tensor ${shown(name)}`;
    const shapeOf = () => `the shape of ${what()}`;
    const dimensionOf = () => `a dimension of ${what()}`;
    const offsetsOf = () => `the data_offsets of ${what()}`;
    const offsetOf = () => `a data offset of ${what()}`;
    if (this.peek() === 0x5b) {
      // serde reads a struct from a sequence too: [dtype, shape, data_offsets].
      let dtype = '';
      let shape: (number | bigint)[] = [];
      let offsets: (number | bigint)[] = [];
      let i = 0;
      this.array(what, () => {
        this.ws();
        if (i === 0) dtype = this.string();
        else if (i === 1) shape = this.array(shapeOf, () => this.unsigned(dimensionOf));
        else if (i === 2) offsets = this.array(offsetsOf, () => this.unsigned(offsetOf), 2);
        else this.fail(`${what()} as an array must have exactly 3 elements`);
        i++;
      });
      if (i !== 3) this.fail(`${what()} as an array must have exactly 3 elements`);
      return { name, dtype, shape, begin: offsets[0]!, end: offsets[1]! };
    }
    let dtype: string | undefined;
    let shape: (number | bigint)[] | undefined;
    let offsets: (number | bigint)[] | undefined;
    this.object(what, (key) => {
      this.ws();
      if (key === 'dtype') {
        if (dtype !== undefined) this.fail(`duplicate field 'dtype' in ${what()}`);
        dtype = this.string();
      } else if (key === 'shape') {
        if (shape !== undefined) this.fail(`duplicate field 'shape' in ${what()}`);
        shape = this.array(shapeOf, () => this.unsigned(dimensionOf));
      } else if (key === 'data_offsets') {
        if (offsets !== undefined) this.fail(`duplicate field 'data_offsets' in ${what()}`);
        offsets = this.array(offsetsOf, () => this.unsigned(offsetOf), 2);
      } else {
        this.skipValue(2); // inside the header's object and the tensor's
      }
    });
    if (dtype === undefined || shape === undefined || offsets === undefined) {
      this.fail(`${what()} lacks ${[dtype === undefined && 'dtype', shape === undefined && 'shape', offsets === undefined && 'data_offsets'].filter(Boolean).join(' and ')}`);
    }
    return { name, dtype, shape, begin: offsets[0]!, end: offsets[1]! };
  }

  metadataValue(): Record<string, string> | null {
    this.ws();
    if (this.text.startsWith('null', this.pos)) {
      this.pos += 4;
      return null;
    }
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    this.object('__metadata__', (key) => {
      this.ws();
      if (this.peek() !== 0x22) this.fail(`__metadata__ value '${key}' must be a string`);
      out[key] = this.string();
    });
    return out;
  }
}

/** Parses the header's JSON text with the reference reader's rules. */
export function parseSafetensorsJson(text: string): RawHeader {
  const p = new Parser(text);
  const tensors: RawTensorEntry[] = [];
  let metadata: Record<string, string> | null = null;
  let sawMetadata = false;
  p.object('the header', (key) => {
    if (key === '__metadata__') {
      if (sawMetadata) p.fail("duplicate field '__metadata__'");
      sawMetadata = true;
      metadata = p.metadataValue();
      return;
    }
    tensors.push(p.tensor(key));
  });
  p.ws();
  if (p.pos !== text.length) p.fail('trailing characters after the header object');
  return { tensors, metadata };
}
