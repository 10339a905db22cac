/**
 * {@link BackendOptions}: one typed registry of every option any backend
 * understands. Backends register their options when imported; apps set them
 * from code, from a plain object, or from `WEIGHTKIT_*` environment variables.
 *
 * Key `xnnpack.packed_cache_path` <-> variable `WEIGHTKIT_XNNPACK_PACKED_CACHE_PATH`.
 * The first part of a key is its package's namespace (`core`, `xnnpack`,
 * `cuda`): a package reads the variables of its own namespace only, so an app
 * that imports one package is never refused because of another's settings,
 * while a misspelt variable in a package's own namespace is still an error.
 *
 * @module
 */
import { expectObject } from './arguments.js';
import { WeightkitError } from './errors.js';

/** Value types an option may have. */
export type OptionType = 'string' | 'number' | 'integer' | 'boolean' | 'enum';

/** The description of one option. */
export interface OptionSpec<T extends string | number | boolean = string | number | boolean> {
  /** Dotted key, `<backend>.<name>`, lower case. */
  readonly key: string;
  readonly type: OptionType;
  /** Value used when nothing sets it. */
  readonly default: T;
  /** One line for humans: what it does and its unit. */
  readonly doc: string;
  /** Allowed values (enum options). */
  readonly values?: readonly string[];
  /** Inclusive bounds (number and integer options). */
  readonly min?: number;
  readonly max?: number;
  /** Extra check; returns what is wrong, or undefined when the value is fine. */
  readonly validate?: (value: T) => string | undefined;
}

const registry = new Map<string, OptionSpec>();

/**
 * Every namespace of `WEIGHTKIT_*` variables, whether or not its package is
 * installed here (core ships with every package, so a new package adds its
 * namespace here): options of core, xnnpack-cache, aoti-blob and cuda-offload;
 * `addon` (addon locations), `build` (build switches), `ci` (the test and CI
 * harness). A variable outside all of them and the registered ones is a typo.
 */
export const VARIABLE_NAMESPACES: readonly string[] = ['core', 'xnnpack', 'aoti', 'cuda', 'addon', 'build', 'ci'];
/** Variables inside a namespace that are not options (a build or test setting). */
const reservedVariables = new Set<string>();

/** The environment variable for an option key. */
export function envName(key: string): string {
  return 'WEIGHTKIT_' + key.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

/**
 * Adds an option to the process-wide registry. Registering the same key again
 * with an identical spec is a no-op (a package imported twice); a different
 * spec for a taken key is WK_BAD_ARGUMENT.
 */
export function registerOption<T extends string | number | boolean>(spec: OptionSpec<T>): OptionSpec<T> {
  if (!/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/.test(spec.key)) {
    throw new WeightkitError('WK_BAD_ARGUMENT', `option key '${spec.key}' must look like 'backend.name' in lower case`);
  }
  const existing = registry.get(spec.key);
  if (existing) {
    if (existing.type === spec.type && existing.default === spec.default) return existing as unknown as OptionSpec<T>;
    throw new WeightkitError('WK_BAD_ARGUMENT', `option '${spec.key}' is already registered with another definition`);
  }
  const problem = checkValue(spec as unknown as OptionSpec, spec.default);
  if (problem) throw new WeightkitError('WK_BAD_ARGUMENT', `default of option '${spec.key}' is invalid: ${problem}`);
  registry.set(spec.key, Object.freeze({ ...spec }) as unknown as OptionSpec);
  return spec;
}

/** The namespace of a key: its first part (`xnnpack` of `xnnpack.packed_cache_path`). */
export function namespaceOf(key: string): string {
  return key.slice(0, key.indexOf('.'));
}

/**
 * Declares a `WEIGHTKIT_<NAMESPACE>_*` variable that is no option (it is
 * read by a build or a test), so parsing the namespace does not refuse it.
 */
export function reserveVariable(name: string): void {
  reservedVariables.add(name);
}

/** Every registered option, sorted by key. */
export function optionSpecs(): OptionSpec[] {
  return [...registry.values()].sort((a, b) => a.key.localeCompare(b.key));
}

function describe(spec: OptionSpec): string {
  switch (spec.type) {
    case 'enum': return `one of ${spec.values?.join(', ')}`;
    case 'boolean': return 'true or false';
    case 'string': return 'a string';
    default: {
      const kind = spec.type === 'integer' ? 'an integer' : 'a number';
      if (spec.min !== undefined && spec.max !== undefined) return `${kind} from ${spec.min} to ${spec.max}`;
      if (spec.min !== undefined) return `${kind} >= ${spec.min}`;
      if (spec.max !== undefined) return `${kind} <= ${spec.max}`;
      return kind;
    }
  }
}

function checkValue(spec: OptionSpec, value: unknown): string | undefined {
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') return 'not a string';
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return 'not a boolean';
      break;
    case 'enum':
      if (typeof value !== 'string' || !spec.values?.includes(value)) return `'${String(value)}' is not allowed`;
      break;
    case 'number':
    case 'integer':
      if (typeof value !== 'number' || !Number.isFinite(value)) return `${String(value)} is not a finite number`;
      if (spec.type === 'integer' && !Number.isInteger(value)) return `${value} is not an integer`;
      if (spec.min !== undefined && value < spec.min) return `${value} is below ${spec.min}`;
      if (spec.max !== undefined && value > spec.max) return `${value} is above ${spec.max}`;
      break;
  }
  return (spec.validate as ((v: unknown) => string | undefined) | undefined)?.(value);
}

function specFor(key: string): OptionSpec {
  const spec = registry.get(key);
  if (!spec) {
    const known = [...registry.keys()].sort();
    throw new WeightkitError(
      'WK_BAD_ARGUMENT',
      `unknown option '${key}'` + (known.length ? ` (known: ${known.join(', ')})` : ' (no backend that registers options is loaded)'),
    );
  }
  return spec;
}

/** Parses a string (from the environment or a CLI flag) as the option's type. */
export function parseOptionText(key: string, text: string): string | number | boolean {
  const spec = specFor(key);
  switch (spec.type) {
    case 'boolean': {
      const t = text.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(t)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(t)) return false;
      throw new WeightkitError('WK_BAD_ARGUMENT', `option '${key}' must be ${describe(spec)}, got '${text}'`);
    }
    case 'number':
    case 'integer': {
      const n = text.trim() === '' ? NaN : Number(text);
      if (Number.isNaN(n)) throw new WeightkitError('WK_BAD_ARGUMENT', `option '${key}' must be ${describe(spec)}, got '${text}'`);
      return n;
    }
    default:
      return text;
  }
}

/** A set of option values over the registry's defaults. */
export class BackendOptions {
  readonly #values = new Map<string, string | number | boolean>();

  /** Options from `init` (an object of key -> value), validated. */
  constructor(init: Readonly<Record<string, unknown>> = {}) {
    this.parse(init);
  }

  /**
   * Options from the `WEIGHTKIT_*` variables of `namespaces` (default: every
   * registered one), then `init` on top.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, init: Readonly<Record<string, unknown>> = {}, namespaces?: readonly string[]): BackendOptions {
    expectObject(env, 'BackendOptions.fromEnv(env)');
    const o = new BackendOptions();
    o.parseEnv(env, namespaces);
    o.parse(init);
    return o;
  }

  /** Sets one option; WK_BAD_ARGUMENT naming the key and what is allowed. */
  set(key: string, value: unknown): this {
    const spec = specFor(key);
    const problem = checkValue(spec, value);
    if (problem) throw new WeightkitError('WK_BAD_ARGUMENT', `option '${key}' must be ${describe(spec)}: ${problem}`);
    this.#values.set(key, value as string | number | boolean);
    return this;
  }

  /** The value set, or the option's default. */
  get<T extends string | number | boolean>(key: string): T {
    const spec = specFor(key);
    return (this.#values.has(key) ? this.#values.get(key) : spec.default) as T;
  }

  /** True when `key` was set explicitly. */
  isSet(key: string): boolean {
    specFor(key);
    return this.#values.has(key);
  }

  /** Sets every key of `obj`. */
  parse(obj: Readonly<Record<string, unknown>>): this {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new WeightkitError('WK_BAD_ARGUMENT', 'options must be an object of key -> value');
    }
    for (const [k, v] of Object.entries(obj)) this.set(k, v);
    return this;
  }

  /**
   * Sets every option of `namespaces` (default: every registered namespace)
   * whose `WEIGHTKIT_*` variable is present. A variable in one of those
   * namespaces that matches no option is an error naming it and the closest
   * option (a typo otherwise goes unnoticed); variables of other namespaces
   * belong to other packages and are left alone, as are `WEIGHTKIT_ADDON_*`
   * (addon locations), `WEIGHTKIT_BUILD_*` (build switches) and reserved names.
   * A `WEIGHTKIT_*` variable of no weightkit namespace at all
   * ({@link VARIABLE_NAMESPACES}) is an error too.
   */
  parseEnv(env: NodeJS.ProcessEnv = process.env, namespaces?: readonly string[]): this {
    const byEnv = new Map([...registry.keys()].map((k) => [envName(k), k]));
    const spaces = (namespaces ?? [...new Set([...registry.keys()].map(namespaceOf))]).map((n) => `WEIGHTKIT_${n.toUpperCase()}_`);
    const known = [...new Set([...VARIABLE_NAMESPACES, ...[...registry.keys()].map(namespaceOf)])].map((n) => `WEIGHTKIT_${n.toUpperCase()}_`);
    for (const [name, text] of Object.entries(env)) {
      if (name.startsWith('WEIGHTKIT_') && text !== undefined && !known.some((p) => name.startsWith(p))) {
        throw new WeightkitError(
          'WK_BAD_ARGUMENT',
          `environment variable ${name} is no weightkit variable: weightkit reads ${known.map((p) => `${p}*`).join(', ')}; unset or rename it`,
        );
      }
      if (text === undefined || !spaces.some((p) => name.startsWith(p)) || reservedVariables.has(name)) continue;
      const key = byEnv.get(name);
      if (!key) {
        const own = [...byEnv.keys()].filter((v) => spaces.some((p) => v.startsWith(p)));
        const hint = closest(name, own);
        throw new WeightkitError(
          'WK_BAD_ARGUMENT',
          `environment variable ${name} matches no option${hint ? ` (did you mean ${hint}?)` : ''}; known: ${own.sort().join(', ') || 'none'}`,
        );
      }
      try {
        this.set(key, parseOptionText(key, text));
      } catch (e) {
        if (!(e instanceof WeightkitError)) throw e;
        throw new WeightkitError(e.code, `environment variable ${name}=${JSON.stringify(text)}: ${e.message}`);
      }
    }
    return this;
  }

  /** Every option with its effective value. */
  toJSON(): Record<string, string | number | boolean> {
    return Object.fromEntries(optionSpecs().map((s) => [s.key, this.get(s.key)]));
  }
}

/** Options @weightkit/core itself reads when opening files. */
export const CORE_OPTIONS = {
  populate: registerOption({
    key: 'core.map_populate',
    type: 'boolean',
    default: false,
    doc: 'Pre-fault every page of a weights file when it is opened (MAP_POPULATE): slower open, no page faults later.',
  }),
  advice: registerOption({
    key: 'core.madvise',
    type: 'enum',
    default: 'normal',
    values: ['normal', 'sequential', 'random', 'willneed'],
    doc: 'Kernel read-ahead hint for mapped weights files.',
  }),
} as const;

/** The candidate nearest to `name` by edit distance, when it is near enough to be a typo. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
