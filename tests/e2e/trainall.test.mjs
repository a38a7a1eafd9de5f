// Train all: the ticked models trained at once, a Web Worker each, on the data the page holds.
// Both models' rows reach the scoreboard with scores; their workers were alive together (each
// model started and reported epochs before either was scored); a model trained this way equals
// the same model trained alone; the page's own session is untouched (Resume goes on with its
// model); Stop scores every model as trained so far; and a model whose run fails says why on its
// line while the other is scored.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

const { tid } = h;

let baseUrl;
let browser;

/**
 * Counts the page's workers (made, alive now, most alive at once) and, when the page sets
 * `__breakModel`, gives that model's TRAIN a learning rate the engine refuses: a run that fails
 * in its worker, as any engine error would.
 */
function watchWorkers() {
  const Native = window.Worker;
  const count = { made: 0, alive: 0, maxAlive: 0 };
  window.__workers = count;
  window.Worker = class extends Native {
    constructor(...args) {
      super(...args);
      count.made += 1;
      count.alive += 1;
      count.maxAlive = Math.max(count.maxAlive, count.alive);
    }
    postMessage(msg, ...rest) {
      if (msg?.type === 'train' && window.__breakModel && msg.settings?.model === window.__breakModel) {
        msg = { ...msg, settings: { ...msg.settings, lr: -1 } };
      }
      return super.postMessage(msg, ...rest);
    }
    terminate() {
      if (!this.ended) {
        this.ended = true;
        count.alive -= 1;
      }
      return super.terminate();
    }
  };
}

before(async () => {
  ({ baseUrl, browser } = await h.startSuite());
  await browser.addInitScript(watchWorkers);
});

after(() => h.stopSuite(browser));

/** A short run: a few epochs of a small model on a small panel. */
const QUICK = { epochs: 5, hidden: 16, genes: 50, patience: 0, seed: 0, backend: 'cpu' };

async function openQuick() {
  const page = await h.openPage(browser, baseUrl);
  await h.waitIdleWithData(page);
  await page.locator('#advanced > summary').click();
  await h.setSettings(page, QUICK);
  return page;
}

/** Ticks exactly `models` under Train all. */
async function chooseModels(page, models) {
  const boxes = page.locator(`${tid('train-all-models')} input[type=checkbox]`);
  for (let i = 0; i < (await boxes.count()); i += 1) {
    const box = boxes.nth(i);
    await box.setChecked(models.includes(await box.getAttribute('value')));
  }
}

/** The pooled table's model rows: `{model: [r, J@25, J@50, J@100, energy, ...]}`. */
function modelRows(page) {
  return page.$$eval(`${tid('pooled-table')} tbody tr[data-kind="model"]`, (trs) =>
    Object.fromEntries(trs.map((tr) => [tr.dataset.predictor, [...tr.querySelectorAll('td.num')].map((td) => (td.dataset.value === undefined ? null : Number(td.dataset.value)))])),
  );
}

/** Train all's events in order: `{type, model}`. */
function trainAllEvents(page) {
  return page.evaluate(() => window.__cellshift.events.filter((e) => e.trainAll).map((e) => ({ type: e.type, model: e.model, epoch: e.epoch ?? null })));
}

function assertScored(rows, model) {
  assert.ok(rows[model], `${model} has a row on the scoreboard: ${JSON.stringify(Object.keys(rows))}`);
  const [r, j25, , , energy] = rows[model];
  for (const [name, v] of [['r', r], ['J@25', j25], ['energy', energy]]) assert.ok(Number.isFinite(v), `${model} ${name} is a number: ${v}`);
}

describe('Train all', () => {
  test('two models at once in workers of their own; the page\'s session is untouched', async () => {
    const page = await openQuick();
    const box = page.locator(tid('train-all-models'));
    const offered = await box.locator('input').evaluateAll((inputs) => inputs.map((i) => ({ value: i.value, checked: i.checked })));
    assert.deepEqual(
      offered.map((o) => o.value),
      await page.evaluate(() => window.__cellshift.schema.find((s) => s.key === 'model').choices.map((c) => c.value)),
      'every model of the settings schema is offered',
    );
    assert.deepEqual(offered.filter((o) => o.checked).map((o) => o.value), ['cvae', 'sams'], 'the cVAE and SAMS-VAE are ticked at first');

    // The page's own session: a cVAE trained alone, which Resume can go on with.
    const alone = await h.train(page);
    const before = await page.evaluate(() => ({ summary: JSON.stringify(window.__cellshift.summary), dataset: window.__cellshift.dataset, workers: { ...window.__workers } }));
    assert.equal(await page.locator(tid('resume')).isEnabled(), true);

    await chooseModels(page, ['cvae', 'sams']);
    await page.locator(tid('train-all')).click();
    await page.waitForFunction(() => window.__cellshift.phase === 'training-all', null, { timeout: 10_000 });
    // While it runs the other controls wait.
    for (const id of ['train', 'load-sample', 'resume', 'train-all']) assert.equal(await page.locator(tid(id)).isDisabled(), true, `${id} is disabled during Train all`);
    assert.equal(await page.locator(tid('stop')).isEnabled(), true, 'Stop is enabled during Train all');
    await h.waitForScores(page, 300_000);

    const all = await page.evaluate(() => window.__cellshift.trainAll);
    console.log(`# train all: pool ${all.pool}, wall ${all.wallSeconds.toFixed(1)} s, own ${all.ownSeconds.toFixed(1)} s; ${all.models.map((m) => `${m.model} ${m.state} ${m.epoch}/${m.budget} train ${m.trainSeconds.toFixed(1)} s score ${m.scoringSeconds.toFixed(1)} s`).join('; ')}`);
    assert.deepEqual(all.models.map((m) => [m.model, m.state]), [['cvae', 'done'], ['sams', 'done']]);
    const rows = await modelRows(page);
    assertScored(rows, 'cvae');
    assertScored(rows, 'sams');

    // Two more workers, alive at the same time beside the page's own, and ended when done.
    const workers = await page.evaluate(() => ({ ...window.__workers }));
    assert.equal(workers.made, before.workers.made + 2, `one worker per model: ${JSON.stringify(workers)}`);
    assert.ok(workers.maxAlive >= 3, `the page's worker and both models' were alive at once: ${JSON.stringify(workers)}`);
    assert.equal(workers.alive, before.workers.alive, 'the models\' workers were ended');
    const events = await trainAllEvents(page);
    const firstResults = events.findIndex((e) => e.type === 'results');
    assert.ok(firstResults > 0, 'results were logged');
    for (const model of ['cvae', 'sams']) {
      const before = events.slice(0, firstResults).filter((e) => e.model === model);
      assert.ok(before.some((e) => e.type === 'started'), `${model} started before either model was scored`);
      assert.ok(before.some((e) => e.type === 'progress'), `${model} reported an epoch before either model was scored`);
    }

    // The cVAE trained beside SAMS-VAE is the cVAE trained alone: same data, same settings.
    assert.deepEqual(await page.evaluate(() => window.__cellshift.comparison.models), ['cvae', 'sams']);
    assert.deepEqual(rows.cvae.slice(0, 5), [alone.scores.cvae.pooled.mean_shift_r, alone.scores.cvae.pooled.jaccard['25'], alone.scores.cvae.pooled.jaccard['50'], alone.scores.cvae.pooled.jaccard['100'], alone.scores.cvae.pooled.energy_distance], 'the cVAE of Train all scores exactly as the one trained alone');

    // The status says how long it took, and what the models' own times add up to.
    const status = await page.locator(tid('train-all-status')).innerText();
    assert.match(status, /Train all took .* \(wall clock\) for 2 of 2 models scored/);
    assert.match(status, /own training and scoring times add up to/);
    assert.match(await page.locator(tid('train-all-line-sams')).innerText(), /done: 5 epochs/);

    // The page's own session: the same data, and Resume goes on with the cVAE trained alone.
    const afterwards = await page.evaluate(() => ({ summary: JSON.stringify(window.__cellshift.summary), dataset: window.__cellshift.dataset }));
    assert.deepEqual(afterwards, { summary: before.summary, dataset: before.dataset });
    assert.equal(await page.locator(tid('resume')).isEnabled(), true, 'Resume is offered again');
    await page.locator(tid('resume-epochs')).fill('2');
    await page.locator(tid('resume')).click();
    const resumed = await h.waitForScores(page, 180_000);
    assert.equal(resumed.train.epochs, alone.train.epochs + 2, 'Resume went on with the model trained alone');
    assert.deepEqual(resumed.train.history.slice(0, alone.train.epochs), alone.train.history, 'its first epochs are the ones trained alone');
    h.assertGuards(page);
    await page.close();
  });

  test('Stop during Train all scores every model as trained so far', async () => {
    const page = await openQuick();
    await h.setSettings(page, { epochs: 400 });
    await chooseModels(page, ['cvae', 'sams']);
    await page.locator(tid('train-all')).click();
    // Both are training: each has reported an epoch.
    await page.waitForFunction(
      () => {
        const a = window.__cellshift.trainAll;
        return a && a.models.every((m) => m.state === 'training' && m.epoch >= 2);
      },
      null,
      { timeout: 180_000, polling: 100 },
    );
    await page.locator(tid('stop')).click();
    await page.waitForFunction(() => window.__cellshift.phase === 'stopping-all' || window.__cellshift.phase === 'idle', null, { timeout: 10_000 });
    assert.equal(await page.locator(tid('stop')).isDisabled(), true, 'Stop is pressed once');
    await h.waitForScores(page, 300_000);
    const all = await page.evaluate(() => window.__cellshift.trainAll);
    console.log(`# stopped: ${all.models.map((m) => `${m.model} ${m.state} (${m.reason}) at epoch ${m.epoch}`).join('; ')}`);
    for (const m of all.models) {
      assert.equal(m.state, 'done', `${m.model} was scored`);
      assert.equal(m.reason, 'stopped', `${m.model} was stopped`);
      assert.ok(m.epoch >= 2 && m.epoch < 400, `${m.model} stopped at epoch ${m.epoch}`);
    }
    const rows = await modelRows(page);
    assertScored(rows, 'cvae');
    assertScored(rows, 'sams');
    assert.match(await page.locator(tid('train-all-line-cvae')).innerText(), /stopped, scored/);
    assert.equal(await page.evaluate(() => window.__workers.alive), 1, 'only the page\'s own worker is left');
    h.assertGuards(page);
    await page.close();
  });

  test('more models than cores: they wait for a free worker, the longest first', async () => {
    const page = await openQuick();
    // Two cores, whatever this machine has.
    await page.evaluate(() => Object.defineProperty(navigator, 'hardwareConcurrency', { value: 2, configurable: true }));
    await chooseModels(page, ['cvae', 'cpa', 'svae-plus']);
    await page.locator(tid('train-all')).click();
    await page.waitForFunction(() => window.__cellshift.trainAll?.models.find((m) => m.model === 'cvae').state === 'queued', null, { timeout: 10_000 });
    assert.match(await page.locator(tid('train-all-line-cvae')).innerText(), /waiting for a free worker/);
    await h.waitForScores(page, 300_000);
    const all = await page.evaluate(() => window.__cellshift.trainAll);
    console.log(`# queued: ${all.models.map((m) => `${m.model} ${m.startSeconds.toFixed(1)}–${m.endSeconds.toFixed(1)} s`).join('; ')}`);
    assert.equal(all.pool, 2);
    assert.deepEqual(all.models.map((m) => m.state), ['done', 'done', 'done']);
    const at = Object.fromEntries(all.models.map((m) => [m.model, m]));
    // The cVAE is the least work: it waits, and starts when the first of the others ends.
    assert.ok(at.cvae.startSeconds >= Math.min(at.cpa.endSeconds, at['svae-plus'].endSeconds), `the cVAE started when a worker was free: ${JSON.stringify(at)}`);
    const workers = await page.evaluate(() => ({ ...window.__workers }));
    assert.equal(workers.maxAlive, 3, `never more than two models' workers beside the page's: ${JSON.stringify(workers)}`);
    // The cVAE took over the worker of the first model scored, with the data loaded there.
    assert.equal(workers.made, 3, `two workers for three models: ${JSON.stringify(workers)}`);
    assert.deepEqual([at.cvae.reusedWorker, at.cpa.reusedWorker, at['svae-plus'].reusedWorker], [true, false, false]);
    const rows = await modelRows(page);
    for (const model of ['cvae', 'cpa', 'svae-plus']) assertScored(rows, model);
    h.assertGuards(page);
    await page.close();
  });

  test('a link that fixes the model hides Train all', async () => {
    const page = await h.openPage(browser, `${baseUrl}#hide=model`);
    await h.waitIdleWithData(page);
    for (const id of ['train-all', 'train-all-box']) assert.equal(await page.locator(tid(id)).isVisible(), false, `${id} is hidden`);
    assert.equal(await page.locator(tid('train')).isVisible(), true);
    h.assertGuards(page);
    await page.close();
  });

  test('a model whose run fails says why on its line; the other is scored', async () => {
    const page = await openQuick();
    await page.evaluate(() => {
      window.__breakModel = 'sams';
    });
    await chooseModels(page, ['cvae', 'sams']);
    await page.locator(tid('train-all')).click();
    // The failure is in the run-error box, so the usual wait for scores would stop at it.
    await page.waitForFunction(
      () => window.__cellshift.phase === 'idle' && window.__cellshift.trainAll?.running === false && document.querySelector('[data-testid="scoreboard"]').dataset.state === 'ready',
      null,
      { timeout: 300_000, polling: 100 },
    );
    const all = await page.evaluate(() => window.__cellshift.trainAll);
    assert.deepEqual(all.models.map((m) => [m.model, m.state]), [['cvae', 'done'], ['sams', 'failed']]);
    const line = await page.locator(tid('train-all-line-sams')).innerText();
    console.log(`# failed line: ${line}`);
    assert.match(line, /failed: the run could not start: Learning rate/i);
    assert.match(await page.locator(tid('run-error')).innerText(), /SAMS-VAE failed, the run could not start/);
    assert.match(await page.locator(tid('train-all-status')).innerText(), /1 of 2 models scored.*SAMS-VAE failed/);
    const rows = await modelRows(page);
    assertScored(rows, 'cvae');
    assert.equal(rows.sams, undefined, 'the failed model has no row');
    assert.equal(await page.evaluate(() => window.__workers.alive), 1, 'the failed model\'s worker was ended too');
    h.assertGuards(page);
    await page.close();
  });
});
