// The shareable link: the data and every setting the chosen model uses, as URL-fragment
// parameters named by the settings' keys (lists comma-joined), kept in the address bar as they
// change and applied to the form when the page opens with them. The data is `sample` (with
// `sample_seed`), `file:<name>:<sha256>` or a bundled dataset's name (`kang2018`), whose own
// settings fill in what the link leaves out. Links written before the settings schema
// (holdout=…, holdout_condition, holdout_covariate/level, covariate) still open.

import { $, showMessage } from './dom.js';
import { formSpecs, idOf, shownValue, syncHoldoutBoxes, syncModelFields, usedBy } from './form.js';
import { checkedConditions, parseList, readLoadOptions, runLoadOptions } from './settings.js';
import { state } from './state.js';

/** `cellshift train --sample` uses this sample seed (SampleConfig::default()). */
export const DEFAULT_SAMPLE_SEED = '7';

/** Values of old links that the settings now name otherwise. */
const RENAMED_VALUES = { generation: { encode: 'b', prior: 'a' } };

const DATA_KEYS = ['condition_column', 'control_label', 'covariates'];
const HOLDOUT_KEYS = ['holdout_fraction', 'holdout_conditions', 'holdout_group'];
/** Link keys that say something about the holdout, old ones included. */
const HOLDOUT_LINK_KEYS = [...HOLDOUT_KEYS, 'holdout', 'holdout_condition', 'holdout_covariate', 'holdout_level'];

/** The bundled dataset called `name`, if the page has one. */
export const bundledDataset = (name) => state.datasets.find((d) => d.name === name) ?? null;

/** The data settings the link records: the loaded data's, or the form's while data is awaited. */
function linkedLoadOptions() {
  if (!state.dataset && (state.expectedFile || state.wantedDataset)) return readLoadOptions();
  return runLoadOptions();
}

/** The holdout as settings: the controls', or what a link asked for while data is awaited. */
function linkedHoldout() {
  const kind = $('holdout-kind').value;
  const pending = state.pendingHoldout;
  let conditions = [];
  let group = '';
  if (kind === 'conditions') {
    conditions = checkedConditions();
    if (!conditions.length && pending) conditions = pending.conditions;
  } else if (kind === 'group') {
    const covariate = $('holdout-covariate').value || pending?.covariate || '';
    const level = $('holdout-level').value || pending?.level || '';
    if (covariate || level) group = `${covariate}=${level}`;
  }
  return { holdout_fraction: $('holdout-fraction').value.trim(), holdout_conditions: conditions, holdout_group: group };
}

/** Link parameters for the current data and form (without `autorun`). */
export function linkParams() {
  const p = new URLSearchParams();
  const ds = state.dataset;
  const file = ds?.kind === 'file' ? ds : !ds ? state.expectedFile : null;
  const bundled = ds?.kind === 'bundled' ? ds.name : !ds ? state.wantedDataset : null;
  if (file) {
    p.set('data', `file:${file.name}:${file.sha256}`);
  } else if (bundled) {
    p.set('data', bundled);
  } else {
    p.set('data', 'sample');
    p.set('sample_seed', ds?.kind === 'sample' ? String(ds.seed) : $('sample-seed').value.trim() || DEFAULT_SAMPLE_SEED);
  }
  const model = $('model').value;
  const values = { ...linkedLoadOptions(), ...linkedHoldout() };
  for (const s of state.schema) {
    // Settings of other models stay out of the link (the link holds what the run uses).
    if (!usedBy(s, model)) continue;
    const v = s.key in values ? values[s.key] : $(idOf(s.key)).value.trim();
    p.set(s.key, Array.isArray(v) ? v.join(',') : v);
  }
  p.set('backend', $('backend').value);
  // The lesson shown and what the link hides from learners (www/lessons.js).
  if (state.lesson) p.set('lesson', String(state.lesson));
  if (state.hide?.length) p.set('hide', state.hide.join(','));
  return p;
}

/** The parameters as link text (commas, which join lists, are left as they are). */
export const linkText = (p) => p.toString().replaceAll('%2C', ',');

export function pageUrl() {
  return `${location.origin}${location.pathname}`;
}

export function shareLink() {
  const p = linkParams();
  p.set('autorun', '1');
  return `${pageUrl()}#${linkText(p)}`;
}

export function updateLink() {
  if (state.phase === 'booting') return;
  history.replaceState(null, '', `${pageUrl()}#${linkText(linkParams())}`);
  $('share-link').value = shareLink();
}

/** Sets a control from a link value; a choice the page does not offer keeps the default. */
function setFromLink(key, control, value) {
  const v = RENAMED_VALUES[key]?.[value] ?? value;
  if (control.tagName === 'SELECT' && ![...control.options].some((o) => o.value === v)) {
    showMessage('settings-error', `The link sets ${key} to “${value}”, which this page does not offer; the default is kept.`);
    return;
  }
  control.value = v;
}

/** The holdout a link asks for, in its current or its old form. */
function holdoutFromLink(p) {
  const conditions = p.has('holdout_conditions') ? parseList(p.get('holdout_conditions')) : p.getAll('holdout_condition').flatMap(parseList);
  let group = p.get('holdout_group') ?? '';
  if (!group && (p.has('holdout_covariate') || p.has('holdout_level'))) group = `${p.get('holdout_covariate') ?? ''}=${p.get('holdout_level') ?? ''}`;
  const cut = group.indexOf('=');
  const covariate = cut >= 0 ? group.slice(0, cut).trim() : group.trim();
  const level = cut >= 0 ? group.slice(cut + 1).trim() : '';
  const kind = p.get('holdout') ?? (group ? 'group' : conditions.length ? 'conditions' : 'fraction');
  return { kind, conditions, covariate, level };
}

/**
 * A dataset's task as link parameters: its data columns and holdout, and every other setting
 * where it differs from the default.
 */
export function datasetParams(dataset) {
  const p = new URLSearchParams();
  for (const s of state.schema) {
    const v = dataset.settings[s.key];
    const task = DATA_KEYS.includes(s.key) || HOLDOUT_KEYS.includes(s.key);
    if (v === undefined || (!task && JSON.stringify(v) === JSON.stringify(s.default))) continue;
    p.set(s.key, v === null ? '' : Array.isArray(v) ? v.join(',') : String(v));
  }
  return p;
}

/** Sets the form from settings given as link parameters (only those present). */
export function applyParams(p) {
  for (const s of formSpecs()) if (p.has(s.key)) setFromLink(s.key, $(idOf(s.key)), p.get(s.key));
  if (p.has('backend')) setFromLink('backend', $('backend'), p.get('backend'));
  if (p.has('condition_column')) $('condition-column').value = p.get('condition_column');
  if (p.has('control_label')) $('control-label').value = p.get('control_label');
  if (p.has('covariates')) $('covariates').value = shownValue(parseList(p.get('covariates')));
  else if (p.has('covariate')) $('covariates').value = p.getAll('covariate').join(', ');
  if (p.has('holdout_fraction')) $('holdout-fraction').value = p.get('holdout_fraction');
  if (HOLDOUT_LINK_KEYS.some((k) => p.has(k))) {
    const { kind, ...pending } = holdoutFromLink(p);
    setFromLink('holdout', $('holdout-kind'), kind);
    state.pendingHoldout = pending;
  }
  syncHoldoutBoxes();
  syncModelFields();
}

/** Applies link parameters to the form; returns what the link asks to load. */
export function applyLink(hash) {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  if (![...p.keys()].length) return null;
  const data = p.get('data') ?? 'sample';
  const dataset = bundledDataset(data);
  if (dataset) {
    // The dataset's own settings fill in what the link leaves out (the holdout as a whole).
    const holdoutGiven = HOLDOUT_LINK_KEYS.some((k) => p.has(k));
    for (const [key, value] of datasetParams(dataset)) {
      if (!p.has(key) && !(holdoutGiven && HOLDOUT_KEYS.includes(key))) p.set(key, value);
    }
  }
  applyParams(p);
  state.autorun = p.get('autorun') === '1';
  if (data.startsWith('file:')) {
    const rest = data.slice(5);
    const cut = rest.lastIndexOf(':');
    const name = cut >= 0 ? rest.slice(0, cut) : rest;
    const sha256 = cut >= 0 ? rest.slice(cut + 1).toLowerCase() : '';
    return { kind: 'file', name, sha256 };
  }
  if (data !== 'sample') return { kind: 'bundled', name: data, dataset };
  const seed = p.get('sample_seed') ?? DEFAULT_SAMPLE_SEED;
  $('sample-seed').value = seed;
  return { kind: 'sample', seed };
}
