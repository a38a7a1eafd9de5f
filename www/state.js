// The page's shared state: the phase, the loaded data, the run and its results, and the
// comparison of runs. Also which controls each phase enables.

import { $ } from './dom.js';

export const state = {
  /** `booting` | `idle` | `loading` | `training` | `stopping` | `evaluating` | `recovering` | `failed` */
  phase: 'booting',
  defaults: null,
  summary: null,
  /** The current data: `{kind: 'sample', seed}` or `{kind: 'file', file, name, options, sha256}`. */
  dataset: null,
  /** The last file chosen, loaded or not, for "reload with these options". */
  lastFile: null,
  /** A file a shared link asks for: `{name, sha256}`. */
  expectedFile: null,
  autorun: false,
  /** Holdout choices waiting for data to offer them (from a link). */
  pendingHoldout: null,
  /** The run in progress or last run: `{config, pref, backend, plan}`. */
  run: null,
  sessionAlive: false,
  history: [],
  budget: 0,
  /** The latest results (the run just scored). */
  results: null,
  /**
   * Models compared on one data set and split: `key` identifies them (see `splitIdentity`),
   * `runs` maps a model name to its latest results.
   */
  comparison: { key: null, identity: null, runs: new Map() },
  /** The model whose figures are shown. */
  figureModel: null,
  backendInfo: null,
  timing: { segmentStart: 0, lastAt: 0, perEpoch: null, epochsInSegment: 0 },
  events: [],
};

export function logEvent(type, detail) {
  state.events.push({ type, t: performance.now(), ...(detail ?? {}) });
  if (state.events.length > 2000) state.events.splice(0, 500);
}

/** The results whose figures are shown. */
export function shownResults() {
  return state.comparison.runs.get(state.figureModel) ?? state.results;
}

/** Enables the buttons the current phase allows. */
export function syncControls() {
  const p = state.phase;
  const idle = p === 'idle';
  const running = p === 'training' || p === 'stopping' || p === 'evaluating';
  $('train').disabled = !(idle && state.summary);
  $('stop').disabled = p !== 'training';
  $('resume').disabled = !(idle && state.sessionAlive);
  $('load-sample').disabled = !idle && p !== 'failed';
  $('file-input').disabled = !idle;
  $('reload-file').disabled = !(idle && state.lastFile);
  $('drop-zone').classList.toggle('is-disabled', !idle);
  $('train').textContent = running ? 'Training…' : 'Train';
  for (const b of document.querySelectorAll('.downloads .btn, [data-download-panel]')) b.disabled = !state.results || !idle;
  const masksButton = document.querySelector('[data-download-panel="masks"]');
  if (masksButton && !shownResults()?.figures?.masks) masksButton.disabled = true;
  document.body.dataset.phase = p;
}
