/** Benchmark charts as standalone SVG (no browser, no native dependencies). @module */

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
