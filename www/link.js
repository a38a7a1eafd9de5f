// The shareable link: the data and settings as URL-fragment parameters, kept in the address
// bar as they change, and applied to the form when the page opens with them.

import { $, showMessage } from './dom.js';
import { FIELDS, appliesTo, checkedConditions, readLoadOptions, syncHoldoutBoxes, syncModelFields } from './settings.js';
import { state } from './state.js';

/** `cellshift train --sample` uses this sample seed (SampleConfig::default()). */
export const DEFAULT_SAMPLE_SEED = '7';

/** Link parameters for the current data and form (without `autorun`). */
export function linkParams() {
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

export function pageUrl() {
  return `${location.origin}${location.pathname}`;
}

export function shareLink() {
  const p = linkParams();
  p.set('autorun', '1');
  return `${pageUrl()}#${p.toString()}`;
}

export function updateLink() {
  if (state.phase === 'booting') return;
  const p = linkParams();
  history.replaceState(null, '', `${pageUrl()}#${p.toString()}`);
  $('share-link').value = shareLink();
}

/** Applies link parameters to the form; returns what the link asks to load. */
export function applyLink(hash) {
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
