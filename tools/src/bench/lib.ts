/**
 * What every benchmark shares: medians, child processes that report their own
 * timings and peak RSS, machine facts, and results written as JSON plus an SVG
 * chart under docs/bench/.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const toolsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * Where results go: `out` when given; inside the weightkit repository its
 * docs/bench/ (the pages the docs show); in an app that installed the CLI,
 * ./weightkit-bench/, never a folder inside node_modules.
 */
export function benchOutDir(out?: string): string {
  if (out) return out;
  const repo = join(toolsDir, '..');
  return existsSync(join(repo, 'nx.json')) && existsSync(join(repo, 'docs', 'bench')) ? join(repo, 'docs', 'bench') : join(process.cwd(), 'weightkit-bench');
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The machine a result came from. */
export function machine(): Record<string, string | number> {
  const cpuList = cpus();
  return {
    cpu: cpuList[0]?.model ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
  };
}

/** Peak resident set of this process, from /proc/self/status (bytes), or 0. */
export function peakRssBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs `node <script> ...args` and parses the JSON object it prints last. */
export function runChild<T>(script: string, args: string[]): T {
  const r = spawnSync(process.execPath, ['--expose-gc', script, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${script} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/** One bar of a chart. */
export interface Bar {
  label: string;
  value: number;
  /** Series name; bars of a group share a label prefix. */
  series?: string;
}

/** A horizontal bar chart as standalone SVG (no browser, no native deps). */
export function barChart(title: string, unit: string, bars: Bar[], log = false): string {
  const width = 760;
  const rowH = 26;
  const left = 300;
  const top = 40;
  const height = top + bars.length * rowH + 30;
  const max = Math.max(...bars.map((b) => b.value), 1e-9);
  const min = Math.min(...bars.map((b) => (b.value > 0 ? b.value : max)));
  const scale = (v: number) => {
    if (!log) return ((width - left - 90) * v) / max;
    const lo = Math.log10(min) - 0.3;
    return ((width - left - 90) * (Math.log10(Math.max(v, min)) - lo)) / (Math.log10(max) - lo);
  };
  const colors = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948'];
  const seriesNames = [...new Set(bars.map((b) => b.series ?? ''))];
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const rows = bars.map((b, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, scale(b.value));
    const color = colors[seriesNames.indexOf(b.series ?? '') % colors.length];
    const text = b.value >= 100 ? b.value.toFixed(0) : b.value >= 1 ? b.value.toFixed(2) : b.value.toPrecision(2);
    return `<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(b.label)}</text>` +
      `<rect x="${left}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${color}"/>` +
      `<text x="${left + w + 6}" y="${y + 17}">${text} ${esc(unit)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}${log ? ' (log scale)' : ''}</text>` +
    rows.join('') + '</svg>\n';
}

/** What a benchmark writes: JSON results, a chart and a markdown page (plus any extra charts the page shows). */
export interface BenchPage {
  readonly name: string;
  readonly result: unknown;
  readonly svg: string;
  readonly markdown: string;
  readonly extraCharts?: Readonly<Record<string, string>>;
}

/** Writes `<name>.json`, `.svg`, `.md` (and extra `<chart>.svg` files) into `outDir`. */
export function writeResults(outDir: string, page: BenchPage): { json: string; svg: string; md: string } {
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, `${page.name}.json`);
  const chart = join(outDir, `${page.name}.svg`);
  const md = join(outDir, `${page.name}.md`);
  writeFileSync(json, JSON.stringify(page.result, null, 2) + '\n');
  writeFileSync(chart, page.svg);
  writeFileSync(md, page.markdown);
  for (const [name, svg] of Object.entries(page.extraCharts ?? {})) writeFileSync(join(outDir, `${name}.svg`), svg);
  return { json, svg: chart, md };
}

/** A markdown table. */
export function mdTable(headers: string[], rows: (string | number)[][]): string {
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n') + '\n';
}

/** The machine block of a results page. */
export function mdMachine(m: Record<string, string | number>): string {
  return `Measured on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), ${m.platform}, Node.js ${m.node}, ${m.date}. ` +
    'Shared machines are noisy: read the ratios (both sides measured in the same run), not the absolute times.\n';
}
