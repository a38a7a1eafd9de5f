// The settings form: the table of fields and their place in the engine's run config, reading
// and checking the form (the page's own checks, then the engine's data-free rules), messages
// beside the controls, the engine's defaults, and the run config built from the form.

import { $, el, setStatus, showMessage } from './dom.js';
import { wasm } from './engine.js';
import { MODELS, SAMS_FAMILY } from './models.js';
import { state } from './state.js';

/**
 * Form fields that map one-to-one onto link parameters. `path` is the setting's place in the
 * engine's run config (the engine names it in a rule's error, so the message goes beside the
 * control); `models` limits a field to the models that use it (it is hidden, left out of the
 * link and given its default for the others); `optional` fields may be left empty.
 */
export const FIELDS = [
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
export const appliesTo = (f, model) => !f.models || f.models.includes(model);

/** Other controls the engine may blame, by config path. */
const EXTRA_PATHS = { 'holdout.conditions': 'holdout-conditions', 'holdout.covariate': 'holdout-covariate', 'holdout.level': 'holdout-level' };

export function controlFor(path) {
  const f = FIELDS.find((x) => x.path === path);
  return f ? $(f.id) : EXTRA_PATHS[path] ? $(EXTRA_PATHS[path]) : null;
}

/** Shows (or, with `null`, clears) a message beside one control. */
export function setFieldError(control, message) {
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
export function syncModelFields() {
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

export function fillDefaults(d) {
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

export function checkedConditions() {
  return [...$('holdout-conditions').querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);
}

export function parseCovariates(text) {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function readLoadOptions() {
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
export function labelOf(path) {
  return FIELDS.find((f) => f.path === path)?.label ?? null;
}

/**
 * Checks the form: the page's own checks (numbers), then the engine's rules that need no data
 * (the same code that refuses a run). Shows each message beside its control; with `summary`,
 * lists them under the settings too. Returns the settings, or null.
 */
export function validateForm({ summary = false } = {}) {
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
export function buildConfig(s) {
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

/** Shows the controls of the chosen kind of holdout. */
export function syncHoldoutBoxes() {
  const kind = $('holdout-kind').value;
  $('holdout-fraction-box').hidden = kind !== 'fraction';
  $('holdout-conditions-box').hidden = kind !== 'conditions';
  $('holdout-group-box').hidden = kind !== 'group';
}
