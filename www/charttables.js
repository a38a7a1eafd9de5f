// Text alternatives to the charts the engine draws on canvases: each canvas gets a one-sentence
// label saying what it shows, and under it a "Data behind this chart" disclosure holding a table
// built from the same numbers the chart is drawn from (results.json's figures, scores and
// training history; the epochs reported so far for the live chart). Everything is built as DOM
// nodes: labels come from the data and may contain anything.

import { $, el, fmtInt, fmtNum } from './dom.js';
import { BASELINE_ORDER, byRank, modelLabel } from './models.js';

/** How many condition × gene pairs the shift table lists (those with the largest true shift). */
const SHIFT_ROWS = 25;
/** How many epochs the curve tables list (the first, the last and evenly spaced between). */
const EPOCH_ROWS = 60;

/** The disclosure under a canvas, made once; its open state survives redraws. */
function disclosure(canvas) {
  const id = `${canvas.id}-data`;
  let box = document.getElementById(id);
  if (box) return box;
  box = el(
    'details',
    { id, class: 'chart-data', 'data-testid': `${canvas.id}-data` },
    el('summary', { text: 'Data behind this chart' }),
    el('p', { id: `${id}-summary`, class: 'chart-data-summary' }),
    el('div', { class: 'table-wrap', role: 'region', tabIndex: 0, 'aria-label': `Data behind the chart: ${canvas.getAttribute('aria-label') ?? canvas.id}` }),
  );
  const figure = canvas.closest('figure') ?? canvas.parentElement;
  const after = figure.querySelector(':scope > figcaption');
  if (after) after.after(box);
  else figure.append(box);
  canvas.setAttribute('aria-describedby', `${id}-summary`);
  canvas.dataset.label = canvas.getAttribute('aria-label') ?? '';
  return box;
}

/** Fills a canvas's label and its data disclosure; `content` null empties them. */
function show(canvas, content) {
  const box = disclosure(canvas);
  const [, summary, wrap] = box.children;
  // A canvas the page hides (no masks for this model) has nothing behind it either.
  box.hidden = canvas.hidden;
  if (!content) {
    canvas.setAttribute('aria-label', canvas.dataset.label);
    summary.textContent = 'Nothing is drawn yet.';
    wrap.replaceChildren();
    wrap.hidden = true;
    return;
  }
  canvas.setAttribute('aria-label', content.label);
  summary.textContent = content.summary;
  wrap.hidden = false;
  wrap.setAttribute('aria-label', content.caption);
  wrap.replaceChildren(table(content.caption, content.head, content.rows));
}

/** A table: header cells, then rows whose first cell is a row header; numbers are formatted. */
function table(caption, head, rows) {
  const cell = (v, i) => {
    if (i === 0) return el('th', { scope: 'row', text: String(v) });
    if (typeof v === 'number' || v === null) return el('td', { text: fmtNum(v) });
    return el('td', { class: 'text', text: String(v) });
  };
  return el(
    'table',
    { class: 'scores' },
    el('caption', { class: 'visually-hidden', text: caption }),
    el('thead', {}, el('tr', {}, head.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map(cell)))),
  );
}

const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const sd = (xs) => {
  const m = mean(xs);
  return xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : null;
};

/** Per condition × gene: true against predicted mean shift, the largest true shifts first. */
function shiftTable(r) {
  const f = r.figures?.shift;
  if (!f?.true_shift?.length) return null;
  const n = f.true_shift.length;
  const genes = r.data?.genes ?? 0;
  const conditions = r.scores?.[f.model]?.conditions ?? {};
  const scored = (r.split?.test_conditions ?? []).filter((c) => conditions[c] && !conditions[c].undefined);
  const named = genes > 0 && scored.length * genes === n;
  const order = [...f.true_shift.keys()].sort((a, b) => Math.abs(f.true_shift[b]) - Math.abs(f.true_shift[a])).slice(0, SHIFT_ROWS);
  const mae = mean(f.true_shift.map((t, i) => Math.abs(t - f.pred_shift[i])));
  const who = modelLabel(f.model);
  return {
    label: `Scatter of ${who}'s predicted against the true mean expression shift for ${fmtInt(n)} condition–gene pairs: r = ${fmtNum(f.r)}.`,
    summary: `${fmtInt(n)} condition–gene pairs, r = ${fmtNum(f.r)}, mean absolute difference ${fmtNum(mae)}. The table lists the ${Math.min(SHIFT_ROWS, n)} pairs with the largest true shift${named ? ' (genes numbered among the scored genes)' : ''}; results.json holds them all.`,
    caption: `True and ${who}'s predicted mean shift, largest true shifts`,
    head: named ? ['Condition', 'Gene no.', 'True shift', 'Predicted shift'] : ['Pair', 'True shift', 'Predicted shift'],
    rows: order.map((i) =>
      named ? [scored[Math.floor(i / genes)], `${(i % genes) + 1}`, f.true_shift[i], f.pred_shift[i]] : [`${i + 1}`, f.true_shift[i], f.pred_shift[i]],
    ),
  };
}

/** Pooled top-K overlap per predictor and K (the models first, then the baselines). */
function jaccardTable(scores) {
  const names = Object.keys(scores ?? {}).filter((n) => scores[n]?.pooled?.jaccard);
  if (!names.length) return null;
  const models = names.filter((n) => !BASELINE_ORDER.includes(n)).sort(byRank);
  const baselines = BASELINE_ORDER.filter((n) => names.includes(n));
  const ordered = [...models, ...baselines, ...names.filter((n) => !models.includes(n) && !baselines.includes(n))];
  const ks = [...new Set(ordered.flatMap((n) => Object.keys(scores[n].pooled.jaccard)))].sort((a, b) => Number(a) - Number(b));
  const best = (k) => ordered.filter((n) => n !== 'ceiling' && Number.isFinite(scores[n].pooled.jaccard[k])).sort((a, b) => scores[b].pooled.jaccard[k] - scores[a].pooled.jaccard[k])[0];
  const lines = ks.filter(best).map((k) => `at K = ${k} ${modelLabel(best(k))} (${fmtNum(scores[best(k)].pooled.jaccard[k])})`);
  return {
    label: `Bar chart of the top-K shifted-gene overlap (Jaccard) of ${ordered.length} predictors at K = ${ks.join(', ')}${lines.length ? `; highest ${lines.join(', ')}` : ''}.`,
    summary: `Jaccard overlap of each predictor's top-K shifted genes with the data's, pooled over held-out conditions (1 is a perfect match).`,
    caption: 'Top-K gene overlap (Jaccard) per predictor',
    head: ['Predictor', ...ks.map((k) => `K = ${k}`)],
    rows: ordered.map((n) => [modelLabel(n), ...ks.map((k) => scores[n].pooled.jaccard[k] ?? null)]),
  };
}

/** Per series of points on PC1–PC2: how many, where their centre is, how spread. */
function pcaTable(r) {
  const f = r.figures?.pca;
  if (!f || !(f.control?.length || f.truth?.length || f.predicted?.length)) return null;
  const who = modelLabel(f.model);
  const series = [
    ['Control cells', f.control ?? [], 'control cells'],
    ['True perturbed cells', f.truth ?? [], 'true perturbed cells'],
    [`Predicted by ${who}`, f.predicted ?? [], `cells predicted by ${who}`],
  ];
  const ev = (f.explained_variance_ratio ?? []).map((v) => `${(100 * v).toFixed(1)}%`);
  const centre = (pts) => [mean(pts.map((p) => p[0])), mean(pts.map((p) => p[1]))];
  const [t, p] = [centre(f.truth ?? []), centre(f.predicted ?? [])];
  const gap = t[0] !== null && p[0] !== null ? Math.hypot(t[0] - p[0], t[1] - p[1]) : null;
  return {
    label: `Scatter of cells on the first two principal components: ${series.map(([, pts, words]) => `${fmtInt(pts.length)} ${words}`).join(', ')}${gap !== null ? `; the predicted centre is ${fmtNum(gap, 2)} from the true one` : ''}.`,
    summary: `Principal components fitted on the true cells${ev.length === 2 ? `; PC1 explains ${ev[0]} of the variance, PC2 ${ev[1]}` : ''}. Per series: how many cells, their centre and spread.`,
    caption: 'Cells on PC1–PC2 per series: count, centre and spread',
    head: ['Series', 'Cells', 'PC1 mean', 'PC2 mean', 'PC1 SD', 'PC2 SD'],
    rows: series.map(([name, pts]) => [name, fmtInt(pts.length), mean(pts.map((q) => q[0])), mean(pts.map((q) => q[1])), sd(pts.map((q) => q[0])), sd(pts.map((q) => q[1]))]),
  };
}

/** Loss terms per epoch: every epoch, or evenly spaced ones (always the first and the last). */
function epochRows(history) {
  const n = history.length;
  const pick = n <= EPOCH_ROWS ? history : [...new Set(Array.from({ length: EPOCH_ROWS }, (_, i) => Math.round((i * (n - 1)) / (EPOCH_ROWS - 1))))].map((i) => history[i]);
  return pick.map((h) => [`${h.epoch}`, h.beta ?? null, h.train?.loss ?? null, h.train?.recon ?? null, h.train?.kl ?? null, h.val?.loss ?? null, h.val?.recon ?? null, h.val?.kl ?? null]);
}

function curvesContent(history, { best, caption = 'Loss terms per epoch' } = {}) {
  if (!history?.length) return null;
  const first = history[0];
  const last = history.at(-1);
  const n = history.length;
  const shown = n <= EPOCH_ROWS ? 'every epoch' : `${EPOCH_ROWS} of the ${fmtInt(n)} epochs, evenly spaced`;
  return {
    label: `Line chart of the loss over ${fmtInt(n)} epoch${n === 1 ? '' : 's'}: training loss from ${fmtNum(first.train?.loss)} to ${fmtNum(last.train?.loss)}, validation loss from ${fmtNum(first.val?.loss)} to ${fmtNum(last.val?.loss)}${best ? `; best epoch ${best}` : ''}.`,
    summary: `Loss terms per epoch (reconstruction, KL and the total with β) on the training and validation cells; ${shown}.`,
    caption,
    head: ['Epoch', 'β', 'Train loss', 'Train recon', 'Train KL', 'Val loss', 'Val recon', 'Val KL'],
    rows: epochRows(history),
  };
}

/** Per perturbation: the latent dimensions its mask switches on (P > 0.5), and the truth's. */
function masksTable(r) {
  const f = r.figures?.masks;
  if (!f?.perturbations?.length) return null;
  const order = f.order?.length ? f.order : [...(f.probs[0] ?? []).keys()];
  const rows = f.perturbations.map((name, i) => {
    const probs = f.probs[i] ?? [];
    const active = order.map((d, pos) => (probs[d] > 0.5 ? pos + 1 : null)).filter((x) => x !== null);
    const row = [name, `${active.length}`, active.join(', ') || 'none', Math.max(0, ...probs)];
    if (f.truth) {
      const t = (f.truth[i] ?? []).map((v, d) => (v !== 0 ? d + 1 : null)).filter((x) => x !== null);
      row.push(`${t.length}`, t.join(', ') || 'none');
    }
    return row;
  });
  const who = modelLabel(f.model);
  const truth = f.true_mean_active != null ? ` (the truth: ${fmtNum(f.true_mean_active, 1)})` : '';
  return {
    label: `Heatmap of ${who}'s posterior mask probabilities for ${f.perturbations.length} perturbations × ${order.length} latent dimensions: on average ${fmtNum(f.mean_active, 1)} dimensions on per perturbation${truth}${f.overlap_spearman != null ? `; overlap agreement with the truth ${fmtNum(f.overlap_spearman)}` : ''}.`,
    summary: `Latent dimensions numbered in the chart's order; a dimension is on when its mask probability is above 0.5.${f.masks_start_at ? ` The masks start at epoch ${f.masks_start_at}; until then every mask is on.` : ''}`,
    caption: `${who}'s active latent dimensions per perturbation`,
    head: ['Perturbation', 'Dims on', 'Which (P > 0.5)', 'Highest P', ...(f.truth ? ['True dims', 'Which (true)'] : [])],
    rows,
  };
}

/**
 * Labels and data tables of the scoreboard's figures for `results` (the shown model's), the
 * top-K panel from `scores` (every compared model's); null empties them.
 */
export function renderChartTables(results, scores) {
  const panels = {
    shift: () => shiftTable(results),
    jaccard: () => jaccardTable(scores ?? results.scores),
    pca: () => pcaTable(results),
    curves: () => curvesContent(results.train?.history, { best: results.train?.best_epoch, caption: `Loss terms per epoch of the scored ${modelLabel(results.config?.model)} run` }),
    masks: () => masksTable(results),
  };
  for (const [panel, build] of Object.entries(panels)) {
    const canvas = $(`fig-${panel}`);
    if (!canvas) continue;
    let content = null;
    if (results) {
      try {
        content = build();
      } catch (e) {
        console.error(`the ${panel} chart's data table`, e);
      }
    }
    show(canvas, content);
  }
}

// The live loss chart: the epochs reported so far, kept here beside the engine's own curves.
const live = [];

export function liveRecord(record) {
  live.push(record);
}

export function liveReset() {
  live.length = 0;
}

/** Refreshes the live chart's label, and its table when the disclosure is open. */
export function renderLiveTable() {
  const canvas = $('live-curves');
  if (!canvas) return;
  const box = disclosure(canvas);
  if (!box.dataset.wired) {
    box.dataset.wired = '1';
    box.addEventListener('toggle', () => box.open && renderLiveTable());
  }
  if (!live.length) {
    show(canvas, null);
    return;
  }
  const content = curvesContent(live, { caption: 'Loss terms per epoch of the latest run, as reported' });
  if (box.open) show(canvas, content);
  else {
    canvas.setAttribute('aria-label', content.label);
    box.children[1].textContent = content.summary;
  }
}
