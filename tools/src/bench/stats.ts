/** Statistics the benchmarks report: medians (of runs measured in one process or one run). @module */

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The least-squares slope of log(y) against log(x): the exponent k of y ~ x^k (1 = linear, 0 = flat). */
export function logLogSlope(points: readonly (readonly [number, number])[]): number {
  const p = points.filter(([x, y]) => x > 0 && y > 0).map(([x, y]) => [Math.log(x), Math.log(y)] as const);
  const n = p.length;
  if (n < 2) return NaN;
  const mx = p.reduce((a, [x]) => a + x, 0) / n;
  const my = p.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = p.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = p.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx === 0 ? NaN : sxy / sxx;
}
