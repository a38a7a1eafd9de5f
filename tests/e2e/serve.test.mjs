// Tests of the static server www/serve.mjs: what it serves, what it refuses, the headers it sends
// and how it reports a bad PORT. Plain node:http requests (so the Host header is under the test's
// control); no browser. Run from tests/e2e: `node --test serve.test.mjs`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const SERVE = join(ROOT, 'www/serve.mjs');
const LINK_NAME = `test-link-${process.pid}.txt`;
const LINK = join(ROOT, 'www', LINK_NAME);
/** A text file with pre-compressed copies beside it, made by the content-coding tests. */
const CODED_NAME = `test-coding-${process.pid}.txt`;
const CODED = join(ROOT, 'www', CODED_NAME);
const CODED_FILES = [CODED, `${CODED}.br`, `${CODED}.gz`];

let server;
let port;

function startServer(env = {}) {
  const child = spawn(process.execPath, [SERVE], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolveStart, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${out}`)), 10_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveStart({ child, port: Number(m[1]) });
      }
    });
    child.stderr.on('data', (chunk) => {
      out += chunk;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}: ${out}`));
    });
  });
}

/** Runs serve.mjs to completion and returns its exit status and output. */
function runServer(env) {
  const child = spawn(process.execPath, [SERVE], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  return new Promise((done) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

/** One request with a raw path (sent as is, no normalisation) and explicit headers. */
function get(path, { method = 'GET', host = `127.0.0.1:${port}`, headers = {} } = {}) {
  return new Promise((done, reject) => {
    const allHeaders = { ...headers };
    if (host !== null) allHeaders.Host = host;
    const req = request({ host: '127.0.0.1', port, path, method, headers: allHeaders, setHost: false, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The CSP the server must send: index.html's meta policy plus frame-ancestors 'none'. */
async function expectedCspDirectives() {
  const html = await readFile(join(ROOT, 'index.html'), 'utf8');
  const m = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/i.exec(html);
  assert.ok(m, 'index.html has a Content-Security-Policy meta tag');
  return m[1]
    .split(';')
    .map((d) => d.trim())
    .filter(Boolean);
}

async function assertSecurityHeaders(res) {
  const csp = res.headers['content-security-policy'];
  assert.ok(csp, 'Content-Security-Policy header present');
  const directives = csp.split(';').map((d) => d.trim());
  assert.ok(directives.includes("frame-ancestors 'none'"), `frame-ancestors 'none' in ${csp}`);
  for (const d of await expectedCspDirectives()) {
    const name = d.split(/\s+/)[0];
    const sent = directives.find((x) => x.split(/\s+/)[0] === name);
    assert.ok(sent, `the header keeps the meta tag's ${name} directive`);
    assert.equal(sent, d, `${name} as in the meta tag`);
  }
  assert.equal(res.headers['referrer-policy'], 'no-referrer');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['x-frame-options'], 'DENY');
  assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin');
  assert.equal(res.headers['cache-control'], 'no-cache');
}

before(async () => {
  ({ child: server, port } = await startServer());
});

after(async () => {
  await rm(LINK, { force: true });
  for (const f of CODED_FILES) await rm(f, { force: true });
  if (server && server.exitCode === null) {
    const exited = new Promise((done) => server.once('exit', done));
    server.kill('SIGTERM');
    await exited;
  }
});

describe('what the server serves', () => {
  test('/ is index.html, with the security headers', async () => {
    const res = await get('/');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.equal(res.body.toString(), await readFile(join(ROOT, 'index.html'), 'utf8'));
    await assertSecurityHeaders(res);
  });

  test('/www/app.js is served as JavaScript', async () => {
    const res = await get('/www/app.js');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/javascript/);
    await assertSecurityHeaders(res);
  });

  test('/pkg/cellshift.js is served', async (t) => {
    if (!existsSync(join(ROOT, 'pkg/cellshift.js'))) {
      t.skip('pkg/ is not built (scripts/build-wasm.sh)');
      return;
    }
    const res = await get('/pkg/cellshift.js');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/javascript/);
    await assertSecurityHeaders(res);
  });

  test('gzip when accepted, and HEAD has no body', async () => {
    const gz = await get('/www/app.js', { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.body[0], 0x1f);
    assert.equal(gz.body[1], 0x8b);
    const head = await get('/www/app.js', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.ok(Number(head.headers['content-length']) > 0);
  });
});

describe('content coding', () => {
  const text = Buffer.from(`${'cellshift serves pre-compressed copies. '.repeat(200)}\n`);
  const br = brotliCompressSync(text);
  const gz = gzipSync(text, { level: 9 });
  const BUILT = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);

  before(async () => {
    await writeFile(CODED, text);
    await writeFile(`${CODED}.br`, br);
    await writeFile(`${CODED}.gz`, gz);
    // The copies are as new as the file, as a build leaves them (whole seconds: utimes would
    // truncate the file's own sub-millisecond mtime).
    for (const f of CODED_FILES) await utimes(f, BUILT, BUILT);
  });

  after(async () => {
    for (const f of CODED_FILES) await rm(f, { force: true });
  });

  const url = `/www/${CODED_NAME}`;
  const varies = (res) => assert.ok(/(^|,\s*)accept-encoding(\s*,|$)/i.test(res.headers.vary ?? ''), `Vary: ${res.headers.vary}`);

  test('brotli when accepted and <file>.br exists, preferred to gzip, with its own length', async () => {
    for (const accept of ['gzip, deflate, br', 'br', 'br, gzip', 'gzip;q=1, br;q=1', '*']) {
      const res = await get(url, { headers: { 'Accept-Encoding': accept } });
      assert.equal(res.status, 200, accept);
      assert.equal(res.headers['content-encoding'], 'br', accept);
      assert.deepEqual(res.body, br, `${accept}: the pre-compressed copy as it is`);
      assert.equal(Number(res.headers['content-length']), br.length, accept);
      assert.deepEqual(brotliDecompressSync(res.body), text);
      assert.match(res.headers['content-type'], /^text\/plain/);
      varies(res);
      await assertSecurityHeaders(res);
    }
  });

  test('gzip when brotli is not accepted or less wanted', async () => {
    for (const accept of ['gzip', 'gzip, deflate', 'br;q=0, gzip', 'br;q=0.5, gzip', 'gzip;q=0.8, br;q=0.2', 'br;q=0, *']) {
      const res = await get(url, { headers: { 'Accept-Encoding': accept } });
      assert.equal(res.status, 200, accept);
      assert.equal(res.headers['content-encoding'], 'gzip', accept);
      assert.deepEqual(gunzipSync(res.body), text, accept);
      assert.equal(Number(res.headers['content-length']), res.body.length, accept);
      varies(res);
    }
  });

  test('the file as it is without Accept-Encoding, or when neither coding is accepted', async () => {
    for (const headers of [{}, { 'Accept-Encoding': '' }, { 'Accept-Encoding': 'identity' }, { 'Accept-Encoding': 'deflate' }, { 'Accept-Encoding': 'gzip;q=0, br;q=0' }]) {
      const res = await get(url, { headers });
      const label = JSON.stringify(headers);
      assert.equal(res.status, 200, label);
      assert.equal(res.headers['content-encoding'], undefined, label);
      assert.deepEqual(res.body, text, label);
      assert.equal(Number(res.headers['content-length']), text.length, label);
      varies(res);
      await assertSecurityHeaders(res);
    }
  });

  test('HEAD gives the length of the body GET would send, and no body', async () => {
    for (const [accept, length] of [['br', br.length], ['gzip', null], [null, text.length]]) {
      const headers = accept ? { 'Accept-Encoding': accept } : {};
      const head = await get(url, { method: 'HEAD', headers });
      const full = await get(url, { headers });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal(head.headers['content-encoding'], full.headers['content-encoding']);
      assert.equal(Number(head.headers['content-length']), full.body.length, String(accept));
      if (length !== null) assert.equal(full.body.length, length, String(accept));
    }
  });

  test('no brotli for a file without <file>.br (gzip, or the file as it is)', async () => {
    const plain = await readFile(join(ROOT, 'www/app.js'));
    const gzRes = await get('/www/app.js', { headers: { 'Accept-Encoding': 'br, gzip' } });
    assert.equal(gzRes.headers['content-encoding'], 'gzip');
    assert.deepEqual(gunzipSync(gzRes.body), plain);
    const brOnly = await get('/www/app.js', { headers: { 'Accept-Encoding': 'br' } });
    assert.equal(brOnly.headers['content-encoding'], undefined);
    assert.deepEqual(brOnly.body, plain);
    assert.equal(Number(brOnly.headers['content-length']), plain.length);
  });

  test('a <file>.br older than the file is not sent', async () => {
    const old = new Date(BUILT.getTime() - 3_600_000);
    await utimes(`${CODED}.br`, old, old);
    try {
      const res = await get(url, { headers: { 'Accept-Encoding': 'br, gzip' } });
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.deepEqual(gunzipSync(res.body), text);
      const brOnly = await get(url, { headers: { 'Accept-Encoding': 'br' } });
      assert.equal(brOnly.headers['content-encoding'], undefined);
      assert.deepEqual(brOnly.body, text);
    } finally {
      await utimes(`${CODED}.br`, BUILT, BUILT);
    }
  });

  test('a <file>.br that is a symlink out of the repository is not sent', async () => {
    await rm(`${CODED}.br`);
    await symlink('/etc/passwd', `${CODED}.br`);
    try {
      const res = await get(url, { headers: { 'Accept-Encoding': 'br' } });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], undefined);
      assert.deepEqual(res.body, text);
      assert.doesNotMatch(res.body.toString(), /root:/);
    } finally {
      await rm(`${CODED}.br`, { force: true });
      await writeFile(`${CODED}.br`, br);
      await utimes(`${CODED}.br`, BUILT, BUILT);
    }
  });

  test("the page's wasm: brotli from pkg/cellshift_bg.wasm.br, gzip from its .gz", async (t) => {
    const wasm = join(ROOT, 'pkg/cellshift_bg.wasm');
    if (!existsSync(`${wasm}.br`) || !existsSync(`${wasm}.gz`)) {
      t.skip('pkg/ is not built with its compressed copies (scripts/build-wasm.sh)');
      return;
    }
    const bytes = await readFile(wasm);
    const res = await get('/pkg/cellshift_bg.wasm', { headers: { 'Accept-Encoding': 'gzip, deflate, br, zstd' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/wasm');
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(Number(res.headers['content-length']), (await stat(`${wasm}.br`)).size);
    assert.ok(brotliDecompressSync(res.body).equals(bytes), 'the .br holds the served wasm');
    varies(res);
    const gzRes = await get('/pkg/cellshift_bg.wasm', { headers: { 'Accept-Encoding': 'gzip, deflate' } });
    assert.equal(gzRes.headers['content-encoding'], 'gzip');
    assert.equal(Number(gzRes.headers['content-length']), (await stat(`${wasm}.gz`)).size);
    assert.ok(gunzipSync(gzRes.body).equals(bytes), 'the .gz holds the served wasm');
  });
});

describe('what the server refuses', () => {
  const hidden = [
    '/.git/config',
    '/.git/HEAD',
    '/Cargo.toml',
    '/Cargo.lock',
    '/src/lib.rs',
    '/README.md',
    '/Makefile',
    '/results/',
    '/tests/e2e/package.json',
    '/scripts/',
    '/www/../Cargo.toml',
    '/%2e%2e/Cargo.toml',
    '/www/%2e%2e/Cargo.toml',
    '/www/%2e%2e%2fCargo.toml',
    '/www/..%2fCargo.toml',
    '/www/.hidden',
    '/www/%2ehidden',
    '/www/',
    '/www',
    '/www//app.js',
    '/www/app.js%00',
  ];
  for (const path of hidden) {
    test(`${path} is 404`, async () => {
      const res = await get(path);
      assert.equal(res.status, 404);
      await assertSecurityHeaders(res);
    });
  }

  test('a symlink under www/ pointing out of the repository is refused', async () => {
    await symlink('/etc/passwd', LINK);
    try {
      const res = await get(`/www/${LINK_NAME}`);
      assert.equal(res.status, 404);
      assert.doesNotMatch(res.body.toString(), /root:/);
    } finally {
      await rm(LINK, { force: true });
    }
  });

  test('a symlink under www/ pointing at a hidden file of the repository is refused', async () => {
    await symlink('../Cargo.toml', LINK);
    try {
      assert.equal((await get(`/www/${LINK_NAME}`)).status, 404);
    } finally {
      await rm(LINK, { force: true });
    }
  });

  test('a foreign Host gets 421 (DNS rebinding)', async () => {
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1:${port + 1}`, `localhost.evil.example:${port}`]) {
      const res = await get('/', { host });
      assert.equal(res.status, 421, host);
      assert.match(res.headers['content-type'], /^text\/plain/);
      assert.doesNotMatch(res.body.toString(), /<html/i);
      await assertSecurityHeaders(res);
    }
  });

  test('a request without Host gets 421', async () => {
    const res = await get('/', { host: null });
    assert.equal(res.status, 421);
  });

  test('localhost:<port> is accepted as Host', async () => {
    assert.equal((await get('/', { host: `localhost:${port}` })).status, 200);
  });

  test('POST gets 405 with Allow: GET, HEAD', async () => {
    const res = await get('/', { method: 'POST' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, 'GET, HEAD');
    await assertSecurityHeaders(res);
  });
});

describe('PORT', () => {
  for (const bad of ['abc', '70000', '-1', '8080x', '']) {
    test(`PORT=${JSON.stringify(bad)} exits 2 with one line and no stack trace`, async () => {
      const r = await runServer({ PORT: bad });
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /PORT must be a whole number from 0 to 65535/);
      assert.ok(lines[0].includes(JSON.stringify(bad)), lines[0]);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    });
  }

  test('a port in use exits 1 with one line', async () => {
    const r = await runServer({ PORT: String(port) });
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /already in use/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  });
});
