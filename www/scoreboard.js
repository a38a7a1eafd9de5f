// The scoreboard: the pooled and per-condition score tables of every compared model beside the
// baselines (all from the engine's comparison), cells that say why a metric is undefined, the
// masks panel's caption or note, and which model's figures are shown. Before anything is
// trained it shows the baselines of the split the settings make (preview.js); while a model
// trains, its row is there, marked as training; under the table, the engine's verdict on each
// model against the best baseline, and the newer metrics in groups (metricgroups.js).

import { $, clearCanvas, el, fmtDuration, fmtInt, fmtNum } from './dom.js';
import { clearComparison, comparedRun, comparedRuns, mergedResults, shownResults, verdicts } from './comparison.js';
import { PANELS, cancelFigures, clearFigureTables, drawFigures } from './figures.js';
import { spec } from './form.js';
import { renderGap } from './gap.js';
import { renderMetricGroups, showInterval } from './metricgroups.js';
import { BASELINE_ORDER, byRank, modelColour, modelLabel, modelOf } from './models.js';
import { comparisonKey, formKey, previewFor, splitKey } from './preview.js';
import { state, syncControls } from './state.js';

const JACCARD_KS = ['25', '50', '100'];

export function markResultsStale() {
  cancelFigures();
  if (state.results) $('scoreboard').dataset.state = 'stale';
}

export function clearResults() {
  cancelFigures();
  state.results = null;
  clearComparison();
  $('scoreboard').dataset.state = 'empty';
  $('scoreboard-meta').textContent = '';
  $('pooled-table').tBodies[0].replaceChildren();
  $('condition-table').tBodies[0].replaceChildren();
  $('score-notes').replaceChildren();
  $('verdicts').replaceChildren();
  $('scoreboard-status').hidden = true;
  renderMetricGroups([]);
  renderGap(null, []);
  $('figure-model-box').hidden = true;
  syncMasksPanel(null);
  for (const panel of PANELS) clearCanvas($(`fig-${panel}`));
  clearFigureTables();
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
  const withMasks = comparedRuns().filter((r) => r.figures.masks).map(modelOf);
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

export function showFiguresOf(model) {
  if (!comparedRun(model)) return;
  state.figureModel = model;
  $('figure-model').value = model;
  renderScoreboard();
}

/**
 * A metric's cell. `interval` (a model trained with several seeds: `{mean, low, high, n}`) adds
 * the 95% interval's half-width under the mean.
 */
function scoreCell(value, set, metric, digits = 3, interval = null) {
  const td = el('td', { class: 'num' });
  if (value === null || value === undefined) {
    td.textContent = '—';
    td.classList.add('undefined');
    td.title = set.undefined ? `${metric} undefined: ${set.undefined}` : `${metric} is undefined here (e.g. a predictor of no change has no shift to correlate or rank)`;
  } else {
    td.textContent = fmtNum(value, digits);
    td.title = `${metric} = ${value}`;
    td.dataset.value = String(value);
    if (interval) showInterval(td, metric, value, interval, digits);
  }
  return td;
}

/** The headline cells of a score set; `intervals`: a model's seed intervals, by metric key. */
function scoreCells(set, intervals = null) {
  const iv = (key) => intervals?.[key] ?? null;
  return [
    scoreCell(set.mean_shift_r, set, 'r', 3, iv('mean_shift_r')),
    ...JACCARD_KS.map((k) => scoreCell(set.jaccard?.[k], set, `J@${k}`, 3, iv(`jaccard_${k}`))),
    scoreCell(set.energy_distance, set, 'energy distance', 3, iv('energy_distance')),
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

function modelHeader(r, names) {
  const name = modelOf(r);
  const t = r.train;
  const conds = Object.values(r.scores[name].conditions);
  const scored = conds.filter((s) => !s.undefined).length;
  const seeds = r.scores[name].seeds;
  const bits = seeds ? [`mean of ${seeds.runs.length} seeds ± 95% interval`] : [`${t.epochs} epoch${t.epochs === 1 ? '' : 's'}`];
  if (seeds) {
    // With several seeds, the epochs of each.
    const epochs = [...new Set(seeds.runs.map((x) => x.epochs))];
    bits.push(`${epochs.join('/')} epochs`);
  } else if (t.stopped_early) bits.push('early stop');
  else if (t.epochs < r.config.epochs) bits.push('stopped');
  if (scored && scored < conds.length) bits.push(`pooled over ${scored} of ${conds.length} conditions`);
  return el(
    'th',
    { scope: 'row', class: 'model-name', title: spec('model').choices.find((c) => c.value === name)?.hint || name },
    el('span', { class: 'swatch', style: `background:${modelColour(name, names)}`, 'aria-hidden': 'true' }),
    el('span', { class: 'model-label', text: modelLabel(name) }),
    el('span', { class: 'tag', text: 'model' }),
    el('small', { class: 'row-note', text: bits.join(' · ') }),
  );
}

const RUNNING = ['training', 'stopping', 'evaluating'];

/** The baselines as the engine's verdicts name them (baselines::label). */
const BASELINE_LABELS = {
  control_mean: 'the control mean',
  perturbation_mean: 'the perturbation mean',
  perturbed_mean: 'the perturbed mean',
  additive: 'the additive baseline',
  group_shift: 'the group shift',
  linear: 'the linear model',
  matching_mean: 'the matching mean',
  ceiling: 'the noise ceiling',
};
const baselineLabel = (name) => BASELINE_LABELS[name] ?? name;
/** The engine's metric names in a sentence. */
const metricName = (metric) => (metric === 'r' ? 'mean-shift r' : metric);
/** Numbers in verdicts as the engine writes them (three decimals). */
const fmt3 = (v) => v.toFixed(3);

/**
 * What the scoreboard shows now: the scored models (`finals`), the results whose baselines are
 * shown (`base`: the comparison's, or a preview's), the run in progress, the compared models a
 * run on other held-out cells is about to replace (`moved`), and the preview's state.
 */
function scoreboardView() {
  const running = RUNNING.includes(state.phase) && state.run ? state.run : null;
  const runs = comparedRuns();
  const compKey = comparisonKey();
  const target = running ? splitKey(running.settings, state.summary?.sha256) : formKey();
  let finals = runs;
  let base = runs.length ? mergedResults() : null;
  let moved = [];
  if (running && compKey && compKey !== target) {
    moved = runs;
    finals = [];
    base = null;
  }
  if (running) finals = finals.filter((r) => modelOf(r) !== running.settings.model);
  const pv = previewFor(target);
  let preview = null;
  if (!base && !(finals.length) && pv.shown?.results && pv.shown.results.data.sha256 === state.summary?.sha256) {
    preview = pv.shown;
    base = preview.results;
  }
  return { running, finals, base, preview, moved, pv, splitChanged: Boolean(!running && compKey && target && compKey !== target) };
}

/** The row of the model being trained: marked provisional, with where training stands. */
function pendingRow(run, names) {
  const name = run.settings.model;
  const p = state.progress;
  const tag = { evaluating: 'scoring…', stopping: 'stopping…' }[state.phase] ?? 'training…';
  const bits = [];
  if (p?.budget) bits.push(`epoch ${p.epoch} of ${p.budget}`);
  if (Number.isFinite(run.lastValLoss)) bits.push(`validation loss ${fmtNum(run.lastValLoss)}`);
  const text =
    state.phase === 'evaluating'
      ? 'Scoring the model beside the baselines…'
      : 'Provisional: its scores come when training ends or is stopped (scoring takes a few seconds).';
  // Every few epochs the engine scores the model's mean-shift r on a fixed subsample of controls.
  const pv = run.provisional;
  const cells =
    pv && state.phase !== 'evaluating'
      ? [
          el('td', { class: 'num provisional', 'data-testid': 'provisional-r', 'data-value': pv.mean_shift_r ?? undefined, title: `provisional mean-shift r at epoch ${pv.epoch}, on ${pv.cells} control cells decoded over ${pv.conditions} held-out conditions` }, pv.mean_shift_r === null ? '—' : `≈${fmtNum(pv.mean_shift_r)}`),
          el('td', { class: 'pending', colSpan: 7, 'data-testid': 'pending' }, `Provisional r at epoch ${pv.epoch}, from ${pv.cells} control cells; the full scores come when training ends or is stopped.`),
        ]
      : [el('td', { class: 'pending', colSpan: 8, 'data-testid': 'pending' }, text)];
  return el(
    'tr',
    { 'data-predictor': name, 'data-kind': 'model', 'data-provisional': 'true', class: 'row-model row-pending' },
    el(
      'th',
      { scope: 'row', class: 'model-name' },
      el('span', { class: 'swatch', style: `background:${modelColour(name, names)}`, 'aria-hidden': 'true' }),
      el('span', { class: 'model-label', text: modelLabel(name) }),
      el('span', { class: 'tag tag-pending', text: tag }),
      el('small', { class: 'row-note', text: bits.join(' · ') }),
    ),
    ...cells,
  );
}

/** How a metric's verdict reads: won, lost, or (several seeds) not told apart. */
const outcome = (m) => (m.beats ? 'beats' : m.undecided ? 'cannot be told apart from' : 'does not beat');
const outcomeClass = (m) => (m.beats ? 'verdict-win' : m.undecided ? 'verdict-tie' : 'verdict-loss');
/** A model's value in a verdict, with the seeds' 95% interval when it has one. */
const verdictValue = (m) => (m.interval ? `${fmt3(m.model)} [${fmt3(m.interval[0])}, ${fmt3(m.interval[1])}]` : fmt3(m.model));

/** One model's verdict, from the engine's: the mean-shift r line first, every metric behind a disclosure. */
function verdictItem(v) {
  const head = v.metrics.find((m) => m.metric === 'r') ?? v.metrics[0];
  const n = v.metrics.length;
  const won = v.metrics.filter((m) => m.beats).length;
  const open = v.metrics.filter((m) => m.undecided).length;
  const label = modelLabel(v.model);
  const line = `${label} ${outcome(head)} ${baselineLabel(head.baseline)} on ${metricName(head.metric)} (${verdictValue(head)} vs ${fmt3(head.baseline_value)})`;
  let tally = won === n ? `it beats the best baseline on all ${n} metrics` : won === 0 ? `it beats the best baseline on none of the ${n} metrics` : `it beats the best baseline on ${won} of ${n} metrics`;
  if (open) tally += `; on ${open}, its seeds’ 95% interval holds the baseline’s value, so they cannot tell the two apart`;
  const metrics = v.metrics.map((m) =>
    el(
      'li',
      { class: outcomeClass(m), 'data-metric': m.metric },
      el('span', { class: 'verdict-mark', 'aria-hidden': 'true', text: m.beats ? '✓ ' : m.undecided ? '≈ ' : '✗ ' }),
      `${outcome(m)} ${baselineLabel(m.baseline)} on ${metricName(m.metric)}: ${verdictValue(m)} vs ${fmt3(m.baseline_value)}`,
    ),
  );
  return el(
    'li',
    { class: `verdict ${outcomeClass(head)}`, 'data-model': v.model, 'data-metric': head.metric, 'data-baseline': head.baseline, 'data-beats': String(head.beats), 'data-undecided': String(Boolean(head.undecided)), 'data-testid': `verdict-${v.model}` },
    el('p', { class: 'verdict-line', 'data-testid': 'verdict-line' }, `${line}; ${tally}.`),
    el('details', { class: 'verdict-details' }, el('summary', { text: 'Every metric' }), el('ul', {}, metrics), el('p', { class: 'verdict-sentence muted', text: `In the engine’s words: ${v.sentence}` })),
  );
}

/** The verdicts under the scoreboard's title: one per scored model, the training one pending. */
function renderVerdicts(view) {
  const items = [];
  if (view.running) {
    const label = modelLabel(view.running.settings.model);
    items.push(
      el(
        'li',
        { class: 'verdict verdict-pending', 'data-model': view.running.settings.model, 'data-provisional': 'true' },
        el('p', { class: 'verdict-line', 'data-testid': 'verdict-line', text: `${label} is ${state.phase === 'evaluating' ? 'being scored' : 'training'}: its verdict against the best baseline on each metric comes with its scores.` }),
      ),
    );
  }
  if (view.finals.length) {
    const all = verdicts();
    for (const r of view.finals) {
      const v = all.find((x) => x.model === modelOf(r));
      if (v) items.push(verdictItem(v));
      else items.push(el('li', { class: 'verdict', 'data-model': modelOf(r) }, el('p', { class: 'verdict-line', 'data-testid': 'verdict-line', text: `${modelLabel(modelOf(r))} has no pooled score to set against the baselines (see its row).` })));
    }
  }
  if (!items.length && view.base) items.push(el('li', { class: 'verdict verdict-none' }, el('p', { class: 'verdict-line', 'data-testid': 'verdict-line', text: 'No model trained yet: train one to see whether it beats these baselines.' })));
  $('verdicts').replaceChildren(...(items.length ? [el('ul', { class: 'verdict-list' }, items)] : []));
}

/** The line above the tables: what the scoreboard shows while nothing or something is trained. */
function statusText(view) {
  const { pv } = view;
  const parts = [];
  if (view.splitChanged) parts.push('The settings now hold out other cells than these scores: the next run starts a new comparison.');
  if (view.moved.length) parts.push(`${view.moved.map((r) => modelLabel(modelOf(r))).join(', ')} ${view.moved.length === 1 ? 'was' : 'were'} scored on other held-out cells and leave${view.moved.length === 1 ? 's' : ''} the scoreboard when this run is scored.`);
  const stale = view.preview && !pv.preview;
  if (pv.scoring !== null && (!view.base || stale || view.running)) {
    const slow = pv.scoring > 1500 ? ' This takes a while on large data; training does not wait for it.' : '';
    parts.push(`Scoring the baselines for ${stale ? 'the changed settings' : 'these settings'}…${slow}`);
  } else if (stale && pv.reason) {
    parts.push(`These baselines are for earlier settings: ${pv.reason}.`);
  }
  if (pv.preview?.error && !view.finals.length) parts.push(`The baselines could not be scored for these settings: ${pv.preview.error}`);
  if (view.running && !view.base && pv.scoring === null) parts.push('The baselines are scored with the model when training ends.');
  return parts.join(' ');
}

/**
 * Draws the scoreboard as things stand (see `scoreboardView`). With `stale`, scored runs stay
 * dimmed and their figures are not redrawn (a run failed: the last scores are not its own).
 */
export function renderScoreboard({ stale = false } = {}) {
  const view = scoreboardView();
  const { running, finals, base, preview } = view;
  const board = $('scoreboard');
  const status = statusText(view);
  $('scoreboard-status').textContent = status;
  $('scoreboard-status').hidden = !status;
  renderVerdicts(view);
  if (!finals.length && !base && !running) {
    if (!comparedRuns().length) {
      board.dataset.state = 'empty';
      $('pooled-table').tBodies[0].replaceChildren();
      $('condition-table').tBodies[0].replaceChildren();
      renderMetricGroups([]);
      renderGap(null, []);
    }
    return;
  }
  if (finals.length && !running && !comparedRun(state.figureModel)) state.figureModel = modelOf(state.results ?? finals[0]);
  const shown = finals.length ? shownResults() : null;
  const names = [...finals.map(modelOf), ...(running ? [running.settings.model] : [])].sort(byRank);
  const baselines = base ? BASELINE_ORDER.filter((n) => base.scores[n]) : [];
  const notApplicable = { undefined: 'baselines have no likelihood or treatment-effect model' };

  const modelRows = finals.map((r) => {
    const name = modelOf(r);
    const s = r.scores[name];
    const cells = s.pooled.undefined
      ? [unscoredCell(8, unscoredReason(r, s.pooled))]
      : [
          ...scoreCells(s.pooled, s.seeds?.intervals),
          scoreCell(s.iwelbo ?? null, { undefined: 'no held-out perturbed cell could be scored' }, 'IWELBO', 2, s.seeds?.intervals?.iwelbo),
          scoreCell(s.ate?.r ?? null, { undefined: 'no held-out condition could be scored for treatment effects' }, 'ATE r', 3, s.seeds?.intervals?.ate_r),
          scoreCell(s.ate?.r_top20 ?? null, { undefined: 'no held-out condition could be scored for treatment effects' }, 'ATE r top-20', 3, s.seeds?.intervals?.ate_r_top20),
        ];
    return { name, row: el('tr', { 'data-predictor': name, 'data-kind': 'model', class: `row-model${r === shown ? ' row-shown' : ''}` }, modelHeader(r, names), ...cells) };
  });
  if (running) modelRows.push({ name: running.settings.model, row: pendingRow(running, names) });
  modelRows.sort((a, b) => byRank(a.name, b.name));
  const pooledRows = modelRows.map((m) => m.row);
  for (const name of baselines) {
    const s = base.scores[name];
    const cells = s.pooled.undefined
      ? [unscoredCell(8, s.pooled.undefined)]
      : [...scoreCells(s.pooled), ...['IWELBO', 'ATE r', 'ATE r top-20'].map((m) => scoreCell(null, notApplicable, m))];
    pooledRows.push(el('tr', { 'data-predictor': name, 'data-kind': 'baseline', class: preview ? 'row-preview' : '' }, el('th', { scope: 'row', text: name }), ...cells));
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
  for (const r of finals) conditionRows(modelOf(r), r.scores[modelOf(r)], r, true);
  for (const name of baselines) conditionRows(name, base.scores[name], base, false);
  $('condition-table').tBodies[0].replaceChildren(...rows);

  renderMetricGroups([
    ...finals.map((r) => ({ name: modelOf(r), label: modelLabel(modelOf(r)), kind: 'model', set: r.scores[modelOf(r)].pooled, intervals: r.scores[modelOf(r)].seeds?.intervals })),
    ...baselines.map((name) => ({ name, label: name, kind: 'baseline', set: base.scores[name].pooled })),
  ]);
  renderGap(finals.length ? base : null, finals.map(modelOf), finals.length ? verdicts() : []);

  const notes = $('score-notes');
  notes.replaceChildren();
  const list = el('ul');
  for (const r of finals) {
    for (const [c, why] of Object.entries(r.split.unpredictable ?? {})) list.append(el('li', {}, el('code', { text: c }), ` cannot be predicted by ${modelLabel(modelOf(r))}: ${why}`));
  }
  for (const name of baselines) {
    const why = base.scores[name].pooled.undefined;
    if (why) list.append(el('li', {}, el('code', { text: name }), ` (pooled): ${why}`));
  }
  if (list.children.length) notes.append(el('h3', { text: 'Notes' }), list);

  const split = base?.split ?? shown?.split;
  const heldOut = split ? `${fmtInt(split.test_cells)} held-out cells in ${split.test_conditions.length} condition${split.test_conditions.length === 1 ? '' : 's'}` : '';
  if (running) {
    // The figures stay those of the last scored run, dimmed, until this one is scored.
    board.dataset.state = state.results ? 'stale' : 'preview';
    const p = state.progress;
    $('scoreboard-meta').textContent = `${modelLabel(running.settings.model)} ${state.phase === 'evaluating' ? 'being scored' : 'training'}${p?.budget ? ` · epoch ${p.epoch} of ${p.budget}` : ''}${heldOut ? ` · ${heldOut}` : ''}`;
    return;
  }
  if (!finals.length) {
    board.dataset.state = 'preview';
    $('scoreboard-meta').textContent = `Baselines before training · ${heldOut}${preview?.ms != null ? ` · scored in ${preview.ms < 1000 ? `${Math.max(1, Math.round(preview.ms))} ms` : fmtDuration(preview.ms / 1000)}` : ''}`;
    return;
  }

  const box = $('figure-model-box');
  const select = $('figure-model');
  select.replaceChildren(...finals.map((r) => el('option', { value: modelOf(r), text: modelLabel(modelOf(r)) })));
  select.value = modelOf(shown);
  box.hidden = finals.length < 2;

  const t = shown.train;
  const stopText = t.stopped_early ? `, stopped early (best epoch ${t.best_epoch})` : t.best_epoch ? `, best epoch ${t.best_epoch}` : '';
  const compared = finals.length > 1 ? `${finals.length} models on one split · figures: ` : '';
  $('scoreboard-meta').textContent = `${compared}${modelOf(shown)} · ${t.epochs} epoch${t.epochs === 1 ? '' : 's'}${stopText} · ${t.backend} · ${fmtDuration(t.seconds)} · ${fmtInt(shown.split.test_cells)} held-out cells in ${shown.split.test_conditions.length} condition${shown.split.test_conditions.length === 1 ? '' : 's'}`;
  if (stale && state.results) {
    board.dataset.state = 'stale';
    return;
  }
  board.dataset.state = 'drawing';
  redrawFigures();
  syncControls();
}

/** Draws the shown model's figures again (after a new result, a choice or a resize). */
export function redrawFigures() {
  syncMasksPanel(shownResults());
  drawFigures();
}
