#!/usr/bin/env node
// The page's wasm after wasm-bindgen: removes its debugging sections, optimises it with wasm-opt,
// writes its pre-compressed copies and records what each step buys. scripts/build-wasm.sh runs it:
//
//   node scripts/wasm-size.mjs --raw CARGO_WASM --wasm pkg/cellshift_bg.wasm \
//     [--wasm-opt PATH/TO/binaryen/bin/wasm-opt] [--level O1] [--cache DIR] [--json pkg/size.json] [--brotli-all]
//
// Steps, each measured (bytes, gzip -9 and the module's largest sections):
//   cargo build      the linked module (`--raw`; wasm-bindgen's input, never served)
//   wasm-bindgen     what wasm-bindgen wrote (`--wasm`, rewritten in place by the steps below)
//   names removed    without the `name` (function names for stack traces) and `producers` sections
//   wasm-opt -O1     binaryen's optimiser (skipped without `--wasm-opt`), with the module's own
//                    target features (from its target_features section)
// then `<wasm>.gz` (gzip level 9) and `<wasm>.br` (brotli quality 11, 16 MiB window) beside the
// final module, made in parallel. Brotli is measured for the final module only unless
// `--brotli-all` (a minute a step). The table is printed and written as JSON (`--json`).
//
// wasm-opt (several minutes: npm's binaryen is single-threaded) and brotli (about a minute) are
// cached in `--cache` by the SHA-256 of their input and their settings, so an unchanged module
// costs neither again. The final module must pass WebAssembly.validate.

import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip, gzipSync } from 'node:zlib';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

export const GZIP_LEVEL = 9;
export const BROTLI_QUALITY = 11;
/** 2^24 bytes, the largest window standard brotli decoders (browsers) accept: ~3% smaller than the default 4 MiB on this module. */
export const BROTLI_LGWIN = 24;
/** The download the page's wasm should stay within, compressed (the issue "a small download"). */
export const BUDGET_BYTES = 3_000_000;
/** Cache entries kept per kind (wasm-opt outputs, brotli outputs). */
const CACHE_KEEP = 4;

// ---------------------------------------------------------------------------------------------
// Sections

function readLeb(bytes, at) {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = bytes[at];
    at += 1;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}

const SECTION_NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'datacount', 'tag'];

/** The module's sections in order: `{id, name, start, end}` (`name` of a custom section is `custom:NAME`). */
export function sections(bytes) {
  if (bytes.length < 8 || bytes.readUInt32LE(0) !== 0x6d736100) throw new Error('not a wasm module');
  const out = [];
  let at = 8;
  while (at < bytes.length) {
    const start = at;
    const id = bytes[at];
    let size;
    [size, at] = readLeb(bytes, at + 1);
    const body = at;
    const end = body + size;
    if (end > bytes.length) throw new Error(`section ${id} at ${start} runs past the end of the module`);
    let name = SECTION_NAMES[id] ?? `section-${id}`;
    if (id === 0) {
      const [len, p] = readLeb(bytes, body);
      name = `custom:${bytes.subarray(p, p + len).toString('utf8')}`;
    }
    out.push({ id, name, start, body, end });
    at = end;
  }
  return out;
}

/** Section sizes in bytes, largest first, the small ones summed as `other`. */
function sectionSizes(bytes) {
  const sizes = {};
  let other = 0;
  for (const s of sections(bytes).sort((a, b) => b.end - b.start - (a.end - a.start))) {
    const n = s.end - s.start;
    if (n >= 100_000) sizes[s.name] = (sizes[s.name] ?? 0) + n;
    else other += n;
  }
  if (other) sizes.other = other;
  return sizes;
}

/** The module without the custom sections named in `drop`. */
export function withoutCustomSections(bytes, drop) {
  const parts = [bytes.subarray(0, 8)];
  for (const s of sections(bytes)) {
    if (s.id === 0 && drop.includes(s.name.slice('custom:'.length))) continue;
    parts.push(bytes.subarray(s.start, s.end));
  }
  return Buffer.concat(parts);
}

/** The features in the module's target_features section (`+name` entries). */
export function targetFeatures(bytes) {
  const s = sections(bytes).find((x) => x.name === 'custom:target_features');
  if (!s) return [];
  let [, at] = readLeb(bytes, s.body);
  at += 'target_features'.length;
  let count;
  [count, at] = readLeb(bytes, at);
  const features = [];
  for (let i = 0; i < count; i += 1) {
    const prefix = String.fromCharCode(bytes[at]);
    let len;
    [len, at] = readLeb(bytes, at + 1);
    if (prefix === '+') features.push(bytes.subarray(at, at + len).toString('utf8'));
    at += len;
  }
  return features;
}

/** LLVM's feature names that binaryen spells otherwise; the rest are `--enable-NAME`. */
const BINARYEN_FEATURE = { simd128: 'simd', nontrappingfptoint: 'nontrapping-float-to-int', 'nontrapping-fptoint': 'nontrapping-float-to-int', atomics: 'threads' };

export function wasmOptFeatureFlags(bytes) {
  return targetFeatures(bytes).map((f) => `--enable-${BINARYEN_FEATURE[f] ?? f}`);
}

// ---------------------------------------------------------------------------------------------
// Cache

const sha256 = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
};

/** `make()`'s bytes, kept in `dir` under `key`; the `CACHE_KEEP` newest entries of `dir` stay. */
async function cached(dir, key, make) {
  if (!dir) return { bytes: await make(), cached: false };
  const file = join(dir, `${key}.bin`);
  if (existsSync(file)) {
    const bytes = await readFile(file);
    const now = new Date();
    await utimes(file, now, now).catch(() => {});
    return { bytes, cached: true };
  }
  const bytes = await make();
  await mkdir(dir, { recursive: true });
  await writeAtomic(file, bytes);
  const entries = [];
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.bin')) continue;
    entries.push({ name, mtime: (await stat(join(dir, name))).mtimeMs });
  }
  for (const { name } of entries.sort((a, b) => b.mtime - a.mtime).slice(CACHE_KEEP)) await rm(join(dir, name), { force: true });
  return { bytes, cached: false };
}

// ---------------------------------------------------------------------------------------------
// Steps

function wasmOptVersion(wasmOpt) {
  const r = spawnSync(process.execPath, [wasmOpt, '--version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${wasmOpt} --version failed: ${r.stderr || r.error?.message}`);
  return r.stdout.trim();
}

/** Runs npm's wasm-opt (a node script) on `bytes`. */
async function runWasmOpt(wasmOpt, args, bytes, scratch) {
  await mkdir(scratch, { recursive: true });
  const input = join(scratch, `wasm-opt-in.${process.pid}.wasm`);
  const output = join(scratch, `wasm-opt-out.${process.pid}.wasm`);
  await writeFile(input, bytes);
  try {
    const r = spawnSync(process.execPath, [wasmOpt, ...args, input, '-o', output], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error(`wasm-opt ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    return await readFile(output);
  } finally {
    await rm(input, { force: true });
    await rm(output, { force: true });
  }
}

const brotliParams = (n) => ({
  params: {
    [zlib.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
    [zlib.BROTLI_PARAM_LGWIN]: BROTLI_LGWIN,
    [zlib.BROTLI_PARAM_SIZE_HINT]: n,
  },
});

/** Writes `file` whole or not at all (a server may be reading it meanwhile). */
async function writeAtomic(file, bytes) {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

const mb = (n) => (n == null ? '' : `${(n / 1e6).toFixed(2)} MB`);
const seconds = (t) => Number(((performance.now() - t) / 1000).toFixed(1));

/**
 * Runs the steps on `wasm` (rewritten in place) and writes its compressed copies and the record.
 * Returns the record.
 */
export async function shrink({ raw, wasm, wasmOpt = null, level = 'O1', cache = null, json = null, brotliAll = false, log = console.log }) {
  const steps = [];
  /** Each step's module, for `brotliAll`. */
  const modules = [];
  const measure = (step, bytes, extra = {}) => {
    steps.push({ step, bytes: bytes.length, gzip: gzipSync(bytes, { level: GZIP_LEVEL }).length, brotli: null, sections: sectionSizes(bytes), ...extra });
    if (brotliAll) modules.push(bytes);
  };
  if (raw) measure('cargo build', await readFile(raw), { note: 'the linked module, wasm-bindgen input' });
  let bytes = await readFile(wasm);
  measure('wasm-bindgen', bytes);
  bytes = withoutCustomSections(bytes, ['name', 'producers']);
  measure('names removed', bytes, { note: 'no name or producers section' });

  let wasmOptRecord = null;
  if (wasmOpt) {
    const version = wasmOptVersion(wasmOpt);
    const args = [`-${level.replace(/^-/, '')}`, ...wasmOptFeatureFlags(bytes)];
    const t = performance.now();
    const out = await cached(cache && join(cache, 'wasm-opt'), sha256(version, args.join(' '), bytes), () => {
      log(`wasm-opt ${args.join(' ')} (${version}): several minutes on first build of a module`);
      return runWasmOpt(wasmOpt, args, bytes, cache ?? resolve(wasm, '..'));
    });
    bytes = out.bytes;
    wasmOptRecord = { version, args, seconds: seconds(t), cached: out.cached };
    measure(`wasm-opt ${args[0]}`, bytes);
  }
  if (!WebAssembly.validate(bytes)) throw new Error(`${wasm}: the module does not validate after the steps`);
  await writeAtomic(wasm, bytes);

  // The served copies, gzip and brotli in parallel (libuv's thread pool).
  const t = performance.now();
  const [gz, br] = await Promise.all([
    gzipAsync(bytes, { level: GZIP_LEVEL }),
    cached(cache && join(cache, 'brotli'), sha256('brotli', String(BROTLI_QUALITY), String(BROTLI_LGWIN), bytes), () => brotliAsync(bytes, brotliParams(bytes.length))),
  ]);
  // Written after the module, so they are at least as new as it (serve.mjs and site.mjs check).
  await writeAtomic(`${wasm}.gz`, gz);
  await writeAtomic(`${wasm}.br`, br.bytes);
  const compressSeconds = seconds(t);
  const final = steps.at(-1);
  final.gzip = gz.length;
  final.brotli = br.bytes.length;
  if (brotliAll) {
    log('--brotli-all: brotli of every step (about a minute each)');
    for (const [i, step] of steps.entries()) step.brotli ??= (await brotliAsync(modules[i], brotliParams(modules[i].length))).length;
  }

  const record = {
    file: wasm,
    steps,
    served: { identity: bytes.length, gzip: gz.length, br: br.bytes.length },
    gzip: { level: GZIP_LEVEL },
    brotli: { quality: BROTLI_QUALITY, lgwin: BROTLI_LGWIN, cached: br.cached },
    compress_seconds: compressSeconds,
    wasm_opt: wasmOptRecord,
    budget: { bytes: BUDGET_BYTES, br_within: br.bytes.length <= BUDGET_BYTES, gzip_within: gz.length <= BUDGET_BYTES },
  };
  if (json) await writeFile(json, `${JSON.stringify(record, null, 2)}\n`);

  const rows = steps.map((s) => [s.step, mb(s.bytes), mb(s.gzip), mb(s.brotli)]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...[['step', 'bytes', 'gzip -9', 'brotli 11'][i], ...rows.map((r) => r[i])].map((c) => c.length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  log(line(['step', 'bytes', 'gzip -9', 'brotli 11']));
  for (const r of rows) log(line(r));
  if (br.bytes.length > BUDGET_BYTES) log(`warning: the brotli copy (${mb(br.bytes.length)}) is over the ${mb(BUDGET_BYTES)} budget`);
  log(`compressed copies in ${compressSeconds} s${br.cached ? ' (brotli from the cache)' : ''}${wasmOptRecord ? `; wasm-opt ${wasmOptRecord.seconds} s${wasmOptRecord.cached ? ' (from the cache)' : ''}` : ''}${json ? `; record in ${json}` : ''}`);
  return record;
}

// ---------------------------------------------------------------------------------------------

const USAGE = 'usage: node scripts/wasm-size.mjs --wasm FILE [--raw FILE] [--wasm-opt PATH] [--level O1] [--cache DIR] [--json FILE] [--brotli-all]';

function parseArgs(argv) {
  const opts = {};
  const value = { '--wasm': 'wasm', '--raw': 'raw', '--wasm-opt': 'wasmOpt', '--level': 'level', '--cache': 'cache', '--json': 'json' };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (value[a] && argv[i + 1] !== undefined) opts[value[a]] = argv[++i];
    else if (a === '--brotli-all') opts.brotliAll = true;
    else throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
  }
  if (!opts.wasm) throw new Error(USAGE);
  if (opts.level && !/^-?O[0-4sz]$/.test(opts.level)) throw new Error(`--level must be O0…O4, Os or Oz (got ${JSON.stringify(opts.level)})`);
  return opts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    await shrink(parseArgs(process.argv.slice(2)));
  } catch (e) {
    process.stderr.write(`wasm-size.mjs: ${e.message}\n`);
    process.exit(1);
  }
}
