// CommonJS apps: every installed @weightkit package loads with require().
const { readdirSync } = require('node:fs');
const { join } = require('node:path');
const installed = readdirSync(join(__dirname, 'node_modules', '@weightkit'));
for (const name of installed) {
  const m = require(`@weightkit/${name}`);
  if (Object.keys(m).length === 0) throw new Error(`@weightkit/${name} exports nothing through require()`);
  console.log(`require('@weightkit/${name}'): ${Object.keys(m).length} exports`);
}
const { openNamedDataMap } = require('@weightkit/core');
openNamedDataMap(require.resolve('@vladmandic/face-api/model/face_recognition_model-weights_manifest.json')).then((map) => {
  console.log(`opened ${map.keys().length} tensors through require()`);
  map.close();
});
