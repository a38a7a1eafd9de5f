// The settings form, built from the engine's settings schema: one field per setting, placed by
// its room, its models and whether it is advanced; the engine's defaults as values; help text as
// each field's tooltip and accessible description; and which fields the chosen model uses.
// The data settings live in the data card and the holdout has its own controls; both take their
// defaults and help from the schema too.

import { $, el } from './dom.js';
import { modelLabel } from './models.js';
import { state } from './state.js';

/** Holdout settings: produced by the holdout controls, not by one field each. */
const HOLDOUT_KEYS = ['holdout_fraction', 'holdout_conditions', 'holdout_group'];

/** A setting's control id (and data-testid): its key with `-` for `_`. */
export const idOf = (key) => key.replaceAll('_', '-');

/** The data settings, whose fields sit under Data rather than in the settings form. */
export const DATA_FIELDS = ['condition_column', 'control_label', 'covariates', 'layer', 'combination'];

/** The schema entry of `key`. */
export const spec = (key) => state.schema.find((s) => s.key === key);

/** Whether `model` reads a setting (entries without a model list apply to every model). */
export const usedBy = (s, model) => !s.models || s.models.includes(model);

/** Settings with a field of their own in the settings form. */
export const formSpecs = () => state.schema.filter((s) => s.room !== 'data' && !HOLDOUT_KEYS.includes(s.key));

/** A default as a control shows it: `null` is empty, lists are comma-joined. */
export const shownValue = (v) => (v === null || v === undefined ? '' : Array.isArray(v) ? v.join(', ') : String(v));

/** Where a setting's field goes. */
function boxFor(s) {
  if (s.key === 'model') return $('model-box');
  if (s.models) return $(s.advanced ? 'sams-more-fields' : 'sams-fields');
  if (s.advanced) return $('advanced-fields');
  return $(s.room === 'split' ? 'split-fields' : 'main-fields');
}

/** Number inputs take their step and limits from the kind and bounds. */
function numberAttrs(s) {
  const { min, max } = s.bounds;
  return {
    type: 'number',
    step: s.kind === 'int' ? '1' : 'any',
    inputMode: s.kind === 'int' ? 'numeric' : 'decimal',
    min: min ? String(min.value) : undefined,
    max: max ? String(max.value) : undefined,
    placeholder: s.kind === 'optionalfloat' ? 'automatic' : undefined,
  };
}

function controlFor(s) {
  const id = idOf(s.key);
  const common = { id, name: s.key, 'data-testid': id };
  if (s.kind === 'choice') {
    return el('select', common, s.choices.map((c) => el('option', { value: c.value, text: c.label })));
  }
  if (['int', 'float', 'optionalfloat'].includes(s.kind)) return el('input', { ...common, ...numberAttrs(s) });
  const input = el('input', { ...common, type: 'text', autocomplete: 'off', placeholder: s.kind === 'list' ? 'none (comma-separated)' : undefined });
  input.spellcheck = false;
  return input;
}

/** Gives a control its setting's help: a tooltip on its field and an accessible description. */
function describe(control, s) {
  const help = el('span', { id: `${control.id}-help`, class: 'visually-hidden', text: s.help });
  const field = control.closest('.field') ?? control.parentElement;
  field.title = s.help;
  field.append(help);
  addDescription(control, help.id);
}

function addDescription(control, id) {
  const ids = (control.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean);
  if (!ids.includes(id)) control.setAttribute('aria-describedby', [...ids, id].join(' '));
}

function fieldFor(s) {
  const control = controlFor(s);
  const hinted = s.choices.some((c) => c.hint);
  const field = el(
    'label',
    { class: s.key === 'model' ? 'field field-model' : hinted ? 'field field-wide' : 'field', 'data-key': s.key, 'data-models': s.models ? s.models.join(' ') : undefined },
    el('span', { text: s.label }),
    control,
  );
  // A choice whose options explain themselves shows the chosen one's hint below it.
  if (hinted) {
    const hint = el('small', { id: `${control.id}-hint`, class: 'field-hint', 'data-testid': `${control.id}-hint` });
    field.append(hint);
    addDescription(control, hint.id);
  }
  return { field, control };
}

/** Builds the form's fields from the schema and gives every control its default. */
export function buildForm() {
  for (const s of formSpecs()) {
    const { field, control } = fieldFor(s);
    const box = boxFor(s);
    // The backend (a page setting) stays last among the split settings.
    box.insertBefore(field, box === $('split-fields') ? $('backend-field') : null);
    describe(control, s);
  }
  const fraction = spec('holdout_fraction');
  Object.assign($('holdout-fraction'), numberAttrs(fraction));
  describe($('holdout-fraction'), fraction);
  const combination = $('combination');
  combination.replaceChildren(...spec('combination').choices.map((c) => el('option', { value: c.value, text: c.label, title: c.hint })));
  for (const key of DATA_FIELDS) describe($(idOf(key)), spec(key));
  $('holdout-conditions').title = spec('holdout_conditions').help;
  $('holdout-group-box').title = spec('holdout_group').help;
  fillDefaults();
}

/** Every control at the engine's default. */
function fillDefaults() {
  for (const s of formSpecs()) $(idOf(s.key)).value = shownValue(s.default);
  for (const key of DATA_FIELDS) $(idOf(key)).value = shownValue(spec(key).default);
  $('holdout-fraction').value = shownValue(spec('holdout_fraction').default);
  $('holdout-kind').value = 'fraction';
  $('backend').value = 'auto';
  syncHoldoutBoxes();
  syncModelFields();
}

/** Shows each choice's hint for the chosen value. */
export function syncChoiceHints() {
  for (const s of formSpecs()) {
    const hint = $(`${idOf(s.key)}-hint`);
    if (hint) hint.textContent = s.choices.find((c) => c.value === $(idOf(s.key)).value)?.hint ?? '';
  }
}

/** Shows the fields the chosen model uses; the others are hidden and disabled. */
export function syncModelFields() {
  const model = $('model').value;
  for (const field of document.querySelectorAll('#settings [data-models]')) {
    const on = field.dataset.models.split(' ').includes(model);
    field.hidden = !on;
    for (const control of field.querySelectorAll('input, select')) control.disabled = !on;
  }
  const shows = (id) => Boolean($(id).querySelector('[data-models]:not([hidden])'));
  const own = shows('sams-fields') || shows('sams-more-fields');
  $('sams-settings').hidden = !own;
  $('sams-settings-title').textContent = `${modelLabel(model)} settings`;
  $('sams-more').hidden = !shows('sams-more-fields');
  syncChoiceHints();
}

/** Shows the controls of the chosen kind of holdout. */
export function syncHoldoutBoxes() {
  const kind = $('holdout-kind').value;
  $('holdout-fraction-box').hidden = kind !== 'fraction';
  $('holdout-conditions-box').hidden = kind !== 'conditions';
  $('holdout-group-box').hidden = kind !== 'group';
}
