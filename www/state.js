// The page's shared state: the phase, the settings schema, the loaded data, the run and its
// latest results. Also which controls each phase enables. (The engine keeps the run's progress,
// the live curves and the compared runs.)

import { $ } from './dom.js';

export const state = {
  /**
   * `booting` | `idle` | `loading` | `training` | `stopping` | `evaluating` | `recovering` |
   * `failed`, or `training-all` | `stopping-all` while Train all runs its models in workers of
   * their own (trainall.js; the page's own worker then stays idle).
   */
  phase: 'booting',
  /** The engine's settings schema: every setting, in order (see `settings_schema`). */
  schema: [],
  /** The datasets that ship with the page (see `bundled_datasets`). */
  datasets: [],
  summary: null,
  /**
   * The current data: `{kind: 'sample', seed}`, `{kind: 'file', file, name, options, sha256}` or
   * `{kind: 'bundled', name, title, description, citation, file, options, sha256}`.
   */
  dataset: null,
  /** The last file chosen, loaded or not, for "reload with these options". */
  lastFile: null,
  /** A file a shared link asks for: `{name, sha256}`. */
  expectedFile: null,
  /** The name of a bundled dataset a shared link asks for, until data is loaded. */
  wantedDataset: null,
  autorun: false,
  /** The lesson a link opened (its number) and the rooms or settings the link hides (lessons.js). */
  lesson: null,
  hide: [],
  /** Holdout choices waiting for data to offer them (from a link): `{conditions, covariate, level}`. */
  pendingHoldout: null,
  /** The run in progress or last run: `{settings, pref, backend, plan, lastValLoss}`. */
  run: null,
  sessionAlive: false,
  /** True when the last run's scoring was stopped: its model waits to be scored (Score). */
  scoreStopped: false,
  /** The engine's last report on the run: `{epoch, budget, done, seconds}`. */
  progress: null,
  /** The latest results (the run just scored). */
  results: null,
  /** The model whose figures are shown. */
  figureModel: null,
  backendInfo: null,
  /** For the ETA: the engine's training seconds at the last report and per epoch (smoothed). */
  timing: { lastSeconds: 0, perEpoch: null, epochsInSegment: 0 },
  events: [],
};

export function logEvent(type, detail) {
  state.events.push({ type, t: performance.now(), ...(detail ?? {}) });
  if (state.events.length > 2000) state.events.splice(0, 500);
}

/** Enables the buttons the current phase allows. */
export function syncControls() {
  const p = state.phase;
  const idle = p === 'idle';
  const running = p === 'training' || p === 'stopping' || p === 'evaluating';
  $('train').disabled = !(idle && state.summary);
  // Train all needs data and at least one model ticked; its Stop is the same button.
  const ticked = document.querySelectorAll('#train-all-models input:checked').length;
  if ($('train-all')) $('train-all').disabled = !(idle && state.summary && ticked);
  for (const box of document.querySelectorAll('#train-all-models input')) box.disabled = !idle;
  $('stop').disabled = p !== 'training' && p !== 'evaluating' && p !== 'training-all';
  // Resume trains one model further: not a run of several seeds, whose scores are their means.
  $('resume').disabled = !(idle && state.sessionAlive && !(state.run?.seeds?.of > 1));
  $('score').disabled = !(idle && state.sessionAlive && state.scoreStopped);
  $('score').hidden = !state.scoreStopped;
  $('load-sample').disabled = !idle && p !== 'failed';
  for (const b of document.querySelectorAll('[data-dataset]')) b.disabled = !idle && p !== 'failed';
  $('file-input').disabled = !idle;
  // Sessions (session.js): saved from compared runs, opened between runs.
  if ($('save-session')) $('save-session').disabled = !(idle && state.results);
  if ($('session-input')) $('session-input').disabled = !idle;
  $('reload-file').disabled = !(idle && state.lastFile);
  $('drop-zone').classList.toggle('is-disabled', !idle);
  $('train').textContent = running ? 'Training…' : 'Train';
  if ($('train-all')) $('train-all').textContent = p === 'training-all' || p === 'stopping-all' ? 'Training all…' : 'Train all';
  for (const b of document.querySelectorAll('.downloads .btn, [data-download-panel]')) b.disabled = !state.results || !idle;
  // The masks panel has a heatmap to download only for a model with masks.
  const masksButton = document.querySelector('[data-download-panel="masks"]');
  if (masksButton && $('masks-figure').dataset.state !== 'drawn') masksButton.disabled = true;
  document.body.dataset.phase = p;
}
