/**
 * What one load costs in system calls and C heap allocations, counted by
 * difference: a Node.js child run with `base` loads and with `base + extra`
 * loads; everything the runtime does at start and exit cancels out.
 *
 * System calls by `strace -f -c`; malloc/calloc/realloc calls by `perf stat`
 * on uprobes of the C library (needs perf and root; the probes this adds are
 * removed again). Either is left out, with the reason, where its tool is not here.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CallCounts {
  /** System calls per load, by name, most first; undefined with `syscallsNote` when strace is missing. */
  syscalls?: { name: string; perLoad: number }[];
  syscallsNote?: string;
  /** C heap allocations (malloc + calloc + realloc) per load; undefined with `mallocsNote` where perf cannot count them. */
  mallocs?: number;
  mallocsNote?: string;
}

const ok = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });

function straceCounts(node: string[], file: string): Map<string, number> {
  const r = ok('strace', ['-f', '-c', '-o', file, ...node]);
  if (r.status !== 0) throw new Error(`strace ${node.join(' ')} failed: ${r.stderr}`);
  const counts = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    // "% time  seconds  usecs/call  calls  [errors]  syscall"
    const f = line.trim().split(/\s+/);
    if (f.length >= 5 && /^\d/.test(f[0]!) && f[f.length - 1] !== 'total') counts.set(f[f.length - 1]!, Number(f[3]));
  }
  return counts;
}

const LIBC_CANDIDATES = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib/aarch64-linux-gnu/libc.so.6', '/usr/lib64/libc.so.6'];
const ALLOCATORS = ['malloc', 'calloc', 'realloc'];

/** Adds the allocator uprobes that are missing; returns the ones added (to remove) or why it cannot. */
function addProbes(): { added: string[] } | { note: string } {
  if (process.getuid?.() !== 0) return { note: 'not counted: uprobes need root' };
  const libc = LIBC_CANDIDATES.find((p) => ok('test', ['-e', p]).status === 0);
  if (!libc) return { note: 'not counted: the C library was not found' };
  if (ok('perf', ['--version']).status !== 0) return { note: 'not counted: perf is not installed' };
  const have = ok('perf', ['probe', '-l']).stdout ?? '';
  const added: string[] = [];
  for (const fn of ALLOCATORS) {
    if (have.includes(`probe_libc:${fn} `)) continue;
    if (ok('perf', ['probe', '-q', '-x', libc, '--add', fn]).status !== 0) return { note: 'not counted: perf probe could not add uprobes' };
    added.push(fn);
  }
  return { added };
}

function mallocCount(node: string[]): number {
  const r = ok('perf', ['stat', '-x,', ...ALLOCATORS.flatMap((fn) => ['-e', `probe_libc:${fn}`]), ...node]);
  if (r.status !== 0) throw new Error(`perf stat ${node.join(' ')} failed: ${r.stderr}`);
  return r.stderr.split('\n').filter((l) => l.includes('probe_libc:')).reduce((a, l) => a + Number(l.split(',')[0]), 0);
}

/** Counts per load for `node script ...argsFor(loads)`, by the difference of `base` and `base + extra` loads. */
export function callsPerLoad(script: string, argsFor: (loads: number) => string[], base = 1, extra = 100): CallCounts {
  const node = (loads: number) => [process.execPath, script, ...argsFor(loads)];
  const out: CallCounts = {};
  if (ok('strace', ['-V']).status === 0) {
    const dir = mkdtempSync(join(tmpdir(), 'wk-strace-'));
    try {
      const a = straceCounts(node(base), join(dir, 'a'));
      const b = straceCounts(node(base + extra), join(dir, 'b'));
      out.syscalls = [...b].map(([name, n]) => ({ name, perLoad: (n - (a.get(name) ?? 0)) / extra }))
        .filter((s) => s.perLoad >= 0.05).sort((x, y) => y.perLoad - x.perLoad);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    out.syscallsNote = 'not counted: strace is not installed';
  }
  const probes = addProbes();
  if ('note' in probes) {
    out.mallocsNote = probes.note;
  } else {
    try {
      out.mallocs = (mallocCount(node(base + extra)) - mallocCount(node(base))) / extra;
    } finally {
      for (const fn of probes.added) ok('perf', ['probe', '-q', '-d', `probe_libc:${fn}`]);
    }
  }
  return out;
}
