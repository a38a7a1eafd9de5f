// The baselines before anything is trained: as soon as data is loaded, and whenever a setting
// that changes the held-out cells or the panel changes (debounced), the engine scores the
// baselines on that split (`Engine::preview`, in the worker) and the scoreboard shows them. A
// preview never holds up a run: the worker takes a Train click first and fits a preview between
// two epochs. Which split a result belongs to is its key: the data's SHA-256 and every data and
// split setting.

import { $ } from './dom.js';
import { post } from './engine.js';
import { comparedRuns, mergedResults } from './comparison.js';
import { Msg } from './protocol.js';
import { renderScoreboard } from './scoreboard.js';
import { readSettings } from './settings.js';
import { state } from './state.js';

/** Wait after the last edit before scoring, so typing a number scores once. */
const DEBOUNCE_MS = 300;
/** A busy engine (a training step in flight) is asked again after this long. */
const RETRY_MS = 1000;

let timer = null;
let nextId = 1;
/** The request in flight: `{id, key, since}`. */
let inflight = null;
/** The last answer: `{key, results, ms, error}` (`results` null when refused). */
let latest = null;
/** When a preview's baselines were last drawn (performance.now()). */
let shownAt = null;

const RUNNING = ['training', 'stopping', 'evaluating'];

/** The settings that decide the split and the panel: the data and split rooms of the schema. */
const splitKeys = () => state.schema.filter((s) => s.room === 'data' || s.room === 'split').map((s) => s.key);

/** Which split `settings` (a flat settings object or a results' config) make on data `sha256`. */
export function splitKey(settings, sha256) {
  if (!settings || !sha256) return null;
  return JSON.stringify([sha256, ...splitKeys().map((k) => settings[k] ?? null)]);
}

/** Settings for a preview: the data and split ones from `settings`, the others their defaults. */
function previewSettings(settings) {
  const keys = new Set(splitKeys());
  // A setting the form does not hold (how an AnnData file is read: the engine knows it) keeps
  // its default.
  return Object.fromEntries(state.schema.map((s) => [s.key, keys.has(s.key) && settings[s.key] !== undefined ? settings[s.key] : s.default]));
}

/**
 * The split the scoreboard should show baselines for: the run's while one is going on, else the
 * form's. `{settings, key}`, or `{reason}` when the form does not make a split yet.
 */
function wanted() {
  const sha = state.summary?.sha256;
  if (RUNNING.includes(state.phase) && state.run) return { settings: previewSettings(state.run.settings), key: splitKey(state.run.settings, sha) };
  const { settings, errors } = readSettings();
  const keys = new Set(splitKeys());
  const blocking = errors.find((e) => keys.has(e.key));
  if (blocking) return { reason: blocking.message };
  return { settings: previewSettings(settings), key: splitKey(settings, sha) };
}

/** The key of the compared runs' split, if any are compared. */
export function comparisonKey() {
  const merged = comparedRuns().length ? mergedResults() : null;
  return merged ? splitKey(merged.config, merged.data.sha256) : null;
}

/** Scores the baselines for the current settings soon (`now`: without waiting for more edits). */
export function schedulePreview({ now = false } = {}) {
  clearTimeout(timer);
  timer = setTimeout(requestPreview, now ? 0 : DEBOUNCE_MS);
}

function requestPreview() {
  timer = null;
  // Data still being loaded, or an engine restarting: ask again once it is done.
  if (state.phase === 'loading' || state.phase === 'recovering') {
    timer = setTimeout(requestPreview, RETRY_MS);
    return;
  }
  if (!state.summary || !(state.phase === 'idle' || RUNNING.includes(state.phase))) return;
  const want = wanted();
  if (!want.key) return;
  // Already shown, already asked for, or covered by the compared runs' own baselines.
  if (latest?.key === want.key || inflight?.key === want.key) return;
  if (comparisonKey() === want.key) return;
  inflight = { id: nextId++, key: want.key, since: performance.now() };
  post({ type: Msg.PREVIEW, id: inflight.id, settings: want.settings });
  renderScoreboard();
  // Said on the scoreboard when scoring takes long (large data).
  setTimeout(() => inflight && renderScoreboard(), 1600);
}

/** The engine's answer to a PREVIEW (PREVIEWED). */
export function onPreviewed({ id, results, ms, error, skipped }) {
  if (!inflight || id !== inflight.id) return;
  const { key } = inflight;
  inflight = null;
  if (skipped) {
    setTimeout(() => schedulePreview({ now: true }), RETRY_MS);
    return;
  }
  latest = { key, results: results ?? null, ms: ms ?? null, error: error ?? null };
  renderScoreboard();
  if (results && key === wanted().key) shownAt = performance.now();
  // The settings may have changed while it was scored.
  schedulePreview();
}

/**
 * What the scoreboard needs to know: the preview for `key` (`{results, ms, error}` or null), the
 * last one whatever its split (`shown`), whether one is being scored and for how long (ms), and
 * why the form makes no split (`reason`).
 */
export function previewFor(key) {
  const want = wanted();
  return {
    preview: latest && latest.key === key ? latest : null,
    shown: latest,
    scoring: inflight ? performance.now() - inflight.since : null,
    reason: want.reason ?? null,
  };
}

/** The form's split key now (null while it makes none). */
export const formKey = () => wanted().key ?? null;

/** For the tests: the last preview and when it was drawn. */
export function previewState() {
  return { key: latest?.key ?? null, results: latest?.results ?? null, ms: latest?.ms ?? null, error: latest?.error ?? null, shownAt, scoring: Boolean(inflight) };
}

/** A restarted engine lost the request in flight: ask the new one. */
export function resetPreview() {
  inflight = null;
  schedulePreview({ now: true });
}

/** Watches the settings that change the split. */
export function initPreview() {
  for (const id of ['settings']) {
    $(id).addEventListener('input', () => schedulePreview());
    $(id).addEventListener('change', () => schedulePreview());
  }
}
