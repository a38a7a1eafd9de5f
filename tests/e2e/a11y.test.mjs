// Keyboard, screen readers and phones: axe-core finds no serious or critical violation on the
// loaded page, on a finished scoreboard and at 390 px wide; every chart has a label and a data
// table; the page is driven from load to a read scoreboard table with the keyboard alone; and at
// 390 px the page does not scroll sideways.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as harness from './harness.mjs';
import { assertGuards, setSettings, tid, train, waitForScores, waitIdleWithData } from './harness.mjs';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** A short run: enough for every figure and table of the scoreboard. */
const QUICK = { epochs: 3, hidden: 16, genes: 50, backend: 'cpu' };
const QUICK_HASH = Object.entries(QUICK).map(([k, v]) => `${k}=${v}`).join('&');
const CHARTS = ['fig-shift', 'fig-jaccard', 'fig-pca', 'fig-curves', 'live-curves'];

let baseUrl;
let browser;

before(async () => {
  ({ baseUrl, browser } = await harness.startSuite());
});

after(() => harness.stopSuite(browser));

/**
 * Runs axe-core on the page as it is, with every disclosure open so that what it holds is
 * checked too; prints the violations and returns the serious and critical ones. The page's CSP
 * refuses inline scripts, so axe is evaluated through the debugging protocol rather than added
 * as a script tag.
 */
async function axe(page, label) {
  const opened = await page.evaluate(() => {
    const closed = [...document.querySelectorAll('details:not([open])')];
    for (const d of closed) {
      d.dataset.axeOpened = '1';
      d.open = true;
    }
    return closed.length;
  });
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const res = await window.axe.run(document, { resultTypes: ['violations'] });
    return res.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
  await page.evaluate(() => {
    for (const d of document.querySelectorAll('details[data-axe-opened]')) {
      d.open = false;
      delete d.dataset.axeOpened;
    }
  });
  const summary = violations.length ? violations.map((v) => `${v.impact} ${v.id} ×${v.nodes.length}`).join(', ') : 'none';
  console.log(`# axe (${label}, ${opened} disclosures opened): ${summary}`);
  for (const v of violations) console.log(`#   ${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 4).join(' | ')}`);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** The label of each chart canvas and the rows of the data table behind it. */
function chartAlternatives(page) {
  return page.evaluate((ids) => {
    return ids.map((id) => {
      const canvas = document.getElementById(id);
      const box = document.getElementById(`${id}-data`);
      if (box) box.open = true;
      const out = {
        id,
        role: canvas.getAttribute('role'),
        label: canvas.getAttribute('aria-label'),
        describedBy: canvas.getAttribute('aria-describedby'),
        summary: box?.querySelector('summary')?.textContent,
        rows: box?.querySelectorAll('tbody tr').length ?? 0,
        head: [...(box?.querySelectorAll('thead th') ?? [])].map((th) => th.textContent),
      };
      return out;
    });
  }, CHARTS);
}

describe('keyboard, screen readers, phones', () => {
  test('axe finds nothing serious on the loaded page, a finished scoreboard and at 390 px; every chart has a data table', async () => {
    const page = await harness.openPage(browser, baseUrl);
    await waitIdleWithData(page);
    await page.waitForFunction(() => document.querySelector('[data-testid="scoreboard"]').dataset.state === 'preview', null, { timeout: 60_000 });
    const loaded = await axe(page, 'loaded page, baselines shown');
    assert.deepEqual(loaded, [], 'serious or critical violations on the loaded page');

    if (!(await page.locator(tid('advanced')).evaluate((d) => d.open))) await page.locator('#advanced > summary').click();
    await setSettings(page, QUICK);
    await train(page, 180_000);
    const scored = await axe(page, 'finished scoreboard');
    assert.deepEqual(scored, [], 'serious or critical violations on the finished scoreboard');

    const charts = await chartAlternatives(page);
    for (const c of charts) {
      assert.equal(c.role, 'img', `${c.id} has role img`);
      assert.ok(c.label && c.label.length > 30, `${c.id} has a label saying what it shows: ${c.label}`);
      assert.equal(c.describedBy, `${c.id}-data-summary`, `${c.id} points at its data`);
      assert.equal(c.summary, 'Data behind this chart');
      assert.ok(c.rows >= 1, `${c.id} has a data table (${c.rows} rows)`);
    }
    const byId = Object.fromEntries(charts.map((c) => [c.id, c]));
    assert.match(byId['fig-shift'].label, /r = -?\d/);
    assert.deepEqual(byId['fig-jaccard'].head, ['Predictor', 'K = 25', 'K = 50', 'K = 100']);
    assert.equal(byId['fig-curves'].rows, QUICK.epochs, 'one row per epoch');
    assert.equal(byId['live-curves'].rows, QUICK.epochs, 'the live chart lists the epochs reported');
    assert.equal(byId['fig-pca'].rows, 3, 'control, true and predicted cells');
    console.log(`# chart labels: ${charts.map((c) => `${c.id}: ${c.label}`).join(' | ')}`);

    // A phone: the same finished scoreboard at 390 × 844.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(() => document.querySelector('[data-testid="scoreboard"]').dataset.state === 'ready', null, { timeout: 30_000 });
    const phone = await axe(page, '390 px');
    assert.deepEqual(phone, [], 'serious or critical violations at 390 px');
    assertGuards(page);
    await page.close();
  });

  test('at 390 px the page does not scroll sideways, controls fit and charts scale', async () => {
    const phone = await harness.openPage(browser, `${baseUrl}#${QUICK_HASH}`);
    await phone.setViewportSize({ width: 390, height: 844 });
    await waitIdleWithData(phone);
    await phone.locator(tid('train')).click();
    await waitForScores(phone, 180_000);
    const layout = await phone.evaluate(() => {
      const width = window.innerWidth;
      const wide = [];
      for (const node of document.querySelectorAll('button, input:not(.visually-hidden), select, canvas, summary, h2')) {
        const r = node.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        if (r.left < -1 || r.right > width + 1) wide.push(`${node.tagName.toLowerCase()}#${node.id || node.dataset.testid || ''} ${Math.round(r.left)}–${Math.round(r.right)}`);
      }
      const canvases = [...document.querySelectorAll('.figures canvas:not([hidden])')].map((c) => ({ id: c.id, w: c.getBoundingClientRect().width, px: c.width }));
      const train = document.querySelector('[data-testid="train"]').getBoundingClientRect();
      return { scrollWidth: document.documentElement.scrollWidth, bodyScroll: document.body.scrollWidth, width, wide, canvases, trainHeight: train.height };
    });
    console.log(`# 390 px: scrollWidth ${layout.scrollWidth}, charts ${layout.canvases.map((c) => `${c.id} ${Math.round(c.w)} px`).join(', ')}`);
    assert.ok(layout.scrollWidth <= 390, `the page scrolls sideways: scrollWidth ${layout.scrollWidth}`);
    assert.ok(layout.bodyScroll <= 390, `the body scrolls sideways: ${layout.bodyScroll}`);
    assert.deepEqual(layout.wide, [], 'controls and charts within the screen');
    assert.ok(layout.trainHeight >= 24, `Train is big enough to tap (${layout.trainHeight} px)`);
    for (const c of layout.canvases) {
      assert.ok(c.w > 200 && c.w <= 390, `${c.id} scales to the screen (${c.w} px)`);
      assert.ok(c.px >= c.w, `${c.id} is drawn at the screen's resolution`);
    }
    assertGuards(phone);
    await phone.close();
  });

  test('keyboard only: reach Train, train, then reach and read the scoreboard table', async () => {
    // The link sets a short run; from here on only keys are pressed.
    const page = await harness.openPage(browser, `${baseUrl}#${QUICK_HASH}`);
    await waitIdleWithData(page);
    const active = () =>
      page.evaluate(() => {
        const a = document.activeElement;
        const cs = a ? getComputedStyle(a) : null;
        return {
          testid: a?.dataset?.testid ?? null,
          id: a?.id ?? '',
          tag: a?.tagName.toLowerCase(),
          text: (a?.textContent ?? '').trim().slice(0, 40),
          label: a?.getAttribute('aria-label') ?? null,
          focusRing: cs ? cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0 : false,
        };
      });
    const noRing = [];
    /** Presses `key` until the focused element matches, at most `limit` times. */
    async function tabTo(match, { key = 'Tab', limit = 250 } = {}) {
      for (let i = 0; i < limit; i += 1) {
        await page.keyboard.press(key);
        const a = await active();
        if (!a.focusRing) noRing.push(`${a.tag}#${a.id || a.testid}`);
        if (match(a)) return { presses: i + 1, at: a };
      }
      throw new Error(`${key} never reached the element (last: ${JSON.stringify(await active())})`);
    }

    const toTrain = await tabTo((a) => a.testid === 'train');
    console.log(`# keyboard: Train after ${toTrain.presses} Tab presses`);
    // Shift+Tab leaves it and Tab comes back: no trap on the way.
    await page.keyboard.press('Shift+Tab');
    assert.notEqual((await active()).testid, 'train');
    await page.keyboard.press('Tab');
    assert.equal((await active()).testid, 'train');
    await page.keyboard.press('Enter');
    await waitForScores(page, 180_000);

    // Train is disabled while it trains; focus may have moved on. Tab on to the pooled scores.
    const toTable = await tabTo((a) => a.testid === 'pooled-table-wrap');
    console.log(`# keyboard: the pooled scoreboard table after ${toTable.presses} more Tab presses`);
    const read = await page.evaluate(() => {
      const t = document.activeElement.querySelector('table');
      return {
        label: document.activeElement.getAttribute('aria-label'),
        head: [...t.tHead.rows[0].cells].map((c) => c.textContent),
        rows: [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => c.textContent.trim())),
      };
    });
    assert.equal(read.label, 'Scores pooled over held-out conditions');
    assert.equal(read.head[0], 'Predictor');
    const model = read.rows.find((r) => /cVAE/.test(r[0]));
    assert.ok(model, `the model's row is in the table: ${JSON.stringify(read.rows)}`);
    assert.match(model[1], /^-?\d\.\d{3}$/, `the model's r is a number: ${model[1]}`);
    assert.ok(read.rows.some((r) => r[0] === 'perturbation_mean'), 'the baselines are in the table');
    console.log(`# keyboard read: ${read.rows.map((r) => `${r[0]} r ${r[1]}`).join(', ')}`);

    // A chart's data behind it: reached by Tab (backwards from the table), opened with Enter.
    const toData = await tabTo((a) => a.tag === 'summary' && a.text === 'Data behind this chart', { key: 'Shift+Tab', limit: 60 });
    const box = await page.evaluate(() => document.activeElement.parentElement.id);
    await page.keyboard.press('Enter');
    assert.ok(await page.evaluate((id) => document.getElementById(id).open, box), `Enter opens ${box}`);
    assert.ok((await page.locator(`#${box} tbody tr`).count()) > 0, `${box} holds a table`);
    await page.keyboard.press('Space');
    assert.ok(!(await page.evaluate((id) => document.getElementById(id).open, box)), `Space closes ${box}`);
    console.log(`# keyboard: ${box} opened and closed after ${toData.presses} Shift+Tab presses`);

    // The per-condition table scrolls with the arrow keys once it has the focus.
    await tabTo((a) => a.label === 'Scores per held-out condition', { limit: 150 });
    const scroller = page.locator('.table-scroll');
    if (await scroller.evaluate((n) => n.scrollHeight > n.clientHeight)) {
      for (let i = 0; i < 5; i += 1) await page.keyboard.press('ArrowDown');
      // Keyboard scrolling may be animated: wait for it.
      await page.waitForFunction(() => document.querySelector('.table-scroll').scrollTop > 0, null, { timeout: 5_000 });
    }
    assert.deepEqual([...new Set(noRing)], [], 'every element reached by the keyboard shows where the focus is');
    assertGuards(page);
    await page.close();
  });
  test('every chart says how to read it, in a disclosure a keyboard opens', async () => {
    // The figures (and their help) are shown once a model is scored: before, the scoreboard
    // holds the baselines alone, and whether the help could still be focused depended on how
    // soon they came.
    const page = await harness.openPage(browser, `${baseUrl}#${QUICK_HASH}`);
    await waitIdleWithData(page);
    await train(page, 180_000);
    for (const panel of ['shift', 'jaccard', 'pca', 'curves', 'masks']) {
      const help = page.locator(tid(`help-${panel}`));
      assert.equal(await help.evaluate((d) => d.tagName), 'DETAILS', panel);
      assert.equal(await help.evaluate((d) => d.closest('figure')?.querySelector('canvas')?.dataset.panel), panel, `${panel}: the help sits with its chart`);
      const text = await help.locator('p').textContent();
      assert.ok(text.split(/[.!?]\s/).length >= 2 && text.length > 120, `${panel}: a few sentences, not a label: ${text}`);
    }
    // Opened from the keyboard: focus the summary, press Enter.
    const summary = page.locator(`${tid('help-shift')} > summary`);
    await summary.focus();
    await page.keyboard.press('Enter');
    assert.equal(await page.locator(tid('help-shift')).evaluate((d) => d.open), true);
    assertGuards(page);
    await page.close();
  });
});
