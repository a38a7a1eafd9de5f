// The datasets that ship with the page (the engine's `bundled_datasets`): a button each in the
// data card, with what the data is and what to cite. One click fetches the file from the site
// (`assets/<file>`, relative to the page), reads it like an upload with the dataset's data
// columns, and sets the form to the dataset's task (its holdout, and any setting it changes).
// A link names the dataset (`data=kang2018`); its own settings then win over the dataset's.

import { $, el, fmtInt, setStatus, showMessage } from './dom.js';
import { request } from './engine.js';
import { afterLoad, keptDataHint, loadingGuard } from './data.js';
import { applyParams, bundledDataset, datasetParams } from './link.js';
import { Msg } from './protocol.js';
import { readLoadOptions } from './settings.js';
import { state, syncControls } from './state.js';

/** Lists the bundled datasets in the data card, a button each. */
export function initBundled() {
  const items = state.datasets.map((d) => {
    const button = el('button', { type: 'button', class: 'btn', 'data-testid': `load-dataset-${d.name}`, 'data-dataset': d.name }, d.title);
    button.addEventListener('click', () => loadBundled(d.name));
    return el(
      'div',
      { class: 'dataset', 'data-testid': `dataset-${d.name}` },
      button,
      el('p', { class: 'hint', text: d.description }),
      el('details', { class: 'citation' }, el('summary', { text: 'How to cite' }), el('p', { text: d.citation })),
    );
  });
  $('datasets').replaceChildren(...items);
  $('datasets-box').hidden = items.length === 0;
}

/** The data settings of a dataset's task. */
const dataOptions = (settings) => ({
  condition_column: settings.condition_column,
  control_label: settings.control_label,
  covariates: [...settings.covariates],
});

/** The file at `url` (relative to the page), named `name`. */
async function fetchFile(url, name) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`${url} could not be fetched from this site (${e.message}); check that the page is still being served and try again`);
  }
  if (!response.ok) throw new Error(`this site answered ${response.status} ${response.statusText || ''} for ${url}`.trim());
  return new File([await response.blob()], name, { type: 'application/gzip' });
}

function errorContent(dataset, message) {
  return el(
    'div',
    {},
    el('p', { class: 'message-title', text: `Could not load ${dataset.title}:` }),
    el('p', { class: 'message-body', 'data-testid': 'load-error-message', text: message }),
    keptDataHint() ?? el('p', { class: 'message-hint', text: 'Nothing is loaded yet: try its button under Data again, or load the sample dataset.' }),
  );
}

/**
 * Fetches and loads the bundled dataset `name`; returns whether it loaded. From a button, the
 * form takes the dataset's task once the data is loaded; from a link (`fromLink`), the form
 * already holds the link's settings over the dataset's, data columns included. A failure keeps
 * the data loaded before.
 */
export async function loadBundled(name, { fromLink = false } = {}) {
  const dataset = bundledDataset(name);
  if (!dataset || !loadingGuard()) return false;
  const options = fromLink ? readLoadOptions() : dataOptions(dataset.settings);
  const url = `assets/${encodeURIComponent(dataset.file)}`;
  state.phase = 'loading';
  syncControls();
  setStatus(`Fetching ${dataset.title}…`);
  let file;
  let summary;
  try {
    file = await fetchFile(url, dataset.file);
    setStatus(`Reading ${dataset.file} (${fmtInt(file.size)} bytes)…`);
    const bytes = await file.arrayBuffer();
    summary = await request({ type: Msg.LOAD_CSV, bytes, name: dataset.file, options }, [bytes]);
  } catch (e) {
    showMessage('load-error', errorContent(dataset, e.message));
    setStatus(`${dataset.title} was not loaded: see the message under Data.`, 'error');
    if (state.phase === 'loading') state.phase = 'idle';
    syncControls();
    return false;
  }
  if (!fromLink) applyParams(datasetParams(dataset));
  const { title, description, citation } = dataset;
  afterLoad(summary, { kind: 'bundled', name, title, description, citation, file, options, sha256: summary.sha256 });
  state.expectedFile = null;
  showMessage('file-request', null);
  state.phase = 'idle';
  syncControls();
  setStatus(`Loaded ${title}: ${fmtInt(summary.cells)} cells × ${fmtInt(summary.genes)} genes.`);
  return true;
}
