// Models between the best baseline and the noise ceiling: per metric, a track from the best
// baseline (0) to the ceiling (1), each scored model placed at (model − baseline) / (ceiling −
// baseline). Left of 0 is worse than a rule that needs no training; near 1 is as good as the
// held-out cells allow. Where the ceiling does not beat the best baseline (few held-out cells
// per condition make it noisy), the track is not drawn and the row says so.

import { $, el, fmtNum } from './dom.js';
import { modelColour, modelLabel } from './models.js';

/**
 * The metrics on the tracks: the pooled value, whether higher is better, and the metric's name
 * in the engine's verdicts, which say which baseline does best on it.
 */
const METRICS = [
  { key: 'r', verdict: 'r', label: 'mean-shift r', get: (s) => s.mean_shift_r, higher: true },
  { key: 'j50', verdict: 'J@50', label: 'top-50 Jaccard', get: (s) => s.jaccard?.['50'], higher: true },
  { key: 'energy', verdict: 'energy', label: 'energy distance', get: (s) => s.energy_distance, higher: false },
  { key: 'mae', verdict: 'MAE', label: 'pseudobulk MAE', get: (s) => s.mae, higher: false },
  { key: 'systema', verdict: 'Systema r', label: 'Systema r', get: (s) => s.systema?.r, higher: true },
  { key: 'de', verdict: 'DE overlap', label: 'DE overlap', get: (s) => s.de?.overlap, higher: true },
];

/** Where the track's ends sit when a model is off its scale: a little outside 0 and 1. */
const MIN = -0.5;
const MAX = 1.5;

const finite = (v) => typeof v === 'number' && Number.isFinite(v);

/** The best baseline on `metric` as the engine's verdicts name it (`{name, value}`), or null. */
function bestBaseline(verdicts, metric) {
  for (const v of verdicts) {
    const m = v.metrics.find((x) => x.metric === metric.verdict);
    if (m) return { name: m.baseline, value: m.baseline_value };
  }
  return null;
}

/**
 * `(model − baseline) / (ceiling − baseline)` per metric and model, or why there is no track;
 * `verdicts` are the engine's verdicts on the models.
 */
export function gapRows(scores, models, verdicts) {
  const ceiling = scores.ceiling?.pooled;
  return METRICS.map((metric) => {
    const base = bestBaseline(verdicts, metric);
    const c = ceiling ? metric.get(ceiling) : null;
    const row = { metric, base, ceiling: c, models: [], why: null };
    if (!base || !finite(c)) {
      row.why = !base ? 'no model has a value to set beside a baseline on this metric' : 'the ceiling has no value here';
      return row;
    }
    const gain = metric.higher ? c - base.value : base.value - c;
    if (!(gain > 0)) {
      row.why = `the ceiling (${fmtNum(c)}) does not beat the best baseline (${fmtNum(base.value)}): with few held-out cells per condition each half is noisy, so this split cannot say how far a model could go`;
      return row;
    }
    for (const name of models) {
      const v = scores[name] && !scores[name].pooled.undefined ? metric.get(scores[name].pooled) : null;
      if (!finite(v)) continue;
      row.models.push({ name, value: v, position: (metric.higher ? v - base.value : base.value - v) / gain });
    }
    return row;
  });
}

const pct = (p) => `${(((Math.min(MAX, Math.max(MIN, p)) - MIN) / (MAX - MIN)) * 100).toFixed(2)}%`;

function describe(m) {
  if (m.position < 0) return `${modelLabel(m.name)} ${fmtNum(m.value)}: worse than the best baseline`;
  if (m.position > 1) return `${modelLabel(m.name)} ${fmtNum(m.value)}: past the ceiling`;
  return `${modelLabel(m.name)} ${fmtNum(m.value)}: ${Math.round(m.position * 100)}% of the way from the best baseline to the ceiling`;
}

/**
 * Fills the tracks for the scored `models` of the merged `results`, with the engine's `verdicts`
 * on them (no results: empties them).
 */
export function renderGap(results, models, verdicts = []) {
  const box = $('gap');
  if (!box) return;
  if (!results || !models.length || !results.scores.ceiling) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const rows = gapRows(results.scores, models, verdicts);
  const items = rows.map((row) => {
    const head = el('span', { class: 'gap-metric', text: row.metric.label });
    if (row.why) return el('li', { class: 'gap-row gap-none', 'data-metric': row.metric.key }, head, el('span', { class: 'gap-why', text: `No track: ${row.why}.` }));
    const marks = row.models.map((m) =>
      el('span', {
        class: `gap-mark${m.position < MIN || m.position > MAX ? ' gap-off' : ''}`,
        style: `left:${pct(m.position)};background:${modelColour(m.name, models)}`,
        title: describe(m),
        'data-model': m.name,
        'data-position': String(m.position),
      }),
    );
    const track = el(
      'span',
      { class: 'gap-track', role: 'img', 'aria-label': `${row.metric.label}: ${row.models.map(describe).join('; ') || 'no model scored'}` },
      el('span', { class: 'gap-zone', style: `left:${pct(0)};width:calc(${pct(1)} - ${pct(0)})` }),
      el('span', { class: 'gap-tick', style: `left:${pct(0)}`, title: `best baseline: ${row.base.name.replace(/_/g, ' ')} ${fmtNum(row.base.value)}` }),
      el('span', { class: 'gap-tick', style: `left:${pct(1)}`, title: `ceiling ${fmtNum(row.ceiling)}` }),
      ...marks,
    );
    const text = el('span', { class: 'gap-text' }, row.models.map(describe).join('; '));
    return el('li', { class: 'gap-row', 'data-metric': row.metric.key }, head, track, text);
  });
  box.replaceChildren(
    el('h3', { text: 'Between the best baseline and the ceiling' }),
    el('p', { class: 'hint', text: 'Each track runs from the best baseline on that metric (left tick) to the noise ceiling (right tick): what a perfect model could reach with these held-out cells. A model left of the first tick does worse than a rule that needs no training.' }),
    el('ul', { class: 'gap-list' }, items),
  );
  box.hidden = false;
}
