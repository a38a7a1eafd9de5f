// The page's entry point: loads the engine, builds the settings form from its schema, lists the
// bundled datasets, restores settings from a link, loads the data, wires the controls to the
// modules that act on them, restarts a crashed engine, and exposes hooks for the end-to-end
// tests. The engine trains in worker.js; this thread draws and keeps the page responsive.

import { $, el, setStatus, showMessage } from './dom.js';
import { initBundled, loadBundled } from './bundled.js';
import { abandonWorker, loadEngine, post, spawnWorker, wasm } from './engine.js';
import { comparedRuns, initComparison, shownResults } from './comparison.js';
import { downloadFigure, downloadJson, downloadPredictions, downloadScoreboard, downloadScores } from './figures.js';
import { buildForm, syncChoiceHints, syncHoldoutBoxes, syncModelFields } from './form.js';
import { DEFAULT_SAMPLE_SEED, applyLink, linkParams, linkText, pageUrl, shareLink, updateLink } from './link.js';
import { fillLevels, loadFile, loadSample, loadingGuard, reloadDataset } from './data.js';
import { initGlossary } from './glossary.js';
import { initSessions } from './session.js';
import { openLesson } from './lessons.js';
import { drawLiveChart, initLiveCurves, liveEpochs, onBackend, onProgress, onStarted } from './live.js';
import { modelOf } from './models.js';
import { initPreview, onPreviewed, previewState, resetPreview } from './preview.js';
import { Msg } from './protocol.js';
import { onEvaluating, onProvisional, onResults, onRunError, onRunProgress, onScoringStopped, resumeTraining, scoreAgain, startLinkedRun, startTraining, stopTraining } from './run.js';
import { clearResults, redrawFigures, showFiguresOf } from './scoreboard.js';
import { initTrainAll, startTrainAll, stopTrainAll, trainAllState } from './trainall.js';
import { validateForm } from './settings.js';
import { state, syncControls } from './state.js';

/** What the page does with each message from the worker (READY and LOADED answer requests). */
const workerHandlers = {
  [Msg.BACKEND]: (msg) => onBackend(msg.info),
  [Msg.STARTED]: (msg) => {
    onStarted(msg);
    watchGpuRun();
  },
  [Msg.PROGRESS]: (msg) => {
    onProgress(msg);
    onRunProgress(msg);
    watchGpuRun();
  },
  [Msg.PROVISIONAL]: onProvisional,
  [Msg.CHECKPOINT]: ({ bytes, epoch, seconds }) => {
    if (state.run) state.run.checkpoint = { bytes, epoch, seconds };
  },
  [Msg.EVALUATING]: (msg) => {
    onEvaluating(msg);
    watchGpuRun();
  },
  [Msg.RESULTS]: onResults,
  [Msg.SCORING_STOPPED]: onScoringStopped,
  [Msg.ERROR]: onRunError,
  [Msg.PREVIEWED]: onPreviewed,
};

const startWorker = () => spawnWorker(workerHandlers, onEngineCrash);

/**
 * A WebGPU epoch that takes `factor` times longer than the slowest so far is taken for a hang,
 * and never less than `minMs` (the first epoch also compiles the GPU kernels). Tests shorten it.
 */
const hangLimit = { factor: 10, minMs: 120_000 };
let hangTimer = null;
let slowestEpochMs = 0;
let lastReport = 0;

/**
 * The watchdog of a WebGPU run: each report re-arms it; when a step does not come back in time
 * the worker is ended as crashed, and the run goes on on the CPU from its last checkpoint.
 */
function watchGpuRun() {
  clearTimeout(hangTimer);
  hangTimer = null;
  const now = performance.now();
  if (state.phase !== 'training' && state.phase !== 'stopping') {
    slowestEpochMs = 0;
    lastReport = 0;
    return;
  }
  if (state.backendInfo?.backend !== 'webgpu') return;
  if (lastReport) slowestEpochMs = Math.max(slowestEpochMs, now - lastReport);
  lastReport = now;
  armWatchdog();
}

/** (Re)arms the watchdog, counting from the last report. */
function armWatchdog() {
  clearTimeout(hangTimer);
  hangTimer = null;
  if (!lastReport) return;
  const limit = Math.max(hangLimit.minMs, hangLimit.factor * slowestEpochMs);
  const due = Math.max(0, lastReport + limit - performance.now());
  hangTimer = setTimeout(() => onEngineCrash(`a training step on WebGPU did not come back within ${Math.round(limit / 1000)} s`), due);
}

/** The engine is gone (wasm panic, trap, worker error): start a fresh one and recover. */
async function onEngineCrash(message) {
  if (state.phase === 'recovering') return;
  const wasPhase = state.phase;
  const run = state.run;
  const onGpu = run && (run.backend === 'webgpu' || (!run.backend && run.pref !== 'cpu'));
  const training = ['training', 'stopping', 'evaluating'].includes(wasPhase);
  state.phase = 'recovering';
  state.sessionAlive = false;
  watchGpuRun();
  syncControls();
  abandonWorker(message);
  showMessage('run-error', `The engine crashed: ${message}`);
  setStatus('The engine crashed; restarting it…', 'error');
  try {
    await startWorker();
    if (state.dataset) await reloadDataset();
    resetPreview();
  } catch (e) {
    state.phase = 'failed';
    setStatus(`The engine could not be restarted: ${e.message}. Reload the page.`, 'error');
    syncControls();
    return;
  }
  // Train all's workers are not this engine's: if they are still at it, so is the page.
  state.phase = ['training-all', 'stopping-all'].includes(wasPhase) && trainAllState()?.running ? wasPhase : 'idle';
  syncControls();
  if (training && onGpu) {
    $('backend').value = 'cpu';
    updateLink();
    const checkpoint = run.checkpoint ?? null;
    const sentence = checkpoint
      ? `The WebGPU run failed: the GPU was lost, stopped answering or its engine crashed. It goes on on the CPU backend from epoch ${checkpoint.epoch}, the last one the GPU finished.`
      : 'The WebGPU run failed: the GPU was lost, stopped answering or its engine crashed. It was restarted on the CPU backend with the same settings.';
    // Going on from a checkpoint, nothing is lost: the notice says what happened.
    if (checkpoint) showMessage('run-error', null);
    showMessage(
      'backend-notice',
      el('div', {}, el('p', { text: sentence }), el('details', {}, el('summary', { text: 'What the engine said' }), el('pre', { class: 'notice-detail', text: message }))),
    );
    startTraining({ backendOverride: 'cpu', fallback: true, checkpoint });
  } else {
    setStatus('The engine was restarted; the data is loaded again. Adjust the settings and train again.', 'error');
  }
}

/** Wires the page's controls to what they do. */
function bindEvents() {
  $('load-sample').addEventListener('click', () => loadSample());
  $('file-input').addEventListener('change', (e) => {
    const files = [...(e.target.files ?? [])];
    e.target.value = '';
    loadFile(files);
  });
  $('reload-file').addEventListener('click', () => loadFile(state.lastFile, { reload: true }));

  const zone = $('drop-zone');
  const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');
  zone.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    zone.classList.add('is-over');
  });
  zone.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = loadingGuard() ? 'copy' : 'none';
  });
  zone.addEventListener('dragleave', (e) => {
    if (!zone.contains(e.relatedTarget)) zone.classList.remove('is-over');
  });
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('is-over');
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length) loadFile(files);
  });
  // A file dropped beside the zone must not navigate away from the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());

  $('train').addEventListener('click', () => startTraining());
  $('train-all').addEventListener('click', () => startTrainAll());
  // One Stop: during Train all it stops every model.
  $('stop').addEventListener('click', () => (state.phase === 'training-all' ? stopTrainAll() : stopTraining()));
  $('resume').addEventListener('click', () => resumeTraining());
  $('score').addEventListener('click', () => scoreAgain());
  $('holdout-kind').addEventListener('change', syncHoldoutBoxes);
  // The fields are built later, from the engine's schema: their events are caught on the form.
  $('settings').addEventListener('change', (e) => {
    if (e.target.id === 'model') syncModelFields();
    else syncChoiceHints();
  });
  // The engine's rules are checked as soon as a setting changes, beside the setting.
  for (const id of ['settings', 'condition-column', 'control-label', 'covariates']) {
    $(id).addEventListener('change', () => {
      if (state.phase !== 'booting') validateForm();
    });
  }
  $('holdout-covariate').addEventListener('change', () => fillLevels(''));
  initPreview();
  initSessions();
  $('settings').addEventListener('submit', (e) => e.preventDefault());
  for (const id of ['settings', 'sample-seed', 'condition-column', 'control-label', 'covariates']) {
    $(id).addEventListener('input', updateLink);
    $(id).addEventListener('change', updateLink);
  }

  $('copy-link').addEventListener('click', async () => {
    const link = shareLink();
    $('share-link').value = link;
    try {
      await navigator.clipboard.writeText(link);
      setStatus('Link copied to the clipboard.');
    } catch {
      $('share-link').select();
      setStatus('Select and copy the link from the box (the clipboard is not available here).');
    }
  });
  $('share-link').addEventListener('focus', (e) => e.target.select());

  for (const btn of document.querySelectorAll('[data-download-panel]')) btn.addEventListener('click', () => downloadFigure(btn.dataset.downloadPanel));
  // results.json and config.json are the shown model's run; scores.csv and scoreboard.png hold
  // every compared model.
  $('download-results').addEventListener('click', () => state.results && downloadJson(shownResults(), 'results.json'));
  $('download-config').addEventListener('click', () => state.results && downloadJson(shownResults().config, 'config.json'));
  $('download-scores').addEventListener('click', downloadScores);
  $('download-scoreboard').addEventListener('click', downloadScoreboard);
  $('download-h5ad').addEventListener('click', downloadPredictions);
  $('figure-model').addEventListener('change', (e) => showFiguresOf(e.target.value));

  let resizeQueued = false;
  const observer = new ResizeObserver(() => {
    if (resizeQueued) return;
    resizeQueued = true;
    requestAnimationFrame(() => {
      resizeQueued = false;
      drawLiveChart();
      if (state.results && ['ready', 'drawing'].includes($('scoreboard').dataset.state)) {
        $('scoreboard').dataset.state = 'drawing';
        redrawFigures();
      }
    });
  });
  observer.observe($('live-curves'));
  observer.observe($('fig-shift'));
}

/** `window.__cellshift`: state the end-to-end tests read, and a fault drill. */
function exposeForTests() {
  window.__cellshift = {
    get results() {
      return state.results;
    },
    get summary() {
      return state.summary;
    },
    /** The number of epochs on the live loss chart. */
    get liveEpochs() {
      return liveEpochs();
    },
    /** The engine's settings schema, as the form was built from it. */
    get schema() {
      return state.schema;
    },
    get backend() {
      return state.backendInfo;
    },
    get phase() {
      return state.phase;
    },
    /** The settings of the run in progress or the last run (the object the engine started). */
    get runConfig() {
      return state.run?.settings ?? null;
    },
    /** The models on the scoreboard (page order) and the one whose figures are shown. */
    get comparison() {
      return { models: comparedRuns().map(modelOf), figures: state.figureModel };
    },
    get events() {
      return state.events;
    },
    /** The baselines scored before training: `{key, results, ms, error, shownAt, scoring}`. */
    get preview() {
      return previewState();
    },
    /** Train all: each model's state, epochs and times, and its wall clock (null before one). */
    get trainAll() {
      return trainAllState();
    },
    /** The current data's kind and name (`sample`, `file` or `bundled`). */
    get dataset() {
      const d = state.dataset;
      return d && { kind: d.kind, name: d.name ?? null };
    },
    shareLink,
    /** Loads a File (or a stand-in with `name`, `size` and `arrayBuffer`) as if it were chosen. */
    loadFile,
    /**
     * Fault drill: the next training step fails the way a crashed engine does (`crash`), never
     * comes back (`hang`), or the WebGPU device is destroyed under the engine (`device-lost`).
     */
    injectFault(kind = 'crash') {
      post({ type: Msg.FAULT, kind });
    },
    /** Shortens the WebGPU watchdog for a drill: `{factor, minMs}`. */
    setHangLimit(limit) {
      Object.assign(hangLimit, limit);
      armWatchdog();
    },
  };
}

async function boot() {
  exposeForTests();
  initGlossary();
  bindEvents();
  syncControls();
  clearResults();
  if (typeof WebAssembly !== 'object') {
    setStatus('This browser cannot run WebAssembly, which cellshift needs.', 'error');
    state.phase = 'failed';
    return;
  }
  try {
    await loadEngine();
    state.schema = wasm.settings_schema();
    state.datasets = wasm.bundled_datasets();
    buildForm();
    initTrainAll();
    initBundled();
    initLiveCurves();
    initComparison();
    await startWorker();
  } catch (e) {
    state.phase = 'failed';
    setStatus(`The engine could not be loaded: ${e.message}. Build it with scripts/build-wasm.sh and serve the repository root.`, 'error');
    syncControls();
    return;
  }
  // A lesson link (`lesson=`, `hide=`) opens as its preset with the link's own settings over it.
  const wanted = applyLink(openLesson(location.hash)) ?? { kind: 'sample', seed: DEFAULT_SAMPLE_SEED };
  state.phase = 'idle';
  syncControls();
  drawLiveChart();

  if (wanted.kind === 'file') {
    state.expectedFile = { name: wanted.name, sha256: wanted.sha256 };
    updateLink();
    showMessage(
      'file-request',
      el(
        'div',
        { 'data-testid': 'file-request-text' },
        el('p', { class: 'message-title' }, 'This link was made with the file ', el('code', { text: wanted.name }), '.'),
        el('p', { class: 'message-body', text: `Choose or drop that file under Data to ${state.autorun ? 'reproduce the run' : 'load it'}; its SHA-256 must be ${wanted.sha256 || '(missing from the link)'}. The file is read here and never uploaded.` }),
      ),
    );
    setStatus(`Waiting for ${wanted.name}: the shared settings are restored.`);
    return;
  }
  let loaded;
  if (wanted.kind === 'bundled' && wanted.dataset) {
    state.wantedDataset = wanted.name;
    updateLink();
    loaded = await loadBundled(wanted.name, { fromLink: true });
  } else {
    loaded = await loadSample();
    if (wanted.kind === 'bundled') {
      state.autorun = false;
      const names = state.datasets.map((d) => d.name).join(', ');
      showMessage('load-error', `This link asks for the dataset “${wanted.name}”, which this page does not ship (it has: ${names || 'none'}). The sample dataset was loaded instead, and nothing was trained.`);
    }
  }
  if (loaded && state.autorun) {
    state.autorun = false;
    history.replaceState(null, '', `${pageUrl()}#${linkText(linkParams())}`);
    startLinkedRun();
  }
}

boot();
