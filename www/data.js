// The data: loading the sample or a CSV file through the worker (a file's size is checked
// before it is read), the summary of what is loaded, the holdout choices it offers, and a loaded
// file checked against a shared link. Bundled datasets are fetched by bundled.js and made
// current here too.

import { $, el, fmtInt, setStatus, showMessage } from './dom.js';
import { request } from './engine.js';
import { dataLabel, dataLoaded } from './comparison.js';
import { updateLink } from './link.js';
import { schedulePreview } from './preview.js';
import { Msg } from './protocol.js';
import { startLinkedRun } from './run.js';
import { clearResults } from './scoreboard.js';
import { checkedConditions, parseList, readLoadOptions, runLoadOptions } from './settings.js';
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
function loadErrorContent(file, message) {
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
      loadFile(file);
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

/** Reads a CSV / CSV.gz with the form's column options; returns whether it loaded. */
export async function loadFile(file) {
  if (!file) return false;
  if (!loadingGuard()) {
    setStatus('Stop the run before loading other data.', 'error');
    return false;
  }
  // Refused before a byte is read: reading would hold the whole file in this tab's memory.
  if (file.size > MAX_INPUT_BYTES) {
    const size = mib(file.size) === mib(MAX_INPUT_BYTES) ? `${fmtInt(file.size)} bytes` : mib(file.size);
    const message = `${file.name} is ${size}; files up to ${mib(MAX_INPUT_BYTES)} can be read in the browser, because the whole table has to fit in this tab's memory. Use fewer cells or genes (for example the most variable genes), or split the cells over several files.`;
    showMessage('load-error', loadErrorContent(file, message));
    setStatus(`${file.name} was not loaded: it is larger than ${mib(MAX_INPUT_BYTES)}.`, 'error');
    return false;
  }
  state.lastFile = file;
  $('file-name').textContent = file.name;
  state.phase = 'loading';
  syncControls();
  const options = readLoadOptions();
  setStatus(`Reading ${file.name} (${fmtInt(file.size)} bytes)…`);
  let summary;
  try {
    const bytes = await file.arrayBuffer();
    summary = await request({ type: Msg.LOAD_CSV, bytes, name: file.name, options }, [bytes]);
  } catch (e) {
    showMessage('load-error', loadErrorContent(file, e.message));
    setStatus(`${file.name} was not loaded: see the message under Data.`, 'error');
    if (state.phase === 'loading') state.phase = 'idle';
    syncControls();
    return false;
  }
  const expected = state.expectedFile;
  afterLoad(summary, { kind: 'file', file, name: file.name, options, sha256: summary.sha256 });
  state.phase = 'idle';
  syncControls();
  setStatus(`Loaded ${file.name}: ${fmtInt(summary.cells)} cells × ${fmtInt(summary.genes)} genes.`);
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

/** Loads the current data again (into a restarted engine). */
export async function reloadDataset() {
  const ds = state.dataset;
  if (ds.kind === 'sample') {
    state.summary = await request({ type: Msg.LOAD_SAMPLE, seed: String(ds.seed) });
  } else {
    // A file, or a bundled dataset's bytes as fetched.
    const bytes = await ds.file.arrayBuffer();
    state.summary = await request({ type: Msg.LOAD_CSV, bytes, name: ds.file.name, options: ds.options }, [bytes]);
  }
}
