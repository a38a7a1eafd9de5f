// The page in the benchmark: drives the built page (pkg/) in headless Chromium on the CPU
// backend and adds its figures to the native benchmark's JSON, with their ratios:
//   node scripts/bench-page.mjs bench.json
// - epoch ms of the default cVAE and SAMS-VAE on the sample (30 epochs, as the native cases):
//   the mean, the steady epoch (the median after the first ten, while V8 compiles the hot wasm
//   code with its optimising tier) and that warm-up's cost; and the scoring time of those runs,
//   from the page's own clock;
// - the first scoreboard: seconds from opening a link that trains the default cVAE on the
//   sample (autorun) to its scores on screen;
// - the wasm download: raw, gzip and brotli bytes of pkg/cellshift_bg.wasm;
// - cost growth: epoch time and wasm memory of the default cVAE on generated data of 1k and 10k
//   cells × 100 and 500 genes, beside the native table's;
// - Train all: the wall clock of training and scoring the default cVAE and SAMS-VAE on the
//   sample one after another (two ordinary runs with Train) against both at once (Train all,
//   a worker each), and the speed-up; and the same for SAMS-VAE and its mean-field guide, two
//   models that take about as long, where the longer one bounds the speed-up less.
// Figures, not pass/fail: a shared machine's timings move by 15% between runs.
// `--only train-all` measures Train all alone, `--only models` the sample's epochs and scoring
// alone, and adds them to the page's figures already in the file.

import { existsSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import * as h from '../tests/e2e/harness.mjs';

const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1] : null;
if (only !== null && only !== 'train-all' && only !== 'models') throw new Error(`--only takes train-all or models (got ${only})`);
const out = args[0] ?? 'bench.json';
const EPOCHS = 30;
/** Epochs a steady figure leaves out: V8 tiers the hot wasm code up during about the first ten. */
const WARM_EPOCHS = 10;
/**
 * The models Train all is timed with, at their defaults: the two the page ticks first (the
 * longer one bounds the speed-up), and every model, which keeps two workers busy to the end.
 */
const TRAIN_ALL_MODELS = ['cvae', 'sams'];
const TRAIN_ALL_EVERY = ['cvae', 'sams', 'sams-mf', 'cpa', 'svae-plus'];

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
    // The engine's training clock at each epoch's report.
    const clock = events.filter((e) => e.type === 'progress' && typeof e.seconds === 'number').map((e) => e.seconds);
    return { evaluating: last('evaluating'), results: last('results'), clock };
  });
  await page.close();
  const epochs = results.train.epochs;
  const epochMs = t.clock.map((s, i) => (s - (i > 0 ? t.clock[i - 1] : 0)) * 1000);
  const steady = steadyMs(epochMs);
  return {
    model,
    epochs,
    train_s: results.train.seconds,
    ms_per_epoch: (results.train.seconds * 1000) / epochs,
    ms_per_epoch_steady: steady,
    // What the first epochs cost beyond steady ones: V8 runs new wasm code with its baseline
    // compiler (Liftoff) and compiles the hot functions with its optimising one as they warm.
    warm_up_s: steady === null ? null : epochMs.slice(0, WARM_EPOCHS).reduce((n, ms) => n + ms - steady, 0) / 1000,
    epoch_ms: epochMs,
    scoring_s: t.evaluating !== null && t.results !== null ? (t.results - t.evaluating) / 1000 : null,
  };
}

/** The median epoch after the first WARM_EPOCHS, as the native benchmark's `ms_per_epoch_steady`. */
function steadyMs(epochMs) {
  const rest = epochMs.length > WARM_EPOCHS ? epochMs.slice(WARM_EPOCHS) : epochMs;
  if (rest.length === 0) return null;
  const v = [...rest].sort((a, b) => a - b);
  const n = v.length;
  return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
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

/**
 * Training and scoring `models` at their defaults on the sample (CPU), on one page: first one
 * after another with Train (the wall clock from each click to its results, summed), then all at
 * once with Train all (from its click to the last model's results). Each model's own figures of
 * both ways are kept, so a shortfall can be told apart: the longest model bounds Train all's wall
 * clock, and workers sharing the cores make each model slower than alone.
 */
async function trainAllSpeedup(browser, baseUrl, models) {
  // Other work on the machine takes cores from the workers: the load says how much there was.
  const loadBefore = loadavg()[0];
  const page = await h.openPage(browser, baseUrl);
  await h.waitIdleWithData(page);
  await h.setSettings(page, { backend: 'cpu' });
  const alone = [];
  for (const model of models) {
    await h.setSettings(page, { model });
    const clickedAt = await page.evaluate(() => {
      const t = performance.now();
      document.querySelector('[data-testid="train"]').click();
      return t;
    });
    const results = await h.waitForScores(page, 900_000);
    const t = await page.evaluate(() => {
      const events = window.__cellshift.events;
      const last = (type) => [...events].reverse().find((e) => e.type === type && !e.trainAll)?.t ?? null;
      return { evaluating: last('evaluating'), results: last('results') };
    });
    const scoring = (t.results - t.evaluating) / 1000;
    // A default run from a click, as a user makes it: what its scoreboard costs against its training.
    alone.push({ model, epochs: results.train.epochs, train_s: results.train.seconds, scoring_s: scoring, scoring_share_of_training: scoring / results.train.seconds, wall_s: (t.results - clickedAt) / 1000 });
  }
  await page.evaluate((models) => {
    for (const box of document.querySelectorAll('#train-all-models input')) {
      box.checked = models.includes(box.value);
      box.dispatchEvent(new Event('change'));
    }
    document.querySelector('[data-testid="train-all"]').click();
  }, models);
  await page.waitForFunction(() => window.__cellshift.phase === 'idle' && window.__cellshift.trainAll?.running === false, null, { timeout: 900_000, polling: 200 });
  const all = await page.evaluate(() => window.__cellshift.trainAll);
  await page.close();
  const failed = all.models.filter((m) => m.state !== 'done');
  if (failed.length) throw new Error(`Train all did not score ${failed.map((m) => `${m.model} (${m.state}: ${m.error})`).join(', ')}`);
  const sequential = alone.reduce((n, m) => n + m.wall_s, 0);
  const longest = Math.max(...alone.map((m) => m.wall_s));
  return {
    models,
    workers: all.pool,
    sequential_s: sequential,
    train_all_s: all.wallSeconds,
    speedup: sequential / all.wallSeconds,
    // What the longest model alone allows: Train all cannot end before it.
    speedup_bound: sequential / longest,
    alone,
    together: all.models.map((m) => ({ model: m.model, epochs: m.epoch, setup_s: m.setupSeconds, train_s: m.trainSeconds, scoring_s: m.scoringSeconds, end_s: m.endSeconds })),
    load_average: [loadBefore, loadavg()[0]],
  };
}

/** Prints the Train all figures. */
function printTrainAll(t) {
  console.log(`\nTrain all (${t.models.join(' + ')} at their defaults on the sample, ${t.workers} workers; wall clock from click to the last results)`);
  console.log('model   epochs  alone: train s  scoring s  scoring/train  click→results s   together: worker+data s  train s  scoring s  click→results s');
  for (const a of t.alone) {
    const b = t.together.find((x) => x.model === a.model);
    console.log(
      `${a.model.padEnd(7)} ${String(a.epochs).padStart(6)} ${f(a.train_s).padStart(15)} ${f(a.scoring_s).padStart(10)} ${`${f(100 * a.scoring_share_of_training)}%`.padStart(14)} ${f(a.wall_s).padStart(16)} ${f(b?.setup_s, 2).padStart(24)} ${f(b?.train_s).padStart(8)} ${f(b?.scoring_s).padStart(10)} ${f(b?.end_s).padStart(16)}`,
    );
  }
  console.log(`one after another: ${f(t.sequential_s)} s; Train all: ${f(t.train_all_s)} s; speed-up ${f(t.speedup, 2)}× (the longest model alone bounds it at ${f(t.speedup_bound, 2)}×); load average ${f(t.load_average[0], 2)} before, ${f(t.load_average[1], 2)} after`);
}

/** Train all timed with both sets of models: the page report's `train_all` fields. */
async function trainAllFigures(browser, baseUrl) {
  return {
    train_all: await trainAllSpeedup(browser, baseUrl, TRAIN_ALL_MODELS),
    train_all_every_model: await trainAllSpeedup(browser, baseUrl, TRAIN_ALL_EVERY),
  };
}

/** The report in `out` so far (the native figures), or an empty one when `out` has none. */
async function readReport(alone) {
  try {
    return JSON.parse(await readFile(out, 'utf8'));
  } catch {
    console.log(`NOTICE: ${out} has no figures yet; writing ${alone} alone`);
    return {};
  }
}

/** The native case of the same model on the sample (the native cases' first rows). */
const nativeCase = (report, model) => report.cases?.find((c) => c.dataset === 'sample' && c.model === model);

/** Page against native, same model, data and settings. */
function pageVsNative(report, models) {
  return Object.fromEntries(
    models.map((m) => {
      const n = nativeCase(report, m.model);
      return [
        m.model,
        n
          ? {
              epoch_ratio: m.ms_per_epoch / n.ms_per_epoch,
              steady_epoch_ratio: m.ms_per_epoch_steady !== null && n.ms_per_epoch_steady ? m.ms_per_epoch_steady / n.ms_per_epoch_steady : null,
              scoring_ratio: m.scoring_s !== null ? (m.scoring_s * 1000) / n.evaluate_ms : null,
            }
          : null,
      ];
    }),
  );
}

const f = (v, d = 1) => (v === null || v === undefined ? '—' : v.toFixed(d));

/** Prints the sample's epoch and scoring figures beside the native ones. */
function printModels(report, models) {
  console.log(`model  ms/epoch  native  ×native   steady  native  ×native  warm-up s  scoring s  native s  ×native   (${EPOCHS} epochs; steady: the median epoch after the first ${WARM_EPOCHS})`);
  for (const m of models) {
    const n = nativeCase(report, m.model);
    const r = report.page_vs_native?.[m.model];
    console.log(
      `${m.model.padEnd(6)} ${f(m.ms_per_epoch).padStart(8)} ${f(n?.ms_per_epoch).padStart(7)} ${f(r?.epoch_ratio, 2).padStart(8)} ${f(m.ms_per_epoch_steady).padStart(8)} ${f(n?.ms_per_epoch_steady).padStart(7)} ${f(r?.steady_epoch_ratio, 2).padStart(8)} ${f(m.warm_up_s, 2).padStart(10)} ${f(m.scoring_s, 2).padStart(10)} ${f(n ? n.evaluate_ms / 1000 : null, 2).padStart(9)} ${f(r?.scoring_ratio, 2).padStart(8)}`,
    );
  }
}

if (only === 'models') {
  const { baseUrl, browser } = await h.startSuite();
  const models = [];
  try {
    for (const model of ['cvae', 'sams']) models.push(await timeModel(browser, baseUrl, model));
  } finally {
    await h.stopSuite(browser);
  }
  const report = await readReport("the sample's page figures");
  report.page = { ...(report.page ?? {}), models };
  report.page_vs_native = pageVsNative(report, models);
  await writeFile(out, JSON.stringify(report, null, 2));
  printModels(report, models);
  console.log(`wrote ${out}`);
  process.exit(0);
}

if (only === 'train-all') {
  const { baseUrl, browser } = await h.startSuite();
  let figures;
  try {
    figures = await trainAllFigures(browser, baseUrl);
  } finally {
    await h.stopSuite(browser);
  }
  const report = await readReport("Train all's");
  report.page = { ...(report.page ?? {}), ...figures };
  await writeFile(out, JSON.stringify(report, null, 2));
  printTrainAll(figures.train_all);
  printTrainAll(figures.train_all_every_model);
  console.log(`wrote ${out}`);
  process.exit(0);
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
  const trainAll = await trainAllFigures(browser, baseUrl);
  pageReport = { backend: 'flex (CPU, wasm) in headless Chromium', epochs: EPOCHS, models, first_scoreboard: first, wasm_bytes: wasm, growth, ...trainAll };
} finally {
  await h.stopSuite(browser);
}

const report = await readReport("the page's figures");
const page = pageReport;
const first = page.first_scoreboard;
report.page = page;
report.page_vs_native = pageVsNative(report, page.models);
for (const g of page.growth) {
  // The native table's case of the same size (its generated data has about as many cells).
  const n = report.growth?.find((x) => x.genes === g.genes && Math.abs(x.cells - g.cells) / g.cells < 0.01);
  g.native_ms_per_epoch = n?.ms_per_epoch ?? null;
  g.epoch_ratio = n ? g.ms_per_epoch / n.ms_per_epoch : null;
}
await writeFile(out, JSON.stringify(report, null, 2));

console.log(`\nthe page (${page.backend})`);
printModels(report, page.models);
console.log(`first scoreboard from a link (default cVAE on the sample, ${first.epochs} epochs): ${f(first.seconds)} s, of which training ${f(first.train_s)} s`);
console.log('\ncost growth in the page (default cVAE, generated data; mean of 2 epochs, the first included)');
console.log('  cells  genes  ms/epoch  native  ×native  wasm memory MiB');
for (const g of page.growth) {
  console.log(`${String(g.cells).padStart(7)} ${String(g.genes).padStart(6)} ${f(g.ms_per_epoch, 0).padStart(9)} ${f(g.native_ms_per_epoch, 0).padStart(7)} ${f(g.epoch_ratio, 2).padStart(8)} ${f(g.wasm_memory_mib, 0).padStart(16)}`);
}
printTrainAll(page.train_all);
printTrainAll(page.train_all_every_model);
const mb = (b) => (b / 1e6).toFixed(1);
console.log(`wasm: ${mb(page.wasm_bytes.raw)} MB, ${mb(page.wasm_bytes.gzip)} MB gzip, ${mb(page.wasm_bytes.brotli)} MB brotli`);
console.log(`wrote ${out}`);
