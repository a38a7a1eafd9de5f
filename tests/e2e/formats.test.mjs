// The page reads AnnData .h5ad files and 10x folders (with their metadata table): what a file
// holds and what was guessed are shown, guesses can be changed, a bad file gets its own error
// while the data loaded before stays current, and a run's predictions download as .h5ad.
// Run from tests/e2e after scripts/build-wasm.sh: `node --test formats.test.mjs`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as harness from './harness.mjs';
import { ROOT, assertGuards, setSettings, tid, train, waitIdleWithData } from './harness.mjs';

const H5AD = join(ROOT, 'tests/fixtures/h5ad');

let baseUrl;
let browser;

async function loadError(page) {
  await page.locator(tid('load-error')).waitFor({ state: 'visible', timeout: 30_000 });
  await page.waitForFunction(() => window.__cellshift.phase === 'idle');
  return page.locator(tid('load-error')).innerText();
}

/** Waits for a load of `name` to finish and returns the summary the page keeps. */
async function loaded(page, source) {
  await page.waitForFunction((s) => window.__cellshift.phase === 'idle' && window.__cellshift.summary?.source === s, source, { timeout: 60_000 });
  return page.evaluate(() => window.__cellshift.summary);
}

before(async () => {
  ({ baseUrl, browser } = await harness.startSuite());
});

after(() => harness.stopSuite(browser));

describe('AnnData and 10x input', () => {
  test('an .h5ad shows what it holds and what was guessed, and trains', async () => {
    const page = await harness.openPage(browser, baseUrl);
    await waitIdleWithData(page);
    await page.locator(tid('file-input')).setInputFiles(join(H5AD, 'gears.h5ad'));
    const s = await loaded(page, 'gears.h5ad');
    assert.equal(s.cells, 48);
    assert.equal(s.control_label, 'ctrl');
    assert.deepEqual(Object.keys(s.conditions).sort(), ['CEBPA', 'KLF1', 'KLF1+CEBPA', 'ctrl']);
    const choices = await page.locator(tid('found-choices')).innerText();
    assert.match(choices, /control label “ctrl” \(guessed\)/);
    assert.match(await page.locator(tid('found-relabelled')).innerText(), /KLF1\+ctrl → KLF1/);
    assert.match(await page.locator(tid('found-columns')).innerText(), /condition \(categorical, 4 values\)/);
    // The guess is shown in the data fields, where it can be changed.
    assert.equal(await page.locator(tid('control-label')).inputValue(), 'ctrl');
    // The control is not offered as a condition to hold out.
    assert.equal(await page.locator(tid('holdout-condition-ctrl')).count(), 0);

    await setSettings(page, { epochs: 2, hidden: 16, genes: 10, backend: 'cpu' });
    const results = await train(page, 180_000);
    assert.equal(results.data.source, 'gears.h5ad');
    assert.equal(results.config.control_label, 'ctrl');
    assert.equal(results.config.layer, 'X');
    // The predictions download as an HDF5 file.
    const [dl] = await Promise.all([page.waitForEvent('download'), page.locator(tid('download-h5ad')).click()]);
    assert.equal(dl.suggestedFilename(), 'predictions.h5ad');
    const bytes = await readFile(await dl.path());
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
    assertGuards(page);
    await page.close();
  });

  test('a 10x folder dropped with its metadata table loads; bad files keep the data', async () => {
    const page = await harness.openPage(browser, baseUrl);
    await waitIdleWithData(page);
    const files = ['matrix.mtx.gz', 'barcodes.tsv.gz', 'features.tsv.gz'].map((n) => join(H5AD, 'tenx', n));
    await page.locator(tid('file-input')).setInputFiles([...files, join(H5AD, 'tenx_metadata.csv')]);
    const s = await loaded(page, 'matrix.mtx.gz and 3 more');
    assert.equal(s.cells, 48);
    assert.equal(s.genes, 14);
    assert.equal(s.condition_column, 'perturbation');
    assert.match(await page.locator(tid('found-columns')).innerText(), /perturbation \(text, 4 values\)/);

    // Without the metadata table: a specific error, and the 10x data stays current.
    await page.locator(tid('file-input')).setInputFiles(files);
    let text = await loadError(page);
    assert.match(text, /metadata table/);
    assert.match(text, /still the current data/);
    assert.equal(await page.locator(tid('summary-cells')).innerText(), '48');

    // A compression the reader does not have is named.
    await page.locator(tid('file-input')).setInputFiles(join(H5AD, 'blosc.h5ad'));
    text = await loadError(page);
    assert.match(text, /Blosc \(HDF5 filter 32001\)/);
    assert.equal(await page.locator(tid('summary-cells')).innerText(), '48');

    // `_` used both ways: the page asks; choosing the separator and reloading reads it.
    await page.locator(tid('file-input')).setInputFiles(join(H5AD, 'ambiguous.h5ad'));
    text = await loadError(page);
    assert.match(text, /uses `_` both ways/);
    await page.locator(tid('combination')).selectOption('_');
    await page.locator(tid('reload-file')).click();
    const amb = await loaded(page, 'ambiguous.h5ad');
    assert.ok('KLF1+CEBPA' in amb.conditions && 'CEBPA+g2' in amb.conditions, JSON.stringify(amb.conditions));
    assertGuards(page);
    await page.close();
  });
});
