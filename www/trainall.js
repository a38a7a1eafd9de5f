// Train all: the ticked models trained at once, each in a Web Worker of its own on the CPU,
// with the form's settings (only the model differs), on the data loaded now. Each worker is
// given the compiled module, loads the same data, trains a model and has it scored; then it
// takes the next waiting model, or is ended. Each model's scores join the comparison as they
// come. The page's own worker, its data
// and its run are not touched: Resume and Score go on with what it holds. One line per model
// says where it stands; Stop stops them all, and each is scored as trained so far.

import { $, el, fmtDuration, fmtNum, listText, setStatus, showMessage } from './dom.js';
import { spawnRunWorker, wasm } from './engine.js';
import { addRun, comparedRun } from './comparison.js';
import { datasetRequest } from './data.js';
import { spec } from './form.js';
import { byRank, modelLabel, modelOf } from './models.js';
import { schedulePreview } from './preview.js';
import { Msg, Stage } from './protocol.js';
import { markResultsStale, renderScoreboard } from './scoreboard.js';
import { engineCheck, labelOf, readSettings, validateForm } from './settings.js';
import { logEvent, state, syncControls } from './state.js';

/** The models ticked when the page opens. */
const DEFAULT_MODELS = ['cvae', 'sams'];

/** A model's line is redrawn at most this often (ms) while epochs arrive. */
const LINE_INTERVAL_MS = 150;

/** The run of Train all in progress or last run: `{jobs, startedAt, endedAt, stopping}`. */
let batch = null;
/** Results that came from Train all's workers: their cells are not kept for predictions.h5ad. */
const fromWorkers = new WeakSet();

/** The model choices, from the settings schema, as ticked boxes beside Train all. */
export function initTrainAll() {
  const box = $('train-all-models');
  const choices = spec('model').choices;
  box.replaceChildren(
    ...choices.map((c) => {
      const input = el('input', { type: 'checkbox', value: c.value, checked: DEFAULT_MODELS.includes(c.value), 'data-testid': `train-all-model-${c.value}` });
      input.addEventListener('change', syncControls);
      return el('label', { class: 'check', title: c.label }, input, el('span', { text: modelLabel(c.value) }));
    }),
  );
}

/** The engine's estimate of a run's work (floating-point operations), or 0 when it has none. */
function estimatedWork(settings) {
  try {
    return wasm.estimate_run(settings, state.summary.shape).work * (settings.seeds ?? 1);
  } catch {
    return 0;
  }
}

/** The ticked models, in the page's order. */
const tickedModels = () => [...$('train-all-models').querySelectorAll('input:checked')].map((i) => i.value).sort(byRank);

/** Whether `results` were trained by Train all (its worker, and the model's cells, are gone). */
export const trainedApart = (results) => Boolean(results) && fromWorkers.has(results);

/** For the tests: each model's state, epochs and times, and the whole run's wall clock. */
export function trainAllState() {
  if (!batch) return null;
  return {
    pool: batch.pool,
    running: !batch.endedAt,
    wallSeconds: batch.endedAt ? (batch.endedAt - batch.startedAt) / 1000 : null,
    ownSeconds: ownSeconds(),
    models: batch.jobs.map((j) => ({
      model: j.model,
      state: j.state,
      epoch: j.epoch,
      budget: j.budget,
      error: j.error,
      reason: j.reason,
      trainSeconds: j.trainSeconds,
      scoringSeconds: j.scoringSeconds,
      // From its worker's start to its first epoch loop: the engine made ready, the data loaded
      // (or, for a model that took over a worker, the run started).
      setupSeconds: j.setupSeconds ?? null,
      reusedWorker: Boolean(j.reusedWorker),
      // When it started and ended, from Train all's click.
      startSeconds: j.startedAt ? (j.startedAt - batch.startedAt) / 1000 : null,
      endSeconds: j.endedAt ? (j.endedAt - batch.startedAt) / 1000 : null,
    })),
  };
}

/**
 * Starts Train all: every ticked model's settings are read and checked, then up to `pool`
 * workers start at once and the other models wait for a free one.
 */
export function startTrainAll() {
  if (state.phase !== 'idle' || !state.summary || !state.dataset) return;
  const models = tickedModels();
  if (!models.length) return;
  // The form's own checks first (epochs, the holdout...): they hold for every model.
  if (!validateForm({ summary: true })) return;
  showMessage('run-error', null);
  const jobs = models.map((model) => {
    const job = { model, state: 'queued', epoch: 0, budget: null, error: null, trainSeconds: 0, scoringSeconds: 0, reason: null, worker: null, evaluatingAt: null, line: null };
    const { settings, errors } = readSettings(model);
    const refused = errors[0] ?? engineCheck(settings).error;
    if (refused) {
      job.state = 'failed';
      job.error = `its settings were refused: ${labelOf(refused.key) ? `${labelOf(refused.key)}: ` : ''}${refused.message}`;
    }
    job.settings = settings;
    job.seeds = { of: settings.seeds ?? 1, replicate: 0, done: [] };
    job.work = refused ? 0 : estimatedWork(settings);
    return job;
  });
  // Training keeps one core busy per worker and the page's thread is idle meanwhile (it only
  // draws a line per epoch), so as many workers as the browser reports cores, and no more than
  // there are models: more workers than cores would only share them and hold more memory.
  const pool = Math.max(1, Math.min(models.length, navigator.hardwareConcurrency || 2));
  // With more models than workers, the longest start first, so that the short ones fill the
  // gaps at the end rather than leave one long model training alone.
  const queue = [...jobs].sort((a, b) => b.work - a.work);
  batch = { jobs, queue, pool, dataset: state.dataset, startedAt: performance.now(), endedAt: null, stopping: false };
  state.phase = 'training-all';
  markResultsStale();
  syncControls();
  renderList();
  const names = listText(models.map(modelLabel));
  const waiting = pool < models.length ? `, ${pool} at a time (the others wait for a free worker)` : '';
  setStatus(`Training ${names} at once on the CPU, each in a worker of its own${waiting}…`);
  logEvent('train-all', { models, pool });
  renderScoreboard();
  fillPool();
}

/** Starts waiting models while workers are free; ends Train all when every model is through. */
function fillPool() {
  if (!batch) return;
  const busy = batch.jobs.filter((j) => ['starting', 'loading', 'training', 'scoring'].includes(j.state)).length;
  let free = batch.pool - busy;
  for (const job of batch.queue) {
    if (job.state !== 'queued') continue;
    if (batch.stopping) {
      job.state = 'skipped';
      drawLine(job);
      continue;
    }
    if (free <= 0) break;
    free -= 1;
    startJob(job);
  }
  if (batch.jobs.every((j) => ['done', 'failed', 'skipped'].includes(j.state))) finishBatch();
}

function startJob(job) {
  job.state = 'starting';
  job.startedAt = performance.now();
  drawLine(job);
  // The worker's messages go to the job it serves now: a worker that has scored its model
  // takes the next waiting one (see `endJob`).
  const slot = { job };
  try {
    job.worker = spawnRunWorker(
      (msg) => onMessage(slot.job, msg),
      (message) => failJob(slot.job, `its worker stopped: ${message}`),
    );
    job.slot = slot;
  } catch (e) {
    failJob(job, `its worker could not be started: ${e.message}`);
  }
}

/**
 * A waiting model takes over `worker` (with its `slot`), whose engine is ready and holds the
 * data already: no new worker to start, no data to load again.
 */
function takeOver(next, worker, slot) {
  slot.job = next;
  next.slot = slot;
  next.worker = worker;
  next.startedAt = performance.now();
  next.reusedWorker = true;
  train(next);
}

/** Sends the current data to the job's worker: the same as the page's (its bytes read again). */
async function loadData(job) {
  job.state = 'loading';
  drawLine(job);
  try {
    const { msg, transfer } = await datasetRequest(batch.dataset);
    if (job.worker) job.worker.postMessage(msg, transfer);
  } catch (e) {
    failJob(job, `the data could not be read again for its worker: ${e.message}`);
  }
}

function train(job) {
  job.state = 'training';
  job.epoch = 0;
  job.provisional = null;
  drawLine(job);
  job.worker.postMessage({ type: Msg.TRAIN, settings: job.settings, backend: 'cpu', replicate: job.seeds.replicate });
}

function onMessage(job, msg) {
  if (!job.worker) return;
  logEvent(msg.type, { model: job.model, trainAll: true, ...(msg.type === Msg.PROGRESS ? { epoch: msg.epoch } : {}) });
  switch (msg.type) {
    case Msg.READY:
      loadData(job);
      break;
    case Msg.LOADED:
      // The same data, byte for byte, or the scores could not be compared with the page's.
      if (msg.summary.sha256 !== state.summary?.sha256) {
        failJob(job, `its worker read other data (SHA-256 ${msg.summary.sha256.slice(0, 12)}… instead of ${state.summary?.sha256.slice(0, 12)}…)`);
      } else if (batch.stopping) {
        job.state = 'skipped';
        endJob(job);
      } else {
        train(job);
      }
      break;
    case Msg.STARTED:
      job.budget = msg.plan?.epochs ?? job.budget;
      job.setupSeconds ??= (performance.now() - job.startedAt) / 1000;
      drawLine(job);
      break;
    case Msg.PROGRESS:
      job.epoch = msg.epoch;
      job.budget = msg.budget;
      if (!msg.record) job.diverged = msg.diverged;
      scheduleLine(job);
      break;
    case Msg.EVALUATING:
      job.state = 'scoring';
      // Scored again after a stopped scoring: the loop's own reason stands.
      if (!job.rescoring) job.reason = msg.reason;
      job.evaluatingAt = performance.now();
      drawLine(job);
      break;
    case Msg.PROVISIONAL:
      // The engine's quick score every few epochs, as the single run's row shows it.
      job.provisional = msg;
      scheduleLine(job);
      break;
    case Msg.SCORING_STOPPED:
      // A Stop that reached the worker as scoring began: score it after all (the model is kept).
      job.rescoring = true;
      job.worker.postMessage({ type: Msg.SCORE });
      break;
    case Msg.RESULTS:
      onResults(job, msg);
      break;
    case Msg.ERROR:
      failJob(job, errorText(job, msg));
      break;
    default:
      // BACKEND and CHECKPOINT (a WebGPU run's): a CPU run's line needs neither.
      break;
  }
}

/** What failed, in words, against its model. */
function errorText(job, { stage, message, field }) {
  const label = labelOf(field);
  const setting = label ? `${label}: ` : '';
  switch (stage) {
    case Stage.INIT:
      return `its engine could not start: ${message}`;
    case Stage.LOAD:
      return `its worker could not load the data: ${message}`;
    case Stage.BACKEND:
    case Stage.START:
      return `the run could not start: ${setting}${message}`;
    case Stage.EVALUATE:
      return `scoring failed: ${message}`;
    default:
      return `training failed${job.epoch ? ` at epoch ${job.epoch + 1}` : ''}: ${message}`;
  }
}

function onResults(job, { results }) {
  const reason = job.reason;
  job.rescoring = false;
  job.trainSeconds += results.train.seconds;
  if (job.evaluatingAt !== null) job.scoringSeconds += (performance.now() - job.evaluatingAt) / 1000;
  job.evaluatingAt = null;
  const seeds = job.seeds;
  let final = results;
  if (seeds.of > 1) {
    seeds.done.push(results);
    // The next seed, on the same worker and data, unless Stop was pressed.
    if (!batch.stopping && reason !== 'stopped' && seeds.done.length < seeds.of) {
      seeds.replicate = seeds.done.length;
      train(job);
      return;
    }
    // A seed stopped part-way is left out when a finished one exists (as for a single run).
    if (reason === 'stopped' && seeds.done.length > 1) seeds.done.pop();
    try {
      final = wasm.combine_seeds(seeds.done);
    } catch (e) {
      failJob(job, `its seeds could not be combined: ${e.message}`);
      return;
    }
  }
  job.epochsTrained = final.train.epochs;
  fromWorkers.add(final);
  try {
    addRun(final);
  } catch (e) {
    failJob(job, `its scores could not be added to the scoreboard: ${e.message}`);
    return;
  }
  // The newest scores are the page's latest results, and their figures are shown.
  state.results = final;
  state.figureModel = modelOf(final);
  job.state = 'done';
  endJob(job);
  renderScoreboard();
}

function failJob(job, message) {
  if (['done', 'failed', 'skipped'].includes(job.state)) return;
  job.state = 'failed';
  job.error = message;
  endJob(job);
}

/**
 * The job is through: a waiting model takes over its worker when it was scored (the data is
 * loaded there already), else the worker is ended; then more waiting models may start.
 */
function endJob(job) {
  const { worker, slot } = job;
  job.worker = null;
  job.slot = null;
  job.endedAt = performance.now();
  drawLine(job);
  const next = worker && slot && job.state === 'done' && !batch.stopping ? batch.queue.find((j) => j.state === 'queued') : null;
  if (next) takeOver(next, worker, slot);
  else worker?.terminate();
  fillPool();
  if (!batch.endedAt) setStatus(overallText());
}

/** Where Train all stands, in a sentence: how many are through, and which still train. */
function overallText() {
  const through = batch.jobs.filter((j) => ['done', 'failed', 'skipped'].includes(j.state)).length;
  const going = batch.jobs.filter((j) => ['starting', 'loading', 'training', 'scoring'].includes(j.state)).map((j) => modelLabel(j.model));
  const failed = batch.jobs.filter((j) => j.state === 'failed').length;
  const verb = batch.stopping ? 'stopping' : 'still training';
  return `Train all: ${through} of ${batch.jobs.length} models through${failed ? ` (${failed} failed)` : ''}; ${listText(going)} ${verb}…`;
}

/** Stop: every model in training stops after its epoch and is scored; waiting ones do not start. */
export function stopTrainAll() {
  if (state.phase !== 'training-all' || !batch) return;
  batch.stopping = true;
  state.phase = 'stopping-all';
  syncControls();
  setStatus('Stopping every model after its current epoch; each is scored as trained so far…');
  for (const job of batch.jobs) {
    // A model being scored is left to finish: STOP would stop its scoring.
    if (job.state === 'training') job.worker.postMessage({ type: Msg.STOP });
  }
  fillPool();
}

/** The sum of the models' own training and scoring seconds. */
function ownSeconds() {
  return batch.jobs.reduce((n, j) => n + j.trainSeconds + j.scoringSeconds, 0);
}

function finishBatch() {
  if (batch.endedAt) return;
  batch.endedAt = performance.now();
  const wall = (batch.endedAt - batch.startedAt) / 1000;
  const scored = batch.jobs.filter((j) => j.state === 'done');
  const failed = batch.jobs.filter((j) => j.state === 'failed');
  const skipped = batch.jobs.filter((j) => j.state === 'skipped');
  const own = ownSeconds();
  const parts = [`Train all took ${fmtDuration(wall)} (wall clock) for ${scored.length} of ${batch.jobs.length} model${batch.jobs.length === 1 ? '' : 's'} scored.`];
  if (scored.length > 1) {
    // Honest about what is known: the page never ran them one after another.
    parts.push(
      `Their own training and scoring times add up to ${fmtDuration(own)}, about what one after another would take (${(own / wall).toFixed(1)}× the wall clock), if each runs as fast alone as it did beside the others.`,
    );
  }
  if (failed.length) parts.push(`${listText(failed.map((j) => modelLabel(j.model)))} failed: see ${failed.length === 1 ? 'its line' : 'their lines'} under Run.`);
  if (skipped.length) parts.push(`${listText(skipped.map((j) => modelLabel(j.model)))} ${skipped.length === 1 ? 'was' : 'were'} not trained (stopped before ${skipped.length === 1 ? 'it' : 'they'} started).`);
  const text = parts.join(' ');
  $('train-all-status').textContent = text;
  $('train-all-status').hidden = false;
  logEvent('train-all-done', { wallSeconds: wall, ownSeconds: own });
  // (The page's own engine may be restarting meanwhile: it sets the phase when it is back.)
  if (state.phase === 'training-all' || state.phase === 'stopping-all') state.phase = 'idle';
  syncControls();
  setStatus(scored.length ? `${text} Scores are below.` : text, failed.length && !scored.length ? 'error' : 'done');
  if (failed.length) showMessage('run-error', `Train all: ${failed.map((j) => `${modelLabel(j.model)} failed, ${j.error}`).join('; ')}.`);
  if (!comparedRun(state.figureModel) && scored.length) state.figureModel = scored.at(-1).model;
  renderScoreboard({ stale: !scored.length });
  schedulePreview();
}

// ---------------------------------------------------------------------------------------------
// The lines

function renderList() {
  const list = $('train-all-list');
  list.replaceChildren(
    ...batch.jobs.map((job) => {
      const bar = el('progress', { max: 1, value: 0, 'aria-label': `${modelLabel(job.model)}: epochs trained` });
      const text = el('span', { class: 'train-all-text' });
      job.line = { li: el('li', { 'data-model': job.model, 'data-testid': `train-all-line-${job.model}` }, el('span', { class: 'train-all-name', text: modelLabel(job.model) }), bar, text), bar, text };
      drawLine(job);
      return job.line.li;
    }),
  );
  list.hidden = false;
  $('train-all-status').hidden = true;
  $('train-all-status').textContent = '';
}

function scheduleLine(job) {
  if (job.lineTimer) return;
  job.lineTimer = setTimeout(() => {
    job.lineTimer = null;
    drawLine(job);
  }, LINE_INTERVAL_MS);
}

function lineText(job) {
  const seed = job.seeds.of > 1 ? `seed ${Math.min(job.seeds.done.length + 1, job.seeds.of)} of ${job.seeds.of} · ` : '';
  const pv = job.provisional;
  const provisional = pv && pv.mean_shift_r !== null && job.state === 'training' ? ` · provisional r ≈ ${fmtNum(pv.mean_shift_r)} (epoch ${pv.epoch})` : '';
  const epochs = job.budget ? `epoch ${job.epoch} / ${job.budget}${provisional}` : '';
  switch (job.state) {
    case 'queued':
      return 'waiting for a free worker';
    case 'starting':
      return 'starting its worker…';
    case 'loading':
      return 'loading the data…';
    case 'training':
      return `${seed}${epochs || 'starting…'}${batch.stopping ? ' · stopping…' : ''}`;
    case 'scoring':
      return `${seed}${epochs} · scoring…`;
    case 'done': {
      const how = job.reason === 'stopped' ? 'stopped, scored' : job.reason === 'diverged' ? 'diverged, scored' : 'done';
      return `${how}: ${job.epochsTrained} epoch${job.epochsTrained === 1 ? '' : 's'} · trained ${fmtDuration(job.trainSeconds)}, scored ${fmtDuration(job.scoringSeconds)}`;
    }
    case 'skipped':
      return 'not trained (stopped before it started)';
    case 'failed':
      return `failed: ${job.error}`;
    default:
      return job.state;
  }
}

function drawLine(job) {
  if (!job.line) return;
  clearTimeout(job.lineTimer);
  job.lineTimer = null;
  const { li, bar, text } = job.line;
  li.dataset.state = job.state;
  bar.max = job.budget || 1;
  bar.value = job.state === 'done' ? bar.max : Math.min(job.epoch, bar.max);
  text.textContent = lineText(job);
}
