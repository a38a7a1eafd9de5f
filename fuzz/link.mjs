// Fuzzes the page's share-link parser (`applyLink` in www/link.js) in node, on a stand-in for
// the few DOM calls it makes. Each input is a URL fragment: it is applied to a fresh form, the
// link the form then gives is applied to another fresh form, and that form must give the same
// link again (a link is a fixed point of applying it). Any exception is a finding; each kind of
// failure is saved once and the run goes on.
//
//   node fuzz/link.mjs [--runs N] [--seed S] [--corpus DIR]...   random mutations of the corpus
//   node fuzz/link.mjs --replay DIR...                           each file once, no mutation
//
// The settings schema and the bundled datasets come from the built engine (pkg/) when it is
// there, else from the settings table in src/config/ (always so with FUZZ_LINK_SCHEMA=source).
// Each failing input is written to fuzz/artifacts/link/, and the exit status is then 1.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------------------------------------
// A stand-in for the DOM: elements by id, with `value` as inputs and selects keep it (always a
// string; a select keeps only the value of one of its options). Anything else an element is
// asked for is a harmless no-op, so the parser runs unchanged.

const noop = () => undefined;

class FakeElement {
  constructor(id, options = null) {
    this.id = id;
    this.tagName = options ? 'SELECT' : 'INPUT';
    this.options = options ? options.map((value) => ({ value })) : [];
    this._value = options?.[0] ?? '';
    this.hidden = false;
    this.disabled = false;
    this.textContent = '';
    this.dataset = {};
    this.classList = { add: noop, remove: noop, toggle: noop, contains: () => false };
    this.style = {};
  }
  get value() {
    return this._value;
  }
  set value(v) {
    const s = String(v);
    this._value = this.tagName === 'SELECT' ? (this.options.some((o) => o.value === s) ? s : '') : s;
  }
  querySelector() {
    return null;
  }
  querySelectorAll() {
    return [];
  }
  replaceChildren() {}
  append() {}
  appendChild(c) {
    return c;
  }
  setAttribute() {}
  removeAttribute() {}
  addEventListener() {}
}

/** A form: one element per id, created on first use; selects get their options from `selects`. */
function makeDocument(selects) {
  const elements = new Map();
  return {
    elements,
    getElementById(id) {
      if (!elements.has(id)) elements.set(id, new FakeElement(id, selects[id] ?? null));
      return elements.get(id);
    },
    querySelector: () => null,
    querySelectorAll: () => [],
    createElement: (tag) => new FakeElement(tag),
    createTextNode: (text) => ({ textContent: String(text) }),
  };
}

// ---------------------------------------------------------------------------------------------
// The settings schema and the bundled datasets.

async function fromEngine() {
  const glue = join(ROOT, 'pkg/cellshift.js');
  const wasm = join(ROOT, 'pkg/cellshift_bg.wasm');
  if (!existsSync(glue) || !existsSync(wasm)) return null;
  try {
    const m = await import(pathToFileURL(glue).href);
    await m.default({ module_or_path: readFileSync(wasm) });
    const schema = m.settings_schema();
    const datasets = typeof m.bundled_datasets === 'function' ? m.bundled_datasets() : [];
    return { schema, datasets, source: 'pkg/' };
  } catch {
    return null;
  }
}

/** The schema as the engine gives it, read from the Rust settings table (keys, kinds, rooms). */
function fromSource() {
  const table = readFileSync(join(ROOT, 'src/config/settings.rs'), 'utf8');
  const choiceText = readFileSync(join(ROOT, 'src/config/choices.rs'), 'utf8');
  const choices = {};
  for (const block of choiceText.split('choice_enum! {').slice(1)) {
    const name = block.match(/^\s*(?:\/\/\/.*\n\s*)*(\w+) \{/m)?.[1];
    if (name) choices[name] = [...block.matchAll(/\w+ = "([^"]+)"/g)].map((m) => m[1]);
  }
  const kinds = { String: 'text', 'Vec<String>': 'list', usize: 'int', u64: 'int', f64: 'float', 'Option<f64>': 'optional_float' };
  const schema = [];
  const body = table.slice(table.indexOf('settings! {'));
  for (const m of body.matchAll(/^ {4}(\w+): ([\w<>]+) = (.+?), (\w+), "/gm)) {
    const [, key, ty, def, room] = m;
    const opts = choices[ty];
    const kind = opts ? 'choice' : (kinds[ty] ?? 'text');
    const value = def.match(/"([^"]*)"/)?.[1] ?? def.match(/^-?[\d.e_]+$/)?.[0]?.replaceAll('_', '') ?? null;
    const dflt = kind === 'list' ? [] : kind === 'choice' ? (opts[0] ?? '') : value;
    schema.push({ key, room: room.toLowerCase(), kind, choices: (opts ?? []).map((v) => ({ value: v })), models: null, default: dflt });
  }
  const datasets = [
    {
      name: 'kang2018',
      settings: { covariates: ['cell_type'], holdout_group: 'cell_type=CD14+Mono', holdout_conditions: [], holdout_fraction: 0.2 },
    },
  ];
  return { schema, datasets, source: 'src/config/' };
}

const fromPkg = process.env.FUZZ_LINK_SCHEMA === 'source' ? null : await fromEngine();
const { schema, datasets, source } = fromPkg ?? fromSource();
if (!schema.length) throw new Error('no settings schema found');

const selects = { 'holdout-kind': ['fraction', 'conditions', 'group'], backend: ['auto', 'webgpu', 'cpu'] };
for (const s of schema) if (s.kind === 'choice') selects[s.key.replaceAll('_', '-')] = s.choices.map((c) => c.value);

globalThis.document = makeDocument(selects);
globalThis.location ??= { origin: 'http://127.0.0.1:8080', pathname: '/' };
globalThis.history ??= { replaceState: noop };

const { state } = await import(pathToFileURL(join(ROOT, 'www/state.js')).href);
const link = await import(pathToFileURL(join(ROOT, 'www/link.js')).href);

/** A fresh page: a new form holding the defaults, no data loaded. */
function freshPage() {
  globalThis.document = makeDocument(selects);
  Object.assign(state, {
    phase: 'idle',
    schema,
    datasets,
    dataset: null,
    expectedFile: null,
    wantedDataset: null,
    pendingHoldout: null,
    autorun: false,
  });
  for (const s of schema) {
    const id = s.key.replaceAll('_', '-');
    const d = s.default;
    document.getElementById(id).value = d === null || d === undefined ? '' : Array.isArray(d) ? d.join(', ') : String(d);
  }
}

/** What the page does with a link when it opens: applies it and remembers what to load. */
function open(hash) {
  freshPage();
  const wanted = link.applyLink(hash);
  if (wanted?.kind === 'file') state.expectedFile = { name: wanted.name, sha256: wanted.sha256 };
  else if (wanted?.kind === 'bundled') state.wantedDataset = wanted.name;
  return link.linkText(link.linkParams());
}

/** One input: its link, and that link applied again, must agree. */
function check(hash) {
  const first = open(hash);
  const second = open(`#${first}`);
  if (second !== first) {
    const a = new URLSearchParams(first);
    const b = new URLSearchParams(second);
    const keys = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
    const e = new Error(`the link changes when it is applied again (${keys.join(', ')}):\n  first:  ${first}\n  second: ${second}`);
    e.signature = `round trip changes ${keys.join(', ')}`;
    throw e;
  }
}

/** What kind of failure an exception is: the same kind is saved once. */
function signature(e) {
  if (e?.signature) return e.signature;
  const frame = String(e?.stack ?? '').split('\n').find((l) => l.includes('/www/')) ?? '';
  return `${e?.name ?? 'throw'}: ${String(e?.message ?? e).slice(0, 60)} ${frame.trim()}`;
}

// ---------------------------------------------------------------------------------------------
// Inputs: a small deterministic PRNG, and mutations that favour the link's own syntax.

function rng(seed) {
  let s = BigInt.asUintN(64, BigInt(seed) * 0x9e3779b97f4a7c15n + 1n);
  return () => {
    s ^= s << 13n;
    s = BigInt.asUintN(64, s);
    s ^= s >> 7n;
    s ^= s << 17n;
    s = BigInt.asUintN(64, s);
    return Number(s >> 11n) / 2 ** 53;
  };
}

const KEYS = [
  ...schema.map((s) => s.key),
  'data', 'sample_seed', 'backend', 'autorun', 'holdout', 'holdout_condition', 'holdout_covariate', 'holdout_level', 'covariate',
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'length', '',
];
const VALUES = [
  '', ' ', '=', '==', '&', '#', '%', '%zz', '%E0%A4%A', '%00', '%2C', ',', ',,', ' , ', '+', '%2B', 'A+B', 'a=b', 'cell_type=CD14+Mono',
  'sample', 'kang2018', 'file:', 'file::', 'file:x.csv:ABCDEF', 'file:a:b:c', 'fraction', 'conditions', 'group', 'encode', 'prior',
  '0', '-1', '1e309', 'NaN', 'Infinity', '0x10', '9007199254740993', '99999999999999999999999', '1', 'auto', 'cpu', 'webgpu',
  '__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', '\u0000', '\uFFFD', '\uD800', '😀', 'é', 'x'.repeat(300),
  ...schema.flatMap((s) => s.choices.map((c) => c.value)),
];

/** Percent-encoding, or the text as it is where it cannot be encoded (a lone surrogate). */
function encode(text) {
  try {
    return encodeURIComponent(text);
  } catch {
    return text;
  }
}

function mutate(rand, text, corpus) {
  const pick = (a) => a[Math.floor(rand() * a.length)];
  let t = text;
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i += 1) {
    const at = Math.floor(rand() * (t.length + 1));
    switch (Math.floor(rand() * 8)) {
      case 0: // a parameter from the known keys and values
        t += `${t.length ? '&' : ''}${pick(KEYS)}=${encode(pick(VALUES))}`;
        break;
      case 1: // a raw value, unencoded
        t += `&${pick(KEYS)}=${pick(VALUES)}`;
        break;
      case 2: // insert a character of the link's syntax or any code unit
        t = t.slice(0, at) + (rand() < 0.7 ? pick('&=,%+#:; ?') : String.fromCharCode(Math.floor(rand() * 0x10000))) + t.slice(at);
        break;
      case 3: // delete a run
        t = t.slice(0, at) + t.slice(at + 1 + Math.floor(rand() * 8));
        break;
      case 4: // duplicate a run
        t = t.slice(0, at) + t.slice(at, at + 1 + Math.floor(rand() * 16)).repeat(2) + t.slice(at);
        break;
      case 5: // splice with another input
        t = t.slice(0, at) + pick(corpus).slice(Math.floor(rand() * 40));
        break;
      case 6: // replace one parameter's value
        t = t.replace(/=[^&]*/, `=${encode(pick(VALUES))}`);
        break;
      default: // drop a parameter
        t = t.replace(/[^&]*&?/, '');
    }
  }
  return t.length > 4096 ? t.slice(0, 4096) : t;
}

// ---------------------------------------------------------------------------------------------

function readInputs(dirs) {
  const inputs = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isFile()) inputs.push({ path, text: readFileSync(path, 'utf8') });
    }
  }
  return inputs;
}

function save(text) {
  const dir = join(ROOT, 'fuzz/artifacts/link');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `crash-${createHash('sha1').update(text).digest('hex')}`);
  writeFileSync(path, text);
  return path;
}

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};

if (args[0] === '--replay') {
  const inputs = readInputs(args.slice(1));
  let failed = 0;
  for (const { path, text } of inputs) {
    try {
      check(text);
    } catch (e) {
      failed += 1;
      console.error(`${path}: ${e?.stack ?? e}`);
    }
  }
  console.log(`link replay: ${inputs.length} inputs, ${failed} failed (schema from ${source})`);
  process.exit(failed ? 1 : 0);
}

const runs = Number(flag('--runs', '200000'));
const seed = Number(flag('--seed', String(Date.now() % 1_000_000)));
const dirs = args.flatMap((a, i) => (args[i - 1] === '--corpus' ? [a] : []));
const corpus = readInputs(dirs).map((i) => i.text);
if (!corpus.length) corpus.push('', 'data=sample&sample_seed=7');
const rand = rng(seed);
const start = Date.now();
const found = new Map();
let done = 0;
for (; done < runs; done += 1) {
  const input = done < corpus.length ? corpus[done] : mutate(rand, corpus[Math.floor(rand() * corpus.length)], corpus);
  try {
    check(input);
  } catch (e) {
    const kind = signature(e);
    if (!found.has(kind)) {
      const path = save(input);
      found.set(kind, path);
      console.error(`input ${JSON.stringify(input)}\n${e?.stack ?? e}\nsaved as ${path}\n`);
    }
  }
}
const secs = ((Date.now() - start) / 1000).toFixed(0);
const crashes = found.size;
console.log(`fuzz link: ${done} runs, ${crashes} crash${crashes === 1 ? '' : 'es'} (${secs} s, seed ${seed}, schema from ${source})`);
for (const [kind, path] of found) console.log(`  ${kind}: ${path}`);
process.exit(crashes ? 1 : 0);
