// The live panel during a run: the backend in use, the progress bar and epoch statistics with
// an ETA, and the loss chart. The engine reports each epoch and keeps the chart's curves (a
// LiveCurves); the statistics and the chart are redrawn together, spaced out while epochs
// arrive, and the end of a run always gets its own draw.

import { liveRecord, liveReset, renderLiveTable } from './charttables.js';
import { $, clearCanvas, el, fmtDuration, fmtInt, fmtNum, setStatus, showMessage, sizeCanvas } from './dom.js';
import { wasm } from './engine.js';
import { showNotes } from './settings.js';
import { state } from './state.js';

/** The loss curves of the run in progress, kept by the engine. */
let curves = null;

/** Creates the live curves once the engine's module is loaded. */
export function initLiveCurves() {
  curves = new wasm.LiveCurves();
  warmChartCode();
}

/**
 * Draws a throwaway loss chart off-screen once the page is idle. The engine's drawing code is
 * compiled on its first use, so a run's first chart otherwise took about 0.1 s just as training
 * began (later draws take a few milliseconds), and the page stopped answering for that long.
 */
function warmChartCode() {
  const whenIdle = self.requestIdleCallback ?? ((f) => setTimeout(f, 500));
  whenIdle(() => {
    const warm = new wasm.LiveCurves();
    try {
      for (let epoch = 1; epoch <= 3; epoch++) {
        warm.push({ epoch, beta: 1, train: { loss: 3 / epoch, recon: 2 / epoch, kl: 1 / epoch }, val: { loss: 4 / epoch } });
      }
      const canvas = document.createElement('canvas');
      canvas.width = 480;
      canvas.height = 240;
      warm.draw(canvas, 1);
    } catch (e) {
      console.warn('warming the loss chart up failed', e);
    } finally {
      warm.free();
    }
  });
}

/** How many epochs the live chart shows. */
export const liveEpochs = () => curves?.len() ?? 0;

/**
 * While a run reports epochs, a live-chart draw waits this many milliseconds after the last one,
 * or this many times the last draw's own duration if that is longer (a long history costs more
 * to draw, and drawing should not take most of this thread's time).
 */
const CHART_INTERVAL_MS = 250;
const CHART_COST_FACTOR = 4;

/** The device the run uses (BACKEND). */
export function onBackend(info) {
  state.backendInfo = info;
  if (state.run) state.run.backend = info.backend;
  $('backend-name').textContent = info.backend === 'webgpu' ? 'WebGPU' : 'CPU (WebAssembly)';
  $('backend-name').dataset.backend = info.backend;
  const a = info.adapter;
  $('adapter-info').textContent = a ? `${a.name || 'unnamed adapter'}${a.vendor ? ` · vendor ${a.vendor}` : ''}${a.device_type ? ` · ${a.device_type}` : ''}${a.backend ? ` · ${a.backend}` : ''}${a.driver ? ` · ${a.driver}` : ''}` : '';
  $('adapter-info').title = a ? Object.entries(a).map(([k, v]) => `${k}: ${v}`).join('\n') : '';
  if (info.notice) showMessage('backend-notice', backendNotice(info));
  if (state.run?.pref === 'auto' && info.backend === 'webgpu' && !info.race) setStatus('Timing a few training steps on WebGPU and on the CPU, to train on the faster…');
  const r = info.race;
  $('backend-race').textContent = r ? `auto: a step took ${r.webgpu_ms.toFixed(1)} ms on WebGPU, ${r.cpu_ms.toFixed(1)} ms on the CPU` : '';
}

/** Why the backend differs from the one asked for: a sentence, and the graphics stack's own words behind a disclosure. */
function backendNotice({ notice, detail }) {
  const box = el('div', { class: 'notice-body' }, el('p', { 'data-testid': 'backend-notice-text', text: notice }));
  if (detail) {
    box.append(el('details', { class: 'notice-detail', 'data-testid': 'backend-notice-detail' }, el('summary', { text: 'Technical detail' }), el('pre', { text: detail })));
  }
  return box;
}

/** Empties the progress bar, the statistics and the chart for a new run. */
export function resetProgress() {
  $('progress').value = 0;
  $('progress').max = 1;
  $('progress-text').textContent = '0 / 0';
  for (const id of ['stat-epoch', 'stat-eta', 'stat-loss', 'stat-recon', 'stat-kl', 'stat-beta', 'stat-val']) $(id).textContent = '—';
  state.progress = null;
  pendingStats = null;
  curves?.clear();
  liveReset();
  redrawLiveChart();
}

/** The epoch loop begins, for a new run or a resumed one (STARTED). */
export function onStarted({ plan, progress, restored }) {
  if (plan && restored) {
    // A run going on from a checkpoint: its epochs so far are drawn again.
    state.run.plan = plan;
    state.progress = { epoch: restored.epoch, budget: restored.budget, done: restored.done, seconds: restored.seconds };
    state.sessionAlive = true;
    for (const record of restored.history) {
      curves.push(record);
      liveRecord(record);
    }
    redrawLiveChart();
    setStatus(`Going on from epoch ${restored.epoch + 1} on ${state.backendInfo?.backend === 'webgpu' ? 'WebGPU' : 'the CPU'} (up to epoch ${restored.budget}).`);
  } else if (plan) {
    state.run.plan = plan;
    state.progress = { epoch: 0, budget: plan.epochs, done: false, seconds: 0 };
    state.sessionAlive = true;
    $('stat-split').textContent = `${fmtInt(plan.train_cells)} train · ${fmtInt(plan.val_cells)} val · ${fmtInt(plan.test_cells)} test cells · ${fmtInt(plan.genes)} genes`;
    showNotes(plan.notes);
    const seed = plan.seeds > 1 ? ` Seed ${plan.replicate + 1} of ${plan.seeds} (model seed ${plan.model_seed}, same split).` : '';
    setStatus(`Training on ${state.backendInfo?.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}: ${plan.epochs} epochs at most.${seed}${state.backendInfo?.backend === 'webgpu' ? ' The first epoch also compiles the GPU kernels.' : ''}`);
  } else {
    state.progress = progress;
    setStatus(`Resuming from epoch ${progress.epoch + 1} (up to epoch ${progress.budget}).`);
  }
  state.timing = { lastSeconds: state.progress.seconds, perEpoch: null, epochsInSegment: 0 };
  $('progress').max = state.progress.budget;
}

/** One epoch finished, as the engine reports it (PROGRESS). */
export function onProgress({ record, diverged, epoch, budget, done, seconds }) {
  state.progress = { epoch, budget, done, seconds };
  // The loss was not finite: the engine undid the epoch and ends the run; there is no record.
  if (!record) {
    setStatus(`Training diverged: ${diverged}. Scoring that model…`, 'error');
    return;
  }
  curves.push(record);
  liveRecord(record);
  // The engine's clock: the time spent in this epoch's training step.
  const dt = seconds - state.timing.lastSeconds;
  state.timing.lastSeconds = seconds;
  state.timing.epochsInSegment += 1;
  // The first epoch of a segment may include kernel compilation: let later epochs dominate.
  if (state.timing.perEpoch === null) state.timing.perEpoch = dt;
  else state.timing.perEpoch = state.timing.epochsInSegment === 2 ? dt : 0.7 * state.timing.perEpoch + 0.3 * dt;
  const remaining = Math.max(0, budget - epoch);
  const val = record.val && 'loss' in record.val ? fmtNum(record.val.loss) : '—';
  pendingStats = {
    budget,
    epoch,
    eta: done ? 'done' : fmtDuration(state.timing.perEpoch * remaining),
    loss: fmtNum(record.train.loss),
    recon: fmtNum(record.train.recon),
    kl: fmtNum(record.train.kl),
    beta: fmtNum(record.beta, 2),
    val,
    status: state.phase === 'training' ? `Epoch ${epoch} of ${budget}: train loss ${fmtNum(record.train.loss)}, validation loss ${fmtNum(record.val?.loss)}.` : null,
  };
  if (done) {
    showStats();
    redrawLiveChart();
  } else scheduleLiveChart();
}

/**
 * The latest epoch's figures, not yet on the page. They are shown with the chart's next draw, a
 * few times a second at most: a short epoch (a cVAE's takes under 0.1 s) made the page lay itself
 * out a dozen times a second, and on two cores that took time from the training worker.
 */
let pendingStats = null;

function showStats() {
  const s = pendingStats;
  if (!s) return;
  pendingStats = null;
  $('progress').max = s.budget;
  $('progress').value = s.epoch;
  $('progress-text').textContent = `${s.epoch} / ${s.budget}`;
  $('stat-epoch').textContent = String(s.epoch);
  $('stat-eta').textContent = s.eta;
  $('stat-loss').textContent = s.loss;
  $('stat-recon').textContent = s.recon;
  $('stat-kl').textContent = s.kl;
  $('stat-beta').textContent = s.beta;
  $('stat-val').textContent = s.val;
  if (s.status && state.phase === 'training') setStatus(s.status);
}

let chartFrameQueued = false;
let chartTimer = null;
/** When the last draw ended, and how long it took (ms). */
let lastChartEnd = -Infinity;
let lastChartCost = 0;

/** Redraws the loss chart once the wait after the last draw is over. */
function scheduleLiveChart() {
  if (chartFrameQueued || chartTimer !== null) return;
  const wait = lastChartEnd + Math.max(CHART_INTERVAL_MS, CHART_COST_FACTOR * lastChartCost) - performance.now();
  if (wait <= 0) {
    queueChartFrame();
    return;
  }
  chartTimer = setTimeout(() => {
    chartTimer = null;
    queueChartFrame();
  }, wait);
}

/** Redraws the loss chart at the next frame, without waiting (the run ended or was reset). */
export function redrawLiveChart() {
  clearTimeout(chartTimer);
  chartTimer = null;
  queueChartFrame();
}

function queueChartFrame() {
  if (chartFrameQueued) return;
  chartFrameQueued = true;
  requestAnimationFrame(() => {
    chartFrameQueued = false;
    drawLiveChart();
  });
}

/** Train and validation loss per epoch so far, drawn by the engine. */
export function drawLiveChart() {
  showStats();
  const start = performance.now();
  const canvas = $('live-curves');
  if (!curves?.len()) {
    clearCanvas(canvas);
  } else {
    const dpr = sizeCanvas(canvas);
    try {
      curves.draw(canvas, dpr);
    } catch (e) {
      console.error('drawing the loss chart failed', e);
    }
  }
  lastChartEnd = performance.now();
  lastChartCost = lastChartEnd - start;
  renderLiveTable();
}
