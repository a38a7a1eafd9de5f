// The data: loading the sample, a CSV, an AnnData .h5ad or a 10x folder's files with their
// metadata table through the worker (sizes are checked before anything is read), the summary of
// what is loaded (for .h5ad and 10x, what the file holds and what was guessed in it), the
// holdout choices it offers, and a loaded file checked against a shared link. Bundled datasets are fetched by bundled.js and made
// current here too.

import { $, el, fmtInt, setStatus, showMessage } from './dom.js';
import { request } from './engine.js';
import { dataLabel, dataLoaded } from './comparison.js';
import { updateLink } from './link.js';
import { schedulePreview } from './preview.js';
import { Msg } from './protocol.js';
import { startLinkedRun } from './run.js';
import { clearResults } from './scoreboard.js';
import { DATA_FIELDS, idOf, spec } from './form.js';
import { checkedConditions, parseList, readFormatOptions, readLoadOptions, runLoadOptions } from './settings.js';
import { state, syncControls } from './state.js';

/** The largest file the engine reads (`MAX_INPUT_BYTES`): 256 MiB. */
const MAX_INPUT_BYTES = 256 * 2 ** 20;

/** A size in MiB as people read it: `300 MiB`, `256.5 MiB`. */
const mib = (bytes) => `${Number((bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 1 : 0)).toLocaleString('en-US')} MiB`;

/** Offers the loaded data's conditions and covariate groups as holdout choices. */
export function fillHoldoutChoices(summary) {
  const pending = state.pendingHoldout;
  const before = new Set(pending?.conditions?.length ? pending.conditions : checkedConditions());
  const box = $('holdout-conditions');
  box.replaceChildren();
  const control = runLoadOptions().control_label;
  for (const [label, count] of Object.entries(summary.conditions)) {
    if (label === control) continue;
    const input = el('input', { type: 'checkbox', value: label, checked: before.has(label) });
    input.dataset.testid = `holdout-condition-${label}`;
    box.append(el('label', { class: 'check' }, input, el('span', { text: label }), el('small', { text: fmtInt(count) })));
  }

  const covSel = $('holdout-covariate');
  const wantedCov = pending?.covariate || covSel.value;
  covSel.replaceChildren();
  const covNames = Object.keys(summary.covariates);
  for (const name of covNames) covSel.append(el('option', { value: name, text: name }));
  if (covNames.includes(wantedCov)) covSel.value = wantedCov;
  fillLevels(pending?.level || $('holdout-level').value);
  const groupOption = $('holdout-kind').querySelector('option[value=group]');
  groupOption.disabled = covNames.length === 0;
  groupOption.textContent = covNames.length ? 'one covariate group’s perturbed cells' : 'one covariate group (needs a covariate column)';
  state.pendingHoldout = null;
}

/** Lists the levels of the chosen holdout covariate, keeping `wanted` if it is one. */
export function fillLevels(wanted) {
  const levels = state.summary?.covariates?.[$('holdout-covariate').value] ?? [];
  const sel = $('holdout-level');
  sel.replaceChildren(...levels.map((l) => el('option', { value: l, text: l })));
  if (levels.includes(wanted)) sel.value = wanted;
}

/** What is loaded: source, size, conditions, covariates and warnings. */
function renderSummary() {
  const s = state.summary;
  const box = $('summary');
  box.replaceChildren();
  if (!s) {
    box.append(el('p', { class: 'placeholder', text: 'Nothing loaded yet.' }));
    return;
  }
  const ds = state.dataset;
  const source = ds?.kind === 'sample' ? `sample dataset (seed ${ds.seed})` : ds?.kind === 'bundled' ? ds.title : s.source;
  const item = (label, value, testid, title, cls = 'kv') =>
    el('div', { class: cls }, el('dt', { text: label }), el('dd', { 'data-testid': testid, title }, value));
  box.append(
    el(
      'dl',
      { class: 'summary-grid' },
      // A bundled dataset's title may take two lines; file names are cut short (the tooltip has them).
      item('Source', source, 'summary-source', source, ds?.kind === 'bundled' ? 'kv kv-wrap' : 'kv'),
      item('Cells', fmtInt(s.cells), 'summary-cells'),
      item('Genes', fmtInt(s.genes), 'summary-genes'),
      item('Values', s.values === 'counts' ? 'counts' : 'continuous', 'summary-values', s.values === 'counts' ? 'non-negative integer counts' : 'continuous (e.g. log-normalised) values'),
      item('SHA-256', `${s.sha256.slice(0, 12)}…`, 'summary-sha', s.sha256),
    ),
  );
  if (ds?.kind === 'bundled') {
    box.append(
      el(
        'div',
        { class: 'summary-provenance', 'data-testid': 'summary-provenance' },
        el('p', { text: ds.description }),
        el('p', { class: 'provenance-cite' }, el('span', { class: 'summary-label', text: 'Cite: ' }), ds.citation),
        el('p', { class: 'muted' }, 'Shipped with this page as ', el('code', { text: s.source }), '.'),
      ),
    );
  }
  const conds = Object.entries(s.conditions);
  const control = runLoadOptions().control_label;
  box.append(
    el(
      'div',
      { class: 'summary-row' },
      el('span', { class: 'summary-label', text: `Conditions (${conds.length})` }),
      el(
        'ul',
        { class: 'chips', 'data-testid': 'summary-conditions', tabIndex: 0, 'aria-label': `Conditions and their cell counts (${conds.length})` },
        conds.map(([label, n]) =>
          el('li', { class: label === control ? 'chip chip-control' : 'chip', 'data-condition': label }, el('span', { text: label }), el('small', { text: fmtInt(n) })),
        ),
      ),
    ),
  );
  const covs = Object.entries(s.covariates);
  box.append(
    el(
      'div',
      { class: 'summary-row' },
      el('span', { class: 'summary-label', text: 'Covariates' }),
      covs.length
        ? el(
            'ul',
            { class: 'cov-list', 'data-testid': 'summary-covariates' },
            covs.map(([name, levels]) =>
              el('li', {}, el('code', { text: name }), ` — ${levels.length} level${levels.length === 1 ? '' : 's'}: `, el('span', { class: 'muted', text: levels.join(', ') })),
            ),
          )
        : el('span', { class: 'muted', 'data-testid': 'summary-covariates', text: 'none' }),
    ),
  );
  if (s.warnings?.length) {
    box.append(el('ul', { class: 'warnings', 'data-testid': 'summary-warnings' }, s.warnings.map((w) => el('li', { text: w }))));
  }
  if (s.found) box.append(foundBox(s.found));
}

/** What an .h5ad or 10x input holds and what was chosen from it, guesses marked. */
function foundBox(f) {
  const guessed = (key) => (f.guessed.includes(key) ? ' (guessed)' : '');
  const row = (label, testid, ...content) =>
    el('div', { class: 'summary-row' }, el('span', { class: 'summary-label', text: label }), el('span', { 'data-testid': testid }, ...content));
  const columns = f.obs_columns.map((c) => `${c.name} (${c.kind}${c.levels == null ? '' : `, ${fmtInt(c.levels)} values`})`).join(', ');
  const matrices = f.matrices
    .map((m) => `${m.name} (${m.storage} ${fmtInt(m.cells)} × ${fmtInt(m.genes)}${m.counts === true ? ', counts' : m.counts === false ? ', not counts' : ''})`)
    .join(', ');
  const box = el(
    'div',
    { class: 'summary-found', 'data-testid': 'summary-found' },
    row(`Found in the ${f.format === 'h5ad' ? '.h5ad' : '10x'} file`, 'found-columns', `cell annotations: ${columns}`),
    row('Matrices', 'found-matrices', matrices),
    row(
      'Using',
      'found-choices',
      `condition column “${f.condition_column}”${guessed('condition_column')}, control label “${f.control_label}”${guessed('control_label')}, matrix “${f.matrix}”${guessed('matrix')}`,
    ),
  );
  if (f.genes_kept < f.genes_in_file) box.append(row('Genes', 'found-genes', `${fmtInt(f.genes_kept)} most variable of ${fmtInt(f.genes_in_file)} kept`));
  if (f.relabelled.length) box.append(row('Labels read as', 'found-relabelled', f.relabelled.map(([a, b]) => `${a} → ${b}`).join(', ')));
  if (f.notes.length) box.append(el('ul', { class: 'notes muted', 'data-testid': 'found-notes' }, f.notes.map((n) => el('li', { text: n }))));
  box.append(el('p', { class: 'muted', text: 'Change any of these under “Your data” and reload the file.' }));
  return box;
}

/** The data fields last filled in from a file's guesses, so the next file is guessed afresh. */
let guessedFields = {};

/** Shows what was used for an .h5ad / 10x input in the data fields (they are read on reload). */
function showGuesses(found) {
  guessedFields = {};
  if (!found) return;
  const values = { condition_column: found.condition_column, control_label: found.control_label, layer: found.format === 'h5ad' ? found.matrix : '' };
  for (const [key, value] of Object.entries(values)) {
    $(idOf(key)).value = value;
    guessedFields[key] = value;
  }
}

/** Before another file is read: fields still holding the last file's guesses go back to default. */
function forgetGuesses() {
  for (const [key, value] of Object.entries(guessedFields)) {
    const input = $(idOf(key));
    if (DATA_FIELDS.includes(key) && input.value === value) input.value = spec(key).default;
  }
  guessedFields = {};
}

/** Whether data may be loaded now (not while a run is in progress). */
export function loadingGuard() {
  return state.phase === 'idle' || state.phase === 'failed';
}

/**
 * Makes loaded data current. Other data than the compared runs' ends the comparison; the same
 * table read otherwise keeps it until the next run, which the engine judges.
 */
export function afterLoad(summary, dataset) {
  if (dataLoaded(summary.sha256, dataset)) clearResults();
  state.summary = summary;
  state.dataset = dataset;
  state.wantedDataset = null;
  state.sessionAlive = false;
  renderSummary();
  fillHoldoutChoices(summary);
  showMessage('load-error', null);
  updateLink();
  // The baselines of this data's split, before anything is trained.
  schedulePreview({ now: true });
}

function parseSampleSeed() {
  const raw = $('sample-seed').value.trim();
  if (!/^\d+$/.test(raw) || BigInt(raw) > 18446744073709551615n) {
    throw new Error(`the sample seed must be a whole number from 0 to 18446744073709551615 (got “${raw}”)`);
  }
  return BigInt(raw).toString();
}

/** Generates the sample with the seed in the form; returns whether it loaded. */
export async function loadSample() {
  if (!loadingGuard()) return false;
  let seed;
  try {
    seed = parseSampleSeed();
  } catch (e) {
    showMessage('load-error', `Could not load the sample: ${e.message}`);
    return false;
  }
  state.phase = 'loading';
  syncControls();
  setStatus(`Generating the sample dataset (seed ${seed})…`);
  try {
    const summary = await request({ type: Msg.LOAD_SAMPLE, seed });
    afterLoad(summary, { kind: 'sample', seed });
    state.expectedFile = null;
    showMessage('file-request', null);
    setStatus(`Loaded the sample dataset: ${fmtInt(summary.cells)} cells × ${fmtInt(summary.genes)} genes.`);
    return true;
  } catch (e) {
    showMessage('load-error', `Could not load the sample: ${e.message}`);
    setStatus('The sample could not be loaded.', 'error');
    return false;
  } finally {
    if (state.phase === 'loading') state.phase = 'idle';
    syncControls();
  }
}

/** Offers a fix for a column that is not numeric: declare it a covariate. */
/** The engine's messages name command-line flags; on the page the fields under Data stand for them. */
const FLAG_FIELDS = {
  '--condition-column': 'the Condition column field',
  '--control-label': 'the Control label field',
  '--layer': 'the Matrix field',
  '--combination': 'the Combination separator field',
  '--likelihood': 'the Likelihood setting',
};

function loadErrorContent(file, raw) {
  const message = raw.replace(/--(condition-column|control-label|layer|combination|likelihood)\b/g, (flag) => FLAG_FIELDS[flag]);
  const box = el('div');
  box.append(el('p', { class: 'message-title' }, 'Could not load ', el('code', { text: file.name }), ':'));
  box.append(el('p', { class: 'message-body', 'data-testid': 'load-error-message', text: message }));
  const m = /column \d+ \(`([^`]+)`\): found "([^"]*)", expected a number/.exec(message);
  if (m && m[2] !== '' && Number.isNaN(Number(m[2]))) {
    const column = m[1];
    const fix = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'add-covariate' }, `Treat “${column}” as a covariate and reload`);
    fix.addEventListener('click', () => {
      const covs = parseList($('covariates').value);
      if (!covs.includes(column)) covs.push(column);
      $('covariates').value = covs.join(', ');
      loadFile(file.files ?? file, { reload: true });
    });
    box.append(el('p', { class: 'message-hint' }, `“${column}” holds text, so it cannot be a gene. If it is a category such as a cell type, declare it a covariate: `, fix));
  }
  const kept = keptDataHint();
  if (kept) box.append(kept);
  return box;
}

/** After a failed load: says that the data loaded before is still current, if there is any. */
export function keptDataHint() {
  if (!state.dataset) return null;
  return el('p', { class: 'message-hint', text: `The data loaded before (${dataLabel(state.dataset)}) is still the current data.` });
}

/** The files of a load as the worker takes them (their bytes are transferred). */
async function filesMessage(files) {
  return Promise.all(files.map(async (f) => ({ name: f.name, bytes: await f.arrayBuffer() })));
}

/**
 * Reads a CSV / CSV.gz, an .h5ad, or a 10x folder's files with a metadata table (the format is
 * read from the bytes) with the form's data options; returns whether it loaded. `reload`: the
 * same files again, so the data fields are kept as they are.
 */
export async function loadFile(fileOrFiles, { reload = false } = {}) {
  const files = fileOrFiles == null ? [] : Array.isArray(fileOrFiles) ? fileOrFiles : [fileOrFiles];
  if (!files.length) return false;
  const file = files[0];
  const label = files.length === 1 ? file.name : `${file.name} and ${files.length - 1} more`;
  if (!loadingGuard()) {
    setStatus('Stop the run before loading other data.', 'error');
    return false;
  }
  // Refused before a byte is read: reading would hold the whole file in this tab's memory.
  const size = files.reduce((n, f) => n + f.size, 0);
  if (size > MAX_INPUT_BYTES) {
    const shown = mib(size) === mib(MAX_INPUT_BYTES) ? `${fmtInt(size)} bytes` : mib(size);
    const message = `${label} is ${shown}; files up to ${mib(MAX_INPUT_BYTES)} can be read in the browser, because the whole table has to fit in this tab's memory. Use fewer cells or genes (for example the most variable genes), or split the cells over several files.`;
    showMessage('load-error', loadErrorContent({ name: label }, message));
    setStatus(`${label} was not loaded: it is larger than ${mib(MAX_INPUT_BYTES)}.`, 'error');
    return false;
  }
  if (!reload) forgetGuesses();
  state.lastFile = files;
  $('file-name').textContent = label;
  state.phase = 'loading';
  syncControls();
  const options = readLoadOptions();
  const format = readFormatOptions();
  setStatus(`Reading ${label} (${fmtInt(size)} bytes)…`);
  let summary;
  try {
    const list = await filesMessage(files);
    summary = await request({ type: Msg.LOAD_FILES, files: list, name: label, options, format }, list.map((f) => f.bytes));
  } catch (e) {
    showMessage('load-error', loadErrorContent({ name: label, files }, e.message));
    setStatus(`${label} was not loaded: see the message under Data.`, 'error');
    if (state.phase === 'loading') state.phase = 'idle';
    syncControls();
    return false;
  }
  showGuesses(summary.found);
  const expected = state.expectedFile;
  const used = { ...options, condition_column: summary.condition_column, control_label: summary.control_label };
  afterLoad(summary, { kind: 'file', file, files, name: label, options: used, format, sha256: summary.sha256 });
  state.phase = 'idle';
  syncControls();
  setStatus(`Loaded ${label}: ${fmtInt(summary.cells)} cells × ${fmtInt(summary.genes)} genes.`);
  if (expected) {
    if (summary.sha256 !== expected.sha256) {
      showMessage(
        'load-error',
        el(
          'div',
          { 'data-testid': 'sha-mismatch' },
          el('p', { class: 'message-title', text: 'This is not the file the link was made with.' }),
          el('p', { class: 'message-body' }, 'The link expects ', el('code', { text: expected.name }), ` with SHA-256 ${expected.sha256}; `, el('code', { text: file.name }), ` has SHA-256 ${summary.sha256}. The shared run was not started, because its results would differ.`),
        ),
      );
      setStatus('SHA-256 mismatch: the chosen file is not the one the link was made with.', 'error');
      return true;
    }
    state.expectedFile = null;
    showMessage('file-request', null);
    setStatus(`${file.name} matches the link (SHA-256 ${summary.sha256.slice(0, 12)}…).`);
    if (state.autorun) {
      state.autorun = false;
      startLinkedRun();
    }
  }
  return true;
}

/**
 * The request that loads the current data into a worker, and the buffers it transfers: the
 * sample with its seed, or the file's bytes, read anew for each request (they are transferred).
 */
export async function datasetRequest(ds = state.dataset) {
  if (ds.kind === 'sample') return { msg: { type: Msg.LOAD_SAMPLE, seed: String(ds.seed) }, transfer: [] };
  if (ds.files) {
    const list = await filesMessage(ds.files);
    return { msg: { type: Msg.LOAD_FILES, files: list, name: ds.name, options: ds.options, format: ds.format }, transfer: list.map((f) => f.bytes) };
  }
  // A bundled dataset's bytes as fetched.
  const bytes = await ds.file.arrayBuffer();
  return { msg: { type: Msg.LOAD_CSV, bytes, name: ds.file.name, options: ds.options }, transfer: [bytes] };
}

/** Loads the current data again (into a restarted engine). */
export async function reloadDataset() {
  const { msg, transfer } = await datasetRequest();
  state.summary = await request(msg, transfer);
}
