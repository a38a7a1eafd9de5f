// A run's life: starting one from the form, stopping and resuming it, and what the page does
// when the engine is scoring it, has scored it, or reports that it failed.

import { $, fmtDuration, setStatus, showMessage } from './dom.js';
import { post } from './engine.js';
import { addRun, comparedRuns } from './comparison.js';
import { updateLink } from './link.js';
import { redrawLiveChart, resetProgress } from './live.js';
import { modelLabel, modelOf } from './models.js';
import { Msg, Stage } from './protocol.js';
import { markResultsStale, renderScoreboard } from './scoreboard.js';
import { labelOf, setFieldError, validateForm } from './settings.js';
import { state, syncControls } from './state.js';

/** Starts a run with the form's settings (`backendOverride`: another backend than the form's). */
export function startTraining({ backendOverride, fallback } = {}) {
  if (state.phase !== 'idle' || !state.summary) return;
  const settings = validateForm({ summary: true });
  if (!settings) return;
  if (!fallback) {
    showMessage('run-error', null);
    showMessage('backend-notice', null);
  }
  const pref = backendOverride ?? $('backend').value;
  state.run = { settings, pref, backend: null, plan: null, fallback: Boolean(fallback) };
  state.phase = 'training';
  state.sessionAlive = false;
  markResultsStale();
  resetProgress();
  syncControls();
  setStatus(pref === 'cpu' ? 'Starting the run on the CPU…' : 'Starting the run (setting up the backend)…');
  updateLink();
  post({ type: Msg.TRAIN, settings, backend: pref });
}

/** Asks the worker to stop after the current epoch; the model is then scored as it is. */
export function stopTraining() {
  if (state.phase !== 'training') return;
  state.phase = 'stopping';
  syncControls();
  setStatus('Stopping after the current epoch…');
  post({ type: Msg.STOP });
}

/** Continues the last run (the engine adds `resume-epochs` epochs if its budget is spent). */
export function resumeTraining() {
  if (state.phase !== 'idle' || !state.sessionAlive) return;
  const raw = Number($('resume-epochs').value);
  const more = Number.isSafeInteger(raw) && raw > 0 ? raw : 20;
  showMessage('run-error', null);
  state.phase = 'training';
  markResultsStale();
  syncControls();
  post({ type: Msg.RESUME, epochs: more });
}

/** The loop ended and the engine is scoring the model (EVALUATING). */
export function onEvaluating({ reason }) {
  state.phase = 'evaluating';
  const text = {
    stopped: 'Stopped; scoring the model as it is beside the baselines…',
    diverged: 'Training diverged; scoring the model from the last good epoch beside the baselines…',
  };
  setStatus(text[reason] ?? 'Training finished; scoring the model beside the baselines…');
  syncControls();
}

/** The model's scores (RESULTS). */
export function onResults({ results, reason }) {
  state.results = results;
  state.phase = 'idle';
  state.sessionAlive = true;
  try {
    addRun(results);
  } catch (e) {
    showMessage('run-error', `The scores could not be added to the scoreboard: ${e.message}`);
  }
  state.figureModel = modelOf(results);
  redrawLiveChart();
  renderScoreboard();
  syncControls();
  const backend = state.backendInfo?.backend === 'webgpu' ? 'WebGPU' : 'the CPU';
  const what = results.train.diverged
    ? `Training diverged (${results.train.diverged})`
    : reason === 'stopped'
      ? `Stopped at epoch ${results.train.epochs}; scored the model as trained so far`
      : results.train.stopped_early ? `Early stop at epoch ${results.train.epochs} (best epoch ${results.train.best_epoch})` : `Trained ${results.train.epochs} epochs`;
  const n = comparedRuns().length;
  const compared = n > 1 ? ` ${n} models are compared on this split.` : '';
  setStatus(`${what} of ${modelLabel(modelOf(results))} on ${backend} in ${fmtDuration(results.train.seconds)}. Scores are below.${compared}`, 'done');
  $('stat-eta').textContent = 'done';
  if (state.autorun) state.autorun = false;
}

/** A non-fatal ERROR about the run: settings refused at the start, or training or scoring failed. */
export function onRunError({ stage, message, field }) {
  // Settings rejected before a run could start: the message goes beside the setting too.
  if (stage === Stage.START || stage === Stage.BACKEND) {
    if (field) setFieldError(field, message);
    const label = labelOf(field);
    showMessage('settings-error', `The run could not start: ${label ? `${label}: ` : ''}${message}`);
    setStatus('The run could not start: see the message under the settings.', 'error');
    state.phase = 'idle';
    state.sessionAlive = false;
    syncControls();
    return;
  }
  const epoch = state.progress?.epoch ?? 0;
  const at = epoch ? ` at epoch ${epoch + (stage === Stage.TRAIN ? 1 : 0)}` : '';
  redrawLiveChart();
  showMessage('run-error', `${stage === Stage.EVALUATE ? 'Scoring failed' : 'Training failed'}${at}: ${message}`);
  setStatus('The run failed: see the message above.', 'error');
  state.phase = 'idle';
  state.sessionAlive = stage === Stage.EVALUATE;
  syncControls();
}
