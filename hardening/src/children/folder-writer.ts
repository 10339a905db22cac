/**
 * Writes the AOTI folder OUT from MODEL_A or MODEL_B (chosen at random)
 * until ROUNDS writes ended (about a third aborted at a random point); a
 * write refused because another writer holds the folder (WK_LOCKED) is
 * counted and tried again a moment later. Prints "<written> <aborted>
 * <locked>" at the end.
 * @module
 */
import { SafetensorsMap } from '@weightkit/core';
import { writeAotiFolder } from '@weightkit/aoti-blob';
import { need } from './env.js';

const maps = [SafetensorsMap.openSync(need('MODEL_A')), SafetensorsMap.openSync(need('MODEL_B'))];
let written = 0, aborted = 0, locked = 0;
while (written + aborted < Number(need('ROUNDS'))) {
  const ac = new AbortController();
  const at = Math.random() < 1 / 3 ? Math.random() : 2;
  try {
    await writeAotiFolder(maps[Math.floor(Math.random() * 2)]!, need('OUT'), {
      signal: ac.signal, onProgress: (done, total) => { if (done >= total * at) ac.abort(new Error('aborted')); },
    });
    written++;
  } catch (e) {
    if ((e as { code?: string }).code === 'WK_LOCKED') {
      locked++;
      await new Promise((r) => setTimeout(r, 1 + Math.random() * 4));
    }
    else if ((e as Error).message === 'aborted') aborted++;
    else throw e;
  }
}
process.stdout.write(`${written} ${aborted} ${locked}\n`);
