// The comparison: models trained on the same data and the same split, scored side by side. The
// engine's Comparison keeps the runs and decides what is comparable; this module asks it what to
// show (the runs in the page's order, the merged scores, the scoreboard image and CSV) and says
// why earlier rows left when a run on other data or another split replaced them.

import { $, el, listText } from './dom.js';
import { wasm } from './engine.js';
import { byRank, modelLabel, modelOf } from './models.js';
import { state } from './state.js';

let comparison = null;
/** What the engine answered since the last change: `{runs, merged}`. */
let cache = null;
/** The data the compared runs were trained on: `{sha256, label}`. */
let comparedData = null;

/** The engine's comparison, created once its module is loaded. */
export function initComparison() {
  comparison = new wasm.Comparison();
}

/** The compared runs, in the page's model order. */
export function comparedRuns() {
  if (!comparison?.len()) return [];
  if (!cache) {
    const runs = comparison.models().sort(byRank).map((m) => comparison.run(m));
    cache = { runs, merged: null };
  }
  return cache.runs;
}

/** The latest results of `model`, if it is compared. */
export const comparedRun = (model) => comparedRuns().find((r) => modelOf(r) === model);

/** One result with every compared model's scores beside the baselines (the latest run's rest). */
export function mergedResults() {
  if (!comparedRuns().length) return null;
  cache.merged ??= comparison.merged();
  return cache.merged;
}

/** The results whose figures are shown. */
export function shownResults() {
  return comparedRun(state.figureModel) ?? state.results;
}

/**
 * The engine's verdict on each compared model against the best baseline on every metric:
 * `[{model, metrics: [{metric, model, baseline, baseline_value, beats}], sentence}]`.
 */
export function verdicts() {
  if (!comparedRuns().length) return [];
  cache.verdicts ??= comparison.verdicts();
  return cache.verdicts;
}

/** Every compared model's scores beside the baselines, as the engine's CSV. */
export const scoresCsv = () => comparison.scores_csv();

/** Draws the whole scoreboard of the comparison on `canvas`. */
export const drawComparison = (canvas, dpr) => comparison.draw(canvas, dpr);

/** How the page names data in notices. */
export function dataLabel(ds) {
  if (ds?.kind === 'sample') return `the sample, seed ${ds.seed}`;
  if (ds?.kind === 'bundled') return ds.title;
  return ds?.name ?? 'no data';
}

/** Shows a notice over the scoreboard about what the comparison holds (null: hides it). */
export function showComparisonNotice(text) {
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

/** Adds scored results; when the engine drops earlier runs (other data or split), says why. */
export function addRun(results) {
  const added = comparison.add(results);
  cache = null;
  comparedData = { sha256: results.data.sha256, label: dataLabel(state.dataset) };
  const removed = [...added.removed].sort(byRank);
  if (removed.length) {
    showComparisonNotice(
      `The scores of ${listText(removed.map(modelLabel))} were removed from the comparison because this run changed ${listText(added.changes) || 'the split'}. ` +
        'Models are compared only on the same data and the same held-out cells; train them again to see them side by side.',
    );
  }
}

/**
 * Replaces the compared runs with `runs` (a saved session), trained on the data `label` names.
 * Each is read by the engine on a scratch comparison first: when one is refused or they are
 * not on one data and split, this throws and the comparison shown is unchanged.
 */
export function replaceRuns(runs, label) {
  const scratch = new wasm.Comparison();
  try {
    runs.forEach((r, i) => {
      let added;
      try {
        added = scratch.add(r);
      } catch (e) {
        throw new Error(`the engine could not read run ${i + 1} (${modelLabel(modelOf(r))}): ${e.message ?? e}`);
      }
      if (added.removed.length || added.changes.length) {
        throw new Error(`its runs were not trained on the same data and split (${modelLabel(modelOf(r))} differs in ${listText(added.changes)}), so they cannot be compared.`);
      }
    });
  } finally {
    scratch.free();
  }
  comparison.clear();
  for (const r of runs) comparison.add(r);
  cache = null;
  comparedData = { sha256: runs[0].data.sha256, label };
}

/** Loaded data other than the compared runs' ends the comparison, with a notice. */
export function dataLoaded(sha256, dataset) {
  if (!comparedData || comparedData.sha256 === sha256) return false;
  const models = comparedRuns().map(modelOf);
  if (models.length) {
    showComparisonNotice(
      `The scores of ${listText(models.map(modelLabel))} were cleared because other data was loaded (${comparedData.label} → ${dataLabel(dataset)}). Models are compared only on the same data and the same held-out cells.`,
    );
  }
  return true;
}

export function clearComparison() {
  comparison?.clear();
  cache = null;
  comparedData = null;
  state.figureModel = null;
}
