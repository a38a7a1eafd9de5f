// Serves the repository root to the local machine only: `node www/serve.mjs` (PORT, default 8080).
//
// Static files with correct MIME types, gzip when the client accepts it (a pre-compressed
// `<file>.gz` beside the file is used as is; otherwise the file is compressed once and kept in
// memory), `Cache-Control: no-cache`, and no path can escape the repository root.

import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const HOST = '127.0.0.1';
const PORT = Number.parseInt(process.env.PORT ?? '8080', 10);

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
};

/** Types worth compressing (already-compressed formats are sent as they are). */
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.wasm', '.svg', '.csv', '.txt', '.md', '.map']);

/** Compressed bodies made on the fly, keyed by path and invalidated by mtime and size. */
const gzipCache = new Map();

function send(res, status, headers, body) {
  res.writeHead(status, { 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(body);
}

function sendText(res, status, text) {
  send(res, status, { 'Content-Type': 'text/plain; charset=utf-8' }, `${text}\n`);
}

/** Maps a request path to a file under ROOT, or null when it would leave ROOT. */
function resolvePath(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const full = resolve(join(ROOT, decoded));
  if (full !== ROOT && !full.startsWith(ROOT + sep)) return null;
  return full;
}

async function fileInfo(path) {
  try {
    const s = await stat(path);
    return s.isFile() ? s : null;
  } catch {
    return null;
  }
}

function acceptsGzip(req) {
  const header = req.headers['accept-encoding'] ?? '';
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding.trim().toLowerCase() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return !q || Number.parseFloat(q.slice(2)) > 0;
  });
}

async function handle(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }, 'method not allowed\n');
    return;
  }
  let pathname;
  try {
    pathname = new URL(req.url, `http://${HOST}`).pathname;
  } catch {
    sendText(res, 400, 'bad request');
    return;
  }
  let path = resolvePath(pathname);
  if (!path) {
    sendText(res, 403, 'forbidden');
    return;
  }
  let info = await fileInfo(path);
  if (!info && pathname.endsWith('/')) {
    path = join(path, 'index.html');
    info = await fileInfo(path);
  }
  if (!info) {
    sendText(res, 404, 'not found');
    return;
  }

  const ext = extname(path).toLowerCase();
  const headers = { 'Content-Type': MIME[ext] ?? 'application/octet-stream' };
  let body;
  if (COMPRESSIBLE.has(ext) && acceptsGzip(req)) {
    headers['Content-Encoding'] = 'gzip';
    headers.Vary = 'Accept-Encoding';
    const pre = await fileInfo(`${path}.gz`);
    if (pre && pre.mtimeMs >= info.mtimeMs) {
      body = await readFile(`${path}.gz`);
    } else {
      const key = `${path}:${info.mtimeMs}:${info.size}`;
      body = gzipCache.get(path)?.key === key ? gzipCache.get(path).body : null;
      if (!body) {
        body = gzipSync(await readFile(path), { level: 6 });
        gzipCache.set(path, { key, body });
      }
    }
  } else {
    body = await readFile(path);
  }
  headers['Content-Length'] = body.length;
  send(res, 200, headers, req.method === 'HEAD' ? undefined : body);
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) sendText(res, 500, 'internal error');
    else res.destroy();
    console.error(err);
  });
});

server.on('error', (err) => {
  console.error(err.code === 'EADDRINUSE' ? `port ${PORT} on ${HOST} is in use: set PORT to a free port` : `cannot serve: ${err.message}`);
  process.exit(1);
});

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  console.log(`cellshift page: http://${HOST}:${port}/`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
