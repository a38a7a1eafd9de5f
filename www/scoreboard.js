// The scoreboard: the pooled and per-condition score tables of every compared model beside the
// baselines (all from the engine's comparison), cells that say why a metric is undefined, the
// masks panel's caption or note, and which model's figures are shown.

import { $, clearCanvas, el, fmtDuration, fmtInt, fmtNum } from './dom.js';
import { clearComparison, comparedRun, comparedRuns, mergedResults, shownResults } from './comparison.js';
import { PANELS, cancelFigures, drawFigures } from './figures.js';
import { spec } from './form.js';
import { BASELINE_ORDER, modelColour, modelLabel, modelOf } from './models.js';
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

function modelHeader(r, names) {
  const name = modelOf(r);
  const t = r.train;
  const conds = Object.values(r.scores[name].conditions);
  const scored = conds.filter((s) => !s.undefined).length;
  const bits = [`${t.epochs} epoch${t.epochs === 1 ? '' : 's'}`];
  if (t.stopped_early) bits.push('early stop');
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

export function renderScoreboard() {
  const runs = comparedRuns();
  if (!runs.length) return;
  // The baselines, scored once on the split, and the latest run's split.
  const latest = mergedResults();
  if (!comparedRun(state.figureModel)) state.figureModel = modelOf(state.results);
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
  redrawFigures();
  syncControls();
}

/** Draws the shown model's figures again (after a new result, a choice or a resize). */
export function redrawFigures() {
  syncMasksPanel(shownResults());
  drawFigures();
}
