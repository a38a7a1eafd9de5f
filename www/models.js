// The models' short names for tables and notices, the page's model order, the baselines the
// engine scores beside them, and chart colours. (Each model's full label and hint come with the
// settings schema.)

/** The models in the order the page lists them, with the short name tables use. */
const SHORT_LABELS = {
  cvae: 'cVAE',
  sams: 'SAMS-VAE',
  'sams-mf': 'SAMS-VAE (mean-field)',
  cpa: 'CPA-VAE',
  'svae-plus': 'SVAE+',
};
const MODEL_ORDER = Object.keys(SHORT_LABELS);
/** The engine's baselines (baselines::ALL), then the split-half noise ceiling. */
export const BASELINE_ORDER = ['control_mean', 'perturbation_mean', 'perturbed_mean', 'additive', 'group_shift', 'linear', 'matching_mean', 'ceiling'];
/** Colours of models in the engine's charts (charts::Theme): by rank among the models, by name. */
const MODEL_COLOURS = ['#0072b2', '#d55e00', '#7552a0', '#141414', '#8c5a28'];

/** The model a run's results belong to. */
export const modelOf = (r) => r.config.model;
export const modelLabel = (name) => SHORT_LABELS[name] ?? name;
const modelRank = (name) => (MODEL_ORDER.includes(name) ? MODEL_ORDER.indexOf(name) : MODEL_ORDER.length);
/** Model names in the page's order. */
export const byRank = (a, b) => modelRank(a) - modelRank(b) || a.localeCompare(b);

/** The colour the engine's charts give a model (charts::ordered_predictors). */
export function modelColour(name, names) {
  const rank = [...names].sort().indexOf(name);
  return rank <= 0 ? MODEL_COLOURS[0] : MODEL_COLOURS[1 + ((rank - 1) % (MODEL_COLOURS.length - 1))];
}
