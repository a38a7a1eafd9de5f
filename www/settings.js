// Reading and checking the settings: the form read into the one flat settings object the engine
// takes (every schema key), the page's own quick checks, the engine's data-free rules, each
// message beside the control of the setting it names, and the engine's notes under the form.

import { $, el, setStatus, showMessage } from './dom.js';
import { wasm } from './engine.js';
import { formSpecs, idOf, spec, usedBy } from './form.js';
import { state } from './state.js';

/** Settings whose message goes elsewhere than beside `#<key>`: `[control, box]`. */
const PLACES = {
  holdout_conditions: ['holdout-conditions', 'holdout-conditions-box'],
  holdout_group: ['holdout-covariate', 'holdout-group-box'],
};

/** The control a setting's message marks, and the box it is shown in; null when there is none. */
function placeOf(key) {
  const [controlId, boxId] = PLACES[key] ?? [idOf(key)];
  const control = $(controlId);
  if (!control) return null;
  return { control, box: boxId ? $(boxId) : (control.closest('.field') ?? control.parentElement) };
}

/** The setting's label, for messages. */
export const labelOf = (key) => (key ? (spec(key)?.label ?? null) : null);

/** Shows (or, with `null`, clears) a message beside the control of setting `key`. */
export function setFieldError(key, message) {
  const place = placeOf(key);
  if (!place) return;
  const { control, box } = place;
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
  for (const note of document.querySelectorAll('.field-error')) {
    for (const c of document.querySelectorAll(`[aria-describedby~="${note.id}"]`)) {
      const rest = c.getAttribute('aria-describedby').split(' ').filter((id) => id && id !== note.id);
      if (rest.length) c.setAttribute('aria-describedby', rest.join(' '));
      else c.removeAttribute('aria-describedby');
    }
    note.remove();
  }
  for (const c of document.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
}

/** What the run will do differently from what the settings say, as a quiet note. */
export function showNotes(notes) {
  if (!notes?.length) {
    showMessage('settings-notes', null);
    return;
  }
  const text = (n) => `${n.charAt(0).toUpperCase()}${n.slice(1)}.`;
  showMessage('settings-notes', notes.length === 1 ? el('p', { text: text(notes[0]) }) : el('ul', {}, notes.map((n) => el('li', { text: text(n) }))));
}

/** Reads one control by its setting's kind: `{value}` or `{error}` (the page's own checks). */
function readControl(s, input) {
  const raw = input.value.trim();
  if (s.kind === 'choice' || s.kind === 'text') return { value: raw };
  if (s.kind === 'list') return { value: parseList(raw) };
  if (raw === '' && s.kind === 'optionalfloat') return { value: null };
  // A number field holding text reads as empty: say so rather than "enter a number".
  if (raw === '' && input.validity?.badInput) return { error: 'this is not a number' };
  if (raw === '') return { error: 'enter a number' };
  const n = Number(raw);
  if (!Number.isFinite(n)) return { error: `“${raw}” is not a number` };
  if (s.kind === 'int') {
    if (!Number.isSafeInteger(n)) return { error: `expected a whole number, found “${raw}”` };
    const min = s.bounds.min;
    if (min?.inclusive && n < min.value) return { error: `must be at least ${min.value} (got ${n})` };
  }
  return { value: n };
}

export function parseList(text) {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function checkedConditions() {
  return [...$('holdout-conditions').querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);
}

/** The data settings as typed in the data card. */
export function readLoadOptions() {
  return {
    condition_column: $('condition-column').value.trim(),
    control_label: $('control-label').value.trim(),
    covariates: parseList($('covariates').value),
  };
}

/** How an AnnData or 10x input is read: the matrix, the combination separator, the panel size. */
export function readFormatOptions() {
  const genes = Number($('genes')?.value);
  return { layer: $('layer').value.trim(), combination: $('combination').value, genes: Number.isInteger(genes) && genes > 0 ? genes : undefined };
}

/** The data settings the next run uses: those the current data was read with. */
export function runLoadOptions() {
  const ds = state.dataset;
  if (ds?.options) return { ...ds.options, covariates: [...ds.options.covariates] };
  return { condition_column: spec('condition_column').default, control_label: spec('control_label').default, covariates: [...spec('covariates').default] };
}

/** The holdout settings from the holdout controls; problems go to `errors`. */
function readHoldout(errors) {
  const kind = $('holdout-kind').value;
  const fraction = spec('holdout_fraction');
  const out = { holdout_fraction: fraction.default, holdout_conditions: [], holdout_group: '' };
  if (kind === 'fraction') {
    const r = readControl(fraction, $('holdout-fraction'));
    if (r.error) errors.push({ key: fraction.key, message: r.error });
    else out.holdout_fraction = r.value;
  } else if (kind === 'conditions') {
    out.holdout_conditions = checkedConditions();
    if (!out.holdout_conditions.length) errors.push({ key: 'holdout_conditions', message: 'tick at least one condition to hold out', onTrain: true });
  } else {
    const covariate = $('holdout-covariate').value;
    const level = $('holdout-level').value;
    if (covariate && level) out.holdout_group = `${covariate}=${level}`;
    else errors.push({ key: 'holdout_group', message: 'choose a covariate and a level (load data with a covariate column first)', onTrain: true });
  }
  return out;
}

/**
 * The form as the engine's flat settings object, plus the page's own errors (`{key, message}`).
 * Settings the chosen model does not use keep their defaults, so equal runs have equal settings.
 * `model`: read them for another model than the chosen one (Train all), with that model's own
 * fields as they stand (hidden while another model is chosen, they keep their values).
 */
export function readSettings(model = $('model').value) {
  const settings = {};
  const errors = [];
  for (const s of formSpecs()) {
    if (!usedBy(s, model)) {
      settings[s.key] = s.default;
      continue;
    }
    const r = readControl(s, $(idOf(s.key)));
    // A stand-in for a field in error, so the engine can still check the others.
    settings[s.key] = r.error ? s.default : r.value;
    if (r.error) errors.push({ key: s.key, message: r.error });
  }
  Object.assign(settings, runLoadOptions(), readHoldout(errors));
  settings.model = model;
  return { settings, errors };
}

/** The engine's verdict on settings: `{notes}` or `{error: {key, message}}`. */
export function engineCheck(settings) {
  try {
    return { notes: wasm.check_settings(settings) };
  } catch (e) {
    return { error: { key: e.field ?? null, message: e.message } };
  }
}

const DATA_KEYS = ['condition_column', 'control_label', 'covariates'];

/**
 * Checks the form: the page's own checks (numbers), then the engine's rules that need no data
 * (the same code that refuses a run). Shows each message beside its control; with `summary`,
 * lists them under the settings too. Returns the settings, or null.
 */
export function validateForm({ summary = false } = {}) {
  clearFieldErrors();
  const { settings, errors } = readSettings();
  const verdict = engineCheck(settings);
  if (verdict.error) errors.push(verdict.error);
  // The data card's options apply to the next file read: checked too, beside their fields, but
  // they do not hold back a run on the data already loaded.
  const typed = readLoadOptions();
  const dataErrors = [];
  if (!verdict.error && JSON.stringify(typed) !== JSON.stringify(runLoadOptions())) {
    const e = engineCheck({ ...settings, ...typed }).error;
    if (e && DATA_KEYS.includes(e.key)) dataErrors.push(e);
  }
  // Choices still being made (which conditions to hold out) are only held against a run.
  const shown = summary ? errors : errors.filter((e) => !e.onTrain);
  for (const e of [...shown, ...dataErrors]) if (e.key) setFieldError(e.key, e.message);
  const text = (e) => (labelOf(e.key) ? `${labelOf(e.key)}: ${e.message}` : e.message);
  if (summary && errors.length) {
    showMessage('settings-error', el('ul', {}, errors.map((e) => el('li', { text: text(e) }))));
    setStatus('Some settings need fixing before training: see the marked fields.', 'error');
  } else if (summary || (!errors.length && state.phase === 'idle')) {
    // Everything the summary listed has been fixed.
    showMessage('settings-error', null);
  }
  showNotes(verdict.notes);
  return errors.length ? null : settings;
}
