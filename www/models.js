// The models the engine trains and the baselines it scores beside them: names, labels, hints,
// page order and chart colours.

/** The models, in the order the page lists them, with a one-line hint each. */
export const MODELS = {
  cvae: {
    label: 'cVAE',
    hint: 'Conditional VAE: encodes a control cell and decodes it under the perturbation; a combination is the sum of its single perturbations.',
  },
  sams: {
    label: 'SAMS-VAE',
    hint: 'Learns which latent dimensions each perturbation moves (sparse masks) and by how much; combinations add up. Its posterior links each effect to its mask.',
  },
  'sams-mf': {
    label: 'SAMS-VAE (mean-field)',
    hint: 'SAMS-VAE with a simpler posterior that treats masks and effects independently; usually a little faster, sometimes less sparse.',
  },
  cpa: {
    label: 'CPA-VAE',
    hint: 'Adds one learned shift per perturbation in latent space, without masks (every perturbation may move every dimension).',
  },
  'svae-plus': {
    label: 'SVAE+',
    hint: 'Sparse masks per whole condition label: it cannot predict a combination it never saw in training (those rows say so).',
  },
};
const MODEL_ORDER = Object.keys(MODELS);
/** Models whose results carry posterior mask probabilities. */
export const MASK_MODELS = ['sams', 'sams-mf', 'svae-plus'];
export const SAMS_FAMILY = ['sams', 'sams-mf', 'cpa', 'svae-plus'];
export const BASELINE_ORDER = ['control_mean', 'perturbation_mean', 'perturbed_mean', 'additive', 'group_shift'];
/** Colours of models in the engine's charts (charts::Theme): by rank among the models, by name. */
const MODEL_COLOURS = ['#0072b2', '#d55e00', '#7552a0', '#141414', '#8c5a28'];

/** The model a run's results belong to. */
export const modelOf = (r) => r.config?.model ?? r.figures?.shift?.model;
export const modelLabel = (name) => MODELS[name]?.label ?? name;
export const modelRank = (name) => (MODEL_ORDER.includes(name) ? MODEL_ORDER.indexOf(name) : MODEL_ORDER.length);

/** The colour the engine's charts give a model (charts::ordered_predictors). */
export function modelColour(name, names) {
  const rank = [...names].sort().indexOf(name);
  return rank <= 0 ? MODEL_COLOURS[0] : MODEL_COLOURS[1 + ((rank - 1) % (MODEL_COLOURS.length - 1))];
}
