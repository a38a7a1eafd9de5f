// Sessions: the whole comparison in one file. "Save session" writes the settings, which data the
// runs were trained on (the sample and its seed, a bundled dataset, or a file's name and
// SHA-256), every compared run's results (loss curves included) and whose figures are shown.
// "Open session" (a file, or a .json dropped on the page) brings the scoreboard, the figures and
// the comparison back without training, and sets the form to the session's settings. A CLI
// results.json opens the same way, as a comparison of one run. What is opened is checked before
// anything shown changes: its size before it is read, then JSON, then its shape, its format
// version, and every run through the engine's own reader.

import { $, el, fmtInt, saveBlob, setStatus, showMessage } from './dom.js';
import { comparedRuns, dataLabel, replaceRuns, showComparisonNotice } from './comparison.js';
import { fillHoldoutChoices } from './data.js';
import { applyParams, updateLink } from './link.js';
import { modelLabel, modelOf } from './models.js';
import { schedulePreview } from './preview.js';
import { renderScoreboard } from './scoreboard.js';
import { readSettings, validateForm } from './settings.js';
import { state, syncControls } from './state.js';

/** The `format` of a session file and the newest version this page reads. */
export const SESSION_FORMAT = 'cellshift-session';
export const SESSION_VERSION = 1;
/** Larger files are refused from their size, before they are read. */
const MAX_SESSION_BYTES = 64 * 2 ** 20;
/** A comparison holds one run per model; more than this is not a session this page wrote. */
const MAX_RUNS = 16;
const RESULT_FIELDS = ['cellshift_version', 'config', 'data', 'split', 'train', 'scores', 'figures'];

/** The data of the session opened last, while its runs are the ones shown: `{sha256, ...}`. */
let openedData = null;

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Which data the compared runs were trained on, as a session records it. */
function dataIdentity(runs) {
  const sha256 = runs[0].data.sha256;
  if (openedData?.sha256 === sha256 && state.summary?.sha256 !== sha256) return openedData;
  const ds = state.dataset;
  const base = { sha256, source: runs[0].data.source, cells: runs[0].data.cells };
  if (ds?.kind === 'sample') return { kind: 'sample', seed: String(ds.seed), ...base };
  if (ds?.kind === 'bundled') return { kind: 'bundled', name: ds.name, title: ds.title, ...base };
  if (ds?.kind === 'file') return { kind: 'file', name: ds.name, ...base };
  return { kind: 'unknown', ...base };
}

/** The session file's content. */
export function sessionObject() {
  const runs = comparedRuns();
  if (!runs.length) return null;
  const shown = runs.find((r) => modelOf(r) === state.figureModel) ?? runs[0];
  return {
    format: SESSION_FORMAT,
    version: SESSION_VERSION,
    saved: new Date().toISOString(),
    config: readSettings().settings,
    backend: $('backend').value,
    data: dataIdentity(runs),
    figures: modelOf(shown),
    runs,
  };
}

export function saveSession() {
  const session = sessionObject();
  if (!session || state.phase !== 'idle') return;
  const date = session.saved.slice(0, 10);
  saveBlob(new Blob([`${JSON.stringify(session)}\n`], { type: 'application/json' }), `cellshift-session-${date}.json`);
  setStatus(`Saved a session of ${session.runs.length} run${session.runs.length === 1 ? '' : 's'} (${session.runs.map((r) => modelLabel(modelOf(r))).join(', ')}).`, 'done');
}

/** A refusal with the sentence the page shows. */
class SessionError extends Error {}

/** A session or a results.json, checked: `{runs, config, data, figures, kind}`. */
function readOpened(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new SessionError(`it is not JSON (${e.message}), so it is neither a saved session nor a results.json.`);
  }
  if (!isObject(doc)) throw new SessionError(`it holds JSON ${Array.isArray(doc) ? 'array' : typeof doc === 'object' ? 'null' : typeof doc}, not a saved session or a results.json (both are JSON objects).`);
  if ('format' in doc || 'version' in doc) {
    if (doc.format !== SESSION_FORMAT) throw new SessionError(`it is not a cellshift session: its format is ${JSON.stringify(doc.format ?? null)}, not "${SESSION_FORMAT}".`);
    if (!Number.isInteger(doc.version) || doc.version < 1) throw new SessionError(`it has no valid session version (got ${JSON.stringify(doc.version ?? null)}); this page reads session version ${SESSION_VERSION}.`);
    if (doc.version > SESSION_VERSION) throw new SessionError(`it is a session of version ${doc.version}, written by a newer cellshift; this page reads session versions up to ${SESSION_VERSION}. Open it with a newer page.`);
    if (!Array.isArray(doc.runs) || !doc.runs.length) throw new SessionError(`it is a session without runs (its “runs” must be a list of results).`);
    if (doc.runs.length > MAX_RUNS) throw new SessionError(`it lists ${doc.runs.length} runs; a session holds one run per model (at most ${MAX_RUNS}).`);
    doc.runs.forEach((r, i) => checkResults(r, `its run ${i + 1}`));
    if (doc.config !== undefined && !isObject(doc.config)) throw new SessionError(`its “config” must be an object of settings.`);
    if (doc.data !== undefined && !isObject(doc.data)) throw new SessionError(`its “data” must be an object that names the data.`);
    return { kind: 'session', runs: doc.runs, config: doc.config ?? null, backend: doc.backend ?? null, data: doc.data ?? null, figures: typeof doc.figures === 'string' ? doc.figures : null };
  }
  if (!('cellshift_version' in doc) && !('scores' in doc)) {
    throw new SessionError(`it is neither a saved session (no “format” field) nor a results.json (no “cellshift_version” or “scores”).`);
  }
  checkResults(doc, 'it');
  return { kind: 'results', runs: [doc], config: null, backend: null, data: null, figures: null };
}

/** The fields the page itself reads before the engine reads the rest. */
function checkResults(r, where) {
  if (!isObject(r)) throw new SessionError(`${where} is not a results object.`);
  const missing = RESULT_FIELDS.filter((f) => !(f in r));
  if (missing.length) throw new SessionError(`${where} is missing ${missing.map((f) => `“${f}”`).join(', ')}: it is not the results of a cellshift run.`);
  if (!isObject(r.config) || typeof r.config.model !== 'string') throw new SessionError(`${where} has no model named in its “config”, so it is not the results of a cellshift run.`);
  if (!isObject(r.data) || typeof r.data.sha256 !== 'string') throw new SessionError(`${where} has no SHA-256 in its “data”, so the data it was trained on is unknown.`);
  if (!isObject(r.scores) || !isObject(r.scores[r.config.model])) throw new SessionError(`${where} has no scores for its model “${r.config.model}”.`);
  if (!isObject(r.train) || !Array.isArray(r.train.history)) throw new SessionError(`${where} has no loss history in its “train”.`);
}

/** How a session names its data, in a sentence. */
function describeData(data, run) {
  if (data?.kind === 'sample') return `the sample, seed ${data.seed}`;
  if (data?.kind === 'bundled') return data.title || data.name;
  if (data?.kind === 'file') return data.name;
  const source = run.data.source;
  return source === 'sample' ? 'the sample' : source;
}

/** The session's settings on the form (a results.json's: its run's). */
function applyConfig(config, backend) {
  const p = new URLSearchParams();
  for (const s of state.schema) {
    if (!(s.key in config)) continue;
    const v = config[s.key];
    p.set(s.key, v === null ? '' : Array.isArray(v) ? v.join(',') : String(v));
  }
  if (backend) p.set('backend', backend);
  applyParams(p);
  // The holdout choices of the loaded data take the session's holdout now.
  if (state.summary) fillHoldoutChoices(state.summary);
  validateForm();
  updateLink();
}

/** Opens a session file or a results.json; what is shown stays when it is refused. */
export async function openSession(file) {
  if (!file) return false;
  const fail = (text) => {
    showMessage('run-error', el('div', { 'data-testid': 'session-error' }, el('p', { class: 'message-title' }, 'Could not open ', el('code', { text: file.name }), ':'), el('p', { class: 'message-body', 'data-testid': 'session-error-message', text }), el('p', { class: 'message-hint', text: 'Nothing shown was changed.' })));
    setStatus(`${file.name} was not opened: see the message above.`, 'error');
    return false;
  };
  if (state.phase !== 'idle') return fail('a run is in progress: stop it (or let it finish) before opening a session.');
  if (file.size > MAX_SESSION_BYTES) return fail(`it is ${mib(file.size)} (${fmtInt(file.size)} bytes); sessions and results.json files up to ${mib(MAX_SESSION_BYTES)} are opened. It was not read.`);
  let opened;
  try {
    opened = readOpened(await file.text());
    const dup = opened.runs.map(modelOf).find((m, i, all) => all.indexOf(m) !== i);
    if (dup) throw new SessionError(`it holds two runs of ${modelLabel(dup)}; a comparison has one run per model.`);
  } catch (e) {
    return fail(e instanceof SessionError ? e.message : `it could not be read: ${e.message}`);
  }
  const first = opened.runs[0];
  const label = describeData(opened.data, first);
  try {
    replaceRuns(opened.runs, label);
  } catch (e) {
    return fail(e.message);
  }
  openedData = { ...(opened.data ?? { kind: 'unknown', source: first.data.source }), sha256: first.data.sha256 };
  const models = opened.runs.map(modelOf);
  state.figureModel = models.includes(opened.figures) ? opened.figures : models[0];
  state.results = opened.runs.find((r) => modelOf(r) === state.figureModel);
  state.sessionAlive = false;
  state.scoreStopped = false;
  showMessage('run-error', null);
  applyConfig(opened.config ?? state.results.config, opened.backend);
  const same = state.summary?.sha256 === first.data.sha256;
  const what = opened.kind === 'session' ? 'session' : 'results.json';
  const sha = first.data.sha256;
  const dataLine = same
    ? `Its runs were trained on ${label}, the data loaded now (SHA-256 ${sha.slice(0, 12)}…): training another model adds it to this comparison.`
    : `Its runs were trained on ${label} (${fmtInt(first.data.cells)} cells, SHA-256 ${sha.slice(0, 12)}…), which is not the data loaded now (${state.summary ? dataLabel(state.dataset) : 'none'}). The scores are shown as saved; load that data to train more models beside them.`;
  showComparisonNotice(`Opened ${file.name}: the ${what} of ${models.map(modelLabel).join(', ')}, shown as saved, without training. ${dataLine}`);
  renderScoreboard();
  syncControls();
  schedulePreview();
  setStatus(`Opened ${file.name}: ${models.length} run${models.length === 1 ? '' : 's'} on the scoreboard, nothing trained.`, 'done');
  return true;
}

const isJsonFile = (f) => f && (/\.json$/i.test(f.name) || f.type === 'application/json');

/** Wires the session buttons, and a .json dropped on the page outside the data's drop zone. */
export function initSessions() {
  $('save-session').addEventListener('click', saveSession);
  $('session-input').addEventListener('change', (e) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    openSession(file);
  });
  window.addEventListener('drop', (e) => {
    if ($('drop-zone').contains(e.target)) return;
    const file = e.dataTransfer?.files?.[0];
    if (!isJsonFile(file)) return;
    e.preventDefault();
    openSession(file);
  });
}
