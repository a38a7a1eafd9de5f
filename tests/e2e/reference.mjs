// Trains one run on the sample with the page's own engine (pkg/) in Node, outside the browser:
// the reference a page run must reproduce exactly. Usage: node reference.mjs '<settings JSON>' [sample seed]
// where the settings are the flat object the page starts its run with (every key of the settings
// schema). Prints the results JSON.

import { readFileSync } from 'node:fs';

const [settings, sampleSeed = '7'] = process.argv.slice(2);
const glue = await import(new URL('../../pkg/cellshift.js', import.meta.url));
glue.initSync({ module: readFileSync(new URL('../../pkg/cellshift_bg.wasm', import.meta.url)) });
const engine = new glue.Engine();
engine.load_sample(BigInt(sampleSeed));
await engine.init_backend('cpu');
engine.start(JSON.parse(settings));
while (!engine.is_done()) await engine.step();
process.stdout.write(JSON.stringify(await engine.evaluate()));
