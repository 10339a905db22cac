/**
 * Benchmark targets, declared once per benchmark: the same declaration
 * decides whether a figure meets its target and prints the target column of
 * the results page, so the check and the page can never disagree.
 * @module
 */

/** One target: a bound on a measured figure. */
export interface Target {
  /** What the figure is, as the results page names it. */
  readonly label: string;
  readonly max?: number;
  readonly min?: number;
  /** How the bound prints: a ratio as a percentage (`pct`), a factor (`x`), or plain. */
  readonly unit?: 'pct' | 'x' | 'ms' | 'ns' | 'bytes';
}

export type Targets<K extends string> = Readonly<Record<K, Target>>;

/** True when `value` is within every bound of `t`. */
export function meets(t: Target, value: number): boolean {
  return (t.max === undefined || value <= t.max) && (t.min === undefined || value >= t.min);
}

function bound(v: number, unit: Target['unit']): string {
  if (unit === 'pct') return `${+(v * 100).toPrecision(3)}%`;
  if (unit === 'x') return `${v}x`;
  if (unit === 'ms') return `${v} ms`;
  if (unit === 'ns') return `${v} ns`;
  return String(v);
}

/** The target column: `<= 1%`, `>= 50%`, `0`... */
export function targetText(t: Target): string {
  if (t.max !== undefined && t.min !== undefined) return t.max === t.min ? bound(t.max, t.unit) : `${bound(t.min, t.unit)} to ${bound(t.max, t.unit)}`;
  if (t.max !== undefined) return t.max === 0 ? '0' : `<= ${bound(t.max, t.unit)}`;
  if (t.min !== undefined) return `>= ${bound(t.min, t.unit)}`;
  return '';
}

/** Every target's figure and whether it is met, keyed as the targets are. */
export function checkAll<K extends string>(targets: Targets<K>, values: Readonly<Record<K, number>>): Record<K, { value: number; met: boolean }> {
  return Object.fromEntries(Object.entries<Target>(targets).map(([k, t]) => [k, { value: values[k as K], met: meets(t, values[k as K]) }])) as Record<K, { value: number; met: boolean }>;
}
