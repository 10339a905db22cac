// `using` / `await using` on what the installed packages return, under strict settings.
import { createRequire } from 'node:module';
import { openNamedDataMap, WeightkitError } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';

const manifest = createRequire(import.meta.url).resolve('@vladmandic/face-api/model/face_recognition_model-weights_manifest.json');
{
  using map = await openNamedDataMap(manifest);
  await using cache = await PackedWeightsCache.open({ path: '' });
  const ac = new AbortController();
  const r = await cache.packModel(map, { signal: ac.signal });
  console.log(`packed ${r.packed} weights on the heap`);
}
try {
  await openNamedDataMap('/nonexistent/model.safetensors');
} catch (e) {
  if (!(e instanceof WeightkitError) || e.code !== 'WK_NOT_FOUND') throw e;
  console.log(`a missing file is ${e.code}`);
}
