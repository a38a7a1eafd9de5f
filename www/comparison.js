// The comparison: models trained on the same data and the same split, scored side by side.
// A run on other data or another split starts a new comparison, and a notice says why the
// earlier rows left.

import { $, el, listText } from './dom.js';
import { BASELINE_ORDER, modelLabel, modelOf, modelRank } from './models.js';
import { shownResults, state } from './state.js';

/** Compared runs in the page's model order. */
export function comparedRuns() {
  const runs = state.comparison.runs;
  return [...runs.keys()].sort((a, b) => modelRank(a) - modelRank(b) || a.localeCompare(b)).map((m) => runs.get(m));
}

/** Every compared model's scores beside the baselines (shared by every run on the split). */
export function mergedScores() {
  const out = {};
  for (const r of comparedRuns()) out[modelOf(r)] = r.scores[modelOf(r)];
  const latest = state.results;
  for (const name of BASELINE_ORDER) if (latest?.scores[name]) out[name] = latest.scores[name];
  return out;
}

/** Runs for the engine's merged outputs: the shown run last (its figures and baselines are used). */
export function runsForMerge() {
  const shown = shownResults();
  return [...comparedRuns().filter((r) => r !== shown), shown];
}

/** What makes scores comparable: the same data and the same split of it. */
function splitIdentity(r) {
  const c = r.config ?? {};
  const ds = state.dataset;
  return {
    key: {
      data: r.data.sha256,
      condition_column: c.condition_column,
      control_label: c.control_label,
      covariates: c.covariates ?? [],
      seed: c.seed,
      holdout: c.holdout,
      val_fraction: c.val_fraction,
      genes: c.genes,
    },
    dataLabel: ds?.kind === 'sample' ? `the sample, seed ${ds.seed}` : (ds?.name ?? r.data.source),
  };
}

function holdoutText(h) {
  switch (h?.kind) {
    case 'fraction':
      return `${h.fraction} of each condition`;
    case 'conditions':
      return `condition${h.conditions.length === 1 ? '' : 's'} ${h.conditions.join(', ')}`;
    case 'group':
      return `${h.covariate} = ${h.level}`;
    default:
      return h?.kind ?? 'unknown';
  }
}

/** What differs between two identities, in words. */
function describeChange(a, b) {
  const x = a.key;
  const y = b.key;
  const same = (u, v) => JSON.stringify(u) === JSON.stringify(v);
  const out = [];
  if (x.data !== y.data) out.push(`the data (${a.dataLabel} → ${b.dataLabel})`);
  if (x.condition_column !== y.condition_column) out.push(`the condition column (${x.condition_column} → ${y.condition_column})`);
  if (x.control_label !== y.control_label) out.push(`the control label (${x.control_label} → ${y.control_label})`);
  if (!same(x.covariates, y.covariates)) out.push(`the covariates (${x.covariates.join(', ') || 'none'} → ${y.covariates.join(', ') || 'none'})`);
  if (x.seed !== y.seed) out.push(`the seed (${x.seed} → ${y.seed})`);
  if (!same(x.holdout, y.holdout)) out.push(`the held-out cells (${holdoutText(x.holdout)} → ${holdoutText(y.holdout)})`);
  if (x.val_fraction !== y.val_fraction) out.push(`the validation fraction (${x.val_fraction} → ${y.val_fraction})`);
  if (x.genes !== y.genes) out.push(`the panel size (${x.genes} → ${y.genes} genes)`);
  return out;
}

export function showComparisonNotice(text) {
  const box = $('comparison-notice');
  if (!text) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const dismiss = el('button', { type: 'button', class: 'link-btn notice-dismiss', 'data-testid': 'dismiss-comparison-notice', 'aria-label': 'Dismiss this notice' }, 'Dismiss');
  dismiss.addEventListener('click', () => showComparisonNotice(null));
  box.replaceChildren(el('p', { 'data-testid': 'comparison-notice-text', text }), dismiss);
  box.hidden = false;
}

/** Adds a run to the comparison; earlier runs on other data or another split leave it. */
export function accumulate(results) {
  const c = state.comparison;
  const identity = splitIdentity(results);
  const key = JSON.stringify(identity.key);
  const model = modelOf(results);
  if (c.key !== null && c.key !== key) {
    const dropped = [...c.runs.keys()].filter((m) => m !== model).sort((a, b) => modelRank(a) - modelRank(b));
    if (dropped.length) {
      const changes = describeChange(c.identity, identity);
      const rows = listText(dropped.map(modelLabel));
      showComparisonNotice(
        `The scores of ${rows} were removed from the comparison because this run changed ${listText(changes) || 'the split'}. ` +
          'Models are compared only on the same data and the same held-out cells; train them again to see them side by side.',
      );
    }
    c.runs.clear();
  }
  c.key = key;
  c.identity = identity;
  // A model trained again replaces its row.
  c.runs.set(model, results);
}

export function clearComparison() {
  state.comparison = { key: null, identity: null, runs: new Map() };
  state.figureModel = null;
}
