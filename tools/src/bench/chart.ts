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

/** One line of a log-log chart: points (x, y), both positive. */
export interface LogLogSeries {
  name: string;
  points: readonly (readonly [number, number])[];
}

/** A log-log line chart as standalone SVG: decades on both axes, one colour per series, a legend. */
export function logLogChart(title: string, xLabel: string, yLabel: string, series: readonly LogLogSeries[], xTick: (x: number) => string = String): string {
  const width = 760, height = 460, left = 70, right = 200, top = 40, bottom = 50;
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && y > 0);
  const lx = (v: number) => Math.log10(v);
  const x0 = Math.floor(lx(Math.min(...pts.map((p) => p[0])))), x1 = Math.ceil(lx(Math.max(...pts.map((p) => p[0]))));
  const y0 = Math.floor(lx(Math.min(...pts.map((p) => p[1])))), y1 = Math.ceil(lx(Math.max(...pts.map((p) => p[1]))));
  const px = (x: number) => left + ((width - left - right) * (lx(x) - x0)) / Math.max(1, x1 - x0);
  const py = (y: number) => height - bottom - ((height - top - bottom) * (lx(y) - y0)) / Math.max(1, y1 - y0);
  const colors = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7'];
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const grid: string[] = [];
  for (let d = x0; d <= x1; d++) {
    grid.push(`<line x1="${px(10 ** d)}" y1="${top}" x2="${px(10 ** d)}" y2="${height - bottom}" stroke="#ddd"/>` +
      `<text x="${px(10 ** d)}" y="${height - bottom + 16}" text-anchor="middle">${esc(xTick(10 ** d))}</text>`);
  }
  for (let d = y0; d <= y1; d++) {
    grid.push(`<line x1="${left}" y1="${py(10 ** d)}" x2="${width - right}" y2="${py(10 ** d)}" stroke="#ddd"/>` +
      `<text x="${left - 6}" y="${py(10 ** d) + 4}" text-anchor="end">${10 ** d >= 1 ? 10 ** d : (10 ** d).toPrecision(1)}</text>`);
  }
  const lines = series.map((s, i) => {
    const c = colors[i % colors.length];
    const p = s.points.filter(([x, y]) => x > 0 && y > 0);
    return `<polyline fill="none" stroke="${c}" stroke-width="2" points="${p.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>` +
      p.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${c}"/>`).join('') +
      `<rect x="${width - right + 12}" y="${top + i * 20}" width="12" height="12" fill="${c}"/>` +
      `<text x="${width - right + 30}" y="${top + i * 20 + 11}">${esc(s.name)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>` + grid.join('') + lines.join('') +
    `<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel)} (log)</text>` +
    `<text x="16" y="${(top + height - bottom) / 2}" transform="rotate(-90 16 ${(top + height - bottom) / 2})" text-anchor="middle">${esc(yLabel)} (log)</text>` +
    '</svg>\n';
}
