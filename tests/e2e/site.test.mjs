// The published site (scripts/site.mjs): content-hashed names that change with their content, and
// the built site served by a plain static server (`python3 -m http.server`, not the project's
// own) under a sub-path: it trains the sample, its share link reopens the run in a fresh browser,
// a rebuilt site is what the next reload runs, and once loaded it reloads and trains with the
// server stopped (its service worker).
// Builds the site itself into a temporary directory; needs pkg/ (scripts/build-wasm.sh).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';
import { buildSite, headerCsp } from '../../scripts/site.mjs';
import * as harness from './harness.mjs';
import { CHROMIUM, ROOT, assertGuards, launch, setSettings, tempDir, tid, train, waitForScores, waitIdleWithData } from './harness.mjs';

const SUB_PATH = '/any/path/';
const HASHED = /\.([0-9a-f]{12})\.(js|css|wasm)$/;
/** Short runs: the site's plumbing is under test here, not the model. */
const SETTINGS = { epochs: 3, hidden: 16, genes: 50, seed: 4, backend: 'cpu' };

const sha = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Every file under `dir`, as POSIX paths relative to it. */
async function listFiles(dir, prefix = '') {
  const out = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else out.push(rel);
  }
  return out.sort();
}

/** Relative references of a built JS file that do not name a file of the site. */
function danglingReferences(files, path, text) {
  const specs = [
    ...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"\n]+)\1/g),
    ...text.matchAll(/\bnew\s+URL\(\s*(['"])([^'"\n:]+)\1\s*,\s*import\.meta\.url/g),
  ].map((m) => m[2]);
  return specs.filter((s) => !files.includes(posix.normalize(posix.join(posix.dirname(path), s))));
}

/** Checks the names and references of a built site; returns its files. */
async function checkSite(out) {
  const files = await listFiles(out);
  const code = files.filter((f) => /^(www|pkg)\/[^/]+\.(js|css|wasm)$/.test(f));
  assert.ok(code.length > 5, `code files: ${code.join(', ')}`);
  const hashes = new Map();
  for (const f of code) {
    const m = HASHED.exec(f);
    assert.ok(m, `${f} carries no content hash`);
    hashes.set(f, m[1]);
  }
  for (const f of code) {
    const bytes = await readFile(join(out, f));
    const own = sha(bytes).slice(0, 12) === hashes.get(f);
    // Modules that import each other in a cycle share one hash of the cycle's content.
    const shared = [...hashes].some(([g, h]) => g !== f && h === hashes.get(f));
    assert.ok(own || shared, `${f}: its hash is not its content's`);
    if (f.endsWith('.js')) assert.deepEqual(danglingReferences(files, f, bytes.toString('utf8')), [], `${f} refers to files the site lacks`);
  }
  const html = await readFile(join(out, 'index.html'), 'utf8');
  for (const [, url] of html.matchAll(/\b(?:src|href)="([^"]*)"/g)) {
    if (url.startsWith('data:') || url.startsWith('#')) continue;
    assert.ok(!/^(\/|[a-z]+:)/i.test(url), `index.html refers to ${url}, which is not relative`);
    assert.ok(files.includes(url), `index.html refers to ${url}, which the site lacks`);
  }
  assert.match(html, /<meta name="referrer" content="no-referrer">/);
  const headers = await readFile(join(out, '_headers'), 'utf8');
  // The local server's policy: the meta tag's, plus what only a header can say.
  const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1];
  assert.ok(meta, 'index.html keeps its CSP meta tag');
  assert.ok(headers.includes(`Content-Security-Policy: ${headerCsp(meta)}\n`), `_headers lacks the policy ${headerCsp(meta)}`);
  assert.match(headerCsp(meta), /; frame-ancestors 'none'$/);
  assert.match(headers, /Referrer-Policy: no-referrer/);
  return files;
}

// ---------------------------------------------------------------------------------------------
// A plain static server

/** `python3 -m http.server` on 127.0.0.1 serving `dir`; its access log is kept in `log`. */
async function startStatic(dir) {
  const child = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  child.stderr.on('data', (chunk) => {
    for (const m of String(chunk).matchAll(/"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3})/g)) log.push({ method: m[1], path: m[2], status: Number(m[3]) });
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`python3 -m http.server did not start: ${out}`)), 15_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /port (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`python3 -m http.server exited with ${code}: ${out}`)));
  });
  return { child, log, origin: `http://127.0.0.1:${port}` };
}

async function stopStatic(server) {
  if (!server || server.child.exitCode !== null || server.child.signalCode) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/**
 * Records the requests of a browser context (its pages and their workers) from now on:
 * `{url, status, failure, fromServiceWorker, bySw}`; `bySw` marks those the service worker made
 * itself (its install and update checks), `phase` the value of `seen.phase` when it ended.
 */
function recordRequests(context) {
  const seen = [];
  seen.phase = 'online';
  const bySw = (req) => Boolean(req.serviceWorker?.());
  context.on('requestfinished', async (req) => {
    const phase = seen.phase;
    const res = await req.response().catch(() => null);
    seen.push({ url: req.url(), status: res?.status() ?? null, fromServiceWorker: res?.fromServiceWorker() ?? false, bySw: bySw(req), phase });
  });
  context.on('requestfailed', (req) => seen.push({ url: req.url(), failure: req.failure()?.errorText ?? 'failed', bySw: bySw(req), phase: seen.phase }));
  return seen;
}

/** Waits until the service worker controls `page`; returns its scope. */
async function offlineReady(page) {
  await page.waitForFunction(() => navigator.serviceWorker?.controller !== null && navigator.serviceWorker?.controller !== undefined, null, { timeout: 120_000, polling: 250 });
  return page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
}

/** The site's entry module as the page loaded it (path under the site). */
const appScript = (page) => page.evaluate(() => document.querySelector('script[src*="www/app."]').getAttribute('src'));

/** Rebuilds the site into `out` from the sources with one module changed; returns the build. */
async function buildChanged(out) {
  const root = await tempDir('cellshift-site-v2-');
  await cp(join(ROOT, 'index.html'), join(root, 'index.html'));
  await cp(join(ROOT, 'www'), join(root, 'www'), { recursive: true });
  await symlink(join(ROOT, 'pkg'), join(root, 'pkg'));
  await symlink(join(ROOT, 'assets'), join(root, 'assets'));
  await writeFile(join(root, 'www/protocol.js'), `${await readFile(join(root, 'www/protocol.js'), 'utf8')}\n// the next version\n`);
  return buildSite({ root, out, compressed: false });
}

/** Waits until the service worker's cache is `version`'s and no older one is left. */
async function cachedVersion(page, version, timeout = 120_000) {
  const until = Date.now() + timeout;
  let keys = [];
  while (Date.now() < until) {
    keys = await page.evaluate(() => caches.keys());
    if (keys.length === 1 && keys[0].endsWith(` ${version}`)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`the service worker's caches are ${JSON.stringify(keys)}, not version ${version} alone`);
}

function assertRequestsUnder(requests, base) {
  const bad = requests.filter((r) => {
    if (r.url.startsWith('data:') || r.url.startsWith('blob:')) return false;
    return !r.url.startsWith(base) || r.failure || (r.status !== null && r.status >= 400);
  });
  assert.deepEqual(bad, [], `requests outside ${base} or not answered`);
}

/** A temporary copy of the page's sources (index.html, www/, pkg/cellshift.js) with `wasm` as its module. */
async function sourceCopy(prefix, wasm) {
  const root = await tempDir(prefix);
  await cp(join(ROOT, 'index.html'), join(root, 'index.html'));
  await cp(join(ROOT, 'www'), join(root, 'www'), { recursive: true });
  await mkdir(join(root, 'pkg'));
  await cp(join(ROOT, 'pkg/cellshift.js'), join(root, 'pkg/cellshift.js'));
  await writeFile(join(root, 'pkg/cellshift_bg.wasm'), wasm);
  return root;
}

// ---------------------------------------------------------------------------------------------

describe('the static site', () => {
  test('a rebuild after a change to a module renames it and every module that imports it', async () => {
    // A copy of the page's sources with a stand-in wasm (the graph and the names are under test).
    const root = await sourceCopy('cellshift-site-src-', Buffer.concat([Buffer.from('\0asm\x01\0\0\0'), Buffer.alloc(4096, 7)]));
    const out = join(root, 'site');

    const first = await buildSite({ root, out });
    await checkSite(out);
    // Compressed copies beside the code hold the same bytes.
    for (const f of [first.files['www/app.js'], first.files['pkg/cellshift_bg.wasm'], 'index.html']) {
      const bytes = await readFile(join(out, f));
      assert.deepEqual(gunzipSync(await readFile(join(out, `${f}.gz`))), bytes, `${f}.gz`);
      assert.deepEqual(brotliDecompressSync(await readFile(join(out, `${f}.br`))), bytes, `${f}.br`);
    }

    const unchanged = await buildSite({ root, out });
    assert.deepEqual(unchanged.files, first.files, 'the same sources give the same names');
    assert.equal(unchanged.version, first.version);

    await writeFile(join(root, 'www/protocol.js'), `${await readFile(join(root, 'www/protocol.js'), 'utf8')}\n// changed\n`);
    const second = await buildSite({ root, out });
    for (const f of ['www/protocol.js', 'www/worker.js', 'www/engine.js', 'www/app.js']) {
      assert.notEqual(second.files[f], first.files[f], `${f} keeps its name after protocol.js changed`);
    }
    for (const f of ['pkg/cellshift_bg.wasm', 'pkg/cellshift.js', 'www/style.css']) {
      assert.equal(second.files[f], first.files[f], `${f} was renamed though it did not change`);
    }
    const kept = Object.keys(first.files).filter((f) => f.startsWith('www/') && f.endsWith('.js') && second.files[f] === first.files[f]);
    assert.ok(kept.length > 0, 'modules that do not import protocol.js keep their names');
    assert.notEqual(second.version, first.version, 'the service worker sees a new version');
    const files = await checkSite(out);
    assert.ok(!files.includes(first.files['www/protocol.js']), 'the old name is gone from the rebuilt site');
    const sw = await readFile(join(out, 'sw.js'), 'utf8');
    assert.ok(sw.includes(`"${second.files['www/protocol.js']}"`), 'sw.js caches the new name');
  });

  test("pkg/'s own gzip and brotli copies of the wasm are reused when as new as the wasm, and only then", async () => {
    const wasm = Buffer.concat([Buffer.from('\0asm\x01\0\0\0'), Buffer.alloc(8192, 5), Buffer.from('cellshift '.repeat(500))]);
    const root = await sourceCopy('cellshift-site-pkg-', wasm);
    const wasmPath = join(root, 'pkg/cellshift_bg.wasm');
    // Copies the site would not make itself (its own are gzip 9 and brotli 11), so a reused one is recognisable.
    const pkgBr = brotliCompressSync(wasm, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 0 } });
    const pkgGz = gzipSync(wasm, { level: 1 });
    assert.notDeepEqual(pkgBr, brotliCompressSync(wasm, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11 } }));
    assert.notDeepEqual(pkgGz, gzipSync(wasm, { level: 9 }));
    await writeFile(`${wasmPath}.br`, pkgBr);
    await writeFile(`${wasmPath}.gz`, pkgGz);
    const built = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    for (const f of [wasmPath, `${wasmPath}.br`, `${wasmPath}.gz`]) await utimes(f, built, built);

    const fresh = await buildSite({ root, out: join(root, 'site-fresh') });
    const name = fresh.files['pkg/cellshift_bg.wasm'];
    assert.deepEqual(await readFile(join(fresh.out, `${name}.br`)), pkgBr, "the site's .br is pkg/'s");
    assert.deepEqual(await readFile(join(fresh.out, `${name}.gz`)), pkgGz, "the site's .gz is pkg/'s");

    // Copies older than the wasm belong to another build: the site makes its own.
    const older = new Date(built.getTime() - 3_600_000);
    for (const f of [`${wasmPath}.br`, `${wasmPath}.gz`]) await utimes(f, older, older);
    const stale = await buildSite({ root, out: join(root, 'site-stale') });
    const br = await readFile(join(stale.out, `${name}.br`));
    const gz = await readFile(join(stale.out, `${name}.gz`));
    assert.notDeepEqual(br, pkgBr, 'a stale pkg/ .br was reused');
    assert.notDeepEqual(gz, pkgGz, 'a stale pkg/ .gz was reused');
    assert.deepEqual(brotliDecompressSync(br), wasm);
    assert.deepEqual(gunzipSync(gz), wasm);
  });

  describe('served under a sub-path by python3 -m http.server', () => {
    let parent;
    let out;
    let server;
    let browser;
    let base;

    before(async () => {
      assert.ok(existsSync(join(ROOT, 'pkg/cellshift_bg.wasm')), 'pkg/cellshift_bg.wasm is missing: run scripts/build-wasm.sh first');
      assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
      parent = await tempDir('cellshift-site-');
      out = join(parent, ...SUB_PATH.split('/').filter(Boolean));
      await buildSite({ out, compressed: false });
      server = await startStatic(parent);
      base = `${server.origin}${SUB_PATH}`;
      browser = await launch();
    });

    after(async () => {
      await browser?.close();
      await stopStatic(server);
      await harness.cleanup();
    });

    test('trains, shares a link under the sub-path, runs a new version at once, and works offline after one visit', async () => {
      const files = await checkSite(out);
      assert.ok(files.some((f) => /^pkg\/cellshift_bg\.[0-9a-f]{12}\.wasm$/.test(f)), 'the wasm has a hashed name');
      // _headers says what the local server sends.
      const local = await harness.startServer();
      try {
        const res = await fetch(local.url);
        const headers = await readFile(join(out, '_headers'), 'utf8');
        for (const name of ['Content-Security-Policy', 'Referrer-Policy', 'X-Content-Type-Options', 'X-Frame-Options', 'Cross-Origin-Opener-Policy']) {
          assert.ok(headers.includes(`  ${name}: ${res.headers.get(name)}\n`), `_headers: ${name} is not the server's ${res.headers.get(name)}`);
        }
      } finally {
        const exited = new Promise((r) => local.child.once('exit', r));
        local.child.kill('SIGTERM');
        await exited;
      }

      const started = Date.now();
      const requests = recordRequests(browser);
      const page = await harness.openPage(browser, base);
      await waitIdleWithData(page);
      const scope = await offlineReady(page);
      assert.equal(scope, base, 'the service worker covers the site, whatever its sub-path');

      await setSettings(page, SETTINGS);
      const results = await train(page, 240_000);
      assert.equal(results.train.epochs, SETTINGS.epochs);
      const link = await page.locator(tid('share-link')).inputValue();
      assert.ok(link.startsWith(`${base}#`), `the share link ${link} is not under ${base}`);
      const params = new URLSearchParams(new URL(link).hash.slice(1));
      assert.equal(params.get('epochs'), String(SETTINGS.epochs));
      assert.equal(params.get('autorun'), '1');
      console.log(`site: first visit trained in ${((Date.now() - started) / 1000).toFixed(1)} s`);

      // The link in a fresh browser retrains the same run.
      const fresh = await launch();
      try {
        const otherRequests = recordRequests(fresh);
        const other = await harness.openPage(fresh, link);
        const again = await waitForScores(other, 240_000);
        assert.equal(await other.locator(tid('epochs')).inputValue(), String(SETTINGS.epochs));
        assert.equal(await other.locator(tid('seed')).inputValue(), String(SETTINGS.seed));
        assert.deepEqual(again.config, results.config);
        assert.deepEqual(again.train.history, results.train.history);
        assert.deepEqual(again.scores, results.scores);
        assertRequestsUnder(otherRequests, base);
        assertGuards(other);
      } finally {
        await fresh.close();
      }

      // A new version: the reload runs it (never the old modules), and its service worker takes over.
      const v1 = await appScript(page);
      const v2 = await buildChanged(out);
      await page.reload();
      await waitIdleWithData(page);
      assert.equal(await appScript(page), v2.files['www/app.js'], `the reload still runs ${v1}`);
      await cachedVersion(page, v2.version);

      // Everything the browsers asked for was under the sub-path, and the server had it.
      assertRequestsUnder(requests.filter((r) => r.phase === 'online'), base);
      assert.ok(server.log.length > 10, `the server saw ${server.log.length} requests`);
      const refused = server.log.filter((r) => !r.path.startsWith(SUB_PATH) || ![200, 304].includes(r.status));
      assert.deepEqual(refused, [], 'requests the static server did not answer under the sub-path');
      assertGuards(page);

      // Offline: the server is gone; the page reloads from the service worker and trains again.
      await stopStatic(server);
      const offlineStart = Date.now();
      requests.phase = 'offline';
      const response = await page.reload();
      assert.ok(response?.fromServiceWorker(), 'the reloaded page came from the service worker');
      await waitIdleWithData(page);
      await setSettings(page, SETTINGS);
      const offlineResults = await train(page, 240_000);
      assert.deepEqual(offlineResults.scores, results.scores, 'the offline run scores as the first did');
      // The bundled dataset was cached too.
      await page.locator(tid('load-dataset-kang2018')).click();
      await page.waitForFunction(() => window.__cellshift.phase === 'idle' && window.__cellshift.dataset?.kind === 'bundled', null, { timeout: 120_000 });
      assert.equal(await page.locator(tid('summary-cells')).innerText(), '1,975');
      assert.equal(await appScript(page), v2.files['www/app.js'], 'offline, the page is the new version');
      // The service worker's own update check fails offline, as it should; the page's requests do not.
      const offline = requests.filter((r) => r.phase === 'offline' && !r.bySw);
      assertRequestsUnder(offline, base);
      const network = offline.filter((r) => r.url.startsWith(base) && !r.fromServiceWorker);
      assert.deepEqual(network, [], 'requests the service worker did not answer');
      assertGuards(page);
      console.log(`site: offline reload and training took ${((Date.now() - offlineStart) / 1000).toFixed(1)} s`);
    });
  });
});
