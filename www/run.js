// A run's life: starting one from the form, stopping and resuming it, and what the page does
// when the engine reports an epoch, is scoring it, has scored it, or reports that it failed. The
// scoreboard shows the run's row, marked as training, from its start to its scores.

import { $, el, fmtDuration, setStatus, showMessage } from './dom.js';
import { post, wasm } from './engine.js';
import { addRun, comparedRuns } from './comparison.js';
import { updateLink } from './link.js';
import { redrawLiveChart, resetProgress } from './live.js';
import { modelLabel, modelOf } from './models.js';
import { schedulePreview } from './preview.js';
import { Msg, Stage } from './protocol.js';
import { markResultsStale, renderScoreboard } from './scoreboard.js';
import { labelOf, setFieldError, validateForm } from './settings.js';
import { state, syncControls } from './state.js';

/**
 * Starts a run with the form's settings (`backendOverride`: another backend than the form's;
 * `checkpoint`: go on from a run of the same settings, see Msg.CHECKPOINT).
 */
export function startTraining({ backendOverride, fallback, checkpoint = null } = {}) {
  if (state.phase !== 'idle' || !state.summary) return;
  const settings = validateForm({ summary: true });
  if (!settings) return;
  if (!fallback) {
    showMessage('run-error', null);
    showMessage('backend-notice', null);
    showMessage('autorun-confirm', null);
  }
  const pref = backendOverride ?? $('backend').value;
  // The seeds of one run train one after another; a CPU fallback goes on with the same seed.
  const seeds = fallback && state.run ? state.run.seeds : { of: settings.seeds ?? 1, replicate: 0, done: [] };
  state.run = { settings, pref, backend: null, plan: null, fallback: Boolean(fallback), seeds };
  state.phase = 'training';
  state.sessionAlive = false;
  state.scoreStopped = false;
  markResultsStale();
  resetProgress();
  syncControls();
  setStatus(pref === 'cpu' ? 'Starting the run on the CPU…' : 'Starting the run (setting up the backend)…');
  updateLink();
  post({ type: Msg.TRAIN, settings, backend: pref, checkpoint, replicate: seeds.replicate });
  renderScoreboard();
  // The baselines of the run's split, if they are not on the scoreboard yet (between epochs).
  schedulePreview({ now: true });
}

/** A linked run above this many times the default settings' work is started only when asked. */
const AUTORUN_RATIO = 10;

/**
 * Starts the run a link asks for (`autorun=1`), unless its estimated cost is far above the
 * defaults' on this data or cannot fit: then the page says so and asks first.
 */
export function startLinkedRun() {
  const settings = validateForm({ summary: true });
  if (!settings || !state.summary?.shape) return;
  let cost;
  try {
    cost = wasm.estimate_run(settings, state.summary.shape);
  } catch (e) {
    showMessage('settings-error', `The link's settings were not run: ${e.message}`);
    return;
  }
  if (cost.fits && cost.ratio <= AUTORUN_RATIO) {
    startTraining();
    return;
  }
  const gib = (b) => (b / 2 ** 30).toFixed(b < 2 ** 30 ? 2 : 1);
  const times = cost.ratio >= 100 ? Math.round(cost.ratio).toLocaleString('en-US') : cost.ratio.toFixed(1);
  const box = [
    el('p', {
      text: cost.fits
        ? `This link starts a run about ${times}× the work of the default settings on this data (about ${gib(cost.memory_bytes)} GiB of memory at its peak). It was not started by itself: it may take long on this machine.`
        : `This link asks for a run that would need about ${gib(cost.memory_bytes)} GiB of memory at its peak, more than the ${gib(cost.limit_bytes)} GiB a page can use. It was not started: lower the hidden size, batch size, particles, panel size, IWELBO particles or ATE samples.`,
    }),
  ];
  if (cost.fits) {
    const go = el('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'autorun-go', text: 'Train it' });
    const no = el('button', { type: 'button', class: 'btn', 'data-testid': 'autorun-cancel', text: 'Not now' });
    go.addEventListener('click', () => {
      showMessage('autorun-confirm', null);
      startTraining();
    });
    no.addEventListener('click', () => showMessage('autorun-confirm', null));
    box.push(el('p', {}, go, ' ', no));
  }
  showMessage('autorun-confirm', el('div', {}, ...box));
  setStatus('The link’s run was not started by itself: see the message above.', 'info');
}

/**
 * Asks the worker to stop: training after the current epoch (the model is then scored as it
 * is), or scoring at its next step (the trained model is kept, to be scored later).
 */
export function stopTraining() {
  if (state.phase === 'evaluating') {
    state.phase = 'stopping';
    syncControls();
    setStatus('Stopping the scoring…');
    post({ type: Msg.STOP });
    return;
  }
  if (state.phase !== 'training') return;
  state.phase = 'stopping';
  syncControls();
  setStatus('Stopping after the current epoch…');
  post({ type: Msg.STOP });
  renderScoreboard();
}

/** Continues the last run (the engine adds `resume-epochs` epochs if its budget is spent). */
export function resumeTraining() {
  if (state.phase !== 'idle' || !state.sessionAlive) return;
  const raw = Number($('resume-epochs').value);
  const more = Number.isSafeInteger(raw) && raw > 0 ? raw : 20;
  showMessage('run-error', null);
  state.phase = 'training';
  state.scoreStopped = false;
  markResultsStale();
  syncControls();
  post({ type: Msg.RESUME, epochs: more });
  renderScoreboard();
}

/** The training row's progress is redrawn at most this often (ms). */
const ROW_INTERVAL_MS = 500;
let rowTimer = null;

/** One epoch finished (PROGRESS, after the live panel has taken it): the training row follows. */
export function onRunProgress({ record }) {
  if (state.run && record?.val && Number.isFinite(record.val.loss)) state.run.lastValLoss = record.val.loss;
  if (rowTimer !== null) return;
  rowTimer = setTimeout(() => {
    rowTimer = null;
    if (['training', 'stopping'].includes(state.phase)) renderScoreboard();
  }, ROW_INTERVAL_MS);
}

/** A provisional score of the model in training (PROVISIONAL): its row shows it. */
export function onProvisional(score) {
  if (!state.run || !['training', 'stopping'].includes(state.phase)) return;
  state.run.provisional = score;
  renderScoreboard();
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
  renderScoreboard();
}

/** Scoring was stopped (SCORING_STOPPED): the trained model stays, unscored. */
export function onScoringStopped() {
  state.phase = 'idle';
  state.sessionAlive = true;
  state.scoreStopped = true;
  syncControls();
  setStatus('Scoring stopped. The trained model is kept: Score scores it, Resume trains it further.', 'done');
  renderScoreboard({ stale: true });
}

/** Scores the kept model again after its scoring was stopped. */
export function scoreAgain() {
  if (state.phase !== 'idle' || !state.sessionAlive || !state.scoreStopped) return;
  state.scoreStopped = false;
  showMessage('run-error', null);
  state.phase = 'training';
  syncControls();
  post({ type: Msg.SCORE });
}

/**
 * A seed of a run with several was scored: the next one starts, or (all done, or stopped) the
 * seeds' results are combined. A seed stopped part-way is left out when a finished one exists.
 * Returns the results to show, or null while seeds remain.
 */
function collectSeed(results, reason) {
  const seeds = state.run?.seeds;
  if (!seeds || seeds.of <= 1) return results;
  seeds.done.push(results);
  if (reason !== 'stopped' && seeds.done.length < seeds.of) {
    seeds.replicate = seeds.done.length;
    setStatus(`Seed ${seeds.done.length} of ${seeds.of} scored; training seed ${seeds.replicate + 1}…`);
    resetProgress();
    state.run.checkpoint = null;
    state.phase = 'training';
    syncControls();
    post({ type: Msg.TRAIN, settings: state.run.settings, backend: state.run.pref, replicate: seeds.replicate });
    return null;
  }
  if (reason === 'stopped' && seeds.done.length > 1) seeds.done.pop();
  seeds.partial = seeds.done.length < seeds.of;
  return wasm.combine_seeds(seeds.done);
}

/** The model's scores (RESULTS). */
export function onResults({ results: scored, reason }) {
  let results;
  try {
    results = collectSeed(scored, reason);
  } catch (e) {
    showMessage('run-error', `The seeds could not be combined: ${e.message}`);
    results = scored;
  }
  if (!results) return;
  state.results = results;
  state.scoreStopped = false;
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
  const stoppedSeed = reason === 'stopped' && state.run?.seeds?.partial && state.run.seeds.done.length > 1;
  const what = stoppedSeed
    ? `Stopped during seed ${state.run.seeds.done.length + 1}`
    : results.train.diverged
    ? `Training diverged (${results.train.diverged})`
    : reason === 'stopped'
      ? `Stopped at epoch ${results.train.epochs}; scored the model as trained so far`
      : results.train.stopped_early ? `Early stop at epoch ${results.train.epochs} (best epoch ${results.train.best_epoch})` : `Trained ${results.train.epochs} epochs`;
  const n = comparedRuns().length;
  const compared = n > 1 ? ` ${n} models are compared on this split.` : '';
  const seeds = state.run?.seeds;
  const over = seeds && seeds.of > 1
    ? seeds.done.length > 1
      ? ` Its scores are the means over ${seeds.done.length} seeds${seeds.partial ? ` (of ${seeds.of} asked for; the seed stopped part-way is left out)` : ''}, with 95% intervals.`
      : ` Only the first of ${seeds.of} seeds was trained, so there are no intervals.`
    : '';
  setStatus(`${what} of ${modelLabel(modelOf(results))} on ${backend} in ${fmtDuration(results.train.seconds)}.${over} Scores are below.${compared}`, 'done');
  $('stat-eta').textContent = 'done';
  if (state.autorun) state.autorun = false;
  // The settings may have moved to another split during the run.
  schedulePreview();
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
    renderScoreboard();
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
  // The last scores stay, dimmed as before the run: this run has none.
  renderScoreboard({ stale: true });
  schedulePreview();
}
