// The page: data loading, settings, the training worker, live progress, the scoreboard and
// shareable links. The engine runs in worker.js; this thread only draws and keeps the page live.

import { Msg, Stage } from './protocol.js';

const $ = (id) => document.getElementById(id);

const WASM_URL = new URL('../pkg/cellshift_bg.wasm', import.meta.url);
const GLUE_URL = new URL('../pkg/cellshift.js', import.meta.url);
/** `cellshift train --sample` uses this sample seed (SampleConfig::default()). */
const DEFAULT_SAMPLE_SEED = '7';
const PANELS = ['shift', 'jaccard', 'pca', 'curves', 'masks'];
const JACCARD_KS = ['25', '50', '100'];
const BASELINE_ORDER = ['control_mean', 'perturbation_mean', 'perturbed_mean', 'additive', 'group_shift'];

/** The models the engine trains, in the order the page lists them, with a one-line hint each. */
const MODELS = {
  cvae: {
    label: 'cVAE',
    hint: 'Conditional VAE: encodes a control cell and decodes it under the perturbation; a combination is the sum of its single perturbations.',
  },
  sams: {
    label: 'SAMS-VAE',
    hint: 'Learns which latent dimensions each perturbation moves (sparse masks) and by how much; combinations add up. Its posterior links each effect to its mask.',
  },
  'sams-mf': {
    label: 'SAMS-VAE (mean-field)',
    hint: 'SAMS-VAE with a simpler posterior that treats masks and effects independently; usually a little faster, sometimes less sparse.',
  },
  cpa: {
    label: 'CPA-VAE',
    hint: 'Adds one learned shift per perturbation in latent space, without masks (every perturbation may move every dimension).',
  },
  'svae-plus': {
    label: 'SVAE+',
    hint: 'Sparse masks per whole condition label: it cannot predict a combination it never saw in training (those rows say so).',
  },
};
const MODEL_ORDER = Object.keys(MODELS);
/** Models whose results carry posterior mask probabilities. */
const MASK_MODELS = ['sams', 'sams-mf', 'svae-plus'];
const SAMS_FAMILY = ['sams', 'sams-mf', 'cpa', 'svae-plus'];
/** Colours of models in the engine's charts (charts::Theme): by rank among the models, by name. */
const MODEL_COLOURS = ['#0072b2', '#d55e00', '#7552a0', '#141414', '#8c5a28'];

/** Engine exports used on this thread (drawing needs the DOM, so it cannot run in the worker). */
let wasm = null;
let wasmModule = null;
let worker = null;
let workerReady = null;
let pendingLoad = null;

const state = {
  /** `booting` | `idle` | `loading` | `training` | `stopping` | `evaluating` | `failed` */
  phase: 'booting',
  defaults: null,
  summary: null,
  /** The current data: `{kind: 'sample', seed}` or `{kind: 'file', file, name, options, sha256}`. */
  dataset: null,
  /** The last file chosen, loaded or not, for "reload with these options". */
  lastFile: null,
  /** A file a shared link asks for: `{name, sha256}`. */
  expectedFile: null,
  autorun: false,
  /** Holdout choices waiting for data to offer them (from a link). */
  pendingHoldout: null,
  /** The run in progress or last run: `{config, pref, backend, plan}`. */
  run: null,
  sessionAlive: false,
  history: [],
  budget: 0,
  /** The latest results (the run just scored). */
  results: null,
  /**
   * Models compared on one data set and split: `key` identifies them (see `splitIdentity`),
   * `runs` maps a model name to its latest results.
   */
  comparison: { key: null, identity: null, runs: new Map() },
  /** The model whose figures are shown. */
  figureModel: null,
  backendInfo: null,
  timing: { segmentStart: 0, lastAt: 0, perEpoch: null, epochsInSegment: 0 },
  events: [],
};

// ---------------------------------------------------------------------------------------------
// Small DOM helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'title' || k === 'scope' || k === 'for') node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function setStatus(text, tone = 'info') {
  const s = $('status');
  s.textContent = text;
  s.dataset.tone = tone;
}

function showMessage(id, content) {
  const box = $(id);
  box.replaceChildren();
  if (content === null || content === undefined || content === '') {
    box.hidden = true;
    return;
  }
  if (typeof content === 'string') box.textContent = content;
  else box.append(content);
  box.hidden = false;
}

function logEvent(type, detail) {
  state.events.push({ type, t: performance.now(), ...(detail ?? {}) });
  if (state.events.length > 2000) state.events.splice(0, 500);
}

const fmtInt = (n) => Number(n).toLocaleString('en-US');

function fmtNum(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return v.toFixed(digits);
}

function fmtDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 1) return '< 1 s';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - m * 60);
  return `${m} min ${String(s).padStart(2, '0')} s`;
}

function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

// ---------------------------------------------------------------------------------------------
// Settings: the form, the run config and the link

/**
 * Form fields that map one-to-one onto link parameters. `path` is the setting's place in the
 * engine's run config (the engine names it in a rule's error, so the message goes beside the
 * control); `models` limits a field to the models that use it (it is hidden, left out of the
 * link and given its default for the others); `optional` fields may be left empty.
 */
const FIELDS = [
  { key: 'model', id: 'model', kind: 'choice', path: 'model' },
  { key: 'likelihood', id: 'likelihood', kind: 'choice', path: 'likelihood' },
  { key: 'latent', id: 'latent', kind: 'int', min: 1, label: 'Latent size', path: 'latent' },
  { key: 'hidden', id: 'hidden', kind: 'int', min: 1, label: 'Hidden size', path: 'hidden' },
  { key: 'epochs', id: 'epochs', kind: 'int', min: 1, label: 'Epochs', path: 'train.epochs' },
  { key: 'lr', id: 'lr', kind: 'float', label: 'Learning rate', path: 'train.lr' },
  { key: 'kl_warmup', id: 'kl-warmup', kind: 'int', min: 0, label: 'KL warm-up', path: 'train.kl_warmup' },
  { key: 'genes', id: 'genes', kind: 'int', min: 2, label: 'Panel size', path: 'genes' },
  { key: 'holdout', id: 'holdout-kind', kind: 'choice', path: 'holdout' },
  { key: 'holdout_fraction', id: 'holdout-fraction', kind: 'float', label: 'Holdout fraction', path: 'holdout.fraction' },
  { key: 'seed', id: 'seed', kind: 'int', min: 0, label: 'Seed', path: 'seed' },
  { key: 'backend', id: 'backend', kind: 'choice' },
  { key: 'batch_size', id: 'batch-size', kind: 'int', min: 1, label: 'Batch size', path: 'train.batch_size' },
  { key: 'weight_decay', id: 'weight-decay', kind: 'float', label: 'Weight decay', path: 'train.weight_decay' },
  { key: 'beta', id: 'beta', kind: 'float', label: 'KL weight β', path: 'train.beta' },
  { key: 'grad_clip', id: 'grad-clip', kind: 'float', label: 'Gradient clip', path: 'train.grad_clip' },
  { key: 'patience', id: 'patience', kind: 'int', min: 0, label: 'Patience', path: 'train.patience' },
  { key: 'val_fraction', id: 'val-fraction', kind: 'float', label: 'Validation fraction', path: 'val_fraction' },
  { key: 'generation', id: 'generation', kind: 'choice', path: 'generation' },
  { key: 'ate_samples', id: 'ate-samples', kind: 'int', min: 1, label: 'ATE samples', path: 'sams.ate_samples', sams: 'ate_samples' },
  // The SAMS-VAE family (RunConfig.sams).
  { key: 'mask_prior', id: 'mask-prior', kind: 'float', label: 'Mask prior π', sams: 'mask_prior', models: ['sams', 'sams-mf', 'svae-plus'] },
  { key: 'particles', id: 'particles', kind: 'int', min: 1, label: 'Particles', sams: 'particles', models: SAMS_FAMILY },
  { key: 'global_lr', id: 'global-lr', kind: 'float', label: 'Global learning rate', sams: 'global_lr', models: SAMS_FAMILY },
  { key: 'iwelbo_particles', id: 'iwelbo-particles', kind: 'int', min: 1, label: 'IWELBO particles K', sams: 'iwelbo_particles' },
  { key: 'mask_init_logit', id: 'mask-init-logit', kind: 'float', label: 'Initial mask logit', sams: 'mask_init_logit', models: ['sams', 'sams-mf', 'svae-plus'] },
  { key: 'embedding_prior_scale', id: 'embedding-prior-scale', kind: 'float', label: 'Effect prior scale', sams: 'embedding_prior_scale', models: ['sams', 'sams-mf', 'cpa'] },
  { key: 'temperature', id: 'temperature', kind: 'float', label: 'Mask temperature', sams: 'temperature', models: ['sams', 'sams-mf', 'svae-plus'] },
  { key: 'svae_beta', id: 'svae-beta', kind: 'float', label: 'SVAE+ β', sams: 'svae_beta', models: ['svae-plus'], optional: true },
  { key: 'align_epochs', id: 'align-epochs', kind: 'int', min: 0, label: 'Unmasked epochs', sams: 'align_epochs', models: ['sams', 'sams-mf', 'svae-plus'] },
];
for (const f of FIELDS) if (f.sams && !f.path) f.path = `sams.${f.sams}`;

/** Whether a field matters for `model` (fields without `models` matter for every model). */
const appliesTo = (f, model) => !f.models || f.models.includes(model);

/** Other controls the engine may blame, by config path. */
const EXTRA_PATHS = { 'holdout.conditions': 'holdout-conditions', 'holdout.covariate': 'holdout-covariate', 'holdout.level': 'holdout-level' };

function controlFor(path) {
  const f = FIELDS.find((x) => x.path === path);
  return f ? $(f.id) : EXTRA_PATHS[path] ? $(EXTRA_PATHS[path]) : null;
}

/** Shows (or, with `null`, clears) a message beside one control. */
function setFieldError(control, message) {
  const box = control.closest('.field, .holdout-box') ?? control.parentElement;
  let note = box.querySelector(':scope > .field-error');
  if (!message) {
    control.removeAttribute('aria-invalid');
    note?.remove();
    return;
  }
  if (!note) {
    note = el('small', { class: 'field-error', id: `${control.id}-error`, 'data-testid': `field-error-${control.id}` });
    box.append(note);
  }
  note.textContent = message;
  control.setAttribute('aria-invalid', 'true');
  const described = (control.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean);
  if (!described.includes(note.id)) control.setAttribute('aria-describedby', [...described, note.id].join(' '));
  // A closed section would hide the message.
  for (let d = control.closest('details'); d; d = d.parentElement?.closest('details')) d.open = true;
}

function clearFieldErrors() {
  for (const note of document.querySelectorAll('#settings .field-error')) {
    for (const c of document.querySelectorAll(`[aria-describedby~="${note.id}"]`)) {
      const rest = c.getAttribute('aria-describedby').split(' ').filter((id) => id && id !== note.id);
      if (rest.length) c.setAttribute('aria-describedby', rest.join(' '));
      else c.removeAttribute('aria-describedby');
    }
    note.remove();
  }
  for (const c of document.querySelectorAll('#settings [aria-invalid]')) c.removeAttribute('aria-invalid');
}

/** Shows which settings the chosen model uses, and its hint. */
function syncModelFields() {
  const model = $('model').value;
  $('model-hint').textContent = MODELS[model]?.hint ?? '';
  for (const box of document.querySelectorAll('[data-models]')) {
    const on = box.dataset.models.split(' ').includes(model);
    box.hidden = !on;
    for (const input of box.querySelectorAll('input, select')) input.disabled = !on;
  }
  const family = SAMS_FAMILY.includes(model);
  $('sams-settings').hidden = !family;
  $('sams-settings-title').textContent = family ? `${MODELS[model].label} settings` : 'SAMS-VAE family';
  $('sams-more').hidden = !family || !$('sams-more').querySelector('[data-models]:not([hidden])');
}

function fillDefaults(d) {
  const set = (id, v) => {
    $(id).value = String(v);
  };
  set('model', d.model);
  set('likelihood', d.likelihood ?? 'auto');
  set('latent', d.latent);
  set('hidden', d.hidden);
  set('epochs', d.train.epochs);
  set('lr', d.train.lr);
  set('kl-warmup', d.train.kl_warmup);
  set('genes', d.genes);
  set('holdout-kind', d.holdout.kind);
  set('holdout-fraction', d.holdout.kind === 'fraction' ? d.holdout.fraction : 0.2);
  set('seed', d.seed);
  set('batch-size', d.train.batch_size);
  set('weight-decay', d.train.weight_decay);
  set('beta', d.train.beta);
  set('grad-clip', d.train.grad_clip);
  set('patience', d.train.patience);
  set('val-fraction', d.val_fraction);
  set('generation', d.generation);
  for (const f of FIELDS) {
    if (!f.sams) continue;
    const v = d.sams?.[f.sams];
    set(f.id, v === null || v === undefined ? '' : v);
  }
  set('condition-column', d.condition_column);
  set('control-label', d.control_label);
  set('covariates', (d.covariates ?? []).join(', '));
  $('backend').value = 'auto';
  syncHoldoutBoxes();
  syncModelFields();
}

/** Reads one field; returns `{value}` or `{error}`. */
function readField(f) {
  const input = $(f.id);
  const raw = input.value.trim();
  if (f.kind === 'choice') return { value: raw };
  if (raw === '' && f.optional) return { value: null };
  // A number field holding text reads as empty: say so rather than "enter a number".
  if (raw === '' && input.validity?.badInput) return { error: `${f.label}: this is not a number` };
  if (raw === '') return { error: `${f.label}: enter a number` };
  const n = Number(raw);
  if (!Number.isFinite(n)) return { error: `${f.label}: “${raw}” is not a number` };
  if (f.kind === 'int') {
    if (!Number.isSafeInteger(n)) return { error: `${f.label}: expected a whole number, found “${raw}”` };
    if (f.min !== undefined && n < f.min) return { error: `${f.label}: must be at least ${f.min} (got ${n})` };
  }
  return { value: n };
}

function checkedConditions() {
  return [...$('holdout-conditions').querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);
}

function parseCovariates(text) {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function readLoadOptions() {
  return {
    condition_column: $('condition-column').value.trim(),
    control_label: $('control-label').value.trim(),
    covariates: parseCovariates($('covariates').value),
  };
}

/**
 * The form as a flat settings object, plus errors: `{text, control}` each. Fields the chosen
 * model does not use are not read.
 */
function readSettings() {
  const settings = {};
  const errors = [];
  const model = $('model').value;
  for (const f of FIELDS) {
    if (!appliesTo(f, model)) continue;
    const r = readField(f);
    if (r.error) {
      errors.push({ text: r.error, control: $(f.id) });
      // A stand-in, so the engine can still check the other settings.
      settings[f.key] = defaultAt(f.path);
    } else settings[f.key] = r.value;
  }
  settings.holdout_conditions = checkedConditions();
  settings.holdout_covariate = $('holdout-covariate').value;
  settings.holdout_level = $('holdout-level').value;
  if (settings.holdout === 'conditions' && settings.holdout_conditions.length === 0) {
    errors.push({ text: 'Held-out test cells: tick at least one condition to hold out', control: $('holdout-conditions'), onTrain: true });
  }
  if (settings.holdout === 'group' && (!settings.holdout_covariate || !settings.holdout_level)) {
    errors.push({ text: 'Held-out test cells: choose a covariate and a level (load data with a covariate column first)', control: $('holdout-covariate'), onTrain: true });
  }
  return { settings, errors };
}

/** The engine's default at a config path (`train.lr`, `sams.particles`, ...). */
function defaultAt(path) {
  return path?.split('.').reduce((v, k) => v?.[k], state.defaults) ?? null;
}

/** The label of the control a config path names, for messages. */
function labelOf(path) {
  return FIELDS.find((f) => f.path === path)?.label ?? null;
}

/**
 * Checks the form: the page's own checks (numbers), then the engine's rules that need no data
 * (the same code that refuses a run). Shows each message beside its control; with `summary`,
 * lists them under the settings too. Returns the settings, or null.
 */
function validateForm({ summary = false } = {}) {
  clearFieldErrors();
  const { settings, errors } = readSettings();
  if (wasm?.check_settings && state.defaults) {
    try {
      wasm.check_settings(buildConfig(settings));
    } catch (e) {
      const control = e.field ? controlFor(e.field) : null;
      const label = e.field ? labelOf(e.field) : null;
      errors.push({ text: label ? `${label}: ${e.message}` : e.message, control, engine: e.message });
    }
  }
  // Choices still being made (which conditions to hold out) are only held against a run.
  const shown = summary ? errors : errors.filter((e) => !e.onTrain);
  for (const e of shown) if (e.control) setFieldError(e.control, e.engine ?? e.text.replace(/^[^:]+: /, ''));
  if (summary) {
    if (errors.length) {
      showMessage('settings-error', el('ul', {}, errors.map((e) => el('li', { text: e.text }))));
      setStatus('Some settings need fixing before training: see the marked fields.', 'error');
    } else {
      showMessage('settings-error', null);
    }
  } else if (!errors.length && !$('settings-error').hidden && state.phase === 'idle') {
    // Everything the summary listed has been fixed.
    showMessage('settings-error', null);
  }
  return errors.length ? null : settings;
}

function holdoutOf(s) {
  switch (s.holdout) {
    case 'conditions':
      return { kind: 'conditions', conditions: s.holdout_conditions };
    case 'group':
      return { kind: 'group', covariate: s.holdout_covariate, level: s.holdout_level };
    default:
      return { kind: 'fraction', fraction: s.holdout_fraction };
  }
}

/** The engine's RunConfig for these settings and the current data. */
function buildConfig(s) {
  const d = state.defaults;
  // Settings the model does not use keep their defaults, so equal runs have equal configs.
  const sams = { ...d.sams };
  for (const f of FIELDS) if (f.sams && f.key in s) sams[f.sams] = s[f.key];
  const ds = state.dataset;
  const opts = ds?.kind === 'file' ? ds.options : { condition_column: d.condition_column, control_label: d.control_label, covariates: d.covariates };
  return {
    ...d,
    source: ds?.kind === 'file' ? ds.name : 'sample',
    condition_column: opts.condition_column,
    control_label: opts.control_label,
    covariates: [...opts.covariates],
    genes: s.genes,
    holdout: holdoutOf(s),
    val_fraction: s.val_fraction,
    model: s.model,
    latent: s.latent,
    hidden: s.hidden,
    likelihood: s.likelihood === 'auto' ? null : s.likelihood,
    generation: s.generation,
    train: {
      ...d.train,
      epochs: s.epochs,
      batch_size: s.batch_size,
      lr: s.lr,
      weight_decay: s.weight_decay,
      kl_warmup: s.kl_warmup,
      beta: s.beta,
      grad_clip: s.grad_clip,
      patience: s.patience,
      seed: s.seed,
    },
    seed: s.seed,
    sams,
  };
}

/** Link parameters for the current data and form (without `autorun`). */
function linkParams() {
  const p = new URLSearchParams();
  const ds = state.dataset;
  if (ds?.kind === 'file') {
    p.set('data', `file:${ds.name}:${ds.sha256}`);
    p.set('condition_column', ds.options.condition_column);
    p.set('control_label', ds.options.control_label);
    for (const c of ds.options.covariates) p.append('covariate', c);
  } else if (!ds && state.expectedFile) {
    p.set('data', `file:${state.expectedFile.name}:${state.expectedFile.sha256}`);
    const o = readLoadOptions();
    p.set('condition_column', o.condition_column);
    p.set('control_label', o.control_label);
    for (const c of o.covariates) p.append('covariate', c);
  } else {
    p.set('data', 'sample');
    p.set('sample_seed', ds?.kind === 'sample' ? String(ds.seed) : $('sample-seed').value.trim() || DEFAULT_SAMPLE_SEED);
  }
  const model = $('model').value;
  for (const f of FIELDS) {
    if (f.key === 'holdout_fraction' && $('holdout-kind').value !== 'fraction') continue;
    // Settings of other models stay out of the link (the link holds what the run uses).
    if (!appliesTo(f, model)) continue;
    const v = $(f.id).value.trim();
    if (f.optional && v === '') continue;
    p.set(f.key, v);
  }
  const kind = $('holdout-kind').value;
  if (kind === 'conditions') {
    const wanted = checkedConditions();
    const list = wanted.length || !state.pendingHoldout ? wanted : state.pendingHoldout.conditions ?? [];
    for (const c of list) p.append('holdout_condition', c);
  } else if (kind === 'group') {
    p.set('holdout_covariate', $('holdout-covariate').value || state.pendingHoldout?.covariate || '');
    p.set('holdout_level', $('holdout-level').value || state.pendingHoldout?.level || '');
  }
  return p;
}

function pageUrl() {
  return `${location.origin}${location.pathname}`;
}

function shareLink() {
  const p = linkParams();
  p.set('autorun', '1');
  return `${pageUrl()}#${p.toString()}`;
}

function updateLink() {
  if (state.phase === 'booting') return;
  const p = linkParams();
  history.replaceState(null, '', `${pageUrl()}#${p.toString()}`);
  $('share-link').value = shareLink();
}

/** Applies link parameters to the form; returns what the link asks to load. */
function applyLink(hash) {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  if (![...p.keys()].length) return null;
  for (const f of FIELDS) {
    if (!p.has(f.key)) continue;
    const input = $(f.id);
    const v = p.get(f.key);
    if (input.tagName === 'SELECT' && ![...input.options].some((o) => o.value === v)) {
      showMessage('settings-error', `The link sets ${f.key} to “${v}”, which this page does not offer; the default is kept.`);
      continue;
    }
    input.value = v;
  }
  if (p.has('condition_column')) $('condition-column').value = p.get('condition_column');
  if (p.has('control_label')) $('control-label').value = p.get('control_label');
  if (p.has('covariate')) $('covariates').value = p.getAll('covariate').join(', ');
  state.pendingHoldout = {
    conditions: p.getAll('holdout_condition'),
    covariate: p.get('holdout_covariate') ?? '',
    level: p.get('holdout_level') ?? '',
  };
  syncHoldoutBoxes();
  syncModelFields();
  state.autorun = p.get('autorun') === '1';
  const data = p.get('data') ?? 'sample';
  if (data.startsWith('file:')) {
    const rest = data.slice(5);
    const cut = rest.lastIndexOf(':');
    const name = cut >= 0 ? rest.slice(0, cut) : rest;
    const sha256 = cut >= 0 ? rest.slice(cut + 1).toLowerCase() : '';
    return { kind: 'file', name, sha256 };
  }
  const seed = p.get('sample_seed') ?? DEFAULT_SAMPLE_SEED;
  $('sample-seed').value = seed;
  return { kind: 'sample', seed };
}

// ---------------------------------------------------------------------------------------------
// Holdout controls (filled from the loaded data)

function syncHoldoutBoxes() {
  const kind = $('holdout-kind').value;
  $('holdout-fraction-box').hidden = kind !== 'fraction';
  $('holdout-conditions-box').hidden = kind !== 'conditions';
  $('holdout-group-box').hidden = kind !== 'group';
}

function fillHoldoutChoices(summary) {
  const pending = state.pendingHoldout;
  const before = new Set(pending?.conditions?.length ? pending.conditions : checkedConditions());
  const box = $('holdout-conditions');
  box.replaceChildren();
  const control = state.dataset?.kind === 'file' ? state.dataset.options.control_label : state.defaults?.control_label;
  for (const [label, count] of Object.entries(summary.conditions)) {
    if (label === control) continue;
    const input = el('input', { type: 'checkbox', value: label, checked: before.has(label) });
    input.dataset.testid = `holdout-condition-${label}`;
    box.append(el('label', { class: 'check' }, input, el('span', { text: label }), el('small', { text: fmtInt(count) })));
  }

  const covSel = $('holdout-covariate');
  const wantedCov = pending?.covariate || covSel.value;
  covSel.replaceChildren();
  const covNames = Object.keys(summary.covariates);
  for (const name of covNames) covSel.append(el('option', { value: name, text: name }));
  if (covNames.includes(wantedCov)) covSel.value = wantedCov;
  fillLevels(pending?.level || $('holdout-level').value);
  const groupOption = $('holdout-kind').querySelector('option[value=group]');
  groupOption.disabled = covNames.length === 0;
  groupOption.textContent = covNames.length ? 'one covariate group’s perturbed cells' : 'one covariate group (needs a covariate column)';
  state.pendingHoldout = null;
}

function fillLevels(wanted) {
  const levels = state.summary?.covariates?.[$('holdout-covariate').value] ?? [];
  const sel = $('holdout-level');
  sel.replaceChildren(...levels.map((l) => el('option', { value: l, text: l })));
  if (levels.includes(wanted)) sel.value = wanted;
}

// ---------------------------------------------------------------------------------------------
// Summary of the loaded data

function renderSummary() {
  const s = state.summary;
  const box = $('summary');
  box.replaceChildren();
  if (!s) {
    box.append(el('p', { class: 'placeholder', text: 'Nothing loaded yet.' }));
    return;
  }
  const ds = state.dataset;
  const source = ds?.kind === 'sample' ? `sample dataset (seed ${ds.seed})` : s.source;
  const item = (label, value, testid, title) =>
    el('div', { class: 'kv' }, el('dt', { text: label }), el('dd', { 'data-testid': testid, title }, value));
  box.append(
    el(
      'dl',
      { class: 'summary-grid' },
      item('Source', source, 'summary-source'),
      item('Cells', fmtInt(s.cells), 'summary-cells'),
      item('Genes', fmtInt(s.genes), 'summary-genes'),
      item('Values', s.values === 'counts' ? 'counts' : 'continuous', 'summary-values', s.values === 'counts' ? 'non-negative integer counts' : 'continuous (e.g. log-normalised) values'),
      item('SHA-256', `${s.sha256.slice(0, 12)}…`, 'summary-sha', s.sha256),
    ),
  );
  const conds = Object.entries(s.conditions);
  const control = ds?.kind === 'file' ? ds.options.control_label : 'control';
  box.append(
    el(
      'div',
      { class: 'summary-row' },
      el('span', { class: 'summary-label', text: `Conditions (${conds.length})` }),
      el(
        'ul',
        { class: 'chips', 'data-testid': 'summary-conditions' },
        conds.map(([label, n]) =>
          el('li', { class: label === control ? 'chip chip-control' : 'chip', 'data-condition': label }, el('span', { text: label }), el('small', { text: fmtInt(n) })),
        ),
      ),
    ),
  );
  const covs = Object.entries(s.covariates);
  box.append(
    el(
      'div',
      { class: 'summary-row' },
      el('span', { class: 'summary-label', text: 'Covariates' }),
      covs.length
        ? el(
            'ul',
            { class: 'cov-list', 'data-testid': 'summary-covariates' },
            covs.map(([name, levels]) =>
              el('li', {}, el('code', { text: name }), ` — ${levels.length} level${levels.length === 1 ? '' : 's'}: `, el('span', { class: 'muted', text: levels.join(', ') })),
            ),
          )
        : el('span', { class: 'muted', 'data-testid': 'summary-covariates', text: 'none' }),
    ),
  );
  if (s.warnings?.length) {
    box.append(el('ul', { class: 'warnings', 'data-testid': 'summary-warnings' }, s.warnings.map((w) => el('li', { text: w }))));
  }
}

// ---------------------------------------------------------------------------------------------
// The worker

function spawnWorker() {
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  workerReady = new Promise((resolve, reject) => {
    state.readyWaiter = { resolve, reject };
  });
  worker.addEventListener('message', (e) => onWorkerMessage(e.data));
  worker.addEventListener('error', (e) => {
    e.preventDefault();
    const message = e.message || 'the worker stopped unexpectedly';
    onEngineCrash(message);
  });
  worker.addEventListener('messageerror', () => onEngineCrash('a message from the worker could not be read'));
  worker.postMessage({ type: Msg.INIT, module: wasmModule });
  return workerReady;
}

function request(msg, transfer = []) {
  return new Promise((resolve, reject) => {
    pendingLoad = { resolve, reject };
    worker.postMessage(msg, transfer);
  });
}

function onWorkerMessage(msg) {
  logEvent(msg.type, msg.type === Msg.PROGRESS ? { epoch: msg.record.epoch } : undefined);
  switch (msg.type) {
    case Msg.READY:
      state.readyWaiter?.resolve(msg.defaults);
      state.readyWaiter = null;
      break;
    case Msg.LOADED:
      pendingLoad?.resolve(msg.summary);
      pendingLoad = null;
      break;
    case Msg.BACKEND:
      onBackend(msg.info);
      break;
    case Msg.STARTED:
      onStarted(msg);
      break;
    case Msg.PROGRESS:
      onProgress(msg);
      break;
    case Msg.EVALUATING:
      state.phase = 'evaluating';
      setStatus(msg.reason === 'stopped' ? 'Stopped; scoring the model as it is beside the baselines…' : 'Training finished; scoring the model beside the baselines…');
      syncControls();
      break;
    case Msg.RESULTS:
      onResults(msg.results, msg.reason);
      break;
    case Msg.ERROR:
      onWorkerError(msg);
      break;
    default:
      console.warn('unknown message from the worker', msg);
  }
}

function onWorkerError({ stage, message, fatal, field }) {
  if (fatal) {
    onEngineCrash(message);
    return;
  }
  if (stage === Stage.INIT && state.readyWaiter) {
    state.readyWaiter.reject(new Error(message));
    state.readyWaiter = null;
    return;
  }
  if (stage === Stage.LOAD && pendingLoad) {
    pendingLoad.reject(new Error(message));
    pendingLoad = null;
    return;
  }
  // Settings rejected before a run could start: the message goes beside the setting too.
  if (stage === Stage.START || stage === Stage.BACKEND) {
    const control = field ? controlFor(field) : null;
    if (control) setFieldError(control, message);
    const label = field ? labelOf(field) : null;
    showMessage('settings-error', `The run could not start: ${label ? `${label}: ` : ''}${message}`);
    setStatus('The run could not start: see the message under the settings.', 'error');
    state.phase = 'idle';
    state.sessionAlive = false;
    syncControls();
    return;
  }
  const at = state.history.length ? ` at epoch ${state.history.at(-1).epoch + (stage === Stage.TRAIN ? 1 : 0)}` : '';
  showMessage('run-error', `${stage === Stage.EVALUATE ? 'Scoring failed' : 'Training failed'}${at}: ${message}`);
  setStatus('The run failed: see the message above.', 'error');
  state.phase = 'idle';
  state.sessionAlive = stage === Stage.EVALUATE;
  syncControls();
}

/** The engine is gone (wasm panic, trap, worker error): start a fresh one and recover. */
async function onEngineCrash(message) {
  if (state.phase === 'recovering') return;
  const wasPhase = state.phase;
  const run = state.run;
  const onGpu = run && (run.backend === 'webgpu' || (!run.backend && run.pref !== 'cpu'));
  const training = ['training', 'stopping', 'evaluating'].includes(wasPhase);
  state.phase = 'recovering';
  state.sessionAlive = false;
  syncControls();
  pendingLoad?.reject(new Error(`the engine crashed: ${message}`));
  pendingLoad = null;
  state.readyWaiter?.reject(new Error(message));
  state.readyWaiter = null;
  worker?.terminate();
  showMessage('run-error', `The engine crashed: ${message}`);
  setStatus('The engine crashed; restarting it…', 'error');
  try {
    state.defaults = await spawnWorker();
    if (state.dataset) await reloadDataset();
  } catch (e) {
    state.phase = 'failed';
    setStatus(`The engine could not be restarted: ${e.message}. Reload the page.`, 'error');
    syncControls();
    return;
  }
  state.phase = 'idle';
  syncControls();
  if (training && onGpu) {
    $('backend').value = 'cpu';
    updateLink();
    showMessage('backend-notice', `The WebGPU run failed (${message}). It was restarted on the CPU backend with the same settings.`);
    startTraining({ backendOverride: 'cpu', fallback: true });
  } else {
    setStatus('The engine was restarted; the data is loaded again. Adjust the settings and train again.', 'error');
  }
}

async function reloadDataset() {
  const ds = state.dataset;
  if (ds.kind === 'sample') {
    state.summary = await request({ type: Msg.LOAD_SAMPLE, seed: String(ds.seed) });
  } else {
    const bytes = await ds.file.arrayBuffer();
    state.summary = await request({ type: Msg.LOAD_CSV, bytes, name: ds.name, options: ds.options }, [bytes]);
  }
}

// ---------------------------------------------------------------------------------------------
// Loading data

function loadingGuard() {
  return state.phase === 'idle' || state.phase === 'failed';
}

function afterLoad(summary, dataset) {
  const before = state.comparison;
  const options = dataset.kind === 'file' ? dataset.options : { condition_column: state.defaults.condition_column, control_label: state.defaults.control_label, covariates: state.defaults.covariates ?? [] };
  const k = before.identity?.key;
  // The same table read with the same options keeps the comparison; other data ends it.
  const sameData = k && k.data === summary.sha256 && k.condition_column === options.condition_column && k.control_label === options.control_label && JSON.stringify(k.covariates) === JSON.stringify(options.covariates);
  const models = comparedRuns().map(modelOf);
  state.summary = summary;
  state.dataset = dataset;
  state.sessionAlive = false;
  if (!sameData) {
    clearResults();
    if (models.length) {
      const now = dataset.kind === 'sample' ? `the sample, seed ${dataset.seed}` : dataset.name;
      showComparisonNotice(
        `The scores of ${listText(models.map(modelLabel))} were cleared because other data was loaded (${before.identity.dataLabel} → ${now}). Models are compared only on the same data and the same held-out cells.`,
      );
    }
  }
  renderSummary();
  fillHoldoutChoices(summary);
  showMessage('load-error', null);
  updateLink();
}

function parseSampleSeed() {
  const raw = $('sample-seed').value.trim();
  if (!/^\d+$/.test(raw) || BigInt(raw) > 18446744073709551615n) {
    throw new Error(`the sample seed must be a whole number from 0 to 18446744073709551615 (got “${raw}”)`);
  }
  return BigInt(raw).toString();
}

async function loadSample() {
  if (!loadingGuard()) return false;
  let seed;
  try {
    seed = parseSampleSeed();
  } catch (e) {
    showMessage('load-error', `Could not load the sample: ${e.message}`);
    return false;
  }
  state.phase = 'loading';
  syncControls();
  setStatus(`Generating the sample dataset (seed ${seed})…`);
  try {
    const summary = await request({ type: Msg.LOAD_SAMPLE, seed });
    afterLoad(summary, { kind: 'sample', seed });
    state.expectedFile = null;
    showMessage('file-request', null);
    setStatus(`Loaded the sample dataset: ${fmtInt(summary.cells)} cells × ${fmtInt(summary.genes)} genes.`);
    return true;
  } catch (e) {
    showMessage('load-error', `Could not load the sample: ${e.message}`);
    setStatus('The sample could not be loaded.', 'error');
    return false;
  } finally {
    if (state.phase === 'loading') state.phase = 'idle';
    syncControls();
  }
}

/** Offers a fix for a column that is not numeric: declare it a covariate. */
function loadErrorContent(file, message) {
  const box = el('div');
  box.append(el('p', { class: 'message-title' }, 'Could not load ', el('code', { text: file.name }), ':'));
  box.append(el('p', { class: 'message-body', 'data-testid': 'load-error-message', text: message }));
  const m = /column \d+ \(`([^`]+)`\): found "([^"]*)", expected a number/.exec(message);
  if (m && m[2] !== '' && Number.isNaN(Number(m[2]))) {
    const column = m[1];
    const fix = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'add-covariate' }, `Treat “${column}” as a covariate and reload`);
    fix.addEventListener('click', () => {
      const covs = parseCovariates($('covariates').value);
      if (!covs.includes(column)) covs.push(column);
      $('covariates').value = covs.join(', ');
      loadFile(file);
    });
    box.append(el('p', { class: 'message-hint' }, `“${column}” holds text, so it cannot be a gene. If it is a category such as a cell type, declare it a covariate: `, fix));
  }
  if (state.dataset) {
    const what = state.dataset.kind === 'sample' ? 'the sample dataset' : state.dataset.name;
    box.append(el('p', { class: 'message-hint', text: `The data loaded before (${what}) is still the current data.` }));
  }
  return box;
}

async function loadFile(file) {
  if (!file) return false;
  if (!loadingGuard()) {
    setStatus('Stop the run before loading other data.', 'error');
    return false;
  }
  state.lastFile = file;
  $('file-name').textContent = file.name;
  state.phase = 'loading';
  syncControls();
  const options = readLoadOptions();
  setStatus(`Reading ${file.name} (${fmtInt(file.size)} bytes)…`);
  let summary;
  try {
    const bytes = await file.arrayBuffer();
    summary = await request({ type: Msg.LOAD_CSV, bytes, name: file.name, options }, [bytes]);
  } catch (e) {
    showMessage('load-error', loadErrorContent(file, e.message));
    setStatus(`${file.name} was not loaded: see the message under Data.`, 'error');
    if (state.phase === 'loading') state.phase = 'idle';
    syncControls();
    return false;
  }
  const expected = state.expectedFile;
  afterLoad(summary, { kind: 'file', file, name: file.name, options, sha256: summary.sha256 });
  state.phase = 'idle';
  syncControls();
  setStatus(`Loaded ${file.name}: ${fmtInt(summary.cells)} cells × ${fmtInt(summary.genes)} genes.`);
  if (expected) {
    if (summary.sha256 !== expected.sha256) {
      showMessage(
        'load-error',
        el(
          'div',
          { 'data-testid': 'sha-mismatch' },
          el('p', { class: 'message-title', text: 'This is not the file the link was made with.' }),
          el('p', { class: 'message-body' }, 'The link expects ', el('code', { text: expected.name }), ` with SHA-256 ${expected.sha256}; `, el('code', { text: file.name }), ` has SHA-256 ${summary.sha256}. The shared run was not started, because its results would differ.`),
        ),
      );
      setStatus('SHA-256 mismatch: the chosen file is not the one the link was made with.', 'error');
      return true;
    }
    state.expectedFile = null;
    showMessage('file-request', null);
    setStatus(`${file.name} matches the link (SHA-256 ${summary.sha256.slice(0, 12)}…).`);
    if (state.autorun) {
      state.autorun = false;
      startTraining();
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Training

function syncControls() {
  const p = state.phase;
  const idle = p === 'idle';
  const running = p === 'training' || p === 'stopping' || p === 'evaluating';
  $('train').disabled = !(idle && state.summary);
  $('stop').disabled = p !== 'training';
  $('resume').disabled = !(idle && state.sessionAlive);
  $('load-sample').disabled = !idle && p !== 'failed';
  $('file-input').disabled = !idle;
  $('reload-file').disabled = !(idle && state.lastFile);
  $('drop-zone').classList.toggle('is-disabled', !idle);
  $('train').textContent = running ? 'Training…' : 'Train';
  for (const b of document.querySelectorAll('.downloads .btn, [data-download-panel]')) b.disabled = !state.results || !idle;
  const masksButton = document.querySelector('[data-download-panel="masks"]');
  if (masksButton && !shownResults()?.figures?.masks) masksButton.disabled = true;
  document.body.dataset.phase = p;
}

function startTraining({ backendOverride, fallback } = {}) {
  if (state.phase !== 'idle' || !state.summary) return;
  const settings = validateForm({ summary: true });
  if (!settings) return;
  if (!fallback) {
    showMessage('run-error', null);
    showMessage('backend-notice', null);
  }
  const config = buildConfig(settings);
  const pref = backendOverride ?? settings.backend;
  state.run = { config, pref, backend: null, plan: null, fallback: Boolean(fallback) };
  state.history = [];
  state.budget = config.train.epochs;
  state.phase = 'training';
  state.sessionAlive = false;
  markResultsStale();
  resetProgress();
  syncControls();
  setStatus(pref === 'cpu' ? 'Starting the run on the CPU…' : 'Starting the run (setting up the backend)…');
  updateLink();
  worker.postMessage({ type: Msg.TRAIN, config, backend: pref });
}

function onBackend(info) {
  state.backendInfo = info;
  if (state.run) state.run.backend = info.backend;
  $('backend-name').textContent = info.backend === 'webgpu' ? 'WebGPU' : 'CPU (WebAssembly)';
  $('backend-name').dataset.backend = info.backend;
  const a = info.adapter;
  $('adapter-info').textContent = a ? `${a.name || 'unnamed adapter'}${a.vendor ? ` · vendor ${a.vendor}` : ''}${a.device_type ? ` · ${a.device_type}` : ''}${a.backend ? ` · ${a.backend}` : ''}${a.driver ? ` · ${a.driver}` : ''}` : '';
  $('adapter-info').title = a ? Object.entries(a).map(([k, v]) => `${k}: ${v}`).join('\n') : '';
  if (info.notice) showMessage('backend-notice', info.notice);
}

function resetProgress() {
  $('progress').value = 0;
  $('progress').max = 1;
  $('progress-text').textContent = '0 / 0';
  for (const id of ['stat-epoch', 'stat-eta', 'stat-loss', 'stat-recon', 'stat-kl', 'stat-beta', 'stat-val']) $(id).textContent = '—';
  scheduleLiveChart();
}

function onStarted(msg) {
  const now = performance.now();
  state.timing = { segmentStart: now, lastAt: now, perEpoch: null, epochsInSegment: 0 };
  if (msg.plan) {
    state.run.plan = msg.plan;
    state.budget = msg.plan.epochs;
    state.sessionAlive = true;
    const p = msg.plan;
    $('stat-split').textContent = `${fmtInt(p.train_cells)} train · ${fmtInt(p.val_cells)} val · ${fmtInt(p.test_cells)} test cells · ${fmtInt(p.genes)} genes`;
    setStatus(`Training on ${state.backendInfo?.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}: ${p.epochs} epochs at most.${state.backendInfo?.backend === 'webgpu' ? ' The first epoch also compiles the GPU kernels.' : ''}`);
  } else {
    state.budget = msg.epochs;
    setStatus(`Resuming from epoch ${msg.from} (up to epoch ${msg.epochs}).`);
  }
  $('progress').max = state.budget;
}

function onProgress({ record, epochs, done }) {
  state.history.push(record);
  state.budget = epochs;
  const now = performance.now();
  const dt = (now - state.timing.lastAt) / 1000;
  state.timing.lastAt = now;
  state.timing.epochsInSegment += 1;
  // The first epoch of a segment may include kernel compilation: let later epochs dominate.
  if (state.timing.perEpoch === null) state.timing.perEpoch = dt;
  else state.timing.perEpoch = state.timing.epochsInSegment === 2 ? dt : 0.7 * state.timing.perEpoch + 0.3 * dt;
  const remaining = Math.max(0, epochs - record.epoch);
  $('progress').max = epochs;
  $('progress').value = record.epoch;
  $('progress-text').textContent = `${record.epoch} / ${epochs}`;
  $('stat-epoch').textContent = String(record.epoch);
  $('stat-eta').textContent = done ? 'done' : fmtDuration(state.timing.perEpoch * remaining);
  $('stat-loss').textContent = fmtNum(record.train.loss);
  $('stat-recon').textContent = fmtNum(record.train.recon);
  $('stat-kl').textContent = fmtNum(record.train.kl);
  $('stat-beta').textContent = fmtNum(record.beta, 2);
  $('stat-val').textContent = record.val && 'loss' in record.val ? fmtNum(record.val.loss) : '—';
  if (state.phase === 'training') setStatus(`Epoch ${record.epoch} of ${epochs}: train loss ${fmtNum(record.train.loss)}, validation loss ${fmtNum(record.val?.loss)}.`);
  scheduleLiveChart();
}

function stopTraining() {
  if (state.phase !== 'training') return;
  state.phase = 'stopping';
  syncControls();
  setStatus('Stopping after the current epoch…');
  worker.postMessage({ type: Msg.STOP });
}

function resumeTraining() {
  if (state.phase !== 'idle' || !state.sessionAlive) return;
  const raw = Number($('resume-epochs').value);
  const more = Number.isSafeInteger(raw) && raw > 0 ? raw : 20;
  showMessage('run-error', null);
  state.phase = 'training';
  markResultsStale();
  syncControls();
  worker.postMessage({ type: Msg.RESUME, epochs: more });
}

// ---------------------------------------------------------------------------------------------
// Charts

let liveChartQueued = false;
function scheduleLiveChart() {
  if (liveChartQueued) return;
  liveChartQueued = true;
  requestAnimationFrame(() => {
    liveChartQueued = false;
    drawLiveChart();
  });
}

function sizeCanvas(canvas) {
  const rect = canvas.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(rect.width * dpr));
  const h = Math.max(1, Math.round(rect.height * dpr));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  return dpr;
}

function clearCanvas(canvas) {
  sizeCanvas(canvas);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
}

/**
 * The live loss chart. The engine's chart (draw_curves) is used while it is cheap; if one call
 * blocks this thread for long, the rest of the run is drawn by a light chart in plain canvas
 * calls, so typing and clicking stay immediate during training.
 */
const liveChart = { engine: true, lastCost: 0 };
const ENGINE_DRAW_BUDGET_MS = 40;

function drawLiveChart() {
  const canvas = $('live-curves');
  if (!state.history.length) {
    clearCanvas(canvas);
    return;
  }
  const dpr = sizeCanvas(canvas);
  if (wasm && liveChart.engine) {
    const t0 = performance.now();
    try {
      wasm.draw_curves(canvas, state.history, dpr);
      liveChart.lastCost = performance.now() - t0;
      if (liveChart.lastCost > ENGINE_DRAW_BUDGET_MS) liveChart.engine = false;
      canvas.dataset.renderer = 'engine';
      return;
    } catch (e) {
      console.error('drawing the loss chart failed', e);
      liveChart.engine = false;
    }
  }
  drawLightCurves(canvas, state.history, dpr);
  canvas.dataset.renderer = 'light';
}

/** Train and validation loss per epoch, drawn with plain canvas calls. */
function drawLightCurves(canvas, history, dpr) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width;
  const H = canvas.height;
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, W, H);
  ctx.scale(dpr, dpr);
  const w = W / dpr;
  const h = H / dpr;
  const pad = { left: 58, right: 14, top: 30, bottom: 34 };
  const series = [
    { name: 'train loss', colour: '#212121', dash: [], values: history.map((r) => r.train?.loss) },
    { name: 'validation loss', colour: '#0072b2', dash: [5, 4], values: history.map((r) => r.val?.loss) },
  ].filter((s) => s.values.some((v) => Number.isFinite(v)));
  const all = series.flatMap((s) => s.values.filter((v) => Number.isFinite(v)));
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (!(hi > lo)) {
    lo -= 1;
    hi += 1;
  }
  const span = hi - lo;
  lo -= span * 0.05;
  hi += span * 0.05;
  const first = history[0].epoch;
  const last = Math.max(history.at(-1).epoch, first + 1);
  const x = (e) => pad.left + ((e - first) / (last - first)) * (w - pad.left - pad.right);
  const y = (v) => h - pad.bottom - ((v - lo) / (hi - lo)) * (h - pad.top - pad.bottom);
  ctx.font = '11px system-ui, sans-serif';
  ctx.lineWidth = 1;
  // Grid and y ticks.
  const step = niceStep((hi - lo) / 5);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
    ctx.strokeStyle = '#e8e8e8';
    ctx.beginPath();
    ctx.moveTo(pad.left, y(v));
    ctx.lineTo(w - pad.right, y(v));
    ctx.stroke();
    ctx.fillStyle = '#6e6e6e';
    ctx.fillText(formatTick(v, step), pad.left - 6, y(v));
  }
  // X ticks.
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const xStep = Math.max(1, niceStep((last - first) / 6));
  for (let e = Math.ceil(first / xStep) * xStep; e <= last; e += xStep) {
    ctx.fillStyle = '#6e6e6e';
    ctx.fillText(String(e), x(e), h - pad.bottom + 6);
  }
  ctx.strokeStyle = '#787878';
  ctx.beginPath();
  ctx.moveTo(pad.left, pad.top);
  ctx.lineTo(pad.left, h - pad.bottom);
  ctx.lineTo(w - pad.right, h - pad.bottom);
  ctx.stroke();
  ctx.fillStyle = '#212121';
  ctx.textAlign = 'left';
  ctx.fillText('epoch', w - pad.right - 30, h - pad.bottom + 20);
  // Lines, then the legend.
  let lx = pad.left + 6;
  for (const s of series) {
    ctx.strokeStyle = s.colour;
    ctx.lineWidth = 1.8;
    ctx.setLineDash(s.dash);
    ctx.beginPath();
    let started = false;
    history.forEach((r, i) => {
      const v = s.values[i];
      if (!Number.isFinite(v)) return;
      if (started) ctx.lineTo(x(r.epoch), y(v));
      else ctx.moveTo(x(r.epoch), y(v));
      started = true;
    });
    if (history.length === 1) ctx.arc(x(history[0].epoch), y(s.values[0]), 2, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.beginPath();
    ctx.moveTo(lx, 14);
    ctx.lineTo(lx + 18, 14);
    ctx.stroke();
    ctx.fillStyle = '#212121';
    ctx.textBaseline = 'middle';
    ctx.fillText(s.name, lx + 24, 14);
    lx += 40 + ctx.measureText(s.name).width;
  }
  ctx.restore();
}

function niceStep(raw) {
  if (!(raw > 0)) return 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const n = raw / mag;
  return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
}

function formatTick(v, step) {
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  return v.toFixed(Math.min(digits, 6));
}

/**
 * What one panel needs of the results: the engine reads the whole object on every call, so the
 * large arrays other panels use are left out. The top-K panel shows every compared model.
 */
function panelInput(r, panel) {
  const f = r.figures;
  return {
    ...r,
    scores: panel === 'jaccard' ? mergedScores() : {},
    train: panel === 'curves' ? r.train : { ...r.train, history: [] },
    figures: {
      shift: panel === 'shift' ? f.shift : { ...f.shift, true_shift: [], pred_shift: [] },
      pca: panel === 'pca' ? f.pca : { ...f.pca, control: [], truth: [], predicted: [] },
      masks: panel === 'masks' ? (f.masks ?? null) : null,
    },
  };
}

/** A run with its scores but without figure data, for the engine's CSV. */
function scoresOnly(r) {
  return { ...panelInput(r, 'none'), scores: r.scores };
}

let figureToken = 0;

/** Draws the figures one per task, so the page answers input between them. */
async function drawFigures() {
  const results = shownResults();
  if (!results || !wasm) return;
  const token = ++figureToken;
  syncMasksPanel(results);
  for (const panel of PANELS) {
    await new Promise((r) => setTimeout(r, 0));
    if (token !== figureToken) return;
    if (panel === 'masks' && !results.figures.masks) continue;
    const canvas = $(`fig-${panel}`);
    try {
      const dpr = sizeCanvas(canvas);
      wasm.draw(canvas, panelInput(results, panel), panel, dpr);
    } catch (e) {
      clearCanvas(canvas);
      showMessage('run-error', `The ${panel} figure could not be drawn: ${e.message}`);
    }
  }
  if (token === figureToken && $('scoreboard').dataset.state === 'drawing') $('scoreboard').dataset.state = 'ready';
}

// ---------------------------------------------------------------------------------------------
// The comparison: models trained on the same data and split, side by side

const modelOf = (r) => r.config?.model ?? r.figures?.shift?.model;
const modelLabel = (name) => MODELS[name]?.label ?? name;
const modelRank = (name) => (MODEL_ORDER.includes(name) ? MODEL_ORDER.indexOf(name) : MODEL_ORDER.length);

function listText(items) {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** Compared runs in the page's model order. */
function comparedRuns() {
  const runs = state.comparison.runs;
  return [...runs.keys()].sort((a, b) => modelRank(a) - modelRank(b) || a.localeCompare(b)).map((m) => runs.get(m));
}

/** The results whose figures are shown. */
function shownResults() {
  return state.comparison.runs.get(state.figureModel) ?? state.results;
}

/** Every compared model's scores beside the baselines (shared by every run on the split). */
function mergedScores() {
  const out = {};
  for (const r of comparedRuns()) out[modelOf(r)] = r.scores[modelOf(r)];
  const latest = state.results;
  for (const name of BASELINE_ORDER) if (latest?.scores[name]) out[name] = latest.scores[name];
  return out;
}

/** Runs for the engine's merged outputs: the shown run last (its figures and baselines are used). */
function runsForMerge() {
  const shown = shownResults();
  return [...comparedRuns().filter((r) => r !== shown), shown];
}

/** What makes scores comparable: the same data and the same split of it. */
function splitIdentity(r) {
  const c = r.config ?? {};
  const ds = state.dataset;
  return {
    key: {
      data: r.data.sha256,
      condition_column: c.condition_column,
      control_label: c.control_label,
      covariates: c.covariates ?? [],
      seed: c.seed,
      holdout: c.holdout,
      val_fraction: c.val_fraction,
      genes: c.genes,
    },
    dataLabel: ds?.kind === 'sample' ? `the sample, seed ${ds.seed}` : (ds?.name ?? r.data.source),
  };
}

function holdoutText(h) {
  switch (h?.kind) {
    case 'fraction':
      return `${h.fraction} of each condition`;
    case 'conditions':
      return `condition${h.conditions.length === 1 ? '' : 's'} ${h.conditions.join(', ')}`;
    case 'group':
      return `${h.covariate} = ${h.level}`;
    default:
      return h?.kind ?? 'unknown';
  }
}

/** What differs between two identities, in words. */
function describeChange(a, b) {
  const x = a.key;
  const y = b.key;
  const same = (u, v) => JSON.stringify(u) === JSON.stringify(v);
  const out = [];
  if (x.data !== y.data) out.push(`the data (${a.dataLabel} → ${b.dataLabel})`);
  if (x.condition_column !== y.condition_column) out.push(`the condition column (${x.condition_column} → ${y.condition_column})`);
  if (x.control_label !== y.control_label) out.push(`the control label (${x.control_label} → ${y.control_label})`);
  if (!same(x.covariates, y.covariates)) out.push(`the covariates (${x.covariates.join(', ') || 'none'} → ${y.covariates.join(', ') || 'none'})`);
  if (x.seed !== y.seed) out.push(`the seed (${x.seed} → ${y.seed})`);
  if (!same(x.holdout, y.holdout)) out.push(`the held-out cells (${holdoutText(x.holdout)} → ${holdoutText(y.holdout)})`);
  if (x.val_fraction !== y.val_fraction) out.push(`the validation fraction (${x.val_fraction} → ${y.val_fraction})`);
  if (x.genes !== y.genes) out.push(`the panel size (${x.genes} → ${y.genes} genes)`);
  return out;
}

function showComparisonNotice(text) {
  const box = $('comparison-notice');
  if (!text) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const dismiss = el('button', { type: 'button', class: 'link-btn notice-dismiss', 'data-testid': 'dismiss-comparison-notice', 'aria-label': 'Dismiss this notice' }, 'Dismiss');
  dismiss.addEventListener('click', () => showComparisonNotice(null));
  box.replaceChildren(el('p', { 'data-testid': 'comparison-notice-text', text }), dismiss);
  box.hidden = false;
}

/** Adds a run to the comparison; earlier runs on other data or another split leave it. */
function accumulate(results) {
  const c = state.comparison;
  const identity = splitIdentity(results);
  const key = JSON.stringify(identity.key);
  const model = modelOf(results);
  if (c.key !== null && c.key !== key) {
    const dropped = [...c.runs.keys()].filter((m) => m !== model).sort((a, b) => modelRank(a) - modelRank(b));
    if (dropped.length) {
      const changes = describeChange(c.identity, identity);
      const rows = listText(dropped.map(modelLabel));
      showComparisonNotice(
        `The scores of ${rows} were removed from the comparison because this run changed ${listText(changes) || 'the split'}. ` +
          'Models are compared only on the same data and the same held-out cells; train them again to see them side by side.',
      );
    }
    c.runs.clear();
  }
  c.key = key;
  c.identity = identity;
  // A model trained again replaces its row.
  c.runs.set(model, results);
}

function clearComparison() {
  state.comparison = { key: null, identity: null, runs: new Map() };
  state.figureModel = null;
}

// ---------------------------------------------------------------------------------------------
// Scoreboard

function markResultsStale() {
  figureToken += 1;
  if (state.results) $('scoreboard').dataset.state = 'stale';
}

function clearResults() {
  figureToken += 1;
  state.results = null;
  clearComparison();
  $('scoreboard').dataset.state = 'empty';
  $('scoreboard-meta').textContent = '';
  $('pooled-table').tBodies[0].replaceChildren();
  $('condition-table').tBodies[0].replaceChildren();
  $('score-notes').replaceChildren();
  $('figure-model-box').hidden = true;
  syncMasksPanel(null);
  for (const panel of PANELS) clearCanvas($(`fig-${panel}`));
}

/** The masks figure for the shown model: the heatmap, or why there is none. */
function syncMasksPanel(results) {
  const canvas = $('fig-masks');
  const note = $('masks-note');
  const masks = results?.figures?.masks ?? null;
  const button = document.querySelector('[data-download-panel="masks"]');
  if (button) button.disabled = !masks || state.phase !== 'idle';
  $('masks-figure').dataset.state = !results ? 'empty' : masks ? 'drawn' : 'none';
  if (!results || masks) {
    canvas.hidden = false;
    note.hidden = true;
    note.replaceChildren();
    let truth = '';
    if (masks?.truth) truth = ', beside the sample’s true effects';
    else if (masks?.model === 'svae-plus' && results.data.source === 'sample') truth = ' (its masks belong to whole condition labels, so the sample’s per-perturbation truth is not drawn beside them)';
    else if (masks) truth = ' (true effects are known only for the sample)';
    $('masks-caption').textContent = masks ? `Latent masks of ${modelLabel(masks.model)}: P(a perturbation acts on a latent dimension)${truth}` : 'Latent masks: which latent dimensions each perturbation moves (SAMS-VAE, SVAE+)';
    return;
  }
  const model = modelOf(results);
  canvas.hidden = true;
  $('masks-caption').textContent = `Latent masks: none for ${modelLabel(model)}`;
  const withMasks = comparedRuns().map(modelOf).filter((m) => MASK_MODELS.includes(m));
  const parts = [
    el('p', { text: `${modelLabel(model)} learns no latent masks, so there is no heatmap for it. SAMS-VAE, SAMS-VAE (mean-field) and SVAE+ learn which latent dimensions each perturbation acts on; on the sample, their masks are drawn beside the true effects.` }),
  ];
  if (withMasks.length) {
    const buttons = withMasks.map((m) => {
      const b = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': `show-masks-${m}` }, `Show the masks of ${modelLabel(m)}`);
      b.addEventListener('click', () => showFiguresOf(m));
      return b;
    });
    parts.push(el('p', { class: 'masks-actions' }, ...buttons));
  } else {
    parts.push(el('p', { text: 'Choose one of them under Model & training and train it to see its masks here.' }));
  }
  note.replaceChildren(...parts);
  note.hidden = false;
}

function showFiguresOf(model) {
  if (!state.comparison.runs.has(model)) return;
  state.figureModel = model;
  $('figure-model').value = model;
  renderScoreboard();
}

function scoreCell(value, set, metric, digits = 3) {
  const td = el('td', { class: 'num' });
  if (value === null || value === undefined) {
    td.textContent = '—';
    td.classList.add('undefined');
    td.title = set.undefined ? `${metric} undefined: ${set.undefined}` : `${metric} is undefined here (e.g. a predictor of no change has no shift to correlate or rank)`;
  } else {
    td.textContent = fmtNum(value, digits);
    td.title = `${metric} = ${value}`;
    td.dataset.value = String(value);
  }
  return td;
}

function scoreCells(set) {
  return [
    scoreCell(set.mean_shift_r, set, 'r'),
    ...JACCARD_KS.map((k) => scoreCell(set.jaccard?.[k], set, `J@${k}`)),
    scoreCell(set.energy_distance, set, 'energy distance'),
  ];
}

/** One cell across `span` metric columns that says why nothing was scored. */
function unscoredCell(span, reason) {
  return el('td', { class: 'unscored', colSpan: span, 'data-testid': 'unscored' }, el('span', { class: 'unscored-mark', text: 'not scored: ' }), reason);
}

/** Why a model predicted no held-out condition, from its results. */
function unscoredReason(r, set) {
  const reasons = Object.entries(r.split.unpredictable ?? {});
  if (reasons.length === 1) return reasons[0][1];
  if (reasons.length > 1) return `none of the ${reasons.length} held-out conditions can be predicted (${reasons[0][0]}: ${reasons[0][1]}; the others are listed per condition)`;
  return set.undefined ?? 'no held-out condition could be predicted';
}

/** The colour the engine's charts give a model (charts::ordered_predictors). */
function modelColour(name, names) {
  const rank = [...names].sort().indexOf(name);
  return rank <= 0 ? MODEL_COLOURS[0] : MODEL_COLOURS[1 + ((rank - 1) % (MODEL_COLOURS.length - 1))];
}

function modelHeader(r, names) {
  const name = modelOf(r);
  const t = r.train;
  const conds = Object.values(r.scores[name].conditions);
  const scored = conds.filter((s) => !s.undefined).length;
  const bits = [`${t.epochs} epoch${t.epochs === 1 ? '' : 's'}`];
  if (t.stopped_early) bits.push('early stop');
  else if (r.config?.train?.epochs && t.epochs < r.config.train.epochs) bits.push('stopped');
  if (scored && scored < conds.length) bits.push(`pooled over ${scored} of ${conds.length} conditions`);
  return el(
    'th',
    { scope: 'row', class: 'model-name', title: MODELS[name]?.hint ?? name },
    el('span', { class: 'swatch', style: `background:${modelColour(name, names)}`, 'aria-hidden': 'true' }),
    el('span', { class: 'model-label', text: modelLabel(name) }),
    el('span', { class: 'tag', text: 'model' }),
    el('small', { class: 'row-note', text: bits.join(' · ') }),
  );
}

function renderScoreboard() {
  const latest = state.results;
  const runs = comparedRuns();
  if (!runs.length) return;
  if (!state.comparison.runs.has(state.figureModel)) state.figureModel = modelOf(latest);
  const shown = shownResults();
  const names = runs.map(modelOf);
  const baselines = BASELINE_ORDER.filter((n) => latest.scores[n]);
  const notApplicable = { undefined: 'baselines have no likelihood or treatment-effect model' };

  const pooledRows = runs.map((r) => {
    const name = modelOf(r);
    const s = r.scores[name];
    const cells = s.pooled.undefined
      ? [unscoredCell(8, unscoredReason(r, s.pooled))]
      : [
          ...scoreCells(s.pooled),
          scoreCell(s.iwelbo ?? null, { undefined: 'no held-out perturbed cell could be scored' }, 'IWELBO', 2),
          scoreCell(s.ate?.r ?? null, { undefined: 'no held-out condition could be scored for treatment effects' }, 'ATE r'),
          scoreCell(s.ate?.r_top20 ?? null, { undefined: 'no held-out condition could be scored for treatment effects' }, 'ATE r top-20'),
        ];
    return el('tr', { 'data-predictor': name, 'data-kind': 'model', class: `row-model${r === shown ? ' row-shown' : ''}` }, modelHeader(r, names), ...cells);
  });
  for (const name of baselines) {
    const s = latest.scores[name];
    const cells = s.pooled.undefined
      ? [unscoredCell(8, s.pooled.undefined)]
      : [...scoreCells(s.pooled), ...['IWELBO', 'ATE r', 'ATE r top-20'].map((m) => scoreCell(null, notApplicable, m))];
    pooledRows.push(el('tr', { 'data-predictor': name, 'data-kind': 'baseline' }, el('th', { scope: 'row', text: name }), ...cells));
  }
  $('pooled-table').tBodies[0].replaceChildren(...pooledRows);

  const rows = [];
  const conditionRows = (name, scores, r, isModel) => {
    const conds = scores.conditions;
    const labels = r.split.test_conditions?.length ? r.split.test_conditions.filter((c) => c in conds) : Object.keys(conds);
    for (const c of Object.keys(conds)) if (!labels.includes(c)) labels.push(c);
    labels.forEach((label, i) => {
      const set = conds[label];
      rows.push(
        el(
          'tr',
          { 'data-predictor': name, 'data-condition': label, class: `${isModel ? 'row-model' : ''}${i === 0 ? ' group-start' : ''}` },
          i === 0 ? el('th', { scope: 'row', text: isModel ? modelLabel(name) : name }) : el('td', { class: 'repeat', 'aria-label': name }),
          el('td', { text: label }),
          ...(set.undefined ? [unscoredCell(5, set.undefined)] : scoreCells(set)),
        ),
      );
    });
  };
  for (const r of runs) conditionRows(modelOf(r), r.scores[modelOf(r)], r, true);
  for (const name of baselines) conditionRows(name, latest.scores[name], latest, false);
  $('condition-table').tBodies[0].replaceChildren(...rows);

  const notes = $('score-notes');
  notes.replaceChildren();
  const list = el('ul');
  for (const r of runs) {
    for (const [c, why] of Object.entries(r.split.unpredictable ?? {})) list.append(el('li', {}, el('code', { text: c }), ` cannot be predicted by ${modelLabel(modelOf(r))}: ${why}`));
  }
  for (const name of baselines) {
    const why = latest.scores[name].pooled.undefined;
    if (why) list.append(el('li', {}, el('code', { text: name }), ` (pooled): ${why}`));
  }
  if (list.children.length) notes.append(el('h3', { text: 'Notes' }), list);

  const box = $('figure-model-box');
  const select = $('figure-model');
  select.replaceChildren(...names.map((n) => el('option', { value: n, text: modelLabel(n) })));
  select.value = modelOf(shown);
  box.hidden = runs.length < 2;

  const t = shown.train;
  const stopText = t.stopped_early ? `, stopped early (best epoch ${t.best_epoch})` : t.best_epoch ? `, best epoch ${t.best_epoch}` : '';
  const compared = runs.length > 1 ? `${runs.length} models on one split · figures: ` : '';
  $('scoreboard-meta').textContent = `${compared}${modelOf(shown)} · ${t.epochs} epoch${t.epochs === 1 ? '' : 's'}${stopText} · ${t.backend} · ${fmtDuration(t.seconds)} · ${fmtInt(shown.split.test_cells)} held-out cells in ${shown.split.test_conditions.length} condition${shown.split.test_conditions.length === 1 ? '' : 's'}`;
  $('scoreboard').dataset.state = 'drawing';
  drawFigures();
  syncControls();
}

function onResults(results, reason) {
  state.results = results;
  state.phase = 'idle';
  state.sessionAlive = true;
  accumulate(results);
  state.figureModel = modelOf(results);
  // The engine's history is the authority (it covers every segment of a resumed run).
  state.history = results.train.history.slice();
  scheduleLiveChart();
  renderScoreboard();
  syncControls();
  const backend = state.backendInfo?.backend === 'webgpu' ? 'WebGPU' : 'the CPU';
  const what = reason === 'stopped' ? `Stopped at epoch ${results.train.epochs}; scored the model as trained so far` : results.train.stopped_early ? `Early stop at epoch ${results.train.epochs} (best epoch ${results.train.best_epoch})` : `Trained ${results.train.epochs} epochs`;
  const n = state.comparison.runs.size;
  const compared = n > 1 ? ` ${n} models are compared on this split.` : '';
  setStatus(`${what} of ${modelLabel(modelOf(results))} on ${backend} in ${fmtDuration(results.train.seconds)}. Scores are below.${compared}`, 'done');
  $('stat-eta').textContent = 'done';
  if (state.autorun) state.autorun = false;
}

function downloadFigure(panel) {
  const canvas = $(`fig-${panel}`);
  const shown = shownResults();
  if (!shown || canvas.hidden) return;
  canvas.toBlob((blob) => blob && saveBlob(blob, `cellshift-${panel === 'masks' ? `masks-${modelOf(shown)}` : panel}.png`), 'image/png');
}

function downloadScoreboard() {
  if (!state.results) return;
  const canvas = document.createElement('canvas');
  canvas.width = 1600;
  canvas.height = 1200;
  try {
    wasm.draw_compared(canvas, runsForMerge(), 1);
  } catch (e) {
    showMessage('run-error', `The scoreboard image could not be drawn: ${e.message}`);
    return;
  }
  canvas.toBlob((blob) => blob && saveBlob(blob, 'scoreboard.png'), 'image/png');
}

function downloadScores() {
  if (!state.results) return;
  let csv;
  try {
    csv = wasm.compared_scores_csv(runsForMerge().map(scoresOnly));
  } catch (e) {
    showMessage('run-error', `The scores could not be written: ${e.message}`);
    return;
  }
  saveBlob(new Blob([csv], { type: 'text/csv' }), 'scores.csv');
}

function downloadJson(value, filename) {
  saveBlob(new Blob([`${JSON.stringify(value, null, 2)}\n`], { type: 'application/json' }), filename);
}

// ---------------------------------------------------------------------------------------------
// Wiring

function bindEvents() {
  $('load-sample').addEventListener('click', () => loadSample());
  $('file-input').addEventListener('change', (e) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    loadFile(file);
  });
  $('reload-file').addEventListener('click', () => loadFile(state.lastFile));

  const zone = $('drop-zone');
  const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');
  zone.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    zone.classList.add('is-over');
  });
  zone.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = loadingGuard() ? 'copy' : 'none';
  });
  zone.addEventListener('dragleave', (e) => {
    if (!zone.contains(e.relatedTarget)) zone.classList.remove('is-over');
  });
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('is-over');
    const file = e.dataTransfer?.files?.[0];
    if (file) loadFile(file);
  });
  // A file dropped beside the zone must not navigate away from the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());

  $('train').addEventListener('click', () => startTraining());
  $('stop').addEventListener('click', () => stopTraining());
  $('resume').addEventListener('click', () => resumeTraining());
  $('holdout-kind').addEventListener('change', syncHoldoutBoxes);
  $('model').addEventListener('change', syncModelFields);
  // The engine's rules are checked as soon as a setting changes, beside the setting.
  $('settings').addEventListener('change', () => {
    if (state.phase !== 'booting') validateForm();
  });
  $('holdout-covariate').addEventListener('change', () => fillLevels(''));
  $('settings').addEventListener('submit', (e) => e.preventDefault());
  for (const id of ['settings', 'sample-seed', 'condition-column', 'control-label', 'covariates']) {
    $(id).addEventListener('input', updateLink);
    $(id).addEventListener('change', updateLink);
  }

  $('copy-link').addEventListener('click', async () => {
    const link = shareLink();
    $('share-link').value = link;
    try {
      await navigator.clipboard.writeText(link);
      setStatus('Link copied to the clipboard.');
    } catch {
      $('share-link').select();
      setStatus('Select and copy the link from the box (the clipboard is not available here).');
    }
  });
  $('share-link').addEventListener('focus', (e) => e.target.select());

  for (const btn of document.querySelectorAll('[data-download-panel]')) btn.addEventListener('click', () => downloadFigure(btn.dataset.downloadPanel));
  // results.json and config.json are the shown model's run; scores.csv and scoreboard.png hold
  // every compared model.
  $('download-results').addEventListener('click', () => state.results && downloadJson(shownResults(), 'results.json'));
  $('download-config').addEventListener('click', () => state.results && downloadJson(shownResults().config, 'config.json'));
  $('download-scores').addEventListener('click', downloadScores);
  $('download-scoreboard').addEventListener('click', downloadScoreboard);
  $('figure-model').addEventListener('change', (e) => showFiguresOf(e.target.value));

  let resizeQueued = false;
  const observer = new ResizeObserver(() => {
    if (resizeQueued) return;
    resizeQueued = true;
    requestAnimationFrame(() => {
      resizeQueued = false;
      drawLiveChart();
      if (state.results && ['ready', 'drawing'].includes($('scoreboard').dataset.state)) {
        $('scoreboard').dataset.state = 'drawing';
        drawFigures();
      }
    });
  });
  observer.observe($('live-curves'));
  observer.observe($('fig-shift'));
}

function exposeForTests() {
  window.__cellshift = {
    get results() {
      return state.results;
    },
    get summary() {
      return state.summary;
    },
    get history() {
      return state.history;
    },
    get backend() {
      return state.backendInfo;
    },
    get phase() {
      return state.phase;
    },
    get runConfig() {
      return state.run?.config ?? null;
    },
    /** The models on the scoreboard (page order) and the one whose figures are shown. */
    get comparison() {
      return { models: comparedRuns().map(modelOf), figures: state.figureModel, identity: state.comparison.identity?.key ?? null };
    },
    get events() {
      return state.events;
    },
    shareLink,
    /** Fault drill: the next training step fails the way a crashed engine does. */
    injectFault(kind = 'crash') {
      worker.postMessage({ type: Msg.FAULT, kind });
    },
  };
}

async function boot() {
  exposeForTests();
  bindEvents();
  syncControls();
  clearResults();
  if (typeof WebAssembly !== 'object') {
    setStatus('This browser cannot run WebAssembly, which cellshift needs.', 'error');
    state.phase = 'failed';
    return;
  }
  try {
    const response = await fetch(WASM_URL);
    if (!response.ok) throw new Error(`${WASM_URL.pathname} answered ${response.status} ${response.statusText}`);
    wasmModule = await WebAssembly.compileStreaming(response);
    wasm = await import(GLUE_URL.href);
    await wasm.default({ module_or_path: wasmModule });
    state.defaults = await spawnWorker();
  } catch (e) {
    state.phase = 'failed';
    setStatus(`The engine could not be loaded: ${e.message}. Build it with scripts/build-wasm.sh and serve the repository root.`, 'error');
    syncControls();
    return;
  }
  fillDefaults(state.defaults);
  const wanted = applyLink(location.hash) ?? { kind: 'sample', seed: DEFAULT_SAMPLE_SEED };
  state.phase = 'idle';
  syncControls();
  drawLiveChart();

  if (wanted.kind === 'file') {
    state.expectedFile = { name: wanted.name, sha256: wanted.sha256 };
    updateLink();
    showMessage(
      'file-request',
      el(
        'div',
        { 'data-testid': 'file-request-text' },
        el('p', { class: 'message-title' }, 'This link was made with the file ', el('code', { text: wanted.name }), '.'),
        el('p', { class: 'message-body', text: `Choose or drop that file under Data to ${state.autorun ? 'reproduce the run' : 'load it'}; its SHA-256 must be ${wanted.sha256 || '(missing from the link)'}. The file is read here and never uploaded.` }),
      ),
    );
    setStatus(`Waiting for ${wanted.name}: the shared settings are restored.`);
    return;
  }
  const loaded = await loadSample();
  if (loaded && state.autorun) {
    state.autorun = false;
    history.replaceState(null, '', `${pageUrl()}#${linkParams().toString()}`);
    startTraining();
  }
}

boot();
