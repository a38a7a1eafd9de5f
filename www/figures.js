// The scoreboard's figures: the engine draws each panel on its canvas, one panel per task so
// the page answers input between them; and the downloads (panel PNGs, the comparison's
// scoreboard image and scores CSV, results and config JSON). Each panel's label and data table
// (charttables.js) follow the results it is drawn from.

import { renderChartTables } from './charttables.js';
import { $, clearCanvas, saveBlob, showMessage, sizeCanvas } from './dom.js';
import { requestExport, wasm } from './engine.js';
import { drawComparison, mergedResults, scoresCsv, shownResults } from './comparison.js';
import { modelLabel, modelOf } from './models.js';
import { state } from './state.js';
import { trainedApart } from './trainall.js';

export const PANELS = ['shift', 'jaccard', 'pca', 'curves', 'masks'];

/**
 * What one panel needs of the results: the engine reads the whole object on every call, so the
 * large arrays other panels use are left out. The top-K panel shows every compared model.
 */
function panelInput(r, panel) {
  const f = r.figures;
  return {
    ...r,
    scores: panel === 'jaccard' ? (mergedResults()?.scores ?? r.scores) : {},
    train: panel === 'curves' ? r.train : { ...r.train, history: [] },
    figures: {
      shift: panel === 'shift' ? f.shift : { ...f.shift, true_shift: [], pred_shift: [] },
      pca: panel === 'pca' ? f.pca : { ...f.pca, control: [], truth: [], predicted: [] },
      masks: panel === 'masks' ? (f.masks ?? null) : null,
    },
  };
}

let figureToken = 0;

/** Abandons figures still being drawn. */
export function cancelFigures() {
  figureToken += 1;
}

/** Empties the figures' labels and data tables (the scoreboard was cleared). */
export function clearFigureTables() {
  renderChartTables(null);
}

/** Draws the figures of the shown results one per task, so the page answers input between them. */
export async function drawFigures() {
  const results = shownResults();
  if (!results || !wasm) return;
  const token = ++figureToken;
  try {
    renderChartTables(results, mergedResults()?.scores ?? results.scores);
  } catch (e) {
    console.error('the figures\' data tables could not be built', e);
  }
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

export function downloadFigure(panel) {
  const canvas = $(`fig-${panel}`);
  const shown = shownResults();
  if (!shown || canvas.hidden) return;
  canvas.toBlob((blob) => blob && saveBlob(blob, `cellshift-${panel === 'masks' ? `masks-${modelOf(shown)}` : panel}.png`), 'image/png');
}

export function downloadScoreboard() {
  if (!state.results) return;
  const canvas = document.createElement('canvas');
  canvas.width = 1600;
  canvas.height = 1200;
  try {
    drawComparison(canvas, 1);
  } catch (e) {
    showMessage('run-error', `The scoreboard image could not be drawn: ${e.message}`);
    return;
  }
  canvas.toBlob((blob) => blob && saveBlob(blob, 'scoreboard.png'), 'image/png');
}

export function downloadScores() {
  if (!state.results) return;
  let csv;
  try {
    csv = scoresCsv();
  } catch (e) {
    showMessage('run-error', `The scores could not be written: ${e.message}`);
    return;
  }
  saveBlob(new Blob([csv], { type: 'text/csv' }), 'scores.csv');
}

/** The run's held-out, predicted and control cells as .h5ad, made by the worker's engine. */
export async function downloadPredictions() {
  if (!state.results) return;
  const shown = shownResults();
  if (trainedApart(shown)) {
    showMessage('run-error', `The cells of ${modelLabel(modelOf(shown))} are not kept: Train all ends each model's worker once the model is scored. Train it alone with Train to download its predictions.h5ad.`);
    return;
  }
  try {
    const bytes = await requestExport();
    saveBlob(new Blob([bytes], { type: 'application/x-hdf5' }), 'predictions.h5ad');
  } catch (e) {
    showMessage('run-error', `The predictions could not be exported: ${e.message}`);
  }
}

export function downloadJson(value, filename) {
  saveBlob(new Blob([`${JSON.stringify(value, null, 2)}\n`], { type: 'application/json' }), filename);
}
