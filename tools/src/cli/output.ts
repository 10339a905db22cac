/**
 * Output: human tables or one JSON object on stdout; progress and messages on
 * stderr only, so `--json` output is always machine-readable.
 * @module
 */
import { escapeControls } from '@weightkit/core/internal';

/** Formats a byte count for humans (binary units). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}

let quiet = false;

/** `--quiet`: progress and informational lines on stderr are dropped (results and errors are not). */
export function setQuiet(on: boolean): void {
  quiet = on;
}

/** An informational line on stderr, unless `--quiet`. */
export function info(line: string): void {
  if (!quiet) process.stderr.write(line + '\n');
}

/**
 * `text` on one line with no terminal control: control characters (newlines,
 * escape sequences, C1 codes, DEL, bidirectional overrides) become visible
 * escapes, so a name inside a file can never forge an extra `error[...]`
 * line, recolour a terminal or reorder what it shows.
 */
export const printable: (text: string) => string = escapeControls;

/** Prints `rows` as aligned columns under `headers`. */
export function printTable(headers: string[], rows: string[][], out: NodeJS.WritableStream = process.stdout): void {
  // A loop, not Math.max(...spread): a table may have more rows than a call has arguments.
  const cells = rows.map((r) => r.map(printable));
  const widths = headers.map((h) => h.length);
  for (const r of cells) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  out.write(line(headers) + '\n');
  for (const r of cells) out.write(line(r) + '\n');
}

/** Writes one JSON document to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2) + '\n');
}

/**
 * Progress on stderr that stays silent for the first second, then reports at
 * most once a second (in place on a terminal, one line each otherwise).
 */
export class Progress {
  readonly #label: string;
  readonly #start = Date.now();
  #last = 0;
  #shown = false;

  constructor(label: string) {
    this.#label = label;
  }

  update(done: number, total: number, unit: 'bytes' | 'items' = 'bytes'): void {
    if (quiet) return;
    const now = Date.now();
    if (now - this.#start < 1000 || now - this.#last < 1000) return;
    this.#last = now;
    this.#shown = true;
    const pct = total > 0 ? ((100 * done) / total).toFixed(0) : '100';
    const what = unit === 'bytes' ? `${formatBytes(done)} / ${formatBytes(total)}` : `${done} / ${total}`;
    const text = `${this.#label}: ${pct}% (${what})`;
    process.stderr.write(process.stderr.isTTY ? `\r${text}\x1b[K` : `${text}\n`);
  }

  done(): void {
    if (this.#shown && process.stderr.isTTY) process.stderr.write('\n');
  }
}
