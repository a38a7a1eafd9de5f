// End-to-end tests of the page in Debian's Chromium, driven by playwright-core (no browser
// download). Run from tests/e2e: `npm ci && npm test`. Needs pkg/ (scripts/build-wasm.sh) and,
// for the comparison with the command line, target/release/cellshift (cargo build --release
// --features cli).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import * as harness from './harness.mjs';
import { ROOT, assertCanvasesDrawn, assertGuards, canvasInk, launch, screenshot, setSettings, tempDir, tid, train, waitForScores, waitIdleWithData } from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(HERE, 'fixtures');
// The CLI built by `cargo build --release --features cli`, wherever cargo puts its build output.
const CLI = join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'release/cellshift');
const KANG = resolve(ROOT, '../shared/data/kang2018_pbmc_ifnb.csv');
// The bundled copy the page fetches with one click (gzip-compressed, as shipped).
const KANG_BUNDLED = join(ROOT, 'assets/kang2018_pbmc_ifnb.csv.gz');
const run = promisify(execFile);

let baseUrl;
let browser;

/** A guarded page on this suite's server. */
const openPage = (context, url = baseUrl) => harness.openPage(context, url);

/**
 * Every score (pooled and per condition) of two results, equal to ~1e-9. With `crossPlatform`,
 * the trained model's scores may differ slightly: the page's wasm (simd128) and the native CLI
 * (x86 SIMD) round the same float32 kernels differently (first loss differences ~1e-7), and
 * training carries that forward. The baselines are host-side f64 code and stay exact.
 */
const CROSS_PLATFORM = { r: 0.01, jaccard: 0.1, energy: 0.02, iwelbo: 0.01, ate: 0.01 };
function assertSameScores(actual, expected, what, { crossPlatform = false } = {}) {
  assert.deepEqual(Object.keys(actual.scores).sort(), Object.keys(expected.scores).sort(), `${what}: predictors differ`);
  const model = expected.config?.model;
  const close = (a, b, where, tol) => {
    if (a === null || b === null || a === undefined || b === undefined) {
      assert.equal(a ?? null, b ?? null, `${what}: ${where}`);
      return;
    }
    assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${where}: ${a} vs ${b} (tolerance ${tol})`);
  };
  const sets = (s) => [['pooled', s.pooled], ...Object.entries(s.conditions)];
  for (const [name, s] of Object.entries(expected.scores)) {
    const got = actual.scores[name];
    const tol = (kind) => (crossPlatform && name === model ? CROSS_PLATFORM[kind] : 1e-9);
    assert.deepEqual(Object.keys(got.conditions).sort(), Object.keys(s.conditions).sort(), `${what}: ${name} conditions differ`);
    for (const [label, set] of sets(s)) {
      const g = label === 'pooled' ? got.pooled : got.conditions[label];
      close(g.mean_shift_r, set.mean_shift_r, `${name}/${label} mean_shift_r`, tol('r'));
      for (const k of ['25', '50', '100']) close(g.jaccard[k], set.jaccard[k], `${name}/${label} jaccard@${k}`, tol('jaccard'));
      close(g.energy_distance, set.energy_distance, `${name}/${label} energy_distance`, tol('energy'));
    }
    close(got.iwelbo, s.iwelbo, `${name} iwelbo`, tol('iwelbo'));
    close(got.ate?.r, s.ate?.r, `${name} ate.r`, tol('ate'));
    close(got.ate?.r_top20, s.ate?.r_top20, `${name} ate.r_top20`, tol('ate'));
  }
}

/** The first epoch whose loss terms differ between two runs, for failure messages. */
function firstDivergence(a, b) {
  const n = Math.min(a.train.history.length, b.train.history.length);
  for (let i = 0; i < n; i += 1) {
    const x = a.train.history[i];
    const y = b.train.history[i];
    for (const part of ['train', 'val']) {
      for (const term of Object.keys(y[part])) {
        if (x[part][term] !== y[part][term]) return `epoch ${y.epoch} ${part} ${term}: ${x[part][term]} vs ${y[part][term]}`;
      }
    }
  }
  return 'no loss term differs';
}

/** Scores equal, or a failure that says where the two training runs parted. */
function assertSameRun(actual, expected, what, options = {}) {
  try {
    assertSameScores(actual, expected, what, options);
  } catch (e) {
    e.message += ` (first training difference: ${firstDivergence(actual, expected)})`;
    throw e;
  }
}

async function cliTrain(args) {
  const out = await tempDir('cellshift-cli-');
  await run(CLI, ['train', ...args, '--out', out, '--quiet'], { cwd: ROOT, timeout: 120_000 });
  const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
  Object.defineProperty(results, 'outDir', { value: out, enumerable: false });
  return results;
}

/** The same run (the page's flat settings) with the page's engine in Node (no browser): see reference.mjs. */
async function wasmReference(settings, sampleSeed = '7') {
  const { stdout } = await run(process.execPath, [join(HERE, 'reference.mjs'), JSON.stringify(settings), sampleSeed], {
    cwd: ROOT,
    timeout: 180_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout);
}

/** The pooled scoreboard rows as the page shows them. */
async function pooledRows(page) {
  return page.$$eval(`${tid('pooled-table')} tbody tr`, (trs) =>
    trs.map((tr) => ({
      predictor: tr.dataset.predictor,
      kind: tr.dataset.kind,
      values: [...tr.querySelectorAll('td.num')].map((td) => (td.dataset.value === undefined ? null : Number(td.dataset.value))),
      unscored: tr.querySelector('td.unscored')?.textContent ?? null,
      note: tr.querySelector('.row-note')?.textContent ?? null,
    })),
  );
}

/** scores.csv rows as `{predictor, condition, mean_shift_r, ...}` (quoted fields unquoted). */
function parseScoresCsv(text) {
  const [header, ...lines] = text.trim().split('\n');
  const names = header.split(',');
  return lines.map((line) => {
    const cells = line.match(/("([^"]*)"|[^,]*)(,|$)/g).map((c) => c.replace(/,$/, '').replace(/^"|"$/g, ''));
    return Object.fromEntries(names.map((n, i) => [n, cells[i]]));
  });
}

async function download(page, testid) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.locator(tid(testid)).click()]);
  const path = await dl.path();
  return { name: dl.suggestedFilename(), bytes: await readFile(path) };
}

async function loadError(page) {
  await page.locator(tid('load-error')).waitFor({ state: 'visible', timeout: 30_000 });
  await page.waitForFunction(() => window.__cellshift.phase === 'idle');
  return page.locator(tid('load-error')).innerText();
}

// ---------------------------------------------------------------------------------------------

before(async () => {
  ({ baseUrl, browser } = await harness.startSuite());
});

after(() => harness.stopSuite(browser));

describe('cellshift page', () => {
  /** Results of the sample run of the first test, reused by the share-link test. */
  let sampleRun = null;
  /** Results and link of the uploaded-file run. */
  let kangRun = null;

  test('the sample trains to a scoreboard on the CPU, equal to the CLI', async () => {
    const page = await openPage(browser);
    await waitIdleWithData(page);
    assert.match(await page.locator(tid('summary-source')).innerText(), /sample dataset \(seed 7\)/);
    assert.equal(await page.locator(tid('summary-cells')).innerText(), '3,140');
    assert.equal(await page.locator(tid('summary-values')).innerText(), 'counts');
    assert.match(await page.locator(tid('privacy')).innerText(), /never leaves this machine/);

    await setSettings(page, { epochs: 15, hidden: 32, seed: 3, backend: 'cpu' });
    const cliPromise = cliTrain(['--sample', '--epochs', '15', '--hidden', '32', '--seed', '3']);
    const results = await train(page, 180_000);

    assert.equal(await page.locator(tid('backend-name')).innerText(), 'CPU (WebAssembly)');
    assert.equal(results.train.epochs, 15);
    assert.equal(results.train.history.length, 15);

    // Metrics are on the page: the model first, numbers as in the results.
    const firstRow = page.locator(`${tid('pooled-table')} tbody tr`).first();
    assert.equal(await firstRow.getAttribute('data-predictor'), 'cvae');
    const r = results.scores.cvae.pooled.mean_shift_r;
    assert.ok(r !== null);
    assert.equal(await firstRow.locator('td').first().innerText(), r.toFixed(3));
    const undefinedCell = page.locator(`${tid('pooled-table')} tr[data-predictor="control_mean"] td.undefined`).first();
    assert.equal(await undefinedCell.innerText(), '—');
    assert.ok((await undefinedCell.getAttribute('title')).length > 10, 'an undefined metric explains itself');
    const conditionRows = await page.locator(`${tid('condition-table')} tbody tr`).count();
    const expectedRows = Object.values(results.scores).reduce((n, s) => n + Object.keys(s.conditions).length, 0);
    assert.equal(conditionRows, expectedRows);
    assert.equal(await page.locator(`${tid('condition-table')} tbody tr`).first().getAttribute('data-predictor'), 'cvae');

    assertCanvasesDrawn(await canvasInk(page));

    // Downloads: results, scores, config and a figure.
    const json = await download(page, 'download-results');
    assert.equal(json.name, 'results.json');
    assert.deepEqual(JSON.parse(json.bytes.toString('utf8')), results);
    const csv = await download(page, 'download-scores');
    assert.match(csv.bytes.toString('utf8'), /^predictor,condition,mean_shift_r,jaccard_25/);
    const cfg = await download(page, 'download-config');
    assert.deepEqual(JSON.parse(cfg.bytes.toString('utf8')), results.config);
    const [png] = await Promise.all([page.waitForEvent('download'), page.locator('[data-download-panel="shift"]').click()]);
    const pngBytes = await readFile(await png.path());
    assert.equal(pngBytes.subarray(1, 4).toString('latin1'), 'PNG');

    await screenshot(page, 'sample-scoreboard');
    sampleRun = { results, link: await page.locator(tid('share-link')).inputValue() };
    await page.locator(tid('copy-link')).click();
    assert.equal(await page.locator(tid('share-link')).inputValue(), sampleRun.link);
    assertGuards(page);
    await page.close();

    // The page ran exactly the command line's configuration, and scores it the same.
    const cli = await cliPromise;
    assert.deepEqual(results.config, cli.config);
    assert.equal(results.data.sha256, cli.data.sha256);
    assert.deepEqual(results.split, cli.split);
    assertSameRun(results, cli, 'page vs CLI', { crossPlatform: true });
    // The downloaded CSV has the CLI's rows; baseline rows agree to 1e-9 (host-side f64, but
    // wasm's and the native libm's log1p and sqrt may differ in the last bit), the model's rows
    // carry the cross-platform rounding checked above.
    const pageRows = csv.bytes.toString('utf8').split('\n');
    const cliRows = (await readFile(join(cli.outDir, 'scores.csv'), 'utf8')).split('\n');
    assert.equal(pageRows.length, cliRows.length);
    cliRows.forEach((row, i) => {
      const want = row.split(',');
      const got = pageRows[i].split(',');
      assert.equal(got.length, want.length, `CSV line ${i + 1}`);
      const isModel = row.startsWith(`${cli.config.model},`);
      want.forEach((w, k) => {
        const [a, b] = [Number(got[k]), Number(w)];
        if (k < 2 || w === '' || Number.isNaN(b)) assert.equal(got[k], w, `CSV line ${i + 1}, field ${k + 1}`);
        else if (!isModel) assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `CSV line ${i + 1}, field ${k + 1}: ${a} vs ${b}`);
      });
    });
  });

  test('a shared link reproduces identical metrics in a fresh page', async (t) => {
    if (!sampleRun) {
      t.skip('the sample run did not finish');
      return;
    }
    const link = new URL(sampleRun.link);
    assert.equal(link.origin, new URL(baseUrl).origin);
    const params = new URLSearchParams(link.hash.slice(1));
    assert.equal(params.get('data'), 'sample');
    assert.equal(params.get('sample_seed'), '7');
    assert.equal(params.get('seed'), '3');
    assert.equal(params.get('epochs'), '15');
    assert.equal(params.get('backend'), 'cpu');
    assert.equal(params.get('autorun'), '1');

    const context = await launch();
    try {
      const page = await openPage(context, sampleRun.link);
      const results = await waitForScores(page, 180_000);
      assert.equal(await page.locator(tid('epochs')).inputValue(), '15');
      assert.equal(await page.locator(tid('seed')).inputValue(), '3');
      assertSameScores(results, sampleRun.results, 'shared link vs original');
      assert.deepEqual(results.config, sampleRun.results.config);
      assert.deepEqual(results.train.history, sampleRun.results.train.history);
      assertGuards(page);
    } finally {
      await context.close();
    }
  });

  test('the five models train from the page and stay side by side on one split', async () => {
    const page = await openPage(browser);
    await waitIdleWithData(page);
    // The SAMS-family settings show only for the models that use them.
    assert.ok(await page.locator(tid('sams-settings')).isHidden(), 'the cVAE has no SAMS settings');
    assert.match(await page.locator(tid('model-hint')).innerText(), /Conditional VAE/);
    const offered = await page.locator(`${tid('model')} option`).evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(offered, ['cvae', 'sams', 'sams-mf', 'cpa', 'svae-plus']);

    await page.locator('#advanced > summary').click();
    // IWELBO K and ATE samples score every model alike.
    await setSettings(page, { epochs: 3, hidden: 16, genes: 60, seed: 2, backend: 'cpu', 'ate-samples': 40, 'iwelbo-particles': 8 });
    const runs = {};
    const order = ['cvae', 'sams', 'sams-mf', 'cpa', 'svae-plus'];
    for (const model of order) {
      await setSettings(page, { model });
      if (model !== 'cvae') {
        assert.ok(await page.locator(tid('sams-settings')).isVisible(), `${model}: its settings are shown`);
        assert.equal(await page.locator(tid('mask-prior')).isVisible(), model !== 'cpa', `${model}: the mask prior is shown only for models with masks`);
        await setSettings(page, { particles: 1 });
      }
      const results = await train(page, 180_000);
      runs[model] = results;
      assert.equal(results.config.model, model);
      if (model !== 'cvae') {
        assert.equal(results.config.particles, 1);
      }
      assert.equal(results.config.ate_samples, 40);
      assert.equal(results.config.iwelbo_particles, 8);

      // Every model trained so far keeps its row; the baselines are listed once.
      const rows = await pooledRows(page);
      const trained = order.slice(0, order.indexOf(model) + 1);
      assert.deepEqual(rows.filter((r) => r.kind === 'model').map((r) => r.predictor), trained);
      const baselines = rows.filter((r) => r.kind === 'baseline').map((r) => r.predictor);
      assert.deepEqual(baselines, ['control_mean', 'perturbation_mean', 'perturbed_mean', 'additive', 'linear', 'matching_mean', 'ceiling']);
      for (const row of rows.filter((r) => r.kind === 'model')) {
        assert.equal(row.values.length, 8, `${row.predictor}: r, J@25/50/100, energy, IWELBO, ATE r, ATE r top-20`);
        for (const v of row.values) assert.ok(Number.isFinite(v), `${row.predictor}: ${JSON.stringify(row.values)}`);
        const s = runs[row.predictor].scores[row.predictor];
        assert.deepEqual(row.values, [s.pooled.mean_shift_r, s.pooled.jaccard['25'], s.pooled.jaccard['50'], s.pooled.jaccard['100'], s.pooled.energy_distance, s.iwelbo, s.ate.r, s.ate.r_top20]);
      }
      assert.deepEqual(await page.evaluate(() => window.__cellshift.comparison.models), trained);

      // The masks panel: drawn for models with masks (the sample's truth beside them), explained otherwise.
      const hasMasks = ['sams', 'sams-mf', 'svae-plus'].includes(model);
      assert.equal(results.figures.masks !== null, hasMasks, `${model}: masks in the results`);
      assert.equal(await page.locator(tid('fig-masks')).isVisible(), hasMasks);
      assert.equal(await page.locator(tid('masks-note')).isVisible(), !hasMasks);
      if (model === 'sams') {
        assert.equal(results.figures.masks.truth.length, results.figures.masks.perturbations.length, 'the sample truth is drawn beside the masks');
        const [ink] = await canvasInk(page, ['masks']);
        assert.ok(ink.fraction > 0.05 && ink.colours > 8, `the masks canvas is blank: ${JSON.stringify(ink)}`);
        await screenshot(page, 'sams-masks');
      }
      if (model === 'cvae') assert.match(await page.locator(tid('masks-note')).innerText(), /cVAE learns no latent masks/);
    }
    await screenshot(page, 'five-models');

    // Training a model again replaces its row.
    await setSettings(page, { model: 'cvae', epochs: 2 });
    const again = await train(page, 120_000);
    const rows = await pooledRows(page);
    assert.deepEqual(rows.filter((r) => r.kind === 'model').map((r) => r.predictor), order);
    const cvaeRow = rows.find((r) => r.predictor === 'cvae');
    assert.match(cvaeRow.note, /^2 epochs/);
    assert.equal(cvaeRow.values[0], again.scores.cvae.pooled.mean_shift_r);
    runs.cvae = again;
    // The figures follow the last run; the masks of another compared model are one click away.
    assert.match(await page.locator(tid('masks-note')).innerText(), /no heatmap/);
    await page.locator(tid('show-masks-sams')).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="scoreboard"]').dataset.state === 'ready');
    assert.equal(await page.locator(tid('figure-model')).inputValue(), 'sams');
    const [ink] = await canvasInk(page, ['masks']);
    assert.ok(ink.fraction > 0.05, 'the chosen model\'s masks are drawn');

    // scores.csv holds every compared model's rows beside the baselines.
    const csv = parseScoresCsv((await download(page, 'download-scores')).bytes.toString('utf8'));
    const predictors = [...new Set(csv.map((r) => r.predictor))].sort();
    assert.deepEqual(predictors, [...order, 'control_mean', 'perturbation_mean', 'perturbed_mean', 'additive', 'linear', 'matching_mean', 'ceiling'].sort());
    for (const model of order) {
      const s = runs[model].scores[model];
      const mine = csv.filter((r) => r.predictor === model);
      assert.equal(mine.length, Object.keys(s.conditions).length + 1, `${model}: pooled + one row per condition`);
      const pooled = mine.find((r) => r.condition === 'pooled');
      assert.equal(Number(pooled.mean_shift_r), s.pooled.mean_shift_r, `${model}: pooled r in the CSV`);
      assert.equal(Number(pooled.energy_distance), s.pooled.energy_distance);
    }
    const board = await download(page, 'download-scoreboard');
    assert.equal(board.bytes.subarray(1, 4).toString('latin1'), 'PNG');
    // results.json is the run whose figures are shown.
    const json = JSON.parse((await download(page, 'download-results')).bytes.toString('utf8'));
    assert.equal(json.config.model, 'sams');

    // Holding out two combinations is another split: the earlier rows go, and the page says why.
    await setSettings(page, { 'holdout-kind': 'conditions', model: 'svae-plus', epochs: 2 });
    await page.locator(tid('holdout-condition-A+B')).check();
    await page.locator(tid('holdout-condition-C+D')).check();
    const svae = await train(page, 120_000);
    const notice = page.locator(tid('comparison-notice'));
    assert.ok(await notice.isVisible(), 'the comparison notice is shown');
    const noticeText = await notice.innerText();
    assert.match(noticeText, /cVAE, SAMS-VAE, SAMS-VAE \(mean-field\) and CPA-VAE were removed/);
    assert.match(noticeText, /held-out cells \(0\.2 of each condition → conditions A\+B, C\+D\)/);
    assert.equal(await notice.getAttribute('role'), 'status');
    // SVAE+ sees whole condition labels: it cannot compose A+B or C+D, and its rows say so.
    assert.deepEqual(Object.keys(svae.split.unpredictable).sort(), ['A+B', 'C+D']);
    let now = await pooledRows(page);
    assert.deepEqual(now.filter((r) => r.kind === 'model').map((r) => r.predictor), ['svae-plus']);
    const svaeRow = now.find((r) => r.predictor === 'svae-plus');
    assert.ok(svaeRow.unscored?.includes('never seen in training') && svaeRow.unscored.includes('cannot compose'), `SVAE+ explains itself: ${svaeRow.unscored}`);
    const perCondition = await page.$$eval(`${tid('condition-table')} tbody tr[data-predictor="svae-plus"]`, (trs) => trs.map((tr) => [tr.dataset.condition, tr.querySelector('td.unscored')?.textContent ?? '']));
    assert.deepEqual(perCondition.map(([c]) => c), ['A+B', 'C+D']);
    for (const [c, text] of perCondition) assert.ok(text.includes(`\`${c}\` was never seen in training`), text);
    // SAMS-VAE composes the unseen combinations from their singles, beside SVAE+ on this split.
    await setSettings(page, { model: 'sams' });
    const composed = await train(page, 120_000);
    assert.deepEqual(composed.split.unpredictable, {});
    now = await pooledRows(page);
    assert.deepEqual(now.filter((r) => r.kind === 'model').map((r) => r.predictor), ['sams', 'svae-plus']);
    for (const v of now.find((r) => r.predictor === 'sams').values) assert.ok(Number.isFinite(v));
    await screenshot(page, 'svae-plus-unseen-combinations');
    // The notice stays until it is dismissed.
    await page.locator(tid('dismiss-comparison-notice')).click();
    assert.ok(await notice.isHidden());
    assertGuards(page);
    await page.close();
  });

  test('SAMS settings are checked beside their fields and travel in the share link', async () => {
    const page = await openPage(browser);
    await waitIdleWithData(page);
    await setSettings(page, { model: 'sams', 'mask-prior': '1.5' });
    // The engine's own rule, beside the field, as soon as the value is committed.
    await page.locator(tid('mask-prior')).blur();
    const fieldError = page.locator(tid('field-error-mask-prior'));
    await fieldError.waitFor({ state: 'visible' });
    assert.equal(await fieldError.innerText(), 'the mask prior probability must be a number above 0 and below 1 (got 1.5)');
    assert.equal(await page.locator(tid('mask-prior')).getAttribute('aria-invalid'), 'true');
    await page.locator(tid('train')).click();
    assert.match(await page.locator(tid('settings-error')).innerText(), /Mask prior π: the mask prior probability must be a number above 0 and below 1/);
    assert.equal(await page.evaluate(() => window.__cellshift.phase), 'idle');
    assert.equal(await page.evaluate(() => window.__cellshift.runConfig), null, 'no run started');
    // The page's own check beside another field; the engine's message stays beside its own.
    await setSettings(page, { particles: '0' });
    await page.locator(tid('particles')).blur();
    assert.match(await page.locator(tid('field-error-particles')).innerText(), /at least 1 \(got 0\)/);
    assert.ok(await fieldError.isVisible());
    // Fixed: the messages go.
    await setSettings(page, { 'mask-prior': '0.05', particles: '3', 'global-lr': '0.02' });
    await page.locator(tid('global-lr')).blur();
    assert.ok(await fieldError.isHidden());
    assert.ok(await page.locator(tid('field-error-particles')).isHidden());
    assert.ok(await page.locator(tid('settings-error')).isHidden());
    await page.locator('#sams-more > summary').click();
    await setSettings(page, { 'mask-init-logit': '-2' });

    const link = new URL(await page.locator(tid('share-link')).inputValue());
    const params = new URLSearchParams(link.hash.slice(1));
    assert.equal(params.get('model'), 'sams');
    assert.equal(params.get('mask_prior'), '0.05');
    assert.equal(params.get('particles'), '3');
    assert.equal(params.get('global_lr'), '0.02');
    assert.equal(params.get('mask_init_logit'), '-2');
    assert.equal(params.has('svae_beta'), false, 'settings of other models stay out of the link');
    assert.equal(params.get('autorun'), '1');
    params.delete('autorun');
    assertGuards(page);
    await page.close();

    // A fresh page restores them from the link.
    const restored = await openPage(browser, `${baseUrl}#${params.toString()}`);
    await waitIdleWithData(restored);
    assert.equal(await restored.locator(tid('model')).inputValue(), 'sams');
    assert.ok(await restored.locator(tid('sams-settings')).isVisible());
    assert.equal(await restored.locator(tid('mask-prior')).inputValue(), '0.05');
    assert.equal(await restored.locator(tid('particles')).inputValue(), '3');
    assert.equal(await restored.locator(tid('global-lr')).inputValue(), '0.02');
    assert.equal(await restored.locator(tid('mask-init-logit')).inputValue(), '-2');
    assertGuards(restored);
    await restored.close();

    // A link made before these settings existed still opens, with their defaults.
    const old = await openPage(browser, `${baseUrl}#data=sample&sample_seed=7&model=sams&epochs=3`);
    await waitIdleWithData(old);
    assert.equal(await old.locator(tid('model')).inputValue(), 'sams');
    assert.equal(await old.locator(tid('mask-prior')).inputValue(), '0.01');
    assert.equal(await old.locator(tid('particles')).inputValue(), '5');
    assert.ok(await old.locator(tid('settings-error')).isHidden());
    assertGuards(old);
    await old.close();
  });

  test('the settings form is the engine\'s schema', async () => {
    const page = await openPage(browser);
    await waitIdleWithData(page);
    const schema = await page.evaluate(() => window.__cellshift.schema);
    assert.ok(Array.isArray(schema) && schema.length > 0, 'the page exposes the engine\'s schema');
    const idOf = (key) => key.replaceAll('_', '-');
    const shown = (v) => (v === null ? '' : Array.isArray(v) ? v.join(',') : String(v));
    const holdoutKeys = ['holdout_fraction', 'holdout_conditions', 'holdout_group'];
    const own = schema.filter((s) => s.room !== 'data' && !holdoutKeys.includes(s.key));
    const modelSpec = schema.find((s) => s.key === 'model');
    const uses = (s, model) => s.models === null || s.models.includes(model);

    // Every setting has its control, labelled and described, at the engine's default.
    for (const s of own) {
      const control = page.locator(`#${idOf(s.key)}`);
      assert.equal(await control.count(), 1, `${s.key}: one control #${idOf(s.key)}`);
      assert.equal(await control.getAttribute('data-testid'), idOf(s.key));
      assert.equal(await control.inputValue(), shown(s.default), `${s.key}: the default`);
      const label = await control.evaluate((n) => n.labels?.[0]?.querySelector('span')?.textContent ?? null);
      assert.equal(label, s.label, `${s.key}: the label`);
      const description = await control.evaluate((n) => (n.getAttribute('aria-describedby') ?? '').split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' '));
      assert.ok(description.includes(s.help), `${s.key}: the help describes the control`);
      assert.equal(await control.evaluate((n) => Boolean(n.closest('details'))), s.advanced, `${s.key}: advanced settings are behind a disclosure`);
      if (s.kind === 'choice') {
        const options = await control.locator('option').evaluateAll((os) => os.map((o) => ({ value: o.value, label: o.textContent })));
        assert.deepEqual(options, s.choices.map((c) => ({ value: c.value, label: c.label })), `${s.key}: the choices`);
      } else {
        assert.equal(await control.getAttribute('type'), s.kind === 'int' || s.kind === 'float' || s.kind === 'optionalfloat' ? 'number' : 'text', `${s.key}: the input type`);
      }
      if (s.kind === 'int' || s.kind === 'float' || s.kind === 'optionalfloat') {
        assert.equal(await control.getAttribute('step'), s.kind === 'int' ? '1' : 'any', `${s.key}: the step`);
        assert.equal(await control.getAttribute('min'), s.bounds.min ? String(s.bounds.min.value) : null, `${s.key}: the minimum`);
        assert.equal(await control.getAttribute('max'), s.bounds.max ? String(s.bounds.max.value) : null, `${s.key}: the maximum`);
      }
    }
    // The data settings and the holdout start at their defaults too.
    for (const key of ['condition_column', 'control_label']) assert.equal(await page.locator(`#${idOf(key)}`).inputValue(), shown(schema.find((s) => s.key === key).default));
    assert.equal(await page.locator(tid('covariates')).inputValue(), '');
    assert.equal(await page.locator(tid('holdout-kind')).inputValue(), 'fraction');
    assert.equal(await page.locator(tid('holdout-fraction')).inputValue(), shown(schema.find((s) => s.key === 'holdout_fraction').default));

    // A share link of the default form holds every setting the default model uses, at its default.
    const params = new URLSearchParams(new URL(await page.locator(tid('share-link')).inputValue()).hash.slice(1));
    for (const s of schema) {
      if (uses(s, modelSpec.default)) assert.equal(params.get(s.key), shown(s.default), `the link holds ${s.key}`);
      else assert.equal(params.has(s.key), false, `the link leaves out ${s.key}, which ${modelSpec.default} does not use`);
    }
    assert.ok(await page.locator(tid('settings-notes')).isHidden(), 'the defaults need no note');

    // Each model shows exactly the settings it uses, with its hint.
    await page.evaluate(() => {
      for (const d of document.querySelectorAll('#settings details')) d.open = true;
    });
    for (const choice of modelSpec.choices) {
      await page.locator(tid('model')).selectOption(choice.value);
      assert.equal(await page.locator(tid('model-hint')).innerText(), choice.hint, `${choice.value}: its hint`);
      for (const s of own) {
        const control = page.locator(`#${idOf(s.key)}`);
        const on = uses(s, choice.value);
        assert.equal(await control.isVisible(), on, `${choice.value}: ${s.key} is ${on ? 'shown' : 'hidden'}`);
        assert.equal(await control.isEnabled(), on, `${choice.value}: ${s.key} is ${on ? 'enabled' : 'disabled'}`);
      }
    }
    assertGuards(page);
    await page.close();
  });

  test('five malformed CSVs each show their specific error and keep the data usable', async () => {
    const page = await openPage(browser);
    await waitIdleWithData(page);
    const cases = [
      { file: 'ragged_row.csv', expect: ['line 5', '5 fields', 'header has 4'] },
      { file: 'non_numeric.csv', expect: ['line 4', 'column 3', '`g2`', '"abc"', 'expected a number'] },
      { file: 'negative_value.csv', expect: ['line 6', 'column 4', '`g3`', '"-2"', '0 or more'] },
      { file: 'missing_condition_column.csv', expect: ['line 1', '`condition`', '`treatment`'] },
      { file: 'no_control_cells.csv', expect: ['no control cells', '`control`', '`condition`', '`A`'] },
    ];
    for (const [i, c] of cases.entries()) {
      const path = join(FIXTURES, c.file);
      if (i === 1) {
        // Drag and drop instead of the file picker.
        const bytes = await readFile(path, 'utf8');
        const dt = await page.evaluateHandle(([name, text]) => {
          const data = new DataTransfer();
          data.items.add(new File([text], name, { type: 'text/csv' }));
          return data;
        }, [c.file, bytes]);
        await page.locator(tid('drop-zone')).dispatchEvent('drop', { dataTransfer: dt });
      } else {
        await page.locator(tid('file-input')).setInputFiles(path);
      }
      const text = await loadError(page);
      assert.ok(text.includes(c.file), `${c.file}: the error names the file: ${text}`);
      for (const fragment of c.expect) assert.ok(text.includes(fragment), `${c.file}: “${fragment}” missing from: ${text}`);
      assert.match(text, /still the current data/);
      // The earlier data is still current.
      assert.match(await page.locator(tid('summary-source')).innerText(), /sample dataset \(seed 7\)/);
      assert.equal(await page.locator(tid('summary-cells')).innerText(), '3,140');
      assert.equal(await page.locator(tid('status')).getAttribute('data-tone'), 'error');
    }
    // The same rule holds for gzip input.
    await page.locator(tid('file-input')).setInputFiles({
      name: 'non_numeric.csv.gz',
      mimeType: 'application/gzip',
      buffer: gzipSync(await readFile(join(FIXTURES, 'non_numeric.csv'))),
    });
    const gzText = await loadError(page);
    assert.ok(gzText.includes('non_numeric.csv.gz') && gzText.includes('"abc"'), gzText);

    await setSettings(page, { epochs: 2, hidden: 16, genes: 50, backend: 'cpu' });
    const results = await train(page, 120_000);
    assert.equal(results.data.source, 'sample');
    assert.equal(results.train.epochs, 2);
    await screenshot(page, 'malformed-then-trained');
    assertGuards(page);
    await page.close();
  });

  test('an uploaded CSV with a covariate trains and shows scores (Kang 2018 PBMC)', async (t) => {
    if (!existsSync(KANG)) {
      console.log(`# notice: ${KANG} is absent; skipping the upload test`);
      t.skip(`${KANG} is absent`);
      return;
    }
    const page = await openPage(browser);
    await waitIdleWithData(page);
    // Without declaring cell_type a covariate, the text column cannot be a gene.
    await page.locator(tid('file-input')).setInputFiles(KANG);
    const text = await loadError(page);
    assert.ok(text.includes('line 2') && text.includes('`cell_type`') && text.includes('expected a number'), text);
    assert.match(await page.locator(tid('summary-source')).innerText(), /sample dataset/);
    // The page offers the fix; it reloads the same file with the covariate.
    await page.locator(tid('add-covariate')).click();
    await page.waitForFunction(() => window.__cellshift.summary?.source === 'kang2018_pbmc_ifnb.csv', null, { timeout: 60_000 });
    assert.equal(await page.locator(tid('covariates')).inputValue(), 'cell_type');
    assert.ok(await page.locator(tid('load-error')).isHidden());
    assert.equal(await page.locator(tid('summary-cells')).innerText(), '1,975');
    assert.match(await page.locator(tid('summary-covariates')).innerText(), /cell_type.*CD14\+Mono/s);
    assert.match(await page.locator(tid('summary-conditions')).innerText(), /stimulated/);

    // Hold out one cell type's stimulated cells, chosen from the covariate selects.
    await setSettings(page, { epochs: 4, hidden: 32, backend: 'cpu', 'holdout-kind': 'group' });
    await page.locator(tid('holdout-covariate')).selectOption('cell_type');
    await page.locator(tid('holdout-level')).selectOption('CD14+Mono');
    const results = await train(page, 180_000);
    assert.equal(results.data.source, 'kang2018_pbmc_ifnb.csv');
    assert.equal(results.config.holdout_group, 'cell_type=CD14+Mono');
    assert.deepEqual(results.config.holdout_conditions, []);
    assert.ok('group_shift' in results.scores, 'the group baseline is scored');
    assert.ok(results.scores.cvae.pooled.energy_distance !== null);
    assertCanvasesDrawn(await canvasInk(page));
    const link = await page.locator(tid('share-link')).inputValue();
    const params = new URLSearchParams(new URL(link).hash.slice(1));
    assert.equal(params.get('data'), `file:kang2018_pbmc_ifnb.csv:${results.data.sha256}`);
    assert.equal(params.get('covariates'), 'cell_type');
    assert.equal(params.get('holdout_group'), 'cell_type=CD14+Mono');
    kangRun = { results, link };
    await screenshot(page, 'kang-scoreboard');
    assertGuards(page);
    await page.close();
  });

  test('a shared link to a file asks for it and checks its SHA-256 before training', async (t) => {
    if (!kangRun) {
      t.skip('the upload run did not finish');
      return;
    }
    const page = await openPage(browser, kangRun.link);
    await page.locator(tid('file-request')).waitFor({ state: 'visible' });
    assert.match(await page.locator(tid('file-request')).innerText(), /kang2018_pbmc_ifnb\.csv/);
    assert.equal(await page.locator(tid('covariates')).inputValue(), 'cell_type');
    assert.equal(await page.evaluate(() => window.__cellshift.summary), null);
    // The same table gzip'd is different bytes: refused before any training.
    await page.locator(tid('file-input')).setInputFiles({ name: 'kang2018_pbmc_ifnb.csv.gz', mimeType: 'application/gzip', buffer: gzipSync(await readFile(KANG)) });
    await page.locator(tid('sha-mismatch')).waitFor({ state: 'visible', timeout: 60_000 });
    const mismatch = await page.locator(tid('load-error')).innerText();
    assert.ok(mismatch.includes(kangRun.results.data.sha256), mismatch);
    assert.equal(await page.locator(tid('scoreboard')).getAttribute('data-state'), 'empty');
    assert.equal(await page.evaluate(() => window.__cellshift.liveEpochs), 0);
    // The right file: accepted, and the run reproduces.
    await page.locator(tid('file-input')).setInputFiles(KANG);
    const results = await waitForScores(page, 180_000);
    assert.ok(await page.locator(tid('file-request')).isHidden());
    assertSameScores(results, kangRun.results, 'file link vs original');
    assertGuards(page);
    await page.close();
  });

  test('Stop scores the model as it is and Resume continues from the next epoch', async () => {
    const page = await openPage(browser);
    await waitIdleWithData(page);
    const epochs = 24;
    await setSettings(page, { epochs, hidden: 32, genes: 100, seed: 5, backend: 'cpu' });
    await page.locator(tid('train')).click();
    // One uninterrupted run of the same configuration with the same engine, outside the page.
    await page.waitForFunction(() => window.__cellshift.runConfig !== null);
    const referencePromise = wasmReference(await page.evaluate(() => window.__cellshift.runConfig));
    await page.waitForFunction(() => window.__cellshift.liveEpochs >= 3, null, { timeout: 120_000, polling: 50 });
    await page.locator(tid('stop')).click();
    const stopped = await waitForScores(page, 120_000);
    const k = stopped.train.epochs;
    assert.ok(k >= 3 && k < epochs, `stopped at epoch ${k}`);
    assert.equal(stopped.train.history.length, k);
    assert.ok(stopped.scores.cvae.pooled.mean_shift_r !== null, 'the stopped model is scored');
    assert.match(await page.locator(tid('status')).innerText(), new RegExp(`Stopped at epoch ${k}`));
    assert.equal(await page.locator(tid('resume')).isEnabled(), true);

    const mark = await page.evaluate(() => window.__cellshift.events.length);
    await page.locator(tid('resume')).click();
    const resumed = await waitForScores(page, 180_000);
    const firstEpoch = await page.evaluate((m) => window.__cellshift.events.slice(m).find((e) => e.type === 'progress')?.epoch, mark);
    assert.equal(firstEpoch, k + 1, 'Resume continues from the next epoch');
    assert.equal(resumed.train.epochs, epochs);
    assert.deepEqual(resumed.train.history.map((h) => h.epoch), Array.from({ length: epochs }, (_, i) => i + 1));
    // With a core to spare, the page's worker has its helper draw the ATE while it scores the
    // rest; the results are still exactly those of one engine scoring alone (reference.mjs).
    const ateBy = await page.evaluate(() => window.__cellshift.events.filter((e) => e.type === 'results').map((e) => e.ateBy));
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    assert.deepEqual(ateBy, cores > 1 ? ['helper', 'helper'] : ['engine', 'engine'], `ATE drawn by (${cores} cores)`);
    // Stopping and resuming changes nothing: the same as one uninterrupted run.
    const reference = await referencePromise;
    assert.deepEqual(resumed.train.history, reference.train.history, 'stop + resume trains exactly like an uninterrupted run');
    assertSameRun(resumed, reference, 'stop + resume vs uninterrupted run');

    // Resume after the budget is spent adds the requested epochs.
    await setSettings(page, { 'resume-epochs': 2 });
    await page.locator(tid('resume')).click();
    const extended = await waitForScores(page, 120_000);
    assert.equal(extended.train.epochs, epochs + 2);
    await screenshot(page, 'stop-resume');
    assertGuards(page);
    await page.close();
  });

  test('the page answers input while training', async () => {
    const page = await openPage(browser);
    await waitIdleWithData(page);
    await setSettings(page, { epochs: 60, hidden: 64, backend: 'cpu' });
    await page.locator(tid('train')).click();
    await page.waitForFunction(() => window.__cellshift.liveEpochs >= 1, null, { timeout: 60_000, polling: 50 });
    const before = await page.evaluate(() => window.__cellshift.liveEpochs);

    // Main-thread probe: gaps between zero-delay timers and between animation frames.
    const probe = await page.evaluate(
      () =>
        new Promise((done) => {
          const t0 = performance.now();
          let lastT = t0;
          let maxTimer = 0;
          let lastF = null;
          let maxFrame = 0;
          let frames = 0;
          const frame = (now) => {
            if (lastF !== null) maxFrame = Math.max(maxFrame, now - lastF);
            lastF = now;
            frames += 1;
            if (now - t0 < 2500) requestAnimationFrame(frame);
          };
          requestAnimationFrame(frame);
          const tick = () => {
            const now = performance.now();
            maxTimer = Math.max(maxTimer, now - lastT);
            lastT = now;
            if (now - t0 < 2500) setTimeout(tick, 0);
            else done({ maxTimer, maxFrame, frames });
          };
          setTimeout(tick, 0);
        }),
    );
    assert.ok(probe.maxTimer < 150, `a timer waited ${probe.maxTimer.toFixed(0)} ms`);
    assert.ok(probe.frames > 20 && probe.maxFrame < 250, `animation frames: ${probe.frames}, longest gap ${probe.maxFrame.toFixed(0)} ms`);

    // Typing into a field and toggling a details element update the page at once.
    const field = page.locator(tid('resume-epochs'));
    let t = Date.now();
    await field.fill('37');
    assert.equal(await field.inputValue(), '37');
    const typed = Date.now() - t;
    t = Date.now();
    await page.locator('#advanced > summary').click();
    const open = await page.locator(tid('advanced')).evaluate((d) => d.open);
    const toggled = Date.now() - t;
    assert.equal(open, true);
    assert.ok(typed < 250 && toggled < 250, `input took ${typed} ms, toggling ${toggled} ms`);
    // A changed setting reaches the link immediately, while the run goes on.
    await page.locator(tid('latent')).fill('12');
    assert.match(await page.locator(tid('share-link')).inputValue(), /latent=12/);

    const during = await page.evaluate(() => ({ phase: window.__cellshift.phase, epochs: window.__cellshift.liveEpochs }));
    assert.equal(during.phase, 'training');
    assert.ok(during.epochs > before, 'training progressed during the probe');
    await screenshot(page, 'training-live');
    assertGuards(page);
    await page.close();
  });

  test('without a WebGPU adapter, auto and WebGPU fall back to the CPU with a notice', async () => {
    const page = await openPage(browser);
    await waitIdleWithData(page);
    const hasAdapter = await page.evaluate(async () => Boolean(navigator.gpu && (await navigator.gpu.requestAdapter().catch(() => null))));
    if (hasAdapter) {
      console.log('# notice: this browser exposes a WebGPU adapter without flags; the fallback case is not exercised');
      await page.close();
      return;
    }
    const notice = page.locator(tid('backend-notice'));
    // WebGPU asked for: the run goes to the CPU, says why, and finishes.
    await setSettings(page, { epochs: 2, hidden: 16, genes: 50, backend: 'webgpu' });
    const results = await train(page, 120_000);
    assert.ok(await notice.isVisible(), 'the fallback notice is visible');
    assert.match(await notice.innerText(), /WebGPU is not available.*CPU/s);
    assert.equal(await page.locator(tid('backend-name')).innerText(), 'CPU (WebAssembly)');
    assert.match(results.train.backend, /CPU/);
    await screenshot(page, 'webgpu-fallback');
    // Auto: the same notice as soon as the backend is chosen, and training proceeds on the CPU.
    await setSettings(page, { epochs: 3, backend: 'auto' });
    await page.locator(tid('train')).click();
    await page.waitForFunction(() => window.__cellshift.liveEpochs >= 1, null, { timeout: 120_000 });
    assert.ok(await notice.isVisible(), 'auto: the fallback notice is visible');
    assert.match(await notice.innerText(), /CPU/);
    assert.equal(await page.evaluate(() => window.__cellshift.backend.backend), 'cpu');
    assertGuards(page, { allowConsoleErrors: true });
    await page.close();
  });

  test('WebGPU (SwiftShader) trains when an adapter is offered; a crashed run restarts on the CPU', async (t) => {
    const context = await launch(['--enable-unsafe-webgpu']);
    try {
      const page = await openPage(context);
      await waitIdleWithData(page);
      const adapter = await page.evaluate(async () => {
        if (!navigator.gpu) return null;
        const a = await navigator.gpu.requestAdapter().catch(() => null);
        return a ? { vendor: a.info?.vendor ?? '', architecture: a.info?.architecture ?? '' } : null;
      });
      if (!adapter) {
        console.log('# notice: no WebGPU adapter even with --enable-unsafe-webgpu; skipping the WebGPU run');
        t.skip('no WebGPU adapter');
        return;
      }
      await setSettings(page, { epochs: 1, hidden: 16, genes: 50, backend: 'webgpu' });
      const results = await train(page, 300_000);
      assert.equal(await page.locator(tid('backend-name')).innerText(), 'WebGPU');
      assert.ok((await page.locator(tid('adapter-info')).innerText()).length > 0, 'the adapter is shown');
      assert.ok(await page.locator(tid('backend-notice')).isHidden());
      assert.match(results.train.backend, /^webgpu/);
      assert.equal(results.train.epochs, 1);
      assert.ok(results.scores.cvae.pooled.energy_distance !== null);
      assertCanvasesDrawn(await canvasInk(page));
      await screenshot(page, 'webgpu-scoreboard');

      // Backend auto: a few training steps are timed on each device and the faster one trains;
      // the badge shows both figures. (SwiftShader emulates a GPU on the CPU, so here the CPU
      // is expected to win, but the test holds whichever does.)
      await setSettings(page, { backend: 'auto' });
      const auto = await train(page, 300_000);
      const info = await page.evaluate(() => window.__cellshift.backend);
      assert.ok(info.race?.webgpu_ms > 0 && info.race?.cpu_ms > 0 && info.race.steps > 0, JSON.stringify(info));
      const faster = info.race.webgpu_ms <= info.race.cpu_ms ? 'webgpu' : 'cpu';
      assert.equal(info.backend, faster);
      assert.match(auto.train.backend, faster === 'webgpu' ? /^webgpu/ : /CPU/);
      assert.equal(auto.train.epochs, 1);
      const race = await page.locator(tid('backend-race')).innerText();
      assert.ok(race.includes(`${info.race.webgpu_ms.toFixed(1)} ms on WebGPU`) && race.includes(`${info.race.cpu_ms.toFixed(1)} ms on the CPU`), race);
      if (faster === 'cpu') assert.match(await page.locator(tid('backend-notice')).innerText(), /trains on the CPU/);
      await setSettings(page, { backend: 'webgpu' });

      // Fault drill: the engine dies during a WebGPU run; the page restarts the run on the CPU.
      // The drill makes the run's first training step fail the way a crashed engine does.
      await page.evaluate(() => window.__cellshift.injectFault());
      await page.locator(tid('train')).click();
      await page.locator(tid('run-error')).waitFor({ state: 'visible', timeout: 120_000 });
      assert.match(await page.locator(tid('run-error')).innerText(), /crashed/);
      await page.waitForFunction(() => window.__cellshift.backend?.backend === 'cpu' && window.__cellshift.results?.train.backend.includes('CPU') && window.__cellshift.phase === 'idle', null, { timeout: 180_000 });
      assert.match(await page.locator(tid('backend-notice')).innerText(), /restarted on the CPU/);
      assert.equal(await page.locator(tid('backend')).inputValue(), 'cpu');
      // Figures are drawn a frame at a time after the run ends: wait for the last one.
      await page.waitForFunction(() => document.querySelector('[data-testid="scoreboard"]')?.dataset.state === 'ready', null, { timeout: 60_000 });
      await screenshot(page, 'webgpu-crash-fallback');
      assertGuards(page, { allowConsoleErrors: true });
    } finally {
      await context.close();
    }
  });

  /** Results and share link of the one-click Kang run. */
  let bundledRun = null;

  test('bundled data: one click loads Kang 2018 with its provenance and task, and it trains', async () => {
    const page = await openPage(browser);
    await waitIdleWithData(page);
    // The button tells what the data is and where it comes from; the citation is one click away.
    const card = page.locator(tid('dataset-kang2018'));
    const button = page.locator(tid('load-dataset-kang2018'));
    assert.match(await button.innerText(), /Kang et al\. 2018.*interferon-β/);
    const about = await card.innerText();
    assert.ok(about.includes('GSE96583') && about.includes('scGen') && about.includes('1,975'), about);
    assert.match(await card.locator('details').textContent(), /Kang et al\..*Nature Biotechnology.*2018/s);

    await button.click();
    await page.waitForFunction(() => window.__cellshift.dataset?.kind === 'bundled' && window.__cellshift.phase === 'idle', null, { timeout: 60_000 });
    assert.ok(await page.locator(tid('load-error')).isHidden());
    assert.equal(await page.locator(tid('summary-cells')).innerText(), '1,975');
    assert.match(await page.locator(tid('summary-source')).innerText(), /^Kang et al\. 2018/);
    const provenance = await page.locator(tid('summary-provenance')).innerText();
    assert.ok(provenance.includes('GEO GSE96583') && provenance.includes('Nature Biotechnology') && provenance.includes('scGen'), provenance);
    assert.match(await page.locator(tid('summary-covariates')).innerText(), /cell_type.*CD14\+Mono/s);
    // The dataset's task is on the form: cell_type read as a covariate, CD14+ monocytes held out.
    assert.equal(await page.locator(tid('covariates')).inputValue(), 'cell_type');
    assert.equal(await page.locator(tid('holdout-kind')).inputValue(), 'group');
    assert.equal(await page.locator(tid('holdout-covariate')).inputValue(), 'cell_type');
    assert.equal(await page.locator(tid('holdout-level')).inputValue(), 'CD14+Mono');

    await page.locator('#advanced > summary').click();
    await setSettings(page, { epochs: 2, hidden: 16, backend: 'cpu', 'iwelbo-particles': 5, 'ate-samples': 50 });
    const results = await train(page, 180_000);
    assert.equal(results.data.source, 'kang2018_pbmc_ifnb.csv.gz');
    // Named like the CLI names it: the SHA-256 of the shipped bytes.
    assert.equal(results.data.sha256, createHash('sha256').update(await readFile(KANG_BUNDLED)).digest('hex'));
    assert.deepEqual(results.config.covariates, ['cell_type']);
    assert.equal(results.config.holdout_group, 'cell_type=CD14+Mono');
    assert.equal(results.config.iwelbo_particles, 5);
    assert.equal(results.config.ate_samples, 50);
    assert.equal(results.train.epochs, 2);
    assert.ok('group_shift' in results.scores, 'the group baseline is scored');
    const rows = await pooledRows(page);
    assert.ok(rows.some((r) => r.predictor === 'group_shift'), `the scoreboard shows group_shift: ${rows.map((r) => r.predictor)}`);

    const link = await page.locator(tid('share-link')).inputValue();
    const params = new URLSearchParams(new URL(link).hash.slice(1));
    assert.equal(params.get('data'), 'kang2018');
    assert.equal(params.has('sample_seed'), false);
    assert.equal(params.get('covariates'), 'cell_type');
    assert.equal(params.get('holdout_group'), 'cell_type=CD14+Mono');
    bundledRun = { results, link };
    await screenshot(page, 'kang-bundled');
    assertGuards(page);
    await page.close();

    // The link made after loading it loads it again, and the run reproduces.
    const again = await openPage(browser, link);
    const reproduced = await waitForScores(again, 180_000);
    assert.equal(await again.evaluate(() => window.__cellshift.dataset.name), 'kang2018');
    assert.ok(await again.locator(tid('file-request')).isHidden(), 'no file is asked for');
    assertSameScores(reproduced, results, 'bundled-data link vs original');
    assert.deepEqual(reproduced.config, results.config);
    assertGuards(again);
    await again.close();
  });

  test('bundled data: a link naming kang2018 loads and trains it in a fresh page, no file asked for', async () => {
    const context = await launch();
    try {
      const page = await openPage(context, `${baseUrl}#data=kang2018&autorun=1&epochs=2&iwelbo_particles=5&ate_samples=50`);
      const chooser = [];
      page.on('filechooser', (c) => chooser.push(c));
      const results = await waitForScores(page, 180_000);
      assert.ok(await page.locator(tid('file-request')).isHidden(), 'no file is asked for');
      assert.deepEqual(chooser, []);
      assert.equal(await page.locator(tid('summary-cells')).innerText(), '1,975');
      assert.equal(results.data.source, 'kang2018_pbmc_ifnb.csv.gz');
      // What the link leaves out comes from the dataset's task; what it says wins.
      assert.deepEqual(results.config.covariates, ['cell_type']);
      assert.equal(results.config.holdout_group, 'cell_type=CD14+Mono');
      assert.equal(results.config.epochs, 2);
      assert.equal(results.config.iwelbo_particles, 5);
      assert.equal(results.config.ate_samples, 50);
      assert.equal(results.train.epochs, 2);
      assert.ok('group_shift' in results.scores);
      if (bundledRun) assert.equal(results.data.sha256, bundledRun.results.data.sha256);
      const address = new URLSearchParams(new URL(page.url()).hash.slice(1));
      assert.equal(address.get('data'), 'kang2018');
      assert.equal(address.has('autorun'), false, 'the address bar does not retrain on reload');
      // Without a WebGPU adapter, auto falls back to the CPU, and the graphics stack may log why.
      const fellBack = Boolean(await page.evaluate(() => window.__cellshift.backend?.notice));
      assertGuards(page, { allowConsoleErrors: fellBack });
    } finally {
      await context.close();
    }
  });

  test('data that cannot be read keeps the data loaded before: a file over 256 MiB, a failed fetch', async () => {
    const page = await openPage(browser);
    await waitIdleWithData(page);
    const before = await page.locator(tid('summary')).innerText();
    // A file of 300 MiB (its size, as the browser reports it) is refused before a byte is read.
    const outcome = await page.evaluate(async () => {
      const file = new File([new Uint8Array(10)], 'big.csv', { type: 'text/csv' });
      Object.defineProperty(file, 'size', { value: 300 * 2 ** 20 });
      const reads = [];
      for (const method of ['arrayBuffer', 'text', 'stream', 'slice', 'bytes']) {
        file[method] = () => {
          reads.push(method);
          throw new Error('read');
        };
      }
      const loaded = await window.__cellshift.loadFile(file);
      return { loaded, reads, phase: window.__cellshift.phase };
    });
    assert.deepEqual(outcome, { loaded: false, reads: [], phase: 'idle' });
    const text = await page.locator(tid('load-error')).innerText();
    assert.ok(text.includes('big.csv is 300 MiB; files up to 256 MiB can be read in the browser'), text);
    assert.match(text, /still the current data/);
    assert.equal(await page.locator(tid('summary')).innerText(), before);
    assert.equal(await page.evaluate(() => window.__cellshift.dataset.kind), 'sample');
    assert.equal(await page.locator(tid('status')).getAttribute('data-tone'), 'error');
    assertGuards(page);
    await page.close();

    // The bundled file cannot be fetched: a clear message, and the sample stays loaded.
    const offline = await openPage(browser);
    await waitIdleWithData(offline);
    await offline.route('**/assets/kang2018_pbmc_ifnb.csv.gz', (route) => route.fulfill({ status: 503, body: 'unavailable' }));
    await offline.locator(tid('load-dataset-kang2018')).click();
    const fetchError = await loadError(offline);
    assert.ok(fetchError.includes('Could not load Kang et al. 2018') && fetchError.includes('503') && fetchError.includes('assets/kang2018_pbmc_ifnb.csv.gz'), fetchError);
    assert.match(fetchError, /still the current data/);
    assert.equal(await offline.locator(tid('summary')).innerText(), before);
    assert.equal(await offline.locator(tid('holdout-kind')).inputValue(), 'fraction', 'the form keeps its settings');
    assert.equal(new URLSearchParams(new URL(offline.url()).hash.slice(1)).get('data'), 'sample');
    // The browser logs the failed response itself; nothing else may fail.
    assert.ok(offline.guard.console.every((m) => /503/.test(m)), offline.guard.console.join('; '));
    assertGuards(offline, { allowConsoleErrors: true });
    await offline.close();
  });

  test('the WebGPU fallback notice is a sentence, with the technical detail behind a disclosure', async (t) => {
    const page = await openPage(browser);
    await waitIdleWithData(page);
    const hasAdapter = await page.evaluate(async () => Boolean(navigator.gpu && (await navigator.gpu.requestAdapter().catch(() => null))));
    if (hasAdapter) {
      t.skip('this browser exposes a WebGPU adapter without flags');
      await page.close();
      return;
    }
    await setSettings(page, { epochs: 1, hidden: 16, genes: 50, backend: 'webgpu' });
    await train(page, 120_000);
    const info = await page.evaluate(() => window.__cellshift.backend);
    assert.equal(info.backend, 'cpu');
    assert.ok(info.notice && info.detail, `the engine gives a notice and its detail: ${JSON.stringify(info)}`);
    const notice = page.locator(tid('backend-notice'));
    assert.ok(await notice.isVisible());
    const sentence = await notice.locator(tid('backend-notice-text')).innerText();
    assert.equal(sentence, info.notice);
    assert.match(sentence, /WebGPU is not available.*CPU/s);
    assert.ok(!sentence.includes(info.detail), 'the technical message is not in the sentence');
    const disclosure = notice.locator(tid('backend-notice-detail'));
    assert.equal(await disclosure.evaluate((d) => d.tagName), 'DETAILS');
    assert.equal(await disclosure.evaluate((d) => d.open), false, 'closed until asked for');
    assert.equal(await disclosure.locator('summary').innerText(), 'Technical detail');
    assert.equal(await disclosure.locator('pre').textContent(), info.detail);
    assert.ok(!(await notice.innerText()).includes(info.detail), 'hidden while closed');
    await disclosure.locator('summary').click();
    assert.ok((await notice.innerText()).includes(info.detail), 'shown once opened');
    await screenshot(page, 'webgpu-notice-detail');
    assertGuards(page, { allowConsoleErrors: true });
    await page.close();
  });
});
