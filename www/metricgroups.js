// The field's newer metrics on the scoreboard, in groups that fold away: one small table per
// group (a row per predictor, pooled over the held-out conditions), a line that says what the
// group measures and a line per metric, and under each table why a value is missing.

import { $, el, fmtNum } from './dom.js';

/**
 * The groups and their metrics: `path` into a score set (as in results.json and its `notes`),
 * the column's short name, and the one-line explanation.
 */
export const METRIC_GROUPS = [
  {
    id: 'error',
    title: 'Expression error',
    line: 'How far the predicted mean expression of each held-out condition is from the true one.',
    metrics: [{ path: 'mae', label: 'MAE ↓', line: 'Mean absolute error of the predicted against the true pseudobulk profile, over genes (Virtual Cell Challenge; lower is better).' }],
  },
  {
    id: 'systema',
    title: 'Systema',
    line: 'Shifts measured against the mean of all perturbed training cells instead of the controls, so what every perturbation shares earns nothing.',
    metrics: [
      { path: 'systema.r', label: 'Systema r', line: 'Pearson r of the predicted and true shifts on all genes.' },
      { path: 'systema.r_top20', label: 'r top-20', line: 'The same on each condition’s 20 most shifted genes.' },
    ],
  },
  {
    id: 'de',
    title: 'Differentially expressed genes',
    line: 'Genes called differentially expressed against the controls (Wilcoxon rank-sum, Benjamini–Hochberg FDR < 0.05) in the true and the predicted cells.',
    metrics: [
      { path: 'de.overlap', label: 'DE score', line: 'Predicted DE genes that are truly DE, over the true DE genes (Virtual Cell Challenge; 1 best).' },
      { path: 'de.top20_mse', label: 'top-20 MSE ↓', line: 'Mean squared error of the shift on the 20 top true DE genes (GEARS; lower is better).' },
      { path: 'de.top20_sign', label: 'top-20 sign', line: 'Fraction of those 20 genes whose direction the prediction gets right (GEARS).' },
    ],
  },
  {
    id: 'discrimination',
    title: 'Discrimination',
    line: 'Whether each prediction points to its own condition among the held-out ones: predictions that are all alike score like chance.',
    metrics: [
      { path: 'discrimination.l1', label: 'L1', line: '1 − rank/N of the true condition by L1 distance to the prediction (Virtual Cell Challenge; 1 best).' },
      { path: 'discrimination.rank', label: 'rank ↓', line: 'PerturBench’s normalised rank by cosine similarity of shifts (0 best, 0.5 random).' },
      { path: 'discrimination.centroid', label: 'centroid', line: 'Systema’s centroid accuracy: the fraction of other true profiles farther away than the right one (1 best, 0.5 random).' },
    ],
  },
  {
    id: 'energy',
    title: 'Energy across conditions',
    line: 'Whether the conditions that move cells most are predicted to move them most.',
    metrics: [{ path: 'energy_r', label: 'energy r', line: 'Correlation across held-out conditions of the predicted and the true energy distance to the controls (needs 3 conditions).' }],
  },
  {
    id: 'overall',
    title: 'Normalised score',
    line: 'One number per model against the best baseline on each metric (cell-eval): 0 is no better than the best baseline, 1 is perfect.',
    metrics: [
      {
        path: 'normalised_score',
        label: 'normalised',
        line: 'Per metric 1 − model/baseline (lower is better) or (model − baseline)/(1 − baseline) (higher is better), clipped at 0 and averaged; for models and the ceiling.',
      },
    ],
  },
];

/** A metric's value in a score set, by its path (`de.top20_mse`). */
export const metricValue = (set, path) => path.split('.').reduce((v, k) => (v === null || v === undefined ? v : v[k]), set) ?? null;

/**
 * Adds a seed interval (`{low, high, n}`) to the cell showing a model's mean `value` of `metric`:
 * ± half its width under the mean, and the whole interval in the tooltip.
 */
export function showInterval(td, metric, value, interval, digits = 3) {
  const half = (interval.high - interval.low) / 2;
  td.append(el('small', { class: 'interval', 'data-testid': 'interval', 'data-low': String(interval.low), 'data-high': String(interval.high) }, `±${fmtNum(half, digits)}`));
  td.title = `${metric}: mean ${value} over ${interval.n} seeds, 95% interval [${fmtNum(interval.low, digits)}, ${fmtNum(interval.high, digits)}]`;
}

/** A metric's key among a model's seed intervals (its `scores.csv` column). */
const intervalKey = (path) => (path === 'discrimination.centroid' ? 'centroid_accuracy' : path.replace('.', '_'));

/** The group sections, built once so that a folded group stays folded across updates. */
function sections() {
  const box = $('metric-groups');
  if (box.childElementCount) return box;
  box.append(
    el('h3', { text: 'More metrics' }),
    el('p', { class: 'hint', text: 'The field’s newer metrics, pooled over the held-out conditions (per condition in scores.csv and results.json). Fold a group away to keep the table short.' }),
  );
  const grid = el('div', { class: 'metric-grid' });
  box.append(grid);
  for (const g of METRIC_GROUPS) {
    const head = el('tr', {}, el('th', { scope: 'col', text: 'Predictor' }), ...g.metrics.map((m) => el('th', { scope: 'col', title: m.line, text: m.label })));
    const table = el('table', { class: 'scores metric-table', 'data-testid': `metric-table-${g.id}` }, el('caption', { class: 'visually-hidden', text: `${g.title}, pooled over held-out conditions` }), el('thead', {}, head), el('tbody'));
    grid.append(
      el(
        'details',
        { class: 'metric-group', open: true, 'data-group': g.id, 'data-testid': `metric-group-${g.id}` },
        el('summary', {}, el('span', { class: 'metric-group-title', text: g.title }), el('span', { class: 'metric-group-line', text: g.line })),
        el('div', { class: 'table-wrap', role: 'region', tabIndex: 0, 'aria-label': g.title }, table),
        el('ul', { class: 'metric-lines' }, g.metrics.map((m) => el('li', {}, el('strong', { text: m.label.replace(/ ↓$/, '') }), `: ${m.line}`))),
        el('ul', { class: 'metric-reasons', 'data-testid': `metric-reasons-${g.id}` }),
      ),
    );
  }
  return box;
}

/**
 * Fills every group's table: `rows` are `{name, label, kind, set, intervals}` (a model's or a
 * baseline's pooled scores; `intervals`: a model's seed intervals). A missing value says why in
 * its cell's tooltip and in the list under the table.
 */
export function renderMetricGroups(rows) {
  const box = sections();
  box.hidden = rows.length === 0;
  for (const g of METRIC_GROUPS) {
    const section = box.querySelector(`[data-group="${g.id}"]`);
    const reasons = new Map();
    const body = rows.map(({ name, label, kind, set, intervals }) => {
      // Long names break after their underscores on narrow screens.
      const head = el('th', { scope: 'row' }, label.split(/(?<=_)/).flatMap((part, i) => (i ? [el('wbr'), part] : [part])));
      if (set.undefined) {
        return el('tr', { 'data-predictor': name, 'data-kind': kind, class: kind === 'model' ? 'row-model' : '' }, head, el('td', { class: 'unscored', colSpan: g.metrics.length, text: `not scored: ${set.undefined}` }));
      }
      const cells = g.metrics.map((m) => {
        const v = metricValue(set, m.path);
        const td = el('td', { class: 'num', 'data-metric': m.path });
        if (v === null || !Number.isFinite(v)) {
          const why = set.notes?.[m.path] ?? 'not defined for this predictor';
          td.textContent = '—';
          td.classList.add('undefined');
          td.title = `${m.label.replace(/ ↓$/, '')} undefined: ${why}`;
          const key = `${m.label.replace(/ ↓$/, '')}: ${why}`;
          reasons.set(key, [...(reasons.get(key) ?? []), label]);
        } else {
          td.textContent = fmtNum(v, 3);
          td.title = `${m.label.replace(/ ↓$/, '')} = ${v}`;
          td.dataset.value = String(v);
          const iv = intervals?.[intervalKey(m.path)];
          if (iv) showInterval(td, m.label.replace(/ ↓$/, ''), v, iv);
        }
        return td;
      });
      return el('tr', { 'data-predictor': name, 'data-kind': kind, class: kind === 'model' ? 'row-model' : '' }, head, ...cells);
    });
    section.querySelector('tbody').replaceChildren(...body);
    section.querySelector('.metric-reasons').replaceChildren(...[...reasons].map(([why, who]) => el('li', {}, el('span', { class: 'unscored-mark', text: '— ' }), `${why} (${who.join(', ')})`)));
  }
}
