// Serves the cellshift page to the local machine only: `node www/serve.mjs` (PORT, default 8080;
// 0 picks any free port). Listens on 127.0.0.1 and prints the page's URL on stdout.
//
// Serves: `/` (index.html), `/index.html`, and regular files under `www/`, `pkg/` and `assets/`.
// Refuses, always with a bare 404 so nothing about the tree is revealed: every other path
// (Cargo.toml, src/, results/, tests/, README.md, …), any path with a segment starting with a dot
// (`.git/`, `www/.hidden`), `..` or encoded slashes, directories, and symlinks whose real path
// leaves the repository root or lands outside the same allow-list.
// Answers only GET and HEAD (405 otherwise), and only when the Host header names this server
// (127.0.0.1, localhost or [::1] with its port): anything else gets 421, which stops DNS rebinding.
//
// Every response carries Content-Security-Policy (index.html's meta policy plus
// `frame-ancestors 'none'`, which only works as a header; the header also reaches the worker,
// which the meta tag does not), Referrer-Policy, X-Content-Type-Options, X-Frame-Options,
// Cross-Origin-Opener-Policy and `Cache-Control: no-cache`. Files get their MIME type, and text
// and wasm files a compressed body as the client's Accept-Encoding allows: brotli when a
// pre-compressed `<file>.br` at least as new as the file lies beside it (scripts/build-wasm.sh
// writes one for the wasm), else gzip (a pre-compressed `<file>.gz` as new as the file is used
// as is; otherwise the file is compressed once and kept in memory), else the file as it is. Of
// two acceptable codings the one with the higher q wins, brotli on a tie. Their responses carry
// `Vary: Accept-Encoding` whichever coding was sent.

import { createServer } from 'node:http';
import { readFile, realpath, stat } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = realpathSync(resolve(fileURLToPath(new URL('..', import.meta.url))));
const INDEX = join(ROOT, 'index.html');
const HOST = '127.0.0.1';

/** Top-level directories whose files are served; `index.html` is the only top-level file. */
const ALLOWED_DIRS = new Set(['www', 'pkg', 'assets']);

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.csv': 'text/csv; charset=utf-8',
  '.gz': 'application/gzip',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.ttf': 'font/ttf',
};

/** Types worth compressing (already-compressed formats are sent as they are). */
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.wasm', '.svg', '.csv', '.txt', '.md', '.map', '.ttf']);

// ---------------------------------------------------------------------------------------------
// Port

function parsePort(raw) {
  if (raw === undefined) return 8080;
  const port = /^[0-9]{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    process.stderr.write(`serve.mjs: PORT must be a whole number from 0 to 65535 (got ${JSON.stringify(raw)})\n`);
    process.exit(2);
  }
  return port;
}

const PORT = parsePort(process.env.PORT);

// ---------------------------------------------------------------------------------------------
// Content-Security-Policy, taken from index.html's meta tag (re-read when index.html changes)

/** Used only if index.html has no CSP meta tag. */
const FALLBACK_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; object-src 'none'; base-uri 'none'; form-action 'none'";

const ENTITIES = { '&quot;': '"', '&#39;': "'", '&apos;': "'", '&lt;': '<', '&gt;': '>', '&amp;': '&' };

/** The content of `<meta http-equiv="Content-Security-Policy" content="…">`, or null. */
function metaCsp(html) {
  for (const [tag] of html.matchAll(/<meta\b[^>]*>/gi)) {
    const attrs = {};
    for (const m of tag.matchAll(/([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/g)) {
      attrs[m[1].toLowerCase()] = m[2] ?? m[3] ?? m[4];
    }
    if (attrs['http-equiv']?.toLowerCase() === 'content-security-policy' && attrs.content) {
      return attrs.content.replace(/&(?:quot|#39|apos|lt|gt|amp);/g, (e) => ENTITIES[e]);
    }
  }
  return null;
}

/**
 * The meta policy with `frame-ancestors 'none'` (replacing any frame-ancestors directive), else
 * unchanged. style-src keeps the meta tag's 'unsafe-inline': the charts' text measurement in the
 * wasm (plotters' web font backend) sets a style attribute on a probe element.
 */
function headerCsp(meta) {
  const directives = (meta ?? FALLBACK_CSP)
    .split(';')
    .map((d) => d.trim().replace(/\s+/g, ' '))
    .filter((d) => d && !/^frame-ancestors\b/i.test(d));
  directives.push("frame-ancestors 'none'");
  return directives.join('; ');
}

let cspCache = { key: null, value: headerCsp(null) };

/** Refreshes the policy when index.html has changed. */
async function refreshCsp() {
  try {
    const s = await stat(INDEX);
    const key = `${s.mtimeMs}:${s.size}`;
    if (cspCache.key !== key) {
      const meta = metaCsp(await readFile(INDEX, 'utf8'));
      if (!meta) console.error('serve.mjs: index.html has no Content-Security-Policy meta tag; using a default policy');
      cspCache = { key, value: headerCsp(meta) };
    }
  } catch {
    // index.html missing or unreadable: keep the last policy.
  }
}

// ---------------------------------------------------------------------------------------------
// Responses

function send(res, status, headers, body) {
  res.writeHead(status, {
    'Content-Security-Policy': cspCache.value,
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cache-Control': 'no-cache',
    ...headers,
  });
  res.end(body);
}

function sendText(res, status, text, headers = {}) {
  const body = Buffer.from(`${text}\n`);
  send(res, status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, ...headers }, body);
}

const notFound = (res) => sendText(res, 404, 'not found');

// ---------------------------------------------------------------------------------------------
// Paths

/** True when `segments` (relative to ROOT, already decoded) name something that may be served. */
function allowed(segments) {
  if (segments.length === 0) return false;
  for (const s of segments) {
    if (s === '' || s.startsWith('.') || /[/\\\0]/.test(s)) return false;
  }
  if (segments.length === 1) return segments[0] === 'index.html';
  return ALLOWED_DIRS.has(segments[0]);
}

/** Maps a URL path to an allowed path under ROOT, or null. */
function resolvePath(pathname) {
  if (pathname === '/') return INDEX;
  let segments;
  try {
    segments = pathname.slice(1).split('/').map(decodeURIComponent);
  } catch {
    return null;
  }
  return allowed(segments) ? join(ROOT, ...segments) : null;
}

/** Stats and real path of a regular file whose real path is under ROOT and allowed, or null. */
async function fileInfo(path) {
  try {
    const real = await realpath(path);
    const rel = relative(ROOT, real);
    if (rel.startsWith('..') || !allowed(rel.split(sep))) return null;
    const s = await stat(real);
    return s.isFile() ? { stats: s, real } : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Requests

/** The Host header must name this server, otherwise a page on another name resolving here could read it. */
function hostOk(req, port) {
  const host = (req.headers.host ?? '').toLowerCase();
  return host === `127.0.0.1:${port}` || host === `localhost:${port}` || host === `[::1]:${port}`;
}

/**
 * The q-value the request's Accept-Encoding gives `coding` (0: not acceptable); a coding it does
 * not name takes the value of `*`, if any. No header, or an empty one, accepts no coding: the
 * file is then sent as it is (and so it is whenever neither brotli nor gzip is acceptable).
 */
function acceptQ(req, coding) {
  let named = null;
  let star = null;
  for (const part of (req.headers['accept-encoding'] ?? '').split(',')) {
    const [name, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => /^q=/i.test(p));
    const value = q ? Number.parseFloat(q.slice(2)) : 1;
    const weight = Number.isFinite(value) ? Math.min(Math.max(value, 0), 1) : 0;
    const n = name.trim().toLowerCase();
    if (n === coding) named = Math.max(named ?? 0, weight);
    else if (n === '*') star = Math.max(star ?? 0, weight);
  }
  return named ?? star ?? 0;
}

/** Compressed bodies made on the fly, keyed by real path and invalidated by mtime and size. */
const gzipCache = new Map();

/** A pre-compressed copy `<file>.<ext>` that is allowed and at least as new as the file, or null. */
async function precompressed(file, ext) {
  const pre = await fileInfo(`${file.real}.${ext}`);
  return pre && pre.stats.mtimeMs >= file.stats.mtimeMs ? pre : null;
}

async function gzipBody(file) {
  const pre = await precompressed(file, 'gz');
  if (pre) return readFile(pre.real);
  const key = `${file.stats.mtimeMs}:${file.stats.size}`;
  const cached = gzipCache.get(file.real);
  if (cached?.key === key) return cached.body;
  const body = gzipSync(await readFile(file.real), { level: 6 });
  gzipCache.set(file.real, { key, body });
  return body;
}

/** The body of `file` and its Content-Encoding (null: as it is) for this request. */
async function encodedBody(req, file) {
  const br = acceptQ(req, 'br');
  const gz = acceptQ(req, 'gzip');
  if (br > 0 && br >= gz) {
    const pre = await precompressed(file, 'br');
    if (pre) return { encoding: 'br', body: await readFile(pre.real) };
  }
  if (gz > 0) return { encoding: 'gzip', body: await gzipBody(file) };
  return { encoding: null, body: await readFile(file.real) };
}

async function handle(req, res) {
  await refreshCsp();
  const port = server.address().port;
  if (!hostOk(req, port)) {
    sendText(res, 421, `misdirected request: this server answers only to http://127.0.0.1:${port}/ or http://localhost:${port}/`);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
    return;
  }
  let pathname;
  try {
    pathname = new URL(req.url, `http://${HOST}`).pathname;
  } catch {
    sendText(res, 400, 'bad request');
    return;
  }
  const path = resolvePath(pathname);
  const file = path && (await fileInfo(path));
  if (!file) {
    notFound(res);
    return;
  }

  const ext = extname(path).toLowerCase();
  const headers = { 'Content-Type': MIME[ext] ?? 'application/octet-stream' };
  let body;
  if (COMPRESSIBLE.has(ext)) {
    const encoded = await encodedBody(req, file);
    body = encoded.body;
    if (encoded.encoding) headers['Content-Encoding'] = encoded.encoding;
    headers.Vary = 'Accept-Encoding';
  } else {
    body = await readFile(file.real);
  }
  headers['Content-Length'] = body.length;
  send(res, 200, headers, req.method === 'HEAD' ? undefined : body);
}

// A missing Host is answered by hostOk's 421 like any other wrong Host, not by node's own 400.
const server = createServer({ requireHostHeader: false }, (req, res) => {
  handle(req, res).catch((err) => {
    console.error(`serve.mjs: ${req.method} ${req.url}: ${err.message}`);
    if (!res.headersSent) sendText(res, 500, 'internal error');
    else res.destroy();
  });
});

server.on('error', (err) => {
  console.error(
    err.code === 'EADDRINUSE'
      ? `serve.mjs: port ${PORT} on ${HOST} is already in use; set PORT to a free port (PORT=0 picks one)`
      : `serve.mjs: cannot serve on ${HOST}:${PORT}: ${err.message}`,
  );
  process.exit(1);
});

server.listen(PORT, HOST, () => {
  console.log(`cellshift page: http://${HOST}:${server.address().port}/`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
