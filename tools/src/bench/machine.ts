/**
 * Facts about the machine and the process a result came from: CPU, cores,
 * memory, Node.js, peak RSS; and the sentence every page prints about them.
 * @module
 */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

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

/** The machine block of a results page. */
export function mdMachine(m: Record<string, string | number>): string {
  return `Measured on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), ${m.platform}, Node.js ${m.node}, ${m.date}. ` +
    'Shared machines are noisy: read the ratios (both sides measured in the same run), not the absolute times.\n';
}
