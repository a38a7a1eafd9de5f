#!/usr/bin/env node
// Writes the page as a self-contained static site: `node scripts/site.mjs [--out DIR] [--no-compress]`
// (`make site` builds the wasm first, then runs this into site/). Needs pkg/ (scripts/build-wasm.sh).
//
// The site works from any static host at any sub-path (https://example.org/any/path/) with no
// server logic:
//   index.html            the page, with its references rewritten to the hashed names below, a
//                         `<meta name="referrer">` policy, and the module that registers sw.js
//   www/NAME.HASH.js|css  the page's modules and style, only those reachable from index.html
//   pkg/NAME.HASH.js|wasm the engine's glue and wasm
//   assets/*.csv.gz       the bundled datasets, under their own names (the engine names them)
//   sw.js                 the service worker that keeps the site working offline (www/sw.js with
//                         this build's version and file list filled in); it must keep its name
//   _headers              the server's security headers, for hosts that read such a file
//   *.gz, *.br            pre-compressed copies beside the code, the wasm and index.html
//
// Content hashes: a file's HASH is the first 12 hex digits of the SHA-256 of its bytes as written
// here, references already rewritten; so a module's name changes whenever a module it imports
// changes, and index.html (the one file to revalidate) never points at a mix of versions. Files
// that import each other in a cycle share a hash of the cycle's content. References rewritten:
// static `import`/`export … from`, `import('…')` with a literal, and `new URL('…', import.meta.url)`,
// each resolved relative to its file; one that does not resolve fails the build, as does an
// absolute path in index.html (a sub-path would break it). Every URL stays relative.
//
// Compressed copies: gzip level 9 and brotli (quality 11, or 9 for files above 4 MiB, where 11
// takes minutes). As names carry their content's hash, copies in an earlier build of the same
// output directory are reused, and so are pkg/'s own gzip and brotli (quality 11) copies of the
// wasm when they are at least as new as it.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** The module that registers the service worker; the build adds it to the site's index.html. */
const OFFLINE_MODULE = 'www/offline.js';
/** The service worker's source; written to the site's root as `sw.js`. */
const SW_SOURCE = 'www/sw.js';
const HASH_LENGTH = 12;
const COMPRESS_MIN_BYTES = 1024;
const COMPRESSIBLE = /\.(html|js|css|wasm|json|svg|txt)$/;
const BROTLI_LARGE = 4 * 1024 * 1024;

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

// ---------------------------------------------------------------------------------------------
// References

/** Matches a relative module specifier in `from '…'`, `import '…'` and `import('…')`. */
const IMPORT_RE = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"\n]+)\2/g;
/** Matches `new URL('…', import.meta.url)`. */
const URL_RE = /(\bnew\s+URL\(\s*)(['"])([^'"\n]+)\2(\s*,\s*import\.meta\.url\s*\))/g;

const isRelative = (spec) => !/^(?:[a-z][a-z0-9+.-]*:|\/|#)/i.test(spec);

/** Rewrites every relative reference of a JS source with `map(spec) → spec`. */
function rewriteJs(text, map) {
  return text
    .replace(IMPORT_RE, (m, lead, q, spec) => `${lead}${q}${map(spec)}${q}`)
    .replace(URL_RE, (m, lead, q, spec, tail) => (isRelative(spec) ? `${lead}${q}${map(spec)}${q}${tail}` : m));
}

/** The relative references of a JS source. */
function jsReferences(text) {
  const refs = [];
  rewriteJs(text, (spec) => {
    refs.push(spec);
    return spec;
  });
  return refs;
}

/** Root-relative POSIX path of `spec` as seen from the file `from` (root-relative), or null outside the root. */
function resolveRef(from, spec) {
  const clean = spec.split(/[?#]/)[0];
  const target = posix.normalize(posix.join(posix.dirname(from), clean));
  return target.startsWith('../') || target === '..' || posix.isAbsolute(target) ? null : target;
}

/** `src` and `href` attributes of the tags that load something, with their values' offsets. */
function htmlReferences(html) {
  const refs = [];
  for (const tag of html.matchAll(/<(script|link|img|source)\b[^>]*>/gi)) {
    for (const m of tag[0].matchAll(/\b(src|href)\s*=\s*(["'])([^"']*)\2/gi)) {
      const start = tag.index + m.index + m[0].indexOf(m[2]) + 1;
      refs.push({ value: m[3], start, end: start + m[3].length });
    }
  }
  return refs;
}

// ---------------------------------------------------------------------------------------------
// The module graph and its names

/** Files reachable from `entries` (root-relative paths): `{path → {bytes, deps: [{spec, target}]}}`. */
function moduleGraph(root, entries) {
  const graph = new Map();
  const pending = [...entries];
  while (pending.length) {
    const path = pending.pop();
    if (graph.has(path)) continue;
    const full = join(root, path);
    if (!existsSync(full) || !statSync(full).isFile()) throw new Error(`${path} is referenced but does not exist`);
    const bytes = readFileSync(full);
    const deps = [];
    if (/\.m?js$/.test(path)) {
      for (const spec of jsReferences(bytes.toString('utf8'))) {
        const target = resolveRef(path, spec);
        if (!target || !existsSync(join(root, target))) throw new Error(`${path}: the reference '${spec}' does not resolve to a file of the site`);
        deps.push({ spec, target });
        pending.push(target);
      }
    } else if (path.endsWith('.css') && /@import|url\(\s*['"]?(?!data:)/i.test(bytes.toString('utf8'))) {
      throw new Error(`${path}: url() and @import are not rewritten by this build; use data: URLs or extend scripts/site.mjs`);
    }
    graph.set(path, { bytes, deps });
  }
  return graph;
}

/** Strongly connected components, each after every component it depends on (Tarjan). */
function components(graph) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const out = [];
  let next = 0;
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const { target: w } of graph.get(v).deps) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), index.get(w)));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

const hashedName = (path, hash) => {
  const dot = path.lastIndexOf('.');
  return `${path.slice(0, dot)}.${hash}${path.slice(dot)}`;
};

/**
 * Output path and bytes of every file of the graph: `{path → {out, bytes}}`. Dependencies are
 * named first, so a file is hashed with its references already rewritten.
 */
function nameFiles(graph) {
  const named = new Map();
  const rewrite = (path, names) => {
    const { bytes, deps } = graph.get(path);
    if (!/\.m?js$/.test(path)) return bytes;
    const byTarget = new Map(deps.map((d) => [d.spec, d.target]));
    const text = rewriteJs(bytes.toString('utf8'), (spec) => {
      const target = byTarget.get(spec);
      const out = names.get(target);
      return out ? spec.replace(/[^/?#]+(?=[?#]|$)/, posix.basename(out)) : spec;
    });
    return Buffer.from(text, 'utf8');
  };
  const outNames = new Map();
  for (const scc of components(graph)) {
    const cyclic = scc.length > 1 || graph.get(scc[0]).deps.some((d) => d.target === scc[0]);
    if (!cyclic) {
      const bytes = rewrite(scc[0], outNames);
      const out = hashedName(scc[0], sha256(bytes).slice(0, HASH_LENGTH));
      outNames.set(scc[0], out);
      named.set(scc[0], { out, bytes });
      continue;
    }
    // A cycle: one hash over its members as they stand with every reference outside it rewritten.
    const h = createHash('sha256');
    for (const path of scc) h.update(`${path}\0`).update(rewrite(path, outNames)).update('\0');
    const hash = h.digest('hex').slice(0, HASH_LENGTH);
    for (const path of scc) outNames.set(path, hashedName(path, hash));
    for (const path of scc) named.set(path, { out: outNames.get(path), bytes: rewrite(path, outNames) });
  }
  return named;
}

// ---------------------------------------------------------------------------------------------
// Security headers (the policy www/serve.mjs sends)

const ENTITIES = { '&quot;': '"', '&#39;': "'", '&apos;': "'", '&lt;': '<', '&gt;': '>', '&amp;': '&' };

/** The content of index.html's Content-Security-Policy meta tag. */
function metaCsp(html) {
  for (const [tag] of html.matchAll(/<meta\b[^>]*>/gi)) {
    const attrs = {};
    for (const m of tag.matchAll(/([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/g)) attrs[m[1].toLowerCase()] = m[2] ?? m[3] ?? m[4];
    if (attrs['http-equiv']?.toLowerCase() === 'content-security-policy' && attrs.content) {
      return attrs.content.replace(/&(?:quot|#39|apos|lt|gt|amp);/g, (e) => ENTITIES[e]);
    }
  }
  return null;
}

/** The meta policy with `frame-ancestors 'none'`, which only a header can carry. */
export function headerCsp(meta) {
  const directives = meta
    .split(';')
    .map((d) => d.trim().replace(/\s+/g, ' '))
    .filter((d) => d && !/^frame-ancestors\b/i.test(d));
  directives.push("frame-ancestors 'none'");
  return directives.join('; ');
}

function headersFile(csp) {
  return `# Response headers for static hosts that read this file (Netlify, Cloudflare Pages); GitHub
# Pages ignores it and cannot set headers: there only index.html's meta tags apply.
# The same policy as the local server (www/serve.mjs). Paths are from the host's root: when the
# site is deployed under a sub-path, prefix the paths below with it.
/*
  Content-Security-Policy: ${csp}
  Referrer-Policy: no-referrer
  X-Content-Type-Options: nosniff
  X-Frame-Options: DENY
  Cross-Origin-Opener-Policy: same-origin
# Code files carry their content's hash in their names: they never change.
/www/*
  Cache-Control: public, max-age=31536000, immutable
/pkg/*
  Cache-Control: public, max-age=31536000, immutable
# The page and the service worker are checked on every visit.
/
  Cache-Control: no-cache
/index.html
  Cache-Control: no-cache
/sw.js
  Cache-Control: no-cache
`;
}

// ---------------------------------------------------------------------------------------------
// The build

/**
 * index.html with its references replaced by `names`, a no-referrer policy after the CSP meta tag
 * (before anything is fetched) and `extraHead` before `</head>`.
 */
function rewriteHtml(html, refs, names, extraHead) {
  let out = '';
  let at = 0;
  for (const r of refs) {
    const target = names.get(r.path);
    if (!target) continue;
    out += html.slice(at, r.start) + target;
    at = r.end;
  }
  out += html.slice(at);
  if (!/<\/head>/i.test(out)) throw new Error('index.html has no </head>');
  const csp = [...out.matchAll(/<meta\b[^>]*>/gi)].find((m) => /http-equiv\s*=\s*["']?content-security-policy/i.test(m[0]));
  const end = csp.index + csp[0].length;
  out = `${out.slice(0, end)}\n  <meta name="referrer" content="no-referrer">${out.slice(end)}`;
  return out.replace(/<\/head>/i, `${extraHead}</head>`);
}

/** The service worker with this build's version and files. */
function serviceWorker(source, version, files) {
  const re = /^const BUILD = .*;$/m;
  if (!re.test(source)) throw new Error(`${SW_SOURCE} has no "const BUILD = …;" line to fill in`);
  return source.replace(re, () => `const BUILD = ${JSON.stringify({ version, files })};`);
}

/** Compressed copies of `path` (output-relative) into `dir`, reusing those of `previous`. */
async function compress(dir, previous, path, bytes, reuse = {}) {
  const jobs = [
    ['gz', () => gzipAsync(bytes, { level: 9 })],
    ['br', () => brotliAsync(bytes, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: bytes.length > BROTLI_LARGE ? 9 : 11, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: bytes.length } })],
  ];
  let reused = 0;
  for (const [ext, make] of jobs) {
    const dest = join(dir, `${path}.${ext}`);
    const old = previous && join(previous, `${path}.${ext}`);
    // pkg/'s own copy first: it is the build's best compression (an earlier site's may be a quicker one).
    if (reuse[ext]) {
      await copyFile(reuse[ext], dest);
      reused += 1;
    } else if (old && existsSync(old)) {
      await copyFile(old, dest);
      reused += 1;
    } else {
      await writeFile(dest, await make());
    }
  }
  return reused;
}

/**
 * Builds the site from `root` into `out`. Returns `{files: {source → output path}, version}`.
 * The new site is written beside `out` and moved into place at the end.
 */
export async function buildSite({ root = ROOT, out = join(root, 'site'), compressed = true, log = () => {} } = {}) {
  root = resolve(root);
  out = resolve(out);
  // The output directory is replaced as a whole: refuse one that holds anything but a site.
  if (out === root || !relative(out, root).startsWith('..')) throw new Error(`--out ${out} would replace the sources`);
  if (existsSync(out) && (await readdir(out)).length && !(existsSync(join(out, 'sw.js')) && existsSync(join(out, '_headers')))) {
    throw new Error(`${out} exists and is not a site built by this script: choose another --out or remove it`);
  }
  if (!existsSync(join(root, 'pkg/cellshift_bg.wasm'))) throw new Error('pkg/cellshift_bg.wasm is missing: run scripts/build-wasm.sh (or make pkg) first');
  const html = await readFile(join(root, 'index.html'), 'utf8');
  const csp = metaCsp(html);
  if (!csp) throw new Error('index.html has no Content-Security-Policy meta tag');

  // index.html's own references: relative, to files of the tree.
  const refs = [];
  for (const r of htmlReferences(html)) {
    if (/^(?:data:|#)/i.test(r.value)) continue;
    if (!isRelative(r.value) || r.value.startsWith('//')) throw new Error(`index.html refers to ${r.value}: only relative URLs work under any sub-path`);
    const path = resolveRef('index.html', r.value);
    if (!path || !existsSync(join(root, path))) throw new Error(`index.html refers to ${r.value}, which does not exist`);
    refs.push({ ...r, path });
  }
  const graph = moduleGraph(root, [...refs.map((r) => r.path), OFFLINE_MODULE]);
  const named = nameFiles(graph);
  const names = new Map([...named].map(([path, { out: o }]) => [path, o]));

  const extraHead = `  <script type="module" src="${names.get(OFFLINE_MODULE)}"></script>\n`;
  const page = rewriteHtml(html, refs, names, extraHead);

  const assets = existsSync(join(root, 'assets')) ? (await readdir(join(root, 'assets'))).filter((f) => f.endsWith('.csv.gz')).sort() : [];
  const assetBytes = new Map(assets.map((f) => [`assets/${f}`, readFileSync(join(root, 'assets', f))]));

  // The service worker caches the page, every code file and the datasets; its version changes
  // whenever any of them does.
  const cached = ['./', ...[...names.values()].sort(), ...assetBytes.keys()];
  const versionHash = createHash('sha256').update(page);
  for (const [path, bytes] of assetBytes) versionHash.update(`\0${path}\0${sha256(bytes)}`);
  for (const o of [...names.values()].sort()) versionHash.update(`\0${o}`);
  const version = versionHash.digest('hex').slice(0, HASH_LENGTH);
  const sw = serviceWorker(await readFile(join(root, SW_SOURCE), 'utf8'), version, cached);

  const tmp = `${out}.partial`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const previous = existsSync(out) ? out : null;
  const written = new Map();
  const put = async (path, bytes) => {
    await mkdir(dirname(join(tmp, path)), { recursive: true });
    await writeFile(join(tmp, path), bytes);
    written.set(path, bytes);
  };
  await put('index.html', page);
  for (const { out: o, bytes } of named.values()) await put(o, bytes);
  for (const [path, bytes] of assetBytes) await put(path, bytes);
  await put('sw.js', sw);
  await put('_headers', headersFile(headerCsp(csp)));

  let reused = 0;
  let made = 0;
  if (compressed) {
    // pkg/'s own copies of the wasm (scripts/build-wasm.sh), when at least as new as the wasm.
    const wasm = join(root, 'pkg/cellshift_bg.wasm');
    const wasmMtime = statSync(wasm).mtimeMs;
    const pkgCopies = {};
    for (const ext of ['gz', 'br']) {
      const copy = `${wasm}.${ext}`;
      if (existsSync(copy) && statSync(copy).mtimeMs >= wasmMtime) pkgCopies[ext] = copy;
    }
    for (const [path, bytes] of written) {
      if (!COMPRESSIBLE.test(path) || bytes.length < COMPRESS_MIN_BYTES) continue;
      const hashed = [...names.values()].includes(path);
      const reuse = path === names.get('pkg/cellshift_bg.wasm') ? pkgCopies : {};
      const n = await compress(tmp, hashed ? previous : null, path, bytes, reuse);
      reused += n;
      made += 2 - n;
    }
  }

  await rm(out, { recursive: true, force: true });
  await rename(tmp, out);
  const total = [...written.values()].reduce((n, b) => n + b.length, 0);
  log(`site: ${written.size} files (${(total / 1e6).toFixed(1)} MB) in ${out}, version ${version}`);
  if (compressed) log(`site: ${made} compressed copies made, ${reused} reused`);
  return { files: Object.fromEntries(names), version, out };
}

// ---------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { out: join(ROOT, 'site'), compressed: true };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '--out' && argv[i + 1]) opts.out = resolve(argv[++i]);
    else if (a === '--no-compress') opts.compressed = false;
    else {
      process.stderr.write(`site.mjs: unknown argument ${JSON.stringify(a)}\nusage: node scripts/site.mjs [--out DIR] [--no-compress]\n`);
      process.exit(2);
    }
  }
  return opts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const opts = parseArgs(process.argv.slice(2));
  buildSite({ ...opts, log: (line) => console.log(line) }).catch((e) => {
    process.stderr.write(`site.mjs: ${e.message}\n`);
    process.exit(1);
  });
}
