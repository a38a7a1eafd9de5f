// What every end-to-end suite shares: the server, Chromium with the flags this machine needs,
// pages with guards (no foreign requests, dialogs or uncaught errors), and the page helpers.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '../..');
export const SCREENSHOTS = join(HERE, 'screenshots');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const PANELS = ['shift', 'jaccard', 'pca', 'curves'];

/** Temporary directories made by a suite, removed by `cleanup`. */
export const tempDirs = [];

export async function tempDir(prefix) {
  const d = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

export async function cleanup() {
  for (const d of tempDirs.splice(0)) await rm(d, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Server and browser

/** Starts www/serve.mjs on a free port; resolves to `{child, url}`. */
export async function startServer() {
  const child = spawn(process.execPath, [join(ROOT, 'www/serve.mjs')], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise((resolveUrl, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${out}`)), 10_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[0]);
      }
    });
    child.stderr.on('data', (chunk) => {
      out += chunk;
    });
    child.on('exit', (code) => reject(new Error(`the server exited with ${code}: ${out}`)));
  });
  return { child, url };
}

export async function launch(extraArgs = []) {
  const profile = await tempDir('cellshift-chromium-');
  const args = [
    '--headless',
    '--no-sandbox',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    ...extraArgs,
  ];
  // playwright-core manages the profile directory itself (it refuses a --user-data-dir
  // argument): a persistent context on a fresh temporary directory gives the same isolation.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args,
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
  });
  return context;
}

/** A page with guards: every request must stay on the local origin and no dialog may open. */
export async function openPage(context, url) {
  const page = await context.newPage();
  const guard = { foreign: [], dialogs: [], pageErrors: [], console: [] };
  const local = new URL(url);
  page.on('request', (req) => {
    const u = req.url();
    const isLocal = (href) => {
      try {
        const p = new URL(href);
        return p.hostname === '127.0.0.1' && p.port === local.port;
      } catch {
        return false;
      }
    };
    if (u.startsWith('data:')) return;
    if (u.startsWith('blob:') && isLocal(u.slice(5))) return;
    if (!isLocal(u)) guard.foreign.push(u);
  });
  page.on('dialog', (d) => {
    guard.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => guard.pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') guard.console.push(m.text());
  });
  page.guard = guard;
  await page.goto(url);
  return page;
}

export function assertGuards(page, { allowConsoleErrors = false } = {}) {
  const g = page.guard;
  assert.deepEqual(g.foreign, [], `requests left the local origin: ${g.foreign.join(', ')}`);
  assert.deepEqual(g.dialogs, [], `dialogs opened: ${g.dialogs.join('; ')}`);
  assert.deepEqual(g.pageErrors, [], `uncaught page errors: ${g.pageErrors.join('; ')}`);
  if (!allowConsoleErrors) assert.deepEqual(g.console, [], `console errors: ${g.console.join('; ')}`);
}

export async function screenshot(page, name) {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-full.png`), fullPage: true });
}

// ---------------------------------------------------------------------------------------------
// Page helpers

export const tid = (id) => `[data-testid="${id}"]`;

export async function waitIdleWithData(page) {
  await page.waitForFunction(() => window.__cellshift?.phase === 'idle' && window.__cellshift.summary, null, { timeout: 60_000 });
}

export async function setSettings(page, values) {
  for (const [id, value] of Object.entries(values)) {
    const loc = page.locator(tid(id));
    const tag = await loc.evaluate((n) => n.tagName);
    if (tag === 'SELECT') await loc.selectOption(String(value));
    else await loc.fill(String(value));
  }
}

/** Waits until the scoreboard holds fresh results (or fails with the page's error). */
export async function waitForScores(page, timeout = 120_000) {
  const handle = await page.waitForFunction(
    () => {
      const q = (id) => document.querySelector(`[data-testid="${id}"]`);
      if (q('scoreboard').dataset.state === 'ready' && window.__cellshift.phase === 'idle') return { ok: true };
      for (const id of ['run-error', 'settings-error']) if (!q(id).hidden) return { ok: false, error: q(id).textContent };
      return false;
    },
    null,
    { timeout, polling: 100 },
  );
  const v = await handle.jsonValue();
  assert.ok(v.ok, `training did not produce scores: ${v.error}`);
  return page.evaluate(() => window.__cellshift.results);
}

export async function train(page, timeout) {
  await page.locator(tid('train')).click();
  return waitForScores(page, timeout);
}

/** Non-background pixels per figure canvas (the four standard panels unless told). */
export async function canvasInk(page, panels = PANELS) {
  return page.evaluate((panels) => {
    return panels.map((panel) => {
      const c = document.querySelector(`[data-testid="fig-${panel}"]`);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let ink = 0;
      const colours = new Set();
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245) {
          ink += 1;
          if (colours.size < 64) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        }
      }
      return { panel, width: c.width, height: c.height, ink, fraction: ink / (c.width * c.height), colours: colours.size };
    });
  }, panels);
}

export function assertCanvasesDrawn(ink) {
  for (const c of ink) {
    assert.ok(c.width > 200 && c.height > 150, `${c.panel} canvas is ${c.width}×${c.height}`);
    assert.ok(c.fraction > 0.01, `${c.panel} canvas is blank (${c.ink} non-background pixels)`);
    assert.ok(c.colours > 3, `${c.panel} canvas has only ${c.colours} colours`);
  }
}


/** The server of the suite in progress (`startSuite`). */
let suiteServer = null;

/**
 * What a page suite needs before its tests: the built wasm, Chromium, the server and one
 * browser. Resolves to `{baseUrl, browser}`; `stopSuite` undoes it.
 */
export async function startSuite() {
  assert.ok(existsSync(join(ROOT, 'pkg/cellshift_bg.wasm')), 'pkg/cellshift_bg.wasm is missing: run scripts/build-wasm.sh first');
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  const { child, url } = await startServer();
  suiteServer = child;
  return { baseUrl: url, browser: await launch() };
}

/** Closes the suite's browser, stops its server and removes its temporary directories. */
export async function stopSuite(browser) {
  await browser?.close();
  const server = suiteServer;
  suiteServer = null;
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  await cleanup();
}
