// Lessons for a workshop. Each lesson is data: a preset written as share-link parameters (the
// settings' own keys, as www/link.js reads them), what to do and what to look for, a question the
// scoreboard answers and how to read that answer off it. `#lesson=K` opens lesson K; any other
// parameter of the link wins over the preset (a teacher's link carries the settings it was made
// with), and `hide=` hides rooms or settings from learners. The panel also lists every lesson and
// makes a lesson link from the page's current state.

import { $, el, fmtNum, listText, setStatus } from './dom.js';
import { comparedRun, mergedResults } from './comparison.js';
import { idOf, spec, usedBy } from './form.js';
import { linkParams, linkText, pageUrl } from './link.js';
import { modelLabel } from './models.js';
import { startTraining } from './run.js';
import { state } from './state.js';

/** The combinations of the sample, every one held out in lesson 2. */
const SAMPLE_PAIRS = 'A+B,C+D,E+F,G+H,I+J,K+L,A+C';

/**
 * The lessons, in workshop order. `params` are link parameters; `models` the models the lesson
 * trains, in order (the first is the preset's); `answer` says which numbers answer the question.
 */
export const LESSONS = [
  {
    title: 'Does a model beat the perturbation mean?',
    params: { data: 'sample', sample_seed: 7, holdout_fraction: 0.2, model: 'cvae', seed: 0 },
    models: ['cvae'],
    text: [
      'The sample is synthetic: 12 perturbations, each moving cells along two of ten hidden dimensions, plus 7 combinations of them.',
      'A fifth of every condition’s cells is held out; the cVAE learns from the rest and then predicts the held-out cells from control cells.',
      'Press Train and watch the loss fall on the Training chart; the run stops early once the validation loss no longer improves.',
      'On the scoreboard, compare the cVAE’s row with the perturbation_mean row: that baseline simply averages the training cells of the same condition.',
    ],
    question: 'Does the cVAE beat the perturbation mean on mean-shift r? And on energy distance, where lower is better?',
    answer: { checks: [['perturbation_mean', 'r'], ['perturbation_mean', 'energy']] },
  },
  {
    title: 'Predicting combinations never seen',
    params: { data: 'sample', sample_seed: 7, holdout_conditions: SAMPLE_PAIRS, model: 'sams', epochs: 100, seed: 0 },
    models: ['sams', 'cpa'],
    text: [
      'Now every combination (A+B, C+D, …) is held out: the models see each single perturbation, never a pair.',
      'SAMS-VAE and CPA-VAE add the effects of the singles in their latent space, so they can predict a pair they never saw.',
      'Train SAMS-VAE, then CPA-VAE: both rows stay on the scoreboard.',
      'The perturbation mean cannot predict a condition it never saw, so its row says why instead of giving a score. The additive baseline adds the singles’ mean shifts to the controls: the bar to beat.',
    ],
    question: 'Does either model predict the unseen combinations better than the additive baseline, on mean-shift r and on energy distance?',
    answer: { checks: [['additive', 'r'], ['additive', 'energy']] },
  },
  {
    title: 'What sparse masks learn',
    params: { data: 'sample', sample_seed: 7, holdout_fraction: 0.2, model: 'sams', epochs: 100, seed: 0 },
    models: ['sams'],
    text: [
      'SAMS-VAE learns, for each perturbation, a mask: which latent dimensions it moves.',
      'The sample was built so that each perturbation moves exactly two of the ten dimensions, so the right answer is known.',
      'For the first half of the run there are no masks yet (every perturbation may move every dimension) while the effects take shape; then the latent space is turned so that the effects are as sparse as possible, and the masks start from them.',
      'Train SAMS-VAE and find the masks panel under the scoreboard: rows are latent dimensions, columns perturbations; the learned probabilities are on the left and the true effects on the right, with the learned dimensions lined up with the true ones as well as they can be.',
    ],
    question: 'How many latent dimensions does a perturbation switch on, on average, against the truth of two? Do perturbations that share a dimension in the truth share one in the model?',
    answer: { masks: 'sams', checks: [['perturbation_mean', 'r']] },
  },
  {
    title: 'Real data: a cell type never seen stimulated',
    params: { data: 'kang2018', holdout_group: 'cell_type=CD14+Mono', model: 'cvae', seed: 0 },
    models: ['cvae'],
    text: [
      'These are real blood cells (Kang et al. 2018), with and without interferon-β, in seven cell types.',
      'The stimulated CD14+ monocytes are held out: the model sees monocytes only unstimulated, and the other cell types both ways.',
      'It has to predict how monocytes respond to interferon from how the other cell types do.',
      'The group_shift baseline does exactly that without learning: it moves the monocytes’ controls by the other cell types’ response.',
    ],
    question: 'Does the cVAE predict the monocytes’ interferon response better than the group shift? Look at mean-shift r, energy distance and J@25: do they agree?',
    answer: { checks: [['group_shift', 'r'], ['group_shift', 'energy'], ['group_shift', 'j25']] },
  },
  {
    title: 'How training goes wrong: no KL weight (β = 0)',
    params: { data: 'sample', sample_seed: 7, holdout_fraction: 0.2, model: 'cvae', beta: 0, seed: 0 },
    models: ['cvae'],
    text: [
      'β weighs the KL term, which keeps each cell’s latent code close to the prior; at 0 the cVAE is a plain autoencoder whose codes may hold anything about a cell.',
      'This is lesson 1 with β = 0. Train, and watch the KL column under Training: in lesson 1 it settled near 15.',
      'The scoreboard’s IWELBO says how probable the model finds the real held-out cells; in lesson 1 the cVAE scored about −487.',
      'The model predicts a perturbation by encoding control cells and decoding them with the perturbation’s label: that only works if the decoder listens to the label.',
    ],
    question: 'With β = 0, how do the cVAE’s IWELBO and mean-shift r compare with lesson 1’s, and with the perturbation mean?',
    answer: { checks: [['perturbation_mean', 'r'], ['perturbation_mean', 'energy']], report: ['iwelbo', 'kl'] },
  },
  {
    title: 'How training goes wrong: too few cells',
    params: { data: 'sample', sample_seed: 7, holdout_fraction: 0.9, model: 'cvae', seed: 0 },
    models: ['cvae'],
    text: [
      'Here 90% of every perturbed condition’s cells are held out, so each condition leaves only about a dozen cells to learn from.',
      'The controls are not held out, so the model still learns from hundreds of unperturbed cells.',
      'Few cells make every average noisy, the baselines’ included. The many held-out cells make the ceiling (one half of them scored as the prediction of the other half) high.',
    ],
    question: 'With so few training cells per condition, which does better on mean-shift r: the cVAE or the perturbation mean? Which row comes nearest the ceiling?',
    answer: { checks: [['perturbation_mean', 'r'], ['linear', 'r'], ['ceiling', 'r']] },
  },
  {
    title: 'How training goes wrong: a learning rate that diverges',
    params: { data: 'sample', sample_seed: 7, holdout_fraction: 0.2, model: 'cvae', lr: 0.5, grad_clip: 0, seed: 0 },
    models: ['cvae'],
    text: [
      'This is lesson 1 with a learning rate of 0.5, 500 times the default, and no gradient clipping.',
      'Train and watch the loss on the Training chart and the numbers beside it: in lesson 1 the training loss fell to about 480.',
      'Early stopping keeps the epoch with the best validation loss; if a loss ever stopped being a finite number, the engine would undo that epoch, stop and say so.',
    ],
    question: 'Does the loss settle? How does the model compare with the control mean, which predicts no change at all, on energy distance?',
    answer: { checks: [['control_mean', 'energy'], ['perturbation_mean', 'r']], report: ['loss'] },
  },
];

/** What `hide=` can name besides single settings (a key of the schema, or `backend`). */
export const HIDE_ROOMS = {
  data: 'the data card',
  split: 'held-out cells, panel and seed',
  model: 'the model and its settings',
  training: 'epochs, learning rate, KL',
  scoring: 'how predictions are scored',
  advanced: 'advanced settings',
};

const HOLDOUT_KEYS = ['holdout_fraction', 'holdout_conditions', 'holdout_group'];

/** The metrics an answer can quote: how to read each off a model's or a baseline's scores. */
const METRICS = {
  r: { label: 'mean-shift r', higher: true, get: (s) => s.pooled.mean_shift_r },
  j25: { label: 'J@25', higher: true, get: (s) => s.pooled.jaccard?.['25'] },
  energy: { label: 'energy distance', higher: false, get: (s) => s.pooled.energy_distance },
  iwelbo: { label: 'IWELBO', higher: true, get: (s) => s.iwelbo },
};

/** The lesson open, why a link's lesson or hide list was not used, and the panel's parts. */
let problems = [];
let panel = null;
let watching = false;

const lessonOf = (n) => (n ? LESSONS[n - 1] : null);

/** A lesson's preset as link parameters. */
export function presetParams(lesson) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(lesson.params)) p.set(k, Array.isArray(v) ? v.join(',') : String(v));
  return p;
}

/** The names of a `hide=` value this page knows, and those it does not. */
export function parseHide(text) {
  const known = [];
  const unknown = [];
  for (const raw of (text ?? '').split(',')) {
    const name = raw.trim();
    if (!name) continue;
    const ok = name in HIDE_ROOMS || name === 'backend' || state.schema.some((s) => s.key === name);
    const list = ok ? known : unknown;
    if (!list.includes(name)) list.push(name);
  }
  return { known, unknown };
}

/**
 * Reads `lesson=` and `hide=` from the page's link, shows the lessons panel and hides what the
 * link hides. Returns the link the settings are applied from: the lesson's preset with the
 * link's own parameters over it.
 */
export function openLesson(hash) {
  const given = new URLSearchParams(hash.replace(/^#/, ''));
  problems = [];
  state.lesson = null;
  state.hide = [];
  if (given.has('hide')) {
    const { known, unknown } = parseHide(given.get('hide'));
    state.hide = known;
    if (unknown.length) problems.push(`This link asks to hide ${listText(unknown.map((u) => `“${u}”`))}, which ${unknown.length === 1 ? 'is' : 'are'} not a part or setting of this page; ${unknown.length === 1 ? 'it is' : 'they are'} shown.`);
  }
  let out = new URLSearchParams(given);
  if (given.has('lesson')) {
    const raw = given.get('lesson').trim();
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (n >= 1 && n <= LESSONS.length) {
      state.lesson = n;
      out = presetParams(LESSONS[n - 1]);
      for (const key of new Set(given.keys())) {
        out.delete(key);
        for (const v of given.getAll(key)) out.append(key, v);
      }
    } else {
      problems.push(`There is no lesson “${raw}”: the lessons are numbered 1 to ${LESSONS.length}. Choose one below; the page opened with its usual settings.`);
    }
  }
  out.delete('lesson');
  out.delete('hide');
  renderPanel();
  applyHide();
  if (!watching) watchLessons();
  return `#${out.toString()}`;
}

// ---------------------------------------------------------------------------------------------
// Hiding

/** The element that holds a setting's control. */
function elementOfKey(key) {
  if (key === 'backend') return $('backend-field');
  if (HOLDOUT_KEYS.includes(key)) return $('holdout-kind').closest('fieldset');
  return document.querySelector(`#settings [data-key="${key}"]`) ?? $(idOf(key))?.closest('.field') ?? null;
}

/** The setting keys a hide name covers. */
function keysOf(name) {
  if (name === 'advanced') return state.schema.filter((s) => s.advanced && s.room !== 'data').map((s) => s.key);
  if (name in HIDE_ROOMS) return state.schema.filter((s) => s.room === name).map((s) => s.key);
  return [name];
}

/** Hides, for good, what the link names; says so above the settings. */
function applyHide() {
  for (const node of document.querySelectorAll('[data-lesson-hidden]')) node.removeAttribute('data-lesson-hidden');
  const hide = (node) => node?.setAttribute('data-lesson-hidden', '');
  for (const name of state.hide) {
    if (name === 'data') hide($('data-title').closest('section'));
    if (name === 'advanced') for (const id of ['advanced', 'sams-more']) hide($(id));
    for (const key of keysOf(name)) hide(elementOfKey(key));
  }
  // With the model fixed by the link, Train all (which chooses models) goes too.
  if (state.hide.some((name) => keysOf(name).includes('model'))) for (const id of ['train-all', 'train-all-box']) hide($(id));
  // A box whose every field is hidden goes too.
  for (const id of ['sams-settings', 'sams-more', 'advanced']) {
    const fields = [...$(id).querySelectorAll('[data-key]')];
    if (fields.length && fields.every((f) => f.closest('[data-lesson-hidden]'))) hide($(id));
  }
  let note = $('hidden-note');
  if (!state.hide.length) {
    note?.remove();
    return;
  }
  if (!note) {
    note = el('p', { id: 'hidden-note', class: 'hint hidden-note', 'data-testid': 'hidden-note' });
    $('settings').before(note);
  }
  note.textContent = `This link hides ${listText(state.hide.map(hideLabel))}: the link sets ${state.hide.length === 1 ? 'it' : 'them'} (their values are under Lessons, “Settings this link fixes”).`;
}

function hideLabel(name) {
  if (name in HIDE_ROOMS) return HIDE_ROOMS[name];
  if (name === 'backend') return 'the backend';
  return spec(name)?.label ?? name;
}

/** The hidden settings and the values they hold now: `[label, value]`. */
function hiddenValues() {
  const model = $('model').value;
  const rows = [];
  const seen = new Set();
  const add = (label, value) => {
    if (!seen.has(label)) rows.push([label, value]);
    seen.add(label);
  };
  for (const name of state.hide) {
    if (name === 'data') add('Data', dataText());
    if (name === 'backend') add('Backend', $('backend').value);
    for (const key of keysOf(name)) {
      const s = spec(key);
      if (!s || s.room === 'data' || !usedBy(s, model)) continue;
      if (HOLDOUT_KEYS.includes(key)) add('Held-out cells', holdoutText());
      else {
        const control = $(idOf(key));
        const v = control.tagName === 'SELECT' ? control.selectedOptions[0]?.textContent ?? control.value : control.value;
        add(s.label, v === '' ? 'automatic' : v);
      }
    }
  }
  return rows;
}

function dataText() {
  const ds = state.dataset;
  if (ds?.kind === 'sample') return `the sample (seed ${ds.seed})`;
  if (ds?.kind === 'bundled') return ds.title;
  return ds?.name ?? state.wantedDataset ?? state.expectedFile?.name ?? 'the sample';
}

function holdoutText() {
  const kind = $('holdout-kind').value;
  if (kind === 'conditions') {
    const ticked = [...$('holdout-conditions').querySelectorAll('input:checked')].map((c) => c.value);
    const list = ticked.length ? ticked : (state.pendingHoldout?.conditions ?? []);
    return `whole conditions: ${list.join(', ')}`;
  }
  if (kind === 'group') return `the perturbed cells of ${$('holdout-covariate').value || state.pendingHoldout?.covariate}=${$('holdout-level').value || state.pendingHoldout?.level}`;
  return `a fraction of ${$('holdout-fraction').value} per condition`;
}

// ---------------------------------------------------------------------------------------------
// The panel

const lessonHref = (n) => `#lesson=${n}${state.hide.length ? `&hide=${state.hide.join(',')}` : ''}`;

function renderPanel() {
  const box = $('lessons');
  if (!box) return;
  const lesson = lessonOf(state.lesson);
  const parts = [];
  if (problems.length) {
    parts.push(el('div', { class: 'message message-error', role: 'alert', 'data-testid': 'lesson-problem' }, problems.map((p) => el('p', { text: p }))));
  }
  let current = null;
  if (lesson) {
    current = el(
      'article',
      { class: 'lesson', 'data-testid': 'lesson', 'data-lesson': String(state.lesson), 'aria-labelledby': 'lesson-title' },
      el('h3', { id: 'lesson-title', 'data-testid': 'lesson-title', text: `Lesson ${state.lesson} of ${LESSONS.length}: ${lesson.title}` }),
      el('div', { class: 'lesson-text', 'data-testid': 'lesson-text' }, lesson.text.map((t) => el('p', { text: t }))),
      el('p', { class: 'lesson-question', 'data-testid': 'lesson-question' }, el('strong', { text: 'Question: ' }), lesson.question),
      el(
        'div',
        { class: 'lesson-actions', role: 'group', 'aria-label': 'Train this lesson’s models' },
        lesson.models.map((m) => {
          const b = el('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-testid': `lesson-train-${m}`, 'data-model': m }, `Train ${modelLabel(m)}`);
          b.addEventListener('click', () => trainModel(m));
          return b;
        }),
      ),
      el('details', { class: 'lesson-answer', 'data-testid': 'lesson-answer' }, el('summary', { text: 'Check your answer on the scoreboard' }), el('div', { id: 'lesson-answer-body', 'data-testid': 'lesson-answer-body' })),
    );
    parts.push(current);
  } else {
    parts.push(el('p', { class: 'hint', text: `${LESSONS.length} short lessons for a 90-minute workshop: each opens with its data and settings, says what to look for, and asks a question the scoreboard answers.` }));
  }
  if (state.hide.length) {
    parts.push(el('details', { class: 'lesson-fixed', id: 'lesson-fixed', 'data-testid': 'lesson-fixed' }, el('summary', { text: 'Settings this link fixes' }), el('dl', { id: 'lesson-fixed-list' })));
  }
  const list = el(
    'ol',
    { class: 'lesson-list', 'data-testid': 'lesson-list' },
    LESSONS.map((l, i) =>
      el('li', {}, el('a', { href: lessonHref(i + 1), 'data-testid': `lesson-link-${i + 1}`, 'aria-current': state.lesson === i + 1 ? 'page' : undefined, text: l.title })),
    ),
  );
  parts.push(el('details', { class: 'lessons-all', open: !lesson }, el('summary', { text: lesson ? 'All lessons' : 'Lessons' }), list));
  parts.push(teacherBox());
  box.replaceChildren(box.querySelector('h2'), ...parts);
  panel = { current };
  syncPanel();
}

/** Sets the model a lesson trains and starts the run. */
function trainModel(model) {
  if (state.phase !== 'idle' || !state.summary) return;
  const select = $('model');
  if (select.value !== model) {
    select.value = model;
    // The form's own handler shows the model's fields, checks them and updates the link.
    select.dispatchEvent(new Event('change', { bubbles: true }));
  }
  startTraining();
}

/** Enables the lesson's buttons when the page can train, and refreshes the answer and values. */
function syncPanel() {
  if (panel?.current) {
    const canTrain = state.phase === 'idle' && Boolean(state.summary);
    for (const b of panel.current.querySelectorAll('[data-model]')) b.disabled = !canTrain;
    renderAnswer();
  }
  const list = $('lesson-fixed-list');
  if (list) list.replaceChildren(...hiddenValues().flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
}

// ---------------------------------------------------------------------------------------------
// The answer, read off the scoreboard

const baselineName = (name) => name.replaceAll('_', ' ');

/** A model's run and the merged scores, once it is on the scoreboard. */
function scoresOf(model) {
  const run = comparedRun(model);
  const merged = run ? mergedResults() : null;
  return run && merged ? { run, merged } : null;
}

/** One sentence: the model against a baseline on a metric, both numbers given. */
function versusText(model, baseline, key, m, b) {
  const metric = METRICS[key];
  const mv = metric.get(m);
  const bv = b ? metric.get(b) : null;
  const who = modelLabel(model);
  if (mv === null || mv === undefined) return `${who}: no ${metric.label} (${m.pooled.undefined ?? 'not defined for this run'}).`;
  if (bv === null || bv === undefined) return `${who}: ${metric.label} ${fmtNum(mv)}; the ${baselineName(baseline)} has none${b?.pooled?.undefined ? ` (${b.pooled.undefined})` : ''}.`;
  const beats = metric.higher ? mv > bv : mv < bv;
  const dir = metric.higher ? 'higher is better' : 'lower is better';
  return `${who}: ${metric.label} ${fmtNum(mv)} against the ${baselineName(baseline)}’s ${fmtNum(bv)} (${dir}): ${beats ? 'beats it' : 'does not beat it'}.`;
}

/** What the run's own record says: IWELBO, the final KL, the course of the loss. */
function reportText(model, run, what) {
  const who = modelLabel(model);
  const t = run.train;
  const last = t.history.at(-1);
  if (what === 'iwelbo') return `${who}: held-out IWELBO ${fmtNum(run.scores[model].iwelbo, 1)} nats per cell (higher is better).`;
  if (what === 'kl') return last ? `${who}: KL ${fmtNum(last.train.kl, 1)} per cell on the training cells at the last epoch.` : '';
  if (what === 'loss') {
    const losses = t.history.map((h) => h.train.loss);
    if (!losses.length) return '';
    const end = t.diverged ? `it diverged (${t.diverged}), and the model from the epoch before was scored` : t.stopped_early ? `it stopped early at epoch ${t.epochs}, keeping epoch ${t.best_epoch}` : `it ran ${t.epochs} epochs`;
    return `${who}: training loss ${fmtNum(losses[0], 1)} after the first epoch, ${fmtNum(Math.min(...losses), 1)} at its lowest and ${fmtNum(losses.at(-1), 1)} at the last; ${end}.`;
  }
  return '';
}

function masksText(model, run) {
  const masks = run.figures.masks;
  const who = modelLabel(model);
  if (!masks) return [`${who} has no masks in this run.`];
  if (masks.masks_start_at) return [`${who}’s masks had not started yet (they start after epoch ${masks.masks_start_at}): train longer.`];
  const truth = masks.true_mean_active ?? null;
  const lines = [`${who} switches on ${fmtNum(masks.mean_active, 2)} latent dimensions per perturbation on average (mask probability above 0.5)${truth === null ? '' : `; the truth has ${fmtNum(truth, 2)}`}.`];
  if (masks.overlap_spearman !== null && masks.overlap_spearman !== undefined) {
    lines.push(`Overlap Spearman ${fmtNum(masks.overlap_spearman, 2)}: how closely the dimensions pairs of perturbations share in the model follow those they share in the truth (1: the same pattern; 0: no relation).`);
  }
  return lines;
}

function renderAnswer() {
  const body = $('lesson-answer-body');
  const lesson = lessonOf(state.lesson);
  if (!body || !lesson) return;
  const a = lesson.answer;
  const lines = [];
  const waiting = [];
  for (const model of a.masks ? [a.masks] : lesson.models) {
    const got = scoresOf(model);
    if (!got) {
      waiting.push(modelLabel(model));
      continue;
    }
    if (a.masks) lines.push(...masksText(model, got.run));
    for (const what of a.report ?? []) lines.push(reportText(model, got.run, what));
    for (const [baseline, key] of a.checks ?? []) lines.push(versusText(model, baseline, key, got.run.scores[model], got.merged.scores[baseline] ?? null));
  }
  if (waiting.length) lines.push(`Train ${listText(waiting)} to answer: the numbers appear here once ${waiting.length === 1 ? 'its row is' : 'their rows are'} on the scoreboard.`);
  body.replaceChildren(...lines.filter(Boolean).map((t) => el('p', { text: t })));
}

// ---------------------------------------------------------------------------------------------
// A lesson link from the current state

/** The link for the current settings with a lesson's text, a hide list and, if asked, autorun. */
export function lessonLink({ lesson = null, hide = [], autorun = false } = {}) {
  const p = new URLSearchParams();
  if (lesson) p.set('lesson', String(lesson));
  for (const [k, v] of linkParams()) if (k !== 'lesson' && k !== 'hide') p.append(k, v);
  if (hide.length) p.set('hide', hide.join(','));
  if (autorun) p.set('autorun', '1');
  return `${pageUrl()}#${linkText(p)}`;
}

function teacherBox() {
  const lessonSelect = el(
    'select',
    { id: 'teacher-lesson', 'data-testid': 'teacher-lesson' },
    el('option', { value: '', text: 'none' }),
    LESSONS.map((l, i) => el('option', { value: String(i + 1), text: `${i + 1}. ${l.title}`, selected: state.lesson === i + 1 })),
  );
  const rooms = Object.entries(HIDE_ROOMS).map(([name, what]) =>
    el('label', { class: 'check' }, el('input', { type: 'checkbox', value: name, checked: state.hide.includes(name), 'data-testid': `teacher-hide-${name}` }), el('span', { text: name }), el('small', { text: what })),
  );
  const keys = el('input', {
    id: 'teacher-hide-keys',
    type: 'text',
    'data-testid': 'teacher-hide-keys',
    autocomplete: 'off',
    placeholder: 'e.g. lr, beta',
    value: state.hide.filter((n) => !(n in HIDE_ROOMS)).join(', '),
    'aria-describedby': 'teacher-error',
  });
  const autorun = el('input', { type: 'checkbox', id: 'teacher-autorun', 'data-testid': 'teacher-autorun' });
  const output = el('input', { id: 'lesson-link', type: 'text', readOnly: true, 'data-testid': 'lesson-link' });
  keys.spellcheck = false;
  output.spellcheck = false;
  output.addEventListener('focus', () => output.select());
  const error = el('p', { id: 'teacher-error', class: 'teacher-error', role: 'alert', 'data-testid': 'teacher-error', hidden: true });
  const make = el('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'make-lesson-link' }, 'Make lesson link');
  make.addEventListener('click', async () => {
    const { known, unknown } = parseHide(keys.value);
    if (unknown.length) {
      error.textContent = `Not a setting of this page: ${unknown.join(', ')}. Use setting keys such as lr or beta.`;
      error.hidden = false;
      keys.setAttribute('aria-invalid', 'true');
      return;
    }
    error.hidden = true;
    keys.removeAttribute('aria-invalid');
    const ticked = rooms.map((r) => r.querySelector('input')).filter((c) => c.checked).map((c) => c.value);
    const link = lessonLink({ lesson: Number(lessonSelect.value) || null, hide: [...ticked, ...known.filter((k) => !ticked.includes(k))], autorun: autorun.checked });
    output.value = link;
    try {
      await navigator.clipboard.writeText(link);
      setStatus('Lesson link copied to the clipboard.');
    } catch {
      output.focus();
      setStatus('Select and copy the lesson link from its box (the clipboard is not available here).');
    }
  });
  return el(
    'details',
    { class: 'teacher', 'data-testid': 'teacher' },
    el('summary', { text: 'For teachers: make a lesson link' }),
    el('p', { class: 'hint', text: 'The link holds the current data and settings, the lesson text to show, and what learners do not see.' }),
    el('label', { class: 'field' }, el('span', { text: 'Lesson text' }), lessonSelect),
    el('fieldset', { class: 'teacher-hide' }, el('legend', { text: 'Hide from learners' }), el('div', { class: 'checklist' }, rooms)),
    el('label', { class: 'field' }, el('span', { text: 'Also hide these settings (keys, comma-separated)' }), keys),
    error,
    el('label', { class: 'check teacher-autorun' }, autorun, el('span', { text: 'Train as soon as the link opens' })),
    el('div', { class: 'row' }, make),
    el('label', { class: 'visually-hidden', for: 'lesson-link', text: 'Lesson link' }),
    output,
  );
}

/** Keeps the panel in step with the page: runs, results and the chosen model. */
function watchLessons() {
  watching = true;
  const observer = new MutationObserver(syncPanel);
  observer.observe(document.body, { attributes: true, attributeFilter: ['data-phase'] });
  observer.observe($('scoreboard'), { attributes: true, attributeFilter: ['data-state'] });
  $('settings').addEventListener('change', syncPanel);
  // A lesson link clicked on the page (or typed into the address bar) opens that lesson afresh.
  window.addEventListener('hashchange', () => {
    if (new URLSearchParams(location.hash.replace(/^#/, '')).has('lesson')) location.reload();
  });
}
