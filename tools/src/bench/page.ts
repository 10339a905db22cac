/**
 * A benchmark's results page: JSON, a chart and markdown, written under
 * docs/bench/ in the repository (./weightkit-bench/ in an app), and the
 * markdown pieces pages share.
 * @module
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
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
