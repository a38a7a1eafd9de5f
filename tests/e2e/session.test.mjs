// End-to-end tests of sessions: two models trained and saved as a session open in a fresh page
// with the same scoreboard, numbers and figures and without training; a results.json written
// by the CLI opens with the CLI's numbers exactly; files that are not sessions are refused with
// a specific message and the scoreboard shown stays.
// Run from tests/e2e: `node --test session.test.mjs` (needs pkg/ and the release CLI).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as harness from './harness.mjs';
import { ROOT, assertCanvasesDrawn, assertGuards, canvasInk, setSettings, tempDir, tid, train, waitIdleWithData } from './harness.mjs';

const CLI = join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'release/cellshift');
/** A short run: the test is about what is saved and shown, not about the model. */
const SHORT = 'epochs=3&hidden=16&iwelbo_particles=5&ate_samples=50';

let baseUrl;
let browser;
const openPage = (url = baseUrl) => harness.openPage(browser, url);

before(async () => {
  ({ baseUrl, browser } = await harness.startSuite());
});

after(() => harness.stopSuite(browser));

/** The pooled table as shown: each predictor's `data-value`s (null for an undefined cell). */
function pooledTable(page) {
  return page.$$eval('[data-testid="pooled-table"] tbody tr', (rows) =>
    Object.fromEntries(rows.map((tr) => [tr.dataset.predictor, [...tr.querySelectorAll('td')].map((td) => td.dataset.value ?? null)])),
  );
}

/** A predictor's pooled numbers in a results file, in the pooled table's column order. */
function pooledOf(scores, isModel) {
  const p = scores.pooled;
  const cells = [p.mean_shift_r, p.jaccard['25'], p.jaccard['50'], p.jaccard['100'], p.energy_distance];
  if (isModel) cells.push(scores.iwelbo, scores.ate?.r, scores.ate?.r_top20);
  else cells.push(null, null, null);
  return cells.map((v) => (v === null || v === undefined ? null : v));
}

/** Every row of the table equals the file's numbers exactly (no rounding in between). */
function assertTableIs(table, runs, where) {
  const models = runs.map((r) => r.config.model);
  for (const r of runs) {
    const m = r.config.model;
    assert.deepEqual(table[m].map((v) => (v === null ? null : Number(v))), pooledOf(r.scores[m], true), `${where}: ${m}`);
  }
  const base = runs.at(-1).scores;
  for (const [name, row] of Object.entries(table)) {
    if (models.includes(name)) continue;
    assert.ok(base[name], `${where}: ${name} is not in the file`);
    assert.deepEqual(row.map((v) => (v === null ? null : Number(v))), pooledOf(base[name], false), `${where}: baseline ${name}`);
  }
}

const openFile = (page, name, buffer) => page.locator(tid('session-input')).setInputFiles({ name, mimeType: 'application/json', buffer });

/** Waits for an opened file's scoreboard of `models`, drawn. */
async function waitOpened(page, models) {
  await page.waitForFunction(
    (models) => {
      const c = window.__cellshift.comparison;
      return JSON.stringify(c.models) === JSON.stringify(models) && document.querySelector('[data-testid="scoreboard"]').dataset.state === 'ready';
    },
    models,
    { timeout: 30_000 },
  );
}

const trainingEvents = (page) => page.evaluate(() => window.__cellshift.events.filter((e) => e.type === 'started').length);

describe('sessions', () => {
  let session;
  let sessionPath;

  test('two models saved as a session open in a fresh page as they were, without training', async () => {
    const page = await openPage(`${baseUrl}#data=sample&model=cvae&${SHORT}`);
    await waitIdleWithData(page);
    await train(page, 180_000);
    await setSettings(page, { model: 'cpa' });
    await train(page, 180_000);
    // The cVAE's figures are the ones shown when the session is saved.
    await page.locator(tid('figure-model')).selectOption('cvae');
    await page.waitForFunction(() => document.querySelector('[data-testid="scoreboard"]').dataset.state === 'ready');
    const before = await pooledTable(page);

    const [download] = await Promise.all([page.waitForEvent('download'), page.locator(tid('save-session')).click()]);
    assert.match(download.suggestedFilename(), /^cellshift-session-\d{4}-\d\d-\d\d\.json$/);
    sessionPath = await download.path();
    session = JSON.parse(await readFile(sessionPath, 'utf8'));
    assert.equal(session.format, 'cellshift-session');
    assert.equal(session.version, 1);
    assert.deepEqual(session.runs.map((r) => r.config.model), ['cvae', 'cpa']);
    assert.equal(session.figures, 'cvae');
    assert.equal(session.config.model, 'cpa');
    assert.deepEqual({ kind: session.data.kind, seed: session.data.seed }, { kind: 'sample', seed: '7' });
    assert.equal(session.data.sha256, session.runs[0].data.sha256);
    for (const r of session.runs) assert.equal(r.train.history.length, r.train.epochs, `${r.config.model}: the loss curves are saved`);
    assertTableIs(before, session.runs, 'the page that trained');
    assertGuards(page);
    await page.close();

    // A fresh page with other settings: the session brings back the scoreboard and the form.
    const fresh = await openPage(`${baseUrl}#data=sample&model=sams&epochs=7`);
    await waitIdleWithData(fresh);
    await fresh.locator(tid('session-input')).setInputFiles(sessionPath);
    await waitOpened(fresh, ['cvae', 'cpa']);
    const after = await pooledTable(fresh);
    assert.deepEqual(after, before, 'the opened scoreboard differs from the saved one');
    assertTableIs(after, session.runs, 'the opened session');
    assert.equal(await fresh.evaluate(() => window.__cellshift.comparison.figures), 'cvae');
    assert.equal(await fresh.locator(tid('figure-model')).inputValue(), 'cvae');
    assertCanvasesDrawn(await canvasInk(fresh));
    assert.equal(await trainingEvents(fresh), 0, 'opening a session trained something');
    assert.equal(await fresh.locator(tid('model')).inputValue(), 'cpa');
    assert.equal(await fresh.locator(tid('epochs')).inputValue(), '3');
    assert.match(await fresh.locator(tid('comparison-notice-text')).textContent(), /the sample, seed 7, the data loaded now/);
    assert.ok(await fresh.locator(tid('run-error')).isHidden());
    assertGuards(fresh);
    await fresh.close();
  });

  test('a CLI results.json opens with the CLI’s numbers exactly; bad files are refused and the scoreboard stays', async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: build the CLI (cargo build --release)`);
    const out = await tempDir('cellshift-session-cli-');
    await promisify(execFile)(CLI, ['train', '--sample', '--epochs', '3', '--hidden', '16', '--out', out, '--quiet'], { timeout: 120_000 });
    const text = await readFile(join(out, 'results.json'), 'utf8');
    const cli = JSON.parse(text);

    // On other data than the sample: the page says the data differs, and shows the numbers.
    const page = await openPage(`${baseUrl}#data=sample&sample_seed=3`);
    await waitIdleWithData(page);
    await openFile(page, 'results.json', Buffer.from(text));
    await waitOpened(page, ['cvae']);
    const shown = await pooledTable(page);
    assertTableIs(shown, [cli], 'the CLI results.json');
    assert.equal(await trainingEvents(page), 0);
    assert.match(await page.locator(tid('comparison-notice-text')).textContent(), /not the data loaded now \(the sample, seed 3\)/);
    assert.equal(await page.locator(tid('hidden')).inputValue(), '16');
    assertCanvasesDrawn(await canvasInk(page));

    // Dropped on the page (outside the data's drop zone), it opens the same way.
    await page.evaluate((text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], 'dropped-results.json', { type: 'application/json' }));
      document.querySelector('[data-testid="scoreboard"]').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, text);
    await page.waitForFunction(() => document.querySelector('[data-testid="comparison-notice-text"]')?.textContent.includes('dropped-results.json'), null, { timeout: 20_000 });
    await waitOpened(page, ['cvae']);
    assert.deepEqual(await pooledTable(page), shown);

    // Each refusal names what is wrong; the scoreboard keeps the CLI's run.
    const bad = structuredClone(cli);
    delete bad.split;
    const badConfig = structuredClone(cli);
    badConfig.config.lr = -1;
    const cases = [
      ['notes.json', Buffer.from('this is not json {'), /is not JSON/],
      ['list.json', Buffer.from('[1, 2]'), /holds JSON array/],
      ['other.json', Buffer.from('{"hello": 1}'), /neither a saved session .* nor a results\.json/],
      ['future.json', Buffer.from(JSON.stringify({ format: 'cellshift-session', version: 99, runs: [cli] })), /session of version 99.*reads session versions up to 1/],
      ['foreign.json', Buffer.from(JSON.stringify({ format: 'something-else', version: 1 })), /not a cellshift session/],
      ['empty.json', Buffer.from(JSON.stringify({ format: 'cellshift-session', version: 1, runs: [] })), /without runs/],
      ['cut.json', Buffer.from(JSON.stringify(bad)), /missing “split”/],
      ['lr.json', Buffer.from(JSON.stringify(badConfig)), /engine could not read run 1 \(cVAE\)/],
      ['twice.json', Buffer.from(JSON.stringify({ format: 'cellshift-session', version: 1, runs: [cli, cli] })), /two runs of cVAE/],
    ];
    for (const [name, buffer, expected] of cases) {
      await openFile(page, name, buffer);
      await page.locator(tid('session-error')).waitFor({ timeout: 10_000 });
      const message = await page.locator(tid('run-error')).textContent();
      assert.match(message, expected, `${name}: ${message}`);
      assert.ok(message.includes(name), `${name}: the message does not name the file`);
      assert.deepEqual(await pooledTable(page), shown, `${name}: the scoreboard changed`);
      await page.evaluate(() => {
        document.querySelector('[data-testid="run-error"]').hidden = true;
        document.querySelector('[data-testid="run-error"]').replaceChildren();
      });
    }
    // A huge file is refused from its size, before a byte is read.
    const huge = await page.evaluate(async () => {
      const { openSession } = await import(new URL('www/session.js', location.href).href);
      let read = false;
      const ok = await openSession({ name: 'huge.json', size: 5 * 2 ** 30, type: 'application/json', text: async () => { read = true; return '{}'; } });
      return { ok, read, message: document.querySelector('[data-testid="run-error"]').textContent };
    });
    assert.deepEqual([huge.ok, huge.read], [false, false]);
    assert.match(huge.message, /huge\.json.*5120\.0 MiB.*up to 64\.0 MiB.*not read/);
    assert.deepEqual(await pooledTable(page), shown);
    assert.deepEqual(await page.evaluate(() => window.__cellshift.comparison.models), ['cvae']);
    assertGuards(page);
    await page.close();
  });
});
