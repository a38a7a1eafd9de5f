// The page in the benchmark: drives the built page (pkg/) in headless Chromium on the CPU
// backend and adds its figures to the native benchmark's JSON, with their ratios:
//   node scripts/bench-page.mjs bench.json
// - epoch ms of the default cVAE and SAMS-VAE on the sample (30 epochs, as the native cases),
//   and the scoring time of those runs, from the page's own clock;
// - the first scoreboard: seconds from opening a link that trains the default cVAE on the
//   sample (autorun) to its scores on screen;
// - the wasm download: raw, gzip and brotli bytes of pkg/cellshift_bg.wasm;
// - cost growth: epoch time and wasm memory of the default cVAE on generated data of 1k and 10k
//   cells × 100 and 500 genes, beside the native table's.
// Figures, not pass/fail: a shared machine's timings move by 15% between runs.

import { existsSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import * as h from '../tests/e2e/harness.mjs';

const out = process.argv[2] ?? 'bench.json';
const EPOCHS = 30;

/** Bytes of the wasm as served: the pre-compressed copies when the build made them. */
async function wasmBytes() {
  const path = join(h.ROOT, 'pkg/cellshift_bg.wasm');
  const raw = await readFile(path);
  const size = (p, make) => (existsSync(p) ? statSync(p).size : make().length);
  return {
    raw: raw.length,
    gzip: size(`${path}.gz`, () => gzipSync(raw, { level: 9 })),
    brotli: size(`${path}.br`, () => brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 9 } })),
  };
}

/** Trains `model` for EPOCHS epochs on the sample and reads the page's clock. */
async function timeModel(browser, baseUrl, model) {
  const page = await h.openPage(browser, baseUrl);
  await h.waitIdleWithData(page);
  await page.locator('#advanced > summary').click();
  await h.setSettings(page, { model, epochs: EPOCHS, patience: 0, seed: 0, backend: 'cpu' });
  const results = await h.train(page, 900_000);
  const t = await page.evaluate(() => {
    const events = window.__cellshift.events;
    const last = (type) => [...events].reverse().find((e) => e.type === type)?.t ?? null;
    return { evaluating: last('evaluating'), results: last('results') };
  });
  await page.close();
  const epochs = results.train.epochs;
  return {
    model,
    epochs,
    train_s: results.train.seconds,
    ms_per_epoch: (results.train.seconds * 1000) / epochs,
    scoring_s: t.evaluating !== null && t.results !== null ? (t.results - t.evaluating) / 1000 : null,
  };
}

/**
 * A seeded CSV of `cells` × `genes` counts: 40% controls and four perturbations, each raising a
 * tenth of the genes (geometric counts around a per-gene mean). Only its size matters here.
 */
function growthCsv(cells, genes) {
  let x = 0x2545f491;
  const uniform = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) + 0.5) / 4294967296;
  };
  const base = Array.from({ length: genes }, () => 0.5 + 8 * uniform());
  const labels = ['control', 'A', 'B', 'C', 'D'];
  const lines = [['condition', ...Array.from({ length: genes }, (_, g) => `g${g}`)].join(',')];
  for (let i = 0; i < cells; i++) {
    const u = uniform();
    const k = u < 0.4 ? 0 : 1 + Math.min(3, Math.floor((u - 0.4) / 0.15));
    const row = [labels[k]];
    for (let g = 0; g < genes; g++) {
      const mean = base[g] * (k > 0 && g % 10 === k ? 3 : 1);
      row.push(Math.floor(-Math.log(uniform()) * mean));
    }
    lines.push(row.join(','));
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

/** One growth case in the page: two epochs of the default cVAE on generated data, scored cheaply. */
async function growthCase(browser, baseUrl, cells, genes) {
  const page = await h.openPage(browser, baseUrl);
  await h.waitIdleWithData(page);
  await page.locator(h.tid('file-input')).setInputFiles({ name: `growth-${cells}x${genes}.csv`, mimeType: 'text/csv', buffer: growthCsv(cells, genes) });
  await page.waitForFunction((n) => window.__cellshift?.phase === 'idle' && window.__cellshift.summary?.cells === n, cells, { timeout: 300_000 });
  await page.locator('#advanced > summary').click();
  await h.setSettings(page, { genes, epochs: 2, patience: 0, seed: 0, 'iwelbo-particles': 1, 'ate-samples': 1, backend: 'cpu' });
  const results = await h.train(page, 900_000);
  const memory = await page.evaluate(() => [...window.__cellshift.events].reverse().find((e) => e.type === 'results')?.memoryBytes ?? null);
  await page.close();
  return { cells, genes, ms_per_epoch: (results.train.seconds * 1000) / results.train.epochs, wasm_memory_mib: memory === null ? null : memory / 2 ** 20 };
}

/** Seconds from opening a link that trains the default cVAE on the sample to its scores. */
async function firstScoreboard(browser, baseUrl) {
  const page = await h.openPage(browser, `${baseUrl}#data=sample&sample_seed=7&model=cvae&backend=cpu&autorun=1`);
  await h.waitForScores(page, 900_000);
  const s = await page.evaluate(() => {
    const e = window.__cellshift.events.find((x) => x.type === 'results');
    return e ? e.t / 1000 : null;
  });
  const results = await page.evaluate(() => window.__cellshift.results);
  await page.close();
  return { seconds: s, epochs: results.train.epochs, train_s: results.train.seconds };
}

const { baseUrl, browser } = await h.startSuite();
let pageReport;
try {
  const wasm = await wasmBytes();
  const models = [];
  for (const model of ['cvae', 'sams']) models.push(await timeModel(browser, baseUrl, model));
  const first = await firstScoreboard(browser, baseUrl);
  const growth = [];
  for (const genes of [100, 500]) for (const cells of [1_000, 10_000]) growth.push(await growthCase(browser, baseUrl, cells, genes));
  pageReport = { backend: 'flex (CPU, wasm) in headless Chromium', epochs: EPOCHS, models, first_scoreboard: first, wasm_bytes: wasm, growth };
} finally {
  await h.stopSuite(browser);
}

let report = {};
try {
  report = JSON.parse(await readFile(out, 'utf8'));
} catch {
  console.log(`NOTICE: ${out} has no native figures yet; writing the page's alone`);
}
const page = pageReport;
const first = page.first_scoreboard;
report.page = page;
// Page against native, same model, data and settings (the native cases' first rows).
const native = (model) => report.cases?.find((c) => c.dataset === 'sample' && c.model === model);
report.page_vs_native = Object.fromEntries(
  page.models.map((m) => {
    const n = native(m.model);
    return [m.model, n ? { epoch_ratio: m.ms_per_epoch / n.ms_per_epoch, scoring_ratio: m.scoring_s !== null ? (m.scoring_s * 1000) / n.evaluate_ms : null } : null];
  }),
);
await writeFile(out, JSON.stringify(report, null, 2));

const f = (v, d = 1) => (v === null || v === undefined ? '—' : v.toFixed(d));
console.log(`\nthe page (${page.backend})`);
console.log('model  ms/epoch  native  ×native  scoring s  native s  ×native');
for (const m of page.models) {
  const n = native(m.model);
  const r = report.page_vs_native[m.model];
  console.log(
    `${m.model.padEnd(6)} ${f(m.ms_per_epoch).padStart(8)} ${f(n?.ms_per_epoch).padStart(7)} ${f(r?.epoch_ratio, 2).padStart(8)} ${f(m.scoring_s, 2).padStart(10)} ${f(n ? n.evaluate_ms / 1000 : null, 2).padStart(9)} ${f(r?.scoring_ratio, 2).padStart(8)}`,
  );
}
console.log(`first scoreboard from a link (default cVAE on the sample, ${first.epochs} epochs): ${f(first.seconds)} s, of which training ${f(first.train_s)} s`);
console.log('\ncost growth in the page (default cVAE, generated data; mean of 2 epochs, the first included)');
console.log('  cells  genes  ms/epoch  native  ×native  wasm memory MiB');
for (const g of page.growth) {
  // The native table's case of the same size (its generated data has about as many cells).
  const n = report.growth?.find((x) => x.genes === g.genes && Math.abs(x.cells - g.cells) / g.cells < 0.01);
  g.native_ms_per_epoch = n?.ms_per_epoch ?? null;
  g.epoch_ratio = n ? g.ms_per_epoch / n.ms_per_epoch : null;
  console.log(`${String(g.cells).padStart(7)} ${String(g.genes).padStart(6)} ${f(g.ms_per_epoch, 0).padStart(9)} ${f(g.native_ms_per_epoch, 0).padStart(7)} ${f(g.epoch_ratio, 2).padStart(8)} ${f(g.wasm_memory_mib, 0).padStart(16)}`);
}
await writeFile(out, JSON.stringify(report, null, 2));
const mb = (b) => (b / 1e6).toFixed(1);
console.log(`wasm: ${mb(page.wasm_bytes.raw)} MB, ${mb(page.wasm_bytes.gzip)} MB gzip, ${mb(page.wasm_bytes.brotli)} MB brotli`);
console.log(`wrote ${out}`);
