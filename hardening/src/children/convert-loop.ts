/** Converts MODEL to the .pt2 OUT, forever (killed by the parent). @module */
import { SafetensorsMap } from '@weightkit/core';
import { writePt2 } from '@weightkit/aoti-blob';
import { need } from './env.js';

const map = SafetensorsMap.openSync(need('MODEL'));
for (;;) await writePt2(need('OUT'), map);
