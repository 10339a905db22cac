#!/usr/bin/env node
// The symbol gate on prebuilt binaries: every binary under <package>/prebuilds/
// is for the architecture its folder names, is stripped, and asks for no
// glibc newer than 2.31 (and, where libstdc++ is linked dynamically, no
// GLIBCXX newer than 3.4.28, GCC 10's); every package carries both
// linux-x64-glibc and linux-arm64-glibc. Run on packages in the workspace (a
// package's prepack) and on unpacked tarballs (the consumer test).
//
// Usage: node scripts/check-prebuilds.mjs [package dir...]   (default: .)
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The newest version of each library a binary may ask for. */
const FLOOR = { GLIBC: '2.31', GLIBCXX: '3.4.28', GCC: '7.0.0' };
const TAGS = { 'linux-x64-glibc': 'Advanced Micro Devices X86-64', 'linux-arm64-glibc': 'AArch64' };

const newer = (a, b) => {
  const x = a.split('.').map(Number), y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
};
const readelf = (args, file) => execFileSync('readelf', [...args, '-W', file], { encoding: 'utf8', maxBuffer: 64 << 20 });

function problemsOf(file, tag) {
  const problems = [];
  const machine = /Machine:\s+(.*)/.exec(readelf(['-h'], file))?.[1].trim();
  if (machine !== TAGS[tag]) problems.push(`is for ${machine}, the folder says ${tag}`);
  if (/\.symtab\b/.test(readelf(['-S'], file))) problems.push('is not stripped');
  for (const [, lib, version] of readelf(['-V'], file).matchAll(/Name: (GLIBC|GLIBCXX|GCC)_([0-9.]+)/g)) {
    if (newer(version, FLOOR[lib])) problems.push(`needs ${lib}_${version} (at most ${lib}_${FLOOR[lib]})`);
  }
  return [...new Set(problems)];
}

const packages = process.argv.length > 2 ? process.argv.slice(2) : ['.'];
const problems = [];
let checked = 0;
for (const pkg of packages) {
  const dir = join(pkg, 'prebuilds');
  const names = {};
  for (const tag of Object.keys(TAGS)) {
    if (!existsSync(join(dir, tag))) {
      problems.push(`${relative('.', dir) || '.'}/${tag}: missing (run scripts/prebuild)`);
      continue;
    }
    names[tag] = readdirSync(join(dir, tag)).filter((n) => n.endsWith('.node'));
    if (names[tag].length === 0) problems.push(`${join(dir, tag)}: no .node addon`);
    for (const name of readdirSync(join(dir, tag))) {
      checked++;
      for (const p of problemsOf(join(dir, tag, name), tag)) problems.push(`${join(dir, tag, name)} ${p}`);
    }
  }
  for (const tag of Object.keys(TAGS)) {
    for (const n of names['linux-x64-glibc'] ?? []) if (names[tag] && !names[tag].includes(n)) problems.push(`${join(dir, tag)}: no ${n}`);
  }
}
if (problems.length) {
  console.error(`prebuilt binaries fail the gate (glibc <= ${FLOOR.GLIBC}, both architectures, stripped):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`${checked} prebuilt binaries in ${packages.length} package(s): glibc <= ${FLOOR.GLIBC}, GLIBCXX <= ${FLOOR.GLIBCXX}, stripped, architecture as named`);
